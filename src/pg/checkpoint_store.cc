#include "pg/checkpoint_store.h"

#include "pg/migrations.h"

namespace pgcdc::pg {

Result<std::unique_ptr<CheckpointStore>> CheckpointStore::Open(const std::string& url) {
  auto conn = Conn::Open(url);
  if (!conn) return Fail(conn.error().Wrap("checkpoint store"));
  if (auto m = Migrate(*conn); !m) return Fail(m.error().Wrap("checkpoint store"));
  return std::unique_ptr<CheckpointStore>(new CheckpointStore(url, std::move(*conn)));
}

std::unique_ptr<CheckpointStore> CheckpointStore::WithBackend(
    std::shared_ptr<CheckpointBackend> backend) {
  auto store = std::unique_ptr<CheckpointStore>(new CheckpointStore("", Conn()));
  store->backend_ = std::move(backend);
  return store;
}

Status CheckpointStore::EnsureConnected() {
  if (backend_) {
    return Fail(ErrorCode::kUnimplemented,
                "this operation needs the pgcdc_checkpoints table, not a checkpoint plugin");
  }
  if (conn_.ok()) return Ok();
  auto conn = Conn::Open(url_);
  if (!conn) return Fail(conn.error().Wrap("checkpoint store"));
  conn_ = std::move(*conn);
  return Ok();
}

Result<uint64_t> CheckpointStore::Load(const std::string& slot) {
  if (backend_) {
    auto lsn = backend_->Load(slot);
    if (!lsn) return Fail(lsn.error().Wrap("checkpoint load"));
    last_saved_ = *lsn;
    return lsn;
  }
  if (auto st = EnsureConnected(); !st) return Fail(st.error());
  auto rows = conn_.Query("SELECT lsn::text FROM pgcdc_checkpoints WHERE slot_name = $1", {slot});
  if (!rows) return Fail(rows.error().Wrap("checkpoint load"));
  if (rows->empty() || !rows->at(0).at(0)) return uint64_t{0};
  const uint64_t lsn = std::stoull(*rows->at(0).at(0));
  last_saved_ = lsn;
  return lsn;
}

Status CheckpointStore::Save(const std::string& slot, uint64_t lsn) {
  if (lsn == 0 || lsn == last_saved_) return Ok();
  if (backend_) {
    if (auto st = backend_->Save(slot, lsn); !st) return Fail(st.error().Wrap("checkpoint save"));
    last_saved_ = lsn;
    return Ok();
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto st = EnsureConnected(); !st) return st;
    // lsn is stored as BIGINT; LSNs stay far below 2^63 in practice.
    auto r = conn_.Query(
        "INSERT INTO pgcdc_checkpoints (slot_name, lsn, updated_at) VALUES ($1, $2, now()) "
        "ON CONFLICT (slot_name) DO UPDATE SET lsn = EXCLUDED.lsn, updated_at = now()",
        {slot, std::to_string(lsn)});
    if (r) {
      last_saved_ = lsn;
      return Ok();
    }
    if (conn_.ok()) return Fail(r.error().Wrap("checkpoint save"));
  }
  return Fail(ErrorCode::kConnection, "checkpoint save: connection lost");
}

namespace {
std::string RewoundKey(const std::string& slot) { return "rewound_from:" + slot; }
}  // namespace

Result<uint64_t> CheckpointStore::LoadAcknowledged(const std::string& slot) {
  if (backend_) return Load(slot);  // no rewind marks outside the table
  if (auto st = EnsureConnected(); !st) return Fail(st.error());
  auto rows =
      conn_.Query("SELECT max(lsn)::text FROM pgcdc_checkpoints WHERE slot_name IN ($1, $2)",
                  {slot, RewoundKey(slot)});
  if (!rows) return Fail(rows.error().Wrap("checkpoint load"));
  if (rows->empty() || !rows->at(0).at(0)) return uint64_t{0};
  return static_cast<uint64_t>(std::stoull(*rows->at(0).at(0)));
}

Status CheckpointStore::RememberRewind(const std::string& slot, uint64_t from) {
  if (from == 0) return Ok();
  if (auto st = EnsureConnected(); !st) return st;
  auto r = conn_.Query(
      "INSERT INTO pgcdc_checkpoints (slot_name, lsn, updated_at) VALUES ($1, $2, now()) "
      "ON CONFLICT (slot_name) DO UPDATE SET lsn = GREATEST(pgcdc_checkpoints.lsn, EXCLUDED.lsn), "
      "updated_at = now()",
      {RewoundKey(slot), std::to_string(from)});
  if (!r) return Fail(r.error().Wrap("checkpoint save rewind"));
  return Ok();
}

Result<int64_t> CheckpointStore::SavedAt(const std::string& slot) {
  if (backend_) return int64_t{0};
  if (auto st = EnsureConnected(); !st) return Fail(st.error());
  auto rows = conn_.Query(
      "SELECT (extract(epoch FROM updated_at) * 1000000)::bigint::text FROM pgcdc_checkpoints "
      "WHERE slot_name = $1",
      {slot});
  if (!rows) return Fail(rows.error().Wrap("checkpoint load"));
  if (rows->empty() || !rows->at(0).at(0)) return int64_t{0};
  return std::stoll(*rows->at(0).at(0)) * 1000;
}

Status CheckpointStore::RunInTransaction(
    const std::vector<std::pair<std::string, std::vector<std::optional<std::string>>>>& statements,
    const char* what) {
  if (statements.empty()) return Ok();
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto st = EnsureConnected(); !st) return st;
    Status result = conn_.Exec("BEGIN");
    for (size_t i = 0; result && i < statements.size(); ++i) {
      auto r = conn_.Query(statements[i].first, statements[i].second);
      if (!r) result = Fail(r.error());
    }
    if (result) result = conn_.Exec("COMMIT");
    if (result) return Ok();
    if (conn_.ok()) {
      (void)conn_.Exec("ROLLBACK");
      return Fail(result.error().Wrap(what));
    }
  }
  return Fail(ErrorCode::kConnection, std::string(what) + ": connection lost");
}

Status CheckpointStore::SaveValues(const std::vector<std::pair<std::string, int64_t>>& values) {
  std::vector<std::pair<std::string, std::vector<std::optional<std::string>>>> statements;
  statements.reserve(values.size());
  for (const auto& [key, value] : values) {
    statements.push_back(
        {"INSERT INTO pgcdc_checkpoints (slot_name, lsn, updated_at) VALUES ($1, $2, now()) "
         "ON CONFLICT (slot_name) DO UPDATE SET lsn = EXCLUDED.lsn, updated_at = now()",
         {key, std::to_string(value)}});
  }
  return RunInTransaction(statements, "checkpoint save values");
}

Status CheckpointStore::DeleteValues(const std::vector<std::string>& keys) {
  std::vector<std::pair<std::string, std::vector<std::optional<std::string>>>> statements;
  statements.reserve(keys.size());
  for (const auto& key : keys) {
    statements.push_back({"DELETE FROM pgcdc_checkpoints WHERE slot_name = $1", {key}});
  }
  return RunInTransaction(statements, "checkpoint delete values");
}

Result<std::vector<std::pair<std::string, int64_t>>> CheckpointStore::LoadPrefix(
    const std::string& prefix) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (auto st = EnsureConnected(); !st) return Fail(st.error());
    auto rows = conn_.Query(
        "SELECT slot_name, lsn::text FROM pgcdc_checkpoints WHERE starts_with(slot_name, $1) "
        "ORDER BY slot_name",
        {prefix});
    if (!rows) {
      if (conn_.ok()) return Fail(rows.error().Wrap("checkpoint load prefix"));
      continue;
    }
    std::vector<std::pair<std::string, int64_t>> out;
    out.reserve(rows->size());
    for (const auto& row : *rows) {
      if (row.size() < 2 || !row[0] || !row[1]) continue;
      out.emplace_back(*row[0], std::stoll(*row[1]));
    }
    return out;
  }
  return Fail(ErrorCode::kConnection, "checkpoint load prefix: connection lost");
}

}  // namespace pgcdc::pg
