// `pgcdc slot list|status|drop` and `pgcdc rewind` (SPEC §8.1): inspect and
// manage pgcdc's replication slots and stored checkpoints.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli.h"
#include "cli/output.h"
#include "codec/pgoutput/pgoutput.h"
#include "config/core_params.h"
#include "core/json.h"
#include "pg/checkpoint_store.h"
#include "pg/conn.h"

namespace pgcdc::cli {

namespace {

struct DbFlags {
  FlagStore flags;
  std::string output = "table";
};

std::vector<ParamSpec> DbSpecs() {
  std::vector<ParamSpec> specs;
  for (const auto& p : AllParams(Builtins())) {
    if (p.key == "log_level" || p.key == "log_format" || p.key == "database_url" ||
        p.key == "detector.checkpoint_db") {
      specs.push_back(p);
    }
  }
  return specs;
}

void AddDbFlags(CLI::App& cmd, DbFlags& f) {
  AddSpecFlags(cmd, DbSpecs(), f.flags);
  cmd.add_option("-o,--output", f.output, "table | json")->check(CLI::IsMember({"table", "json"}));
}

// Loads --db (flag > env > file); reports problems and returns nullopt.
std::optional<config::Config> LoadDb(const GlobalFlags& global, const DbFlags& f) {
  auto loaded = LoadConfig(global, DbSpecs(), f.flags);
  ApplyLogging(loaded.config);
  if (!loaded.config.Has("database_url")) {
    loaded.errors.push_back("database_url: required (--db, PGCDC_DATABASE_URL or database_url)");
  }
  if (!loaded.errors.empty()) {
    CommandExitCode() = ReportConfigErrors(loaded.errors);
    return std::nullopt;
  }
  return loaded.config;
}

// Whether `result` holds a value; when not, reports its error for the
// command `what` and sets the exit code.
template <class R>
bool Succeeded(const R& result, const std::string& what) {
  if (result) return true;
  std::cerr << "pgcdc " << what << ": " << result.error().message() << "\n";
  CommandExitCode() = kExitFailure;
  return false;
}

constexpr const char* kSlotQuery =
    "SELECT slot_name::text, plugin::text, slot_type, active::text, temporary::text, "
    "restart_lsn::text, confirmed_flush_lsn::text, "
    "pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(confirmed_flush_lsn, restart_lsn))"
    "::bigint::text FROM pg_replication_slots ";

const char* kSlotColumns[] = {"slot_name", "plugin",      "slot_type",           "active",
                              "temporary", "restart_lsn", "confirmed_flush_lsn", "lag_bytes"};

void PrintSlots(const std::vector<pg::Row>& rows, const std::string& output) {
  if (output == "json") {
    std::string out;
    json::Writer w(out);
    w.BeginArray();
    for (const auto& r : rows) {
      w.BeginObject();
      for (size_t i = 0; i < r.size(); ++i) {
        w.Key(kSlotColumns[i]);
        if (!r[i]) {
          w.Null();
        } else if (i == 3 || i == 4) {
          w.Bool(*r[i] == "true");
        } else if (i == 7) {
          w.Raw(*r[i]);
        } else {
          w.String(*r[i]);
        }
      }
      w.EndObject();
    }
    w.EndArray();
    std::cout << out << "\n";
    return;
  }
  std::vector<std::vector<std::string>> table = {{"NAME", "PLUGIN", "TYPE", "ACTIVE", "TEMPORARY",
                                                  "RESTART_LSN", "CONFIRMED_FLUSH_LSN",
                                                  "LAG_BYTES"}};
  for (const auto& r : rows) {
    std::vector<std::string> line;
    for (const auto& v : r) line.push_back(v.value_or("-"));
    table.push_back(std::move(line));
  }
  std::cout << RenderTable(table);
}

}  // namespace

void AddSlotCommands(CLI::App& root, GlobalFlags& global) {
  auto* slot = root.add_subcommand("slot", "Inspect and drop pgcdc replication slots");
  slot->require_subcommand(1);

  auto* list = slot->add_subcommand("list", "List replication slots named pgcdc_*");
  auto list_flags = std::make_shared<DbFlags>();
  AddDbFlags(*list, *list_flags);
  list->callback([&global, list_flags] {
    auto cfg = LoadDb(global, *list_flags);
    if (!cfg) return;
    auto conn = pg::Conn::Open(cfg->GetString("database_url"));
    if (!Succeeded(conn, "slot list")) return;
    auto rows = conn->Query(std::string(kSlotQuery) +
                            "WHERE slot_name LIKE 'pgcdc\\_%' ORDER BY slot_name");
    if (!Succeeded(rows, "slot list")) return;
    PrintSlots(*rows, list_flags->output);
  });

  auto* status = slot->add_subcommand("status", "Show one slot and its lag");
  auto status_flags = std::make_shared<DbFlags>();
  auto status_name = std::make_shared<std::string>();
  AddDbFlags(*status, *status_flags);
  status->add_option("--name", *status_name, "slot name")->required();
  status->callback([&global, status_flags, status_name] {
    auto cfg = LoadDb(global, *status_flags);
    if (!cfg) return;
    auto conn = pg::Conn::Open(cfg->GetString("database_url"));
    if (!Succeeded(conn, "slot status")) return;
    auto rows = conn->Query(std::string(kSlotQuery) + "WHERE slot_name = $1", {*status_name});
    if (!Succeeded(rows, "slot status")) return;
    if (rows->empty()) {
      std::cerr << "pgcdc slot status: no replication slot named \"" << *status_name << "\"\n";
      CommandExitCode() = kExitFailure;
      return;
    }
    PrintSlots(*rows, status_flags->output);
  });

  auto* drop = slot->add_subcommand("drop", "Drop a replication slot (and its stored checkpoint)");
  auto drop_flags = std::make_shared<DbFlags>();
  auto drop_name = std::make_shared<std::string>();
  AddDbFlags(*drop, *drop_flags);
  drop->add_option("--name", *drop_name, "slot name")->required();
  drop->callback([&global, drop_flags, drop_name] {
    auto cfg = LoadDb(global, *drop_flags);
    if (!cfg) return;
    auto conn = pg::Conn::Open(cfg->GetString("database_url"));
    if (!Succeeded(conn, "slot drop")) return;
    auto r = conn->Query("SELECT pg_drop_replication_slot($1)", {*drop_name});
    if (!Succeeded(r, "slot drop")) return;
    // A checkpoint for a dropped slot would make a new slot of the same name
    // start from a stale position; forget it.
    const std::string ckpt_db = cfg->Has("detector.checkpoint_db")
                                    ? cfg->GetString("detector.checkpoint_db")
                                    : cfg->GetString("database_url");
    if (auto ck = pg::Conn::Open(ckpt_db)) {
      (void)ck->Query(
          "DELETE FROM pgcdc_checkpoints WHERE slot_name = $1 AND "
          "to_regclass('pgcdc_checkpoints') IS NOT NULL",
          {*drop_name});
    }
    std::cout << "dropped slot " << *drop_name << "\n";
  });

  // ---- rewind ----
  auto* rewind = root.add_subcommand(
      "rewind", "Move a slot's stored checkpoint backwards (see the note in docs/wal.md)");
  auto rw_flags = std::make_shared<DbFlags>();
  auto rw_slot = std::make_shared<std::string>();
  auto rw_lsn = std::make_shared<std::string>();
  auto rw_ago = std::make_shared<std::string>();
  auto rw_begin = std::make_shared<bool>(false);
  auto rw_force = std::make_shared<bool>(false);
  AddDbFlags(*rewind, *rw_flags);
  rewind->add_option("--slot-name", *rw_slot, "slot whose checkpoint to move")->required();
  auto* o_lsn = rewind->add_option("--lsn", *rw_lsn, "target LSN, e.g. 0/16B3748");
  auto* o_ago = rewind->add_option("--ago", *rw_ago, "target: the slot's restart_lsn (logged)");
  auto* o_beg = rewind->add_flag("--to-beginning", *rw_begin, "target: the slot's restart_lsn");
  o_lsn->excludes(o_ago)->excludes(o_beg);
  o_ago->excludes(o_beg);
  rewind->add_flag("--force", *rw_force, "do not ask for confirmation");
  rewind->callback([&global, rw_flags, rw_slot, rw_lsn, rw_ago, rw_begin, rw_force] {
    if (rw_lsn->empty() && rw_ago->empty() && !*rw_begin) {
      std::cerr << "pgcdc rewind: give exactly one of --lsn, --ago or --to-beginning\n";
      CommandExitCode() = kExitUsage;
      return;
    }
    if (!rw_ago->empty() && !config::ParseDuration(*rw_ago)) {
      std::cerr << "pgcdc rewind: invalid --ago \"" << *rw_ago << "\"\n";
      CommandExitCode() = kExitUsage;
      return;
    }
    auto cfg = LoadDb(global, *rw_flags);
    if (!cfg) return;
    const std::string db = cfg->GetString("database_url");
    const std::string ckpt_db =
        cfg->Has("detector.checkpoint_db") ? cfg->GetString("detector.checkpoint_db") : db;
    auto store = pg::CheckpointStore::Open(ckpt_db);
    if (!Succeeded(store, "rewind")) return;
    auto current = (*store)->Load(*rw_slot);
    if (!Succeeded(current, "rewind")) return;
    uint64_t target = 0;
    std::string method;
    if (!rw_lsn->empty()) {
      auto t = pgoutput::ParseLsn(*rw_lsn);
      if (!t) {
        std::cerr << "pgcdc rewind: invalid --lsn \"" << *rw_lsn
                  << "\" (expected e.g. 0/16B3748)\n";
        CommandExitCode() = kExitUsage;
        return;
      }
      target = *t;
      method = "lsn";
    } else {
      // WAL has no time index: --ago and --to-beginning both go back to the
      // oldest position the slot still retains.
      auto conn = pg::Conn::Open(db);
      if (!Succeeded(conn, "rewind")) return;
      auto r = conn->Query(
          "SELECT restart_lsn::text FROM pg_replication_slots WHERE slot_name = $1", {*rw_slot});
      if (!r || r->empty() || !r->at(0).at(0)) {
        std::cerr << "pgcdc rewind: slot \"" << *rw_slot << "\" not found or has no restart_lsn\n";
        CommandExitCode() = kExitFailure;
        return;
      }
      target = *pgoutput::ParseLsn(*r->at(0).at(0));
      method = rw_ago->empty() ? "to-beginning" : "ago";
      if (!rw_ago->empty()) {
        std::cerr << "note: WAL has no time index; --ago " << *rw_ago
                  << " rewinds to the slot's restart_lsn\n";
      }
    }
    if (*current != 0 && target >= *current) {
      std::cerr << "pgcdc rewind: target " << pgoutput::FormatLsn(target)
                << " is not before the current checkpoint " << pgoutput::FormatLsn(*current)
                << "\n";
      CommandExitCode() = kExitFailure;
      return;
    }
    const std::string prev = *current == 0 ? "(none)" : pgoutput::FormatLsn(*current);
    if (!*rw_force) {
      if (!::isatty(0)) {
        std::cerr << "pgcdc rewind: not a terminal; pass --force to confirm\n";
        CommandExitCode() = kExitFailure;
        return;
      }
      std::cerr << "Rewind slot \"" << *rw_slot << "\" from " << prev << " to "
                << pgoutput::FormatLsn(target) << "? [y/N] ";
      std::string answer;
      std::getline(std::cin, answer);
      if (answer != "y" && answer != "Y" && answer != "yes") {
        std::cerr << "aborted\n";
        CommandExitCode() = kExitFailure;
        return;
      }
    }
    if (!Succeeded((*store)->Save(*rw_slot, target), "rewind")) return;
    std::cerr << "note: PostgreSQL never streams a logical slot from before its "
                 "confirmed_flush_lsn; the rewound checkpoint only matters for a slot that is "
                 "recreated\n";
    if (rw_flags->output == "json") {
      std::string out;
      json::Writer w(out);
      w.BeginObject();
      w.StringField("slot_name", *rw_slot);
      w.StringField("previous_lsn", prev);
      w.StringField("new_lsn", pgoutput::FormatLsn(target));
      w.StringField("method", method);
      w.EndObject();
      std::cout << out << "\n";
    } else {
      std::cout << RenderTable({{"Slot", *rw_slot},
                                {"Previous LSN", prev},
                                {"New LSN", pgoutput::FormatLsn(target)},
                                {"Method", method}});
    }
  });
}

}  // namespace pgcdc::cli
