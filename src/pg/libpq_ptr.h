// Owning handles for raw libpq objects, for code that drives libpq itself
// (tests acting as a PostgreSQL client) rather than through pg::Conn.
#pragma once

#include <libpq-fe.h>

#include <memory>

namespace pgcdc::pg {

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

}  // namespace pgcdc::pg
