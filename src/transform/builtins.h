// Factories for the built-in transforms (SPEC §6). Build() uses them to turn
// configuration into chains; tests and benchmarks call them directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "transform/transform.h"

namespace pgcdc::transform {

// drop_columns: deletes the listed keys (missing keys are ignored).
TransformPtr MakeDropColumns(std::vector<std::string> columns);

// rename_fields: for each present `from`, renames it to `to` in place
// (overwriting an existing `to`). Pairs apply in the order given.
TransformPtr MakeRenameFields(std::vector<std::pair<std::string, std::string>> mapping);

enum class MaskMode { kHash, kRedact, kPartial };
Result<MaskMode> ParseMaskMode(std::string_view name);
struct MaskField {
  std::string field;
  MaskMode mode = MaskMode::kRedact;
};
// mask: replaces each listed field's value (JSON null stays null) with a
// string: kHash = lowercase hex SHA-256 of salt + value text, kRedact =
// "***REDACTED***", kPartial = first and last character kept, the ones in
// between replaced by '*' (values shorter than 3 characters fully starred).
TransformPtr MakeMask(std::vector<MaskField> fields, std::string salt = {});

struct FilterOptions {
  // Exactly one form: operations (envelope operation, ASCII case-insensitive),
  // or field with `in` values, or field with `equals`.
  std::vector<std::string> operations;
  std::string field;
  std::vector<std::string> in;
  std::optional<std::string> equals;
};
// filter: keeps matching events, drops the rest. Field forms compare the
// field's text (strings unquoted, numbers as written) in the primary row
// image (`row`), or in the top-level object of a free-form payload; a
// missing field drops the event.
Result<TransformPtr> MakeFilter(FilterOptions options);

// cel_filter: keeps the event when the expression is true, drops it when
// false; an evaluation error keeps it (pgcdc_cel_eval_errors_total). Compile
// errors carry line, column and a caret line.
Result<TransformPtr> MakeCelFilter(std::string_view expression);

struct DebeziumOptions {
  std::string connector_name = "pgcdc";
  std::string database;
};
// debezium: replaces the payload with a Debezium change envelope (SPEC §6.2)
// plus a top-level ts_ms (the event's created_at in ms).
TransformPtr MakeDebezium(DebeziumOptions options);

struct CloudEventsOptions {
  std::string source = "/pgcdc";
  std::string type_prefix = "io.pgcdc.change";
};
// cloudevents: replaces the payload with a CloudEvents 1.0 structured
// envelope (SPEC §6.3) whose time is RFC 3339 UTC with sub-second precision.
TransformPtr MakeCloudEvents(CloudEventsOptions options);

struct DedupOptions {
  // Dot path into the payload ("row.id"; a leading "payload." is accepted).
  // Empty, or a path that does not resolve: the event id is the key.
  std::string key_path;
  std::chrono::nanoseconds window{0};  // must be > 0
  int64_t max_keys = 100000;           // must be > 0
  // Monotonic time source in nanoseconds (tests inject one).
  std::function<int64_t()> clock;
};
class DedupTransform;
// dedup: drops an event whose key was seen less than `window` ago (a hit
// refreshes recency, not expiry); at most max_keys keys, least recently used
// evicted first. Metrics pgcdc_dedup_dropped_total, pgcdc_dedup_cache_size.
Result<std::shared_ptr<DedupTransform>> MakeDedup(DedupOptions options);

class DedupTransform : public Transform {
 public:
  ~DedupTransform() override;
  std::string_view Type() const override { return "dedup"; }
  Result<Verdict> ApplyTo(PayloadContext& ctx) override;
  // Keys currently cached (expired ones included until they are evicted).
  size_t size() const;
  const DedupOptions& options() const { return options_; }
  // Identity used by Build() to hand the cache over across reloads.
  const std::string& reuse_key() const { return reuse_key_; }
  void set_reuse_key(std::string key) { reuse_key_ = std::move(key); }

  struct State;
  explicit DedupTransform(DedupOptions options);

 private:
  DedupOptions options_;
  std::vector<std::string> path_;
  std::unique_ptr<State> state_;
  std::string reuse_key_;
};

}  // namespace pgcdc::transform
