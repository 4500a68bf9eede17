#include "transform/payload.h"
#include "transform/transform.h"

namespace pgcdc::transform {

Transform::~Transform() = default;

Result<Verdict> Transform::Apply(Event& event) {
  PayloadContext ctx(event);
  auto verdict = ApplyTo(ctx);
  if (verdict && *verdict == Verdict::kKeep) ctx.Commit();
  return verdict;
}

Result<Verdict> Chain::Apply(Event& event) const {
  if (transforms_.empty()) return Verdict::kKeep;
  PayloadContext ctx(event);
  for (const auto& t : transforms_) {
    auto verdict = t->ApplyTo(ctx);
    if (!verdict) return Fail(verdict.error().Wrap("transform " + std::string(t->Type())));
    if (*verdict == Verdict::kDrop) return Verdict::kDrop;
  }
  ctx.Commit();
  return Verdict::kKeep;
}

std::vector<std::string> Chain::Types() const {
  std::vector<std::string> out;
  out.reserve(transforms_.size());
  for (const auto& t : transforms_) out.emplace_back(t->Type());
  return out;
}

ChainPtr ChainSet::ForAdapter(std::string_view adapter) const {
  for (const auto& [name, chain] : per_adapter) {
    if (name == adapter) return chain;
  }
  return nullptr;
}

std::string ChainSet::Describe() const {
  auto list = [](const ChainPtr& chain) {
    std::string out = "[";
    if (chain) {
      bool first = true;
      for (const auto& t : chain->Types()) {
        if (!first) out += ",";
        first = false;
        out += t;
      }
    }
    return out + "]";
  };
  std::string out = "global=" + list(global);
  for (const auto& [name, chain] : per_adapter) out += " " + name + "=" + list(chain);
  return out;
}

}  // namespace pgcdc::transform
