#include "parquet/event_rows.h"

#include <set>

#include "transform/payload.h"

namespace pgcdc::parquet {

namespace {

constexpr std::string_view kMetaColumns[] = {"_pgcdc_event_id", "_pgcdc_operation",
                                             "_pgcdc_created_at", "_pgcdc_lsn"};

// A JSON value's text for Writer::Text: a string's contents, else the JSON
// itself. Points into `raw` unless the string has escapes.
std::string_view ValueText(std::string_view raw, std::string& scratch) {
  if (raw.size() >= 2 && raw.front() == '"') {
    const std::string_view inner = raw.substr(1, raw.size() - 2);
    if (inner.find('\\') == std::string_view::npos) return inner;
    scratch = transform::StringifyJson(raw);
    return scratch;
  }
  return raw;
}

// The row image member for column `i` (members are usually in table order).
const transform::JsonObject::Member* Member(const transform::JsonObject& row, size_t i,
                                            std::string_view name) {
  const auto& members = row.members();
  if (i < members.size() && members[i].key == name) return &members[i];
  return row.Find(name);
}

}  // namespace

std::vector<parquet::Column> EnvelopeColumns() {
  return {{"event_id", Type::kString},       {"operation", Type::kString},
          {"timestamp", Type::kTimestampTz}, {"channel", Type::kString},
          {"source", Type::kString},         {"payload", Type::kString}};
}

std::vector<parquet::Column> TypedColumns(const RowSchema& schema) {
  std::vector<parquet::Column> cols = {{std::string(kMetaColumns[0]), Type::kString},
                                       {std::string(kMetaColumns[1]), Type::kString},
                                       {std::string(kMetaColumns[2]), Type::kTimestampTz},
                                       {std::string(kMetaColumns[3]), Type::kInt64}};
  std::set<std::string> used(std::begin(kMetaColumns), std::end(kMetaColumns));
  for (const auto& c : schema.columns) {
    std::string name = c.name;
    for (int n = 2; !used.insert(name).second; ++n) name = c.name + "_" + std::to_string(n);
    cols.push_back({std::move(name), parquet::TypeForPgOid(c.type_oid)});
  }
  return cols;
}

bool ParseTypedRow(const Event& event, ParsedRow& out) {
  if (event.schema == nullptr || !event.payload.starts_with('{')) return false;
  auto root = transform::JsonObject::Parse(event.payload, out.arena);
  if (!root) return false;
  auto row = (*root)->Child("row", out.arena);
  if (!row || *row == nullptr) return false;
  out.root = std::move(*root);
  out.row = *row;
  return true;
}

Status AppendEnvelope(parquet::Writer& w, const Event& e) {
  if (auto st = w.String(e.id.ToString()); !st) return st;
  if (auto st = w.String(e.operation); !st) return st;
  if (auto st = w.TimestampMicros(e.created_at_ns / 1000); !st) return st;
  if (auto st = w.String(e.channel); !st) return st;
  if (auto st = w.String(e.source); !st) return st;
  if (auto st = w.String(e.payload); !st) return st;
  return w.EndRow();
}

Status AppendTyped(parquet::Writer& w, const Event& e, const transform::JsonObject& row,
                   AppendStats& stats) {
  if (auto st = w.String(e.id.ToString()); !st) return st;
  if (auto st = w.String(e.operation); !st) return st;
  if (auto st = w.TimestampMicros(e.created_at_ns / 1000); !st) return st;
  if (auto st = w.Int64(static_cast<int64_t>(e.lsn)); !st) return st;
  std::string scratch;
  const auto& columns = e.schema->columns;
  for (size_t i = 0; i < columns.size(); ++i) {
    const auto* m = Member(row, i, columns[i].name);
    if (m == nullptr || m->raw == "null") {
      if (auto st = w.Null(); !st) return st;
      continue;
    }
    if (auto st = w.Text(ValueText(m->raw, scratch)); !st) {
      ++stats.unconverted;
      if (stats.first_error.empty()) stats.first_error = st.error().message();
      if (auto null = w.Null(); !null) return null;
    }
  }
  return w.EndRow();
}

}  // namespace pgcdc::parquet
