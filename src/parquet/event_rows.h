// Events as Parquet rows for the s3 sink (--s3-format parquet):
//  - envelope schema (SPEC §5.15, the default): event_id, operation,
//    timestamp (µs, UTC), channel, source, payload (the payload JSON text);
//  - typed schema (--s3-parquet-schema typed), for WAL row events: the
//    metadata columns _pgcdc_event_id, _pgcdc_operation, _pgcdc_created_at,
//    _pgcdc_lsn, then one column per table column in table order, its
//    PostgreSQL type mapped by parquet::TypeForPgOid (unmapped types → string).
// Pure conversion on top of parquet::Writer; no I/O.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/event.h"
#include "parquet/writer.h"
#include "transform/payload.h"

namespace pgcdc::parquet {

std::vector<parquet::Column> EnvelopeColumns();
// Metadata columns + the table's columns (a table column named like a
// metadata column gets a "_2" suffix, and so on).
std::vector<parquet::Column> TypedColumns(const RowSchema& schema);

// The row image of a WAL row event whose payload still has the structured
// shape (a transform may have replaced it, e.g. with an envelope): what the
// typed schema writes. Views point into the event and `arena`.
struct ParsedRow {
  transform::Arena arena;
  std::unique_ptr<transform::JsonObject> root;
  transform::JsonObject* row = nullptr;
};
// False when the event has no typed row (it is written with the envelope
// schema instead).
bool ParseTypedRow(const Event& event, ParsedRow& out);

// Appends `event` as one row. `unconverted` counts values that could not be
// converted to their column's type and were written as NULL (the caller
// reports them); `first_error` receives the first such message.
struct AppendStats {
  size_t unconverted = 0;
  std::string first_error;
};
Status AppendEnvelope(parquet::Writer& writer, const Event& event);
// Fails only when DuckDB itself fails (then the row is incomplete and the
// writer unusable): a value that does not convert is written as NULL.
Status AppendTyped(parquet::Writer& writer, const Event& event, const transform::JsonObject& row,
                   AppendStats& stats);

}  // namespace pgcdc::parquet
