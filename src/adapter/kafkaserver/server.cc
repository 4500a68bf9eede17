// Threading: one io_context driven by one dedicated thread. The acceptor,
// every connection, the Broker, its timers and the group coordinator are only
// touched on that thread; Start()/Stop() run on the owner's thread and hand
// work over with asio::post. Partition-log waiters fire on the appending
// thread and Post() into the io_context (see AsioExecutor).
#include "adapter/kafkaserver/server.h"

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <deque>
#include <map>
#include <optional>
#include <thread>
#include <unordered_map>

#include "codec/kafka/frame.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "core/recovered.h"
#include "core/scope.h"
#include "net/tls_server.h"

namespace pgcdc::adapter::kafkaserver {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

std::string JoinHostPort(const std::string& host, int port) {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string DefaultAdvertisedHost(const std::string& listen_host) {
  if (listen_host.empty() || listen_host == "0.0.0.0" || listen_host == "::" ||
      listen_host == "[::]") {
    return "localhost";
  }
  return listen_host;
}

namespace {

struct ServerMetrics {
  metrics::Gauge& connections =
      metrics::DefaultGauge("pgcdc_kafkaserver_connections", "Open Kafka client connections");
  metrics::Counter& connections_total = metrics::DefaultCounter(
      "pgcdc_kafkaserver_connections_accepted_total", "Kafka client connections accepted");
  metrics::Counter& bytes_in = metrics::DefaultCounter("pgcdc_kafkaserver_received_bytes_total",
                                                       "Bytes received from Kafka clients");
  metrics::Counter& bytes_out =
      metrics::DefaultCounter("pgcdc_kafkaserver_sent_bytes_total", "Bytes sent to Kafka clients");
  metrics::Family<metrics::Counter>& closed_on_error = metrics::Default().AddCounter(
      "pgcdc_kafkaserver_protocol_errors_total",
      "Connections closed by the broker for a protocol violation, by reason", {"reason"});
  metrics::Family<metrics::Counter>& limited = metrics::Default().AddCounter(
      "pgcdc_kafkaserver_connections_closed_total",
      "Connections closed by a server limit (rejected: over max_connections; idle_timeout)",
      {"reason"});
};

ServerMetrics& Metrics() { return metrics::Lazy<ServerMetrics>(); }

// Executor on the server's io_context.
class AsioExecutor final : public Executor {
 public:
  explicit AsioExecutor(asio::io_context& ioc) : ioc_(ioc) {}
  void Post(std::function<void()> fn) override { asio::post(ioc_, std::move(fn)); }
  uint64_t StartTimer(std::chrono::milliseconds delay, std::function<void()> fn) override {
    const uint64_t id = next_++;
    auto timer = std::make_unique<asio::steady_timer>(ioc_, delay);
    timer->async_wait([this, id, fn = std::move(fn)](const error_code& ec) {
      if (ec) return;
      auto it = timers_.find(id);
      if (it == timers_.end()) return;
      timers_.erase(it);
      fn();
    });
    timers_.emplace(id, std::move(timer));
    return id;
  }
  void CancelTimer(uint64_t id) override {
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    it->second->cancel();
    timers_.erase(it);
  }
  GroupTime Now() const override { return GroupClock::now(); }
  void CancelAll() {
    for (auto& [id, t] : timers_) t->cancel();
    timers_.clear();
  }

 private:
  asio::io_context& ioc_;
  std::map<uint64_t, std::unique_ptr<asio::steady_timer>> timers_;
  uint64_t next_ = 1;
};

class ConnBase : public std::enable_shared_from_this<ConnBase> {
 public:
  virtual ~ConnBase() = default;
  virtual void Start() = 0;
  // Closes the socket at once (server shutdown).
  virtual void Shutdown() = 0;
};

}  // namespace

struct Server::Impl {
  Impl(ServerOptions o, TopicStore& t, OffsetStore* off)
      : options(std::move(o)), topics(t), offsets(off) {}

  ServerOptions options;
  TopicStore& topics;
  OffsetStore* offsets;
  // Declared before everything that holds sockets or timers of it.
  asio::io_context ioc{1};
  AsioExecutor executor{ioc};
  std::optional<ssl::context> tls;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> tick;
  std::optional<asio::steady_timer> accept_retry;
  std::unique_ptr<Broker> broker;
  std::unordered_map<ConnBase*, std::shared_ptr<ConnBase>> conns;  // I/O thread
  std::atomic<size_t> conn_count{0};
  std::thread thread;
  Mutex lifecycle_mu;  // serialises Start()/Stop()
  bool running GUARDED_BY(lifecycle_mu) = false;
  bool closing = false;  // I/O thread
  std::string advertised;

  void DoAccept();
  void DoTick();
  void CloseAll();
  // Start()'s steps: the TLS context (when configured), the listening
  // socket (the first candidate endpoint that binds) and the broker with its
  // I/O thread.
  Status LoadTls();
  Result<tcp::endpoint> Listen(const std::vector<tcp::endpoint>& candidates,
                               const std::string& shown);
  void Run(const tcp::endpoint& bound) REQUIRES(lifecycle_mu);
  void Register(const std::shared_ptr<ConnBase>& c) {
    conns.emplace(c.get(), c);
    conn_count.store(conns.size());
    Metrics().connections.Set(static_cast<double>(conns.size()));
  }
  void Unregister(ConnBase* c) {
    conns.erase(c);
    conn_count.store(conns.size());
    Metrics().connections.Set(static_cast<double>(conns.size()));
  }
};

namespace {

template <class Stream>
class Connection final : public ConnBase {
 public:
  template <class... Args>
  Connection(Server::Impl& srv, std::string peer, Args&&... args)
      : srv_(srv),
        stream_(std::forward<Args>(args)...),
        splitter_(srv.options.max_frame_size),
        peer_(std::move(peer)),
        idle_timer_(srv.ioc) {}

  void Start() override {
    state_ = srv_.broker->NewConnection(peer_);
    log::Debug("kafkaserver: client connected", {{"peer", peer_}});
    ArmIdle();  // covers the TLS handshake too
    if constexpr (std::is_same_v<Stream, ssl::stream<tcp::socket>>) {
      auto self = shared_from_this();
      stream_.async_handshake(ssl::stream_base::server, [this, self](const error_code& ec) {
        idle_timer_.cancel();
        if (ec) {
          Close("TLS handshake failed: " + ec.message(), /*protocol_error=*/true);
          return;
        }
        Pump();
      });
    } else {
      Pump();
    }
  }

  void Shutdown() override { Close("server shutdown", false); }

 private:
  auto& Socket() {
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
      return stream_;
    } else {
      return stream_.lowest_layer();
    }
  }

  // Handles buffered frames one at a time; reads when none is complete.
  void Pump() {
    if (in_pump_) {
      repump_ = true;
      return;
    }
    in_pump_ = true;
    do {
      repump_ = false;
      while (!closing_ && !busy_ && pending_write_bytes_ <= srv_.options.max_pending_write_bytes) {
        auto next = splitter_.Next();
        if (!next) {
          Metrics().closed_on_error.With({"bad_frame"}).Inc();
          Close(next.error().message(), true);
          break;
        }
        if (!next->has_value()) {
          if (!reading_) DoRead();
          break;
        }
        busy_ = true;
        auto self = std::static_pointer_cast<Connection>(shared_from_this());
        srv_.broker->Handle(state_, **next, [self](Reply r) { self->OnReply(std::move(r)); });
      }
    } while (repump_ && !closing_);
    in_pump_ = false;
  }

  void OnReply(Reply r) {
    busy_ = false;
    if (closing_) return;
    if (!r.bytes.empty()) Enqueue(std::move(r.bytes));
    if (r.close) {
      log::Warn("kafkaserver: closing connection", {{"peer", peer_}, {"reason", r.close_reason}});
      if (writing_) {
        close_after_write_ = true;
      } else {
        Close(r.close_reason, false);
      }
      return;
    }
    Pump();
  }

  // Closes the connection unless it is cancelled within idle_timeout.
  void ArmIdle() {
    if (srv_.options.idle_timeout.count() <= 0) return;
    idle_timer_.expires_after(srv_.options.idle_timeout);
    idle_timer_.async_wait([this, self = shared_from_this()](const error_code& ec) {
      if (ec || closing_) return;
      Metrics().limited.With({"idle_timeout"}).Inc();
      Close("idle for " + std::to_string(srv_.options.idle_timeout.count()) + " ms", false);
    });
  }

  void DoRead() {
    reading_ = true;
    auto self = shared_from_this();
    ArmIdle();
    stream_.async_read_some(asio::buffer(buf_), [this, self](const error_code& ec, size_t n) {
      reading_ = false;
      idle_timer_.cancel();
      if (ec) {
        Close(ec == asio::error::eof ? "client closed the connection" : ec.message(), false);
        return;
      }
      Metrics().bytes_in.Inc(n);
      splitter_.Append(std::string_view(buf_.data(), n));
      Pump();
    });
  }

  void Enqueue(std::string bytes) {
    pending_write_bytes_ += bytes.size();
    writes_.push_back(std::move(bytes));
    if (!writing_) DoWrite();
  }

  void DoWrite() {
    writing_ = true;
    auto self = shared_from_this();
    asio::async_write(stream_, asio::buffer(writes_.front()),
                      [this, self](const error_code& ec, size_t n) {
                        writing_ = false;
                        // Closed meanwhile (e.g. server shutdown): the queue
                        // was kept alive for this write; drop it now.
                        if (closing_) {
                          writes_.clear();
                          return;
                        }
                        if (ec) {
                          Close("write failed: " + ec.message(), false);
                          return;
                        }
                        Metrics().bytes_out.Inc(n);
                        pending_write_bytes_ -= writes_.front().size();
                        writes_.pop_front();
                        if (!writes_.empty()) {
                          DoWrite();
                        } else if (close_after_write_) {
                          Close("closed after the last response", false);
                        } else {
                          Pump();
                        }
                      });
  }

  void Close(const std::string& reason, bool protocol_error) {
    if (closing_) return;
    closing_ = true;
    if (protocol_error) {
      log::Warn("kafkaserver: closing connection", {{"peer", peer_}, {"reason", reason}});
    } else {
      log::Debug("kafkaserver: connection closed", {{"peer", peer_}, {"reason", reason}});
    }
    if (state_) srv_.broker->CloseConnection(state_);
    idle_timer_.cancel();
    error_code ignored;
    Socket().shutdown(tcp::socket::shutdown_both, ignored);
    Socket().close(ignored);
    // An async_write in flight still points into writes_.front(): its
    // handler clears the queue once the write has finished or failed.
    if (!writing_) writes_.clear();
    srv_.Unregister(this);
  }

  Server::Impl& srv_;
  Stream stream_;
  codec::kafka::FrameSplitter splitter_;
  std::string peer_;
  BrokerConnectionPtr state_;
  asio::steady_timer idle_timer_;
  std::array<char, 64 * 1024> buf_;
  std::deque<std::string> writes_;
  size_t pending_write_bytes_ = 0;
  bool reading_ = false;
  bool writing_ = false;
  bool busy_ = false;
  bool closing_ = false;
  bool close_after_write_ = false;
  bool in_pump_ = false;
  bool repump_ = false;
};

std::string PeerOf(const tcp::socket& s) {
  error_code ec;
  const auto ep = s.remote_endpoint(ec);
  if (ec) return "?";
  return JoinHostPort(ep.address().to_string(), ep.port());
}

}  // namespace

void Server::Impl::DoAccept() {
  acceptor->async_accept([this](const error_code& ec, tcp::socket socket) {
    if (closing || !acceptor || !acceptor->is_open()) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // E.g. EMFILE: back off briefly instead of spinning.
      log::Warn("kafkaserver: accept failed", {{"error", ec.message()}});
      accept_retry.emplace(ioc, std::chrono::milliseconds(100));
      accept_retry->async_wait([this](const error_code& e) {
        if (!e && !closing) DoAccept();
      });
      return;
    }
    error_code ignored;
    if (options.max_connections > 0 && conns.size() >= options.max_connections) {
      Metrics().limited.With({"rejected"}).Inc();
      log::Warn(
          "kafkaserver: connection refused: too many connections",
          {{"peer", PeerOf(socket)}, {"max_connections", std::to_string(options.max_connections)}});
      socket.close(ignored);
      DoAccept();
      return;
    }
    socket.set_option(tcp::no_delay(true), ignored);
    std::string peer = PeerOf(socket);
    Metrics().connections_total.Inc();
    std::shared_ptr<ConnBase> c;
    if (tls) {
      c = std::make_shared<Connection<ssl::stream<tcp::socket>>>(*this, std::move(peer),
                                                                 std::move(socket), *tls);
    } else {
      c = std::make_shared<Connection<tcp::socket>>(*this, std::move(peer), std::move(socket));
    }
    Register(c);
    c->Start();
    DoAccept();
  });
}

void Server::Impl::DoTick() {
  tick->expires_after(options.tick_interval);
  tick->async_wait([this](const error_code& ec) {
    if (ec || closing) return;
    broker->Tick();
    DoTick();
  });
}

void Server::Impl::CloseAll() {
  closing = true;
  error_code ignored;
  if (acceptor) acceptor->close(ignored);
  if (accept_retry) accept_retry->cancel();
  if (tick) tick->cancel();
  if (broker) broker->Shutdown();
  auto all = conns;
  for (auto& [ptr, c] : all) c->Shutdown();
  conns.clear();
  conn_count.store(0);
  executor.CancelAll();
}

Server::Server(ServerOptions options, TopicStore& topics, OffsetStore* offsets)
    : impl_(std::make_unique<Impl>(std::move(options), topics, offsets)) {}

Server::~Server() {
  // Only the mutex or the join can throw (std::system_error); a destructor
  // has nobody to report that to, and the I/O thread is gone either way.
  try {
    Stop();
    if (impl_->thread.joinable()) impl_->thread.join();
  } catch (...) {  // NOLINT(bugprone-empty-catch): see above
  }
}

size_t Server::ConnectionCount() const { return impl_->conn_count.load(); }

std::string Server::Advertised() const { return impl_->advertised; }

Status Server::Impl::LoadTls() {
  const auto& o = options;
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) return Ok();
  auto ctx = net::LoadServerTls(o.tls_cert_file, o.tls_key_file);
  if (!ctx) return Fail(ctx.error().code(), "kafkaserver: " + ctx.error().message());
  tls.emplace(std::move(**ctx));
  return Ok();
}

namespace {

// Where to listen: an IP literal, a name (its IPv4 addresses first), or all
// interfaces (dual-stack "::" when IPv6 is available, else 0.0.0.0).
Result<std::vector<tcp::endpoint>> ListenCandidates(const ServerOptions& o, asio::io_context& ioc) {
  error_code ec;
  std::vector<tcp::endpoint> candidates;
  if (o.host.empty() || o.host == "::" || o.host == "[::]") {
    candidates.emplace_back(asio::ip::address_v6::any(), o.port);
    candidates.emplace_back(asio::ip::address_v4::any(), o.port);
  } else if (auto ip = asio::ip::make_address(o.host, ec); !ec) {
    candidates.emplace_back(ip, o.port);
  } else {
    tcp::resolver resolver(ioc);
    auto results = resolver.resolve(o.host, std::to_string(o.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
      return Fail(ErrorCode::kConfig, "kafkaserver: cannot resolve listen host " + o.host + ": " +
                                          (ec ? ec.message() : "no addresses"));
    }
    for (const auto& r : results) {
      if (r.endpoint().address().is_v4()) candidates.push_back(r.endpoint());
    }
    for (const auto& r : results) {
      if (!r.endpoint().address().is_v4()) candidates.push_back(r.endpoint());
    }
  }
  return candidates;
}

}  // namespace

Result<tcp::endpoint> Server::Impl::Listen(const std::vector<tcp::endpoint>& candidates,
                                           const std::string& shown) {
  std::string last_error;
  for (const auto& ep : candidates) {
    error_code ec;
    tcp::acceptor& acc = acceptor.emplace(ioc);
    auto fail = [&](std::string_view what) {
      last_error = std::string(what) + " " + shown + ": " + ec.message();
      error_code ignored;
      acc.close(ignored);
      acceptor.reset();
    };
    acc.open(ep.protocol(), ec);
    if (ec) {
      fail("open");
      continue;  // e.g. no IPv6: try the next candidate
    }
    acc.set_option(asio::socket_base::reuse_address(true), ec);
    if (ep.address().is_v6() && ep.address().is_unspecified()) {
      acc.set_option(asio::ip::v6_only(false), ec);
    }
    acc.bind(ep, ec);
    if (ec) {
      const bool in_use = ec == asio::error::address_in_use;
      fail("bind");
      if (in_use) {
        return Fail(ErrorCode::kIo, "kafkaserver: cannot listen on " + shown +
                                        ": address already in use (another Kafka broker or "
                                        "pgcdc instance on that port? see --kafkaserver-addr)");
      }
      continue;
    }
    acc.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      fail("listen");
      continue;
    }
    tcp::endpoint bound = acc.local_endpoint(ec);
    if (ec) {
      fail("getsockname");
      continue;
    }
    return bound;
  }
  return Fail(ErrorCode::kIo, "kafkaserver: " + last_error);
}

void Server::Impl::Run(const tcp::endpoint& bound) {
  BrokerOptions bo = options.broker;
  if (bo.advertised_host.empty()) bo.advertised_host = DefaultAdvertisedHost(options.host);
  if (bo.advertised_port <= 0) bo.advertised_port = bound.port();
  advertised = JoinHostPort(bo.advertised_host, bo.advertised_port);
  broker = std::make_unique<Broker>(std::move(bo), topics, offsets, executor);
  tick.emplace(ioc);
  DoTick();
  DoAccept();
  running = true;
  thread = std::thread(scope::Bind([this] {
    for (;;) {
      try {
        ioc.run();
        break;
      } catch (const std::exception& e) {
        CountRecovered("kafkaserver");
        log::Error("kafkaserver: I/O thread exception", {{"error", e.what()}});
      }
    }
  }));
}

Result<std::string> Server::Start() {
  Impl& im = *impl_;
  MutexLock lock(im.lifecycle_mu);
  if (im.running) return Fail(ErrorCode::kInvalidArgument, "kafkaserver: already started");
  const auto& o = im.options;
  if (auto st = im.LoadTls(); !st) return Fail(st.error());
  auto candidates = ListenCandidates(o, im.ioc);
  if (!candidates) return Fail(candidates.error());
  if (im.thread.joinable()) im.thread.join();
  im.ioc.restart();
  im.closing = false;
  auto bound = im.Listen(*candidates, JoinHostPort(o.host.empty() ? "" : o.host, o.port));
  if (!bound) return Fail(bound.error());
  im.Run(*bound);
  std::string addr = JoinHostPort(bound->address().to_string(), bound->port());
  log::Info("kafkaserver listening", {{"addr", addr},
                                      {"advertised", im.advertised},
                                      {"tls", im.tls.has_value()},
                                      {"sasl", im.options.broker.sasl}});
  return addr;
}

void Server::Stop() {
  Impl& im = *impl_;
  MutexLock lock(im.lifecycle_mu);
  if (!im.running) return;
  im.running = false;
  asio::post(im.ioc, [&im] { im.CloseAll(); });
  if (im.thread.joinable() && std::this_thread::get_id() != im.thread.get_id()) {
    im.thread.join();
  }
  im.acceptor.reset();
  im.tick.reset();
  im.accept_retry.reset();
  im.broker.reset();
}

}  // namespace pgcdc::adapter::kafkaserver
