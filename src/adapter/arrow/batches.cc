#include "adapter/arrow/batches.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/json.h"
#include "core/time.h"
#include "parquet/writer.h"
#include "schema/ref.h"
#include "transform/payload.h"

namespace pgcdc::adapter::arrow {

namespace {

using arrow_ipc::Column;
using arrow_ipc::Type;

constexpr size_t kMaxTicketBytes = 4096;
constexpr size_t kEnvelopeTypedColumns = 3;  // _pgcdc_id, _pgcdc_operation, _pgcdc_created_at

Error BadTicket(const std::string& why) {
  return Error(ErrorCode::kInvalidArgument,
               "bad ticket: " + why + R"( (want {"channel":"<channel>","offset":<n>}))");
}

bool SameTable(const RowSchema* a, const RowSchema* b) {
  if (a == b) return true;
  if (a == nullptr || b == nullptr || a->columns.size() != b->columns.size()) return false;
  for (size_t i = 0; i < a->columns.size(); ++i) {
    if (a->columns[i].name != b->columns[i].name ||
        a->columns[i].type_oid != b->columns[i].type_oid) {
      return false;
    }
  }
  return true;
}

template <class T>
bool ParseNumber(std::string_view text, T& out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}

std::optional<double> ParseFloating(std::string_view text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity") return HUGE_VAL;
  if (text == "-Infinity") return -HUGE_VAL;
  double d = 0;
  if (!ParseNumber(text, d)) return std::nullopt;
  return d;
}

std::optional<int64_t> ParseDays(std::string_view t) {
  unsigned y = 0, m = 0, d = 0;
  if (t.size() != 10 || t[4] != '-' || t[7] != '-' || !ParseNumber(t.substr(0, 4), y) ||
      !ParseNumber(t.substr(5, 2), m) || !ParseNumber(t.substr(8, 2), d) || m < 1 || m > 12 ||
      d < 1 || d > 31) {
    return std::nullopt;
  }
  return DaysFromCivil(y, m, d);
}

std::optional<std::string> HexBytea(std::string_view t) {
  if (!t.starts_with("\\x") || t.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(t.size() / 2 - 1);
  for (size_t i = 2; i < t.size(); i += 2) {
    const int hi = json::HexValue(t[i]), lo = json::HexValue(t[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

bool InRange(Type type, int64_t v) {
  if (type == Type::kInt16) {
    return v >= std::numeric_limits<int16_t>::min() && v <= std::numeric_limits<int16_t>::max();
  }
  if (type == Type::kInt32) {
    return v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max();
  }
  return true;
}

// StringifyJson's text of `raw` without a copy when it is a number or a
// string without escapes (the usual case); otherwise unescaped into `scratch`.
std::string_view TextOf(std::string_view raw, std::string& scratch) {
  if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return raw;
  const std::string_view inner = raw.substr(1, raw.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return inner;
  scratch = transform::StringifyJson(raw);
  return scratch;
}

// One row value (`raw`: its JSON text in the payload) into `c`; false when
// it does not convert (the caller appends null and counts it). `scratch`:
// reused storage, so most values convert without an allocation.
bool AppendTyped(Column& c, uint32_t oid, std::string_view raw, std::string& scratch) {
  switch (c.type()) {
    case Type::kBool:
      if (raw != "true" && raw != "false") return false;
      c.AppendBool(raw == "true");
      return true;
    case Type::kInt16:
    case Type::kInt32:
    case Type::kInt64: {
      int64_t v = 0;
      if (!ParseNumber(TextOf(raw, scratch), v) || !InRange(c.type(), v)) return false;
      c.AppendInt(v);
      return true;
    }
    case Type::kFloat32:
    case Type::kFloat64: {
      auto d = ParseFloating(TextOf(raw, scratch));
      if (d) c.AppendDouble(*d);
      return d.has_value();
    }
    case Type::kDate32: {
      auto days = ParseDays(TextOf(raw, scratch));
      if (days) c.AppendInt(*days);
      return days.has_value();
    }
    case Type::kTimestampMicros: {
      std::string_view t = TextOf(raw, scratch);
      if (oid == 1114) {  // timestamp without time zone: the wall clock, as UTC
        if (t.data() != scratch.data()) scratch.assign(t);
        scratch += 'Z';
        t = scratch;
      }
      auto micros = parquet::ParseTimestampTz(t);
      if (micros) c.AppendInt(*micros);
      return micros.has_value();
    }
    case Type::kBinary: {
      auto bytes = HexBytea(TextOf(raw, scratch));
      if (bytes) c.AppendBytes(*bytes);
      return bytes.has_value();
    }
    case Type::kUtf8:
      // json/jsonb stay JSON text; strings and numbers (numeric's exact
      // digits) their text.
      c.AppendBytes(oid == 114 || oid == 3802 ? raw : TextOf(raw, scratch));
      return true;
  }
  return false;
}

constexpr size_t kLinearDictionary = 8;  // Dictionary: linear search up to this many values

// The value of dictionary-encodable column `column` of `e`.
std::string_view DictionaryValue(SchemaMode mode, const Entry& e, size_t column) {
  if (mode == SchemaMode::kTyped) return e.operation;  // _pgcdc_operation
  switch (column) {
    case 1:
      return e.channel;
    case 2:
      return e.operation;
    default:
      return e.source;
  }
}

// Column `i` gets the string `v`: an index when it is dictionary-encoded.
void AppendString(Column& c, const Plan& plan, size_t i, std::string_view v) {
  if (plan.schema[i].dictionary_id >= 0) {
    c.AppendInt(plan.dictionaries[plan.schema[i].dictionary_id].IndexOf(v));
  } else {
    c.AppendBytes(v);
  }
}

void AppendEnvelope(std::vector<Column>& cols, const Plan& plan, const Entry& e) {
  cols[0].AppendBytes(e.id);
  AppendString(cols[1], plan, 1, e.channel);
  AppendString(cols[2], plan, 2, e.operation);
  if (e.payload == "null") {
    cols[3].AppendNull();
  } else {
    cols[3].AppendBytes(e.payload);
  }
  AppendString(cols[4], plan, 4, e.source);
  cols[5].AppendInt(e.created_at_ns / 1000);
}

// Dictionaries for the schema's dictionary-encoded fields (ids = positions).
std::vector<Dictionary> DictionariesFor(const arrow_ipc::Schema& schema) {
  std::vector<Dictionary> out;
  for (size_t i = 0; i < schema.size(); ++i) {
    if (schema[i].dictionary_id >= 0) out.emplace_back(i, schema[i].dictionary_id);
  }
  return out;
}

// Adds `e`'s values to the plan's dictionaries; false (nothing added) when
// one would grow past kMaxDictionaryValues.
bool AddToDictionaries(SchemaMode mode, const Entry& e, std::vector<Dictionary>& dicts) {
  for (const auto& d : dicts) {
    if (d.values().size() >= kMaxDictionaryValues &&
        d.IndexOf(DictionaryValue(mode, e, d.column())) < 0) {
      return false;
    }
  }
  for (auto& d : dicts) (void)d.Add(DictionaryValue(mode, e, d.column()));
  return true;
}

// Storage reused from row to row of a batch.
struct TypedScratch {
  std::vector<std::optional<std::string_view>> values;
  std::string text;
  transform::Arena arena;
};

// The `row` image's values in `row`'s column order into `out` (nullopt =
// null).
void RowValues(const Entry& e, const RowSchema& row, transform::Arena& arena,
               std::vector<std::optional<std::string_view>>& out) {
  out.assign(row.columns.size(), std::nullopt);
  auto doc = transform::JsonObject::Parse(e.payload, arena, true);
  if (!doc) return;
  auto image = (*doc)->Child("row", arena);
  if (!image || *image == nullptr) return;
  const auto& members = (*image)->members();
  size_t hint = 0;
  for (size_t i = 0; i < row.columns.size(); ++i) {
    // Members come in table order: look at the expected place first.
    for (size_t k = 0; k < members.size(); ++k) {
      const auto& m = members[(hint + k) % members.size()];
      if (m.key != row.columns[i].name) continue;
      if (m.raw != "null") out[i] = m.raw;
      hint = (hint + k + 1) % members.size();
      break;
    }
  }
}

void AppendTypedRow(std::vector<Column>& cols, const Plan& plan, const Entry& e,
                    TypedScratch& scratch, size_t& value_errors) {
  cols[0].AppendBytes(e.id);
  AppendString(cols[1], plan, 1, e.operation);
  cols[2].AppendInt(e.created_at_ns / 1000);
  if (plan.row == nullptr) return;
  const size_t n = plan.row->columns.size();
  if (e.schema == nullptr) {
    for (size_t i = 0; i < n; ++i) cols[kEnvelopeTypedColumns + i].AppendNull();
    return;
  }
  scratch.arena.Clear();
  RowValues(e, *plan.row, scratch.arena, scratch.values);
  const auto& values = scratch.values;
  for (size_t i = 0; i < n; ++i) {
    Column& c = cols[kEnvelopeTypedColumns + i];
    if (!values[i]) {
      c.AppendNull();
    } else if (!AppendTyped(c, plan.row->columns[i].type_oid, *values[i], scratch.text)) {
      c.AppendNull();
      ++value_errors;
    }
  }
}

}  // namespace

Result<Ticket> ParseTicket(std::string_view bytes) {
  if (bytes.size() > kMaxTicketBytes) return Fail(BadTicket("longer than 4096 bytes"));
  boost::system::error_code ec;
  auto v = boost::json::parse(bytes, ec);
  if (ec || !v.is_object()) return Fail(BadTicket("not a JSON object"));
  Ticket t;
  for (const auto& [key, value] : v.as_object()) {
    if (key == "channel" && value.is_string() && !value.as_string().empty()) {
      t.channel = std::string(value.as_string());
    } else if (key == "offset" && value.is_uint64()) {
      t.offset = value.as_uint64();
    } else if (key == "offset" && value.is_int64() && value.as_int64() >= 0) {
      t.offset = static_cast<uint64_t>(value.as_int64());
    } else if (key == "offset") {
      return Fail(BadTicket("offset must be a non-negative integer"));
    } else if (key != "channel") {
      return Fail(BadTicket("unknown key \"" + std::string(key) + "\""));
    }
  }
  if (t.channel.empty()) return Fail(BadTicket("channel must be a non-empty string"));
  return t;
}

std::string TicketJson(std::string_view channel, uint64_t offset) {
  std::string out = R"({"channel":)";
  json::AppendString(out, channel);
  out += R"(,"offset":)" + std::to_string(offset) + "}";
  return out;
}

Type TypeForPgOid(uint32_t oid) {
  if (oid == 17) return Type::kBinary;  // bytea (a string in Parquet)
  // The same OID mapping as Parquet files (parquet/writer.h), in Arrow types.
  switch (parquet::TypeForPgOid(oid)) {
    case parquet::Type::kBool:
      return Type::kBool;
    case parquet::Type::kInt16:
      return Type::kInt16;
    case parquet::Type::kInt32:
      return Type::kInt32;
    case parquet::Type::kInt64:
      return Type::kInt64;
    case parquet::Type::kFloat:
      return Type::kFloat32;
    case parquet::Type::kDouble:
      return Type::kFloat64;
    case parquet::Type::kDate:
      return Type::kDate32;
    case parquet::Type::kTimestamp:
    case parquet::Type::kTimestampTz:
      return Type::kTimestampMicros;
    default:  // text, json, time, uuid, numeric, …
      return Type::kUtf8;
  }
}

int32_t Dictionary::IndexOf(std::string_view value) const {
  if (values_.size() <= kLinearDictionary) {
    for (size_t i = 0; i < values_.size(); ++i) {
      if (values_[i] == value) return static_cast<int32_t>(i);
    }
    return -1;
  }
  auto it = index_.find(value);
  return it == index_.end() ? -1 : it->second;
}

int32_t Dictionary::Add(std::string_view value) {
  if (int32_t i = IndexOf(value); i >= 0) return i;
  if (values_.size() >= kMaxDictionaryValues) return -1;
  values_.push_back(value);
  if (values_.size() == kLinearDictionary + 1) {
    for (size_t i = 0; i < values_.size(); ++i) index_.emplace(values_[i], static_cast<int32_t>(i));
  } else if (values_.size() > kLinearDictionary) {
    index_.emplace(value, static_cast<int32_t>(values_.size() - 1));
  }
  return static_cast<int32_t>(values_.size() - 1);
}

arrow_ipc::Schema EnvelopeSchema(bool dictionaries) {
  return {
      {.name = "id", .nullable = false},
      {.name = "channel", .nullable = false, .dictionary_id = dictionaries ? 0 : -1},
      {.name = "operation", .nullable = false, .dictionary_id = dictionaries ? 1 : -1},
      {.name = "payload", .nullable = true},
      {.name = "source", .nullable = false, .dictionary_id = dictionaries ? 2 : -1},
      {.name = "created_at", .type = Type::kTimestampMicros, .nullable = false, .timezone = "UTC"}};
}

arrow_ipc::Schema TypedSchema(const RowSchema* row, bool dictionaries) {
  arrow_ipc::Schema s = {
      {.name = "_pgcdc_id", .nullable = false},
      {.name = "_pgcdc_operation", .nullable = false, .dictionary_id = dictionaries ? 0 : -1},
      {.name = "_pgcdc_created_at",
       .type = Type::kTimestampMicros,
       .nullable = false,
       .timezone = "UTC"}};
  if (row == nullptr) return s;
  for (const auto& c : row->columns) {
    const Type t = TypeForPgOid(c.type_oid);
    s.push_back(
        {.name = c.name, .type = t, .nullable = true, .timezone = c.type_oid == 1184 ? "UTC" : ""});
  }
  return s;
}

arrow_ipc::Metadata StoreMetadata(const std::shared_ptr<const RowSchema>& row) {
  const schema::Ref* ref = schema::RefOf(row);
  if (ref == nullptr) return {};
  return {{"pgcdc.schema_subject", ref->subject},
          {"pgcdc.schema_version", std::to_string(ref->version)}};
}

Plan PlanStream(SchemaMode mode, std::span<const EntryPtr> entries, bool dictionaries) {
  Plan plan;
  // Typed: the table definition comes from the first row event.
  if (mode == SchemaMode::kTyped) {
    for (const auto& e : entries) {
      if (e->schema != nullptr) {
        plan.row = e->schema.get();
        plan.metadata = StoreMetadata(e->schema);
        break;
      }
    }
  }
  plan.schema = mode == SchemaMode::kEnvelope ? EnvelopeSchema(dictionaries)
                                              : TypedSchema(plan.row, dictionaries);
  plan.dictionaries = DictionariesFor(plan.schema);
  for (const auto& e : entries) {
    if (mode == SchemaMode::kTyped && e->schema != nullptr &&
        !SameTable(plan.row, e->schema.get())) {
      break;
    }
    if (!AddToDictionaries(mode, *e, plan.dictionaries)) break;
    ++plan.count;
  }
  return plan;
}

Result<std::vector<arrow_ipc::EncodedBatch>> EncodeDictionaries(const Plan& plan) {
  std::vector<arrow_ipc::EncodedBatch> out;
  for (const auto& d : plan.dictionaries) {
    Column values(plan.schema[d.column()].type);
    for (std::string_view v : d.values()) values.AppendBytes(v);
    auto batch = arrow_ipc::DictionaryBatchMessage(d.id(), values);
    if (!batch) return Fail(batch.error());
    out.push_back(std::move(*batch));
  }
  return out;
}

size_t BatchEnd(std::span<const EntryPtr> entries, size_t max_rows, size_t max_bytes) {
  size_t bytes = 0, i = 0;
  for (; i < entries.size() && i < max_rows; ++i) {
    bytes += entries[i]->payload.size() + entries[i]->id.size() + 64;
    if (bytes > max_bytes && i > 0) break;
  }
  return i;
}

Result<arrow_ipc::EncodedBatch> EncodeBatch(SchemaMode mode, const Plan& plan,
                                            std::span<const EntryPtr> entries,
                                            size_t& value_errors) {
  size_t bytes = 0;
  for (const auto& e : entries) bytes += e->payload.size();
  std::vector<Column> cols;
  cols.reserve(plan.schema.size());
  constexpr size_t kEnvelopePayload = 3;
  for (size_t i = 0; i < plan.schema.size(); ++i) {
    const auto& f = plan.schema[i];
    cols.emplace_back(f.dictionary_id >= 0 ? Type::kInt32 : f.type);
    // Exact for the envelope's payload; other string columns are shorter
    // (one growth at most).
    const bool payload = mode == SchemaMode::kEnvelope && i == kEnvelopePayload;
    cols.back().Reserve(entries.size(), payload ? bytes : std::min(bytes, 40 * entries.size()));
  }
  TypedScratch scratch;
  for (const auto& e : entries) {
    if (mode == SchemaMode::kEnvelope) {
      AppendEnvelope(cols, plan, *e);
    } else {
      AppendTypedRow(cols, plan, *e, scratch, value_errors);
    }
  }
  return arrow_ipc::RecordBatchMessage(plan.schema, cols);
}

}  // namespace pgcdc::adapter::arrow
