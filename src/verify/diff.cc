#include "verify/diff.h"

#include <algorithm>
#include <map>

namespace pgcdc::verify {

void Differ::Note(Category& c, const std::string& key, const verify::SourceRow* row,
                  uint64_t mask) {
  ++c.count;
  if (c.examples.size() >= max_examples_) return;
  Example e;
  e.key = key;
  if (row != nullptr) row->AppendCanonical(mask, e.source_row);
  c.examples.push_back(std::move(e));
}

void Differ::SourceRow(const std::string& key, uint64_t hash, const verify::SourceRow& row) {
  ++result_.source_rows;
  KeyState* s = state_.Find(key);
  if (s == nullptr || s->deleted) {
    Note(result_.missing, key, &row, 0);
    return;
  }
  s->seen = true;
  uint64_t source_hash = hash;
  if (s->toast_mask != 0) {
    scratch_.clear();
    row.AppendCanonical(s->toast_mask, scratch_);
    source_hash = HashCanonical(scratch_);
  }
  if (source_hash == s->hash) {
    ++result_.matching;
  } else {
    Note(result_.differing, key, &row, s->toast_mask);
  }
}

std::vector<std::string> DifferingColumns(std::string_view a, std::string_view b) {
  JsonTree ta;
  JsonTree tb;
  std::vector<std::string> out;
  if (!ta.Parse(a) || !tb.Parse(b) || !ta.IsObject(ta.root()) || !tb.IsObject(tb.root())) {
    return out;
  }
  // Members as {name: canonical value}; both rows are canonical, so equal
  // values have equal text.
  auto members = [](const JsonTree& t) {
    std::map<std::string, std::string, std::less<>> m;
    for (NodeId c = t.node(t.root()).first; c != kNone; c = t.node(c).next) {
      AppendCanonical(t, c, m[std::string(t.key(c))]);
    }
    return m;
  };
  const auto ma = members(ta);
  const auto mb = members(tb);
  for (const auto& [name, value] : ma) {
    auto it = mb.find(name);
    if (it == mb.end() || it->second != value) out.push_back(name);
  }
  for (const auto& [name, value] : mb) {
    if (!ma.contains(name)) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

DiffResult Differ::Finish() {
  std::vector<std::string_view> extra;
  state_.ForEach([&](std::string_view key, const KeyState& s) {
    if (!s.deleted && !s.seen) extra.push_back(key);
  });
  result_.extra.count = extra.size();
  const size_t n = std::min(extra.size(), max_examples_);
  std::partial_sort(extra.begin(), extra.begin() + static_cast<std::ptrdiff_t>(n), extra.end());
  for (size_t i = 0; i < n; ++i) result_.extra.examples.push_back({std::string(extra[i]), "", ""});
  return std::move(result_);
}

}  // namespace pgcdc::verify
