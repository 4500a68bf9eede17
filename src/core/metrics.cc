// Prometheus registry and text exposition (format 0.0.4).
//
// Layout: the registry owns one FamilyBase per metric name (stable address,
// held by unique_ptr). A FamilyBase owns its children in an ordered map keyed
// by the label-value tuple, each child behind a unique_ptr so references handed
// out by Family<M>::With() stay valid for the registry's lifetime. The map
// order is the exposition order of the children.
//
// Programming errors (bad metric/label names, a counter not ending in
// "_total", re-registering a name with another type or labels, a label-value
// count that does not match the label names) never abort: they are reported
// once on stderr and the caller still gets a usable family. A conflicting
// re-registration gets a detached family that is not exposed.

#include "core/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <span>
#include <sstream>
#include <utility>

#include "core/enum_names.h"
#include "core/escape.h"
#include "core/log.h"
#include "core/metric_aliases.h"
#include "core/mutex.h"
#include "core/scope.h"

namespace pgcdc::metrics {

namespace {

// Heterogeneous ordering so With() can look children up by string_view
// without building a std::vector<std::string> first.
struct KeyLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    return std::lexicographical_compare(
        a.begin(), a.end(), b.begin(), b.end(),
        [](const auto& x, const auto& y) { return std::string_view(x) < std::string_view(y); });
  }
};

using Key = std::vector<std::string>;

bool IsValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

void ReportMisuse(std::string_view what, std::string_view name) {
  log::Error("metrics: programming error", {{"problem", what}, {"metric", name}});
}

constexpr EnumNames<Type, Type::kHistogram> kTypeNames({"counter", "gauge", "histogram"},
                                                       "untyped");

std::string_view TypeName(Type t) { return kTypeNames(t); }

// Shortest round-trip representation; Prometheus spellings for specials.
void AppendDouble(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void AppendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void AppendEscapedHelp(std::string& out, std::string_view s) {
  AppendReplacing(out, s, {{'\\', "\\\\"}, {'\n', "\\n"}});
}

void AppendEscapedLabelValue(std::string& out, std::string_view s) {
  AppendReplacing(out, s, {{'\\', "\\\\"}, {'"', "\\\""}, {'\n', "\\n"}});
}

void AppendHeader(std::string& out, std::string_view name, std::string_view help, Type type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  AppendEscapedHelp(out, help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += TypeName(type);
  out += '\n';
}

void AppendLabel(std::string& out, bool& first, std::string_view name, std::string_view value) {
  if (!first) out += ',';
  first = false;
  out += name;
  out += "=\"";
  AppendEscapedLabelValue(out, value);
  out += '"';
}

// Appends `{[pipeline="p",]a="x",b="y"[,le="..."]}` (nothing when there are no
// labels). key[0] is the pipeline ("" for none), then one value per name.
void AppendLabels(std::string& out, const std::vector<std::string>& names, const Key& key,
                  const std::string* le = nullptr) {
  const bool scoped = !key.empty() && !key[0].empty();
  if (names.empty() && le == nullptr && !scoped) return;
  out += '{';
  bool first = true;
  if (scoped) AppendLabel(out, first, "pipeline", key[0]);
  for (size_t i = 0; i < names.size() && i + 1 < key.size(); ++i) {
    AppendLabel(out, first, names[i], key[i + 1]);
  }
  if (le != nullptr) {
    if (!first) out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

std::vector<double> SanitizeBounds(std::vector<double> bounds) {
  std::erase_if(bounds, [](double b) { return !std::isfinite(b); });  // +Inf is implicit
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  return bounds;
}

}  // namespace

// ---------------------------------------------------------------------------
// Gauge / Histogram

void Gauge::Set(double v) { value_.store(v, std::memory_order_relaxed); }
void Gauge::Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
double Gauge::Value() const { return value_.load(std::memory_order_relaxed); }

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(SanitizeBounds(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::Observe(double v) {
  // Bucket i counts observations in (bounds[i-1], bounds[i]]; the last one is
  // (bounds.back(), +Inf]. NaN lands in +Inf (it is <= nothing).
  size_t i = bounds_.size();
  if (!std::isnan(v)) {
    i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  }
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

double Histogram::Sum() const { return sum_.load(std::memory_order_relaxed); }
uint64_t Histogram::Count() const { return count_.load(std::memory_order_relaxed); }

// ---------------------------------------------------------------------------
// FamilyBase

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> labels,
             std::vector<double> bounds)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        labels_(std::move(labels)),
        bounds_(SanitizeBounds(std::move(bounds))),
        own_pipeline_label_(std::find(labels_.begin(), labels_.end(), "pipeline") !=
                            labels_.end()) {}
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  Type type() const { return type_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<double>& bounds() const { return bounds_; }

  // A child's key is the pipeline of the creating thread's scope (core/scope.h;
  // "" outside serve, or when the family has its own `pipeline` label) and
  // then the label values.
  template <class M>
  M& Child(std::initializer_list<std::string_view> values) {
    // On the stack for the usual few labels: With() may run per event.
    std::array<std::string_view, 8> small{};
    std::vector<std::string_view> large;
    const size_t n = labels_.size() + 1;
    if (n > small.size()) large.resize(n);
    const std::span<std::string_view> key =
        n > small.size() ? std::span<std::string_view>(large) : std::span(small.data(), n);
    key[0] = own_pipeline_label_ ? std::string_view() : scope::Pipeline();
    std::copy_n(values.begin(), std::min(values.size(), labels_.size()), key.begin() + 1);
    if (values.size() != labels_.size()) {
      // Programming error; keep going with a normalised tuple (missing values empty).
      ReportMisuse("label value count does not match label names", name_);
    }
    MutexLock lock(mu_);
    auto& children = Children<M>();
    auto it = children.find(key);
    if (it == children.end()) {
      it = children.emplace(Key(key.begin(), key.end()), MakeChild<M>()).first;
    }
    return *it->second;
  }

  // Appends the family's exposition; takes the child mutex.
  // One "name{labels} value" line per counter or gauge ("name 0" for an
  // unlabelled family that has none yet).
  template <class Samples, class Value>
  void ExposeSamples(std::string& out, const std::string& name, const Samples& samples,
                     void (*append_value)(std::string&, Value)) const {
    if (samples.empty() && labels_.empty()) {
      out += name;
      out += " 0\n";
    }
    for (const auto& [key, sample] : samples) {
      out += name;
      AppendLabels(out, labels_, key);
      out += ' ';
      append_value(out, sample->Value());
      out += '\n';
    }
  }

  // The family's exposition; under `alias` (with a help text saying so) when
  // one is given.
  void Expose(std::string& out, const std::string* alias = nullptr) const {
    const std::string& name = alias != nullptr ? *alias : name_;
    AppendHeader(out, name, alias != nullptr ? "Same as " + name_ + ". " + help_ : help_, type_);
    MutexLock lock(mu_);
    switch (type_) {
      case Type::kCounter:
        ExposeSamples(out, name, counters_, AppendUint);
        break;
      case Type::kGauge:
        ExposeSamples(out, name, gauges_, AppendDouble);
        break;
      case Type::kHistogram:
        if (histograms_.empty() && labels_.empty()) {
          Histogram zero(bounds_);
          ExposeHistogram(out, name, Key{""}, zero);
        }
        for (const auto& [key, h] : histograms_) ExposeHistogram(out, name, key, *h);
        break;
    }
  }

  template <class M>
  Family<M>& AsFamily() {
    if constexpr (std::is_same_v<M, Counter>) return counter_family_;
    if constexpr (std::is_same_v<M, Gauge>) return gauge_family_;
    if constexpr (std::is_same_v<M, Histogram>) return histogram_family_;
  }

 private:
  template <class M>
  using ChildMap = std::map<Key, std::unique_ptr<M>, KeyLess>;

  template <class M>
  ChildMap<M>& Children() REQUIRES(mu_) {
    if constexpr (std::is_same_v<M, Counter>) return counters_;
    if constexpr (std::is_same_v<M, Gauge>) return gauges_;
    if constexpr (std::is_same_v<M, Histogram>) return histograms_;
  }

  template <class M>
  std::unique_ptr<M> MakeChild() const {
    if constexpr (std::is_same_v<M, Histogram>) {
      return std::make_unique<Histogram>(bounds_);
    } else {
      return std::make_unique<M>();
    }
  }

  void ExposeHistogram(std::string& out, const std::string& name, const Key& key,
                       const Histogram& h) const {
    const std::vector<uint64_t> counts = h.CumulativeCounts();
    const double sum = h.Sum();
    std::string le;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      le.clear();
      if (i < bounds_.size()) {
        AppendDouble(le, bounds_[i]);
      } else {
        le = "+Inf";
      }
      out += name;
      out += "_bucket";
      AppendLabels(out, labels_, key, &le);
      out += ' ';
      AppendUint(out, counts[i]);
      out += '\n';
    }
    out += name;
    out += "_sum";
    AppendLabels(out, labels_, key);
    out += ' ';
    AppendDouble(out, sum);
    out += '\n';
    out += name;
    out += "_count";
    AppendLabels(out, labels_, key);
    out += ' ';
    // The +Inf bucket rather than Count() so _count always matches it.
    AppendUint(out, counts.back());
    out += '\n';
  }

  const std::string name_;
  const std::string help_;
  const Type type_;
  const std::vector<std::string> labels_;
  const std::vector<double> bounds_;
  const bool own_pipeline_label_;

  mutable Mutex mu_;
  ChildMap<Counter> counters_ GUARDED_BY(mu_);
  ChildMap<Gauge> gauges_ GUARDED_BY(mu_);
  ChildMap<Histogram> histograms_ GUARDED_BY(mu_);

  Family<Counter> counter_family_{this};
  Family<Gauge> gauge_family_{this};
  Family<Histogram> histogram_family_{this};
};

template <class M>
M& Family<M>::With(std::initializer_list<std::string_view> label_values) {
  return base_->Child<M>(label_values);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---------------------------------------------------------------------------
// Process metrics (Linux /proc)

namespace {

struct ProcessStats {
  bool have_stat = false;
  double cpu_seconds = 0;
  double start_time_seconds = 0;
  bool have_mem = false;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  bool have_fds = false;
  double open_fds = 0;
  bool have_max_fds = false;
  double max_fds = 0;
};

ProcessStats ReadProcessStats() {
  ProcessStats s;
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);

  // /proc/self/stat: fields after the parenthesised comm (which may contain
  // spaces and parentheses, hence the last ')').
  {
    std::ifstream f("/proc/self/stat");
    std::string line;
    double boot_time = -1;
    std::ifstream sf("/proc/stat");
    std::string sline;
    while (std::getline(sf, sline)) {
      if (sline.starts_with("btime ")) {
        boot_time = std::strtod(sline.c_str() + 6, nullptr);
        break;
      }
    }
    if (std::getline(f, line) && ticks > 0) {
      const size_t rparen = line.rfind(')');
      if (rparen != std::string::npos) {
        std::istringstream in(line.substr(rparen + 1));
        // Field 3 (state) is the first token after ')'; utime=14, stime=15,
        // starttime=22 (1-based, per proc(5)).
        std::vector<std::string> fields;
        std::string tok;
        while (in >> tok) fields.push_back(tok);
        constexpr size_t kBase = 3;
        if (fields.size() > 22 - kBase) {
          const double utime = std::strtod(fields[14 - kBase].c_str(), nullptr);
          const double stime = std::strtod(fields[15 - kBase].c_str(), nullptr);
          const double start = std::strtod(fields[22 - kBase].c_str(), nullptr);
          s.cpu_seconds = (utime + stime) / static_cast<double>(ticks);
          if (boot_time >= 0) {
            s.start_time_seconds = boot_time + start / static_cast<double>(ticks);
            s.have_stat = true;
          }
        }
      }
    }
  }
  {
    std::ifstream f("/proc/self/statm");
    double size_pages = 0, resident_pages = 0;
    if (f >> size_pages >> resident_pages && page > 0) {
      s.virtual_bytes = size_pages * static_cast<double>(page);
      s.resident_bytes = resident_pages * static_cast<double>(page);
      s.have_mem = true;
    }
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    int n = 0;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    closedir(d);
    s.open_fds = n - 1;  // minus the directory stream's own descriptor
    s.have_fds = true;
  }
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    s.max_fds = rl.rlim_cur == RLIM_INFINITY ? HUGE_VAL : static_cast<double>(rl.rlim_cur);
    s.have_max_fds = true;
  }
  return s;
}

struct Block {
  std::string name;
  std::string text;
};

void AddProcessBlock(std::vector<Block>& blocks, std::string name, std::string_view help, Type type,
                     double value) {
  Block b{std::move(name), {}};
  AppendHeader(b.text, b.name, help, type);
  b.text += b.name;
  b.text += ' ';
  AppendDouble(b.text, value);
  b.text += '\n';
  blocks.push_back(std::move(b));
}

std::vector<Block> ProcessBlocks() {
  const ProcessStats s = ReadProcessStats();
  std::vector<Block> blocks;
  if (s.have_stat) {
    AddProcessBlock(blocks, "process_cpu_seconds_total",
                    "Total user and system CPU time spent in seconds.", Type::kCounter,
                    s.cpu_seconds);
    AddProcessBlock(blocks, "process_start_time_seconds",
                    "Start time of the process since unix epoch in seconds.", Type::kGauge,
                    s.start_time_seconds);
  }
  if (s.have_mem) {
    AddProcessBlock(blocks, "process_resident_memory_bytes", "Resident memory size in bytes.",
                    Type::kGauge, s.resident_bytes);
    AddProcessBlock(blocks, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                    Type::kGauge, s.virtual_bytes);
  }
  if (s.have_fds) {
    AddProcessBlock(blocks, "process_open_fds", "Number of open file descriptors.", Type::kGauge,
                    s.open_fds);
  }
  if (s.have_max_fds) {
    AddProcessBlock(blocks, "process_max_fds", "Maximum number of open file descriptors.",
                    Type::kGauge, s.max_fds);
  }
  return blocks;
}

}  // namespace

// ---------------------------------------------------------------------------
// Registry

struct Registry::Impl {
  mutable Mutex mu;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families GUARDED_BY(mu);
  // Families handed out for conflicting re-registrations; never exposed.
  std::vector<std::unique_ptr<FamilyBase>> detached GUARDED_BY(mu);
  bool process_metrics GUARDED_BY(mu) = false;
  std::map<std::string, std::string, std::less<>> aliases GUARDED_BY(mu);  // alias -> target

  template <class M>
  Family<M>& Add(Type type, std::string name, std::string help, std::vector<std::string> labels,
                 std::vector<double> bounds) {
    if (!IsValidMetricName(name)) ReportMisuse("invalid metric name", name);
    if (type == Type::kCounter && !name.ends_with("_total")) {
      ReportMisuse("counter name must end in _total", name);
    }
    for (const auto& l : labels) {
      if (!IsValidLabelName(l) || (type == Type::kHistogram && l == "le")) {
        ReportMisuse("invalid label name " + l, name);
      }
    }
    MutexLock lock(mu);
    auto it = families.find(name);
    if (it != families.end()) {
      FamilyBase& f = *it->second;
      if (f.type() == type && f.labels() == labels &&
          (type != Type::kHistogram || f.bounds() == SanitizeBounds(bounds))) {
        return f.AsFamily<M>();
      }
      ReportMisuse("re-registered with a different type, labels or buckets", name);
      detached.push_back(std::make_unique<FamilyBase>(std::move(name), std::move(help), type,
                                                      std::move(labels), std::move(bounds)));
      return detached.back()->AsFamily<M>();
    }
    auto base = std::make_unique<FamilyBase>(name, std::move(help), type, std::move(labels),
                                             std::move(bounds));
    FamilyBase* raw = base.get();
    families.emplace(std::move(name), std::move(base));
    return raw->AsFamily<M>();
  }
};

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() = default;

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> labels) {
  return impl_->Add<Counter>(Type::kCounter, std::move(name), std::move(help), std::move(labels),
                             {});
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> labels) {
  return impl_->Add<Gauge>(Type::kGauge, std::move(name), std::move(help), std::move(labels), {});
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<double> bounds,
                                          std::vector<std::string> labels) {
  return impl_->Add<Histogram>(Type::kHistogram, std::move(name), std::move(help),
                               std::move(labels), std::move(bounds));
}

void Registry::AddAlias(std::string alias, std::string target) {
  if (!IsValidMetricName(alias)) ReportMisuse("invalid metric name", alias);
  MutexLock lock(impl_->mu);
  impl_->aliases[std::move(alias)] = std::move(target);
}

void Registry::EnableProcessMetrics(bool enable) {
  MutexLock lock(impl_->mu);
  impl_->process_metrics = enable;
}

std::string Registry::Expose() const {
  std::vector<Block> extra;
  bool process_metrics;
  {
    MutexLock lock(impl_->mu);
    process_metrics = impl_->process_metrics;
  }
  if (process_metrics) extra = ProcessBlocks();

  std::string out;
  out.reserve(4096);
  MutexLock lock(impl_->mu);
  // Aliases of registered families join the process blocks (rendered now,
  // under the registry lock; a family's own lock nests inside it as below).
  for (const auto& [alias, target] : impl_->aliases) {
    auto it = impl_->families.find(target);
    if (it == impl_->families.end() || impl_->families.contains(alias)) continue;
    Block b{alias, {}};
    it->second->Expose(b.text, &alias);
    extra.push_back(std::move(b));
  }
  // Merge registered families (already sorted) with the process blocks
  // (sorted here); a registered family shadows a process metric of the same
  // name.
  std::sort(extra.begin(), extra.end(),
            [](const Block& a, const Block& b) { return a.name < b.name; });
  auto x = extra.begin();
  for (const auto& [name, family] : impl_->families) {
    for (; x != extra.end() && x->name <= name; ++x) {
      if (x->name != name) out += x->text;
    }
    family->Expose(out);
  }
  for (; x != extra.end(); ++x) out += x->text;
  return out;
}

Registry& Default() {
  static Registry& registry = []() -> Registry& {
    // Leaked on purpose: components may still update metrics from other
    // threads while static destructors run.
    auto* r = new Registry();
    r->EnableProcessMetrics();
    AddReferenceAliases(*r);
    return *r;
  }();
  return registry;
}

std::vector<double> DefaultBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

namespace detail {

void* ScopedSeries(const void* tag, std::string_view pipeline, void* (*make)()) {
  // Leaked like Default(): other threads may use the series during exit.
  static Mutex& mu = *new Mutex;
  static auto& instances = *new std::map<std::pair<const void*, std::string>, void*, std::less<>>;
  const std::pair<const void*, std::string> key(tag, pipeline);
  {
    MutexLock lock(mu);
    if (auto it = instances.find(key); it != instances.end()) return it->second;
  }
  // Made outside the lock: the constructor registers families (other locks).
  void* made = make();
  MutexLock lock(mu);
  // A racing thread may have won; its instance is equivalent (both hold
  // references to the same children), so ours is leaked rather than freed
  // under a reader.
  return instances.emplace(key, made).first->second;
}

}  // namespace detail

Counter& DefaultCounter(std::string name, std::string help) {
  return Default().AddCounter(std::move(name), std::move(help)).Get();
}

Gauge& DefaultGauge(std::string name, std::string help) {
  return Default().AddGauge(std::move(name), std::move(help)).Get();
}

Histogram& DefaultHistogram(std::string name, std::string help, std::vector<double> bounds) {
  return Default().AddHistogram(std::move(name), std::move(help), std::move(bounds)).Get();
}

Counter& AdapterCounter(std::string name, std::string help, std::string_view adapter) {
  return Default().AddCounter(std::move(name), std::move(help), {"adapter"}).With({adapter});
}

Gauge& AdapterGauge(std::string name, std::string help, std::string_view adapter) {
  return Default().AddGauge(std::move(name), std::move(help), {"adapter"}).With({adapter});
}

Histogram& AdapterHistogram(std::string name, std::string help, std::vector<double> bounds,
                            std::string_view adapter) {
  return Default()
      .AddHistogram(std::move(name), std::move(help), std::move(bounds), {"adapter"})
      .With({adapter});
}

}  // namespace pgcdc::metrics
