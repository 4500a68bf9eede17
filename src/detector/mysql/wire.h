// Bounds-checked little-endian reading of binlog bytes (MySQL client/server
// protocol integer and string encodings). Internal to the mysql detector.
//
// A Reader is sticky: once a read fails (not enough bytes, bad encoding),
// every later read fails too, so a parser may check only its last read.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc::detector::mysql {

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}

  bool empty() const { return pos_ >= data_.size(); }
  size_t remaining() const { return failed_ ? 0 : data_.size() - pos_; }
  std::span<const uint8_t> rest() const {
    return failed_ ? std::span<const uint8_t>{} : data_.subspan(pos_);
  }

  Result<std::span<const uint8_t>> Take(uint64_t n) {
    if (failed_ || n > data_.size() - pos_) return Fail(Truncated());
    auto out = data_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }
  Result<uint8_t> U8() {
    auto b = Take(1);
    if (!b) return Fail(b.error());
    return (*b)[0];
  }
  // Little-endian unsigned integer of `n` (1..8) bytes.
  Result<uint64_t> Uint(size_t n) {
    auto b = Take(n);
    if (!b) return Fail(b.error());
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>((*b)[i]) << (8 * i);
    return v;
  }
  // Length-encoded integer (1, 3, 4 or 9 bytes).
  Result<uint64_t> LenEnc() {
    auto first = U8();
    if (!first) return Fail(first.error());
    if (*first < 0xfb) return static_cast<uint64_t>(*first);
    if (*first == 0xfc) return Uint(2);
    if (*first == 0xfd) return Uint(3);
    if (*first == 0xfe) return Uint(8);
    failed_ = true;
    return Fail(ErrorCode::kParse, "binlog: bad length-encoded integer");
  }
  // A length-encoded string: its bytes.
  Result<std::string_view> LenEncString() {
    auto n = LenEnc();
    if (!n) return Fail(n.error());
    return AsString(Take(*n));
  }
  // A string with a one-byte length.
  Result<std::string_view> LenByteString() {
    auto n = U8();
    if (!n) return Fail(n.error());
    return AsString(Take(*n));
  }

 private:
  Error Truncated() {
    failed_ = true;
    return Error(ErrorCode::kParse, "binlog: truncated");
  }
  static Result<std::string_view> AsString(Result<std::span<const uint8_t>> b) {
    if (!b) return Fail(b.error());
    return std::string_view(reinterpret_cast<const char*>(b->data()), b->size());
  }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool failed_ = false;
};

// Bytes of a DECIMAL(precision, scale) in the binary format of binlog rows
// (and of MySQL binary JSON opaque decimals). Error for impossible sizes.
inline Result<size_t> DecimalBinarySize(uint32_t precision, uint32_t scale) {
  static constexpr uint8_t kDigitBytes[10] = {0, 1, 1, 2, 2, 3, 3, 4, 4, 4};
  if (precision == 0 || precision > 65 || scale > 38 || scale > precision) {
    return Fail(ErrorCode::kParse, "binlog: bad DECIMAL(" + std::to_string(precision) + "," +
                                       std::to_string(scale) + ")");
  }
  const uint32_t intg = precision - scale;
  return (intg / 9) * 4 + kDigitBytes[intg % 9] + (scale / 9) * 4 + kDigitBytes[scale % 9];
}

}  // namespace pgcdc::detector::mysql
