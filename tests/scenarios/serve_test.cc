// User journey: run several pipelines in one `pgcdc serve` process and manage
// them over the REST API — create, pause, resume, replace, remove — with
// nothing lost across a pause or a restart of the server, and a failing
// pipeline isolated from the others.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <set>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

// The rows' ids in a file sink's JSON lines (payload.row.id).
std::multiset<int> Ids(const std::string& file) {
  std::multiset<int> ids;
  for (const auto& line : ReadFileLines(file)) {
    auto v = ParseJson(line);
    const auto& row = v.at("payload").at("row").as_object();
    ids.insert(static_cast<int>(row.at("id").to_number<int64_t>()));
  }
  return ids;
}

bool HasIds(const std::string& file, int from, int to) {
  auto ids = Ids(file);
  for (int i = from; i <= to; ++i) {
    if (!ids.count(i)) return false;
  }
  return true;
}

struct Api {
  std::string addr;
  std::optional<HttpResult> Call(const std::string& method, const std::string& path,
                                 const std::string& body = {}) {
    return HttpSend(addr, method, path,
                    {"Authorization: Bearer s3cret", "Content-Type: application/json"}, body);
  }
  std::string Status(const std::string& name) {
    auto r = Call("GET", "/api/v1/pipelines/" + name);
    if (!r || r->status != 200) return "";
    return std::string(ParseJson(r->body).at("status").as_string());
  }
};

std::string WalEntry(const std::string& name, const std::string& table, const std::string& file) {
  return "  - name: " + name +
         "\n"
         "    database_url: \"" +
         SharedCluster().Url() +
         "\"\n"
         "    detector: {type: wal, publication: " +
         table + "_pub, persistent_slot: true, slot_name: " + table +
         "_slot, status_interval: 200ms, backoff_base: 100ms, backoff_cap: 500ms}\n"
         "    bus: {mode: reliable}\n"
         "    adapters: [file]\n"
         "    file: {path: \"" +
         file + "\"}\n";
}

std::unique_ptr<Process> StartServe(const std::string& yaml) {
  auto p = Process::Start(
      {.args = {"serve", "--config", yaml, "--addr", "127.0.0.1:0", "--api-token", "s3cret"}});
  if (p && !p->WaitForStderr("http server listening server=serve")) return nullptr;
  return p;
}

TEST(ServeScenario, PipelinesOverTheApiLoseNothing) {
  TempDir dir;
  auto conn = Connect();
  FreshPublishedTable(conn, "serve_a", "id int primary key", "serve_a_pub", "serve_a_slot");
  FreshPublishedTable(conn, "serve_b", "id int primary key", "serve_b_pub", "serve_b_slot");
  const std::string file_a = dir.path + "/a.jsonl";
  const std::string file_b = dir.path + "/b.jsonl";
  const std::string yaml =
      dir.Write("serve.yaml", "state_file: \"" + dir.path + "/state.json\"\npipelines:\n" +
                                  WalEntry("a", "serve_a", file_a));
  auto p = StartServe(yaml);
  ASSERT_TRUE(p) << (p ? p->Stderr() : "");
  Api api{*p->HttpAddr("serve")};
  ASSERT_TRUE(Eventually([&] { return api.Status("a") == "running"; })) << p->Stderr();
  EXPECT_EQ(api.Call("GET", "/api/v1/pipelines", "")->status, 200);
  EXPECT_EQ(HttpGet(api.addr, "/api/v1/pipelines")->status, 401);  // token required

  // A second pipeline created over the API (SPEC's shape), started at once.
  const std::string b =
      R"({"name":"b","database_url":")" + SharedCluster().Url() +
      R"(","detector":{"type":"wal","config":{"detector":{"publication":"serve_b_pub",)"
      R"("persistent_slot":true,"slot_name":"serve_b_slot","status_interval":"200ms"}}},)"
      R"("bus":{"mode":"reliable"},"adapters":[{"type":"file","config":{"file":{"path":")" +
      file_b + R"("}}}]})";
  auto created = api.Call("POST", "/api/v1/pipelines?start=true", b);
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  ASSERT_TRUE(Eventually([&] { return api.Status("b") == "running"; })) << p->Stderr();
  // Ready once every pipeline streams (its slot exists: rows written from
  // now on are captured).
  ASSERT_TRUE(Eventually([&] { return api.Call("GET", "/readyz")->status == 200; }));

  ExecOrFail(conn, "INSERT INTO serve_a SELECT g FROM generate_series(1, 100) g");
  ExecOrFail(conn, "INSERT INTO serve_b SELECT g FROM generate_series(1, 100) g");
  ASSERT_TRUE(Eventually([&] { return HasIds(file_a, 1, 100) && HasIds(file_b, 1, 100); }))
      << api.Call("GET", "/api/v1/pipelines")->body << p->Stderr();
  // Each pipeline's series carry its name, although both use a file sink, and
  // so do the log lines written on its threads.
  const std::string metrics = api.Call("GET", "/metrics")->body;
  for (const std::string name : {"a", "b"}) {
    const std::string series =
        "pgcdc_events_delivered_total{pipeline=\"" + name + "\",adapter=\"file\"} ";
    const size_t at = metrics.find(series);
    ASSERT_NE(at, std::string::npos) << series << "\n" << metrics;
    EXPECT_GE(std::stoll(metrics.substr(at + series.size())), 100) << metrics;
    EXPECT_NE(p->Stderr().find("streaming pipeline=" + name + " detector=wal"), std::string::npos)
        << p->Stderr();
  }
  EXPECT_EQ(metrics.find("pgcdc_events_delivered_total{adapter="), std::string::npos) << metrics;

  // Paused: rows written meanwhile arrive after resume (the slot kept them).
  ASSERT_EQ(api.Call("POST", "/api/v1/pipelines/a/pause")->status, 200);
  EXPECT_EQ(api.Status("a"), "paused");
  ExecOrFail(conn, "INSERT INTO serve_a SELECT g FROM generate_series(101, 200) g");
  ExecOrFail(conn, "INSERT INTO serve_b SELECT g FROM generate_series(101, 200) g");
  ASSERT_TRUE(Eventually([&] { return HasIds(file_b, 101, 200); }));  // b was not paused
  EXPECT_FALSE(HasIds(file_a, 101, 101));
  ASSERT_EQ(api.Call("POST", "/api/v1/pipelines/a/resume")->status, 200);
  ASSERT_TRUE(Eventually([&] { return HasIds(file_a, 101, 200); })) << p->Stderr();

  // Restart the server: the API-created pipeline comes back and resumes
  // from its checkpoint; rows written while it was down arrive.
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO serve_b SELECT g FROM generate_series(201, 300) g");
  p = StartServe(yaml);
  ASSERT_TRUE(p);
  api.addr = *p->HttpAddr("serve");
  ASSERT_TRUE(Eventually([&] { return api.Status("b") == "running"; })) << p->Stderr();
  ASSERT_TRUE(Eventually([&] { return HasIds(file_b, 201, 300); })) << p->Stderr();

  // Replace b's sink file: drained, restarted, new rows go to the new file.
  const std::string file_b2 = dir.path + "/b2.jsonl";
  std::string b2 = b;
  b2.replace(b2.find(file_b), file_b.size(), file_b2);
  auto replaced = api.Call("PUT", "/api/v1/pipelines/b", b2);
  ASSERT_TRUE(replaced);
  ASSERT_EQ(replaced->status, 200) << replaced->body;
  ASSERT_TRUE(Eventually([&] { return api.Status("b") == "running"; })) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO serve_b SELECT g FROM generate_series(301, 350) g");
  ASSERT_TRUE(Eventually([&] { return HasIds(file_b2, 301, 350); })) << p->Stderr();

  // Nothing duplicated in a's file, every row once (b's file is at least once
  // across the restart: the checkpoint may trail the last delivered row).
  auto ids_a = Ids(file_a);
  for (int i = 1; i <= 200; ++i) EXPECT_EQ(ids_a.count(i), 1u) << i;

  // Remove b: refused while running, then stopped and removed.
  EXPECT_EQ(api.Call("DELETE", "/api/v1/pipelines/b")->status, 409);
  EXPECT_EQ(api.Call("POST", "/api/v1/pipelines/b/stop")->status, 200);
  EXPECT_EQ(api.Call("DELETE", "/api/v1/pipelines/b")->status, 200);
  EXPECT_EQ(api.Call("GET", "/api/v1/pipelines/b")->status, 404);
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(ServeScenario, BadInputIsRefusedAndFailuresAreIsolated) {
  TempDir dir;
  // A typo in the serve file: exit 2 naming the key.
  const std::string typo = dir.Write("typo.yaml", "adr: x\npipelines: []\n");
  auto [code, err] = RunToExit({"serve", "--config", typo});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("unknown key adr (did you mean addr?)"), std::string::npos) << err;
  // A typo inside a pipeline entry: the same strict checking as `listen`.
  const std::string inner =
      dir.Write("inner.yaml", "pipelines:\n  - name: x\n    adapters: [sse]\n    sse: {adr: x}\n");
  std::tie(code, err) = RunToExit({"serve", "--config", inner});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("pipeline x: unknown key `sse.adr` (did you mean `addr`?)"), std::string::npos)
      << err;

  const std::string out = dir.path + "/ok.jsonl";
  const std::string yaml = dir.Write(
      "serve.yaml", "state_file: \"" + dir.path + "/state.json\"\npipelines:\n  - name: ok\n" +
                        "    database_url: \"" + SharedCluster().Url() + "\"\n" +
                        "    channels: [serve_ok]\n    adapters: [file]\n    file: {path: \"" +
                        out + "\"}\n");
  auto p = StartServe(yaml);
  ASSERT_TRUE(p);
  Api api{*p->HttpAddr("serve")};
  ASSERT_TRUE(Eventually([&] { return api.Status("ok") == "running"; })) << p->Stderr();

  // Invalid entries: 400 with the key path; nothing is created.
  auto bad = api.Call("POST", "/api/v1/pipelines", R"({"name":"n","webhook":{"urll":"x"}})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("webhook.urll"), std::string::npos) << bad->body;
  EXPECT_EQ(api.Call("POST", "/api/v1/pipelines", "{not json")->status, 400);
  EXPECT_EQ(api.Call("POST", "/api/v1/pipelines", R"({"name":"../x"})")->status, 400);
  EXPECT_EQ(api.Call("GET", "/api/v1/pipelines/n")->status, 404);

  // A pipeline whose database cannot be reached fails on its own; "ok"
  // keeps delivering, /readyz says not ready, /healthz names the failure.
  const std::string down = R"({"name":"down","database_url":"postgres://127.0.0.1:)" +
                           std::to_string(FreeTcpPort()) +
                           R"(/x?connect_timeout=1","channels":["c"],"adapters":["stdout"]})";
  ASSERT_EQ(api.Call("POST", "/api/v1/pipelines?start=true", down)->status, 201);
  auto conn = Connect();
  ExecOrFail(conn, "SELECT pg_notify('serve_ok', 'still here')");
  ASSERT_TRUE(Eventually([&] { return ReadFileLines(out).size() == 1; })) << p->Stderr();
  EXPECT_EQ(api.Status("ok"), "running");
  ASSERT_TRUE(Eventually([&] { return api.Call("GET", "/readyz")->status == 503; }));
  auto health = api.Call("GET", "/healthz");
  EXPECT_EQ(health->status, 200);
  EXPECT_NE(health->body.find(R"("pipeline:down":{"status":"degraded")"), std::string::npos)
      << health->body;
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(ServeScenario, ManagedFromTheWebPageInChromium) {
  TempDir dir;
  auto p = StartServe(dir.Write("serve.yaml", "state_file: \"" + dir.path + "/state.json\"\n"));
  ASSERT_TRUE(p);
  const std::string addr = *p->HttpAddr("serve");
  auto page = HttpGet(addr, "/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 401);  // the page needs the token too (Basic, any user)
  const std::string out = dir.path + "/page.jsonl";
  const std::string spec = R"({"name":"from-page","database_url":")" + SharedCluster().Url() +
                           R"(","channels":["serve_page"],"adapters":["file"],"file":{"path":")" +
                           out + R"("}})";
  const char* src = std::getenv("PGCDC_SOURCE_DIR");
  const std::string tools = std::string(src ? src : ".") + "/tests/tools";
  // Kept as a test artifact beside the test binary's working directory.
  const std::string shot = (std::filesystem::current_path() / "serve-console.png").string();
  auto node = Process::Start(
      {.args = {tools + "/serve_console_check.js", "http://" + addr, "s3cret", spec, shot},
       .cwd = tools,
       .binary = "/usr/bin/node"});
  ASSERT_TRUE(node);
  auto code = node->Wait(90s);
  std::string result;
  for (const auto& l : node->StdoutLines()) result += l + "\n";
  ASSERT_EQ(code, 0) << result << node->Stderr() << p->Stderr();
  EXPECT_NE(result.find("OK"), std::string::npos) << result;
  Api api{addr};
  EXPECT_EQ(api.Call("GET", "/api/v1/pipelines/from-page")->status, 404);  // deleted
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0) << p->Stderr();
}

}  // namespace
}  // namespace pgcdc::testing
