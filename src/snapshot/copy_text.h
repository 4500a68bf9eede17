// Incremental parser for PostgreSQL COPY ... TO STDOUT rows in TEXT format.
//
// Format (PostgreSQL docs, "COPY", File Formats / Text Format): one row per
// line, rows end at an unescaped '\n'; columns are separated by a raw tab;
// a column whose raw text is exactly `\N` is SQL NULL; inside a column a
// backslash introduces an escape:
//   \b \f \n \r \t \v  the control characters BS FF LF CR TAB VT
//   \\                 a backslash
//   \d \dd \ddd        a byte given by 1-3 octal digits (values above 0377 wrap)
//   \xH \xHH           a byte given by 1-2 hex digits (`\x` without a hex digit is "x")
//   \<any other byte>  that byte itself (so `\<TAB>` is a literal tab and
//                      `\<LF>` a literal newline inside the row)
// `\.` has no special meaning: the COPY sub-protocol (PQgetCopyData) never
// sends the end-of-data marker.
//
// Chunks may split rows anywhere (PostgreSQL sends one row per CopyData
// message, but nothing here relies on it). Rows are returned as views:
// columns without escapes point straight into the caller's chunk (zero-copy);
// only columns with escapes are decoded into an internal buffer.
//
// Safety: pure and bounds-checked. Malformed input yields a kParse error,
// never a crash; memory is bounded by the row size cap (a row longer than
// `max_row_bytes`, terminator excluded, is an error even before it ends).
//
// Ownership/threading: the parser borrows the current chunk (see Feed) and
// owns its buffers. One parser per stream; not thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace pgcdc::snapshot {

// One column of a parsed row: the unescaped text, or nullopt for SQL NULL.
using CopyField = std::optional<std::string_view>;
// An owning copy of a row.
using CopyRow = std::vector<std::optional<std::string>>;

class CopyTextParser {
 public:
  static constexpr size_t kDefaultMaxRowBytes = size_t{256} << 20;  // 256 MiB

  explicit CopyTextParser(size_t max_row_bytes = kDefaultMaxRowBytes);

  // Makes `chunk` the current input. The chunk must stay valid (unmodified)
  // until Next() has returned false for it. Precondition: the previous chunk
  // is used up (Next() returned false); otherwise kInvalidArgument and the
  // parser fails.
  Status Feed(std::string_view chunk);

  // Advances to the next complete row. true: fields() holds it (valid until
  // the next call to Next/Feed/Reset); false: the current chunk is used up —
  // a trailing partial row is kept internally until more data arrives.
  // Errors (kParse: oversized row, dangling backslash) are sticky: every
  // later call returns the same error until Reset().
  Result<bool> Next();

  // The current row's columns, in order. At least one column per row (an
  // empty line is one empty-string column, as in PostgreSQL).
  std::span<const CopyField> fields() const { return fields_; }
  // An owning copy of fields().
  CopyRow OwnedFields() const;

  // End of data: Ok when no partial row is pending, else a kParse error.
  Status Finish() const;

  // Drops all state (pending bytes, errors) for a new stream.
  void Reset();

  // Total complete rows returned since construction/Reset.
  uint64_t rows() const { return rows_; }
  // Bytes of an incomplete row carried over between chunks.
  size_t pending_bytes() const { return pending_.size(); }

 private:
  Status ParseLine(std::string_view line);
  std::unexpected<Error> SetError(Error e);

  size_t max_row_bytes_;
  std::string_view chunk_;
  size_t pos_ = 0;  // first unconsumed byte of chunk_
  // Start of an incomplete row from earlier chunks (never holds a row
  // terminator). When a row completes here, its views point into it, so it
  // is cleared lazily at the next call.
  std::string pending_;
  bool pending_is_row_ = false;
  std::string scratch_;  // unescaped columns of the current row
  struct Slot {
    enum Kind : unsigned char { kNull, kLine, kScratch } kind;
    size_t offset;
    size_t length;
  };
  std::vector<Slot> slots_;
  std::vector<CopyField> fields_;
  std::optional<Error> error_;
  uint64_t rows_ = 0;
};

// Parses one complete row (without its '\n') — for tests and callers that
// already split lines. Same rules and errors as CopyTextParser.
Result<CopyRow> ParseCopyTextRow(std::string_view line);

// The encoder side: appends one row the way COPY TO (text) writes it
// (\N for NULL, backslash escapes for \\ \n \r \t \b \f \v, tab-separated,
// trailing newline). ParseCopyTextRow(AppendCopyTextRow(row)) == row.
void AppendCopyTextRow(std::string& out, const CopyRow& row);

}  // namespace pgcdc::snapshot
