#include "adapter/kafka/kafka_adapter.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "adapter/encoding/params.h"
#include "adapter/encoding/sink_encoder.h"
#include "adapter/kafka/in_flight.h"
#include "adapter/kafka/offsets_topic.h"
#include "adapter/kafka/position.h"
#include "adapter/middleware/flow.h"
#include "adapter/middleware/params.h"
#include "client/kafka_client.h"
#include "codec/kafka/topic_name.h"
#include "config/config.h"
#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/sleep.h"
#include "core/time.h"
#include "core/trace_context.h"
#include "dlq/dlq.h"
#include "registry/define.h"

namespace pgcdc::adapter::kafka {

namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kAdapter = "kafka";
// How long one wait for delivery reports blocks before re-checking for an
// interrupt (only while the adapter has to wait anyway).
constexpr milliseconds kPollSlice{100};
// Polls (of kPollSlice) that purged records get to report back before the
// producer is destroyed.
constexpr int kPurgePolls = 20;
// Longest single blocking call of the transactional API; a call that times
// out is resumed, so shutdown interrupts are noticed within this.
constexpr milliseconds kTxnCallSlice{1000};

struct Metrics {
  metrics::Counter* delivered;
  metrics::Counter* retried;
  metrics::Counter* dead_lettered;
  metrics::Counter* client_errors;
  metrics::Counter* restarts;
  metrics::Gauge* in_flight;
  metrics::Counter* txn_committed;
  metrics::Counter* txn_aborted;
  metrics::Counter* skipped;
  metrics::Counter* txn_errors;
  metrics::Histogram* publish_seconds;
};

const Metrics& M() {
  static const Metrics m = [] {
    auto& r = metrics::Default();
    return Metrics{
        &r.AddCounter("pgcdc_kafka_records_delivered_total",
                      "Records the Kafka brokers confirmed (acks=all).")
             .Get(),
        &r.AddCounter("pgcdc_kafka_records_retried_total",
                      "Records produced again after they failed with a transient error (or to "
                      "follow such a record of the same key).")
             .Get(),
        &r.AddCounter("pgcdc_kafka_records_dead_lettered_total",
                      "Events sent to the DLQ because Kafka will never accept their record (or "
                      "their value cannot be encoded).")
             .Get(),
        &r.AddCounter("pgcdc_kafka_client_errors_total",
                      "Errors the Kafka client reported (connection failures included).")
             .Get(),
        &r.AddCounter("pgcdc_kafka_producer_restarts_total",
                      "Times the Kafka producer was recreated after a fatal error.")
             .Get(),
        &r.AddGauge("pgcdc_kafka_records_in_flight",
                    "Records produced and not yet confirmed and acknowledged.")
             .Get(),
        &r.AddCounter("pgcdc_kafka_transactions_total",
                      "Kafka transactions of the exactly-once mode, by outcome.", {"result"})
             .With({"committed"}),
        &r.AddCounter("pgcdc_kafka_transactions_total",
                      "Kafka transactions of the exactly-once mode, by outcome.", {"result"})
             .With({"aborted"}),
        &r.AddCounter("pgcdc_kafka_events_skipped_total",
                      "Events not produced again after a restart because a committed Kafka "
                      "transaction already holds them (exactly-once mode).")
             .Get(),
        &r.AddCounter("pgcdc_kafka_transaction_errors_total",
                      "Kafka transaction commits that failed (retried or aborted) in the "
                      "exactly-once mode.")
             .Get(),
        &r.AddHistogram("pgcdc_kafka_publish_duration_seconds",
                        "Time from handing a record to the producer to the brokers' confirmation.",
                        metrics::DefaultBuckets())
             .Get(),
    };
  }();
  return m;
}

// A librdkafka configuration with every producer property of `o` set.
Result<client::kafka::ConfPtr> BuildConf(const Options& o) {
  return client::kafka::BuildConf(ProducerProperties(o));
}

}  // namespace

std::vector<std::pair<std::string, std::string>> ProducerProperties(const Options& o) {
  std::vector<std::pair<std::string, std::string>> p = {
      {"client.id", "pgcdc"},
      {"acks", "all"},
      {"enable.idempotence", "true"},
      {"linger.ms", std::to_string(o.linger.count())},
      {"message.max.bytes", std::to_string(o.max_message_bytes)},
      {"compression.codec", o.compression},
      {"queue.buffering.max.messages", std::to_string(std::max<size_t>(o.max_in_flight, 1))},
  };
  milliseconds timeout = o.delivery_timeout;
  if (!o.transactional_id.empty()) {
    // A transaction cannot outlive its timeout: neither may its records.
    if (timeout.count() == 0 || timeout > o.transaction_timeout) timeout = o.transaction_timeout;
    p.emplace_back("transactional.id", o.transactional_id);
    p.emplace_back("transaction.timeout.ms", std::to_string(o.transaction_timeout.count()));
  }
  p.emplace_back("message.timeout.ms", std::to_string(timeout.count()));
  for (auto& kv : ClientProperties(o)) p.push_back(std::move(kv));
  return p;
}

std::vector<std::pair<std::string, std::string>> ClientProperties(const Options& o) {
  return client::kafka::ConnectionProperties(o, o.properties);
}

std::vector<std::string> ValidateOptions(const Options& o) {
  std::vector<std::string> errors;
  client::kafka::ValidateConnection(o, "adapter kafka", o.properties, "kafka.properties", errors);
  if (!o.topic.empty() && !codec::kafka::IsValidTopicName(o.topic)) {
    errors.push_back("kafka.topic: \"" + o.topic +
                     "\" is not a valid Kafka topic name (1..249 of [a-zA-Z0-9._-], not . or ..)");
  }
  for (auto& e : encoding::ValidateSettings(o.encoding)) errors.push_back(std::move(e));
  for (auto& e : middleware::ValidateFlow(o.flow, "kafka.")) errors.push_back(std::move(e));
  if (!o.offsets_topic.empty() && !codec::kafka::IsValidTopicName(o.offsets_topic)) {
    errors.push_back("kafka.offsets_topic: \"" + o.offsets_topic +
                     "\" is not a valid Kafka topic name");
  }
  ValidateBackoff("kafka", o.backoff, errors);
  if (errors.empty()) {
    if (auto conf = BuildConf(o); !conf) errors.push_back("kafka: " + conf.error().message());
  }
  return errors;
}

// ---------------------------------------------------------------------------

struct KafkaAdapter::Impl {
  explicit Impl(Options options)
      : o(std::move(options)),
        window(std::max<size_t>(o.max_in_flight, 1)),
        backoff(o.backoff),
        encoder(std::string(kAdapter), o.encoding),
        flow(std::string(kAdapter), o.flow) {}

  Options o;
  dlq::DeadLetterQueue* dlq = nullptr;
  Health* health = nullptr;
  rd_kafka_t* rk = nullptr;
  std::unordered_map<std::string, rd_kafka_topic_t*> topics;  // by topic name
  std::unordered_map<std::string, std::string> topic_names;   // channel -> topic
  InFlight window;
  Sleeper sleeper;
  Backoff backoff;
  bool fatal = false;  // the producer reported a fatal error: recreate it
  std::string fatal_error;
  bool degraded = false;
  SteadyClock::time_point last_probe{};
  encoding::SinkEncoder encoder;
  std::string encoded;  // the value Encode() wrote, until FillRecord() takes it
  middleware::FlowControl flow;
  // The record the half-open circuit breaker let through as its probe, and
  // whether a probe got through (the next round then goes at once).
  const Record* probe_record = nullptr;
  bool probe_passed = false;
  // Exactly-once (a transactional id is set).
  struct Position {
    Uuid id;
    uint64_t lsn = 0;
    uint64_t seq = 0;
  };
  std::optional<Uuid> committed;     // read back at Open(): skip events at or before it
  bool txn_open = false;             // a Kafka transaction is open
  size_t txn_events = 0;             // records produced in it
  bool offsets_sent = false;         // its offsets record is produced
  std::optional<Position> txn_last;  // the newest position it covers

  bool transactional() const { return !o.transactional_id.empty(); }

  bool interrupted() const { return sleeper.woken(); }
  static Error Cancelled() { return Error(ErrorCode::kCancelled, "kafka: interrupted"); }

  // ---- health ----
  void Degrade(const std::string& why) {
    if (!degraded) {
      log::Warn("kafka: brokers or schema registry failing; health degraded",
                {{"adapter", kAdapter}, {"reason", why}});
    }
    degraded = true;
    if (health != nullptr) health->Set(std::string(kAdapter), HealthStatus::kDegraded, why);
  }
  void Recovered() {
    if (!degraded) return;
    degraded = false;
    log::Info("kafka: delivering again; health up", {{"adapter", kAdapter}});
    if (health != nullptr) health->Up(std::string(kAdapter));
  }

  // ---- librdkafka callbacks (served by rd_kafka_poll on the worker) ----
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    auto* r = static_cast<Record*>(m->_private);
    if (r == nullptr) return;
    self->Delivered(*r, m->err);
  }
  void Delivered(Record& r, rd_kafka_resp_err_t err) {
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      M().publish_seconds->Observe(
          std::chrono::duration<double>(SteadyClock::now() - r.produced_at).count());
      window.Delivered(r, transactional());
      M().delivered->Inc();
      BreakerSaw(r, true);
      Recovered();
      return;
    }
    Failed(r, err, rd_kafka_err2str(err));
  }

  // ---- circuit breaker ----
  // The outcome of a record for the breaker: `answered` when the broker took
  // or refused it, not when it failed transiently.
  void BreakerSaw(const Record& r, bool answered) {
    if (!flow.breaker_enabled()) return;
    const bool probe = &r == probe_record;
    if (probe) probe_record = nullptr;
    if (answered) {
      probe_passed = probe_passed || probe;
      flow.OnSuccess(probe);
    } else {
      flow.OnFailure(probe, SteadyClock::now());
    }
  }
  // A probe that will never report (purged, aborted) failed.
  void ProbeLost() {
    if (probe_record == nullptr) return;
    probe_record = nullptr;
    flow.OnFailure(true, SteadyClock::now());
  }
  // A record the producer gave up on (delivery report or produce call).
  void Failed(Record& r, rd_kafka_resp_err_t err, std::string text) {
    char buf[512];
    const bool is_fatal = rd_kafka_fatal_error(rk, buf, sizeof buf) != RD_KAFKA_RESP_ERR_NO_ERROR;
    // Purged records (producer recreated) say nothing about the brokers.
    if (err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
      BreakerSaw(r, ClassifyError(err, is_fatal) == Failure::kDeadLetter);
    }
    switch (ClassifyError(err, is_fatal)) {
      case Failure::kDeadLetter:
        window.Rejected(r, std::move(text));
        return;
      case Failure::kFatal:
        if (!fatal) fatal_error = is_fatal ? std::string(buf) : text;
        fatal = true;
        [[fallthrough]];
      case Failure::kRetry:
        window.Failed(r, std::move(text));
        return;
    }
  }
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    M().client_errors->Inc();
    const auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
      self->Degrade(std::string("all brokers down: ") + reason);
    } else if (code == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      rd_kafka_fatal_error(rk, buf, sizeof buf);
      self->fatal = true;
      self->fatal_error = buf;
    } else if (code != RD_KAFKA_RESP_ERR__TRANSPORT) {
      // Transport errors repeat while a broker is down; the log callback
      // already reports them.
      log::Warn("kafka: client error",
                {{"adapter", kAdapter}, {"error", rd_kafka_err2name(code)}, {"reason", reason}});
    }
  }
  static void OnLog(const rd_kafka_t*, int level, const char* fac, const char* buf) {
    // syslog levels: <= 4 (warning) are worth an operator's attention.
    const log::Level l = level <= 3   ? log::Level::kError
                         : level == 4 ? log::Level::kWarn
                                      : log::Level::kDebug;
    if (log::Enabled(l)) {
      log::Write(l, "kafka: librdkafka", {{"adapter", kAdapter}, {"facility", fac}, {"msg", buf}});
    }
  }

  // ---- producer lifecycle ----
  Status CreateProducer() {
    auto conf = BuildConf(o);
    if (!conf) return Fail(conf.error());
    rd_kafka_conf_set_opaque(conf->get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf->get(), &Impl::OnDelivery);
    rd_kafka_conf_set_error_cb(conf->get(), &Impl::OnError);
    rd_kafka_conf_set_log_cb(conf->get(), &Impl::OnLog);
    char err[512];
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), err, sizeof err);
    if (rk == nullptr) return Fail(ErrorCode::kConfig, std::string("kafka: producer: ") + err);
    (void)conf->release();  // rd_kafka_new owns it now
    fatal = false;
    fatal_error.clear();
    return Ok();
  }

  void DestroyProducer() {
    if (rk == nullptr) return;
    // Pending delivery reports point into `window`: collect them (as
    // failures) before the producer goes.
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < kPurgePolls && window.in_flight() > 0; ++i) {
      rd_kafka_poll(rk, static_cast<int>(kPollSlice.count()));
    }
    // Whatever did not report back is unconfirmed all the same.
    window.FailInFlight("producer closed before the broker confirmed the record");
    ProbeLost();
    for (auto& [name, t] : topics) rd_kafka_topic_destroy(t);
    topics.clear();
    rd_kafka_destroy(rk);
    rk = nullptr;
  }

  // A fatal error left the producer unusable: a new one produces everything
  // not yet confirmed again (the idempotence state starts over).
  Status RestartProducer() {
    const milliseconds delay = backoff.Next();
    log::Warn(
        "kafka: fatal producer error; recreating the producer and producing the "
        "unconfirmed records again",
        {{"adapter", kAdapter},
         {"error", fatal_error},
         {"retry_in_ms", static_cast<int64_t>(delay.count())}});
    Degrade(fatal_error);
    M().restarts->Inc();
    DestroyProducer();  // in-flight records come back as failed
    if (!sleeper.SleepFor(delay)) return Fail(Cancelled());
    return CreateProducer();
  }

  // Blocks up to `wait` for the brokers' metadata; the error text on failure.
  std::optional<std::string> Probe(milliseconds wait) {
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk, 0, nullptr, &md, static_cast<int>(wait.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return std::string(rd_kafka_err2str(err));
    rd_kafka_metadata_destroy(md);
    return std::nullopt;
  }

  rd_kafka_topic_t* TopicHandle(const std::string& name) {
    auto it = topics.find(name);
    if (it != topics.end()) return it->second;
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, name.c_str(), nullptr);
    if (t != nullptr) topics.emplace(name, t);
    return t;
  }

  // ---- producing ----
  // Topic, key, id and (envelope) value of a record made from `e`; the
  // envelope is the shared event's cached encoding.
  void FillRecord(Record& r, const Event& e) {
    e.id.AppendTo(r.id);
    auto [it, fresh] = topic_names.try_emplace(e.channel);
    if (fresh) it->second = TopicFor(e, o.topic);
    r.topic.assign(it->second);
    r.key.assign(RecordKey(e, o.key, r.id));
    if (!encoder.passthrough()) {
      r.value.swap(encoded);  // EncodeValue() wrote it
      r.value_is_payload = false;
    } else if (o.value == ValueMode::kEnvelope) {
      r.value.assign(e.Json());
      r.value_is_payload = false;
    }
  }

  // The record value of `e` in the configured encoding, into `encoded`. A
  // value that can never be encoded leaves its reason in `rejected` (the
  // event goes to the DLQ). While the schema registry is unreachable the
  // event is held: an open transaction is committed first, then pgcdc backs
  // off (serving the producer) and encodes again.
  Status EncodeValue(const Event& e, std::optional<std::string>& rejected) {
    const std::string_view json =
        o.value == ValueMode::kEnvelope ? std::string_view(e.Json()) : std::string_view(e.payload);
    bool held = false;
    for (;;) {
      auto r = encoder.Encode(e, json, encoded);
      if (r) {
        if (held) backoff.Reset();
        return Ok();
      }
      switch (r.error().kind) {
        case encoding::EncodeFailure::Kind::kDeadLetter:
          rejected = std::move(r.error().message);
          return Ok();
        case encoding::EncodeFailure::Kind::kCancelled:
          return Fail(Cancelled());
        case encoding::EncodeFailure::Kind::kRetry:
          break;
      }
      if (transactional() && txn_open) {
        if (auto st = CommitTxn(); !st) return st;
      }
      held = true;
      Degrade(r.error().message);
      const milliseconds delay = backoff.Next();
      log::Warn("kafka: cannot encode the event; holding it and trying again",
                {{"adapter", kAdapter},
                 {"event_id", e.id.ToString()},
                 {"error", r.error().message},
                 {"retry_in_ms", static_cast<int64_t>(delay.count())}});
      if (auto st = ServiceFor(delay); !st) return st;
    }
  }

  // Serves delivery reports for `wait` (a rate-limit or backoff wait).
  Status ServiceFor(SteadyClock::duration wait) {
    const auto until = SteadyClock::now() + wait;
    for (;;) {
      if (interrupted()) return Fail(Cancelled());
      const auto left = until - SteadyClock::now();
      if (left <= SteadyClock::duration::zero()) return Ok();
      const auto ms = std::chrono::duration_cast<milliseconds>(left);
      if (ms.count() == 0) {
        if (!sleeper.SleepFor(left)) return Fail(Cancelled());
        continue;
      }
      if (auto st = Service(std::min(ms, kPollSlice)); !st) return st;
    }
  }

  // One rate-limit token for a new record; waits for it.
  Status RateLimit() {
    const auto wait = flow.TakeTokens(1, SteadyClock::now());
    if (wait <= SteadyClock::duration::zero()) return Ok();
    return ServiceFor(wait);
  }

  // Before producing failed records again: the backoff delay, or while the
  // circuit breaker is open, until it lets a probe through. True when this
  // round is the probe (one record, or one transaction).
  Result<bool> AwaitRetry(std::string_view what, const std::string& error) {
    Degrade(error);
    if (std::exchange(probe_passed, false)) {
      backoff.Reset();
      return false;
    }
    if (flow.breaker_enabled() && flow.state() != middleware::CircuitBreaker::State::kClosed) {
      for (;;) {
        const auto permit = flow.Acquire(SteadyClock::now());
        if (permit.allowed) {
          if (permit.probe) {
            log::Info("kafka: circuit breaker half-open; producing one probe",
                      {{"adapter", kAdapter}, {"error", error}});
          }
          return permit.probe;
        }
        if (!sleeper.SleepFor(permit.wait)) return Fail(Cancelled());
      }
    }
    const milliseconds delay = backoff.Next();
    log::Warn(what, {{"adapter", kAdapter},
                     {"records", static_cast<uint64_t>(window.retrying())},
                     {"error", error},
                     {"retry_in_ms", static_cast<int64_t>(delay.count())}});
    if (!sleeper.SleepFor(delay)) return Fail(Cancelled());
    return false;
  }

  // Hands `r` (state kInFlight) to the producer; a synchronous failure is
  // recorded in the window like a delivery report.
  Status Produce(Record& r) {
    r.produced_at = SteadyClock::now();
    for (;;) {
      rd_kafka_topic_t* topic = TopicHandle(r.topic);
      if (topic == nullptr) {
        const rd_kafka_resp_err_t err = rd_kafka_last_error();
        Failed(r, err, std::string("topic ") + r.topic + ": " + rd_kafka_err2str(err));
        return Ok();
      }
      const std::string& value = r.Value();
      const auto headers = RecordHeaders(r.event, r.id, encoder.content_type());
      // Tracing on: the four headers plus traceparent/tracestate.
      const std::string traceparent =
          trace::Enabled() ? trace::DeliveryTraceparent(r.event, "kafka") : std::string();
      rd_kafka_resp_err_t err;
      if (traceparent.empty()) {
        err = rd_kafka_producev(rk, RD_KAFKA_V_RKT(topic),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                                RD_KAFKA_V_TIMESTAMP(r.event.created_at_ns / 1000000),
                                RD_KAFKA_V_HEADER(headers[0].name.data(), headers[0].value.data(),
                                                  static_cast<ssize_t>(headers[0].value.size())),
                                RD_KAFKA_V_HEADER(headers[1].name.data(), headers[1].value.data(),
                                                  static_cast<ssize_t>(headers[1].value.size())),
                                RD_KAFKA_V_HEADER(headers[2].name.data(), headers[2].value.data(),
                                                  static_cast<ssize_t>(headers[2].value.size())),
                                RD_KAFKA_V_HEADER(headers[3].name.data(), headers[3].value.data(),
                                                  static_cast<ssize_t>(headers[3].value.size())),
                                RD_KAFKA_V_OPAQUE(&r), RD_KAFKA_V_END);
      } else {
        rd_kafka_headers_t* list = rd_kafka_headers_new(headers.size() + 2);
        for (const Header& h : headers) {
          rd_kafka_header_add(list, h.name.data(), static_cast<ssize_t>(h.name.size()),
                              h.value.data(), static_cast<ssize_t>(h.value.size()));
        }
        rd_kafka_header_add(list, "traceparent", -1, traceparent.data(),
                            static_cast<ssize_t>(traceparent.size()));
        if (const std::string state = trace::TracestateOf(r.event); !state.empty()) {
          rd_kafka_header_add(list, "tracestate", -1, state.data(),
                              static_cast<ssize_t>(state.size()));
        }
        err = rd_kafka_producev(rk, RD_KAFKA_V_RKT(topic),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_KEY(r.key.data(), r.key.size()),
                                RD_KAFKA_V_TIMESTAMP(r.event.created_at_ns / 1000000),
                                RD_KAFKA_V_HEADERS(list), RD_KAFKA_V_OPAQUE(&r), RD_KAFKA_V_END);
        // On success the producer owns the list.
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(list);
      }
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Ok();
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        // The producer's queue is full: serve delivery reports and try again.
        if (interrupted()) return Fail(Cancelled());
        rd_kafka_poll(rk, static_cast<int>(kPollSlice.count()));
        continue;
      }
      std::string text = rd_kafka_err2str(err);
      if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        text += " (" + std::to_string(value.size() + r.key.size()) +
                " bytes of key and value; kafka.max_message_bytes is " +
                std::to_string(o.max_message_bytes) + ")";
      }
      Failed(r, err, std::move(text));
      return Ok();
    }
  }

  // Dead-letters the records Kafka rejected; they are then finished.
  Status DeadLetterRejected() {
    for (Record* r : window.TakeRejected()) {
      if (dlq == nullptr) {
        return Fail(ErrorCode::kInvalidArgument,
                    "kafka: event " + r->id + " was rejected (" + r->error +
                        ") and no dead letter queue is attached to record it");
      }
      if (auto st = dlq->Record(r->event, kAdapter, r->error); !st) {
        return Fail(
            st.error().Wrap("kafka: dead-letter event " + r->id + " (rejected: " + r->error + ")"));
      }
      window.Finish(*r);
      M().dead_lettered->Inc();
      log::Warn(
          "kafka: record rejected; event sent to the dead letter queue",
          {{"adapter", kAdapter}, {"topic", r->topic}, {"event_id", r->id}, {"error", r->error}});
    }
    return Ok();
  }

  // Serves delivery reports for up to `wait`, then deals with their outcome:
  // rejected records go to the DLQ, a fatal error recreates the producer.
  Status Service(milliseconds wait) {
    rd_kafka_poll(rk, static_cast<int>(wait.count()));
    if (auto st = DeadLetterRejected(); !st) return st;
    if (fatal) {
      if (transactional()) return Fail(TxnFatal(fatal_error));
      if (auto st = RestartProducer(); !st) return st;
    }
    return Ok();
  }

  // Waits until no record is in flight (every report arrived).
  Status Settle() {
    while (window.in_flight() > 0) {
      if (interrupted()) return Fail(Cancelled());
      if (auto st = Service(kPollSlice); !st) return st;
    }
    return Ok();
  }

  // Failed records are produced again (with backoff) until every one of
  // them is confirmed or dead-lettered; nothing new is produced meanwhile,
  // so each key keeps its order.
  Status Recover() {
    while (window.retrying() > 0) {
      if (auto st = Settle(); !st) return st;
      ProbeLost();  // every report is in: a probe without one failed
      if (window.retrying() == 0) break;
      auto probe =
          AwaitRetry("kafka: records failed; producing them again", window.LastRetryError());
      if (!probe) return Fail(probe.error());
      auto round = window.RetryRound();
      if (*probe) {
        round.resize(1);  // the oldest failed record; the others wait in kRetry
        probe_record = round.front();
      }
      for (Record* r : round) {
        window.Resent(*r);
        M().retried->Inc();
        if (auto st = Produce(*r); !st) return st;
      }
    }
    backoff.Reset();
    return Ok();
  }

  // ---- exactly-once: Kafka transactions ----

  // An error object from the transactional API, as text, destroyed.
  static std::string Take(rd_kafka_error_t* e) {
    std::string text = rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
    return text;
  }
  Error TxnFatal(const std::string& what) const {
    return Error(ErrorCode::kConnection,
                 "kafka: transactional producer " + o.transactional_id + ": " + what +
                     " (fenced by another instance with the same transactional id, or the "
                     "transaction timed out); nothing of the open transaction is acknowledged");
  }

  Status BeginTxn() {
    if (rd_kafka_error_t* e = rd_kafka_begin_transaction(rk)) {
      return Fail(TxnFatal("begin transaction: " + Take(e)));
    }
    txn_open = true;
    txn_events = 0;
    offsets_sent = false;
    return Ok();
  }

  // The offsets record: the newest position of this transaction, committed
  // with it.
  Status ProduceOffsets(const Position& pos) {
    Event last;
    last.id = pos.id;
    last.lsn = pos.lsn;
    last.seq = pos.seq;
    const std::string value = EncodeCommitted(o.transactional_id, last, NowUnixNanos());
    for (;;) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(o.offsets_topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_KEY(o.transactional_id.data(), o.transactional_id.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_OPAQUE(nullptr), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Ok();
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return Fail(ErrorCode::kConnection,
                    std::string("kafka: producing the offsets record: ") + rd_kafka_err2str(err));
      }
      if (interrupted()) return Fail(Cancelled());
      rd_kafka_poll(rk, static_cast<int>(kPollSlice.count()));
    }
  }

  // Commits the open transaction with its position. A failed commit that
  // needs an abort aborts and produces the transaction's records again in a
  // new one (AbortAndRetry); a transient failure commits again after a
  // backoff; a fatal one (fenced) fails the adapter.
  Status CommitTxn() {
    while (txn_open) {
      if (interrupted()) return Fail(Cancelled());
      std::string failure;
      if (txn_last && !offsets_sent) {
        if (auto st = ProduceOffsets(*txn_last); !st) {
          if (st.error().code() == ErrorCode::kCancelled) return st;
          failure = st.error().message();
        }
        offsets_sent = failure.empty();
      }
      rd_kafka_error_t* e = nullptr;
      if (failure.empty()) {
        // In slices, so an interrupt is noticed; a timed-out call is resumed.
        e = rd_kafka_commit_transaction(rk, static_cast<int>(kTxnCallSlice.count()));
        if (e != nullptr && rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__TIMED_OUT &&
            !rd_kafka_error_txn_requires_abort(e) && !rd_kafka_error_is_fatal(e)) {
          rd_kafka_error_destroy(e);
          continue;
        }
      }
      // The commit flushed: reports were served; rejected records go to the DLQ.
      if (auto st = DeadLetterRejected(); !st) {
        if (e != nullptr) rd_kafka_error_destroy(e);
        return st;
      }
      if (failure.empty() && e == nullptr && window.retrying() == 0) {
        window.CommitDelivered();
        txn_open = false;
        txn_events = 0;
        txn_last.reset();
        M().txn_committed->Inc();
        backoff.Reset();
        Recovered();
        window.Release();
        return Ok();
      }
      if (e != nullptr) M().txn_errors->Inc();
      if (e != nullptr && rd_kafka_error_is_fatal(e)) return Fail(TxnFatal("commit: " + Take(e)));
      if (e != nullptr && !rd_kafka_error_txn_requires_abort(e) && rd_kafka_error_is_retriable(e)) {
        const std::string text = Take(e);
        Degrade(text);
        const milliseconds delay = backoff.Next();
        log::Warn("kafka: transaction commit failed; committing again",
                  {{"adapter", kAdapter},
                   {"error", text},
                   {"retry_in_ms", static_cast<int64_t>(delay.count())}});
        if (!sleeper.SleepFor(delay)) return Fail(Cancelled());
        continue;
      }
      if (e != nullptr) failure = Take(e);
      if (failure.empty())
        failure = "records of the transaction failed: " + window.LastRetryError();
      if (auto st = AbortAndRetry(failure); !st) return st;
    }
    return Ok();
  }

  // Aborts the open transaction (none of its records become visible to
  // read_committed consumers) and produces its unfinished records again, in
  // order, in a new transaction after a backoff.
  Status AbortAndRetry(const std::string& why) {
    Degrade(why);
    M().txn_aborted->Inc();
    for (;;) {
      if (interrupted()) return Fail(Cancelled());
      rd_kafka_error_t* e = rd_kafka_abort_transaction(rk, static_cast<int>(kTxnCallSlice.count()));
      if (e == nullptr) break;
      if (rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__TIMED_OUT && !rd_kafka_error_is_fatal(e)) {
        rd_kafka_error_destroy(e);
        continue;  // still aborting: resume
      }
      if (rd_kafka_error_is_fatal(e)) return Fail(TxnFatal("abort: " + Take(e)));
      const std::string text = Take(e);
      const milliseconds delay = backoff.Next();
      log::Warn("kafka: transaction abort failed; trying again",
                {{"adapter", kAdapter},
                 {"error", text},
                 {"retry_in_ms", static_cast<int64_t>(delay.count())}});
      if (!sleeper.SleepFor(delay)) return Fail(Cancelled());
    }
    rd_kafka_poll(rk, 0);  // purge reports
    if (auto st = DeadLetterRejected(); !st) return st;
    window.RetryDelivered("transaction aborted: " + why);
    window.FailInFlight("transaction aborted: " + why);
    ProbeLost();
    txn_open = false;
    auto probe =
        AwaitRetry("kafka: transaction aborted; producing its records again in a new one", why);
    if (!probe) return Fail(probe.error());
    if (auto st = BeginTxn(); !st) return st;
    for (Record* r : window.RetryRound(/*follow_keys=*/false)) {
      // The whole transaction is the probe; its first record reports for it.
      if (*probe && probe_record == nullptr) probe_record = r;
      window.Resent(*r);
      M().retried->Inc();
      ++txn_events;
      if (auto st = Produce(*r); !st) return st;
    }
    return Ok();
  }

  // Whether a committed transaction (before a restart) already holds `e`.
  bool AlreadyCommitted(const Event& e) const { return committed && AtOrBefore(e.id, *committed); }

  // Start-up in exactly-once mode: fence older instances (their open
  // transaction is aborted), then read the committed position.
  Status InitTransactions() {
    if (rd_kafka_error_t* e =
            rd_kafka_init_transactions(rk, static_cast<int>(o.connect_timeout.count()))) {
      return Fail(ErrorCode::kConnection,
                  "kafka: init transactions for " + o.transactional_id + ": " + Take(e));
    }
    OffsetsTopic t{ClientProperties(o), o.offsets_topic, o.transactional_id, o.connect_timeout};
    if (auto st = EnsureOffsetsTopic(t); !st) return st;
    auto pos = ReadCommittedPosition(t);
    if (!pos) return Fail(pos.error());
    committed = *pos;
    log::Info(
        "kafka exactly-once: transactional producer ready",
        {{"adapter", kAdapter},
         {"transactional_id", o.transactional_id},
         {"offsets_topic", o.offsets_topic},
         {"resume_after", committed ? committed->ToString() : std::string("<nothing committed>")}});
    return Ok();
  }

  // After produce calls or polls: dead letters, retries, the released
  // prefix and the gauge.
  Status Settled() {
    if (auto st = Service(milliseconds(0)); !st) return st;
    if (window.retrying() > 0) {
      if (transactional()) {
        // A failed record dooms the transaction: abort and redo it now.
        if (txn_open) {
          if (auto st = AbortAndRetry(window.LastRetryError()); !st) return st;
        }
      } else if (auto st = Recover(); !st) {
        return st;
      }
    }
    window.Release();
    M().in_flight->Set(static_cast<double>(window.size()));
    return Ok();
  }

  Status Deliver(std::span<const Event* const> events) {
    if (interrupted()) return Fail(Cancelled());
    for (const Event* e : events) {
      if (transactional() && AlreadyCommitted(*e)) {
        M().skipped->Inc();
        continue;
      }
      // Bounded: wait for confirmations while too many records are out (a
      // transaction's records are finished by its commit).
      while (window.full()) {
        if (interrupted()) return Fail(Cancelled());
        if (transactional() && txn_open) {
          if (auto st = CommitTxn(); !st) return st;
        } else if (auto st = Service(kPollSlice); !st) {
          return st;
        }
        if (auto st = Settled(); !st) return st;
      }
      if (flow.rate_limited()) {
        if (auto st = RateLimit(); !st) return st;
      }
      std::optional<std::string> rejected;
      if (!encoder.passthrough()) {
        if (auto st = EncodeValue(*e, rejected); !st) return st;
      }
      if (transactional() && !txn_open) {
        if (auto st = BeginTxn(); !st) return st;
      }
      Record& r = window.Add(*e);
      FillRecord(r, *e);
      if (rejected) {
        window.Rejected(r, std::move(*rejected));  // dead-lettered by Settled()
      } else if (auto st = Produce(r); !st) {
        return st;
      }
      if (transactional()) {
        if (IsPositionId(e->id)) txn_last = Position{e->id, e->lsn, e->seq};
        if (++txn_events >= o.transaction_max_events) {
          if (auto st = CommitTxn(); !st) return st;
        }
      }
    }
    return Settled();
  }

  Status Flush() {
    if (auto st = Settled(); !st) return st;
    if (transactional() && txn_open) {
      if (auto st = CommitTxn(); !st) return st;
    }
    // Idle and degraded: ask the brokers now and then whether they are back.
    if (degraded && window.in_flight() == 0 &&
        SteadyClock::now() - last_probe >=
            std::chrono::duration_cast<milliseconds>(o.backoff.base)) {
      last_probe = SteadyClock::now();
      if (!Probe(kPollSlice)) Recovered();
    }
    return Ok();
  }

  void Close() {
    if (rk == nullptr) return;
    if (transactional() && txn_open) {
      // Shutdown gave up before the last commit: abort (the source replays it).
      if (rd_kafka_error_t* e = rd_kafka_abort_transaction(
              rk, static_cast<int>(std::min(o.drain_timeout, o.transaction_timeout).count()))) {
        log::Warn("kafka: aborting the open transaction at shutdown failed",
                  {{"adapter", kAdapter}, {"error", Take(e)}});
      }
      txn_open = false;
    }
    const auto deadline = SteadyClock::now() + o.drain_timeout;
    // Records in flight get until the drain timeout to be confirmed.
    while (window.in_flight() > 0 && SteadyClock::now() < deadline && !interrupted()) {
      rd_kafka_poll(rk, static_cast<int>(kPollSlice.count()));
      (void)DeadLetterRejected();
    }
    window.Release();
    if (window.unfinished() > 0) {
      log::Warn(
          "kafka: closing with records not confirmed (not acknowledged; the source keeps them)",
          {{"adapter", kAdapter}, {"records", static_cast<uint64_t>(window.unfinished())}});
    }
    DestroyProducer();
    window.Clear();
    M().in_flight->Set(0);
  }
};

KafkaAdapter::KafkaAdapter(Options options) : impl_(std::make_unique<Impl>(std::move(options))) {
  M();
}

KafkaAdapter::~KafkaAdapter() { Close(); }

Status KafkaAdapter::Attach(const Services& services) {
  impl_->dlq = services.dlq;
  impl_->health = services.health;
  return Ok();
}

Status KafkaAdapter::Open() {
  Impl& s = *impl_;
  if (auto st = s.CreateProducer(); !st) return st;
  if (auto err = s.Probe(s.o.connect_timeout)) {
    s.DestroyProducer();
    return Fail(ErrorCode::kConnection, "kafka: no broker of " + s.o.brokers + " answered within " +
                                            std::to_string(s.o.connect_timeout.count()) +
                                            "ms: " + *err);
  }
  if (auto st = s.encoder.Open(); !st) {
    s.DestroyProducer();
    return st;
  }
  if (s.transactional()) {
    if (auto st = s.InitTransactions(); !st) {
      s.DestroyProducer();
      return st;
    }
  }
  log::Info("kafka producer ready",
            {{"adapter", kAdapter},
             {"brokers", s.o.brokers},
             {"topic", s.o.topic.empty() ? std::string("<per channel>") : s.o.topic},
             {"key", s.o.key == KeyMode::kPk ? "pk" : "id"},
             {"value", s.o.value == ValueMode::kPayload ? "payload" : "envelope"},
             {"encoding", encoding::FormatName(s.o.encoding.format)}});
  return Ok();
}

Status KafkaAdapter::Deliver(std::span<const Event* const> events) {
  return impl_->Deliver(events);
}

Status KafkaAdapter::Flush() { return impl_->Flush(); }

std::optional<uint64_t> KafkaAdapter::OldestHeldSeq() const {
  return impl_->window.OldestHeldSeq();
}

void KafkaAdapter::Interrupt() {
  impl_->sleeper.Interrupt();
  impl_->encoder.Interrupt();
}

void KafkaAdapter::Close() { impl_->Close(); }

// ---------------------------------------------------------------------------

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "kafka",
      .description =
          "Produces each event as a Kafka record (acks=all, idempotent), keyed by the row's "
          "primary key; acknowledges only what the brokers confirmed, retries transient "
          "failures without losing or reordering a key, rejected records go to the DLQ.",
      .params = Params({
          client::kafka::ConnectionParams<O>(),
          {Param("kafka.topic", &O::topic,
                 "fixed topic for every event (default: one topic per channel, ':' -> '.', "
                 "pgcdc:orders -> pgcdc.orders)"),
           ParamEnum("kafka.key", &O::key, {{"pk", KeyMode::kPk}, {"id", KeyMode::kId}},
                     "record key: pk = the row's primary key (the event id when the event has "
                     "none), so a row's changes stay in one partition in order; id = the event id"),
           ParamEnum("kafka.value", &O::value,
                     {{"payload", ValueMode::kPayload}, {"envelope", ValueMode::kEnvelope}},
                     "record value: payload = the event payload JSON; envelope = the whole event "
                     "JSON (id, channel, operation, payload, source, created_at, ...)"),
           Param("kafka.transactional_id", &O::transactional_id,
                 "exactly-once: produce in Kafka transactions under this id and commit the source "
                 "position with them (docs/kafka.md)"),
           Param("kafka.max_in_flight", &O::max_in_flight,
                 "records produced and not yet confirmed at most (then delivery waits)",
                 {.min = 1, .max = 1000000}),
           Param("kafka.linger", &O::linger,
                 "how long the producer waits to fill a batch (linger.ms)", {.min = 0}),
           Param("kafka.delivery_timeout", &O::delivery_timeout,
                 "how long the producer retries a record before reporting it failed "
                 "(message.timeout.ms; 0 = forever); pgcdc then produces it again",
                 {.min = 0}),
           Param("kafka.max_message_bytes", &O::max_message_bytes,
                 "largest record (message.max.bytes); larger events go to the DLQ",
                 {.min = 1000, .max = 1000000000}),
           Param("kafka.compression", &O::compression, "record batch compression",
                 {.choices = {"none", "gzip", "snappy", "lz4", "zstd"}}),
           Param("kafka.connect_timeout", &O::connect_timeout,
                 "at start-up, how long a broker gets to answer", {.min = 1}),
           Param("kafka.drain_timeout", &O::drain_timeout,
                 "at shutdown, how long records in flight get to be confirmed", {.min = 0}),
           Param("kafka.properties", &O::properties,
                 "extra librdkafka producer property name=value (repeatable); overrides pgcdc's",
                 {.flag = "kafka-property"}),
           Param("kafka.offsets_topic", &O::offsets_topic,
                 "exactly-once: compacted topic holding the committed source position"),
           Param("kafka.transaction_max_events", &O::transaction_max_events,
                 "exactly-once: events per Kafka transaction at most", {.min = 1, .max = 1000000}),
           Param("kafka.transaction_timeout", &O::transaction_timeout,
                 "exactly-once: transaction.timeout.ms", {.min = 1000})},
          BackoffParams<O>("kafka", "kafka", &O::backoff, "re-produce (after a failed record)"),
          encoding::EncodingParams<O>("kafka", &O::encoding),
          middleware::FlowParams<O>("kafka", &O::flow),
      }),
      .validate =
          [](const O& o, const Context&, Errors& errors) {
            for (auto& e : ValidateOptions(o)) errors.push_back(std::move(e));
          },
      .make = [](O o, const Context&) -> Result<AdapterPtr> {
        o.backoff.floor = std::min(o.backoff.floor, o.backoff.base);
        return std::make_unique<KafkaAdapter>(std::move(o));
      },
  });
}

}  // namespace pgcdc::adapter::kafka

PGCDC_REGISTER_CONNECTOR(adapter, kafka, pgcdc::adapter::kafka::Connector)
