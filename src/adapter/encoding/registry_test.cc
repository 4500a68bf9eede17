#include "adapter/encoding/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>

#include "core/json_dom.h"
#include "net/http_server.h"

namespace pgcdc::encoding {
namespace {

// A FAKE schema registry (no registry server is packaged for Debian): stores
// each (subject, schema) and answers with ids the way Confluent's does.
class FakeRegistry {
 public:
  FakeRegistry() : server_("fake-registry") {
    server_.HandlePrefix("POST", "/prefix/subjects/", [this](const net::HttpRequest& r) {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
      if (status_ != 200) return net::HttpResponse{.status = status_, .body = R"({"error":1})"};
      auto body = json::ParseDom(r.body);
      if (!body || !body->is_object()) return net::HttpResponse{.status = 400};
      const std::string schema(body->as_object().at("schema").as_string());
      if (schema.find("INCOMPATIBLE") != std::string::npos) {
        return net::HttpResponse{
            .status = 409,
            .body = R"({"error_code":409,"message":"Schema being registered is incompatible"})"};
      }
      auto [it, added] = ids_.emplace(schema, static_cast<uint32_t>(ids_.size() + 1));
      return net::HttpResponse{.status = 200,
                               .body = "{\"id\":" + std::to_string(it->second) + "}"};
    });
    auto addr = server_.Start({"127.0.0.1", 0});
    EXPECT_TRUE(addr);
    url_ = "http://" + *addr + "/prefix/";
  }
  ~FakeRegistry() { server_.Stop(); }
  const std::string& url() const { return url_; }
  void set_status(int s) {
    std::lock_guard lock(mu_);
    status_ = s;
  }
  std::vector<net::HttpRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  net::HttpServer server_;
  std::string url_;
  std::mutex mu_;
  int status_ = 200;
  std::map<std::string, uint32_t> ids_;
  std::vector<net::HttpRequest> requests_;
};

TEST(SchemaRegistryTest, SubjectsFollowTheTopicName) {
  EXPECT_EQ(SubjectFor("pgcdc:orders"), "pgcdc.orders-value");
  EXPECT_EQ(SubjectFor("pgcdc:app.orders"), "pgcdc.app.orders-value");
}

TEST(SchemaRegistryTest, RegistersOnceAndCaches) {
  FakeRegistry fake;
  auto reg = SchemaRegistry::Open({.url = fake.url(), .username = "u", .password = "p:w"});
  ASSERT_TRUE(reg) << reg.error().message();
  auto id = (*reg)->Register("pgcdc.orders-value", R"({"type":"string"})", "AVRO");
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(*id, 1u);
  EXPECT_EQ(*(*reg)->Register("pgcdc.orders-value", R"({"type":"string"})", "AVRO"), 1u);
  EXPECT_EQ((*reg)->requests(), 1u) << "the second call is served from the cache";
  EXPECT_EQ(*(*reg)->Register("weird subject/x-value", R"({"type":"long"})", "AVRO"), 2u);
  auto reqs = fake.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].path, "/prefix/subjects/pgcdc.orders-value/versions");
  EXPECT_EQ(reqs[1].path, "/prefix/subjects/weird%20subject%2Fx-value/versions");
  EXPECT_EQ(reqs[0].headers.at("content-type"), "application/vnd.schemaregistry.v1+json");
  EXPECT_EQ(reqs[0].headers.at("authorization"), "Basic dTpwOnc=");  // base64("u:p:w")
  auto body = json::ParseDom(reqs[0].body);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->as_object().at("schema").as_string(), R"({"type":"string"})");
  EXPECT_EQ(body->as_object().at("schemaType").as_string(), "AVRO");
}

TEST(SchemaRegistryTest, RejectionsAreContentErrorsOutagesAreRetryable) {
  FakeRegistry fake;
  auto reg = SchemaRegistry::Open({.url = fake.url()});
  ASSERT_TRUE(reg);
  auto bad = (*reg)->Register("s-value", R"({"INCOMPATIBLE":1})", "AVRO");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("HTTP 409"), std::string::npos) << bad.error().message();
  fake.set_status(503);
  auto down = (*reg)->Register("s-value", "{}", "AVRO");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code(), ErrorCode::kConnection);
  fake.set_status(200);
  EXPECT_TRUE((*reg)->Register("s-value", "{}", "AVRO")) << "not cached as a failure";
  auto unreachable = SchemaRegistry::Open(
      {.url = "http://127.0.0.1:1", .timeout = std::chrono::milliseconds(500)});
  ASSERT_TRUE(unreachable);
  auto r = (*unreachable)->Register("s-value", "{}", "AVRO");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kConnection);
  EXPECT_FALSE(SchemaRegistry::Open({.url = "ftp://x"}));
}

}  // namespace
}  // namespace pgcdc::encoding
