#include "snapshot/table_snapshot.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <utility>

#include "core/json.h"
#include "core/log.h"
#include "core/sleep.h"
#include "core/time.h"
#include "core/uuid.h"
#include "snapshot/copy_text.h"

namespace pgcdc::snapshot {

namespace {

constexpr const char* kUndefinedTable = "42P01";
constexpr const char* kInvalidSchema = "3F000";
constexpr const char* kSyntaxError = "42601";

// Characters (not bytes) in UTF-8 text, as PostgreSQL counts error positions.
size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

using pg::TrimMessage;

// The server's primary error message (one line, without "ERROR:" and the
// LINE/caret context), or libpq's message when there is no result.
std::string PrimaryMessage(const PGresult* r, PGconn* conn) {
  if (r != nullptr) {
    if (const char* m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY); m != nullptr) return m;
    if (const char* m = PQresultErrorMessage(r); m != nullptr && *m != '\0') return TrimMessage(m);
  }
  return TrimMessage(PQerrorMessage(conn));
}

std::string SqlState(const PGresult* r) {
  const char* s = r == nullptr ? nullptr : PQresultErrorField(r, PG_DIAG_SQLSTATE);
  return s == nullptr ? std::string() : std::string(s);
}

ErrorCode CodeFor(PGconn* conn) {
  return PQstatus(conn) == CONNECTION_OK ? ErrorCode::kInvalidArgument : ErrorCode::kConnection;
}

ResultPtr ExecParams(PGconn* conn, const std::string& sql) {
  return ResultPtr(PQexecParams(conn, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0));
}

// Collects the row events of a run into batches of `batch_size` and hands
// each full one to on_batch, counting its rows (stats.rows, on_progress).
class Batcher {
 public:
  Batcher(const TableSnapshot::BatchFn& on_batch, const TableSnapshot::ProgressFn& on_progress,
          std::stop_token stop, size_t batch_size, size_t reserve, SnapshotStats& stats)
      : on_batch_(on_batch),
        on_progress_(on_progress),
        stop_(std::move(stop)),
        batch_size_(batch_size),
        stats_(stats) {
    batch.events.reserve(reserve);
  }

  // created_at of the events of the current batch: read once per batch (a
  // clock read per row costs more than the rest of the envelope).
  int64_t now_ns() const { return now_ns_; }

  // After a row event was appended to `batch`: hands it over when full.
  // False: stop (stop requested, or on_batch declined).
  bool RowAdded() { return batch.events.size() < batch_size_ || Flush(); }

  // Hands over what `batch` holds; false as for RowAdded.
  bool Flush() {
    if (batch.events.empty()) return true;
    const size_t n = batch.events.size();
    if (stop_.stop_requested() || !on_batch_(std::move(batch))) return false;
    stats_.rows += n;
    batch = EventBatch{};
    batch.events.reserve(batch_size_);
    now_ns_ = NowUnixNanos();
    if (on_progress_) on_progress_(stats_.rows);
    return true;
  }

  EventBatch batch;

 private:
  const TableSnapshot::BatchFn& on_batch_;
  const TableSnapshot::ProgressFn& on_progress_;
  std::stop_token stop_;
  const size_t batch_size_;
  SnapshotStats& stats_;
  int64_t now_ns_ = NowUnixNanos();
};

}  // namespace

// ---- Names, session, transaction ---------------------------------------------

Status PrepareSession(pg::Conn& conn) {
  if (auto st = conn.Exec("SET DateStyle = 'ISO, MDY'; SET TimeZone = 'UTC'; "
                          "SET IntervalStyle = 'postgres'; SET extra_float_digits = 1");
      !st) {
    return Fail(st.error().Wrap("session settings"));
  }
  return Ok();
}

bool IsValidSnapshotName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                    c == '/' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status BeginSnapshotTransaction(pg::Conn& conn, std::string_view snapshot_name) {
  if (!snapshot_name.empty() && !IsValidSnapshotName(snapshot_name)) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid snapshot name \"" + std::string(snapshot_name) +
                    "\" (expected an exported snapshot id such as 00000003-0000001B-1)");
  }
  if (auto st = conn.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); !st) {
    return Fail(st.error().Wrap("begin"));
  }
  if (!snapshot_name.empty()) {
    // Validated above: only hex digits, '/', ':' and '-' can appear.
    if (auto st = conn.Exec("SET TRANSACTION SNAPSHOT '" + std::string(snapshot_name) + "'"); !st) {
      (void)conn.Exec("ROLLBACK");
      return Fail(st.error().Wrap("snapshot \"" + std::string(snapshot_name) + "\""));
    }
  }
  return Ok();
}

Result<int64_t> EstimateRows(pg::Conn& conn, std::string_view table) {
  auto name = ParseTableName(table);
  if (!name) return Fail(name.error());
  auto rows = conn.Query("SELECT reltuples::float8::text FROM pg_class WHERE oid = $1::regclass",
                         {name->Quoted()});
  if (!rows) return Fail(rows.error().Wrap("estimate rows of " + std::string(table)));
  if (rows->empty() || rows->front().empty() || !rows->front()[0]) return int64_t{-1};
  char* end = nullptr;
  const std::string& text = *rows->front()[0];
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !(v >= 0) || v > 9e18) return int64_t{-1};
  return static_cast<int64_t>(std::llround(v));
}

std::string BuildKeysetQuery(const TableName& table, std::string_view where,
                             const std::vector<std::string>& key_columns, bool has_after,
                             size_t limit) {
  std::string cols;
  std::string params;
  for (size_t i = 0; i < key_columns.size(); ++i) {
    if (i > 0) {
      cols.append(", ");
      params.append(", ");
    }
    cols.append(pg::QuoteIdentifier(key_columns[i]));
    params.append("$").append(std::to_string(i + 1));
  }
  std::string sql = "SELECT * FROM " + table.Quoted();
  if (!where.empty() || has_after) sql.append(" WHERE ");
  if (!where.empty()) {
    sql.append("(").append(where).append("\n)");
    if (has_after) sql.append(" AND ");
  }
  if (has_after) sql.append("(").append(cols).append(") > (").append(params).append(")");
  sql.append(" ORDER BY ").append(cols);
  sql.append(" LIMIT ").append(std::to_string(limit == 0 ? 1 : limit));
  return sql;
}

// ---- TableSnapshot -------------------------------------------------------------

TableSnapshot::TableSnapshot(pg::Conn& conn, pgtypes::TypeCatalog& catalog, SnapshotOptions options)
    : conn_(conn), catalog_(catalog), options_(std::move(options)) {
  if (options_.batch_size == 0) options_.batch_size = 1;
}

Status TableSnapshot::Describe() {
  if (described_) return Ok();
  auto parsed = ParseTableName(options_.table);
  if (!parsed) return Fail(parsed.error());
  table_ = std::move(*parsed);
  PGconn* pc = conn_.raw();
  if (pc == nullptr) return Fail(ErrorCode::kConnection, "not connected");

  const std::string from = "SELECT * FROM " + table_.Quoted();
  ResultPtr r = ExecParams(pc, from + " LIMIT 0");
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    const std::string state = SqlState(r.get());
    if (state == kUndefinedTable || state == kInvalidSchema) {
      return Fail(ErrorCode::kNotFound, "table \"" + options_.table + "\" does not exist");
    }
    return Fail(CodeFor(pc), "table \"" + options_.table + "\": " + PrimaryMessage(r.get(), pc));
  }
  columns_.clear();
  keys_.clear();
  std::vector<uint32_t> oids;
  const int nf = PQnfields(r.get());
  for (int i = 0; i < nf; ++i) {
    SnapshotColumn c{PQfname(r.get(), i), static_cast<uint32_t>(PQftype(r.get(), i))};
    std::string key;
    json::AppendString(key, c.name);
    key.push_back(':');
    keys_.push_back(std::move(key));
    oids.push_back(c.type_oid);
    columns_.push_back(std::move(c));
  }
  r.reset();

  if (auto missing = catalog_.Missing(oids); !missing.empty()) {
    auto rows = conn_.Query(std::string(pgtypes::TypeCatalog::DescriptorQuery()),
                            {pgtypes::TypeCatalog::OidArrayLiteral(missing)});
    if (!rows) return Fail(rows.error().Wrap("look up column types"));
    if (auto st = catalog_.ApplyDescriptorRows(*rows); !st) {
      log::Warn("snapshot: some type descriptors were malformed",
                {{"error", st.error().message()}});
    }
  }

  select_sql_ = from;
  if (!options_.where.empty()) {
    // The newline keeps a trailing "-- comment" in the clause from eating
    // the closing parenthesis.
    select_sql_.append(" WHERE (").append(options_.where).append("\n)");
    ResultPtr w = ExecParams(pc, select_sql_ + " LIMIT 0");
    if (PQresultStatus(w.get()) != PGRES_TUPLES_OK) {
      std::string msg = PrimaryMessage(w.get(), pc);
      // A syntax error at the ")" we wrapped the clause in means the
      // condition ended too early; say so instead of pointing at our ")".
      const char* pos = PQresultErrorField(w.get(), PG_DIAG_STATEMENT_POSITION);
      if (SqlState(w.get()) == kSyntaxError && pos != nullptr &&
          std::strtoul(pos, nullptr, 10) >= Utf8Length(select_sql_)) {
        msg = "syntax error at end of input";
      }
      return Fail(CodeFor(pc), "invalid WHERE clause \"" + options_.where + "\": " + msg);
    }
  }

  channel_ = options_.channel.empty() ? "pgcdc:" + options_.table : options_.channel;
  payload_suffix_ = "}";
  if (!options_.snapshot_id.empty()) {
    payload_suffix_.append(",\"snapshot_id\":");
    json::AppendString(payload_suffix_, options_.snapshot_id);
  }
  payload_suffix_.append(",\"table\":");
  json::AppendString(payload_suffix_, table_.name);
  payload_suffix_.push_back('}');
  described_ = true;
  return Ok();
}

void TableSnapshot::AppendRowEvent(std::span<const std::optional<std::string_view>> fields,
                                   EventBatch& batch, int64_t now_ns, SnapshotStats& stats) {
  Event& e = batch.events.emplace_back();
  e.id = NewUuidV7At(static_cast<uint64_t>(now_ns / 1'000'000));
  e.channel = channel_;
  e.operation = std::string(kOperation);
  e.source = options_.source;
  e.created_at_ns = now_ns;
  std::string& p = e.payload;
  p.clear();
  size_t estimate = 48 + payload_suffix_.size();
  for (size_t i = 0; i < fields.size(); ++i) {
    estimate += keys_[i].size() + (fields[i] ? fields[i]->size() + 8 : 4);
  }
  p.reserve(estimate);
  p.append(R"({"old":null,"op":"SNAPSHOT","row":{)");
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) p.push_back(',');
    p.append(keys_[i]);
    if (!fields[i]) {
      p.append("null");
    } else if (!pgtypes::AppendValueJson(catalog_, columns_[i].type_oid, *fields[i], p)) {
      ++stats.value_errors;
    }
  }
  p.append(payload_suffix_);
}

Status TableSnapshot::CancelCopy() {
  PGconn* pc = conn_.raw();
  if (PGcancel* c = PQgetCancel(pc); c != nullptr) {
    char err[256];
    if (PQcancel(c, err, sizeof err) == 0) {
      log::Warn("snapshot: cancel request failed", {{"error", std::string(err)}});
    }
    PQfreeCancel(c);
  }
  // Drain what is in flight (blocking reads); the server ends the COPY with
  // an error.
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(pc, &buf, 0);
    if (buf != nullptr) PQfreemem(buf);
    if (n < 0) break;
  }
  while (PGresult* r = PQgetResult(pc)) PQclear(r);
  return Ok();
}

Result<SnapshotStats> TableSnapshot::RunKeyset(const BatchFn& on_batch,
                                               const ProgressFn& on_progress,
                                               std::stop_token stop) {
  const auto& keys = options_.key_columns;
  if (!options_.after.empty() && options_.after.size() != keys.size()) {
    return Fail(ErrorCode::kInvalidArgument, "table \"" + options_.table + "\": resume key has " +
                                                 std::to_string(options_.after.size()) +
                                                 " values, expected " +
                                                 std::to_string(keys.size()));
  }
  std::vector<size_t> key_index;
  for (const auto& k : keys) {
    size_t i = 0;
    while (i < columns_.size() && columns_[i].name != k) ++i;
    if (i == columns_.size()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "table \"" + options_.table + "\" has no column \"" + k + "\"");
    }
    key_index.push_back(i);
  }
  const std::string sql =
      BuildKeysetQuery(table_, options_.where, keys, !options_.after.empty(), options_.limit);
  std::vector<std::optional<std::string>> params(options_.after.begin(), options_.after.end());
  auto rows = conn_.Query(sql, params);
  if (!rows) return Fail(rows.error().Wrap("read " + options_.table));

  SnapshotStats stats;
  Batcher batcher(on_batch, on_progress, std::move(stop), options_.batch_size,
                  std::min(options_.batch_size, rows->size()), stats);
  std::vector<std::optional<std::string_view>> fields;
  for (const auto& row : *rows) {
    if (row.size() != columns_.size()) {
      return Fail(ErrorCode::kProtocol, "read " + options_.table + ": row has " +
                                            std::to_string(row.size()) + " columns, expected " +
                                            std::to_string(columns_.size()));
    }
    fields.clear();
    for (const auto& v : row) {
      fields.push_back(v ? std::optional<std::string_view>(*v) : std::nullopt);
      if (v) stats.bytes += v->size();
    }
    AppendRowEvent(fields, batcher.batch, batcher.now_ns(), stats);
    if (!batcher.RowAdded()) return stats;
  }
  if (!batcher.Flush()) return stats;
  if (!rows->empty()) {
    for (size_t i : key_index) stats.last_key.push_back(rows->back()[i].value_or(""));
  }
  stats.completed = true;
  return stats;
}

namespace {

// Reads CopyData messages until the end of the COPY (true), or until
// `consume` returns false, a stop is requested or reading fails (false;
// `failure` is set for a failure). Non-blocking reads so a stop request is
// noticed even while the server is still scanning for matching rows.
bool PumpCopyData(PGconn* pc, const std::string& table, const std::stop_token& stop,
                  const std::function<bool(std::string_view)>& consume, Status& failure) {
  Sleeper waker(stop);
  for (;;) {
    char* buf = nullptr;
    const int n = PQgetCopyData(pc, &buf, /*async=*/1);
    if (n > 0) {
      const bool go = consume(std::string_view(buf, static_cast<size_t>(n)));
      PQfreemem(buf);
      if (!go) return false;
      continue;
    }
    if (buf != nullptr) PQfreemem(buf);
    if (n == -1) return true;
    if (n == -2) {
      failure = Fail(CodeFor(pc), "copy " + table + ": " + TrimMessage(PQerrorMessage(pc)));
      return false;
    }
    // n == 0: nothing buffered yet; wait for the socket or a stop request.
    if (stop.stop_requested()) return false;
    pollfd fds[2] = {{PQsocket(pc), POLLIN, 0}, {waker.fd(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
      failure = Fail(ErrorCode::kIo, std::string("poll: ") + std::strerror(errno));
      return false;
    }
    if ((fds[0].revents & (POLLIN | POLLERR | POLLHUP)) != 0 && PQconsumeInput(pc) == 0) {
      failure =
          Fail(ErrorCode::kConnection, "copy " + table + ": " + TrimMessage(PQerrorMessage(pc)));
      return false;
    }
  }
}

// The final command status of a COPY whose data was read to the end.
Status CopyResult(PGconn* pc, const std::string& table) {
  Status status = Ok();
  while (PGresult* r = PQgetResult(pc)) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && status) {
      status = Fail(CodeFor(pc), "copy " + table + ": " + PrimaryMessage(r, pc));
    }
    PQclear(r);
  }
  return status;
}

}  // namespace

Result<SnapshotStats> TableSnapshot::Run(const BatchFn& on_batch, const ProgressFn& on_progress,
                                         const std::stop_token& stop) {
  if (auto st = Describe(); !st) return Fail(st.error());
  if (!options_.key_columns.empty()) return RunKeyset(on_batch, on_progress, stop);
  PGconn* pc = conn_.raw();
  SnapshotStats stats;

  std::string copy_sql = "COPY (" + select_sql_;
  if (const std::string cond = range_ ? CtidCondition(*range_) : std::string(); !cond.empty()) {
    copy_sql.append(options_.where.empty() ? " WHERE " : " AND ").append(cond);
  }
  copy_sql.append(") TO STDOUT");
  {
    ResultPtr r = ExecParams(pc, copy_sql);
    if (PQresultStatus(r.get()) != PGRES_COPY_OUT) {
      return Fail(CodeFor(pc), "copy " + options_.table + ": " + PrimaryMessage(r.get(), pc));
    }
  }

  CopyTextParser parser(options_.max_row_bytes);
  Batcher batcher(on_batch, on_progress, stop, options_.batch_size, options_.batch_size, stats);
  const size_t ncols = columns_.size();
  Status failure = Ok();

  // Handles one CopyData chunk; false = stop (failure or early stop set).
  auto consume = [&](std::string_view chunk) -> bool {
    stats.bytes += chunk.size();
    if (auto st = parser.Feed(chunk); !st) {
      failure = Fail(st.error());
      return false;
    }
    for (;;) {
      auto more = parser.Next();
      if (!more) {
        failure = Fail(more.error().Wrap("copy " + options_.table));
        return false;
      }
      if (!*more) return true;
      auto fields = parser.fields();
      // A table without columns sends empty lines: one empty column to the
      // parser, none to us.
      if (ncols == 0 && fields.size() == 1 && fields[0] && fields[0]->empty()) {
        fields = fields.subspan(1);
      }
      if (fields.size() != ncols) {
        failure = Fail(ErrorCode::kProtocol, "copy " + options_.table + ": row has " +
                                                 std::to_string(fields.size()) +
                                                 " columns, expected " + std::to_string(ncols));
        return false;
      }
      AppendRowEvent(fields, batcher.batch, batcher.now_ns(), stats);
      if (!batcher.RowAdded()) return false;
    }
  };

  if (!PumpCopyData(pc, options_.table, stop, consume, failure)) {
    // Stopped early or failed mid-stream: end the COPY so the connection is
    // usable for the caller's ROLLBACK (best effort when the link is gone).
    if (PQstatus(pc) == CONNECTION_OK) (void)CancelCopy();
    if (!failure) return Fail(failure.error());
    stats.completed = false;
    return stats;
  }
  if (auto st = CopyResult(pc, options_.table); !st) return Fail(st.error());
  if (auto st = parser.Finish(); !st) return Fail(st.error().Wrap("copy " + options_.table));
  if (!batcher.Flush()) {
    stats.completed = false;
    return stats;
  }
  if (on_progress && stats.rows == 0) on_progress(0);
  stats.completed = true;
  return stats;
}

}  // namespace pgcdc::snapshot
