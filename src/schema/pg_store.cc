// The pg backend of the schema store: table pgcdc_schemas (created by
// pgcdc's migrations, pg/migrations.cc), one row per (subject, version).
#include <string>

#include "core/log.h"
#include "pg/conn.h"
#include "pg/migrations.h"
#include "schema/store.h"

namespace pgcdc::schema {

namespace {

// A new version unless the latest one already has this hash; a concurrent
// writer that took the same version number makes ON CONFLICT skip the row
// (nothing returned), and the caller looks again.
constexpr const char* kInsert =
    "WITH latest AS (SELECT version, hash FROM pgcdc_schemas WHERE subject = $1 "
    "ORDER BY version DESC LIMIT 1) "
    "INSERT INTO pgcdc_schemas (subject, version, columns, hash) "
    "SELECT $1, COALESCE((SELECT version FROM latest), 0) + 1, $2::jsonb, $3 "
    "WHERE NOT EXISTS (SELECT 1 FROM latest WHERE hash = $3) "
    "ON CONFLICT (subject, version) DO NOTHING RETURNING version::text";
constexpr const char* kLatestHash =
    "SELECT version::text, hash FROM pgcdc_schemas WHERE subject = $1 "
    "ORDER BY version DESC LIMIT 1";
constexpr const char* kColumns =
    "subject, version::text, columns::text, hash, "
    "(extract(epoch FROM created_at) * 1000000)::bigint::text";
// Each lost race means another writer added a version, so a writer retries
// at most as often as the others register new shapes meanwhile: 5 was too few
// for 4 processes registering 10 shapes each (pg_store_test failed now and
// then); this bound only stops a pathological stream of new shapes.
constexpr int kInsertAttempts = 100;

// A hung database must not hold the WAL detector (which registers) or the
// HTTP I/O thread (which reads) for long.
Result<pg::Conn> Connect(const std::string& url) {
  auto conn = pg::Conn::Open(url);
  if (!conn) return Fail(conn.error());
  if (auto st = conn->Exec("SET statement_timeout = '10s'"); !st) return Fail(st.error());
  return conn;
}

class PgStore : public Store {
 public:
  PgStore(std::string url, pg::Conn conn) : url_(std::move(url)), conn_(std::move(conn)) {}

  Result<std::optional<Version>> Latest(const std::string& subject) override {
    return One(std::string("SELECT ") + kColumns +
                   " FROM pgcdc_schemas WHERE subject = $1 ORDER BY version DESC LIMIT 1",
               {subject});
  }
  Result<std::optional<Version>> Get(const std::string& subject, int version) override {
    return One(std::string("SELECT ") + kColumns +
                   " FROM pgcdc_schemas WHERE subject = $1 AND version = $2",
               {subject, std::to_string(version)});
  }
  Result<std::vector<SubjectSummary>> Subjects() override {
    auto rows = Run(
        "SELECT subject, max(version)::text FROM pgcdc_schemas GROUP BY subject ORDER BY subject",
        {});
    if (!rows) return Fail(rows.error().Wrap("schema store: list subjects"));
    std::vector<SubjectSummary> out;
    for (const auto& row : *rows) {
      if (row.size() < 2 || !row[0] || !row[1]) continue;
      out.push_back({*row[0], std::stoi(*row[1])});
    }
    return out;
  }
  std::string_view type() const override { return "pg"; }

 protected:
  Result<RegisterResult> Insert(const std::string& subject, const std::vector<Column>& columns,
                                const std::string& hash) override {
    const std::string text = CanonicalJson(columns);
    for (int attempt = 0; attempt < kInsertAttempts; ++attempt) {
      auto inserted = Run(kInsert, {subject, text, hash});
      if (!inserted) return Fail(inserted.error());
      if (!inserted->empty() && inserted->at(0).at(0)) {
        return RegisterResult{.version = std::stoi(*inserted->at(0).at(0)), .created = true};
      }
      auto latest = Run(kLatestHash, {subject});
      if (!latest) return Fail(latest.error());
      if (!latest->empty() && latest->at(0).at(1) == hash && latest->at(0).at(0)) {
        return RegisterResult{.version = std::stoi(*latest->at(0).at(0)), .created = false};
      }
      // Another writer added a different version in between: try again.
    }
    return Fail(ErrorCode::kUnknown, "concurrent writers kept adding versions of " + subject);
  }

 private:
  // One statement; a lost connection is reopened and the statement retried once.
  Result<std::vector<pg::Row>> Run(const std::string& sql,
                                   const std::vector<std::optional<std::string>>& params) {
    MutexLock lock(mu_);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!conn_.ok()) {
        auto conn = Connect(url_);
        if (!conn) return Fail(conn.error());
        conn_ = std::move(*conn);
      }
      auto rows = conn_.Query(sql, params);
      if (rows || conn_.ok()) return rows;
      log::Warn("schema store: connection lost; reconnecting", {{"error", rows.error().message()}});
    }
    return Fail(ErrorCode::kConnection, "schema store: connection lost");
  }

  Result<std::optional<Version>> One(const std::string& sql,
                                     const std::vector<std::optional<std::string>>& params) {
    auto rows = Run(sql, params);
    if (!rows) return Fail(rows.error().Wrap("schema store: read"));
    if (rows->empty()) return std::optional<Version>();
    const pg::Row& row = rows->front();
    if (row.size() < 5 || !row[0] || !row[1] || !row[2] || !row[3] || !row[4]) {
      return Fail(ErrorCode::kParse, "schema store: a pgcdc_schemas row has NULL columns");
    }
    auto columns = ParseColumns(*row[2]);
    if (!columns) return Fail(columns.error());
    Version v;
    v.subject = *row[0];
    v.version = std::stoi(*row[1]);
    v.columns = std::move(*columns);
    v.hash = *row[3];
    v.created_at_ns = std::stoll(*row[4]) * 1000;
    return std::optional<Version>(std::move(v));
  }

  std::string url_;
  Mutex mu_;  // the connection serves one statement at a time
  pg::Conn conn_ GUARDED_BY(mu_);
};

}  // namespace

Result<std::shared_ptr<Store>> OpenPg(const std::string& db_url) {
  auto conn = Connect(db_url);
  if (!conn) return Fail(conn.error());
  if (auto m = pg::Migrate(*conn); !m) return Fail(m.error());
  return std::shared_ptr<Store>(std::make_shared<PgStore>(db_url, std::move(*conn)));
}

}  // namespace pgcdc::schema
