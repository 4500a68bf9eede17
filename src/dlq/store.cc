#include "dlq/store.h"

#include "core/time.h"

namespace pgcdc::dlq {

namespace {

// created_at / replayed_at as integer microseconds since the epoch (exact).
constexpr const char* kColumns =
    "id::text, event_id, adapter, error, payload::text, "
    "(extract(epoch FROM created_at) * 1000000)::bigint::text, "
    "(extract(epoch FROM replayed_at) * 1000000)::bigint::text";

int64_t ToInt(const std::optional<std::string>& v) {
  return v ? std::strtoll(v->c_str(), nullptr, 10) : 0;
}

}  // namespace

WhereClause BuildWhere(const Filter& f) {
  WhereClause w;
  auto add = [&](const std::string& cond, std::string value) {
    w.params.emplace_back(std::move(value));
    std::string c = cond;
    const std::string placeholder = "$" + std::to_string(w.params.size());
    c.replace(c.find('?'), 1, placeholder);
    w.sql += (w.sql.empty() ? " WHERE " : " AND ") + c;
  };
  if (!f.adapter.empty()) add("adapter = ?", f.adapter);
  if (f.since_ns) add("created_at >= ?::timestamptz", FormatRfc3339Nano(*f.since_ns));
  if (f.until_ns) add("created_at <= ?::timestamptz", FormatRfc3339Nano(*f.until_ns));
  if (f.id) add("id = ?::bigint", std::to_string(*f.id));
  if (f.after_id) add("id > ?::bigint", std::to_string(*f.after_id));
  if (f.max_id) add("id <= ?::bigint", std::to_string(*f.max_id));
  if (f.pending_only)
    w.sql += (w.sql.empty() ? " WHERE " : " AND ") + std::string("replayed_at IS NULL");
  if (f.replayed_only) {
    w.sql += (w.sql.empty() ? " WHERE " : " AND ") + std::string("replayed_at IS NOT NULL");
  }
  return w;
}

Result<bool> Store::Exists() {
  auto rows = conn_.Query("SELECT (to_regclass($1) IS NOT NULL)::text", {table_.Quoted()});
  if (!rows) return Fail(rows.error());
  return rows->at(0).at(0).value_or("false") == "true";
}

Status Store::EnsureTable() {
  auto exists = Exists();
  if (!exists) return Fail(exists.error().Wrap("dlq table " + table_.Display()));
  if (*exists) return Ok();
  const std::string t = table_.Quoted();
  const std::string created_idx = pg::QuoteIdentifier(table_.name + "_created_at_idx");
  const std::string pending_idx = pg::QuoteIdentifier(table_.name + "_pending_idx");
  auto fail = [&](const Error& e) -> Status {
    (void)conn_.Exec("ROLLBACK");
    return Fail(e.Wrap("create dlq table " + table_.Display()));
  };
  if (auto st = conn_.Exec("BEGIN"); !st) return fail(st.error());
  // Two processes creating the table at once would collide on pg_type.
  if (auto r = conn_.Query("SELECT pg_advisory_xact_lock(hashtext($1))::text",
                           {"pgcdc_dlq_create:" + t});
      !r) {
    return fail(r.error());
  }
  const std::string ddl =
      "CREATE TABLE IF NOT EXISTS " + t +
      " (id BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, adapter TEXT NOT NULL, "
      "error TEXT NOT NULL, payload JSON NOT NULL, "
      "created_at TIMESTAMPTZ NOT NULL DEFAULT now(), replayed_at TIMESTAMPTZ);\n"
      "CREATE INDEX IF NOT EXISTS " +
      created_idx + " ON " + t + " (created_at);\nCREATE INDEX IF NOT EXISTS " + pending_idx +
      " ON " + t + " (id) WHERE replayed_at IS NULL";
  if (auto st = conn_.Exec(ddl); !st) return fail(st.error());
  if (auto st = conn_.Exec("COMMIT"); !st) return fail(st.error());
  return Ok();
}

Status Store::Insert(const Event& event, std::string_view adapter, std::string_view error) {
  auto r =
      conn_.Query("INSERT INTO " + table_.Quoted() +
                      " (event_id, adapter, error, payload) VALUES ($1, $2, $3, $4)",
                  {event.id.ToString(), std::string(adapter), std::string(error), event.Json()});
  if (!r) return Fail(r.error());
  return Ok();
}

Result<std::vector<Record>> Store::List(const Filter& filter, int64_t limit, Order order) {
  const WhereClause w = BuildWhere(filter);
  std::string sql =
      std::string("SELECT ") + kColumns + " FROM " + table_.Quoted() + w.sql +
      (order == Order::kNewestFirst ? " ORDER BY created_at DESC, id DESC" : " ORDER BY id ASC");
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  auto rows = conn_.Query(sql, w.params);
  if (!rows) return Fail(rows.error());
  std::vector<Record> out;
  out.reserve(rows->size());
  for (auto& r : *rows) {
    Record rec;
    rec.id = ToInt(r[0]);
    rec.event_id = r[1].value_or("");
    rec.adapter = r[2].value_or("");
    rec.error = r[3].value_or("");
    rec.payload = std::move(r[4]).value_or("null");
    rec.created_at_ns = ToInt(r[5]) * 1000;
    if (r[6]) rec.replayed_at_ns = ToInt(r[6]) * 1000;
    out.push_back(std::move(rec));
  }
  return out;
}

Result<int64_t> Store::Count(const Filter& filter) {
  auto c = CountAndMaxId(filter);
  if (!c) return Fail(c.error());
  return c->first;
}

Result<std::pair<int64_t, int64_t>> Store::CountAndMaxId(const Filter& filter) {
  const WhereClause w = BuildWhere(filter);
  auto rows = conn_.Query(
      "SELECT count(*)::text, coalesce(max(id), 0)::text FROM " + table_.Quoted() + w.sql,
      w.params);
  if (!rows) return Fail(rows.error());
  return std::pair{ToInt(rows->at(0).at(0)), ToInt(rows->at(0).at(1))};
}

Result<std::vector<std::pair<std::string, int64_t>>> Store::CountByAdapter(const Filter& filter,
                                                                           int64_t limit) {
  const WhereClause w = BuildWhere(filter);
  std::string inner = "SELECT adapter FROM " + table_.Quoted() + w.sql + " ORDER BY id ASC";
  if (limit > 0) inner += " LIMIT " + std::to_string(limit);
  auto rows = conn_.Query(
      "SELECT adapter, count(*)::text FROM (" + inner + ") s GROUP BY adapter ORDER BY adapter",
      w.params);
  if (!rows) return Fail(rows.error());
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& r : *rows) out.emplace_back(r[0].value_or(""), ToInt(r[1]));
  return out;
}

Result<int64_t> Store::MarkReplayed(std::span<const int64_t> ids) {
  if (ids.empty()) return int64_t{0};
  std::string array = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    array += (i == 0 ? "" : ",") + std::to_string(ids[i]);
  }
  array += "}";
  auto rows = conn_.Query("WITH u AS (UPDATE " + table_.Quoted() +
                              " SET replayed_at = now() WHERE id = ANY($1::bigint[]) AND "
                              "replayed_at IS NULL RETURNING 1) SELECT count(*)::text FROM u",
                          {array});
  if (!rows) return Fail(rows.error());
  return ToInt(rows->at(0).at(0));
}

Result<int64_t> Store::Purge(const Filter& filter) {
  const WhereClause w = BuildWhere(filter);
  auto rows = conn_.Query("WITH d AS (DELETE FROM " + table_.Quoted() + w.sql +
                              " RETURNING 1) SELECT count(*)::text FROM d",
                          w.params);
  if (!rows) return Fail(rows.error());
  return ToInt(rows->at(0).at(0));
}

Result<bool> Store::TryLockReplay() {
  auto rows = conn_.Query("SELECT pg_try_advisory_lock(hashtext($1))::text",
                          {"pgcdc_dlq_replay:" + table_.Quoted()});
  if (!rows) return Fail(rows.error());
  return rows->at(0).at(0).value_or("false") == "true";
}

}  // namespace pgcdc::dlq
