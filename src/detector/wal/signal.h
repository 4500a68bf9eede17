// Signal-table parsing for incremental snapshots (SPEC §2.2): pure functions,
// no I/O, usable from any thread.
//
// A signal is an INSERT into the signal table (`pgcdc init --adapter signal`)
// with a text column `signal` and a JSON column `payload`:
//   execute-snapshot  {"table": "orders" | "schema.table", "snapshot_id": "…"?}
//   stop-snapshot     {"table": "orders" | "schema.table"}
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc::detector::wal {

enum class SignalKind { kExecuteSnapshot, kStopSnapshot, kUnknown };

struct Signal {
  SignalKind kind = SignalKind::kUnknown;
  std::string name;         // the `signal` column as written
  std::string table;        // payload.table, as written (channel suffix)
  std::string snapshot_id;  // payload.snapshot_id, empty when absent
};

// Parses one signal row. `payload` is the JSON text of the payload column
// (nullopt for SQL NULL). Unknown signal names parse successfully with kind
// kUnknown (the caller warns); a known signal without a usable
// payload.table, or a payload that is not a JSON object, is kInvalidArgument.
Result<Signal> ParseSignal(std::string_view signal, std::optional<std::string_view> payload);

// The signal table's identity: schema ("public" when not given) and name.
struct SignalTable {
  std::string schema;
  std::string name;
  bool Matches(std::string_view relation_schema, std::string_view relation_name) const {
    return relation_name == name &&
           (relation_schema.empty() ? std::string_view("public") : relation_schema) == schema;
  }
};
// "pgcdc_signals", "ops.pgcdc_signals" or quoted parts (see
// snapshot::ParseTableName).
Result<SignalTable> ParseSignalTable(std::string_view text);

}  // namespace pgcdc::detector::wal
