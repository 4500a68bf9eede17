#include "wasm/plugin.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "core/metrics.h"

namespace pgcdc::wasm {
namespace {

std::string PluginPath(std::string_view name) {
  return std::string(PGCDC_WASM_TESTDATA) + "/" + std::string(name) + ".wasm";
}

std::unique_ptr<Plugin> MustLoad(std::string_view name, PluginOptions options = {}) {
  if (options.name.empty()) options.name = std::string(name);
  options.type = "transform";
  auto p = Plugin::Load(PluginPath(name), std::move(options));
  EXPECT_TRUE(p) << (p ? "" : p.error().message());
  return p ? std::move(*p) : nullptr;
}

bool ExposedHas(std::string_view line) {
  return metrics::Default().Expose().find(line) != std::string::npos;
}

TEST(PluginTest, NoopReturnsItsInputWhateverTheLength) {
  ASSERT_TRUE(Available());
  auto p = MustLoad("noop");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->HasFunction("transform"));
  EXPECT_FALSE(p->HasFunction("handle"));
  for (const std::string& input :
       std::vector<std::string>{"", "a", "12345678", "123456789", std::string(10000, 'x'),
                                std::string(300000, 'y'), "small again"}) {
    auto out = p->Call("transform", input);
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(*out, input);
  }
  EXPECT_TRUE(ExposedHas("pgcdc_plugin_calls_total{plugin=\"noop\",type=\"transform\"} 7"));
}

TEST(PluginTest, NoOutputIsAnEmptyString) {
  auto p = MustLoad("drop_event");
  ASSERT_TRUE(p);
  auto out = p->Call("transform", R"({"id":"x"})");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(*out, "");
}

TEST(PluginTest, ATrapIsAnErrorAndThePluginStaysUsable) {
  auto p = MustLoad("trap");
  ASSERT_TRUE(p);
  auto out = p->Call("transform", "{}");
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message().find("unreachable"), std::string::npos) << out.error().message();
  EXPECT_TRUE(p->Call("ok", ""));
  EXPECT_TRUE(ExposedHas("pgcdc_plugin_errors_total{plugin=\"trap\",type=\"transform\"} 1"));
}

TEST(PluginTest, AnEndlessLoopIsStoppedAtTheCallTimeLimit) {
  auto p = MustLoad("loop", {.call_timeout = std::chrono::milliseconds(100)});
  ASSERT_TRUE(p);
  for (int i = 0; i < 2; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto out = p->Call("transform", "{}");
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code(), ErrorCode::kTimeout) << out.error().message();
    EXPECT_GE(took, std::chrono::milliseconds(100));
    EXPECT_LT(took, std::chrono::seconds(10));
    auto ok = p->Call("ok", "");
    EXPECT_TRUE(ok) << "termination must not leak into the next call: " << ok.error().message();
  }
}

TEST(PluginTest, MemoryCannotGrowPastTheLimit) {
  auto p = MustLoad("memory_hog");
  ASSERT_TRUE(p);
  auto out = p->Call("transform", "{}");
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message().find("unreachable"), std::string::npos)
      << "memory.grow must fail (-1) so the plugin reaches its trap: " << out.error().message();
}

TEST(PluginTest, HostFunctionsConfigVarsLogAndMetrics) {
  auto p = MustLoad("host_calls", {.name = "hc", .config = {{"greeting", "\"hello\""}}});
  ASSERT_TRUE(p);
  for (int i = 1; i <= 3; ++i) {
    auto out = p->Call("transform", "");
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(*out, "\"hello\"");
    auto count = p->Call("count", "");
    ASSERT_TRUE(count) << count.error().message();
    EXPECT_EQ(*count, std::string(1, static_cast<char>(i))) << "variables persist across calls";
  }
  EXPECT_TRUE(ExposedHas("pgcdc_plugin_custom_wat_calls_total{plugin=\"hc\"} 9"));
}

TEST(PluginTest, PluginErrorsBecomeCallErrors) {
  auto p = MustLoad("host_calls", {.name = "hc_err"});
  ASSERT_TRUE(p);
  auto no_config = p->Call("transform", "");
  ASSERT_FALSE(no_config);
  EXPECT_NE(no_config.error().message().find("no greeting configured"), std::string::npos);
  auto fail = p->Call("fail", "");
  ASSERT_FALSE(fail);
  EXPECT_NE(fail.error().message().find("failed on purpose"), std::string::npos);
  auto exit = p->Call("exit", "");
  ASSERT_FALSE(exit);
  EXPECT_NE(exit.error().message().find("proc_exit(3)"), std::string::npos);
  auto unsupported = p->Call("unsupported", "");
  ASSERT_FALSE(unsupported);
  EXPECT_NE(unsupported.error().message().find("returned 52"), std::string::npos)
      << "WASI calls we do not offer answer ENOSYS: " << unsupported.error().message();
  auto missing = p->Call("handle", "");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

// Extism's http_request through the engine: the request JSON and raw body
// reach PluginOptions::http (here a fake), the raw answer and its status come
// back; no answer traps with the reason.
TEST(PluginTest, ExtismHttpRequestPassesBytesAndStatus) {
  std::vector<HttpRequest> seen;
  PluginOptions o{.name = "eh",
                  .config = {{"request", R"({"url":"http://h/x","method":"post",)"
                                         R"("headers":{"X-Token":"t"}})"}}};
  o.http = [&seen](const HttpRequest& r) -> HttpReply {
    seen.push_back(r);
    if (r.url == "http://h/x") return {.status = 201, .body = std::string("\xff\x00ok", 4)};
    return {.body = r.url + " is not allowed"};
  };
  auto p = MustLoad("extism_http", o);
  ASSERT_TRUE(p);
  auto status = p->Call("status", "");
  ASSERT_TRUE(status) << status.error().message();
  EXPECT_EQ(*status, "000") << "no request yet";
  auto out = p->Call("call", std::string("\x01\x00\xfe", 3));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(*out, std::string("\xff\x00ok", 4));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].body, std::string("\x01\x00\xfe", 3));
  ASSERT_EQ(seen[0].headers.size(), 1u);
  EXPECT_EQ(seen[0].headers[0].second, "t");
  status = p->Call("status", "");
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, "201");
  // No body: the body argument is 0 and the request has none.
  ASSERT_TRUE(p->Call("call", ""));
  EXPECT_TRUE(seen.back().body.empty());

  // Refused (not on the allow-list, connection error): the call fails with why.
  o.config = {{"request", R"({"url":"http://elsewhere/"})"}};
  o.name = "eh2";
  auto refused = MustLoad("extism_http", o);
  ASSERT_TRUE(refused);
  auto r = refused->Call("call", "x");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("http_request: http://elsewhere/ is not allowed"),
            std::string::npos)
      << r.error().message();
  // A malformed request JSON is refused before anything is sent.
  o.config = {{"request", R"({"method":"GET"})"}};
  o.name = "eh3";
  auto bad = MustLoad("extism_http", o);
  ASSERT_TRUE(bad);
  const size_t before = seen.size();
  auto b = bad->Call("call", "");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message().find("url: required"), std::string::npos) << b.error().message();
  EXPECT_EQ(seen.size(), before);
}

TEST(PluginTest, LoadErrorsAreClear) {
  auto missing = Plugin::Load("/nonexistent/plugin.wasm", {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  auto garbage = Plugin::FromBytes("not wasm", {});
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message().find("invalid Wasm module"), std::string::npos);
  // A module importing env.nope, which no host offers.
  const std::string needs_import(
      "\0asm\1\0\0\0"
      "\1\4\1\x60\0\0"
      "\2\x0c\1\3env\4nope\0\0",
      28);
  // A module whose memory starts at 2000 pages (125 MiB), past the 1024-page limit.
  const std::string too_big(
      "\0asm\1\0\0\0"
      "\5\4\1\0\xd0\x0f",
      14);
  auto big = Plugin::FromBytes(too_big, {});
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message().find("memory"), std::string::npos) << big.error().message();
  auto unlinked = Plugin::FromBytes(needs_import, {});
  ASSERT_FALSE(unlinked);
  EXPECT_NE(unlinked.error().message().find("module=\"env\""), std::string::npos)
      << unlinked.error().message();
}

TEST(PluginTest, CallsFromSeveralThreadsAreSerialised) {
  auto p = MustLoad("noop", {.name = "noop_threads"});
  ASSERT_TRUE(p);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::string input = "thread " + std::to_string(t);
      for (int i = 0; i < 200; ++i) {
        auto out = p->Call("transform", input);
        if (out && *out == input) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 800);
}

// systemd's MemoryDenyWriteExecute=yes forbids what V8 needs; V8 would abort
// the process. A child process under the kernel's equivalent (PR_SET_MDWE,
// Linux >= 6.3) must get an error instead. The check runs first, so the
// child never touches the V8 its parent started.
TEST(PluginTest, NoExecutableMemoryIsAnErrorNotAnAbort) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    constexpr int kSetMdwe = 65;  // PR_SET_MDWE
    if (prctl(kSetMdwe, 1, 0, 0, 0) != 0) _exit(3);
    auto p = Plugin::Load(PluginPath("noop"), {});
    _exit(!p && p.error().message().find("executable memory") != std::string::npos ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  if (WEXITSTATUS(status) == 3) GTEST_SKIP() << "kernel without PR_SET_MDWE";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// A drop_field plugin configured with field "email" removes it from `row`
// and `old`, and leaves a look-alike inside a string alone.
void ExpectDropsEmail(Plugin& p) {
  auto out = p.Call(
      "transform",
      R"({"id":"1","payload":{"op":"INSERT","row":{"id":1,"email":"a@b.c","name":"x,\"email\":"},)"
      R"("old":{"email":{"n":[1,2]}}}})");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(*out, R"({"id":"1","payload":{"op":"INSERT","row":{"id":1,"name":"x,\"email\":"},)"
                  R"("old":{}}})");
}

TEST(PluginTest, CPluginBuiltForWasiDropsAField) {
  if (!std::filesystem::exists(PluginPath("drop_field"))) {
    GTEST_SKIP() << "clang-19 with wasi-libc not found at build time";
  }
  auto p = MustLoad("drop_field", {.config = {{"field", "\"email\""}}});
  ASSERT_TRUE(p);
  ExpectDropsEmail(*p);
  EXPECT_TRUE(p->Call("hello", "")) << "WASI fd_write reaches our log";
  auto no_config = MustLoad("drop_field");
  ASSERT_TRUE(no_config);
  EXPECT_FALSE(no_config->Call("transform", "{}"));
}

// drop_field.rs: the same plugin in Rust (rustc, wasm32-unknown-unknown, no
// crates: pdk/pgcdc_pdk.rs declares the imports).
TEST(PluginTest, RustPluginBuiltWithoutCratesDropsAField) {
  if (!std::filesystem::exists(PluginPath("drop_field_rs"))) {
    GTEST_SKIP() << "no rustc with the wasm32-unknown-unknown std at build time "
                    "(apt install rustc libstd-rust-dev-wasm32 lld-14)";
  }
  auto p = MustLoad("drop_field_rs", {.config = {{"field", "\"email\""}}});
  ASSERT_TRUE(p);
  ExpectDropsEmail(*p);
  // Far more than one 64 KiB page: the Rust allocator grows the memory.
  std::string big = R"({"rows":[)";
  for (int i = 0; i < 20000; ++i) big += (i ? "," : "") + std::string(R"({"id":1,"email":"e"})");
  auto out = p->Call("transform", big + "]}");
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->size(), big.size() + 2 - 20000 * std::string(R"(,"email":"e")").size());
  auto no_config = MustLoad("drop_field_rs", {.name = "drop_field_rs_unconfigured"});
  ASSERT_TRUE(no_config);
  auto failed = no_config->Call("transform", "{}");
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().message().find("config \"field\" is required"), std::string::npos)
      << failed.error().message();
  EXPECT_FALSE(no_config->Call("transform", "{}")) << "stays usable and fails again";
}

// The `plugin init --type transform` templates, in C and in Rust: they pass
// events on unchanged and drop (and count) those of the configured operation.
TEST(PluginTest, TransformTemplatesDropTheConfiguredOperation) {
  int tested = 0;
  for (const char* name : {"template_transform", "template_transform_rs"}) {
    if (!std::filesystem::exists(PluginPath(name))) continue;
    SCOPED_TRACE(name);
    ++tested;
    auto p = MustLoad(name, {.config = {{"drop_operation", "\"DELETE\""}}});
    ASSERT_TRUE(p);
    const std::string insert = R"({"id":"1","operation":"INSERT","payload":{"op":"DELETE"}})";
    auto out = p->Call("transform", insert);
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(*out, insert);
    out = p->Call("transform", R"({"id":"2","operation":"DELETE","payload":{}})");
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(*out, "") << "no output: dropped";
    EXPECT_TRUE(
        ExposedHas("pgcdc_plugin_custom_dropped_total{plugin=\"" + std::string(name) + "\"} 1"))
        << metrics::Default().Expose();
    auto unconfigured = MustLoad(name, {.name = std::string(name) + "_plain"});
    ASSERT_TRUE(unconfigured);
    out = unconfigured->Call("transform", R"({"operation":"DELETE"})");
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(*out, R"({"operation":"DELETE"})");
  }
  if (tested == 0) {
    GTEST_SKIP() << "neither clang-19 with wasi-libc nor rustc with libstd-rust-dev-wasm32";
  }
}

}  // namespace
}  // namespace pgcdc::wasm
