// Broadcaster: fans shared frames out to many streaming clients (SSE,
// WebSocket) without ever blocking the publisher.
//
// Every client has a bounded queue (its Stream). Publish() only enqueues: a
// client that still has `client_queue` frames waiting when a new batch comes
// is a slow consumer and is disconnected at once
// (counted, logged); the others are unaffected. Optionally keeps a bounded
// ring of recent frames so a reconnecting SSE client can resume after the
// last id it saw (Last-Event-ID).
//
// Use: a stream route handler calls Subscribe() to get the StreamSpec for the
// request; the sink calls Publish() from its own thread; CloseAll() at
// shutdown. Thread-safe. Callbacks keep the shared state alive, so the
// Broadcaster may be destroyed before the HTTP server.
//
// Metrics (prefix = "pgcdc_" + Options::name):
//   <prefix>_clients_active{channel}       gauge; "*" = unfiltered, else the
//                                           sorted filter joined with ","
//   <prefix>_clients_connected_total       counter
//   <prefix>_slow_client_disconnects_total counter
//   <prefix>_events_sent_total             counter, frames queued to clients
//   <prefix>_replayed_total / <prefix>_replay_misses_total (replay only)
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/stream.h"

namespace pgcdc::net {

struct BroadcastFrame {
  std::string id;       // replay key (may be empty: never a resume point)
  std::string channel;  // matched against client filters
  SharedFrame bytes;
};

class Broadcaster {
 public:
  struct Options {
    std::string name = "stream";  // metric prefix part and log field
    size_t client_queue = 1024;   // frames per client
    size_t replay_capacity = 0;   // frames kept for resume; 0 = off
    std::chrono::milliseconds keepalive{std::chrono::seconds(15)};
    uint16_t slow_close_code = kWsCloseTryAgainLater;
    std::string slow_close_reason = "slow consumer: send queue full";
    uint16_t shutdown_close_code = kWsCloseNormal;
    std::string shutdown_close_reason = "server shutting down";
  };

  explicit Broadcaster(Options options);
  ~Broadcaster();
  Broadcaster(const Broadcaster&) = delete;
  Broadcaster& operator=(const Broadcaster&) = delete;

  // A StreamSpec for one client. `channels` empty = every channel.
  // `last_event_id` non-empty: on open, frames after that id still in the ring
  // (and matching the filter) are queued first. `headers` go into the response.
  StreamSpec Subscribe(std::vector<std::string> channels, std::string last_event_id,
                       std::map<std::string, std::string> headers = {});

  // Queues the frames (in order) to every matching client. Never blocks.
  void Publish(std::span<const BroadcastFrame> frames);

  // Ends every client with the shutdown close code (queued frames are still
  // written, bounded by the server's linger) and refuses new subscriptions.
  void CloseAll();
  bool closed() const;
  size_t clients() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// Parses a client channel filter: the path remainder (already percent-
// decoded) plus a comma-separated `?channel=` value. Empty result = all.
// Fails on empty names, control characters, names over 256 bytes or more than
// 64 channels.
struct ChannelFilter {
  bool ok = true;
  std::string error;
  std::vector<std::string> channels;  // sorted, unique
};
ChannelFilter ParseChannelFilter(std::string_view path_channel, bool has_path_channel,
                                 const std::string* query_value);

// Percent-decodes a URL path segment (no '+' handling). Malformed escapes are
// kept literally.
std::string DecodePathComponent(std::string_view s);

}  // namespace pgcdc::net
