#include "adapter/pgwire/protocol.h"

namespace pgcdc::adapter::pgwire {

namespace {

void PutInt16(std::string& out, int16_t v) {
  const auto u = static_cast<uint16_t>(v);
  out.push_back(static_cast<char>(u >> 8));
  out.push_back(static_cast<char>(u & 0xFF));
}

void PutInt32(std::string& out, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((u >> shift) & 0xFF));
}

void PutCString(std::string& out, std::string_view s) {
  // A NUL inside would end the string early on the client: cut it there.
  out.append(s.substr(0, s.find('\0')));
  out.push_back('\0');
}

// Writes the type byte and a length placeholder; FinishMessage fills it in.
size_t BeginMessage(std::string& out, char type) {
  out.push_back(type);
  const size_t at = out.size();
  out.append(4, '\0');
  return at;
}

void FinishMessage(std::string& out, size_t at) {
  const auto len = static_cast<uint32_t>(out.size() - at);
  for (int i = 0; i < 4; ++i) out[at + i] = static_cast<char>((len >> (24 - 8 * i)) & 0xFF);
}

Error Malformed(std::string_view what) {
  return Error(ErrorCode::kProtocol, "malformed " + std::string(what) + " message");
}

// An int16 count, then that many items read by `item` (a negative count
// marks the body bad).
template <class F>
void ReadList(BodyReader& r, F item) {
  const int16_t n = r.Int16();
  if (n < 0) r.MarkBad();
  for (int16_t i = 0; i < n && r.ok(); ++i) item();
}

int16_t FormatAt(const std::vector<int16_t>& formats, size_t i) {
  if (formats.empty()) return 0;
  if (formats.size() == 1) return formats[0];
  if (i < formats.size()) return formats[i];
  return 0;
}

// pg_type.typlen of the types we serve (-1 = variable length).
int16_t TypeLength(int32_t oid) {
  switch (oid) {
    case kOidBool:
      return 1;
    case kOidInt4:
      return 4;
    case kOidInt8:
    case kOidTimestamptz:
      return 8;
    default:
      return -1;
  }
}

}  // namespace

int16_t BodyReader::Int16() {
  if (data_.size() - pos_ < 2) {
    ok_ = false;
    pos_ = data_.size();
    return 0;
  }
  const auto hi = static_cast<uint8_t>(data_[pos_]);
  const auto lo = static_cast<uint8_t>(data_[pos_ + 1]);
  pos_ += 2;
  return static_cast<int16_t>(static_cast<uint16_t>((hi << 8) | lo));
}

int32_t BodyReader::Int32() {
  if (data_.size() - pos_ < 4) {
    ok_ = false;
    pos_ = data_.size();
    return 0;
  }
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(data_[pos_ + i]);
  pos_ += 4;
  return static_cast<int32_t>(v);
}

uint8_t BodyReader::Byte() {
  if (pos_ >= data_.size()) {
    ok_ = false;
    return 0;
  }
  return static_cast<uint8_t>(data_[pos_++]);
}

std::string BodyReader::CString() {
  const size_t nul = data_.find('\0', pos_);
  if (nul == std::string_view::npos) {
    ok_ = false;
    pos_ = data_.size();
    return {};
  }
  std::string s(data_.substr(pos_, nul - pos_));
  pos_ = nul + 1;
  return s;
}

std::string BodyReader::Bytes(size_t n) {
  if (data_.size() - pos_ < n) {
    ok_ = false;
    pos_ = data_.size();
    return {};
  }
  std::string s(data_.substr(pos_, n));
  pos_ += n;
  return s;
}

std::string StartupPacket::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

Result<StartupPacket> ParseStartup(std::string_view body) {
  BodyReader r(body);
  StartupPacket p;
  p.code = r.Int32();
  if (!r.ok()) return Fail(Malformed("start-up"));
  if (p.code == kCancelRequest) {
    p.cancel_pid = r.Int32();
    p.cancel_key = r.Int32();
    if (!r.ok() || !r.at_end()) return Fail(Malformed("cancel request"));
    return p;
  }
  // SSL/GSS requests, or a major version we refuse; any 3.x is served as 3.0.
  if ((p.code >> 16) != 3) return p;
  while (true) {
    std::string key = r.CString();
    if (!r.ok()) return Fail(Malformed("start-up"));
    if (key.empty()) break;
    std::string value = r.CString();
    if (!r.ok()) return Fail(Malformed("start-up"));
    p.params.emplace_back(std::move(key), std::move(value));
  }
  if (!r.at_end()) return Fail(Malformed("start-up"));
  return p;
}

Result<ParseMsg> ParseParse(std::string_view body) {
  BodyReader r(body);
  ParseMsg m;
  m.name = r.CString();
  m.query = r.CString();
  ReadList(r, [&] { m.param_types.push_back(r.Int32()); });
  if (!r.ok() || !r.at_end()) return Fail(Malformed("Parse"));
  return m;
}

Result<BindMsg> ParseBind(std::string_view body) {
  BodyReader r(body);
  BindMsg m;
  m.portal = r.CString();
  m.statement = r.CString();
  ReadList(r, [&] { m.param_formats.push_back(r.Int16()); });
  ReadList(r, [&] {
    const int32_t len = r.Int32();
    if (len == -1) {
      m.params.emplace_back(std::nullopt);
    } else if (len < 0) {
      r.MarkBad();
    } else {
      m.params.emplace_back(r.Bytes(static_cast<size_t>(len)));
    }
  });
  ReadList(r, [&] { m.result_formats.push_back(r.Int16()); });
  if (!r.ok() || !r.at_end()) return Fail(Malformed("Bind"));
  if (m.param_formats.size() > 1 && m.param_formats.size() != m.params.size()) {
    return Fail(Malformed("Bind"));
  }
  for (int16_t f : m.param_formats) {
    if (f != 0 && f != 1) return Fail(Malformed("Bind"));
  }
  for (int16_t f : m.result_formats) {
    if (f != 0 && f != 1) return Fail(Malformed("Bind"));
  }
  return m;
}

int16_t BindMsg::ParamFormat(size_t i) const { return FormatAt(param_formats, i); }
int16_t BindMsg::ResultFormat(size_t i) const { return FormatAt(result_formats, i); }

Result<TargetMsg> ParseTarget(std::string_view body) {
  BodyReader r(body);
  TargetMsg m;
  m.kind = static_cast<char>(r.Byte());
  m.name = r.CString();
  if (!r.ok() || !r.at_end() || (m.kind != 'S' && m.kind != 'P')) {
    return Fail(Malformed("Describe/Close"));
  }
  return m;
}

Result<ExecuteMsg> ParseExecute(std::string_view body) {
  BodyReader r(body);
  ExecuteMsg m;
  m.portal = r.CString();
  m.max_rows = r.Int32();
  if (!r.ok() || !r.at_end() || m.max_rows < 0) return Fail(Malformed("Execute"));
  return m;
}

Result<std::string> ParseCStringBody(std::string_view body) {
  BodyReader r(body);
  std::string s = r.CString();
  if (!r.ok() || !r.at_end()) return Fail(Malformed("string"));
  return s;
}

Result<SaslInitial> ParseSaslInitial(std::string_view body) {
  BodyReader r(body);
  SaslInitial m;
  m.mechanism = r.CString();
  const int32_t len = r.Int32();
  if (len > 0) m.data = r.Bytes(static_cast<size_t>(len));
  if (!r.ok() || !r.at_end() || len < -1) return Fail(Malformed("SASLInitialResponse"));
  return m;
}

void AppendAuthRequest(std::string& out, int32_t code, std::string_view data) {
  const size_t at = BeginMessage(out, 'R');
  PutInt32(out, code);
  out.append(data);
  FinishMessage(out, at);
}

void AppendAuthSasl(std::string& out, const std::vector<std::string>& mechanisms) {
  std::string data;
  for (const auto& m : mechanisms) PutCString(data, m);
  data.push_back('\0');
  AppendAuthRequest(out, 10, data);
}

void AppendParameterStatus(std::string& out, std::string_view name, std::string_view value) {
  const size_t at = BeginMessage(out, 'S');
  PutCString(out, name);
  PutCString(out, value);
  FinishMessage(out, at);
}

void AppendBackendKeyData(std::string& out, int32_t pid, int32_t key) {
  const size_t at = BeginMessage(out, 'K');
  PutInt32(out, pid);
  PutInt32(out, key);
  FinishMessage(out, at);
}

void AppendReadyForQuery(std::string& out, char status) {
  const size_t at = BeginMessage(out, 'Z');
  out.push_back(status);
  FinishMessage(out, at);
}

void AppendRowDescription(std::string& out, const std::vector<Field>& fields) {
  const size_t at = BeginMessage(out, 'T');
  PutInt16(out, static_cast<int16_t>(fields.size()));
  for (const Field& f : fields) {
    PutCString(out, f.name);
    PutInt32(out, 0);  // table OID
    PutInt16(out, 0);  // column number
    PutInt32(out, f.type_oid);
    PutInt16(out, TypeLength(f.type_oid));
    PutInt32(out, -1);  // type modifier
    PutInt16(out, f.format);
  }
  FinishMessage(out, at);
}

void AppendDataRow(std::string& out, const std::vector<std::optional<std::string>>& values) {
  const size_t at = BeginMessage(out, 'D');
  PutInt16(out, static_cast<int16_t>(values.size()));
  for (const auto& v : values) {
    if (!v) {
      PutInt32(out, -1);
      continue;
    }
    PutInt32(out, static_cast<int32_t>(v->size()));
    out.append(*v);
  }
  FinishMessage(out, at);
}

void AppendCommandComplete(std::string& out, std::string_view tag) {
  const size_t at = BeginMessage(out, 'C');
  PutCString(out, tag);
  FinishMessage(out, at);
}

void AppendEmptyQuery(std::string& out) { AppendSimple(out, 'I'); }

void AppendError(std::string& out, const Diagnostic& d, char type) {
  const size_t at = BeginMessage(out, type);
  const auto field = [&](char code, std::string_view value) {
    if (value.empty()) return;
    out.push_back(code);
    PutCString(out, value);
  };
  field('S', d.severity);
  field('V', d.severity);
  field('C', d.sqlstate);
  field('M', d.message);
  if (d.position > 0) field('P', std::to_string(d.position));
  field('H', d.hint);
  out.push_back('\0');
  FinishMessage(out, at);
}

void AppendParameterDescription(std::string& out, const std::vector<int32_t>& oids) {
  const size_t at = BeginMessage(out, 't');
  PutInt16(out, static_cast<int16_t>(oids.size()));
  for (int32_t oid : oids) PutInt32(out, oid);
  FinishMessage(out, at);
}

void AppendSimple(std::string& out, char type) { FinishMessage(out, BeginMessage(out, type)); }

void AppendCopyOutResponse(std::string& out, size_t columns) {
  const size_t at = BeginMessage(out, 'H');
  out.push_back('\0');  // text format
  PutInt16(out, static_cast<int16_t>(columns));
  for (size_t i = 0; i < columns; ++i) PutInt16(out, 0);
  FinishMessage(out, at);
}

void AppendCopyData(std::string& out, std::string_view data) {
  const size_t at = BeginMessage(out, 'd');
  out.append(data);
  FinishMessage(out, at);
}

void AppendCopyTextRow(std::string& out, const std::vector<std::optional<std::string>>& values) {
  bool first = true;
  for (const auto& v : values) {
    if (!first) out.push_back('\t');
    first = false;
    if (!v) {
      out.append("\\N");
      continue;
    }
    for (char c : *v) {
      switch (c) {
        case '\\':
          out.append("\\\\");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        default:
          out.push_back(c);
      }
    }
  }
  out.push_back('\n');
}

}  // namespace pgcdc::adapter::pgwire

namespace pgcdc::adapter::pgwire {

FrameStatus TakeFrame(std::string& buffer, bool startup, size_t max_body, Frame& out) {
  const size_t header = startup ? 4 : 5;
  if (buffer.size() < header) return FrameStatus::kNeedMore;
  BodyReader r(std::string_view(buffer).substr(startup ? 0 : 1, 4));
  const int32_t len = r.Int32();
  if (len < (startup ? 8 : 4)) return FrameStatus::kMalformed;
  const size_t body = static_cast<size_t>(len) - 4;
  if (body > max_body) return FrameStatus::kTooLarge;
  if (buffer.size() < header + body) return FrameStatus::kNeedMore;
  out.type = startup ? '\0' : buffer[0];
  out.body = buffer.substr(header, body);
  buffer.erase(0, header + body);
  return FrameStatus::kFrame;
}

}  // namespace pgcdc::adapter::pgwire
