#include "net/http1_client.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "core/json.h"

namespace pgcdc::net {

namespace {

constexpr size_t kMaxLine = 64 * 1024;      // status line, header line or chunk size line
constexpr size_t kMaxHeaders = 256 * 1024;  // all header lines of one response

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated header value lists `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (IEquals(TrimView(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

Error ProtocolError(std::string what) {
  return Error(ErrorCode::kProtocol, "HTTP response: " + std::move(what));
}

// A Content-Length value: 1 to 18 decimal digits.
std::optional<int64_t> ParseContentLength(std::string_view value) {
  if (value.empty() || value.size() > 18 ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int64_t n = 0;
  for (char c : value) n = n * 10 + (c - '0');
  return n;
}

// The size on a chunk-size line (1 to 15 hex digits, extensions after ';'
// ignored).
std::optional<int64_t> ParseChunkSize(std::string_view line) {
  const std::string_view hex = TrimView(line.substr(0, line.find(';')));
  if (hex.empty() || hex.size() > 15) return std::nullopt;
  int64_t n = 0;
  for (char c : hex) {
    const int d = json::HexValue(c);
    if (d < 0) return std::nullopt;
    n = n * 16 + d;
  }
  return n;
}

}  // namespace

// ---- URL ------------------------------------------------------------------

HttpOutcome ClassifyHttpStatus(int status) {
  if (status >= 200 && status < 300) return HttpOutcome::kOk;
  if (status == 401 || status == 403) return HttpOutcome::kAuth;
  if (status == 408 || status == 429 || status >= 500) return HttpOutcome::kRetry;
  return HttpOutcome::kReject;
}

Result<Http1Url> ParseHttp1Url(std::string_view url) {
  Http1Url u;
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kConfig, "invalid URL \"" + std::string(url) + "\": " + why);
  };
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("expected http:// or https://");
  const std::string_view scheme = url.substr(0, sep);
  if (IEquals(scheme, "https")) {
    u.tls = true;
  } else if (!IEquals(scheme, "http")) {
    return bad("expected http:// or https://");
  }
  std::string_view rest = url.substr(sep + 3);
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return bad(
        "credentials in the URL are not supported here; send an Authorization header "
        "instead");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected characters after the IPv6 address");
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("no host");
  u.host = std::string(host);
  u.port = u.tls ? 443 : 80;
  if (!port.empty()) {
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) return bad("invalid port");
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return bad("invalid port");
    u.port = static_cast<uint16_t>(value);
  }
  // Origin-form target: path and query, never the fragment.
  rest = rest.substr(0, rest.find('#'));
  if (rest.empty() || rest.front() == '?') u.target = "/";
  u.target.append(rest);
  for (char c : u.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("invalid character in path");
  }
  u.host_header = authority.front() == '[' ? "[" + u.host + "]" : u.host;
  if (u.port != (u.tls ? 443 : 80)) u.host_header += ":" + std::to_string(u.port);
  return u;
}

// ---- response parser ---------------------------------------------------------

void Http1ResponseParser::Reset() {
  state_ = State::kStatus;
  line_.clear();
  cur_ = {};
  chunked_ = until_close_ = has_length_ = false;
  remaining_ = 0;
}

void Http1ResponseParser::KeepBody(std::string_view data) {
  if (cur_.body.size() < max_body_) {
    cur_.body.append(data.substr(0, max_body_ - cur_.body.size()));
  }
}

void Http1ResponseParser::Finish(std::vector<Http1Response>& out) {
  out.push_back(std::move(cur_));
  cur_ = {};
  state_ = State::kStatus;
  chunked_ = until_close_ = has_length_ = false;
  remaining_ = 0;
}

bool Http1ResponseParser::Eof(std::vector<Http1Response>& out) {
  if (state_ == State::kBody && until_close_) {
    cur_.close = true;
    Finish(out);
    return true;
  }
  return false;
}

Status Http1ResponseParser::Line(std::string_view line, std::vector<Http1Response>& out) {
  switch (state_) {
    case State::kStatus:
      return StatusLine(line);
    case State::kHeaders:
      return line.empty() ? EndOfHeaders(out) : HeaderLine(line);
    case State::kChunkSize:
      return ChunkSizeLine(line);
    case State::kChunkDataEnd:
      if (!line.empty()) return Fail(ProtocolError("missing CRLF after chunk data"));
      state_ = State::kChunkSize;
      return Ok();
    case State::kTrailers:
      if (line.empty()) Finish(out);
      return Ok();
    case State::kBody:
    case State::kChunkData:
      break;
  }
  return Fail(ProtocolError("parser state error"));
}

Status Http1ResponseParser::StatusLine(std::string_view line) {
  if (line.empty()) return Ok();  // tolerate stray empty lines between responses
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (line.size() < 12 || !line.starts_with("HTTP/1.") || line[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(line[9])) ||
      !std::isdigit(static_cast<unsigned char>(line[10])) ||
      !std::isdigit(static_cast<unsigned char>(line[11])) ||
      (line.size() > 12 && line[12] != ' ')) {
    return Fail(ProtocolError("bad status line \"" + std::string(line.substr(0, 64)) + "\""));
  }
  cur_ = {};
  cur_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (line[7] == '0') cur_.close = true;  // HTTP/1.0 without keep-alive
  chunked_ = until_close_ = has_length_ = false;
  remaining_ = 0;
  state_ = State::kHeaders;
  header_bytes_ = 0;
  return Ok();
}

Status Http1ResponseParser::HeaderLine(std::string_view line) {
  header_bytes_ += line.size();
  if (header_bytes_ > kMaxHeaders) return Fail(ProtocolError("headers too large"));
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Fail(ProtocolError("bad header line"));
  }
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = TrimView(line.substr(colon + 1));
  if (IEquals(name, "content-length")) {
    const std::optional<int64_t> n = ParseContentLength(value);
    if (!n) return Fail(ProtocolError("bad Content-Length"));
    if (has_length_ && *n != remaining_) {
      return Fail(ProtocolError("conflicting Content-Length headers"));
    }
    has_length_ = true;
    remaining_ = *n;
  } else if (IEquals(name, "transfer-encoding")) {
    chunked_ = HasToken(value, "chunked");
    if (!chunked_) until_close_ = true;  // another coding: body runs until close
  } else if (IEquals(name, "connection")) {
    if (HasToken(value, "close")) cur_.close = true;
    if (HasToken(value, "keep-alive")) cur_.close = false;
  } else if (IEquals(name, "retry-after")) {
    cur_.retry_after = std::string(value);
  }
  return Ok();
}

Status Http1ResponseParser::EndOfHeaders(std::vector<Http1Response>& out) {
  if (cur_.status >= 100 && cur_.status < 200) {
    if (cur_.status == 101) return Fail(ProtocolError("unexpected protocol switch (101)"));
    cur_ = {};  // interim response: the real one follows
    state_ = State::kStatus;
    return Ok();
  }
  if (cur_.status == 204 || cur_.status == 304 ||
      (!chunked_ && !until_close_ && has_length_ && remaining_ == 0)) {
    Finish(out);  // no body
  } else if (chunked_) {
    state_ = State::kChunkSize;
  } else if (until_close_ || !has_length_) {
    until_close_ = true;
    cur_.close = true;
    state_ = State::kBody;
  } else {
    state_ = State::kBody;
  }
  return Ok();
}

Status Http1ResponseParser::ChunkSizeLine(std::string_view line) {
  const std::optional<int64_t> n = ParseChunkSize(line);
  if (!n) return Fail(ProtocolError("bad chunk size"));
  if (*n == 0) {
    state_ = State::kTrailers;
  } else {
    remaining_ = *n;
    state_ = State::kChunkData;
  }
  return Ok();
}

Status Http1ResponseParser::Feed(std::string_view data, std::vector<Http1Response>& out) {
  while (!data.empty()) {
    if (state_ == State::kBody) {
      if (until_close_) {
        KeepBody(data);
        return Ok();
      }
      const size_t n =
          static_cast<size_t>(std::min<int64_t>(remaining_, static_cast<int64_t>(data.size())));
      KeepBody(data.substr(0, n));
      data.remove_prefix(n);
      remaining_ -= static_cast<int64_t>(n);
      if (remaining_ == 0) Finish(out);
      continue;
    }
    if (state_ == State::kChunkData) {
      const size_t n =
          static_cast<size_t>(std::min<int64_t>(remaining_, static_cast<int64_t>(data.size())));
      KeepBody(data.substr(0, n));
      data.remove_prefix(n);
      remaining_ -= static_cast<int64_t>(n);
      if (remaining_ == 0) state_ = State::kChunkDataEnd;
      continue;
    }
    // Line-based states.
    const size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      if (line_.size() + data.size() > kMaxLine) return Fail(ProtocolError("line too long"));
      line_.append(data);
      return Ok();
    }
    std::string_view line;
    if (line_.empty()) {
      line = data.substr(0, nl);
    } else {
      if (line_.size() + nl > kMaxLine) return Fail(ProtocolError("line too long"));
      line_.append(data.substr(0, nl));
      line = line_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    data.remove_prefix(nl + 1);
    Status st = Line(line, out);
    line_.clear();
    if (!st) return st;
  }
  return Ok();
}

// ---- connection ---------------------------------------------------------------

namespace {

// Reads the answers to `expected` pipelined requests.
class ResponseReader final : public ClientSocket::Reader {
 public:
  ResponseReader(Http1ResponseParser& parser, size_t expected,
                 std::vector<Http1Response>& responses)
      : parser_(parser), expected_(expected), responses_(responses) {}

  Status OnData(std::string_view data) override {
    auto st = parser_.Feed(data, responses_);
    if (!st) return Fail(ErrorCode::kProtocol, st.error().message());
    if (responses_.size() > expected_) {
      return Fail(ErrorCode::kProtocol, "more responses than requests");
    }
    // A response that announces a close ends the exchange early.
    if (!responses_.empty() && responses_.back().close && responses_.size() < expected_) {
      return Fail(ErrorCode::kConnection, "server closed the connection (Connection: close)");
    }
    return Ok();
  }
  void OnEof() override { parser_.Eof(responses_); }
  bool Done() const override { return responses_.size() >= expected_; }

 private:
  Http1ResponseParser& parser_;
  size_t expected_;
  std::vector<Http1Response>& responses_;
};

Endpoint EndpointOf(const Http1Url& url) {
  return Endpoint{.host = url.host, .port = url.port, .tls = url.tls, .display = url.host_header};
}

}  // namespace

struct Http1Connection::Impl {
  Impl(const Http1Url& u, Http1TlsOptions tls, size_t max_body)
      : url(u), socket(EndpointOf(u), std::move(tls)), parser(max_body) {}
  Http1Url url;
  ClientSocket socket;
  Http1ResponseParser parser;
  std::string out;  // pending request bytes
};

Http1Connection::Http1Connection(const Http1Url& url, Http1TlsOptions tls, size_t max_body)
    : impl_(std::make_unique<Impl>(url, std::move(tls), max_body)) {}

Http1Connection::~Http1Connection() = default;

bool Http1Connection::connected() const { return impl_->socket.connected(); }
uint64_t Http1Connection::connects() const { return impl_->socket.connects(); }
void Http1Connection::Interrupt() { impl_->socket.Interrupt(); }

Status Http1Connection::Exchange(std::span<const Request> requests,
                                 std::vector<Http1Response>& responses,
                                 Clock::time_point deadline) {
  Impl& m = *impl_;
  responses.clear();
  if (requests.empty()) return Ok();
  if (auto st = m.socket.EnsureConnected(deadline); !st) {
    m.parser.Reset();
    return st;
  }
  m.out.clear();
  for (const Request& r : requests) {
    m.out.append(r.head);
    m.out.append(r.body);
  }
  ResponseReader reader(m.parser, requests.size(), responses);
  if (auto st = m.socket.Exchange(m.out, reader, deadline); !st) {
    m.parser.Reset();
    const size_t missing = requests.size() - responses.size();
    return Fail(st.error().code(), "request to " + m.url.host_header + ": " + st.error().message() +
                                       " (" + std::to_string(missing) + " of " +
                                       std::to_string(requests.size()) + " requests unanswered)");
  }
  if (responses.back().close || !m.socket.connected()) {
    m.socket.Drop();
    m.parser.Reset();
  }
  return Ok();
}

}  // namespace pgcdc::net
