// The mysql detector's durable position: a small JSON file
//
//   {"addr":"db:3306","file":"binlog.000003","gtid":"0-1-55","pos":1234,
//    "updated_at":"2026-12-06T12:00:00Z"}
//
// written after delivery (the position just after the last event group every
// adapter finished) by writing a temporary file next to it, fsync, rename
// over the old one and fsync of the directory: a crash leaves either the old
// or the new file, never a torn one.
#pragma once

#include <optional>
#include <string>

#include "core/error.h"
#include "detector/mysql/stream.h"

namespace pgcdc::detector::mysql {

struct StoredPosition {
  Position position;
  std::string addr;  // the server it was read from
};

// nullopt when the file does not exist; kParse when it is not a state file.
Result<std::optional<StoredPosition>> LoadState(const std::string& path);
Status SaveState(const std::string& path, const StoredPosition& state);

}  // namespace pgcdc::detector::mysql
