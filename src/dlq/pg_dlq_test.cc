// The pg_table DLQ backend against a real, throwaway PostgreSQL cluster.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "core/metrics.h"
#include "core/test_util.h"
#include "dlq/dlq.h"
#include "dlq/envelope.h"
#include "dlq/store.h"
#include "pg/cluster.h"
#include "pg/conn.h"
#include "pg/test_cluster.h"

namespace pgcdc::dlq {
namespace {

using pgcdc::testing::MetricValue;

pg::TempCluster& Cluster() { return pg::SharedTestCluster("pgcdc-dlq"); }

pg::Conn Connect() {
  auto c = pg::Conn::Open(Cluster().Url());
  EXPECT_TRUE(c) << c.error().message();
  return std::move(*c);
}

std::vector<pg::Row> Rows(const std::string& sql) {
  pg::Conn c = Connect();
  auto r = c.Query(sql);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : std::vector<pg::Row>{};
}

DeadLetterQueuePtr MakeDlq(const std::string& table, const std::string& url = {}) {
  Options o;
  o.type = "pg_table";
  o.table = table;
  o.db_url = url.empty() ? Cluster().Url() : url;
  auto d = Make(o);
  EXPECT_TRUE(d) << d.error().message();
  return d ? std::move(*d) : nullptr;
}

TEST(PgDlqTest, CreatesTableAndStoresEnvelope) {
  auto dlq = MakeDlq("pgcdc_dead_letters");
  ASSERT_TRUE(dlq);
  EXPECT_EQ(dlq->Kind(), "pg_table");
  Event e = MakeEvent("pgcdc:orders", "INSERT", R"({"z":1,"a":"nul\u0000 <&>","n":1.50})",
                      "listen_notify");
  const double before = MetricValue("pgcdc_dlq_records_total{adapter=\"webhook\"}");
  ASSERT_TRUE(dlq->Record(e, "webhook", "HTTP 400: bad request"));
  EXPECT_EQ(MetricValue("pgcdc_dlq_records_total{adapter=\"webhook\"}"), std::max(before, 0.0) + 1);

  auto rows = Rows(
      "SELECT event_id, adapter, error, payload::text, replayed_at IS NULL, "
      "now() - created_at < interval '1 minute' FROM pgcdc_dead_letters");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], e.id.ToString());
  EXPECT_EQ(rows[0][1], "webhook");
  EXPECT_EQ(rows[0][2], "HTTP 400: bad request");
  EXPECT_EQ(rows[0][3], e.Json());  // byte for byte
  EXPECT_EQ(rows[0][4], "t");
  EXPECT_EQ(rows[0][5], "t");
  auto back = EventFromEnvelope(*rows[0][3]);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->Json(), e.Json());

  // Indexes exist.
  auto idx =
      Rows("SELECT indexname FROM pg_indexes WHERE tablename = 'pgcdc_dead_letters' ORDER BY 1");
  ASSERT_EQ(idx.size(), 3u);
  EXPECT_EQ(idx[0][0], "pgcdc_dead_letters_created_at_idx");
  EXPECT_EQ(idx[1][0], "pgcdc_dead_letters_pending_idx");
  dlq->Close();
}

TEST(PgDlqTest, ConcurrentRecordsFromManyThreads) {
  auto dlq = MakeDlq("concurrent_dl");
  ASSERT_TRUE(dlq);
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Event e = MakeEvent("ch", "INSERT", std::to_string(t * 1000 + i), "test");
        EXPECT_TRUE(dlq->Record(e, "a" + std::to_string(t), "boom"));
      }
    });
  }
  for (auto& t : threads) t.join();
  auto rows = Rows(
      "SELECT count(*), count(DISTINCT event_id), count(DISTINCT adapter) "
      "FROM concurrent_dl");
  EXPECT_EQ(rows[0][0], std::to_string(kThreads * kEach));
  EXPECT_EQ(rows[0][1], std::to_string(kThreads * kEach));
  EXPECT_EQ(rows[0][2], std::to_string(kThreads));
}

TEST(PgDlqTest, SchemaQualifiedAndQuotedNames) {
  {
    pg::Conn c = Connect();
    ASSERT_TRUE(c.Exec("CREATE SCHEMA IF NOT EXISTS \"Ops Schema\""));
  }
  auto dlq = MakeDlq(R"("Ops Schema"."dead ""letters""")");
  ASSERT_TRUE(dlq);
  ASSERT_TRUE(dlq->Record(MakeEvent("c", "INSERT", "{}", "test"), "stdout", "x"));
  auto rows = Rows(R"(SELECT count(*) FROM "Ops Schema"."dead ""letters""")");
  EXPECT_EQ(rows[0][0], "1");
}

TEST(PgDlqTest, WritesIntoAnExistingJsonbTable) {
  // The Go tool's layout (payload JSONB) keeps working.
  {
    pg::Conn c = Connect();
    ASSERT_TRUE(c.Exec(
        "CREATE TABLE legacy_dl (id BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, adapter TEXT "
        "NOT NULL, error TEXT NOT NULL, payload JSONB NOT NULL, created_at TIMESTAMPTZ NOT NULL "
        "DEFAULT now(), replayed_at TIMESTAMPTZ)"));
  }
  auto dlq = MakeDlq("legacy_dl");
  ASSERT_TRUE(dlq);
  Event e = MakeEvent("c", "INSERT", R"({"b":1,"a":2})", "test");
  ASSERT_TRUE(dlq->Record(e, "stdout", "x"));
  auto rows = Rows("SELECT payload::text FROM legacy_dl");
  ASSERT_EQ(rows.size(), 1u);
  auto back = EventFromEnvelope(*rows[0][0]);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->id, e.id);
  EXPECT_EQ(back->payload, R"({"a":2,"b":1})");  // jsonb reorders keys
}

TEST(PgDlqTest, ReconnectsOnceAfterTheConnectionIsKilled) {
  auto dlq = MakeDlq("reconnect_dl");
  ASSERT_TRUE(dlq);
  ASSERT_TRUE(dlq->Record(MakeEvent("c", "INSERT", "1", "test"), "stdout", "first"));
  {
    pg::Conn c = Connect();
    auto r = c.Query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND datname = current_database() AND backend_type = 'client backend'");
    ASSERT_TRUE(r) << r.error().message();
  }
  ASSERT_TRUE(dlq->Record(MakeEvent("c", "INSERT", "2", "test"), "stdout", "second"));
  EXPECT_EQ(Rows("SELECT count(*) FROM reconnect_dl")[0][0], "2");
}

TEST(PgDlqTest, RecreatesADroppedTable) {
  auto dlq = MakeDlq("dropped_dl");
  ASSERT_TRUE(dlq);
  ASSERT_TRUE(dlq->Record(MakeEvent("c", "INSERT", "1", "test"), "stdout", "x"));
  {
    pg::Conn c = Connect();
    ASSERT_TRUE(c.Exec("DROP TABLE dropped_dl"));
  }
  ASSERT_TRUE(dlq->Record(MakeEvent("c", "INSERT", "2", "test"), "stdout", "x"));
  EXPECT_EQ(Rows("SELECT count(*) FROM dropped_dl")[0][0], "1");
}

TEST(PgDlqTest, UnreachableDatabaseIsAnErrorNotALoss) {
  auto port = pg::FreeLocalPort();
  ASSERT_TRUE(port);
  auto dlq = MakeDlq("x", "postgres://postgres:secret@127.0.0.1:" + std::to_string(*port) +
                              "/postgres?connect_timeout=2");
  ASSERT_TRUE(dlq);
  const double before = std::max(MetricValue("pgcdc_dlq_errors_total"), 0.0);
  auto st = dlq->Record(MakeEvent("c", "INSERT", "1", "test"), "stdout", "x");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("dlq pg_table x"), std::string::npos) << st.error().message();
  EXPECT_EQ(st.error().message().find("secret"), std::string::npos) << st.error().message();
  EXPECT_EQ(MetricValue("pgcdc_dlq_errors_total"), before + 1);
}

TEST(PgDlqTest, ConfigErrors) {
  Options o;
  o.type = "pg_table";
  auto no_db = Make(o);
  ASSERT_FALSE(no_db);
  EXPECT_EQ(no_db.error().code(), ErrorCode::kConfig);
  EXPECT_NE(no_db.error().message().find("--dlq-db"), std::string::npos);
  o.db_url = "postgres://x";
  o.table = "a.b.c";
  auto bad_table = Make(o);
  ASSERT_FALSE(bad_table);
  EXPECT_NE(bad_table.error().message().find("dlq.table"), std::string::npos);
}

TEST(PgDlqStoreTest, QueriesFiltersAndMarks) {
  pg::Conn c = Connect();
  auto name = ParseTableName("store_dl");
  ASSERT_TRUE(name);
  Store store(c, *name);
  auto exists = store.Exists();
  ASSERT_TRUE(exists);
  EXPECT_FALSE(*exists);
  ASSERT_TRUE(store.EnsureTable());
  ASSERT_TRUE(store.EnsureTable());  // idempotent
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store.Insert(MakeEvent("c", "INSERT", std::to_string(i), "test"),
                             i % 2 == 0 ? "even" : "odd", "e" + std::to_string(i)));
  }
  ASSERT_TRUE(
      c.Exec("UPDATE store_dl SET created_at = '2025-01-01T00:00:00Z'::timestamptz + "
             "id * interval '1 hour'"));
  auto all = store.List({}, 0, Order::kNewestFirst);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ(all->front().id, 5);
  EXPECT_EQ(all->front().created_at_ns, *ParseRfc3339("2025-01-01T05:00:00Z"));

  Filter f;
  f.since_ns = *ParseRfc3339("2025-01-01T02:00:00Z");
  f.until_ns = *ParseRfc3339("2025-01-01T04:00:00Z");
  EXPECT_EQ(*store.Count(f), 3);  // inclusive on both ends
  f.adapter = "even";
  auto listed = store.List(f, 0, Order::kOldestFirst);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->at(0).id, 3);

  const int64_t ids[] = {1, 2};
  EXPECT_EQ(*store.MarkReplayed(ids), 2);
  EXPECT_EQ(*store.MarkReplayed(ids), 0);  // already replayed
  Filter pending;
  pending.pending_only = true;
  EXPECT_EQ(*store.Count(pending), 3);
  auto by = store.CountByAdapter(pending, 2);
  ASSERT_TRUE(by);
  ASSERT_EQ(by->size(), 2u);  // the two oldest pending: id 3 (even) and id 4 (odd)
  Filter replayed;
  replayed.replayed_only = true;
  EXPECT_EQ(*store.Purge(replayed), 2);
  EXPECT_EQ(*store.Count({}), 3);

  auto lock = store.TryLockReplay();
  ASSERT_TRUE(lock);
  EXPECT_TRUE(*lock);
  pg::Conn other = Connect();
  Store store2(other, *name);
  EXPECT_FALSE(*store2.TryLockReplay());
}

}  // namespace
}  // namespace pgcdc::dlq
