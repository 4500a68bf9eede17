#include "detector/mysql/mysql_json.h"

#include <charconv>
#include <cstring>

#include "core/json.h"
#include "detector/mysql/row_values.h"
#include "detector/mysql/wire.h"

namespace pgcdc::detector::mysql {

namespace {

enum JsonType : uint8_t {
  kSmallObject = 0x0,
  kLargeObject = 0x1,
  kSmallArray = 0x2,
  kLargeArray = 0x3,
  kLiteral = 0x4,
  kInt16 = 0x5,
  kUint16 = 0x6,
  kInt32 = 0x7,
  kUint32 = 0x8,
  kInt64 = 0x9,
  kUint64 = 0xA,
  kDouble = 0xB,
  kString = 0xC,
  kOpaque = 0xF,
};

constexpr int kMaxDepth = 100;

Error JsonError(std::string_view problem) {
  return Error(ErrorCode::kParse, "mysql json: " + std::string(problem));
}

uint64_t Le(Bytes b, size_t off, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(b[off + i]) << (8 * i);
  return v;
}

template <class T>
void AppendNumber(std::string& out, T v) {
  char buf[48];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Variable-length size (7 bits per byte, low first); advances *pos.
Result<uint64_t> VarLength(Bytes b, size_t* pos) {
  uint64_t len = 0;
  for (int i = 0; i < 5; ++i) {
    if (*pos >= b.size()) return Fail(JsonError("truncated length"));
    const uint8_t byte = b[(*pos)++];
    len |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) return len;
  }
  return Fail(JsonError("length too long"));
}

Status AppendValue(uint8_t type, Bytes data, int depth, std::string& out);

bool Inlined(uint8_t type, bool large) {
  switch (type) {
    case kLiteral:
    case kInt16:
    case kUint16:
      return true;
    case kInt32:
    case kUint32:
      return large;
    default:
      return false;
  }
}

Status AppendInlined(uint8_t type, uint64_t v, std::string& out) {
  switch (type) {
    case kLiteral:
      if (v == 0) {
        out.append("null");
      } else if (v == 1) {
        out.append("true");
      } else if (v == 2) {
        out.append("false");
      } else {
        return Fail(JsonError("bad literal"));
      }
      return Ok();
    case kInt16:
      AppendNumber(out, static_cast<int16_t>(v));
      return Ok();
    case kUint16:
      AppendNumber(out, static_cast<uint16_t>(v));
      return Ok();
    case kInt32:
      AppendNumber(out, static_cast<int32_t>(v));
      return Ok();
    default:
      AppendNumber(out, static_cast<uint32_t>(v));
      return Ok();
  }
}

// One value entry of a container: inlined, or at an offset into `data`.
Status AppendEntry(Bytes data, size_t entry, bool large, int depth, std::string& out) {
  const size_t word = large ? 4 : 2;
  const uint8_t type = data[entry];
  const uint64_t v = Le(data, entry + 1, word);
  if (Inlined(type, large)) return AppendInlined(type, v, out);
  if (v >= data.size()) return Fail(JsonError("value offset out of range"));
  return AppendValue(type, data.subspan(v), depth + 1, out);
}

Status AppendContainer(Bytes data, bool object, bool large, int depth, std::string& out) {
  if (depth > kMaxDepth) return Fail(JsonError("nested too deeply"));
  const size_t word = large ? 4 : 2;
  if (data.size() < 2 * word) return Fail(JsonError("truncated container"));
  const uint64_t count = Le(data, 0, word);
  const uint64_t size = Le(data, word, word);
  if (size > data.size()) return Fail(JsonError("container larger than its value"));
  data = data.first(size);
  const size_t key_entry = word + 2;
  const size_t value_entry = 1 + word;
  const size_t header = 2 * word + (object ? count * key_entry : 0) + count * value_entry;
  if (count > size || header > size) return Fail(JsonError("truncated container entries"));
  out.push_back(object ? '{' : '[');
  for (uint64_t i = 0; i < count; ++i) {
    if (i > 0) out.push_back(',');
    if (object) {
      const size_t k = 2 * word + i * key_entry;
      const uint64_t off = Le(data, k, word);
      const uint64_t len = Le(data, k + word, 2);
      if (off > size || len > size - off) return Fail(JsonError("key out of range"));
      json::AppendString(out, {reinterpret_cast<const char*>(data.data()) + off, len});
      out.push_back(':');
    }
    const size_t v = 2 * word + (object ? count * key_entry : 0) + i * value_entry;
    if (auto st = AppendEntry(data, v, large, depth, out); !st) return st;
  }
  out.push_back(object ? '}' : ']');
  return Ok();
}

// A packed DATETIME/DATE/TIME of an opaque value, as the server prints it.
void AppendPackedTemporal(uint8_t field_type, int64_t packed, std::string& out) {
  const bool negative = packed < 0;
  const uint64_t v = static_cast<uint64_t>(negative ? -packed : packed);
  const uint64_t intpart = v >> 24;
  const uint64_t micros = v % (1 << 24);
  char buf[64];
  int n = 0;
  if (field_type == kTypeTime) {
    const uint64_t hms = intpart;
    n = std::snprintf(buf, sizeof buf, "%s%02llu:%02llu:%02llu.%06llu", negative ? "-" : "",
                      static_cast<unsigned long long>((hms >> 12) % (1 << 10)),
                      static_cast<unsigned long long>((hms >> 6) % 64),
                      static_cast<unsigned long long>(hms % 64),
                      static_cast<unsigned long long>(micros));
  } else {
    const uint64_t ymd = intpart >> 17, ym = ymd >> 5, hms = intpart % (1 << 17);
    const auto u = [](uint64_t x) { return static_cast<unsigned long long>(x); };
    if (field_type == kTypeDate || field_type == kTypeNewDate) {
      n = std::snprintf(buf, sizeof buf, "%04llu-%02llu-%02llu", u(ym / 13), u(ym % 13),
                        u(ymd % 32));
    } else {
      n = std::snprintf(buf, sizeof buf, "%04llu-%02llu-%02llu %02llu:%02llu:%02llu.%06llu",
                        u(ym / 13), u(ym % 13), u(ymd % 32), u(hms >> 12), u((hms >> 6) % 64),
                        u(hms % 64), u(micros));
    }
  }
  json::AppendString(out, std::string_view(buf, static_cast<size_t>(n)));
}

Status AppendOpaque(Bytes data, std::string& out) {
  if (data.empty()) return Fail(JsonError("truncated opaque value"));
  const uint8_t field_type = data[0];
  size_t pos = 1;
  auto len = VarLength(data, &pos);
  if (!len) return Fail(len.error());
  if (*len > data.size() - pos) return Fail(JsonError("truncated opaque value"));
  const Bytes v = data.subspan(pos, *len);
  if (field_type == kTypeNewDecimal && v.size() >= 2) {
    auto text = DecodeDecimal(v.subspan(2), v[0], v[1]);
    if (!text) return Fail(text.error());
    out.append(*text);
    return Ok();
  }
  if ((field_type == kTypeDate || field_type == kTypeTime || field_type == kTypeDatetime ||
       field_type == kTypeTimestamp) &&
      v.size() >= 8) {
    AppendPackedTemporal(field_type, static_cast<int64_t>(Le(v, 0, 8)), out);
    return Ok();
  }
  std::string b64 = "base64:type" + std::to_string(field_type) + ":";
  json::AppendBase64(b64, {reinterpret_cast<const char*>(v.data()), v.size()});
  json::AppendString(out, b64);
  return Ok();
}

Status AppendScalar(uint8_t type, Bytes data, std::string& out) {
  static constexpr size_t kSizes[] = {0, 0, 0, 0, 2, 2, 2, 4, 4, 8, 8, 8};
  if (type <= kDouble) {
    const size_t n = type == kLiteral ? 1 : kSizes[type];
    if (data.size() < n) return Fail(JsonError("truncated scalar"));
    const uint64_t v = Le(data, 0, n);
    switch (type) {
      case kInt64:
        AppendNumber(out, static_cast<int64_t>(v));
        return Ok();
      case kUint64:
        AppendNumber(out, v);
        return Ok();
      case kDouble: {
        double d = 0;
        std::memcpy(&d, &v, 8);
        AppendNumber(out, d);
        return Ok();
      }
      default:
        return AppendInlined(type, v, out);
    }
  }
  if (type == kString) {
    size_t pos = 0;
    auto len = VarLength(data, &pos);
    if (!len) return Fail(len.error());
    if (*len > data.size() - pos) return Fail(JsonError("truncated string"));
    json::AppendString(out, {reinterpret_cast<const char*>(data.data()) + pos, *len});
    return Ok();
  }
  if (type == kOpaque) return AppendOpaque(data, out);
  return Fail(JsonError("unknown value type " + std::to_string(type)));
}

Status AppendValue(uint8_t type, Bytes data, int depth, std::string& out) {
  switch (type) {
    case kSmallObject:
    case kLargeObject:
      return AppendContainer(data, true, type == kLargeObject, depth, out);
    case kSmallArray:
    case kLargeArray:
      return AppendContainer(data, false, type == kLargeArray, depth, out);
    default:
      return AppendScalar(type, data, out);
  }
}

}  // namespace

Status AppendMysqlJson(Bytes value, std::string& out) {
  if (value.empty()) {
    out.append("null");
    return Ok();
  }
  const size_t before = out.size();
  Status st = AppendValue(value[0], value.subspan(1), 0, out);
  if (!st) out.resize(before);
  return st;
}

}  // namespace pgcdc::detector::mysql
