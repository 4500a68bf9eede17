// nats_consumer source (SPEC §2.9, issue 18; docs/nats_consumer.md): a
// durable JetStream pull consumer `durable` on `stream` (created, or updated
// to this configuration, on start: explicit ack, deliver all, ack_wait,
// max_pending as MaxAckPending, the subject as filter when one is given).
// Every message becomes an event (consume.h: channel pgcdc:<subject with
// '.' → ':'>, operation NATS_CONSUME, source nats_consumer, created_at =
// the time JetStream stored it), or with unwrap the pgcdc event it holds.
//
// Delivery: at-least-once, with each message acked only after every
// adapter delivered its event (deliberately unlike SPEC's ack on enqueue).
// A message waiting longer than half of ack_wait is kept alive with an
// in-progress ack, so slow sinks do not cause redeliveries; an unacked
// message (kill -9) is delivered again after ack_wait by JetStream, with
// the same event id (derived from stream and stream sequence). Several
// subjects: libnats 3.4 / nats-server 2.9 have no multi-filter consumer, so
// the consumer reads the whole stream and messages of other subjects are
// acked without becoming events (counted as skipped).
//
// Errors: a server that cannot be reached or a stream that does not exist
// at start is a configuration error (exit 2); a connection lost later is
// reconnected with backoff (detector.backoff_*). With unwrap, a message that
// is not a pgcdc envelope goes to the DLQ (counted) and is acked.
//
// Thread: Run() on the detector thread; libnats' own threads only send.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client/nats_client.h"
#include "core/retry_policy.h"
#include "detector/consume/consume.h"
#include "detector/detector.h"

namespace pgcdc::detector::nats_consumer {

// Also the connector's config struct (nats_consumer.* and the shared nats.*
// connection keys).
struct Options : client::nats::Connection {
  std::string stream = "pgcdc";
  std::vector<std::string> subjects;  // empty: every subject of the stream
  std::string durable = "pgcdc";
  bool unwrap = false;
  bool metadata = false;
  std::chrono::milliseconds ack_wait{30000};
  std::chrono::milliseconds fetch_wait{500};
  std::chrono::milliseconds timeout{10000};  // connect and JetStream requests
  int64_t max_pending = 10000;
  int64_t batch_size = 500;
  RetryPolicy backoff;  // detector.backoff_base / detector.backoff_cap
  // After a stop request, how long consumed events may still be delivered
  // so their messages are acked (set from shutdown_timeout).
  std::chrono::milliseconds stop_grace{2500};
};

// NATS subject matching: `pattern` tokens "*" (one token) and ">" (the
// rest, at least one token).
bool SubjectMatches(std::string_view pattern, std::string_view subject);

// One consumed message, as the conversion needs it.
struct Message {
  std::string_view stream;
  std::string_view subject;
  uint64_t seq = 0;           // stream sequence
  int64_t timestamp_ns = -1;  // -1: unknown (created_at = now)
  std::string_view data;
  std::vector<consume::Header> headers;
};

using consume::Converted;
Converted MessageEvent(const Message& m, const Options& o);

class NatsConsumerDetector final : public Detector {
 public:
  explicit NatsConsumerDetector(Options options);
  std::string_view Name() const override { return "nats_consumer"; }
  Status Run(RunContext& ctx) override;

  struct Session;  // one connection (libnats stays in the .cc)

 private:
  Status RunCycle(RunContext& ctx, Supervisor::Session& session);

  Options options_;
  std::vector<std::string> servers_;
  uint64_t next_seq_ = 0;  // seqs keep rising across connections
};

}  // namespace pgcdc::detector::nats_consumer
