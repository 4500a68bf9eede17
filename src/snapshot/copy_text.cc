#include "snapshot/copy_text.h"

#include <cstring>

#include "core/escape.h"
#include "core/json.h"

namespace pgcdc::snapshot {

namespace {

int OctalValue(char c) { return c >= '0' && c <= '7' ? c - '0' : -1; }

using json::HexValue;

// Appends the unescaped form of one raw column. Precondition: `raw` does not
// end in an unpaired backslash (the caller checked).
void Unescape(std::string_view raw, std::string& out) {
  const size_t n = raw.size();
  size_t i = 0;
  while (i < n) {
    // Copy the run up to the next backslash in one go.
    const void* bs = std::memchr(raw.data() + i, '\\', n - i);
    const size_t stop = bs == nullptr ? n : static_cast<const char*>(bs) - raw.data();
    out.append(raw.data() + i, stop - i);
    if (stop >= n) break;
    i = stop + 1;  // the escaped character; exists by precondition
    const char c = raw[i++];
    if (const char control = UnescapeLetter(c, kCopyTextEscapes)) {
      out.push_back(control);
      continue;
    }
    switch (c) {
      case 'x': {
        int v = i < n ? HexValue(raw[i]) : -1;
        if (v < 0) {
          out.push_back('x');  // "\x" without a hex digit is a plain x
          break;
        }
        ++i;
        if (i < n && HexValue(raw[i]) >= 0) v = v * 16 + HexValue(raw[i++]);
        out.push_back(static_cast<char>(v));
        break;
      }
      default: {
        int v = OctalValue(c);
        if (v < 0) {
          out.push_back(c);  // any other character stands for itself
          break;
        }
        for (int k = 0; k < 2 && i < n && OctalValue(raw[i]) >= 0; ++k) {
          v = v * 8 + OctalValue(raw[i++]);
        }
        out.push_back(static_cast<char>(v & 0xFF));
        break;
      }
    }
  }
}

}  // namespace

CopyTextParser::CopyTextParser(size_t max_row_bytes) : max_row_bytes_(max_row_bytes) {}

std::unexpected<Error> CopyTextParser::SetError(Error e) {
  error_ = e;
  fields_.clear();
  return Fail(std::move(e));
}

Status CopyTextParser::Feed(std::string_view chunk) {
  if (error_) return Fail(*error_);
  if (pos_ < chunk_.size()) {
    return SetError(Error(ErrorCode::kInvalidArgument,
                          "copy text: Feed called before the previous chunk was used up"));
  }
  chunk_ = chunk;
  pos_ = 0;
  return Ok();
}

Result<bool> CopyTextParser::Next() {
  if (error_) return Fail(*error_);
  if (pending_is_row_) {
    pending_.clear();
    pending_is_row_ = false;
  }
  fields_.clear();
  if (pos_ >= chunk_.size()) return false;

  const char* base = chunk_.data();
  const size_t size = chunk_.size();
  size_t search = pos_;
  for (;;) {
    const void* nl = std::memchr(base + search, '\n', size - search);
    if (nl == nullptr) {
      const size_t tail = size - pos_;
      if (tail > max_row_bytes_ || pending_.size() > max_row_bytes_ - tail) {
        return SetError(Error(ErrorCode::kParse, "copy text: row exceeds the limit of " +
                                                     std::to_string(max_row_bytes_) + " bytes"));
      }
      pending_.append(base + pos_, tail);
      pos_ = size;
      return false;
    }
    const size_t end = static_cast<const char*>(nl) - base;
    // A newline preceded by an odd run of backslashes is escaped data; the
    // run may continue into the bytes carried over from earlier chunks.
    size_t backslashes = 0;
    size_t k = end;
    while (k > pos_ && base[k - 1] == '\\') {
      ++backslashes;
      --k;
    }
    if (k == pos_) {
      for (auto it = pending_.rbegin(); it != pending_.rend() && *it == '\\'; ++it) ++backslashes;
    }
    if (backslashes % 2 == 1) {
      // Escaped newline: part of the row. When it is the chunk's last byte
      // the next memchr scans an empty range and the row is carried over.
      search = end + 1;
      continue;
    }
    const size_t len = end - pos_;
    if (len > max_row_bytes_ || pending_.size() > max_row_bytes_ - len) {
      return SetError(Error(ErrorCode::kParse, "copy text: row exceeds the limit of " +
                                                   std::to_string(max_row_bytes_) + " bytes"));
    }
    std::string_view line;
    if (pending_.empty()) {
      line = std::string_view(base + pos_, len);
    } else {
      pending_.append(base + pos_, len);
      pending_is_row_ = true;
      line = pending_;
    }
    pos_ = end + 1;
    if (auto st = ParseLine(line); !st) return SetError(st.error());
    ++rows_;
    return true;
  }
}

Status CopyTextParser::ParseLine(std::string_view line) {
  scratch_.clear();
  slots_.clear();
  const char* p = line.data();
  const size_t n = line.size();
  size_t start = 0;
  for (;;) {
    // Fast path: find the next tab and check the span for backslashes.
    const void* tab = std::memchr(p + start, '\t', n - start);
    size_t end = tab == nullptr ? n : static_cast<const char*>(tab) - p;
    const bool escaped = std::memchr(p + start, '\\', end - start) != nullptr;
    if (escaped) {
      // Slow path: an escaped tab does not end the column.
      size_t j = start;
      while (j < n && p[j] != '\t') j += p[j] == '\\' ? 2 : 1;
      if (j > n) {
        return Fail(ErrorCode::kParse, "copy text: row ends with a dangling backslash");
      }
      end = j;
    }
    const std::string_view raw(p + start, end - start);
    if (raw == "\\N") {
      slots_.push_back({Slot::kNull, 0, 0});
    } else if (!escaped) {
      slots_.push_back({Slot::kLine, start, end - start});
    } else {
      const size_t off = scratch_.size();
      Unescape(raw, scratch_);
      slots_.push_back({Slot::kScratch, off, scratch_.size() - off});
    }
    if (end >= n) break;
    start = end + 1;
  }
  // Views are built last: scratch_ may have reallocated while decoding.
  fields_.reserve(slots_.size());
  const std::string_view scratch(scratch_);
  for (const Slot& s : slots_) {
    switch (s.kind) {
      case Slot::kNull:
        fields_.emplace_back(std::nullopt);
        break;
      case Slot::kLine:
        fields_.emplace_back(line.substr(s.offset, s.length));
        break;
      case Slot::kScratch:
        fields_.emplace_back(scratch.substr(s.offset, s.length));
        break;
    }
  }
  return Ok();
}

CopyRow CopyTextParser::OwnedFields() const {
  CopyRow row;
  row.reserve(fields_.size());
  for (const auto& f : fields_) {
    if (f) {
      row.emplace_back(std::string(*f));
    } else {
      row.emplace_back(std::nullopt);
    }
  }
  return row;
}

Status CopyTextParser::Finish() const {
  if (error_) return Fail(*error_);
  if (pos_ < chunk_.size()) {
    return Fail(ErrorCode::kInvalidArgument, "copy text: Finish called with unread input");
  }
  if (!pending_is_row_ && !pending_.empty()) {
    return Fail(ErrorCode::kParse, "copy text: data ends inside a row (" +
                                       std::to_string(pending_.size()) +
                                       " bytes without a terminating newline)");
  }
  return Ok();
}

void CopyTextParser::Reset() {
  chunk_ = {};
  pos_ = 0;
  pending_.clear();
  pending_is_row_ = false;
  scratch_.clear();
  slots_.clear();
  fields_.clear();
  error_.reset();
  rows_ = 0;
}

Result<CopyRow> ParseCopyTextRow(std::string_view line) {
  // An embedded newline is only valid when escaped: run the stream parser,
  // which knows the difference, and require exactly one row.
  CopyTextParser parser(line.size() + 1);
  std::string buf(line);
  buf.push_back('\n');
  if (auto st = parser.Feed(buf); !st) return Fail(st.error());
  auto got = parser.Next();
  if (!got) return Fail(got.error());
  if (!*got) return Fail(ErrorCode::kParse, "copy text: no complete row");
  CopyRow row = parser.OwnedFields();
  auto more = parser.Next();
  if (!more) return Fail(more.error());
  if (*more) return Fail(ErrorCode::kParse, "copy text: more than one row");
  if (auto st = parser.Finish(); !st) return Fail(st.error());
  return row;
}

void AppendCopyTextRow(std::string& out, const CopyRow& row) {
  for (size_t i = 0; i < row.size(); ++i) {
    if (i > 0) out.push_back('\t');
    if (!row[i]) {
      out += "\\N";
      continue;
    }
    for (const char c : *row[i]) {
      const char letter = EscapeLetter(c, kCopyTextEscapes);
      if (letter != 0 || c == '\\') out.push_back('\\');
      out.push_back(letter != 0 ? letter : c);
    }
  }
  out.push_back('\n');
}

}  // namespace pgcdc::snapshot
