// `pgcdc playground`: a self-contained demo. Starts a throwaway PostgreSQL
// cluster from the local binaries (no Docker, no existing database), creates
// an `orders` table with the `pgcdc init` trigger (and a publication for the
// wal detector), changes rows on a timer and streams the events to stdout —
// or to the adapters `--playground-adapter` names, read by
// `--playground-detector` — until Ctrl-C, then removes everything.
#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

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

struct PlaygroundFlags {
  std::string interval = "2s";
  std::string http_addr;
  std::vector<std::string> adapters = {"stdout"};
  std::string detector = "listen_notify";
};

constexpr const char* kPublication = "pgcdc_playground";

// The demo's orders table, its notify trigger and a publication of it.
Status SetUpDemoSchema(const std::string& url) {
  auto conn = pg::Conn::Open(url);
  if (!conn) return Fail(conn.error());
  if (Status st = conn->Exec(kCreateOrders); !st) return st;
  auto sql = GenerateInitSql({.table = "orders"});
  if (Status st = conn->Exec(*sql); !st) return st;
  return conn->Exec(std::string("CREATE PUBLICATION \"") + kPublication + "\" FOR TABLE orders");
}

// The pipeline settings: the demo's own, then the user's config file and
// flags, checked before any cluster starts (the database URL is filled in
// once it runs). Sets the exit code and returns nullopt on a configuration
// error.
std::optional<config::Config> PlaygroundConfig(const GlobalFlags& global,
                                               const PlaygroundFlags& f) {
  FlagStore flags;
  flags["database_url"] = {"postgres://playground.invalid/pgcdc"};
  flags["adapters"] = f.adapters;
  flags["detector.type"] = {f.detector};
  if (f.detector == "wal") {
    flags["detector.publication"] = {kPublication};
  } else {
    flags["channels"] = {"pgcdc:orders"};
  }
  flags["detector.backoff_base"] = {"200ms"};
  flags["detector.backoff_cap"] = {"2s"};
  flags["http_addr"] = {f.http_addr};
  auto loaded = LoadConfig(global, AllParams(Builtins()), flags);
  // An empty --http-addr must disable the server even if a config file sets one.
  if (f.http_addr.empty()) loaded.config.Set("http_addr", std::string(), config::Origin::kFlag);
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

void RunPlayground(const GlobalFlags& global, const PlaygroundFlags& f) {
  auto every = config::ParseDuration(f.interval);
  if (!every || every->count() <= 0) {
    std::cerr << "pgcdc playground: invalid --interval \"" << f.interval << "\"\n";
    CommandExitCode() = kExitUsage;
    return;
  }
  auto config = PlaygroundConfig(global, f);
  if (!config) return;
  pipeline::BlockSignals();
  std::stop_source stop;
  pipeline::SignalWatcher watcher(stop);
  ApplyLogging(*config);
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
  } else {
    config->Set("database_url", url, config::Origin::kFlag);
    CommandExitCode() = StreamDemo(*config, url, *every, f.interval, stop);
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
  auto f = std::make_shared<PlaygroundFlags>();
  cmd->add_option("--interval", f->interval, "time between demo row changes (default 2s)");
  cmd->add_option("--http-addr", f->http_addr,
                  "serve /healthz, /metrics on HOST:PORT (default: disabled)");
  cmd->add_option("--playground-adapter", f->adapters,
                  "adapters the demo's events go to (repeatable; their own settings come from "
                  "--config or PGCDC_* variables)")
      ->capture_default_str();
  cmd->add_option("--playground-detector", f->detector,
                  "listen_notify (the table's trigger) or wal (logical replication of the "
                  "table's publication)")
      ->check(CLI::IsMember({"listen_notify", "wal"}))
      ->capture_default_str();
  cmd->callback([&global, f] { RunPlayground(global, *f); });
}

}  // namespace pgcdc::cli
