#include "tracing/tracer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <thread>

#include "config/config.h"
#include "core/mutex.h"
#include "pgcdc/otlp_trace.pb.h"

namespace pgcdc::tracing {
namespace {

using namespace std::chrono_literals;

SpanRecord Span(uint64_t id) {
  SpanRecord r;
  r.trace_id[15] = 1;
  r.span_id = id;
  r.start_ns = 1;
  r.end_ns = 2;
  r.channel.Assign("pgcdc:orders");
  r.operation.Assign("INSERT");
  return r;
}

TEST(SpanQueue, BoundedDropsWhatDoesNotFit) {
  SpanQueue q(3);
  uint64_t next = 1;
  EXPECT_EQ(q.Push(2,
                   [&](SpanRecord& r) {
                     r = Span(next++);
                     return true;
                   }),
            0u);
  // fill() may decline an item (an unsampled event): it takes no slot.
  EXPECT_EQ(q.Push(2, [&](SpanRecord& r) { return false; }), 0u);
  EXPECT_EQ(q.Push(3,
                   [&](SpanRecord& r) {
                     r = Span(next++);
                     return true;
                   }),
            2u);
  EXPECT_EQ(q.size(), 3u);
  std::vector<SpanRecord> out;
  EXPECT_EQ(q.PopUpTo(out, 2), 2u);
  EXPECT_EQ(out[0].span_id, 1u);
  EXPECT_EQ(out[1].span_id, 2u);
  EXPECT_EQ(q.PopUpTo(out, 10), 1u);
  EXPECT_EQ(out[2].span_id, 3u);
  EXPECT_EQ(q.size(), 0u);
}

TEST(FixedText, CutsLongValues) {
  FixedText<4> t;
  t.Assign("abcdef");
  EXPECT_EQ(t.view(), "abcd");
}

Settings Fast() {
  Settings s;
  s.exporter = "otlp";
  s.queue_size = 100;
  s.batch_size = 10;
  s.export_interval = 50ms;
  s.export_timeout = 1s;
  return s;
}

bool WaitFor(const std::function<bool()>& cond) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST(BatchProcessor, ExportsInBatchesOnItsThread) {
  Mutex mu;
  std::vector<size_t> sizes;
  std::thread::id export_thread;
  BatchProcessor p(Fast(), [&](std::span<const SpanRecord> spans) -> Status {
    MutexLock lock(mu);
    sizes.push_back(spans.size());
    export_thread = std::this_thread::get_id();
    return Ok();
  });
  uint64_t next = 1;
  p.CountDropped(p.queue().Push(25, [&](SpanRecord& r) {
    r = Span(next++);
    return true;
  }));
  p.Notify(p.queue().size());
  ASSERT_TRUE(WaitFor([&] { return p.exported() == 25; }));
  MutexLock lock(mu);
  for (size_t n : sizes) EXPECT_LE(n, 10u);
  EXPECT_NE(export_thread, std::this_thread::get_id());
  EXPECT_EQ(p.dropped(), 0u);
}

TEST(BatchProcessor, FailedExportsAndAFullQueueCountDrops) {
  std::atomic<int> calls{0};
  Settings s = Fast();
  s.queue_size = 5;
  BatchProcessor p(s, [&](std::span<const SpanRecord>) -> Status {
    ++calls;
    return Fail(ErrorCode::kConnection, "connection refused");
  });
  uint64_t next = 1;
  p.CountDropped(p.queue().Push(8, [&](SpanRecord& r) {
    r = Span(next++);
    return true;
  }));
  EXPECT_EQ(p.dropped(), 3u);                              // 3 did not fit
  ASSERT_TRUE(WaitFor([&] { return p.dropped() == 8; }));  // 5 failed to export
  EXPECT_GE(calls.load(), 1);
  EXPECT_EQ(p.exported(), 0u);
}

TEST(BatchProcessor, StopFlushesWhatIsQueued) {
  std::atomic<size_t> exported{0};
  Settings s = Fast();
  s.export_interval = 1h;  // only Stop() can export them
  s.batch_size = 1000;
  auto p = std::make_unique<BatchProcessor>(s, [&](std::span<const SpanRecord> spans) -> Status {
    exported += spans.size();
    return Ok();
  });
  uint64_t next = 1;
  p->queue().Push(7, [&](SpanRecord& r) {
    r = Span(next++);
    return true;
  });
  p->Stop();
  EXPECT_EQ(exported.load(), 7u);
}

TEST(Otlp, EncodesSpansWithParentsLinksAndAttributes) {
  SpanRecord detect = Span(0x1111);
  detect.name = SpanName::kDetect;
  detect.source.Assign("wal");
  detect.lsn = 42;
  detect.table.Assign("orders");
  SpanRecord deliver = Span(0x2222);
  deliver.name = SpanName::kDeliver;
  deliver.parent_span_id = 0x1111;
  deliver.adapter.Assign("webhook");
  deliver.error = true;
  deliver.status_message.Assign("HTTP 500");
  const std::vector<SpanRecord> spans = {detect, deliver};
  pgcdc_otlp::ExportTraceServiceRequest req;
  ASSERT_TRUE(req.ParseFromString(EncodeOtlp(spans, "svc")));
  ASSERT_EQ(req.resource_spans_size(), 1);
  const auto& rs = req.resource_spans(0);
  EXPECT_EQ(rs.resource().attributes(0).key(), "service.name");
  EXPECT_EQ(rs.resource().attributes(0).value().string_value(), "svc");
  const auto& ss = rs.scope_spans(0);
  ASSERT_EQ(ss.spans_size(), 2);
  const auto& d = ss.spans(0);
  EXPECT_EQ(d.name(), "pgcdc.detect");
  EXPECT_EQ(d.kind(), pgcdc_otlp::Span::SPAN_KIND_PRODUCER);
  EXPECT_EQ(d.trace_id().size(), 16u);
  EXPECT_EQ(d.span_id(), std::string("\0\0\0\0\0\0\x11\x11", 8));
  EXPECT_TRUE(d.parent_span_id().empty());
  std::map<std::string, std::string> attrs;
  for (const auto& kv : d.attributes()) {
    attrs[kv.key()] = kv.value().has_int_value() ? std::to_string(kv.value().int_value())
                                                 : kv.value().string_value();
  }
  EXPECT_EQ(attrs["pgcdc.channel"], "pgcdc:orders");
  EXPECT_EQ(attrs["pgcdc.operation"], "INSERT");
  EXPECT_EQ(attrs["pgcdc.source"], "wal");
  EXPECT_EQ(attrs["pgcdc.lsn"], "42");
  EXPECT_EQ(attrs["pgcdc.table"], "orders");
  EXPECT_EQ(attrs.count("pgcdc.event.id"), 1u);
  const auto& c = ss.spans(1);
  EXPECT_EQ(c.name(), "pgcdc.adapter.deliver");
  EXPECT_EQ(c.kind(), pgcdc_otlp::Span::SPAN_KIND_CONSUMER);
  EXPECT_EQ(c.parent_span_id(), d.span_id());
  ASSERT_EQ(c.links_size(), 1);
  EXPECT_EQ(c.links(0).span_id(), d.span_id());
  EXPECT_EQ(c.status().code(), pgcdc_otlp::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(c.status().message(), "HTTP 500");
}

TEST(Settings, UrlsAndHeaders) {
  EXPECT_EQ(TracesUrl("localhost:4318"), "http://localhost:4318/v1/traces");
  EXPECT_EQ(TracesUrl("https://c.example:443"), "https://c.example:443/v1/traces");
  EXPECT_EQ(TracesUrl("http://c:4318/"), "http://c:4318/v1/traces");
  EXPECT_EQ(TracesUrl("http://c:4318/custom/path"), "http://c:4318/custom/path");
  auto h = ParseHeaderList("api-key=secret, x-tenant = a%20b");
  ASSERT_TRUE(h);
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[0], (std::pair<std::string, std::string>{"api-key", "secret"}));
  EXPECT_EQ((*h)[1], (std::pair<std::string, std::string>{"x-tenant", "a b"}));
  EXPECT_FALSE(ParseHeaderList("novalue"));
  EXPECT_FALSE(ParseHeaderList("x=a%0d%0aInjected: 1"));
}

// A Getenv over `env`, which the test may change between lookups.
Getenv LookupIn(const std::map<std::string, std::string>& env) {
  return [&env](const std::string& k) -> std::optional<std::string> {
    auto it = env.find(k);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Settings, ConfigWinsOverTheOtelVariables) {
  std::map<std::string, std::string> env = {
      {"OTEL_TRACES_EXPORTER", "otlp"},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"},
      {"OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20t"},
      {"OTEL_SERVICE_NAME", "orders-cdc"},
      {"OTEL_TRACES_SAMPLER_ARG", "0.25"},
      {"OTEL_BSP_SCHEDULE_DELAY", "250"},
  };
  const Getenv getenv = LookupIn(env);
  config::Config cfg;
  auto s = SettingsFrom(cfg, getenv);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->exporter, "otlp");
  EXPECT_EQ(s->endpoint, "http://collector:4318/v1/traces");
  ASSERT_EQ(s->headers.size(), 1u);
  EXPECT_EQ(s->headers[0].second, "Bearer t");
  EXPECT_EQ(s->service_name, "orders-cdc");
  EXPECT_DOUBLE_EQ(s->sample_ratio, 0.25);
  EXPECT_EQ(s->export_interval, 250ms);

  env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://traces:9999/x";
  s = SettingsFrom(cfg, getenv);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->endpoint, "http://traces:9999/x");

  cfg.Set("otel.exporter", std::string("stdout"), config::Origin::kFlag);
  cfg.Set("otel.endpoint", std::string("127.0.0.1:4318"), config::Origin::kFlag);
  cfg.Set("otel.sample_ratio", std::string("0.01"), config::Origin::kYaml);
  s = SettingsFrom(cfg, getenv);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->exporter, "stdout");
  EXPECT_EQ(s->endpoint, "http://127.0.0.1:4318/v1/traces");
  EXPECT_DOUBLE_EQ(s->sample_ratio, 0.01);

  cfg.Set("otel.sample_ratio", std::string("2"), config::Origin::kFlag);
  s = SettingsFrom(cfg, getenv);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("otel.sample_ratio"), std::string::npos);
}

TEST(Settings, GrpcProtocolFromConfigOrVariables) {
  std::map<std::string, std::string> env = {{"OTEL_TRACES_EXPORTER", "otlp"},
                                            {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}};
  const Getenv getenv = LookupIn(env);
  config::Config cfg;
  auto s = SettingsFrom(cfg, getenv);
#ifdef PGCDC_HAVE_OTLP_GRPC
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->protocol, "grpc");
  EXPECT_EQ(s->endpoint, "http://localhost:4317");  // gRPC's default port, no path
  env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "https://collector:4317/";
  s = SettingsFrom(cfg, getenv);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->endpoint, "https://collector:4317");
  cfg.Set("otel.endpoint", std::string("10.0.0.5:14317"), config::Origin::kFlag);
  s = SettingsFrom(cfg, getenv);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->endpoint, "http://10.0.0.5:14317");
  cfg.Set("otel.protocol", std::string("http/protobuf"), config::Origin::kFlag);
  s = SettingsFrom(cfg, getenv);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->endpoint, "http://10.0.0.5:14317/v1/traces");  // the flag wins over the env
#else
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("PGCDC_WITH_OTLP_GRPC=OFF"), std::string::npos);
#endif
  env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/json";
  s = SettingsFrom(config::Config{}, getenv);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("OTEL_EXPORTER_OTLP_PROTOCOL"), std::string::npos);
}

TEST(Settings, OffByDefault) {
  auto s = SettingsFrom(config::Config{}, [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->enabled());
}

}  // namespace
}  // namespace pgcdc::tracing
