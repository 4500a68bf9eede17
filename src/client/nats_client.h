// NATS client pieces shared by the nats sink (adapter/nats) and the
// nats_consumer source (detector/nats_consumer): the connection keys both
// declare (nats.url, nats.cred_file, nats.tls_ca_file; SPEC §2.9 "shared"),
// server URL parsing and redaction, the connection options pgcdc uses, and
// the text of a libnats error. Any thread.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/error.h"
#include "registry/define.h"

namespace pgcdc::client::nats {

// The shared connection settings; a connector's config struct derives from it.
struct Connection {
  std::string url;  // one server URL or a comma-separated list
  std::string cred_file;
  std::string tls_ca_file;
};

// The server URLs of a nats.url value (comma-separated nats:// or tls://
// URLs). kConfig error naming the (redacted) bad URL.
Result<std::vector<std::string>> ParseServers(std::string_view url);
// nats.url with every secret replaced by "xxx".
std::string RedactServers(std::string_view url);

// nats.url required and parseable, the files readable. `user` names who
// needs them ("adapter nats", "detector nats_consumer").
void ValidateConnection(const Connection& c, std::string_view user,
                        std::vector<std::string>& errors);

// Sets on `opts` what every pgcdc connection uses: the servers (TLS when a
// URL is tls:// or a CA file is given), client name "pgcdc", no automatic
// reconnect (reconnects are the connector's, so nothing is buffered and sent
// out of order), the connect timeout and the credentials. Returns the
// libnats status.
natsStatus ConfigureOptions(natsOptions* opts, const Connection& c,
                            const std::vector<std::string>& servers,
                            std::chrono::milliseconds timeout);

// The text of this thread's last libnats error when it is about `status`
// (it carries details such as the server's -ERR text), else the status's
// text.
std::string ErrorText(natsStatus status);

// The declarations of the shared keys for a config struct deriving from
// Connection (declared alike by every connector that uses them).
template <class Cfg>
std::vector<ParamSpec> ConnectionParams() {
  static_assert(std::is_base_of_v<Connection, Cfg>);
  auto field = [](auto member) { return Nested([](Cfg& c) -> Connection& { return c; }, member); };
  return {
      ParamAt<Cfg>("nats.url", field(&Connection::url),
                   "nats://[user:password@]host[:port], tls:// for TLS; a comma-separated list "
                   "for a cluster"),
      ParamAt<Cfg>("nats.cred_file", field(&Connection::cred_file),
                   "credentials file (.creds: user JWT and NKey seed)"),
      ParamAt<Cfg>("nats.tls_ca_file", field(&Connection::tls_ca_file),
                   "CA bundle to verify the server (implies TLS; default: system store)"),
  };
}

}  // namespace pgcdc::client::nats
