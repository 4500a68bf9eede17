// User journey: analysts query the recent change stream with the PostgreSQL
// tools they already have (pgcdc -a pgwire). Real clients: the psql binary and
// libpq (PQexecParams, prepared statements, COPY OUT, PQcancel) in this test;
// real PostgreSQL with LISTEN/NOTIFY and WAL sources.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "harness.h"
#include "pg/libpq_ptr.h"
#include "stream_clients.h"
#include "test_certs.h"

namespace pgcdc::testing {
namespace {

using ConnPtr = pg::PgConnPtr;
using ResultPtr = pg::PgResultPtr;

// The address pgcdc logged ("pgwire: serving addr=H:P").
std::string PgwireAddr(Process& p) {
  const std::string needle = "pgwire: serving addr=";
  if (!p.WaitForStderr(needle)) return {};
  const std::string err = p.Stderr();
  const auto pos = err.find(needle) + needle.size();
  return err.substr(pos, err.find_first_of(" \n", pos) - pos);
}

std::string Port(const std::string& addr) { return addr.substr(addr.rfind(':') + 1); }

std::string Conninfo(const std::string& addr, const std::string& extra = "") {
  return "host=127.0.0.1 port=" + Port(addr) + " user=analyst dbname=pgcdc connect_timeout=5 " +
         extra;
}

// psql -X -A -t (unaligned tuples only) with one -c per statement.
CommandResult Psql(const std::string& conninfo, const std::vector<std::string>& statements,
                   const std::vector<std::string>& options = {}) {
  std::vector<std::string> argv = {"/usr/bin/psql", "-X", "-A", "-t", "-d", conninfo};
  argv.insert(argv.end(), options.begin(), options.end());
  for (const auto& s : statements) {
    argv.push_back("-c");
    argv.push_back(s);
  }
  return RunCommand(argv);
}

std::unique_ptr<Process> StartPgwire(const std::vector<std::string>& channels,
                                     const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"listen",      "--db",          SharedCluster().Url(),
                                   "-a",          "pgwire",        "--http-addr",
                                   "127.0.0.1:0", "--pgwire-addr", "127.0.0.1:0"};
  for (const auto& c : channels) {
    args.push_back("-c");
    args.push_back(c);
  }
  args.insert(args.end(), extra.begin(), extra.end());
  auto p = Process::Start({.args = args});
  if (p && !p->WaitForStderr("listening detector=listen_notify")) {
    ADD_FAILURE() << p->Stderr();
    return nullptr;
  }
  return p;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

TEST(PgwireScenario, PsqlReadsEventsChannelsAndStatus) {
  auto p = StartPgwire({"pgw_orders", "Pgw_Orders"}, {"--pgwire-buffer", "5"});
  ASSERT_TRUE(p);
  const std::string addr = PgwireAddr(*p);
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  EXPECT_TRUE(addr.starts_with("127.0.0.1:"));
  NotifyMany("pgw_orders", 4);
  NotifyMany("Pgw_Orders", 3);
  const std::string ci = Conninfo(addr);
  ASSERT_TRUE(Eventually([&] {
    return Trim(Psql(ci, {"SELECT count(*) FROM pgcdc_events"}).output) == "5";
  })) << Psql(ci, {"SELECT count(*) FROM pgcdc_events"}).output
      << p->Stderr();

  // Exact, case-sensitive channel match; the ring holds the newest five, oldest first.
  auto r =
      Psql(ci, {"SELECT channel, payload, lsn FROM pgcdc_events WHERE channel = 'Pgw_Orders'"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(Trim(r.output),
            "Pgw_Orders|{\"i\":1,\"pad\":\"\"}|0/0\n"
            "Pgw_Orders|{\"i\":2,\"pad\":\"\"}|0/0\n"
            "Pgw_Orders|{\"i\":3,\"pad\":\"\"}|0/0");
  r = Psql(ci, {"SELECT payload FROM pgcdc_events WHERE channel = 'pgw_orders' ORDER BY id DESC "
                "LIMIT 1"});
  EXPECT_EQ(Trim(r.output), "{\"i\":4,\"pad\":\"\"}");
  r = Psql(ci, {"SELECT * FROM pgcdc_channels"});
  EXPECT_EQ(Trim(r.output), "pgw_orders|4\nPgw_Orders|3");
  r = Psql(ci, {"SELECT value FROM pgcdc_status WHERE key IN ('adapter', 'buffer_capacity', "
                "'buffer_used', 'events_total')"});
  EXPECT_EQ(Trim(r.output), "pgwire\n5\n5\n7");
  // A timestamptz psql shows like the server's own.
  r = Psql(ci, {"SELECT created_at FROM pgcdc_events LIMIT 1"});
  EXPECT_NE(r.output.find("+00"), std::string::npos) << r.output;
  // What psql and drivers send around queries.
  r = Psql(ci, {"SET application_name = 'x'", "SHOW server_version", "SELECT version()"});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("17.0"), std::string::npos);
  EXPECT_NE(r.output.find("PostgreSQL 17.0"), std::string::npos);
}

TEST(PgwireScenario, BadSqlIsAnErrorAndTheSessionGoesOn) {
  auto p = StartPgwire({"pgw_err"}, {});
  ASSERT_TRUE(p);
  const std::string addr = PgwireAddr(*p);
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  NotifyMany("pgw_err", 2);
  const std::string ci = Conninfo(addr);
  ASSERT_TRUE(Eventually(
      [&] { return Trim(Psql(ci, {"SELECT count(*) FROM pgcdc_events"}).output) == "2"; }));
  // Several -c in one session: each error is reported with its position, the
  // next statement still runs on the same connection.
  auto r = Psql(ci, {"SELECT * FROM pgcdc_evnts", "SELEKT 1", "DROP TABLE pgcdc_events",
                     "SELECT count(*) FROM pgcdc_events"});
  EXPECT_NE(r.output.find("ERROR:  relation \"pgcdc_evnts\" does not exist"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("LINE 1: SELECT * FROM pgcdc_evnts"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("syntax error at or near \"SELEKT\""), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("statement Drop is not supported"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("\n2"), std::string::npos) << r.output;
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_pgwire_errors_total{sqlstate=\"42P01\"}"), 1);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_pgwire_errors_total{sqlstate=\"42601\"}"), 1);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_pgwire_errors_total{sqlstate=\"0A000\"}"), 1);

  // Garbage bytes: that connection is closed, the server keeps serving others.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(Port(addr))));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  const std::string junk(64, '\xff');
  ASSERT_EQ(write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  char buf[16];
  EXPECT_EQ(read(fd, buf, sizeof buf), 0);
  close(fd);
  EXPECT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_pgwire_connections_closed_total{reason=\"protocol\"}") == 1;
  }));
  r = Psql(ci, {"SELECT count(*) FROM pgcdc_events"});
  EXPECT_EQ(Trim(r.output), "2") << r.output;
}

TEST(PgwireScenario, LibpqExtendedProtocolOnWalEvents) {
  auto conn = Connect();
  FreshPublishedTable(conn, "pgw_items", "id int PRIMARY KEY, name text", "pgw_pub",
                      "pgcdc_pgw_pub");
  auto p =
      StartWalListen(WalListenArgs("pgw_pub", {"-a", "pgwire", "--pgwire-addr", "127.0.0.1:0"}));
  ASSERT_TRUE(p);
  const std::string addr = PgwireAddr(*p);
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO pgw_items VALUES (1, 'a'), (2, 'b')");
  ExecOrFail(conn, "UPDATE pgw_items SET name = 'c' WHERE id = 2");
  ConnPtr c(PQconnectdb(Conninfo(addr).c_str()));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  const char* channel[] = {"pgcdc:pgw_items"};
  ResultPtr r;
  ASSERT_TRUE(Eventually([&] {
    r.reset(PQexecParams(c.get(), "SELECT count(*) FROM pgcdc_events WHERE channel = $1", 1,
                         nullptr, channel, nullptr, nullptr, 0));
    return PQresultStatus(r.get()) == PGRES_TUPLES_OK &&
           std::string(PQgetvalue(r.get(), 0, 0)) == "3";
  })) << PQerrorMessage(c.get());
  const char* params[] = {"pgcdc:pgw_items", "UPDATE"};
  r.reset(PQexecParams(c.get(),
                       "SELECT operation, payload, lsn FROM pgcdc_events "
                       "WHERE channel = $1 AND operation = $2",
                       2, nullptr, params, nullptr, nullptr, 0));
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  ASSERT_EQ(PQntuples(r.get()), 1);
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "UPDATE");
  EXPECT_NE(std::string(PQgetvalue(r.get(), 0, 1)).find("\"name\":\"c\""), std::string::npos);
  const std::string lsn = PQgetvalue(r.get(), 0, 2);
  EXPECT_NE(lsn, "0/0");
  // The lsn column is the server's own pg_lsn text form.
  auto check = conn.Query("SELECT $1::pg_lsn > '0/0'::pg_lsn", {lsn});
  ASSERT_TRUE(check) << check.error().message();
  // A bad parameter is an error; the connection goes on.
  const char* bad[] = {"x"};
  r.reset(PQexecParams(c.get(), "SELECT * FROM pgcdc_events LIMIT $1", 1, nullptr, bad, nullptr,
                       nullptr, 0));
  EXPECT_STREQ(PQresultErrorField(r.get(), PG_DIAG_SQLSTATE), "22P02");
  r.reset(PQexec(c.get(), "SELECT count(*) FROM pgcdc_events"));
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "3");
}

// Reads one COPY row, waiting up to `timeout`; "" when none came.
std::string CopyRow(PGconn* c, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + Scaled(timeout);
  while (Clock::now() < deadline) {
    char* buf = nullptr;
    const int n = PQgetCopyData(c, &buf, 1);
    if (n > 0) {
      std::string row(buf, n);
      PQfreemem(buf);
      return row;
    }
    if (n < 0) return {};
    pollfd pfd{.fd = PQsocket(c), .events = POLLIN};
    (void)poll(&pfd, 1, 100);
    if (PQconsumeInput(c) == 0) return {};
  }
  return {};
}

TEST(PgwireScenario, LiveTailStreamsUntilCancelled) {
  auto p = StartPgwire({"pgw_live", "pgw_other"}, {});
  ASSERT_TRUE(p);
  const std::string addr = PgwireAddr(*p);
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  NotifyMany("pgw_live", 1);  // before the tail: not streamed
  ConnPtr c(PQconnectdb(Conninfo(addr).c_str()));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  ASSERT_TRUE(Eventually([&] {
    ResultPtr r(PQexec(c.get(), "SELECT count(*) FROM pgcdc_events"));
    return std::string(PQgetvalue(r.get(), 0, 0)) == "1";
  }));
  ASSERT_EQ(
      PQsendQuery(c.get(),
                  "SELECT channel, payload FROM pgcdc_events_live WHERE channel = 'pgw_live'"),
      1);
  ResultPtr r(PQgetResult(c.get()));
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_COPY_OUT) << PQerrorMessage(c.get());
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_pgwire_live_tails") == 1; }));
  NotifyMany("pgw_other", 2);
  NotifyMany("pgw_live", 2);
  EXPECT_EQ(CopyRow(c.get(), 15s), "pgw_live\t{\"i\":1,\"pad\":\"\"}\n");
  EXPECT_EQ(CopyRow(c.get(), 15s), "pgw_live\t{\"i\":2,\"pad\":\"\"}\n");
  // Ctrl-C: a CancelRequest on another connection ends the stream with 57014.
  PGcancel* cancel = PQgetCancel(c.get());
  char err[256];
  ASSERT_EQ(PQcancel(cancel, err, sizeof err), 1) << err;
  PQfreeCancel(cancel);
  EXPECT_EQ(CopyRow(c.get(), 15s), "");  // end of copy
  r.reset(PQgetResult(c.get()));
  EXPECT_STREQ(PQresultErrorField(r.get(), PG_DIAG_SQLSTATE), "57014") << PQerrorMessage(c.get());
  while (PGresult* rest = PQgetResult(c.get())) PQclear(rest);
  r.reset(PQexec(c.get(), "SELECT count(*) FROM pgcdc_events WHERE channel = 'pgw_live'"));
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "3") << PQerrorMessage(c.get());
  EXPECT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_pgwire_live_tails") == 0; }));

  // psql itself: the tail with LIMIT ends after that many rows.
  auto psql = Process::Start(
      {.args = {"-X", "-A", "-t", "-d", Conninfo(addr), "-c",
                "SELECT payload FROM pgcdc_events_live WHERE channel = 'pgw_live' LIMIT 2"},
       .binary = "/usr/bin/psql"});
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_pgwire_live_tails") == 1; }));
  NotifyMany("pgw_live", 3);
  ASSERT_EQ(psql->Wait(20s), 0) << psql->Stderr();
  EXPECT_EQ(psql->StdoutLines(),
            (std::vector<std::string>{"{\"i\":1,\"pad\":\"\"}", "{\"i\":2,\"pad\":\"\"}"}));

  // A client that disconnects mid-tail is noticed at once.
  ConnPtr gone(PQconnectdb(Conninfo(addr).c_str()));
  ASSERT_EQ(PQsendQuery(gone.get(), "SELECT * FROM pgcdc_events_live"), 1);
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_pgwire_live_tails") == 1; }));
  gone.reset();
  EXPECT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_pgwire_live_tails") == 0; }));
  EXPECT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_pgwire_clients_active") == 1; }));

  // SIGTERM with a tail running: pgcdc closes its clients and exits cleanly.
  ConnPtr tail(PQconnectdb(Conninfo(addr).c_str()));
  ASSERT_EQ(PQsendQuery(tail.get(), "SELECT * FROM pgcdc_events_live"), 1);
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_pgwire_live_tails") == 1; }));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(20s), 0) << p->Stderr();
  EXPECT_EQ(CopyRow(tail.get(), 15s), "");  // the server closed the connection
}

// psycopg 3 (Debian python3-psycopg): bound parameters over the extended
// protocol, then the live tail through cursor.copy(), as docs/pgwire.md shows.
constexpr const char* kPsycopgScript = R"PY(
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    rows = conn.execute(
        "SELECT channel, payload FROM pgcdc_events WHERE channel = %s ORDER BY id LIMIT %s",
        ("pgw_py", 2)).fetchall()
    print("rows", rows, flush=True)
    try:
        conn.execute("SELECT * FROM nope")
    except psycopg.errors.UndefinedTable as e:
        print("error", e.sqlstate, flush=True)
    with conn.cursor().copy(
            "SELECT payload FROM pgcdc_events_live WHERE channel = %s LIMIT 2", ("pgw_py",)) as copy:
        for row in copy.rows():
            print("live", row, flush=True)
    print("done", conn.execute("SELECT count(*) FROM pgcdc_events").fetchone()[0], flush=True)
)PY";

TEST(PgwireScenario, PsycopgQueriesAndTails) {
  if (RunCommand({"/usr/bin/python3", "-c", "import psycopg"}).exit_code != 0) {
    GTEST_SKIP() << "python3-psycopg is not installed (scripts/bootstrap installs it)";
  }
  auto p = StartPgwire({"pgw_py"}, {"--pgwire-password", "pw"});
  ASSERT_TRUE(p);
  const std::string addr = PgwireAddr(*p);
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  NotifyMany("pgw_py", 3);
  const std::string ci = Conninfo(addr, "password=pw");
  ASSERT_TRUE(Eventually(
      [&] { return Trim(Psql(ci, {"SELECT count(*) FROM pgcdc_events"}).output) == "3"; }));
  auto py = Process::Start({.args = {"-c", kPsycopgScript, ci}, .binary = "/usr/bin/python3"});
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, "pgcdc_pgwire_live_tails") == 1; }))
      << py->Stderr();
  NotifyMany("pgw_py", 2);
  ASSERT_EQ(py->Wait(30s), 0) << py->Stderr();
  EXPECT_EQ(
      py->StdoutLines(),
      (std::vector<std::string>{
          R"(rows [('pgw_py', '{"i":1,"pad":""}'), ('pgw_py', '{"i":2,"pad":""}')])", "error 42P01",
          R"(live ('{"i":1,"pad":""}',))", R"(live ('{"i":2,"pad":""}',))", "done 5"}));
}

TEST(PgwireScenario, ScramPasswordAndTls) {
  TestCertificates certs;
  ASSERT_TRUE(certs.Generate());
  auto p = StartPgwire(
      {"pgw_sec"}, {"--pgwire-password", "s3cret", "--pgwire-tls-cert", certs.dir + "/server.pem",
                    "--pgwire-tls-key", certs.dir + "/server.key"});
  ASSERT_TRUE(p);
  const std::string addr = PgwireAddr(*p);
  ASSERT_FALSE(addr.empty()) << p->Stderr();
  NotifyMany("pgw_sec", 1);
  const std::string tls =
      "password=s3cret sslmode=verify-full sslrootcert=" + certs.dir + "/ca.pem";
  ASSERT_TRUE(Eventually([&] {
    return Trim(Psql(Conninfo(addr, tls), {"SELECT count(*) FROM pgcdc_events"}).output) == "1";
  })) << Psql(Conninfo(addr, tls), {"SELECT count(*) FROM pgcdc_events"}).output;
  // The session really is encrypted.
  ConnPtr c(PQconnectdb(Conninfo(addr, tls).c_str()));
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  EXPECT_EQ(PQsslInUse(c.get()), 1);
  EXPECT_STREQ(PQsslAttribute(c.get(), "protocol"), "TLSv1.3");
  // A wrong password: 28P01, psql exits 2.
  auto wrong = Psql(Conninfo(addr, "password=nope sslmode=require"), {"SELECT 1"});
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.output.find("password authentication failed for user \"analyst\""),
            std::string::npos)
      << wrong.output;
  EXPECT_TRUE(Eventually(
      [&] { return ScrapeMetric(*p, "pgcdc_pgwire_errors_total{sqlstate=\"28P01\"}") == 1; }));
  // No password at all.
  auto none = Psql(Conninfo(addr, "sslmode=require"), {"SELECT 1"}, {"-w"});
  EXPECT_EQ(none.exit_code, 2) << none.output;
}

TEST(PgwireScenario, BadConfiguration) {
  auto [code, err] = RunAdapterToExit("pgwire", {"--pgwire-tls-cert", "/nonexistent.pem"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("--pgwire-tls-key go together"), std::string::npos) << err;
  // A taken port is a clear start-up error.
  auto first = StartPgwire({"pgw_cfg"}, {});
  ASSERT_TRUE(first);
  const std::string addr = PgwireAddr(*first);
  auto [code2, err2] = RunAdapterToExit("pgwire", {"--pgwire-addr", addr});
  EXPECT_NE(code2, 0);
  EXPECT_NE(err2.find("pgwire: cannot listen on " + addr), std::string::npos) << err2;
}

}  // namespace
}  // namespace pgcdc::testing
