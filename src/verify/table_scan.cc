#include "verify/table_scan.h"

#include <libpq-fe.h>

#include <chrono>

#include "core/json.h"
#include "snapshot/table_snapshot.h"

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

// The row being hashed: its JSON parsed into `tree`.
class TreeRow final : public SourceRow {
 public:
  TreeRow(const JsonTree& tree, const RowShape& shape) : tree_(tree), shape_(shape) {}
  void AppendCanonical(uint64_t mask, std::string& out) const override {
    AppendCanonicalRow(tree_, tree_.root(), shape_, mask, out);
  }

 private:
  const JsonTree& tree_;
  const RowShape& shape_;
};

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
    std::string key;
    json::AppendString(key, c.name);
    key.push_back(':');
    json_keys_.push_back(std::move(key));
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

Result<ScanStats> TableScan::Run(const RowShape& shape, size_t chunk_rows, const RowFn& fn) {
  const auto started = std::chrono::steady_clock::now();
  ChunkPager pager(
      conn_.raw(), snapshot::BuildKeysetQuery(info_.name, "", info_.key_columns, false, chunk_rows),
      snapshot::BuildKeysetQuery(info_.name, "", info_.key_columns, true, chunk_rows), chunk_rows);
  ScanStats stats;
  JsonTree tree;
  const TreeRow row_view(tree, shape);
  std::string json;
  std::string key;
  std::string canonical;
  if (auto st = pager.Send({}); !st) return Fail(st.error());
  for (;;) {
    auto result = pager.Receive();
    if (!result) return Fail(result.error());
    PGresult* r = result->get();
    const int n = PQntuples(r);
    ++stats.chunks;
    if (pager.Full(r)) {
      std::vector<std::string> last;
      for (int k : key_index_) last.emplace_back(PQgetvalue(r, n - 1, k));
      if (auto st = pager.Send(last); !st) return Fail(st.error());
    }
    for (int i = 0; i < n; ++i) {
      json.assign("{");
      for (int c = 0; c < PQnfields(r); ++c) {
        if (c > 0) json.push_back(',');
        json.append(json_keys_[c]);
        if (PQgetisnull(r, i, c)) {
          json.append("null");
        } else if (!pgtypes::AppendValueJson(
                       catalog_, info_.type_oids[c],
                       std::string_view(PQgetvalue(r, i, c), PQgetlength(r, i, c)), json)) {
          ++stats.value_errors;
        }
      }
      json.push_back('}');
      if (auto st = tree.Parse(json); !st) return Fail(st.error().Wrap("row JSON"));
      key.clear();
      canonical.clear();
      if (!AppendCanonicalKey(tree, tree.root(), shape, key)) {
        return Fail(ErrorCode::kProtocol, "a row without a primary key value");
      }
      AppendCanonicalRow(tree, tree.root(), shape, 0, canonical);
      fn(key, HashCanonical(canonical), row_view);
      ++stats.rows;
    }
    if (!pager.Full(r)) break;
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return stats;
}

}  // namespace pgcdc::verify
