// RowCanonicalizer: the canonical JSON (canonical.h) of one table row read as
// PostgreSQL text, without building and re-parsing the row's JSON.
//
// Each value is first rendered the way the WAL source renders it
// (pgtypes::AppendValueJson). For the types whose rendering already is
// canonical — strings, booleans, dates, timestamps, and numbers once their
// spelling is normalised — that text is used as is; json, arrays, composites,
// vectors and domains are parsed and canonicalised. The result is byte-equal
// to AppendCanonicalRow/AppendCanonicalKey over the row's WAL JSON
// (row_canonicalizer_test.cc checks this type by type); it is what makes the
// table side fast (see BENCHMARKS.md, "pgcdc verify").
//
// Threading: one object per scan thread; reused for every row.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codec/pgtypes/pgtypes.h"
#include "verify/canonical.h"
#include "verify/json_tree.h"

namespace pgcdc::verify {

class RowCanonicalizer {
 public:
  // `type_oids` in table order, as `shape.columns()`. Both and `catalog`
  // must outlive this object.
  RowCanonicalizer(const pgtypes::TypeCatalog& catalog, const std::vector<uint32_t>& type_oids,
                   const RowShape& shape);

  // Renders one row: a text value or nullopt (NULL) per column, table order.
  // Returns the number of values pgtypes could not type (rendered as
  // strings, as the WAL source does).
  uint32_t Set(std::span<const std::optional<std::string_view>> values);

  // The canonical key array; false when a key column is NULL.
  bool AppendKey(std::string& out) const;
  // The canonical row without the ignored columns and those in `mask`.
  void AppendRow(uint64_t mask, std::string& out) const;

 private:
  enum class Path : uint8_t { kVerbatim, kNumber, kParse };
  void AppendValue(size_t column, std::string_view text);

  const pgtypes::TypeCatalog& catalog_;
  const std::vector<uint32_t>& type_oids_;
  std::vector<Path> paths_;                           // per column
  std::vector<size_t> row_order_;                     // compared columns, by name
  std::vector<std::string> row_keys_;                 // `"name":` per entry of row_order_
  std::vector<size_t> key_columns_;                   // column index per key column
  std::vector<uint64_t> mask_bits_;                   // per column
  std::string values_;                                // canonical values, back to back
  std::vector<std::pair<uint32_t, uint32_t>> spans_;  // per column; size 0 = NULL
  std::vector<bool> null_;
  std::string scratch_;
  JsonTree tree_;
};

}  // namespace pgcdc::verify
