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
    PrintJson([&](json::Writer& w) {
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
    });
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

// Where the checkpoints live: detector.checkpoint_db, else --db.
std::string CheckpointDb(const config::Config& cfg) {
  return cfg.Has("detector.checkpoint_db") ? cfg.GetString("detector.checkpoint_db")
                                           : cfg.GetString("database_url");
}

// What a `pgcdc slot` subcommand was given.
struct SlotArgs {
  DbFlags db;
  std::string name;  // --name (status, drop)
};

using SlotAction = void (*)(const config::Config& cfg, pg::Conn& conn, const SlotArgs& args);

// Adds `pgcdc slot <name>` with the database flags (and a required --name
// when `named`); when run it loads --db, connects and calls `action`.
void AddSlotSubcommand(CLI::App& slot, GlobalFlags& global, const std::string& name,
                       const std::string& description, bool named, SlotAction action) {
  auto* cmd = slot.add_subcommand(name, description);
  auto args = std::make_shared<SlotArgs>();
  AddDbFlags(*cmd, args->db);
  if (named) cmd->add_option("--name", args->name, "slot name")->required();
  cmd->callback([&global, args, what = "slot " + name, action] {
    auto cfg = LoadDb(global, args->db);
    if (!cfg) return;
    auto conn = pg::Conn::Open(cfg->GetString("database_url"));
    if (!Succeeded(conn, what)) return;
    action(*cfg, *conn, *args);
  });
}

void ListSlots(const config::Config&, pg::Conn& conn, const SlotArgs& args) {
  auto rows =
      conn.Query(std::string(kSlotQuery) + "WHERE slot_name LIKE 'pgcdc\\_%' ORDER BY slot_name");
  if (!Succeeded(rows, "slot list")) return;
  PrintSlots(*rows, args.db.output);
}

void ShowSlot(const config::Config&, pg::Conn& conn, const SlotArgs& args) {
  auto rows = conn.Query(std::string(kSlotQuery) + "WHERE slot_name = $1", {args.name});
  if (!Succeeded(rows, "slot status")) return;
  if (rows->empty()) {
    std::cerr << "pgcdc slot status: no replication slot named \"" << args.name << "\"\n";
    CommandExitCode() = kExitFailure;
    return;
  }
  PrintSlots(*rows, args.db.output);
}

void DropSlot(const config::Config& cfg, pg::Conn& conn, const SlotArgs& args) {
  // A slot that is already gone (dropped by hand, lost in a failover) still
  // has a checkpoint that makes pgcdc report it lost: forget that checkpoint.
  auto exists = conn.Query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", {args.name});
  if (!Succeeded(exists, "slot drop")) return;
  const bool missing = exists->empty();
  if (!missing) {
    auto r = conn.Query("SELECT pg_drop_replication_slot($1)", {args.name});
    if (!Succeeded(r, "slot drop")) return;
  }
  // A checkpoint for a dropped slot would make a new slot of the same name
  // start from a stale position; forget it.
  if (auto ck = pg::Conn::Open(CheckpointDb(cfg))) {
    (void)ck->Query(
        "DELETE FROM pgcdc_checkpoints WHERE slot_name IN ($1, 'rewound_from:' || $1) AND "
        "to_regclass('pgcdc_checkpoints') IS NOT NULL",
        {args.name});
  }
  std::cout << (missing ? "no replication slot named " + args.name + "; forgot its checkpoint"
                        : "dropped slot " + args.name)
            << "\n";
}

// What `pgcdc rewind` was given.
struct RewindArgs {
  DbFlags db;
  std::string slot;
  std::string lsn;
  std::string ago;
  bool to_beginning = false;
  bool force = false;
};

// Exactly one target, and a valid --ago; reports a usage error otherwise.
bool CheckRewindTarget(const RewindArgs& a) {
  if (a.lsn.empty() && a.ago.empty() && !a.to_beginning) {
    std::cerr << "pgcdc rewind: give exactly one of --lsn, --ago or --to-beginning\n";
    CommandExitCode() = kExitUsage;
    return false;
  }
  if (!a.ago.empty() && !config::ParseDuration(a.ago)) {
    std::cerr << "pgcdc rewind: invalid --ago \"" << a.ago << "\"\n";
    CommandExitCode() = kExitUsage;
    return false;
  }
  return true;
}

struct RewindTarget {
  uint64_t lsn = 0;
  std::string method;  // lsn | ago | to-beginning
};

// The position to rewind to: --lsn, or (WAL has no time index) for --ago
// and --to-beginning the oldest position the slot still retains.
std::optional<RewindTarget> FindRewindTarget(const RewindArgs& a, const std::string& db) {
  if (!a.lsn.empty()) {
    auto t = pgoutput::ParseLsn(a.lsn);
    if (!t) {
      std::cerr << "pgcdc rewind: invalid --lsn \"" << a.lsn << "\" (expected e.g. 0/16B3748)\n";
      CommandExitCode() = kExitUsage;
      return std::nullopt;
    }
    return RewindTarget{*t, "lsn"};
  }
  auto conn = pg::Conn::Open(db);
  if (!Succeeded(conn, "rewind")) return std::nullopt;
  auto r = conn->Query("SELECT restart_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                       {a.slot});
  if (!r || r->empty() || !r->at(0).at(0)) {
    std::cerr << "pgcdc rewind: slot \"" << a.slot << "\" not found or has no restart_lsn\n";
    CommandExitCode() = kExitFailure;
    return std::nullopt;
  }
  if (!a.ago.empty()) {
    std::cerr << "note: WAL has no time index; --ago " << a.ago
              << " rewinds to the slot's restart_lsn\n";
  }
  return RewindTarget{*pgoutput::ParseLsn(*r->at(0).at(0)), a.ago.empty() ? "to-beginning" : "ago"};
}

// Asks on the terminal unless --force; false (and the exit code set) when
// the rewind must not happen.
bool ConfirmRewind(const RewindArgs& a, const std::string& prev, uint64_t target) {
  if (a.force) return true;
  if (!::isatty(0)) {
    std::cerr << "pgcdc rewind: not a terminal; pass --force to confirm\n";
    CommandExitCode() = kExitFailure;
    return false;
  }
  std::cerr << "Rewind slot \"" << a.slot << "\" from " << prev << " to "
            << pgoutput::FormatLsn(target) << "? [y/N] ";
  std::string answer;
  std::getline(std::cin, answer);
  if (answer != "y" && answer != "Y" && answer != "yes") {
    std::cerr << "aborted\n";
    CommandExitCode() = kExitFailure;
    return false;
  }
  return true;
}

void PrintRewind(const RewindArgs& a, const std::string& prev, const RewindTarget& target) {
  if (a.db.output == "json") {
    PrintJson([&](json::Writer& w) {
      w.BeginObject();
      w.StringField("slot_name", a.slot);
      w.StringField("previous_lsn", prev);
      w.StringField("new_lsn", pgoutput::FormatLsn(target.lsn));
      w.StringField("method", target.method);
      w.EndObject();
    });
  } else {
    std::cout << RenderTable({{"Slot", a.slot},
                              {"Previous LSN", prev},
                              {"New LSN", pgoutput::FormatLsn(target.lsn)},
                              {"Method", target.method}});
  }
}

void Rewind(const GlobalFlags& global, const RewindArgs& a) {
  if (!CheckRewindTarget(a)) return;
  auto cfg = LoadDb(global, a.db);
  if (!cfg) return;
  auto store = pg::CheckpointStore::Open(CheckpointDb(*cfg));
  if (!Succeeded(store, "rewind")) return;
  auto current = (*store)->Load(a.slot);
  if (!Succeeded(current, "rewind")) return;
  auto target = FindRewindTarget(a, cfg->GetString("database_url"));
  if (!target) return;
  if (*current != 0 && target->lsn >= *current) {
    std::cerr << "pgcdc rewind: target " << pgoutput::FormatLsn(target->lsn)
              << " is not before the current checkpoint " << pgoutput::FormatLsn(*current) << "\n";
    CommandExitCode() = kExitFailure;
    return;
  }
  const std::string prev = *current == 0 ? "(none)" : pgoutput::FormatLsn(*current);
  if (!ConfirmRewind(a, prev, target->lsn)) return;
  // The slot guard must still know how far the slot was acknowledged, or a
  // slot ahead of the rewound checkpoint would look consumed by someone else.
  if (!Succeeded((*store)->RememberRewind(a.slot, *current), "rewind")) return;
  if (!Succeeded((*store)->Save(a.slot, target->lsn), "rewind")) return;
  std::cerr << "note: PostgreSQL never streams a logical slot from before its "
               "confirmed_flush_lsn; the rewound checkpoint only matters for a slot that is "
               "recreated\n";
  PrintRewind(a, prev, *target);
}

void AddRewindCommand(CLI::App& root, GlobalFlags& global) {
  auto* rewind = root.add_subcommand(
      "rewind", "Move a slot's stored checkpoint backwards (see the note in docs/wal.md)");
  auto args = std::make_shared<RewindArgs>();
  AddDbFlags(*rewind, args->db);
  rewind->add_option("--slot-name", args->slot, "slot whose checkpoint to move")->required();
  auto* o_lsn = rewind->add_option("--lsn", args->lsn, "target LSN, e.g. 0/16B3748");
  auto* o_ago = rewind->add_option("--ago", args->ago, "target: the slot's restart_lsn (logged)");
  auto* o_beg =
      rewind->add_flag("--to-beginning", args->to_beginning, "target: the slot's restart_lsn");
  o_lsn->excludes(o_ago)->excludes(o_beg);
  o_ago->excludes(o_beg);
  rewind->add_flag("--force", args->force, "do not ask for confirmation");
  rewind->callback([&global, args] { Rewind(global, *args); });
}

}  // namespace

void AddSlotCommands(CLI::App& root, GlobalFlags& global) {
  auto* slot = root.add_subcommand("slot", "Inspect and drop pgcdc replication slots");
  slot->require_subcommand(1);
  AddSlotSubcommand(*slot, global, "list", "List replication slots named pgcdc_*", false,
                    ListSlots);
  AddSlotSubcommand(*slot, global, "status", "Show one slot and its lag", true, ShowSlot);
  AddSlotSubcommand(*slot, global, "drop", "Drop a replication slot (and its stored checkpoint)",
                    true, DropSlot);
  AddRewindCommand(root, global);
}

}  // namespace pgcdc::cli
