#include "wasm/sinks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>

#include "core/metrics.h"
#include "net/http_server.h"

namespace pgcdc::wasm {
namespace {

std::string PluginPath(std::string_view name) {
  return std::string(PGCDC_WASM_TESTDATA) + "/" + std::string(name) + ".wasm";
}

bool HaveC() { return std::filesystem::exists(PluginPath("echo_adapter")); }

// The built `plugin init` templates of a type: template_<type> (C) and
// template_<type>_rs (Rust), each when its compiler was found.
std::vector<std::string> Templates(const std::string& type) {
  std::vector<std::string> out;
  for (const std::string& name : {"template_" + type, "template_" + type + "_rs"}) {
    if (std::filesystem::exists(PluginPath(name))) out.push_back(name);
  }
  return out;
}
constexpr const char* kNoTemplates =
    "neither clang-19 with wasi-libc nor rustc with libstd-rust-dev-wasm32 at build time";

// Records what the adapters dead-letter.
class CapturingDlq final : public dlq::DeadLetterQueue {
 public:
  std::string_view Kind() const override { return "test"; }
  Status Record(const Event& event, std::string_view adapter, std::string_view error) override {
    std::lock_guard lock(mu);
    records.push_back({event.id.ToString(), std::string(adapter), std::string(error)});
    return Ok();
  }
  struct Rec {
    std::string id, adapter, error;
  };
  std::mutex mu;
  std::vector<Rec> records;
};

// A local HTTP server: POST /events collects bodies; GET/PUT /kv/<slot>
// is a tiny key-value store.
struct LocalServer {
  LocalServer() {
    server.Handle("POST", "/events", [this](const net::HttpRequest& req) {
      std::lock_guard lock(mu);
      bodies.push_back(req.body);
      net::HttpResponse r;
      r.status = fail_next > 0 ? (--fail_next, 503) : 200;
      return r;
    });
    for (const char* slot : {"/kv/slot_a", "/kv/slot_b"}) {
      server.Handle("PUT", slot, [this](const net::HttpRequest& req) {
        std::lock_guard lock(mu);
        kv[req.path] = req.body;
        return net::HttpResponse{.status = 204};
      });
      server.Handle("GET", slot, [this](const net::HttpRequest& req) {
        std::lock_guard lock(mu);
        auto it = kv.find(req.path);
        if (it == kv.end()) return net::HttpResponse{.status = 404, .body = "{}"};
        return net::HttpResponse{.status = 200, .body = it->second};
      });
    }
    auto bound = server.Start(net::ListenAddress{"127.0.0.1", 0});
    EXPECT_TRUE(bound);
    if (bound) base = "http://" + *bound;
  }
  ~LocalServer() { server.Stop(); }
  net::HttpServer server{"test"};
  std::string base;
  std::mutex mu;
  std::vector<std::string> bodies;
  std::map<std::string, std::string> kv;
  int fail_next = 0;
};

Settings TestSettings(std::vector<std::string> allow = {}) {
  Settings s;
  s.adapter_max_attempts = 3;
  s.adapter_backoff_base = std::chrono::milliseconds(1);
  s.http_allow = std::move(allow);
  return s;
}

Entry EntryFor(std::string name, std::string_view plugin,
               std::map<std::string, std::string> config = {}) {
  return Entry{.name = std::move(name), .path = PluginPath(plugin), .config = std::move(config)};
}

std::vector<const Event*> Ptrs(const std::vector<Event>& events) {
  std::vector<const Event*> out;
  for (const auto& e : events) out.push_back(&e);
  return out;
}

// The `plugin init --type adapter` templates (C and Rust).
TEST(PluginAdapterTest, TemplateAdapterPostsEveryEventAndRetriesFailures) {
  if (Templates("adapter").empty()) GTEST_SKIP() << kNoTemplates;
  for (const auto& name : Templates("adapter")) {
    SCOPED_TRACE(name);
    LocalServer server;
    server.fail_next = 2;  // the first event needs three attempts
    const Settings s = TestSettings({server.base});
    auto plugin =
        LoadWithInit(s, EntryFor("echo", name, {{"url", "\"" + server.base + "/events\""}}),
                     "adapter", {"handle"});
    ASSERT_TRUE(plugin) << plugin.error().message();
    auto adapter = MakePluginAdapter("echo", *plugin, s);
    CapturingDlq dlq;
    ASSERT_TRUE(adapter->Attach(adapter::Services{.dlq = &dlq}));
    ASSERT_TRUE(adapter->Open());
    std::vector<Event> events;
    for (int i = 0; i < 3; ++i) {
      events.push_back(
          MakeEvent("pgcdc:t", "INSERT", R"({"i":)" + std::to_string(i) + "}", "test"));
    }
    auto st = adapter->Deliver(Ptrs(events));
    ASSERT_TRUE(st) << st.error().message();
    EXPECT_TRUE(dlq.records.empty());
    {
      std::lock_guard lock(server.mu);
      ASSERT_EQ(server.bodies.size(), 5u);  // 2 failed attempts + 3 deliveries
      for (size_t i = 0; i < 3; ++i) EXPECT_EQ(server.bodies[2 + i], events[i].Json());
    }
    adapter->Close();
  }
}

TEST(PluginAdapterTest, FailuresAreRetriedThenDeadLettered) {
  const Settings s = TestSettings();
  auto plugin = LoadWithInit(s, EntryFor("refuser", "fail_adapter"), "adapter", {"handle"});
  ASSERT_TRUE(plugin) << plugin.error().message();
  auto adapter = MakePluginAdapter("refuser", *plugin, s);
  CapturingDlq dlq;
  ASSERT_TRUE(adapter->Attach(adapter::Services{.dlq = &dlq}));
  ASSERT_TRUE(adapter->Open());
  std::vector<Event> events = {MakeEvent("c", "INSERT", "{}", "test"),
                               MakeEvent("c", "DELETE", "{}", "test")};
  ASSERT_TRUE(adapter->Deliver(Ptrs(events)));  // handled: dead-lettered
  ASSERT_EQ(dlq.records.size(), 2u);
  EXPECT_EQ(dlq.records[0].id, events[0].id.ToString());
  EXPECT_EQ(dlq.records[0].adapter, "refuser");
  EXPECT_NE(dlq.records[0].error.find("peer refused the event"), std::string::npos)
      << dlq.records[0].error;
  EXPECT_NE(metrics::Default().Expose().find(
                "pgcdc_plugin_calls_total{plugin=\"refuser\",type=\"adapter\"} 6"),
            std::string::npos);
}

TEST(PluginAdapterTest, LoadingChecksExportsAndInit) {
  const Settings s = TestSettings();
  auto noop = LoadWithInit(s, EntryFor("n", "noop"), "adapter", {"handle"});
  ASSERT_FALSE(noop);
  EXPECT_NE(noop.error().message().find("no `handle` export"), std::string::npos);
  auto missing = LoadWithInit(s, Entry{.name = "m", .path = "/nonexistent.wasm"}, "adapter", {});
  EXPECT_FALSE(missing);
}

TEST(PluginDlqTest, InMemoryDlqKeepsRecords) {
  if (!HaveC()) GTEST_SKIP() << "no wasm32-wasi clang";
  const Settings s = TestSettings();
  auto plugin = LoadWithInit(s, EntryFor("dlq-plugin", "mem_dlq"), "dlq", {"record"});
  ASSERT_TRUE(plugin) << plugin.error().message();
  auto dlq = MakePluginDlq(*plugin);
  EXPECT_EQ(dlq->Kind(), "plugin");
  const Event ev = MakeEvent("pgcdc:t", "INSERT", R"({"x":1})", "test");
  ASSERT_TRUE(dlq->Record(ev, "webhook", "HTTP 400"));
  ASSERT_TRUE(dlq->Record(ev, "redis", "refused"));
  auto dump = (*plugin)->Call("dump", "");
  ASSERT_TRUE(dump);
  const auto nl = dump->find('\n');
  ASSERT_NE(nl, std::string::npos);
  const std::string first = dump->substr(0, nl);
  EXPECT_TRUE(first.starts_with("{\"event\":" + ev.Json() + ",\"adapter\":\"webhook\"")) << first;
  EXPECT_NE(first.find("\"error\":\"HTTP 400\""), std::string::npos);
  EXPECT_NE(first.find("\"timestamp\":\""), std::string::npos);
  EXPECT_NE(dump->find("\"adapter\":\"redis\""), std::string::npos);
}

// The `plugin init --type dlq` template.
TEST(PluginDlqTest, AFailingRecordIsAnError) {
  if (Templates("dlq").empty()) GTEST_SKIP() << kNoTemplates;
  for (const auto& name : Templates("dlq")) {
    SCOPED_TRACE(name);
    LocalServer server;
    server.fail_next = 1;
    const Settings s = TestSettings({server.base});
    auto plugin =
        LoadWithInit(s, EntryFor("dlq-plugin", name, {{"url", "\"" + server.base + "/events\""}}),
                     "dlq", {"record"});
    ASSERT_TRUE(plugin) << plugin.error().message();
    auto dlq = MakePluginDlq(*plugin);
    const Event ev = MakeEvent("c", "INSERT", R"({"text":"a \"quoted\" line\n"})", "test");
    auto st = dlq->Record(ev, "a", "e");
    ASSERT_FALSE(st);  // the caller must not acknowledge the event
    EXPECT_NE(st.error().message().find("503"), std::string::npos) << st.error().message();
    EXPECT_TRUE(dlq->Record(ev, "a", "e"));
    std::lock_guard lock(server.mu);
    ASSERT_EQ(server.bodies.size(), 2u);
    EXPECT_TRUE(server.bodies[1].starts_with("{\"event\":" + ev.Json())) << server.bodies[1];
  }
}

TEST(PluginCheckpointTest, InMemoryStoreLoadsWhatWasSaved) {
  if (!HaveC()) GTEST_SKIP() << "no wasm32-wasi clang";
  const Settings s = TestSettings();
  auto plugin =
      LoadWithInit(s, EntryFor("checkpoint-plugin", "mem_checkpoint"), "checkpoint", {"load"});
  ASSERT_TRUE(plugin) << plugin.error().message();
  PluginCheckpointStore store(*plugin);
  EXPECT_EQ(store.Load("slot_a").value_or(99), 0u);
  ASSERT_TRUE(store.Save("slot_a", 0x16B3748));
  ASSERT_TRUE(store.Save("slot_b", 7));
  EXPECT_EQ(store.Load("slot_a").value_or(0), 0x16B3748u);
  EXPECT_EQ(store.Load("slot_b").value_or(0), 7u);
  // Through pg::CheckpointStore, as the wal detector uses it.
  auto pg_store =
      pg::CheckpointStore::WithBackend(std::make_shared<PluginCheckpointStore>(*plugin));
  EXPECT_EQ(pg_store->LoadAcknowledged("slot_a").value_or(0), 0x16B3748u);
  ASSERT_TRUE(pg_store->Save("slot_a", 0x2000000));
  EXPECT_EQ(pg_store->Load("slot_a").value_or(0), 0x2000000u);
  EXPECT_FALSE(pg_store->SaveValues({{"k", 1}}));  // table-only features say so
}

// The `plugin init --type checkpoint` template.
TEST(PluginCheckpointTest, HttpBackedStoreSurvivesANewInstance) {
  if (Templates("checkpoint").empty()) GTEST_SKIP() << kNoTemplates;
  for (const auto& name : Templates("checkpoint")) {
    SCOPED_TRACE(name);
    LocalServer server;
    const Settings s = TestSettings({server.base});
    const Entry e = EntryFor("checkpoint-plugin", name, {{"url", "\"" + server.base + "/kv\""}});
    {
      auto plugin = LoadWithInit(s, e, "checkpoint", {"load", "save"});
      ASSERT_TRUE(plugin) << plugin.error().message();
      PluginCheckpointStore store(*plugin);
      EXPECT_EQ(store.Load("slot_a").value_or(99), 0u);  // 404: none
      ASSERT_TRUE(store.Save("slot_a", 123456789012ULL));
    }
    auto plugin = LoadWithInit(s, e, "checkpoint", {"load", "save"});
    ASSERT_TRUE(plugin);
    PluginCheckpointStore store(*plugin);  // a new process would start like this
    EXPECT_EQ(store.Load("slot_a").value_or(0), 123456789012ULL);
    EXPECT_EQ(store.Load("slot_b").value_or(99), 0u);
    server.server.Stop();
    auto down = store.Save("slot_a", 1);
    EXPECT_FALSE(down);  // not saved: the detector keeps its older position
  }
}

// Each template refuses to start without the "url" it needs: init's output is
// the error, naming the plugin and the key.
TEST(PluginTemplateTest, TemplatesWithoutAUrlFailAtInit) {
  const Settings s = TestSettings();
  std::vector<std::pair<std::string, std::string>> cases;
  for (const std::string type : {"adapter", "dlq", "checkpoint"}) {
    for (const auto& file : Templates(type)) cases.emplace_back(file, type);
  }
  if (cases.empty()) GTEST_SKIP() << kNoTemplates;
  for (const auto& [file, type] : cases) {
    auto plugin = LoadWithInit(s, EntryFor(file, file), type, {});
    ASSERT_FALSE(plugin) << file;
    EXPECT_NE(plugin.error().message().find(std::string(file) + ": the config needs \"url\""),
              std::string::npos)
        << plugin.error().message();
  }
}

}  // namespace
}  // namespace pgcdc::wasm
