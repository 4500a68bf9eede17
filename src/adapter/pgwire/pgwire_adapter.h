// pgwire adapter (SPEC §5.21, extended): the PostgreSQL wire protocol over a
// ring of the last `buffer_size` events, so psql, libpq, psycopg and JDBC
// read the stream with SQL:
//   pgcdc_events       id, channel, operation, source, payload, created_at, lsn
//   pgcdc_channels     channel, event_count (first-seen order)
//   pgcdc_status       key, value (adapter, buffer_capacity, buffer_used, …)
//   pgcdc_events_live  a live tail (COPY OUT) until the client cancels
// Queries are parsed by PostgreSQL's own parser (query.h); the simple and the
// extended query protocol, SCRAM-SHA-256 (or, when asked, cleartext) and TLS
// are served by server.h.
//
// Differences from upstream (docs/pgwire.md): a real parse instead of
// substring matching (so `WHERE channel = 'Orders'` is exact and
// case-sensitive, unknown tables are 42P01, nonsense is 42601 — never an
// empty "SELECT 0"); SCRAM by default; a localhost default address; the live
// tail.
//
// Acknowledgement: events are acknowledged once in the ring. The ring is a
// view, not a durable log: at most buffer_size events are kept, older ones are
// overwritten, and nothing survives a restart.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "adapter/adapter.h"
#include "registry/registry.h"

namespace pgcdc::adapter::pgwire {

struct Options {
  std::string addr = "127.0.0.1:5433";
  size_t buffer_size = 10'000;
  std::string password;
  std::string password_file;
  std::string auth = "scram";  // scram | cleartext (with a password)
  std::string tls_cert_file;
  std::string tls_key_file;
  size_t max_connections = 64;
  size_t max_message_size = 1u << 20;
  std::chrono::milliseconds startup_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(10)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
};

[[nodiscard]] AdapterPtr MakePgwireAdapter(Options options);

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::pgwire
