#include "adapter/graphql/subscription.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "adapter/graphql/schema.h"
#include "core/json_dom.h"
#include "schema/ref.h"

namespace pgcdc::adapter::graphql {
namespace {

boost::json::value Vars(std::string_view text) { return *json::ParseDom(text); }

std::expected<Plan, DocumentError> PlanFor(std::string_view doc, std::string_view vars = "null",
                                           const TableLookup& tables = {}) {
  auto op = ParseOperation(doc);
  if (!op) return std::unexpected(op.error());
  return MakePlan(*op, Vars(vars), tables);
}

Event OrderEvent(std::string payload) {
  Event e = MakeEvent("orders", "INSERT", std::move(payload), "wal");
  e.created_at_ns = 1'700'000'000'123'456'789;
  return e;
}

std::string Encode(const Plan& plan, const Event& e) {
  std::string out;
  AppendEventObject(plan, e, out);
  return out;
}

bool Match(const Plan& plan, const Event& e) {
  auto dom = json::ParseDom(e.payload);
  return Matches(plan, e, dom ? &*dom : nullptr);
}

TEST(GraphqlPlanTest, FiltersFromArgumentsVariablesAndDefaults) {
  auto p = PlanFor(
      "subscription ($ch: String = \"orders\", $w: JSON) { events(channel: $ch, where: $w) { id "
      "} }",
      R"({"w":{"table":"orders","n":1}})");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->channel, "orders");
  EXPECT_FALSE(p->operation);
  EXPECT_TRUE(p->needs_payload);
  EXPECT_TRUE(Match(*p, OrderEvent(R"({"table":"orders","n":1.0,"x":[1]})")));
  EXPECT_FALSE(Match(*p, OrderEvent(R"({"table":"orders","n":"1"})")));  // by type
  EXPECT_FALSE(Match(*p, OrderEvent(R"({"table":"items","n":1})")));
  EXPECT_FALSE(Match(*p, OrderEvent("[1]")));
  Event other = OrderEvent(R"({"table":"orders","n":1})");
  other.channel = "items";
  EXPECT_FALSE(Match(*p, other));
}

TEST(GraphqlPlanTest, GoToolVariablesFilterWithoutArguments) {
  auto p = PlanFor("subscription { events { id } }",
                   R"({"channel":"orders","operation":"DELETE","where":{"k":null}})");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->channel, "orders");
  EXPECT_EQ(p->operation, "DELETE");
  Event e = OrderEvent(R"({"a":1})");
  EXPECT_FALSE(Match(*p, e));
  e.operation = "DELETE";
  EXPECT_TRUE(Match(*p, e));  // missing key matches null
  auto objects = PlanFor(R"(subscription { events(where: {o: {a: [1, 2]}}) { id } })");
  ASSERT_TRUE(objects);
  EXPECT_TRUE(Match(*objects, OrderEvent(R"({"o":{"a":[1,2]}})")));
  EXPECT_FALSE(Match(*objects, OrderEvent(R"({"o":{"a":[1,2],"b":0}})")));
}

TEST(GraphqlPlanTest, ProjectsSelectedFieldsInOrderWithAliasesAndNestedPayload) {
  auto p = PlanFor(
      "subscription { e: events { op: operation, channel, when: created_at, __typename, payload "
      "{ table row { id name missing } list { k } } } }");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->response_key, "e");
  EXPECT_FALSE(p->needs_payload);
  Event e = OrderEvent(
      R"({"table":"orders","row":{"id":7,"name":"Ann","secret":"x"},"list":[{"k":1.50,"z":2},3]})");
  EXPECT_EQ(Encode(*p, e),
            R"({"op":"INSERT","channel":"orders","when":"2023-11-14T22:13:20.123456789Z",)"
            R"("__typename":"Event","payload":{"table":"orders","row":{"id":7,"name":"Ann",)"
            R"("missing":null},"list":[{"k":1.50},3]}})");
}

TEST(GraphqlPlanTest, WholePayloadAndWholeEvent) {
  auto leaf = PlanFor("subscription { events { id payload } }");
  ASSERT_TRUE(leaf);
  EXPECT_FALSE(leaf->needs_payload);
  Event e = OrderEvent(R"({"a":1})");
  EXPECT_EQ(Encode(*leaf, e), "{\"id\":\"" + e.id.ToString() + R"(","payload":{"a":1}})");
  auto whole = PlanFor("subscription { events }");
  ASSERT_TRUE(whole);
  EXPECT_EQ(Encode(*whole, e), e.Json());
  EXPECT_NE(whole->projection_key, leaf->projection_key);
  EXPECT_EQ(PlanFor("subscription { x: events { id payload } }")->projection_key,
            leaf->projection_key);
}

TEST(GraphqlPlanTest, SchemaErrorsAreClear) {
  const std::pair<const char*, const char*> cases[] = {
      {"query { events { id } }", "Only subscription operations are supported (got query)."},
      {"{ events { id } }", "Only subscription operations are supported (got query)."},
      {"subscription { events { id } events { id } }",
       "Subscription must select only one top level field."},
      {"subscription { orders { id } }", "Cannot query field \"orders\" on type \"Subscription\"."},
      {"subscription { events { nope } }", "Cannot query field \"nope\" on type \"Event\"."},
      {"subscription { events { id { x } } }",
       "Field \"id\" must not have a selection since type \"String\" has no subfields."},
      {"subscription { events(table: \"x\") { id } }",
       "Unknown argument \"table\" on field \"Subscription.events\"."},
      {"subscription { events(channel: 5) { id } }", "Argument \"channel\" must be a String."},
      {"subscription { events(where: [1]) { id } }",
       "Argument \"where\" must be an object (payload key -> value)."},
      {"subscription { events(channel: $c) { id } }", "Variable \"$c\" is not defined."},
      {"subscription ($c: String!) { events(channel: $c) { id } }",
       "Variable \"$c\" of required type \"String!\" was not provided."},
  };
  for (const auto& [doc, message] : cases) {
    auto p = PlanFor(doc);
    ASSERT_FALSE(p) << doc;
    EXPECT_EQ(p.error().message, message) << doc;
  }
  auto vars = PlanFor("subscription { events { id } }", "[1]");
  ASSERT_FALSE(vars);
  EXPECT_EQ(vars.error().message, "Variables must be an object.");
  auto located = PlanFor("subscription {\n  events { bad } }");
  ASSERT_FALSE(located);
  EXPECT_EQ(located.error().line, 2u);
  EXPECT_EQ(located.error().column, 12u);
}

TEST(GraphqlPlanTest, SchemaAwareTableFieldsFilterByRelation) {
  TableTypes tables;
  auto schema = std::make_shared<RowSchema>();
  schema->namespace_name = "public";
  schema->table = "orders";
  schema->columns = {{"id", 23, true},    {"total", 1700, false}, {"big", 20, false},
                     {"note", 25, false}, {"doc", 3802, false},   {"ok", 16, false}};
  tables.Observe(schema);
  TableLookup lookup = [&](std::string_view f) { return tables.TableForField(f); };
  auto p = PlanFor("subscription { public_orders { payload { row { id } } } }", "null", lookup);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->table, "public.orders");
  EXPECT_EQ(p->response_key, "public_orders");
  Event e = OrderEvent(R"({"row":{"id":1}})");
  EXPECT_FALSE(Match(*p, e));  // no relation
  e.schema = schema;
  EXPECT_TRUE(Match(*p, e));
  auto other = std::make_shared<RowSchema>(*schema);
  other->table = "orders2";
  e.schema = other;
  EXPECT_FALSE(Match(*p, e));
  EXPECT_FALSE(PlanFor("subscription { public_items { id } }", "null", lookup));

  const std::string sdl = tables.Sdl();
  const std::string row_type =
      "type PublicOrdersRow {\n  id: Int\n  total: Float\n  big: BigInt\n  note: String\n  doc: "
      "JSON\n  ok: Boolean\n}";
  for (const std::string& part : std::vector<std::string>{
           "type Event {", "type Subscription {",
           "  events(channel: String, operation: String, where: JSON): Event\n",
           "  public_orders(channel: String, operation: String, where: JSON): PublicOrdersEvent\n",
           row_type, "  payload: PublicOrdersChange\n", "  row: PublicOrdersRow\n"}) {
    EXPECT_NE(sdl.find(part), std::string::npos) << part << "\n" << sdl;
  }
}

// --schema-store: the row type's description names the store version of
// the definition last seen; a table without one keeps the plain text.
TEST(GraphqlPlanTest, SdlNamesTheSchemaStoreVersion) {
  TableTypes tables;
  RowSchema orders;
  orders.namespace_name = "public";
  orders.table = "orders";
  orders.columns = {{"id", 23, true}};
  tables.Observe(schema::WithRef(orders, {.subject = "public.orders", .version = 1}));
  RowSchema items = orders;
  items.table = "items";
  tables.Observe(std::make_shared<const RowSchema>(items));
  EXPECT_NE(tables.Sdl().find("\"\"\"A row of public.orders (schema store: public.orders version "
                              "1).\"\"\"\ntype PublicOrdersRow {"),
            std::string::npos)
      << tables.Sdl();
  EXPECT_NE(tables.Sdl().find("\"\"\"A row of public.items.\"\"\"\ntype PublicItemsRow {"),
            std::string::npos)
      << tables.Sdl();
  orders.columns.push_back({"note", 25, false});
  tables.Observe(schema::WithRef(orders, {.subject = "public.orders", .version = 2}));
  const std::string sdl = tables.Sdl();
  EXPECT_NE(sdl.find("(schema store: public.orders version 2)"), std::string::npos) << sdl;
  EXPECT_EQ(sdl.find("version 1)"), std::string::npos) << sdl;
  EXPECT_NE(sdl.find("  note: String\n"), std::string::npos) << sdl;
}

TEST(GraphqlPlanTest, TableFieldNamesAreGraphqlSafe) {
  EXPECT_EQ(TableFieldName("public", "orders"), "public_orders");
  EXPECT_EQ(TableFieldName("my-schema", "2024 sales"), "my_schema_2024_sales");
  EXPECT_EQ(TableFieldName("", "9lives"), "_9lives");
  EXPECT_EQ(TableFieldName("", "__x"), "t__x");
}

}  // namespace
}  // namespace pgcdc::adapter::graphql
