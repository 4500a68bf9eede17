// CheckpointStore: the last confirmed source position per slot
// (pgcdc_checkpoints). Used by the wal detector with --persistent-slot and by
// `pgcdc rewind`. Not thread-safe: one owner (the detector thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"
#include "pg/conn.h"

namespace pgcdc::pg {

class CheckpointStore {
 public:
  // Connects to `url` and applies migrations.
  static Result<std::unique_ptr<CheckpointStore>> Open(const std::string& url);

  // 0 when the slot has no checkpoint.
  Result<uint64_t> Load(const std::string& slot);
  // Upserts; a value equal to the last saved one is skipped. Reconnects once
  // if the connection was lost.
  Status Save(const std::string& slot, uint64_t lsn);

 private:
  CheckpointStore(std::string url, Conn conn) : url_(std::move(url)), conn_(std::move(conn)) {}
  Status EnsureConnected();
  std::string url_;
  Conn conn_;
  uint64_t last_saved_ = 0;
};

}  // namespace pgcdc::pg
