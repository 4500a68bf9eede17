#include "schema/ref.h"

#include <gtest/gtest.h>

namespace pgcdc::schema {
namespace {

RowSchema Orders() {
  RowSchema s;
  s.namespace_name = "public";
  s.table = "orders";
  s.columns = {{.name = "id", .type_oid = 23, .key = true}};
  return s;
}

TEST(SchemaRef, TravelsWithEveryCopyOfTheSchema) {
  auto schema = WithRef(Orders(), {.subject = "public.orders", .version = 3});
  ASSERT_NE(schema, nullptr);
  EXPECT_EQ(schema->table, "orders");
  ASSERT_EQ(schema->columns.size(), 1u);
  Event a, b;
  a.schema = schema;
  b = a;  // events copied between adapters share the schema
  const Ref* ref = RefOf(b.schema);
  ASSERT_NE(ref, nullptr);
  EXPECT_EQ(*ref, (Ref{.subject = "public.orders", .version = 3}));
  EXPECT_EQ(ref, RefOf(a.schema)) << "one ref per schema, not per event";
  schema.reset();
  a.schema.reset();
  EXPECT_EQ(RefOf(b.schema)->version, 3) << "alive while any copy is";
}

TEST(SchemaRef, OtherSchemasHaveNone) {
  EXPECT_EQ(RefOf(nullptr), nullptr);
  EXPECT_EQ(RefOf(std::make_shared<const RowSchema>(Orders())), nullptr);
  // A copy of the columns made elsewhere (e.g. a transform) is a new
  // definition the store did not register.
  auto versioned = WithRef(Orders(), {.subject = "public.orders", .version = 1});
  EXPECT_EQ(RefOf(std::make_shared<const RowSchema>(*versioned)), nullptr);
}

}  // namespace
}  // namespace pgcdc::schema
