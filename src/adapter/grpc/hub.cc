#include "adapter/grpc/hub.h"

#include <algorithm>

#include "core/log.h"
#include "core/metrics.h"
#include "net/broadcaster.h"

namespace pgcdc::adapter::grpc {

namespace {

constexpr size_t kMaxFilterChannels = 64;

struct Metrics {
  metrics::Gauge& active =
      metrics::DefaultGauge("pgcdc_grpc_active_clients", "gRPC Subscribe streams open.");
  metrics::Counter& connected = metrics::DefaultCounter("pgcdc_grpc_clients_connected_total",
                                                        "gRPC Subscribe streams accepted.");
  metrics::Counter& sent = metrics::DefaultCounter(
      "pgcdc_grpc_events_sent_total", "Events queued to gRPC subscribers (replays included).");
  metrics::Counter& slow = metrics::DefaultCounter(
      "pgcdc_grpc_slow_client_disconnects_total",
      "gRPC streams ended with RESOURCE_EXHAUSTED because the client's queue was full.");
  metrics::Counter& replayed = metrics::DefaultCounter(
      "pgcdc_grpc_replayed_total", "Events queued from the replay buffer for resume_from.");
  metrics::Counter& refused = metrics::DefaultCounter(
      "pgcdc_grpc_refused_total",
      "Subscribe calls refused: shutting down, too many clients, resume_from not in the buffer, "
      "bad channel names.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

}  // namespace

Result<std::vector<std::string>> NormalizeChannels(std::vector<std::string> channels) {
  for (const auto& c : channels) {
    // The same name rules as the sse/ws filters.
    auto f = net::ParseChannelFilter(c, /*has_path_channel=*/true, nullptr);
    if (!f.ok) return Fail(ErrorCode::kInvalidArgument, f.error);
  }
  std::sort(channels.begin(), channels.end());
  channels.erase(std::unique(channels.begin(), channels.end()), channels.end());
  if (channels.size() > kMaxFilterChannels) {
    return Fail(ErrorCode::kInvalidArgument,
                "more than " + std::to_string(kMaxFilterChannels) + " channels in the filter");
  }
  return channels;
}

Client::Client(std::vector<std::string> channels, size_t limit, Transport* transport,
               std::shared_ptr<std::atomic<size_t>> active)
    : channels_(std::move(channels)),
      limit_(limit),
      active_(std::move(active)),
      transport_(transport) {
  active_->fetch_add(1);
  M().active.Add(1);
}

bool Client::Wants(std::string_view channel) const {
  return channels_.empty() || std::binary_search(channels_.begin(), channels_.end(), channel);
}

Client::Offered Client::Offer(std::span<const Item> items) {
  MutexLock lock(mu_);
  Offered r;
  if (ended_ != EndReason::kNone) return {.consumed = items.size(), .queued = 0};
  for (const auto& item : items) {
    if (Wants(item.channel)) {
      if (queue_.size() >= limit_) break;
      queue_.push_back(item);
      ++r.queued;
    }
    ++r.consumed;
  }
  if (!writing_) StartNextLocked();
  return r;
}

bool Client::WaitForRoom(std::chrono::steady_clock::time_point deadline) {
  MutexLock lock(mu_);
  waiting_ = true;
  bool room = true;
  while (ended_ == EndReason::kNone && queue_.size() > limit_ / 2) {
    if (!room_.WaitUntil(mu_, deadline)) {
      room = ended_ != EndReason::kNone || queue_.size() <= limit_ / 2;
      break;
    }
  }
  waiting_ = false;
  return room;
}

void Client::StartNextLocked() {
  if (queue_.empty() || transport_ == nullptr || ended_ != EndReason::kNone) {
    writing_ = false;
    return;
  }
  writing_ = true;
  Item next = std::move(queue_.front());
  queue_.pop_front();
  if (waiting_ && queue_.size() <= limit_ / 2) room_.NotifyAll();
  transport_->Send(next, !queue_.empty());
}

void Client::WriteDone(bool ok) {
  MutexLock lock(mu_);
  writing_ = false;
  if (!ok) {
    EndLocked(EndReason::kGone);
    return;
  }
  StartNextLocked();
}

void Client::End(EndReason reason) {
  MutexLock lock(mu_);
  EndLocked(reason);
}

void Client::EndLocked(EndReason reason) {
  if (ended_ != EndReason::kNone) return;
  ended_ = reason;
  queue_.clear();
  active_->fetch_sub(1);
  M().active.Add(-1);
  room_.NotifyAll();
  if (reason == EndReason::kSlow) {
    M().slow.Inc();
    log::Warn("grpc: slow client disconnected (RESOURCE_EXHAUSTED): its queue stayed full",
              {{"queue", std::to_string(limit_)}});
  }
  if (transport_ != nullptr) transport_->Close(reason);
}

void Client::Detach() {
  MutexLock lock(mu_);
  transport_ = nullptr;  // EndLocked must not call it any more
  EndLocked(EndReason::kGone);
}

EndReason Client::ended() const {
  MutexLock lock(mu_);
  return ended_;
}

size_t Client::queued() const {
  MutexLock lock(mu_);
  return queue_.size();
}

Hub::Hub(Options options) : options_(options) {}

Hub::Subscription Hub::Subscribe(std::vector<std::string> channels, const std::string& resume_from,
                                 Transport* transport) {
  auto refuse = [](Refusal r, std::string message) {
    M().refused.Inc();
    return Subscription{.client = nullptr, .refusal = r, .message = std::move(message)};
  };
  auto normalized = NormalizeChannels(std::move(channels));
  if (!normalized) return refuse(Refusal::kBadChannel, normalized.error().message());
  MutexLock lock(mu_);
  if (closed_) return refuse(Refusal::kShuttingDown, "server shutting down");
  if (active_->load() >= options_.max_clients) {
    return refuse(Refusal::kTooManyClients,
                  "too many subscribers (" + std::to_string(options_.max_clients) + ")");
  }
  std::vector<Item> replay;
  if (!resume_from.empty()) {
    auto it = std::find_if(replay_.rbegin(), replay_.rend(),
                           [&](const Item& i) { return i.id == resume_from; });
    if (it == replay_.rend()) {
      return refuse(Refusal::kResumeMiss,
                    "resume_from " + resume_from + ": not in the replay buffer (it keeps the " +
                        "last " + std::to_string(options_.replay_capacity) + " events)");
    }
    for (auto from = it.base(); from != replay_.end(); ++from) {
      if (normalized->empty() || std::binary_search(normalized->begin(), normalized->end(),
                                                    std::string_view(from->channel))) {
        replay.push_back(*from);
      }
    }
  }
  auto client = std::make_shared<Client>(std::move(*normalized),
                                         options_.client_queue + replay.size(), transport, active_);
  clients_.push_back(client);
  M().connected.Inc();
  subscribed_.NotifyAll();
  if (!replay.empty()) {
    M().replayed.Inc(replay.size());
    M().sent.Inc(client->Offer(replay).queued);
  }
  return {.client = std::move(client)};
}

void Hub::Remove(const Client* client) {
  MutexLock lock(mu_);
  std::erase_if(clients_, [&](const auto& c) { return c.get() == client; });
}

void Hub::Publish(std::span<const Item> items) {
  std::vector<std::shared_ptr<Client>> clients;
  {
    // The ring first: a client resuming from one of these ids while they
    // are being queued gets them from the ring, not twice.
    MutexLock lock(mu_);
    if (options_.replay_capacity > 0) {
      for (const auto& item : items) {
        if (item.id.empty()) continue;
        if (replay_.size() == options_.replay_capacity) replay_.pop_front();
        replay_.push_back(item);
      }
    }
    clients = clients_;
  }
  // Without the hub lock: waiting for a slow client must not hold up
  // subscriptions or the end of other streams.
  size_t sent = 0;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  for (const auto& c : clients) sent += OfferTo(*c, items, deadline);
  M().sent.Inc(sent);
}

size_t Hub::OfferTo(Client& client, std::span<const Item> items,
                    std::optional<std::chrono::steady_clock::time_point>& deadline) {
  size_t done = 0;
  size_t queued = 0;
  for (;;) {
    auto r = client.Offer(items.subspan(done));
    done += r.consumed;
    queued += r.queued;
    if (done == items.size()) return queued;
    if (options_.slow_timeout.count() > 0) {
      if (!deadline) deadline = std::chrono::steady_clock::now() + options_.slow_timeout;
      if (client.WaitForRoom(*deadline)) continue;
    }
    client.End(EndReason::kSlow);
    return queued;
  }
}

void Hub::CloseAll() {
  std::vector<std::shared_ptr<Client>> clients;
  {
    MutexLock lock(mu_);
    closed_ = true;
    clients = clients_;
  }
  subscribed_.NotifyAll();
  for (const auto& c : clients) c->End(EndReason::kShutdown);
}

bool Hub::WaitForClient() {
  MutexLock lock(mu_);
  while (!closed_ && active_->load() == 0) subscribed_.Wait(mu_);
  return !closed_;
}

size_t Hub::clients() const { return active_->load(); }

}  // namespace pgcdc::adapter::grpc
