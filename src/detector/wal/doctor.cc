// `pgcdc doctor --detector wal`: the server settings, privileges and objects
// logical replication needs, each checked with a fix hint. Read-only: it
// neither creates the publication nor the slot.
#include <string>

#include "detector/wal/wal_detector.h"
#include "pg/conn.h"

namespace pgcdc::detector::wal {

namespace {

using Level = CheckResult::Level;

std::string Value(const pg::Row& row, size_t i) {
  return i < row.size() && row[i] ? *row[i] : std::string();
}

// One-row query; an error becomes a failed check named `name`.
std::optional<pg::Row> One(pg::Conn& c, const std::string& sql, const std::string& name,
                           CheckList& out, const std::vector<std::optional<std::string>>& p = {}) {
  auto rows = c.Query(sql, p);
  if (!rows) {
    out.push_back({.level = Level::kFail, .name = name, .detail = rows.error().message()});
    return std::nullopt;
  }
  if (rows->empty()) return pg::Row{};
  return rows->front();
}

// "used of max in use" for a setting that caps a count.
CheckResult Capacity(const std::string& name, const std::string& used, const std::string& max,
                     CheckResult::Level full, std::string hint) {
  return Verdict(std::atoi(used.c_str()) < std::atoi(max.c_str()), full, name,
                 used + " of " + max + " in use", std::move(hint));
}

void CheckSettings(pg::Conn& c, CheckList& out) {
  auto r = One(c,
               "SELECT current_setting('server_version'), current_setting('wal_level'), "
               "current_setting('max_replication_slots'), "
               "(SELECT count(*) FROM pg_replication_slots), "
               "current_setting('max_wal_senders'), (SELECT count(*) FROM pg_stat_replication)",
               "server settings", out);
  if (!r) return;
  out.push_back({.name = "version", .detail = "PostgreSQL " + Value(*r, 0)});
  out.push_back(Verdict(Value(*r, 1) == "logical", Level::kFail, "wal_level", Value(*r, 1),
                        "ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL"));
  out.push_back(Capacity("max_replication_slots", Value(*r, 3), Value(*r, 2), Level::kWarn,
                         "no free slot for a new one: drop unused slots (pgcdc slot list) or "
                         "raise max_replication_slots"));
  out.push_back(Capacity("max_wal_senders", Value(*r, 5), Value(*r, 4), Level::kFail,
                         "raise max_wal_senders (restart needed)"));
}

void CheckRole(pg::Conn& c, CheckList& out) {
  auto r = One(c,
               "SELECT current_user, rolreplication OR rolsuper FROM pg_roles WHERE rolname = "
               "current_user",
               "role", out);
  if (!r) return;
  const bool ok = Value(*r, 1) == "t";
  out.push_back(Verdict(ok, Level::kFail, "role",
                        Value(*r, 0) + (ok ? " may replicate" : " lacks REPLICATION"),
                        "ALTER ROLE " + pg::QuoteIdentifier(Value(*r, 0)) + " REPLICATION"));
}

// Tables of the publication that cannot publish UPDATE/DELETE: no primary
// key and REPLICA IDENTITY DEFAULT (PostgreSQL then rejects those writes).
void CheckReplicaIdentity(pg::Conn& c, const std::string& publication, CheckList& out) {
  auto rows = c.Query(
      "SELECT format('%I.%I', n.nspname, cl.relname) FROM pg_publication_tables pt "
      "JOIN pg_namespace n ON n.nspname = pt.schemaname "
      "JOIN pg_class cl ON cl.relnamespace = n.oid AND cl.relname = pt.tablename "
      "WHERE pt.pubname = $1 AND cl.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM "
      "pg_index i WHERE i.indrelid = cl.oid AND i.indisprimary) ORDER BY 1 LIMIT 20",
      {publication});
  if (!rows) return;
  std::string names;
  for (const auto& row : *rows) names += (names.empty() ? "" : ", ") + Value(row, 0);
  out.push_back(Verdict(names.empty(), Level::kWarn, "replica identity",
                        names.empty() ? "every table has a key" : "no key: " + names,
                        "UPDATE/DELETE on these tables fail while they are published: add a "
                        "primary key or ALTER TABLE ... REPLICA IDENTITY FULL"));
}

void CheckPublication(pg::Conn& c, const Options& o, CheckList& out) {
  auto r = One(c,
               "SELECT p.puballtables, (SELECT count(*) FROM pg_publication_tables t WHERE "
               "t.pubname = p.pubname) FROM pg_publication p WHERE p.pubname = $1",
               "publication", out, {o.publication});
  if (!r) return;
  if (r->empty()) {
    out.push_back(Verdict(
        o.all_tables, Level::kFail, "publication",
        o.publication + (o.all_tables ? " (created FOR ALL TABLES on start)" : " does not exist"),
        "pgcdc init --detector wal --table T --publication " + o.publication +
            " | psql, or use --all-tables"));
    return;
  }
  const std::string tables = Value(*r, 1);
  out.push_back(
      Verdict(tables != "0", Level::kWarn, "publication",
              o.publication + ": " + (Value(*r, 0) == "t" ? "all tables" : tables + " tables"),
              "the publication has no table: nothing is captured"));
  CheckReplicaIdentity(c, o.publication, out);
}

void CheckSlot(pg::Conn& c, const Options& o, CheckList& out) {
  if (!o.persistent_slot) {
    out.push_back({.level = Level::kWarn,
                   .name = "slot",
                   .detail = "temporary (changes made while pgcdc is down are not captured)",
                   .hint = "use --persistent-slot for at-least-once delivery across restarts"});
    return;
  }
  const std::string& slot = o.slot_name;
  auto r = One(c,
               "SELECT plugin, active, coalesce(wal_status, ''), "
               "coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint "
               "FROM pg_replication_slots WHERE slot_name = $1",
               "slot", out, {slot});
  if (!r) return;
  if (r->empty()) {
    out.push_back({.name = "slot", .detail = slot + " (created on first start)"});
    return;
  }
  const bool lost = Value(*r, 2) == "lost";
  const bool pgoutput = Value(*r, 0) == "pgoutput";
  const uint64_t lag = std::strtoull(Value(*r, 3).c_str(), nullptr, 10);
  Level level = lost || !pgoutput ? Level::kFail : Level::kOk;
  if (level == Level::kOk && (Value(*r, 1) == "t" || lag > o.slot_lag_warn)) level = Level::kWarn;
  std::string hint;
  if (lost) {
    hint = "the slot lost WAL it still needed: see --on-slot-lost resnapshot";
  } else if (!pgoutput) {
    hint = "the slot uses plugin " + Value(*r, 0) + "; pick another --slot-name";
  } else if (Value(*r, 1) == "t") {
    hint = "another process is streaming from this slot now";
  } else if (lag > o.slot_lag_warn) {
    hint = "the slot holds " + std::to_string(lag >> 20) + " MiB of WAL; start pgcdc to drain it";
  }
  out.push_back({.level = level,
                 .name = "slot",
                 .detail = slot + (Value(*r, 1) == "t" ? " (active)" : " (inactive)") +
                           ", wal_status " + Value(*r, 2) + ", " + std::to_string(lag) +
                           " bytes behind",
                 .hint = std::move(hint)});
}

}  // namespace

CheckList CheckServer(const Options& o) {
  auto c = pg::Conn::Open(o.database_url);
  if (!c) {
    return FailedCheck("connect", c.error().message(),
                       "check --db (a postgres:// URL) and that PostgreSQL accepts the "
                       "connection (pg_hba.conf)");
  }
  CheckList out{{.name = "connect", .detail = pg::RedactUrl(o.database_url)}};
  CheckSettings(*c, out);
  CheckRole(*c, out);
  CheckPublication(*c, o, out);
  CheckSlot(*c, o, out);
  return out;
}

}  // namespace pgcdc::detector::wal
