#include "core/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"
#include "core/scope.h"

namespace pgcdc::metrics {
namespace {

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(MetricsTest, FreshLabelLessFamiliesShowZero) {
  Registry r;
  r.AddCounter("pgcdc_events_received_total", "Events received.");
  r.AddGauge("pgcdc_lag_bytes", "Replication lag.");
  r.AddCounter("pgcdc_errors_total", "Errors by kind.", {"kind"});
  EXPECT_EQ(r.Expose(),
            "# HELP pgcdc_errors_total Errors by kind.\n"
            "# TYPE pgcdc_errors_total counter\n"
            "# HELP pgcdc_events_received_total Events received.\n"
            "# TYPE pgcdc_events_received_total counter\n"
            "pgcdc_events_received_total 0\n"
            "# HELP pgcdc_lag_bytes Replication lag.\n"
            "# TYPE pgcdc_lag_bytes gauge\n"
            "pgcdc_lag_bytes 0\n");
}

TEST(MetricsTest, SeriesMadeInAPipelineScopeCarryItsLabel) {
  Registry r;
  auto& c = r.AddCounter("x_delivered_total", "Delivered.", {"adapter"});
  auto& u = r.AddCounter("x_events_total", "Events.");
  auto& own = r.AddGauge("x_state", "State.", {"pipeline"});
  c.With({"stdout"}).Inc();
  {
    scope::Enter in(scope::Make("a"));
    c.With({"stdout"}).Inc(2);
    u.Get().Inc(3);
    own.With({"b"}).Set(1);  // the family's own label wins
    std::thread(scope::Bind([&] { c.With({"stdout"}).Inc(4); })).join();
  }
  {
    scope::Enter in(scope::Make("b\"q"));
    c.With({"stdout"}).Inc(5);
  }
  EXPECT_EQ(r.Expose(),
            "# HELP x_delivered_total Delivered.\n"
            "# TYPE x_delivered_total counter\n"
            "x_delivered_total{adapter=\"stdout\"} 1\n"
            "x_delivered_total{pipeline=\"a\",adapter=\"stdout\"} 6\n"
            "x_delivered_total{pipeline=\"b\\\"q\",adapter=\"stdout\"} 5\n"
            "# HELP x_events_total Events.\n"
            "# TYPE x_events_total counter\n"
            "x_events_total{pipeline=\"a\"} 3\n"
            "# HELP x_state State.\n"
            "# TYPE x_state gauge\n"
            "x_state{pipeline=\"b\"} 1\n");
}

struct ScopedSeriesProbe {
  Counter& events = DefaultCounter("pgcdc_test_scoped_probe_total", "Probe.");
};

TEST(MetricsTest, LazySeriesArePerPipeline) {
  ScopedSeriesProbe& plain = Lazy<ScopedSeriesProbe>();
  ScopedSeriesProbe* a = nullptr;
  ScopedSeriesProbe* a_again = nullptr;
  ScopedSeriesProbe* b = nullptr;
  {
    scope::Enter in(scope::Make("pa"));
    a = &Lazy<ScopedSeriesProbe>();
    a->events.Inc();
  }
  {
    scope::Enter in(scope::Make("pb"));
    b = &Lazy<ScopedSeriesProbe>();
    b->events.Inc(2);
  }
  {
    // A restarted pipeline (a new scope with the same name) keeps its series.
    scope::Enter in(scope::Make("pa"));
    a_again = &Lazy<ScopedSeriesProbe>();
  }
  EXPECT_EQ(&Lazy<ScopedSeriesProbe>(), &plain);
  EXPECT_NE(a, &plain);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, a_again);
  EXPECT_EQ(&a->events, &a_again->events);
  const std::string out = Default().Expose();
  EXPECT_TRUE(Contains(out, "pgcdc_test_scoped_probe_total{pipeline=\"pa\"} 1\n")) << out;
  EXPECT_TRUE(Contains(out, "pgcdc_test_scoped_probe_total{pipeline=\"pb\"} 2\n")) << out;
}

TEST(MetricsTest, CountersAndGaugesWithLabelsSorted) {
  Registry r;
  auto& c = r.AddCounter("x_events_total", "Events.", {"adapter", "op"});
  c.With({"stdout", "insert"}).Inc(3);
  c.With({"kafka", "update"}).Inc();
  c.With({"kafka", "delete"}).Inc(2);
  auto& g = r.AddGauge("x_temperature", "Temp.");
  g.Get().Set(-1.5);
  g.Get().Add(0.25);
  EXPECT_DOUBLE_EQ(g.Get().Value(), -1.25);
  EXPECT_EQ(r.Expose(),
            "# HELP x_events_total Events.\n"
            "# TYPE x_events_total counter\n"
            "x_events_total{adapter=\"kafka\",op=\"delete\"} 2\n"
            "x_events_total{adapter=\"kafka\",op=\"update\"} 1\n"
            "x_events_total{adapter=\"stdout\",op=\"insert\"} 3\n"
            "# HELP x_temperature Temp.\n"
            "# TYPE x_temperature gauge\n"
            "x_temperature -1.25\n");
}

TEST(MetricsTest, ChildrenHaveStableAddresses) {
  Registry r;
  auto& c = r.AddCounter("x_total", "X.", {"k"});
  Counter* first = &c.With({"a"});
  for (int i = 0; i < 1000; ++i) c.With({std::to_string(i)});
  EXPECT_EQ(first, &c.With({"a"}));
}

TEST(MetricsTest, SameNameSameShapeReturnsSameFamily) {
  Registry r;
  auto& a = r.AddCounter("x_total", "X.", {"k"});
  auto& b = r.AddCounter("x_total", "X again.", {"k"});
  EXPECT_EQ(&a, &b);
  a.With({"v"}).Inc();
  EXPECT_EQ(b.With({"v"}).Value(), 1u);
}

TEST(MetricsTest, ConflictingRegistrationIsDetached) {
  Registry r;
  log::Configure(log::Level::kOff, log::Format::kText);  // silence the misuse report
  auto& a = r.AddCounter("x_total", "X.", {"k"});
  auto& b = r.AddGauge("x_total", "X as gauge.");
  b.Get().Set(5);  // usable, but not exposed
  a.With({"v"}).Inc();
  log::Configure(log::Level::kInfo, log::Format::kText);
  const std::string out = r.Expose();
  EXPECT_TRUE(Contains(out, "# TYPE x_total counter\n"));
  EXPECT_FALSE(Contains(out, "gauge"));
}

TEST(MetricsTest, WrongLabelCountDoesNotCrash) {
  Registry r;
  log::Configure(log::Level::kOff, log::Format::kText);
  auto& c = r.AddCounter("x_total", "X.", {"a", "b"});
  c.With({"only"}).Inc();
  c.With({"1", "2", "3"}).Inc();
  log::Configure(log::Level::kInfo, log::Format::kText);
  const std::string out = r.Expose();
  EXPECT_TRUE(Contains(out, "x_total{a=\"only\",b=\"\"} 1\n")) << out;
  EXPECT_TRUE(Contains(out, "x_total{a=\"1\",b=\"2\"} 1\n")) << out;
}

TEST(MetricsTest, EscapesHelpAndLabelValues) {
  Registry r;
  auto& c = r.AddCounter("x_total", "Line one\nback\\slash \"quotes\" stay.", {"v"});
  c.With({"a\"b\\c\nd"}).Inc();
  EXPECT_EQ(r.Expose(),
            "# HELP x_total Line one\\nback\\\\slash \"quotes\" stay.\n"
            "# TYPE x_total counter\n"
            "x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsTest, FloatFormatting) {
  Registry r;
  auto& g = r.AddGauge("x_value", "V.", {"k"});
  g.With({"a_int"}).Set(42);
  g.With({"b_frac"}).Set(0.1);
  g.With({"c_pinf"}).Set(std::numeric_limits<double>::infinity());
  g.With({"d_ninf"}).Set(-std::numeric_limits<double>::infinity());
  g.With({"e_nan"}).Set(std::nan(""));
  g.With({"f_big"}).Set(1e21);
  g.With({"g_third"}).Set(1.0 / 3.0);
  const std::string out = r.Expose();
  EXPECT_TRUE(Contains(out, "x_value{k=\"a_int\"} 42\n")) << out;
  EXPECT_TRUE(Contains(out, "x_value{k=\"b_frac\"} 0.1\n")) << out;
  EXPECT_TRUE(Contains(out, "x_value{k=\"c_pinf\"} +Inf\n")) << out;
  EXPECT_TRUE(Contains(out, "x_value{k=\"d_ninf\"} -Inf\n")) << out;
  EXPECT_TRUE(Contains(out, "x_value{k=\"e_nan\"} NaN\n")) << out;
  EXPECT_TRUE(Contains(out, "x_value{k=\"f_big\"} 1e+21\n")) << out;
  EXPECT_TRUE(Contains(out, "x_value{k=\"g_third\"} 0.3333333333333333\n")) << out;
}

TEST(MetricsTest, HistogramCumulativeBuckets) {
  Registry r;
  // Unsorted, duplicated and +Inf bounds are normalised.
  auto& h = r.AddHistogram("x_latency_seconds", "Latency.",
                           {1, 0.1, 0.5, 0.1, std::numeric_limits<double>::infinity()}, {"op"});
  auto& child = h.With({"read"});
  EXPECT_EQ(child.Bounds(), (std::vector<double>{0.1, 0.5, 1}));
  child.Observe(0.05);
  child.Observe(0.1);  // le is inclusive
  child.Observe(0.7);
  child.Observe(3);
  EXPECT_EQ(child.CumulativeCounts(), (std::vector<uint64_t>{2, 2, 3, 4}));
  EXPECT_EQ(child.Count(), 4u);
  EXPECT_DOUBLE_EQ(child.Sum(), 3.85);
  EXPECT_EQ(r.Expose(),
            "# HELP x_latency_seconds Latency.\n"
            "# TYPE x_latency_seconds histogram\n"
            "x_latency_seconds_bucket{op=\"read\",le=\"0.1\"} 2\n"
            "x_latency_seconds_bucket{op=\"read\",le=\"0.5\"} 2\n"
            "x_latency_seconds_bucket{op=\"read\",le=\"1\"} 3\n"
            "x_latency_seconds_bucket{op=\"read\",le=\"+Inf\"} 4\n"
            "x_latency_seconds_sum{op=\"read\"} 3.85\n"
            "x_latency_seconds_count{op=\"read\"} 4\n");
}

TEST(MetricsTest, LabelLessHistogramShowsZeroChild) {
  Registry r;
  r.AddHistogram("x_seconds", "S.", {0.5});
  EXPECT_EQ(r.Expose(),
            "# HELP x_seconds S.\n"
            "# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"0.5\"} 0\n"
            "x_seconds_bucket{le=\"+Inf\"} 0\n"
            "x_seconds_sum 0\n"
            "x_seconds_count 0\n");
}

TEST(MetricsTest, DefaultBucketsAreSorted) {
  const auto b = DefaultBuckets();
  ASSERT_FALSE(b.empty());
  EXPECT_DOUBLE_EQ(b.front(), 0.005);
  EXPECT_DOUBLE_EQ(b.back(), 10);
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
}

TEST(MetricsTest, ProcessMetrics) {
  Registry r;
  r.AddCounter("a_total", "A.");
  r.AddCounter("z_total", "Z.");
  EXPECT_FALSE(Contains(r.Expose(), "process_"));
  r.EnableProcessMetrics();
  const std::string out = r.Expose();
  EXPECT_TRUE(Contains(out, "# TYPE process_cpu_seconds_total counter\n")) << out;
  EXPECT_TRUE(Contains(out, "# TYPE process_resident_memory_bytes gauge\n")) << out;
  EXPECT_TRUE(Contains(out, "# TYPE process_open_fds gauge\n")) << out;
  EXPECT_TRUE(Contains(out, "# TYPE process_start_time_seconds gauge\n")) << out;
  // Sorted among the registered families.
  EXPECT_LT(out.find("a_total"), out.find("process_"));
  EXPECT_LT(out.find("process_virtual_memory_bytes"), out.find("z_total"));
  // Start time is a plausible Unix timestamp (after 2020).
  const size_t pos = out.find("\nprocess_start_time_seconds ");
  ASSERT_NE(pos, std::string::npos);
  const double start = std::strtod(out.c_str() + pos + 28, nullptr);
  EXPECT_GT(start, 1.5e9);
}

TEST(MetricsTest, DefaultRegistryIsSingletonWithProcessMetrics) {
  EXPECT_EQ(&Default(), &Default());
  EXPECT_TRUE(Contains(Default().Expose(), "process_resident_memory_bytes"));
}

TEST(MetricsTest, ConcurrentIncrementsAndChildCreation) {
  Registry r;
  auto& c = r.AddCounter("x_total", "X.", {"k"});
  auto& h = r.AddHistogram("x_seconds", "S.", DefaultBuckets());
  auto& g = r.AddGauge("x_gauge", "G.");
  constexpr int kThreads = 8;
  constexpr int kIters = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        c.With({"shared"}).Inc();
        if (i % 100 == 0) c.With({"t" + std::to_string(t) + "_" + std::to_string(i)}).Inc();
        h.Get().Observe(0.001 * (i % 50));
        g.Get().Add(1);
        if (i % 1000 == 0) (void)r.Expose();  // scrapes race with updates
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(c.With({"shared"}).Value(), uint64_t{kThreads} * kIters);
  EXPECT_EQ(h.Get().Count(), uint64_t{kThreads} * kIters);
  EXPECT_DOUBLE_EQ(g.Get().Value(), double{kThreads} * kIters);
  const std::string out = r.Expose();
  size_t children = 0;
  for (size_t p = out.find("x_total{k=\"t"); p != std::string::npos;
       p = out.find("x_total{k=\"t", p + 1)) {
    ++children;
  }
  EXPECT_EQ(children, size_t{kThreads} * (kIters / 100));
}

// Runs `promtool check metrics` on the exposition; skipped when promtool is
// not installed.
TEST(MetricsTest, PromtoolAcceptsExposition) {
  const char* promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) != 0) GTEST_SKIP() << "promtool not installed";

  Registry r;
  r.EnableProcessMetrics();
  r.AddCounter("pgcdc_events_received_total", "Events received from the detector.");
  auto& c = r.AddCounter("pgcdc_events_delivered_total", "Events delivered, by adapter.",
                         {"adapter", "channel"});
  c.With({"stdout", "orders"}).Inc(7);
  c.With({"web\"hook", "a\\b\nc"}).Inc();
  c.With({"", "unicode ✓"}).Inc(2);
  r.AddCounter("pgcdc_errors_total", "Errors by kind.", {"kind"});  // no children yet
  auto& g = r.AddGauge("pgcdc_queue_depth", "Help with a backslash \\ and\nnewline.", {"queue"});
  g.With({"bus"}).Set(12.5);
  g.With({"dlq"}).Set(std::numeric_limits<double>::infinity());
  g.With({"nan"}).Set(std::nan(""));
  r.AddGauge("pgcdc_up", "Whether the pipeline runs.").Get().Set(1);
  auto& h = r.AddHistogram("pgcdc_delivery_duration_seconds", "Delivery latency.", DefaultBuckets(),
                           {"adapter"});
  h.With({"stdout"}).Observe(0.003);
  h.With({"stdout"}).Observe(0.2);
  h.With({"kafka"}).Observe(42);
  r.AddHistogram("pgcdc_flush_duration_seconds", "Flush latency.", {0.1, 1});

  const std::string text = r.Expose();
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::filesystem::path file =
      dir / ("pgcdc_metrics_test_" + std::to_string(getpid()) + ".prom");
  {
    std::ofstream f(file);
    f << text;
  }
  const std::string cmd = std::string(promtool) + " check metrics < '" + file.string() + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  std::array<char, 512> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) output.append(buf.data(), n);
  const int status = pclose(p);
  std::filesystem::remove(file);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output << "\n--- exposition ---\n" << text;
  EXPECT_EQ(output, "") << "\n--- exposition ---\n" << text;
}

}  // namespace
}  // namespace pgcdc::metrics
