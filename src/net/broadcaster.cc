#include "net/broadcaster.h"

#include <algorithm>
#include <deque>
#include <unordered_map>

#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/mutex.h"

namespace pgcdc::net {

namespace {

constexpr size_t kMaxFilterChannels = 64;
constexpr size_t kMaxChannelBytes = 256;

using json::HexValue;

}  // namespace

std::string DecodePathComponent(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

ChannelFilter ParseChannelFilter(std::string_view path_channel, bool has_path_channel,
                                 const std::string* query_value) {
  ChannelFilter f;
  auto add = [&](std::string_view name, std::string_view where) {
    if (!f.ok) return;
    if (name.empty()) {
      f.ok = false;
      f.error = "empty channel name in " + std::string(where);
      return;
    }
    if (name.size() > kMaxChannelBytes) {
      f.ok = false;
      f.error = "channel name longer than " + std::to_string(kMaxChannelBytes) + " bytes";
      return;
    }
    for (char c : name) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        f.ok = false;
        f.error = "control character in channel name";
        return;
      }
    }
    f.channels.emplace_back(name);
  };
  if (has_path_channel) add(path_channel, "path");
  if (query_value != nullptr) {
    std::string_view rest = *query_value;
    for (;;) {
      const size_t comma = rest.find(',');
      add(rest.substr(0, comma), "?channel=");
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (f.ok) {
    std::sort(f.channels.begin(), f.channels.end());
    f.channels.erase(std::unique(f.channels.begin(), f.channels.end()), f.channels.end());
    if (f.channels.size() > kMaxFilterChannels) {
      f.ok = false;
      f.error = "more than " + std::to_string(kMaxFilterChannels) + " channels in the filter";
    }
  }
  if (!f.ok) f.channels.clear();
  return f;
}

// ---------------------------------------------------------------------------

namespace {

struct Subscriber {
  std::vector<std::string> channels;  // sorted; empty = all
  std::string label;
  StreamPtr stream;     // set once open
  bool active = false;  // in State::subs and counted in the gauge
  metrics::Gauge* gauge = nullptr;

  bool Wants(const std::string& channel) const {
    return channels.empty() || std::binary_search(channels.begin(), channels.end(), channel);
  }
};

}  // namespace

struct Broadcaster::State {
  explicit State(Options o) : options(std::move(o)) {
    const std::string p = "pgcdc_" + options.name;
    active = &metrics::Default().AddGauge(
        p + "_clients_active",
        "Connected " + options.name + " clients by channel filter (* = all).", {"channel"});
    connected = &metrics::DefaultCounter(p + "_clients_connected_total",
                                         options.name + " clients that connected.");
    slow = &metrics::DefaultCounter(p + "_slow_client_disconnects_total",
                                    options.name +
                                        " clients disconnected because they did not keep up (send "
                                        "queue full or a write stalled).");
    sent = &metrics::DefaultCounter(p + "_events_sent_total", "Events queued to " + options.name +
                                                                  " clients (one per client).");
    if (options.replay_capacity > 0) {
      replayed = &metrics::DefaultCounter(
          p + "_replayed_total",
          "Events re-sent to reconnecting " + options.name + " clients from the replay buffer.");
      replay_misses = &metrics::DefaultCounter(
          p + "_replay_misses_total",
          options.name +
              " reconnects whose last event id was no longer (or never) in the replay buffer.");
    }
  }

  void Deactivate(Subscriber& s) REQUIRES(mu) {
    if (!s.active) return;
    s.active = false;
    s.gauge->Add(-1);
    auto it = std::find_if(subs.begin(), subs.end(),
                           [&](const std::shared_ptr<Subscriber>& p) { return p.get() == &s; });
    if (it != subs.end()) {
      *it = std::move(subs.back());
      subs.pop_back();
    }
  }

  void Remember(const BroadcastFrame& f) REQUIRES(mu) {
    ring.push_back(f);
    if (!f.id.empty()) index[f.id] = ring_first + ring.size() - 1;
    while (ring.size() > options.replay_capacity) {
      const auto& old = ring.front();
      if (!old.id.empty()) {
        auto it = index.find(old.id);
        if (it != index.end() && it->second == ring_first) index.erase(it);
      }
      ring.pop_front();
      ++ring_first;
    }
  }

  const Options options;
  metrics::Family<metrics::Gauge>* active = nullptr;
  metrics::Counter* connected = nullptr;
  metrics::Counter* slow = nullptr;
  metrics::Counter* sent = nullptr;
  metrics::Counter* replayed = nullptr;
  metrics::Counter* replay_misses = nullptr;

  // Also guards the Subscriber objects in `subs` (their stream, active and
  // gauge fields change only under it).
  mutable Mutex mu;
  bool closed GUARDED_BY(mu) = false;
  std::vector<std::shared_ptr<Subscriber>> subs GUARDED_BY(mu);
  std::deque<BroadcastFrame> ring GUARDED_BY(mu);
  uint64_t ring_first GUARDED_BY(mu) = 0;  // sequence number of ring.front()
  std::unordered_map<std::string, uint64_t> index GUARDED_BY(mu);
  // Publish() scratch space.
  std::vector<SharedFrame> all GUARDED_BY(mu);
  std::vector<SharedFrame> some GUARDED_BY(mu);
};

Broadcaster::Broadcaster(Options options) : state_(std::make_shared<State>(std::move(options))) {}

Broadcaster::~Broadcaster() = default;

StreamSpec Broadcaster::Subscribe(std::vector<std::string> channels, std::string last_event_id,
                                  std::map<std::string, std::string> headers) {
  auto sub = std::make_shared<Subscriber>();
  std::sort(channels.begin(), channels.end());
  channels.erase(std::unique(channels.begin(), channels.end()), channels.end());
  sub->channels = std::move(channels);
  if (sub->channels.empty()) {
    sub->label = "*";
  } else {
    for (const auto& c : sub->channels) {
      if (!sub->label.empty()) sub->label += ',';
      sub->label += c;
    }
  }
  StreamSpec spec;
  spec.queue_capacity = state_->options.client_queue;
  spec.keepalive = state_->options.keepalive;
  spec.headers = std::move(headers);
  spec.on_open = [state = state_, sub, last = std::move(last_event_id)](const StreamPtr& stream) {
    MutexLock lock(state->mu);
    if (state->closed) {
      stream->Close(state->options.shutdown_close_code, state->options.shutdown_close_reason,
                    false);
      return;
    }
    sub->stream = stream;
    if (!last.empty() && state->options.replay_capacity > 0) {
      auto it = state->index.find(last);
      if (it == state->index.end()) {
        state->replay_misses->Inc();
        log::Debug("stream: last event id not in the replay buffer",
                   {{"server", state->options.name}, {"peer", stream->peer()}, {"id", last}});
      } else {
        uint64_t n = 0;
        for (size_t i = it->second - state->ring_first + 1; i < state->ring.size(); ++i) {
          const auto& f = state->ring[i];
          if (!sub->Wants(f.channel)) continue;
          if (stream->PushUnbounded(f.bytes) == Stream::PushResult::kQueued) ++n;
        }
        state->replayed->Inc(n);
      }
    }
    sub->gauge = &state->active->With({sub->label});
    sub->gauge->Add(1);
    sub->active = true;
    state->subs.push_back(sub);
    state->connected->Inc();
    log::Debug(
        "stream client connected",
        {{"server", state->options.name}, {"peer", stream->peer()}, {"channel", sub->label}});
  };
  spec.on_close = [state = state_, sub](const StreamPtr& stream, StreamEnd why) {
    MutexLock lock(state->mu);
    if (why == StreamEnd::kSlowClient && sub->active) {
      state->slow->Inc();
      log::Warn(
          "stream client disconnected: write stalled (slow consumer)",
          {{"server", state->options.name}, {"peer", stream->peer()}, {"channel", sub->label}});
    }
    state->Deactivate(*sub);
    sub->stream.reset();
    log::Debug("stream client gone", {{"server", state->options.name},
                                      {"peer", stream->peer()},
                                      {"reason", StreamEndName(why)}});
  };
  return spec;
}

void Broadcaster::Publish(std::span<const BroadcastFrame> frames) {
  if (frames.empty()) return;
  State& st = *state_;
  MutexLock lock(st.mu);
  if (st.options.replay_capacity > 0) {
    for (const auto& f : frames) st.Remember(f);
  }
  if (st.closed || st.subs.empty()) return;
  st.all.clear();
  for (const auto& f : frames) st.all.push_back(f.bytes);
  uint64_t sent = 0;
  for (size_t i = 0; i < st.subs.size();) {
    Subscriber& sub = *st.subs[i];
    std::span<const SharedFrame> batch;
    if (sub.channels.empty()) {
      batch = st.all;
    } else {
      st.some.clear();
      for (const auto& f : frames) {
        if (sub.Wants(f.channel)) st.some.push_back(f.bytes);
      }
      batch = st.some;
    }
    if (batch.empty()) {
      ++i;
      continue;
    }
    size_t queued = 0;
    const auto r = sub.stream->PushMany(batch, queued);
    sent += queued;
    if (r == Stream::PushResult::kQueued) {
      ++i;
      continue;
    }
    // Removing swaps the last subscriber into slot i: do not advance.
    auto keep = st.subs[i];
    if (r == Stream::PushResult::kFull) {
      st.slow->Inc();
      log::Warn("stream client disconnected: send queue full (slow consumer)",
                {{"server", st.options.name},
                 {"peer", sub.stream->peer()},
                 {"channel", sub.label},
                 {"queue", static_cast<uint64_t>(st.options.client_queue)}});
      sub.stream->Close(st.options.slow_close_code, st.options.slow_close_reason, true);
    }
    st.Deactivate(sub);
  }
  st.sent->Inc(sent);
}

void Broadcaster::CloseAll() {
  State& st = *state_;
  MutexLock lock(st.mu);
  st.closed = true;
  for (auto& sub : st.subs) {
    sub->stream->Close(st.options.shutdown_close_code, st.options.shutdown_close_reason, false);
  }
}

bool Broadcaster::closed() const {
  MutexLock lock(state_->mu);
  return state_->closed;
}

size_t Broadcaster::clients() const {
  MutexLock lock(state_->mu);
  return state_->subs.size();
}

}  // namespace pgcdc::net
