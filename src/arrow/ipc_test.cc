#include "arrow/ipc.h"

#include <gtest/gtest.h>

#include <cstring>

namespace pgcdc::arrow_ipc {
namespace {

uint32_t Le32(std::string_view s, size_t at) {
  uint32_t v = 0;
  std::memcpy(&v, s.data() + at, 4);
  return v;
}

int64_t Le64(std::string_view s, size_t at) {
  int64_t v = 0;
  std::memcpy(&v, s.data() + at, 8);
  return v;
}

// The root table of a flatbuffer and the position of field `id` in it (0
// when absent), read by the format's rules.
size_t FieldAt(std::string_view fb, size_t table, int id) {
  const auto soffset = static_cast<int32_t>(Le32(fb, table));
  const size_t vtable = table - soffset;
  uint16_t vsize = 0, entry = 0;
  std::memcpy(&vsize, fb.data() + vtable, 2);
  if (4 + 2 * id >= vsize) return 0;
  std::memcpy(&entry, fb.data() + vtable + 4 + 2 * id, 2);
  return entry == 0 ? 0 : table + entry;
}

size_t Deref(std::string_view fb, size_t at) { return at + Le32(fb, at); }

TEST(ArrowIpc, SchemaMessageIsAnAlignedV5SchemaFlatbuffer) {
  const auto header =
      SchemaMessage({{.name = "id", .type = Type::kUtf8, .nullable = false},
                     {.name = "created_at", .type = Type::kTimestampMicros, .timezone = "UTC"}});
  EXPECT_EQ(header.size() % 8, 0u);
  const size_t root = Deref(header, 0);
  EXPECT_EQ(root % 4, 0u);
  const size_t version = FieldAt(header, root, 0);
  ASSERT_NE(version, 0u);
  EXPECT_EQ(header[version], 4);                         // MetadataVersion.V5
  EXPECT_EQ(header[FieldAt(header, root, 1)], 1);        // MessageHeader.Schema
  EXPECT_EQ(Le64(header, FieldAt(header, root, 3)), 0);  // bodyLength
  EXPECT_EQ(FieldAt(header, root, 3) % 8, 0u);           // int64 aligned
  const size_t schema = Deref(header, FieldAt(header, root, 2));
  const size_t fields = Deref(header, FieldAt(header, schema, 1));
  ASSERT_EQ(Le32(header, fields), 2u);
  const size_t first = Deref(header, fields + 4);
  const size_t name = Deref(header, FieldAt(header, first, 0));
  EXPECT_EQ(header.substr(name + 4, Le32(header, name)), "id");
  EXPECT_EQ(header[name + 4 + 2], '\0');
  EXPECT_EQ(header[FieldAt(header, first, 2)], 5);  // Type.Utf8
  EXPECT_NE(FieldAt(header, first, 5), 0u);         // children present (empty)
}

TEST(ArrowIpc, RecordBatchBuffersAreAlignedAndDescribed) {
  Schema schema = {{.name = "s", .type = Type::kUtf8}, {.name = "n", .type = Type::kInt32}};
  std::vector<Column> cols = {Column(Type::kUtf8), Column(Type::kInt32)};
  cols[0].AppendBytes("abc");
  cols[0].AppendNull();
  cols[0].AppendBytes("de");
  cols[1].AppendInt(7);
  cols[1].AppendInt(-1);
  cols[1].AppendInt(9);
  auto batch = RecordBatchMessage(schema, cols);
  ASSERT_TRUE(batch) << batch.error().message();
  EXPECT_EQ(batch->body.size() % 8, 0u);
  const auto& h = batch->header;
  const size_t root = Deref(h, 0);
  EXPECT_EQ(h[FieldAt(h, root, 1)], 3);  // MessageHeader.RecordBatch
  EXPECT_EQ(Le64(h, FieldAt(h, root, 3)), static_cast<int64_t>(batch->body.size()));
  const size_t rb = Deref(h, FieldAt(h, root, 2));
  EXPECT_EQ(Le64(h, FieldAt(h, rb, 0)), 3);
  const size_t nodes = Deref(h, FieldAt(h, rb, 1));
  ASSERT_EQ(Le32(h, nodes), 2u);
  EXPECT_EQ((nodes + 4) % 8, 0u);
  EXPECT_EQ(Le64(h, nodes + 4), 3);      // utf8 length
  EXPECT_EQ(Le64(h, nodes + 4 + 8), 1);  // utf8 null_count
  EXPECT_EQ(Le64(h, nodes + 20 + 8), 0);
  const size_t buffers = Deref(h, FieldAt(h, rb, 2));
  ASSERT_EQ(Le32(h, buffers), 5u);  // validity, offsets, data; validity (empty), values
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(Le64(h, buffers + 4 + 16 * i) % 8, 0) << i;
  }
  const int64_t offsets_at = Le64(h, buffers + 4 + 16);
  EXPECT_EQ(Le32(batch->body, offsets_at + 8), 3u);  // null keeps the offset
  EXPECT_EQ(Le32(batch->body, offsets_at + 12), 5u);
  EXPECT_EQ(Le64(h, buffers + 4 + 16 * 3 + 8), 0);  // no nulls: empty validity
}

TEST(ArrowIpc, FramingAndEndOfStream) {
  std::string out;
  AppendFramed(std::string(12, 'h'), std::string(16, 'b'), out);
  ASSERT_EQ(out.size(), 8u + 16u + 16u);
  EXPECT_EQ(Le32(out, 0), 0xFFFFFFFFu);
  EXPECT_EQ(Le32(out, 4), 16u);
  EXPECT_EQ(out.substr(20, 4), std::string(4, '\0'));
  AppendEndOfStream(out);
  EXPECT_EQ(Le32(out, out.size() - 8), 0xFFFFFFFFu);
  EXPECT_EQ(Le32(out, out.size() - 4), 0u);
}

TEST(ArrowIpc, ColumnsThatDoNotFitTheSchemaAreRefused) {
  Schema schema = {{.name = "a", .type = Type::kInt64}, {.name = "b", .type = Type::kInt64}};
  std::vector<Column> cols = {Column(Type::kInt64), Column(Type::kInt64)};
  cols[0].AppendInt(1);
  auto uneven = RecordBatchMessage(schema, cols);
  ASSERT_FALSE(uneven);
  EXPECT_NE(uneven.error().message().find("row count"), std::string::npos);
  cols.pop_back();
  EXPECT_FALSE(RecordBatchMessage(schema, cols));
}

TEST(ArrowIpc, EmptyBatchStillHasOffsets) {
  Schema schema = {{.name = "s", .type = Type::kUtf8}};
  std::vector<Column> cols = {Column(Type::kUtf8)};
  auto batch = RecordBatchMessage(schema, cols);
  ASSERT_TRUE(batch);
  EXPECT_EQ(batch->body.size(), 8u);  // one zero offset, padded
}

TEST(ArrowIpc, DictionaryFieldsAndDictionaryBatches) {
  const auto header = SchemaMessage({{.name = "op", .nullable = false, .dictionary_id = 7}});
  const size_t schema = Deref(header, FieldAt(header, Deref(header, 0), 2));
  const size_t field = Deref(header, Deref(header, FieldAt(header, schema, 1)) + 4);
  EXPECT_EQ(header[FieldAt(header, field, 2)], 5);  // the value type: Utf8
  const size_t dict = Deref(header, FieldAt(header, field, 4));
  EXPECT_EQ(Le64(header, FieldAt(header, dict, 0)), 7);  // id
  const size_t index_type = Deref(header, FieldAt(header, dict, 1));
  EXPECT_EQ(Le32(header, FieldAt(header, index_type, 0)), 32u);  // int32
  EXPECT_EQ(header[FieldAt(header, index_type, 1)], 1);          // signed

  Column values(Type::kUtf8);
  values.AppendBytes("INSERT");
  values.AppendBytes("DELETE");
  auto d = DictionaryBatchMessage(7, values);
  ASSERT_TRUE(d) << d.error().message();
  const auto& h = d->header;
  const size_t root = Deref(h, 0);
  EXPECT_EQ(h[FieldAt(h, root, 1)], 2);  // MessageHeader.DictionaryBatch
  EXPECT_EQ(Le64(h, FieldAt(h, root, 3)), static_cast<int64_t>(d->body.size()));
  const size_t batch = Deref(h, FieldAt(h, root, 2));
  EXPECT_EQ(Le64(h, FieldAt(h, batch, 0)), 7);  // id
  EXPECT_EQ(FieldAt(h, batch, 2), 0u);          // isDelta: default false
  const size_t rb = Deref(h, FieldAt(h, batch, 1));
  EXPECT_EQ(Le64(h, FieldAt(h, rb, 0)), 2);  // two values
  EXPECT_NE(d->body.find("INSERTDELETE"), std::string::npos);

  // A record batch of a dictionary field takes int32 indices, not strings.
  const Schema s = {{.name = "op", .dictionary_id = 7}};
  std::vector<Column> indices = {Column(Type::kInt32)};
  indices[0].AppendInt(1);
  EXPECT_TRUE(RecordBatchMessage(s, indices));
  std::vector<Column> strings = {Column(Type::kUtf8)};
  strings[0].AppendBytes("DELETE");
  EXPECT_FALSE(RecordBatchMessage(s, strings));
}

}  // namespace
}  // namespace pgcdc::arrow_ipc
