#include "detector/wal/slot_guard.h"

#include <charconv>

#include "codec/pgoutput/pgoutput.h"
#include "core/json.h"
#include "core/log.h"
#include "core/time.h"

namespace pgcdc::detector::wal {

namespace {

constexpr std::string_view kSource = "wal_replication";

std::string_view Text(const pg::Row& row, size_t i) {
  return i < row.size() && row[i] ? std::string_view(*row[i]) : std::string_view();
}

uint64_t Lsn(std::string_view text) {
  if (text.empty()) return 0;
  auto lsn = pgoutput::ParseLsn(text);
  return lsn ? *lsn : 0;
}

std::optional<bool> Bool(std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  return std::nullopt;
}

std::string LsnText(uint64_t lsn) { return pgoutput::FormatLsn(lsn); }

void TablesField(json::Writer& w, const std::vector<std::string>& tables) {
  w.Key("tables");
  w.BeginArray();
  for (const auto& t : tables) w.String(t);
  w.EndArray();
}

}  // namespace

const std::string_view kSlotStateQuery =
    "SELECT j->>'active', j->>'wal_status', j->>'invalidation_reason', j->>'conflicting', "
    "j->>'restart_lsn', j->>'confirmed_flush_lsn', j->>'safe_wal_size', j->>'failover' "
    "FROM (SELECT to_jsonb(s) AS j FROM pg_replication_slots s WHERE s.slot_name = $1) x";

SlotState ParseSlotState(const pg::Row& row) {
  SlotState s;
  s.exists = true;
  s.active = Bool(Text(row, 0)).value_or(false);
  s.wal_status = std::string(Text(row, 1));
  s.invalidation_reason = std::string(Text(row, 2));
  s.conflicting = Bool(Text(row, 3)).value_or(false);
  s.restart_lsn = Lsn(Text(row, 4));
  s.confirmed_flush = Lsn(Text(row, 5));
  if (const auto safe = Text(row, 6); !safe.empty()) {
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(safe.data(), safe.data() + safe.size(), v);
    if (ec == std::errc() && end == safe.data() + safe.size()) s.safe_wal_size = v;
  }
  s.failover = Bool(Text(row, 7));
  return s;
}

Result<SlotState> InspectSlot(pg::Conn& conn, const std::string& slot) {
  auto rows = conn.Query(std::string(kSlotStateQuery), {slot});
  if (!rows) return Fail(rows.error().Wrap("inspect slot " + slot));
  if (rows->empty()) return SlotState{};
  return ParseSlotState(rows->front());
}

std::optional<SlotLoss> DiagnoseSlot(const SlotState& slot, uint64_t acknowledged) {
  const uint64_t from = acknowledged != 0 ? acknowledged : slot.confirmed_flush;
  if (!slot.exists) {
    if (acknowledged == 0) return std::nullopt;  // never used: a first start
    return SlotLoss{"the slot does not exist although pgcdc acknowledged changes up to " +
                        LsnText(acknowledged) +
                        " (dropped, or not carried over by a failover or a restore)",
                    acknowledged};
  }
  if (!slot.invalidation_reason.empty()) {
    return SlotLoss{
        "PostgreSQL invalidated the slot (invalidation_reason " + slot.invalidation_reason + ")",
        from};
  }
  if (slot.wal_status == "lost") {
    return SlotLoss{
        "PostgreSQL invalidated the slot (wal_status lost): WAL it still needed was removed "
        "(max_slot_wal_keep_size)",
        from};
  }
  if (slot.conflicting) {
    return SlotLoss{"PostgreSQL invalidated the slot (conflicting: a recovery conflict)", from};
  }
  if (acknowledged != 0 && slot.confirmed_flush > acknowledged) {
    return SlotLoss{"the slot's confirmed_flush_lsn " + LsnText(slot.confirmed_flush) +
                        " is ahead of the last position pgcdc acknowledged, " +
                        LsnText(acknowledged) + " (another client consumed or advanced it)",
                    acknowledged};
  }
  return std::nullopt;
}

std::string CreateSlotCommand(std::string_view name, const CreateSlotOptions& o) {
  std::string sql = "CREATE_REPLICATION_SLOT " + pg::QuoteIdentifier(name);
  if (o.temporary) sql += " TEMPORARY";
  sql += " LOGICAL pgoutput (SNAPSHOT '";
  sql += o.export_snapshot ? "export" : "nothing";
  sql += "'";
  if (o.failover && !o.temporary) sql += ", FAILOVER true";
  sql += ")";
  return sql;
}

std::string AlterSlotFailoverCommand(std::string_view name, bool failover) {
  return "ALTER_REPLICATION_SLOT " + pg::QuoteIdentifier(name) + " (FAILOVER " +
         (failover ? "true" : "false") + ")";
}

bool UseFailover(bool wanted, bool temporary, int server_version) {
  return wanted && !temporary && server_version >= kFailoverSlotsVersion;
}

Event MakeGapEvent(const GapWindow& gap, const std::vector<std::string>& tables) {
  std::string payload;
  json::Writer w(payload);
  w.BeginObject();
  w.StringField("from_lsn", LsnText(gap.from_lsn));
  w.Key("from_time");
  if (gap.from_time_ns != 0) {
    w.String(FormatRfc3339Nano(gap.from_time_ns));
  } else {
    w.Null();
  }
  w.StringField("reason", gap.reason);
  w.StringField("slot", gap.slot);
  TablesField(w, tables);
  w.StringField("to_lsn", LsnText(gap.to_lsn));
  w.StringField("to_time", FormatRfc3339Nano(gap.to_time_ns));
  w.EndObject();
  return MakeEvent(std::string(kGapChannel), "GAP", std::move(payload), kSource);
}

Event MakeGapCompletedEvent(const GapWindow& gap, const std::vector<std::string>& tables,
                            uint64_t rows) {
  std::string payload;
  json::Writer w(payload);
  w.BeginObject();
  w.StringField("from_lsn", LsnText(gap.from_lsn));
  w.UintField("rows", rows);
  w.StringField("slot", gap.slot);
  TablesField(w, tables);
  w.StringField("to_lsn", LsnText(gap.to_lsn));
  w.EndObject();
  return MakeEvent(std::string(kGapChannel), "GAP_SNAPSHOT_COMPLETED", std::move(payload), kSource);
}

void WarnAboutRetention(pg::Conn& conn, const std::string& slot, bool heartbeats) {
  auto rows = conn.Query("SELECT current_setting('max_slot_wal_keep_size')");
  if (rows && !rows->empty() && rows->front().at(0) && *rows->front().at(0) == "-1") {
    log::Warn(
        "wal: max_slot_wal_keep_size is unlimited (-1): while pgcdc is stopped or behind, the "
        "persistent slot keeps WAL until the disk fills. Set a limit; a slot that loses WAL to it "
        "is detected (see --on-slot-lost)",
        {{"slot", slot}});
  }
  if (!heartbeats) {
    log::Warn(
        "wal: heartbeats are off (--heartbeat-interval 0): on an idle database the persistent "
        "slot may hold back WAL written by other databases",
        {{"slot", slot}});
  }
}

}  // namespace pgcdc::detector::wal
