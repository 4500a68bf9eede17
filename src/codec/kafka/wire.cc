#include "codec/kafka/wire.h"

#include <bit>
#include <cstring>
#include <limits>
#include <string>

namespace pgcdc::codec::kafka {

namespace {

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

std::string UuidToString(const Uuid& id) {
  std::string out;
  out.reserve(22);
  size_t i = 0;
  for (; i + 3 <= id.size(); i += 3) {
    const uint32_t v = (uint32_t{id[i]} << 16) | (uint32_t{id[i + 1]} << 8) | id[i + 2];
    out.push_back(kBase64Url[(v >> 18) & 63]);
    out.push_back(kBase64Url[(v >> 12) & 63]);
    out.push_back(kBase64Url[(v >> 6) & 63]);
    out.push_back(kBase64Url[v & 63]);
  }
  // 16 = 5*3 + 1: one byte left -> two characters, no padding.
  const uint32_t v = uint32_t{id[i]} << 16;
  out.push_back(kBase64Url[(v >> 18) & 63]);
  out.push_back(kBase64Url[(v >> 12) & 63]);
  return out;
}

// ---------------------------------------------------------------------------
// Reader

Status Reader::status(std::string_view context) const {
  if (ok()) return Ok();
  std::string m;
  m.append(context).append(": ").append(error_);
  return pgcdc::Fail(ErrorCode::kParse, std::move(m));
}

void Reader::Fail(std::string_view what) {
  if (!error_.empty()) return;
  error_.assign(what);
  if (error_.empty()) error_ = "error";
}

bool Reader::Need(size_t n, const char* what) {
  if (!ok()) return false;
  if (remaining() < n) {
    Fail(std::string("truncated ") + what + " at offset " + std::to_string(pos_));
    return false;
  }
  return true;
}

int8_t Reader::Int8() {
  if (!Need(1, "int8")) return 0;
  return static_cast<int8_t>(data_[pos_++]);
}

bool Reader::Bool() {
  if (!Need(1, "bool")) return false;
  return data_[pos_++] != 0;
}

namespace {
inline uint64_t LoadBE(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
}  // namespace

int16_t Reader::Int16() {
  if (!Need(2, "int16")) return 0;
  const auto v = static_cast<uint16_t>(LoadBE(data_.data() + pos_, 2));
  pos_ += 2;
  return static_cast<int16_t>(v);
}

uint16_t Reader::UInt16() { return static_cast<uint16_t>(Int16()); }

int32_t Reader::Int32() {
  if (!Need(4, "int32")) return 0;
  const auto v = static_cast<uint32_t>(LoadBE(data_.data() + pos_, 4));
  pos_ += 4;
  return static_cast<int32_t>(v);
}

uint32_t Reader::UInt32() { return static_cast<uint32_t>(Int32()); }

int64_t Reader::Int64() {
  if (!Need(8, "int64")) return 0;
  const uint64_t v = LoadBE(data_.data() + pos_, 8);
  pos_ += 8;
  return static_cast<int64_t>(v);
}

double Reader::Float64() { return std::bit_cast<double>(static_cast<uint64_t>(Int64())); }

Uuid Reader::ReadUuid() {
  Uuid id{};
  if (!Need(16, "uuid")) return id;
  std::memcpy(id.data(), data_.data() + pos_, 16);
  pos_ += 16;
  return id;
}

uint32_t Reader::UnsignedVarInt() {
  if (!ok()) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 5; ++i) {
    if (remaining() == 0) {
      Fail("truncated varint at offset " + std::to_string(pos_));
      return 0;
    }
    const auto b = static_cast<uint8_t>(data_[pos_++]);
    if (i == 4 && (b & 0xf0) != 0) {
      Fail("varint does not fit 32 bits at offset " + std::to_string(pos_ - 1));
      return 0;
    }
    v |= uint32_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80) == 0) return v;
  }
  Fail("varint longer than 5 bytes at offset " + std::to_string(pos_));
  return 0;
}

int32_t Reader::VarInt() {
  const uint32_t u = UnsignedVarInt();
  return static_cast<int32_t>((u >> 1) ^ (~(u & 1) + 1));
}

int64_t Reader::VarLong() {
  if (!ok()) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 10; ++i) {
    if (remaining() == 0) {
      Fail("truncated varlong at offset " + std::to_string(pos_));
      return 0;
    }
    const auto b = static_cast<uint8_t>(data_[pos_++]);
    if (i == 9 && (b & 0xfe) != 0) {
      Fail("varlong does not fit 64 bits at offset " + std::to_string(pos_ - 1));
      return 0;
    }
    v |= uint64_t{b & 0x7fu} << (7 * i);
    if ((b & 0x80) == 0) return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
  }
  Fail("varlong longer than 10 bytes at offset " + std::to_string(pos_));
  return 0;
}

std::string_view Reader::Raw(size_t n) {
  if (!Need(n, "bytes")) return {};
  std::string_view v = data_.substr(pos_, n);
  pos_ += n;
  return v;
}

namespace {

// The bytes after a classic length `n` (read at offset `at`): -1 is null
// (nullopt), which fails unless `nullable`; other negative lengths fail.
// `what`: "string" or "bytes", for the error.
std::optional<std::string_view> ClassicField(Reader& r, int32_t n, size_t at, bool nullable,
                                             std::string_view what) {
  if (!r.ok() || (n == -1 && nullable)) return std::nullopt;
  if (n < 0) {
    r.Fail((nullable ? "negative " + std::string(what) + " length"
                     : "null or negative-length " + std::string(what)) +
           " at offset " + std::to_string(at));
    return std::nullopt;
  }
  return r.Raw(static_cast<size_t>(n));
}

// The bytes after a compact length `n` (length + 1, read at offset `at`): 0
// is null (nullopt), which fails unless `nullable`; longer than `max` fails.
std::optional<std::string_view> CompactField(Reader& r, uint32_t n, size_t at, bool nullable,
                                             std::string_view what, size_t max) {
  if (!r.ok()) return std::nullopt;
  if (n == 0) {
    if (!nullable) r.Fail("null compact " + std::string(what) + " at offset " + std::to_string(at));
    return std::nullopt;
  }
  if (n - 1 > max) {
    r.Fail("compact " + std::string(what) + " longer than " + std::to_string(max) +
           " bytes at offset " + std::to_string(at));
    return std::nullopt;
  }
  return r.Raw(n - 1);
}

constexpr size_t kMaxStringBytes = 0x7fff;
constexpr size_t kMaxBytes = std::numeric_limits<uint32_t>::max();

}  // namespace

std::string_view Reader::String() {
  const size_t at = pos_;
  return ClassicField(*this, Int16(), at, false, "string").value_or(std::string_view());
}

std::optional<std::string_view> Reader::NullableString() {
  const size_t at = pos_;
  return ClassicField(*this, Int16(), at, true, "string");
}

std::string_view Reader::CompactString() {
  const size_t at = pos_;
  return CompactField(*this, UnsignedVarInt(), at, false, "string", kMaxStringBytes)
      .value_or(std::string_view());
}

std::optional<std::string_view> Reader::CompactNullableString() {
  const size_t at = pos_;
  return CompactField(*this, UnsignedVarInt(), at, true, "string", kMaxStringBytes);
}

std::string_view Reader::Bytes() {
  const size_t at = pos_;
  return ClassicField(*this, Int32(), at, false, "bytes").value_or(std::string_view());
}

std::optional<std::string_view> Reader::NullableBytes() {
  const size_t at = pos_;
  return ClassicField(*this, Int32(), at, true, "bytes");
}

std::string_view Reader::CompactBytes() {
  const size_t at = pos_;
  return CompactField(*this, UnsignedVarInt(), at, false, "bytes", kMaxBytes)
      .value_or(std::string_view());
}

std::optional<std::string_view> Reader::CompactNullableBytes() {
  const size_t at = pos_;
  return CompactField(*this, UnsignedVarInt(), at, true, "bytes", kMaxBytes);
}

int32_t Reader::ArrayLength(size_t min_element_size) {
  const size_t at = pos_;
  const int32_t n = Int32();
  if (!ok()) return 0;
  if (n == -1) return -1;
  if (n < 0) {
    Fail("negative array length at offset " + std::to_string(at));
    return 0;
  }
  if (min_element_size == 0) min_element_size = 1;
  if (static_cast<size_t>(n) > remaining() / min_element_size) {
    Fail("array length " + std::to_string(n) + " exceeds the remaining " +
         std::to_string(remaining()) + " bytes at offset " + std::to_string(at));
    return 0;
  }
  return n;
}

int32_t Reader::CompactArrayLength(size_t min_element_size) {
  const size_t at = pos_;
  const uint32_t u = UnsignedVarInt();
  if (!ok()) return 0;
  if (u == 0) return -1;
  const uint32_t n = u - 1;
  if (min_element_size == 0) min_element_size = 1;
  if (n > 0x7fffffffu || n > remaining() / min_element_size) {
    Fail("array length " + std::to_string(n) + " exceeds the remaining " +
         std::to_string(remaining()) + " bytes at offset " + std::to_string(at));
    return 0;
  }
  return static_cast<int32_t>(n);
}

void Reader::TaggedFields(
    const std::function<void(uint32_t tag, std::string_view data)>& on_field) {
  const uint32_t count = UnsignedVarInt();
  if (!ok()) return;
  // Each field takes at least two bytes (tag, size).
  if (count > remaining() / 2) {
    Fail("tagged field count " + std::to_string(count) + " exceeds the remaining bytes");
    return;
  }
  int64_t last_tag = -1;
  for (uint32_t i = 0; i < count && ok(); ++i) {
    const uint32_t tag = UnsignedVarInt();
    const uint32_t size = UnsignedVarInt();
    if (!ok()) return;
    if (static_cast<int64_t>(tag) <= last_tag) {
      Fail("tagged fields out of order at offset " + std::to_string(pos_));
      return;
    }
    last_tag = tag;
    const std::string_view data = Raw(size);
    if (on_field && ok()) on_field(tag, data);
  }
}

void Reader::SkipTaggedFields() { TaggedFields(nullptr); }

// ---------------------------------------------------------------------------
// Writer

namespace {
inline void StoreBE(std::string& out, uint64_t v, size_t n) {
  char buf[8];
  for (size_t i = 0; i < n; ++i) buf[i] = static_cast<char>(v >> (8 * (n - 1 - i)));
  out.append(buf, n);
}
}  // namespace

void Writer::Int8(int8_t v) { out_.push_back(static_cast<char>(v)); }
void Writer::Int16(int16_t v) { StoreBE(out_, static_cast<uint16_t>(v), 2); }
void Writer::UInt16(uint16_t v) { StoreBE(out_, v, 2); }
void Writer::Int32(int32_t v) { StoreBE(out_, static_cast<uint32_t>(v), 4); }
void Writer::UInt32(uint32_t v) { StoreBE(out_, v, 4); }
void Writer::Int64(int64_t v) { StoreBE(out_, static_cast<uint64_t>(v), 8); }
void Writer::Float64(double v) { StoreBE(out_, std::bit_cast<uint64_t>(v), 8); }
void Writer::WriteUuid(const Uuid& id) {
  out_.append(reinterpret_cast<const char*>(id.data()), id.size());
}

void Writer::UnsignedVarInt(uint32_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<char>(v));
}

void Writer::VarInt(int32_t v) {
  UnsignedVarInt((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
}

void Writer::VarLong(int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (u >= 0x80) {
    out_.push_back(static_cast<char>((u & 0x7f) | 0x80));
    u >>= 7;
  }
  out_.push_back(static_cast<char>(u));
}

void Writer::String(std::string_view s) {
  Int16(static_cast<int16_t>(s.size()));
  out_.append(s);
}

void Writer::NullableString(const std::optional<std::string_view>& s) {
  s ? String(*s) : Int16(-1);
}

void Writer::CompactString(std::string_view s) {
  UnsignedVarInt(static_cast<uint32_t>(s.size()) + 1);
  out_.append(s);
}

void Writer::CompactNullableString(const std::optional<std::string_view>& s) {
  s ? CompactString(*s) : UnsignedVarInt(0);
}

void Writer::Bytes(std::string_view b) {
  Int32(static_cast<int32_t>(b.size()));
  out_.append(b);
}

void Writer::NullableBytes(const std::optional<std::string_view>& b) { b ? Bytes(*b) : Int32(-1); }

// Compact bytes are encoded exactly as compact strings.
void Writer::CompactBytes(std::string_view b) { CompactString(b); }

void Writer::CompactNullableBytes(const std::optional<std::string_view>& b) {
  CompactNullableString(b);
}

void Writer::ArrayLength(int32_t n) { Int32(n < 0 ? -1 : n); }

void Writer::CompactArrayLength(int32_t n) {
  UnsignedVarInt(n < 0 ? 0u : static_cast<uint32_t>(n) + 1);
}

void Writer::PatchInt32(size_t pos, int32_t v) {
  if (pos + 4 > out_.size()) return;
  const auto u = static_cast<uint32_t>(v);
  out_[pos] = static_cast<char>(u >> 24);
  out_[pos + 1] = static_cast<char>(u >> 16);
  out_[pos + 2] = static_cast<char>(u >> 8);
  out_[pos + 3] = static_cast<char>(u);
}

size_t UnsignedVarIntSize(uint32_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

size_t VarIntSize(int32_t v) {
  return UnsignedVarIntSize((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
}

size_t VarLongSize(int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  size_t n = 1;
  while (u >= 0x80) {
    u >>= 7;
    ++n;
  }
  return n;
}

}  // namespace pgcdc::codec::kafka
