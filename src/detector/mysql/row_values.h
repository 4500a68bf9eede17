// Binlog row values -> JSON (the `row`/`old` values of mysql events).
//
// CONTRACT. For a non-NULL value v of a column c, AppendValueJson appends JSON
// that is semantically equal to what the server renders for v in
// `SELECT JSON_OBJECT('c', c)` (MariaDB 10.11; session time_zone '+00:00'),
// with these documented choices:
//   * integers (signed and UNSIGNED, all widths), FLOAT, DOUBLE, YEAR: numbers
//     (FLOAT in its shortest single-precision spelling);
//   * DECIMAL: a number, unless it has more than 15 significant digits — then
//     a string with the exact decimal text (JSON consumers would round it);
//   * BIT: the bits as an unsigned number (the server renders raw bytes);
//   * ENUM: the member name; SET: the member names joined with ",";
//   * DATE "2024-02-29"; TIME "-12:34:56.78" (hours may exceed 24);
//     DATETIME "2024-05-06 07:08:09.123456" (no zone, as stored, with the
//     column's fractional digits); TIMESTAMP (an instant) as RFC 3339 UTC
//     "2024-01-02T03:04:05.678Z"; zero dates keep the server's spelling
//     ("0000-00-00", "0000-00-00 00:00:00");
//   * CHAR/VARCHAR/TEXT: strings, converted from the column's character set to
//     UTF-8 (bytes invalid in that set become U+FFFD and count as errors);
//   * BINARY/VARBINARY/BLOB (character set `binary`) and GEOMETRY: base64;
//   * MySQL JSON (binary): the document as nested JSON; MariaDB JSON (a text
//     column with a json_valid check, Column::is_json_text): nested JSON when
//     it parses, else the text as a string.
// Errors (a value that does not decode) are returned, never thrown; the caller
// counts them and emits null for the value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "detector/mysql/binlog.h"

namespace pgcdc::detector::mysql {

// Collation id -> character set name ("utf8mb4", "latin1", "binary", ...), from
// information_schema.COLLATIONS. Unknown ids fall back to a built-in table of
// the common ones, then to utf8mb4.
using CharsetMap = std::unordered_map<uint32_t, std::string>;

struct ValueStats {
  uint64_t replaced_text = 0;  // strings with bytes invalid in their charset
};

// Appends the JSON of a non-NULL value of `c` (its bytes as split by
// ValueSize). `charsets` may be null.
Status AppendValueJson(const Column& c, Bytes value, const CharsetMap* charsets, std::string& out,
                       ValueStats* stats = nullptr);

// The character set of a collation id (see CharsetMap).
std::string_view CharsetOf(uint32_t collation, const CharsetMap* charsets);

// Appends `bytes` of character set `charset` as a JSON string (UTF-8).
// Returns false when some bytes were invalid and replaced.
bool AppendTextJson(std::string_view charset, std::string_view bytes, std::string& out);

// DECIMAL(precision, scale) in binary form -> its decimal text ("-12.345").
Result<std::string> DecodeDecimal(Bytes value, uint32_t precision, uint32_t scale);

// True when the decimal text has more than 15 significant digits.
bool NeedsExactDecimal(std::string_view text);

}  // namespace pgcdc::detector::mysql
