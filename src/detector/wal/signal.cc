#include "detector/wal/signal.h"

#include "core/json.h"
#include "snapshot/table_snapshot.h"

namespace pgcdc::detector::wal {

namespace {

// The string value of top-level key `key` of a JSON object; nullopt when
// absent or not a string.
Result<std::optional<std::string>> StringKey(std::string_view json_text, std::string_view key) {
  std::string scratch;
  auto info = json::Compact(json_text, scratch, {.find_key = key});
  if (!info) return Fail(info.error());
  if (info->kind != json::Kind::kObject) {
    return Fail(ErrorCode::kInvalidArgument, "signal payload must be a JSON object");
  }
  return info->found_string;
}

}  // namespace

Result<Signal> ParseSignal(std::string_view signal, std::optional<std::string_view> payload) {
  Signal s;
  s.name = std::string(signal);
  if (signal == "execute-snapshot") {
    s.kind = SignalKind::kExecuteSnapshot;
  } else if (signal == "stop-snapshot") {
    s.kind = SignalKind::kStopSnapshot;
  } else {
    return s;
  }
  if (!payload) {
    return Fail(ErrorCode::kInvalidArgument, "signal " + s.name + ": payload is NULL");
  }
  auto table = StringKey(*payload, "table");
  if (!table) return Fail(table.error().Wrap("signal " + s.name));
  if (!*table || (*table)->empty()) {
    return Fail(ErrorCode::kInvalidArgument,
                "signal " + s.name + ": payload needs a non-empty string \"table\"");
  }
  if (auto parsed = snapshot::ParseTableName(**table); !parsed) {
    return Fail(parsed.error().Wrap("signal " + s.name));
  }
  s.table = std::move(**table);
  auto id = StringKey(*payload, "snapshot_id");
  if (!id) return Fail(id.error().Wrap("signal " + s.name));
  if (*id) s.snapshot_id = std::move(**id);
  return s;
}

Result<SignalTable> ParseSignalTable(std::string_view text) {
  auto parsed = snapshot::ParseTableName(text);
  if (!parsed) return Fail(parsed.error().Wrap("signal table"));
  SignalTable t;
  t.schema = parsed->schema.empty() ? "public" : parsed->schema;
  t.name = parsed->name;
  return t;
}

}  // namespace pgcdc::detector::wal
