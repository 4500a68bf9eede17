#include <gtest/gtest.h>

#include <utility>

#include "core/metrics.h"
#include "transform/builtins.h"
#include "transform/payload.h"
#include "transform/test_util.h"

namespace pgcdc::transform {
namespace {

using fixtures::TestEvent;

// Applies `t` alone to a fresh event and returns the resulting payload.
std::string ApplyOne(Transform& t, const std::string& payload, std::string op = "UPDATE") {
  Event e = TestEvent(std::move(op), payload);
  auto v = t.Apply(e);
  EXPECT_TRUE(v) << v.error().message();
  EXPECT_EQ(*v, Verdict::kKeep);
  return e.payload;
}

Verdict VerdictOf(Transform& t, const std::string& payload, std::string op = "UPDATE") {
  Event e = TestEvent(std::move(op), payload);
  auto v = t.Apply(e);
  EXPECT_TRUE(v) << v.error().message();
  return v ? *v : Verdict::kKeep;
}

TEST(DropColumnsTest, EveryPayloadShape) {
  auto t = MakeDropColumns({"email", "amount", "missing"});
  EXPECT_EQ(ApplyOne(*t, fixtures::kWalUpdate),
            R"({"old":{"id":"1","status":"new"},"op":"UPDATE",)"
            R"("row":{"id":"1","status":"shipped"},"table":"orders"})");
  // Trigger format: the row images, not the top-level keys.
  EXPECT_EQ(ApplyOne(*t, fixtures::kTrigger),
            R"({"op":"UPDATE","table":"orders","row":{"id":1},"old":{"id":1}})");
  EXPECT_EQ(ApplyOne(*t, fixtures::kFreeForm), R"({"id":7,"nested":{"k":[1,2]}})");
  EXPECT_EQ(ApplyOne(*t, fixtures::kNonObject), fixtures::kNonObject);
  EXPECT_EQ(ApplyOne(*t, R"({"op":"TRUNCATE","table":"t","row":null,"old":null})", "TRUNCATE"),
            R"({"op":"TRUNCATE","table":"t","row":null,"old":null})");
  // Top-level keys of a structured payload are never touched.
  auto top = MakeDropColumns({"table", "op"});
  EXPECT_EQ(ApplyOne(*top, fixtures::kTrigger), fixtures::kTrigger);
}

TEST(RenameFieldsTest, EveryPayloadShape) {
  auto t = MakeRenameFields({{"email", "mail"}, {"id", "key"}});
  EXPECT_EQ(ApplyOne(*t, fixtures::kWalUpdate),
            R"({"old":{"key":"1","mail":"a@x.io","status":"new","amount":"12.50"},"op":"UPDATE",)"
            R"("row":{"key":"1","mail":"b@x.io","status":"shipped","amount":"12.50"},)"
            R"("table":"orders"})");
  EXPECT_EQ(ApplyOne(*t, fixtures::kTrigger),
            R"({"op":"UPDATE","table":"orders","row":{"key":1,"mail":"b@x.io","amount":12.50},)"
            R"("old":{"key":1,"mail":"a@x.io","amount":12.50}})");
  EXPECT_EQ(ApplyOne(*t, fixtures::kFreeForm), R"({"key":7,"mail":"c@x.io","nested":{"k":[1,2]}})");
  EXPECT_EQ(ApplyOne(*t, fixtures::kNonObject), fixtures::kNonObject);
  // Overwrites an existing target key; sequential semantics for chains of renames.
  auto chain = MakeRenameFields({{"a", "b"}, {"b", "c"}});
  EXPECT_EQ(ApplyOne(*chain, R"({"a":1,"b":2,"x":3})"), R"({"c":1,"x":3})");
}

TEST(MaskTest, ModesOnEveryPayloadShape) {
  auto t = MakeMask(
      {{"email", MaskMode::kHash}, {"status", MaskMode::kRedact}, {"amount", MaskMode::kPartial}});
  const std::string out = ApplyOne(*t, fixtures::kWalUpdate);
  // printf 'b@x.io' | sha256sum
  EXPECT_NE(
      out.find(R"("email":"da9a33894db95b4ef8d14624dff99d9843211cb5bc458ea25fa45ecf5c0f73a8")"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("status":"***REDACTED***")"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("amount":"1***0")"), std::string::npos) << out;
  EXPECT_EQ(out.find("b@x.io"), std::string::npos) << out;
  EXPECT_EQ(out.find("a@x.io"), std::string::npos) << out;

  const std::string trig = ApplyOne(*t, fixtures::kTrigger);
  EXPECT_NE(trig.find(R"("amount":"1***0")"), std::string::npos) << trig;  // 12.50 as written
  EXPECT_EQ(trig.find("@x.io"), std::string::npos) << trig;
  EXPECT_EQ(ApplyOne(*t, fixtures::kNonObject), fixtures::kNonObject);
  EXPECT_EQ(ApplyOne(*t, R"({"email":null,"status":true})"),
            R"({"email":null,"status":"***REDACTED***"})");
}

TEST(MaskTest, HashIsSha256HexOfSaltPlusText) {
  // printf 'hello' | sha256sum ; printf 'pepperhello' | sha256sum
  auto plain = MakeMask({{"v", MaskMode::kHash}});
  EXPECT_EQ(ApplyOne(*plain, R"({"v":"hello"})"),
            R"({"v":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"})");
  auto salted = MakeMask({{"v", MaskMode::kHash}}, "pepper");
  EXPECT_EQ(ApplyOne(*salted, R"({"v":"hello"})"),
            R"({"v":"711394d33945fda478f3c0c38d0211ccf58e1f50416321a305e09e6709d00564"})");
}

TEST(MaskTest, PartialCountsCharactersNotBytes) {
  auto t = MakeMask({{"v", MaskMode::kPartial}});
  EXPECT_EQ(ApplyOne(*t, R"({"v":"héllo"})"), R"({"v":"h***o"})");
  EXPECT_EQ(ApplyOne(*t, R"({"v":"ab"})"), R"({"v":"**"})");
  EXPECT_EQ(ApplyOne(*t, R"({"v":"日本語"})"), R"({"v":"日*語"})");
  EXPECT_EQ(ApplyOne(*t, R"({"v":12345})"), R"({"v":"1***5"})");
  EXPECT_FALSE(ParseMaskMode("zero"));
}

TEST(FilterTest, Operations) {
  auto f = MakeFilter({.operations = {"INSERT", "update"}});
  ASSERT_TRUE(f);
  EXPECT_EQ(VerdictOf(**f, fixtures::kWalUpdate, "UPDATE"), Verdict::kKeep);
  EXPECT_EQ(VerdictOf(**f, fixtures::kWalUpdate, "DELETE"), Verdict::kDrop);
  EXPECT_EQ(VerdictOf(**f, fixtures::kNonObject, "INSERT"), Verdict::kKeep);
}

TEST(FilterTest, FieldForms) {
  auto eq = MakeFilter({.field = "status", .equals = "shipped"});
  ASSERT_TRUE(eq);
  EXPECT_EQ(VerdictOf(**eq, fixtures::kWalUpdate), Verdict::kKeep);  // row image, not old
  auto in = MakeFilter({.field = "amount", .in = {"12.50", "3"}});
  ASSERT_TRUE(in);
  EXPECT_EQ(VerdictOf(**in, fixtures::kTrigger), Verdict::kKeep);   // number as written
  EXPECT_EQ(VerdictOf(**in, fixtures::kFreeForm), Verdict::kDrop);  // missing field
  auto id = MakeFilter({.field = "id", .equals = "7"});
  EXPECT_EQ(VerdictOf(**id, fixtures::kFreeForm), Verdict::kKeep);
  EXPECT_EQ(VerdictOf(**id, fixtures::kNonObject), Verdict::kDrop);
  EXPECT_EQ(VerdictOf(**id, R"({"op":"TRUNCATE","table":"t","row":null,"old":null})"),
            Verdict::kDrop);

  EXPECT_FALSE(MakeFilter({}));
  EXPECT_FALSE(MakeFilter({.operations = {"INSERT"}, .field = "x", .equals = "1"}));
  EXPECT_FALSE(MakeFilter({.field = "x"}));
  EXPECT_FALSE(MakeFilter({.field = "x", .in = {"1"}, .equals = "1"}));
}

uint64_t CelErrors() {
  return metrics::Default().AddCounter("pgcdc_cel_eval_errors_total", "").Get().Value();
}

TEST(CelFilterTest, EnvelopeRowAndPayloadVariables) {
  auto keep = [](std::string_view expr, const std::string& payload, std::string op = "UPDATE") {
    auto t = MakeCelFilter(expr);
    EXPECT_TRUE(t) << t.error().message();
    return VerdictOf(**t, payload, std::move(op)) == Verdict::kKeep;
  };
  EXPECT_TRUE(keep(R"(operation == "UPDATE" && channel == "pgcdc:orders")", fixtures::kWalUpdate));
  EXPECT_FALSE(keep(R"(operation == "INSERT")", fixtures::kWalUpdate));
  EXPECT_TRUE(keep(R"(row.status != old.status)", fixtures::kWalUpdate));
  EXPECT_TRUE(keep(R"(row.amount == 12.5 && table == "orders" && has_record)", fixtures::kTrigger));
  EXPECT_TRUE(keep(R"(payload.id == 7 && !has_record && table == "")", fixtures::kFreeForm));
  EXPECT_TRUE(keep(R"(source == "wal_replication" && id.size() == 36)", fixtures::kNonObject));
  EXPECT_TRUE(keep(R"(schema_name == "inventory")",
                   R"({"op":"INSERT","row":{"a":1},"schema":"inventory","table":"t"})"));
}

TEST(CelFilterTest, RuntimeErrorKeepsTheEventAndCounts) {
  auto t = MakeCelFilter("row.nope == 1");
  ASSERT_TRUE(t);
  const uint64_t before = CelErrors();
  EXPECT_EQ(VerdictOf(**t, fixtures::kWalUpdate), Verdict::kKeep);
  EXPECT_EQ(VerdictOf(**t, fixtures::kNonObject), Verdict::kKeep);
  EXPECT_EQ(CelErrors(), before + 2);
}

TEST(CelFilterTest, CompileErrorHasPositionAndCaret) {
  auto t = MakeCelFilter("row.x == 1 && rows.y");
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("1:15"), std::string::npos) << t.error().message();
  EXPECT_NE(t.error().message().find('^'), std::string::npos) << t.error().message();
  EXPECT_FALSE(MakeCelFilter("1 + 2"));  // not a bool
}

TEST(CelFilterTest, SeesEarlierEditsInTheChain) {
  auto cel = MakeCelFilter(R"(!has(row.email))");
  ASSERT_TRUE(cel);
  Chain chain({MakeDropColumns({"email"}), *cel});
  Event e = TestEvent("UPDATE", fixtures::kTrigger);
  EXPECT_EQ(*chain.Apply(e), Verdict::kKeep);
}

// A transform that records calls and returns a fixed result.
class Probe final : public Transform {
 public:
  explicit Probe(Result<Verdict> result) : result_(std::move(result)) {}
  std::string_view Type() const override { return "probe"; }
  Result<Verdict> ApplyTo(PayloadContext&) override {
    ++calls;
    return result_;
  }
  int calls = 0;

 private:
  Result<Verdict> result_;
};

TEST(ChainTest, StopsAtFirstDropOrError) {
  auto drop = std::make_shared<Probe>(Verdict::kDrop);
  auto after = std::make_shared<Probe>(Verdict::kKeep);
  Chain c1({MakeDropColumns({"email"}), drop, after});
  Event e = TestEvent("UPDATE", fixtures::kWalUpdate);
  EXPECT_EQ(*c1.Apply(e), Verdict::kDrop);
  EXPECT_EQ(drop->calls, 1);
  EXPECT_EQ(after->calls, 0);

  auto fail = std::make_shared<Probe>(Fail(ErrorCode::kInvalidArgument, "boom"));
  Chain c2({fail, after});
  auto r = c2.Apply(e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "transform probe: boom");
  EXPECT_EQ(after->calls, 0);
  EXPECT_EQ(c2.Types(), (std::vector<std::string>{"probe", "probe"}));
}

TEST(ChainTest, MalformedPayloadIsAnError) {
  Chain c({MakeDropColumns({"a"})});
  Event e = TestEvent("INSERT", R"({"a":)");
  auto r = c.Apply(e);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kParse);
}

TEST(ChainTest, EqualsSequentialApplication) {
  auto make = [] {
    return std::vector<TransformPtr>{
        MakeRenameFields({{"email", "mail"}}), MakeMask({{"mail", MaskMode::kRedact}}),
        MakeDropColumns({"amount"}), MakeDebezium({}), MakeDropColumns({"op"})};
  };
  for (const char* payload : {fixtures::kWalUpdate, fixtures::kTrigger, fixtures::kFreeForm}) {
    Event chained = TestEvent("UPDATE", payload);
    Event sequential = chained;
    ASSERT_EQ(*Chain(make()).Apply(chained), Verdict::kKeep);
    for (const auto& t : make()) ASSERT_EQ(*t->Apply(sequential), Verdict::kKeep);
    EXPECT_EQ(chained.payload, sequential.payload);
    EXPECT_EQ(chained.Json(), sequential.Json());
  }
}

TEST(ChainTest, PerAdapterCopyLeavesTheOriginalUntouched) {
  const Event original = TestEvent("UPDATE", fixtures::kTrigger, "pgcdc:orders", "listen_notify");
  const std::string& json = original.Json();  // cached before the copy, as in a shared batch
  Chain chain(
      {MakeDropColumns({"email"}), MakeMask({{"amount", MaskMode::kHash}}), MakeCloudEvents({})});
  Event copy = original;
  ASSERT_EQ(*chain.Apply(copy), Verdict::kKeep);
  EXPECT_NE(copy.Json(), json);
  EXPECT_EQ(copy.Json().find("b@x.io"), std::string::npos);
  EXPECT_EQ(original.payload, fixtures::kTrigger);
  EXPECT_EQ(original.Json(), json);
  EXPECT_NE(original.Json().find("b@x.io"), std::string::npos);
}

TEST(ChainTest, EmptyChainKeepsEverything) {
  Chain c;
  EXPECT_TRUE(c.empty());
  Event e = TestEvent("UPDATE", fixtures::kWalUpdate);
  EXPECT_EQ(*c.Apply(e), Verdict::kKeep);
  EXPECT_EQ(e.payload, fixtures::kWalUpdate);
}

}  // namespace
}  // namespace pgcdc::transform
