#include "pipeline/inspector.h"

#include <array>
#include <charconv>
#include <functional>
#include <vector>

#include "core/enum_names.h"
#include "core/json.h"
#include "core/mutex.h"
#include "net/broadcaster.h"
#include "net/http_server.h"

namespace pgcdc::pipeline {

constexpr EnumNames<TapPoint, TapPoint::kPreAdapter> kTapPointNames(
    {"post-detector", "post-transform", "pre-adapter"}, "post-detector");

std::string_view TapPointName(TapPoint point) { return kTapPointNames(point); }

namespace {

std::optional<TapPoint> ParsePoint(std::string_view s) {
  if (s.empty() || s == "post-detector") return TapPoint::kPostDetector;
  if (s == "post-transform") return TapPoint::kPostTransform;
  if (s == "pre-adapter") return TapPoint::kPreAdapter;
  return std::nullopt;
}

struct Entry {
  std::string adapter;
  std::string channel;
  std::string json;  // envelope
};

// A ring of the newest `capacity` entries; slots are reused so steady-state
// recording does not allocate once strings reached their size.
struct Ring {
  std::vector<Entry> slots;
  size_t next = 0;
  size_t size = 0;
};

std::string Frame(const Entry& e) {
  std::string data;
  data.reserve(e.json.size() + e.adapter.size() + 24);
  json::Writer w(data);
  w.BeginObject();
  w.StringField("adapter", e.adapter);
  w.Key("event");
  w.Raw(e.json);
  w.EndObject();
  return data;
}

}  // namespace

struct Inspector::State {
  explicit State(size_t capacity) {
    for (auto& r : rings) r.slots.resize(capacity);
    for (size_t i = 0; i < streams.size(); ++i) {
      net::Broadcaster::Options o;
      o.name = "inspect_stream";
      o.client_queue = 256;
      streams[i] = std::make_unique<net::Broadcaster>(o);
    }
  }
  mutable Mutex mu;
  std::array<Ring, 3> rings GUARDED_BY(mu);
  std::array<std::unique_ptr<net::Broadcaster>, 3> streams;

  // post-transform and pre-adapter hold the same events (the adapter gets
  // exactly what leaves its chain): one ring serves both points.
  static size_t RingIndex(TapPoint point) {
    return static_cast<size_t>(point == TapPoint::kPostTransform ? TapPoint::kPreAdapter : point);
  }

  template <class Span, class Get>
  void Record(TapPoint point, std::string_view adapter, const Span& events, Get get) {
    const size_t r = RingIndex(point);
    // Live streams fed by this ring, each with its own `event:` name.
    std::vector<TapPoint> live;
    for (size_t p = 0; p < streams.size(); ++p) {
      const auto tp = static_cast<TapPoint>(p);
      if (RingIndex(tp) == r && streams[p]->clients() > 0) live.push_back(tp);
    }
    std::vector<std::vector<net::BroadcastFrame>> frames(live.size());
    {
      MutexLock lock(mu);
      Ring& ring = rings[r];
      // Without live streams only the newest ring-size events can stay in
      // the ring: skip (do not serialize) the ones they would overwrite.
      const size_t skip =
          live.empty() && events.size() > ring.slots.size() ? events.size() - ring.slots.size() : 0;
      for (const auto& item : events.subspan(skip)) {
        const Event& e = get(item);
        Entry& slot = ring.slots[ring.next];
        slot.adapter.assign(adapter);
        slot.channel.assign(e.channel);
        slot.json.assign(e.Json());
        ring.next = (ring.next + 1) % ring.slots.size();
        if (ring.size < ring.slots.size()) ++ring.size;
        if (live.empty()) continue;
        const std::string data = Frame(slot);
        for (size_t i = 0; i < live.size(); ++i) {
          frames[i].push_back({.id = {},
                               .channel = e.channel,
                               .bytes = std::make_shared<const std::string>(
                                   net::EncodeSseEvent({}, TapPointName(live[i]), data))});
        }
      }
    }
    for (size_t i = 0; i < live.size(); ++i) {
      streams[static_cast<size_t>(live[i])]->Publish(frames[i]);
    }
  }
};

Inspector::Inspector(size_t capacity)
    : capacity_(capacity), state_(std::make_shared<State>(capacity)) {}

Inspector::~Inspector() { Close(); }

void Inspector::Record(TapPoint point, std::string_view adapter,
                       std::span<const Event* const> events) {
  if (capacity_ == 0 || events.empty()) return;
  state_->Record(point, adapter, events, [](const Event* e) -> const Event& { return *e; });
}

void Inspector::Record(TapPoint point, std::string_view adapter, std::span<const Event> events) {
  if (capacity_ == 0 || events.empty()) return;
  state_->Record(point, adapter, events, std::identity{});
}

std::string Inspector::Snapshot(TapPoint point, size_t limit, std::string_view adapter,
                                std::string_view channel) const {
  std::vector<std::string> picked;  // newest first
  {
    MutexLock lock(state_->mu);
    const Ring& ring = state_->rings[State::RingIndex(point)];
    for (size_t i = 0; i < ring.size && picked.size() < limit; ++i) {
      const size_t idx = (ring.next + ring.slots.size() - 1 - i) % ring.slots.size();
      const Entry& e = ring.slots[idx];
      if (!adapter.empty() && e.adapter != adapter) continue;
      if (!channel.empty() && e.channel != channel) continue;
      picked.push_back(e.json);
    }
  }
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  w.StringField("point", TapPointName(point));
  w.UintField("count", picked.size());
  w.Key("events");
  w.BeginArray();
  for (auto it = picked.rbegin(); it != picked.rend(); ++it) w.Raw(*it);  // oldest first
  w.EndArray();
  w.EndObject();
  return out;
}

void Inspector::Mount(net::HttpServer& server) {
  auto state = state_;
  const size_t capacity = capacity_;
  server.Handle("GET", "/inspect", [this, capacity](const net::HttpRequest& req) {
    net::HttpResponse r;
    auto get = [&](const char* k) -> std::string {
      auto it = req.query.find(k);
      return it == req.query.end() ? std::string() : it->second;
    };
    auto point = ParsePoint(get("point"));
    if (!point) {
      r.status = 400;
      r.body = R"j({"error":"unknown point (post-detector, post-transform, pre-adapter)"})j";
      return r;
    }
    size_t limit = 10;
    const std::string l = get("limit");
    size_t parsed = 0;
    if (!l.empty()) {
      auto [p, ec] = std::from_chars(l.data(), l.data() + l.size(), parsed);
      if (ec == std::errc() && p == l.data() + l.size() && parsed > 0) limit = parsed;
    }
    if (capacity == 0) {
      r.status = 404;
      r.body = R"j({"error":"inspector disabled (--inspect-buffer 0)"})j";
      return r;
    }
    r.body = Snapshot(*point, limit, get("adapter"), get("channel"));
    return r;
  });
  server.HandleEventStream("/inspect/stream", [state, capacity](const net::HttpRequest& req) {
    auto get = [&](const char* k) -> std::string {
      auto it = req.query.find(k);
      return it == req.query.end() ? std::string() : it->second;
    };
    auto point = ParsePoint(get("point"));
    if (!point || capacity == 0) {
      net::HttpResponse r;
      r.status = capacity == 0 ? 404 : 400;
      r.body = capacity == 0 ? R"j({"error":"inspector disabled (--inspect-buffer 0)"})j"
                             : R"j({"error":"unknown point"})j";
      return net::StreamDecision::Refuse(r);
    }
    const auto it = req.query.find("channel");
    auto filter = net::ParseChannelFilter({}, false, it == req.query.end() ? nullptr : &it->second);
    if (!filter.ok) {
      net::HttpResponse r;
      r.status = 400;
      std::string body;
      json::Writer w(body);
      w.BeginObject();
      w.StringField("error", filter.error);
      w.EndObject();
      r.body = body;
      return net::StreamDecision::Refuse(r);
    }
    return net::StreamDecision::Accept(
        state->streams[static_cast<size_t>(*point)]->Subscribe(filter.channels, {}, {}));
  });
}

void Inspector::Close() {
  for (auto& s : state_->streams) s->CloseAll();
}

}  // namespace pgcdc::pipeline
