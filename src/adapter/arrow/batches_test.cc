#include "adapter/arrow/batches.h"

#include <gtest/gtest.h>

#include <cstring>

#include "schema/ref.h"

namespace pgcdc::adapter::arrow {
namespace {

TEST(ArrowTicket, ParsesAndRefusesClearly) {
  auto t = ParseTicket(R"({"channel":"pgcdc:orders","offset":42})");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->channel, "pgcdc:orders");
  EXPECT_EQ(t->offset, 42u);
  auto no_offset = ParseTicket(R"({"channel":"c"})");
  ASSERT_TRUE(no_offset);
  EXPECT_FALSE(no_offset->offset);
  EXPECT_EQ(ParseTicket(TicketJson("a\"b", 7))->channel, "a\"b");
  for (const char* bad : {"", "garbage", "[]", R"({"offset":1})", R"({"channel":""})",
                          R"({"channel":"c","offset":-1})", R"({"channel":"c","offset":1.5})",
                          R"({"channel":"c","offset":"1"})", R"({"channel":"c","x":1})"}) {
    auto r = ParseTicket(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find("bad ticket"), std::string::npos);
  }
  EXPECT_FALSE(ParseTicket(R"({"channel":")" + std::string(5000, 'x') + "\"}"));
}

std::shared_ptr<RowSchema> Table(const std::vector<std::pair<std::string, uint32_t>>& cols) {
  auto s = std::make_shared<RowSchema>();
  for (const auto& [n, oid] : cols) s->columns.push_back({.name = n, .type_oid = oid});
  return s;
}

EntryPtr Row(std::shared_ptr<const RowSchema> schema, const std::string& row) {
  auto e = std::make_shared<Entry>();
  e->id = "id";
  e->operation = "INSERT";
  e->payload = R"({"op":"INSERT","row":)" + row + "}";
  e->schema = std::move(schema);
  return e;
}

TEST(ArrowBatches, TypedPlanStopsAtATableChange) {
  auto v1 = Table({{"id", 23}});
  auto v1_copy = Table({{"id", 23}});
  auto v2 = Table({{"id", 23}, {"note", 25}});
  auto truncate = std::make_shared<Entry>();
  std::vector<EntryPtr> entries = {truncate, Row(v1, R"({"id":1})"), Row(v1_copy, R"({"id":2})"),
                                   Row(v2, R"({"id":3,"note":"x"})")};
  auto plan = PlanStream(SchemaMode::kTyped, entries);
  EXPECT_EQ(plan.count, 3u);
  ASSERT_EQ(plan.schema.size(), 4u);
  EXPECT_EQ(plan.schema[3].name, "id");
  EXPECT_EQ(plan.schema[3].type, arrow_ipc::Type::kInt32);
  EXPECT_EQ(PlanStream(SchemaMode::kEnvelope, entries).count, 4u);
  EXPECT_EQ(PlanStream(SchemaMode::kEnvelope, entries).schema.size(), 6u);
}

// --schema-store: a typed stream's schema names the store version of its
// table definition in custom_metadata; a new version starts a new stream.
TEST(ArrowBatches, TypedPlanCarriesTheSchemaStoreVersion) {
  RowSchema columns = *Table({{"id", 23}});
  auto v1 = schema::WithRef(columns, {.subject = "public.orders", .version = 1});
  columns.columns.push_back({.name = "note", .type_oid = 25});
  auto v2 = schema::WithRef(columns, {.subject = "public.orders", .version = 2});
  std::vector<EntryPtr> entries = {Row(v1, R"({"id":1})"), Row(v1, R"({"id":2})"),
                                   Row(v2, R"({"id":3,"note":"x"})")};
  auto plan = PlanStream(SchemaMode::kTyped, entries);
  EXPECT_EQ(plan.count, 2u);
  EXPECT_EQ(plan.metadata, (arrow_ipc::Metadata{{"pgcdc.schema_subject", "public.orders"},
                                                {"pgcdc.schema_version", "1"}}));
  auto next = PlanStream(SchemaMode::kTyped, std::span<const EntryPtr>(entries).subspan(2));
  EXPECT_EQ(next.metadata[1].second, "2");
  EXPECT_TRUE(PlanStream(SchemaMode::kEnvelope, entries).metadata.empty());
  const std::vector<EntryPtr> unversioned = {Row(Table({{"id", 23}}), R"({"id":1})")};
  EXPECT_TRUE(PlanStream(SchemaMode::kTyped, unversioned).metadata.empty());
  EXPECT_TRUE(StoreMetadata(nullptr).empty());
}

TEST(ArrowBatches, TypedValuesThatDoNotConvertAreNullAndCounted) {
  auto t = Table({{"i", 21}, {"d", 1082}, {"ts", 1114}, {"b", 17}, {"n", 1700}, {"j", 3802}});
  std::vector<EntryPtr> entries = {
      Row(t,
          R"({"i":7,"d":"2024-02-29","ts":"2024-02-29T12:00:00.5","b":"\\x00ff","n":1.50,"j":{"a":[1]}})"),
      Row(t, R"({"i":70000,"d":"infinity","ts":"infinity","b":"zz","n":null,"j":null})")};
  auto plan = PlanStream(SchemaMode::kTyped, entries);
  size_t errors = 0;
  auto batch = EncodeBatch(SchemaMode::kTyped, plan, entries, errors);
  ASSERT_TRUE(batch) << batch.error().message();
  EXPECT_EQ(errors, 4u);  // int2 out of range, date and timestamp infinity, bad bytea
  // int16 column values: 7 then 0 (null slot).
  EXPECT_NE(batch->body.find(std::string("\x07\x00\x00\x00", 4)), std::string::npos);
  EXPECT_NE(batch->body.find("1.50"), std::string::npos);
  EXPECT_NE(batch->body.find(R"({"a":[1]})"), std::string::npos);
  EXPECT_EQ(TypeForPgOid(1184), arrow_ipc::Type::kTimestampMicros);
  EXPECT_EQ(TypedSchema(t.get())[5].timezone, "");
}

EntryPtr Envelope(std::string operation, const std::string& source = "wal_replication") {
  auto e = std::make_shared<Entry>();
  e->id = "id";
  e->channel = "pgcdc:t";
  e->operation = std::move(operation);
  e->payload = "{}";
  e->source = source == "wal_replication" ? "wal_replication" : "listen_notify";
  return e;
}

TEST(ArrowBatches, RepetitiveStringColumnsAreDictionaryEncoded) {
  std::vector<EntryPtr> entries = {Envelope("INSERT"), Envelope("UPDATE"), Envelope("INSERT"),
                                   Envelope("DELETE", "listen_notify")};
  auto plan = PlanStream(SchemaMode::kEnvelope, entries);
  EXPECT_EQ(plan.count, 4u);
  ASSERT_EQ(plan.dictionaries.size(), 3u);  // channel, operation, source
  EXPECT_EQ(plan.schema[1].dictionary_id, 0);
  EXPECT_EQ(plan.schema[2].dictionary_id, 1);
  EXPECT_EQ(plan.schema[4].dictionary_id, 2);
  EXPECT_EQ(plan.dictionaries[0].values(), (std::vector<std::string_view>{"pgcdc:t"}));
  EXPECT_EQ(plan.dictionaries[1].values(),
            (std::vector<std::string_view>{"INSERT", "UPDATE", "DELETE"}));
  auto dicts = EncodeDictionaries(plan);
  ASSERT_TRUE(dicts) << dicts.error().message();
  ASSERT_EQ(dicts->size(), 3u);
  EXPECT_NE((*dicts)[1].body.find("INSERTUPDATEDELETE"), std::string::npos);
  size_t errors = 0;
  auto batch = EncodeBatch(SchemaMode::kEnvelope, plan, entries, errors);
  ASSERT_TRUE(batch) << batch.error().message();
  EXPECT_EQ(batch->body.find("INSERT"), std::string::npos);  // indices only
  // Indices 0 1 0 2 of the operation column.
  EXPECT_NE(batch->body.find(std::string("\0\0\0\0\1\0\0\0\0\0\0\0\2\0\0\0", 16)),
            std::string::npos);

  auto plain = PlanStream(SchemaMode::kEnvelope, entries, false);
  EXPECT_TRUE(plain.dictionaries.empty());
  auto plain_batch = EncodeBatch(SchemaMode::kEnvelope, plain, entries, errors);
  ASSERT_TRUE(plain_batch);
  EXPECT_NE(plain_batch->body.find("INSERTUPDATEINSERTDELETE"), std::string::npos);
  EXPECT_EQ(PlanStream(SchemaMode::kTyped, entries).dictionaries.size(), 1u);
}

TEST(ArrowBatches, AStreamEndsBeforeADictionaryWouldOverflow) {
  std::vector<EntryPtr> entries;
  for (size_t i = 0; i < 2 * kMaxDictionaryValues + 5; ++i) {
    entries.push_back(Envelope(i % 2 == 0 ? "INSERT" : "op" + std::to_string(i)));
  }
  auto plan = PlanStream(SchemaMode::kEnvelope, entries);
  EXPECT_EQ(plan.dictionaries[1].values().size(), kMaxDictionaryValues);
  // INSERT plus 4095 distinct others (the last at 8189), INSERT at 8190: the
  // next distinct one starts the next stream.
  EXPECT_EQ(plan.count, 2 * kMaxDictionaryValues - 1);
  EXPECT_LT(plan.count, entries.size());
  for (size_t i = 0; i < plan.count; ++i) {
    EXPECT_GE(plan.dictionaries[1].IndexOf(entries[i]->operation), 0) << i;
  }
  EXPECT_EQ(PlanStream(SchemaMode::kEnvelope, entries, false).count, entries.size());
}

TEST(ArrowBatches, BatchEndBoundsRowsAndBytes) {
  std::vector<EntryPtr> entries;
  for (int i = 0; i < 10; ++i) {
    auto e = std::make_shared<Entry>();
    e->payload = std::string(1000, 'x');
    entries.push_back(e);
  }
  EXPECT_EQ(BatchEnd(entries, 4, 1 << 20), 4u);
  EXPECT_EQ(BatchEnd(entries, 100, 2500), 2u);
  EXPECT_EQ(BatchEnd(entries, 100, 10), 1u);  // at least one row
  EXPECT_EQ(BatchEnd({}, 100, 10), 0u);
}

}  // namespace
}  // namespace pgcdc::adapter::arrow
