#include "detector/kafka_consumer/kafka_consumer.h"

#include <librdkafka/rdkafka.h>

#include <cstring>
#include <set>
#include <utility>

#include "codec/kafka/topic_name.h"
#include "core/health.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/time.h"
#include "core/uuid.h"
#include "detector/delivery.h"
#include "detector/kafka_consumer/offset_book.h"
#include "registry/define.h"

namespace pgcdc::detector::kafka_consumer {

namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kSource = "kafka_consumer";
constexpr std::string_view kOperation = "KAFKA_CONSUME";
// How long one poll waits for a record, so stop requests and due commits
// are noticed within it.
constexpr milliseconds kPollSlice{100};

struct Metrics {
  metrics::Counter& received =
      metrics::DefaultCounter("pgcdc_kafka_consumer_received_total",
                              "Kafka records consumed by the kafka_consumer source.");
  metrics::Counter& errors = metrics::DefaultCounter(
      "pgcdc_kafka_consumer_errors_total",
      "Errors of the kafka_consumer source (client errors, failed commits, restarts).");
  metrics::Counter& committed = metrics::DefaultCounter(
      "pgcdc_kafka_consumer_committed_total",
      "Kafka records whose offset was committed after every adapter delivered their event.");
  metrics::Counter& dead_lettered = metrics::DefaultCounter(
      "pgcdc_kafka_consumer_dead_lettered_total",
      "Kafka records sent to the dead letter queue (not a pgcdc envelope with unwrap).");
  metrics::Counter& rebalances = metrics::DefaultCounter(
      "pgcdc_kafka_consumer_rebalances_total", "Partition assignments and revocations served.");
  metrics::Gauge& pending = metrics::DefaultGauge(
      "pgcdc_kafka_consumer_pending", "Kafka records consumed whose events are not yet delivered.");
  metrics::Gauge& lag = metrics::DefaultGauge(
      "pgcdc_kafka_consumer_lag",
      "Records of the assigned partitions not yet consumed (high watermark - position).");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

struct RkDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using ListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, ListDeleter>;

std::set<PartitionKey> KeysOf(const rd_kafka_topic_partition_list_t* parts) {
  std::set<PartitionKey> keys;
  for (int i = 0; i < parts->cnt; ++i)
    keys.emplace(parts->elems[i].topic, parts->elems[i].partition);
  return keys;
}

std::vector<consume::Header> HeadersOf(const rd_kafka_message_t* msg) {
  std::vector<consume::Header> out;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(msg, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  const char* name = nullptr;
  const void* value = nullptr;
  size_t size = 0;
  for (size_t i = 0;
       rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    out.push_back({name, value == nullptr ? std::string()
                                          : std::string(static_cast<const char*>(value), size)});
  }
  return out;
}

}  // namespace

client::kafka::Properties ConsumerProperties(const Options& o) {
  client::kafka::Properties p = {
      {"client.id", "pgcdc"},          {"group.id", o.group},
      {"enable.auto.commit", "false"}, {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", o.offset}, {"enable.partition.eof", "false"},
  };
  for (auto& kv : client::kafka::ConnectionProperties(o, o.properties)) p.push_back(std::move(kv));
  return p;
}

Converted RecordEvent(const Record& r, const Options& o) {
  std::string payload = consume::PayloadOf(r.value, consume::RawForm::kBase64Object);
  if (o.metadata) {
    consume::MessageInfo info{.coordinates = {},
                              .key = std::string(r.key.value_or("")),
                              .has_key = r.key.has_value(),
                              .headers = r.headers};
    std::string topic;
    json::AppendString(topic, r.topic);
    info.coordinates = {{"topic", std::move(topic)},
                        {"partition", std::to_string(r.partition)},
                        {"offset", std::to_string(r.offset)},
                        {"timestamp", std::to_string(r.timestamp_ms)}};
    payload = consume::MetadataPayload(info, payload);
  }
  const std::string scope = "kafka:" + std::string(r.topic) + "/" + std::to_string(r.partition);
  return consume::ConsumedEvent(
      {.channel = "pgcdc:" + std::string(r.topic),
       .operation = kOperation,
       .payload = std::move(payload),
       .source = kSource,
       .created_at_ns = r.timestamp_ms >= 0 ? r.timestamp_ms * 1'000'000 : NowUnixNanos(),
       .id = consume::PositionId(scope, static_cast<uint64_t>(r.offset)),
       .key = std::string(r.key.value_or(""))},
      r.value, o.unwrap);
}

// ---------------------------------------------------------------------------

struct KafkaConsumerDetector::Session {
  Session(const Options& options, RunContext& run, const Sleeper& sl, uint64_t& seq)
      : o(options), ctx(run), sleeper(sl), next_seq(seq) {}

  const Options& o;
  RunContext& ctx;
  const Sleeper& sleeper;
  uint64_t& next_seq;      // the detector's
  uint64_t published = 0;  // the last seq handed to the bus by this session
  std::unique_ptr<rd_kafka_t, RkDeleter> rk;
  OffsetBook book;
  size_t uncommitted = 0;  // records delivered since the last commit
  bool paused = false;
  bool closing = false;
  std::optional<Error> failure;  // from a callback: ends the cycle
  SteadyClock::time_point next_commit{};

  Status Create();
  Status Probe();
  Status Subscribe();
  Status Serve();
  Status PollBatch(EventBatch& batch);
  Status Take(const rd_kafka_message_t* msg, EventBatch& batch);
  void CommitDelivered(bool sync);
  void UpdateFlow();
  void UpdateLag();
  void Rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts);
  void Revoke(rd_kafka_topic_partition_list_t* parts);
  Status Close();

  static void OnRebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<Session*>(opaque)->Rebalance(err, parts);
  }
  static void OnError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    M().errors.Inc();
    auto* s = static_cast<Session*>(opaque);
    log::Warn("kafka consumer error", {{"detector", kSource}, {"error", reason}});
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char why[512];
      rd_kafka_fatal_error(rk, why, sizeof why);
      s->failure = Error(ErrorCode::kConnection, std::string("fatal consumer error: ") + why);
    }
  }
};

Status KafkaConsumerDetector::Session::Create() {
  auto conf = client::kafka::BuildConf(ConsumerProperties(o));
  if (!conf) return Fail(conf.error());
  rd_kafka_conf_set_opaque(conf->get(), this);
  rd_kafka_conf_set_rebalance_cb(conf->get(), &Session::OnRebalance);
  rd_kafka_conf_set_error_cb(conf->get(), &Session::OnError);
  char err[512];
  rk.reset(rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), err, sizeof err));
  if (!rk) return Fail(ErrorCode::kConfig, std::string("kafka consumer: ") + err);
  static_cast<void>(conf->release());  // rd_kafka_new took it
  rd_kafka_poll_set_consumer(rk.get());
  return Ok();
}

// A broker must answer within connect_timeout.
Status KafkaConsumerDetector::Session::Probe() {
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t e =
      rd_kafka_metadata(rk.get(), 0, nullptr, &md, static_cast<int>(o.connect_timeout.count()));
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return Ok();
  return Fail(ErrorCode::kConnection, "no broker of " + o.brokers + " answered within " +
                                          std::to_string(o.connect_timeout.count()) +
                                          "ms: " + rd_kafka_err2str(e));
}

Status KafkaConsumerDetector::Session::Subscribe() {
  ListPtr topics(rd_kafka_topic_partition_list_new(static_cast<int>(o.topics.size())));
  for (const auto& t : o.topics) {
    rd_kafka_topic_partition_list_add(topics.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (auto e = rd_kafka_subscribe(rk.get(), topics.get()); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Fail(ErrorCode::kConfig, std::string("subscribe: ") + rd_kafka_err2str(e));
  }
  return Ok();
}

Status KafkaConsumerDetector::Session::Serve() {
  auto& m = M();
  while (!sleeper.woken()) {
    if (failure) return Fail(*failure);
    // Commits every commit_interval, and sooner once a batch worth of
    // records was delivered (a crash then repeats little).
    uncommitted += book.Delivered(consume::DeliveredThrough(ctx, next_seq));
    const bool due = SteadyClock::now() >= next_commit;
    if (due || uncommitted >= static_cast<size_t>(o.batch_size)) CommitDelivered(false);
    if (due) {
      UpdateLag();
      next_commit = SteadyClock::now() + o.commit_interval;
    }
    UpdateFlow();
    EventBatch batch;
    if (auto st = PollBatch(batch); !st) return st;
    if (batch.events.empty()) continue;
    m.pending.Set(static_cast<double>(book.pending()));
    if (!ctx.publish(std::move(batch))) break;  // the pipeline is stopping
    published = next_seq;
  }
  return Close();
}

Status KafkaConsumerDetector::Session::PollBatch(EventBatch& batch) {
  const auto limit = static_cast<size_t>(o.batch_size);
  milliseconds wait = kPollSlice;
  while (batch.events.size() < limit && !paused) {
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(rk.get(), static_cast<int>(wait.count()));
    if (msg == nullptr) break;
    wait = milliseconds(0);
    Status st = Ok();
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      st = Take(msg, batch);
    } else if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      M().errors.Inc();
      log::Warn("kafka consume error",
                {{"detector", kSource}, {"error", rd_kafka_message_errstr(msg)}});
    }
    rd_kafka_message_destroy(msg);
    if (!st) return st;
    if (book.pending() >= static_cast<size_t>(o.max_pending)) break;
  }
  if (paused) (void)rd_kafka_consumer_poll(rk.get(), static_cast<int>(kPollSlice.count()));
  return Ok();
}

Status KafkaConsumerDetector::Session::Take(const rd_kafka_message_t* msg, EventBatch& batch) {
  M().received.Inc();
  rd_kafka_timestamp_type_t type;
  Record r{.topic = rd_kafka_topic_name(msg->rkt),
           .partition = msg->partition,
           .offset = msg->offset,
           .timestamp_ms = rd_kafka_message_timestamp(msg, &type),
           .key = std::nullopt,
           .value = std::string_view(static_cast<const char*>(msg->payload),
                                     msg->payload == nullptr ? 0 : msg->len),
           .headers = HeadersOf(msg)};
  if (msg->key != nullptr)
    r.key = std::string_view(static_cast<const char*>(msg->key), msg->key_len);
  Converted c = RecordEvent(r, o);
  Position pos{std::string(r.topic), r.partition, r.offset};
  if (!c.unusable.empty()) {
    if (auto st = consume::RecordUnusable(ctx, c.event, kSource, c.unusable, M().dead_lettered);
        !st) {
      return st;
    }
    book.Consumed(next_seq, std::move(pos));
    return Ok();
  }
  c.event.seq = ++next_seq;
  book.Consumed(next_seq, std::move(pos));
  batch.events.push_back(std::move(c.event));
  return Ok();
}

void KafkaConsumerDetector::Session::CommitDelivered(bool sync) {
  uncommitted += book.Delivered(consume::DeliveredThrough(ctx, next_seq));
  M().pending.Set(static_cast<double>(book.pending()));
  auto commits = book.TakeCommits();
  if (commits.empty()) return;
  const size_t released = std::exchange(uncommitted, 0);
  ListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(commits.size())));
  for (const auto& c : commits) {
    rd_kafka_topic_partition_list_add(list.get(), c.topic.c_str(), c.partition)->offset = c.offset;
  }
  const rd_kafka_resp_err_t e = rd_kafka_commit(rk.get(), list.get(), sync ? 0 : 1);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
    // The records stay delivered; a later commit covers them (or they are
    // delivered again after a restart: at-least-once).
    M().errors.Inc();
    log::Warn("kafka offset commit failed",
              {{"detector", kSource}, {"error", rd_kafka_err2str(e)}});
    return;
  }
  M().committed.Inc(released);
}

// Pauses the assigned partitions while max_pending records wait for
// delivery, resumes them once half of that is left.
void KafkaConsumerDetector::Session::UpdateFlow() {
  const auto max = static_cast<size_t>(o.max_pending);
  if (paused || book.pending() >= max) CommitDelivered(false);  // frees what is delivered
  const bool want_paused = paused ? book.pending() > max / 2 : book.pending() >= max;
  if (want_paused == paused) return;
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(rk.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  ListPtr parts(raw);
  if (want_paused) {
    (void)rd_kafka_pause_partitions(rk.get(), parts.get());
  } else {
    (void)rd_kafka_resume_partitions(rk.get(), parts.get());
  }
  paused = want_paused;
}

void KafkaConsumerDetector::Session::UpdateLag() {
  rd_kafka_topic_partition_list_t* raw = nullptr;
  if (rd_kafka_assignment(rk.get(), &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  ListPtr parts(raw);
  if (rd_kafka_position(rk.get(), parts.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  int64_t lag = 0;
  for (int i = 0; i < parts->cnt; ++i) {
    const auto& p = parts->elems[i];
    int64_t low = 0;
    int64_t high = 0;
    if (p.offset < 0 || rd_kafka_get_watermark_offsets(rk.get(), p.topic, p.partition, &low,
                                                       &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      continue;
    }
    if (high > p.offset) lag += high - p.offset;
  }
  M().lag.Set(static_cast<double>(lag));
}

void KafkaConsumerDetector::Session::Rebalance(rd_kafka_resp_err_t err,
                                               rd_kafka_topic_partition_list_t* parts) {
  M().rebalances.Inc();
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk.get()), "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    log::Info("kafka partitions assigned",
              {{"detector", kSource}, {"partitions", static_cast<int64_t>(parts->cnt)}});
    if (cooperative) {
      if (auto* e = rd_kafka_incremental_assign(rk.get(), parts)) rd_kafka_error_destroy(e);
    } else {
      (void)rd_kafka_assign(rk.get(), parts);
    }
    if (paused) (void)rd_kafka_pause_partitions(rk.get(), parts);
    return;
  }
  Revoke(parts);
  if (cooperative) {
    if (auto* e = rd_kafka_incremental_unassign(rk.get(), parts)) rd_kafka_error_destroy(e);
  } else {
    (void)rd_kafka_assign(rk.get(), nullptr);
  }
}

// Before partitions go: waits (bounded) until their records in flight are
// delivered, commits, and forgets what is still pending of them.
void KafkaConsumerDetector::Session::Revoke(rd_kafka_topic_partition_list_t* parts) {
  const std::set<PartitionKey> keys = KeysOf(parts);
  const uint64_t last = book.LastSeqOf(keys);
  if (last > 0 && !closing && ctx.acks != nullptr && ctx.acks->size() > 0) {
    const PollOptions wait{.deadline = sleeper.clock().Now() + o.revoke_timeout};
    if (WaitForAck(*ctx.acks, last, sleeper, wait) != WaitResult::kDone) {
      log::Warn(
          "kafka partitions revoked before their records were delivered; the next owner reads "
          "them again",
          {{"detector", kSource}, {"waited_ms", static_cast<int64_t>(o.revoke_timeout.count())}});
    }
  }
  CommitDelivered(true);
  const size_t dropped = book.Forget(keys);
  M().pending.Set(static_cast<double>(book.pending()));
  log::Info("kafka partitions revoked", {{"detector", kSource},
                                         {"partitions", static_cast<int64_t>(parts->cnt)},
                                         {"undelivered", static_cast<uint64_t>(dropped)}});
}

// At shutdown: lets the events in flight finish (up to stop_grace), commits
// and leaves the group.
Status KafkaConsumerDetector::Session::Close() {
  if (book.pending() > 0)
    (void)consume::FinishInFlight(ctx, sleeper, published, o.stop_grace, kSource);
  CommitDelivered(true);
  closing = true;
  (void)rd_kafka_consumer_close(rk.get());
  rk.reset();
  return Ok();
}

// ---------------------------------------------------------------------------

KafkaConsumerDetector::KafkaConsumerDetector(Options options) : options_(std::move(options)) {}

Status KafkaConsumerDetector::Run(RunContext& ctx) {
  log::Info("starting detector", {{"detector", kSource},
                                  {"brokers", options_.brokers},
                                  {"group", options_.group},
                                  {"unwrap", options_.unwrap}});
  return consume::Supervise(ctx, kSource, M().errors, options_.backoff,
                            [&](Supervisor::Session& session) { return RunCycle(ctx, session); });
}

Status KafkaConsumerDetector::RunCycle(RunContext& ctx, Supervisor::Session& session) {
  Session s(options_, ctx, session.sleeper(), next_seq_);
  if (auto st = s.Create(); !st) return st;
  if (auto st = s.Probe(); !st) {
    return Fail(consume::AtStart(session, next_seq_, st.error(), kSource, "--kafka-brokers"));
  }
  if (auto st = s.Subscribe(); !st) return st;
  session.Up();
  log::Info("consuming", {{"detector", kSource},
                          {"topics", static_cast<int64_t>(options_.topics.size())},
                          {"group", options_.group}});
  s.next_commit = SteadyClock::now() + options_.commit_interval;
  return s.Serve();
}

// ---------------------------------------------------------------------------

namespace {

void Validate(const Options& o, std::vector<std::string>& errors) {
  if (o.topics.empty()) {
    errors.push_back(
        "kafka_consumer.topics: required for detector kafka_consumer "
        "(--kafka-consumer-topics t1,t2)");
  }
  for (const auto& t : o.topics) {
    if (!t.starts_with('^') && !codec::kafka::IsValidTopicName(t)) {
      errors.push_back("kafka_consumer.topics: \"" + t +
                       "\" is not a valid Kafka topic name (or a ^regex)");
    }
  }
  if (o.group.empty()) errors.push_back("kafka_consumer.group: must not be empty");
  client::kafka::ValidateConnection(o, "detector kafka_consumer", o.properties,
                                    "kafka_consumer.properties", errors);
  ValidateBackoff("detector", o.backoff, errors);
  if (errors.empty()) {
    if (auto conf = client::kafka::BuildConf(ConsumerProperties(o)); !conf) {
      errors.push_back("kafka_consumer: " + conf.error().message());
    }
  }
}

// `pgcdc doctor`: a broker answers, every topic exists, and how far the
// group has committed. Read-only: the handle never subscribes, so it does
// not join the group.
CheckList Doctor(const Options& o) {
  auto conf = client::kafka::BuildConf(ConsumerProperties(o));
  if (!conf) return FailedCheck("configuration", conf.error().message());
  char err[512];
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> rk(
      rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), err, sizeof err), rd_kafka_destroy);
  if (!rk) return FailedCheck("configuration", err);
  static_cast<void>(conf->release());  // rd_kafka_new took it
  const int timeout = static_cast<int>(o.connect_timeout.count());
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t e = rd_kafka_metadata(rk.get(), 1, nullptr, &md, timeout);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR || md == nullptr) {
    return FailedCheck("connect", "no broker of " + o.brokers + " answered: " + rd_kafka_err2str(e),
                       "check --kafka-brokers and the security settings");
  }
  std::unique_ptr<const rd_kafka_metadata_t, decltype(&rd_kafka_metadata_destroy)> guard(
      md, rd_kafka_metadata_destroy);
  CheckList out{{.name = "connect",
                 .detail = o.brokers + " (" + std::to_string(md->broker_cnt) + " brokers)"}};
  std::unique_ptr<rd_kafka_topic_partition_list_t, decltype(&rd_kafka_topic_partition_list_destroy)>
      parts(rd_kafka_topic_partition_list_new(8), rd_kafka_topic_partition_list_destroy);
  for (const auto& topic : o.topics) {
    const rd_kafka_metadata_topic_t* found = nullptr;
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (topic == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        found = &md->topics[i];
      }
    }
    out.push_back(Verdict(
        found != nullptr, CheckResult::Level::kFail, "topic " + topic,
        found != nullptr ? std::to_string(found->partition_cnt) + " partitions" : "does not exist",
        "create the topic (or let the hub's kafka sink create it) first"));
    if (found == nullptr) continue;
    for (int p = 0; p < found->partition_cnt; ++p) {
      rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), found->partitions[p].id);
    }
  }
  if (parts->cnt > 0 &&
      rd_kafka_committed(rk.get(), parts.get(), timeout) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    int committed = 0;
    for (int i = 0; i < parts->cnt; ++i) committed += parts->elems[i].offset >= 0 ? 1 : 0;
    out.push_back(
        {.name = "group " + o.group,
         .detail =
             std::to_string(committed) + " of " + std::to_string(parts->cnt) +
             " partitions committed" +
             (committed == 0 ? " (starts at --kafka-consumer-offset " + o.offset + ")" : "")});
  }
  return out;
}

}  // namespace

ConnectorInfo Connector() {
  using O = Options;
  return DefineDetector<Options>({
      .name = "kafka_consumer",
      .description =
          "Kafka consumer group: every record becomes a KAFKA_CONSUME event (or, with "
          "--kafka-consumer-unwrap, the pgcdc event it carries); offsets are committed only "
          "after every adapter delivered the event. At-least-once; needs no --db.",
      .params = Params({
          client::kafka::ConnectionParams<O>(),
          FlagsFromKeys(
              "kafka_consumer.", "kafka-consumer-",
              {Param("kafka_consumer.topics", &O::topics,
                     "topics to consume (comma-separated or repeated; ^regex allowed)"),
               Param("kafka_consumer.group", &O::group, "consumer group id"),
               Param("kafka_consumer.offset", &O::offset,
                     "where to start when the group has no committed offset",
                     {.choices = {"earliest", "latest"}}),
               Param("kafka_consumer.unwrap", &O::unwrap,
                     "records that are pgcdc event envelopes become that event again; other "
                     "records go to the DLQ"),
               Param("kafka_consumer.metadata", &O::metadata,
                     "payload = {topic, partition, offset, timestamp, key, headers, value} "
                     "instead of the record value"),
               Param("kafka_consumer.properties", &O::properties,
                     "extra librdkafka consumer property name=value (repeatable)",
                     {.flag = "kafka-consumer-property"}),
               Param("kafka_consumer.connect_timeout", &O::connect_timeout,
                     "at start-up, how long a broker gets to answer", {.min = 1}),
               Param("kafka_consumer.commit_interval", &O::commit_interval,
                     "how often delivered offsets are committed", {.min = 1}),
               Param("kafka_consumer.revoke_timeout", &O::revoke_timeout,
                     "on a rebalance, how long revoked partitions' records may still be "
                     "delivered before the partitions go",
                     {.min = 0}),
               Param("kafka_consumer.max_pending", &O::max_pending,
                     "records consumed and not yet delivered at most (then partitions pause)",
                     {.min = 1, .max = 10'000'000}),
               Param("kafka_consumer.batch_size", &O::batch_size,
                     "records per published batch at most", {.min = 1, .max = 100'000})}),
          ReconnectParams<O>("detector"),
      }),
      .validate =
          [](const O& o, const Context& ctx, Errors& errors) {
            Validate(o, errors);
            consume::ValidateCore(ctx.core, kSource, "offsets would be committed", errors);
          },
      .make = [](O o, const Context& ctx) -> Result<DetectorPtr> {
        return consume::MakeConsumer<KafkaConsumerDetector>(std::move(o), ctx.core);
      },
      .check = [](const O& o, const Context&) { return Doctor(o); },
  });
}

}  // namespace pgcdc::detector::kafka_consumer

PGCDC_REGISTER_CONNECTOR(detector, kafka_consumer, pgcdc::detector::kafka_consumer::Connector)
