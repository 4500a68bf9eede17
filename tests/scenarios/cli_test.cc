// User journey: configure pgcdc (flags, env, YAML) and get clear answers for
// mistakes; discover connectors with list/describe; generate setup SQL.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

namespace fs = std::filesystem;

// Runs pgcdc to completion; returns {exit code, stdout lines, stderr}.
struct Ran {
  int code = -1;
  std::vector<std::string> out;
  std::string err;
};
Ran RunPgcdc(std::vector<std::string> args, std::map<std::string, std::string> env = {},
             std::string cwd = {}) {
  auto p = Process::Start({.args = std::move(args), .env = std::move(env), .cwd = std::move(cwd)});
  Ran r;
  if (!p) return r;
  auto code = p->Wait(20s);
  r.code = code.value_or(-1);
  r.out = p->StdoutLines();
  r.err = p->Stderr();
  return r;
}

size_t Count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = s.find(needle); pos != std::string::npos; pos = s.find(needle, pos + 1)) ++n;
  return n;
}

// libmongoc (linked when the mongodb connector is built) creates a shared
// memory segment /dev/shm/mongoc-<pid> in every process it is loaded into;
// pgcdc unlinks it at start so a killed process leaves nothing behind.
TEST(CliScenario, NoSharedMemorySegmentIsLeftInDevShm) {
  auto p =
      Process::Start({.args = {"listen", "--db", "postgresql://127.0.0.1:1/x?connect_timeout=1",
                               "-c", "c", "--detector-backoff-base", "1s"}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("pipeline started")) << p->Stderr();
  const std::string segment = "/dev/shm/mongoc-" + std::to_string(p->pid());
  EXPECT_FALSE(std::filesystem::exists(segment)) << segment;
  p->Signal(SIGKILL);
  p->Wait();
  EXPECT_FALSE(std::filesystem::exists(segment)) << segment;
}

TEST(CliScenario, UnknownFlagIsOneClearUsageError) {
  auto r = RunPgcdc({"listen", "--no-such-flag"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
  EXPECT_EQ(Count(r.err, "\n"), 2u) << r.err;  // message + hint, no stack trace
}

TEST(CliScenario, AllValidationErrorsReportedTogetherWithExit2) {
  auto r = RunPgcdc({"listen", "--bus-mode", "turbo", "--bus-buffer", "0", "-a", "stdout,nope",
                     "--route", "webhook=pgcdc:x", "--shutdown-timeout", "soon"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("config validation: 7 errors"), std::string::npos) << r.err;
  for (const char* m : {"bus.mode: invalid value \"turbo\"", "bus.buffer_size: must be >= 1",
                        "adapter \"nope\"", "route for \"webhook\"", "database_url: required",
                        "channels: listen_notify needs at least one channel",
                        "shutdown_timeout: invalid duration \"soon\""}) {
    EXPECT_NE(r.err.find(m), std::string::npos) << m << "\n" << r.err;
  }
}

// Regression (issue 13): typos under implemented sections used to be ignored
// silently (`sse: {adr: x}` started on the default address). Every unknown key
// is now exit 2 with the file position, the key path and a suggestion.
TEST(CliScenario, TyposInAnySectionAreUsageErrorsWithSuggestions) {
  TempDir d;
  const std::string base = "database_url: postgres://x\nchannels: [a]\n";
  struct Case {
    std::string yaml;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {"sse: {adr: \"127.0.0.1:9999\"}\n", "unknown key `sse.adr` (did you mean `addr`?)"},
      {"webhook: {urll: http://x}\n", "unknown key `webhook.urll` (did you mean `url`?)"},
      {"detector: {slot_nme: s}\n", "unknown key `detector.slot_nme` (did you mean `slot_name`?)"},
      {"wal: {slot_name: s}\n", "unknown key `wal` (did you mean `detector`?"},
      {"webhok: {url: http://x}\n", "unknown key `webhok` (did you mean `webhook`?)"},
      {"nats: {ulr: nats://x}\n", "unknown key `nats.ulr` (did you mean `url`?)"},
  };
  for (const auto& c : cases) {
    auto file = d.Write("typo.yaml", base + c.yaml);
    auto r = RunPgcdc({"--config", file, "listen"});
    EXPECT_EQ(r.code, 2) << c.yaml << r.err;
    EXPECT_NE(r.err.find("config validation:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(file + ":3:"), std::string::npos) << c.yaml << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << c.yaml << r.err;
  }
  // Keys of the reference tool that this build does not implement load with
  // a warning (an upstream file still works).
  auto file = d.Write("upstream.yaml", base + "sse: {read_timeout: 5s}\n");
  auto r = RunPgcdc({"--config", file, "config", "validate", file});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("sse.read_timeout\" is not supported by this build"), std::string::npos)
      << r.err;
  // The schema store's section is typed and strict.
  auto schema =
      d.Write("schema.yaml", base + "schema: {enabled: false, store: pg, db_url: postgres://y}\n");
  r = RunPgcdc({"--config", schema, "config", "validate", schema});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("not supported by this build"), std::string::npos) << r.err;
  auto typo = d.Write("schema_typo.yaml", base + "schema: {enabled: true, stor: pg}\n");
  r = RunPgcdc({"--config", typo, "config", "validate", typo});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown key `schema.stor` (did you mean `store`?)"), std::string::npos)
      << r.err;
}

TEST(CliScenario, UnknownFlagGetsASuggestion) {
  auto r = RunPgcdc({"listen", "--sse-adr", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown flag --sse-adr: did you mean --sse-addr?"), std::string::npos)
      << r.err;
}

TEST(CliScenario, BadYamlIsReportedWithPosition) {
  TempDir d;
  auto bad = d.Write("bad.yaml", "database_url: postgres://x\nchannels: [a, b\n");
  auto r = RunPgcdc({"--config", bad, "listen"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("bad.yaml:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("invalid YAML"), std::string::npos) << r.err;

  auto typo = d.Write("typo.yaml",
                      "database_url: postgres://x\nchannels: [a]\nbus:\n  bufer_size: 10\n"
                      "shutdown_timeout: 5\n");
  r = RunPgcdc({"--config", typo, "listen"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(typo + ":4:3: unknown key `bus.bufer_size` (did you mean `buffer_size`?)"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("shutdown_timeout: invalid duration \"5\""), std::string::npos) << r.err;

  r = RunPgcdc({"--config", d.path + "/missing.yaml", "listen"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("cannot read config file"), std::string::npos) << r.err;
}

TEST(CliScenario, PrecedenceFlagOverEnvOverYaml) {
  // Observable through describe-free means: `config validate` reads only the
  // file, `listen` would connect; use an unreachable DB and read the log.
  TempDir d;
  d.Write("pgcdc.yaml",
          "database_url: postgresql://postgres@127.0.0.1:1/fromyaml?connect_timeout=1\n"
          "channels: [fromyaml]\nlog_level: debug\nhttp_addr: \"\"\n"
          "detector:\n  backoff_base: 100ms\n  backoff_cap: 100ms\n");
  auto p = Process::Start({.args = {"listen", "-c", "fromflag"},
                           .env = {{"PGCDC_DATABASE_URL",
                                    "postgresql://postgres@127.0.0.1:1/fromenv?connect_timeout=1"},
                                   {"PGCDC_CHANNELS", "fromenv"}},
                           .cwd = d.path,
                           .own_http_addr = true});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("connection lost")) << p->Stderr();
  p->Signal(SIGTERM);
  ASSERT_EQ(p->Wait(), 0) << p->Stderr();
  auto err = p->Stderr();
  EXPECT_NE(err.find("/fromenv"), std::string::npos) << "env beats yaml for database_url\n" << err;
  EXPECT_EQ(err.find("/fromyaml"), std::string::npos) << err;
  EXPECT_NE(err.find("channels=fromflag"), std::string::npos) << "flag beats env\n" << err;
  EXPECT_EQ(err.find("http server listening"), std::string::npos) << "yaml disabled http\n" << err;
}

TEST(CliScenario, ListAndDescribe) {
  auto r = RunPgcdc({"list"});
  ASSERT_EQ(r.code, 0);
  std::string all;
  for (auto& l : r.out) all += l + "\n";
  EXPECT_NE(all.find("listen_notify"), std::string::npos);
  EXPECT_NE(all.find("stdout"), std::string::npos);

  r = RunPgcdc({"list", "adapters", "-o", "json"});
  ASSERT_EQ(r.code, 0);
  ASSERT_EQ(r.out.size(), 1u);
  auto arr = ParseJson(r.out[0]).as_array();
  ASSERT_GE(arr.size(), 1u);
  EXPECT_EQ(arr[0].as_object().at("kind").as_string(), "adapter");

  r = RunPgcdc({"describe", "listen_notify", "-o", "json"});
  ASSERT_EQ(r.code, 0);
  auto d = ParseJson(r.out[0]).as_object();
  EXPECT_EQ(d["kind"].as_string(), "detector");
  bool found_channel = false;
  for (auto& param : d["params"].as_array()) {
    auto o = param.as_object();
    if (o["key"].as_string() == "channels") {
      found_channel = true;
      EXPECT_EQ(o["flag"].as_string(), "--channel");
      EXPECT_EQ(o["env"].as_string(), "PGCDC_CHANNELS");
      EXPECT_EQ(o["type"].as_string(), "list");
    }
  }
  EXPECT_TRUE(found_channel);

  r = RunPgcdc({"describe", "pipeline"});
  ASSERT_EQ(r.code, 0);
  all.clear();
  for (auto& l : r.out) all += l + "\n";
  EXPECT_NE(all.find("--bus-mode"), std::string::npos) << all;
  EXPECT_NE(all.find("PGCDC_BUS_BUFFER_SIZE"), std::string::npos) << all;

  r = RunPgcdc({"describe", "no_such_sink"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown connector \"no_such_sink\""), std::string::npos);
}

TEST(CliScenario, ListenHelpShowsGeneratedFlags) {
  auto r = RunPgcdc({"listen", "--help"});
  ASSERT_EQ(r.code, 0);
  std::string all;
  for (auto& l : r.out) all += l + "\n";
  for (const char* f :
       {"--db", "-c,--channel", "--bus-mode", "--bus-buffer", "--route", "--shutdown-timeout",
        "--http-addr", "--metrics-addr", "--detector-backoff-base", "-a,--adapter"}) {
    EXPECT_NE(all.find(f), std::string::npos) << f << "\n" << all;
  }
}

TEST(CliScenario, ConfigInitThenValidate) {
  TempDir d;
  auto r = RunPgcdc({"config", "init", "-o", d.path + "/pgcdc.yaml"});
  ASSERT_EQ(r.code, 0) << r.err;
  // The template has no database yet: validation says exactly what is missing.
  r = RunPgcdc({"config", "validate", d.path + "/pgcdc.yaml"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("database_url: required"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("config validate --env"), std::string::npos) << r.err;
  // A file that leaves the database (and the channels) to the environment, as a
  // container or a systemd EnvironmentFile would: valid with --env only.
  const std::map<std::string, std::string> env = {
      {"PGCDC_DATABASE_URL", "postgres://u@localhost/db"}, {"PGCDC_CHANNELS", "orders"}};
  r = RunPgcdc({"config", "validate", d.path + "/pgcdc.yaml"}, env);
  EXPECT_EQ(r.code, 2) << r.err;
  r = RunPgcdc({"config", "validate", "--env", d.path + "/pgcdc.yaml"}, env);
  EXPECT_EQ(r.code, 0) << r.err;
  // Refuses to overwrite.
  r = RunPgcdc({"config", "init", "-o", d.path + "/pgcdc.yaml"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos);

  std::string text;
  {
    std::ifstream in(d.path + "/pgcdc.yaml");
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto pos = text.find("# database_url:");
  ASSERT_NE(pos, std::string::npos) << text;
  text.replace(pos, 2, "");
  pos = text.find("# channels:");
  ASSERT_NE(pos, std::string::npos) << text;
  text.replace(pos, 2, "");
  d.Write("filled.yaml", text);
  r = RunPgcdc({"config", "validate", d.path + "/filled.yaml"});
  EXPECT_EQ(r.code, 0) << r.err << "\n" << text;
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_NE(r.out[0].find("valid (detector listen_notify, adapters stdout)"), std::string::npos);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(CliScenario, QuickstartWritesAValidConfigAndTheCaptureSql) {
  TempDir d;
  // Without a terminal and with --non-interactive nothing is asked: what the
  // configuration lacks is named (exit 2) and nothing is written.
  const std::vector<std::string> base = {"quickstart", "--non-interactive", "--table", "orders",
                                         "--adapter",  "webhook",           "-d",      d.path};
  auto r = RunPgcdc(base);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("webhook.url: required"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d.path + "/pgcdc.yaml"));
  auto args = base;
  for (const char* a : {"--set", "webhook.url=http://127.0.0.1:9/hook", "--docker"}) {
    args.push_back(a);
  }
  r = RunPgcdc(args);
  ASSERT_EQ(r.code, 0) << r.err;
  r = RunPgcdc({"config", "validate", d.path + "/pgcdc.yaml"});
  EXPECT_EQ(r.code, 0) << r.err << ReadAll(d.path + "/pgcdc.yaml");
  ASSERT_EQ(r.out.size(), 1u);
  EXPECT_NE(r.out[0].find("valid (detector wal, adapters webhook)"), std::string::npos) << r.out[0];
  const std::string yaml = ReadAll(d.path + "/pgcdc.yaml");
  EXPECT_NE(yaml.find("publication: \"pgcdc_orders\""), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("persistent_slot: true"), std::string::npos) << yaml;
  const std::string sql = ReadAll(d.path + "/init.sql");
  EXPECT_NE(sql.find("CREATE PUBLICATION \"pgcdc_orders\""), std::string::npos) << sql;
  EXPECT_NE(ReadAll(d.path + "/docker-compose.yml").find("wal_level=logical"), std::string::npos);
  // Existing files are kept unless --force.
  r = RunPgcdc(args);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  args.push_back("--force");
  EXPECT_EQ(RunPgcdc(args).code, 0);
  // Bad choices are usage errors.
  r = RunPgcdc({"quickstart", "--non-interactive", "--adapter", "nope", "-d", d.path});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown or not built adapter \"nope\""), std::string::npos) << r.err;

  // Answers on stdin (plain prompts, no terminal needed): a file sink, whose
  // path the wizard asks for because validation reports it missing.
  TempDir e;
  auto p = Process::Start(
      {.args = {"-c",
                "printf 'postgres\\nlisten_notify\\npostgres://u@localhost/app\\nitems\\nfile\\n" +
                    e.path + "/events.jsonl\\n' | \"$0\" quickstart -d " + e.path,
                PgcdcBinary()},
       .binary = "/bin/sh"});
  ASSERT_TRUE(p);
  const auto code = p->Wait(20s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << p->Stderr();
  EXPECT_NE(p->Stderr().find("file.path — "), std::string::npos) << p->Stderr();
  r = RunPgcdc({"config", "validate", e.path + "/pgcdc.yaml"});
  EXPECT_EQ(r.code, 0) << r.err << ReadAll(e.path + "/pgcdc.yaml");
  const std::string asked = ReadAll(e.path + "/pgcdc.yaml");
  EXPECT_NE(asked.find("\"pgcdc:items\""), std::string::npos) << asked;
  EXPECT_NE(asked.find(e.path + "/events.jsonl"), std::string::npos) << asked;
  EXPECT_NE(ReadAll(e.path + "/init.sql").find("pg_notify"), std::string::npos);
}

TEST(CliScenario, InitValidatesNames) {
  auto r = RunPgcdc({"init", "--table", "orders; DROP TABLE users"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("invalid table name"), std::string::npos);
  r = RunPgcdc({"init", "--table", "orders"});
  EXPECT_EQ(r.code, 0);
  r = RunPgcdc({"init"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--table is required"), std::string::npos) << r.err;
}

TEST(CliScenario, Version) {
  auto r = RunPgcdc({"version", "-o", "json"});
  ASSERT_EQ(r.code, 0);
  auto v = ParseJson(r.out[0]).as_object();
  for (const char* k : {"version", "commit", "build_type", "compiler"}) {
    EXPECT_TRUE(v.contains(k)) << k;
    EXPECT_FALSE(v[k].as_string().empty()) << k;
  }
}

TEST(CliScenario, HttpBindFailureIsClear) {
  // Occupy a port, then ask pgcdc to use it.
  auto first =
      Process::Start({.args = {"listen", "--db", "postgresql://127.0.0.1:1/x", "-c", "c",
                               "--http-addr", "127.0.0.1:0", "--detector-backoff-base", "1s"}});
  ASSERT_TRUE(first);
  auto addr = first->HttpAddr();
  ASSERT_TRUE(addr);
  auto r =
      RunPgcdc({"listen", "--db", "postgresql://127.0.0.1:1/x", "-c", "c", "--http-addr", *addr});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot start http server"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("in use"), std::string::npos) << r.err;
  first->Signal(SIGTERM);
  EXPECT_EQ(first->Wait(), 0);
}

}  // namespace
}  // namespace pgcdc::testing
