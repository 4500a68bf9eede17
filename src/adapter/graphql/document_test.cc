#include "adapter/graphql/document.h"

#include <gtest/gtest.h>

namespace pgcdc::adapter::graphql {
namespace {

TEST(GraphqlDocumentTest, ParsesASubscriptionWithVariablesAliasesAndNesting) {
  auto op = ParseOperation(R"(
    # a comment
    subscription Orders($ch: String! = "orders", $w: JSON) {
      ev: events(channel: $ch, where: $w, operation: INSERT) {
        id, channel
        payload { row { id total: amount } }
      }
    })");
  ASSERT_TRUE(op) << op.error().message;
  EXPECT_EQ(op->type, "subscription");
  EXPECT_EQ(op->name, "Orders");
  ASSERT_EQ(op->variables.size(), 2u);
  EXPECT_EQ(op->variables[0].name, "ch");
  EXPECT_EQ(op->variables[0].type, "String!");
  ASSERT_TRUE(op->variables[0].has_default);
  EXPECT_EQ(op->variables[0].default_value.text, "orders");
  EXPECT_EQ(op->variables[1].type, "JSON");
  ASSERT_EQ(op->selections.size(), 1u);
  const Field& root = op->selections[0];
  EXPECT_EQ(root.alias, "ev");
  EXPECT_EQ(root.name, "events");
  EXPECT_EQ(root.line, 4u);
  ASSERT_EQ(root.arguments.size(), 3u);
  EXPECT_EQ(root.arguments[0].value.kind, Value::Kind::kVariable);
  EXPECT_EQ(root.arguments[2].value.kind, Value::Kind::kEnum);
  ASSERT_EQ(root.selections.size(), 3u);
  const Field& payload = root.selections[2];
  ASSERT_TRUE(payload.has_selection_set);
  ASSERT_EQ(payload.selections[0].selections.size(), 2u);
  EXPECT_EQ(payload.selections[0].selections[1].alias, "total");
  EXPECT_EQ(payload.selections[0].selections[1].name, "amount");
}

TEST(GraphqlDocumentTest, ParsesLiteralsStringsAndBlockStrings) {
  auto op = ParseOperation(
      "subscription { events(where: {a: [1, -2.5e3, true, null, \"x\\u00e9\\n\\uD83D\\uDE00\"], "
      "b: \"\"\"\n    hello\n      world\n  \"\"\"}) { id } }");
  ASSERT_TRUE(op) << op.error().message;
  const Value& where = op->selections[0].arguments[0].value;
  ASSERT_EQ(where.kind, Value::Kind::kObject);
  EXPECT_EQ(where.keys, (std::vector<std::string>{"a", "b"}));
  const Value& a = where.items[0];
  ASSERT_EQ(a.items.size(), 5u);
  EXPECT_EQ(a.items[0].kind, Value::Kind::kInt);
  EXPECT_EQ(a.items[1].kind, Value::Kind::kFloat);
  EXPECT_EQ(a.items[1].text, "-2.5e3");
  EXPECT_EQ(a.items[2].kind, Value::Kind::kBool);
  EXPECT_EQ(a.items[3].kind, Value::Kind::kNull);
  EXPECT_EQ(a.items[4].text, "x\xC3\xA9\n\xF0\x9F\x98\x80");
  EXPECT_EQ(where.items[1].text, "hello\n  world");
}

TEST(GraphqlDocumentTest, PicksTheNamedOperation) {
  const char* doc = "subscription A { events { id } } subscription B { events { channel } }";
  EXPECT_FALSE(ParseOperation(doc));
  auto b = ParseOperation(doc, "B");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->selections[0].selections[0].name, "channel");
  auto missing = ParseOperation(doc, "C");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "Unknown operation named \"C\".");
}

struct BadCase {
  const char* doc;
  const char* message;
  uint32_t line, column;
};

TEST(GraphqlDocumentTest, InvalidDocumentsHaveClearMessagesAndLocations) {
  const BadCase cases[] = {
      {"", "Syntax Error: Unexpected <EOF>.", 1, 1},
      {"subscription { events { id }", "Syntax Error: Expected Name, found <EOF>.", 1, 29},
      {"subscription {\n  events(channel: ) { id } }", "Syntax Error: Unexpected \")\".", 2, 19},
      {"subscription { events(channel: \"abc) { id } }", "Syntax Error: Unterminated string.", 1,
       32},
      {"subscription { events { ...F } }", "Fragments are not supported.", 1, 25},
      {"fragment F on Event { id }", "Fragments are not supported.", 1, 1},
      {"subscription { events @skip(if: true) { id } }", "Directives are not supported.", 1, 23},
      {"subscription { events(a: 01) }", "Syntax Error: Invalid number, unexpected digit after 0.",
       1, 26},
      {"subscription { events(a: 1x) }", "Syntax Error: Invalid number, expected digit.", 1, 26},
      {"subscription { events(a: \"\\q\") }", "Syntax Error: Invalid character escape sequence.", 1,
       26},
      {"subscription { events(a: \"\\uD800\") }", "Syntax Error: Invalid Unicode escape sequence.",
       1, 26},
      {"subscription ($a: String = $b) { events }",
       "Syntax Error: Unexpected variable in a constant value.", 1, 28},
      {"subscription { ev?ents }", "Syntax Error: Unexpected character.", 1, 18},
      {"subscription { events } }", "Syntax Error: Unexpected \"}\".", 1, 25},
      {"subscription { events }}", "Syntax Error: Unexpected \"}\".", 1, 24},
  };
  for (const auto& c : cases) {
    auto op = ParseOperation(c.doc);
    ASSERT_FALSE(op) << c.doc;
    EXPECT_EQ(op.error().message, c.message) << c.doc;
    EXPECT_EQ(op.error().line, c.line) << c.doc;
    EXPECT_EQ(op.error().column, c.column) << c.doc;
  }
}

TEST(GraphqlDocumentTest, DeepNestingIsRefusedNotRecursedInto) {
  std::string deep = "subscription { events(a: ";
  for (int i = 0; i < 10000; ++i) deep += "[";
  auto op = ParseOperation(deep);
  ASSERT_FALSE(op);
  EXPECT_NE(op.error().message.find("nesting exceeds"), std::string::npos);
  std::string fields = "subscription { events ";
  for (int i = 0; i < 100; ++i) fields += "{ a ";
  EXPECT_FALSE(ParseOperation(fields));
}

}  // namespace
}  // namespace pgcdc::adapter::graphql
