// nats adapter (SPEC §5.12, extended): publishes every event to a NATS
// JetStream stream.
//
//   subject  <prefix>.<channel with ':' → '.'> (a channel that already
//            starts with "<prefix>:" is not prefixed twice)
//   data     the compact envelope JSON (Event::Json()), or its Avro /
//            Protobuf encoding (--nats-encoding; encoding::SinkEncoder)
//   header   Nats-Msg-Id: <event id>, so JetStream drops a redelivered
//            event inside the stream's duplicate window; with avro or
//            protobuf also Content-Type
//
// On Open the adapter connects (client name "pgcdc") and creates the stream
// {name, subjects ["<prefix>.>"], max_age, duplicate_window}, or updates an
// existing one (adding the subject, setting max_age and the duplicate
// window; other settings are kept).
//
// Publishing is asynchronous: up to max_pending messages are in flight, and
// Deliver() returns only when JetStream acknowledged every event of the call
// (or it is in the DLQ). Failure handling — nothing is ever dropped:
//  - connection lost, publish or ack timeout, JetStream unavailable or
//    refusing for a reason an operator fixes (no stream, storage full, …):
//    the adapter stops publishing, waits for the messages still in flight,
//    backs off, reconnects (re-checking the stream) and publishes again
//    every event not yet acknowledged, in order and with the same
//    Nats-Msg-Id. Health is degraded meanwhile.
//  - a message JetStream or the server can never take (larger than the
//    server's max_payload or the stream's max_msg_size), whose channel
//    maps to an invalid subject, or whose value cannot be encoded: the
//    event goes to the DLQ with the reason.
//  - the schema registry unreachable: the event is held like a failed
//    publish (backoff and again), without reconnecting to NATS.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/adapter.h"
#include "adapter/encoding/encoder.h"
#include "client/nats_client.h"
#include "core/backoff.h"
#include "core/sleep.h"
#include "registry/registry.h"

namespace pgcdc {
class Health;
}
namespace pgcdc::encoding {
class SinkEncoder;
}

namespace pgcdc::adapter::nats {

// The connection keys (nats.url, nats.cred_file, nats.tls_ca_file) are the
// shared ones of client/nats_client.h.
struct Options : client::nats::Connection {
  std::string subject = "pgcdc";
  std::string stream = "pgcdc";
  std::chrono::milliseconds max_age = std::chrono::hours(24);  // 0 = unlimited
  std::chrono::milliseconds duplicate_window = std::chrono::minutes(2);
  encoding::Settings encoding;  // message encoding and schema registry (docs/encodings.md)
  int64_t max_pending = 4096;   // messages in flight (published, not yet acknowledged)
  std::chrono::milliseconds timeout{10'000};  // connect, stream API and ack deadline
  BackoffPolicy backoff{std::chrono::seconds(1), std::chrono::seconds(30),
                        std::chrono::milliseconds(100)};
};

// --- pure pieces (unit tested) ---

using client::nats::ParseServers;
using client::nats::RedactServers;

// A literal subject: non-empty dot-separated tokens, no whitespace or
// control characters, no wildcard token ("*", ">"). Empty when valid, else
// the reason.
std::string SubjectProblem(std::string_view subject);
// A stream name JetStream accepts; empty when valid, else the reason.
std::string StreamNameProblem(std::string_view name);
// The subject of a channel (SPEC §5.12), or kInvalidArgument when the
// channel maps to no valid subject.
Result<std::string> SubjectFor(std::string_view prefix, std::string_view channel);

// What to do with a failed publish: status is the libnats natsStatus, and
// js_code the JetStream error code of a negative ack (0 when none).
enum class PublishFailure { kRetry, kDeadLetter };
PublishFailure ClassifyPublishFailure(int status, int js_code);

// Where each event of one Deliver() call stands. Events are published in
// index order; after a failure nothing new is published until every message
// in flight is answered, then the failed events are queued again (lowest
// first) for the retry.
class AckWindow {
 public:
  enum class State : uint8_t { kQueued, kInFlight, kFailed, kDone };

  void Reset(size_t n);
  // The lowest queued event when fewer than `max_in_flight` are in flight.
  std::optional<size_t> Next(size_t max_in_flight);
  void Sent(size_t i);  // queued → in flight
  // In flight (or queued: never sent, e.g. dead-lettered before) → done.
  // False (and no change) for an event in any other state: a stale answer.
  bool Done(size_t i);
  // In flight → failed; false (no change) otherwise.
  bool Failed(size_t i);
  // Every in-flight event → failed (the connection was lost); how many.
  size_t FailInFlight();
  // Every failed event → queued; how many.
  size_t Requeue();

  State state(size_t i) const { return states_[i]; }
  size_t size() const { return states_.size(); }
  size_t in_flight() const { return in_flight_; }
  size_t failed() const { return failed_; }
  size_t done() const { return done_; }
  bool complete() const { return done_ == states_.size(); }

 private:
  std::vector<State> states_;
  size_t cursor_ = 0;  // no queued event below this index
  size_t in_flight_ = 0;
  size_t failed_ = 0;
  size_t done_ = 0;
};

class NatsAdapter : public Adapter {
 public:
  explicit NatsAdapter(Options options);
  ~NatsAdapter() override;
  NatsAdapter(const NatsAdapter&) = delete;
  NatsAdapter& operator=(const NatsAdapter&) = delete;

  std::string_view Name() const override { return "nats"; }
  Status Attach(const adapter::Services& services) override;
  // Connects and creates or updates the stream.
  Status Open() override;
  // Returns once JetStream acknowledged every event (or it is in the DLQ).
  Status Deliver(std::span<const Event* const> events) override;
  // While idle: notices a lost connection (health degraded) and reconnects
  // when the backoff allows (health up again).
  Status Flush() override;
  void Interrupt() override;
  void Close() override;

  struct Conn;

 private:
  struct Slot {
    const Event* event = nullptr;
    std::string subject;
    std::string msg_id;
    std::string data;      // the encoded message (avro, protobuf)
    bool encoded = false;  // `data` holds it
    std::chrono::steady_clock::time_point sent;
  };
  Status Connect();
  void Disconnect();
  // Publishes queued events while the window has room; a failure to hand
  // one to the connection sets `failure`.
  Status PublishQueued(std::string& failure);
  // The message data of event i: the envelope JSON, or its encoding (made
  // once per Deliver). Null when there is none: the event was dead-lettered,
  // or `failure` is set (registry unreachable; the event stays queued).
  Result<const std::string*> MessageData(size_t i, std::string& failure);
  // Applies the acks and negative acks that arrived, after waiting up to
  // `wait` until at most `wake_at` messages are in flight (or an error).
  Status TakeAnswers(std::chrono::milliseconds wait, size_t wake_at, std::string& failure);
  Status DeadLetter(size_t i, const std::string& reason);
  void Degraded(const std::string& why);
  void Recovered();

  Options options_;
  std::vector<std::string> servers_;
  dlq::DeadLetterQueue* dlq_ = nullptr;
  Health* health_ = nullptr;
  std::unique_ptr<Conn> conn_;
  std::unique_ptr<encoding::SinkEncoder> encoder_;
  // The current failure is the encoder's: the retry keeps the connection.
  bool encoder_failure_ = false;
  std::vector<Slot> slots_;
  AckWindow window_;
  Sleeper sleeper_;
  Backoff backoff_;
  bool degraded_ = false;
  std::chrono::steady_clock::time_point next_probe_{};
  // Last answer (or first publish with nothing in flight): the ack deadline
  // runs from here.
  std::chrono::steady_clock::time_point last_progress_{};
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::nats
