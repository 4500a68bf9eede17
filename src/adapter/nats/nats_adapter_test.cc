#include "adapter/nats/nats_adapter.h"

#include <gtest/gtest.h>
#include <nats/nats.h>

#include "registry/test_util.h"

namespace pgcdc::adapter::nats {
namespace {

using State = AckWindow::State;

std::string Subject(std::string_view prefix, std::string_view channel) {
  auto s = SubjectFor(prefix, channel);
  return s ? *s : "error: " + s.error().message();
}

TEST(NatsSubjectTest, MapsChannelsAsSpecSays) {
  EXPECT_EQ(Subject("pgcdc", "pgcdc:orders"), "pgcdc.orders");
  EXPECT_EQ(Subject("pgcdc", "pgcdc:public.orders"), "pgcdc.public.orders");
  EXPECT_EQ(Subject("pgcdc", "myapp:x"), "pgcdc.myapp.x");
  EXPECT_EQ(Subject("pgcdc", "pgcdc:_txn"), "pgcdc._txn");
  EXPECT_EQ(Subject("pgcdc", "orders"), "pgcdc.orders");
  // Only "<prefix>." counts as already prefixed.
  EXPECT_EQ(Subject("pgcdc", "pgcdcx:y"), "pgcdc.pgcdcx.y");
  EXPECT_EQ(Subject("pgcdc", "pgcdc"), "pgcdc.pgcdc");
  EXPECT_EQ(Subject("cdc.prod", "pgcdc:orders"), "cdc.prod.pgcdc.orders");
  EXPECT_EQ(Subject("cdc.prod", "cdc.prod:orders"), "cdc.prod.orders");
  EXPECT_EQ(Subject("cdc", "pgcdc:_view:top"), "cdc.pgcdc._view.top");
}

TEST(NatsSubjectTest, ChannelsWithoutAValidSubjectAreErrors) {
  for (const char* channel : {"pgcdc:", "pgcdc::x", "pgcdc:a b", "pgcdc:*", "pgcdc:a.>",
                              "pgcdc:tab\there", "pgcdc:x\n", ""}) {
    auto s = SubjectFor("pgcdc", channel);
    ASSERT_FALSE(s) << channel << " -> " << *s;
    EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message().find("maps to no valid subject"), std::string::npos);
  }
  // Wildcard characters inside a token are literal.
  EXPECT_EQ(Subject("pgcdc", "pgcdc:a*b"), "pgcdc.a*b");
}

TEST(NatsSubjectTest, SubjectAndStreamNameRules) {
  EXPECT_EQ(SubjectProblem("pgcdc"), "");
  EXPECT_EQ(SubjectProblem("a.b-c_d"), "");
  EXPECT_NE(SubjectProblem(""), "");
  EXPECT_NE(SubjectProblem("a."), "");
  EXPECT_NE(SubjectProblem(".a"), "");
  EXPECT_NE(SubjectProblem("a.*"), "");
  EXPECT_NE(SubjectProblem(">"), "");
  EXPECT_NE(SubjectProblem("a b"), "");
  EXPECT_EQ(StreamNameProblem("pgcdc"), "");
  EXPECT_EQ(StreamNameProblem("ORDERS-1_x"), "");
  for (const char* bad : {"", "a.b", "a b", "a*", "a>", "a/b", "a\\b"}) {
    EXPECT_NE(StreamNameProblem(bad), "") << bad;
  }
}

TEST(NatsServersTest, ParsesListsAndRedactsSecrets) {
  auto s = ParseServers("nats://127.0.0.1:4222");
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, std::vector<std::string>{"nats://127.0.0.1:4222"});
  s = ParseServers("nats://u:p@a:1,tls://b,nats://tok@[::1]:3");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->size(), 3u);
  for (const char* bad : {"localhost:4222", "http://h", "nats://", "nats://h:0", "nats://h/x",
                          "nats://h,", "nats://h,,nats://g", "nats://h?x", "nats://u:hunter2@"}) {
    auto r = ParseServers(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kConfig);
    EXPECT_NE(r.error().message().find("invalid NATS URL"), std::string::npos);
    EXPECT_EQ(r.error().message().find("hunter2"), std::string::npos) << r.error().message();
  }
  EXPECT_EQ(RedactServers("nats://u:hunter2@a:1,tls://token@b"), "nats://u:xxx@a:1,tls://xxx@b");
  EXPECT_EQ(RedactServers("nats://a"), "nats://a");
}

TEST(NatsPublishFailureTest, TooLargeIsDeadLetteredTheRestRetried) {
  EXPECT_EQ(ClassifyPublishFailure(NATS_MAX_PAYLOAD, 0), PublishFailure::kDeadLetter);
  EXPECT_EQ(ClassifyPublishFailure(NATS_ERR, JSStreamMessageExceedsMaximumErr),
            PublishFailure::kDeadLetter);
  for (int status : {NATS_TIMEOUT, NATS_NO_RESPONDERS, NATS_CONNECTION_CLOSED,
                     NATS_CONNECTION_DISCONNECTED, NATS_IO_ERROR, NATS_NO_MEMORY}) {
    EXPECT_EQ(ClassifyPublishFailure(status, 0), PublishFailure::kRetry) << status;
  }
  for (int code : {JSStreamNotFoundErr, JSStreamStoreFailedErr, JSInsufficientResourcesErr,
                   JSClusterNotAvailErr, JSStorageResourcesExceededErr, JSNotEnabledErr}) {
    EXPECT_EQ(ClassifyPublishFailure(NATS_ERR, code), PublishFailure::kRetry) << code;
  }
}

TEST(NatsAckWindowTest, PublishesInOrderWithinTheWindow) {
  AckWindow w;
  w.Reset(5);
  EXPECT_FALSE(w.complete());
  std::vector<size_t> sent;
  while (auto i = w.Next(3)) {
    w.Sent(*i);
    sent.push_back(*i);
  }
  EXPECT_EQ(sent, (std::vector<size_t>{0, 1, 2}));
  EXPECT_EQ(w.in_flight(), 3u);
  // Acks may come in any order; each frees a place in the window.
  EXPECT_TRUE(w.Done(1));
  EXPECT_EQ(w.Next(3), std::optional<size_t>(3));
  w.Sent(3);
  EXPECT_FALSE(w.Next(3));
  EXPECT_TRUE(w.Done(0));
  EXPECT_TRUE(w.Done(2));
  EXPECT_TRUE(w.Done(3));
  EXPECT_EQ(w.Next(3), std::optional<size_t>(4));
  w.Sent(4);
  EXPECT_TRUE(w.Done(4));
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(w.in_flight(), 0u);
  EXPECT_FALSE(w.Next(3));
}

TEST(NatsAckWindowTest, StaleAndRepeatedAnswersChangeNothing) {
  AckWindow w;
  w.Reset(2);
  w.Sent(*w.Next(10));
  EXPECT_TRUE(w.Done(0));
  EXPECT_FALSE(w.Done(0));    // the same ack twice
  EXPECT_FALSE(w.Failed(0));  // an error after the ack
  EXPECT_FALSE(w.Failed(1));  // never sent
  EXPECT_EQ(w.done(), 1u);
  EXPECT_EQ(w.failed(), 0u);
  // Dead-lettering before publishing settles a queued event.
  EXPECT_TRUE(w.Done(1));
  EXPECT_TRUE(w.complete());
}

TEST(NatsAckWindowTest, FailedEventsAreRepublishedLowestFirst) {
  AckWindow w;
  w.Reset(6);
  while (auto i = w.Next(4)) w.Sent(*i);  // 0..3 in flight
  EXPECT_TRUE(w.Failed(2));
  EXPECT_TRUE(w.Done(0));
  EXPECT_TRUE(w.Done(3));
  EXPECT_EQ(w.state(2), State::kFailed);
  // The connection drops with 1 still in flight.
  EXPECT_EQ(w.FailInFlight(), 1u);
  EXPECT_EQ(w.in_flight(), 0u);
  EXPECT_EQ(w.failed(), 2u);
  EXPECT_FALSE(w.Done(1));  // a late ack from the dropped connection is ignored
  EXPECT_EQ(w.Requeue(), 2u);
  EXPECT_EQ(w.failed(), 0u);
  std::vector<size_t> order;
  while (auto i = w.Next(10)) {
    w.Sent(*i);
    order.push_back(*i);
  }
  EXPECT_EQ(order, (std::vector<size_t>{1, 2, 4, 5}));
  for (size_t i : order) EXPECT_TRUE(w.Done(i));
  EXPECT_TRUE(w.complete());
  EXPECT_EQ(w.done(), 6u);
}

TEST(NatsAckWindowTest, AWindowOfOneIsStrictlySequential) {
  AckWindow w;
  w.Reset(3);
  for (size_t want = 0; want < 3; ++want) {
    auto i = w.Next(1);
    ASSERT_EQ(i, std::optional<size_t>(want));
    w.Sent(*i);
    EXPECT_FALSE(w.Next(1));
    EXPECT_TRUE(w.Done(*i));
  }
  EXPECT_TRUE(w.complete());
  w.Reset(0);
  EXPECT_TRUE(w.complete());
}

TEST(NatsConfigTest, DefaultsFollowSpec) {
  auto [o, errors] =
      testing::BindForTest<Options>(Connector(), {{"nats.url", "nats://127.0.0.1:4222"}});
  EXPECT_TRUE(errors.empty()) << errors[0];
  EXPECT_EQ(o.subject, "pgcdc");
  EXPECT_EQ(o.stream, "pgcdc");
  EXPECT_EQ(o.max_age, std::chrono::hours(24));
  EXPECT_EQ(o.duplicate_window, std::chrono::minutes(2));
  EXPECT_EQ(o.encoding.format, encoding::Format::kJson);
  EXPECT_EQ(o.max_pending, 4096);
  EXPECT_EQ(o.backoff.base, std::chrono::seconds(1));
  EXPECT_EQ(o.backoff.cap, std::chrono::seconds(30));
  auto [set, errs] = testing::BindForTest<Options>(Connector(), {{"nats.url", "tls://h"},
                                                                 {"nats.subject", "cdc.prod"},
                                                                 {"nats.stream", "CDC"},
                                                                 {"nats.max_age", "1h"},
                                                                 {"nats.max_pending", "1"}});
  EXPECT_TRUE(errs.empty()) << errs[0];
  EXPECT_EQ(set.subject, "cdc.prod");
  EXPECT_EQ(set.stream, "CDC");
  EXPECT_EQ(set.max_age, std::chrono::hours(1));
  EXPECT_EQ(set.max_pending, 1);
  auto [enc, e2] = testing::BindForTest<Options>(
      Connector(), {{"nats.url", "nats://h"},
                    {"nats.encoding", "protobuf"},
                    {"encoding.schema_registry_url", "http://sr:8081"}});
  EXPECT_TRUE(e2.empty()) << e2[0];
  EXPECT_EQ(enc.encoding.format, encoding::Format::kProtobuf);
  EXPECT_EQ(enc.encoding.registry.url, "http://sr:8081");
  EXPECT_EQ(testing::BindForTest<Options>(Connector(),
                                          {{"nats.url", "nats://h"}, {"nats.encoding", "avro"}})
                .first.encoding.format,
            encoding::Format::kAvro);
}

std::vector<std::string> Errors(const std::vector<std::pair<std::string, std::string>>& flags) {
  return testing::BindForTest<Options>(Connector(), flags).second;
}

bool Has(const std::vector<std::string>& errors, std::string_view needle) {
  for (const auto& e : errors) {
    if (e.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(NatsConfigTest, BadSettingsAreClearErrors) {
  EXPECT_TRUE(Has(Errors({}), "nats.url: required for adapter nats (--nats-url)"));
  EXPECT_TRUE(Has(Errors({{"nats.url", "localhost:4222"}}), "nats.url: invalid NATS URL"));
  const std::string url = "nats://h";
  EXPECT_TRUE(Has(Errors({{"nats.url", url}, {"encoding.schema_registry_url", "ftp://sr"}}),
                  "encoding.schema_registry_url: "));
  EXPECT_TRUE(Has(Errors({{"nats.url", url}, {"encoding.schema_registry_password", "p"}}),
                  "needs encoding.schema_registry_url"));
  EXPECT_TRUE(Has(Errors({{"nats.url", url}, {"nats.encoding", "xml"}}), "nats.encoding"));
  EXPECT_TRUE(Has(Errors({{"nats.url", url}, {"nats.subject", "a.>"}}), "nats.subject:"));
  EXPECT_TRUE(Has(Errors({{"nats.url", url}, {"nats.stream", "a.b"}}), "nats.stream:"));
  EXPECT_TRUE(Has(Errors({{"nats.url", url}, {"nats.cred_file", "/nonexistent/x.creds"}}),
                  "nats.cred_file: cannot read \"/nonexistent/x.creds\""));
  EXPECT_TRUE(Has(Errors({{"nats.url", url}, {"nats.tls_ca_file", "/nonexistent/ca.pem"}}),
                  "nats.tls_ca_file: cannot read"));
  EXPECT_TRUE(Has(Errors({{"nats.url", url}, {"nats.max_age", "1m"}}),
                  "nats.duplicate_window: must not exceed nats.max_age"));
  EXPECT_TRUE(Errors({{"nats.url", url}, {"nats.max_age", "0s"}}).empty());
  EXPECT_TRUE(Has(Errors({{"nats.url", url}, {"nats.max_pending", "0"}}), "nats.max_pending"));
  EXPECT_TRUE(
      Has(Errors({{"nats.url", url}, {"nats.backoff_base", "10s"}, {"nats.backoff_cap", "1s"}}),
          "nats.backoff_cap: must be >= nats.backoff_base"));
}

}  // namespace
}  // namespace pgcdc::adapter::nats
