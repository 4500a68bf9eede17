// `pgcdc dlq list|replay|purge` (SPEC §4.2): inspect, re-deliver and delete
// the records of the pg_table dead letter queue.
//
// The table is the one a pipeline writes with --dlq pg_table: --dlq-table
// (default pgcdc_dead_letters) in --dlq-db, else --db / PGCDC_DATABASE_URL.
// Configuration is layered as for `listen` (flag > env > YAML > default), so
// the pipeline's pgcdc.yaml is accepted as is.
//
// replay re-delivers pending records through any registered adapter: by
// default the one named in the record, or --to. Each adapter is built from
// the registry with the same settings as in `listen` (its flags are accepted
// here), attached to a DLQ that captures failures, opened, and fed the
// rebuilt events in id order, a page at a time; after a successful Flush()
// every record that was not dead-lettered again gets replayed_at = now().
// Everything else stays pending. Reports go to stderr so that stdout stays
// the stdout adapter's event stream.
//
// Exit codes: 0 ok; 1 runtime failure (database, missing table, a record
// that failed to replay); 2 usage or configuration error.
#include <CLI/CLI.hpp>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "adapter/adapter.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "config/core_params.h"
#include "core/json.h"
#include "core/mutex.h"
#include "core/time.h"
#include "dlq/dlq.h"
#include "dlq/envelope.h"
#include "dlq/store.h"
#include "pg/conn.h"

namespace pgcdc::cli {

namespace {

// Width of the ERROR column in `dlq list` (SPEC: 57 characters + "...").
constexpr size_t kErrorColumnWidth = 60;

struct DlqFlags {
  FlagStore store;
  std::string adapter;
  std::string since;
  std::string until;
  int64_t id = 0;  // 0 = any
  int64_t limit = 0;
  bool pending = false;
  bool replayed = false;
  bool force = false;
  bool dry_run = false;
  std::string to;
  int64_t batch_size = 500;
  std::string output = "table";
};

// Every pipeline parameter is loaded (so a listen pgcdc.yaml is accepted),
// but only these become flags: the database, the table and — for replay —
// every adapter's settings.
std::vector<ParamSpec> FlagSpecs(const std::vector<ParamSpec>& all, bool with_adapters) {
  std::set<std::string> keys = {"database_url", "dlq.table", "dlq.db"};
  if (with_adapters) {
    for (const auto* a : Builtins().List(ConnectorKind::kAdapter)) {
      for (const auto& p : a->params) keys.insert(p.key);
    }
  }
  std::vector<ParamSpec> out;
  for (const auto& p : all) {
    if (keys.count(p.key)) out.push_back(p);
  }
  return out;
}

const std::vector<ParamSpec>& AllSpecs() {
  static const std::vector<ParamSpec> specs = AllParams(Builtins());
  return specs;
}

// One line on stderr: multi-line libpq messages are joined with spaces.
int Report(const std::string& command, const std::string& message) {
  std::cerr << "pgcdc dlq " << command << ": " << OneLine(message) << "\n" << std::flush;
  return kExitFailure;
}

void AddFilterFlags(CLI::App& cmd, DlqFlags& f, bool with_id) {
  cmd.add_option("--adapter", f.adapter, "only records of this adapter")->type_name("NAME");
  cmd.add_option("--since", f.since, "only records created at or after this RFC 3339 time")
      ->type_name("TIME");
  cmd.add_option("--until", f.until, "only records created at or before this RFC 3339 time")
      ->type_name("TIME");
  if (with_id) {
    cmd.add_option("--id", f.id, "only the record with this id")
        ->check(CLI::PositiveNumber)
        ->type_name("ID");
  }
}

struct Loaded {
  config::Config config;
  std::string db_url;
  dlq::TableName table;
  dlq::Filter filter;
};

// Loads the configuration and the filter flags; reports problems (exit 2).
std::optional<Loaded> Load(const GlobalFlags& global, const DlqFlags& f) {
  auto loaded = LoadConfig(global, AllSpecs(), f.store);
  ApplyLogging(loaded.config);
  Loaded out;
  const config::CoreSettings core = config::BindCore(loaded.config);
  out.db_url = core.dlq.db.empty() ? core.database_url : core.dlq.db;
  if (out.db_url.empty()) {
    loaded.errors.push_back(
        "database_url: required (--db, PGCDC_DATABASE_URL or database_url; or --dlq-db)");
  }
  auto table = dlq::ParseTableName(core.dlq.table);
  if (!table) {
    loaded.errors.push_back("dlq.table: " + table.error().message());
  } else {
    out.table = std::move(*table);
  }
  out.filter.adapter = f.adapter;
  for (auto [flag, text, target] : {std::tuple{"--since", &f.since, &out.filter.since_ns},
                                    std::tuple{"--until", &f.until, &out.filter.until_ns}}) {
    if (text->empty()) continue;
    auto ns = dlq::ParseRfc3339(*text);
    if (!ns) {
      loaded.errors.push_back(std::string(flag) + ": " + ns.error().message());
    } else {
      *target = *ns;
    }
  }
  if (out.filter.since_ns && out.filter.until_ns && *out.filter.since_ns > *out.filter.until_ns) {
    loaded.errors.push_back("--since: must not be later than --until");
  }
  if (f.id > 0) out.filter.id = f.id;
  if (!loaded.errors.empty()) {
    CommandExitCode() = ReportConfigErrors(loaded.errors);
    return std::nullopt;
  }
  ReportWarnings(loaded.warnings);
  out.config = std::move(loaded.config);
  return out;
}

// Connects and checks that the table exists; reports and returns nullopt.
std::optional<pg::Conn> OpenTable(const std::string& command, const Loaded& l) {
  auto conn = pg::Conn::Open(l.db_url);
  if (!conn) {
    CommandExitCode() = Report(command, conn.error().message());
    return std::nullopt;
  }
  dlq::Store store(*conn, l.table);
  auto exists = store.Exists();
  if (!exists) {
    CommandExitCode() = Report(command, exists.error().message());
    return std::nullopt;
  }
  if (!*exists) {
    CommandExitCode() =
        Report(command, "no dead letter table \"" + l.table.Display() + "\" in " +
                            pg::RedactUrl(l.db_url) +
                            " (run a pipeline with --dlq pg_table first; the table is created "
                            "when it records its first event)");
    return std::nullopt;
  }
  return std::move(*conn);
}

// The ERROR column: one line, at most kErrorColumnWidth characters (UTF-8
// aware), longer texts cut with "...".
std::string ErrorColumn(std::string_view error) {
  std::string flat;
  for (char c : error) flat.push_back(c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
  size_t chars = 0;
  size_t cut = std::string::npos;  // byte offset after kErrorColumnWidth - 3 characters
  for (size_t i = 0; i < flat.size(); ++i) {
    if ((static_cast<unsigned char>(flat[i]) & 0xC0) == 0x80) continue;  // continuation byte
    if (chars == kErrorColumnWidth - 3) cut = i;
    ++chars;
  }
  if (chars <= kErrorColumnWidth) return flat;
  return flat.substr(0, cut) + "...";
}

void PrintRecordsJson(const std::vector<dlq::Record>& records) {
  PrintJson([&](json::Writer& w) {
    w.BeginArray();
    for (const auto& r : records) {
      w.BeginObject();
      w.IntField("id", r.id);
      w.StringField("event_id", r.event_id);
      w.StringField("adapter", r.adapter);
      w.StringField("error", r.error);
      w.Key("payload");
      std::string compact;
      if (json::Compact(r.payload, compact)) {
        w.Raw(compact);
      } else {
        w.String(r.payload);
      }
      w.StringField("created_at", FormatRfc3339Nano(r.created_at_ns));
      w.Key("replayed_at");
      if (r.replayed_at_ns) {
        w.String(FormatRfc3339Nano(*r.replayed_at_ns));
      } else {
        w.Null();
      }
      w.EndObject();
    }
    w.EndArray();
  });
}

int RunList(const Loaded& l, const DlqFlags& f, dlq::Store& store, dlq::Filter filter) {
  filter.pending_only = f.pending;
  auto total = store.Count(filter);
  if (!total) return Report("list", total.error().message());
  auto records = store.List(filter, f.limit, dlq::Order::kNewestFirst);
  if (!records) return Report("list", records.error().message());
  if (f.output == "json") {
    PrintRecordsJson(*records);
    return kExitOk;
  }
  if (records->empty()) {
    std::cout << "No dead letter queue records found.\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table = {
      {"ID", "EVENT_ID", "ADAPTER", "ERROR", "CREATED_AT", "REPLAYED_AT"}};
  for (const auto& r : *records) {
    table.push_back({std::to_string(r.id), r.event_id, r.adapter, ErrorColumn(r.error),
                     FormatRfc3339Nano(r.created_at_ns),
                     r.replayed_at_ns ? FormatRfc3339Nano(*r.replayed_at_ns) : "-"});
  }
  std::cout << RenderTable(table);
  if (*total > static_cast<int64_t>(records->size())) {
    std::cout << "Showing " << records->size() << " of " << *total
              << " total records. Use --limit to see more.\n";
  }
  return kExitOk;
}

// Collects what a replayed adapter dead-letters again: those records failed.
class CaptureDlq final : public dlq::DeadLetterQueue {
 public:
  std::string_view Kind() const override { return "replay"; }
  Status Record(const Event& event, std::string_view, std::string_view error) override {
    MutexLock lock(mu_);
    failures_[event.id] = std::string(error);
    return Ok();
  }
  std::map<Uuid, std::string> Take() {
    MutexLock lock(mu_);
    return std::exchange(failures_, {});
  }

 private:
  Mutex mu_;
  std::map<Uuid, std::string> failures_ GUARDED_BY(mu_);
};

// One target adapter of a replay, built on first use.
struct Sink {
  adapter::AdapterPtr adapter;
  std::unique_ptr<CaptureDlq> capture = std::make_unique<CaptureDlq>();
  std::optional<std::string> broken;  // set: every further record fails with this
  int64_t succeeded = 0;
  int64_t failed = 0;
};

class Replayer {
 public:
  Replayer(const config::Config& cfg, dlq::Store& store) : cfg_(cfg), store_(store) {}
  ~Replayer() {
    for (auto& [name, sink] : sinks_) {
      if (sink.adapter) sink.adapter->Close();
    }
  }

  // Delivers one group of records (same target, id order). An error means the
  // bookkeeping failed (records delivered but not marked).
  Status Replay(const std::string& target, const std::vector<const dlq::Record*>& records) {
    Sink& sink = sinks_[target];
    if (!sink.adapter && !sink.broken) Start(target, sink);
    std::vector<Event> events;
    std::vector<const dlq::Record*> deliverable;
    events.reserve(records.size());
    for (const auto* r : records) {
      auto e = dlq::EventFromEnvelope(r->payload);
      if (!e) {
        Failed(sink, *r, e.error().message());
        continue;
      }
      events.push_back(std::move(*e));
      deliverable.push_back(r);
    }
    if (deliverable.empty()) return Ok();
    if (sink.broken) {
      for (const auto* r : deliverable) Failed(sink, *r, *sink.broken);
      return Ok();
    }
    std::vector<const Event*> ptrs;
    for (const auto& e : events) ptrs.push_back(&e);
    Status st = sink.adapter->Deliver(ptrs);
    if (st) st = sink.adapter->Flush();
    auto again = sink.capture->Take();
    if (!st) {
      // The adapter's state is unknown after an error: stop using it.
      sink.broken = target + " stopped: " + st.error().message();
      for (const auto* r : deliverable) Failed(sink, *r, st.error().message());
      return Ok();
    }
    std::vector<int64_t> done;
    for (size_t i = 0; i < deliverable.size(); ++i) {
      auto it = again.find(events[i].id);
      if (it != again.end()) {
        Failed(sink, *deliverable[i], "dead-lettered again: " + it->second);
      } else {
        done.push_back(deliverable[i]->id);
      }
    }
    auto marked = store_.MarkReplayed(done);
    if (!marked) {
      return Fail(marked.error().Wrap(std::to_string(done.size()) + " record(s) delivered to " +
                                      target +
                                      " but not marked replayed (they will be replayed again)"));
    }
    sink.succeeded += static_cast<int64_t>(done.size());
    return Ok();
  }

  // Per-adapter lines and the total; returns the number of failed records.
  int64_t Summary() const {
    int64_t ok = 0, failed = 0;
    for (const auto& [name, sink] : sinks_) {
      std::cerr << "  " << name << ": " << sink.succeeded << " succeeded, " << sink.failed
                << " failed\n";
      ok += sink.succeeded;
      failed += sink.failed;
    }
    std::cerr << "Replay complete: " << ok << " succeeded, " << failed << " failed.\n"
              << std::flush;
    return failed;
  }

 private:
  void Start(const std::string& target, Sink& sink) {
    auto a = MakeAdapter(Builtins(), target, cfg_, config::BindCore(cfg_));
    if (!a) {
      sink.broken = "cannot create adapter " + target + ": " + a.error().message();
      return;
    }
    adapter::Services services;
    services.dlq = sink.capture.get();
    if (auto st = (*a)->Attach(services); !st) {
      sink.broken = "cannot attach adapter " + target + ": " + st.error().message();
      return;
    }
    if (auto st = (*a)->Open(); !st) {
      sink.broken = "cannot open adapter " + target + ": " + st.error().message();
      (*a)->Close();
      return;
    }
    sink.adapter = std::move(*a);
  }

  static void Failed(Sink& sink, const dlq::Record& r, const std::string& why) {
    ++sink.failed;
    std::cerr << "  record " << r.id << " (event " << r.event_id << ", adapter " << r.adapter
              << ") failed: " << why << "\n";
  }

  const config::Config& cfg_;
  dlq::Store& store_;
  std::map<std::string, Sink> sinks_;
};

int RunReplay(const Loaded& l, const DlqFlags& f, dlq::Store& store, dlq::Filter filter) {
  filter.pending_only = true;

  auto counts = store.CountByAdapter(filter, f.limit);
  if (!counts) return Report("replay", counts.error().message());
  int64_t total = 0;
  for (const auto& [name, n] : *counts) total += n;
  if (total == 0) {
    std::cerr << "No pending dead letter queue records to replay.\n";
    return kExitOk;
  }
  if (f.dry_run) {
    std::cout << "Dry run: " << total << " pending record(s) would be replayed"
              << (f.to.empty() ? "" : " to " + f.to) << ":\n";
    for (const auto& [name, n] : *counts) std::cout << "  " << name << ": " << n << "\n";
    return kExitOk;
  }

  // Every target adapter must exist and be configured before anything is sent.
  std::vector<std::string> errors;
  std::map<std::string, int64_t> targets;
  for (const auto& [name, n] : *counts) targets[f.to.empty() ? name : f.to] += n;
  for (const auto& [name, n] : targets) {
    const ConnectorInfo* info = Builtins().Find(ConnectorKind::kAdapter, name);
    if (info == nullptr) {
      std::string known;
      for (const auto* k : Builtins().List(ConnectorKind::kAdapter)) {
        known += (known.empty() ? "" : ", ") + k->name;
      }
      errors.push_back("adapter \"" + name + "\" (" + std::to_string(n) +
                       " pending record(s)) is not available in this build (available: " + known +
                       "); replay them with --to <adapter> or leave them out with --adapter");
    } else if (info->validate) {
      std::vector<std::string> own;
      info->validate(l.config, config::BindCore(l.config), own);
      for (auto& e : own) {
        errors.push_back(e + " (needed to replay " + std::to_string(n) + " record(s) to " + name +
                         ")");
      }
    }
  }
  if (!errors.empty()) return ReportConfigErrors(errors);

  auto locked = store.TryLockReplay();
  if (!locked) return Report("replay", locked.error().message());
  if (!*locked) {
    return Report("replay", "another `pgcdc dlq replay` is running on " + l.table.Display());
  }

  Replayer replayer(l.config, store);
  int64_t remaining = f.limit > 0 ? f.limit : -1;
  while (remaining != 0) {
    const int64_t page = remaining > 0 ? std::min(remaining, f.batch_size) : f.batch_size;
    auto records = store.List(filter, page, dlq::Order::kOldestFirst);
    if (!records) {
      replayer.Summary();
      return Report("replay", records.error().message());
    }
    if (records->empty()) break;
    // Group by target, keeping id order inside each group.
    std::map<std::string, std::vector<const dlq::Record*>> groups;
    for (const auto& r : *records) groups[f.to.empty() ? r.adapter : f.to].push_back(&r);
    for (const auto& [target, group] : groups) {
      if (auto st = replayer.Replay(target, group); !st) {
        replayer.Summary();
        return Report("replay", st.error().message());
      }
    }
    filter.after_id = records->back().id;
    if (remaining > 0) remaining -= static_cast<int64_t>(records->size());
  }
  return replayer.Summary() > 0 ? kExitFailure : kExitOk;
}

int RunPurge(const Loaded& l, const DlqFlags& f, dlq::Store& store, dlq::Filter filter) {
  filter.replayed_only = f.replayed;
  auto counted = store.CountAndMaxId(filter);
  if (!counted) return Report("purge", counted.error().message());
  const auto [count, max_id] = *counted;
  if (count == 0) {
    std::cout << "No dead letter queue records found.\n";
    return kExitOk;
  }
  if (!f.force) {
    std::cout << "About to delete " << count << " DLQ record(s). Continue? [y/N] " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer)) std::cout << "\n";  // no input: end the prompt line
    if (answer != "y" && answer != "Y" && answer != "yes" && answer != "YES" && answer != "Yes") {
      std::cout << "Aborted; nothing deleted.\n";
      return kExitOk;
    }
  }
  // Records that arrive after the count are not deleted unannounced.
  filter.max_id = max_id;
  auto purged = store.Purge(filter);
  if (!purged) return Report("purge", purged.error().message());
  std::cout << "Purged " << *purged << " dead letter queue record(s).\n";
  return kExitOk;
}

// A subcommand on the dead letter table: its flags, the table's store and the
// selection filter from the flags; returns the exit code.
using TableCommand = int (*)(const Loaded& l, const DlqFlags& f, dlq::Store& store,
                             dlq::Filter filter);

// Loads the configuration, opens the table (reporting failures) and runs
// `run` on it; sets the exit code.
void RunOnTable(const GlobalFlags& global, const DlqFlags& f, const std::string& name,
                TableCommand run) {
  auto l = Load(global, f);
  if (!l) return;
  auto conn = OpenTable(name, *l);
  if (!conn) return;
  dlq::Store store(*conn, l->table);
  CommandExitCode() = run(*l, f, store, l->filter);
}

}  // namespace

void AddDlqCommands(CLI::App& root, GlobalFlags& global) {
  auto* dlq_cmd =
      root.add_subcommand("dlq", "Inspect, replay and purge the pg_table dead letter queue");
  dlq_cmd->require_subcommand(1);
  const std::string footer =
      "The table is --dlq-table (default pgcdc_dead_letters) in --dlq-db, else --db /\n"
      "PGCDC_DATABASE_URL. Times are RFC 3339 (2025-06-15T12:00:00Z); --since/--until are\n"
      "inclusive on created_at.";

  auto* list = dlq_cmd->add_subcommand("list", "List dead letter records, newest first");
  list->fallthrough();
  auto lf = std::make_shared<DlqFlags>();
  lf->limit = 50;
  AddSpecFlags(*list, FlagSpecs(AllSpecs(), false), lf->store);
  AddFilterFlags(*list, *lf, true);
  list->add_option("--limit", lf->limit, "show at most this many records (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->default_str("50")
      ->type_name("INT");
  list->add_flag("--pending", lf->pending, "only records not replayed yet");
  list->add_option("-o,--output", lf->output, "table | json")
      ->check(CLI::IsMember({"table", "json"}));
  list->footer(footer);
  list->callback([&global, lf] { RunOnTable(global, *lf, "list", RunList); });

  auto* replay = dlq_cmd->add_subcommand(
      "replay", "Deliver pending records again through an adapter and mark them replayed");
  replay->fallthrough();
  auto rf = std::make_shared<DlqFlags>();
  AddSpecFlags(*replay, FlagSpecs(AllSpecs(), true), rf->store);
  AddFilterFlags(*replay, *rf, true);
  replay
      ->add_option("--limit", rf->limit, "replay at most this many records, oldest first (0 = all)")
      ->check(CLI::NonNegativeNumber)
      ->default_str("0")
      ->type_name("INT");
  replay
      ->add_option("--to", rf->to,
                   "deliver every record to this adapter instead of the one it failed in")
      ->type_name("ADAPTER");
  replay->add_flag("--dry-run", rf->dry_run, "only print how many records each adapter would get");
  replay->add_option("--batch-size", rf->batch_size, "records read, delivered and marked per round")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000}))
      ->default_str("500")
      ->type_name("INT");
  replay->footer(footer +
                 "\nAdapter settings are the same flags/env/YAML keys as for `pgcdc listen`.\n"
                 "Example: pgcdc dlq replay --db postgres://localhost/app --adapter webhook \\\n"
                 "           --url https://hooks.example.com/cdc");
  replay->callback([&global, rf] { RunOnTable(global, *rf, "replay", RunReplay); });

  auto* purge = dlq_cmd->add_subcommand("purge", "Delete dead letter records");
  purge->fallthrough();
  auto pf = std::make_shared<DlqFlags>();
  AddSpecFlags(*purge, FlagSpecs(AllSpecs(), false), pf->store);
  AddFilterFlags(*purge, *pf, false);
  purge->add_flag("--replayed", pf->replayed, "only records that were already replayed");
  purge->add_flag("-f,--force", pf->force, "do not ask for confirmation");
  purge->footer(footer);
  purge->callback([&global, pf] { RunOnTable(global, *pf, "purge", RunPurge); });
}

}  // namespace pgcdc::cli
