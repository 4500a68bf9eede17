#include "detector/sqlite/change_row.h"

#include <charconv>
#include <utility>

#include "core/json.h"
#include "core/time.h"
#include "core/uuid.h"

namespace pgcdc::detector::sqlite {

namespace {

constexpr std::string_view kInvalidChannel = "pgcdc:_sqlite_invalid";
constexpr std::string_view kInvalidOperation = "INVALID";

// Reads `n` digits at text[pos]; false when they are not all digits.
bool Digits(std::string_view text, size_t pos, size_t n, int64_t& out) {
  if (pos + n > text.size()) return false;
  const auto* begin = text.data() + pos;
  auto [end, ec] = std::from_chars(begin, begin + n, out);
  return ec == std::errc() && end == begin + n;
}

void WriteOptional(json::Writer& w, const std::optional<std::string>& s) {
  if (s) {
    w.String(*s);
  } else {
    w.Null();
  }
}

// The event describing an unusable row, for the dead letter queue.
void DescribeInvalid(const ChangeRow& row, ChangeEvent& out) {
  Event& e = out.event;
  e.channel = kInvalidChannel;
  e.operation = kInvalidOperation;
  std::string body;
  json::Writer w(body);
  w.BeginObject();
  w.IntField("rowid", row.rowid);
  w.Key("table_name");
  WriteOptional(w, row.table_name);
  w.Key("operation");
  WriteOptional(w, row.operation);
  w.Key("row_data");
  WriteOptional(w, row.row_data);
  w.Key("old_data");
  WriteOptional(w, row.old_data);
  w.StringField("reason", out.invalid_reason);
  w.EndObject();
  e.payload = std::move(body);
}

}  // namespace

Result<std::string> NormalizeRowJson(std::string_view json) {
  std::string compact;
  if (auto info = json::Compact(json, compact); !info) return Fail(info.error());
  // In compact JSON, `{"__pgcdc_blob":"` can only be structure (inside a
  // string the quotes would be escaped).
  const std::string open = "{\"" + std::string(kBlobMarker) + "\":\"";
  if (compact.find(open) == std::string::npos) return compact;
  std::string out;
  out.reserve(compact.size());
  size_t pos = 0;
  while (true) {
    const size_t at = compact.find(open, pos);
    if (at == std::string::npos) break;
    const size_t hex_begin = at + open.size();
    const size_t hex_end = compact.find('"', hex_begin);
    if (hex_end == std::string::npos || hex_end + 1 >= compact.size() ||
        compact[hex_end + 1] != '}' || (hex_end - hex_begin) % 2 != 0) {
      return Fail(ErrorCode::kParse, "malformed blob marker");
    }
    std::string bytes;
    bytes.reserve((hex_end - hex_begin) / 2);
    for (size_t i = hex_begin; i < hex_end; i += 2) {
      const int hi = json::HexValue(compact[i]);
      const int lo = json::HexValue(compact[i + 1]);
      if (hi < 0 || lo < 0) return Fail(ErrorCode::kParse, "malformed blob marker");
      bytes.push_back(static_cast<char>((hi << 4) | lo));
    }
    out.append(compact, pos, at - pos);
    out.push_back('"');
    json::AppendBase64(out, bytes);
    out.push_back('"');
    pos = hex_end + 2;
  }
  out.append(compact, pos);
  return out;
}

std::optional<int64_t> ParseSqliteTime(std::string_view t) {
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (t.size() < 19 || t[4] != '-' || t[7] != '-' || (t[10] != ' ' && t[10] != 'T') ||
      t[13] != ':' || t[16] != ':' || !Digits(t, 0, 4, y) || !Digits(t, 5, 2, mo) ||
      !Digits(t, 8, 2, d) || !Digits(t, 11, 2, h) || !Digits(t, 14, 2, mi) ||
      !Digits(t, 17, 2, s) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  int64_t nanos = 0;
  size_t pos = 19;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    int64_t scale = 100'000'000;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      nanos += (t[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
  }
  if (pos < t.size() && t[pos] == 'Z') ++pos;
  if (pos != t.size()) return std::nullopt;
  const int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return ((days * 86400 + h * 3600 + mi * 60 + s) * 1'000'000'000) + nanos;
}

ChangeEvent MakeChangeEvent(const ChangeRow& row, uint32_t origin, int64_t now_ns) {
  ChangeEvent out;
  Event& e = out.event;
  e.id = MakePositionUuid(static_cast<uint64_t>(row.rowid), 0, origin);
  e.source = kSource;
  e.created_at_ns = now_ns;
  if (row.created_at) {
    if (auto t = ParseSqliteTime(*row.created_at)) e.created_at_ns = *t;
  }
  std::string payload = "{";
  auto add = [&](std::string_view key, const std::optional<std::string>& data) {
    if (!data || !out.invalid_reason.empty()) return;
    auto normalized = NormalizeRowJson(*data);
    if (!normalized) {
      out.invalid_reason = std::string(key == "new" ? "row_data" : "old_data") +
                           " is not valid JSON: " + normalized.error().message();
      return;
    }
    if (payload.size() > 1) payload.push_back(',');
    payload += "\"" + std::string(key) + "\":" + *normalized;
  };
  if (!row.table_name || row.table_name->empty()) {
    out.invalid_reason = "table_name is NULL or empty";
  } else if (!row.operation || row.operation->empty()) {
    out.invalid_reason = "operation is NULL or empty";
  }
  add("new", row.row_data);
  add("old", row.old_data);
  if (!out.invalid_reason.empty()) {
    DescribeInvalid(row, out);
    return out;
  }
  payload.push_back('}');
  e.channel = "pgcdc:" + *row.table_name;
  e.operation = *row.operation;
  e.payload = std::move(payload);
  return out;
}

}  // namespace pgcdc::detector::sqlite
