#include "verify/table_scan.h"

#include <libpq-fe.h>

#include <chrono>
#include <deque>
#include <optional>
#include <thread>

#include "core/mutex.h"
#include "snapshot/copy_text.h"
#include "snapshot/table_snapshot.h"
#include "verify/row_canonicalizer.h"

namespace pgcdc::verify {

namespace {

// The primary key's columns in key order (pg_constraint.conkey order).
constexpr const char* kPrimaryKeySql =
    "SELECT att.attname::text FROM pg_constraint con "
    "CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, pos) "
    "JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.attnum "
    "WHERE con.conrelid = $1::regclass AND con.contype = 'p' ORDER BY k.pos";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// A batch of whole COPY text rows (PostgreSQL sends one row per CopyData
// message, so a batch never ends inside a row).
struct Batch {
  std::string text;
  size_t rows = 0;
};

// A row of the current batch, parsed and canonicalised again only when the
// diff asks (a missing or differing row, a masked comparison).
class BatchRow final : public SourceRow {
 public:
  explicit BatchRow(RowCanonicalizer& row) : row_(row) {}
  void Select(std::string_view line) { line_ = line; }
  void AppendCanonical(uint64_t mask, std::string& out) const override {
    parser_.Reset();
    if (!parser_.Feed(line_) || !parser_.Next().value_or(false)) return;
    (void)row_.Set(parser_.fields());  // errors were counted in the first pass
    row_.AppendRow(mask, out);
  }

 private:
  RowCanonicalizer& row_;
  std::string_view line_;  // with its newline
  mutable snapshot::CopyTextParser parser_;
};

// Hashes a batch's rows first (prefetching each key's state), then hands
// them to `fn`: the lookups then mostly hit the cache.
Status ProcessBatch(const Batch& batch, RowCanonicalizer& row, const TableScan::RowFn& fn,
                    const TableScan::PrefetchFn& prefetch, ScanStats& stats) {
  snapshot::CopyTextParser parser;
  if (auto st = parser.Feed(batch.text); !st) return st;
  std::string keys;
  std::vector<size_t> key_ends;
  std::vector<size_t> line_ends;
  std::vector<uint64_t> hashes;
  std::string canonical;
  for (size_t start = 0;;) {
    auto more = parser.Next();
    if (!more) return Fail(more.error().Wrap("table data"));
    if (!*more) break;
    stats.value_errors += row.Set(parser.fields());
    const size_t key_start = keys.size();
    if (!row.AppendKey(keys)) return Fail(ErrorCode::kProtocol, "a row with a NULL key value");
    key_ends.push_back(keys.size());
    if (prefetch) prefetch(std::string_view(keys).substr(key_start));
    canonical.clear();
    row.AppendRow(0, canonical);
    hashes.push_back(HashCanonical(canonical));
    start = batch.text.find('\n', start) + 1;
    line_ends.push_back(start);
  }
  BatchRow view(row);
  std::string key;
  for (size_t i = 0; i < hashes.size(); ++i) {
    const size_t key_start = i == 0 ? 0 : key_ends[i - 1];
    const size_t line_start = i == 0 ? 0 : line_ends[i - 1];
    key.assign(keys, key_start, key_ends[i] - key_start);
    view.Select(std::string_view(batch.text).substr(line_start, line_ends[i] - line_start));
    fn(key, hashes[i], view);
  }
  stats.rows += hashes.size();
  return Ok();
}

}  // namespace

Result<std::unique_ptr<TableScan>> TableScan::Open(pg::Conn& conn, std::string_view table) {
  std::unique_ptr<TableScan> scan(new TableScan(conn));
  if (auto st = snapshot::PrepareSession(conn); !st) return Fail(st.error());
  if (auto st = snapshot::BeginSnapshotTransaction(conn); !st) return Fail(st.error());
  if (auto st = scan->Describe(table); !st) return Fail(st.error());
  if (auto st = scan->ReadPrimaryKey(); !st) return Fail(st.error());
  return scan;
}

Status TableScan::Describe(std::string_view table) {
  snapshot::SnapshotOptions options;
  options.table = std::string(table);
  snapshot::TableSnapshot describe(conn_, catalog_, std::move(options));
  if (auto st = describe.Describe(); !st) return Fail(st.error());
  info_.name = describe.table();
  for (const auto& c : describe.columns()) {
    info_.columns.push_back(c.name);
    info_.type_oids.push_back(c.type_oid);
  }
  return Ok();
}

Status TableScan::ReadPrimaryKey() {
  auto rows = conn_.Query(kPrimaryKeySql, {info_.name.Quoted()});
  if (!rows) return Fail(rows.error().Wrap("primary key of " + info_.name.Display()));
  for (const auto& r : *rows) {
    if (r.empty()) continue;
    if (const std::optional<std::string>& name = r[0]; name.has_value()) {
      info_.key_columns.push_back(*name);
    }
  }
  if (info_.key_columns.empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "table \"" + info_.name.Display() +
                    "\" has no primary key: verify matches rows by primary key "
                    "(add one, e.g. ALTER TABLE … ADD PRIMARY KEY (…))");
  }
  return Ok();
}

namespace {

// Streams `COPY (SELECT * … ORDER BY pk) TO STDOUT` on its own thread and
// hands it over in batches of `batch_rows` rows, at most two ahead: while
// pgcdc hashes one batch, libpq keeps receiving, so the server never waits
// on a full socket.
class CopyReader {
 public:
  CopyReader(PGconn* conn, std::string sql, size_t batch_rows)
      : conn_(conn), sql_(std::move(sql)), batch_rows_(batch_rows), thread_([this] { Loop(); }) {}
  ~CopyReader() {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    cv_.NotifyAll();
    thread_.join();
  }

  // The next batch; nullopt after the last one; an error ends the scan.
  Result<std::optional<Batch>> Next() {
    MutexLock lock(mu_);
    while (queue_.empty() && !done_) cv_.Wait(mu_);
    if (!queue_.empty()) {
      Batch b = std::move(queue_.front());
      queue_.pop_front();
      cv_.NotifyAll();
      return std::optional<Batch>(std::move(b));
    }
    if (!error_) return std::optional<Batch>();
    return Fail(*error_);
  }

 private:
  static constexpr size_t kQueued = 2;

  void Loop() {
    Status st = Stream();
    MutexLock lock(mu_);
    if (!st) error_ = st.error();
    done_ = true;
    cv_.NotifyAll();
  }

  Status Stream() {
    ResultPtr started(PQexec(conn_, sql_.c_str()));
    if (PQresultStatus(started.get()) != PGRES_COPY_OUT) {
      return Fail(
          PQstatus(conn_) == CONNECTION_OK ? ErrorCode::kInvalidArgument : ErrorCode::kConnection,
          "read table: " + pg::TrimMessage(PQresultErrorMessage(started.get())));
    }
    Batch batch;
    for (;;) {
      char* buf = nullptr;
      const int n = PQgetCopyData(conn_, &buf, /*async=*/0);
      if (n > 0) {
        batch.text.append(buf, static_cast<size_t>(n));
        PQfreemem(buf);
        if (++batch.rows >= batch_rows_ && !Push(std::exchange(batch, Batch{}))) return Ok();
        continue;
      }
      if (n == -1) break;
      return Fail(ErrorCode::kConnection, "read table: " + pg::TrimMessage(PQerrorMessage(conn_)));
    }
    ResultPtr end(PQgetResult(conn_));
    if (PQresultStatus(end.get()) != PGRES_COMMAND_OK) {
      return Fail(ErrorCode::kConnection,
                  "read table: " + pg::TrimMessage(PQresultErrorMessage(end.get())));
    }
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    if (batch.rows > 0) (void)Push(std::move(batch));  // false: abandoned, nothing to do
    return Ok();
  }

  // False when the scan was abandoned.
  bool Push(Batch b) {
    MutexLock lock(mu_);
    while (queue_.size() >= kQueued && !stopping_) cv_.Wait(mu_);
    if (stopping_) return false;
    queue_.push_back(std::move(b));
    cv_.NotifyAll();
    return true;
  }

  PGconn* conn_;
  std::string sql_;
  size_t batch_rows_;
  Mutex mu_;
  CondVar cv_;
  std::deque<Batch> queue_ GUARDED_BY(mu_);
  std::optional<Error> error_ GUARDED_BY(mu_);
  bool done_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

std::string CopySql(const TableInfo& info) {
  std::string sql = "COPY (SELECT * FROM " + info.name.Quoted() + " ORDER BY ";
  for (size_t i = 0; i < info.key_columns.size(); ++i) {
    sql.append(i == 0 ? "" : ", ").append(pg::QuoteIdentifier(info.key_columns[i]));
  }
  return sql + ") TO STDOUT";
}

}  // namespace

Result<ScanStats> TableScan::Run(const RowShape& shape, size_t chunk_rows, const RowFn& fn,
                                 const PrefetchFn& prefetch) {
  const auto started = std::chrono::steady_clock::now();
  ScanStats stats;
  RowCanonicalizer row(catalog_, info_.type_oids, shape);
  {
    CopyReader reader(conn_.raw(), CopySql(info_), chunk_rows);
    for (;;) {
      auto batch = reader.Next();
      if (!batch) return Fail(batch.error());
      const std::optional<Batch>& chunk = *batch;
      if (!chunk.has_value()) break;
      ++stats.chunks;
      if (auto st = ProcessBatch(*chunk, row, fn, prefetch, stats); !st) return Fail(st.error());
    }
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return stats;
}

}  // namespace pgcdc::verify
