// User journey: deliver changes to an HTTP endpoint with the webhook adapter.
// The real binary captures LISTEN/NOTIFY events from the shared PostgreSQL
// cluster and POSTs them to a real keep-alive HTTP receiver on loopback that
// checks bodies, headers and HMAC signatures and can fail on demand.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "harness.h"
#include "http_receiver.h"
#include "json_util.h"
#include "test_certs.h"

namespace pgcdc::testing {
namespace {

using Reply = HttpReceiver::Reply;

std::vector<std::string> BaseArgs() {
  return {"listen",
          "--db",
          SharedCluster().Url(),
          "--http-addr",
          "127.0.0.1:0",
          "--detector-backoff-base",
          "100ms",
          "--detector-backoff-cap",
          "500ms"};
}

std::unique_ptr<Process> StartPgcdc(const std::vector<std::string>& extra) {
  auto args = BaseArgs();
  for (const auto& a : extra) args.push_back(a);
  auto p = Process::Start({.args = args});
  EXPECT_TRUE(p != nullptr);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  }
  return p;
}

// NOTIFY `channel` with payloads from..to (the payload is the number).
void NotifyRange(const std::string& channel, int from, int to) {
  auto conn = Connect();
  auto r = conn.Query("SELECT pg_notify($1, g::text) FROM generate_series(" + std::to_string(from) +
                          ", " + std::to_string(to) + ") g",
                      {channel});
  ASSERT_TRUE(r) << r.error().message();
}

void Notify(const std::string& channel, const std::string& payload) {
  auto conn = Connect();
  auto r = conn.Query("SELECT pg_notify($1, $2)", {channel, payload});
  ASSERT_TRUE(r) << r.error().message();
}

// The events of one request body: the object itself, or the array's items.
std::vector<boost::json::object> Events(const HttpReceiver::Request& r) {
  std::vector<boost::json::object> out;
  auto v = ParseJson(r.body);
  if (v.is_array()) {
    for (auto& e : v.as_array()) out.push_back(e.as_object());
  } else if (v.is_object()) {
    out.push_back(v.as_object());
  }
  return out;
}

int64_t PayloadNumber(const boost::json::object& e) {
  const auto& p = e.at("payload");
  return p.is_int64() ? p.as_int64() : -1;
}

// Payload numbers that the receiver accepted (2xx), in acceptance order.
std::vector<int64_t> Accepted(const HttpReceiver& rx, const std::string& channel = {}) {
  std::vector<int64_t> out;
  for (const auto& r : rx.Requests()) {
    if (r.reply_status / 100 != 2) continue;
    for (const auto& e : Events(r)) {
      if (channel.empty() || e.at("channel").as_string() == channel)
        out.push_back(PayloadNumber(e));
    }
  }
  return out;
}

std::vector<int64_t> Range(int from, int to) {
  std::vector<int64_t> v;
  for (int i = from; i <= to; ++i) v.push_back(i);
  return v;
}

std::string Series(const std::string& name, const std::string& labels) {
  return name + "{" + labels + "}";
}

TEST(WebhookScenario, SignedEventsCarryTheEnvelopeAndHeaders) {
  HttpReceiver rx;
  ASSERT_TRUE(rx.ok());
  auto p = StartPgcdc({"-c", "pgcdc:wh_signed", "-a", "webhook", "-u", rx.Url(), "--signing-key",
                       "k3y", "--webhook-header", "X-Tenant: acme", "--webhook-header",
                       "Authorization: Bearer tok"});
  ASSERT_TRUE(p);
  NotifyRange("pgcdc:wh_signed", 1, 5);
  ASSERT_TRUE(rx.WaitForRequests(5)) << p->Stderr();
  auto reqs = rx.Requests();
  ASSERT_EQ(reqs.size(), 5u);
  for (size_t i = 0; i < reqs.size(); ++i) {
    const auto& r = reqs[i];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(CheckEnvelope(r.body, "pgcdc:wh_signed", "NOTIFY", "listen_notify"),
              std::to_string(i + 1));
    auto e = ParseJson(r.body).as_object();
    EXPECT_EQ(r.Header("content-type"), "application/json");
    EXPECT_TRUE(r.Header("user-agent").starts_with("pgcdc/")) << r.Header("user-agent");
    EXPECT_EQ(r.Header("x-pgcdc-event-id"), std::string(e.at("id").as_string()));
    EXPECT_EQ(r.Header("x-pgcdc-channel"), "pgcdc:wh_signed");
    EXPECT_EQ(r.Header("x-tenant"), "acme");
    EXPECT_EQ(r.Header("authorization"), "Bearer tok");
    EXPECT_EQ(r.Header("x-pgcdc-signature"), "sha256=" + TestHmacSha256Hex("k3y", r.body));
    EXPECT_EQ(r.Header("x-pgcdc-batch-size"), "");
  }
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  EXPECT_TRUE(Eventually([&] {
    auto m = HttpGet(*addr, "/metrics");
    return m && MetricValue(m->body,
                            Series("pgcdc_delivery_events_sent_total", "adapter=\"webhook\"")) == 5;
  }));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(WebhookScenario, OutageRetriesOpensAndClosesTheBreakerAndLosesNothing) {
  HttpReceiver rx;
  ASSERT_TRUE(rx.ok());
  std::atomic<bool> recovered{false};
  rx.SetResponder([&](const HttpReceiver::Request&) {
    return recovered ? Reply{200, "{}", {}} : Reply{500, "{\"error\":\"down\"}", {}};
  });
  auto p = StartPgcdc({"-c", "pgcdc:wh_outage", "-a", "webhook", "-u", rx.Url(), "--retries", "4",
                       "--webhook-backoff-base", "20ms", "--webhook-backoff-cap", "100ms",
                       "--webhook-cb-failures", "3", "--webhook-cb-reset", "300ms"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  NotifyRange("pgcdc:wh_outage", 1, 20);
  auto metric = [&](const std::string& series) -> double {
    auto m = HttpGet(*addr, "/metrics");
    if (!m) return -1;
    return MetricValue(m->body, series).value_or(0);
  };
  const std::string opened =
      Series("pgcdc_circuit_breaker_transitions_total", "adapter=\"webhook\",state=\"open\"");
  const std::string closed =
      Series("pgcdc_circuit_breaker_transitions_total", "adapter=\"webhook\",state=\"closed\"");
  // The breaker opens, and a half-open probe fails and re-opens it.
  ASSERT_TRUE(Eventually([&] { return metric(opened) >= 2; }, 20s)) << p->Stderr();
  EXPECT_EQ(metric(Series("pgcdc_circuit_breaker_state", "adapter=\"webhook\"")), 1);
  // The reference tool's count of openings (SPEC §9.2) follows the transitions.
  EXPECT_GE(metric(Series("pgcdc_circuit_breaker_trips_total", "adapter=\"webhook\"")), 2);
  EXPECT_EQ(Accepted(rx).size(), 0u);
  recovered = true;
  ASSERT_TRUE(Eventually([&] { return Accepted(rx).size() >= 20; }, 30s))
      << rx.Count() << " requests\n"
      << p->Stderr();
  EXPECT_EQ(Accepted(rx), Range(1, 20));  // all of them, once, in order
  EXPECT_GT(rx.Count(), 20u);             // failed attempts were retried
  EXPECT_GE(metric(closed), 1);
  EXPECT_EQ(metric(Series("pgcdc_circuit_breaker_state", "adapter=\"webhook\"")), 0);
  EXPECT_GT(metric(Series("pgcdc_delivery_retries_total", "adapter=\"webhook\"")), 0);
  EXPECT_EQ(metric(Series("pgcdc_delivery_events_dead_lettered_total", "adapter=\"webhook\"")), 0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  EXPECT_EQ(p->Stderr().find("\"adapter\":\"webhook\",\"error\""), std::string::npos);
}

TEST(WebhookScenario, RetryAfterIsHonoured) {
  HttpReceiver rx;
  ASSERT_TRUE(rx.ok());
  rx.SetResponder([](const HttpReceiver::Request& r) {
    if (r.index == 0) return Reply{503, "busy", {{"Retry-After", "1"}}};
    return Reply{200, "{}", {}};
  });
  auto p = StartPgcdc({"-c", "pgcdc:wh_ra", "-a", "webhook", "-u", rx.Url(),
                       "--webhook-backoff-base", "10ms", "--webhook-backoff-cap", "20ms"});
  ASSERT_TRUE(p);
  Notify("pgcdc:wh_ra", "1");
  ASSERT_TRUE(rx.WaitForRequests(2)) << p->Stderr();
  auto reqs = rx.Requests();
  EXPECT_EQ(reqs[0].body, reqs[1].body);
  EXPECT_GE(reqs[1].at - reqs[0].at, 900ms);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(WebhookScenario, RejectedEventGoesToTheDlqAndLaterEventsFlow) {
  HttpReceiver rx;
  ASSERT_TRUE(rx.ok());
  rx.SetResponder([](const HttpReceiver::Request& r) {
    if (r.body.find("\"payload\":\"poison\"") != std::string::npos) {
      return Reply{400, "{\"error\":\"unprocessable event\"}", {}};
    }
    return Reply{200, "{}", {}};
  });
  auto p = StartPgcdc({"-c", "pgcdc:wh_dlq", "-a", "webhook", "-u", rx.Url()});
  ASSERT_TRUE(p);
  Notify("pgcdc:wh_dlq", "1");
  Notify("pgcdc:wh_dlq", "poison");
  Notify("pgcdc:wh_dlq", "2");
  Notify("pgcdc:wh_dlq", "3");
  ASSERT_TRUE(Eventually([&] { return Accepted(rx).size() >= 3; })) << p->Stderr();
  EXPECT_EQ(Accepted(rx), Range(1, 3));
  ASSERT_TRUE(p->WaitForStderr("\"adapter\":\"webhook\"")) << p->Stderr();
  // The DLQ line is a JSON document with the whole event.
  std::string dlq_line;
  std::istringstream err(p->Stderr());
  for (std::string line; std::getline(err, line);) {
    if (line.starts_with("{\"event\":")) dlq_line = line;
  }
  ASSERT_FALSE(dlq_line.empty()) << p->Stderr();
  auto rec = ParseJson(dlq_line).as_object();
  EXPECT_EQ(rec.at("adapter").as_string(), "webhook");
  EXPECT_EQ(rec.at("event").as_object().at("payload").as_string(), "poison");
  EXPECT_EQ(rec.at("event").as_object().at("channel").as_string(), "pgcdc:wh_dlq");
  const std::string error(rec.at("error").as_string());
  EXPECT_NE(error.find("HTTP 400"), std::string::npos) << error;
  // A permanent rejection is not retried.
  size_t poison_requests = 0;
  for (const auto& r : rx.Requests()) {
    poison_requests += r.body.find("poison") != std::string::npos;
  }
  EXPECT_EQ(poison_requests, 1u);
  EXPECT_EQ(
      ScrapeMetric(*p, Series("pgcdc_delivery_events_dead_lettered_total", "adapter=\"webhook\"")),
      1);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// Pipelined delivery (--webhook-pipeline): many requests in flight per lane on
// one keep-alive connection. Every event arrives exactly once with a valid
// signature even though the peer fails some requests in the middle of a
// window; a rejected event goes to the DLQ; per channel, events whose first
// attempt succeeded arrive in order.
TEST(WebhookScenario, PipelinedDeliverySurvivesFailuresInsideAWindow) {
  HttpReceiver rx;
  ASSERT_TRUE(rx.ok());
  std::mutex mu;
  std::map<std::string, int> seen;  // body -> attempts
  rx.SetResponder([&](const HttpReceiver::Request& r) {
    std::lock_guard lock(mu);
    const int attempt = ++seen[r.body];
    const auto events = Events(r);
    const int64_t n = events.empty() ? -1 : PayloadNumber(events[0]);
    if (n < 0) return Reply{400, "{\"error\":\"not a number\"}", {}};
    if (n % 25 == 7 && attempt < 3) return Reply{503, "{}", {}};
    return Reply{200, "{}", {}};
  });
  auto p = StartPgcdc({"-c",
                       "pgcdc:wh_pipe_a",
                       "-c",
                       "pgcdc:wh_pipe_b",
                       "-a",
                       "webhook",
                       "-u",
                       rx.Url(),
                       "--signing-key",
                       "pk",
                       "--webhook-pipeline",
                       "16",
                       "--webhook-concurrency",
                       "2",
                       "--retries",
                       "5",
                       "--webhook-backoff-base",
                       "10ms",
                       "--webhook-backoff-cap",
                       "50ms",
                       "--dlq",
                       "stderr"});
  ASSERT_TRUE(p);
  NotifyRange("pgcdc:wh_pipe_a", 1, 200);
  Notify("pgcdc:wh_pipe_b", "\"oops\"");
  NotifyRange("pgcdc:wh_pipe_b", 1001, 1200);
  ASSERT_TRUE(Eventually([&] { return Accepted(rx).size() >= 400; }, 60s))
      << Accepted(rx).size() << "\n"
      << p->Stderr();
  for (const auto& r : rx.Requests()) {
    EXPECT_EQ(r.Header("x-pgcdc-signature"), "sha256=" + TestHmacSha256Hex("pk", r.body));
  }
  auto a = Accepted(rx, "pgcdc:wh_pipe_a");
  auto b = Accepted(rx, "pgcdc:wh_pipe_b");
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  EXPECT_EQ(a, Range(1, 200));  // each exactly once
  EXPECT_EQ(b, Range(1001, 1200));
  // Events that were not retried keep their channel order.
  std::vector<int64_t> first_try;
  for (int64_t n : Accepted(rx, "pgcdc:wh_pipe_a")) {
    if (n % 25 != 7) first_try.push_back(n);
  }
  EXPECT_TRUE(std::is_sorted(first_try.begin(), first_try.end()));
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  EXPECT_TRUE(Eventually([&] {
    auto m = HttpGet(*addr, "/metrics");
    return m &&
           MetricValue(m->body, Series("pgcdc_delivery_events_dead_lettered_total",
                                       "adapter=\"webhook\"")) == 1 &&
           MetricValue(m->body,
                       Series("pgcdc_delivery_events_sent_total", "adapter=\"webhook\"")) == 400;
  })) << p->Stderr();
  EXPECT_NE(p->Stderr().find("oops"), std::string::npos);  // the stderr DLQ record
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// The pipelined client connects directly: with a proxy configured in the
// environment it refuses to start instead of silently bypassing the proxy.
TEST(WebhookScenario, PipelineRefusesToBypassAProxy) {
  auto args = BaseArgs();
  for (const char* a : {"-c", "pgcdc:wh_proxy", "-a", "webhook", "-u", "http://127.0.0.1:9/hook",
                        "--webhook-pipeline", "8"}) {
    args.push_back(a);
  }
  auto p = Process::Start({.args = args, .env = {{"https_proxy", "http://proxy.invalid:3128"}}});
  ASSERT_TRUE(p);
  auto code = p->Wait(30s);
  ASSERT_TRUE(code) << p->Stderr();
  EXPECT_NE(*code, 0);
  EXPECT_NE(p->Stderr().find("cannot use the proxy in $https_proxy"), std::string::npos)
      << p->Stderr();
}

TEST(WebhookScenario, BadConfigurationFailsAtStartup) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
    bool usage_error;
  };
  const std::vector<Case> cases = {
      {{"-a", "webhook"}, "webhook.url: required", true},
      {{"-a", "webhook", "-u", "ftp://example.com/x"}, "http:// or https://", true},
      {{"-a", "webhook", "-u", "http://"}, "webhook.url", true},
      {{"-a", "webhook", "-u", "http://127.0.0.1/x", "--webhook-header", "no colon"},
       "webhook.headers",
       true},
      {{"-a", "webhook", "-u", "http://127.0.0.1/x", "--webhook-rate-limit", "10",
        "--webhook-rate-burst", "0"},
       "burst",
       true},
      {{"-a", "webhook", "-u", "http://no-such-host.invalid/hook"}, "cannot resolve host", false},
      {{"-a", "webhook", "-u", "http://user:pw@127.0.0.1/x", "--webhook-pipeline", "8"},
       "credentials in the URL",
       true},
      {{"-a", "webhook", "-u", "http://127.0.0.1/x", "--webhook-pipeline", "0"},
       "webhook-pipeline",
       true},
  };
  for (const auto& c : cases) {
    auto args = BaseArgs();
    args.push_back("-c");
    args.push_back("pgcdc:wh_bad");
    for (const auto& a : c.args) args.push_back(a);
    auto p = Process::Start({.args = args});
    ASSERT_TRUE(p);
    auto code = p->Wait(30s);
    ASSERT_TRUE(code) << c.message << "\n" << p->Stderr();
    EXPECT_NE(*code, 0) << c.message;
    if (c.usage_error) {
      EXPECT_EQ(*code, 2) << p->Stderr();
    }
    EXPECT_NE(p->Stderr().find(c.message), std::string::npos) << p->Stderr();
  }
}

TEST(WebhookScenario, SlowWebhookDoesNotHoldBackStdoutInFastMode) {
  HttpReceiver rx;
  ASSERT_TRUE(rx.ok());
  std::atomic<bool> slow{true};
  rx.SetResponder([&](const HttpReceiver::Request&) {
    if (slow) std::this_thread::sleep_for(100ms);
    return Reply{200, "{}", {}};
  });
  auto p = StartPgcdc({"-c", "pgcdc:wh_fast", "-a", "stdout", "-a", "webhook", "-u", rx.Url(),
                       "--bus-mode", "fast", "--bus-buffer", "64"});
  ASSERT_TRUE(p);
  // Rounds small enough for stdout's queue: stdout keeps up with every round
  // while the webhook (100 ms per event) falls behind and its queue overflows.
  constexpr int kRounds = 20, kPerRound = 30;
  for (int round = 0; round < kRounds; ++round) {
    NotifyRange("pgcdc:wh_fast", round * kPerRound + 1, (round + 1) * kPerRound);
    ASSERT_TRUE(p->WaitForLines((round + 1) * kPerRound, 10s)) << p->Stderr();
  }
  EXPECT_EQ(p->StdoutLines().size(), static_cast<size_t>(kRounds * kPerRound));
  EXPECT_LT(rx.Count(), static_cast<size_t>(kRounds * kPerRound) / 2);
  EXPECT_GT(
      ScrapeMetric(*p, Series("pgcdc_events_dropped_total", "adapter=\"webhook\"")).value_or(0), 0);
  EXPECT_EQ(
      ScrapeMetric(*p, Series("pgcdc_events_dropped_total", "adapter=\"stdout\"")).value_or(0), 0);
  slow = false;
  // What the webhook did get arrived in order.
  auto got = Accepted(rx);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1], got[i]);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(WebhookScenario, ReliableBusModeLosesNothingWithASlowWebhook) {
  HttpReceiver rx;
  ASSERT_TRUE(rx.ok());
  rx.SetResponder([&](const HttpReceiver::Request&) {
    std::this_thread::sleep_for(5ms);
    return Reply{200, "{}", {}};
  });
  auto p = StartPgcdc({"-c", "pgcdc:wh_rel", "-a", "stdout", "-a", "webhook", "-u", rx.Url(),
                       "--bus-mode", "reliable", "--bus-buffer", "16"});
  ASSERT_TRUE(p);
  NotifyRange("pgcdc:wh_rel", 1, 200);
  ASSERT_TRUE(Eventually([&] { return Accepted(rx).size() >= 200; }, 30s)) << p->Stderr();
  EXPECT_EQ(Accepted(rx), Range(1, 200));
  ASSERT_TRUE(p->WaitForLines(200)) << p->Stderr();
  EXPECT_EQ(p->StdoutLines().size(), 200u);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(WebhookScenario, ConcurrencyKeepsPerChannelOrder) {
  HttpReceiver rx;
  ASSERT_TRUE(rx.ok());
  auto p =
      StartPgcdc({"-c", "pgcdc:wh_c0", "-c", "pgcdc:wh_c1", "-c", "pgcdc:wh_c2", "-c",
                  "pgcdc:wh_c3", "-a", "webhook", "-u", rx.Url(), "--webhook-concurrency", "4"});
  ASSERT_TRUE(p);
  {
    auto conn = Connect();
    auto r = conn.Query(
        "SELECT pg_notify('pgcdc:wh_c' || (g % 4), g::text) FROM generate_series(1, 400) g", {});
    ASSERT_TRUE(r) << r.error().message();
  }
  ASSERT_TRUE(Eventually([&] { return Accepted(rx).size() >= 400; }, 30s)) << p->Stderr();
  EXPECT_EQ(Accepted(rx).size(), 400u);
  for (int c = 0; c < 4; ++c) {
    const std::string channel = "pgcdc:wh_c" + std::to_string(c);
    auto got = Accepted(rx, channel);
    std::vector<int64_t> want;
    for (int g = 1; g <= 400; ++g) {
      if (g % 4 == c) want.push_back(g);
    }
    EXPECT_EQ(got, want) << channel;
  }
  for (const auto& r : rx.Requests()) {
    auto e = Events(r);
    ASSERT_EQ(e.size(), 1u);
    EXPECT_EQ(r.Header("x-pgcdc-channel"), std::string(e[0].at("channel").as_string()));
  }
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

TEST(WebhookScenario, BatchModeSendsSignedArrays) {
  HttpReceiver rx;
  ASSERT_TRUE(rx.ok());
  auto p = StartPgcdc({"-c", "pgcdc:wh_batch", "-a", "webhook", "-u", rx.Url(),
                       "--webhook-batch-size", "10", "--signing-key", "batchkey"});
  ASSERT_TRUE(p);
  NotifyRange("pgcdc:wh_batch", 1, 95);
  ASSERT_TRUE(Eventually([&] { return Accepted(rx).size() >= 95; }, 30s)) << p->Stderr();
  EXPECT_EQ(Accepted(rx), Range(1, 95));
  size_t largest = 0;
  for (const auto& r : rx.Requests()) {
    auto v = ParseJson(r.body);
    ASSERT_TRUE(v.is_array()) << r.body;
    const size_t n = v.as_array().size();
    largest = std::max(largest, n);
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, 10u);
    EXPECT_EQ(r.Header("x-pgcdc-batch-size"), std::to_string(n));
    EXPECT_EQ(r.Header("x-pgcdc-event-id"),
              std::string(v.as_array()[0].as_object().at("id").as_string()));
    EXPECT_EQ(r.Header("x-pgcdc-channel"), "pgcdc:wh_batch");
    EXPECT_EQ(r.Header("x-pgcdc-signature"), "sha256=" + TestHmacSha256Hex("batchkey", r.body));
  }
  EXPECT_GT(largest, 1u);  // events were really batched
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// --- TLS: a node https server with a test CA, server and client certificates.

struct TlsFixture {
  TestCertificates certs;
  std::string dir;
  std::unique_ptr<Process> server;
  std::string url;

  bool Setup() {
    if (!certs.Generate()) return false;
    dir = certs.dir;
    std::ofstream(dir + "/server.js") << R"JS(
const https = require('https');
const fs = require('fs');
const dir = process.argv[2];
const srv = https.createServer({
  key: fs.readFileSync(dir + '/server.key'), cert: fs.readFileSync(dir + '/server.pem'),
  ca: fs.readFileSync(dir + '/ca.pem'), requestCert: true, rejectUnauthorized: false,
}, (req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const client = req.socket.authorized ? req.socket.getPeerCertificate().subject.CN : '-';
    console.log(JSON.stringify({ method: req.method, client, body }));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
srv.listen(0, '127.0.0.1', () => console.log('listening ' + srv.address().port));
)JS";
    server = Process::Start({.args = {dir + "/server.js", dir}, .binary = "/usr/bin/node"});
    if (!server || !server->WaitForLines(1)) return false;
    const std::string first = server->StdoutLines()[0];
    url = "https://127.0.0.1:" + first.substr(first.find(' ') + 1) + "/hook";
    return true;
  }
  ~TlsFixture() { server.reset(); }
  // Requests the server logged (after the "listening" line).
  std::vector<boost::json::object> Requests() {
    std::vector<boost::json::object> out;
    auto lines = server->StdoutLines();
    for (size_t i = 1; i < lines.size(); ++i) out.push_back(ParseJson(lines[i]).as_object());
    return out;
  }
};

TEST(WebhookScenario, TlsWithCaFileClientCertificateAndInsecureMode) {
  TlsFixture tls;
  ASSERT_TRUE(tls.Setup()) << (tls.server ? tls.server->Stderr() : "");
  const std::string& d = tls.dir;
  size_t delivered = 0;
  // libcurl (pipeline 1) and pgcdc's own HTTP/1.1 client (pipeline > 1) must
  // behave the same: verification, client certificate, insecure mode.
  for (const char* pipeline : {"1", "4"}) {
    SCOPED_TRACE(std::string("--webhook-pipeline ") + pipeline);
    auto deliver = [&](std::vector<std::string> extra, const std::string& payload) {
      std::vector<std::string> args = {"-c",    "pgcdc:wh_tls",       "-a",    "webhook", "-u",
                                       tls.url, "--webhook-pipeline", pipeline};
      for (auto& a : extra) args.push_back(a);
      auto p = StartPgcdc(args);
      if (!p) return p;
      Notify("pgcdc:wh_tls", payload);
      return p;
    };
    {  // Verified server, client certificate presented.
      auto p = deliver({"--webhook-tls-ca-file", d + "/ca.pem", "--webhook-tls-cert",
                        d + "/client.pem", "--webhook-tls-key", d + "/client.key"},
                       "mtls");
      ASSERT_TRUE(p);
      ASSERT_TRUE(Eventually([&] { return tls.Requests().size() > delivered; })) << p->Stderr();
      auto r = tls.Requests().back();
      EXPECT_EQ(r.at("client").as_string(), "pgcdc-client");
      EXPECT_EQ(CheckEnvelope(std::string(r.at("body").as_string()), "pgcdc:wh_tls", "NOTIFY",
                              "listen_notify"),
                "\"mtls\"");
      delivered = tls.Requests().size();
      p->Signal(SIGTERM);
      EXPECT_EQ(p->Wait(), 0) << p->Stderr();
    }
    {  // Unknown CA: the handshake fails, the event is retried, then dead-lettered.
      auto p = deliver({"--retries", "2", "--webhook-backoff-base", "10ms"}, "untrusted");
      ASSERT_TRUE(p);
      ASSERT_TRUE(p->WaitForStderr("\"adapter\":\"webhook\"")) << p->Stderr();
      EXPECT_NE(p->Stderr().find("certificate"), std::string::npos) << p->Stderr();
      EXPECT_EQ(tls.Requests().size(), delivered);
      p->Signal(SIGTERM);
      EXPECT_EQ(p->Wait(), 0) << p->Stderr();
    }
    {  // Insecure mode delivers and warns.
      auto p = deliver({"--webhook-tls-insecure-skip-verify"}, "insecure");
      ASSERT_TRUE(p);
      ASSERT_TRUE(Eventually([&] { return tls.Requests().size() > delivered; })) << p->Stderr();
      EXPECT_EQ(tls.Requests().back().at("client").as_string(), "-");
      EXPECT_NE(p->Stderr().find("TLS certificate verification is DISABLED"), std::string::npos);
      delivered = tls.Requests().size();
      p->Signal(SIGTERM);
      EXPECT_EQ(p->Wait(), 0) << p->Stderr();
    }
  }
}

}  // namespace
}  // namespace pgcdc::testing
