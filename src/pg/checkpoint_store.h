// CheckpointStore: the last confirmed source position per slot
// (pgcdc_checkpoints). Used by the wal detector with --persistent-slot and by
// `pgcdc rewind`. Not thread-safe: one owner (the detector thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "pg/conn.h"

namespace pgcdc::pg {

// Somewhere else to keep slot checkpoints than the pgcdc_checkpoints table:
// a Wasm checkpoint store plugin (wasm/sinks.h, docs/plugins.md). Load
// returns 0 when the slot has none. Used by one thread at a time.
class CheckpointBackend {
 public:
  virtual ~CheckpointBackend() = default;
  virtual Result<uint64_t> Load(const std::string& slot) = 0;
  virtual Status Save(const std::string& slot, uint64_t lsn) = 0;
};

class CheckpointStore {
 public:
  // Connects to `url` and applies migrations.
  static Result<std::unique_ptr<CheckpointStore>> Open(const std::string& url);
  // A store whose Load/Save/LoadAcknowledged go to `backend` (no database).
  // It keeps no rewind marks and no save times (SavedAt answers 0), and
  // the generic keyed values are not available.
  static std::unique_ptr<CheckpointStore> WithBackend(std::shared_ptr<CheckpointBackend> backend);

  // 0 when the slot has no checkpoint.
  Result<uint64_t> Load(const std::string& slot);
  // Upserts; a value equal to the last saved one is skipped. Reconnects once
  // if the connection was lost.
  Status Save(const std::string& slot, uint64_t lsn);

  // The highest position ever saved for `slot`: its checkpoint or, when
  // `pgcdc rewind` moved the checkpoint back, the position it was moved from
  // (0: none). The wal detector's slot guard compares the slot with it.
  Result<uint64_t> LoadAcknowledged(const std::string& slot);
  // `pgcdc rewind`: remembers that the slot had been acknowledged up to
  // `from` before its checkpoint moves back (kept as "rewound_from:<slot>").
  Status RememberRewind(const std::string& slot, uint64_t from);
  // When the slot's checkpoint was last saved (Unix nanoseconds; 0: never).
  Result<int64_t> SavedAt(const std::string& slot);

  // Generic keyed int64 values in the same table, for other components (the
  // kafkaserver's committed offsets live under "kafka:<group>:<topic>:<p>").
  // Unlike Save, every value (0 included) is written. SaveValues upserts and
  // DeleteValues deletes all keys in one transaction; both reconnect once if
  // the connection was lost.
  Status SaveValues(const std::vector<std::pair<std::string, int64_t>>& values);
  Status DeleteValues(const std::vector<std::string>& keys);
  // Every (key, value) whose key starts with `prefix`, ordered by key.
  Result<std::vector<std::pair<std::string, int64_t>>> LoadPrefix(const std::string& prefix);

 private:
  CheckpointStore(std::string url, Conn conn) : url_(std::move(url)), conn_(std::move(conn)) {}
  Status EnsureConnected();
  // Runs `statements` (sql, params) in one transaction, retrying once on a
  // lost connection.
  Status RunInTransaction(
      const std::vector<std::pair<std::string, std::vector<std::optional<std::string>>>>&
          statements,
      const char* what);
  std::string url_;
  Conn conn_;
  uint64_t last_saved_ = 0;
  std::shared_ptr<CheckpointBackend> backend_;
};

}  // namespace pgcdc::pg
