#include "net/server_url.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace pgcdc::net {
namespace {

TEST(ServerUrlTest, ParsesUserInfoHostPortAndPath) {
  auto u = ParseServerUrl("nats://app:p%40ss@broker.internal:4223/x/y");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->scheme, "nats");
  EXPECT_TRUE(u->has_user_info);
  EXPECT_FALSE(u->lone_secret);
  EXPECT_EQ(u->user, "app");
  EXPECT_EQ(u->password, "p@ss");
  EXPECT_EQ(u->host, "broker.internal");
  EXPECT_EQ(u->port, 4223);
  EXPECT_EQ(u->path, "x/y");
  u = ParseServerUrl("tls://s3cret@[::1]");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->lone_secret);
  EXPECT_EQ(u->password, "s3cret");
  EXPECT_EQ(u->host, "::1");
  EXPECT_FALSE(u->port.has_value());
  u = ParseServerUrl("redis://h");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->has_user_info);
  EXPECT_EQ(u->path, "");
}

TEST(ServerUrlTest, RejectsMalformedUrlsWithoutEchoingThem) {
  for (const char* bad :
       {"h:1", "://h", "nats://", "nats://h:", "nats://h:0", "nats://h:65536", "nats://h:x",
        "nats://h?x=1", "nats://h#f", "nats://[::1", "nats://[::1]x", "nats://::1:4222",
        "nats://u:p%zz@h", "nats://a b", "nats://h,nats://g", "nats://u:secret@h:1:2"}) {
    auto u = ParseServerUrl(bad);
    ASSERT_FALSE(u) << bad;
    EXPECT_EQ(u.error().code(), ErrorCode::kConfig) << bad;
    EXPECT_EQ(u.error().message().find("secret"), std::string::npos) << u.error().message();
  }
}

TEST(ServerUrlTest, RedactsTheSecret) {
  const std::pair<std::string, std::string> cases[] = {
      {"nats://u:hunter2@h:1/2", "nats://u:xxx@h:1/2"},
      {"tls://token@h", "tls://xxx@h"},
      // Nothing to hide, or not a URL: unchanged.
      {"nats://h:1", "nats://h:1"},
      {"nats://h/a@b", "nats://h/a@b"},
      {"not a url", "not a url"}};
  for (const auto& [url, want] : cases) EXPECT_EQ(RedactServerUrl(url), want);
}

}  // namespace
}  // namespace pgcdc::net
