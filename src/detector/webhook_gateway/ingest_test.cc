#include "detector/webhook_gateway/ingest.h"

#include <gtest/gtest.h>

#include <chrono>

#include "detector/webhook_gateway/idempotency.h"

namespace pgcdc::detector::webhook_gateway {
namespace {

TEST(IngestTest, ParsesCliSourcesSplitOnCommas) {
  // --webhookgw-source stripe:secret=a,secret2=b,scheme=stripe --webhookgw-source gh
  // reaches the connector split on commas.
  auto s = ParseCliSources({"stripe:secret=a", "secret2=b", "scheme=stripe", "prefix=pay", "gh",
                            "header=X-Hub-Signature-256", "plain"});
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(s->size(), 3U);
  EXPECT_EQ((*s)[0].name, "stripe");
  EXPECT_EQ((*s)[0].verify.secrets, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((*s)[0].verify.scheme, Scheme::kStripe);
  EXPECT_EQ((*s)[0].prefix, "pay");
  EXPECT_EQ((*s)[1].name, "gh");
  EXPECT_EQ((*s)[1].verify.header, "x-hub-signature-256");
  EXPECT_TRUE((*s)[2].verify.secrets.empty());
}

TEST(IngestTest, RejectsBadSources) {
  EXPECT_FALSE(ParseCliSources({"a b"}));
  EXPECT_FALSE(ParseCliSources({"a:scheme=sha1"}));
  EXPECT_FALSE(ParseCliSources({"a:colour=red"}));
  EXPECT_FALSE(ParseCliSources({"a:secret2=x"}));
  EXPECT_FALSE(ParseCliSources({"a", "a"}));
  EXPECT_FALSE(ParseCliSources({"a:secret="}));
}

TEST(IngestTest, Paths) {
  auto p = ParseIngestPath("/ingest/stripe");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->source, "stripe");
  EXPECT_EQ(p->channel, "");
  p = ParseIngestPath("/ingest/stripe/orders");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->channel, "orders");
  EXPECT_FALSE(ParseIngestPath("/ingest/"));
  EXPECT_FALSE(ParseIngestPath("/ingest/a/b/c"));
  EXPECT_FALSE(ParseIngestPath("/ingest/a/"));
  EXPECT_FALSE(ParseIngestPath("/other/a"));
}

TEST(IngestTest, ChannelRules) {
  Source s{.name = "gh"};
  EXPECT_EQ(ChannelFor(s, "", std::nullopt), "pgcdc:gh");
  EXPECT_EQ(ChannelFor(s, "", std::string("push event")), "pgcdc:gh.push_event");
  EXPECT_EQ(ChannelFor(s, "issues", std::string("push")), "pgcdc:gh.issues");
  s.prefix = "hooks";
  EXPECT_EQ(ChannelFor(s, "", std::nullopt), "hooks");
}

TEST(IngestTest, Bodies) {
  Body b = ParseBody(R"({ "type": "charge.succeeded", "id": "evt_9" })", true);
  EXPECT_FALSE(b.raw);
  EXPECT_EQ(b.payload, R"({"type":"charge.succeeded","id":"evt_9"})");
  EXPECT_EQ(b.type, "charge.succeeded");
  EXPECT_EQ(b.id, "evt_9");
  b = ParseBody("a=1&b=\"2\"", false);
  EXPECT_TRUE(b.raw);
  EXPECT_EQ(b.payload, R"({"raw":"a=1&b=\"2\""})");
  b = ParseBody("[1,2]", true);
  EXPECT_EQ(b.payload, "[1,2]");
  EXPECT_FALSE(b.type);
  EXPECT_FALSE(b.id);
  b = ParseBody("", false);
  EXPECT_TRUE(b.raw);
  EXPECT_EQ(b.payload, R"({"raw":""})");
}

TEST(IngestTest, IdempotencyKeys) {
  const Source s{.name = "src"};
  EXPECT_EQ(IdempotencyKey(s, Scheme::kGeneric, {{"idempotency-key", "k1"}}, std::nullopt),
            "src\nk1");
  EXPECT_EQ(IdempotencyKey(s, Scheme::kStripe, {}, std::string("evt_1")), "src\nstripe:evt_1");
  EXPECT_EQ(IdempotencyKey(s, Scheme::kGeneric, {}, std::string("evt_1")), "");
  EXPECT_EQ(IdempotencyKey(s, Scheme::kGithub, {{"x-github-delivery", "d-1"}}, std::nullopt),
            "src\nd-1");
  EXPECT_EQ(IdempotencyKey(s, Scheme::kShopify, {{"x-shopify-webhook-id", "w"}}, std::nullopt),
            "src\nw");
}

TEST(IdempotencyCacheTest, RetriesShareTheFirstOutcome) {
  using namespace std::chrono_literals;
  IdempotencyCache cache(1h, 2);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(cache.Begin("k", "e1", {}, t0).state, IdempotencyCache::State::kNew);
  std::string told;
  auto hit = cache.Begin(
      "k", "e2", [&](bool ok, const std::string& id) { told = (ok ? "ok " : "failed ") + id; }, t0);
  EXPECT_EQ(hit.state, IdempotencyCache::State::kPending);
  EXPECT_EQ(hit.event_id, "e1");
  for (auto& w : cache.Finish("k", true, t0)) w(true, "e1");
  EXPECT_EQ(told, "ok e1");
  hit = cache.Begin("k", "e3", {}, t0 + 1s);
  EXPECT_EQ(hit.state, IdempotencyCache::State::kDone);
  EXPECT_EQ(hit.event_id, "e1");
  // Expired after the window.
  EXPECT_EQ(cache.Begin("k", "e4", {}, t0 + 2h).state, IdempotencyCache::State::kNew);
}

TEST(IdempotencyCacheTest, FailedKeysAreForgottenAndTheCacheIsBounded) {
  using namespace std::chrono_literals;
  IdempotencyCache cache(1h, 2);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(cache.Begin("f", "e1", {}, t0).state, IdempotencyCache::State::kNew);
  (void)cache.Finish("f", false, t0);
  EXPECT_EQ(cache.Begin("f", "e2", {}, t0).state, IdempotencyCache::State::kNew);
  (void)cache.Finish("f", true, t0);
  for (const char* k : {"a", "b", "c"}) {
    (void)cache.Begin(k, "x", {}, t0);
    (void)cache.Finish(k, true, t0);
  }
  EXPECT_LE(cache.size(), 2U);
  EXPECT_EQ(cache.Begin("c", "y", {}, t0).state, IdempotencyCache::State::kDone);
  EXPECT_EQ(cache.Begin("f", "y", {}, t0).state, IdempotencyCache::State::kNew);
}

}  // namespace
}  // namespace pgcdc::detector::webhook_gateway

namespace pgcdc::detector::webhook_gateway {
namespace {

TEST(IngestTest, YamlSources) {
  std::vector<Source> out;
  ASSERT_TRUE(ParseYamlSources("", out));
  EXPECT_TRUE(out.empty());
  out = *ParseCliSources({"cli"});
  auto st = ParseYamlSources(
      "{stripe: {secret: 'a,b', secondary_secret: old, signature_header: Stripe-Signature, "
      "channel_prefix: '', scheme: stripe}, plain: {}}",
      out);
  ASSERT_TRUE(st) << st.error().message();
  ASSERT_EQ(out.size(), 3U);
  EXPECT_EQ(out[1].name, "stripe");
  EXPECT_EQ(out[1].verify.secrets, (std::vector<std::string>{"a,b", "old"}));
  EXPECT_EQ(out[1].verify.header, "stripe-signature");
  EXPECT_EQ(out[1].prefix, "");
  EXPECT_EQ(out[2].name, "plain");
  EXPECT_FALSE(ParseYamlSources("{cli: {}}", out));  // declared by the flag already
  std::vector<Source> fresh;
  EXPECT_FALSE(ParseYamlSources("{x: {colour: red}}", fresh));
  EXPECT_FALSE(ParseYamlSources("[a, b]", fresh));
  EXPECT_FALSE(ParseYamlSources("{'a:b': {}}", fresh));
}

}  // namespace
}  // namespace pgcdc::detector::webhook_gateway
