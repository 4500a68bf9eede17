#include "core/trace_context.h"

#include <gtest/gtest.h>

#include "core/event.h"
#include "core/uuid.h"

namespace pgcdc::trace {
namespace {

constexpr std::string_view kGood = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(Traceparent, ParsesTheSpecExample) {
  auto p = ParseTraceparent(kGood);
  ASSERT_TRUE(p);
  EXPECT_EQ(TraceIdHex(p->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(SpanIdHex(p->span_id), "00f067aa0ba902b7");
  EXPECT_EQ(p->flags, 1);
  EXPECT_EQ(FormatTraceparent(p->trace_id, p->span_id, p->flags), kGood);
  // Surrounding blanks from header parsing are fine.
  EXPECT_TRUE(ParseTraceparent(std::string(" ") + std::string(kGood) + "\t"));
}

TEST(Traceparent, BadHeadersAreIgnored) {
  for (std::string_view bad : {
           "", "garbage",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",     // short
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 with extra
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero span id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // forbidden version
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // separator
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",    // non-hex
       }) {
    EXPECT_FALSE(ParseTraceparent(bad)) << bad;
  }
  // A later version may append fields after a dash.
  EXPECT_TRUE(ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-abc"));
  EXPECT_FALSE(ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01abc"));
}

TEST(Traceparent, FormatsOnlyTheSampledFlag) {
  TraceId id{};
  id[15] = 1;
  EXPECT_EQ(FormatTraceparent(id, 0xABCDEF, 0xFF),
            "00-00000000000000000000000000000001-0000000000abcdef-01");
  EXPECT_EQ(FormatTraceparent(id, 1, 0), "00-00000000000000000000000000000001-0000000000000001-00");
}

TEST(Tracestate, Validation) {
  EXPECT_TRUE(ValidTracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
  EXPECT_FALSE(ValidTracestate(""));
  EXPECT_FALSE(ValidTracestate("a=b\r\nX-Injected: 1"));
  EXPECT_FALSE(ValidTracestate(std::string(513, 'a')));
}

TEST(DeliverSpanId, DerivedPerAdapterAndNeverZero) {
  EXPECT_EQ(DeliverSpanId(42, "webhook"), DeliverSpanId(42, "webhook"));
  EXPECT_NE(DeliverSpanId(42, "webhook"), DeliverSpanId(42, "kafka"));
  EXPECT_NE(DeliverSpanId(42, "webhook"), DeliverSpanId(43, "webhook"));
  EXPECT_NE(DeliverSpanId(42, "webhook"), 42u);
}

// The process-wide state: restores "off" after each test.
class ContextTest : public ::testing::Test {
 protected:
  void TearDown() override { Configure(false, 1.0); }
};

TEST_F(ContextTest, OffMeansNoContextAndNoHeader) {
  Configure(false, 1.0);
  const Event e = MakeEvent("pgcdc:t", "INSERT", "{}", "wal");
  EXPECT_FALSE(ContextOf(e).valid());
  char tp[kTraceparentSize];
  EXPECT_FALSE(DeliveryTraceparent(e, "webhook", tp));
}

TEST_F(ContextTest, DerivedFromTheEventAndStable) {
  Configure(true, 1.0);
  const Event e = MakeEvent("pgcdc:t", "INSERT", "{}", "wal");
  const TraceContext a = ContextOf(e);
  ASSERT_TRUE(a.valid());
  EXPECT_TRUE(a.sampled());
  EXPECT_EQ(a.parent_span_id, 0u);
  const TraceContext b = ContextOf(Event(e));  // a copy (adapter transforms) agrees
  EXPECT_EQ(a.trace_id, b.trace_id);
  EXPECT_EQ(a.span_id, b.span_id);
  const TraceContext other = ContextOf(MakeEvent("pgcdc:t", "INSERT", "{}", "wal"));
  EXPECT_NE(a.trace_id, other.trace_id);
  char tp[kTraceparentSize];
  ASSERT_TRUE(DeliveryTraceparent(e, "webhook", tp));
  const auto parsed = ParseTraceparent(std::string_view(tp, kTraceparentSize));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->trace_id, a.trace_id);
  EXPECT_EQ(parsed->span_id, DeliverSpanId(a.span_id, "webhook"));
  EXPECT_EQ(parsed->flags, 1);
}

TEST_F(ContextTest, RatioSamplerKeepsAboutThatShare) {
  for (double ratio : {0.0, 0.01, 0.5}) {
    Configure(true, ratio);
    int sampled = 0;
    constexpr int kEvents = 20000;
    for (int i = 0; i < kEvents; ++i) {
      if (ContextOf(MakeEvent("c", "INSERT", "{}", "wal")).sampled()) ++sampled;
    }
    const double share = static_cast<double>(sampled) / kEvents;
    EXPECT_NEAR(share, ratio, ratio == 0 ? 0 : ratio * 0.3 + 0.003) << ratio;
  }
}

TEST_F(ContextTest, RemoteParentIsContinuedWithItsDecision) {
  Configure(true, 0.0);  // roots would never be sampled
  const Event e = MakeEvent("c", "INSERT", "{}", "webhook_gateway");
  auto parent = ParseTraceparent(kGood);
  ASSERT_TRUE(parent);
  RememberRemoteParent(e.id, *parent, "congo=t61rcWkgMzE");
  const TraceContext ctx = ContextOf(e);
  EXPECT_EQ(ctx.trace_id, parent->trace_id);
  EXPECT_EQ(ctx.parent_span_id, parent->span_id);
  EXPECT_TRUE(ctx.sampled());  // parent-based: the caller sampled it
  EXPECT_EQ(TracestateOf(e), "congo=t61rcWkgMzE");
  // A tracestate that could inject headers is not kept.
  const Event f = MakeEvent("c", "INSERT", "{}", "webhook_gateway");
  RememberRemoteParent(f.id, *parent, "a=b\nX: y");
  EXPECT_EQ(TracestateOf(f), "");
}

TEST(CurrentSpan, ScopedAndNested) {
  EXPECT_EQ(Current(), nullptr);
  TraceId id{};
  id[0] = 7;
  {
    ScopedSpan outer(id, 1, true);
    ASSERT_NE(Current(), nullptr);
    EXPECT_EQ(Current()->span_id, 1u);
    {
      ScopedSpan inner(id, 2, true);
      EXPECT_EQ(Current()->span_id, 2u);
      ScopedSpan unsampled(id, 3, false);
      EXPECT_EQ(Current()->span_id, 2u);
    }
    EXPECT_EQ(Current()->span_id, 1u);
  }
  EXPECT_EQ(Current(), nullptr);
}

}  // namespace
}  // namespace pgcdc::trace
