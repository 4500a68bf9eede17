// dedup: LRU cache of recently seen keys with a time-to-live (SPEC §6.4).
#include <chrono>
#include <list>
#include <unordered_map>

#include "core/metrics.h"
#include "core/mutex.h"
#include "transform/builtins.h"
#include "transform/payload.h"

namespace pgcdc::transform {

namespace {

metrics::Counter& DroppedCounter() {
  static metrics::Counter& c = metrics::DefaultCounter("pgcdc_dedup_dropped_total",
                                                       "Events dropped by dedup as duplicates.");
  return c;
}

metrics::Gauge& CacheSizeGauge() {
  static metrics::Gauge& g =
      metrics::DefaultGauge("pgcdc_dedup_cache_size", "Keys held by all dedup caches.");
  return g;
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<std::string> SplitPath(std::string_view path) {
  if (path.starts_with("payload.")) path.remove_prefix(8);
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= path.size() && !path.empty()) {
    size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) dot = path.size();
    out.emplace_back(path.substr(start, dot - start));
    start = dot + 1;
  }
  return out;
}

}  // namespace

struct DedupTransform::State {
  struct Entry {
    std::string key;
    int64_t expires_at;
  };
  Mutex mu;
  std::list<Entry> lru GUARDED_BY(mu);  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index GUARDED_BY(mu);

  void EraseIt(std::list<Entry>::iterator it) REQUIRES(mu) {
    index.erase(it->key);
    lru.erase(it);
  }
};

DedupTransform::DedupTransform(DedupOptions options)
    : options_(std::move(options)),
      path_(SplitPath(options_.key_path)),
      state_(std::make_unique<State>()) {
  if (!options_.clock) options_.clock = SteadyNanos;
  DroppedCounter();
  CacheSizeGauge();
}

DedupTransform::~DedupTransform() {
  CacheSizeGauge().Add(-static_cast<double>(state_->lru.size()));
}

size_t DedupTransform::size() const {
  MutexLock lock(state_->mu);
  return state_->lru.size();
}

Result<Verdict> DedupTransform::ApplyTo(PayloadContext& ctx) {
  // Key: the value at the path, else the event id.
  std::string key;
  bool found = false;
  if (!path_.empty()) {
    auto root = ctx.Root();
    JsonObject* obj = root ? *root : nullptr;
    for (size_t i = 0; obj != nullptr && i < path_.size(); ++i) {
      if (i + 1 == path_.size()) {
        if (const JsonObject::Member* m = obj->Find(path_[i])) {
          std::string scratch;
          key = StringifyJson(JsonObject::ValueText(*m, scratch));
          found = true;
        }
        break;
      }
      auto child = obj->Child(path_[i], ctx.arena());
      obj = child ? *child : nullptr;
    }
  }
  if (!found) key = ctx.event().id.ToString();

  const int64_t now = options_.clock();
  State& s = *state_;
  MutexLock lock(s.mu);
  if (auto it = s.index.find(key); it != s.index.end()) {
    if (it->second->expires_at > now) {
      s.lru.splice(s.lru.begin(), s.lru, it->second);  // refresh recency, not expiry
      DroppedCounter().Inc();
      return Verdict::kDrop;
    }
    s.EraseIt(it->second);
    CacheSizeGauge().Add(-1);
  }
  s.lru.push_front(State::Entry{std::move(key), now + options_.window.count()});
  s.index.emplace(s.lru.front().key, s.lru.begin());
  CacheSizeGauge().Add(1);
  while (static_cast<int64_t>(s.lru.size()) > options_.max_keys) {
    s.EraseIt(std::prev(s.lru.end()));
    CacheSizeGauge().Add(-1);
  }
  return Verdict::kKeep;
}

Result<std::shared_ptr<DedupTransform>> MakeDedup(DedupOptions options) {
  if (options.window.count() <= 0) {
    return Fail(ErrorCode::kConfig, "dedup window must be greater than 0");
  }
  if (options.max_keys <= 0) {
    return Fail(ErrorCode::kConfig, "dedup max_keys must be greater than 0");
  }
  for (const auto& part : SplitPath(options.key_path)) {
    if (part.empty()) {
      return Fail(ErrorCode::kConfig,
                  "dedup key path \"" + options.key_path + "\" has an empty segment");
    }
  }
  return std::make_shared<DedupTransform>(std::move(options));
}

}  // namespace pgcdc::transform
