#include "view/join.h"

#include <cstdio>

#include "view/clauses.h"

namespace pgcdc::view {

namespace {

constexpr int kLeft = 1;  // side masks
constexpr int kRight = 2;

std::string Dotted(const std::vector<std::string>& path) {
  std::string out;
  for (const auto& p : path) out += (out.empty() ? "" : ".") + p;
  return out;
}

// Strips the alias from every field; a field's side goes in `index` (0 left,
// 1 right). Returns the sides read (mask).
Result<int> Qualify(Expr& e, const JoinSyntax& s) {
  int mask = 0;
  if (e.kind == ExprKind::kField) {
    const bool left = e.path.size() > 1 && e.path[0] == s.left_alias;
    const bool right = e.path.size() > 1 && e.path[0] == s.right_alias;
    if (!left && !right) {
      return Fail(ErrorAt("column \"" + Dotted(e.path) + "\" must be qualified with " +
                              s.left_alias + ". or " + s.right_alias + ". in an interval join",
                          e.position));
    }
    e.path.erase(e.path.begin());
    e.index = left ? 0 : 1;
    return left ? kLeft : kRight;
  }
  if (e.kind == ExprKind::kAggRef) {
    return Fail(ErrorAt("an interval join does not aggregate", e.position));
  }
  for (auto& a : e.args) {
    auto m = Qualify(a, s);
    if (!m) return Fail(m.error());
    mask |= *m;
  }
  return mask;
}

void Conjuncts(Expr e, std::vector<Expr>& out) {
  if (e.kind != ExprKind::kAnd) {
    out.push_back(std::move(e));
    return;
  }
  for (auto& a : e.args) Conjuncts(std::move(a), out);
}

std::optional<Expr> AndOf(std::vector<Expr> parts) {
  if (parts.empty()) return std::nullopt;
  if (parts.size() == 1) return std::move(parts[0]);
  const int pos = parts[0].position;
  return Expr{.kind = ExprKind::kAnd, .position = pos, .args = std::move(parts)};
}

std::string SlotKey(const std::vector<std::string>& path) {
  const size_t first = path.size() > 1 && path[0] == "payload" ? 1 : 0;
  std::string out;
  for (size_t i = first; i < path.size(); ++i) out += path[i] + '\0';
  return out;
}

// Collects each side's fields as slots (first pass, `rewrite` false), then
// turns fields into kGroupRef over [left slots…, right slots…].
void Slots(Expr& e, Join& j, bool rewrite) {
  if (e.kind != ExprKind::kField) {
    for (auto& a : e.args) Slots(a, j, rewrite);
    return;
  }
  auto& slots = e.index == 0 ? j.left_slots : j.right_slots;
  size_t i = 0;
  while (i < slots.size() && SlotKey(slots[i]) != SlotKey(e.path)) ++i;
  if (i == slots.size()) slots.push_back(e.path);
  if (!rewrite) return;
  const size_t index = (e.index == 0 ? 0 : j.left_slots.size()) + i;
  e = Expr{.kind = ExprKind::kGroupRef, .position = e.position, .index = index};
}

// Sorts one conjunct: a side's filter, a key equality or the residual.
void Classify(Expr c, int mask, std::vector<Expr> (&filters)[2], Join& j,
              std::vector<Expr>& residual) {
  if (mask == kLeft || mask == kRight) {
    filters[mask == kLeft ? 0 : 1].push_back(std::move(c));
    return;
  }
  if (mask == (kLeft | kRight) && c.kind == ExprKind::kCompare && c.op == "=") {
    auto side = [](const Expr& e) {
      int m = 0;
      std::vector<const Expr*> stack{&e};
      while (!stack.empty()) {
        const Expr* x = stack.back();
        stack.pop_back();
        if (x->kind == ExprKind::kField) m |= x->index == 0 ? kLeft : kRight;
        for (const auto& a : x->args) stack.push_back(&a);
      }
      return m;
    };
    const int l = side(c.args[0]);
    const int r = side(c.args[1]);
    if ((l == kLeft && r == kRight) || (l == kRight && r == kLeft)) {
      j.left_keys.push_back(std::move(c.args[l == kLeft ? 0 : 1]));
      j.right_keys.push_back(std::move(c.args[l == kLeft ? 1 : 0]));
      return;
    }
  }
  residual.push_back(std::move(c));
}

}  // namespace

Status PlanJoin(JoinSyntax s, int64_t within_ns, Query& q) {
  Join j{.left_alias = s.left_alias, .right_alias = s.right_alias, .within_ns = within_ns};
  std::vector<Expr> parts;
  if (s.on) Conjuncts(std::move(*s.on), parts);
  if (s.where) Conjuncts(std::move(*s.where), parts);
  std::vector<Expr> filters[2];
  std::vector<Expr> residual;
  for (auto& c : parts) {
    auto mask = Qualify(c, s);
    if (!mask) return Fail(mask.error());
    Classify(std::move(c), *mask, filters, j, residual);
  }
  if (j.left_keys.empty()) {
    return Fail(ErrorAt("an interval join needs an equality between the sides in ON (ON " +
                            s.left_alias + ".key = " + s.right_alias + ".key)",
                        s.position));
  }
  j.left_filter = AndOf(std::move(filters[0]));
  j.right_filter = AndOf(std::move(filters[1]));
  j.residual = AndOf(std::move(residual));
  size_t n = 0;
  for (auto& item : s.items) {
    ++n;
    std::string name = item.name;
    if (name.empty()) {
      name = item.expr.kind == ExprKind::kField && item.expr.path.size() > 1
                 ? item.expr.path.front() + "_" + item.expr.path.back()
                 : "column_" + std::to_string(n);
    }
    if (auto m = Qualify(item.expr, s); !m) return Fail(m.error());
    q.columns.push_back({std::move(name), std::move(item.expr)});
  }
  for (bool rewrite : {false, true}) {
    if (j.residual) Slots(*j.residual, j, rewrite);
    for (auto& c : q.columns) Slots(c.expr, j, rewrite);
  }
  q.join = std::move(j);
  return Ok();
}

std::optional<std::string> JoinState::KeyOf(const std::vector<Expr>& keys,
                                            const EvalContext& ctx) const {
  std::string out;
  for (const auto& k : keys) {
    const Value v = Eval(k, ctx);
    if (v.is_null()) return std::nullopt;
    // Values equal under SQL '=' (1, 1.0, "1") must give the same text.
    if (auto d = ToNumber(v)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "n%.17g", *d);
      out += buf;
    } else {
      out += 's' + ToText(v);
    }
    out += '\0';
  }
  return out;
}

bool JoinState::Add(const EvalContext& ctx, int64_t t, std::optional<int64_t> watermark,
                    uint64_t seq, bool emit, bool& late, JoinCounters& counters) {
  const Join& j = *q_.join;
  late = false;
  auto passes = [&](const std::optional<Expr>& f) {
    if (!f) return true;
    const Value keep = Eval(*f, ctx);
    const auto* b = std::get_if<bool>(&keep.v);
    return b != nullptr && *b;
  };
  const bool on[2] = {passes(j.left_filter), passes(j.right_filter)};
  if (!on[0] && !on[1]) return false;
  if (watermark && t < *watermark) {
    late = true;
    ++counters.late;
    return false;
  }
  if (watermark) Expire(*watermark);
  bool taken = false;
  for (int side = 0; side < 2; ++side) {
    if (!on[side]) continue;
    auto key = KeyOf(side == 0 ? j.left_keys : j.right_keys, ctx);
    if (!key) continue;  // a NULL key equals nothing
    const auto& paths = side == 0 ? j.left_slots : j.right_slots;
    const auto& fields = side == 0 ? j.left_slot_fields : j.right_slot_fields;
    std::vector<Value> slots;
    slots.reserve(paths.size());
    for (size_t i = 0; i < paths.size(); ++i) {
      slots.push_back(ResolveField(paths[i], i < fields.size() ? fields[i] : -1, ctx));
    }
    Entry entry{std::move(slots), seq, watermark.value_or(INT64_MIN)};
    if (emit) Probe(side, *key, t, entry);
    Insert(side, *key, t, std::move(entry), counters);
    taken = true;
  }
  return taken;
}

void JoinState::Probe(int side, const std::string& key, int64_t t, const Entry& arriving) {
  const std::vector<Value>& slots = arriving.slots;
  const Join& j = *q_.join;
  const Side& other = sides_[1 - side];
  auto bucket = other.by_key.find(key);
  if (bucket == other.by_key.end()) return;
  const Bucket& b = bucket->second;
  for (auto it = b.lower_bound(t - j.within_ns); it != b.end() && it->first <= t + j.within_ns;
       ++it) {
    const std::vector<Value>& left = side == 0 ? slots : it->second.slots;
    const std::vector<Value>& right = side == 0 ? it->second.slots : slots;
    std::vector<Value> both = left;
    both.insert(both.end(), right.begin(), right.end());
    EvalContext ctx{.group = &both};
    if (j.residual) {
      const Value keep = Eval(*j.residual, ctx);
      const auto* ok = std::get_if<bool>(&keep.v);
      if (ok == nullptr || !*ok) continue;
    }
    std::vector<Value> row;
    row.reserve(q_.columns.size());
    for (const auto& c : q_.columns) row.push_back(Eval(c.expr, ctx));
    rows_.rows.push_back(std::move(row));
    // The older event of the pair holds the pair until it is delivered.
    for (const Entry* e : {&it->second, &arriving}) {
      if (e->seq == UINT64_MAX || e->seq >= rows_.min_seq) continue;
      rows_.min_seq = e->seq;
      rows_.wm_before = e->wm_before;
    }
  }
}

void JoinState::Insert(int side, const std::string& key, int64_t t, Entry entry,
                       JoinCounters& counters) {
  while (!order_.empty() && static_cast<int64_t>(order_.size()) >= max_rows_) {
    Erase(order_.begin());  // the oldest entry makes room
    ++counters.evicted;
  }
  if (entry.seq != UINT64_MAX) seqs_.emplace(entry.seq, entry.wm_before);
  sides_[side].by_key[key].emplace(t, std::move(entry));
  order_.emplace(t, std::make_pair(side, key));
}

void JoinState::Erase(std::multimap<int64_t, std::pair<int, std::string>>::iterator it) {
  auto& by_key = sides_[it->second.first].by_key;
  auto bucket = by_key.find(it->second.second);
  if (bucket != by_key.end()) {
    auto entry = bucket->second.find(it->first);
    if (entry != bucket->second.end()) {
      if (auto s = seqs_.find(entry->second.seq); s != seqs_.end()) seqs_.erase(s);
      bucket->second.erase(entry);
    }
    if (bucket->second.empty()) by_key.erase(bucket);
  }
  order_.erase(it);
}

void JoinState::Expire(int64_t watermark) {
  const int64_t within = q_.join->within_ns;
  while (!order_.empty() && order_.begin()->first + within < watermark) Erase(order_.begin());
}

}  // namespace pgcdc::view
