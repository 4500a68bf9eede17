#include "adapter/pgwire/pgwire_adapter.h"

#include <fstream>
#include <memory>
#include <sstream>

#include "adapter/pgwire/ring.h"
#include "adapter/pgwire/server.h"
#include "core/log.h"
#include "core/metrics.h"
#include "net/http_server.h"
#include "registry/define.h"

namespace pgcdc::adapter::pgwire {

namespace {

struct Metrics {
  metrics::Gauge& buffered = metrics::DefaultGauge(
      "pgcdc_pgwire_buffered_events", "Events held in the pgwire ring (--pgwire-buffer).");
  metrics::Counter& evicted = metrics::DefaultCounter(
      "pgcdc_pgwire_evicted_total", "Events overwritten in the full pgwire ring.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
}

Result<std::string> ReadPasswordFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Fail(ErrorCode::kConfig, "pgwire: cannot read --pgwire-password-file " + path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return Fail(ErrorCode::kConfig, "pgwire: " + path + " holds no password");
  return line;
}

class PgwireAdapter final : public Adapter {
 public:
  explicit PgwireAdapter(Options options)
      : options_(std::move(options)), ring_(std::make_shared<Ring>(options_.buffer_size)) {}
  ~PgwireAdapter() override { Close(); }

  std::string_view Name() const override { return "pgwire"; }

  Status Open() override {
    auto addr = net::ParseListenAddress(options_.addr);
    if (!addr) return Fail(addr.error().Wrap("pgwire"));
    std::string password = options_.password;
    if (!options_.password_file.empty()) {
      auto pw = ReadPasswordFile(options_.password_file);
      if (!pw) return Fail(pw.error());
      password = std::move(*pw);
    }
    if (password.empty() && !IsLoopback(addr->host)) {
      log::Warn(
          "pgwire: listening beyond localhost without a password: anyone who reaches the "
          "port reads the event stream (set --pgwire-password)",
          {{"addr", options_.addr}});
    }
    std::string host = addr->host;
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    if (host == "localhost") host = "127.0.0.1";
    auto server =
        std::make_unique<Server>(ServerOptions{.host = host,
                                               .port = addr->port,
                                               .tls_cert_file = options_.tls_cert_file,
                                               .tls_key_file = options_.tls_key_file,
                                               .password = password,
                                               .cleartext = options_.auth == "cleartext",
                                               .max_connections = options_.max_connections,
                                               .max_message_size = options_.max_message_size,
                                               .startup_timeout = options_.startup_timeout,
                                               .idle_timeout = options_.idle_timeout,
                                               .write_timeout = options_.write_timeout},
                                 ring_);
    auto bound = server->Start();
    if (!bound) return Fail(bound.error());
    Server* raw = server.get();
    ring_->SetListener([raw] { raw->Notify(); });
    server_ = std::move(server);
    log::Info("pgwire: serving", {{"addr", *bound},
                                  {"auth", password.empty() ? "none" : options_.auth},
                                  {"tls", !options_.tls_cert_file.empty()},
                                  {"buffer", static_cast<int64_t>(options_.buffer_size)}});
    M();
    return Ok();
  }

  Status Deliver(std::span<const Event* const> events) override {
    std::vector<Row> rows;
    rows.reserve(events.size());
    for (const Event* e : events) rows.push_back(RowFromEvent(*e));
    M().evicted.Inc(ring_->Append(std::move(rows)));
    M().buffered.Set(static_cast<double>(ring_->Status().used));
    return Ok();
  }

  std::optional<size_t> Subscribers() const override {
    return server_ ? server_->ConnectionCount() : 0;
  }

  void Close() override {
    if (server_) server_->Stop();
    ring_->SetListener(nullptr);
    server_.reset();
  }

 private:
  Options options_;
  std::shared_ptr<Ring> ring_;
  std::unique_ptr<Server> server_;
};

void Validate(const Options& o, Errors& errors) {
  if (auto a = net::ParseListenAddress(o.addr); !a) {
    errors.push_back("pgwire.addr: " + a.error().message());
  }
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    errors.push_back("pgwire.tls_cert: --pgwire-tls-cert and --pgwire-tls-key go together");
  }
  if (!o.password.empty() && !o.password_file.empty()) {
    errors.push_back("pgwire.password: set --pgwire-password or --pgwire-password-file, not both");
  }
  if (o.auth == "cleartext" && o.password.empty() && o.password_file.empty()) {
    errors.push_back("pgwire.auth: cleartext needs --pgwire-password or --pgwire-password-file");
  }
}

}  // namespace

AdapterPtr MakePgwireAdapter(Options options) {
  return std::make_unique<PgwireAdapter>(std::move(options));
}

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "pgwire",
      .description =
          "PostgreSQL wire-protocol gateway: psql, libpq, psycopg and JDBC query the last events "
          "(pgcdc_events, pgcdc_channels, pgcdc_status) and tail new ones (pgcdc_events_live); "
          "simple and extended query protocol, SCRAM-SHA-256, TLS.",
      .params = Params({
          {Param("pgwire.addr", &O::addr,
                 "listen address HOST:PORT (empty host = all interfaces; the default binds "
                 "localhost only)"),
           Param("pgwire.buffer_size", &O::buffer_size,
                 "events kept in the ring (all channels together); older ones are overwritten",
                 {.flag = "pgwire-buffer", .min = 1, .max = 100'000'000}),
           Param("pgwire.password", &O::password,
                 "require this password (SCRAM-SHA-256 unless --pgwire-auth cleartext; any user "
                 "name); empty = no authentication, allowed without a warning only on localhost"),
           Param("pgwire.password_file", &O::password_file,
                 "read the password from the first line of this file instead"),
           Param("pgwire.auth", &O::auth,
                 "password exchange: scram (SCRAM-SHA-256) or cleartext (only over TLS or "
                 "localhost)",
                 {.choices = {"scram", "cleartext"}}),
           Param("pgwire.tls_cert", &O::tls_cert_file,
                 "PEM certificate chain: SSLRequest is answered 'S' and TLS negotiated"),
           Param("pgwire.tls_key", &O::tls_key_file, "PEM private key for --pgwire-tls-cert")},
          {Param("pgwire.max_connections", &O::max_connections,
                 "open client connections; more get SQLSTATE 53300 and are closed (0 = "
                 "unlimited)",
                 {.min = 0, .max = 100'000}),
           Param("pgwire.max_message_size", &O::max_message_size,
                 "largest protocol message accepted; a larger one closes the connection",
                 {.min = 1024, .max = int64_t{1} << 30}),
           Param("pgwire.startup_timeout", &O::startup_timeout,
                 "close a connection that has not finished start-up and authentication in time",
                 {.min = 100}),
           Param("pgwire.idle_timeout", &O::idle_timeout,
                 "close a connection that sends nothing for this long while no query runs",
                 {.min = 100}),
           Param("pgwire.write_timeout", &O::write_timeout,
                 "close a connection whose client does not read its results for this long",
                 {.min = 100})},
      }),
      .validate = [](const O& o, const Context& ctx, Errors& errors) { Validate(o, errors); },
      .make = [](O o, const Context& ctx) -> Result<AdapterPtr> {
        return MakePgwireAdapter(std::move(o));
      },
  });
}

}  // namespace pgcdc::adapter::pgwire

PGCDC_REGISTER_CONNECTOR(adapter, pgwire, pgcdc::adapter::pgwire::Connector)
