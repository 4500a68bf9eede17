#include "pg/checkpoint_store.h"

#include "pg/migrations.h"

namespace pgcdc::pg {

Result<std::unique_ptr<CheckpointStore>> CheckpointStore::Open(const std::string& url) {
  auto conn = Conn::Open(url);
  if (!conn) return Fail(conn.error().Wrap("checkpoint store"));
  if (auto m = Migrate(*conn); !m) return Fail(m.error().Wrap("checkpoint store"));
  return std::unique_ptr<CheckpointStore>(new CheckpointStore(url, std::move(*conn)));
}

Status CheckpointStore::EnsureConnected() {
  if (conn_.ok()) return Ok();
  auto conn = Conn::Open(url_);
  if (!conn) return Fail(conn.error().Wrap("checkpoint store"));
  conn_ = std::move(*conn);
  return Ok();
}

Result<uint64_t> CheckpointStore::Load(const std::string& slot) {
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

}  // namespace pgcdc::pg
