#include "adapter/kafka/kafka_adapter.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <map>
#include <set>

#include "registry/define.h"
#include "registry/test_util.h"

namespace pgcdc::adapter::kafka {
namespace {

Event Ev(std::string channel, std::string key = {}) {
  Event e = MakeEvent(std::move(channel), "INSERT", R"({"op":"INSERT","row":{"id":1}})", "wal");
  e.key = std::move(key);
  return e;
}

TEST(KafkaRecord, TopicIsFixedOrDerivedFromTheChannel) {
  EXPECT_EQ(TopicFor(Ev("pgcdc:orders"), ""), "pgcdc.orders");
  EXPECT_EQ(TopicFor(Ev("pgcdc:public.orders"), ""), "pgcdc.public.orders");
  EXPECT_EQ(TopicFor(Ev("weird chan/x"), ""), "weird_chan_x");
  EXPECT_EQ(TopicFor(Ev("pgcdc:orders"), "all-events"), "all-events");
}

TEST(KafkaRecord, KeyIsThePrimaryKeyOrTheEventId) {
  const Event keyed = Ev("c", "42");
  const Event unkeyed = Ev("c");
  const std::string id = keyed.id.ToString();
  EXPECT_EQ(RecordKey(keyed, KeyMode::kPk, id), "42");
  EXPECT_EQ(RecordKey(unkeyed, KeyMode::kPk, "the-id"), "the-id") << "no key: the event id";
  EXPECT_EQ(RecordKey(keyed, KeyMode::kId, id), id);
  const Event composite = Ev("c", R"({"a":1,"b":"x"})");
  EXPECT_EQ(RecordKey(composite, KeyMode::kPk, id), R"({"a":1,"b":"x"})");
}

TEST(KafkaRecord, HeadersNameChannelOperationIdAndContentType) {
  const Event e = Ev("pgcdc:orders");
  const std::string id = e.id.ToString();
  const auto h = RecordHeaders(e, id, "application/json");
  EXPECT_EQ(h[0].name, "pgcdc-channel");
  EXPECT_EQ(h[0].value, "pgcdc:orders");
  EXPECT_EQ(h[1].name, "pgcdc-operation");
  EXPECT_EQ(h[1].value, "INSERT");
  EXPECT_EQ(h[2].name, "pgcdc-event-id");
  EXPECT_EQ(h[2].value, id);
  EXPECT_EQ(h[3].name, "content-type");
  EXPECT_EQ(h[3].value, "application/json");
  EXPECT_EQ(RecordHeaders(e, id, "application/avro")[3].value, "application/avro");
}

TEST(KafkaRecord, ErrorsAreRetriedDeadLetteredOrFatal) {
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, false), Failure::kRetry);
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR__TRANSPORT, false), Failure::kRetry);
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, false), Failure::kRetry);
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, false), Failure::kRetry);
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR__PURGE_INFLIGHT, false), Failure::kRetry);
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, false), Failure::kDeadLetter);
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, false),
            Failure::kDeadLetter);
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, false), Failure::kDeadLetter);
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, false), Failure::kDeadLetter);
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR_INVALID_RECORD, false), Failure::kDeadLetter);
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR_PRODUCER_FENCED, false), Failure::kFatal);
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR__FATAL, false), Failure::kFatal);
  // The instance's fatal state wins over any code.
  EXPECT_EQ(ClassifyError(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, true), Failure::kFatal);
}

std::map<std::string, std::string> PropertyMap(const Options& o) {
  std::map<std::string, std::string> m;
  for (auto& [k, v] : ProducerProperties(o)) m[k] = v;
  return m;
}

TEST(KafkaConfig, ProducerIsIdempotentWithAcksAll) {
  Options o;
  auto p = PropertyMap(o);
  EXPECT_EQ(p["bootstrap.servers"], "localhost:9092");
  EXPECT_EQ(p["acks"], "all");
  EXPECT_EQ(p["enable.idempotence"], "true");
  EXPECT_EQ(p["security.protocol"], "plaintext");
  EXPECT_EQ(p["message.timeout.ms"], "300000");
  EXPECT_EQ(p.count("transactional.id"), 0u);
  EXPECT_EQ(p.count("sasl.mechanisms"), 0u);
}

TEST(KafkaConfig, SecurityAndTransactionsMapToLibrdkafkaProperties) {
  Options o;
  o.sasl_mechanism = "scram-sha-512";
  o.sasl_username = "u";
  o.sasl_password = "p";
  o.tls = true;
  o.tls_ca_file = "/ca.pem";
  o.transactional_id = "tx";
  o.delivery_timeout = std::chrono::milliseconds(0);
  o.properties = {"linger.ms=50", "socket.keepalive.enable=true"};
  auto p = PropertyMap(o);
  EXPECT_EQ(p["security.protocol"], "sasl_ssl");
  EXPECT_EQ(p["sasl.mechanisms"], "SCRAM-SHA-512");
  EXPECT_EQ(p["ssl.ca.location"], "/ca.pem");
  EXPECT_EQ(p["transactional.id"], "tx");
  EXPECT_EQ(p["message.timeout.ms"], "60000") << "bounded by the transaction timeout";
  EXPECT_EQ(p["linger.ms"], "50") << "extra properties override";
  EXPECT_EQ(p["socket.keepalive.enable"], "true");
  o.tls = false;
  EXPECT_EQ(PropertyMap(o)["security.protocol"], "sasl_plaintext");
}

bool HasError(const std::vector<std::string>& errors, const std::string& needle) {
  return std::any_of(errors.begin(), errors.end(),
                     [&](const std::string& e) { return e.find(needle) != std::string::npos; });
}

TEST(KafkaConfig, DeclarationDefaultsAndValidation) {
  const ConnectorInfo info = Connector();
  auto [o, errors] = testing::BindForTest<Options>(info, {});
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(o.brokers, "localhost:9092");
  EXPECT_EQ(o.key, KeyMode::kPk);
  EXPECT_EQ(o.value, ValueMode::kPayload);
  EXPECT_EQ(o.encoding.format, encoding::Format::kJson);
  EXPECT_TRUE(o.encoding.registry.url.empty());
  EXPECT_EQ(o.flow.breaker_failures, 0) << "breaker off";
  EXPECT_EQ(o.flow.rate_limit, 0) << "no rate limit";
  EXPECT_EQ(o.backoff.base, std::chrono::seconds(1));
  EXPECT_EQ(o.backoff.cap, std::chrono::seconds(30));

  auto [o2, e2] = testing::BindForTest<Options>(
      info, {{"kafka.key", "id"}, {"kafka.value", "envelope"}, {"kafka.topic", "events"}});
  EXPECT_TRUE(e2.empty());
  EXPECT_EQ(o2.key, KeyMode::kId);
  EXPECT_EQ(o2.value, ValueMode::kEnvelope);
  EXPECT_EQ(o2.topic, "events");
}

TEST(KafkaConfig, EncodingBreakerAndRateLimitBind) {
  const ConnectorInfo info = Connector();
  auto [o, errors] =
      testing::BindForTest<Options>(info, {{"kafka.encoding", "avro"},
                                           {"encoding.schema_registry_url", "http://registry:8081"},
                                           {"encoding.schema_registry_username", "u"},
                                           {"encoding.schema_registry_password", "p"},
                                           {"kafka.cb_max_failures", "5"},
                                           {"kafka.cb_reset_timeout", "2s"},
                                           {"kafka.rate_limit", "200"}});
  EXPECT_TRUE(errors.empty()) << errors.front();
  EXPECT_EQ(o.encoding.format, encoding::Format::kAvro);
  EXPECT_EQ(o.encoding.registry.url, "http://registry:8081");
  EXPECT_EQ(o.encoding.registry.username, "u");
  EXPECT_EQ(o.encoding.registry.password, "p");
  EXPECT_EQ(o.flow.breaker_failures, 5);
  EXPECT_EQ(o.flow.breaker_reset, std::chrono::seconds(2));
  EXPECT_EQ(o.flow.rate_limit, 200);
  EXPECT_FALSE(o.flow.rate_burst) << "unset: the bucket holds max(1, rate)";
  EXPECT_EQ(middleware::RateBurst(o.flow), 200);
  auto [p, e2] = testing::BindForTest<Options>(info, {{"kafka.encoding", "protobuf"},
                                                      {"kafka.rate_limit", "1"},
                                                      {"kafka.rate_limit_burst", "10"}});
  EXPECT_TRUE(e2.empty()) << e2.front();
  EXPECT_EQ(p.encoding.format, encoding::Format::kProtobuf);
  EXPECT_EQ(middleware::RateBurst(p.flow), 10);
  // The keys SPEC lists (YAML) are declared; the flags follow the key names.
  std::set<std::string> keys, flags;
  for (const auto& spec : info.params) {
    keys.insert(spec.key);
    flags.insert(spec.flag);
  }
  for (const char* k : {"kafka.cb_max_failures", "kafka.cb_reset_timeout", "kafka.rate_limit",
                        "kafka.rate_limit_burst", "kafka.encoding", "encoding.schema_registry_url",
                        "encoding.schema_registry_username", "encoding.schema_registry_password"}) {
    EXPECT_EQ(keys.count(k), 1u) << k;
  }
  EXPECT_EQ(flags.count("kafka-encoding"), 1u);
  EXPECT_EQ(flags.count("schema-registry-url"), 1u);
}

TEST(KafkaConfig, BadSettingsAreClearErrors) {
  const ConnectorInfo info = Connector();
  EXPECT_TRUE(HasError(testing::BindForTest<Options>(info, {{"kafka.encoding", "xml"}}).second,
                       "kafka.encoding: invalid value"));
  EXPECT_TRUE(HasError(
      testing::BindForTest<Options>(info, {{"encoding.schema_registry_url", "registry:8081"}})
          .second,
      "encoding.schema_registry_url: "));
  // SPEC quirk 13: a burst of 0 would admit nothing; it is refused.
  EXPECT_TRUE(HasError(testing::BindForTest<Options>(
                           info, {{"kafka.rate_limit", "100"}, {"kafka.rate_limit_burst", "0"}})
                           .second,
                       "kafka.rate_limit_burst: must be >= 1 when a rate limit is set"));
  EXPECT_TRUE(HasError(testing::BindForTest<Options>(info, {{"kafka.brokers", ""}}).second,
                       "kafka.brokers: required"));
  EXPECT_TRUE(
      HasError(testing::BindForTest<Options>(info, {{"kafka.sasl_mechanism", "gssapi"}}).second,
               "kafka.sasl_mechanism: invalid value"));
  EXPECT_TRUE(
      HasError(testing::BindForTest<Options>(info, {{"kafka.sasl_mechanism", "plain"}}).second,
               "kafka.sasl_username: required"));
  EXPECT_TRUE(HasError(testing::BindForTest<Options>(info, {{"kafka.topic", "a b"}}).second,
                       "not a valid Kafka topic name"));
  EXPECT_TRUE(
      HasError(testing::BindForTest<Options>(info, {{"kafka.tls_ca_file", "/x.pem"}}).second,
               "needs kafka.tls"));
  EXPECT_TRUE(
      HasError(testing::BindForTest<Options>(info, {{"kafka.properties", "no-equals-sign"}}).second,
               "is not name=value"));
  // librdkafka itself rejects an unknown property or a bad value.
  EXPECT_TRUE(HasError(
      testing::BindForTest<Options>(info, {{"kafka.properties", "no.such.property=1"}}).second,
      "librdkafka property no.such.property=1"));
  EXPECT_TRUE(HasError(
      testing::BindForTest<Options>(
          info, {{"kafka.properties", "sasl.password=hunter2"}, {"kafka.properties", "acks=maybe"}})
          .second,
      "acks"));
}

TEST(KafkaConfig, SecretsAreNotEchoed) {
  Options o;
  o.properties = {"ssl.key.password="};  // accepted: nothing to report
  EXPECT_TRUE(ValidateOptions(o).empty());
  o.properties = {"ssl.keystore.password=s3cret", "batch.num.messages=0"};
  for (const auto& e : ValidateOptions(o)) EXPECT_EQ(e.find("s3cret"), std::string::npos) << e;
}

}  // namespace
}  // namespace pgcdc::adapter::kafka
