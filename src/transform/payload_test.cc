#include "transform/payload.h"

#include <gtest/gtest.h>

#include "transform/test_util.h"

namespace pgcdc::transform {
namespace {

using fixtures::TestEvent;

std::string Render(const JsonObject& o) {
  std::string out;
  o.AppendTo(out);
  return out;
}

TEST(JsonObjectTest, RoundTripsBytesExactly) {
  Arena arena;
  const std::string text =
      R"({"a":12.50,"b":123456789012345678901234567890,"c":"x\"y\u00e9","d":{"e":[1,{"f":null}]},"g":true,"h":-0.0e+5})";
  auto o = JsonObject::Parse(text, arena);
  ASSERT_TRUE(o) << o.error().message();
  EXPECT_EQ(Render(**o), text);
  ASSERT_EQ((*o)->members().size(), 6u);
  EXPECT_EQ((*o)->Find("b")->raw, "123456789012345678901234567890");
  EXPECT_EQ(StringifyJson((*o)->Find("c")->raw), "x\"y\xc3\xa9");
}

TEST(JsonObjectTest, EditsKeepOrder) {
  Arena arena;
  auto o = JsonObject::Parse(R"({"a":1,"b":2,"c":3,"d":4})", arena);
  ASSERT_TRUE(o);
  EXPECT_TRUE((*o)->Erase("b"));
  EXPECT_FALSE((*o)->Erase("zz"));
  EXPECT_TRUE((*o)->Rename("c", "a"));  // overwrites the existing a
  (*o)->Set("e", "5");
  (*o)->Set("d", "\"x\"");
  EXPECT_EQ(Render(**o), R"({"a":3,"d":"x","e":5})");
}

TEST(JsonObjectTest, EscapedKeysAndNestedChildren) {
  Arena arena;
  auto o = JsonObject::Parse(R"({"k\u0041":{"x":1,"y":{"z":2}},"s":"{not an object}"})", arena);
  ASSERT_TRUE(o);
  ASSERT_NE((*o)->Find("kA"), nullptr);
  auto child = (*o)->Child("kA", arena);
  ASSERT_TRUE(child && *child);
  (*child)->Erase("x");
  EXPECT_EQ(Render(**o), R"({"kA":{"y":{"z":2}},"s":"{not an object}"})");
  auto s = (*o)->Child("s", arena);
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, nullptr);
}

TEST(JsonObjectTest, MalformedInputIsAnError) {
  Arena arena;
  for (const char* bad : {"{", R"({"a":})", R"({"a":1,})", R"({"a" 1})", R"({"a":[1,2})",
                          R"({"a":"x)", R"({"a":1}x)", R"({a:1})", R"({"a":tru})", "[1]"}) {
    EXPECT_FALSE(JsonObject::Parse(bad, arena)) << bad;
  }
  std::string deep(2000, '[');
  EXPECT_FALSE(SkipJsonValue(deep, 0));
}

TEST(PayloadContextTest, UnchangedPayloadIsNotRewritten) {
  Event e = TestEvent("UPDATE", fixtures::kWalUpdate);
  const std::string json = e.Json();
  PayloadContext ctx(e);
  auto targets = ctx.FieldTargets();
  ASSERT_TRUE(targets);
  EXPECT_EQ(targets->size(), 2u);
  ctx.Commit();
  EXPECT_EQ(e.payload, fixtures::kWalUpdate);
  EXPECT_EQ(e.Json(), json);
}

TEST(PayloadContextTest, TargetsByShape) {
  struct Case {
    const char* payload;
    size_t targets;
    bool structured;
  } cases[] = {
      {fixtures::kWalUpdate, 2, true},
      {fixtures::kTrigger, 2, true},
      {R"({"op":"INSERT","table":"t","row":{"a":1},"old":null})", 1, true},
      {R"({"op":"TRUNCATE","table":"t","row":null,"old":null})", 0, true},
      {fixtures::kFreeForm, 1, false},
      {fixtures::kNonObject, 0, false},
      {R"("text")", 0, false},
      {"null", 0, false},
      // Debezium envelope: after/before (a DELETE has only before).
      {R"({"after":{"a":1},"before":{"a":0},"op":"u","source":{"db":""}})", 2, false},
      {R"({"after":null,"before":{"a":0},"op":"d","source":{}})", 1, false},
      // CloudEvents: the images inside data; free-form data is the target.
      {R"({"data":{"op":"INSERT","row":{"a":1},"old":null},"specversion":"1.0"})", 1, false},
      {R"({"data":{"x":1},"specversion":"1.0"})", 1, false}};
  for (const auto& c : cases) {
    Event e = TestEvent("UPDATE", c.payload);
    PayloadContext ctx(e);
    auto t = ctx.FieldTargets();
    ASSERT_TRUE(t) << c.payload;
    EXPECT_EQ(t->size(), c.targets) << c.payload;
    EXPECT_EQ(*ctx.Structured(), c.structured) << c.payload;
  }
}

// Rendering copies unedited stretches from the source; the output must still
// equal a member-by-member re-encoding of what was parsed.
TEST(PayloadContextTest, EditedImagesRenderCanonically) {
  struct Case {
    const char* payload;
    const char* want;
  } cases[] = {
      // Spacing and escaped keys inside an edited image are normalised.
      {R"({"op":"UPDATE","row":{ "a" : 1, "b\u0041":2 , "c":3},"old":null})",
       R"({"op":"UPDATE","row":{"a":1,"bA":2},"old":null})"},
      // Objects the field transforms never look at stay byte for byte.
      {R"({"op":"INSERT","row":{"a":1,"c":2},"meta":{"k\u0041":{ "c" :1}}})",
       R"({"op":"INSERT","row":{"a":1},"meta":{"k\u0041":{ "c" :1}}})"},
      // First, middle and last members dropped; nested values kept as written.
      {R"({"op":"INSERT","row":{"c":0,"a":{"c":1},"c":9,"b":[1.50,"x"],"c":3}})",
       R"({"op":"INSERT","row":{"a":{"c":1},"c":9,"b":[1.50,"x"],"c":3}})"},
      {R"({"op":"INSERT","row":{"c":0}})", R"({"op":"INSERT","row":{}})"},
  };
  for (const auto& c : cases) {
    Event e = TestEvent("INSERT", c.payload);
    PayloadContext ctx(e);
    auto targets = ctx.FieldTargets();
    ASSERT_TRUE(targets) << c.payload;
    for (JsonObject* obj : *targets) obj->Erase("c");
    ctx.MarkChanged();
    ctx.Commit();
    EXPECT_EQ(e.payload, c.want) << c.payload;
  }
}

TEST(PayloadContextTest, DepthLimitUnchangedByPrefetch) {
  // SkipJsonValue's limit (512 open brackets) counts from the root's values,
  // whether or not the image is parsed ahead of time.
  for (int inner : {510, 511, 512}) {
    const std::string payload =
        R"({"op":"INSERT","row":{"x":)" + std::string(inner, '[') + std::string(inner, ']') + "}}";
    Event e = TestEvent("INSERT", payload);
    PayloadContext ctx(e);
    EXPECT_EQ(ctx.Root().has_value(), inner < 512) << inner;
  }
}

TEST(PayloadContextTest, ReplaceThenEditThenCommit) {
  Event e = TestEvent("INSERT", R"({"a":1})");
  (void)e.Json();
  PayloadContext ctx(e);
  ctx.ReplacePayload(R"({"b":2,"c":3})");
  auto root = ctx.Root();
  ASSERT_TRUE(root && *root);
  (*root)->Erase("b");
  ctx.MarkChanged();
  EXPECT_EQ(ctx.PayloadText(), R"({"c":3})");
  ctx.Commit();
  EXPECT_EQ(e.payload, R"({"c":3})");
  EXPECT_NE(e.Json().find(R"("payload":{"c":3})"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::transform
