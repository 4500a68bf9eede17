// User journey: a Wasm plugin (docs/plugins.md) rewrites WAL events on their
// way to stdout; a plugin that traps or runs forever sends the events it fails
// on to the dead letter queue, is counted, and pgcdc keeps streaming.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>

#include "harness.h"
#include "http_receiver.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

std::string PluginPath(std::string_view name) {
  return std::string(PGCDC_WASM_TESTDATA) + "/" + std::string(name) + ".wasm";
}

// The running process's memory map (which libraries it loaded).
std::string Maps(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/maps");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Waits until the pg_table DLQ `table` holds `n` records.
bool DlqHolds(pg::Conn& conn, const std::string& table, int n) {
  return Eventually([&] {
    auto r = conn.Query("SELECT count(*) FROM \"" + table + "\"");
    return r && !r->empty() && r->at(0).at(0) == std::to_string(n);
  });
}

// WAL → a drop_field plugin (`plugin`, configured to drop "email") → stdout:
// inserts, an update and a delete arrive without the column, nothing fails,
// and the engine library is what ran it.
void RunDropFieldJourney(const std::string& plugin, const std::string& table) {
  auto conn = Connect();
  FreshPublishedTable(conn, table, "id int PRIMARY KEY, email text, name text", "p_" + table);
  auto p = StartWalListen(
      WalListenArgs("p_" + table, {"--plugin-transform", PluginPath(plugin),
                                   "--plugin-transform-config", R"({"field": "email"})"}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO " + table +
                       " VALUES (1, 'a@example.com', 'Ann'), (2, 'b@example.com', 'Bob'); "
                       "UPDATE " +
                       table + " SET name = 'Bo' WHERE id = 2; DELETE FROM " + table +
                       " WHERE id = 1");
  ASSERT_TRUE(p->WaitForLines(4)) << p->Stderr();
  const auto lines = p->StdoutLines();
  ASSERT_EQ(lines.size(), 4u) << p->Stderr();
  for (const auto& line : lines) {
    EXPECT_EQ(line.find("email"), std::string::npos) << line;
    EXPECT_EQ(line.find("example.com"), std::string::npos) << line;
  }
  auto first = ParseJson(lines.at(0)).as_object();
  EXPECT_EQ(first.at("channel").as_string(), "pgcdc:" + table);
  EXPECT_EQ(first.at("operation").as_string(), "INSERT");
  EXPECT_EQ(first.at("payload").at("row").at("name").as_string(), "Ann");
  EXPECT_EQ(first.at("payload").at("row").at("id").as_int64(), 1);
  auto update = ParseJson(lines.at(2));
  EXPECT_EQ(update.at("operation").as_string(), "UPDATE");
  EXPECT_EQ(update.at("payload").at("row").at("name").as_string(), "Bo");
  EXPECT_EQ(ParseJson(lines.at(3)).at("operation").as_string(), "DELETE");
  EXPECT_EQ(
      ScrapeMetric(*p, "pgcdc_plugin_calls_total{plugin=\"wasm-transform-0\",type=\"transform\"}"),
      4.0);
  EXPECT_EQ(
      ScrapeMetric(*p, "pgcdc_plugin_errors_total{plugin=\"wasm-transform-0\",type=\"transform\"}")
          .value_or(0.0),
      0.0);
  // The engine was loaded for the plugin (src/wasm/engine.h).
  EXPECT_NE(Maps(p->pid()).find("pgcdc-wasm-v8.so"), std::string::npos);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(WasmScenario, WalThroughACPluginThatDropsAFieldToStdout) {
  if (!std::filesystem::exists(PluginPath("drop_field"))) GTEST_SKIP() << "no wasm32-wasi clang";
  RunDropFieldJourney("drop_field", "wasm_users");
}

constexpr const char* kNoRust =
    "no rustc with the wasm32-unknown-unknown std at build time (apt install rustc "
    "libstd-rust-dev-wasm32 lld-14)";

// The same journey with drop_field.rs: a plugin written in Rust without crates
// and built with Debian's rustc (docs/plugins.md, "A plugin in Rust").
TEST(WasmScenario, WalThroughARustPluginThatDropsAFieldToStdout) {
  if (!std::filesystem::exists(PluginPath("drop_field_rs"))) GTEST_SKIP() << kNoRust;
  RunDropFieldJourney("drop_field_rs", "wasm_rs_users");
}

// The Rust plugin given a misspelt config key ("fields") fails every event
// with its own message, as drop_field.c does: each event goes to the DLQ
// unchanged (the field it was meant to drop is not sent anywhere else), the
// errors are counted, and pgcdc keeps running.
TEST(WasmScenario, ARustPluginWithAMisspeltConfigKeyDeadLettersEachEvent) {
  if (!std::filesystem::exists(PluginPath("drop_field_rs"))) GTEST_SKIP() << kNoRust;
  auto conn = Connect();
  FreshPublishedTable(conn, "wasm_rs_bad", "id int PRIMARY KEY, email text", "p_wasm_rs_bad");
  ExecOrFail(conn, "DROP TABLE IF EXISTS wasm_rs_dlq");
  auto p = StartWalListen(
      WalListenArgs("p_wasm_rs_bad",
                    {"--plugin-transform", PluginPath("drop_field_rs"), "--plugin-transform-config",
                     R"({"fields": "email"})", "--dlq", "pg_table", "--dlq-table", "wasm_rs_dlq"}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO wasm_rs_bad VALUES (1, 'a@example.com'), (2, 'b@example.com')");
  ASSERT_TRUE(DlqHolds(conn, "wasm_rs_dlq", 2)) << p->Stderr();
  auto rows = conn.Query("SELECT error, payload::text FROM wasm_rs_dlq ORDER BY id");
  ASSERT_TRUE(rows) << rows.error().message();
  for (const auto& row : *rows) {
    EXPECT_NE(row.at(0)->find("plugin wasm-transform-0: transform: config \"field\" is required"),
              std::string::npos)
        << *row.at(0);
    EXPECT_NE(row.at(1)->find("example.com"), std::string::npos) << "the event as it came";
  }
  EXPECT_EQ(
      ScrapeMetric(*p, "pgcdc_plugin_errors_total{plugin=\"wasm-transform-0\",type=\"transform\"}"),
      2.0);
  EXPECT_TRUE(p->StdoutLines().empty());
  auto health = HttpGet(*p->HttpAddr(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// Without plugins, Parquet or the duckdb sink, neither V8 nor DuckDB is in the
// process: they are loaded on first use, never linked.
TEST(WasmScenario, EnginesAreLoadedOnlyWhenAConfigurationUsesThem) {
  auto conn = Connect();
  FreshPublishedTable(conn, "wasm_plain", "id int PRIMARY KEY", "p_wasm_plain");
  auto p = StartWalListen(WalListenArgs("p_wasm_plain", {}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO wasm_plain VALUES (1)");
  ASSERT_TRUE(p->WaitForLines(1)) << p->Stderr();
  const std::string maps = Maps(p->pid());
  ASSERT_NE(maps.find("libc.so"), std::string::npos) << maps;
  for (const char* lib : {"libnode", "pgcdc-wasm-v8", "libduckdb"}) {
    EXPECT_EQ(maps.find(lib), std::string::npos) << lib << " is loaded";
  }
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(WasmScenario, AMissingEngineIsAConfigurationErrorNamingWhereItLooked) {
  auto r = RunCommand({"env", "PGCDC_WASM_ENGINE=/nonexistent/engine.so", std::getenv("PGCDC_BIN"),
                       "listen", "--db", "postgres://x/y", "-c", "x", "--plugin-transform",
                       PluginPath("noop")});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("the Wasm engine"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/engine.so"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("PGCDC_WASM_ENGINE"), std::string::npos) << r.output;
}

// A user scaffolds a plugin, builds it with the Makefile's compiler line and
// runs it: the template passes events on and drops the configured operation.
// WAL → the transform `plugin init` scaffolded (configured to drop DELETEs) →
// stdout: the DELETE is dropped and counted, the other events pass unchanged.
[[maybe_unused]] void RunTheScaffoldedTransform(const std::string& table, const std::string& wasm) {
  auto conn = Connect();
  FreshPublishedTable(conn, table, "id int PRIMARY KEY, v text", "p_" + table);
  auto p = StartWalListen(
      WalListenArgs("p_" + table, {"--plugin-transform", wasm, "--plugin-transform-config",
                                   R"({"drop_operation": "DELETE"})"}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO " + table + " VALUES (1, 'a'), (2, 'b'); DELETE FROM " + table +
                       " WHERE id = 1; UPDATE " + table + " SET v = 'c' WHERE id = 2");
  ASSERT_TRUE(p->WaitForLines(3)) << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_plugin_custom_dropped_total{plugin=\"wasm-transform-0\"}") ==
           1.0;
  })) << p->Stderr();
  const auto lines = p->StdoutLines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(ParseJson(lines[0]).at("operation").as_string(), "INSERT");
  EXPECT_EQ(ParseJson(lines[2]).at("operation").as_string(), "UPDATE");
  EXPECT_EQ(ParseJson(lines[2]).at("payload").at("row").at("v").as_string(), "c");
  for (const auto& l : lines) EXPECT_EQ(l.find("\"DELETE\""), std::string::npos) << l;
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(WasmScenario, PluginInitTemplateBuildsAndRuns) {
#ifndef PGCDC_CLANG_WASM
  GTEST_SKIP() << "no clang-19 with wasi-libc";
#else
  TempDir dir;
  const std::string project = dir.path + "/audit";
  auto init = RunCommand({PgcdcBinary(), "plugin", "init", "audit", "-o", project});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  auto again = RunCommand({PgcdcBinary(), "plugin", "init", "audit", "-o", project});
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_NE(again.output.find("not empty"), std::string::npos) << again.output;
  auto bogus = RunCommand(
      {PgcdcBinary(), "plugin", "init", "audit", "--type", "sink", "-o", dir.path + "/bogus"});
  EXPECT_EQ(bogus.exit_code, 2) << bogus.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path + "/bogus"));
  auto build = RunCommand({"make", "-C", project, "CLANG=" PGCDC_CLANG_WASM});
  ASSERT_EQ(build.exit_code, 0) << build.output;
  // The other kinds scaffold and build as well (their behaviour is tested on the
  // same sources built by CMake: template_adapter.wasm, ...).
  for (const char* type : {"adapter", "dlq", "checkpoint"}) {
    const std::string folder = dir.path + "/" + type;
    auto made = RunCommand(
        {PgcdcBinary(), "plugin", "init", std::string("my_") + type, "--type", type, "-o", folder});
    ASSERT_EQ(made.exit_code, 0) << made.output;
    auto built = RunCommand({"make", "-C", folder, "CLANG=" PGCDC_CLANG_WASM});
    ASSERT_EQ(built.exit_code, 0) << type << ": " << built.output;
    EXPECT_TRUE(std::filesystem::exists(folder + "/my_" + type + ".wasm")) << type;
    std::ifstream readme(folder + "/README.md");
    const std::string text{std::istreambuf_iterator<char>(readme), {}};
    EXPECT_NE(text.find(std::string("--type ") + type), std::string::npos) << text;
    EXPECT_EQ(text.find('@'), std::string::npos) << "a placeholder left: " << text;
  }

  RunTheScaffoldedTransform("wasm_init", project + "/audit.wasm");
#endif
}

// The same journey in Rust: `plugin init --lang rust` writes plugin.rs,
// pgcdc_pdk.rs and a Makefile calling rustc (no crates); the transform builds
// and runs, the other kinds build, and an unknown language is refused.
TEST(WasmScenario, PluginInitRustTemplateBuildsAndRuns) {
#ifndef PGCDC_RUSTC_WASM
  GTEST_SKIP() << kNoRust;
#else
  TempDir dir;
  const std::string project = dir.path + "/audit_rs";
  auto init =
      RunCommand({PgcdcBinary(), "plugin", "init", "audit_rs", "--lang", "rust", "-o", project});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  EXPECT_NE(init.output.find("plugin.rs, pgcdc_pdk.rs, Makefile, README.md"), std::string::npos)
      << init.output;
  EXPECT_FALSE(std::filesystem::exists(project + "/plugin.c"));
  auto go =
      RunCommand({PgcdcBinary(), "plugin", "init", "x", "--lang", "go", "-o", dir.path + "/go"});
  EXPECT_EQ(go.exit_code, 2) << go.output;
  EXPECT_NE(go.output.find("--lang"), std::string::npos) << go.output;
  EXPECT_FALSE(std::filesystem::exists(dir.path + "/go"));
  auto build = RunCommand({"make", "-C", project, "RUSTC=" PGCDC_RUSTC_WASM});
  ASSERT_EQ(build.exit_code, 0) << build.output;
  for (const char* type : {"adapter", "dlq", "checkpoint"}) {
    const std::string folder = dir.path + "/rs_" + type;
    auto made = RunCommand({PgcdcBinary(), "plugin", "init", std::string("my_") + type, "--type",
                            type, "--lang", "rust", "-o", folder});
    ASSERT_EQ(made.exit_code, 0) << made.output;
    auto built = RunCommand({"make", "-C", folder, "RUSTC=" PGCDC_RUSTC_WASM});
    ASSERT_EQ(built.exit_code, 0) << type << ": " << built.output;
    EXPECT_TRUE(std::filesystem::exists(folder + "/my_" + type + ".wasm")) << type;
    std::ifstream readme(folder + "/README.md");
    const std::string text{std::istreambuf_iterator<char>(readme), {}};
    EXPECT_NE(text.find(std::string("--type ") + type + " --lang rust"), std::string::npos) << text;
    EXPECT_NE(text.find("`plugin.rs`"), std::string::npos) << text;
    EXPECT_EQ(text.find("plugin.c"), std::string::npos) << text;
    EXPECT_EQ(text.find('@'), std::string::npos) << "a placeholder left: " << text;
  }

  RunTheScaffoldedTransform("wasm_init_rs", project + "/audit_rs.wasm");
#endif
}

TEST(WasmScenario, FailingPluginsDeadLetterTheEventAndPgcdcKeepsRunning) {
  auto conn = Connect();
  FreshPublishedTable(conn, "wasm_fail", "id int PRIMARY KEY", "p_wasm_fail");
  ExecOrFail(conn, "DROP TABLE IF EXISTS wasm_dlq");
  // The plugin from YAML (plugins.transforms), its time limit from a flag.
  const std::string yaml = std::filesystem::temp_directory_path() / "pgcdc_wasm_scenario.yaml";
  {
    std::ofstream(yaml) << "plugins:\n  transforms:\n"
                        << "    - {name: looper, path: " << PluginPath("loop") << "}\n";
  }
  auto p = StartWalListen(
      WalListenArgs("p_wasm_fail", {"--config", yaml, "--plugin-call-timeout", "200ms", "--dlq",
                                    "pg_table", "--dlq-table", "wasm_dlq"}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO wasm_fail SELECT generate_series(1, 3)");
  ASSERT_TRUE(DlqHolds(conn, "wasm_dlq", 3)) << p->Stderr();
  auto errors = conn.Query("SELECT error FROM wasm_dlq ORDER BY id LIMIT 1");
  ASSERT_TRUE(errors && !errors->empty());
  EXPECT_NE(errors->at(0).at(0)->find("time limit"), std::string::npos) << *errors->at(0).at(0);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_plugin_errors_total{plugin=\"looper\",type=\"transform\"}"),
            3.0);
  EXPECT_TRUE(p->StdoutLines().empty());
  auto health = HttpGet(*p->HttpAddr(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200) << health->body;
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  std::filesystem::remove(yaml);
}

// WAL → a plugin that calls Extism's own http_request (as plugins built with
// the Extism PDKs do): each event is POSTed to an enrichment service, whose
// answer becomes the event. Then the same plugin without the service on
// --plugin-http-allow: every event goes to the DLQ with the reason, none is
// sent, and pgcdc keeps running.
TEST(WasmScenario, APluginUsingExtismHttpRequestEnrichesEventsOnlyFromAllowedOrigins) {
  HttpReceiver service({"/enrich"});
  ASSERT_TRUE(service.ok());
  service.SetResponder([](const HttpReceiver::Request& r) {
    HttpReceiver::Reply reply;
    auto event = ParseJson(r.body);
    event.as_object()["payload"].as_object()["row"].as_object()["enriched_by"] =
        r.Header("x-token");
    reply.body = boost::json::serialize(event);
    return reply;
  });
  const std::string base = service.Url("");
  const std::string config = R"({"request": {"url": ")" + service.Url("/enrich") +
                             R"(", "method": "POST", "headers": {"X-Token": "t1"}}})";
  auto conn = Connect();
  FreshPublishedTable(conn, "wasm_http", "id int PRIMARY KEY", "p_wasm_http");
  {
    auto p = StartWalListen(WalListenArgs(
        "p_wasm_http", {"--plugin-transform", PluginPath("extism_http"),
                        "--plugin-transform-config", config, "--plugin-http-allow", base}));
    ASSERT_TRUE(p);
    ExecOrFail(conn, "INSERT INTO wasm_http SELECT generate_series(1, 3)");
    ASSERT_TRUE(p->WaitForLines(3)) << p->Stderr();
    const auto lines = p->StdoutLines();
    ASSERT_EQ(lines.size(), 3u);
    for (size_t i = 0; i < lines.size(); ++i) {
      const auto event = ParseJson(lines[i]);
      EXPECT_EQ(event.at("payload").at("row").at("id").as_int64(), static_cast<int64_t>(i + 1));
      EXPECT_EQ(event.at("payload").at("row").at("enriched_by").as_string(), "t1") << lines[i];
    }
    ASSERT_EQ(service.Count(), 3u);
    EXPECT_EQ(service.Requests()[0].method, "POST");
    p->Signal(SIGTERM);
    EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  }

  ExecOrFail(conn, "DROP TABLE IF EXISTS wasm_http_dlq");
  auto p = StartWalListen(WalListenArgs(
      "p_wasm_http", {"--plugin-transform", PluginPath("extism_http"), "--plugin-transform-config",
                      config, "--dlq", "pg_table", "--dlq-table", "wasm_http_dlq"}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO wasm_http SELECT generate_series(4, 5)");
  ASSERT_TRUE(DlqHolds(conn, "wasm_http_dlq", 2)) << p->Stderr();
  auto errors = conn.Query("SELECT error FROM wasm_http_dlq ORDER BY id");
  ASSERT_TRUE(errors) << errors.error().message();
  for (const auto& row : *errors) {
    EXPECT_NE(row.at(0)->find("http_request: " + service.Url("/enrich") + " is not allowed"),
              std::string::npos)
        << *row.at(0);
  }
  EXPECT_EQ(service.Count(), 3u) << "nothing sent to an origin that is not allowed";
  EXPECT_TRUE(p->StdoutLines().empty());
  EXPECT_EQ(
      ScrapeMetric(*p, "pgcdc_plugin_errors_total{plugin=\"wasm-transform-0\",type=\"transform\"}"),
      2.0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// A receiver for the plugins' pgcdc_http_request calls: POST /events
// collects events, POST /dlq dead letters, and /kv/<slot> is a key-value
// store (PUT stores the body, GET answers it or 404) that outlives pgcdc.
struct PluginPeer {
  explicit PluginPeer(const std::string& slot)
      : kv_path("/kv/" + slot), receiver({"/events", "/dlq", kv_path}) {
    receiver.SetResponder([this](const HttpReceiver::Request& r) {
      HttpReceiver::Reply reply;
      if (r.path != kv_path) return reply;
      std::lock_guard lock(mu);
      if (r.method == "PUT") {
        checkpoint = r.body;
        reply.status = 204;
      } else if (checkpoint.empty()) {
        reply.status = 404;
      } else {
        reply.body = checkpoint;
      }
      return reply;
    });
  }
  // The distinct row ids of the events POSTed to /events.
  std::set<int64_t> Ids() const {
    std::set<int64_t> ids;
    for (const auto& r : receiver.Requests()) {
      if (r.path != "/events") continue;
      ids.insert(ParseJson(r.body).at("payload").at("row").at("id").as_int64());
    }
    return ids;
  }
  std::string Checkpoint() {
    std::lock_guard lock(mu);
    return checkpoint;
  }
  std::string kv_path;
  HttpReceiver receiver;
  std::mutex mu;
  std::string checkpoint;
};

// WAL -> a Wasm adapter (the adapter template of `plugin init` POSTs every
// event through pgcdc_http_request) with a Wasm checkpoint store (the
// checkpoint template) that keeps the slot's position on an HTTP server; pgcdc is killed with
// SIGKILL mid-stream several times: every row arrives (at least once), and the checkpoint lived in
// the plugin's store, not in pgcdc_checkpoints.
TEST(WasmScenario, WalToAWasmAdapterWithAWasmCheckpointStoreSurvivesKillNine) {
  if (!std::filesystem::exists(PluginPath("template_adapter"))) {
    GTEST_SKIP() << "no wasm32-wasi clang";
  }
  const std::string slot = "pgcdc_p_wasm_crash";
  auto conn = Connect();
  FreshPublishedTable(conn, "wasm_crash", "id int PRIMARY KEY, v int", "p_wasm_crash", slot);
  (void)conn.Query("DELETE FROM pgcdc_checkpoints WHERE slot_name = $1", {slot});
  PluginPeer peer(slot);
  ASSERT_TRUE(peer.receiver.ok());
  const std::string base = peer.receiver.Url("");
  const auto args = WalListenArgs(
      "p_wasm_crash", {"--persistent-slot", "--plugin-adapter", PluginPath("template_adapter"),
                       "--plugin-adapter-name", "echo", "--plugin-adapter-config",
                       R"({"url": ")" + base + R"(/events"})", "--checkpoint-plugin",
                       PluginPath("template_checkpoint"), "--checkpoint-plugin-config",
                       R"({"url": ")" + base + R"(/kv"})", "--plugin-http-allow", base});
  constexpr int kRows = 4000;
  RunKillNineRounds({.table = "wasm_crash",
                     .values = "g, g",
                     .rows = kRows,
                     .per_tx = 20,
                     .seed = 23,
                     .min_progress = 300,
                     .spread = 1500},
                    args, [&](Process&) { return static_cast<double>(peer.Ids().size()); });
  if (HasFailure()) return;
  auto p = StartWalListen(args);
  ASSERT_TRUE(p);
  ASSERT_TRUE(Eventually([&] { return peer.Ids().size() == kRows; }, std::chrono::seconds(120)))
      << peer.Ids().size() << " of " << kRows << "\n"
      << p->Stderr();
  const auto ids = peer.Ids();
  EXPECT_EQ(*ids.begin(), 1);
  EXPECT_EQ(*ids.rbegin(), kRows);
  // The position went to the plugin's store, never to the table.
  ASSERT_TRUE(Eventually([&] { return !peer.Checkpoint().empty(); })) << p->Stderr();
  EXPECT_GT(ParseJson(peer.Checkpoint()).at("lsn").as_int64(), 0) << peer.Checkpoint();
  auto rows = conn.Query(
      "SELECT CASE WHEN to_regclass('pgcdc_checkpoints') IS NULL THEN 0 ELSE "
      "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM "
      "pgcdc_checkpoints WHERE slot_name = %L', $1::text), false, true, '')))[1]::text::int END",
      {slot});
  ASSERT_TRUE(rows) << rows.error().message();
  EXPECT_EQ(rows->at(0).at(0), "0");
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  EXPECT_NE(p->Stderr().find("template_adapter: closed after"), std::string::npos) << p->Stderr();
  (void)conn.Query("SELECT pg_drop_replication_slot($1)", {slot});
}

// An adapter plugin that refuses every event: each is retried, then recorded
// by the DLQ plugin (which POSTs it on), and pgcdc keeps running.
TEST(WasmScenario, AFailingAdapterPluginDeadLettersThroughADlqPlugin) {
  if (!std::filesystem::exists(PluginPath("template_dlq"))) GTEST_SKIP() << "no wasm32-wasi clang";
  auto conn = Connect();
  FreshPublishedTable(conn, "wasm_refused", "id int PRIMARY KEY", "p_wasm_refused");
  PluginPeer peer("unused");
  const std::string base = peer.receiver.Url("");
  const std::string yaml = std::filesystem::temp_directory_path() / "pgcdc_wasm_dlq.yaml";
  {
    std::ofstream(yaml) << "plugins:\n  adapters:\n    - {name: refuser, path: "
                        << PluginPath("fail_adapter") << "}\n"
                        << "  dlq:\n    path: " << PluginPath("template_dlq") << "\n"
                        << "    config: {url: " << base << "/dlq}\n"
                        << "  http_allow: [" << base << "]\n";
  }
  auto p = StartWalListen(WalListenArgs(
      "p_wasm_refused", {"--config", yaml, "--dlq", "plugin", "--plugin-adapter-max-attempts", "2",
                         "--plugin-adapter-backoff-base", "10ms"}));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO wasm_refused SELECT generate_series(1, 3)");
  ASSERT_TRUE(peer.receiver.WaitForRequests(3)) << p->Stderr();
  const auto requests = peer.receiver.Requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests) {
    EXPECT_EQ(r.path, "/dlq");
    auto rec = ParseJson(r.body);
    EXPECT_EQ(rec.at("adapter").as_string(), "refuser");
    EXPECT_NE(rec.at("error").as_string().find("peer refused the event"), std::string::npos)
        << r.body;
    EXPECT_EQ(rec.at("event").at("operation").as_string(), "INSERT");
  }
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_plugin_calls_total{plugin=\"refuser\",type=\"adapter\"}"), 6.0);
  // Counted once the DLQ plugin's request has its answer, which can be after
  // the receiver recorded the request.
  EXPECT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_dlq_records_total{adapter=\"refuser\"}") == 3.0;
  })) << ScrapeMetric(*p, "pgcdc_dlq_records_total{adapter=\"refuser\"}").value_or(-1);
  EXPECT_TRUE(p->StdoutLines().empty());  // no stdout adapter by default with plugins
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  std::filesystem::remove(yaml);
}

TEST(WasmScenario, PluginSinkMisconfigurationsAreConfigurationErrors) {
  const std::string bin = std::getenv("PGCDC_BIN");
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {{"--plugin-adapter", PluginPath("fail_adapter"), "--plugin-adapter-name", "stdout"},
       "built-in adapter"},
      {{"--plugin-adapter", "/nonexistent/a.wasm"}, "/nonexistent/a.wasm"},
      {{"--dlq", "plugin"}, "--dlq-plugin-path"},
      {{"--checkpoint-plugin", PluginPath("noop")}, "--persistent-slot"},
      {{"--plugin-http-allow", "ftp://x"}, "plugins.http_allow"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {bin, "listen", "--db", "postgres://x/y", "-c", "x"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = RunCommand(args);
    EXPECT_EQ(r.exit_code, 2) << c.expect << "\n" << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << r.output;
  }
}

TEST(WasmScenario, AMissingPluginIsAConfigurationError) {
  auto r = RunCommand({std::getenv("PGCDC_BIN"), "listen", "--db", "postgres://x/y",
                       "--plugin-transform", "/nonexistent/p.wasm"});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("/nonexistent/p.wasm"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace pgcdc::testing
