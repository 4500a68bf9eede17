#include "detector/wal/change_builder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

namespace pgcdc::detector::wal {
namespace {

// ---- a tiny pgoutput encoder for tests -----------------------------------------

class Msg {
 public:
  explicit Msg(char type) { bytes_.push_back(static_cast<uint8_t>(type)); }
  Msg& U8(uint8_t v) {
    bytes_.push_back(v);
    return *this;
  }
  Msg& U16(uint16_t v) { return Be(v, 2); }
  Msg& U32(uint32_t v) { return Be(v, 4); }
  Msg& U64(uint64_t v) { return Be(v, 8); }
  Msg& Str(std::string_view s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    bytes_.push_back(0);
    return *this;
  }
  Msg& Raw(std::string_view s) {
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  // TupleData: values as nullopt (null), "\x01u" (unchanged toast) or text.
  Msg& Tuple(const std::vector<std::optional<std::string>>& cols) {
    U16(static_cast<uint16_t>(cols.size()));
    for (const auto& c : cols) {
      if (!c) {
        U8('n');
      } else if (*c == "\x01u") {
        U8('u');
      } else {
        U8('t').U32(static_cast<uint32_t>(c->size())).Raw(*c);
      }
    }
    return *this;
  }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  Msg& Be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  std::vector<uint8_t> bytes_;
};

struct Col {
  std::string name;
  uint32_t oid;
  bool key = false;
};

Msg Relation(uint32_t relid, const std::string& ns, const std::string& name,
             const std::vector<Col>& cols, std::optional<uint32_t> xid = std::nullopt) {
  Msg m('R');
  if (xid) m.U32(*xid);
  m.U32(relid).Str(ns).Str(name).U8('d').U16(static_cast<uint16_t>(cols.size()));
  for (const auto& c : cols) m.U8(c.key ? 1 : 0).Str(c.name).U32(c.oid).U32(0xFFFFFFFF);
  return m;
}
Msg Begin(uint64_t final_lsn, uint32_t xid) {
  return std::move(Msg('B').U64(final_lsn).U64(0).U32(xid));
}
Msg Commit(uint64_t commit_lsn, uint64_t end_lsn) {
  return std::move(Msg('C').U8(0).U64(commit_lsn).U64(end_lsn).U64(0));
}
Msg Insert(uint32_t relid, const std::vector<std::optional<std::string>>& row,
           std::optional<uint32_t> xid = std::nullopt) {
  Msg m('I');
  if (xid) m.U32(*xid);
  m.U32(relid).U8('N').Tuple(row);
  return m;
}

struct Captured : ChangeSink {
  std::vector<Event> events;
  std::vector<std::pair<size_t, uint64_t>> boundaries;  // (events so far, lsn)
  std::vector<uint32_t> resolved;
  bool accept = true;
  bool Emit(Event&& e) override {
    if (!accept) return false;
    events.push_back(std::move(e));
    return true;
  }
  void Boundary(uint64_t lsn) override { boundaries.emplace_back(events.size(), lsn); }
  void ResolveTypes(const std::vector<uint32_t>& oids) override {
    resolved.insert(resolved.end(), oids.begin(), oids.end());
  }
};

// A sink with a schema store: versions per subject, bumped on every
// definition whose columns differ from the previous one; `fail` makes
// registration fail (the store is down).
struct StoreSink : Captured {
  std::map<std::string, std::pair<std::string, int>> latest;  // subject -> (columns, version)
  int calls = 0;
  bool fail = false;
  Result<std::optional<schema::Ref>> OnRelationDefined(const pgoutput::Relation& r) override {
    ++calls;
    if (fail) return Fail(ErrorCode::kConnection, "schema store: connection refused");
    std::string cols;
    for (const auto& c : r.columns) cols += c.name + ":" + std::to_string(c.type_oid) + ",";
    const std::string subject = r.namespace_name + "." + r.name;
    auto& [last, version] = latest[subject];
    if (last != cols) {
      last = cols;
      ++version;
    }
    return std::optional<schema::Ref>(schema::Ref{.subject = subject, .version = version});
  }
};

// A builder feeding `Sink`: Make() builds it, Feed() hands it one message.
template <class Sink>
class BuilderFixture : public ::testing::Test {
 protected:
  void Make(BuilderOptions o = {}) {
    o.spool_dir = ::testing::TempDir();
    builder_ = std::make_unique<ChangeBuilder>(o, catalog_, sink_);
  }
  void Feed(const Msg& m, uint64_t lsn = 0x100) {
    pgoutput::XLogData x;
    x.wal_start = lsn;
    x.payload = std::span<const uint8_t>(m.bytes());
    auto st = builder_->Handle(x);
    ASSERT_TRUE(st) << st.error().message();
  }
  void Orders() {
    Feed(Relation(16384, "public", "orders",
                  {{"id", 23, true}, {"status", 25}, {"amount", 1700}, {"tags", 3802}}));
  }
  pgtypes::TypeCatalog catalog_;
  Sink sink_;
  FakeClock clock_;  // for BuilderOptions::clock
  std::unique_ptr<ChangeBuilder> builder_;
};
using ChangeBuilderTest = BuilderFixture<Captured>;
using ChangeBuilderSchemaStore = BuilderFixture<StoreSink>;

TEST_F(ChangeBuilderTest, InsertBecomesTypedEventInTableOrder) {
  Make();
  Feed(Begin(0x200, 7));
  Orders();
  Feed(Insert(16384, {"1", "new", "12.50", R"({"a": [1, 2]})"}), 0x150);
  EXPECT_TRUE(builder_->in_transaction());
  Feed(Commit(0x200, 0x210));
  ASSERT_EQ(sink_.events.size(), 1u);
  const Event& e = sink_.events[0];
  EXPECT_EQ(e.channel, "pgcdc:orders");
  EXPECT_EQ(e.operation, "INSERT");
  EXPECT_EQ(e.source, "wal_replication");
  EXPECT_EQ(e.lsn, 0x150u);
  EXPECT_EQ(e.key, "1");  // the replica identity key
  EXPECT_FALSE(e.transaction);
  EXPECT_EQ(
      e.payload,
      R"({"old":null,"op":"INSERT","row":{"id":1,"status":"new","amount":12.50,"tags":{"a":[1,2]}},"table":"orders"})");
  ASSERT_EQ(sink_.boundaries.size(), 1u);
  EXPECT_EQ(sink_.boundaries[0], (std::pair<size_t, uint64_t>{1, 0x210}));
  EXPECT_FALSE(builder_->in_transaction());
  // The row's schema travels with the event, for typed encoders.
  ASSERT_NE(e.schema, nullptr);
  EXPECT_EQ(e.schema->namespace_name, "public");
  EXPECT_EQ(e.schema->table, "orders");
  ASSERT_EQ(e.schema->columns.size(), 4u);
  EXPECT_EQ(e.schema->columns[0].name, "id");
  EXPECT_EQ(e.schema->columns[0].type_oid, 23u);
  EXPECT_TRUE(e.schema->columns[0].key);
  EXPECT_EQ(e.schema->columns[2].type_oid, 1700u);
  EXPECT_FALSE(e.schema->columns[2].key);
}

// --heartbeat-table: the detector's own upserts move the position (the
// boundary) but are not emitted; other tables' rows are.
TEST_F(ChangeBuilderTest, HeartbeatTableRowsAreNotEmitted) {
  BuilderOptions o;
  o.heartbeat_table = SignalTable{"ops", "beat"};
  Make(o);
  Feed(Begin(0x200, 7));
  Feed(Relation(16400, "ops", "beat", {{"id", 23, true}, {"last_beat", 1184, false}}));
  Feed(Insert(16400, {"1", "2026-12-07 00:00:00+00"}), 0x150);
  Feed(Commit(0x200, 0x210));
  EXPECT_TRUE(sink_.events.empty());
  ASSERT_EQ(sink_.boundaries.size(), 1u);
  EXPECT_EQ(sink_.boundaries[0].second, 0x210u);
  EXPECT_EQ(builder_->stats().heartbeat_rows, 1u);
  // Same name in another schema: an ordinary table.
  Feed(Begin(0x300, 8));
  Feed(Relation(16401, "public", "beat", {{"id", 23, true}}));
  Feed(Insert(16401, {"5"}), 0x250);
  Feed(Commit(0x300, 0x310));
  ASSERT_EQ(sink_.events.size(), 1u);
  EXPECT_EQ(sink_.events[0].channel, "pgcdc:beat");
}

TEST_F(ChangeBuilderTest, UpdateDeleteTruncateAndToast) {
  Make();
  Feed(Begin(0x300, 8));
  Orders();
  Feed(Relation(16390, "sales", "items", {{"sku", 25, true}}));
  // UPDATE with full old image and an unchanged TOASTed column.
  Msg u('U');
  u.U32(16384)
      .U8('O')
      .Tuple({"1", "new", "12.50", std::nullopt})
      .U8('N')
      .Tuple({"1", "paid", "12.50", "\x01u"});
  Feed(u);
  Msg d('D');
  d.U32(16384).U8('K').Tuple({"1", std::nullopt, std::nullopt, std::nullopt});
  Feed(d);
  Msg t('T');
  t.U32(2).U8(0).U32(16384).U32(16390);
  Feed(t);
  Feed(Commit(0x300, 0x310));
  ASSERT_EQ(sink_.events.size(), 4u);
  EXPECT_EQ(
      sink_.events[0].payload,
      R"({"_unchanged_toast_columns":["tags"],"old":{"id":1,"status":"new","amount":12.50,"tags":null},"op":"UPDATE","row":{"id":1,"status":"paid","amount":12.50,"tags":null},"table":"orders"})");
  EXPECT_EQ(
      sink_.events[1].payload,
      R"({"old":null,"op":"DELETE","row":{"id":1,"status":null,"amount":null,"tags":null},"table":"orders"})");
  EXPECT_EQ(sink_.events[2].operation, "TRUNCATE");
  EXPECT_EQ(sink_.events[2].payload, R"({"old":null,"op":"TRUNCATE","row":null,"table":"orders"})");
  EXPECT_EQ(sink_.events[3].channel, "pgcdc:sales.items");
  EXPECT_EQ(sink_.events[0].key, "1");
  EXPECT_EQ(sink_.events[1].key, "1");  // DELETE: from the key image
  EXPECT_EQ(sink_.events[2].key, "");   // TRUNCATE has no row
}

TEST_F(ChangeBuilderTest, CompositeAndMissingKeys) {
  Make();
  Feed(Begin(0x300, 9));
  Feed(Relation(16400, "public", "lines", {{"order_id", 23, true}, {"sku", 25, true}, {"n", 23}}));
  Feed(Relation(16401, "public", "nokey", {{"v", 25}}));
  Feed(Insert(16400, {"7", "a\"b", "3"}));
  Feed(Insert(16400, {std::nullopt, "x", "3"}));
  Feed(Insert(16401, {"v"}));
  Feed(Commit(0x300, 0x310));
  ASSERT_EQ(sink_.events.size(), 3u);
  EXPECT_EQ(sink_.events[0].key, R"({"order_id":7,"sku":"a\"b"})");
  EXPECT_EQ(sink_.events[1].key, "");  // a NULL key column: no usable key
  EXPECT_EQ(sink_.events[2].key, "");  // no replica identity key
}

TEST_F(ChangeBuilderTest, ToastCacheBackFillsUnchangedColumns) {
  Make({.toast_cache = true, .toast_cache_max_entries = 10});
  Orders();
  Feed(Begin(0x300, 8));
  Feed(Insert(16384, {"1", "new", "1", R"({"big": 1})"}));
  Msg hit('U');
  hit.U32(16384).U8('N').Tuple({"1", "paid", "1", "\x01u"});
  Feed(hit);
  Msg again('U');  // the merged row was cached again
  again.U32(16384).U8('N').Tuple({"1", "sent", "1", "\x01u"});
  Feed(again);
  Msg miss('U');
  miss.U32(16384).U8('N').Tuple({"2", "paid", "1", "\x01u"});
  Feed(miss);
  Msg del('D');
  del.U32(16384).U8('K').Tuple({"1", std::nullopt, std::nullopt, std::nullopt});
  Feed(del);
  Msg after('U');  // deleted: no longer cached
  after.U32(16384).U8('N').Tuple({"1", "zombie", "1", "\x01u"});
  Feed(after);
  Feed(Commit(0x300, 0x310));
  ASSERT_EQ(sink_.events.size(), 6u);
  EXPECT_EQ(
      sink_.events[1].payload,
      R"({"old":null,"op":"UPDATE","row":{"id":1,"status":"paid","amount":1,"tags":{"big":1}},"table":"orders"})");
  EXPECT_EQ(
      sink_.events[2].payload,
      R"({"old":null,"op":"UPDATE","row":{"id":1,"status":"sent","amount":1,"tags":{"big":1}},"table":"orders"})");
  EXPECT_EQ(
      sink_.events[3].payload,
      R"({"_unchanged_toast_columns":["tags"],"old":null,"op":"UPDATE","row":{"id":2,"status":"paid","amount":1,"tags":null},"table":"orders"})");
  EXPECT_NE(sink_.events[5].payload.find("_unchanged_toast_columns"), std::string::npos);
  EXPECT_EQ(builder_->stats().toast_hits, 2u);
  EXPECT_EQ(builder_->stats().toast_misses, 2u);
}

TEST(ToastCacheTest, LruEvictionAndRelationEviction) {
  ToastCache c(2);
  c.Put(1, "a", {std::string("1")});
  c.Put(1, "b", {std::string("2")});
  ASSERT_NE(c.Get(1, "a"), nullptr);  // a is now most recent
  c.Put(2, "c", {std::string("3")});  // evicts b
  EXPECT_EQ(c.Get(1, "b"), nullptr);
  EXPECT_NE(c.Get(1, "a"), nullptr);
  EXPECT_EQ(c.evictions(), 1u);
  c.EvictRelation(1);
  EXPECT_EQ(c.Get(1, "a"), nullptr);
  EXPECT_NE(c.Get(2, "c"), nullptr);
  EXPECT_EQ(c.size(), 1u);
}

TEST_F(ChangeBuilderTest, TxMarkersAndMetadata) {
  Make({.tx_markers = true});
  Feed(Begin(0x400, 42));
  Orders();
  Feed(Insert(16384, {"1", "a", "1", std::nullopt}));
  Feed(Insert(16384, {"2", "b", "2", std::nullopt}));
  Feed(Commit(0x400, 0x410));
  ASSERT_EQ(sink_.events.size(), 4u);
  EXPECT_EQ(sink_.events[0].channel, "pgcdc:_txn");
  EXPECT_EQ(sink_.events[0].operation, "BEGIN");
  EXPECT_EQ(sink_.events[0].payload, R"({"commit_time":"2000-01-01T00:00:00Z","xid":42})");
  ASSERT_TRUE(sink_.events[2].transaction);
  EXPECT_EQ(sink_.events[2].transaction->xid, 42u);
  EXPECT_EQ(sink_.events[2].transaction->seq, 2);
  EXPECT_EQ(sink_.events[3].operation, "COMMIT");
  EXPECT_EQ(sink_.events[3].payload,
            R"({"commit_time":"2000-01-01T00:00:00Z","event_count":2,"xid":42})");
  EXPECT_FALSE(sink_.events[3].transaction);
}

// Ids derive from (commit LSN, ordinal, origin): a redelivered transaction
// gets the same ids, whether it arrives streamed or in one piece.
TEST_F(ChangeBuilderTest, EventIdsAreDeterministic) {
  auto run = [&](bool streamed, uint32_t origin) {
    sink_.events.clear();
    Make({.tx_markers = true, .id_origin = origin});
    Orders();
    if (streamed) {
      Feed(Msg('S').U32(7).U8(1));
      for (int i = 0; i < 3; ++i)
        Feed(Insert(16384, {std::to_string(i), "s", "1", std::nullopt}, 7));
      Feed(Msg('E'));
      Feed(Msg('c').U32(7).U8(0).U64(0x4000).U64(0x4010).U64(0));
    } else {
      Feed(Begin(0x4000, 7));
      for (int i = 0; i < 3; ++i) Feed(Insert(16384, {std::to_string(i), "s", "1", std::nullopt}));
      Feed(Commit(0x4000, 0x4010));
    }
    Msg m('M');  // non-transactional: positioned by its own LSN
    m.U8(0).U64(0x5000).Str("app").U32(2).Raw("hi");
    Feed(m);
    std::vector<std::string> ids;
    for (const Event& e : sink_.events) ids.push_back(e.id.ToString());
    return ids;
  };
  const auto first = run(false, 12345);
  ASSERT_EQ(first.size(), 6u);  // BEGIN, 3 rows, COMMIT, message
  EXPECT_EQ(run(false, 12345), first) << "redelivery must repeat the ids";
  EXPECT_EQ(run(true, 12345), first) << "streamed or not, the same ids";
  EXPECT_NE(run(false, 999), first) << "another origin, other ids";
  EXPECT_TRUE(std::is_sorted(first.begin(), first.end()));
  EXPECT_EQ(std::set<std::string>(first.begin(), first.end()).size(), first.size());
  // Layout: commit LSN 0x4000 >> 4 = 0x400 in the position bits, version 8.
  EXPECT_EQ(first[1], MakePositionUuid(0x400, 1, 12345).ToString());
  EXPECT_EQ(first[0], MakePositionUuid(0x400, 0, 12345).ToString());
  EXPECT_EQ(first[4], MakePositionUuid(0x400, UINT32_MAX, 12345).ToString());
  EXPECT_EQ(first[5], MakePositionUuid(0x500, 1, 12345).ToString());
}

TEST_F(ChangeBuilderTest, IncludeSchemaAndSchemaEvents) {
  Make({.include_schema = true, .schema_events = true});
  Feed(Relation(1, "public", "t", {{"id", 23, true}, {"old_col", 25}}));
  Feed(Begin(0x500, 1));
  Feed(Relation(1, "public", "t", {{"id", 20, true}, {"new_col", 1184}}));
  Feed(Insert(1, {"5", "2026-11-24 02:34:37.9+00"}));
  Feed(Commit(0x500, 0x510));
  ASSERT_EQ(sink_.events.size(), 2u);
  EXPECT_EQ(sink_.events[0].channel, "pgcdc:_schema");
  EXPECT_EQ(
      sink_.events[0].payload,
      R"({"changes":[{"type":"column_type_changed","column":"id","old_type":"int4","new_type":"int8"},{"type":"column_added","column":"new_col","type_name":"timestamptz"},{"type":"column_removed","column":"old_col"}],"op":"SCHEMA_CHANGE","schema":"public","table":"t"})");
  EXPECT_EQ(
      sink_.events[1].payload,
      R"({"columns":[{"name":"id","type_name":"int8","type_oid":20},{"name":"new_col","type_name":"timestamptz","type_oid":1184}],"old":null,"op":"INSERT","row":{"id":5,"new_col":"2026-11-24T02:34:37.9+00:00"},"schema":"public","table":"t"})");
}

TEST_F(ChangeBuilderTest, UnknownTypesAreResolvedOnRelation) {
  Make();
  Feed(Relation(2, "public", "u", {{"id", 23}, {"mood", 99999}}));
  EXPECT_EQ(sink_.resolved, (std::vector<uint32_t>{99999}));
}

// Streamed (in-progress) transactions: nothing is emitted before Stream
// Commit; aborted (sub)transactions emit nothing.
class StreamingTest : public ChangeBuilderTest,
                      public ::testing::WithParamInterface<size_t /*memory budget*/> {};

TEST_P(StreamingTest, CommitReplaysAbortDiscards) {
  Make({.spool_memory_bytes = GetParam()});
  Orders();
  // Transaction 100: two stream blocks, a subtransaction 101 that aborts.
  Feed(Msg('S').U32(100).U8(1));
  Feed(Relation(16384, "public", "orders",
                {{"id", 23, true}, {"status", 25}, {"amount", 1700}, {"tags", 3802}}, 100));
  for (int i = 0; i < 50; ++i)
    Feed(Insert(16384, {std::to_string(i), "s", "1", std::nullopt}, 100));
  Feed(Msg('E'));
  // An unrelated normal transaction in between commits first.
  Feed(Begin(0x600, 200));
  Feed(Insert(16384, {"999", "other", "1", std::nullopt}));
  Feed(Commit(0x600, 0x610));
  ASSERT_EQ(sink_.events.size(), 1u);
  Feed(Msg('S').U32(100).U8(0));
  Feed(Insert(16384, {"1000", "sub", "1", std::nullopt}, 101));
  Feed(Insert(16384, {"50", "s", "1", std::nullopt}, 100));
  Feed(Msg('E'));
  Feed(Msg('A').U32(100).U32(101));  // subtransaction 101 aborted
  EXPECT_GT(builder_->spooled_bytes(), 0u);
  ASSERT_EQ(sink_.events.size(), 1u) << "nothing streamed may be emitted before commit";
  Feed(Msg('c').U32(100).U8(0).U64(0x700).U64(0x710).U64(0));
  ASSERT_EQ(sink_.events.size(), 52u);
  for (int i = 0; i <= 50; ++i) {
    EXPECT_NE(sink_.events[1 + i].payload.find("\"id\":" + std::to_string(i) + ","),
              std::string::npos)
        << i << " " << sink_.events[1 + i].payload;
  }
  EXPECT_EQ(sink_.boundaries.back(), (std::pair<size_t, uint64_t>{52, 0x710}));
  EXPECT_EQ(builder_->spooled_bytes(), 0u);

  // Transaction 300 aborts as a whole: nothing at all.
  Feed(Msg('S').U32(300).U8(1));
  for (int i = 0; i < 20; ++i) Feed(Insert(16384, {"7", "x", "1", std::nullopt}, 300));
  Feed(Msg('E'));
  Feed(Msg('A').U32(300).U32(300));
  EXPECT_EQ(sink_.events.size(), 52u);
  EXPECT_EQ(builder_->stats().aborted_txns, 1u);
}

INSTANTIATE_TEST_SUITE_P(InMemoryAndSpilled, StreamingTest, ::testing::Values(64u << 20, 64u));

TEST_F(ChangeBuilderTest, LogicalMessagesAndHeartbeats) {
  Make();
  Msg m('M');
  m.U8(0).U64(0x800).Str("app").U32(5).Raw("hello");
  Feed(m);
  Msg bin('M');
  bin.U8(0).U64(0x810).Str("bin").U32(2).Raw(std::string_view("\xFF\x00", 2));
  Feed(bin);
  Msg hb('M');
  hb.U8(0).U64(0x820).Str("pgcdc_heartbeat").U32(0);
  Feed(hb);
  ASSERT_EQ(sink_.events.size(), 2u);
  EXPECT_EQ(sink_.events[0].channel, "pgcdc:_message");
  EXPECT_EQ(sink_.events[0].operation, "MESSAGE");
  EXPECT_EQ(sink_.events[0].payload,
            R"({"content":"hello","lsn":"0/800","prefix":"app","transactional":false})");
  EXPECT_EQ(sink_.events[1].payload,
            R"({"content_base64":"/wA=","lsn":"0/810","prefix":"bin","transactional":false})");
  ASSERT_EQ(sink_.boundaries.size(), 3u);
  EXPECT_EQ(sink_.boundaries[2], (std::pair<size_t, uint64_t>{2, 0x820}));
}

TEST_F(ChangeBuilderTest, RefusedEventIsCancelled) {
  Make();
  Orders();
  sink_.accept = false;
  Feed(Begin(0x900, 1));
  pgoutput::XLogData x;
  Msg ins = Insert(16384, {"1", "a", "1", std::nullopt});
  x.payload = std::span<const uint8_t>(ins.bytes());
  auto st = builder_->Handle(x);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kCancelled);
}

TEST_F(ChangeBuilderTest, GarbageIsAnErrorNotACrash) {
  Make();
  pgoutput::XLogData x;
  const uint8_t junk[] = {'I', 0, 0};
  x.payload = junk;
  EXPECT_FALSE(builder_->Handle(x));
  EXPECT_EQ(ChannelFor("", "t"), "pgcdc:t");
  EXPECT_EQ(ChannelFor("public", "t"), "pgcdc:t");
  EXPECT_EQ(ChannelFor("s", "t"), "pgcdc:s.t");
}

// --schema-store: each relation definition is registered once (not per row)
// and its row events carry the store's subject and version on their shared
// RowSchema; a column added by DDL gives the later rows version 2.
TEST_F(ChangeBuilderSchemaStore, RowEventsCarryTheVersionOfTheirDefinition) {
  Make();
  Feed(Begin(0x200, 7));
  Feed(Relation(16384, "public", "orders", {{"id", 23, true}, {"v", 25}}));
  for (int i = 1; i <= 3; ++i) Feed(Insert(16384, {std::to_string(i), "a"}));
  Feed(Commit(0x200, 0x210));
  Feed(Begin(0x300, 8));
  Feed(Relation(16384, "public", "orders", {{"id", 23, true}, {"v", 25}, {"extra", 1184}}));
  Feed(Insert(16384, {"4", "b", std::nullopt}));
  Feed(Commit(0x300, 0x310));
  // A re-sent, unchanged definition (a reconnect) keeps the version.
  Feed(Begin(0x400, 9));
  Feed(Relation(16384, "public", "orders", {{"id", 23, true}, {"v", 25}, {"extra", 1184}}));
  Feed(Insert(16384, {"5", "c", std::nullopt}));
  Feed(Commit(0x400, 0x410));

  EXPECT_EQ(sink_.calls, 3) << "once per Relation message, not per row";
  ASSERT_EQ(sink_.events.size(), 5u);
  std::vector<int> versions;
  for (const auto& e : sink_.events) {
    const schema::Ref* ref = schema::RefOf(e.schema);
    ASSERT_NE(ref, nullptr);
    EXPECT_EQ(ref->subject, "public.orders");
    versions.push_back(ref->version);
    // Internal metadata only: never in the JSON.
    EXPECT_EQ(e.payload.find("schema_version"), std::string::npos) << e.payload;
    EXPECT_EQ(e.Json().find("schema_subject"), std::string::npos) << e.Json();
  }
  EXPECT_EQ(versions, (std::vector<int>{1, 1, 1, 2, 2}));
  // The rows of one definition share one RowSchema (no per-event allocation).
  EXPECT_EQ(sink_.events[0].schema.get(), sink_.events[2].schema.get());
  EXPECT_EQ(sink_.events[3].schema->columns.size(), 3u);
}

TEST_F(ChangeBuilderSchemaStore, AFailedRegistrationLeavesTheEventsWithoutAVersion) {
  sink_.fail = true;
  BuilderOptions o;
  o.clock = &clock_;
  Make(o);
  Feed(Begin(0x200, 7));
  Feed(Relation(16384, "public", "orders", {{"id", 23, true}}));
  Feed(Insert(16384, {"1"}));
  Feed(Commit(0x200, 0x210));
  // The store is back: the next definition of the table is registered.
  sink_.fail = false;
  Feed(Begin(0x300, 8));
  Feed(Relation(16384, "public", "orders", {{"id", 23, true}}));
  Feed(Insert(16384, {"2"}));
  Feed(Commit(0x300, 0x310));
  ASSERT_EQ(sink_.events.size(), 2u) << "nothing is lost";
  ASSERT_NE(sink_.events[0].schema, nullptr);
  EXPECT_EQ(sink_.events[0].schema->table, "orders");
  EXPECT_EQ(schema::RefOf(sink_.events[0].schema), nullptr);
  ASSERT_NE(schema::RefOf(sink_.events[1].schema), nullptr);
  EXPECT_EQ(schema::RefOf(sink_.events[1].schema)->version, 1);
}

}  // namespace
}  // namespace pgcdc::detector::wal

namespace pgcdc::detector::wal {
namespace {

// Schema registration retries on `clock`: 1 s, then up to 2 s, then 4 s.
BuilderOptions RetryOptions(FakeClock& clock) {
  BuilderOptions o;
  o.clock = &clock;
  o.schema_retry = {.base = std::chrono::seconds(1),
                    .cap = std::chrono::seconds(4),
                    .floor = std::chrono::seconds(1)};
  return o;
}

TEST_F(ChangeBuilderSchemaStore, AFailedRegistrationIsRetriedAtALaterChangeOfTheTable) {
  sink_.fail = true;
  Make(RetryOptions(clock_));
  Feed(Begin(0x200, 7));
  Feed(Relation(16384, "public", "orders", {{"id", 23, true}}));
  Feed(Insert(16384, {"1"}));
  EXPECT_EQ(sink_.calls, 1);
  // The store is back, but the retry waits for its delay: no call per row.
  sink_.fail = false;
  Feed(Insert(16384, {"2"}));
  EXPECT_EQ(sink_.calls, 1);
  // Once the delay has passed, the table's next change registers it, and the
  // rows from then on carry the version (same transaction, same definition).
  clock_.Advance(std::chrono::seconds(2));
  Feed(Insert(16384, {"3"}));
  Feed(Insert(16384, {"4"}));
  Feed(Commit(0x200, 0x210));
  EXPECT_EQ(sink_.calls, 2) << "registered once, then never again for the same definition";
  ASSERT_EQ(sink_.events.size(), 4u) << "nothing is lost";
  EXPECT_EQ(schema::RefOf(sink_.events[0].schema), nullptr);
  EXPECT_EQ(schema::RefOf(sink_.events[1].schema), nullptr);
  for (size_t i = 2; i < 4; ++i) {
    const schema::Ref* ref = schema::RefOf(sink_.events[i].schema);
    ASSERT_NE(ref, nullptr) << i;
    EXPECT_EQ(ref->subject, "public.orders");
    EXPECT_EQ(ref->version, 1);
    EXPECT_EQ(sink_.events[i].schema->columns.size(), 1u);
  }
}

TEST_F(ChangeBuilderSchemaStore, RetriesBackOffWhileTheStoreStaysDown) {
  sink_.fail = true;
  Make(RetryOptions(clock_));
  Feed(Begin(0x200, 7));
  Feed(Relation(16384, "public", "orders", {{"id", 23, true}}));
  Feed(Relation(16385, "public", "items", {{"id", 23, true}}));
  EXPECT_EQ(sink_.calls, 2);
  // Each elapsed delay gives one attempt (the first pending table fails, the
  // others wait with it); rows in between make no call.
  int attempts = 0;
  for (int second = 0; second < 20; ++second) {
    clock_.Advance(std::chrono::seconds(1));
    const int before = sink_.calls;
    Feed(Insert(16384, {std::to_string(second)}));
    Feed(Insert(16385, {std::to_string(second)}));
    EXPECT_LE(sink_.calls - before, 1);
    attempts += sink_.calls - before;
  }
  // Delays of 1 s, then up to 2 s, then up to 4 s (the cap): fewer attempts
  // than seconds, and at least one per cap period.
  EXPECT_GE(attempts, 20 / 4);
  EXPECT_LT(attempts, 20);
  // Both tables are registered by the first attempt after the store is back.
  sink_.fail = false;
  clock_.Advance(std::chrono::seconds(5));
  Feed(Insert(16385, {"x"}));
  Feed(Insert(16384, {"y"}));
  Feed(Commit(0x200, 0x210));
  ASSERT_GE(sink_.events.size(), 2u);
  ASSERT_NE(schema::RefOf(sink_.events.back().schema), nullptr);
  EXPECT_EQ(schema::RefOf(sink_.events.back().schema)->subject, "public.orders");
  ASSERT_NE(schema::RefOf(sink_.events[sink_.events.size() - 2].schema), nullptr);
  EXPECT_EQ(schema::RefOf(sink_.events[sink_.events.size() - 2].schema)->subject, "public.items");
}

}  // namespace
}  // namespace pgcdc::detector::wal
