#include "detector/mysql/mysql_detector.h"

#include <algorithm>
#include <deque>
#include <stop_token>
#include <utility>

#include "core/ack_poll.h"
#include "core/clock.h"
#include "core/health.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/time.h"
#include "core/uuid.h"
#include "detector/delivery.h"
#include "detector/mysql/client.h"
#include "detector/mysql/snapshot.h"
#include "detector/mysql/state_file.h"
#include "pipeline/ack_tracker.h"
#include "registry/define.h"

namespace pgcdc::detector::mysql {

namespace {

using std::chrono::milliseconds;

// The state file is rewritten at most this often while streaming (and once
// more on a clean stop).
constexpr milliseconds kSaveInterval{100};
// With events waiting for the adapters and nothing to read, the loop checks
// the acknowledgements this often before it blocks on the socket.
constexpr milliseconds kAckPoll{2};
constexpr milliseconds kAckWaitMax{250};
// Every this many binlog events (at a group boundary) the batch goes out even
// when more events are waiting on the socket.
constexpr uint64_t kPublishEvery = 256;

struct Metrics {
  metrics::Counter& events =
      metrics::DefaultCounter("pgcdc_mysql_events_total", "Events published from the binlog.");
  metrics::Counter& binlog_events = metrics::DefaultCounter(
      "pgcdc_mysql_binlog_events_total", "Binlog events read (all types, all tables).");
  metrics::Counter& errors = metrics::DefaultCounter(
      "pgcdc_mysql_errors_total", "Binlog connection cycles that ended in an error.");
  metrics::Counter& value_errors = metrics::DefaultCounter(
      "pgcdc_mysql_value_errors_total",
      "Column values that could not be decoded (emitted as null) or had bytes invalid in their "
      "character set.");
  metrics::Counter& saves = metrics::DefaultCounter(
      "pgcdc_mysql_position_saves_total", "Delivered positions written to the state file.");
  metrics::Counter& save_errors = metrics::DefaultCounter("pgcdc_mysql_position_save_errors_total",
                                                          "Failed writes of the state file.");
  metrics::Counter& snapshot_rows = metrics::DefaultCounter(
      "pgcdc_mysql_snapshot_rows_total", "Rows emitted by --mysql-snapshot-first.");
  metrics::Gauge& lag = metrics::DefaultGauge(
      "pgcdc_mysql_lag_seconds", "Now minus the timestamp of the last binlog event read.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

std::string Describe(const Position& p) {
  std::string s = p.file + ":" + std::to_string(p.pos);
  if (!p.gtid.empty()) s += " gtid " + p.gtid;
  return s;
}

// information_schema's view of a column type: unsigned, enum/set members.
void ParseColumnType(const std::string& type, ColumnInfo& ci) {
  ci.is_unsigned = type.find(" unsigned") != std::string::npos;
  if (!type.starts_with("enum(") && !type.starts_with("set(")) return;
  // 'a','b''c' -> a, b'c
  std::string cur;
  bool in = false;
  for (size_t i = type.find('(') + 1; i < type.size(); ++i) {
    const char ch = type[i];
    if (!in) {
      if (ch == '\'') in = true;
      continue;
    }
    if (ch == '\'' && i + 1 < type.size() && type[i + 1] == '\'') {
      cur.push_back('\'');
      ++i;
    } else if (ch == '\'') {
      ci.elements.push_back(std::move(cur));
      cur.clear();
      in = false;
    } else {
      cur.push_back(ch);
    }
  }
}

}  // namespace

// State of one connect-and-stream cycle; also the stream's sink.
struct MysqlDetector::Cycle : StreamSink {
  Cycle(MysqlDetector& d, RunContext& c) : det(d), ctx(c) {}

  bool Emit(Event&& e) override {
    e.seq = ++det.next_seq_;
    batch.events.push_back(std::move(e));
    if (batch.events.size() >= static_cast<size_t>(det.options_.max_batch)) return Publish();
    return true;
  }
  void Boundary(const Position& next) override {
    det.position_ = next;
    if (!pending.empty() && pending.back().first == det.next_seq_) {
      pending.back().second = next;  // no events in between: the later point
    } else {
      pending.emplace_back(det.next_seq_, next);
    }
  }
  std::optional<std::vector<ColumnInfo>> DescribeTable(const std::string& db,
                                                       const std::string& table) override;

  bool Publish() {
    if (batch.events.empty()) return true;
    M().events.Inc(batch.events.size());
    const bool ok = ctx.publish(std::move(batch));
    batch = EventBatch{};
    return ok;
  }
  uint64_t Delivered() const {
    return ctx.acks != nullptr && ctx.acks->size() > 0 ? ctx.acks->DeliveredThrough()
                                                       : det.next_seq_;
  }
  // A delivered position not yet written to the state file.
  bool Unsaved() const {
    return !det.options_.state_file.empty() && det.confirmed_ && det.confirmed_ != det.saved_;
  }
  // Moves the saved position as far as delivered events allow.
  void Checkpoint(bool force);
  // Before blocking on the socket with events unconfirmed: waits a little for
  // the adapters so the state file follows them while the source is idle.
  void AwaitAcks(Client& c);
  // Stop: publishes what is left and gives the adapters stop_grace to finish.
  void Drain();

  MysqlDetector& det;
  RunContext& ctx;
  EventBatch batch;
  std::deque<std::pair<uint64_t, Position>> pending;  // (last seq, position after it)
  std::unique_ptr<Client> meta;  // information_schema lookups (the dump connection is busy)
  std::chrono::steady_clock::time_point last_save{};
};

std::optional<std::vector<ColumnInfo>> MysqlDetector::Cycle::DescribeTable(
    const std::string& db, const std::string& table) {
  if (!meta) {
    auto c = det.ConnectPlain();
    if (!c) {
      log::Warn("mysql: cannot connect for table lookups", {{"error", c.error().message()}});
      return std::nullopt;
    }
    meta = std::move(*c);
  }
  auto rows = meta->Query(
      "SELECT COLUMN_NAME, COLUMN_TYPE, COLLATION_NAME, COLUMN_KEY, DATA_TYPE FROM "
      "information_schema.COLUMNS "
      "WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
      {db, table});
  if (!rows) {
    log::Warn("mysql: table lookup failed",
              {{"table", db + "." + table}, {"error", rows.error().message()}});
    meta.reset();
    return std::nullopt;
  }
  if (rows->empty()) return std::nullopt;
  std::vector<ColumnInfo> cols;
  for (const auto& r : *rows) {
    ColumnInfo ci;
    ci.name = r[0].value_or("");
    ParseColumnType(r[1].value_or(""), ci);
    if (r[2]) {
      if (auto it = det.collation_ids_.find(*r[2]); it != det.collation_ids_.end()) {
        ci.collation = it->second;
      }
    } else if (r[1] && (r[1]->find("blob") != std::string::npos ||
                        r[1]->find("binary") != std::string::npos)) {
      ci.collation = kBinaryCollation;
    }
    ci.key = r[3].value_or("") == "PRI";
    ci.data_type = r[4].value_or("");
    cols.push_back(std::move(ci));
  }
  // MariaDB JSON: a text column with a json_valid() check.
  auto checks = meta->Query(
      "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
      "WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?",
      {db, table});
  if (checks) {
    for (const auto& r : *checks) {
      const std::string clause = r[0].value_or("");
      for (auto& ci : cols) {
        if (clause == "json_valid(`" + ci.name + "`)") ci.is_json_text = true;
      }
    }
  }
  return cols;
}

Result<std::unique_ptr<Client>> MysqlDetector::ConnectPlain() const {
  auto opts = ParseAddr(options_.addr);
  if (!opts) return Fail(opts.error());
  opts->user = options_.user;
  opts->password = options_.password;
  return Client::Connect(*opts);
}

Result<Position> MysqlDetector::OpenSnapshot(Client& snap) {
  for (const char* sql :
       {"SET time_zone = '+00:00'", "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"}) {
    if (auto st = snap.Exec(sql); !st) return Fail(st.error());
  }
  Position p;
  if (mariadb_) {
    // MariaDB names the binlog position of the snapshot itself: no lock.
    if (auto st = snap.Exec("START TRANSACTION WITH CONSISTENT SNAPSHOT"); !st)
      return Fail(st.error());
    auto rows = snap.Query("SHOW STATUS LIKE 'binlog_snapshot_%'");
    if (!rows) return Fail(rows.error());
    for (const auto& r : *rows) {
      if (r.size() < 2) continue;
      if (r[0] == "Binlog_snapshot_file") p.file = r[1].value_or("");
      if (r[0] == "Binlog_snapshot_position") {
        p.pos = std::strtoull(r[1].value_or("0").c_str(), nullptr, 10);
      }
    }
    if (options_.use_gtid) {
      auto g = snap.Query("SELECT BINLOG_GTID_POS(?, ?)", {p.file, std::to_string(p.pos)});
      if (!g) return Fail(g.error());
      if (!g->empty() && !g->front().empty()) p.gtid = g->front()[0].value_or("");
    }
  } else {
    // MySQL: the snapshot opens while writes are held (RELOAD privilege).
    if (auto st = snap.Exec("FLUSH TABLES WITH READ LOCK"); !st) {
      return Fail(ErrorCode::kConfig, st.error().message() +
                                          " (--mysql-snapshot-first on MySQL needs the RELOAD "
                                          "privilege for a brief FLUSH TABLES WITH READ LOCK)");
    }
    auto st = snap.Exec("START TRANSACTION WITH CONSISTENT SNAPSHOT");
    auto status =
        st ? snap.Query("SHOW MASTER STATUS") : Result<std::vector<Row>>(Fail(st.error()));
    (void)snap.Exec("UNLOCK TABLES");
    if (!status) return Fail(status.error());
    if (status->empty() || status->front().size() < 2) {
      return Fail(ErrorCode::kConfig, "mysql: SHOW MASTER STATUS is empty (binary log off?)");
    }
    p.file = status->front()[0].value_or("");
    p.pos = std::strtoull(status->front()[1].value_or("4").c_str(), nullptr, 10);
  }
  if (p.file.empty() || p.pos == 0) {
    return Fail(ErrorCode::kConfig,
                "mysql: the server reported no binlog position for the snapshot");
  }
  return p;
}

Result<Position> MysqlDetector::RunSnapshot(Cycle& cycle) {
  auto snap = ConnectPlain();
  if (!snap) return Fail(snap.error());
  auto at = OpenSnapshot(**snap);
  if (!at) return Fail(at.error());
  log::Info("mysql: snapshot started", {{"position", Describe(*at)}});
  auto tables = (*snap)->Query(
      "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE "
      "TABLE' AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', "
      "'sys') ORDER BY 1, 2");
  if (!tables) return Fail(tables.error());
  uint64_t total = 0;
  for (const auto& t : *tables) {
    const std::string db = t[0].value_or(""), name = t[1].value_or("");
    if (!filter_.Matches(db, name)) continue;
    auto info = cycle.DescribeTable(db, name);
    if (!info) return Fail(ErrorCode::kConnection, "mysql: cannot describe " + db + "." + name);
    std::vector<SnapshotColumn> cols;
    for (const auto& ci : *info) {
      cols.push_back(
          {.name = ci.name,
           .kind = SnapshotKind(ci.data_type, ci.collation == kBinaryCollation, ci.is_json_text),
           .key = ci.key});
    }
    uint64_t rows = 0;
    auto st = (*snap)->QueryEach("SELECT " + SnapshotSelectList(cols) + " FROM " +
                                     QuoteMysqlIdentifier(db) + "." + QuoteMysqlIdentifier(name),
                                 [&](const Client::RowView& values) -> Status {
                                   if (!cycle.Emit(SnapshotRowEvent(db, name, cols, values))) {
                                     return Fail(ErrorCode::kCancelled, "pipeline stopping");
                                   }
                                   ++rows;
                                   return Ok();
                                 });
    if (!st) return Fail(st.error());
    M().snapshot_rows.Inc(rows);
    total += rows;
    log::Info("mysql: snapshot table done", {{"table", db + "." + name}, {"rows", rows}});
  }
  (void)(*snap)->Exec("COMMIT");
  if (!cycle.Publish()) return Fail(ErrorCode::kCancelled, "pipeline stopping");
  // Saved to the state file once every snapshot row is delivered.
  cycle.Boundary(*at);
  snapshot_done_ = true;
  log::Info("mysql: snapshot done", {{"rows", total}, {"position", Describe(*at)}});
  return at;
}

void MysqlDetector::Cycle::Checkpoint(bool force) {
  const uint64_t through = Delivered();
  std::optional<Position> confirmed;
  while (!pending.empty() && pending.front().first <= through) {
    confirmed = std::move(pending.front().second);
    pending.pop_front();
  }
  if (confirmed) det.confirmed_ = std::move(*confirmed);
  if (det.options_.state_file.empty() || !det.confirmed_ || det.confirmed_ == det.saved_) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_save < kSaveInterval) return;
  last_save = now;
  if (auto st = SaveState(det.options_.state_file, {*det.confirmed_, det.options_.addr}); !st) {
    M().save_errors.Inc();
    log::Warn("mysql: cannot save the position", {{"error", st.error().message()}});
    return;
  }
  M().saves.Inc();
  det.saved_ = det.confirmed_;
}

void MysqlDetector::Cycle::AwaitAcks(Client& c) {
  if (pending.empty() && !Unsaved()) return;
  const auto until = std::chrono::steady_clock::now() + kAckWaitMax;
  while ((!pending.empty() || Unsaved()) && std::chrono::steady_clock::now() < until &&
         !ctx.stop.stop_requested()) {
    Checkpoint(false);
    if (c.Readable(kAckPoll)) return;
  }
  Checkpoint(false);
}

void MysqlDetector::Cycle::Drain() {
  Publish();
  // Whatever is not finished stays unconfirmed and comes again after a restart.
  (void)FinishAfterStop(ctx, det.next_seq_, RealClock(), det.options_.stop_grace);
  Checkpoint(true);
}

MysqlDetector::MysqlDetector(Options options) : options_(std::move(options)) {
  auto f = TableFilter::Parse(options_.tables);
  if (f) filter_ = std::move(*f);
  id_origin_ = PositionOrigin("mysql:" + options_.addr);
}

MysqlDetector::~MysqlDetector() = default;

Status MysqlDetector::Run(RunContext& ctx) {
  log::Info("starting detector", {{"detector", "mysql"},
                                  {"addr", options_.addr},
                                  {"server_id", options_.server_id},
                                  {"gtid", options_.use_gtid},
                                  {"state_file", options_.state_file}});
  if (options_.state_file.empty()) {
    log::Warn(
        "mysql: no --mysql-state-file: the position is not stored, a restart begins at the "
        "server's current end and misses the changes made while pgcdc was down",
        {{"detector", "mysql"}});
  }
  SupervisorOptions so = SupervisorFor(ctx, "mysql", M().errors, options_.backoff);
  so.is_fatal = [this](const Error& e, bool ever_up) {
    switch (e.code()) {
      case ErrorCode::kConfig:
      case ErrorCode::kNotFound:
      case ErrorCode::kUnimplemented:
      case ErrorCode::kParse:
        return true;
      case ErrorCode::kInvalidArgument:
        return !ever_up || !checked_;
      default:
        return false;
    }
  };
  Supervisor supervisor(std::move(so), ctx.stop);
  return supervisor.Run([&](Supervisor::Session& session) { return RunCycle(ctx, session); });
}

Result<std::unique_ptr<Client>> MysqlDetector::ConnectChecked() {
  auto opts = ParseAddr(options_.addr);
  if (!opts) return Fail(opts.error());
  opts->user = options_.user;
  opts->password = options_.password;
  // Three heartbeats without a byte: the server (or the network) is gone.
  const auto hb = std::chrono::duration_cast<std::chrono::seconds>(options_.heartbeat_interval);
  opts->read_timeout = std::max<std::chrono::seconds>(std::chrono::seconds(1), 3 * hb);
  auto c = Client::Connect(*opts);
  if (!c) return Fail(c.error());
  auto vars = (*c)->Query(
      "SELECT @@binlog_format, @@binlog_row_image, @@server_id, @@global.binlog_checksum, "
      "@@log_bin, VERSION()");
  if (!vars) return Fail(vars.error());
  const Row& v = vars->at(0);
  const std::string format = v[0].value_or("");
  if (v[4].value_or("0") != "1") {
    return Fail(ErrorCode::kConfig,
                "mysql: the server does not write a binary log (log_bin is OFF); start it with "
                "--log-bin --binlog-format=ROW --binlog-row-image=FULL "
                "--binlog-row-metadata=FULL");
  }
  if (format != "ROW") {
    return Fail(ErrorCode::kConfig, "mysql: binlog_format is " + format +
                                        ", row events need ROW: SET GLOBAL binlog_format = 'ROW' "
                                        "(and binlog_format=ROW in the server configuration)");
  }
  if (v[1].value_or("") != "FULL") {
    log::Warn("mysql: binlog_row_image is not FULL; row images hold only some columns",
              {{"binlog_row_image", v[1].value_or("")}});
  }
  if (v[2].value_or("") == std::to_string(options_.server_id)) {
    return Fail(ErrorCode::kConfig, "mysql.server_id " + std::to_string(options_.server_id) +
                                        " is the server's own server_id; pick a unique one");
  }
  checksum_ = v[3].value_or("NONE") != "NONE";
  mariadb_ = v[5].value_or("").find("MariaDB") != std::string::npos;
  if (options_.use_gtid && !mariadb_) {
    return Fail(ErrorCode::kConfig,
                "mysql.use_gtid: GTID mode is implemented for MariaDB only; this server is "
                "MySQL " +
                    v[5].value_or("") + " (use file/position mode)");
  }
  log::Info("mysql: server",
            {{"flavor", mariadb_ ? "mariadb" : "mysql"}, {"version", v[5].value_or("")}});
  return c;
}

Result<bool> TableExists(Client& c, const std::string& entry) {
  const size_t dot = entry.find('.');
  auto rows =
      dot == std::string::npos
          ? c.Query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_NAME = ? LIMIT 1", {entry})
          : c.Query(
                "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND "
                "TABLE_NAME = ? LIMIT 1",
                {entry.substr(0, dot), entry.substr(dot + 1)});
  if (!rows) return Fail(rows.error());
  return !rows->empty();
}

Status MysqlDetector::CheckTables(Client& c) {
  for (const auto& entry : options_.tables) {
    auto exists = TableExists(c, entry);
    if (!exists) return Fail(exists.error());
    if (!*exists) {
      return Fail(ErrorCode::kInvalidArgument, "mysql.tables: table " + entry +
                                                   " does not exist on " + options_.addr +
                                                   " (or this user cannot see it)");
    }
  }
  return Ok();
}

Status MysqlDetector::LoadCharsets(Client& c) {
  if (charsets_loaded_) return Ok();
  auto rows =
      c.Query("SELECT ID, CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLLATIONS");
  if (!rows) return Fail(rows.error());
  for (const auto& r : *rows) {
    if (!r[0] || !r[1]) continue;
    const auto id = static_cast<uint32_t>(std::strtoul(r[0]->c_str(), nullptr, 10));
    charsets_[id] = *r[1];
    if (r[2]) collation_ids_[*r[2]] = id;
  }
  charsets_loaded_ = true;
  return Ok();
}

Result<Position> MysqlDetector::StartPosition(Client& c) {
  if (position_) return *position_;
  if (!options_.state_file.empty()) {
    auto stored = LoadState(options_.state_file);
    if (!stored) return Fail(ErrorCode::kConfig, stored.error().message());
    if (*stored) {
      if ((*stored)->addr != options_.addr) {
        log::Warn("mysql: the state file was written for another server address",
                  {{"state_addr", (*stored)->addr}, {"addr", options_.addr}});
      }
      log::Info("mysql: resuming from the stored position",
                {{"position", Describe((*stored)->position)}});
      saved_ = (*stored)->position;
      confirmed_ = saved_;
      return (*stored)->position;
    }
  }
  auto status = c.Query("SHOW MASTER STATUS");
  if (!status) return Fail(status.error());
  if (status->empty() || status->front().size() < 2) {
    return Fail(ErrorCode::kConfig, "mysql: SHOW MASTER STATUS is empty (binary log off?)");
  }
  Position p;
  p.file = status->front()[0].value_or("");
  p.pos = std::strtoull(status->front()[1].value_or("4").c_str(), nullptr, 10);
  if (mariadb_) {
    auto g = c.Scalar("SELECT @@gtid_binlog_pos");
    if (!g) return Fail(g.error());
    p.gtid = *g;
  }
  log::Info("mysql: no stored position, starting at the server's current end",
            {{"position", Describe(p)}});
  fresh_start_ = true;
  return p;
}

Status MysqlDetector::StartDump(Client& c, const Position& start) {
  const auto hb_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.heartbeat_interval);
  for (const std::string& sql :
       {std::string("SET @master_binlog_checksum = @@global.binlog_checksum"),
        std::string("SET @mariadb_slave_capability = 4"),
        "SET @master_heartbeat_period = " + std::to_string(hb_ns.count())}) {
    if (auto st = c.Exec(sql); !st) return st;
  }
  const bool gtid = options_.use_gtid && mariadb_;
  if (gtid) {
    auto r = c.Query("SET @slave_connect_state = ?", {start.gtid});
    if (!r) return Fail(r.error());
    if (auto st = c.Exec("SET @slave_gtid_strict_mode = 0"); !st) return st;
  }
  return c.StartDump(static_cast<uint32_t>(options_.server_id), gtid ? std::string() : start.file,
                     gtid ? 4 : start.pos);
}

Status MysqlDetector::RunCycle(RunContext& ctx, Supervisor::Session& session) {
  auto client = ConnectChecked();
  if (!client) return Fail(client.error());
  Client& c = **client;
  if (auto st = LoadCharsets(c); !st) return st;
  if (auto st = CheckTables(c); !st) return st;
  auto start = StartPosition(c);
  if (!start) return Fail(start.error());
  Cycle cycle(*this, ctx);
  if (options_.snapshot_first && fresh_start_ && !snapshot_done_) {
    auto at = RunSnapshot(cycle);
    if (!at) return Fail(at.error());
    start = std::move(at);
  }
  if (auto st = StartDump(c, *start); !st) {
    if (st.error().code() == ErrorCode::kNotFound) {
      return Fail(ErrorCode::kNotFound,
                  st.error().message() + "; the position " + Describe(*start) +
                      " is no longer on the server (binlogs purged?). Remove the state file " +
                      options_.state_file +
                      " to start at the current end (changes in between "
                      "are lost), or take a snapshot");
    }
    return st;
  }
  checked_ = true;
  std::stop_callback on_stop(ctx.stop, [&c] { c.Interrupt(); });
  session.Up();
  log::Info("streaming", {{"detector", "mysql"}, {"position", Describe(*start)}});

  StreamOptions so{.tables = filter_,
                   .tx_metadata = options_.tx_metadata,
                   .tx_markers = options_.tx_markers,
                   .schema_events = options_.schema_events,
                   .id_origin = id_origin_,
                   .charsets = &charsets_,
                   .checksum = checksum_};
  BinlogStream stream(std::move(so), *start, cycle);
  uint64_t n = 0;             // binlog events read
  uint64_t published_at = 0;  // n at the last publish at a group boundary
  uint64_t value_errors = 0;
  while (!ctx.stop.stop_requested()) {
    if (!c.Readable(milliseconds(0))) {
      if (!cycle.Publish()) break;
      cycle.AwaitAcks(c);
    }
    auto ev = c.NextEvent();
    if (!ev) {
      if (ctx.stop.stop_requested() || ev.error().code() == ErrorCode::kCancelled) break;
      cycle.Publish();
      cycle.Checkpoint(true);
      return Fail(ev.error());
    }
    M().binlog_events.Inc();
    if (ev->size() >= 4) {
      const uint32_t ts =
          static_cast<uint32_t>((*ev)[0] | ((*ev)[1] << 8) | ((*ev)[2] << 16) | ((*ev)[3] << 24));
      if (ts != 0) M().lag.Set(static_cast<double>(NowUnixNanos()) / 1e9 - ts);
    }
    if (auto st = stream.Handle(*ev); !st) {
      if (st.error().code() == ErrorCode::kCancelled) break;
      cycle.Publish();
      cycle.Checkpoint(true);
      return Fail(st.error().Wrap("binlog at " + Describe(stream.position())));
    }
    const auto& s = stream.stats();
    if (s.value_errors + s.replaced_text != value_errors) {
      M().value_errors.Inc(s.value_errors + s.replaced_text - value_errors);
      value_errors = s.value_errors + s.replaced_text;
    }
    ++n;
    if (!stream.in_group()) {
      if (n - published_at >= kPublishEvery) {
        if (!cycle.Publish()) break;
        published_at = n;
      }
      cycle.Checkpoint(false);
    }
  }
  cycle.Drain();
  return Ok();
}

namespace {

using O = Options;

std::vector<ParamSpec> MysqlParams() {
  return Params({
      {
          Param("mysql.addr", &O::addr, "server address host:port (port 3306 when missing)",
                {.required = true}),
          Param("mysql.user", &O::user,
                "user with REPLICATION SLAVE, REPLICATION CLIENT and "
                "SELECT on information_schema"),
          Param("mysql.password", &O::password, "password of mysql.user"),
          Param("mysql.server_id", &O::server_id,
                "replica server id (unique among the server's replicas, > 0)",
                {.min = 0, .max = 4294967295LL, .required = true}),
          Param("mysql.tables", &O::tables, "tables to capture, db.table or table (default: all)"),
          Param("mysql.use_gtid", &O::use_gtid,
                "resume by GTID state instead of file/position (MariaDB)", {.flag = "mysql-gtid"}),
          Param("mysql.flavor", &O::flavor,
                "accepted for compatibility (the flavor is detected from the server)",
                {.choices = {"mysql", "mariadb"}}),
          Param("mysql.binlog_prefix", &O::binlog_prefix,
                "accepted for compatibility (file names come from the server)"),
          Param("mysql.state_file", &O::state_file,
                "file holding the delivered binlog position (written atomically after "
                "delivery; resumed from on start)"),
          Param("mysql.snapshot_first", &O::snapshot_first,
                "with no stored position: every captured table's rows as SNAPSHOT events from "
                "one consistent snapshot, then the binlog from exactly that point"),
          Param("mysql.heartbeat_interval", &O::heartbeat_interval,
                "server heartbeat period while idle; three missed heartbeats = dead connection",
                {.min = 100}),
      },
      FlagsFromKeys(
          "detector.", "",
          {
              Param("detector.tx_metadata", &O::tx_metadata,
                    "add a transaction block (xid, commit_time, seq) to row events"),
              Param("detector.tx_markers", &O::tx_markers,
                    "emit BEGIN/COMMIT events on pgcdc:_txn (implies --tx-metadata)"),
              Param("detector.schema_events", &O::schema_events,
                    "emit SCHEMA_CHANGE events on pgcdc:_schema when a table's columns change"),
          }),
      ReconnectParams<O>("mysql"),
  });
}

void Validate(const O& o, const Context& ctx, Errors& errors) {
  (void)ctx;
  if (auto a = ParseAddr(o.addr); !a) errors.push_back(a.error().message());
  if (o.server_id <= 0) errors.push_back("mysql.server_id: must be > 0 (a unique replica id)");
  if (auto f = TableFilter::Parse(o.tables); !f) errors.push_back(f.error().message());
  if (ctx.core.bus_mode == "fast" && !o.state_file.empty()) {
    errors.push_back(
        "bus.mode: fast mode drops events when an adapter falls behind, which would leave gaps "
        "behind the stored position; use --bus-mode reliable with --mysql-state-file");
  }
  ValidateBackoff("mysql", o.backoff, errors);
}

}  // namespace

ConnectorInfo Connector() {
  return DefineDetector<Options>({
      .name = "mysql",
      .description =
          "MySQL/MariaDB row-based binlog as a replica: typed row values, TRUNCATE, DDL-aware "
          "column names, GTID (MariaDB). With --mysql-state-file the position is stored after "
          "delivery: at-least-once across crashes. No --db needed.",
      .params = MysqlParams(),
      .validate = Validate,
      .make = [](O o, const Context& ctx) -> Result<DetectorPtr> {
        o.stop_grace = std::chrono::duration_cast<milliseconds>(ctx.core.shutdown_timeout) / 2;
        return std::make_unique<MysqlDetector>(std::move(o));
      },
      .check = [](const O& o, const Context&) { return CheckServer(o); },
  });
}

}  // namespace pgcdc::detector::mysql

PGCDC_REGISTER_CONNECTOR(detector, mysql, pgcdc::detector::mysql::Connector)
