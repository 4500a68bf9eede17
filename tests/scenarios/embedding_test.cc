// User journey: keep a pgvector table of text embeddings in step with a
// table (WAL on the real PostgreSQL 15 → -a embedding → pgvector).
//
// pgvector is not packaged for PostgreSQL 15 here, so the table lives in
// PGlite (PostgreSQL 18 in wasm) with the vector extension, served over the
// wire protocol by @electric-sql/pglite-socket (SERVICES.md). No embedding
// model is available offline: the API is a FAKE node server
// (tests/scenarios/fakes/fake_embeddings.js) returning deterministic
// vectors from the words of the text, so texts sharing words are close.
//
// PGlite's socket server accepts ONE connection at a time (a second one is
// answered "Too many connections" and closed; with -m N connections would
// share one backend, their extended-protocol messages interleaved). The
// adapter holds exactly one connection, so the test reads the table only
// while pgcdc is not running (before it starts, after it stopped) and
// follows pgcdc through its metrics and the fake's counters meanwhile.
//
//  - happy path: every row embedded and present; an UPDATE that leaves the
//    text unchanged (no old image: REPLICA IDENTITY DEFAULT) never calls the
//    API again; a changed text is re-embedded; a DELETE removes the row; a
//    similarity search (ORDER BY embedding <-> $1 LIMIT 1) finds the row;
//    transaction markers are skipped and counted;
//  - bad input: rows without the text columns, a wrong-dimension vector, a
//    malformed answer and a rejected input go to the DLQ (counted), the rest
//    of their batch arrives;
//  - the API down (503s, then refusing connections): health degraded,
//    retries counted, nothing lost; a refused key is a clear error;
//  - pgcdc killed with SIGKILL three times with a persistent slot: every row
//    ends up in the table.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <sstream>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

constexpr int kDim = 64;
constexpr const char* kDocs = "id int PRIMARY KEY, title text, body text";

std::string SourceDir() {
  const char* src = std::getenv("PGCDC_SOURCE_DIR");
  return src != nullptr ? src : ".";
}

// The FAKE embeddings API.
class FakeEmbeddings {
 public:
  explicit FakeEmbeddings(const std::string& api_key = "") {
    process_ = Process::Start(
        {.args = {"node", SourceDir() + "/tests/scenarios/fakes/fake_embeddings.js", "--port", "0",
                  "--dim", std::to_string(kDim), "--api-key", api_key},
         .binary = "/usr/bin/env"});
    if (process_ && process_->WaitForLines(1)) {
      auto v = ParseJson(process_->StdoutLines()[0]);
      port_ = static_cast<int>(v.as_object()["listening"].as_int64());
    }
  }
  bool ok() const { return port_ > 0; }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::string Addr() const { return "127.0.0.1:" + std::to_string(port_); }
  void Control(const std::string& target) {
    auto r = HttpSend(Addr(), "POST", target);
    ASSERT_TRUE(r && r->status == 200) << target;
  }
  // Texts the API embedded (inputs over all requests).
  int64_t Inputs() { return Count("inputs"); }
  int64_t Requests() { return Count("requests"); }
  // The fake's vector for `text`, as pgvector text.
  std::string Vector(const std::string& text) {
    std::string query = text;
    std::replace(query.begin(), query.end(), ' ', '+');  // the only character to escape here
    auto r = HttpSend(Addr(), "POST", "/_fake/embed?text=" + query);
    if (!r || r->status != 200) return {};
    std::string out = "[";
    const boost::json::value answer = ParseJson(r->body);
    for (const auto& x : answer.at("embedding").as_array()) {
      if (out.size() > 1) out += ",";
      out += boost::json::serialize(x);
    }
    return out + "]";
  }

 private:
  int64_t Count(const char* what) {
    auto r = HttpGet(Addr(), "/_fake/count");
    if (!r || r->status != 200) return -1;
    return ParseJson(r->body).as_object()[what].as_int64();
  }
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

// PGlite with pgvector on a free port (in memory), holding `table` as
// `pgcdc init --adapter embedding` creates it.
class Pglite {
 public:
  explicit Pglite(const std::string& table) : port_(FreeTcpPort()) {
    process_ = Process::Start(
        {.args = {"node", "node_modules/@electric-sql/pglite-socket/dist/scripts/server.js", "-d",
                  "memory://", "-h", "127.0.0.1", "-p", std::to_string(port_), "-e",
                  "@electric-sql/pglite-pgvector:vector"},
         .cwd = SourceDir() + "/tests/tools",
         .binary = "/usr/bin/env"});
    ok_ = process_ && Eventually(
                          [&] {
                            for (const auto& l : process_->StdoutLines()) {
                              if (l.find("listening") != std::string::npos) return true;
                            }
                            return false;
                          },
                          60s);
    ok_ = ok_ && Init(table);
  }
  bool ok() const { return ok_; }
  std::string Url() const {
    return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres?sslmode=disable";
  }
  // One short connection (only while pgcdc is not connected). The server
  // frees a closed connection's place asynchronously, so a connect right
  // after another client left may be turned away: try again for a while.
  Result<pg::Conn> Open() {
    Result<pg::Conn> c = Fail(ErrorCode::kConnection, "not tried");
    Eventually(
        [&] {
          c = pg::Conn::Open(Url());
          return c.has_value();
        },
        10s);
    return c;
  }
  Result<std::vector<pg::Row>> Query(const std::string& sql,
                                     const std::vector<std::optional<std::string>>& params = {}) {
    auto c = Open();
    if (!c) return Fail(c.error());
    return c->Query(sql, params);
  }
  int64_t Count(const std::string& table) {
    auto rows = Query("SELECT count(*) FROM " + table);
    return rows && !rows->empty() ? std::stoll(*(*rows)[0][0]) : -1;
  }

 private:
  bool Init(const std::string& table) {
    auto r = RunCommand({PgcdcBinary(), "init", "--adapter", "embedding", "--table", table,
                         "--dimension", std::to_string(kDim)});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    auto c = Open();
    EXPECT_TRUE(c) << c.error().message();
    if (r.exit_code != 0 || !c) return false;
    auto st = c->Exec(r.output);
    EXPECT_TRUE(st) << st.error().message() << "\n" << r.output;
    return st.has_value();
  }

  int port_;
  bool ok_ = false;
  std::unique_ptr<Process> process_;
};

std::vector<std::string> EmbeddingArgs(const std::string& publication, const FakeEmbeddings& api,
                                       const Pglite& db, const std::string& table,
                                       std::vector<std::string> extra) {
  std::vector<std::string> sink = {"-a",
                                   "embedding",
                                   "--embedding-api-url",
                                   api.Url(),
                                   "--embedding-columns",
                                   "title,body",
                                   "--embedding-table",
                                   table,
                                   "--embedding-db-url",
                                   db.Url(),
                                   "--embedding-model",
                                   "fake-words",
                                   "--embedding-batch-size",
                                   "16",
                                   "--embedding-backoff-base",
                                   "50ms",
                                   "--embedding-backoff-cap",
                                   "300ms"};
  sink.insert(sink.end(), extra.begin(), extra.end());
  return WalListenArgs(publication, sink);
}

double Metric(Process& p, const std::string& series) {
  return ScrapeMetric(p, series).value_or(-1);
}

// The embedding series of the child's /metrics (for failure messages).
std::string EmbeddingMetrics(Process& p) {
  auto addr = p.HttpAddr();
  if (!addr) return {};
  auto r = HttpGet(*addr, "/metrics");
  std::string out;
  if (!r) return out;
  std::istringstream in(r->body);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("pgcdc_embedding")) out += line + "\n";
  }
  return out;
}

void Stop(Process& p) {
  p.Signal(SIGTERM);
  EXPECT_EQ(p.Wait(), 0) << p.Stderr();
}

TEST(EmbeddingScenario, RowsEmbeddedUnchangedTextSkippedDeletesAndSimilaritySearch) {
  FakeEmbeddings api;
  ASSERT_TRUE(api.ok());
  Pglite db("docs_vec");
  ASSERT_TRUE(db.ok());
  auto conn = Connect();
  FreshPublishedTable(conn, "e_docs", "id int PRIMARY KEY, title text, body text, n int",
                      "p_edocs");
  auto p = StartWalListen(EmbeddingArgs("p_edocs", api, db, "docs_vec",
                                        {"--tx-markers", "--embedding-concurrency", "3"}));
  ASSERT_TRUE(p);
  // 40 rows, distinct words per row ("w<id>"), a shared word per group of ten.
  ExecOrFail(conn,
             "INSERT INTO e_docs SELECT g, 'title w' || g, 'group' || (g / 10) || ' body', 0 FROM "
             "generate_series(1, 40) g");
  ASSERT_TRUE(Eventually([&] { return Metric(*p, "pgcdc_embedding_upserted_total") >= 40; }, 30s))
      << p->Stderr();
  EXPECT_EQ(api.Inputs(), 40);
  // Batching: 40 texts in requests of at most 16.
  EXPECT_LE(api.Requests(), 6);
  EXPECT_GE(api.Requests(), 3);
  // The text does not change: never embedded again (no old image here).
  ExecOrFail(conn, "UPDATE e_docs SET n = n + 1");
  ASSERT_TRUE(Eventually(
      [&] { return Metric(*p, "pgcdc_embedding_skipped_total{reason=\"unchanged\"}") >= 40; }, 30s))
      << p->Stderr();
  EXPECT_EQ(api.Inputs(), 40);
  // A changed text is embedded again; deletes remove rows.
  ExecOrFail(conn, "UPDATE e_docs SET title = 'renamed apple' WHERE id = 1");
  ExecOrFail(conn, "DELETE FROM e_docs WHERE id > 30");
  ASSERT_TRUE(Eventually([&] { return Metric(*p, "pgcdc_embedding_deleted_total") >= 10; }, 30s))
      << p->Stderr();
  EXPECT_EQ(api.Inputs(), 41);
  EXPECT_EQ(Metric(*p, "pgcdc_embedding_upserted_total"), 41);
  EXPECT_GT(Metric(*p, "pgcdc_embedding_skipped_total{reason=\"not_row\"}"), 0);
  EXPECT_GT(Metric(*p, "pgcdc_embedding_tokens_total"), 0);
  Stop(*p);

  // pgcdc is gone: the table can be read now (one connection at a time).
  EXPECT_EQ(db.Count("docs_vec"), 30);
  auto row = db.Query(
      "SELECT source_table, content, length(content_hash), vector_dims(embedding) FROM docs_vec "
      "WHERE source_id = '1'");
  ASSERT_TRUE(row && row->size() == 1) << (row ? "" : row.error().message());
  EXPECT_EQ((*row)[0][0], std::optional<std::string>("e_docs"));
  EXPECT_EQ((*row)[0][1], std::optional<std::string>("renamed apple group0 body"));
  EXPECT_EQ((*row)[0][2], std::optional<std::string>("64"));
  EXPECT_EQ((*row)[0][3], std::optional<std::string>(std::to_string(kDim)));
  // Similarity search with the vector of a query text.
  for (const auto& [query, want] :
       std::vector<std::pair<std::string, std::string>>{{"renamed apple", "1"},
                                                        {"title w17 group1 body", "17"},
                                                        {"title w25 group2 body", "25"}}) {
    auto near = db.Query("SELECT source_id FROM docs_vec ORDER BY embedding <-> $1::vector LIMIT 1",
                         {api.Vector(query)});
    ASSERT_TRUE(near && near->size() == 1) << query;
    EXPECT_EQ((*near)[0][0], std::optional<std::string>(want)) << query;
  }
}

TEST(EmbeddingScenario, BadInputAndUnusableAnswersGoToTheDlq) {
  FakeEmbeddings api;
  ASSERT_TRUE(api.ok());
  api.Control("/_fake/bad?text=BADDIM&kind=dim");
  api.Control("/_fake/bad?text=BADJSON&kind=json");
  api.Control("/_fake/bad?text=TOOLONG&kind=reject");
  Pglite db("bad_vec");
  ASSERT_TRUE(db.ok());
  auto conn = Connect();
  FreshPublishedTable(conn, "e_bad", kDocs, "p_ebad");
  // A second table in the publication without the text columns.
  ExecOrFail(conn,
             "DROP TABLE IF EXISTS e_other; CREATE TABLE e_other (id int PRIMARY KEY, x int)");
  ExecOrFail(conn, "ALTER PUBLICATION p_ebad ADD TABLE e_other");
  auto p = StartWalListen(EmbeddingArgs("p_ebad", api, db, "bad_vec", {}));
  ASSERT_TRUE(p);
  ExecOrFail(conn,
             "BEGIN; INSERT INTO e_bad SELECT g, 'fine ' || g, NULL FROM generate_series(1, 20) g; "
             "INSERT INTO e_bad VALUES (21, 'BADDIM', 'x'), (22, 'BADJSON', 'y'), (23, 'TOOLONG', "
             "'z'); INSERT INTO e_other VALUES (1, 1), (2, 2); COMMIT");
  ASSERT_TRUE(Eventually([&] { return Metric(*p, "pgcdc_embedding_upserted_total") >= 20; }, 30s))
      << EmbeddingMetrics(*p) << p->Stderr();
  EXPECT_EQ(Metric(*p, "pgcdc_embedding_dead_lettered_total{reason=\"dimension\"}"), 1);
  EXPECT_EQ(Metric(*p, "pgcdc_embedding_dead_lettered_total{reason=\"bad_response\"}"), 1);
  EXPECT_EQ(Metric(*p, "pgcdc_embedding_dead_lettered_total{reason=\"api_rejected\"}"), 1);
  EXPECT_EQ(Metric(*p, "pgcdc_embedding_dead_lettered_total{reason=\"bad_input\"}"), 2);
  // Still running, and the DLQ (stderr backend) names the reasons.
  const std::string err = p->Stderr();
  EXPECT_NE(err.find("dimensions; the table holds 64"), std::string::npos) << err;
  EXPECT_NE(err.find("none of the embedding columns"), std::string::npos) << err;
  EXPECT_NE(err.find("unusable JSON"), std::string::npos) << err;
  Stop(*p);
  EXPECT_EQ(db.Count("bad_vec"), 20);
  auto bad = db.Query("SELECT count(*) FROM bad_vec WHERE source_id::int > 20");
  ASSERT_TRUE(bad);
  EXPECT_EQ((*bad)[0][0], std::optional<std::string>("0"));
}

TEST(EmbeddingScenario, ApiOutageIsRetriedWithHealthDegradedAndNothingLost) {
  FakeEmbeddings api("k1");
  ASSERT_TRUE(api.ok());
  Pglite db("out_vec");
  ASSERT_TRUE(db.ok());
  auto conn = Connect();
  FreshPublishedTable(conn, "e_out", kDocs, "p_eout");
  auto p =
      StartWalListen(EmbeddingArgs("p_eout", api, db, "out_vec", {"--embedding-api-key", "k1"}));
  ASSERT_TRUE(p);
  api.Control("/_fake/fail?status=503&count=8");
  ExecOrFail(conn, "INSERT INTO e_out SELECT g, 'first ' || g, 'x' FROM generate_series(1, 10) g");
  ASSERT_TRUE(Eventually([&] { return Healthz(*p).find("degraded") != std::string::npos; }, 20s))
      << Healthz(*p);
  ASSERT_TRUE(Eventually([&] { return Metric(*p, "pgcdc_embedding_upserted_total") >= 10; }, 30s))
      << p->Stderr();
  EXPECT_GE(Metric(*p, "pgcdc_embedding_retries_total"), 3);
  EXPECT_TRUE(Eventually([&] { return Healthz(*p).find("degraded") == std::string::npos; }, 10s));
  // Connections refused for 3 s.
  api.Control("/_fake/down?ms=3000");
  ExecOrFail(conn,
             "INSERT INTO e_out SELECT g, 'second ' || g, 'y' FROM generate_series(11, 20) g");
  ASSERT_TRUE(Eventually([&] { return Metric(*p, "pgcdc_embedding_upserted_total") >= 20; }, 30s))
      << p->Stderr();
  EXPECT_NE(p->Stderr().find("embeddings API unreachable"), std::string::npos);
  Stop(*p);
  EXPECT_EQ(db.Count("out_vec"), 20);
}

TEST(EmbeddingScenario, RefusedKeyIsAClearError) {
  FakeEmbeddings api("right-key");
  ASSERT_TRUE(api.ok());
  Pglite db("key_vec");
  ASSERT_TRUE(db.ok());
  auto conn = Connect();
  FreshPublishedTable(conn, "e_key", kDocs, "p_ekey");
  auto p = StartWalListen(
      EmbeddingArgs("p_ekey", api, db, "key_vec", {"--embedding-api-key", "wrong-key"}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO e_key VALUES (1, 'hello', 'world')");
  auto code = p->Wait(30s);
  ASSERT_TRUE(code);
  EXPECT_NE(*code, 0);
  EXPECT_NE(p->Stderr().find("refused the key (HTTP 401): check embedding.api_key"),
            std::string::npos)
      << p->Stderr();
  EXPECT_EQ(db.Count("key_vec"), 0);
}

TEST(EmbeddingScenario, KillNineWithPersistentSlotLosesNothing) {
  FakeEmbeddings api;
  ASSERT_TRUE(api.ok());
  Pglite db("crash_vec");
  ASSERT_TRUE(db.ok());
  auto conn = Connect();
  FreshPublishedTable(conn, "e_crash", "id int PRIMARY KEY, v int", "p_ecrash", "pgcdc_p_ecrash");
  auto args = EmbeddingArgs("p_ecrash", api, db, "crash_vec",
                            {"--persistent-slot", "--detector-status-interval", "200ms",
                             "--embedding-batch-size", "100"});
  for (auto& a : args) {
    if (a == "title,body") a = "v";
  }
  constexpr int kRows = 6000;
  RunKillNineRounds(SinkKillNineRun("e_crash", kRows, /*seed=*/23), args,
                    [&](Process&) { return static_cast<double>(api.Inputs()); });
  if (HasFailure()) return;
  auto p = StartStreaming(args);
  ASSERT_TRUE(p);
  // Caught up: the slot confirmed everything, so every row is committed.
  ASSERT_TRUE(Eventually(
      [&] {
        auto lag = conn.Query(
            "SELECT confirmed_flush_lsn >= pg_current_wal_lsn() FROM pg_replication_slots "
            "WHERE slot_name = 'pgcdc_p_ecrash'");
        return lag && !lag->empty() && (*lag)[0][0] == std::optional<std::string>("t");
      },
      120s))
      << p->Stderr();
  Stop(*p);
  EXPECT_EQ(db.Count("crash_vec"), kRows);
  auto v = db.Query("SELECT count(*) FROM crash_vec WHERE content <> source_id");
  ASSERT_TRUE(v);
  EXPECT_EQ((*v)[0][0], std::optional<std::string>("0"));
  std::cerr << "embedding crash test: " << api.Inputs() << " texts embedded for " << kRows
            << " rows (re-embedded after kills: " << api.Inputs() - kRows << ")\n";
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_ecrash')");
}

}  // namespace
}  // namespace pgcdc::testing
