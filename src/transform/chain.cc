#include "transform/payload.h"
#include "transform/stream_plan.h"
#include "transform/transform.h"

namespace pgcdc::transform {

Transform::~Transform() = default;

Result<Verdict> Transform::Apply(Event& event) {
  PayloadContext ctx(event);
  auto verdict = ApplyTo(ctx);
  if (verdict && *verdict == Verdict::kKeep) ctx.Commit();
  return verdict;
}

Chain::Chain(std::vector<TransformPtr> transforms) : transforms_(std::move(transforms)) {
  auto plan = std::make_shared<StreamPlan>();
  for (const auto& t : transforms_) {
    if (!t->AddTo(*plan)) return;
  }
  if (plan->keys.size() > 64) return;
  plan->Finish();
  plan_ = std::move(plan);
}

Chain::~Chain() = default;

namespace {

// Per-call state of the streaming path: the plan and the last masked value
// (the same value in `old` and `row`, typical for UPDATEs, is masked once).
struct RewriteContext {
  const StreamPlan* plan;
  size_t rule = SIZE_MAX;
  std::string_view in;     // points into the event's payload (stable during the call)
  size_t at = 0, len = 0;  // where its masked form sits in the output
};

void RewriteValue(const void* context, size_t rule, std::string_view value, std::string& out) {
  auto* ctx = static_cast<RewriteContext*>(const_cast<void*>(context));
  if (ctx->rule == rule && ctx->in == value) {
    out.reserve(out.size() + ctx->len);
    out.append(out.data() + ctx->at, ctx->len);
    return;
  }
  const auto& rewrites = ctx->plan->keys[rule].rewrites;
  const size_t at = out.size();
  if (rewrites.size() == 1) {
    rewrites[0](value, out);
  } else {
    // Several masks on one key: each sees the previous one's result.
    std::string current(value), next;
    for (const auto& fn : rewrites) {
      next.clear();
      fn(current, next);
      current.swap(next);
    }
    out.append(current);
  }
  *ctx = {ctx->plan, rule, value, at, out.size() - at};
}

}  // namespace

Result<Verdict> Chain::Apply(Event& event) const {
  if (transforms_.empty()) return Verdict::kKeep;
  if (plan_) {
    bool drop = false;
    for (const auto& f : plan_->filters) {
      if (f.keeps(event)) continue;
      if (!f.after_field_rules) return Verdict::kDrop;
      drop = true;  // still check the payload like the document path would
      break;
    }
    if (plan_->keys.empty()) return drop ? Verdict::kDrop : Verdict::kKeep;
    // The new payload is built in a per-thread buffer that then trades places
    // with the event's old payload, so steady state allocates nothing.
    thread_local std::string buffer;
    RewriteContext context{plan_.get()};
    const auto r = StreamEditImages(event.payload, plan_->rules.data(), plan_->rules.size(),
                                    &RewriteValue, &context, buffer);
    if (r != StreamEditResult::kFallback) {
      if (drop) return Verdict::kDrop;
      if (r == StreamEditResult::kChanged) {
        event.payload.swap(buffer);
        event.InvalidateJson();
      }
      return Verdict::kKeep;
    }
  }
  return ApplyDocument(event);
}

Result<Verdict> Chain::ApplyDocument(Event& event) const {
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
