#include "adapter/redis/resp.h"

#include <algorithm>
#include <charconv>

#include "core/json.h"

namespace pgcdc::adapter::redis {

namespace {

void AppendLength(std::string& out, char kind, size_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.push_back(kind);
  out.append(buf, end);
  out.append("\r\n");
}

Error Bad(std::string what) { return Error(ErrorCode::kProtocol, "resp: " + std::move(what)); }

// Parses one reply at data[pos...]. Returns false when more bytes are needed
// (pos unchanged by the caller's copy), an error for malformed input.
class Cursor {
 public:
  explicit Cursor(std::string_view data) : data_(data) {}

  // Ok(true) = a whole reply was parsed into `r`; Ok(false) = need more.
  Result<bool> Parse(Reply& r, int depth) {
    if (depth > ReplyParser::kMaxDepth) return Fail(Bad("replies nested too deeply"));
    std::string_view line;
    if (auto got = Line(line); !got || !*got) return got;
    if (line.empty()) return Fail(Bad("empty reply line"));
    const char kind = line[0];
    line.remove_prefix(1);
    switch (kind) {
      case '+':
      case '-':
        r.type = kind == '+' ? Reply::Type::kSimple : Reply::Type::kError;
        r.text.assign(line);
        return true;
      case ':': {
        auto n = Integer(line);
        if (!n) return Fail(n.error());
        r.type = Reply::Type::kInteger;
        r.integer = *n;
        return true;
      }
      case '$':
      case '*': {
        // A bulk string's byte count or an array's element count; -1 = null.
        const bool bulk = kind == '$';
        auto n = Integer(line);
        if (!n) return Fail(n.error());
        if (*n == -1) {
          r.type = Reply::Type::kNull;
          return true;
        }
        if (*n < 0 || *n > (bulk ? ReplyParser::kMaxBulk : ReplyParser::kMaxArray)) {
          return Fail(Bad(std::string(bulk ? "bulk string" : "array") + " length " +
                          std::to_string(*n) + " out of range"));
        }
        const auto count = static_cast<size_t>(*n);
        return bulk ? Bulk(count, r) : Array(count, r, depth);
      }
      default:
        return Fail(Bad("unexpected reply type byte 0x" + Hex(kind)));
    }
  }
  size_t pos() const { return pos_; }

 private:
  static std::string Hex(char c) { return json::ToHex(std::string_view(&c, 1)); }

  // Ok(false) = the line is not complete yet.
  Result<bool> Line(std::string_view& line) {
    constexpr size_t kMaxLine = 64 * 1024;
    const size_t end = data_.find("\r\n", pos_);
    if (end == std::string_view::npos) {
      if (data_.size() - pos_ > kMaxLine) return Fail(Bad("reply line longer than 64 KiB"));
      return false;
    }
    if (end - pos_ > kMaxLine) return Fail(Bad("reply line longer than 64 KiB"));
    line = data_.substr(pos_, end - pos_);
    pos_ = end + 2;
    return true;
  }

  static Result<int64_t> Integer(std::string_view text) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || text.empty()) {
      return Fail(Bad("bad integer \"" + std::string(text.substr(0, 32)) + "\""));
    }
    return v;
  }

  Result<bool> Bulk(size_t len, Reply& r) {
    if (data_.size() - pos_ < len + 2) return false;
    if (data_.substr(pos_ + len, 2) != "\r\n") return Fail(Bad("bulk string not followed by CRLF"));
    r.type = Reply::Type::kBulk;
    r.text.assign(data_.substr(pos_, len));
    pos_ += len + 2;
    return true;
  }

  Result<bool> Array(size_t n, Reply& r, int depth) {
    r.type = Reply::Type::kArray;
    r.elements.clear();
    // Elements take at least 3 bytes each: do not reserve more than the
    // bytes at hand could hold.
    r.elements.reserve(std::min<size_t>(n, (data_.size() - pos_) / 3));
    for (size_t i = 0; i < n; ++i) {
      Reply element;
      auto got = Parse(element, depth + 1);
      if (!got) return got;
      if (!*got) return false;
      r.elements.push_back(std::move(element));
    }
    return true;
  }

  std::string_view data_;
  size_t pos_ = 0;
};

}  // namespace

void AppendCommand(std::string& out, std::span<const std::string_view> args) {
  AppendLength(out, '*', args.size());
  for (std::string_view a : args) {
    AppendLength(out, '$', a.size());
    out.append(a);
    out.append("\r\n");
  }
}

void AppendCommand(std::string& out, std::initializer_list<std::string_view> args) {
  AppendCommand(out, std::span<const std::string_view>(args.begin(), args.size()));
}

Status ReplyParser::Feed(std::string_view data, std::vector<Reply>& out) {
  buffer_.append(data);
  size_t consumed = 0;
  while (consumed < buffer_.size()) {
    Cursor c(std::string_view(buffer_).substr(consumed));
    Reply r;
    auto got = c.Parse(r, 0);
    if (!got) return Fail(got.error());
    if (!*got) break;
    consumed += c.pos();
    out.push_back(std::move(r));
  }
  buffer_.erase(0, consumed);
  return Ok();
}

}  // namespace pgcdc::adapter::redis
