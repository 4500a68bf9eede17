// What one record a sink kept says about a row: the event formats pgcdc
// writes, recognised by their keys.
//
//   pgcdc event     {"id","channel","operation","payload",…}  (file, stdout,
//                   kafka --kafka-value envelope, kafkaserver value event)
//   payload alone   {"op","table","row","old",…}   (kafka default, pg_table's
//                   payload column; channel/operation/id come as Hints)
//   Debezium        {"before","after","op":"c|u|d|r|t","source":{"schema","table"}}
//                   as the event's payload or on its own
//   CloudEvents     {"specversion","type","subject","id","data":<payload>}
//
// Row operations: INSERT, UPDATE and SNAPSHOT (Debezium c, u, r) put the
// row; DELETE (d) removes it; TRUNCATE (t) empties the table. Everything
// else (transaction markers, logical messages, schema events, NOTIFY) is
// ignored.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "verify/json_tree.h"

namespace pgcdc::verify {

// What the transport knows besides the document (pg_table columns, Kafka
// record headers). Empty = unknown.
struct Hints {
  std::string_view channel;
  std::string_view operation;
  std::string_view id;
};

// Where a record is in the sink, formatted only when reported:
// "out.jsonl:12", "pgcdc.orders[2]@17", "pgcdc_events id=0193…".
struct Location {
  std::string_view name;   // file, topic or table
  uint64_t position = 0;   // line number or offset
  int32_t partition = -1;  // Kafka
  std::string_view id;     // pg_table row id
  std::string Format() const;
};

enum class RowOp { kPut, kDelete, kTruncate, kOther };

struct SinkEvent {
  RowOp op = RowOp::kOther;
  std::string_view operation;      // as written (INSERT, u, …)
  std::string_view channel;        // "" when the record has none
  std::string_view schema;         // payload/source schema, "" when absent
  std::string_view table;          // payload/source table, "" when absent
  std::string_view id;             // event id, "" when absent
  NodeId row = kNone;              // kPut: the new row; kDelete: the removed row (its key at least)
  NodeId old = kNone;              // kPut: the previous image when the event has one (key changes)
  NodeId unchanged_toast = kNone;  // array of column names the row does not carry
};

// Reads the event in `tree` (already parsed). kParse for a document that
// is none of the formats above (the message says what was expected).
Result<SinkEvent> ReadSinkEvent(const JsonTree& tree, const Hints& hints);

// Which channels and tables are the verified table's.
struct TableMatch {
  std::vector<std::string> channels;  // any of these; empty = do not look at channels
  std::string schema;                 // "" = any schema
  std::string name;
  // pgcdc:<table> and pgcdc:<schema>.<table> as the WAL source and snapshots
  // name them; `schema` "" means public.
  static TableMatch For(std::string_view schema, std::string_view name);
  // True when the event is about this table: by channel when it has one,
  // else by the payload's table (and schema when present).
  bool Matches(const SinkEvent& e) const;
};

}  // namespace pgcdc::verify
