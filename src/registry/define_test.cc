#include "registry/define.h"

#include <gtest/gtest.h>

#include "registry/test_util.h"

namespace pgcdc {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Retry {
  milliseconds base{1000};
  milliseconds cap{30000};
};

struct Sample {
  std::string url;
  std::string mode = "fast";
  int64_t size = 42;
  uint32_t small = 7;
  bool on = true;
  seconds timeout{10};
  std::vector<std::string> tags = {"a", "b"};
  std::optional<int64_t> limit;
  Retry retry;
};

std::vector<ParamSpec> SampleParams() {
  using S = Sample;
  return Params({
      {Param("s.url", &S::url, "url", {.required = false}),
       Param("s.mode", &S::mode, "mode", {.choices = {"fast", "slow"}}),
       Param("s.size", &S::size, "size", {.min = 1}), Param("s.small", &S::small, "small"),
       Param("s.on", &S::on, "on"), Param("s.timeout", &S::timeout, "timeout"),
       Param("s.tags", &S::tags, "tags"), Param("s.limit", &S::limit, "limit")},
      BackoffParams<S>("s", "s", &S::retry, "retry"),
  });
}

TEST(DefineTest, TypesAndDefaultsComeFromTheStruct) {
  auto params = SampleParams();
  ASSERT_EQ(params.size(), 10u);
  auto find = [&](const std::string& key) {
    for (const auto& p : params) {
      if (p.key == key) return p;
    }
    ADD_FAILURE() << key;
    return ParamSpec{};
  };
  EXPECT_EQ(find("s.url").type, ParamType::kString);
  EXPECT_EQ(find("s.url").default_value, "");
  EXPECT_EQ(find("s.mode").default_value, "fast");
  EXPECT_EQ(find("s.size").type, ParamType::kInt);
  EXPECT_EQ(find("s.size").default_value, "42");
  EXPECT_EQ(find("s.small").default_value, "7");
  EXPECT_EQ(find("s.on").type, ParamType::kBool);
  EXPECT_EQ(find("s.on").default_value, "true");
  EXPECT_EQ(find("s.timeout").type, ParamType::kDuration);
  EXPECT_EQ(find("s.timeout").default_value, "10s");
  EXPECT_EQ(find("s.tags").type, ParamType::kStringList);
  EXPECT_EQ(find("s.tags").default_value, "a,b");
  EXPECT_EQ(find("s.limit").type, ParamType::kInt);
  EXPECT_EQ(find("s.limit").default_value, "");
  EXPECT_EQ(find("s.backoff_base").default_value, "1s");
  EXPECT_EQ(FlagName(find("s.backoff_cap")), "--s-backoff-cap");
}

TEST(DefineTest, BindingFillsTheStructFromLayeredValues) {
  config::Sources src;
  src.getenv = [](const std::string&) { return std::nullopt; };
  src.flags = {{"s.url", {"http://x"}},    {"s.size", {"9"}},     {"s.on", {"false"}},
               {"s.timeout", {"1m30s"}},   {"s.tags", {"x,y,z"}}, {"s.limit", {"3"}},
               {"s.backoff_cap", {"45s"}}, {"s.small", {"11"}}};
  auto r = config::Load(SampleParams(), src);
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  const Sample s = BindConfig<Sample>(SampleParams(), r.config);
  EXPECT_EQ(s.url, "http://x");
  EXPECT_EQ(s.mode, "fast");
  EXPECT_EQ(s.size, 9);
  EXPECT_EQ(s.small, 11u);
  EXPECT_FALSE(s.on);
  EXPECT_EQ(s.timeout, seconds(90));
  EXPECT_EQ(s.tags, (std::vector<std::string>{"x", "y", "z"}));
  ASSERT_TRUE(s.limit);
  EXPECT_EQ(*s.limit, 3);
  EXPECT_EQ(s.retry.base, milliseconds(1000));
  EXPECT_EQ(s.retry.cap, milliseconds(45000));

  std::vector<std::string> errors;
  ValidateBackoff("s", Retry{milliseconds(5), milliseconds(1)}, errors);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "s.backoff_cap: must be >= s.backoff_base");
}

TEST(DefineTest, DefaultsRoundTripWhenNothingIsSet) {
  config::Sources src;
  src.getenv = [](const std::string&) { return std::nullopt; };
  auto r = config::Load(SampleParams(), src);
  ASSERT_TRUE(r.errors.empty()) << r.errors[0];
  const Sample s = BindConfig<Sample>(SampleParams(), r.config);
  const Sample d;
  EXPECT_EQ(s.mode, d.mode);
  EXPECT_EQ(s.size, d.size);
  EXPECT_EQ(s.on, d.on);
  EXPECT_EQ(s.timeout, d.timeout);
  EXPECT_EQ(s.tags, d.tags);
  EXPECT_FALSE(s.limit);
}

enum class Mode { kA, kB };
struct WithEnum {
  Mode mode = Mode::kB;
};

TEST(DefineTest, EnumsBindByName) {
  const std::vector<ParamSpec> params = {
      ParamEnum("e.mode", &WithEnum::mode, {{"a", Mode::kA}, {"b", Mode::kB}}, "mode")};
  EXPECT_EQ(params[0].default_value, "b");
  EXPECT_EQ(params[0].choices, (std::vector<std::string>{"a", "b"}));
  config::Sources src;
  src.getenv = [](const std::string&) { return std::nullopt; };
  src.flags = {{"e.mode", {"a"}}};
  auto r = config::Load(params, src);
  ASSERT_TRUE(r.errors.empty());
  EXPECT_EQ(BindConfig<WithEnum>(params, r.config).mode, Mode::kA);
  src.flags = {{"e.mode", {"c"}}};
  EXPECT_EQ(config::Load(params, src).errors.size(), 1u);  // choices are enforced
}

// A trivial sink declared the way every connector is, in a test: the whole
// contract (declare, validate, make) without touching any other file.
class CountingSink : public adapter::Adapter {
 public:
  explicit CountingSink(int64_t* count) : count_(count) {}
  std::string_view Name() const override { return "null"; }
  Status Deliver(std::span<const Event* const> events) override {
    *count_ += static_cast<int64_t>(events.size());
    return Ok();
  }

 private:
  int64_t* count_;
};

struct NullConfig {
  int64_t every = 1000;
};

TEST(DefineTest, ATrivialAdapterNeedsOnlyItsDeclaration) {
  int64_t delivered = 0;
  ConnectorInfo info = DefineAdapter<NullConfig>({
      .name = "null",
      .description = "counts events",
      .params = {Param("null.every", &NullConfig::every, "log every N", {.min = 1})},
      .validate =
          [](const NullConfig& c, const Context&, Errors& errors) {
            if (c.every > 1'000'000) errors.push_back("null.every: too large");
          },
      .make = [&delivered](NullConfig, const Context&) -> Result<adapter::AdapterPtr> {
        return std::make_unique<CountingSink>(&delivered);
      },
  });
  auto cfg = testing::LoadConnectorConfig(info, {{"null.every", {"2000000"}}});
  auto errors = testing::Validate(info, cfg);
  ASSERT_EQ(errors.size(), 1u);
  cfg = testing::LoadConnectorConfig(info, {});
  EXPECT_TRUE(testing::Validate(info, cfg).empty());
  auto sink = info.make_adapter(cfg.values, cfg.core);
  ASSERT_TRUE(sink);
  Event e;
  const Event* batch[] = {&e, &e};
  ASSERT_TRUE((*sink)->Deliver(batch));
  EXPECT_EQ(delivered, 2);
  Registry r;
  ASSERT_TRUE(r.Add(std::move(info)));
  EXPECT_NE(r.Find(ConnectorKind::kAdapter, "null"), nullptr);
}

TEST(RegistryTest, SharedKeysMustBeDeclaredAlike) {
  Registry r;
  ConnectorInfo a{.kind = ConnectorKind::kDetector, .name = "a"};
  a.params = {
      {.key = "detector.backoff_base", .type = ParamType::kDuration, .default_value = "5s"}};
  ConnectorInfo b = a;
  b.name = "b";
  ConnectorInfo c = a;
  c.name = "c";
  c.params[0].default_value = "1s";
  ASSERT_TRUE(r.Add(a));
  EXPECT_TRUE(r.Add(b));
  auto st = r.Add(c);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("detector.backoff_base"), std::string::npos);
  EXPECT_FALSE(r.Add(a));  // duplicate name
}

}  // namespace
}  // namespace pgcdc
