#include "adapter/kafkaserver/acl.h"

#include <gtest/gtest.h>

namespace pgcdc::adapter::kafkaserver {
namespace {

constexpr auto kTopic = AclResource::kTopic;
constexpr auto kGroup = AclResource::kGroup;
constexpr auto kTxn = AclResource::kTransactionalId;
constexpr auto kCluster = AclResource::kCluster;
constexpr auto kRead = AclOp::kRead;
constexpr auto kWrite = AclOp::kWrite;
constexpr auto kDescribe = AclOp::kDescribe;
constexpr auto kIdempotent = AclOp::kIdempotentWrite;

TEST(AclTest, NoRulesAllowEverything) {
  auto acl = Acl::Parse({});
  ASSERT_TRUE(acl);
  EXPECT_FALSE(acl->enabled());
  for (auto type : {kTopic, kGroup, kTxn, kCluster}) EXPECT_FALSE(acl->Restricts(type));
  EXPECT_TRUE(acl->Allows("anyone", kTopic, kWrite, "pgcdc.orders"));
  EXPECT_TRUE(acl->Allows("", kTopic, kDescribe, "x"));
  EXPECT_TRUE(acl->Allows("anyone", kGroup, kRead, "g"));
  EXPECT_TRUE(acl->Allows("anyone", kTxn, kWrite, "t"));
  EXPECT_TRUE(acl->Allows("anyone", kCluster, kIdempotent, ""));
  EXPECT_TRUE(acl->AllowsAny("anyone", kTopic, kWrite));
  EXPECT_FALSE(acl->GrantsCluster("anyone", kDescribe));  // unrestricted, not granted
}

TEST(AclTest, TopicRulesGrantPerUserOperationAndPattern) {
  auto acl = Acl::Parse({"alice:read:pgcdc.orders", "bob:all:pgcdc.*", "*:write:inbox",
                         "carol:read:*", "dave:describe:topic:meta.*", "erin:write:topic:out"});
  ASSERT_TRUE(acl) << acl.error().message();
  EXPECT_TRUE(acl->enabled());
  EXPECT_TRUE(acl->Allows("alice", kTopic, kRead, "pgcdc.orders"));
  EXPECT_FALSE(acl->Allows("alice", kTopic, kWrite, "pgcdc.orders"));
  EXPECT_FALSE(acl->Allows("alice", kTopic, kRead, "pgcdc.orders2"));  // exact, not a prefix
  EXPECT_FALSE(acl->Allows("alice", kTopic, kRead, "pgcdc.users"));
  EXPECT_TRUE(acl->Allows("bob", kTopic, kRead, "pgcdc.users"));
  EXPECT_TRUE(acl->Allows("bob", kTopic, kWrite, "pgcdc.users"));
  EXPECT_FALSE(acl->Allows("bob", kTopic, kRead, "other"));
  EXPECT_TRUE(acl->Allows("alice", kTopic, kWrite, "inbox"));  // `*` is every user
  EXPECT_FALSE(acl->Allows("alice", kTopic, kRead, "inbox"));
  EXPECT_TRUE(acl->Allows("alice", kTopic, kDescribe, "inbox"));  // write implies describe
  EXPECT_FALSE(acl->Allows("alice", kTopic, kDescribe, "pgcdc.users"));
  EXPECT_TRUE(acl->Allows("carol", kTopic, kRead, "anything"));
  EXPECT_TRUE(acl->Allows("dave", kTopic, kDescribe, "meta.x"));
  EXPECT_FALSE(acl->Allows("dave", kTopic, kRead, "meta.x"));  // describe grants no read
  EXPECT_TRUE(acl->Allows("erin", kTopic, kWrite, "out"));     // the spelled-out form
  EXPECT_FALSE(acl->Allows("mallory", kTopic, kRead, "pgcdc.orders"));
  EXPECT_FALSE(acl->Allows("", kTopic, kRead, "pgcdc.orders"));
  EXPECT_EQ(acl->NamedUsers(), (std::vector<std::string>{"alice", "bob", "carol", "dave", "erin"}));
  // Topic rules alone leave groups, transactional ids and the cluster open,
  // as before these rules existed.
  EXPECT_TRUE(acl->Restricts(kTopic));
  EXPECT_FALSE(acl->Restricts(kGroup));
  EXPECT_FALSE(acl->Restricts(kTxn));
  EXPECT_FALSE(acl->Restricts(kCluster));
  EXPECT_TRUE(acl->Allows("mallory", kGroup, kRead, "any-group"));
  EXPECT_TRUE(acl->Allows("mallory", kTxn, kWrite, "any-txn"));
  EXPECT_TRUE(acl->Allows("mallory", kCluster, kIdempotent, ""));
}

TEST(AclTest, GroupRulesRestrictEveryGroupOnceOneExists) {
  auto acl = Acl::Parse({"alice:read:pgcdc.*", "alice:read:group:analytics",
                         "bob:describe:group:team.*", "*:all:group:shared", "ops:read:group:*"});
  ASSERT_TRUE(acl) << acl.error().message();
  EXPECT_TRUE(acl->Restricts(kGroup));
  EXPECT_TRUE(acl->Restricts(kTopic));
  EXPECT_FALSE(acl->Restricts(kTxn));
  EXPECT_TRUE(acl->Allows("alice", kGroup, kRead, "analytics"));
  EXPECT_TRUE(acl->Allows("alice", kGroup, kDescribe, "analytics"));  // read implies describe
  EXPECT_FALSE(acl->Allows("alice", kGroup, kRead, "analytics2"));
  EXPECT_FALSE(acl->Allows("alice", kGroup, kRead, "other"));
  EXPECT_TRUE(acl->Allows("bob", kGroup, kDescribe, "team.a"));
  EXPECT_FALSE(acl->Allows("bob", kGroup, kRead, "team.a"));
  EXPECT_TRUE(acl->Allows("bob", kGroup, kRead, "shared"));  // `*` user, all
  EXPECT_TRUE(acl->Allows("ops", kGroup, kRead, "whatever"));
  EXPECT_FALSE(acl->Allows("mallory", kGroup, kDescribe, "analytics"));
  // A group rule names a group, never a topic of the same name.
  EXPECT_FALSE(acl->Allows("alice", kTopic, kRead, "analytics"));
  // Group ids may contain ':'.
  auto colon = Acl::Parse({"alice:read:group:app:v2"});
  ASSERT_TRUE(colon) << colon.error().message();
  EXPECT_TRUE(colon->Allows("alice", kGroup, kRead, "app:v2"));
  EXPECT_FALSE(colon->Allows("alice", kGroup, kRead, "app"));
}

TEST(AclTest, TransactionalIdAndClusterRules) {
  auto acl = Acl::Parse({"ingest:write:inbound.*", "ingest:write:transactional_id:ingest-*",
                         "auditor:describe:transactional_id:*", "admin:describe:cluster",
                         "svc:idempotent_write:cluster", "root:all:cluster"});
  ASSERT_TRUE(acl) << acl.error().message();
  EXPECT_TRUE(acl->Restricts(kTxn));
  EXPECT_TRUE(acl->Restricts(kCluster));
  EXPECT_FALSE(acl->Restricts(kGroup));
  EXPECT_TRUE(acl->Allows("ingest", kTxn, kWrite, "ingest-1"));
  EXPECT_TRUE(acl->Allows("ingest", kTxn, kDescribe, "ingest-1"));  // write implies describe
  EXPECT_FALSE(acl->Allows("ingest", kTxn, kWrite, "other"));
  EXPECT_TRUE(acl->Allows("auditor", kTxn, kDescribe, "ingest-1"));
  EXPECT_FALSE(acl->Allows("auditor", kTxn, kWrite, "ingest-1"));
  EXPECT_TRUE(acl->Allows("admin", kCluster, kDescribe, ""));
  EXPECT_FALSE(acl->Allows("admin", kCluster, kIdempotent, ""));
  EXPECT_TRUE(acl->Allows("svc", kCluster, kIdempotent, ""));
  EXPECT_FALSE(acl->Allows("svc", kCluster, kDescribe, ""));  // idempotent_write only
  EXPECT_TRUE(acl->Allows("root", kCluster, kDescribe, ""));
  EXPECT_TRUE(acl->Allows("root", kCluster, kIdempotent, ""));
  EXPECT_TRUE(acl->GrantsCluster("admin", kDescribe));
  EXPECT_FALSE(acl->GrantsCluster("ingest", kDescribe));
  // KIP-679: write on any topic is enough for an idempotent producer.
  EXPECT_TRUE(acl->AllowsAny("ingest", kTopic, kWrite));
  EXPECT_FALSE(acl->AllowsAny("admin", kTopic, kWrite));
  EXPECT_FALSE(acl->AllowsAny("auditor", kTxn, kWrite));
}

TEST(AclTest, BadRulesAreClearErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"alice", "expected user:operation:topic"},
      {"alice:read", "expected user:operation:topic"},
      {"alice:admin:t", "operation \"admin\" on a topic: expected read, write, describe or all"},
      {":read:t", "empty user"},
      {"alice:read:", "expected a topic name"},
      {"alice:read:a*b", "expected a topic name"},
      {"alice:read:bad topic", "expected a topic name"},
      {"alice:read:topic:", "expected a topic name"},
      {"alice:write:group:g", "operation \"write\" on a group: expected read, describe or all"},
      {"alice:read:group:", "group \"\": expected a group id"},
      {"alice:read:group:a*b", "expected a group id, `*`, or a prefix ending in `*`"},
      {"alice:read:transactional_id:t",
       "operation \"read\" on a transactional id: expected write, describe or all"},
      {"alice:write:transactional_id:", "expected a transactional id"},
      {"alice:read:cluster",
       "operation \"read\" on the cluster: expected describe, idempotent_write or all (the topic "
       "named \"cluster\" is written alice:read:topic:cluster)"},
      {"alice:describe:cluster:kafka-cluster", "the cluster takes no name"},
      {"alice:read:groups:g",
       "resource type \"groups\": expected topic, group, "
       "transactional_id or cluster"},
  };
  for (const auto& [rule, message] : cases) {
    auto acl = Acl::Parse({"bob:read:ok", rule});
    ASSERT_FALSE(acl) << rule;
    EXPECT_NE(acl.error().message().find("kafkaserver.acls[1]"), std::string::npos)
        << acl.error().message();
    EXPECT_NE(acl.error().message().find(message), std::string::npos) << acl.error().message();
  }
  // The old three-field form still names a topic whose name is a resource word.
  auto legacy = Acl::Parse({"alice:read:group", "alice:all:topic:cluster"});
  ASSERT_TRUE(legacy) << legacy.error().message();
  EXPECT_TRUE(legacy->Allows("alice", kTopic, kRead, "group"));
  EXPECT_TRUE(legacy->Allows("alice", kTopic, kWrite, "cluster"));
  EXPECT_FALSE(legacy->Restricts(kGroup));
  EXPECT_FALSE(legacy->Restricts(kCluster));
}

TEST(SaslUsersTest, EntriesAndFilesParse) {
  auto users = ParseSaslUsers({"alice:s3cret", "bob:pa:ss"}, "kafkaserver.users");
  ASSERT_TRUE(users) << users.error().message();
  ASSERT_EQ(users->size(), 2u);
  EXPECT_EQ((*users)[1].name, "bob");
  EXPECT_EQ((*users)[1].password, "pa:ss");  // the first ':' splits
  auto bad = ParseSaslUsers({"alice:x", "nopassword"}, "kafkaserver.users");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("kafkaserver.users[1]: expected name:password"),
            std::string::npos)
      << bad.error().message();

  auto file = ParseSaslUsersFile("# accounts\n\ncarol:one\r\ndave:two", "users.txt");
  ASSERT_TRUE(file) << file.error().message();
  ASSERT_EQ(file->size(), 2u);
  EXPECT_EQ((*file)[0].password, "one");  // CRLF tolerated
  EXPECT_EQ((*file)[1].name, "dave");
  auto bad_file = ParseSaslUsersFile("carol:one\n:nobody\n", "users.txt");
  ASSERT_FALSE(bad_file);
  EXPECT_NE(bad_file.error().message().find("users.txt line 2"), std::string::npos)
      << bad_file.error().message();
}

TEST(SaslUsersTest, FindNeedsNameAndPassword) {
  const std::vector<SaslUser> users = {{"alice", "a"}, {"bob", "b"}};
  ASSERT_NE(FindSaslUser(users, "bob", "b"), nullptr);
  EXPECT_EQ(FindSaslUser(users, "bob", "b")->name, "bob");
  EXPECT_EQ(FindSaslUser(users, "bob", "a"), nullptr);
  EXPECT_EQ(FindSaslUser(users, "alic", "a"), nullptr);
  EXPECT_EQ(FindSaslUser(users, "", ""), nullptr);
}

}  // namespace
}  // namespace pgcdc::adapter::kafkaserver
