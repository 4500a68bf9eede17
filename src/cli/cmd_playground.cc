// `pgcdc playground`: a self-contained demo. Starts a throwaway PostgreSQL
// cluster from the local binaries (no Docker, no existing database), creates
// an `orders` table with the `pgcdc init` trigger, changes rows on a timer and
// streams the events to stdout until Ctrl-C, then removes everything.
#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <random>
#include <thread>
#include <utility>

#include "cli/cli.h"
#include "cli/init_sql.h"
#include "core/log.h"
#include "core/sleep.h"
#include "pg/cluster.h"
#include "pg/conn.h"
#include "pipeline/signals.h"

namespace pgcdc::cli {

namespace {

constexpr const char* kCreateOrders =
    "CREATE TABLE orders (\n"
    "  id serial PRIMARY KEY,\n"
    "  customer text NOT NULL,\n"
    "  status text NOT NULL DEFAULT 'new',\n"
    "  amount numeric(10,2) NOT NULL,\n"
    "  created_at timestamptz NOT NULL DEFAULT now()\n"
    ")";

template <class T>
Status Discard(const Result<T>& r) {
  if (!r) return Fail(r.error());
  return Ok();
}

// Inserts, updates and deletes orders until stopped.
void WriteDemoRows(const std::string& url, std::chrono::nanoseconds interval,
                   const std::stop_token& stop) {
  auto conn = pg::Conn::Open(url);
  if (!conn) {
    log::Error("playground writer cannot connect", {{"error", conn.error().message()}});
    return;
  }
  static const char* kCustomers[] = {"ada", "grace", "linus", "barbara", "ken", "margaret"};
  static const char* kStatuses[] = {"paid", "packed", "shipped", "delivered"};
  std::mt19937 rng(std::random_device{}());
  const Sleeper sleeper(stop);
  for (uint64_t tick = 0; !stop.stop_requested(); ++tick) {
    Status st;
    if (tick % 4 == 3) {
      st = Discard(conn->Query("DELETE FROM orders WHERE id = (SELECT min(id) FROM orders)"));
    } else if (tick % 2 == 1) {
      st = Discard(
          conn->Query("UPDATE orders SET status = $1 WHERE id = (SELECT max(id) FROM orders)",
                      {std::string(kStatuses[rng() % 4])}));
    } else {
      const std::string amount =
          std::to_string(5 + rng() % 200) + "." + std::to_string(10 + rng() % 90);
      st = Discard(conn->Query("INSERT INTO orders (customer, amount) VALUES ($1, $2)",
                               {std::string(kCustomers[rng() % 6]), amount}));
    }
    if (!st) log::Warn("playground write failed", {{"error", st.error().message()}});
    if (!sleeper.SleepFor(interval)) return;
  }
}

// The demo's orders table and its notify trigger.
Status SetUpDemoSchema(const std::string& url) {
  auto conn = pg::Conn::Open(url);
  if (!conn) return Fail(conn.error());
  if (Status st = conn->Exec(kCreateOrders); !st) return st;
  auto sql = GenerateInitSql({.table = "orders"});
  return conn->Exec(*sql);
}

// The pipeline settings: the demo's own, then the user's config file and
// flags. Sets the exit code and returns nullopt on a configuration error.
std::optional<config::Config> PlaygroundConfig(const GlobalFlags& global, const std::string& url,
                                               const std::string& http_addr) {
  FlagStore flags;
  flags["database_url"] = {url};
  flags["channels"] = {"pgcdc:orders"};
  flags["adapters"] = {"stdout"};
  flags["detector.type"] = {"listen_notify"};
  flags["detector.backoff_base"] = {"200ms"};
  flags["detector.backoff_cap"] = {"2s"};
  flags["http_addr"] = {http_addr};
  auto loaded = LoadConfig(global, AllParams(Builtins()), flags);
  // An empty --http-addr must disable the server even if a config file sets one.
  if (http_addr.empty()) loaded.config.Set("http_addr", std::string(), config::Origin::kFlag);
  NormalizePipelineConfig(loaded.config);
  ValidatePipelineConfig(Builtins(), loaded.config, PipelineKind::kListen, loaded.errors);
  if (!loaded.errors.empty()) {
    CommandExitCode() = ReportConfigErrors(loaded.errors);
    return std::nullopt;
  }
  return std::move(loaded.config);
}

// Streams the demo table's changes until `stop`; returns the exit code.
int StreamDemo(const config::Config& config, const std::string& url, std::chrono::nanoseconds every,
               const std::string& interval, std::stop_source& stop) {
  log::Info("playground: streaming changes of table orders (Ctrl-C to stop)",
            {{"every", interval}});
  std::jthread writer([url, every](const std::stop_token& st) { WriteDemoRows(url, every, st); });
  auto chains = transform::Build(config, {}, nullptr);
  if (!chains) {
    log::Error("playground: transforms", {{"error", chains.error().message()}});
    return kExitUsage;
  }
  RunOptions run;
  run.transforms = std::move(*chains);
  TracingSession tracing(config);
  if (!tracing.ok()) return CommandExitCode();
  return RunPipeline(Builtins(), config, std::move(run), stop);
}

void RunPlayground(const GlobalFlags& global, const std::string& interval,
                   const std::string& http_addr) {
  auto every = config::ParseDuration(interval);
  if (!every || every->count() <= 0) {
    std::cerr << "pgcdc playground: invalid --interval \"" << interval << "\"\n";
    CommandExitCode() = kExitUsage;
    return;
  }
  pipeline::BlockSignals();
  std::stop_source stop;
  pipeline::SignalWatcher watcher(stop);
  {
    auto pre = LoadConfig(global, AllParams(Builtins()), {});
    ApplyLogging(pre.config);
  }
  log::Info("playground: starting a throwaway PostgreSQL cluster");
  auto cluster = pg::TempCluster::Start({.log_prefix = "pgcdc-playground"});
  if (!cluster) {
    log::Error("playground: cannot start PostgreSQL", {{"error", cluster.error().message()}});
    CommandExitCode() = kExitFailure;
    return;
  }
  const std::string url = (*cluster)->Url();
  log::Info("playground: cluster ready", {{"dir", (*cluster)->dir()}, {"url", url}});
  if (Status st = SetUpDemoSchema(url); !st) {
    log::Error("playground: setup failed", {{"error", st.error().message()}});
    CommandExitCode() = kExitFailure;
  } else if (auto config = PlaygroundConfig(global, url, http_addr)) {
    CommandExitCode() = StreamDemo(*config, url, *every, interval, stop);
  }
  const std::string dir = (*cluster)->dir();
  if (auto st = (*cluster)->Stop(); !st) {
    log::Warn("playground: cleanup problem", {{"error", st.error().message()}});
  } else {
    log::Info("playground: stopped PostgreSQL and removed its directory", {{"dir", dir}});
  }
}

}  // namespace

void AddPlaygroundCommand(CLI::App& root, GlobalFlags& global) {
  auto* cmd = root.add_subcommand(
      "playground",
      "Demo: throwaway PostgreSQL + orders table + live events on stdout (Ctrl-C to stop)");
  cmd->fallthrough();
  auto interval = std::make_shared<std::string>("2s");
  auto http_addr = std::make_shared<std::string>();
  cmd->add_option("--interval", *interval, "time between demo row changes (default 2s)");
  cmd->add_option("--http-addr", *http_addr,
                  "serve /healthz, /metrics on HOST:PORT (default: disabled)");
  cmd->callback([&global, interval, http_addr] { RunPlayground(global, *interval, *http_addr); });
}

}  // namespace pgcdc::cli
