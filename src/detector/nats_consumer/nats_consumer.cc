#include "detector/nats_consumer/nats_consumer.h"

#include <nats/nats.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/time.h"
#include "core/uuid.h"
#include "detector/delivery.h"
#include "registry/define.h"

namespace pgcdc::detector::nats_consumer {

namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kSource = "nats_consumer";
constexpr std::string_view kOperation = "NATS_CONSUME";
// While max_pending messages wait for delivery: how long one wait for the
// adapters lasts before acks and keep-alives are looked at again.
constexpr milliseconds kFullWait{100};

struct Metrics {
  metrics::Counter& received = metrics::DefaultCounter(
      "pgcdc_nats_consumer_received_total", "JetStream messages consumed by nats_consumer.");
  metrics::Counter& errors = metrics::DefaultCounter(
      "pgcdc_nats_consumer_errors_total",
      "Errors of the nats_consumer source (lost connections, failed fetches and acks).");
  metrics::Counter& acked = metrics::DefaultCounter(
      "pgcdc_nats_consumer_acked_total",
      "JetStream messages acked after every adapter delivered their event.");
  metrics::Counter& in_progress = metrics::DefaultCounter(
      "pgcdc_nats_consumer_in_progress_total",
      "In-progress acks sent for messages still waiting for delivery (ack_wait kept off).");
  metrics::Counter& dead_lettered = metrics::DefaultCounter(
      "pgcdc_nats_consumer_dead_lettered_total",
      "JetStream messages sent to the dead letter queue (not a pgcdc envelope with unwrap).");
  metrics::Counter& skipped =
      metrics::DefaultCounter("pgcdc_nats_consumer_skipped_total",
                              "JetStream messages acked unread because their subject is not one of "
                              "nats_consumer.subjects.");
  metrics::Gauge& pending =
      metrics::DefaultGauge("pgcdc_nats_consumer_pending",
                            "JetStream messages consumed whose events are not yet delivered.");
  metrics::Gauge& lag = metrics::DefaultGauge(
      "pgcdc_nats_consumer_lag",
      "Messages of the stream the consumer has not fetched yet (JetStream's NumPending).");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

struct MsgDeleter {
  void operator()(natsMsg* m) const { natsMsg_Destroy(m); }
};
using MsgPtr = std::unique_ptr<natsMsg, MsgDeleter>;

// A message whose event is not yet delivered.
struct Held {
  MsgPtr msg;  // null: nothing to ack (not ours to keep)
  SteadyClock::time_point touched;
};

std::vector<consume::Header> HeadersOf(natsMsg* msg) {
  std::vector<consume::Header> out;
  const char** keys = nullptr;
  int nkeys = 0;
  if (natsMsgHeader_Keys(msg, &keys, &nkeys) != NATS_OK) return out;
  for (int i = 0; i < nkeys; ++i) {
    const char** values = nullptr;
    int nvalues = 0;
    if (natsMsgHeader_Values(msg, keys[i], &values, &nvalues) != NATS_OK) continue;
    for (int j = 0; j < nvalues; ++j) out.push_back({keys[i], values[j]});
    free(static_cast<void*>(values));  // NOLINT(cppcoreguidelines-no-malloc): libnats' array
  }
  free(static_cast<void*>(keys));  // NOLINT(cppcoreguidelines-no-malloc)
  return out;
}

Error Bad(natsStatus s, const std::string& what) {
  return Error(ErrorCode::kConnection, what + ": " + client::nats::ErrorText(s));
}

}  // namespace

bool SubjectMatches(std::string_view pattern, std::string_view subject) {
  while (true) {
    const size_t pd = pattern.find('.');
    const size_t sd = subject.find('.');
    const std::string_view pt = pattern.substr(0, pd);
    const std::string_view st = subject.substr(0, sd);
    if (pt == ">") return !subject.empty();
    if (pt != "*" && pt != st) return false;
    if (pd == std::string_view::npos || sd == std::string_view::npos) {
      return pd == std::string_view::npos && sd == std::string_view::npos;
    }
    pattern.remove_prefix(pd + 1);
    subject.remove_prefix(sd + 1);
  }
}

Converted MessageEvent(const Message& m, const Options& o) {
  std::string payload = consume::PayloadOf(m.data, consume::RawForm::kString);
  if (o.metadata) {
    consume::MessageInfo info{.coordinates = {}, .key = {}, .has_key = false, .headers = m.headers};
    std::string stream;
    json::AppendString(stream, m.stream);
    std::string subject;
    json::AppendString(subject, m.subject);
    info.coordinates = {{"stream", std::move(stream)},
                        {"subject", std::move(subject)},
                        {"seq", std::to_string(m.seq)},
                        {"timestamp", std::to_string(m.timestamp_ns)}};
    payload = consume::MetadataPayload(info, payload);
  }
  std::string channel = "pgcdc:" + std::string(m.subject);
  std::replace(channel.begin() + 6, channel.end(), '.', ':');
  return consume::ConsumedEvent(
      {.channel = std::move(channel),
       .operation = kOperation,
       .payload = std::move(payload),
       .source = kSource,
       .created_at_ns = m.timestamp_ns >= 0 ? m.timestamp_ns : NowUnixNanos(),
       .id = consume::PositionId("nats:" + std::string(m.stream), m.seq),
       .key = {}},
      m.data, o.unwrap);
}

// ---------------------------------------------------------------------------

struct NatsConsumerDetector::Session {
  Session(const Options& options, const std::vector<std::string>& urls, RunContext& run,
          const Sleeper& sl, uint64_t& seq)
      : o(options), servers(urls), ctx(run), sleeper(sl), next_seq(seq) {
    jsOptions_Init(&jo);
    jo.Wait = o.timeout.count();
  }
  ~Session() {
    if (sub != nullptr) natsSubscription_Destroy(sub);  // keeps the durable consumer
    if (js != nullptr) jsCtx_Destroy(js);
    if (nc != nullptr) {
      natsConnection_Close(nc);
      natsConnection_Destroy(nc);
    }
    if (opts != nullptr) natsOptions_Destroy(opts);
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const Options& o;
  const std::vector<std::string>& servers;
  RunContext& ctx;
  const Sleeper& sleeper;
  uint64_t& next_seq;      // the detector's
  uint64_t published = 0;  // the last seq handed to the bus by this session
  jsOptions jo;
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* sub = nullptr;
  consume::DeliveryQueue<Held> held;
  SteadyClock::time_point next_keepalive = SteadyClock::now();

  Status Connect();
  Status EnsureConsumer();
  Status Subscribe();
  Status Serve();
  Status Fetch(EventBatch& batch);
  Status Take(natsMsg* msg, EventBatch& batch);
  void AckDelivered();
  void KeepAlive();
  Status Close();
};

Status NatsConsumerDetector::Session::Connect() {
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) {
    s = client::nats::ConfigureOptions(opts, o, servers, o.timeout);
  }
  if (s != NATS_OK) return Fail(ErrorCode::kConfig, "options: " + client::nats::ErrorText(s));
  s = natsConnection_Connect(&nc, opts);
  if (s != NATS_OK) return Fail(Bad(s, "connect to " + client::nats::RedactServers(o.url)));
  s = natsConnection_JetStream(&js, nc, &jo);
  if (s != NATS_OK) return Fail(Bad(s, "JetStream context"));
  return Ok();
}

// The stream must exist; the durable consumer is created, or updated to
// this configuration.
Status NatsConsumerDetector::Session::EnsureConsumer() {
  jsStreamInfo* si = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js, o.stream.c_str(), &jo, &code);
  if (si != nullptr) jsStreamInfo_Destroy(si);
  if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
    return Fail(ErrorCode::kConfig, "JetStream stream \"" + o.stream +
                                        "\" does not exist (create it, or start the nats sink "
                                        "that publishes to it first)");
  }
  if (s != NATS_OK) return Fail(Bad(s, "stream info of \"" + o.stream + "\""));
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = o.durable.c_str();
  cc.AckPolicy = js_AckExplicit;
  cc.DeliverPolicy = js_DeliverAll;
  cc.AckWait = std::chrono::nanoseconds(o.ack_wait).count();
  cc.MaxAckPending = o.max_pending;
  if (o.subjects.size() == 1) cc.FilterSubject = o.subjects[0].c_str();
  jsConsumerInfo* ci = nullptr;
  s = js_AddConsumer(&ci, js, o.stream.c_str(), &cc, &jo, &code);
  if (s != NATS_OK && (code == JSConsumerNameExistErr || code == JSConsumerExistingActiveErr ||
                       code == 10148 /* consumer already exists (other config) */)) {
    s = js_UpdateConsumer(&ci, js, o.stream.c_str(), &cc, &jo, &code);
  }
  if (ci != nullptr) jsConsumerInfo_Destroy(ci);
  if (s == NATS_OK) return Ok();
  const std::string why = client::nats::ErrorText(s);
  if (code != 0) {
    return Fail(ErrorCode::kConfig, "durable consumer \"" + o.durable + "\" on stream \"" +
                                        o.stream + "\": " + why + " (JetStream error " +
                                        std::to_string(static_cast<int>(code)) + ")");
  }
  return Fail(Bad(s, "durable consumer \"" + o.durable + "\""));
}

Status NatsConsumerDetector::Session::Subscribe() {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = o.stream.c_str();
  so.Consumer = o.durable.c_str();
  const char* subject = o.subjects.size() == 1 ? o.subjects[0].c_str() : nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = js_PullSubscribe(&sub, js, subject, o.durable.c_str(), &jo, &so, &code);
  if (s != NATS_OK) return Fail(Bad(s, "pull subscribe \"" + o.durable + "\""));
  return Ok();
}

Status NatsConsumerDetector::Session::Serve() {
  auto& m = M();
  while (!sleeper.woken()) {
    if (natsConnection_IsClosed(nc)) return Fail(ErrorCode::kConnection, "connection closed");
    AckDelivered();
    if (const auto now = SteadyClock::now(); now >= next_keepalive) {
      KeepAlive();
      next_keepalive = now + o.ack_wait / 4;
    }
    // Less room than a batch: wait (a little) for the adapters instead of
    // fetching a few messages at a time.
    const auto room = static_cast<size_t>(o.max_pending) -
                      std::min(held.size(), static_cast<size_t>(o.max_pending));
    if (room < std::min(static_cast<size_t>(o.batch_size), static_cast<size_t>(o.max_pending))) {
      const uint64_t before = consume::DeliveredThrough(ctx, next_seq);
      const PollOptions wait{.deadline = sleeper.clock().Now() + kFullWait};
      (void)PollUntil([&] { return consume::DeliveredThrough(ctx, next_seq) > before; }, sleeper,
                      wait);
      continue;
    }
    EventBatch batch;
    if (auto st = Fetch(batch); !st) return st;
    m.pending.Set(static_cast<double>(held.size()));
    if (batch.events.empty()) continue;
    if (!ctx.publish(std::move(batch))) break;  // the pipeline is stopping
    published = next_seq;
  }
  return Close();
}

Status NatsConsumerDetector::Session::Fetch(EventBatch& batch) {
  const int64_t room = o.max_pending - static_cast<int64_t>(held.size());
  natsMsgList list{nullptr, 0};
  const natsStatus s = natsSubscription_Fetch(
      &list, sub, static_cast<int>(std::min(o.batch_size, room)), o.fetch_wait.count(), nullptr);
  Status result = Ok();
  if (s != NATS_OK && s != NATS_TIMEOUT) {
    M().errors.Inc();
    result = Fail(Bad(s, "fetch"));
  }
  for (int i = 0; i < list.Count && result; ++i) {
    natsMsg* msg = list.Msgs[i];
    list.Msgs[i] = nullptr;  // ours now
    result = Take(msg, batch);
  }
  natsMsgList_Destroy(&list);
  return result;
}

// Takes ownership of `msg`.
Status NatsConsumerDetector::Session::Take(natsMsg* raw, EventBatch& batch) {
  MsgPtr msg(raw);
  auto& m = M();
  m.received.Inc();
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg.get()) != NATS_OK) {
    m.errors.Inc();
    return Fail(ErrorCode::kConnection, "a fetched message has no JetStream metadata");
  }
  Message in{.stream = o.stream,
             .subject = natsMsg_GetSubject(msg.get()),
             .seq = meta->Sequence.Stream,
             .timestamp_ns = meta->Timestamp,
             .data = std::string_view(natsMsg_GetData(msg.get()),
                                      static_cast<size_t>(natsMsg_GetDataLength(msg.get()))),
             .headers = {}};
  m.lag.Set(static_cast<double>(meta->NumPending));
  jsMsgMetaData_Destroy(meta);
  const auto now = SteadyClock::now();
  if (o.subjects.size() > 1 &&
      std::none_of(o.subjects.begin(), o.subjects.end(),
                   [&](const std::string& p) { return SubjectMatches(p, in.subject); })) {
    m.skipped.Inc();
    held.Push(next_seq, Held{std::move(msg), now});
    return Ok();
  }
  in.headers = HeadersOf(msg.get());
  Converted c = MessageEvent(in, o);
  if (!c.unusable.empty()) {
    if (auto st = consume::RecordUnusable(ctx, c.event, kSource, c.unusable, m.dead_lettered);
        !st) {
      return st;
    }
    held.Push(next_seq, Held{std::move(msg), now});
    return Ok();
  }
  c.event.seq = ++next_seq;
  held.Push(next_seq, Held{std::move(msg), now});
  batch.events.push_back(std::move(c.event));
  return Ok();
}

void NatsConsumerDetector::Session::AckDelivered() {
  size_t acked = 0;
  held.Release(consume::DeliveredThrough(ctx, next_seq), [&](Held&& h) {
    // No jsOptions: with them libnats waits on every ack (~150 µs each here).
    if (natsMsg_Ack(h.msg.get(), nullptr) == NATS_OK) {
      ++acked;
    } else {
      M().errors.Inc();  // JetStream delivers it again after ack_wait
    }
  });
  M().acked.Inc(acked);
}

// Messages waiting for delivery longer than half of ack_wait get an
// in-progress ack, which restarts JetStream's redelivery timer.
void NatsConsumerDetector::Session::KeepAlive() {
  const auto now = SteadyClock::now();
  const auto due = now - o.ack_wait / 2;
  held.ForEach([&](Held& h) {
    if (h.touched > due) return;
    h.touched = now;
    if (natsMsg_InProgress(h.msg.get(), nullptr) == NATS_OK) M().in_progress.Inc();
  });
}

// At shutdown: lets the events in flight finish (up to stop_grace), acks
// them and makes sure the acks left.
Status NatsConsumerDetector::Session::Close() {
  if (!held.empty()) (void)consume::FinishInFlight(ctx, sleeper, published, o.stop_grace, kSource);
  AckDelivered();
  (void)natsConnection_FlushTimeout(nc, o.timeout.count());
  return Ok();
}

// ---------------------------------------------------------------------------

NatsConsumerDetector::NatsConsumerDetector(Options options) : options_(std::move(options)) {}

Status NatsConsumerDetector::Run(RunContext& ctx) {
  auto servers = client::nats::ParseServers(options_.url);
  if (!servers) return Fail(servers.error().Wrap("nats_consumer"));
  servers_ = std::move(*servers);
  log::Info("starting detector", {{"detector", kSource},
                                  {"url", client::nats::RedactServers(options_.url)},
                                  {"stream", options_.stream},
                                  {"durable", options_.durable},
                                  {"unwrap", options_.unwrap}});
  return consume::Supervise(ctx, kSource, M().errors, options_.backoff,
                            [&](Supervisor::Session& session) { return RunCycle(ctx, session); });
}

Status NatsConsumerDetector::RunCycle(RunContext& ctx, Supervisor::Session& session) {
  Session s(options_, servers_, ctx, session.sleeper(), next_seq_);
  if (auto st = s.Connect(); !st) {
    return Fail(consume::AtStart(session, next_seq_, st.error(), kSource, "--nats-url"));
  }
  if (auto st = s.EnsureConsumer(); !st) return Fail(st.error().Wrap("nats_consumer"));
  if (auto st = s.Subscribe(); !st) return st;
  session.Up();
  log::Info("consuming", {{"detector", kSource},
                          {"stream", options_.stream},
                          {"durable", options_.durable},
                          {"subjects", static_cast<int64_t>(options_.subjects.size())}});
  return s.Serve();
}

// ---------------------------------------------------------------------------

namespace {

bool ValidName(std::string_view name) {
  return !name.empty() && name.find_first_of(". *>\t\r\n/\\") == std::string_view::npos;
}

void Validate(const Options& o, std::vector<std::string>& errors) {
  client::nats::ValidateConnection(o, "detector nats_consumer", errors);
  if (!ValidName(o.stream)) {
    errors.push_back("nats_consumer.stream: \"" + o.stream +
                     "\" is not a JetStream stream name (no '.', '*', '>', spaces)");
  }
  if (!ValidName(o.durable)) {
    errors.push_back("nats_consumer.durable: \"" + o.durable +
                     "\" is not a durable consumer name (no '.', '*', '>', spaces)");
  }
  for (const auto& s : o.subjects) {
    if (s.empty() || s.find_first_of(" \t\r\n") != std::string::npos || s.starts_with('.') ||
        s.ends_with('.') || s.find("..") != std::string::npos) {
      errors.push_back("nats_consumer.subjects: \"" + s + "\" is not a NATS subject");
    }
  }
  if (o.ack_wait < 2 * o.fetch_wait) {
    errors.push_back("nats_consumer.ack_wait: must be at least twice nats_consumer.fetch_wait");
  }
  ValidateBackoff("detector", o.backoff, errors);
}

// `pgcdc doctor`: the server answers, JetStream is on, the stream exists and
// covers the subjects, and where the durable consumer stands. Changes nothing
// (the consumer is created only by `listen`).
CheckList Doctor(const Options& o) {
  auto servers = client::nats::ParseServers(o.url);
  if (!servers) return FailedCheck("connect", servers.error().message());
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsStreamInfo* si = nullptr;
  jsConsumerInfo* ci = nullptr;
  auto cleanup = [&] {
    if (ci != nullptr) jsConsumerInfo_Destroy(ci);
    if (si != nullptr) jsStreamInfo_Destroy(si);
    if (js != nullptr) jsCtx_Destroy(js);
    if (nc != nullptr) natsConnection_Destroy(nc);
    if (opts != nullptr) natsOptions_Destroy(opts);
  };
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = client::nats::ConfigureOptions(opts, o, *servers, o.timeout);
  if (s == NATS_OK) s = natsConnection_Connect(&nc, opts);
  if (s != NATS_OK) {
    cleanup();
    return FailedCheck("connect",
                       Bad(s, "connect to " + client::nats::RedactServers(o.url)).message(),
                       "check --nats-url and that nats-server runs with -js");
  }
  CheckList out{{.name = "connect", .detail = client::nats::RedactServers(o.url)}};
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = o.timeout.count();
  jsErrCode code = static_cast<jsErrCode>(0);
  s = natsConnection_JetStream(&js, nc, &jo);
  if (s == NATS_OK) s = js_GetStreamInfo(&si, js, o.stream.c_str(), &jo, &code);
  if (s != NATS_OK || si == nullptr) {
    const bool missing = s == NATS_NOT_FOUND || code == JSStreamNotFoundErr;
    out.push_back(
        Verdict(false, CheckResult::Level::kFail, "stream",
                missing ? "\"" + o.stream + "\" does not exist" : Bad(s, "stream info").message(),
                "create the stream, or start the hub's nats sink that publishes to it "
                "(it creates the stream) before the consumer"));
    cleanup();
    return out;
  }
  std::string subjects;
  for (int i = 0; i < si->Config->SubjectsLen; ++i) {
    subjects += (subjects.empty() ? "" : ",") + std::string(si->Config->Subjects[i]);
  }
  out.push_back({.name = "stream",
                 .detail = o.stream + " (" + subjects + "; " + std::to_string(si->State.Msgs) +
                           " messages)"});
  for (const auto& want : o.subjects) {
    bool covered = false;
    for (int i = 0; i < si->Config->SubjectsLen; ++i) {
      covered = covered || SubjectMatches(si->Config->Subjects[i], want) ||
                SubjectMatches(want, si->Config->Subjects[i]);
    }
    out.push_back(Verdict(covered, CheckResult::Level::kWarn, "subject " + want,
                          covered ? "in the stream" : "matches none of the stream's subjects",
                          "check --nats-consumer-subjects against the stream's subjects"));
  }
  s = js_GetConsumerInfo(&ci, js, o.stream.c_str(), o.durable.c_str(), &jo, &code);
  if (s == NATS_OK && ci != nullptr) {
    out.push_back({.name = "durable",
                   .detail = o.durable + " exists (" + std::to_string(ci->NumPending) +
                             " pending, " + std::to_string(ci->NumAckPending) + " unacked)"});
  } else {
    out.push_back({.name = "durable", .detail = o.durable + " will be created on start"});
  }
  cleanup();
  return out;
}

}  // namespace

ConnectorInfo Connector() {
  using O = Options;
  return DefineDetector<Options>({
      .name = "nats_consumer",
      .description =
          "NATS JetStream durable pull consumer: every message becomes a NATS_CONSUME event "
          "(or, with --nats-consumer-unwrap, the pgcdc event it carries); each message is "
          "acked only after every adapter delivered the event. At-least-once; needs no --db.",
      .params = Params({
          client::nats::ConnectionParams<O>(),
          FlagsFromKeys(
              "nats_consumer.", "nats-consumer-",
              {Param("nats_consumer.stream", &O::stream,
                     "JetStream stream to consume (must exist)"),
               Param("nats_consumer.subjects", &O::subjects,
                     "subjects to consume (wildcards allowed; default: every subject of the "
                     "stream)"),
               Param("nats_consumer.durable", &O::durable,
                     "durable consumer name (created or updated on start)"),
               Param("nats_consumer.unwrap", &O::unwrap,
                     "messages that are pgcdc event envelopes become that event again; other "
                     "messages go to the DLQ"),
               Param("nats_consumer.metadata", &O::metadata,
                     "payload = {stream, subject, seq, timestamp, key, headers, value} instead of "
                     "the message data"),
               Param("nats_consumer.ack_wait", &O::ack_wait,
                     "JetStream redelivers a message not acked within this (pgcdc sends "
                     "in-progress acks while a message waits for slow sinks)",
                     {.min = 1000}),
               Param("nats_consumer.fetch_wait", &O::fetch_wait,
                     "how long one pull waits for messages", {.min = 1}),
               Param("nats_consumer.timeout", &O::timeout,
                     "deadline of connecting and of JetStream requests", {.min = 1}),
               Param("nats_consumer.max_pending", &O::max_pending,
                     "messages consumed and not yet acked at most (the consumer's MaxAckPending)",
                     {.min = 1, .max = 10'000'000}),
               Param("nats_consumer.batch_size", &O::batch_size, "messages per pull at most",
                     {.min = 1, .max = 100'000})}),
          ReconnectParams<O>("detector"),
      }),
      .validate =
          [](const O& o, const Context& ctx, Errors& errors) {
            Validate(o, errors);
            consume::ValidateCore(ctx.core, kSource, "messages would be acked", errors);
          },
      .make = [](O o, const Context& ctx) -> Result<DetectorPtr> {
        return consume::MakeConsumer<NatsConsumerDetector>(std::move(o), ctx.core);
      },
      .check = [](const O& o, const Context&) { return Doctor(o); },
  });
}

}  // namespace pgcdc::detector::nats_consumer

PGCDC_REGISTER_CONNECTOR(detector, nats_consumer, pgcdc::detector::nats_consumer::Connector)
