// RESP2, the Redis serialization protocol (pure; no I/O).
//
// Commands go out as arrays of bulk strings (binary safe). Replies are parsed
// incrementally: Feed() takes bytes as they arrive and appends every complete
// reply. Limits keep a hostile or broken peer from making us allocate
// without bound: bulk strings up to 512 MiB (Redis's own maximum), arrays up
// to 1 M elements, nesting up to 16 levels. Anything else is a protocol
// error after which the connection must be dropped.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pgcdc::adapter::redis {

// Appends one command: *<n>\r\n then $<len>\r\n<arg>\r\n per argument.
void AppendCommand(std::string& out, std::span<const std::string_view> args);
void AppendCommand(std::string& out, std::initializer_list<std::string_view> args);

struct Reply {
  enum class Type { kSimple, kError, kInteger, kBulk, kNull, kArray };
  Type type = Type::kNull;
  std::string text;  // simple string, error message or bulk string
  int64_t integer = 0;
  std::vector<Reply> elements;  // kArray

  bool is_error() const { return type == Type::kError; }
  bool operator==(const Reply&) const = default;
};

class ReplyParser {
 public:
  static constexpr int64_t kMaxBulk = int64_t{512} << 20;
  static constexpr int64_t kMaxArray = 1'000'000;
  static constexpr int kMaxDepth = 16;

  // Parses what `data` completes; whole replies are appended to `out`. An
  // error (kProtocol, "resp: …") leaves the parser unusable until Reset().
  Status Feed(std::string_view data, std::vector<Reply>& out);
  // Forgets buffered bytes (after the connection was dropped).
  void Reset() { buffer_.clear(); }
  size_t buffered() const { return buffer_.size(); }

 private:
  std::string buffer_;
};

}  // namespace pgcdc::adapter::redis
