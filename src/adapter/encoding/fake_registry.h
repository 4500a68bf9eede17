// Test helper: a FAKE Confluent schema registry (no registry server is
// packaged for Debian). It stores each schema and answers with ids the way
// Confluent's registry does; a schema containing "INCOMPATIBLE" is refused
// with 409, set_status() simulates an outage (or any other answer). It also
// answers the start-up check GET /schemas/types. Serves on 127.0.0.1; usable
// from unit tests and from scenario tests (pgcdc connects to url()).
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/json_dom.h"
#include "net/http_server.h"

namespace pgcdc::encoding::testing {

class FakeRegistry {
 public:
  FakeRegistry() : server_("fake-registry") {
    server_.HandlePrefix("POST", "/prefix/subjects/", [this](const net::HttpRequest& r) {
      // Records every request, then answers like the real registry.
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
    server_.Handle("GET", "/prefix/schemas/types", [this](const net::HttpRequest&) {
      std::lock_guard lock(mu_);
      ++checks_;
      if (status_ != 200) return net::HttpResponse{.status = status_, .body = R"({"error":1})"};
      return net::HttpResponse{.status = 200, .body = R"(["JSON","PROTOBUF","AVRO"])"};
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
  // The schema registered under `id` (empty when unknown).
  std::string schema(uint32_t id) {
    std::lock_guard lock(mu_);
    for (const auto& [text, i] : ids_) {
      if (i == id) return text;
    }
    return {};
  }
  // The registrations (POST) received so far.
  std::vector<net::HttpRequest> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // GET /schemas/types requests (start-up checks) so far.
  int checks() {
    std::lock_guard lock(mu_);
    return checks_;
  }

 private:
  net::HttpServer server_;
  std::string url_;
  std::mutex mu_;
  int status_ = 200;
  int checks_ = 0;
  std::map<std::string, uint32_t> ids_;
  std::vector<net::HttpRequest> requests_;
};

}  // namespace pgcdc::encoding::testing
