#include "verify/table_scan.h"

#include <libpq-fe.h>

#include <chrono>
#include <deque>
#include <optional>
#include <thread>

#include "core/mutex.h"
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

// Row `i` of a result as text values (NULL = nullopt).
void LoadRow(const PGresult* r, int i, std::vector<std::optional<std::string_view>>& values) {
  values.clear();
  for (int c = 0; c < PQnfields(r); ++c) {
    if (PQgetisnull(r, i, c)) {
      values.emplace_back(std::nullopt);
    } else {
      values.emplace_back(std::string_view(PQgetvalue(r, i, c), PQgetlength(r, i, c)));
    }
  }
}

// A row of the current chunk, canonicalised again only when the diff asks
// (a missing or differing row, a masked comparison).
class ChunkRow final : public SourceRow {
 public:
  ChunkRow(const PGresult* r, RowCanonicalizer& row) : result_(r), row_(row) {}
  void Select(int i) { index_ = i; }
  void AppendCanonical(uint64_t mask, std::string& out) const override {
    LoadRow(result_, index_, values_);
    (void)row_.Set(values_);  // errors were counted in the first pass
    row_.AppendRow(mask, out);
  }

 private:
  const PGresult* result_;
  RowCanonicalizer& row_;
  int index_ = 0;
  mutable std::vector<std::optional<std::string_view>> values_;
};

// Hashes a chunk's rows first (prefetching each key's state), then hands
// them to `fn`: the lookups then mostly hit the cache.
Status ProcessChunk(const PGresult* r, RowCanonicalizer& row, const TableScan::RowFn& fn,
                    const TableScan::PrefetchFn& prefetch, ScanStats& stats) {
  const int n = PQntuples(r);
  std::vector<std::optional<std::string_view>> values;
  std::string keys;
  std::vector<size_t> key_ends;
  std::vector<uint64_t> hashes;
  std::string canonical;
  key_ends.reserve(n);
  hashes.reserve(n);
  for (int i = 0; i < n; ++i) {
    LoadRow(r, i, values);
    stats.value_errors += row.Set(values);
    const size_t start = keys.size();
    if (!row.AppendKey(keys)) return Fail(ErrorCode::kProtocol, "a row with a NULL key value");
    key_ends.push_back(keys.size());
    if (prefetch) prefetch(std::string_view(keys).substr(start));
    canonical.clear();
    row.AppendRow(0, canonical);
    hashes.push_back(HashCanonical(canonical));
  }
  ChunkRow view(r, row);
  std::string key;
  for (int i = 0; i < n; ++i) {
    const size_t start = i == 0 ? 0 : key_ends[i - 1];
    key.assign(keys, start, key_ends[i] - start);
    view.Select(i);
    fn(key, hashes[i], view);
  }
  stats.rows += static_cast<uint64_t>(n);
  return Ok();
}

// Sends chunk queries and hands their results over, one request ahead.
class ChunkPager {
 public:
  ChunkPager(PGconn* conn, std::string first_sql, std::string next_sql, size_t chunk_rows)
      : conn_(conn),
        first_sql_(std::move(first_sql)),
        next_sql_(std::move(next_sql)),
        chunk_rows_(chunk_rows) {}

  // Sends the query for the chunk after `after` (no values: the first).
  Status Send(const std::vector<std::string>& after) {
    std::vector<const char*> values;
    for (const auto& v : after) values.push_back(v.c_str());
    const std::string& sql = after.empty() ? first_sql_ : next_sql_;
    if (PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), nullptr, nullptr, 0) == 0) {
      return Fail(ErrorCode::kConnection, "read table: " + pg::TrimMessage(PQerrorMessage(conn_)));
    }
    return Ok();
  }

  // The result of the query sent last.
  Result<ResultPtr> Receive() {
    ResultPtr result(PQgetResult(conn_));
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
    if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      const char* msg = result ? PQresultErrorMessage(result.get()) : PQerrorMessage(conn_);
      const ErrorCode code =
          PQstatus(conn_) == CONNECTION_OK ? ErrorCode::kInvalidArgument : ErrorCode::kConnection;
      return Fail(code, "read table: " + pg::TrimMessage(msg));
    }
    return result;
  }

  bool Full(const PGresult* r) const { return static_cast<size_t>(PQntuples(r)) >= chunk_rows_; }

 private:
  PGconn* conn_;
  std::string first_sql_;
  std::string next_sql_;
  size_t chunk_rows_;
};

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
    if (r.empty() || !r[0]) continue;
    info_.key_columns.push_back(*r[0]);
    int index = 0;
    while (index < static_cast<int>(info_.columns.size()) && info_.columns[index] != *r[0]) {
      ++index;
    }
    key_index_.push_back(index);
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

// Reads the chunks on its own thread, one query ahead of the hashing: while
// pgcdc hashes chunk n, libpq receives chunk n+1 (so the server never waits
// on a full socket) and asks for chunk n+2 as soon as n+1 is in.
class ChunkReader {
 public:
  ChunkReader(ChunkPager& pager, std::vector<int> key_index)
      : pager_(pager), key_index_(std::move(key_index)), thread_([this] { Loop(); }) {}
  ~ChunkReader() {
    {
      MutexLock lock(mu_);
      stopping_ = true;
    }
    cv_.NotifyAll();
    thread_.join();
  }

  // The next chunk; null after the last one; an error ends the scan.
  Result<ResultPtr> Next() {
    MutexLock lock(mu_);
    while (queue_.empty() && !done_) cv_.Wait(mu_);
    if (!queue_.empty()) {
      ResultPtr r = std::move(queue_.front());
      queue_.pop_front();
      cv_.NotifyAll();
      return r;
    }
    if (!error_) return ResultPtr();
    return Fail(*error_);
  }

 private:
  static constexpr size_t kQueued = 2;

  void Loop() {
    Status st = pager_.Send({});
    while (st) {
      auto result = pager_.Receive();
      if (!result) {
        st = Fail(result.error());
        break;
      }
      const PGresult* r = result->get();
      const bool more = pager_.Full(r);
      if (more) {
        std::vector<std::string> last;
        for (int k : key_index_) last.emplace_back(PQgetvalue(r, PQntuples(r) - 1, k));
        st = pager_.Send(last);
      }
      if (!Push(std::move(*result)) || !more) break;
    }
    MutexLock lock(mu_);
    if (!st) error_ = st.error();
    done_ = true;
    cv_.NotifyAll();
  }

  // False when the scan was abandoned.
  bool Push(ResultPtr r) {
    MutexLock lock(mu_);
    while (queue_.size() >= kQueued && !stopping_) cv_.Wait(mu_);
    if (stopping_) return false;
    queue_.push_back(std::move(r));
    cv_.NotifyAll();
    return true;
  }

  ChunkPager& pager_;
  std::vector<int> key_index_;
  Mutex mu_;
  CondVar cv_;
  std::deque<ResultPtr> queue_ GUARDED_BY(mu_);
  std::optional<Error> error_ GUARDED_BY(mu_);
  bool done_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace

Result<ScanStats> TableScan::Run(const RowShape& shape, size_t chunk_rows, const RowFn& fn,
                                 const PrefetchFn& prefetch) {
  const auto started = std::chrono::steady_clock::now();
  ChunkPager pager(
      conn_.raw(), snapshot::BuildKeysetQuery(info_.name, "", info_.key_columns, false, chunk_rows),
      snapshot::BuildKeysetQuery(info_.name, "", info_.key_columns, true, chunk_rows), chunk_rows);
  ScanStats stats;
  RowCanonicalizer row(catalog_, info_.type_oids, shape);
  {
    ChunkReader reader(pager, key_index_);
    for (;;) {
      auto result = reader.Next();
      if (!result) return Fail(result.error());
      if (!*result) break;
      ++stats.chunks;
      if (auto st = ProcessChunk(result->get(), row, fn, prefetch, stats); !st) {
        return Fail(st.error());
      }
    }
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return stats;
}

}  // namespace pgcdc::verify
