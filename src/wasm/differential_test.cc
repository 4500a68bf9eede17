// Differential test: the same plugins, run on the same inputs by pgcdc's host
// (V8, src/wasm) and by the reference Extism host (npm @extism/extism, run by
// tests/tools/extism_run.js), give the same outputs and fail on the same
// inputs.
#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>

#include "core/bytes.h"
#include "core/json.h"
#include "core/json_dom.h"
#include "wasm/plugin.h"

namespace pgcdc::wasm {
namespace {

std::string PluginPath(std::string_view name) {
  return std::string(PGCDC_WASM_TESTDATA) + "/" + std::string(name) + ".wasm";
}

struct Outcome {
  bool ok = false;
  std::string output;  // the output, or the error message
};

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `function` on every input with @extism/extism.
std::vector<Outcome> RunReference(const std::string& plugin, const std::string& function,
                                  const std::string& config_json, const std::string* init,
                                  const std::vector<std::string>& inputs) {
  const std::string dir = PGCDC_TOOLS_DIR;
  const std::string in_path =
      std::filesystem::temp_directory_path() / ("pgcdc_extism_in_" + std::to_string(getpid()));
  {
    std::ofstream in(in_path);
    for (const auto& i : inputs) {
      std::string line;
      json::AppendString(line, i);
      in << line << "\n";
    }
  }
  std::string cmd = "cd " + ShellQuote(dir) +
                    " && NODE_NO_WARNINGS=1 node extism_run.js --plugin " + ShellQuote(plugin) +
                    " --function " + function + " --config " + ShellQuote(config_json);
  if (init != nullptr) cmd += " --init " + ShellQuote(*init);
  cmd += " < " + ShellQuote(in_path);
  std::vector<Outcome> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  std::string text;
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
  pclose(p);
  std::filesystem::remove(in_path);
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    auto dom = json::ParseDom(std::string_view(text).substr(start, nl - start));
    if (!dom || !dom->is_object()) break;
    Outcome o;
    if (const auto* b64 = dom->as_object().if_contains("output_b64")) {
      o.ok = true;
      o.output = DecodeBase64(std::string(b64->as_string())).value_or("<bad base64>");
    } else {
      o.output = std::string(dom->at("error").as_string());
    }
    out.push_back(std::move(o));
  }
  return out;
}

std::vector<std::string> Inputs() {
  std::vector<std::string> in = {
      "",
      "{}",
      R"({"id":"0190a0b0-0000-7000-8000-000000000001","channel":"pgcdc:users","operation":"INSERT","payload":{"op":"INSERT","table":"users","row":{"id":1,"email":"a@example.com","name":"Ann"},"old":null},"source":"wal","created_at":"2026-12-07T10:00:00.123456789Z"})",
      R"({"channel":"pgcdc:t","operation":"DELETE","payload":{"row":{"email":"x","nested":{"email":"y","keep":[1,2,{"email":3}]}}}})",
      R"({"payload":{"text":"unicode: żółć 日本語 🎉 \"quoted\" back\\slash","email":null}})",
      "not json at all, fail here",
      // Edges of drop_field's scan (C and Rust must agree on them too): the only
      // member, top-level arrays, members cut at the end of the input.
      R"({"email":1})",
      R"([{"email":1},{"a":{"email":[1,{"email":2}]},"email":"x","b":"email"}])",
      R"({"a":1,"email")",
      R"({"a":1,"email":)",
      R"({"a":1,"email":"unterminated)",
      R"({"a":"trailing backslash\)",
      R"({"email":{"deep":[1,{"email":2})",
  };
  std::mt19937 rng(23);
  std::string big = R"({"payload":{"rows":[)";
  for (int i = 0; i < 3000; ++i) {
    big += (i ? "," : "") + std::string(R"({"id":)") + std::to_string(rng() % 100000) +
           R"(,"email":"u)" + std::to_string(i) + R"(@x.org"})";
  }
  in.push_back(big + "]}}");
  return in;
}

struct Case {
  std::string plugin;
  std::string function;
  std::map<std::string, std::string> config;  // values are JSON texts
  std::optional<std::string> init;            // input of `init`, called first
};

TEST(DifferentialTest, PgcdcAndTheReferenceExtismHostAgree) {
  if (std::system("node --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "no node";
  if (!std::filesystem::exists(std::string(PGCDC_TOOLS_DIR) + "/node_modules/@extism/extism")) {
    GTEST_SKIP() << "npm @extism/extism not installed (npm ci in tests/tools)";
  }
  std::vector<Case> cases = {
      {"noop", "transform", {}, {}},  {"drop_event", "transform", {}, {}},
      {"trap", "transform", {}, {}},  {"host_calls", "transform", {{"greeting", R"("hello")"}}, {}},
      {"host_calls", "fail", {}, {}}, {"fail_adapter", "handle", {}, {}},
  };
  if (std::filesystem::exists(PluginPath("drop_field"))) {
    cases.push_back({"drop_field", "transform", {{"field", R"("email")"}}, {}});
    cases.push_back({"drop_field", "transform", {}, {}});  // no config: an error each time
    cases.push_back({"drop_field", "transform", {{"field", R"("payload")"}}, {}});
    cases.push_back({"echo_adapter",
                     "handle",
                     {{"fail_match", R"("fail")"}},
                     std::string(R"({"fail_match":"fail"})")});
  }
  if (std::filesystem::exists(PluginPath("drop_field_rs"))) {  // drop_field.rs (rustc)
    cases.push_back({"drop_field_rs", "transform", {{"field", R"("email")"}}, {}});
    cases.push_back({"drop_field_rs", "transform", {}, {}});
    cases.push_back({"drop_field_rs", "transform", {{"field", R"("payload")"}}, {}});
  }
  const auto inputs = Inputs();
  for (const auto& c : cases) {
    SCOPED_TRACE(c.plugin + "." + c.function);
    std::string config_json;
    json::Writer w(config_json);
    w.BeginObject();
    for (const auto& [k, v] : c.config) w.StringField(k, v);  // Extism config: strings
    w.EndObject();
    auto plugin = Plugin::Load(PluginPath(c.plugin),
                               PluginOptions{.name = c.plugin, .type = "test", .config = c.config});
    ASSERT_TRUE(plugin) << plugin.error().message();
    if (c.init) {
      ASSERT_TRUE((*plugin)->Call("init", *c.init));
    }
    const auto ref = RunReference(PluginPath(c.plugin), c.function, config_json,
                                  c.init ? &*c.init : nullptr, inputs);
    ASSERT_EQ(ref.size(), inputs.size()) << "the reference host did not answer every input";
    for (size_t i = 0; i < inputs.size(); ++i) {
      SCOPED_TRACE("input #" + std::to_string(i));
      auto ours = (*plugin)->Call(c.function, inputs[i]);
      ASSERT_EQ(ours.has_value(), ref[i].ok)
          << "pgcdc: " << (ours ? "ok" : ours.error().message()) << "\nextism: " << ref[i].output;
      if (ours) {
        EXPECT_EQ(*ours, ref[i].output);
      } else {
        // Same cause: the plugin's own message (error_set) or the trap.
        const std::string& theirs = ref[i].output;
        const std::string key =
            theirs.substr(theirs.find(": ") == std::string::npos ? 0 : theirs.find(": ") + 2);
        EXPECT_NE(ours.error().message().find(key), std::string::npos)
            << "pgcdc: " << ours.error().message() << "\nextism: " << theirs;
      }
    }
  }
}

// drop_field.rs is drop_field.c in Rust: on the same inputs and config, both
// give the same output bytes, or fail with the same message.
TEST(DifferentialTest, RustDropFieldGivesTheCPluginsOutputs) {
  for (const char* name : {"drop_field", "drop_field_rs"}) {
    if (!std::filesystem::exists(PluginPath(name))) {
      GTEST_SKIP() << PluginPath(name)
                   << " was not built: drop_field needs clang-19 with wasi-libc, drop_field_rs "
                      "rustc with libstd-rust-dev-wasm32 (scripts/bootstrap)";
    }
  }
  auto inputs = Inputs();
  inputs.push_back(R"({"e\"mail":1,"x":[{"e\"mail":{"y":"}"}}],"z":"e\"mail"})");
  const std::vector<std::map<std::string, std::string>> configs = {
      {{"field", R"("email")"}},
      {{"field", R"("payload")"}},
      {{"field", R"("e\"mail")"}},
      {{"field", R"("not_there")"}},
      {{"fields", R"("email")"}},  // the key is misspelt
      {}};
  int compared = 0;
  for (const auto& config : configs) {
    const std::string field = config.count("field") ? config.at("field") : "<none>";
    SCOPED_TRACE("field=" + field);
    auto c =
        Plugin::Load(PluginPath("drop_field"), {.name = "c", .type = "test", .config = config});
    auto rust = Plugin::Load(PluginPath("drop_field_rs"),
                             {.name = "rust", .type = "test", .config = config});
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_TRUE(rust) << rust.error().message();
    for (size_t i = 0; i < inputs.size(); ++i) {
      SCOPED_TRACE("input #" + std::to_string(i) + ": " + inputs[i].substr(0, 200));
      auto from_c = (*c)->Call("transform", inputs[i]);
      auto from_rust = (*rust)->Call("transform", inputs[i]);
      ASSERT_EQ(from_c.has_value(), from_rust.has_value())
          << "C: " << (from_c ? *from_c : from_c.error().message())
          << "\nRust: " << (from_rust ? *from_rust : from_rust.error().message());
      if (from_c) {
        EXPECT_EQ(*from_rust, *from_c);
      } else {
        // "plugin <name>: transform: <the plugin's message>"
        auto message = [](const Error& e) {
          const std::string& m = e.message();
          return m.substr(m.find(": ") == std::string::npos ? 0 : m.find(": ") + 2);
        };
        EXPECT_EQ(message(from_rust.error()), message(from_c.error()));
        EXPECT_NE(from_c.error().message().find("config \"field\" is required"), std::string::npos)
            << from_c.error().message();
      }
      ++compared;
    }
  }
  EXPECT_EQ(compared, static_cast<int>(configs.size() * inputs.size()));
}

}  // namespace
}  // namespace pgcdc::wasm
