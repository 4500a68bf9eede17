// The canonical form `pgcdc verify` compares rows in.
//
// A row is equal in the table and in a sink when its canonical JSON is: the
// source table's rows are rendered the way the WAL source renders them
// (pgtypes, the same code), sink rows are read from whatever the sink kept
// (the exact event bytes in a file or Kafka record, a jsonb re-rendering in a
// pg_table sink), and both go through this one canonicalisation:
//   * objects (the row itself, json/jsonb values, composites): members
//     sorted by key, bytewise; duplicate keys kept in document order;
//   * numbers: by decimal value — `1.50`, `1.5` and `15e-1` are one number,
//     and `1e+100` equals the 101-digit integer jsonb prints for it
//     (see AppendCanonicalNumber);
//   * strings: unescaped, then written with json::AppendString;
//   * whitespace dropped.
// Values that pgcdc sends as strings (numerics beyond double precision,
// NaN, timestamps, …) stay strings and compare by their text.
//
// The hash of a row is XXH3-64 of its canonical JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "verify/json_tree.h"

namespace pgcdc::verify {

// Appends the canonical spelling of the JSON number `text`: sign (none for
// zero), significant digits without leading or trailing zeros, then
//   an integer of up to 40 digits as plain digits      (`100`, `-42`)
//   a value with a decimal point where it fits          (`12.5`, `0.00015`)
//   otherwise one digit, a fraction and an exponent     (`1e100`, `1.5e-10`).
// False (nothing appended) when `text` is not an RFC 8259 number.
bool AppendCanonicalNumber(std::string_view text, std::string& out);

// Appends the canonical JSON of node `id`.
void AppendCanonical(const JsonTree& tree, NodeId id, std::string& out);

// XXH3-64 of a canonical text.
uint64_t HashCanonical(std::string_view canonical);

// The verified table's columns: names in table order, the primary key, and
// columns left out of the comparison (--ignore-columns).
class RowShape {
 public:
  RowShape() = default;
  RowShape(std::vector<std::string> columns, std::vector<std::string> key_columns,
           std::vector<std::string> ignored);

  const std::vector<std::string>& columns() const { return columns_; }
  const std::vector<std::string>& key_columns() const { return key_columns_; }
  // Table position of a column, -1 when the table has none of that name.
  int ColumnIndex(std::string_view name) const;
  bool Ignored(std::string_view name) const;
  // The mask bit of a column (see AppendCanonicalRow); 0 for unknown names.
  uint64_t MaskBit(std::string_view name) const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::vector<std::string> columns_;
  std::vector<std::string> key_columns_;
  std::unordered_map<std::string, int, Hash, std::equal_to<>> index_;
  std::unordered_map<std::string, int, Hash, std::equal_to<>> ignored_;
};

// Appends the canonical JSON of the row object `row` without the ignored
// columns and without the columns whose mask bit is set in `mask` (bit i for
// table column i; bit 63 stands for every column from the 64th on). Members
// that are not table columns stay in (a sink row with an extra column
// differs).
void AppendCanonicalRow(const JsonTree& tree, NodeId row, const RowShape& shape, uint64_t mask,
                        std::string& out);

// Appends the canonical JSON array of the row's key column values, in key
// order. False (out unchanged) when `row` is not an object or a key column
// is absent or null.
bool AppendCanonicalKey(const JsonTree& tree, NodeId row, const RowShape& shape, std::string& out);

// The key as users read it: a JSON object of key column names and values
// (`{"id":42}`), from a canonical key array.
std::string KeyDisplay(const RowShape& shape, std::string_view canonical_key);

}  // namespace pgcdc::verify
