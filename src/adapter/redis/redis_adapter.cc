#include "adapter/redis/redis_adapter.h"

#include <algorithm>
#include <charconv>

#include "adapter/redis/resp.h"
#include "core/log.h"
#include "core/metrics.h"
#include "dlq/dlq.h"
#include "net/client_socket.h"
#include "net/server_url.h"
#include "registry/define.h"
#include "transform/payload.h"

namespace pgcdc::adapter::redis {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kAdapter = "redis";

struct Metrics {
  metrics::Family<metrics::Counter>& commands = metrics::Default().AddCounter(
      "pgcdc_redis_commands_total",
      "Commands the redis adapter had answered successfully, by command.", {"command"});
  metrics::Family<metrics::Counter>& skipped = metrics::Default().AddCounter(
      "pgcdc_redis_skipped_total",
      "Events the redis adapter could not map to a key (no_id) or does not apply in its mode "
      "(truncate).",
      {"reason"});
  metrics::Counter& dead_lettered =
      metrics::DefaultCounter("pgcdc_redis_dead_lettered_total",
                              "Events sent to the DLQ because Redis rejected their command.");
  metrics::Counter& retries = metrics::DefaultCounter(
      "pgcdc_redis_retries_total",
      "Round trips the redis adapter retried after a connection-class failure.");
  metrics::Counter& errors = metrics::DefaultCounter(
      "pgcdc_redis_errors_total",
      "Failures of the redis adapter: error replies and failed round trips (connection, "
      "timeout).");
  metrics::Counter& reconnects =
      metrics::DefaultCounter("pgcdc_redis_reconnects_total",
                              "Times the redis adapter reconnected after losing its connection.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

Error Cancelled() { return Error(ErrorCode::kCancelled, "redis: interrupted"); }

}  // namespace

// ---- URL -----------------------------------------------------------------------

Result<RedisUrl> ParseRedisUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kConfig, "invalid redis URL \"" + RedactRedisUrl(url) + "\": " + why);
  };
  if (!url.starts_with("redis://") && !url.starts_with("rediss://")) {
    return bad("expected redis://host[:port][/db] or rediss:// for TLS");
  }
  auto parsed = net::ParseServerUrl(url);
  if (!parsed) return bad(parsed.error().message());
  RedisUrl out;
  out.tls = parsed->scheme == "rediss";
  out.host = std::move(parsed->host);
  out.port = parsed->port.value_or(6379);
  // redis://secret@host: a lone user-info part is the password (as
  // redis-cli reads it).
  out.username = std::move(parsed->user);
  out.password = std::move(parsed->password);
  const std::string& path = parsed->path;
  if (!path.empty()) {
    int db = 0;
    auto [p, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
    if (ec != std::errc() || p != path.data() + path.size() || db < 0) {
      return bad("the path must be a database number, got \"" + path + "\"");
    }
    out.db = db;
  }
  return out;
}

std::string RedactRedisUrl(std::string_view url) { return net::RedactServerUrl(url); }

// ---- planning ------------------------------------------------------------------

namespace {}  // namespace

Plan PlanEvent(const Options& options, const Event& event) {
  Plan plan;
  if (options.mode == Mode::kStream) {
    plan.kind = Plan::Kind::kCommand;
    plan.label = "xadd";
    plan.key = options.key_prefix + event.channel;
    const std::string id = event.id.ToString();
    const std::string maxlen = std::to_string(options.stream_maxlen);
    if (options.stream_maxlen > 0) {
      AppendCommand(plan.command, {"XADD", plan.key, "MAXLEN", "~", maxlen, "*", "id", id, "event",
                                   event.Json()});
    } else {
      AppendCommand(plan.command, {"XADD", plan.key, "*", "id", id, "event", event.Json()});
    }
    return plan;
  }
  transform::Arena arena;
  auto root = transform::JsonObject::Parse(event.payload, arena);
  if (!root) {
    plan.skip_reason = "no_id";  // not an object: nothing to key by
    return plan;
  }
  transform::JsonObject* image = root->get();
  std::string_view row_text = event.payload;
  const bool structured = (*root)->Find("op") != nullptr && (*root)->Find("row") != nullptr;
  if (structured) {
    auto child = (*root)->Child("row", arena);
    image = child ? *child : nullptr;
    if (image == nullptr) {
      plan.skip_reason = event.operation == "TRUNCATE" ? "truncate" : "no_id";
      return plan;
    }
    row_text = (*root)->Find("row")->raw;
  }
  const auto* id = image->Find(options.id_column);
  if (id == nullptr || id->raw == "null") {
    plan.skip_reason = "no_id";
    return plan;
  }
  plan.key = options.key_prefix + transform::StringifyJson(id->raw);
  if (options.mode == Mode::kInvalidate || event.operation == "DELETE") {
    plan.kind = Plan::Kind::kCommand;
    plan.label = "del";
    AppendCommand(plan.command, {"DEL", plan.key});
    return plan;
  }
  if (event.operation == "TRUNCATE") {
    plan.skip_reason = "truncate";
    return plan;
  }
  if (const auto* toast = (*root)->Find("_unchanged_toast_columns"); toast != nullptr) {
    plan.toast_columns = transform::JsonStringList(toast->raw);
  }
  if (!plan.toast_columns.empty()) {
    plan.kind = Plan::Kind::kMergeToast;
    plan.label = "set";
    plan.row_json = std::string(row_text);
    return plan;
  }
  plan.kind = Plan::Kind::kCommand;
  plan.label = "set";
  AppendCommand(plan.command, {"SET", plan.key, row_text});
  return plan;
}

std::string MergeToast(std::string_view row_json, std::span<const std::string> columns,
                       const std::optional<std::string>& stored) {
  transform::Arena arena;
  auto row = transform::JsonObject::Parse(row_json, arena);
  if (!row) return std::string(row_json);
  std::unique_ptr<transform::JsonObject> old;
  if (stored) {
    if (auto parsed = transform::JsonObject::Parse(*stored, arena); parsed)
      old = std::move(*parsed);
  }
  for (const std::string& column : columns) {
    const auto* m = old ? old->Find(column) : nullptr;
    if (m != nullptr) {
      (*row)->Set(column, m->raw);
    } else {
      (*row)->Erase(column);  // unknown value: leave it out rather than store null
    }
  }
  std::string out;
  (*row)->AppendTo(out);
  return out;
}

ReplyError ClassifyReplyError(std::string_view message) {
  // The error code is the first word of the reply.
  const std::string_view code = message.substr(0, message.find(' '));
  for (std::string_view transient :
       {"LOADING", "BUSY", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN", "OOM", "NOAUTH",
        "WRONGPASS", "NOPERM", "NOREPLICAS", "MISCONF", "UNBLOCKED"}) {
    if (code == transient) return ReplyError::kRetry;
  }
  return ReplyError::kDeadLetter;
}

// ---- connection ----------------------------------------------------------------

struct RedisAdapter::Conn {
  Conn(const RedisUrl& url, net::TlsOptions tls)
      : socket(net::Endpoint{.host = url.host, .port = url.port, .tls = url.tls}, std::move(tls)) {}

  // Reads `expected` replies.
  class Reader final : public net::ClientSocket::Reader {
   public:
    Reader(ReplyParser& parser, size_t expected, std::vector<Reply>& replies)
        : parser_(parser), expected_(expected), replies_(replies) {}
    Status OnData(std::string_view data) override {
      if (auto st = parser_.Feed(data, replies_); !st) return st;
      if (replies_.size() > expected_) {
        return Fail(ErrorCode::kProtocol, "resp: more replies than commands");
      }
      return Ok();
    }
    bool Done() const override { return replies_.size() >= expected_; }

   private:
    ReplyParser& parser_;
    size_t expected_;
    std::vector<Reply>& replies_;
  };

  // Sends `out` (`n` commands); the replies (a prefix of them on error) end
  // up in `replies`.
  Status Exchange(std::string_view out, size_t n, Clock::time_point deadline) {
    replies.clear();
    Reader reader(parser, n, replies);
    Status st = socket.Exchange(out, reader, deadline);
    if (!st) parser.Reset();
    return st;
  }

  net::ClientSocket socket;
  ReplyParser parser;
  std::vector<Reply> replies;
};

// One event on its way: its plan and how far it got.
struct RedisAdapter::Pending {
  const Event* event = nullptr;
  Plan plan;
  bool done = false;
  bool have_stored = false;  // kMergeToast: the GET was answered
  std::optional<std::string> stored;
};

RedisAdapter::RedisAdapter(Options options)
    : RetryingAdapter(kAdapter, options.backoff), options_(std::move(options)) {
  if (options_.batch_size == 0) options_.batch_size = 1;
  M();
}

RedisAdapter::~RedisAdapter() { Close(); }

Status RedisAdapter::Connect() {
  conn_ =
      std::make_unique<Conn>(url_, net::TlsOptions{.ca_file = options_.tls_ca_file,
                                                   .insecure_skip_verify = options_.tls_insecure});
  std::string out;
  size_t n = 0;
  if (!url_.password.empty()) {
    if (url_.username.empty()) {
      AppendCommand(out, {"AUTH", url_.password});
    } else {
      AppendCommand(out, {"AUTH", url_.username, url_.password});
    }
    ++n;
  }
  if (url_.db != 0) {
    AppendCommand(out, {"SELECT", std::to_string(url_.db)});
    ++n;
  }
  AppendCommand(out, {"PING"});
  ++n;
  const auto deadline = Clock::now() + options_.timeout;
  if (auto st = conn_->Exchange(out, n, deadline); !st) {
    conn_.reset();
    return st;
  }
  for (const Reply& r : conn_->replies) {
    if (r.is_error()) {
      std::string why = "handshake refused: " + r.text;
      conn_.reset();  // owns `r`
      return Fail(ErrorCode::kConnection, std::move(why));
    }
  }
  return Ok();
}

Status RedisAdapter::Open() {
  auto url = ParseRedisUrl(options_.url);
  if (!url) return Fail(url.error().Wrap("redis"));
  url_ = *url;
  if (auto st = Connect(); !st) {
    if (st.error().code() == ErrorCode::kCancelled) return Fail(Cancelled());
    return Fail(ErrorCode::kConnection,
                "redis: cannot use " + RedactRedisUrl(options_.url) + ": " + st.error().message());
  }
  static constexpr std::string_view kModes[] = {"invalidate", "sync", "stream"};
  log::Info("redis ready", {{"adapter", kAdapter},
                            {"url", RedactRedisUrl(options_.url)},
                            {"mode", kModes[static_cast<int>(options_.mode)]},
                            {"batch_size", static_cast<uint64_t>(options_.batch_size)}});
  return Ok();
}

Status RedisAdapter::Deliver(std::span<const Event* const> events) {
  for (size_t begin = 0; begin < events.size(); begin += options_.batch_size) {
    const size_t n = std::min(options_.batch_size, events.size() - begin);
    if (auto st = DeliverChunk(events.subspan(begin, n)); !st) return st;
  }
  return Ok();
}

Status RedisAdapter::DeliverChunk(std::span<const Event* const> events) {
  if (interrupted()) return Fail(Cancelled());
  std::vector<Pending> pending;
  pending.reserve(events.size());
  for (const Event* e : events) {
    Plan plan = PlanEvent(options_, *e);
    if (plan.kind == Plan::Kind::kSkip) {
      M().skipped.With({plan.skip_reason}).Inc();
      continue;
    }
    pending.push_back(Pending{.event = e, .plan = std::move(plan)});
  }
  return Run(pending);
}

Status RedisAdapter::DeadLetter(const Event& event, const std::string& reason) {
  if (auto st = dlq::DeadLetterRejected(dead_letters(), event, kAdapter, reason); !st) return st;
  M().dead_lettered.Inc();
  return Ok();
}

// One window: commands in event order from `first`. A TOAST merge needs its
// GET's answer before its SET, so a window ends after a GET.
void RedisAdapter::BuildWindow(std::vector<Pending>& pending, size_t first, std::string& out,
                               std::vector<std::pair<size_t, bool>>& window) const {
  out.clear();
  window.clear();
  for (size_t i = first; i < pending.size() && window.size() < options_.batch_size; ++i) {
    Pending& p = pending[i];
    if (p.done) continue;
    if (p.plan.kind == Plan::Kind::kMergeToast && !p.have_stored) {
      AppendCommand(out, {"GET", p.plan.key});
      window.emplace_back(i, true);
      break;
    }
    if (p.plan.kind == Plan::Kind::kMergeToast) {
      AppendCommand(
          out, {"SET", p.plan.key, MergeToast(p.plan.row_json, p.plan.toast_columns, p.stored)});
    } else {
      out += p.plan.command;
    }
    window.emplace_back(i, false);
  }
}

// Marks the events the replies answered; a retriable error reply sets
// `failure` (its event stays open), another error reply dead-letters.
Status RedisAdapter::ApplyReplies(std::vector<Pending>& pending,
                                  const std::vector<std::pair<size_t, bool>>& window,
                                  std::string& failure) {
  const std::vector<Reply>& replies = conn_->replies;
  for (size_t r = 0; r < replies.size(); ++r) {
    Pending& p = pending[window[r].first];
    const Reply& reply = replies[r];
    if (reply.is_error()) {
      M().errors.Inc();
      if (ClassifyReplyError(reply.text) == ReplyError::kRetry) {
        if (failure.empty()) failure = reply.text;
        continue;
      }
      if (auto dl = DeadLetter(*p.event, "redis: " + reply.text); !dl) return dl;
      p.done = true;
      continue;
    }
    if (window[r].second) {
      p.have_stored = true;
      if (reply.type == Reply::Type::kBulk) p.stored = reply.text;
      M().commands.With({"get"}).Inc();
      continue;
    }
    p.done = true;
    M().commands.With({p.plan.label}).Inc();
  }
  return Ok();
}

// Connects when needed and sends one window. Returns the failure that calls
// for a retry ("" when the window went through).
Result<std::string> RedisAdapter::SendWindow(std::vector<Pending>& pending, size_t first,
                                             std::string& out,
                                             std::vector<std::pair<size_t, bool>>& window) {
  if (!conn_) {
    if (auto st = Connect(); !st) {
      if (st.error().code() == ErrorCode::kCancelled) return Fail(Cancelled());
      M().errors.Inc();
      return "connect: " + st.error().message();
    }
    if (degraded()) {
      M().reconnects.Inc();
      log::Info("redis: reconnected", {{"adapter", kAdapter}});
    }
  }
  BuildWindow(pending, first, out, window);
  Status st = conn_->Exchange(out, window.size(), Clock::now() + options_.timeout);
  if (!st && st.error().code() == ErrorCode::kCancelled) return Fail(Cancelled());
  std::string failure;
  if (auto applied = ApplyReplies(pending, window, failure); !applied) return Fail(applied.error());
  if (!st) {
    M().errors.Inc();
    failure = st.error().message();
    conn_.reset();
  }
  return failure;
}

Status RedisAdapter::Run(std::vector<Pending>& pending) {
  std::string out;
  // What each command of a window stands for: (pending index, is the GET).
  std::vector<std::pair<size_t, bool>> window;
  size_t first_open = 0;
  for (;;) {
    while (first_open < pending.size() && pending[first_open].done) ++first_open;
    if (first_open == pending.size()) {
      backoff().Reset();
      Recovered();
      return Ok();
    }
    if (interrupted()) return Fail(Cancelled());
    auto sent = SendWindow(pending, first_open, out, window);
    if (!sent) return Fail(sent.error());
    const std::string& failure = *sent;
    if (failure.empty()) continue;
    Degraded(failure);
    M().retries.Inc();
    const milliseconds delay = backoff().Next();
    size_t left = 0;
    for (const Pending& p : pending) left += p.done ? 0 : 1;
    log::Warn("redis: delivery failed; retrying the commands not yet answered",
              {{"adapter", kAdapter},
               {"error", failure},
               {"pending_events", static_cast<uint64_t>(left)},
               {"retry_in_ms", static_cast<int64_t>(delay.count())}});
    if (!sleeper().SleepFor(delay)) return Fail(Cancelled());
  }
}

void RedisAdapter::Interrupt() {
  RetryingAdapter::Interrupt();
  if (conn_) conn_->socket.Interrupt();
}

void RedisAdapter::Close() { conn_.reset(); }

// ---- declaration ---------------------------------------------------------------

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "redis",
      .description = "Keeps Redis in step with row changes: invalidate (DEL) or sync (SET the row "
                     "JSON) a key per row, or append every event to a stream (XADD); pipelined, "
                     "retries until Redis answers, rejected commands go to the DLQ.",
      .params = Params({
          {Param("redis.url", &O::url,
                 "redis://[user:password@]host[:port][/db], rediss:// for TLS"),
           ParamEnum("redis.mode", &O::mode,
                     {{"invalidate", Mode::kInvalidate},
                      {"sync", Mode::kSync},
                      {"stream", Mode::kStream}},
                     "invalidate (DEL key), sync (SET key row JSON / DEL) or stream (XADD)"),
           Param("redis.key_prefix", &O::key_prefix,
                 "prefix of every key (sync/invalidate: prefix + row id; stream: prefix + "
                 "channel)"),
           Param("redis.id_column", &O::id_column, "row column whose value names the key"),
           Param("redis.stream_maxlen", &O::stream_maxlen,
                 "stream mode: approximate length cap (XADD MAXLEN ~; 0 = unbounded)", {.min = 0}),
           Param("redis.batch_size", &O::batch_size, "commands per pipelined round trip",
                 {.min = 1, .max = 100000}),
           Param("redis.timeout", &O::timeout, "deadline of one round trip (connect included)",
                 {.min = 1}),
           Param("redis.tls_ca_file", &O::tls_ca_file,
                 "rediss://: CA bundle to verify the server (default: system store)"),
           Param("redis.tls_insecure", &O::tls_insecure,
                 "rediss://: do not verify the server certificate (testing only)")},
          BackoffParams<O>("redis", "redis", &O::backoff, "retry (reconnect or resend)"),
      }),
      .validate =
          [](const O& o, const Context&, Errors& errors) {
            if (o.url.empty()) {
              errors.push_back("redis.url: required for adapter redis (--redis-url)");
            } else if (auto u = ParseRedisUrl(o.url); !u) {
              errors.push_back("redis.url: " + u.error().message());
            }
            if (o.mode != Mode::kStream && o.id_column.empty()) {
              errors.push_back("redis.id_column: must not be empty");
            }
            ValidateBackoff("redis", o.backoff, errors);
          },
      .make = MakeRetryingAdapter<RedisAdapter, O>,
      .check =
          [](const O& o, const Context&) {
            return OpenCheck<RedisAdapter>(o, "connect", RedactRedisUrl(o.url) + " answers");
          },
  });
}

}  // namespace pgcdc::adapter::redis

PGCDC_REGISTER_CONNECTOR(adapter, redis, pgcdc::adapter::redis::Connector)
