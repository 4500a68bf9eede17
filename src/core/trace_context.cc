#include "core/trace_context.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <unordered_map>

#include "core/event.h"
#include "core/mutex.h"
#include "core/uuid.h"

namespace pgcdc::trace {

namespace internal {
std::atomic<bool> g_enabled{false};
}  // namespace internal

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Lower-case hex only (the spec forbids upper case).
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool ParseHexBytes(std::string_view text, uint8_t* out) {
  for (size_t i = 0; i < text.size() / 2; ++i) {
    const int hi = HexValue(text[2 * i]);
    const int lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

void PutHex(uint8_t byte, char* out) {
  out[0] = kHex[byte >> 4];
  out[1] = kHex[byte & 0xF];
}

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t Load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}

void Store64(uint64_t v, uint8_t* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}

// Root traces are sampled when the low half of the trace id is below this.
std::atomic<uint64_t> g_threshold{~uint64_t{0}};
std::atomic<bool> g_sample_all{true};

struct RemoteParent {
  ParsedTraceparent parent;
  std::string tracestate;
};

// Events that continue a remote trace, by event id; oldest evicted first.
class RemoteParents {
 public:
  void Put(const Uuid& id, RemoteParent p) {
    MutexLock lock(mu_);
    if (map_.size() >= kRemoteParentCapacity && !order_.empty()) {
      map_.erase(order_.front());
      order_.pop_front();
    }
    if (map_.insert_or_assign(id, std::move(p)).second) order_.push_back(id);
    size_.store(map_.size(), std::memory_order_relaxed);
  }
  std::optional<RemoteParent> Get(const Uuid& id) const {
    if (size_.load(std::memory_order_relaxed) == 0) return std::nullopt;
    MutexLock lock(mu_);
    auto it = map_.find(id);
    if (it == map_.end()) return std::nullopt;
    return it->second;
  }

 private:
  struct Hash {
    size_t operator()(const Uuid& id) const { return Load64(id.bytes.data() + 8); }
  };
  mutable Mutex mu_;
  std::unordered_map<Uuid, RemoteParent, Hash> map_ GUARDED_BY(mu_);
  std::deque<Uuid> order_ GUARDED_BY(mu_);
  std::atomic<size_t> size_{0};
};

RemoteParents& Remotes() {
  static RemoteParents* r = new RemoteParents();  // leaked: used until exit
  return *r;
}

thread_local CurrentSpan t_current{};
thread_local bool t_has_current = false;

}  // namespace

std::optional<ParsedTraceparent> ParseTraceparent(std::string_view h) {
  // Surrounding whitespace is allowed by HTTP header parsing.
  while (!h.empty() && (h.front() == ' ' || h.front() == '\t')) h.remove_prefix(1);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.remove_suffix(1);
  if (h.size() < kTraceparentSize) return std::nullopt;
  uint8_t version = 0;
  if (!ParseHexBytes(h.substr(0, 2), &version) || version == 0xFF) return std::nullopt;
  // Version 00 is exactly 55 characters; a later version may append "-…".
  if (version == 0 ? h.size() != kTraceparentSize
                   : (h.size() > kTraceparentSize && h[kTraceparentSize] != '-')) {
    return std::nullopt;
  }
  if (h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  ParsedTraceparent out;
  uint8_t span[8];
  if (!ParseHexBytes(h.substr(3, 32), out.trace_id.data()) ||
      !ParseHexBytes(h.substr(36, 16), span) || !ParseHexBytes(h.substr(53, 2), &out.flags)) {
    return std::nullopt;
  }
  for (uint8_t b : span) out.span_id = out.span_id << 8 | b;
  const bool zero_trace =
      std::all_of(out.trace_id.begin(), out.trace_id.end(), [](uint8_t b) { return b == 0; });
  if (zero_trace || out.span_id == 0) return std::nullopt;
  return out;
}

void FormatTraceparent(const TraceId& trace_id, uint64_t span_id, uint8_t flags,
                       char (&out)[kTraceparentSize]) {
  out[0] = '0';
  out[1] = '0';
  out[2] = '-';
  for (size_t i = 0; i < 16; ++i) PutHex(trace_id[i], out + 3 + 2 * i);
  out[35] = '-';
  for (int i = 0; i < 8; ++i) {
    PutHex(static_cast<uint8_t>(span_id >> (56 - 8 * i)), out + 36 + 2 * i);
  }
  out[52] = '-';
  PutHex(flags & kSampledFlag, out + 53);
}

std::string FormatTraceparent(const TraceId& trace_id, uint64_t span_id, uint8_t flags) {
  char buf[kTraceparentSize];
  FormatTraceparent(trace_id, span_id, flags, buf);
  return std::string(buf, kTraceparentSize);
}

bool ValidTracestate(std::string_view value) {
  if (value.empty() || value.size() > 512) return false;
  return std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c < 0x7F; });
}

uint64_t DeliverSpanId(uint64_t detect_span_id, std::string_view adapter) {
  uint64_t h = 0xCBF29CE484222325ULL;  // FNV-1a of the adapter name
  for (char c : adapter) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001B3ULL;
  }
  const uint64_t id = SplitMix64(detect_span_id ^ h);
  return id != 0 ? id : 1;
}

void Configure(bool enabled, double ratio) {
  ratio = std::clamp(ratio, 0.0, 1.0);
  g_sample_all.store(ratio >= 1.0, std::memory_order_relaxed);
  // ratio * 2^64, computed in long double to keep the low ratios exact enough.
  g_threshold.store(ratio >= 1.0 ? ~uint64_t{0}
                                 : static_cast<uint64_t>(static_cast<long double>(ratio) *
                                                         18446744073709551616.0L),
                    std::memory_order_relaxed);
  internal::g_enabled.store(enabled, std::memory_order_release);
}

TraceContext ContextOf(const Event& event) {
  TraceContext ctx;
  if (!Enabled()) return ctx;
  const uint8_t* b = event.id.bytes.data();
  const uint64_t a = Load64(b);
  const uint64_t c = Load64(b + 8);
  const uint64_t hi = SplitMix64(a ^ 0x243F6A8885A308D3ULL);
  const uint64_t lo = SplitMix64(c ^ hi);
  ctx.span_id = SplitMix64(lo ^ 0x13198A2E03707344ULL);
  if (ctx.span_id == 0) ctx.span_id = 1;
  if (auto remote = Remotes().Get(event.id)) {
    // Parent-based: the caller's trace and its sampling decision.
    ctx.trace_id = remote->parent.trace_id;
    ctx.parent_span_id = remote->parent.span_id;
    ctx.flags = remote->parent.flags & kSampledFlag;
    return ctx;
  }
  Store64(hi, ctx.trace_id.data());
  Store64(lo, ctx.trace_id.data() + 8);
  if (g_sample_all.load(std::memory_order_relaxed) ||
      lo < g_threshold.load(std::memory_order_relaxed)) {
    ctx.flags = kSampledFlag;
  }
  return ctx;
}

bool DeliveryTraceparent(const Event& event, std::string_view adapter,
                         char (&out)[kTraceparentSize]) {
  const TraceContext ctx = ContextOf(event);
  if (!ctx.valid()) return false;
  FormatTraceparent(ctx.trace_id, DeliverSpanId(ctx.span_id, adapter), ctx.flags, out);
  return true;
}

std::string DeliveryTraceparent(const Event& event, std::string_view adapter) {
  char buf[kTraceparentSize];
  if (!DeliveryTraceparent(event, adapter, buf)) return {};
  return std::string(buf, kTraceparentSize);
}

std::string TracestateOf(const Event& event) {
  if (!Enabled()) return {};
  auto remote = Remotes().Get(event.id);
  return remote ? remote->tracestate : std::string();
}

void RememberRemoteParent(const Uuid& id, const ParsedTraceparent& parent, std::string tracestate) {
  if (!ValidTracestate(tracestate)) tracestate.clear();
  Remotes().Put(id, RemoteParent{parent, std::move(tracestate)});
}

std::string TraceIdHex(const TraceId& id) {
  std::string out(32, '0');
  for (size_t i = 0; i < 16; ++i) PutHex(id[i], out.data() + 2 * i);
  return out;
}

std::string SpanIdHex(uint64_t id) {
  std::string out(16, '0');
  for (int i = 0; i < 8; ++i) PutHex(static_cast<uint8_t>(id >> (56 - 8 * i)), out.data() + 2 * i);
  return out;
}

const CurrentSpan* Current() { return t_has_current ? &t_current : nullptr; }

ScopedSpan::ScopedSpan(const TraceId& trace_id, uint64_t span_id, bool sampled) {
  if (!sampled || span_id == 0) return;
  active_ = true;
  had_previous_ = t_has_current;
  previous_ = t_current;
  t_current = {trace_id, span_id};
  t_has_current = true;
}

ScopedSpan::ScopedSpan(const Event& event, std::string_view adapter) {
  if (!Enabled()) return;
  const TraceContext ctx = ContextOf(event);
  if (!ctx.sampled()) return;
  active_ = true;
  had_previous_ = t_has_current;
  previous_ = t_current;
  t_current = {ctx.trace_id, DeliverSpanId(ctx.span_id, adapter)};
  t_has_current = true;
}

ScopedSpan::~ScopedSpan() {
  if (!active_) return;
  t_current = previous_;
  t_has_current = had_previous_;
}

}  // namespace pgcdc::trace
