// MySQL's binary JSON format (the JSON column type of MySQL 5.7+, as written
// to row-based binlogs) -> compact JSON text. MariaDB stores JSON as text and
// never produces it.
//
// Format (MySQL sql/json_binary.h): a type byte, then the value. Objects and
// arrays ("small": 2-byte counts and offsets, "large": 4-byte) hold an element
// count, their byte size, key entries (offset, length), value entries (type +
// offset, or the value itself when it fits), then keys and values; offsets are
// relative to the start of the container. Scalars: literals (null, true,
// false), int16/32/64, uint16/32/64, double, utf8mb4 strings with a
// variable-length size, and "opaque" values tagged with a column type
// (DECIMAL, DATE, TIME, DATETIME, TIMESTAMP rendered as the server does;
// other opaque values as base64 strings).
//
// Bounds-checked; malformed input returns kParse, never reads outside the
// input; nesting is limited to 100 levels (MySQL's own limit).
#pragma once

#include <string>

#include "core/error.h"
#include "detector/mysql/binlog.h"

namespace pgcdc::detector::mysql {

// Appends the JSON text of a binary JSON value (an empty value is `null`).
// On error `out` is left as it was.
Status AppendMysqlJson(Bytes value, std::string& out);

}  // namespace pgcdc::detector::mysql
