// User journey: an application writes to a SQLite file; `pgcdc init
// --detector sqlite --apply` installs the change table and triggers, and
// `pgcdc listen --detector sqlite` streams every change, deleting change rows
// only once they are delivered — so a kill -9 loses nothing, writers keep
// writing meanwhile, and a corrupt row goes to the dead letter queue.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <random>
#include <set>

#include "detector/sqlite/sqlite_db.h"
#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

using detector::sqlite::Db;

// Runs SQL with the sqlite3 command-line shell (a writer that is not us).
void Sqlite3(const std::string& db, const std::string& sql) {
  auto r = RunCommand({"sqlite3", db, sql});
  ASSERT_EQ(r.exit_code, 0) << sql << ": " << r.output;
}

int64_t Count(const std::string& db, const std::string& sql) {
  auto r = RunCommand({"sqlite3", db, sql});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return r.exit_code == 0 ? std::stoll(r.output) : -1;
}

// A database with `table` and the capture setup applied by pgcdc itself.
std::string Prepared(TempDir& dir, const std::string& table, const std::string& columns) {
  const std::string db = dir.path + "/app.db";
  Sqlite3(db, "CREATE TABLE " + table + " (" + columns + ")");
  auto init = RunCommand({PgcdcBinary(), "init", "--detector", "sqlite", "--table", table,
                          "--sqlite-db", db, "--apply"});
  EXPECT_EQ(init.exit_code, 0) << init.output;
  return db;
}

std::vector<std::string> ListenArgs(const std::string& db, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"listen",
                                   "--detector",
                                   "sqlite",
                                   "--sqlite-db",
                                   db,
                                   "--sqlite-poll-interval",
                                   "20ms",
                                   "--http-addr",
                                   "127.0.0.1:0",
                                   "--sqlite-backoff-base",
                                   "100ms",
                                   "--sqlite-backoff-cap",
                                   "500ms"};
  for (auto& a : extra) args.push_back(a);
  return args;
}

std::unique_ptr<Process> StartSqlite(const std::string& db, std::vector<std::string> extra = {}) {
  auto p = Process::Start({.args = ListenArgs(db, std::move(extra))});
  EXPECT_TRUE(p);
  if (p) EXPECT_TRUE(p->WaitForStderr("polling detector=sqlite")) << p->Stderr();
  return p;
}

boost::json::object Obj(const std::string& line) { return ParseJson(line).as_object(); }

std::string Payload(const std::string& line) {
  return boost::json::serialize(Obj(line)["payload"]);
}

TEST(SqliteScenario, ChangesBecomeEventsAndDeliveredRowsAreDeleted) {
  TempDir dir;
  const std::string db =
      Prepared(dir, "users", "id INTEGER PRIMARY KEY, name TEXT, avatar BLOB, score REAL");
  auto p = StartSqlite(db);
  ASSERT_TRUE(p);
  Sqlite3(db,
          "INSERT INTO users VALUES (1, 'Zoë \"z\"', x'00ff10', 1.5);"
          "UPDATE users SET name = NULL, score = 9e999 WHERE id = 1;"
          "DELETE FROM users WHERE id = 1;");
  ASSERT_TRUE(p->WaitForLines(3)) << p->Stderr();
  auto lines = p->StdoutLines();
  ASSERT_EQ(lines.size(), 3U);
  const std::vector<std::string> ops = {"INSERT", "UPDATE", "DELETE"};
  for (size_t i = 0; i < 3; ++i) {
    auto o = Obj(lines[i]);
    EXPECT_EQ(o["channel"].as_string(), "pgcdc:users");
    EXPECT_EQ(o["operation"].as_string(), ops[i]);
    EXPECT_EQ(o["source"].as_string(), "sqlite");
  }
  EXPECT_EQ(Payload(lines[0]),
            R"({"new":{"id":1,"name":"Zoë \"z\"","avatar":"AP8Q","score":1.5E0}})");
  EXPECT_EQ(Payload(lines[1]),
            R"({"new":{"id":1,"name":null,"avatar":"AP8Q","score":"Infinity"},)"
            R"("old":{"id":1,"name":"Zoë \"z\"","avatar":"AP8Q","score":1.5E0}})");
  EXPECT_EQ(Payload(lines[2]),
            R"({"old":{"id":1,"name":null,"avatar":"AP8Q","score":"Infinity"}})");
  ASSERT_TRUE(Eventually([&] { return Count(db, "SELECT count(*) FROM pgcdc_changes") == 0; }));
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_sqlite_events_processed_total"), 3.0);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_sqlite_rows_finished_total"), 3.0);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_detector_connected{detector=\"sqlite\"}"), 1.0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(SqliteScenario, KeepProcessedMarksRows) {
  TempDir dir;
  const std::string db = Prepared(dir, "t", "a");
  auto p = StartSqlite(db, {"--sqlite-keep-processed"});
  ASSERT_TRUE(p);
  Sqlite3(db, "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);");
  ASSERT_TRUE(p->WaitForLines(2)) << p->Stderr();
  ASSERT_TRUE(Eventually(
      [&] { return Count(db, "SELECT count(*) FROM pgcdc_changes WHERE processed = 1") == 2; }));
  EXPECT_EQ(Count(db, "SELECT count(*) FROM pgcdc_changes"), 2);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// A change row that is not JSON is recorded in the dead letter queue and
// counted; the rows around it are delivered.
TEST(SqliteScenario, CorruptRowGoesToTheDeadLetterQueue) {
  TempDir dir;
  const std::string db = Prepared(dir, "t", "a");
  Sqlite3(db,
          "INSERT INTO t VALUES (1);"
          "INSERT INTO pgcdc_changes (table_name, operation, row_data) VALUES ('t', 'INSERT', "
          "'{broken');"
          "INSERT INTO t VALUES (3);");
  auto p = StartSqlite(db);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForLines(2)) << p->Stderr();
  auto lines = p->StdoutLines();
  EXPECT_EQ(Payload(lines[0]), R"({"new":{"a":1}})");
  EXPECT_EQ(Payload(lines[1]), R"({"new":{"a":3}})");
  ASSERT_TRUE(Eventually([&] { return Count(db, "SELECT count(*) FROM pgcdc_changes") == 0; }));
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_sqlite_invalid_rows_total"), 1.0);
  // The default dead letter queue writes one JSON line per record to stderr.
  EXPECT_TRUE(p->WaitForStderr("row_data is not valid JSON")) << p->Stderr();
  EXPECT_NE(p->Stderr().find("{broken"), std::string::npos) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// kill -9 while an application keeps writing: every change arrives (at least
// once; a redelivered change keeps its event id), none is left behind.
TEST(SqliteScenario, KillNineDuringAStreamLosesNothing) {
  TempDir dir;
  const std::string db = Prepared(dir, "t", "id INTEGER PRIMARY KEY, v TEXT");
  const std::string out = dir.path + "/events.jsonl";
  const std::vector<std::string> args =
      ListenArgs(db, {"-a", "file", "--file-path", out, "--sqlite-batch-size", "50"});
  auto writer = std::make_shared<std::optional<Db>>();
  KillNineRun run{
      .table = "t", .rows = 6000, .per_tx = 20, .seed = 7, .min_progress = 300, .spread = 1500};
  run.write = [db, writer](int first, int last) -> Status {
    if (!*writer) {
      auto opened = Db::Open(db);
      if (!opened) return Fail(opened.error());
      writer->emplace(std::move(*opened));
    }
    std::string sql = "BEGIN;";
    for (int i = first; i <= last; ++i) {
      sql += "INSERT INTO t VALUES (" + std::to_string(i) + ", 'v" + std::to_string(i) + "');";
    }
    return (*writer)->Exec(sql + "COMMIT;");
  };
  auto lines_in = [&](Process&) {
    std::ifstream f(out);
    double n = 0;
    for (std::string l; std::getline(f, l);) ++n;
    return n;
  };
  RunKillNineRounds(
      run,
      [&] {
        auto p = Process::Start({.args = args});
        if (p && !p->WaitForStderr("polling detector=sqlite")) p.reset();
        return p;
      },
      lines_in);
  auto last = StartSqlite(db, {"-a", "file", "--file-path", out, "--sqlite-batch-size", "50"});
  ASSERT_TRUE(last);
  ASSERT_TRUE(
      Eventually([&] { return Count(db, "SELECT count(*) FROM pgcdc_changes") == 0; }, 60s));
  last->Signal(SIGTERM);
  EXPECT_EQ(last->Wait(), 0) << last->Stderr();

  std::map<int64_t, std::set<std::string>> ids_by_row;
  size_t lines = 0;
  std::ifstream f(out);
  for (std::string l; std::getline(f, l);) {
    ++lines;
    auto o = Obj(l);
    const int64_t id = o["payload"].as_object()["new"].as_object()["id"].as_int64();
    ids_by_row[id].insert(std::string(o["id"].as_string()));
  }
  EXPECT_EQ(ids_by_row.size(), 6000U);
  for (const auto& [row, ids] : ids_by_row) {
    EXPECT_EQ(ids.size(), 1U) << "row " << row << " arrived with different event ids";
  }
  // Duplicates are bounded: at most one batch per kill.
  EXPECT_LE(lines - 6000, 3U * 50U) << lines;
}

TEST(SqliteScenario, InitPrintsTheSetupAndRefusesUnknownTables) {
  TempDir dir;
  const std::string db = dir.path + "/app.db";
  Sqlite3(db, "CREATE TABLE t (a, b)");
  auto printed = RunCommand(
      {PgcdcBinary(), "init", "--detector", "sqlite", "--table", "t", "--sqlite-db", db});
  ASSERT_EQ(printed.exit_code, 0) << printed.output;
  EXPECT_NE(printed.output.find("CREATE TRIGGER \"pgcdc_t_insert\" AFTER INSERT ON \"t\""),
            std::string::npos)
      << printed.output;
  EXPECT_NE(printed.output.find("json_object('a'"), std::string::npos);
  // Printing changes nothing.
  EXPECT_EQ(Count(db, "SELECT count(*) FROM sqlite_master WHERE name = 'pgcdc_changes'"), 0);

  auto unknown = RunCommand(
      {PgcdcBinary(), "init", "--detector", "sqlite", "--table", "nope", "--sqlite-db", db});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("table nope not found"), std::string::npos) << unknown.output;
  auto no_file = RunCommand({PgcdcBinary(), "init", "--detector", "sqlite", "--table", "t",
                             "--sqlite-db", dir.path + "/missing.db"});
  EXPECT_EQ(no_file.exit_code, 2);
  EXPECT_NE(no_file.output.find("does not exist"), std::string::npos) << no_file.output;
}

TEST(SqliteScenario, SetupMistakesAreClearErrorsNotRetryLoops) {
  TempDir dir;
  const std::string db = dir.path + "/plain.db";
  Sqlite3(db, "CREATE TABLE t (a)");
  auto p = Process::Start({.args = ListenArgs(db)});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->Wait(20s), 1);
  EXPECT_NE(p->Stderr().find("has no change table pgcdc_changes"), std::string::npos)
      << p->Stderr();
  EXPECT_NE(p->Stderr().find("pgcdc init --detector sqlite"), std::string::npos);
  EXPECT_EQ(p->Stderr().find("reconnecting"), std::string::npos) << p->Stderr();

  auto missing = Process::Start({.args = ListenArgs(dir.path + "/missing.db")});
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->Wait(20s), 1);
  EXPECT_NE(missing->Stderr().find("does not exist"), std::string::npos) << missing->Stderr();

  // No file named at all: a configuration error, and no --db is asked for.
  auto none = Process::Start({.args = {"listen", "--detector", "sqlite"}});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->Wait(), 2);
  EXPECT_NE(none->Stderr().find("sqlite.db_path: required"), std::string::npos) << none->Stderr();
  EXPECT_EQ(none->Stderr().find("database_url"), std::string::npos) << none->Stderr();
}

// Another connection holding the write lock longer than
// --sqlite-busy-timeout makes finishing a delivered batch fail; the detector
// reopens with backoff, delivers the batch again (same event id) and
// finishes it once the lock is gone.
TEST(SqliteScenario, LockedDatabaseIsRetried) {
  TempDir dir;
  const std::string db = Prepared(dir, "t", "a");
  std::optional<Db> locker;
  {
    auto opened = Db::Open(db);
    ASSERT_TRUE(opened);
    locker.emplace(std::move(*opened));
  }
  ASSERT_TRUE(locker->Exec("INSERT INTO t VALUES (1); BEGIN IMMEDIATE;"));
  auto p = StartSqlite(db, {"--sqlite-busy-timeout", "50ms"});
  ASSERT_TRUE(p);
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_sqlite_errors_total").value_or(0) >= 1;
  })) << p->Stderr();
  EXPECT_NE(p->Stderr().find("database is locked"), std::string::npos) << p->Stderr();
  EXPECT_EQ(Count(db, "SELECT count(*) FROM pgcdc_changes"), 1);
  ASSERT_TRUE(locker->Exec("ROLLBACK;"));
  ASSERT_TRUE(Eventually([&] { return Count(db, "SELECT count(*) FROM pgcdc_changes") == 0; }));
  auto lines = p->StdoutLines();
  ASSERT_GE(lines.size(), 1U);
  std::set<std::string> ids;
  for (const auto& l : lines) {
    EXPECT_EQ(Payload(l), R"({"new":{"a":1}})");
    ids.insert(std::string(Obj(l)["id"].as_string()));
  }
  EXPECT_EQ(ids.size(), 1U);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

}  // namespace
}  // namespace pgcdc::testing
