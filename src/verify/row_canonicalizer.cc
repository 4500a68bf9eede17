#include "verify/row_canonicalizer.h"

#include <algorithm>

#include "core/json.h"

namespace pgcdc::verify {

namespace {

// How a type's pgtypes rendering becomes canonical.
bool IsVerbatim(pgtypes::TypeKind kind) {
  using K = pgtypes::TypeKind;
  // json::AppendString output (or quoted ISO text that needs no escapes) and
  // true/false: unescaping and re-escaping gives the same bytes.
  return kind == K::kString || kind == K::kJsonCast || kind == K::kBool || kind == K::kDate ||
         kind == K::kTimestamp || kind == K::kTimestampTz;
}

}  // namespace

RowCanonicalizer::RowCanonicalizer(const pgtypes::TypeCatalog& catalog,
                                   const std::vector<uint32_t>& type_oids, const RowShape& shape)
    : catalog_(catalog), type_oids_(type_oids) {
  const auto& columns = shape.columns();
  for (size_t i = 0; i < columns.size(); ++i) {
    const pgtypes::TypeKind kind = catalog.Kind(type_oids[i]);
    paths_.push_back(IsVerbatim(kind) ? Path::kVerbatim
                     : kind == pgtypes::TypeKind::kNumber || kind == pgtypes::TypeKind::kNumeric
                         ? Path::kNumber
                         : Path::kParse);
    mask_bits_.push_back(shape.MaskBit(columns[i]));
    if (!shape.Ignored(columns[i])) row_order_.push_back(i);
  }
  std::sort(row_order_.begin(), row_order_.end(),
            [&](size_t a, size_t b) { return columns[a] < columns[b]; });
  for (size_t i : row_order_) {
    std::string key;
    json::AppendString(key, columns[i]);
    key.push_back(':');
    row_keys_.push_back(std::move(key));
  }
  for (const auto& k : shape.key_columns()) {
    key_columns_.push_back(static_cast<size_t>(shape.ColumnIndex(k)));
  }
  spans_.resize(columns.size());
  null_.resize(columns.size());
}

void RowCanonicalizer::AppendValue(size_t column, std::string_view text) {
  switch (paths_[column]) {
    case Path::kVerbatim:
      values_.append(text);
      return;
    case Path::kNumber:
      // A bare number, or a quoted one (NaN, > 15 digits) that stays a string.
      if (text.empty() || text[0] == '"' || !AppendCanonicalNumber(text, values_)) {
        values_.append(text);
      }
      return;
    case Path::kParse:
      if (tree_.Parse(text)) {
        AppendCanonical(tree_, tree_.root(), values_);
      } else {
        values_.append(text);  // pgtypes always emits valid JSON
      }
      return;
  }
}

uint32_t RowCanonicalizer::Set(std::span<const std::optional<std::string_view>> values) {
  values_.clear();
  uint32_t errors = 0;
  for (size_t c = 0; c < values.size() && c < spans_.size(); ++c) {
    const std::optional<std::string_view>& value = values[c];
    null_[c] = !value.has_value();
    const auto start = static_cast<uint32_t>(values_.size());
    if (value.has_value()) {
      scratch_.clear();
      if (!pgtypes::AppendValueJson(catalog_, type_oids_[c], *value, scratch_)) ++errors;
      AppendValue(c, scratch_);
    } else {
      values_.append("null");
    }
    spans_[c] = {start, static_cast<uint32_t>(values_.size()) - start};
  }
  return errors;
}

bool RowCanonicalizer::AppendKey(std::string& out) const {
  out.push_back('[');
  for (size_t i = 0; i < key_columns_.size(); ++i) {
    const size_t c = key_columns_[i];
    if (c >= spans_.size() || null_[c]) return false;
    if (i > 0) out.push_back(',');
    out.append(values_, spans_[c].first, spans_[c].second);
  }
  out.push_back(']');
  return true;
}

void RowCanonicalizer::AppendRow(uint64_t mask, std::string& out) const {
  out.push_back('{');
  bool first = true;
  for (size_t i = 0; i < row_order_.size(); ++i) {
    const size_t c = row_order_[i];
    if ((mask & mask_bits_[c]) != 0) continue;
    if (!first) out.push_back(',');
    first = false;
    out.append(row_keys_[i]);
    out.append(values_, spans_[c].first, spans_[c].second);
  }
  out.push_back('}');
}

}  // namespace pgcdc::verify
