// Kafka wire primitives: a bounds-checked Reader and an appending Writer.
//
// Owns the byte-level encodings of the Kafka protocol's primitive types
// (https://kafka.apache.org/protocol#protocol_types): big-endian fixed-width
// integers, zigzag varint/varlong (record fields), unsigned varint (flexible
// versions), classic strings/bytes/arrays (int16/int32 length, -1 = null),
// compact strings/bytes/arrays (unsigned varint length+1, 0 = null), UUIDs
// and tagged-field sections.
//
// Reader contract:
//  * Never reads outside its input. The first failure (truncation, negative
//    length where none is allowed, over-long varint, length beyond the bytes
//    left) sets a STICKY failure: every later call returns a zero value and
//    leaves the cursor alone, so a decoder can read a whole struct and check
//    ok() once at the end. error() names the first problem.
//  * Strings and bytes are returned as views INTO the input (zero-copy); copy
//    them if they must outlive the input buffer.
//  * Array lengths are checked against the remaining bytes times a minimum
//    element size before anything is reserved, so a hostile count cannot make
//    a decoder allocate more than the input size.
//
// The "flexible" helpers (Str, NullableStr, ByteString, ArrayLength, Tags)
// pick the classic or compact form from a flag, which is how every versioned
// message codec uses them.
//
// Neither class is thread-safe; both are cheap value types.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc::codec::kafka {

// A Kafka UUID (topic ids): 16 raw bytes, most significant first.
using Uuid = std::array<uint8_t, 16>;
inline constexpr Uuid kZeroUuid{};

// Formats as Kafka does for humans: URL-safe base64 without padding (22 chars).
std::string UuidToString(const Uuid& id);

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool ok() const { return error_.empty(); }
  // The first failure, e.g. "truncated int32 at offset 12"; empty when ok().
  const std::string& error() const { return error_; }
  // kParse error "<context>: <error()>" (Ok() when ok()).
  Status status(std::string_view context) const;

  size_t position() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool AtEnd() const { return pos_ == data_.size(); }
  // The unread bytes (no advance).
  std::string_view Rest() const { return data_.substr(pos_); }
  std::string_view data() const { return data_; }

  // Records a failure (sticky; the first one wins). Decoders use it for
  // semantic errors such as "negative array length".
  void Fail(std::string_view what);

  int8_t Int8();
  bool Bool();  // any non-zero byte is true
  int16_t Int16();
  uint16_t UInt16();
  int32_t Int32();
  uint32_t UInt32();
  int64_t Int64();
  double Float64();
  Uuid ReadUuid();

  // Zigzag-encoded signed varints (record fields); at most 5 / 10 bytes.
  int32_t VarInt();
  int64_t VarLong();
  // Unsigned varint (flexible versions); at most 5 bytes, must fit 32 bits.
  uint32_t UnsignedVarInt();

  // Exactly n raw bytes.
  std::string_view Raw(size_t n);

  // Classic: int16 length. Non-nullable forms fail on -1.
  std::string_view String();
  std::optional<std::string_view> NullableString();
  // Compact: unsigned varint length+1.
  std::string_view CompactString();
  std::optional<std::string_view> CompactNullableString();
  // Classic bytes: int32 length.
  std::string_view Bytes();
  std::optional<std::string_view> NullableBytes();
  std::string_view CompactBytes();
  std::optional<std::string_view> CompactNullableBytes();

  // Array element counts. Return -1 for a null array (callers of
  // non-nullable arrays treat -1 as empty or fail, as the field requires).
  // A count larger than remaining() / min_element_size fails.
  int32_t ArrayLength(size_t min_element_size = 1);
  int32_t CompactArrayLength(size_t min_element_size = 1);

  // Reads a tagged-field section (count, then tag/size/bytes each; tags
  // strictly increasing), calling on_field(tag, bytes) for each field.
  void TaggedFields(const std::function<void(uint32_t tag, std::string_view data)>& on_field);
  // Skips a tagged-field section.
  void SkipTaggedFields();

  // Version-dependent helpers: compact forms when `flexible`.
  std::string_view Str(bool flexible) { return flexible ? CompactString() : String(); }
  std::optional<std::string_view> NullableStr(bool flexible) {
    return flexible ? CompactNullableString() : NullableString();
  }
  std::string_view ByteString(bool flexible) { return flexible ? CompactBytes() : Bytes(); }
  std::optional<std::string_view> NullableByteString(bool flexible) {
    return flexible ? CompactNullableBytes() : NullableBytes();
  }
  int32_t ArrayLen(bool flexible, size_t min_element_size = 1) {
    return flexible ? CompactArrayLength(min_element_size) : ArrayLength(min_element_size);
  }
  // Skips the tagged-field section when flexible; no-op otherwise.
  void Tags(bool flexible) {
    if (flexible) SkipTaggedFields();
  }

 private:
  bool Need(size_t n, const char* what);

  std::string_view data_;
  size_t pos_ = 0;
  std::string error_;
};

class Writer {
 public:
  Writer() = default;

  std::string& buffer() { return out_; }
  const std::string& buffer() const { return out_; }
  size_t size() const { return out_.size(); }
  std::string Take() { return std::move(out_); }

  void Int8(int8_t v);
  void Bool(bool v) { Int8(v ? 1 : 0); }
  void Int16(int16_t v);
  void UInt16(uint16_t v);
  void Int32(int32_t v);
  void UInt32(uint32_t v);
  void Int64(int64_t v);
  void Float64(double v);
  void WriteUuid(const Uuid& id);
  void VarInt(int32_t v);
  void VarLong(int64_t v);
  void UnsignedVarInt(uint32_t v);
  void Raw(std::string_view bytes) { out_.append(bytes); }

  // Lengths larger than the wire type allows are clamped by the caller's
  // responsibility: classic strings must be < 32 KiB.
  void String(std::string_view s);
  void NullableString(const std::optional<std::string_view>& s);
  void CompactString(std::string_view s);
  void CompactNullableString(const std::optional<std::string_view>& s);
  void Bytes(std::string_view b);
  void NullableBytes(const std::optional<std::string_view>& b);
  void CompactBytes(std::string_view b);
  void CompactNullableBytes(const std::optional<std::string_view>& b);
  // n == -1 writes a null array.
  void ArrayLength(int32_t n);
  void CompactArrayLength(int32_t n);
  // An empty tagged-field section (one zero byte).
  void EmptyTaggedFields() { UnsignedVarInt(0); }

  // Version-dependent helpers (compact forms when `flexible`).
  void Str(std::string_view s, bool flexible) { flexible ? CompactString(s) : String(s); }
  void NullableStr(const std::optional<std::string_view>& s, bool flexible) {
    flexible ? CompactNullableString(s) : NullableString(s);
  }
  void ByteString(std::string_view b, bool flexible) { flexible ? CompactBytes(b) : Bytes(b); }
  void NullableByteString(const std::optional<std::string_view>& b, bool flexible) {
    flexible ? CompactNullableBytes(b) : NullableBytes(b);
  }
  void ArrayLen(int32_t n, bool flexible) { flexible ? CompactArrayLength(n) : ArrayLength(n); }
  // Writes an empty tagged-field section when flexible; no-op otherwise.
  void Tags(bool flexible) {
    if (flexible) EmptyTaggedFields();
  }

  // Overwrites 4 bytes at `pos` (a length placeholder written earlier).
  void PatchInt32(size_t pos, int32_t v);

 private:
  std::string out_;
};

// Sizes of the varint encodings (for precomputing record lengths).
size_t VarIntSize(int32_t v);
size_t VarLongSize(int64_t v);
size_t UnsignedVarIntSize(uint32_t v);

}  // namespace pgcdc::codec::kafka
