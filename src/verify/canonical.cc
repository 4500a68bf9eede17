#include "verify/canonical.h"

#include <algorithm>
#include <cstdint>

#include "core/json.h"

// Header-only mode of the Debian libxxhash-dev header: XXH3 inlined here.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace pgcdc::verify {

namespace {

// Integers up to this many digits are written out in full.
constexpr int64_t kMaxPlainDigits = 40;
// Exponents are clamped here: far beyond any value PostgreSQL produces, and
// no overflow when digits are added.
constexpr int64_t kMaxExponent = int64_t{1} << 40;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The parts of a JSON number: its digits (integer then fraction) and the
// power of ten of the last one.
struct Decimal {
  bool negative = false;
  std::string_view int_digits;
  std::string_view frac_digits;
  int64_t exponent = 0;  // the written exponent
};

bool ParseNumber(std::string_view s, Decimal& d) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') {
    d.negative = true;
    ++i;
  }
  const size_t int_start = i;
  while (i < s.size() && IsDigit(s[i])) ++i;
  d.int_digits = s.substr(int_start, i - int_start);
  if (d.int_digits.empty() || (d.int_digits.size() > 1 && d.int_digits[0] == '0')) return false;
  if (i < s.size() && s[i] == '.') {
    const size_t frac_start = ++i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    d.frac_digits = s.substr(frac_start, i - frac_start);
    if (d.frac_digits.empty()) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool neg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
    const size_t exp_start = i;
    int64_t e = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) e = std::min(kMaxExponent, e * 10 + (s[i] - '0'));
    if (i == exp_start) return false;
    d.exponent = neg ? -e : e;
  }
  return i == s.size();
}

void AppendZeros(std::string& out, int64_t n) { out.append(static_cast<size_t>(n), '0'); }

void AppendMember(const JsonTree& tree, NodeId member, std::string& out) {
  json::AppendString(out, tree.key(member));
  out.push_back(':');
  AppendCanonical(tree, member, out);
}

// Members of `object` (those `keep` accepts) in canonical order.
template <class Keep>
void SortedMembers(const JsonTree& tree, NodeId object, Keep keep, std::vector<NodeId>& out) {
  out.clear();
  for (NodeId c = tree.node(object).first; c != kNone; c = tree.node(c).next) {
    if (keep(c)) out.push_back(c);
  }
  // Equal keys stay in document order (node ids grow along the document).
  std::sort(out.begin(), out.end(), [&](NodeId a, NodeId b) {
    const auto ka = tree.key(a);
    const auto kb = tree.key(b);
    return ka < kb || (ka == kb && a < b);
  });
}

// The common case without an exponent, no allocation: `-12.500` -> `-12.5`.
// False when the general path must decide (an exponent, a long integer part,
// many leading fraction zeros, invalid text).
bool AppendPlainDecimal(std::string_view text, std::string& out) {
  const bool negative = !text.empty() && text[0] == '-';
  std::string_view digits = text.substr(negative ? 1 : 0);
  const size_t dot = digits.find('.');
  const std::string_view int_part = digits.substr(0, dot);
  std::string_view frac =
      dot == std::string_view::npos ? std::string_view() : digits.substr(dot + 1);
  if (int_part.empty() || int_part.size() > static_cast<size_t>(kMaxPlainDigits) ||
      (int_part.size() > 1 && int_part[0] == '0') ||
      (dot != std::string_view::npos && frac.empty())) {
    return false;
  }
  for (char c : int_part) {
    if (!IsDigit(c)) return false;
  }
  for (char c : frac) {
    if (!IsDigit(c)) return false;
  }
  while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
  if (int_part == "0") {
    if (frac.empty()) {
      out.push_back('0');
      return true;
    }
    if (frac.find_first_not_of('0') >= 5) return false;  // 0.000001 and smaller: exponent form
  }
  if (negative) out.push_back('-');
  out.append(int_part);
  if (!frac.empty()) out.append(".").append(frac);
  return true;
}

}  // namespace

bool AppendCanonicalNumber(std::string_view text, std::string& out) {
  if (text.find_first_of("eE") == std::string_view::npos && AppendPlainDecimal(text, out)) {
    return true;
  }
  Decimal d;
  if (!ParseNumber(text, d)) return false;
  // All digits, without leading zeros; value = digits * 10^exp10.
  std::string digits;
  digits.reserve(d.int_digits.size() + d.frac_digits.size());
  digits.append(d.int_digits).append(d.frac_digits);
  int64_t exp10 = d.exponent - static_cast<int64_t>(d.frac_digits.size());
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) {
    out.push_back('0');
    return true;
  }
  const size_t last = digits.find_last_not_of('0');
  exp10 += static_cast<int64_t>(digits.size() - 1 - last);
  const std::string_view sig = std::string_view(digits).substr(first, last - first + 1);
  const auto n = static_cast<int64_t>(sig.size());
  const int64_t point = n + exp10;  // value = 0.<sig> * 10^point
  if (d.negative) out.push_back('-');
  if (exp10 >= 0 && point <= kMaxPlainDigits) {
    out.append(sig);
    AppendZeros(out, exp10);
  } else if (point > 0 && point < n) {
    out.append(sig.substr(0, static_cast<size_t>(point))).push_back('.');
    out.append(sig.substr(static_cast<size_t>(point)));
  } else if (point <= 0 && point > -6) {
    out.append("0.");
    AppendZeros(out, -point);
    out.append(sig);
  } else {
    out.push_back(sig[0]);
    if (n > 1) out.append(".").append(sig.substr(1));
    out.push_back('e');
    out.append(std::to_string(point - 1));
  }
  return true;
}

void AppendCanonical(const JsonTree& tree, NodeId id, std::string& out) {
  const JsonNode& n = tree.node(id);
  switch (n.kind) {
    case NodeKind::kNull:
      out.append("null");
      return;
    case NodeKind::kBool:
      out.append(n.boolean ? "true" : "false");
      return;
    case NodeKind::kNumber:
      // The tree only holds numbers its parser accepted.
      if (!AppendCanonicalNumber(tree.text(id), out)) out.append(tree.text(id));
      return;
    case NodeKind::kString:
      json::AppendString(out, tree.text(id));
      return;
    case NodeKind::kArray: {
      out.push_back('[');
      for (NodeId c = n.first; c != kNone; c = tree.node(c).next) {
        if (c != n.first) out.push_back(',');
        AppendCanonical(tree, c, out);
      }
      out.push_back(']');
      return;
    }
    case NodeKind::kObject: {
      std::vector<NodeId> members;
      SortedMembers(
          tree, id, [](NodeId) { return true; }, members);
      out.push_back('{');
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out.push_back(',');
        AppendMember(tree, members[i], out);
      }
      out.push_back('}');
      return;
    }
  }
}

uint64_t HashCanonical(std::string_view canonical) {
  return XXH3_64bits(canonical.data(), canonical.size());
}

RowShape::RowShape(std::vector<std::string> columns, std::vector<std::string> key_columns,
                   std::vector<std::string> ignored)
    : columns_(std::move(columns)), key_columns_(std::move(key_columns)) {
  for (size_t i = 0; i < columns_.size(); ++i) index_.emplace(columns_[i], static_cast<int>(i));
  for (auto& name : ignored) ignored_.emplace(std::move(name), 0);
}

int RowShape::ColumnIndex(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? -1 : it->second;
}

bool RowShape::Ignored(std::string_view name) const {
  return ignored_.find(name) != ignored_.end();
}

uint64_t RowShape::MaskBit(std::string_view name) const {
  const int i = ColumnIndex(name);
  if (i < 0) return 0;
  return uint64_t{1} << std::min(i, 63);
}

void AppendCanonicalRow(const JsonTree& tree, NodeId row, const RowShape& shape, uint64_t mask,
                        std::string& out) {
  if (!tree.IsObject(row)) {
    AppendCanonical(tree, row, out);
    return;
  }
  thread_local std::vector<NodeId> members;
  SortedMembers(
      tree, row,
      [&](NodeId c) {
        const std::string_view name = tree.key(c);
        return !shape.Ignored(name) && (mask & shape.MaskBit(name)) == 0;
      },
      members);
  out.push_back('{');
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendMember(tree, members[i], out);
  }
  out.push_back('}');
}

bool AppendCanonicalKey(const JsonTree& tree, NodeId row, const RowShape& shape, std::string& out) {
  if (!tree.IsObject(row)) return false;
  const size_t start = out.size();
  out.push_back('[');
  for (size_t i = 0; i < shape.key_columns().size(); ++i) {
    const NodeId v = tree.Find(row, shape.key_columns()[i]);
    if (v == kNone || tree.kind(v) == NodeKind::kNull) {
      out.resize(start);
      return false;
    }
    if (i > 0) out.push_back(',');
    AppendCanonical(tree, v, out);
  }
  out.push_back(']');
  return true;
}

std::string KeyDisplay(const RowShape& shape, std::string_view canonical_key) {
  JsonTree tree;
  if (!tree.Parse(canonical_key) || tree.kind(tree.root()) != NodeKind::kArray) {
    return std::string(canonical_key);
  }
  std::string out = "{";
  size_t i = 0;
  for (NodeId c = tree.node(tree.root()).first; c != kNone; c = tree.node(c).next, ++i) {
    if (i > 0) out.push_back(',');
    json::AppendString(out, i < shape.key_columns().size() ? shape.key_columns()[i] : "?");
    out.push_back(':');
    AppendCanonical(tree, c, out);
  }
  out.push_back('}');
  return out;
}

}  // namespace pgcdc::verify
