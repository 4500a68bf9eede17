#include "serve/manager.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/json_dom.h"
#include "core/mutex.h"
#include "net/http1_client.h"
#include "net/http_server.h"
#include "serve/api.h"

namespace pgcdc::serve {
namespace {

using namespace std::chrono_literals;

// Runs "pipelines" that only wait: ready at once unless the entry says
// "slow": true; ended with an error by Fail(name); invalid when the entry has
// "invalid": true.
class FakeRuntime : public Runtime {
 public:
  std::vector<std::string> Validate(const PipelineSpec& spec,
                                    std::vector<std::string>& warnings) override {
    if (spec.raw.contains("invalid")) return {"invalid: set"};
    return {};
  }

  Status Run(const PipelineSpec& spec, std::stop_token stop,
             const std::function<void(const RunProbes*)>& probes) override {
    const bool slow = spec.raw.contains("slow");
    RunProbes p{[slow] { return !slow; }, [] { return std::string(R"({"adapters":[]})"); }};
    probes(&p);
    std::stop_callback wake(stop, [this] {
      MutexLock l(mu_);
      cv_.NotifyAll();
    });
    MutexLock lock(mu_);
    running_.insert(spec.name);
    ++runs_;
    cv_.NotifyAll();
    while (!stop.stop_requested() && !failing_.count(spec.name)) cv_.Wait(mu_);
    running_.erase(spec.name);
    const bool failed = failing_.erase(spec.name) > 0;
    lock.Unlock();
    probes(nullptr);
    if (failed) return Fail(ErrorCode::kConnection, "database went away");
    return Ok();
  }

  void FailPipeline(const std::string& name) {
    MutexLock lock(mu_);
    failing_.insert(name);
    cv_.NotifyAll();
  }
  bool WaitRunning(const std::string& name, bool want) {
    MutexLock lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (running_.count(name) != (want ? 1u : 0u)) {
      if (!cv_.WaitUntil(mu_, deadline)) return running_.count(name) == (want ? 1u : 0u);
    }
    return true;
  }
  int runs() {
    MutexLock lock(mu_);
    return runs_;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::set<std::string> running_ GUARDED_BY(mu_);
  std::set<std::string> failing_ GUARDED_BY(mu_);
  int runs_ GUARDED_BY(mu_) = 0;
};

PipelineSpec Spec(const std::string& json) {
  auto v = json::ParseDom(json);
  EXPECT_TRUE(v);
  auto s = ParseSpec(*v, "test");
  EXPECT_TRUE(s);
  return *s;
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("pgcdc-serve-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

bool WaitStatus(Manager& m, const std::string& name, const std::string& want) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto info = m.Get(name);
    if (info && info->status == want) return true;
    std::this_thread::sleep_for(5ms);  // polling a condition with a deadline
  }
  return false;
}

TEST(ServeManager, Lifecycle) {
  FakeRuntime rt;
  Manager m(rt, "");
  ASSERT_TRUE(m.Load({Spec(R"({"name":"a"})"), Spec(R"({"name":"b","enabled":false})")}));
  m.StartWanted();
  ASSERT_TRUE(rt.WaitRunning("a", true));
  EXPECT_TRUE(WaitStatus(m, "a", "running"));
  EXPECT_EQ(m.Get("b")->status, "stopped");
  EXPECT_TRUE(m.Ready());  // b is not wanted

  auto paused = m.Pause("a");
  ASSERT_TRUE(paused);
  EXPECT_EQ(paused->status, "paused");
  EXPECT_TRUE(rt.WaitRunning("a", false));
  EXPECT_EQ(m.Pause("a").error().http_status, 409);
  EXPECT_EQ(m.Start("a").error().http_status, 409);
  ASSERT_TRUE(m.Resume("a"));
  EXPECT_TRUE(rt.WaitRunning("a", true));
  auto stopped = m.Stop("a");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->status, "stopped");
  EXPECT_EQ(m.Stop("a").error().http_status, 409);
  EXPECT_EQ(m.Resume("a").error().http_status, 409);
  EXPECT_EQ(m.Get("zzz").error().http_status, 404);
  // Pipelines from the file are not removed or replaced over the API.
  EXPECT_EQ(m.Remove("a").error().http_status, 409);
  EXPECT_EQ(m.Replace("a", Spec(R"({"name":"a"})"), false).error().http_status, 409);
}

TEST(ServeManager, FailureIsIsolatedAndVisible) {
  FakeRuntime rt;
  Manager m(rt, "");
  ASSERT_TRUE(m.Load({Spec(R"({"name":"a"})"), Spec(R"({"name":"b"})")}));
  m.StartWanted();
  ASSERT_TRUE(rt.WaitRunning("a", true));
  ASSERT_TRUE(rt.WaitRunning("b", true));
  rt.FailPipeline("a");
  ASSERT_TRUE(WaitStatus(m, "a", "error"));
  EXPECT_EQ(m.Get("a")->error, "database went away");
  EXPECT_EQ(m.Get("b")->status, "running");
  EXPECT_FALSE(m.Ready());
  const std::string health = m.HealthJson();
  EXPECT_NE(health.find(R"("status":"degraded")"), std::string::npos) << health;
  EXPECT_NE(health.find(R"("last_error":"database went away")"), std::string::npos) << health;
  // Started again by hand: a restart is counted.
  auto again = m.Start("a");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->restarts, 1);
  EXPECT_TRUE(WaitStatus(m, "a", "running"));
  EXPECT_TRUE(m.Ready());
}

TEST(ServeManager, StartingUntilReady) {
  FakeRuntime rt;
  Manager m(rt, "");
  ASSERT_TRUE(m.Load({Spec(R"({"name":"s","slow":true})")}));
  m.StartWanted();
  ASSERT_TRUE(rt.WaitRunning("s", true));
  EXPECT_EQ(m.Get("s")->status, "starting");
  EXPECT_FALSE(m.Ready());
}

TEST(ServeManager, CreateValidatesAndDryRuns) {
  FakeRuntime rt;
  Manager m(rt, "");
  ASSERT_TRUE(m.Load({}));
  auto bad = m.Create(Spec(R"({"name":"x","invalid":true})"), false, false);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().http_status, 400);
  EXPECT_EQ(bad.error().errors, std::vector<std::string>{"invalid: set"});
  auto dry = m.Create(Spec(R"({"name":"x"})"), false, true);
  ASSERT_TRUE(dry);
  EXPECT_TRUE(m.List().empty());
  ASSERT_TRUE(m.Create(Spec(R"({"name":"x"})"), false, false));
  EXPECT_EQ(m.Create(Spec(R"({"name":"x"})"), false, false).error().http_status, 409);
  EXPECT_EQ(m.Get("x")->status, "stopped");
  EXPECT_EQ(rt.runs(), 0);
  ASSERT_TRUE(m.Create(Spec(R"({"name":"y"})"), true, false));
  EXPECT_TRUE(rt.WaitRunning("y", true));
  EXPECT_EQ(m.Remove("y").error().http_status, 409);  // running
  ASSERT_TRUE(m.Stop("y"));
  auto removed = m.Remove("y");
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->status, "removed");
  EXPECT_EQ(m.List().size(), 1u);
}

TEST(ServeManager, ReplaceRestartsARunningPipeline) {
  FakeRuntime rt;
  Manager m(rt, "");
  ASSERT_TRUE(m.Load({}));
  ASSERT_TRUE(m.Create(Spec(R"({"name":"x","v":1})"), true, false));
  ASSERT_TRUE(rt.WaitRunning("x", true));
  EXPECT_EQ(m.Replace("x", Spec(R"({"name":"y"})"), false).error().http_status, 400);
  EXPECT_EQ(m.Replace("x", Spec(R"({"name":"x","invalid":true})"), false).error().http_status, 400);
  auto r = m.Replace("x", Spec(R"({"name":"x","v":2})"), false);
  ASSERT_TRUE(r);
  EXPECT_NE(r->config_json.find(R"("v":2)"), std::string::npos);
  EXPECT_TRUE(rt.WaitRunning("x", true));
  EXPECT_TRUE(WaitStatus(m, "x", "running"));
  EXPECT_EQ(rt.runs(), 2);
}

TEST(ServeManager, StateFileKeepsApiPipelinesAndWantedStates) {
  const std::string state = TempPath("state.json");
  std::filesystem::remove(state);
  {
    FakeRuntime rt;
    Manager m(rt, state);
    ASSERT_TRUE(m.Load({Spec(R"({"name":"file1"})")}));
    m.StartWanted();
    ASSERT_TRUE(rt.WaitRunning("file1", true));
    ASSERT_TRUE(m.Pause("file1"));
    ASSERT_TRUE(m.Create(Spec(R"({"name":"api1","x":1})"), true, false));
    ASSERT_TRUE(m.Create(Spec(R"({"name":"api2"})"), false, false));
  }
  {
    FakeRuntime rt;
    Manager m(rt, state);
    ASSERT_TRUE(m.Load({Spec(R"({"name":"file1"})")}));
    m.StartWanted();
    EXPECT_TRUE(rt.WaitRunning("api1", true));
    EXPECT_EQ(m.Get("file1")->status, "paused");
    EXPECT_EQ(m.Get("api2")->status, "stopped");
    EXPECT_NE(m.Get("api1")->config_json.find(R"("x":1)"), std::string::npos);
    EXPECT_EQ(m.Get("api1")->origin, Origin::kApi);
  }
  // A file pipeline with an API pipeline's name: refused, nothing dropped.
  {
    FakeRuntime rt;
    Manager m(rt, state);
    auto st = m.Load({Spec(R"({"name":"file1"})"), Spec(R"({"name":"api1"})")});
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("rename one of them"), std::string::npos);
  }
  // A state file that is not ours: refused with a clear error.
  {
    std::ofstream(state) << "{not json";
    FakeRuntime rt;
    Manager m(rt, state);
    auto st = m.Load({});
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("pipelines are never dropped"), std::string::npos);
  }
  std::filesystem::remove(state);
}

TEST(ServeManager, InvalidApiPipelineFromStateIsKeptInError) {
  const std::string state = TempPath("invalid.json");
  std::ofstream(state) << R"({"version":1,"pipelines":[{"name":"old","origin":"api",)"
                       << R"("wanted":"running","spec":{"name":"old","invalid":true}}]})";
  FakeRuntime rt;
  Manager m(rt, state);
  ASSERT_TRUE(m.Load({}));
  m.StartWanted();
  auto info = m.Get("old");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->status, "error");
  EXPECT_EQ(info->error, "invalid: set");
  EXPECT_EQ(rt.runs(), 0);
  std::filesystem::remove(state);
}

TEST(ServeManager, InvalidFilePipelineRefusesToBoot) {
  FakeRuntime rt;
  Manager m(rt, "");
  auto st = m.Load({Spec(R"({"name":"bad","invalid":true})")});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kConfig);
  EXPECT_EQ(st.error().message(), "pipeline bad: invalid: set");
}

// The REST API over a real HTTP server and client.
class ServeApi : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(manager_.Load({Spec(R"({"name":"file1"})")}));
    manager_.StartWanted();
    net::HttpServerOptions o;
    o.auth.bearer_token = "tok";
    server_ = std::make_unique<net::HttpServer>("serve", o);
    api_.Mount(*server_);
    auto addr = server_->Start({"127.0.0.1", 0});
    ASSERT_TRUE(addr);
    addr_ = *addr;
  }
  void TearDown() override { server_->Stop(); }

  net::Http1Response Call(const std::string& method, const std::string& target,
                          const std::string& body = "", const std::string& token = "tok",
                          const std::string& content_type = "application/json") {
    auto u = net::ParseHttp1Url("http://" + addr_ + target);
    EXPECT_TRUE(u);
    net::Http1Connection conn(*u, {}, 1 << 16);
    std::string head = method + " " + u->target + " HTTP/1.1\r\nHost: " + u->host_header +
                       "\r\nContent-Type: " + content_type +
                       "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    if (!token.empty()) head += "Authorization: Bearer " + token + "\r\n";
    head += "\r\n";
    std::vector<net::Http1Connection::Request> reqs{{head, body}};
    std::vector<net::Http1Response> out;
    auto st = conn.Exchange(reqs, out, net::Http1Connection::Clock::now() + 10s);
    EXPECT_TRUE(st) << (st ? "" : st.error().message());
    return out.empty() ? net::Http1Response{} : out[0];
  }

  FakeRuntime rt_;
  Manager manager_{rt_, ""};
  Api api_{manager_};
  std::unique_ptr<net::HttpServer> server_;
  std::string addr_;
};

TEST_F(ServeApi, Crud) {
  EXPECT_EQ(Call("GET", "/api/v1/pipelines", "", "").status, 401);
  EXPECT_EQ(Call("GET", "/healthz", "", "").status, 200);  // probes stay open
  ASSERT_TRUE(rt_.WaitRunning("file1", true));
  auto list = Call("GET", "/api/v1/pipelines");
  EXPECT_EQ(list.status, 200);
  EXPECT_NE(list.body.find(R"("count":1)"), std::string::npos) << list.body;

  EXPECT_EQ(Call("POST", "/api/v1/pipelines", "{bad").status, 400);
  auto invalid = Call("POST", "/api/v1/pipelines", R"({"name":"n","invalid":1})");
  EXPECT_EQ(invalid.status, 400);
  EXPECT_NE(invalid.body.find(R"("errors":["invalid: set"])"), std::string::npos) << invalid.body;
  EXPECT_EQ(Call("POST", "/api/v1/pipelines?dry_run=true", R"({"name":"n"})").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/pipelines/n").status, 404);
  auto created = Call("POST", "/api/v1/pipelines", "name: n\nx: 1\n", "tok", "application/yaml");
  EXPECT_EQ(created.status, 201) << created.body;
  EXPECT_NE(created.body.find(R"("status":"created")"), std::string::npos) << created.body;
  EXPECT_EQ(Call("POST", "/api/v1/pipelines", R"({"name":"n"})").status, 409);

  EXPECT_EQ(Call("POST", "/api/v1/pipelines/n/start").status, 200);
  EXPECT_TRUE(rt_.WaitRunning("n", true));
  EXPECT_EQ(Call("POST", "/api/v1/pipelines/n/start").status, 409);
  EXPECT_EQ(Call("POST", "/api/v1/pipelines/n/pause").status, 200);
  EXPECT_EQ(Call("GET", "/readyz", "", "").status, 200);  // paused on purpose: not waited for
  EXPECT_EQ(Call("POST", "/api/v1/pipelines/n/resume").status, 200);
  EXPECT_EQ(Call("PUT", "/api/v1/pipelines/n", R"({"x":2})").status, 200);
  auto one = Call("GET", "/api/v1/pipelines/n");
  EXPECT_NE(one.body.find(R"("x":2)"), std::string::npos) << one.body;
  EXPECT_EQ(Call("DELETE", "/api/v1/pipelines/n").status, 409);
  EXPECT_EQ(Call("POST", "/api/v1/pipelines/n/stop").status, 200);
  EXPECT_EQ(Call("DELETE", "/api/v1/pipelines/n").status, 200);
  EXPECT_EQ(Call("DELETE", "/api/v1/pipelines/file1").status, 409);
  EXPECT_EQ(Call("POST", "/api/v1/pipelines/file1/explode").status, 404);
  EXPECT_EQ(Call("GET", "/api/v1/pipelinesX").status, 404);
  EXPECT_EQ(Call("GET", "/readyz", "", "").status, 200);
  // Another site's page cannot drive the API through a browser.
  EXPECT_EQ(Call("POST", "/api/v1/pipelines", R"({"name":"z"})", "tok", "text/plain").status, 415);
  auto u = net::ParseHttp1Url("http://" + addr_ + "/api/v1/pipelines/file1/stop");
  net::Http1Connection conn(*u, {}, 4096);
  const std::string head = "POST " + u->target + " HTTP/1.1\r\nHost: " + u->host_header +
                           "\r\nOrigin: http://evil.example\r\nAuthorization: Bearer tok\r\n"
                           "Content-Length: 0\r\n\r\n";
  std::vector<net::Http1Connection::Request> reqs{{head, ""}};
  std::vector<net::Http1Response> out;
  ASSERT_TRUE(conn.Exchange(reqs, out, net::Http1Connection::Clock::now() + 10s));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].status, 403);
  EXPECT_EQ(manager_.Get("file1")->status, "running");
  EXPECT_EQ(Call("GET", "/debug/threads", "", "").status, 401);
  auto threads = Call("GET", "/debug/threads");
  EXPECT_EQ(threads.status, 200);
  EXPECT_NE(threads.body.find(R"("threads":[{"tid":)"), std::string::npos) << threads.body;
  auto metrics = Call("GET", "/metrics");
  EXPECT_NE(metrics.body.find("pgcdc_serve_api_requests_total"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::serve
