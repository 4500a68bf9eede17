// Session: one libpq connection used by a sink that writes (pg_table,
// embedding) from its worker thread: non-blocking statements that a
// Sleeper's Interrupt() cuts short, SQLSTATEs sorted into what the caller
// does next, application_name set when the URL names none, and commits that
// wait at least for the local WAL flush (a sink acknowledges rows once their
// statement returned, so synchronous_commit = off would lose acknowledged rows
// in a server crash).
//
// Threads: everything on the owner's thread; the Sleeper may be interrupted
// from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/sleep.h"
#include "pg/conn.h"

namespace pgcdc::pg {

// What to do about a failed statement.
enum class Failure {
  kConnection,  // the session is gone (or must be replaced): reconnect, retry
  kTransient,   // retry later on the same session
  kRow,         // this content is rejected: isolate and dead-letter
};
// Connection exceptions, shutdowns and a read-only server → kConnection;
// data exceptions (22), integrity constraints (23), WITH CHECK OPTION (44),
// trigger RAISE (P0), a too large index row (54000) → kRow; the rest →
// kTransient. `connection_ok` false always means kConnection.
Failure ClassifyFailure(std::string_view sqlstate, bool connection_ok);

// The result of one statement.
struct Outcome {
  bool ok = true;
  bool cancelled = false;  // interrupted (the session was dropped)
  Failure failure = Failure::kTransient;
  std::string sqlstate;
  std::string message;  // primary message (SQLSTATE …): detail
  std::vector<Row> rows;

  static Outcome Failed(Failure f, std::string msg, std::string state = {});
};

class Session {
 public:
  // `sleeper` must outlive the session; `application_name` is a literal.
  Session(std::string url, const char* application_name, const Sleeper& sleeper)
      : url_(std::move(url)), application_name_(application_name), sleeper_(sleeper) {}

  // (Re)connects: kCancelled when interrupted, kConnection otherwise.
  Status Connect();
  void Disconnect() { conn_.reset(); }
  bool connected() const { return conn_.has_value() && conn_->ok(); }
  // Runs one parameterised statement (text values) until its result, the
  // connection breaking or an interrupt (which drops the session).
  Outcome Run(const std::string& sql, const std::vector<std::string>& params);
  // Run() for statements whose failure ends the caller: the rows, else
  // kCancelled, or kConnection naming `what`.
  Result<std::vector<Row>> Query(std::string_view what, const std::string& sql,
                                 const std::vector<std::string>& params);
  const std::string& url() const { return url_; }

 private:
  bool Wait(bool write);

  std::string url_;
  const char* application_name_;
  const Sleeper& sleeper_;
  std::optional<Conn> conn_;
};

}  // namespace pgcdc::pg
