// User journey: trace events through pgcdc with OpenTelemetry (docs/tracing.md).
// The collector is a FAKE (tests/tools/fake_otlp.js: no OpenTelemetry
// collector is available here) that decodes the OTLP/HTTP protobuf requests
// with the OpenTelemetry JS project's own generated code.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <set>

#include "harness.h"
#include "http_receiver.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

std::string ToolsDir() {
  const char* src = std::getenv("PGCDC_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/tools";
}

class FakeCollector {
 public:
  FakeCollector() {
    proc_ = Process::Start({.args = {ToolsDir() + "/fake_otlp.js"}, .binary = "/usr/bin/node"});
    if (!proc_ || !proc_->WaitForLines(1)) {
      ADD_FAILURE() << "fake_otlp did not start: " << (proc_ ? proc_->Stderr() : "");
      return;
    }
    auto ports = ParseJson(proc_->StdoutLines()[0]).as_object();
    port_ = static_cast<int>(ports["port"].as_int64());
    grpc_port_ = static_cast<int>(ports["grpc_port"].as_int64());
  }
  std::string Addr() const { return "127.0.0.1:" + std::to_string(port_); }
  // Its OTLP/gRPC endpoint.
  std::string GrpcUrl() const { return "http://127.0.0.1:" + std::to_string(grpc_port_); }
  std::string Url() const { return "http://" + Addr(); }
  boost::json::array Spans() {
    auto r = HttpGet(Addr(), "/spans");
    if (!r || r->status != 200) return {};
    auto v = ParseJson(r->body);
    return v.is_array() ? v.as_array() : boost::json::array{};
  }
  // Waits until at least n spans arrived.
  boost::json::array WaitForSpans(size_t n) {
    boost::json::array spans;
    Eventually([&] {
      spans = Spans();
      return spans.size() >= n;
    });
    return spans;
  }

 private:
  std::unique_ptr<Process> proc_;
  int port_ = 0;
  int grpc_port_ = 0;
};

std::string Str(const boost::json::value& v, const char* key) {
  const auto& o = v.as_object();
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
}

const boost::json::object& Attrs(const boost::json::value& span) {
  return span.as_object().at("attributes").as_object();
}

std::string Attr(const boost::json::value& span, const char* key) {
  auto it = Attrs(span).find(key);
  if (it == Attrs(span).end()) return "";
  if (it->value().is_string()) return std::string(it->value().as_string());
  return boost::json::serialize(it->value());
}

std::vector<std::string> TracingArgs(const std::string& endpoint) {
  return {"--otel-exporter",        "otlp",
          "--otel-endpoint",        endpoint,
          "--otel-export-interval", "100ms",
          "--otel-service-name",    "pgcdc-scenario",
          "--otel-headers",         "authorization=Bearer%20otel-token"};
}

TEST(TracingScenario, WalToWebhookSpansParentLinksAndTraceparent) {
  FakeCollector collector;
  HttpReceiver rx;
  ASSERT_TRUE(rx.ok());
  // The first delivery fails once: its retry warning must carry the trace ids.
  rx.RespondWithSequence({500}, 200);
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS tr_orders CASCADE");
  ExecOrFail(conn, "CREATE TABLE tr_orders (id int PRIMARY KEY, status text)");
  ExecOrFail(conn, "DROP PUBLICATION IF EXISTS p_tracing");
  ExecOrFail(conn, "CREATE PUBLICATION p_tracing FOR TABLE tr_orders");
  std::vector<std::string> extra = {
      "-a",  "webhook", "-u", rx.Url(), "--webhook-backoff-base", "20ms", "--webhook-backoff-cap",
      "50ms"};
  for (auto& a : TracingArgs(collector.Url())) extra.push_back(a);
  auto p = StartStreaming(WalListenArgs("p_tracing", extra));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO tr_orders VALUES (1, 'new'), (2, 'new'), (3, 'new')");
  ASSERT_TRUE(rx.WaitForRequests(4)) << p->Stderr();  // 3 events + 1 retry

  // 3 detect + 3 deliver spans.
  auto spans = collector.WaitForSpans(6);
  ASSERT_EQ(spans.size(), 6u) << boost::json::serialize(spans) << p->Stderr();
  std::map<std::string, boost::json::value> detect_by_event, deliver_by_span;
  for (const auto& s : spans) {
    EXPECT_EQ(Str(s, "service"), "pgcdc-scenario");
    EXPECT_EQ(s.at("headers").at("authorization").as_string(), "Bearer otel-token");
    EXPECT_EQ(Attr(s, "pgcdc.channel"), "pgcdc:tr_orders");
    EXPECT_EQ(Attr(s, "pgcdc.operation"), "INSERT");
    if (Str(s, "name") == "pgcdc.detect") {
      EXPECT_EQ(s.at("kind").as_int64(), 4);  // producer
      EXPECT_EQ(Str(s, "parentSpanId"), "");  // a root
      EXPECT_EQ(Attr(s, "pgcdc.source"), "wal_replication");
      EXPECT_EQ(Attr(s, "pgcdc.table"), "tr_orders");
      EXPECT_NE(Attr(s, "pgcdc.lsn"), "");
      detect_by_event[Attr(s, "pgcdc.event.id")] = s;
    } else {
      EXPECT_EQ(Str(s, "name"), "pgcdc.adapter.deliver");
      EXPECT_EQ(s.at("kind").as_int64(), 5);  // consumer
      EXPECT_EQ(Attr(s, "pgcdc.adapter"), "webhook");
      deliver_by_span[Str(s, "spanId")] = s;
    }
  }
  ASSERT_EQ(detect_by_event.size(), 3u);
  ASSERT_EQ(deliver_by_span.size(), 3u);
  for (const auto& [span_id, d] : deliver_by_span) {
    const auto it = detect_by_event.find(Attr(d, "pgcdc.event.id"));
    ASSERT_NE(it, detect_by_event.end());
    const auto& parent = it->second;
    EXPECT_EQ(Str(d, "traceId"), Str(parent, "traceId"));
    EXPECT_EQ(Str(d, "parentSpanId"), Str(parent, "spanId"));
    const auto& links = d.at("links").as_array();
    ASSERT_EQ(links.size(), 1u);
    EXPECT_EQ(Str(links[0], "spanId"), Str(parent, "spanId"));
    EXPECT_EQ(d.at("status").at("code").as_int64(), 1);  // ok (after the retry)
  }
  // Every request carried the traceparent of its event's deliver span.
  std::set<std::string> first_attempt;
  for (const auto& r : rx.Requests()) {
    const std::string tp = r.Header("traceparent");
    ASSERT_EQ(tp.size(), 55u) << tp;
    EXPECT_EQ(tp.substr(0, 3), "00-");
    EXPECT_EQ(tp.substr(52), "-01");
    const std::string trace_id = tp.substr(3, 32);
    const std::string span_id = tp.substr(36, 16);
    auto d = deliver_by_span.find(span_id);
    ASSERT_NE(d, deliver_by_span.end()) << tp;
    EXPECT_EQ(Str(d->second, "traceId"), trace_id);
    EXPECT_EQ(Attr(d->second, "pgcdc.event.id"), r.Header("x-pgcdc-event-id"));
    if (r.index == 0) first_attempt.insert(trace_id);
  }
  // The retry warning names the failing event's trace and deliver span.
  ASSERT_EQ(first_attempt.size(), 1u);
  EXPECT_TRUE(p->WaitForStderr("trace_id=" + *first_attempt.begin())) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// OTLP/gRPC: the same spans through the collector's TraceService/Export call,
// the headers as gRPC metadata.
TEST(TracingScenario, WalToStdoutExportsOverGrpc) {
  FakeCollector collector;
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS tr_grpc CASCADE");
  ExecOrFail(conn, "CREATE TABLE tr_grpc (id int PRIMARY KEY)");
  ExecOrFail(conn, "DROP PUBLICATION IF EXISTS p_tracing_grpc");
  ExecOrFail(conn, "CREATE PUBLICATION p_tracing_grpc FOR TABLE tr_grpc");
  std::vector<std::string> extra = TracingArgs(collector.GrpcUrl());
  extra.insert(extra.end(), {"--otel-protocol", "grpc"});
  auto p = StartStreaming(WalListenArgs("p_tracing_grpc", extra));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO tr_grpc VALUES (1), (2)");
  ASSERT_TRUE(p->WaitForLines(2)) << p->Stderr();
  auto spans = collector.WaitForSpans(4);
  ASSERT_EQ(spans.size(), 4u) << boost::json::serialize(spans) << p->Stderr();
  std::multiset<std::string> names;
  for (const auto& s : spans) {
    names.insert(Str(s, "name"));
    EXPECT_EQ(Str(s, "service"), "pgcdc-scenario");
    EXPECT_EQ(s.at("headers").at("authorization").as_string(), "Bearer otel-token");
    EXPECT_EQ(Attr(s, "pgcdc.channel"), "pgcdc:tr_grpc");
  }
  EXPECT_EQ(names.count("pgcdc.detect"), 2u);
  EXPECT_EQ(names.count("pgcdc.adapter.deliver"), 2u);
  // Counted once the collector's answer is back, which can be after the
  // collector has recorded the spans.
  EXPECT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_tracing_spans_exported_total").value_or(0) >= 4.0;
  })) << ScrapeMetric(*p, "pgcdc_tracing_spans_exported_total").value_or(0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(TracingScenario, WebhookGatewayContinuesAnIncomingTrace) {
  FakeCollector collector;
  std::vector<std::string> args = {"listen",      "--detector",  "webhook_gateway",
                                   "--http-addr", "127.0.0.1:0", "--webhookgw-source",
                                   "open",        "-a",          "stdout"};
  for (auto& a : TracingArgs(collector.Url())) args.push_back(a);
  // Ratio 0: only a caller's sampled decision records spans.
  args.insert(args.end(), {"--otel-sample-ratio", "0"});
  auto p = Process::Start({.args = args});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("starting detector detector=webhook_gateway")) << p->Stderr();
  const std::string addr = p->HttpAddr().value_or("");
  const std::string trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string parent = "00f067aa0ba902b7";
  auto a =
      HttpSend(addr, "POST", "/ingest/open",
               {"Content-Type: application/json",
                "traceparent: 00-" + trace_id + "-" + parent + "-01", "tracestate: vendor=abc"},
               R"({"order":1})");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 200) << a->body;
  // Unsampled callers and malformed headers start no recorded trace (ratio 0).
  auto b = HttpSend(
      addr, "POST", "/ingest/open",
      {"Content-Type: application/json", "traceparent: 00-" + trace_id + "-" + parent + "-00"},
      R"({"order":2})");
  auto c = HttpSend(addr, "POST", "/ingest/open",
                    {"Content-Type: application/json", "traceparent: garbage"}, R"({"order":3})");
  ASSERT_TRUE(b && c);
  ASSERT_TRUE(p->WaitForLines(3)) << p->Stderr();
  auto spans = collector.WaitForSpans(2);
  ASSERT_EQ(spans.size(), 2u) << boost::json::serialize(spans);
  // Exported after the other two events were handled: nothing more arrives.
  std::map<std::string, boost::json::value> by_name;
  for (const auto& s : spans) by_name[Str(s, "name")] = s;
  const auto& detect = by_name["pgcdc.detect"];
  ASSERT_TRUE(detect.is_object());
  EXPECT_EQ(Str(detect, "traceId"), trace_id);
  EXPECT_EQ(Str(detect, "parentSpanId"), parent);
  EXPECT_EQ(Str(detect, "traceState"), "vendor=abc");
  EXPECT_EQ(Attr(detect, "pgcdc.source"), "webhook_gateway");
  const auto& deliver = by_name["pgcdc.adapter.deliver"];
  ASSERT_TRUE(deliver.is_object());
  EXPECT_EQ(Str(deliver, "traceId"), trace_id);
  EXPECT_EQ(Str(deliver, "parentSpanId"), Str(detect, "spanId"));
  EXPECT_EQ(Attr(deliver, "pgcdc.adapter"), "stdout");
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  EXPECT_EQ(collector.Spans().size(), 2u);
}

TEST(TracingScenario, CollectorDownKeepsStreamingAndCountsDroppedSpans) {
  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS tr_down CASCADE");
  ExecOrFail(conn, "CREATE TABLE tr_down (id int PRIMARY KEY)");
  ExecOrFail(conn, "DROP PUBLICATION IF EXISTS p_tracing_down");
  ExecOrFail(conn, "CREATE PUBLICATION p_tracing_down FOR TABLE tr_down");
  // Nothing listens on the endpoint.
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(FreeTcpPort());
  std::vector<std::string> extra = TracingArgs(endpoint);
  auto p = StartStreaming(WalListenArgs("p_tracing_down", extra));
  ASSERT_TRUE(p);
  ExecOrFail(conn, "INSERT INTO tr_down SELECT g FROM generate_series(1, 200) g");
  ASSERT_TRUE(p->WaitForLines(200)) << p->Stderr();
  ASSERT_TRUE(p->WaitForStderr("trace export failed")) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO tr_down SELECT g FROM generate_series(201, 300) g");
  ASSERT_TRUE(p->WaitForLines(300)) << p->Stderr();
  // 300 detect + 300 deliver spans, all dropped; every event delivered.
  EXPECT_TRUE(Eventually([&] {
    auto v = ScrapeMetric(*p, "pgcdc_tracing_spans_dropped_total{reason=\"export_failed\"}");
    return v && *v >= 600;
  })) << p->Stderr();
  std::set<std::string> ids;
  for (const auto& line : p->StdoutLines()) ids.insert(Str(ParseJson(line), "id"));
  EXPECT_EQ(ids.size(), 300u);
  // Rate-limited: one warning for many failed exports.
  const std::string err = p->Stderr();
  size_t warnings = 0;
  for (size_t at = err.find("trace export failed"); at != std::string::npos;
       at = err.find("trace export failed", at + 1)) {
    ++warnings;
  }
  EXPECT_EQ(warnings, 1u) << err;
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(TracingScenario, BadSettingsAreConfigurationErrors) {
  auto [code, err] =
      RunAdapterToExit("stdout", {"--otel-exporter", "otlp", "--otel-sample-ratio", "1.5"});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("otel.sample_ratio"), std::string::npos) << err;
  std::tie(code, err) = RunAdapterToExit("stdout", {"--otel-exporter", "jaeger"});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("otel.exporter"), std::string::npos) << err;
  std::tie(code, err) =
      RunAdapterToExit("stdout", {"--otel-exporter", "otlp", "--otel-protocol", "thrift"});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("otel.protocol"), std::string::npos) << err;
}

// `pgcdc serve`: the serve file's otel: section traces every pipeline; an
// unknown key in it is refused like in listen.
TEST(TracingScenario, ServeTracesPipelinesFromItsOtelSection) {
  FakeCollector collector;
  TempDir dir;
  const std::string out = dir.path + "/events.jsonl";
  const std::string yaml = dir.path + "/serve.yaml";
  auto write_file = [&](const std::string& otel) {
    std::ofstream(yaml) << "otel:\n"
                        << otel << "pipelines:\n  - name: traced\n    database_url: \""
                        << SharedCluster().Url()
                        << "\"\n    detector: {type: listen_notify}\n"
                           "    channels: [\"tr_serve\"]\n    adapters: [file]\n"
                           "    file: {path: \""
                        << out << "\"}\n";
  };
  write_file("  exporter: otlp\n  endpoint: " + collector.Url() +
             "\n  export_interval: 100ms\n  service_name: pgcdc-serve\n");
  auto p = Process::Start(
      {.args = {"serve", "--config", yaml, "--addr", "127.0.0.1:0", "--api-token", "t"}});
  ASSERT_TRUE(p);
  auto conn = Connect();
  // NOTIFY until the pipeline listens (earlier notifications reach no one).
  ASSERT_TRUE(Eventually([&] {
    ExecOrFail(conn, "NOTIFY tr_serve, '{\"n\": 1}'");
    return !ReadFileLines(out).empty();
  })) << p->Stderr();
  auto spans = collector.WaitForSpans(2);
  std::set<std::string> names;
  for (const auto& span : spans) {
    names.insert(Str(span, "name"));
    EXPECT_EQ(Str(span, "service"), "pgcdc-serve") << boost::json::serialize(span);
  }
  EXPECT_EQ(names, (std::set<std::string>{"pgcdc.detect", "pgcdc.adapter.deliver"}));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();

  write_file("  exporter: otlp\n  endpont: http://x\n");
  auto bad = RunCommand({PgcdcBinary(), "serve", "--config", yaml, "--addr", "127.0.0.1:0"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("otel.endpont"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("did you mean `endpoint`"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find(yaml + " (otel): unknown key"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace pgcdc::testing
