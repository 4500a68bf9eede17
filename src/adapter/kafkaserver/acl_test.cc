#include "adapter/kafkaserver/acl.h"

#include <gtest/gtest.h>

namespace pgcdc::adapter::kafkaserver {
namespace {

TEST(TopicAclTest, NoRulesAllowEverything) {
  auto acl = TopicAcl::Parse({});
  ASSERT_TRUE(acl);
  EXPECT_FALSE(acl->enabled());
  EXPECT_TRUE(acl->Allows("anyone", TopicOp::kWrite, "pgcdc.orders"));
  EXPECT_TRUE(acl->Describes("", "x"));
}

TEST(TopicAclTest, RulesGrantPerUserOperationAndPattern) {
  auto acl = TopicAcl::Parse(
      {"alice:read:pgcdc.orders", "bob:all:pgcdc.*", "*:write:inbox", "carol:read:*"});
  ASSERT_TRUE(acl) << acl.error().message();
  EXPECT_TRUE(acl->enabled());
  EXPECT_TRUE(acl->Allows("alice", TopicOp::kRead, "pgcdc.orders"));
  EXPECT_FALSE(acl->Allows("alice", TopicOp::kWrite, "pgcdc.orders"));
  EXPECT_FALSE(acl->Allows("alice", TopicOp::kRead, "pgcdc.orders2"));  // exact, not a prefix
  EXPECT_FALSE(acl->Allows("alice", TopicOp::kRead, "pgcdc.users"));
  EXPECT_TRUE(acl->Allows("bob", TopicOp::kRead, "pgcdc.users"));
  EXPECT_TRUE(acl->Allows("bob", TopicOp::kWrite, "pgcdc.users"));
  EXPECT_FALSE(acl->Allows("bob", TopicOp::kRead, "other"));
  EXPECT_TRUE(acl->Allows("alice", TopicOp::kWrite, "inbox"));  // `*` is every user
  EXPECT_FALSE(acl->Allows("alice", TopicOp::kRead, "inbox"));
  EXPECT_TRUE(acl->Describes("alice", "inbox"));  // write-only still sees the topic
  EXPECT_FALSE(acl->Describes("alice", "pgcdc.users"));
  EXPECT_TRUE(acl->Allows("carol", TopicOp::kRead, "anything"));
  EXPECT_FALSE(acl->Allows("mallory", TopicOp::kRead, "pgcdc.orders"));
  EXPECT_FALSE(acl->Allows("", TopicOp::kRead, "pgcdc.orders"));
  EXPECT_EQ(acl->NamedUsers(), (std::vector<std::string>{"alice", "bob", "carol"}));
}

TEST(TopicAclTest, BadRulesAreClearErrors) {
  const std::pair<const char*, const char*> cases[] = {
      {"alice", "expected user:operation:topic"},
      {"alice:read", "expected user:operation:topic"},
      {"alice:admin:t", "operation \"admin\": expected read, write or all"},
      {":read:t", "empty user"},
      {"alice:read:", "expected a topic name"},
      {"alice:read:a*b", "expected a topic name"},
      {"alice:read:bad topic", "expected a topic name"},
  };
  for (const auto& [rule, message] : cases) {
    auto acl = TopicAcl::Parse({"bob:read:ok", rule});
    ASSERT_FALSE(acl) << rule;
    EXPECT_NE(acl.error().message().find("kafkaserver.acls[1]"), std::string::npos)
        << acl.error().message();
    EXPECT_NE(acl.error().message().find(message), std::string::npos) << acl.error().message();
  }
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
