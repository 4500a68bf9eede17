// PostgreSQL frontend/backend protocol 3.0: message bodies in and out.
//
// Pure encoding and decoding (no sockets), so every byte a client can send is
// unit-tested and fuzzable. The server (server.cc) reads a frame — a type
// byte and a 4-byte length, or a bare length for the start-up packets — caps
// its size, and hands the body to the decoders here; answers are appended to
// a std::string with the Append* builders.
//
// Formats are the protocol's: integers big-endian, strings NUL-terminated.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace pgcdc::adapter::pgwire {

// Start-up packet request codes (the int32 after the length).
inline constexpr int32_t kProtocolV3 = 196608;  // 3.0
inline constexpr int32_t kSslRequest = 80877103;
inline constexpr int32_t kGssEncRequest = 80877104;
inline constexpr int32_t kCancelRequest = 80877102;

// Type OIDs of the columns we serve.
inline constexpr int32_t kOidBool = 16;
inline constexpr int32_t kOidInt8 = 20;
inline constexpr int32_t kOidInt4 = 23;
inline constexpr int32_t kOidText = 25;
inline constexpr int32_t kOidTimestamptz = 1184;

// Reads a message body front to back; any read past the end marks it bad and
// yields zeroes/empty strings, so a decoder checks ok() once at the end.
class BodyReader {
 public:
  explicit BodyReader(std::string_view body) : data_(body) {}
  int16_t Int16();
  int32_t Int32();
  uint8_t Byte();
  std::string CString();  // up to the next NUL (which is consumed)
  std::string Bytes(size_t n);
  void MarkBad() { ok_ = false; }
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// --- frontend messages --------------------------------------------------

// The first packet of a connection (the body after the length).
struct StartupPacket {
  int32_t code = 0;  // kProtocolV3, kSslRequest, kGssEncRequest, kCancelRequest, or other
  std::vector<std::pair<std::string, std::string>> params;  // v3 start-up only
  int32_t cancel_pid = 0;                                   // kCancelRequest only
  int32_t cancel_key = 0;
  std::string Param(std::string_view name) const;
};
[[nodiscard]] Result<StartupPacket> ParseStartup(std::string_view body);

struct ParseMsg {  // 'P'
  std::string name;
  std::string query;
  std::vector<int32_t> param_types;  // 0 = unspecified
};
[[nodiscard]] Result<ParseMsg> ParseParse(std::string_view body);

struct BindMsg {  // 'B'
  std::string portal;
  std::string statement;
  std::vector<int16_t> param_formats;              // 0 text, 1 binary; 0/1/n entries
  std::vector<std::optional<std::string>> params;  // nullopt = NULL
  std::vector<int16_t> result_formats;
  // The format of parameter / result column `i` (the protocol's 0/1/n rule).
  int16_t ParamFormat(size_t i) const;
  int16_t ResultFormat(size_t i) const;
};
[[nodiscard]] Result<BindMsg> ParseBind(std::string_view body);

struct TargetMsg {  // 'D' Describe and 'C' Close: 'S' statement or 'P' portal
  char kind = 'S';
  std::string name;
};
[[nodiscard]] Result<TargetMsg> ParseTarget(std::string_view body);

struct ExecuteMsg {  // 'E'
  std::string portal;
  int32_t max_rows = 0;  // 0 = all
};
[[nodiscard]] Result<ExecuteMsg> ParseExecute(std::string_view body);

// 'Q' and 'p' (cleartext password) bodies: one NUL-terminated string.
[[nodiscard]] Result<std::string> ParseCStringBody(std::string_view body);

struct SaslInitial {  // 'p' answering AuthenticationSASL
  std::string mechanism;
  std::string data;
};
[[nodiscard]] Result<SaslInitial> ParseSaslInitial(std::string_view body);

// --- backend messages ---------------------------------------------------

struct Field {
  std::string name;
  int32_t type_oid = kOidText;
  int16_t format = 0;  // 0 text, 1 binary
};

// ErrorResponse / NoticeResponse fields.
struct Diagnostic {
  std::string severity = "ERROR";
  std::string sqlstate;
  std::string message;
  int position = 0;  // 1-based character position in the query; 0 = none
  std::string hint;
};

void AppendAuthRequest(std::string& out, int32_t code, std::string_view data = {});
void AppendAuthSasl(std::string& out, const std::vector<std::string>& mechanisms);
void AppendParameterStatus(std::string& out, std::string_view name, std::string_view value);
void AppendBackendKeyData(std::string& out, int32_t pid, int32_t key);
void AppendReadyForQuery(std::string& out, char status);
void AppendRowDescription(std::string& out, const std::vector<Field>& fields);
// One row; each value in the wire format its field asks for.
void AppendDataRow(std::string& out, const std::vector<std::optional<std::string>>& values);
void AppendCommandComplete(std::string& out, std::string_view tag);
void AppendEmptyQuery(std::string& out);
void AppendError(std::string& out, const Diagnostic& d, char type = 'E');
void AppendParameterDescription(std::string& out, const std::vector<int32_t>& oids);
void AppendSimple(std::string& out, char type);  // ParseComplete '1', BindComplete '2', ...
void AppendCopyOutResponse(std::string& out, size_t columns);
void AppendCopyData(std::string& out, std::string_view data);

// COPY text format: a row's values tab-separated with backslash escapes,
// NULL as \N, ending in a newline.
void AppendCopyTextRow(std::string& out, const std::vector<std::optional<std::string>>& values);

}  // namespace pgcdc::adapter::pgwire

namespace pgcdc::adapter::pgwire {

// One frame cut from the input: a start-up packet (type 0) or a typed message.
struct Frame {
  char type = 0;
  std::string body;
};

enum class FrameStatus { kFrame, kNeedMore, kTooLarge, kMalformed };

// Cuts the next frame off the front of `buffer`. Start-up packets are a bare
// int32 length (including itself) and a body; typed messages a type byte and
// an int32 length (including itself). A length below the minimum is
// kMalformed, one whose body exceeds `max_body` kTooLarge (the connection is
// then closed: the stream cannot be resynchronised).
FrameStatus TakeFrame(std::string& buffer, bool startup, size_t max_body, Frame& out);

}  // namespace pgcdc::adapter::pgwire
