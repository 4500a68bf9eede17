// Frame encoders for SSE and WebSocket streams (pure functions, no I/O).
#include "net/stream.h"

#include <boost/uuid/detail/sha1.hpp>

#include "core/enum_names.h"

namespace pgcdc::net {

constexpr EnumNames<StreamEnd, StreamEnd::kError> kStreamEndNames({"client_closed", "server_closed",
                                                                   "slow_client", "error"},
                                                                  "unknown");

std::string_view StreamEndName(StreamEnd end) { return kStreamEndNames(end); }

namespace {

void AppendSingleLine(std::string& out, std::string_view s) {
  for (char c : s) out += (c == '\r' || c == '\n') ? ' ' : c;
}

std::string Base64(const unsigned char* data, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < n; i += 3) {
    const uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == n) {
    const uint32_t v = data[i] << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == n) {
    const uint32_t v = (data[i] << 16) | (data[i + 1] << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

}  // namespace

std::string EncodeSseEvent(std::string_view id, std::string_view event, std::string_view data) {
  std::string out;
  out.reserve(id.size() + event.size() + data.size() + 24);
  if (!id.empty()) {
    out += "id: ";
    AppendSingleLine(out, id);
    out += '\n';
  }
  if (!event.empty()) {
    out += "event: ";
    AppendSingleLine(out, event);
    out += '\n';
  }
  // Each line of data gets its own "data:" field (CRLF, CR and LF all end a line).
  size_t start = 0;
  for (;;) {
    const size_t nl = data.find_first_of("\r\n", start);
    out += "data: ";
    out.append(data.substr(start, nl == std::string_view::npos ? nl : nl - start));
    out += '\n';
    if (nl == std::string_view::npos) break;
    start = nl + 1;
    if (data[nl] == '\r' && start < data.size() && data[start] == '\n') ++start;
  }
  out += '\n';
  return out;
}

void AppendWebSocketHeader(std::string& out, uint8_t opcode, uint64_t n) {
  out += static_cast<char>(0x80 | (opcode & 0x0F));  // FIN + opcode
  if (n < 126) {
    out += static_cast<char>(n);
  } else if (n <= 0xFFFF) {
    out += static_cast<char>(126);
    out += static_cast<char>((n >> 8) & 0xFF);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xFF);
  }
}

std::string EncodeWebSocketFrame(uint8_t opcode, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 10);
  AppendWebSocketHeader(out, opcode, payload.size());
  out.append(payload);
  return out;
}

std::string EncodeWebSocketClose(uint16_t code, std::string_view reason) {
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xFF);
  // Control frame payloads are at most 125 bytes. Cut on a UTF-8 boundary.
  if (reason.size() > 123) {
    size_t cut = 123;
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  payload.append(reason);
  return EncodeWebSocketFrame(0x8, payload);
}

std::string WebSocketAcceptKey(std::string_view client_key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  boost::uuids::detail::sha1 sha;
  sha.process_bytes(client_key.data(), client_key.size());
  sha.process_bytes(kGuid.data(), kGuid.size());
  boost::uuids::detail::sha1::digest_type digest;
  sha.get_digest(digest);
  unsigned char bytes[20];
  for (int i = 0; i < 5; ++i) {
    bytes[i * 4] = static_cast<unsigned char>((digest[i] >> 24) & 0xFF);
    bytes[i * 4 + 1] = static_cast<unsigned char>((digest[i] >> 16) & 0xFF);
    bytes[i * 4 + 2] = static_cast<unsigned char>((digest[i] >> 8) & 0xFF);
    bytes[i * 4 + 3] = static_cast<unsigned char>(digest[i] & 0xFF);
  }
  return Base64(bytes, sizeof bytes);
}

}  // namespace pgcdc::net
