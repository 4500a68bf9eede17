// StreamPlan: what a chain made only of drop_columns, mask and operation
// filters does, flattened per image key, so Chain::Apply can edit the payload
// in one streaming pass (StreamEditImages) instead of building a document.
// Built once per chain (immutable afterwards, shared by threads). Internal to
// src/transform.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.h"
#include "transform/payload.h"

namespace pgcdc::transform {

struct StreamPlan {
  // Appends the masked JSON value for `value` (never "null") to `out`.
  using ValueRewrite = std::function<void(std::string_view value, std::string& out)>;
  struct KeyRule {
    std::string key;
    bool drop = false;
    std::vector<ValueRewrite> rewrites;  // applied in chain order
  };
  struct OpFilter {
    std::function<bool(const Event&)> keeps;
    // A field rule comes earlier in the chain: the document path would parse
    // (and could reject) the payload before this filter drops the event.
    bool after_field_rules = false;
  };
  std::vector<KeyRule> keys;
  std::vector<OpFilter> filters;
  // keys as StreamEditImages rules (views into `keys`), built once the plan
  // is complete (Finish).
  std::vector<StreamEditRule> rules;
  void Finish() {
    rules.clear();
    for (const auto& k : keys) rules.push_back({k.key, k.drop});
  }

  KeyRule& Key(std::string_view key) {
    for (auto& k : keys) {
      if (k.key == key) return k;
    }
    return keys.emplace_back(KeyRule{std::string(key)});
  }
  void Drop(std::string_view key) { Key(key).drop = true; }
  void Rewrite(std::string_view key, ValueRewrite fn) {
    KeyRule& k = Key(key);
    if (!k.drop) k.rewrites.push_back(std::move(fn));
  }
  void Filter(std::function<bool(const Event&)> keeps) {
    filters.push_back({std::move(keeps), !keys.empty()});
  }
};

}  // namespace pgcdc::transform
