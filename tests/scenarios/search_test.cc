// User journey: keep a search index in step with a table (WAL → search).
// Neither Typesense nor Meilisearch is packaged here, so the engines are two
// FAKE node servers (tests/scenarios/fakes/fake_typesense.js and
// fake_meilisearch.js) that implement the endpoints pgcdc uses, record the
// requests and fail on demand.
//  - each engine: INSERT/UPDATE/DELETE arrive with the right request shapes;
//    an UPDATE that leaves a TOASTed column unchanged is a partial update
//    that keeps the stored value; transaction markers are skipped and counted;
//  - an outage (503s, then the fake stops listening): health degraded,
//    retries counted, nothing lost;
//  - a document the engine rejects (a Typesense import line, a failed
//    Meilisearch task) goes to the DLQ, the others arrive;
//  - a wrong API key (at start and mid-stream) is a clear error;
//  - `pgcdc snapshot -a search` indexes every row (typed values);
//  - pgcdc killed with SIGKILL three times with a persistent slot: the index
//    ends up equal to the table.
#include <gtest/gtest.h>
#include <signal.h>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

// One fake engine process.
class FakeEngine {
 public:
  FakeEngine(const std::string& engine, const std::string& api_key) {
    const char* src = std::getenv("PGCDC_SOURCE_DIR");
    const std::string script =
        std::string(src != nullptr ? src : ".") + "/tests/scenarios/fakes/fake_" + engine + ".js";
    process_ = Process::Start(
        {.args = {"node", script, "--port", "0", "--api-key", api_key, "--index", "items"},
         .binary = "/usr/bin/env"});
    if (process_ && process_->WaitForLines(1)) {
      auto v = ParseJson(process_->StdoutLines()[0]);
      port_ = static_cast<int>(v.as_object()["listening"].as_int64());
    }
  }
  bool ok() const { return port_ > 0; }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string Addr() const { return "127.0.0.1:" + std::to_string(port_); }

  void Control(const std::string& target) {
    auto r = HttpSend(Addr(), "POST", target);
    ASSERT_TRUE(r && r->status == 200) << target;
  }
  boost::json::object State() {
    auto r = HttpGet(Addr(), "/_fake/state");
    if (!r || r->status != 200) return {};
    return ParseJson(r->body).as_object();
  }
  int64_t Docs() {
    auto r = HttpGet(Addr(), "/_fake/count");
    if (!r || r->status != 200) return -1;
    return ParseJson(r->body).as_object()["docs"].as_int64();
  }
  // The stored documents of index "items".
  boost::json::object Items() {
    auto s = State();
    if (!s.contains("docs") || !s["docs"].as_object().contains("items")) return {};
    return s["docs"].as_object()["items"].as_object();
  }
  // Requests recorded as "METHOD path" (query included).
  std::vector<std::string> Requests() {
    std::vector<std::string> out;
    auto s = State();
    if (!s.contains("requests")) return out;
    for (const auto& r : s["requests"].as_array()) {
      const auto& o = r.as_object();
      out.push_back(std::string(o.at("method").as_string()) + " " +
                    std::string(o.at("path").as_string()));
    }
    return out;
  }

 private:
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

size_t CountPrefix(const std::vector<std::string>& requests, const std::string& prefix) {
  size_t n = 0;
  for (const auto& r : requests) n += r.starts_with(prefix) ? 1 : 0;
  return n;
}

std::vector<std::string> SearchArgs(const std::string& publication, const FakeEngine& fake,
                                    const std::string& engine, std::vector<std::string> extra) {
  std::vector<std::string> sink = {"-a",
                                   "search",
                                   "--search-engine",
                                   engine,
                                   "--search-url",
                                   fake.Url(),
                                   "--search-api-key",
                                   "s3cret-key",
                                   "--search-index",
                                   "items",
                                   "--search-batch-size",
                                   "50",
                                   "--search-batch-interval",
                                   "100ms",
                                   "--search-backoff-base",
                                   "50ms",
                                   "--search-backoff-cap",
                                   "300ms"};
  sink.insert(sink.end(), extra.begin(), extra.end());
  return WalListenArgs(publication, sink);
}

// A large, incompressible text stored out of line (TOAST) for `g`.
std::string BigText(const std::string& g) {
  return "(SELECT string_agg(md5(" + g + "::text || x::text), '') FROM generate_series(1, 300) x)";
}

// Rows 1..50 (1..5 with a TOASTed body), the first 10 renamed (their body
// unchanged), 46..50 deleted; then the index must equal the table.
void RunHappyPath(const std::string& engine, const std::vector<std::string>& extra) {
  FakeEngine fake(engine, "s3cret-key");
  ASSERT_TRUE(fake.ok());
  auto conn = Connect();
  const std::string table = "s_" + engine;
  FreshPublishedTable(conn, table, "id int PRIMARY KEY, title text, body text", "p_" + table);
  std::vector<std::string> more = {"--tx-markers"};
  more.insert(more.end(), extra.begin(), extra.end());
  auto p = StartWalListen(SearchArgs("p_" + table, fake, engine, more));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO " + table + " SELECT g, 't' || g, CASE WHEN g <= 5 THEN " +
                       BigText("g") + " ELSE 'short' END FROM generate_series(1, 50) g");
  ExecOrFail(conn, "UPDATE " + table + " SET title = 'renamed' || id WHERE id <= 10");
  ExecOrFail(conn, "DELETE FROM " + table + " WHERE id > 45");
  ASSERT_TRUE(Eventually(
      [&] {
        auto items = fake.Items();
        return items.size() == 45 && items.contains("10") &&
               items["10"].as_object()["title"] == "renamed10";
      },
      30s))
      << fake.Docs() << "\n"
      << p->Stderr();
  auto rows = conn.Query("SELECT id, title, body FROM " + table + " ORDER BY id");
  ASSERT_TRUE(rows);
  auto items = fake.Items();
  ASSERT_EQ(rows->size(), items.size());
  for (const auto& row : *rows) {
    const std::string& id = *row[0];
    ASSERT_TRUE(items.contains(id)) << id;
    auto doc = items[id].as_object();
    if (engine == "typesense") EXPECT_EQ(doc["id"], boost::json::value(id)) << id;
    EXPECT_EQ(doc["title"].as_string(), *row[1]) << id;
    ASSERT_TRUE(doc.contains("body") && doc["body"].is_string()) << id << " lost its TOAST column";
    EXPECT_EQ(doc["body"].as_string(), *row[2]) << id;
  }
  const auto requests = fake.Requests();
  if (engine == "typesense") {
    EXPECT_GE(CountPrefix(requests, "POST /collections/items/documents/import?action=upsert"), 1u);
    EXPECT_EQ(CountPrefix(requests, "PATCH /collections/items/documents/"), 5u);
    EXPECT_EQ(CountPrefix(requests, "DELETE /collections/items/documents/"), 5u);
  } else {
    EXPECT_GE(CountPrefix(requests, "POST /indexes/items/documents"), 1u);
    EXPECT_EQ(CountPrefix(requests, "PUT /indexes/items/documents"), 5u);
    EXPECT_EQ(CountPrefix(requests, "DELETE /indexes/items/documents/"), 5u);
  }
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_search_deleted_total").value_or(0), 5);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_search_partial_updates_total").value_or(0), 5);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_search_upserted_total").value_or(0), 60);
  // BEGIN and COMMIT of the three transactions.
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_search_skipped_total{reason=\"not_row\"}").value_or(0), 6);
  // The API key is sent, never logged.
  EXPECT_EQ(p->Stderr().find("s3cret-key"), std::string::npos);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(SearchScenario, TypesenseMirrorsInsertUpdateDelete) { RunHappyPath("typesense", {}); }

TEST(SearchScenario, MeilisearchMirrorsInsertUpdateDeleteAndWaitsForTasks) {
  RunHappyPath("meilisearch", {"--search-wait"});
}

TEST(SearchScenario, AnOutageHoldsDocumentsUntilTheEngineIsBack) {
  FakeEngine fake("typesense", "s3cret-key");
  ASSERT_TRUE(fake.ok());
  auto conn = Connect();
  FreshPublishedTable(conn, "s_outage", "id int PRIMARY KEY, v text", "p_soutage");
  auto p = StartWalListen(SearchArgs("p_soutage", fake, "typesense", {}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO s_outage SELECT g, 'v' FROM generate_series(1, 100) g");
  ASSERT_TRUE(Eventually([&] { return fake.Docs() == 100; })) << p->Stderr();

  // Six 503s, then no listener at all for 3 s.
  fake.Control("/_fake/fail?status=503&count=6");
  ExecOrFail(conn, "INSERT INTO s_outage SELECT g, 'v' FROM generate_series(101, 200) g");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_search_retries_total").value_or(0) >= 3;
  })) << p->Stderr();
  EXPECT_NE(Healthz(*p).find(R"("search":{"status":"degraded")"), std::string::npos) << Healthz(*p);
  fake.Control("/_fake/down?ms=3000");
  ExecOrFail(conn, "INSERT INTO s_outage SELECT g, 'v' FROM generate_series(201, 300) g");
  ASSERT_TRUE(Eventually([&] { return fake.Docs() == 300; }, 30s)) << fake.Docs() << "\n"
                                                                   << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return Healthz(*p).find(R"("search":{"status":"up")") != std::string::npos;
  })) << Healthz(*p);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_search_retries_total").value_or(0), 6);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_search_dead_lettered_total").value_or(0), 0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

// --skip-validation: with the engine not answering at start, pgcdc normally
// refuses to start; with the flag it starts, holds the documents (health
// degraded) and indexes them once the engine is back.
TEST(SearchScenario, SkipValidationStartsBeforeTheEngineIsUp) {
  FakeEngine fake("typesense", "s3cret-key");
  ASSERT_TRUE(fake.ok());
  auto conn = Connect();
  FreshPublishedTable(conn, "s_skipval", "id int PRIMARY KEY, v text", "p_sskipval");
  fake.Control("/_fake/down?ms=8000");
  auto refused = Process::Start({.args = SearchArgs("p_sskipval", fake, "typesense", {})});
  ASSERT_TRUE(refused);
  const auto code = refused->Wait(20s);
  ASSERT_TRUE(code) << refused->Stderr();
  EXPECT_NE(*code, 0);
  EXPECT_NE(refused->Stderr().find("cannot reach typesense"), std::string::npos)
      << refused->Stderr();

  auto p = StartWalListen(SearchArgs("p_sskipval", fake, "typesense", {"--skip-validation"}));
  ASSERT_TRUE(p);
  EXPECT_NE(p->Stderr().find("start-up checks skipped (--skip-validation)"), std::string::npos)
      << p->Stderr();
  ExecOrFail(conn, "INSERT INTO s_skipval SELECT g, 'v' FROM generate_series(1, 50) g");
  ASSERT_TRUE(Eventually([&] { return fake.Docs() == 50; }, 30s)) << fake.Docs() << "\n"
                                                                  << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

// A rejected document goes to the DLQ (stderr here) with the engine's
// message; the rest of its batch is indexed.
void RunRejection(const std::string& engine, const std::vector<std::string>& extra) {
  FakeEngine fake(engine, "s3cret-key");
  ASSERT_TRUE(fake.ok());
  fake.Control("/_fake/reject?id=7");
  auto conn = Connect();
  const std::string table = "s_rej_" + engine;
  FreshPublishedTable(conn, table, "id int PRIMARY KEY, v text", "p_" + table);
  auto p = StartWalListen(SearchArgs("p_" + table, fake, engine, extra));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO " + table + " SELECT g, 'v' FROM generate_series(1, 20) g");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_search_dead_lettered_total").value_or(0) == 1;
  })) << p->Stderr();
  ASSERT_TRUE(Eventually([&] { return fake.Docs() == 19; })) << fake.Docs() << p->Stderr();
  EXPECT_FALSE(fake.Items().contains("7"));
  ASSERT_TRUE(p->WaitForStderr("fake rejection")) << p->Stderr();
  EXPECT_NE(p->Stderr().find(R"("adapter":"search")"), std::string::npos) << p->Stderr();
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_search_errors_total").value_or(0), 1);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(SearchScenario, TypesenseRejectedImportLineGoesToTheDlq) { RunRejection("typesense", {}); }

TEST(SearchScenario, MeilisearchFailedTaskGoesToTheDlq) {
  RunRejection("meilisearch", {"--search-wait"});
}

TEST(SearchScenario, AWrongApiKeyIsAClearError) {
  // At start (Meilisearch: 403 invalid_api_key).
  FakeEngine meili("meilisearch", "right-key");
  ASSERT_TRUE(meili.ok());
  auto [code, err] =
      RunAdapterToExit("search", {"--search-engine", "meilisearch", "--search-url", meili.Url(),
                                  "--search-index", "items", "--search-api-key", "wrong-key"});
  EXPECT_NE(code, 0);
  EXPECT_NE(err.find("meilisearch refused the API key (HTTP 403)"), std::string::npos) << err;
  EXPECT_EQ(err.find("wrong-key"), std::string::npos) << err;

  // Mid-stream (the key is revoked): pgcdc stops with the reason, nothing
  // acknowledged past it.
  FakeEngine fake("typesense", "s3cret-key");
  ASSERT_TRUE(fake.ok());
  auto conn = Connect();
  FreshPublishedTable(conn, "s_auth", "id int PRIMARY KEY", "p_sauth");
  auto p = StartWalListen(SearchArgs("p_sauth", fake, "typesense", {}));
  ASSERT_TRUE(p);
  fake.Control("/_fake/key?value=rotated");
  ExecOrFail(conn, "INSERT INTO s_auth SELECT g FROM generate_series(1, 3) g");
  const auto exit = p->Wait(20s);
  ASSERT_TRUE(exit.has_value()) << p->Stderr();
  EXPECT_NE(*exit, 0);
  EXPECT_NE(p->Stderr().find("typesense refused the API key (HTTP 401)"), std::string::npos)
      << p->Stderr();
  EXPECT_EQ(fake.Docs(), 0);

  // A missing Typesense collection is named at start.
  auto [code2, err2] = RunAdapterToExit("search", {"--search-url", fake.Url(), "--search-index",
                                                   "nope", "--search-api-key", "rotated"});
  EXPECT_NE(code2, 0);
  EXPECT_NE(err2.find("typesense collection"), std::string::npos) << err2;
  EXPECT_NE(err2.find("nope"), std::string::npos) << err2;
  EXPECT_NE(err2.find("does not exist: create it"), std::string::npos) << err2;
}

TEST(SearchScenario, SnapshotIndexesEveryRow) {
  FakeEngine fake("typesense", "k");
  ASSERT_TRUE(fake.ok());
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS s_snap");
  ExecOrFail(conn, "CREATE TABLE s_snap (id int PRIMARY KEY, name text, n numeric)");
  ExecOrFail(conn,
             "INSERT INTO s_snap SELECT g, 'row ' || g, g / 4.0 FROM generate_series(1, 333) g");
  auto p = Process::Start(
      {.args = {"snapshot", "--db", SharedCluster().Url(), "--table", "s_snap", "-a", "search",
                "--search-url", fake.Url(), "--search-api-key", "k", "--search-index", "items"}});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->Wait(60s), 0) << p->Stderr();
  auto items = fake.Items();
  ASSERT_EQ(items.size(), 333u) << p->Stderr();
  auto doc = items["333"].as_object();
  EXPECT_EQ(doc["id"], boost::json::value("333"));  // Typesense ids are strings
  EXPECT_EQ(doc["name"], boost::json::value("row 333"));
  // 333 rows in batches of up to 100 (a partial one when the queue ran empty
  // for the batch interval, the last at shutdown).
  const size_t imports = CountPrefix(fake.Requests(), "POST /collections/items/documents/import");
  EXPECT_GE(imports, 4u);
  EXPECT_LE(imports, 12u);
}

TEST(SearchScenario, KillNineWithPersistentSlotLosesNothing) {
  FakeEngine fake("typesense", "s3cret-key");
  ASSERT_TRUE(fake.ok());
  fake.Control("/_fake/quiet");
  auto conn = Connect();
  FreshPublishedTable(conn, "s_crash", "id int PRIMARY KEY, v int", "p_scrash", "pgcdc_p_scrash");
  const auto args = SearchArgs(
      "p_scrash", fake, "typesense",
      {"--persistent-slot", "--detector-status-interval", "200ms", "--search-batch-size", "500"});
  constexpr int kRows = 50000;
  RunKillNineRounds(SinkKillNineRun("s_crash", kRows, /*seed=*/11), args,
                    [&](Process&) { return static_cast<double>(fake.Docs()); });
  if (HasFailure()) return;
  auto p = Process::Start({.args = args});
  ASSERT_TRUE(p);
  ASSERT_TRUE(Eventually([&] { return fake.Docs() == kRows; }, 120s))
      << fake.Docs() << " of " << kRows << "\n"
      << p->Stderr();
  auto items = fake.Items();
  for (int id : {1, 777, kRows / 2, kRows}) {
    const std::string key = std::to_string(id);
    ASSERT_TRUE(items.contains(key)) << key;
    EXPECT_EQ(items[key].as_object()["v"], boost::json::value(id)) << key;
  }
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_scrash')");
}

}  // namespace
}  // namespace pgcdc::testing
