// pg_table:[DSN/]TABLE — the rows the pg_table sink inserted (docs/pg_table.md:
// id, channel, operation, payload jsonb, source, created_at), read through a
// cursor in (created_at, id) order: the order the sink committed them in
// (WAL ids sort in commit order within one created_at microsecond).
#include <libpq-fe.h>

#include "core/log.h"
#include "pg/conn.h"
#include "pg/table_name.h"
#include "verify/sink_reader.h"

namespace pgcdc::verify {

namespace {

constexpr int kFetchRows = 5000;
constexpr const char* kCursor = "pgcdc_verify_sink";

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

class PgTableReader final : public SinkReader {
 public:
  PgTableReader(pg::Conn conn, pg::TableName table, std::vector<std::string> channels)
      : conn_(std::move(conn)), table_(std::move(table)), channels_(std::move(channels)) {}

  Status ReadAll(const RecordFn& fn) override {
    if (auto st = conn_.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); !st) {
      return Fail(st.error().Wrap("pg_table sink"));
    }
    Status st = Declare();
    if (st) st = FetchAll(fn);
    // Read only: nothing to keep. A failed ROLLBACK leaves an aborted
    // transaction on a connection that is not used again.
    if (auto rolled_back = conn_.Exec("ROLLBACK"); !rolled_back) {
      log::Debug("verify: rollback failed", {{"error", rolled_back.error().message()}});
    }
    return st;
  }

  std::string Describe() const override { return "pg_table " + table_.Display(); }

 private:
  Status Declare() {
    std::string sql = std::string("DECLARE ") + kCursor +
                      " NO SCROLL CURSOR FOR SELECT id::text, channel, operation, payload::text "
                      "FROM " +
                      table_.Quoted();
    std::vector<std::optional<std::string>> params;
    for (size_t i = 0; i < channels_.size(); ++i) {
      sql.append(i == 0 ? " WHERE channel IN (" : ", ").append("$" + std::to_string(i + 1));
      params.emplace_back(channels_[i]);
    }
    if (!channels_.empty()) sql.append(")");
    sql.append(" ORDER BY created_at, id");
    if (auto r = conn_.Query(sql, params); !r) {
      return Fail(ErrorCode::kInvalidArgument,
                  "pg_table sink " + table_.Display() + ": " + r.error().message() +
                      " (expected the pg_table sink's columns id, channel, operation, payload, "
                      "created_at)");
    }
    return Ok();
  }

  Status FetchAll(const RecordFn& fn) {
    const std::string fetch = "FETCH " + std::to_string(kFetchRows) + " FROM " + kCursor;
    const std::string name = table_.Display();
    for (;;) {
      ResultPtr r(PQexec(conn_.raw(), fetch.c_str()));
      if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
        return Fail(ErrorCode::kConnection,
                    "pg_table sink: " + pg::TrimMessage(PQresultErrorMessage(r.get())));
      }
      const int n = PQntuples(r.get());
      for (int i = 0; i < n; ++i) {
        auto value = [&](int c) {
          return std::string_view(PQgetvalue(r.get(), i, c), PQgetlength(r.get(), i, c));
        };
        const Hints hints{.channel = value(1), .operation = value(2), .id = value(0)};
        fn(value(3), hints, Location{.name = name, .id = value(0)});
      }
      if (n < kFetchRows) return Ok();
    }
  }

  pg::Conn conn_;
  pg::TableName table_;
  std::vector<std::string> channels_;
};

}  // namespace

Result<std::unique_ptr<SinkReader>> OpenPgTableSink(const std::string& dsn,
                                                    const std::string& table,
                                                    const std::vector<std::string>& channels) {
  auto name = pg::ParseTableName(table);
  if (!name) return Fail(ErrorCode::kConfig, "pg_table sink: " + name.error().message());
  auto conn = pg::Conn::Open(dsn);
  if (!conn) return Fail(conn.error().Wrap("pg_table sink"));
  auto exists = conn->Query("SELECT to_regclass($1) IS NOT NULL", {name->Quoted()});
  if (!exists) return Fail(exists.error().Wrap("pg_table sink"));
  if (exists->empty() || exists->front().empty() || exists->front()[0] != "t") {
    return Fail(ErrorCode::kNotFound, "pg_table sink: table \"" + name->Display() +
                                          "\" does not exist in " + pg::RedactUrl(dsn));
  }
  return std::make_unique<PgTableReader>(std::move(*conn), std::move(*name), channels);
}

}  // namespace pgcdc::verify
