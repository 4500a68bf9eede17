#include "pg/session.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>

namespace pgcdc::pg {

namespace {

constexpr std::string_view kDurableCommits =
    "SELECT set_config('synchronous_commit', 'local', false) WHERE "
    "current_setting('synchronous_commit') = 'off'";

// A failed result's message: the primary message (or libpq's), the SQLSTATE
// and the detail.
std::string ErrorText(const PGresult* r, const std::string& sqlstate) {
  const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  std::string message =
      primary != nullptr ? TrimMessage(primary) : TrimMessage(PQresultErrorMessage(r));
  if (!sqlstate.empty()) message += " (SQLSTATE " + sqlstate + ")";
  if (const char* detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL)) {
    message += ": " + TrimMessage(detail);
  }
  return message;
}

}  // namespace

Failure ClassifyFailure(std::string_view sqlstate, bool connection_ok) {
  if (!connection_ok) return Failure::kConnection;
  if (sqlstate.size() != 5) return Failure::kTransient;  // client-side (e.g. out of memory)
  const std::string_view cls = sqlstate.substr(0, 2);
  // Connection exceptions; admin/crash shutdown; a read-only server (after
  // a failover a new session may reach the new primary).
  if (cls == "08" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" ||
      sqlstate == "25006") {
    return Failure::kConnection;
  }
  // Errors about the content of a row: data exceptions, integrity
  // constraints, WITH CHECK OPTION, trigger RAISE, a too large index row.
  if (cls == "22" || cls == "23" || cls == "44" || cls == "P0" || sqlstate == "54000") {
    return Failure::kRow;
  }
  return Failure::kTransient;
}

Outcome Outcome::Failed(Failure f, std::string msg, std::string state) {
  Outcome o;
  o.ok = false;
  o.failure = f;
  o.message = std::move(msg);
  o.sqlstate = std::move(state);
  return o;
}

Status Session::Connect() {
  Disconnect();
  auto c = Conn::Open(url_);
  if (!c) return Fail(c.error());
  PGconn* raw = c->raw();
  if (PQsetnonblocking(raw, 1) != 0) {
    return Fail(ErrorCode::kConnection, "connect: set non-blocking: " + c->ErrorMessage());
  }
  conn_.emplace(std::move(*c));
  const char* app = PQparameterStatus(raw, "application_name");
  if (app == nullptr || *app == '\0') {
    auto set =
        Query("connect", "SELECT set_config('application_name', $1, false)", {application_name_});
    if (!set) return Fail(set.error());
  }
  auto durable = Query("connect", std::string(kDurableCommits), {});
  if (!durable) return Fail(durable.error());
  return Ok();
}

// Waits until the socket is readable (and writable when `write`), or the
// sleeper wakes. Returns false when interrupted.
bool Session::Wait(bool write) {
  pollfd fds[2] = {{PQsocket(conn_->raw()), static_cast<short>(POLLIN | (write ? POLLOUT : 0)), 0},
                   {sleeper_.fd(), POLLIN, 0}};
  while (::poll(fds, 2, -1) < 0 && errno == EINTR) {
  }
  return !sleeper_.woken();
}

Outcome Session::Run(const std::string& sql, const std::vector<std::string>& params) {
  if (!connected()) return Outcome::Failed(Failure::kConnection, "not connected");
  PGconn* c = conn_->raw();
  auto broken = [&](const std::string& what) {
    const bool ok = PQstatus(c) == CONNECTION_OK;
    return Outcome::Failed(ok ? Failure::kTransient : Failure::kConnection,
                           what + ": " + TrimMessage(PQerrorMessage(c)));
  };
  auto cancelled = [&] {
    // The session is in the middle of a statement; drop it (the server
    // rolls the statement back unless it already committed, and the rows
    // are not acknowledged either way).
    Disconnect();
    Outcome o = Outcome::Failed(Failure::kConnection, "interrupted");
    o.cancelled = true;
    return o;
  };
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  if (PQsendQueryParams(c, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                        nullptr, nullptr, 0) == 0) {
    return broken("send");
  }
  for (;;) {
    const int f = PQflush(c);
    if (f < 0) return broken("send");
    if (f == 0) break;
    if (!Wait(true)) return cancelled();
    if (PQconsumeInput(c) == 0) return broken("receive");
  }
  Outcome out;
  for (;;) {
    while (PQisBusy(c) != 0) {
      if (!Wait(false)) return cancelled();
      if (PQconsumeInput(c) == 0) return broken("receive");
    }
    PGresult* r = PQgetResult(c);
    if (r == nullptr) break;
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK) {
      AppendRows(r, out.rows);
    } else if (st != PGRES_COMMAND_OK && out.ok) {
      out.ok = false;
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      out.sqlstate = state != nullptr ? state : "";
      out.message = ErrorText(r, out.sqlstate);
    }
    PQclear(r);
  }
  if (!out.ok) out.failure = ClassifyFailure(out.sqlstate, PQstatus(c) == CONNECTION_OK);
  return out;
}

Result<std::vector<Row>> Session::Query(std::string_view what, const std::string& sql,
                                        const std::vector<std::string>& params) {
  Outcome o = Run(sql, params);
  if (o.cancelled) return Fail(ErrorCode::kCancelled, std::string(what) + ": interrupted");
  if (!o.ok) return Fail(ErrorCode::kConnection, std::string(what) + ": " + o.message);
  return std::move(o.rows);
}

}  // namespace pgcdc::pg
