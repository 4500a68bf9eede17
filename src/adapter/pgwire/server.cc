// Threading: one io_context driven by one thread. The acceptor, every
// session and its coroutines (start-up, reader, processor, watchdog) run
// there; Start()/Stop() run on the owner's thread and hand work over with
// asio::post; Notify() comes from the pipeline's worker.
#include "adapter/pgwire/server.h"

#include <openssl/rand.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "adapter/pgwire/query.h"
#include "adapter/pgwire/scram.h"
#include "core/bytes.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/scope.h"
#include "core/time.h"
#include "net/http_server.h"
#include "net/tls_server.h"

namespace pgcdc::adapter::pgwire {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Params = std::vector<std::optional<std::string>>;

namespace {

// PostgreSQL's own cap on a start-up packet (MAX_STARTUP_PACKET_LENGTH).
constexpr size_t kMaxStartupPacket = 10'000;
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

struct ServerMetrics {
  metrics::Gauge& clients =
      metrics::DefaultGauge("pgcdc_pgwire_clients_active", "Open pgwire client connections");
  metrics::Counter& accepted = metrics::DefaultCounter("pgcdc_pgwire_connections_total",
                                                       "pgwire client connections accepted");
  metrics::Counter& queries = metrics::DefaultCounter(
      "pgcdc_pgwire_queries_total", "Statements run by pgwire clients (simple and extended)");
  metrics::Family<metrics::Counter>& errors = metrics::Default().AddCounter(
      "pgcdc_pgwire_errors_total", "ErrorResponses sent to pgwire clients, by SQLSTATE",
      {"sqlstate"});
  metrics::Family<metrics::Counter>& closed = metrics::Default().AddCounter(
      "pgcdc_pgwire_connections_closed_total",
      "pgwire connections closed by the server (max_connections, protocol, auth, timeout)",
      {"reason"});
  metrics::Gauge& tails =
      metrics::DefaultGauge("pgcdc_pgwire_live_tails", "Running pgcdc_events_live streams");
  metrics::Counter& tail_rows = metrics::DefaultCounter(
      "pgcdc_pgwire_live_rows_total", "Rows streamed to pgcdc_events_live clients");
};

ServerMetrics& M() { return metrics::Lazy<ServerMetrics>(); }

int32_t RandomKey() {
  int32_t key = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&key), sizeof key) != 1) {
    key = static_cast<int32_t>(NowUnixNanos());
  }
  return key;
}

// A prepared statement (extended protocol).
struct Prepared {
  Statement statement;
  std::vector<int32_t> param_types;
};

// A bound portal.
struct Portal {
  Statement statement;
  Params params;
  std::vector<Field> fields;        // with the result formats
  std::optional<ResultSet> result;  // run on the first Execute
  size_t next_row = 0;
};

enum class Outcome { kOk, kError, kClose };

}  // namespace

class Session;

struct Server::Impl {
  Impl(ServerOptions o, std::shared_ptr<Ring> r) : options(std::move(o)), ring(std::move(r)) {}

  ServerOptions options;
  std::shared_ptr<Ring> ring;
  std::optional<ScramSecret> scram;
  asio::io_context ioc{1};
  std::unique_ptr<ssl::context> tls;
  std::optional<tcp::acceptor> acceptor;
  std::unordered_map<int32_t, std::shared_ptr<Session>> sessions;  // by pid; I/O thread
  std::atomic<size_t> count{0};
  std::atomic<bool> notify_pending{false};
  int32_t next_pid = 1;
  std::thread thread;
  std::mutex lifecycle_mu;  // Start()/Stop()
  bool running = false;

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> Reject(tcp::socket sock);
  void Cancel(int32_t pid, int32_t key);
  void Remove(int32_t pid);
  void CloseAll();
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Server::Impl& srv, tcp::socket sock, int32_t pid)
      : srv_(srv),
        opt_(srv.options),
        sock_(std::move(sock)),
        watchdog_(srv.ioc),
        proc_wake_(srv.ioc),
        reader_wake_(srv.ioc),
        pid_(pid),
        key_(RandomKey()) {}

  asio::awaitable<void> Run(std::shared_ptr<Session> self);
  void Close();
  // CancelRequest for this session (I/O thread).
  void Cancel(int32_t key) {
    if (key != key_ || !tailing_) return;
    cancel_ = true;
    proc_wake_.cancel();
  }
  void WakeTail() {
    if (tailing_) proc_wake_.cancel();
  }

 private:
  // I/O
  asio::awaitable<bool> Fill();
  asio::awaitable<bool> Flush();
  asio::awaitable<std::optional<Frame>> ReadFrame(bool startup);
  asio::awaitable<void> Fatal(std::string_view sqlstate, std::string message,
                              std::string_view reason);
  void SetDeadline(Clock::time_point t) {
    deadline_ = t;
    watchdog_.expires_at(t);
  }
  asio::awaitable<void> Watchdog(std::shared_ptr<Session> self);
  asio::awaitable<void> Reader(std::shared_ptr<Session> self);

  // Start-up and authentication.
  asio::awaitable<bool> Startup();
  asio::awaitable<bool> Authenticate();
  asio::awaitable<bool> AuthenticateScram();
  asio::awaitable<std::optional<std::string>> ReadPassword();
  void SendWelcome(const std::string& application_name);

  // Queries.
  asio::awaitable<void> Process();
  asio::awaitable<bool> Handle(const Frame& f);
  asio::awaitable<bool> SimpleQuery(std::string_view body);
  asio::awaitable<Outcome> RunStatement(const Statement& st, const Params& params,
                                        const std::vector<Field>& fields, bool describe);
  Outcome SessionStatement(const Statement& st);
  void SendError(const SqlError& e);
  void HandleParse(std::string_view body);
  void HandleBind(std::string_view body);
  void HandleDescribe(std::string_view body);
  void HandleClose(std::string_view body);
  asio::awaitable<bool> HandleExecute(std::string_view body);
  void AppendRows(const ResultSet& rs, const std::vector<Field>& fields, size_t from, size_t to);
  asio::awaitable<Outcome> Tail(const Statement& st, const Params& params,
                                std::vector<Field> fields);

  Server::Impl& srv_;
  const ServerOptions& opt_;
  tcp::socket sock_;
  std::optional<ssl::stream<tcp::socket&>> tls_;
  asio::steady_timer watchdog_;
  asio::steady_timer proc_wake_;    // the processor waits for frames / ring rows
  asio::steady_timer reader_wake_;  // the reader waits while the queue is full
  Clock::time_point deadline_ = Clock::time_point::max();
  const int32_t pid_;
  const int32_t key_;
  std::string inbuf_;
  std::string out_;
  std::deque<Frame> queue_;
  size_t queued_bytes_ = 0;
  bool reader_done_ = false;
  std::string reader_error_;  // why the reader stopped on a bad frame
  bool closed_ = false;
  bool tailing_ = false;
  bool cancel_ = false;
  std::string user_;
  std::string application_name_;
  char txn_ = 'I';             // ReadyForQuery status: I idle, T in transaction, E failed
  bool skip_to_sync_ = false;  // extended protocol: an error discards until Sync
  std::unordered_map<std::string, Prepared> statements_;
  std::unordered_map<std::string, Portal> portals_;
};

// ---------------------------------------------------------------------------
// I/O

asio::awaitable<bool> Session::Fill() {
  char buf[16384];
  error_code ec;
  size_t n = 0;
  if (tls_) {
    std::tie(ec, n) = co_await tls_->async_read_some(asio::buffer(buf), kAwait);
  } else {
    std::tie(ec, n) = co_await sock_.async_read_some(asio::buffer(buf), kAwait);
  }
  if (ec || closed_) co_return false;
  inbuf_.append(buf, n);
  co_return true;
}

asio::awaitable<bool> Session::Flush() {
  if (out_.empty()) co_return !closed_;
  if (closed_) co_return false;
  const Clock::time_point saved = deadline_;
  SetDeadline(Clock::now() + opt_.write_timeout);
  std::string data;
  data.swap(out_);
  error_code ec;
  if (tls_) {
    std::tie(ec, std::ignore) = co_await asio::async_write(*tls_, asio::buffer(data), kAwait);
  } else {
    std::tie(ec, std::ignore) = co_await asio::async_write(sock_, asio::buffer(data), kAwait);
  }
  SetDeadline(saved);
  co_return !ec && !closed_;
}

asio::awaitable<std::optional<Frame>> Session::ReadFrame(bool startup) {
  Frame f;
  while (true) {
    switch (TakeFrame(inbuf_, startup, startup ? kMaxStartupPacket : opt_.max_message_size, f)) {
      case FrameStatus::kFrame:
        co_return f;
      case FrameStatus::kNeedMore:
        if (!co_await Fill()) co_return std::nullopt;
        continue;
      case FrameStatus::kTooLarge:
      case FrameStatus::kMalformed:
        M().closed.With({"protocol"}).Inc();
        log::Debug("pgwire: invalid frame, closing", {{"pid", static_cast<int64_t>(pid_)}});
        co_return std::nullopt;
    }
  }
}

asio::awaitable<void> Session::Fatal(std::string_view sqlstate, std::string message,
                                     std::string_view reason) {
  AppendError(out_, {.severity = "FATAL", .sqlstate = std::string(sqlstate), .message = message});
  M().errors.With({sqlstate}).Inc();
  M().closed.With({reason}).Inc();
  (void)co_await Flush();  // best effort: the connection closes either way
  Close();
}

void Session::Close() {
  if (closed_) return;
  closed_ = true;
  error_code ec;
  sock_.shutdown(tcp::socket::shutdown_both, ec);
  sock_.close(ec);
  watchdog_.cancel();
  proc_wake_.cancel();
  reader_wake_.cancel();
}

asio::awaitable<void> Session::Watchdog(std::shared_ptr<Session> self) {
  while (!closed_) {
    error_code ec;
    co_await watchdog_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (!closed_ && Clock::now() >= deadline_) {
      M().closed.With({"timeout"}).Inc();
      log::Debug("pgwire: connection timed out", {{"pid", static_cast<int64_t>(pid_)}});
      Close();
    }
  }
}

asio::awaitable<void> Session::Reader(std::shared_ptr<Session> self) {
  const size_t max_queued = 4 * opt_.max_message_size;
  while (!closed_) {
    Frame f;
    const FrameStatus st = TakeFrame(inbuf_, false, opt_.max_message_size, f);
    if (st == FrameStatus::kFrame) {
      queued_bytes_ += f.body.size();
      queue_.push_back(std::move(f));
      proc_wake_.cancel();
      continue;
    }
    if (st != FrameStatus::kNeedMore) {
      reader_error_ = st == FrameStatus::kTooLarge ? "message exceeds the size limit"
                                                   : "invalid message length";
      break;
    }
    while (queued_bytes_ > max_queued && !closed_) {
      error_code ec;
      reader_wake_.expires_at(Clock::time_point::max());
      co_await reader_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!co_await Fill()) break;
  }
  reader_done_ = true;
  proc_wake_.cancel();
}

// ---------------------------------------------------------------------------
// Start-up and authentication

asio::awaitable<void> Session::Run(std::shared_ptr<Session> self) {
  asio::co_spawn(srv_.ioc, Watchdog(self), asio::detached);
  SetDeadline(Clock::now() + opt_.startup_timeout);
  // (Two statements: g++ 12 miscompiles co_await inside && .)
  bool ready = co_await Startup();
  if (ready) ready = co_await Authenticate();
  if (ready) {
    SetDeadline(Clock::time_point::max());
    asio::co_spawn(srv_.ioc, Reader(self), asio::detached);
    co_await Process();
  }
  Close();
  srv_.Remove(pid_);
}

asio::awaitable<bool> Session::Startup() {
  // At most: an SSLRequest, a GSSENCRequest, then the start-up packet.
  for (int round = 0; round < 3; ++round) {
    auto frame = co_await ReadFrame(true);
    if (!frame) co_return false;
    auto pkt = ParseStartup(frame->body);
    if (!pkt) {
      co_await Fatal("08P01", pkt.error().message(), "protocol");
      co_return false;
    }
    if (pkt->code == kSslRequest || pkt->code == kGssEncRequest) {
      const bool tls = pkt->code == kSslRequest && srv_.tls && !tls_;
      out_ = tls ? "S" : "N";
      if (!co_await Flush()) co_return false;
      if (!tls) continue;
      if (!inbuf_.empty()) {  // bytes sent before the handshake could be injected
        co_await Fatal("08P01", "unencrypted data after SSL request", "protocol");
        co_return false;
      }
      tls_.emplace(sock_, *srv_.tls);
      auto [ec] = co_await tls_->async_handshake(ssl::stream_base::server, kAwait);
      if (ec) {
        M().closed.With({"tls"}).Inc();
        log::Debug("pgwire: TLS handshake failed", {{"error", ec.message()}});
        co_return false;
      }
      continue;
    }
    if (pkt->code == kCancelRequest) {
      srv_.Cancel(pkt->cancel_pid, pkt->cancel_key);
      co_return false;
    }
    if ((pkt->code >> 16) != 3) {
      std::string message = "unsupported frontend protocol " + std::to_string(pkt->code >> 16) +
                            "." + std::to_string(pkt->code & 0xFFFF) + ": server supports 3.0";
      co_await Fatal("0A000", std::move(message), "protocol");
      co_return false;
    }
    user_ = pkt->Param("user");
    if (user_.empty()) {
      co_await Fatal("28000", "no PostgreSQL user name specified in startup packet", "auth");
      co_return false;
    }
    application_name_ = pkt->Param("application_name");
    co_return true;
  }
  co_await Fatal("08P01", "too many start-up requests", "protocol");
  co_return false;
}

asio::awaitable<std::optional<std::string>> Session::ReadPassword() {
  if (!co_await Flush()) co_return std::nullopt;
  auto frame = co_await ReadFrame(false);
  if (!frame) co_return std::nullopt;
  if (frame->type != 'p') {
    std::string message =
        std::string("expected a password response, got message type ") + frame->type;
    co_await Fatal("08P01", std::move(message), "protocol");
    co_return std::nullopt;
  }
  co_return std::move(frame->body);
}

asio::awaitable<bool> Session::AuthenticateScram() {
  AppendAuthSasl(out_, {"SCRAM-SHA-256"});
  auto body = co_await ReadPassword();
  if (!body) co_return false;
  auto initial = ParseSaslInitial(*body);
  if (!initial || initial->mechanism != "SCRAM-SHA-256") {
    co_await Fatal("08P01", "client selected an invalid SASL authentication mechanism", "protocol");
    co_return false;
  }
  ScramServer scram(*srv_.scram);
  auto first = scram.ClientFirst(initial->data);
  if (!first) {
    co_await Fatal("08P01", first.error().message(), "protocol");
    co_return false;
  }
  AppendAuthRequest(out_, 11, *first);
  body = co_await ReadPassword();
  if (!body) co_return false;
  auto final_message = scram.ClientFinal(*body);
  if (!final_message) {
    // Arguments built before the co_await: g++ 12 double-destroys
    // temporaries of a conditional expression inside one.
    const bool wrong = final_message.error().code() == ErrorCode::kInvalidArgument;
    const std::string state = wrong ? "28P01" : "08P01";
    std::string message = wrong ? "password authentication failed for user \"" + user_ + "\""
                                : final_message.error().message();
    co_await Fatal(state, std::move(message), "auth");
    co_return false;
  }
  AppendAuthRequest(out_, 12, *final_message);
  co_return true;
}

asio::awaitable<bool> Session::Authenticate() {
  if (!opt_.password.empty()) {
    if (opt_.cleartext) {
      AppendAuthRequest(out_, 3);
      auto body = co_await ReadPassword();
      if (!body) co_return false;
      auto pw = ParseCStringBody(*body);
      if (!pw || !ConstantTimeEquals(*pw, opt_.password)) {
        std::string message = "password authentication failed for user \"" + user_ + "\"";
        co_await Fatal("28P01", std::move(message), "auth");
        co_return false;
      }
    } else if (!co_await AuthenticateScram()) {
      co_return false;
    }
  }
  AppendAuthRequest(out_, 0);
  SendWelcome(application_name_);
  co_return co_await Flush();
}

void Session::SendWelcome(const std::string& application_name) {
  for (const auto& [k, v] : ServerParameters()) AppendParameterStatus(out_, k, v);
  AppendParameterStatus(out_, "session_authorization", user_);
  AppendParameterStatus(out_, "application_name", application_name);
  AppendBackendKeyData(out_, pid_, key_);
  AppendReadyForQuery(out_, 'I');
  log::Debug("pgwire: client authenticated",
             {{"pid", static_cast<int64_t>(pid_)}, {"user", user_}, {"tls", tls_.has_value()}});
}

// ---------------------------------------------------------------------------
// Queries

asio::awaitable<void> Session::Process() {
  while (!closed_) {
    if (queue_.empty()) {
      if (reader_done_) {
        if (!reader_error_.empty()) co_await Fatal("08P01", reader_error_, "protocol");
        co_return;
      }
      if (!co_await Flush()) co_return;
      SetDeadline(Clock::now() + opt_.idle_timeout);
      error_code ec;
      proc_wake_.expires_at(Clock::time_point::max());
      co_await proc_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    SetDeadline(Clock::time_point::max());
    Frame f = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= f.body.size();
    reader_wake_.cancel();
    if (!co_await Handle(f)) co_return;
    if (out_.size() > (64u << 10)) {
      if (!co_await Flush()) co_return;
    }
  }
}

asio::awaitable<bool> Session::Handle(const Frame& f) {
  switch (f.type) {
    case 'Q':
      co_return co_await SimpleQuery(f.body);
    case 'S':
      skip_to_sync_ = false;
      AppendReadyForQuery(out_, txn_);
      co_return co_await Flush();
    case 'H':
      co_return co_await Flush();
    case 'X':
      co_return false;
    case 'd':
    case 'c':
    case 'f':
      co_return true;  // copy-in messages outside COPY IN: ignored
    case 'P':
    case 'B':
    case 'D':
    case 'E':
    case 'C':
      break;
    default:
      std::string message =
          "invalid frontend message type " + std::to_string(static_cast<unsigned char>(f.type));
      co_await Fatal("08P01", std::move(message), "protocol");
      co_return false;
  }
  if (skip_to_sync_) co_return true;
  if (f.type == 'E') co_return co_await HandleExecute(f.body);
  if (f.type == 'P') HandleParse(f.body);
  if (f.type == 'B') HandleBind(f.body);
  if (f.type == 'D') HandleDescribe(f.body);
  if (f.type == 'C') HandleClose(f.body);
  co_return true;
}

void Session::SendError(const SqlError& e) {
  AppendError(out_, {.sqlstate = e.sqlstate, .message = e.message, .position = e.position});
  M().errors.With({e.sqlstate}).Inc();
  if (txn_ == 'T') txn_ = 'E';
  skip_to_sync_ = true;  // extended protocol; the simple protocol clears it below
}

Outcome Session::SessionStatement(const Statement& st) {
  if (st.kind == Statement::Kind::kEmpty) {
    AppendEmptyQuery(out_);
    return Outcome::kOk;
  }
  std::string tag = st.tag;
  if (st.transaction == 'B') {
    if (txn_ == 'I') txn_ = 'T';
  } else if (st.transaction != 0) {
    if (txn_ == 'E') tag = "ROLLBACK";
    txn_ = 'I';
  }
  AppendCommandComplete(out_, tag);
  return Outcome::kOk;
}

void Session::AppendRows(const ResultSet& rs, const std::vector<Field>& fields, size_t from,
                         size_t to) {
  std::vector<std::optional<std::string>> values;
  for (size_t r = from; r < to; ++r) {
    values.clear();
    for (size_t c = 0; c < rs.rows[r].size(); ++c)
      values.push_back(EncodeCell(rs.rows[r][c], fields[c]));
    AppendDataRow(out_, values);
  }
}

asio::awaitable<Outcome> Session::RunStatement(const Statement& st, const Params& params,
                                               const std::vector<Field>& fields, bool describe) {
  M().queries.Inc();
  if (txn_ == 'E' && st.transaction != 'C' && st.transaction != 'R') {
    SendError({"25P02",
               "current transaction is aborted, commands ignored until end of "
               "transaction block"});
    co_return Outcome::kError;
  }
  if (st.kind != Statement::Kind::kSelect && st.kind != Statement::Kind::kValues &&
      st.kind != Statement::Kind::kShow) {
    co_return SessionStatement(st);
  }
  if (st.kind == Statement::Kind::kSelect && st.table == Table::kEventsLive) {
    co_return co_await Tail(st, params, fields);
  }
  auto rs = Evaluate(st, params, *srv_.ring, NowUnixNanos());
  if (!rs) {
    SendError(rs.error());
    co_return Outcome::kError;
  }
  if (describe) AppendRowDescription(out_, fields);
  AppendRows(*rs, fields, 0, rs->rows.size());
  AppendCommandComplete(out_, rs->tag);
  co_return Outcome::kOk;
}

asio::awaitable<bool> Session::SimpleQuery(std::string_view body) {
  skip_to_sync_ = false;
  auto sql = ParseCStringBody(body);
  if (!sql) {
    co_await Fatal("08P01", "malformed Query message", "protocol");
    co_return false;
  }
  auto parsed = ParseSql(*sql, user_);
  if (!parsed) {
    SendError(parsed.error());
  } else if (parsed->statements.empty()) {
    AppendEmptyQuery(out_);
  }
  std::vector<SqlResult<Statement>> statements;
  if (parsed) statements = std::move(parsed->statements);
  for (const auto& st : statements) {
    if (!st) {
      M().queries.Inc();
      SendError(st.error());
      break;
    }
    const Outcome o = co_await RunStatement(*st, {}, StatementFields(*st), true);
    if (o == Outcome::kClose) co_return false;
    if (o == Outcome::kError) break;
  }
  skip_to_sync_ = false;
  AppendReadyForQuery(out_, txn_);
  co_return co_await Flush();
}

void Session::HandleParse(std::string_view body) {
  auto msg = ParseParse(body);
  if (!msg) return SendError({"08P01", msg.error().message()});
  if (!msg->name.empty() && statements_.contains(msg->name)) {
    return SendError({"42P05", "prepared statement \"" + msg->name + "\" already exists"});
  }
  auto parsed = ParseSql(msg->query, user_);
  if (!parsed) return SendError(parsed.error());
  if (parsed->statements.size() > 1) {
    return SendError({"42601", "cannot insert multiple commands into a prepared statement"});
  }
  Prepared p;
  if (!parsed->statements.empty()) {
    if (!parsed->statements[0]) return SendError(parsed->statements[0].error());
    p.statement = *parsed->statements[0];
  }
  p.param_types = p.statement.param_types;
  if (msg->param_types.size() > p.param_types.size()) p.param_types.resize(msg->param_types.size());
  for (size_t i = 0; i < msg->param_types.size(); ++i) {
    if (msg->param_types[i] != 0) p.param_types[i] = msg->param_types[i];
  }
  for (int32_t& t : p.param_types) t = t == 0 ? kOidText : t;
  statements_[msg->name] = std::move(p);
  AppendSimple(out_, '1');
}

void Session::HandleBind(std::string_view body) {
  auto msg = ParseBind(body);
  if (!msg) return SendError({"08P01", msg.error().message()});
  auto it = statements_.find(msg->statement);
  if (it == statements_.end()) {
    return SendError({"26000", "prepared statement \"" + msg->statement + "\" does not exist"});
  }
  const Prepared& p = it->second;
  if (msg->params.size() != p.param_types.size()) {
    return SendError({"08P01", "bind message supplies " + std::to_string(msg->params.size()) +
                                   " parameters, but prepared statement \"" + msg->statement +
                                   "\" requires " + std::to_string(p.param_types.size())});
  }
  Portal portal{.statement = p.statement, .fields = StatementFields(p.statement)};
  if (msg->result_formats.size() > 1 && msg->result_formats.size() != portal.fields.size()) {
    return SendError({"08P01", "bind message has " + std::to_string(msg->result_formats.size()) +
                                   " result formats but query has " +
                                   std::to_string(portal.fields.size()) + " columns"});
  }
  for (size_t i = 0; i < portal.fields.size(); ++i) portal.fields[i].format = msg->ResultFormat(i);
  for (size_t i = 0; i < msg->params.size(); ++i) {
    if (!msg->params[i] || msg->ParamFormat(i) == 0) {
      portal.params.push_back(msg->params[i]);
      continue;
    }
    auto text = BinaryParamToText(*msg->params[i], p.param_types[i]);
    if (!text) return SendError(text.error());
    portal.params.emplace_back(std::move(*text));
  }
  if (!msg->portal.empty() && portals_.contains(msg->portal)) {
    return SendError({"42P03", "cursor \"" + msg->portal + "\" already exists"});
  }
  portals_[msg->portal] = std::move(portal);
  AppendSimple(out_, '2');
}

void Session::HandleDescribe(std::string_view body) {
  auto msg = ParseTarget(body);
  if (!msg) return SendError({"08P01", msg.error().message()});
  const Statement* st = nullptr;
  std::vector<Field> fields;
  if (msg->kind == 'S') {
    auto it = statements_.find(msg->name);
    if (it == statements_.end()) {
      return SendError({"26000", "prepared statement \"" + msg->name + "\" does not exist"});
    }
    AppendParameterDescription(out_, it->second.param_types);
    st = &it->second.statement;
    fields = StatementFields(*st);
  } else {
    auto it = portals_.find(msg->name);
    if (it == portals_.end()) {
      return SendError({"34000", "portal \"" + msg->name + "\" does not exist"});
    }
    st = &it->second.statement;
    fields = it->second.fields;
  }
  const bool live = st->kind == Statement::Kind::kSelect && st->table == Table::kEventsLive;
  if (fields.empty() || live) {
    AppendSimple(out_, 'n');  // NoData (a live tail answers with COPY OUT)
  } else {
    AppendRowDescription(out_, fields);
  }
}

void Session::HandleClose(std::string_view body) {
  auto msg = ParseTarget(body);
  if (!msg) return SendError({"08P01", msg.error().message()});
  if (msg->kind == 'S') {
    statements_.erase(msg->name);
  } else {
    portals_.erase(msg->name);
  }
  AppendSimple(out_, '3');
}

asio::awaitable<bool> Session::HandleExecute(std::string_view body) {
  auto msg = ParseExecute(body);
  if (!msg) {
    SendError({"08P01", msg.error().message()});
    co_return true;
  }
  auto it = portals_.find(msg->portal);
  if (it == portals_.end()) {
    SendError({"34000", "portal \"" + msg->portal + "\" does not exist"});
    co_return true;
  }
  Portal& portal = it->second;
  const Statement& st = portal.statement;
  const bool rows = st.kind == Statement::Kind::kSelect || st.kind == Statement::Kind::kValues ||
                    st.kind == Statement::Kind::kShow;
  if (!rows || st.table == Table::kEventsLive || portal.result) {
    if (!portal.result) {
      co_return co_await RunStatement(st, portal.params, portal.fields, false) != Outcome::kClose;
    }
  } else {
    M().queries.Inc();
    auto rs = Evaluate(st, portal.params, *srv_.ring, NowUnixNanos());
    if (!rs) {
      SendError(rs.error());
      co_return true;
    }
    portal.result = std::move(*rs);
  }
  const size_t total = portal.result->rows.size();
  const size_t to = msg->max_rows > 0 ? std::min(total, portal.next_row + msg->max_rows) : total;
  AppendRows(*portal.result, portal.fields, portal.next_row, to);
  portal.next_row = to;
  if (to < total) {
    AppendSimple(out_, 's');  // PortalSuspended
  } else {
    AppendCommandComplete(out_, portal.result->tag);
  }
  co_return true;
}

// The live tail: COPY OUT rows from the ring as they arrive.
asio::awaitable<Outcome> Session::Tail(const Statement& st, const Params& params,
                                       std::vector<Field> fields) {
  for (Field& f : fields) f.format = 0;  // COPY's text format, whatever Bind asked for
  std::optional<int64_t> max_rows;
  if (st.limit.constant || st.limit.param != 0) {
    auto n = LimitOf(st, params);
    if (!n) {
      SendError(n.error());
      co_return Outcome::kError;
    }
    max_rows = *n;
  }
  // Rows from the moment the query runs (taken before the client can see
  // the CopyOutResponse, so nothing it does afterwards is missed).
  uint64_t cursor = srv_.ring->next();
  AppendCopyOutResponse(out_, fields.size());
  if (!co_await Flush()) co_return Outcome::kClose;
  int64_t sent = 0;
  tailing_ = true;
  cancel_ = false;
  M().tails.Add(1);
  std::string why;
  std::vector<std::optional<std::string>> values;
  while (why.empty()) {
    if (closed_ || reader_done_) why = "gone";
    if (cancel_) why = "cancel";
    if (max_rows && sent >= *max_rows) why = "done";
    if (!why.empty()) break;
    uint64_t missed = 0;
    auto rows = srv_.ring->ReadFrom(cursor, opt_.tail_batch, missed);
    if (missed > 0) {
      why = "behind:" + std::to_string(missed);
      break;
    }
    for (const auto& row : rows) {
      cursor = row->position + 1;
      auto keep = Matches(st, params, *row);
      if (!keep) {
        why = "error:" + keep.error().message;
        break;
      }
      if (!*keep) continue;
      CellRow cells = Project(st, *row);
      values.clear();
      for (size_t c = 0; c < cells.size(); ++c) values.push_back(EncodeCell(cells[c], fields[c]));
      std::string line;
      AppendCopyTextRow(line, values);
      AppendCopyData(out_, line);
      M().tail_rows.Inc();
      ++sent;
      if (max_rows && sent >= *max_rows) break;
    }
    if (!rows.empty()) {
      if (!co_await Flush()) why = "gone";
      continue;
    }
    error_code ec;
    proc_wake_.expires_at(Clock::time_point::max());
    co_await proc_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  tailing_ = false;
  M().tails.Add(-1);
  if (why == "gone") co_return Outcome::kClose;
  if (why == "done") {
    AppendSimple(out_, 'c');  // CopyDone
    AppendCommandComplete(out_, "COPY " + std::to_string(sent));
    co_return Outcome::kOk;
  }
  if (why == "cancel") {
    SendError({"57014", "canceling statement due to user request"});
  } else if (why.starts_with("behind:")) {
    SendError({"54000", "live tail fell behind: " + why.substr(7) +
                            " rows were overwritten in the ring before they were sent "
                            "(raise --pgwire-buffer or read faster)"});
  } else {
    SendError({"22023", why.substr(6)});
  }
  co_return Outcome::kError;
}

// ---------------------------------------------------------------------------
// Server

asio::awaitable<void> Server::Impl::Reject(tcp::socket sock) {
  std::string out;
  AppendError(
      out,
      {.severity = "FATAL", .sqlstate = "53300", .message = "sorry, too many clients already"});
  M().errors.With({"53300"}).Inc();
  M().closed.With({"max_connections"}).Inc();
  (void)co_await asio::async_write(sock, asio::buffer(out), kAwait);
  error_code ec;
  sock.close(ec);
}

asio::awaitable<void> Server::Impl::AcceptLoop() {
  while (acceptor && acceptor->is_open()) {
    auto [ec, sock] = co_await acceptor->async_accept(kAwait);
    if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
    if (ec) {  // e.g. out of file descriptors: back off briefly
      asio::steady_timer t(ioc, std::chrono::milliseconds(100));
      (void)co_await t.async_wait(kAwait);
      continue;
    }
    M().accepted.Inc();
    if (options.max_connections > 0 && sessions.size() >= options.max_connections) {
      asio::co_spawn(ioc, Reject(std::move(sock)), asio::detached);
      continue;
    }
    const int32_t pid = next_pid++;
    auto session = std::make_shared<Session>(*this, std::move(sock), pid);
    sessions.emplace(pid, session);
    count.store(sessions.size());
    M().clients.Set(static_cast<double>(sessions.size()));
    asio::co_spawn(ioc, session->Run(session), asio::detached);
  }
}

void Server::Impl::Cancel(int32_t pid, int32_t key) {
  auto it = sessions.find(pid);
  if (it != sessions.end()) it->second->Cancel(key);
}

void Server::Impl::Remove(int32_t pid) {
  sessions.erase(pid);
  count.store(sessions.size());
  M().clients.Set(static_cast<double>(sessions.size()));
}

void Server::Impl::CloseAll() {
  error_code ec;
  if (acceptor) acceptor->close(ec);
  auto copy = sessions;
  for (auto& [pid, s] : copy) s->Close();
}

Server::Server(ServerOptions options, std::shared_ptr<Ring> ring)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(ring))) {}

Server::~Server() {
  // Only the mutex or the join can throw (std::system_error); a destructor
  // has nobody to report that to, and the I/O thread is gone either way.
  try {
    Stop();
  } catch (...) {  // NOLINT(bugprone-empty-catch): see above
  }
}

Result<std::string> Server::Start() {
  std::lock_guard lock(impl_->lifecycle_mu);
  Impl& s = *impl_;
  if (!s.options.tls_cert_file.empty() || !s.options.tls_key_file.empty()) {
    auto tls = net::LoadServerTls(s.options.tls_cert_file, s.options.tls_key_file);
    if (!tls) return Fail(tls.error().Wrap("pgwire"));
    s.tls = std::move(*tls);
  }
  if (!s.options.password.empty() && !s.options.cleartext) {
    auto secret = MakeScramSecret(s.options.password);
    if (!secret) return Fail(secret.error().Wrap("pgwire"));
    s.scram = std::move(*secret);
  }
  const std::string shown = s.options.host + ":" + std::to_string(s.options.port);
  error_code ec;
  auto addr = asio::ip::make_address(s.options.host.empty() ? "::" : s.options.host, ec);
  if (ec) return Fail(ErrorCode::kConfig, "pgwire: bad listen host in " + shown);
  tcp::endpoint ep(addr, s.options.port);
  s.acceptor.emplace(s.ioc);
  if (s.acceptor->open(ep.protocol(), ec); !ec) {
    (void)s.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (addr.is_v6()) (void)s.acceptor->set_option(asio::ip::v6_only(false), ec);
    ec.clear();
    (void)s.acceptor->bind(ep, ec);
  }
  if (!ec) (void)s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    s.acceptor.reset();
    return Fail(ErrorCode::kConfig, "pgwire: cannot listen on " + shown + ": " + ec.message());
  }
  const auto bound = s.acceptor->local_endpoint(ec);
  asio::co_spawn(s.ioc, s.AcceptLoop(), asio::detached);
  s.thread = std::thread(scope::Bind([&s] { s.ioc.run(); }));
  s.running = true;
  M();
  const std::string host = bound.address().is_v6() ? "[" + bound.address().to_string() + "]"
                                                   : bound.address().to_string();
  return host + ":" + std::to_string(bound.port());
}

void Server::Stop() {
  std::lock_guard lock(impl_->lifecycle_mu);
  Impl& s = *impl_;
  if (!s.running) return;
  s.running = false;
  asio::post(s.ioc, [&s] {
    s.CloseAll();
    s.ioc.stop();
  });
  if (s.thread.joinable()) s.thread.join();
}

void Server::Notify() {
  Impl& s = *impl_;
  if (s.notify_pending.exchange(true)) return;
  asio::post(s.ioc, [&s] {
    s.notify_pending.store(false);
    for (auto& [pid, session] : s.sessions) session->WakeTail();
  });
}

size_t Server::ConnectionCount() const { return impl_->count.load(); }

}  // namespace pgcdc::adapter::pgwire
