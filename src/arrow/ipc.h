// Arrow IPC streaming format encoder: a schema message and record batches
// (https://arrow.apache.org/docs/format/Columnar.html#serialization-and-interprocess-communication-ipc),
// metadata version V5, little-endian, no compression; dictionary-encoded
// columns (int32 indices) with one DictionaryBatch per dictionary.
//
// Debian packages no Arrow C++ library (nor flatbuffers for C++), so the
// flatbuffer metadata (Message, Schema, Field, RecordBatch of Arrow's
// Message.fbs/Schema.fbs) is written by hand by a small back-to-front builder.
// Pure: no I/O, no globals. Used by the arrow sink (Flight DoGet, FlightInfo
// schemas); fuzzed by tests/fuzz/arrow_ipc_fuzz.cc and cross-checked by the
// npm apache-arrow reader (ipc_test.cc).
//
// Layout rules kept: every flatbuffer scalar aligned to its size from the
// message start, each encapsulated message = 0xFFFFFFFF continuation, int32
// metadata length (flatbuffer plus padding so the body starts 8-aligned),
// metadata, body; body buffers 8-aligned and padded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace pgcdc::arrow_ipc {

enum class Type : uint8_t {
  kUtf8,
  kBinary,
  kBool,
  kInt16,
  kInt32,
  kInt64,
  kFloat32,
  kFloat64,
  kDate32,           // days since 1970-01-01
  kTimestampMicros,  // int64 µs since the epoch; `timezone` empty = naive
};

struct Field {
  std::string name;
  Type type = Type::kUtf8;
  bool nullable = true;
  std::string timezone;  // kTimestampMicros only ("UTC")
  // >= 0: the column is dictionary-encoded: its record batch column holds
  // int32 indices (a kInt32 Column) into the values (of `type`) sent in the
  // DictionaryBatch with this id before the first record batch.
  int64_t dictionary_id = -1;
};

using Schema = std::vector<Field>;
// Schema-level custom_metadata (key, value), in order.
using Metadata = std::vector<std::pair<std::string, std::string>>;

// One column's values while a batch is being built. Call exactly the append
// matching the column's type (or AppendNull) once per row.
class Column {
 public:
  explicit Column(Type type) : type_(type) {}

  void AppendNull();
  // kUtf8 (caller guarantees UTF-8) and kBinary.
  void AppendBytes(std::string_view bytes);
  void AppendBool(bool value);
  // kInt16/kInt32/kInt64/kDate32/kTimestampMicros (narrowed to the width;
  // callers range-check).
  void AppendInt(int64_t value);
  void AppendDouble(double value);  // kFloat32 (narrowed) and kFloat64
  // Room for `rows` more rows and `bytes` more utf8/binary bytes.
  void Reserve(size_t rows, size_t bytes);

  Type type() const { return type_; }
  int64_t length() const { return length_; }
  int64_t null_count() const { return null_count_; }
  // Bytes the column's buffers hold so far (for batch size limits).
  size_t byte_size() const { return validity_.size() + offsets_.size() + data_.size(); }

  // Buffers in IPC order (validity, then offsets/values, then data).
  std::vector<std::string_view> Buffers() const;

 private:
  void MarkValid(bool valid);

  Type type_;
  int64_t length_ = 0;
  int64_t null_count_ = 0;
  std::string validity_;  // LSB bitmap, one bit per row
  std::string offsets_;   // int32 offsets (utf8/binary), starts with 0 once used
  std::string data_;      // values, or the bytes of utf8/binary
  int64_t bool_bits_ = 0;
};

// The Message flatbuffer of a Schema message (Flight's data_header of the
// first FlightData; no body), with `metadata` as the schema's
// custom_metadata (none when empty).
std::string SchemaMessage(const Schema& schema, const Metadata& metadata = {});

struct EncodedBatch {
  std::string header;  // the Message flatbuffer (Flight's data_header)
  std::string body;    // the buffers (Flight's data_body), 8-aligned
};

// A RecordBatch message for `columns` (one per schema field, equal
// lengths). kInvalidArgument when the columns do not fit the schema or a
// utf8/binary column holds more than 2 GiB (int32 offsets).
[[nodiscard]] Result<EncodedBatch> RecordBatchMessage(const Schema& schema,
                                                      const std::vector<Column>& columns);

// A DictionaryBatch message (not a delta): the values of dictionary `id`
// (`values`: a column of the dictionary field's value type).
// kInvalidArgument like RecordBatchMessage.
[[nodiscard]] Result<EncodedBatch> DictionaryBatchMessage(int64_t id, const Column& values);

// An encapsulated message: continuation marker, padded metadata length,
// metadata (padded to 8), body. Appended to `out`.
void AppendFramed(std::string_view header, std::string_view body, std::string& out);
// The end-of-stream marker (continuation, length 0).
void AppendEndOfStream(std::string& out);

}  // namespace pgcdc::arrow_ipc
