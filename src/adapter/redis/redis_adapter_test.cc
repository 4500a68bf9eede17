#include "adapter/redis/redis_adapter.h"

#include <gtest/gtest.h>

#include "adapter/redis/resp.h"
#include "core/event.h"
#include "registry/test_util.h"

namespace pgcdc::adapter::redis {
namespace {

Event Ev(std::string op, std::string payload, std::string channel = "pgcdc:orders") {
  return MakeEvent(std::move(channel), std::move(op), std::move(payload), "wal");
}

std::string Cmd(std::initializer_list<std::string_view> args) {
  std::string out;
  AppendCommand(out, args);
  return out;
}

TEST(RedisUrlTest, ParsesTheUsualForms) {
  auto u = ParseRedisUrl("redis://localhost");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, 6379);
  EXPECT_EQ(u->db, 0);
  u = ParseRedisUrl("rediss://app:p%40ss@cache.internal:6380/3");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->username, "app");
  EXPECT_EQ(u->password, "p@ss");
  EXPECT_EQ(u->host, "cache.internal");
  EXPECT_EQ(u->port, 6380);
  EXPECT_EQ(u->db, 3);
  u = ParseRedisUrl("redis://:secret@[::1]:7000");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->username, "");
  EXPECT_EQ(u->password, "secret");
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 7000);
  u = ParseRedisUrl("redis://secret@h");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->password, "secret");
}

TEST(RedisUrlTest, RejectsBadUrlsWithoutShowingThePassword) {
  for (const char* bad : {"http://h", "redis://", "redis://h:0", "redis://h:99999", "redis://h/x",
                          "redis://h?tls=1", "redis://[::1", "redis://u:p%zz@h"}) {
    auto u = ParseRedisUrl(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.error().code(), ErrorCode::kConfig);
  }
  auto u = ParseRedisUrl("redis://u:hunter2@h:1:2");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().message().find("hunter2"), std::string::npos) << u.error().message();
  EXPECT_EQ(RedactRedisUrl("redis://u:hunter2@h:1/2"), "redis://u:xxx@h:1/2");
  EXPECT_EQ(RedactRedisUrl("rediss://hunter2@h"), "rediss://xxx@h");
  EXPECT_EQ(RedactRedisUrl("redis://h:1"), "redis://h:1");
}

TEST(RedisPlanTest, InvalidateDeletesTheRowKey) {
  Options o;
  o.key_prefix = "orders:";
  for (const char* op : {"INSERT", "UPDATE", "DELETE"}) {
    const Plan p =
        PlanEvent(o, Ev(op, R"({"old":null,"op":"x","row":{"id":42,"v":1},"table":"o"})"));
    ASSERT_EQ(p.kind, Plan::Kind::kCommand) << op;
    EXPECT_EQ(p.command, Cmd({"DEL", "orders:42"}));
  }
}

TEST(RedisPlanTest, SyncSetsTheRowJsonExactly) {
  Options o;
  o.mode = Mode::kSync;
  // Numbers keep their exact text; string ids are used unquoted.
  const Plan set = PlanEvent(
      o,
      Ev("UPDATE",
         R"({"old":null,"op":"UPDATE","row":{"id":"a-1","n":12.50,"big":123456789012345678901},"table":"o"})"));
  ASSERT_EQ(set.kind, Plan::Kind::kCommand);
  EXPECT_EQ(set.command,
            Cmd({"SET", "a-1", R"({"id":"a-1","n":12.50,"big":123456789012345678901})"}));
  const Plan del =
      PlanEvent(o, Ev("DELETE", R"({"old":null,"op":"DELETE","row":{"id":7},"table":"o"})"));
  EXPECT_EQ(del.command, Cmd({"DEL", "7"}));
  o.id_column = "sku";
  const Plan other = PlanEvent(o, Ev("INSERT", R"({"op":"INSERT","row":{"id":1,"sku":"X"}})"));
  EXPECT_EQ(other.key, "X");
  // A plain (non-structured) object payload is the row itself.
  o.id_column = "id";
  const Plan plain = PlanEvent(o, Ev("NOTIFY", R"({"id":5,"name":"n"})"));
  EXPECT_EQ(plain.command, Cmd({"SET", "5", R"({"id":5,"name":"n"})"}));
}

TEST(RedisPlanTest, EventsWithoutAKeyAreSkippedWithAReason) {
  Options o;
  o.mode = Mode::kSync;
  EXPECT_EQ(PlanEvent(o, Ev("BEGIN", R"({"xid":1})", "pgcdc:_txn")).skip_reason, "no_id");
  EXPECT_EQ(PlanEvent(o, Ev("NOTIFY", R"("text")")).skip_reason, "no_id");
  EXPECT_EQ(PlanEvent(o, Ev("INSERT", R"({"op":"INSERT","row":{"id":null}})")).skip_reason,
            "no_id");
  EXPECT_EQ(PlanEvent(o, Ev("TRUNCATE", R"({"old":null,"op":"TRUNCATE","row":null,"table":"o"})"))
                .skip_reason,
            "truncate");
  EXPECT_EQ(PlanEvent(o, Ev("INSERT", R"({"op":"INSERT","row":{"id":1}})")).kind,
            Plan::Kind::kCommand);
}

TEST(RedisPlanTest, UnchangedToastColumnsAreMergedFromTheStoredValue) {
  Options o;
  o.mode = Mode::kSync;
  const Plan p = PlanEvent(
      o,
      Ev("UPDATE",
         R"({"_unchanged_toast_columns":["doc","bl\"ob"],"old":null,"op":"UPDATE","row":{"id":1,"doc":null,"bl\"ob":null,"n":2},"table":"t"})"));
  ASSERT_EQ(p.kind, Plan::Kind::kMergeToast);
  EXPECT_EQ(p.key, "1");
  ASSERT_EQ(p.toast_columns, (std::vector<std::string>{"doc", "bl\"ob"}));
  EXPECT_EQ(MergeToast(p.row_json, p.toast_columns,
                       std::string(R"({"id":1,"doc":{"big":[1,2.0]},"bl\"ob":"x","n":1})")),
            R"({"id":1,"doc":{"big":[1,2.0]},"bl\"ob":"x","n":2})");
  // Nothing stored (or not an object): the unknown columns are left out, not nulled.
  EXPECT_EQ(MergeToast(p.row_json, p.toast_columns, std::nullopt), R"({"id":1,"n":2})");
  EXPECT_EQ(MergeToast(p.row_json, p.toast_columns, std::string("[1]")), R"({"id":1,"n":2})");
}

TEST(RedisPlanTest, StreamModeAppendsEveryEvent) {
  Options o;
  o.mode = Mode::kStream;
  o.key_prefix = "cdc:";
  const Event e = Ev("BEGIN", R"({"xid":1})", "pgcdc:_txn");
  const Plan p = PlanEvent(o, e);
  ASSERT_EQ(p.kind, Plan::Kind::kCommand);
  EXPECT_EQ(p.command, Cmd({"XADD", "cdc:pgcdc:_txn", "MAXLEN", "~", "1000000", "*", "id",
                            e.id.ToString(), "event", e.Json()}));
  o.stream_maxlen = 0;
  EXPECT_EQ(PlanEvent(o, e).command,
            Cmd({"XADD", "cdc:pgcdc:_txn", "*", "id", e.id.ToString(), "event", e.Json()}));
}

TEST(RedisReplyTest, OutagesRetryContentErrorsDeadLetter) {
  const std::vector<std::string> outages = {
      "LOADING Redis is loading",
      "READONLY You can't write",
      "OOM command not allowed",
      "NOAUTH Authentication required.",
      "MASTERDOWN x",
      "BUSY x",
  };
  for (const std::string& e : outages) {
    EXPECT_EQ(ClassifyReplyError(e), ReplyError::kRetry) << e;
  }
  for (const char* e : {"WRONGTYPE Operation against a key", "ERR value is not an integer",
                        "ERR unknown command"}) {
    EXPECT_EQ(ClassifyReplyError(e), ReplyError::kDeadLetter) << e;
  }
}

TEST(RedisConfigTest, DeclarationBindsAndValidates) {
  auto [o, errors] = testing::BindForTest<Options>(
      Connector(),
      {{"redis.url", "redis://h:1/2"}, {"redis.mode", "sync"}, {"redis.key_prefix", "p:"}});
  EXPECT_TRUE(errors.empty()) << errors[0];
  EXPECT_EQ(o.mode, Mode::kSync);
  EXPECT_EQ(o.key_prefix, "p:");
  EXPECT_EQ(o.id_column, "id");
  EXPECT_EQ(o.batch_size, 1024u);
  auto bad = testing::BindForTest<Options>(Connector(), {{"redis.url", "http://nope"}}).second;
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].find("redis.url: invalid redis URL"), std::string::npos) << bad[0];
  bad = testing::BindForTest<Options>(Connector(), {}).second;
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_NE(bad[0].find("required"), std::string::npos);
  bad = testing::BindForTest<Options>(Connector(),
                                      {{"redis.url", "redis://h"}, {"redis.mode", "cache"}})
            .second;
  ASSERT_FALSE(bad.empty());
  EXPECT_NE(bad[0].find("redis.mode"), std::string::npos) << bad[0];
}

}  // namespace
}  // namespace pgcdc::adapter::redis
