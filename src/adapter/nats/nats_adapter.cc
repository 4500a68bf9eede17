#include "adapter/nats/nats_adapter.h"

#include <nats/nats.h>

#include <climits>
#include <condition_variable>
#include <mutex>
#include <unordered_map>

#include "adapter/encoding/params.h"
#include "adapter/encoding/sink_encoder.h"
#include "client/nats_client.h"
#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/trace_context.h"
#include "dlq/dlq.h"
#include "registry/define.h"

namespace pgcdc::adapter::nats {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kAdapter = "nats";
constexpr const char* kMsgIdHeader = "Nats-Msg-Id";
constexpr const char* kContentTypeHeader = "Content-Type";

struct Metrics {
  metrics::Counter* published;
  metrics::Counter* acked;
  metrics::Counter* duplicates;
  metrics::Counter* errors;
  metrics::Counter* retries;
  metrics::Counter* dead_lettered;
  metrics::Counter* reconnects;
  metrics::Histogram* ack_latency;
};

const Metrics& M() {
  static const Metrics m = [] {
    auto& r = metrics::Default();
    return Metrics{
        &r.AddCounter("pgcdc_nats_published_total",
                      "Messages the nats adapter handed to the connection (re-publishes "
                      "included).")
             .Get(),
        &r.AddCounter("pgcdc_nats_acked_total", "Messages JetStream acknowledged.").Get(),
        &r.AddCounter("pgcdc_nats_duplicates_total",
                      "Acknowledged messages JetStream had already stored (same Nats-Msg-Id "
                      "inside the duplicate window): redeliveries it dropped.")
             .Get(),
        &r.AddCounter("pgcdc_nats_errors_total",
                      "Publishes that failed or were answered with an error (each is retried "
                      "or dead-lettered).")
             .Get(),
        &r.AddCounter("pgcdc_nats_retries_total",
                      "Times the nats adapter backed off, reconnected and published again the "
                      "events not yet acknowledged.")
             .Get(),
        &r.AddCounter("pgcdc_nats_dead_lettered_total",
                      "Events sent to the DLQ because NATS can never accept their message.")
             .Get(),
        &r.AddCounter("pgcdc_nats_reconnects_total",
                      "Times the nats adapter connected again after losing its connection.")
             .Get(),
        &r.AddHistogram("pgcdc_nats_publish_duration_seconds",
                        "Time from publishing a message to its JetStream acknowledgement.",
                        metrics::DefaultBuckets())
             .Get(),
    };
  }();
  return m;
}

Error Cancelled() { return Error(ErrorCode::kCancelled, "nats: interrupted"); }

std::string NatsError(natsStatus s) { return client::nats::ErrorText(s); }

int64_t Nanos(milliseconds d) { return std::chrono::nanoseconds(d).count(); }

}  // namespace

// ---- servers, subjects ---------------------------------------------------------

std::string SubjectProblem(std::string_view subject) {
  if (subject.empty()) return "empty subject";
  size_t start = 0;
  for (;;) {
    const size_t dot = std::min(subject.find('.', start), subject.size());
    const std::string_view token = subject.substr(start, dot - start);
    if (token.empty()) return "empty token in subject \"" + std::string(subject) + "\"";
    if (token == "*" || token == ">") {
      return "wildcard token \"" + std::string(token) + "\" in subject \"" + std::string(subject) +
             "\"";
    }
    for (const char c : token) {
      if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
        return "whitespace or control character in subject \"" + std::string(subject) + "\"";
      }
    }
    if (dot == subject.size()) return {};
    start = dot + 1;
  }
}

std::string StreamNameProblem(std::string_view name) {
  if (name.empty()) return "empty stream name";
  for (const char c : name) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '.' || c == '*' || c == '>' ||
        c == '/' || c == '\\') {
      return "a stream name may not contain whitespace, '.', '*', '>', '/' or '\\'";
    }
  }
  return {};
}

Result<std::string> SubjectFor(std::string_view prefix, std::string_view channel) {
  std::string subject(channel);
  std::replace(subject.begin(), subject.end(), ':', '.');
  const std::string head = std::string(prefix) + ".";
  if (!subject.starts_with(head)) subject = head + subject;
  if (std::string why = SubjectProblem(subject); !why.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "channel \"" + std::string(channel) + "\" maps to no valid subject: " + why);
  }
  return subject;
}

PublishFailure ClassifyPublishFailure(int status, int js_code) {
  // The message itself is too large for the server (max_payload, refused by
  // the client library) or for the stream (max_msg_size): sending it again
  // cannot help. Everything else (connection, timeouts, no responders,
  // storage or account limits, leader changes) is a state of the server.
  if (status == NATS_MAX_PAYLOAD) return PublishFailure::kDeadLetter;
  if (js_code == JSStreamMessageExceedsMaximumErr) return PublishFailure::kDeadLetter;
  return PublishFailure::kRetry;
}

// ---- ack bookkeeping -----------------------------------------------------------

void AckWindow::Reset(size_t n) {
  states_.assign(n, State::kQueued);
  cursor_ = 0;
  in_flight_ = failed_ = done_ = 0;
}

std::optional<size_t> AckWindow::Next(size_t max_in_flight) {
  if (in_flight_ >= max_in_flight) return std::nullopt;
  while (cursor_ < states_.size() && states_[cursor_] != State::kQueued) ++cursor_;
  if (cursor_ == states_.size()) return std::nullopt;
  return cursor_;
}

void AckWindow::Sent(size_t i) {
  if (states_[i] != State::kQueued) return;
  states_[i] = State::kInFlight;
  ++in_flight_;
}

bool AckWindow::Done(size_t i) {
  if (states_[i] == State::kInFlight) {
    --in_flight_;
  } else if (states_[i] != State::kQueued) {
    return false;
  }
  states_[i] = State::kDone;
  ++done_;
  return true;
}

bool AckWindow::Failed(size_t i) {
  if (states_[i] != State::kInFlight) return false;
  states_[i] = State::kFailed;
  --in_flight_;
  ++failed_;
  return true;
}

size_t AckWindow::FailInFlight() {
  size_t n = 0;
  for (size_t i = 0; i < states_.size() && in_flight_ > 0; ++i) n += Failed(i) ? 1 : 0;
  return n;
}

size_t AckWindow::Requeue() {
  size_t n = 0;
  for (size_t i = 0; i < states_.size() && n < failed_; ++i) {
    if (states_[i] != State::kFailed) continue;
    states_[i] = State::kQueued;
    cursor_ = std::min(cursor_, i);
    ++n;
  }
  failed_ = 0;
  return n;
}

// ---- connection ----------------------------------------------------------------

namespace {

// An answer libnats delivered for one message (on its own thread).
struct Answer {
  size_t index = 0;
  bool ok = false;
  bool duplicate = false;
  natsStatus status = NATS_OK;
  int js_code = 0;
  std::string text;
};

// Where a connection's callbacks leave what they learn for the worker.
struct Inbox {
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<const natsMsg*, size_t> in_flight;  // message → event index
  std::vector<Answer> answers;
  bool closed = false;
  // The worker sleeps until at most this many messages are still in flight
  // (or an error or the close arrives): waking it for every ack would cost a
  // context switch per message.
  size_t wake_at = 0;
  bool waiting = false;
};

// Callbacks find their connection's inbox by the token passed as closure.
// A connection unregisters first thing when it is torn down, so a callback
// that runs late (libnats threads may still be finishing one) finds nothing
// and does nothing.
class InboxRegistry {
 public:
  uintptr_t Add(std::shared_ptr<Inbox> inbox) {
    std::lock_guard lock(mu_);
    const uintptr_t token = next_++;
    map_.emplace(token, std::move(inbox));
    return token;
  }
  void Remove(uintptr_t token) {
    std::lock_guard lock(mu_);
    map_.erase(token);
  }
  std::shared_ptr<Inbox> Find(void* closure) {
    std::lock_guard lock(mu_);
    auto it = map_.find(reinterpret_cast<uintptr_t>(closure));
    return it == map_.end() ? nullptr : it->second;
  }

 private:
  std::mutex mu_;
  uintptr_t next_ = 1;
  std::unordered_map<uintptr_t, std::shared_ptr<Inbox>> map_;
};

// Never destroyed: libnats threads may call back while the process exits.
InboxRegistry& Inboxes() {
  static auto* registry = new InboxRegistry;
  return *registry;
}

void OnAck(jsCtx*, natsMsg* msg, jsPubAck* ack, jsPubAckErr* err, void* closure) {
  if (auto inbox = Inboxes().Find(closure)) {
    std::lock_guard lock(inbox->mu);
    if (auto it = inbox->in_flight.find(msg); it != inbox->in_flight.end()) {
      Answer a;
      a.index = it->second;
      a.ok = ack != nullptr;
      a.duplicate = ack != nullptr && ack->Duplicate;
      if (err != nullptr) {
        a.status = err->Err;
        a.js_code = static_cast<int>(err->ErrCode);
        a.text = err->ErrText != nullptr ? err->ErrText : natsStatus_GetText(err->Err);
      }
      inbox->in_flight.erase(it);
      const bool wake = !a.ok || inbox->in_flight.size() <= inbox->wake_at;
      inbox->answers.push_back(std::move(a));
      if (wake && inbox->waiting) inbox->cv.notify_one();
    }
  }
  natsMsg_Destroy(msg);  // with an AckHandler the message is ours
}

void OnClosed(natsConnection*, void* closure) {
  if (auto inbox = Inboxes().Find(closure)) {
    std::lock_guard lock(inbox->mu);
    inbox->closed = true;
    inbox->cv.notify_one();
  }
}

void OnAsyncError(natsConnection*, natsSubscription*, natsStatus err, void* closure) {
  if (Inboxes().Find(closure) == nullptr) return;
  log::Warn("nats: asynchronous error",
            {{"adapter", kAdapter}, {"error", natsStatus_GetText(err)}});
}

bool JetStreamMissing(natsStatus s, jsErrCode code) {
  return s == NATS_NO_RESPONDERS || code == JSNotEnabledErr || code == JSNotEnabledForAccountErr;
}

// Creates the stream, or updates an existing one so that it takes
// <prefix>.> with our max_age and duplicate window (other settings kept).
Status EnsureStream(jsCtx* js, const Options& o) {
  const std::string subject = o.subject + ".>";
  const int64_t max_age = Nanos(o.max_age);
  const int64_t duplicates = Nanos(o.duplicate_window);
  jsStreamInfo* info = nullptr;
  jsErrCode code{};
  natsStatus s = js_GetStreamInfo(&info, js, o.stream.c_str(), nullptr, &code);
  std::string action = "read";
  if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
    action = "create";
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char* subjects[] = {subject.c_str()};
    cfg.Name = o.stream.c_str();
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.MaxAge = max_age;
    cfg.Duplicates = duplicates;
    cfg.Storage = js_FileStorage;
    code = {};
    s = js_AddStream(nullptr, js, &cfg, nullptr, &code);
  } else if (s == NATS_OK) {
    jsStreamConfig cfg = *info->Config;  // pointers stay owned by `info`
    std::vector<const char*> subjects(cfg.Subjects, cfg.Subjects + cfg.SubjectsLen);
    const bool has =
        std::any_of(subjects.begin(), subjects.end(), [&](const char* x) { return subject == x; });
    if (!has || cfg.MaxAge != max_age || cfg.Duplicates != duplicates) {
      action = "update";
      if (!has) subjects.push_back(subject.c_str());
      cfg.Subjects = subjects.data();
      cfg.SubjectsLen = static_cast<int>(subjects.size());
      cfg.MaxAge = max_age;
      cfg.Duplicates = duplicates;
      s = js_UpdateStream(nullptr, js, &cfg, nullptr, &code);
    }
    jsStreamInfo_Destroy(info);
  }
  if (s == NATS_OK) {
    if (action != "read") {
      log::Info("nats: stream " + action + "d", {{"adapter", kAdapter},
                                                 {"stream", o.stream},
                                                 {"subject", subject},
                                                 {"max_age_ms", int64_t{o.max_age.count()}}});
    }
    return Ok();
  }
  if (JetStreamMissing(s, code)) {
    return Fail(ErrorCode::kConnection,
                "the server has no JetStream (start nats-server with -js): " + NatsError(s));
  }
  std::string why = NatsError(s);
  if (code != 0) why += " (JetStream error " + std::to_string(static_cast<int>(code)) + ")";
  return Fail(ErrorCode::kConnection, action + " stream \"" + o.stream + "\": " + why);
}

}  // namespace

struct NatsAdapter::Conn {
  ~Conn() {
    Inboxes().Remove(token);
    if (js != nullptr) jsCtx_Destroy(js);  // destroys the messages still in flight
    if (nc != nullptr) {
      natsConnection_Close(nc);
      natsConnection_Destroy(nc);
    }
    if (opts != nullptr) natsOptions_Destroy(opts);
  }
  bool Closed() {
    std::lock_guard lock(inbox->mu);
    return inbox->closed;
  }

  std::shared_ptr<Inbox> inbox = std::make_shared<Inbox>();
  uintptr_t token = Inboxes().Add(inbox);
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  std::vector<Answer> answers;  // the worker's batch (capacity reused)
};

NatsAdapter::NatsAdapter(Options options)
    : options_(std::move(options)),
      encoder_(std::make_unique<encoding::SinkEncoder>(std::string(kAdapter), options_.encoding)),
      backoff_(options_.backoff) {
  if (options_.max_pending < 1) options_.max_pending = 1;
  M();
}

NatsAdapter::~NatsAdapter() { Close(); }

Status NatsAdapter::Attach(const adapter::Services& services) {
  dlq_ = services.dlq;
  health_ = services.health;
  return Ok();
}

Status NatsAdapter::Connect() {
  auto c = std::make_unique<Conn>();
  // An opaque token looked up in a registry by the callbacks, never dereferenced.
  void* closure = reinterpret_cast<void*>(c->token);  // NOLINT(performance-no-int-to-ptr)
  const int64_t timeout_ms = options_.timeout.count();
  natsStatus s = natsOptions_Create(&c->opts);
  if (s == NATS_OK) {
    s = client::nats::ConfigureOptions(c->opts, options_, servers_, options_.timeout);
  }
  if (s == NATS_OK) s = natsOptions_SetClosedCB(c->opts, OnClosed, closure);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(c->opts, OnClosed, closure);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(c->opts, OnAsyncError, closure);
  if (s != NATS_OK) return Fail(ErrorCode::kConfig, "options: " + NatsError(s));
  s = natsConnection_Connect(&c->nc, c->opts);
  if (s != NATS_OK) return Fail(ErrorCode::kConnection, "connect: " + NatsError(s));
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = timeout_ms;
  jo.PublishAsync.AckHandler = OnAck;
  jo.PublishAsync.AckHandlerClosure = closure;
  s = natsConnection_JetStream(&c->js, c->nc, &jo);
  if (s != NATS_OK) return Fail(ErrorCode::kConnection, "JetStream context: " + NatsError(s));
  if (auto st = EnsureStream(c->js, options_); !st) return st;
  conn_ = std::move(c);
  return Ok();
}

void NatsAdapter::Disconnect() {
  window_.FailInFlight();
  conn_.reset();
}

Status NatsAdapter::Open() {
  auto servers = ParseServers(options_.url);
  if (!servers) return Fail(servers.error().Wrap("nats"));
  servers_ = std::move(*servers);
  if (auto st = Connect(); !st) {
    return Fail(st.error().code(),
                "nats: cannot use " + RedactServers(options_.url) + ": " + st.error().message());
  }
  if (auto st = encoder_->Open(); !st) {
    Disconnect();
    return st;
  }
  log::Info("nats ready", {{"adapter", kAdapter},
                           {"url", RedactServers(options_.url)},
                           {"stream", options_.stream},
                           {"subjects", options_.subject + ".>"},
                           {"max_pending", options_.max_pending},
                           {"encoding", encoding::FormatName(options_.encoding.format)}});
  return Ok();
}

Status NatsAdapter::DeadLetter(size_t i, const std::string& reason) {
  if (auto st = dlq::DeadLetterRejected(dlq_, *slots_[i].event, kAdapter, reason); !st) {
    return st;
  }
  window_.Done(i);
  M().dead_lettered->Inc();
  return Ok();
}

void NatsAdapter::Degraded(const std::string& why) {
  if (health_ != nullptr) health_->Set(std::string(kAdapter), HealthStatus::kDegraded, why);
  degraded_ = true;
}

void NatsAdapter::Recovered() {
  backoff_.Reset();
  if (degraded_ && health_ != nullptr) health_->Up(std::string(kAdapter));
  degraded_ = false;
}

Result<const std::string*> NatsAdapter::MessageData(size_t i, std::string& failure) {
  Slot& slot = slots_[i];
  if (encoder_->passthrough()) return &slot.event->Json();
  if (slot.encoded) return &slot.data;
  auto r = encoder_->Encode(*slot.event, slot.event->Json(), slot.data);
  if (r) {
    slot.encoded = true;
    return &slot.data;
  }
  switch (r.error().kind) {
    case encoding::EncodeFailure::Kind::kDeadLetter:
      if (auto st = DeadLetter(i, "nats: " + r.error().message); !st) return Fail(st.error());
      return nullptr;
    case encoding::EncodeFailure::Kind::kCancelled:
      return Fail(Cancelled());
    case encoding::EncodeFailure::Kind::kRetry:
      break;
  }
  failure = r.error().message;
  encoder_failure_ = true;
  return nullptr;
}

Status NatsAdapter::PublishQueued(std::string& failure) {
  Inbox& inbox = *conn_->inbox;
  while (auto next = window_.Next(static_cast<size_t>(options_.max_pending))) {
    const size_t i = *next;
    Slot& slot = slots_[i];
    auto encoded = MessageData(i, failure);
    if (!encoded) return Fail(encoded.error());
    if (*encoded == nullptr) {
      if (!failure.empty()) return Ok();  // held: retried after a backoff
      continue;                           // dead-lettered
    }
    const std::string& data = **encoded;
    if (data.size() > static_cast<size_t>(INT_MAX)) {
      if (auto st = DeadLetter(i, "nats: message of " + std::to_string(data.size()) +
                                      " bytes is too large to publish");
          !st) {
        return st;
      }
      continue;
    }
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, slot.subject.c_str(), nullptr, data.data(),
                                  static_cast<int>(data.size()));
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, kMsgIdHeader, slot.msg_id.c_str());
    if (s == NATS_OK && !encoder_->passthrough()) {
      s = natsMsgHeader_Set(msg, kContentTypeHeader, std::string(encoder_->content_type()).c_str());
    }
    // W3C trace context of the event's deliver span, when tracing is on.
    if (s == NATS_OK && trace::Enabled()) {
      if (const std::string tp = trace::DeliveryTraceparent(*slot.event, "nats"); !tp.empty()) {
        s = natsMsgHeader_Set(msg, "traceparent", tp.c_str());
        const std::string state = trace::TracestateOf(*slot.event);
        if (s == NATS_OK && !state.empty()) s = natsMsgHeader_Set(msg, "tracestate", state.c_str());
      }
    }
    const natsMsg* key = msg;
    if (s == NATS_OK) {
      std::lock_guard lock(inbox.mu);
      inbox.in_flight[key] = i;
    }
    slot.sent = Clock::now();
    if (window_.in_flight() == 0) last_progress_ = slot.sent;
    window_.Sent(i);
    if (s == NATS_OK) s = js_PublishMsgAsync(conn_->js, &msg, nullptr);
    if (s == NATS_OK) {  // the library owns the message now
      M().published->Inc();
      continue;
    }
    {
      std::lock_guard lock(inbox.mu);
      inbox.in_flight.erase(key);
    }
    natsMsg_Destroy(msg);
    M().errors->Inc();
    const std::string why = NatsError(s);
    if (ClassifyPublishFailure(s, 0) == PublishFailure::kDeadLetter) {
      if (auto st = DeadLetter(i, "nats: " + why); !st) return st;
      continue;
    }
    window_.Failed(i);
    failure = "publish: " + why;
    return Ok();
  }
  return Ok();
}

Status NatsAdapter::TakeAnswers(milliseconds wait, size_t wake_at, std::string& failure) {
  Inbox& inbox = *conn_->inbox;
  std::vector<Answer>& answers = conn_->answers;
  answers.clear();
  bool closed = false;
  {
    std::unique_lock lock(inbox.mu);
    inbox.wake_at = wake_at;
    inbox.waiting = true;
    inbox.cv.wait_for(lock, wait, [&] {
      return inbox.in_flight.size() <= wake_at || inbox.closed ||
             std::any_of(inbox.answers.begin(), inbox.answers.end(),
                         [](const Answer& a) { return !a.ok; });
    });
    inbox.waiting = false;
    answers.swap(inbox.answers);
    closed = inbox.closed;
  }
  const auto now = Clock::now();
  if (!answers.empty()) last_progress_ = now;
  for (const Answer& a : answers) {
    if (a.ok) {
      if (!window_.Done(a.index)) continue;
      M().acked->Inc();
      if (a.duplicate) M().duplicates->Inc();
      M().ack_latency->Observe(std::chrono::duration<double>(now - slots_[a.index].sent).count());
      continue;
    }
    M().errors->Inc();
    std::string why = a.text;
    if (a.js_code != 0) why += " (JetStream error " + std::to_string(a.js_code) + ")";
    if (ClassifyPublishFailure(a.status, a.js_code) == PublishFailure::kDeadLetter) {
      if (window_.state(a.index) != AckWindow::State::kInFlight) continue;
      if (auto st = DeadLetter(a.index, "nats: " + why); !st) return st;
      continue;
    }
    if (window_.Failed(a.index) && failure.empty()) failure = "ack: " + why;
  }
  if (closed) {
    if (failure.empty()) failure = "connection closed by the server or the network";
    Disconnect();
  } else if (window_.in_flight() > 0 && now - last_progress_ > options_.timeout) {
    // Nothing answered for a whole timeout: the server or the path to it
    // hangs. What is in flight is published again on a new connection.
    M().errors->Inc(window_.in_flight());
    if (failure.empty()) {
      failure = "no acknowledgement within " + std::to_string(options_.timeout.count()) + "ms";
    }
    Disconnect();
  }
  return Ok();
}

Status NatsAdapter::Deliver(std::span<const Event* const> events) {
  if (sleeper_.woken()) return Fail(Cancelled());
  // Answers still due from an earlier call that failed belong to other
  // events: drop that connection.
  if (window_.in_flight() > 0) Disconnect();
  slots_.resize(events.size());
  window_.Reset(events.size());
  encoder_failure_ = false;
  for (size_t i = 0; i < events.size(); ++i) {
    Slot& slot = slots_[i];
    slot.event = events[i];
    slot.msg_id = events[i]->id.ToString();
    slot.encoded = false;
    auto subject = SubjectFor(options_.subject, events[i]->channel);
    if (subject) {
      slot.subject = std::move(*subject);
    } else if (auto st = DeadLetter(i, "nats: " + subject.error().message()); !st) {
      return st;
    }
  }
  std::string failure;
  for (;;) {
    if (window_.complete()) {
      Recovered();
      return Ok();
    }
    if (sleeper_.woken()) return Fail(Cancelled());
    if (failure.empty() && !conn_) {
      if (auto st = Connect(); !st) {
        failure = st.error().message();
      } else if (degraded_) {
        M().reconnects->Inc();
        log::Info("nats: reconnected", {{"adapter", kAdapter}});
      }
    }
    if (failure.empty()) {
      if (auto st = PublishQueued(failure); !st) return st;
    }
    if (window_.in_flight() > 0) {
      // With events still to publish, wake up once half the window is free;
      // else once everything is answered.
      const bool more = failure.empty() &&
                        window_.in_flight() + window_.done() + window_.failed() < window_.size();
      const size_t wake_at = more ? static_cast<size_t>(options_.max_pending) / 2 : 0;
      if (auto st = TakeAnswers(milliseconds(50), wake_at, failure); !st) return st;
      continue;
    }
    if (failure.empty()) continue;
    // Nothing in flight any more: back off, then publish the failed events
    // again on a fresh connection (which checks the stream again) — or on
    // the same one when only the schema registry failed.
    Degraded(failure);
    if (!std::exchange(encoder_failure_, false)) Disconnect();
    M().retries->Inc();
    const milliseconds delay = backoff_.Next();
    log::Warn("nats: publish failed; publishing the events not yet acknowledged again",
              {{"adapter", kAdapter},
               {"error", failure},
               {"pending_events", static_cast<uint64_t>(window_.size() - window_.done())},
               {"retry_in_ms", static_cast<int64_t>(delay.count())}});
    if (!sleeper_.SleepFor(delay)) return Fail(Cancelled());
    window_.Requeue();
    failure.clear();
  }
}

Status NatsAdapter::Flush() {
  const auto now = Clock::now();
  if (conn_ && conn_->Closed()) {
    Degraded("connection closed by the server or the network");
    Disconnect();
    log::Warn("nats: connection lost while idle; reconnecting", {{"adapter", kAdapter}});
    next_probe_ = now + backoff_.Next();
  }
  if (conn_ || !degraded_ || now < next_probe_ || sleeper_.woken()) return Ok();
  if (auto st = Connect(); !st) {
    next_probe_ = now + backoff_.Next();
    if (health_ != nullptr) {
      health_->Set(std::string(kAdapter), HealthStatus::kDegraded, st.error().message());
    }
    return Ok();
  }
  M().reconnects->Inc();
  log::Info("nats: reconnected", {{"adapter", kAdapter}});
  Recovered();
  return Ok();
}

void NatsAdapter::Interrupt() {
  sleeper_.Interrupt();
  encoder_->Interrupt();
}

void NatsAdapter::Close() { Disconnect(); }

// ---- declaration ---------------------------------------------------------------

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "nats",
      .description = "Publishes every event to a NATS JetStream stream (subject "
                     "<prefix>.<channel>, Nats-Msg-Id = event id for de-duplication); "
                     "asynchronous with a bounded window of unacknowledged messages, publishes "
                     "again until JetStream acknowledges, messages NATS rejects go to the DLQ.",
      .params = Params({
          client::nats::ConnectionParams<O>(),
          {Param("nats.subject", &O::subject,
                 "subject prefix: channel pgcdc:orders → <prefix>.orders, myapp:x → "
                 "<prefix>.myapp.x; the stream takes <prefix>.>"),
           Param("nats.stream", &O::stream, "JetStream stream, created or updated on start"),
           Param("nats.max_age", &O::max_age,
                 "stream retention: older messages are removed (0 = keep forever)", {.min = 0}),
           Param("nats.duplicate_window", &O::duplicate_window,
                 "stream de-duplication window: a message whose Nats-Msg-Id was stored this "
                 "recently is acknowledged and dropped",
                 {.min = 1}),
           Param("nats.max_pending", &O::max_pending,
                 "messages published and not yet acknowledged, at most (1 = one at a time)",
                 {.min = 1, .max = 1'000'000}),
           Param("nats.timeout", &O::timeout,
                 "deadline of connecting, of stream requests and of each publish "
                 "acknowledgement",
                 {.min = 1})},
          BackoffParams<O>("nats", "nats", &O::backoff, "retry (reconnect and publish again)"),
          encoding::EncodingParams<O>("nats", &O::encoding),
      }),
      .validate =
          [](const O& o, const Context&, Errors& errors) {
            client::nats::ValidateConnection(o, "adapter nats", errors);
            if (std::string why = SubjectProblem(o.subject); !why.empty()) {
              errors.push_back("nats.subject: " + why);
            }
            if (std::string why = StreamNameProblem(o.stream); !why.empty()) {
              errors.push_back("nats.stream: " + why);
            }
            for (auto& e : encoding::ValidateSettings(o.encoding)) errors.push_back(std::move(e));
            if (o.max_age.count() > 0 && o.duplicate_window > o.max_age) {
              errors.push_back("nats.duplicate_window: must not exceed nats.max_age");
            }
            ValidateBackoff("nats", o.backoff, errors);
          },
      .make = [](O o, const Context&) -> Result<AdapterPtr> {
        o.backoff.floor = std::min(o.backoff.floor, o.backoff.base);
        return std::make_unique<NatsAdapter>(std::move(o));
      },
  });
}

}  // namespace pgcdc::adapter::nats

PGCDC_REGISTER_CONNECTOR(adapter, nats, pgcdc::adapter::nats::Connector)
