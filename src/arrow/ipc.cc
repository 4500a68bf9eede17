#include "arrow/ipc.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace pgcdc::arrow_ipc {

namespace {

static_assert(std::endian::native == std::endian::little, "Arrow IPC is written little-endian");

// Flatbuffer builder, back to front: children are written before the
// tables that point at them (uoffsets point forward). Positions are counted
// from the end of the finished buffer; bytes_ holds the buffer reversed, so
// a prepend is a push_back. Finish() pads to the largest alignment used, so
// alignment from the end is alignment from the start.
class FlatBuilder {
 public:
  using Ref = uint32_t;  // position of an object, from the end

  Ref pos() const { return static_cast<Ref>(bytes_.size()); }

  void Align(size_t a) {
    max_align_ = std::max(max_align_, a);
    while (bytes_.size() % a != 0) bytes_.push_back(0);
  }
  // Pads so that after `len` more bytes the position is `a`-aligned.
  void PreAlign(size_t len, size_t a) {
    max_align_ = std::max(max_align_, a);
    while ((bytes_.size() + len) % a != 0) bytes_.push_back(0);
  }
  template <class T>
  void Push(T v) {
    Align(sizeof(T));
    unsigned char raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    for (size_t i = sizeof(T); i-- > 0;) bytes_.push_back(static_cast<char>(raw[i]));
  }
  void PushRaw(std::string_view raw) {
    for (size_t i = raw.size(); i-- > 0;) bytes_.push_back(raw[i]);
  }
  // A uoffset to `target` at the current position.
  void PushRef(Ref target) {
    Align(4);
    Push<uint32_t>(pos() + 4 - target);
  }

  Ref String(std::string_view s) {
    PreAlign(s.size() + 1, 4);
    bytes_.push_back(0);
    PushRaw(s);
    Push<uint32_t>(static_cast<uint32_t>(s.size()));
    return pos();
  }
  Ref Offsets(const std::vector<Ref>& targets) {
    PreAlign(4 * targets.size(), 4);
    for (size_t i = targets.size(); i-- > 0;) PushRef(targets[i]);
    Push<uint32_t>(static_cast<uint32_t>(targets.size()));
    return pos();
  }
  // A vector of 16-byte structs of two int64 (FieldNode, Buffer).
  Ref Pairs(const std::vector<std::pair<int64_t, int64_t>>& pairs) {
    PreAlign(16 * pairs.size(), 8);
    PreAlign(16 * pairs.size() + 4, 4);
    for (size_t i = pairs.size(); i-- > 0;) {
      Push<int64_t>(pairs[i].second);
      Push<int64_t>(pairs[i].first);
    }
    Push<uint32_t>(static_cast<uint32_t>(pairs.size()));
    return pos();
  }

  void StartTable() {
    fields_.clear();
    table_start_ = pos();
  }
  template <class T>
  void Scalar(uint16_t id, T v) {
    Push<T>(v);
    fields_.push_back({id, pos()});
  }
  void FieldRef(uint16_t id, Ref target) {
    PushRef(target);
    fields_.push_back({id, pos()});
  }
  Ref EndTable() {
    Push<int32_t>(0);  // soffset to the vtable, patched below
    const Ref table = pos();
    uint16_t slots = 0;
    for (const auto& f : fields_) slots = std::max<uint16_t>(slots, f.id + 1);
    std::vector<uint16_t> entries(slots, 0);
    for (const auto& f : fields_) entries[f.id] = static_cast<uint16_t>(table - f.at);
    for (size_t i = entries.size(); i-- > 0;) Push<uint16_t>(entries[i]);
    Push<uint16_t>(static_cast<uint16_t>(table - table_start_));
    Push<uint16_t>(static_cast<uint16_t>(4 + 2 * slots));
    const int32_t soffset = static_cast<int32_t>(pos() - table);  // vtable precedes the table
    unsigned char raw[4];
    std::memcpy(raw, &soffset, 4);
    for (size_t i = 0; i < 4; ++i) bytes_[table - 1 - i] = static_cast<char>(raw[i]);
    return table;
  }

  std::string Finish(Ref root) {
    PreAlign(4, max_align_);
    PushRef(root);
    std::string out(bytes_.rbegin(), bytes_.rend());
    return out;
  }

 private:
  struct Slot {
    uint16_t id;
    Ref at;
  };
  std::string bytes_;
  size_t max_align_ = 8;
  std::vector<Slot> fields_;
  Ref table_start_ = 0;
};

// Message.fbs / Schema.fbs constants.
constexpr int16_t kMetadataV5 = 4;
constexpr uint8_t kHeaderSchema = 1;
constexpr uint8_t kHeaderDictionaryBatch = 2;
constexpr uint8_t kHeaderRecordBatch = 3;
enum TypeTag : uint8_t {
  kTagInt = 2,
  kTagFloatingPoint = 3,
  kTagBinary = 4,
  kTagUtf8 = 5,
  kTagBool = 6,
  kTagDate = 8,
  kTagTimestamp = 10,
};

uint8_t TagOf(Type t) {
  switch (t) {
    case Type::kUtf8:
      return kTagUtf8;
    case Type::kBinary:
      return kTagBinary;
    case Type::kBool:
      return kTagBool;
    case Type::kInt16:
    case Type::kInt32:
    case Type::kInt64:
      return kTagInt;
    case Type::kFloat32:
    case Type::kFloat64:
      return kTagFloatingPoint;
    case Type::kDate32:
      return kTagDate;
    case Type::kTimestampMicros:
      return kTagTimestamp;
  }
  return kTagUtf8;
}

// The type table of a Field (Int, FloatingPoint, Date, Timestamp, or an
// empty Utf8/Binary/Bool table).
FlatBuilder::Ref TypeTable(FlatBuilder& b, const Field& f) {
  FlatBuilder::Ref tz = 0;
  if (f.type == Type::kTimestampMicros && !f.timezone.empty()) tz = b.String(f.timezone);
  b.StartTable();
  switch (f.type) {
    case Type::kInt16:
    case Type::kInt32:
    case Type::kInt64:
      b.Scalar<int32_t>(0, f.type == Type::kInt16 ? 16 : f.type == Type::kInt32 ? 32 : 64);
      b.Scalar<uint8_t>(1, 1);  // is_signed
      break;
    case Type::kFloat32:
    case Type::kFloat64:
      b.Scalar<int16_t>(0, f.type == Type::kFloat32 ? 1 : 2);  // SINGLE, DOUBLE
      break;
    case Type::kDate32:
      b.Scalar<int16_t>(0, 0);  // DateUnit.DAY (the schema default is MILLISECOND)
      break;
    case Type::kTimestampMicros:
      if (tz != 0) b.FieldRef(1, tz);
      b.Scalar<int16_t>(0, 2);  // TimeUnit.MICROSECOND
      break;
    default:
      break;
  }
  return b.EndTable();
}

// A DictionaryEncoding table: `id`, signed int32 indices, not ordered.
FlatBuilder::Ref DictionaryTable(FlatBuilder& b, int64_t id) {
  b.StartTable();
  b.Scalar<int32_t>(0, 32);  // Int.bitWidth
  b.Scalar<uint8_t>(1, 1);   // Int.is_signed
  const auto index_type = b.EndTable();
  b.StartTable();
  b.Scalar<int64_t>(0, id);
  b.FieldRef(1, index_type);
  return b.EndTable();
}

FlatBuilder::Ref FieldTable(FlatBuilder& b, const Field& f) {
  const auto name = b.String(f.name);
  const auto type = TypeTable(b, f);
  const auto children = b.Offsets({});  // readers require the (empty) vector
  const FlatBuilder::Ref dictionary =
      f.dictionary_id >= 0 ? DictionaryTable(b, f.dictionary_id) : 0;
  b.StartTable();
  b.FieldRef(0, name);
  b.FieldRef(3, type);
  if (dictionary != 0) b.FieldRef(4, dictionary);
  b.FieldRef(5, children);
  b.Scalar<uint8_t>(1, f.nullable ? 1 : 0);
  b.Scalar<uint8_t>(2, TagOf(f.type));
  return b.EndTable();
}

std::string MessageTable(FlatBuilder& b, uint8_t header_type, FlatBuilder::Ref header,
                         int64_t body_length) {
  b.StartTable();
  b.Scalar<int64_t>(3, body_length);
  b.FieldRef(2, header);
  b.Scalar<int16_t>(0, kMetadataV5);
  b.Scalar<uint8_t>(1, header_type);
  return b.Finish(b.EndTable());
}

size_t Padded8(size_t n) { return (n + 7) & ~size_t{7}; }

void AppendLe32(uint32_t v, std::string& out) {
  char raw[4];
  std::memcpy(raw, &v, 4);
  out.append(raw, 4);
}

bool HasOffsets(Type t) { return t == Type::kUtf8 || t == Type::kBinary; }

size_t ValueWidth(Type t) {
  switch (t) {
    case Type::kInt16:
      return 2;
    case Type::kInt32:
    case Type::kFloat32:
    case Type::kDate32:
      return 4;
    case Type::kInt64:
    case Type::kFloat64:
    case Type::kTimestampMicros:
      return 8;
    default:
      return 0;
  }
}

template <class T>
void AppendValue(T v, std::string& out) {
  char raw[sizeof(T)];
  std::memcpy(raw, &v, sizeof(T));
  out.append(raw, sizeof(T));
}

}  // namespace

void Column::MarkValid(bool valid) {
  if (length_ % 8 == 0) validity_.push_back(0);
  if (valid) {
    validity_.back() = static_cast<char>(validity_.back() | (1 << (length_ % 8)));
  } else {
    ++null_count_;
  }
  if (HasOffsets(type_) && offsets_.empty()) AppendValue<int32_t>(0, offsets_);
  ++length_;
}

void Column::AppendNull() {
  MarkValid(false);
  if (HasOffsets(type_)) {
    AppendValue<int32_t>(
        static_cast<int32_t>(std::min<size_t>(data_.size(), std::numeric_limits<int32_t>::max())),
        offsets_);
  } else if (type_ == Type::kBool) {
    if (bool_bits_++ % 8 == 0) data_.push_back(0);
  } else {
    data_.append(ValueWidth(type_), '\0');
  }
}

void Column::AppendBytes(std::string_view bytes) {
  MarkValid(true);
  data_.append(bytes);
  // Past 2 GiB the offset saturates; RecordBatchMessage refuses the column.
  AppendValue<int32_t>(
      static_cast<int32_t>(std::min<size_t>(data_.size(), std::numeric_limits<int32_t>::max())),
      offsets_);
}

void Column::AppendBool(bool value) {
  MarkValid(true);
  if (bool_bits_ % 8 == 0) data_.push_back(0);
  if (value) data_.back() = static_cast<char>(data_.back() | (1 << (bool_bits_ % 8)));
  ++bool_bits_;
}

void Column::AppendInt(int64_t value) {
  MarkValid(true);
  switch (ValueWidth(type_)) {
    case 2:
      AppendValue(static_cast<int16_t>(value), data_);
      break;
    case 4:
      AppendValue(static_cast<int32_t>(value), data_);
      break;
    default:
      AppendValue(value, data_);
      break;
  }
}

void Column::AppendDouble(double value) {
  MarkValid(true);
  if (type_ == Type::kFloat32) {
    AppendValue(static_cast<float>(value), data_);
  } else {
    AppendValue(value, data_);
  }
}

void Column::Reserve(size_t rows, size_t bytes) {
  validity_.reserve(validity_.size() + rows / 8 + 1);
  if (HasOffsets(type_)) {
    offsets_.reserve(offsets_.size() + 4 * (rows + 1));
    data_.reserve(data_.size() + bytes);
  } else if (type_ == Type::kBool) {
    data_.reserve(data_.size() + rows / 8 + 1);
  } else {
    data_.reserve(data_.size() + ValueWidth(type_) * rows);
  }
}

std::vector<std::string_view> Column::Buffers() const {
  // No nulls: an empty validity buffer (readers treat every row as valid).
  std::vector<std::string_view> out = {null_count_ == 0 ? std::string_view() : validity_};
  if (HasOffsets(type_)) {
    // Zero rows: offsets still hold one entry.
    static constexpr char kZero[4] = {0, 0, 0, 0};
    out.push_back(offsets_.empty() ? std::string_view(kZero, 4) : std::string_view(offsets_));
  }
  out.push_back(data_);
  return out;
}

std::string SchemaMessage(const Schema& schema, const Metadata& metadata) {
  FlatBuilder b;
  std::vector<FlatBuilder::Ref> fields;
  fields.reserve(schema.size());
  for (const auto& f : schema) fields.push_back(FieldTable(b, f));
  const auto vec = b.Offsets(fields);
  FlatBuilder::Ref custom = 0;
  if (!metadata.empty()) {
    std::vector<FlatBuilder::Ref> pairs;  // KeyValue {key: string, value: string}
    for (const auto& [key, value] : metadata) {
      const auto k = b.String(key);
      const auto v = b.String(value);
      b.StartTable();
      b.FieldRef(0, k);
      b.FieldRef(1, v);
      pairs.push_back(b.EndTable());
    }
    custom = b.Offsets(pairs);
  }
  b.StartTable();
  b.FieldRef(1, vec);
  if (custom != 0) b.FieldRef(2, custom);
  b.Scalar<int16_t>(0, 0);  // Endianness.Little
  const auto table = b.EndTable();
  return MessageTable(b, kHeaderSchema, table, 0);
}

namespace {

Status CheckColumn(const std::string& name, const Column& c, Type type, int64_t rows) {
  if (c.type() != type || c.length() != rows) {
    return Fail(ErrorCode::kInvalidArgument,
                "arrow: column " + name + " does not match the schema or row count");
  }
  for (std::string_view buf : c.Buffers()) {
    if (HasOffsets(c.type()) && buf.size() > size_t{std::numeric_limits<int32_t>::max()}) {
      return Fail(ErrorCode::kInvalidArgument,
                  "arrow: column " + name + " holds more than 2 GiB in one batch");
    }
  }
  return Ok();
}

// A RecordBatch table of `columns`; their buffers are appended to `body`
// (8-aligned, one allocation).
FlatBuilder::Ref BatchTable(FlatBuilder& b, const std::vector<const Column*>& columns, int64_t rows,
                            std::string& body) {
  std::vector<std::pair<int64_t, int64_t>> nodes, buffers;
  size_t total = body.size();
  for (const Column* c : columns) {
    for (std::string_view buf : c->Buffers()) total += Padded8(buf.size());
  }
  body.reserve(total);
  for (const Column* c : columns) {
    nodes.emplace_back(c->length(), c->null_count());
    for (std::string_view buf : c->Buffers()) {
      buffers.emplace_back(static_cast<int64_t>(body.size()), static_cast<int64_t>(buf.size()));
      body.append(buf);
      body.resize(Padded8(body.size()), '\0');
    }
  }
  const auto buffer_vec = b.Pairs(buffers);
  const auto node_vec = b.Pairs(nodes);
  b.StartTable();
  b.Scalar<int64_t>(0, rows);
  b.FieldRef(1, node_vec);
  b.FieldRef(2, buffer_vec);
  return b.EndTable();
}

}  // namespace

Result<EncodedBatch> RecordBatchMessage(const Schema& schema, const std::vector<Column>& columns) {
  if (columns.size() != schema.size()) {
    return Fail(ErrorCode::kInvalidArgument,
                "arrow: record batch has " + std::to_string(columns.size()) + " columns, schema " +
                    std::to_string(schema.size()));
  }
  const int64_t rows = columns.empty() ? 0 : columns[0].length();
  std::vector<const Column*> refs;
  refs.reserve(columns.size());
  for (size_t i = 0; i < columns.size(); ++i) {
    // A dictionary-encoded column holds the int32 indices.
    const Type want = schema[i].dictionary_id >= 0 ? Type::kInt32 : schema[i].type;
    if (auto st = CheckColumn(schema[i].name, columns[i], want, rows); !st) return Fail(st.error());
    refs.push_back(&columns[i]);
  }
  EncodedBatch out;
  FlatBuilder b;
  const auto table = BatchTable(b, refs, rows, out.body);
  out.header = MessageTable(b, kHeaderRecordBatch, table, static_cast<int64_t>(out.body.size()));
  return out;
}

Result<EncodedBatch> DictionaryBatchMessage(int64_t id, const Column& values) {
  if (auto st =
          CheckColumn("dictionary " + std::to_string(id), values, values.type(), values.length());
      !st) {
    return Fail(st.error());
  }
  EncodedBatch out;
  FlatBuilder b;
  const auto batch = BatchTable(b, {&values}, values.length(), out.body);
  b.StartTable();
  b.Scalar<int64_t>(0, id);
  b.FieldRef(1, batch);
  const auto table = b.EndTable();
  out.header =
      MessageTable(b, kHeaderDictionaryBatch, table, static_cast<int64_t>(out.body.size()));
  return out;
}

void AppendFramed(std::string_view header, std::string_view body, std::string& out) {
  AppendLe32(0xFFFFFFFFu, out);
  const size_t padded = Padded8(header.size());
  AppendLe32(static_cast<uint32_t>(padded), out);
  out.append(header);
  out.append(padded - header.size(), '\0');
  out.append(body);
}

void AppendEndOfStream(std::string& out) {
  AppendLe32(0xFFFFFFFFu, out);
  AppendLe32(0, out);
}

}  // namespace pgcdc::arrow_ipc
