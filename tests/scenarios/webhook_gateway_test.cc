// User journey: providers (Stripe, GitHub, Slack, Shopify, anything with a
// shared secret) POST webhooks to `pgcdc listen --detector webhook_gateway`;
// each verified request becomes one INSERT event, retries of a delivery are
// recognised by their idempotency key, bad requests get a JSON error and are
// counted, and with --webhookgw-ack delivered a 200 means the event is in the
// sink — so a caller that retries until it gets a 200 loses nothing across
// kill -9.
//
// Signatures are computed with the openssl CLI, never with pgcdc's code.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <ctime>
#include <map>
#include <mutex>
#include <set>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

// HMAC-SHA256 of `data` with `secret` by the openssl CLI: hex, or base64.
std::string OpensslHmac(const std::string& secret, const std::string& data, bool base64 = false) {
  const std::string pipeline = base64 ? "openssl dgst -sha256 -hmac \"$0\" -binary | base64"
                                      : "openssl dgst -sha256 -hmac \"$0\" | sed 's/^.*= //'";
  auto r = RunCommand({"sh", "-c", pipeline, secret}, data);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::string out = r.output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

std::string Now() { return std::to_string(std::time(nullptr)); }

std::vector<std::string> Args(const std::string& http_addr, std::vector<std::string> extra) {
  std::vector<std::string> args = {"listen", "--detector", "webhook_gateway", "--http-addr",
                                   http_addr};
  for (auto& a : extra) args.push_back(std::move(a));
  return args;
}

std::unique_ptr<Process> StartGateway(const std::vector<std::string>& args) {
  auto p = Process::Start({.args = args});
  EXPECT_TRUE(p);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("starting detector detector=webhook_gateway")) << p->Stderr();
  }
  return p;
}

struct Answer {
  int status = 0;
  std::string content_type;
  boost::json::object body;
};

Answer Post(const std::string& addr, const std::string& path, const std::string& body,
            const std::vector<std::string>& headers = {}, const std::string& method = "POST") {
  Answer a;
  auto r = HttpSend(addr, method, path, headers, body);
  if (!r) return a;
  a.status = r->status;
  const size_t ct = r->headers.find("Content-Type: ");
  if (ct != std::string::npos) {
    a.content_type = r->headers.substr(ct + 14, r->headers.find("\r\n", ct) - ct - 14);
  }
  auto v = ParseJson(r->body);
  if (v.is_object()) a.body = v.as_object();
  return a;
}

std::string Str(const boost::json::object& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : "";
}

// The stdout line (event) with this id, parsed; empty when absent.
boost::json::object EventById(Process& p, const std::string& id) {
  for (const auto& line : p.StdoutLines()) {
    auto v = ParseJson(line);
    if (v.is_object() && Str(v.as_object(), "id") == id) return v.as_object();
  }
  return {};
}

const std::vector<std::string> kSources = {
    "--webhookgw-source",
    "stripe:secret=whsec_new,secret2=whsec_old,scheme=stripe",
    "--webhookgw-source",
    "gh:secret=gh_secret",
    "--webhookgw-source",
    "slack:secret=slk_secret,scheme=slack",
    "--webhookgw-source",
    "shop:secret=shp_secret,scheme=shopify,prefix=shopify",
    "--webhookgw-source",
    "gen:secret=gen_secret",
    "--webhookgw-source",
    "open",
    "--webhookgw-max-body",
    "4096",
    "-a",
    "stdout"};

TEST(WebhookGatewayScenario, EverySchemeBecomesAnEvent) {
  auto p = StartGateway(Args("127.0.0.1:0", kSources));
  ASSERT_TRUE(p);
  const std::string addr = p->HttpAddr().value_or("");
  struct Case {
    std::string name, path, body;
    std::vector<std::string> headers;
    std::string channel;
  };
  const std::string stripe_body = R"({"id":"evt_1","type":"charge.succeeded"})";
  const std::string t = Now();
  const std::string slack_body = "token=x&command=%2Fdeploy&text=now";
  const std::string slack_ts = Now();
  const std::vector<Case> cases = {
      {"stripe (new secret)",
       "/ingest/stripe",
       stripe_body,
       {"Stripe-Signature: t=" + t + ",v1=" + OpensslHmac("whsec_new", t + "." + stripe_body)},
       "pgcdc:stripe.charge.succeeded"},
      {"stripe (old secret, rotation)",
       "/ingest/stripe",
       R"({"id":"evt_2"})",
       {"Stripe-Signature: t=" + t + ",v1=" + OpensslHmac("whsec_old", t + R"(.{"id":"evt_2"})")},
       "pgcdc:stripe"},
      {"github",
       "/ingest/gh/issues",
       R"({"action":"opened"})",
       {"X-Hub-Signature-256: sha256=" + OpensslHmac("gh_secret", R"({"action":"opened"})")},
       "pgcdc:gh.issues"},
      {"slack",
       "/ingest/slack",
       slack_body,
       {"X-Slack-Request-Timestamp: " + slack_ts,
        "X-Slack-Signature: v0=" + OpensslHmac("slk_secret", "v0:" + slack_ts + ":" + slack_body)},
       "pgcdc:slack"},
      {"shopify",
       "/ingest/shop",
       R"({"type":"orders create"})",
       {"X-Shopify-Hmac-Sha256: " + OpensslHmac("shp_secret", R"({"type":"orders create"})", true)},
       "shopify.orders_create"},
      {"generic",
       "/ingest/gen",
       "[1,2,3]",
       {"X-Signature: " + OpensslHmac("gen_secret", "[1,2,3]")},
       "pgcdc:gen"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Answer a = Post(addr, c.path, c.body, c.headers);
    ASSERT_EQ(a.status, 200) << boost::json::serialize(a.body);
    EXPECT_EQ(a.content_type, "application/json");
    EXPECT_EQ(Str(a.body, "status"), "ok");
    const std::string id = Str(a.body, "event_id");
    ASSERT_TRUE(Eventually([&] { return !EventById(*p, id).empty(); })) << p->Stderr();
    auto event = EventById(*p, id);
    EXPECT_EQ(Str(event, "channel"), c.channel);
    EXPECT_EQ(Str(event, "operation"), "INSERT");
    EXPECT_EQ(Str(event, "source"), "webhook_gateway");
    if (c.name == "slack") {
      EXPECT_EQ(Str(event["payload"].as_object(), "raw"), slack_body);  // not JSON
    } else {
      EXPECT_EQ(boost::json::serialize(event["payload"]),
                boost::json::serialize(ParseJson(c.body)));
    }
  }
  // A source without a secret takes anything; a non-JSON body is wrapped.
  Answer raw = Post(addr, "/ingest/open", "plain text, not JSON");
  ASSERT_EQ(raw.status, 200);
  ASSERT_TRUE(Eventually([&] { return !EventById(*p, Str(raw.body, "event_id")).empty(); }));
  EXPECT_EQ(boost::json::serialize(EventById(*p, Str(raw.body, "event_id"))["payload"]),
            R"({"raw":"plain text, not JSON"})");
  EXPECT_EQ(ScrapeMetric(*p, R"(pgcdc_webhook_gateway_raw_payloads_total{source="open"})"), 1);
  EXPECT_EQ(ScrapeMetric(*p, R"(pgcdc_webhook_gateway_received_total{source="stripe"})"), 2);
}

TEST(WebhookGatewayScenario, BadRequestsGetJsonErrorsAndAreCounted) {
  auto p = StartGateway(Args("127.0.0.1:0", kSources));
  ASSERT_TRUE(p);
  const std::string addr = p->HttpAddr().value_or("");
  const std::string body = R"({"id":"evt_9"})";
  auto stripe_at = [&](int64_t t, const std::string& secret) {
    const std::string ts = std::to_string(t);
    return "Stripe-Signature: t=" + ts + ",v1=" + OpensslHmac(secret, ts + "." + body);
  };
  const int64_t now = std::time(nullptr);
  struct Case {
    std::string name, path, body;
    std::vector<std::string> headers;
    int status;
    std::string error;
    std::string method = "POST";
  };
  const std::vector<Case> cases = {
      {"wrong secret",
       "/ingest/stripe",
       body,
       {stripe_at(now, "nope")},
       401,
       "signature validation failed"},
      {"stale stripe",
       "/ingest/stripe",
       body,
       {stripe_at(now - 600, "whsec_new")},
       401,
       "signature validation failed"},
      {"stripe from the future",
       "/ingest/stripe",
       body,
       {stripe_at(now + 600, "whsec_new")},
       401,
       "signature validation failed"},
      {"no signature", "/ingest/gh", body, {}, 401, "signature validation failed"},
      {"tampered body",
       "/ingest/gen",
       body + " ",
       {"X-Signature: " + OpensslHmac("gen_secret", body)},
       401,
       "signature validation failed"},
      {"stale slack",
       "/ingest/slack",
       body,
       {"X-Slack-Request-Timestamp: " + std::to_string(now - 600),
        "X-Slack-Signature: v0=" +
            OpensslHmac("slk_secret", "v0:" + std::to_string(now - 600) + ":" + body)},
       401,
       "signature validation failed"},
      {"oversize", "/ingest/open", std::string(5000, 'x'), {}, 413, "request body too large"},
      {"oversize beyond the server's default limit",
       "/ingest/open",
       std::string(1100000, 'x'),
       {},
       413,
       "request body too large"},
      {"unknown source", "/ingest/nope", body, {}, 404, "unknown source"},
      {"GET", "/ingest/open", "", {}, 405, "method not allowed", "GET"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Answer a = Post(addr, c.path, c.body, c.headers, c.method);
    EXPECT_EQ(a.status, c.status);
    EXPECT_EQ(a.content_type, "application/json");
    EXPECT_EQ(Str(a.body, "error"), c.error);
  }
  EXPECT_EQ(ScrapeMetric(*p, R"(pgcdc_webhook_gateway_signature_failures_total{source="stripe"})"),
            3);
  EXPECT_EQ(
      ScrapeMetric(*p, R"(pgcdc_webhook_gateway_requests_total{source="stripe",status="401"})"), 3);
  EXPECT_EQ(ScrapeMetric(*p, R"(pgcdc_webhook_gateway_oversize_total{source="open"})"), 2);
  EXPECT_EQ(
      ScrapeMetric(*p, R"(pgcdc_webhook_gateway_requests_total{source="_unknown",status="404"})"),
      1);
  EXPECT_TRUE(p->StdoutLines().empty()) << p->StdoutLines().front();
}

TEST(WebhookGatewayScenario, RetriesWithAnIdempotencyKeyBecomeOneEvent) {
  auto p = StartGateway(Args("127.0.0.1:0", kSources));
  ASSERT_TRUE(p);
  const std::string addr = p->HttpAddr().value_or("");
  const std::string gh_body = R"({"action":"closed"})";
  const std::vector<std::string> gh = {
      "X-Hub-Signature-256: sha256=" + OpensslHmac("gh_secret", gh_body),
      "X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958"};
  Answer first = Post(addr, "/ingest/gh", gh_body, gh);
  Answer again = Post(addr, "/ingest/gh", gh_body, gh);
  ASSERT_EQ(first.status, 200);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(Str(again.body, "event_id"), Str(first.body, "event_id"));
  // Idempotency-Key on a plain source, and the Stripe event id.
  Answer k1 = Post(addr, "/ingest/open", R"({"n":1})", {"Idempotency-Key: order-1"});
  Answer k2 = Post(addr, "/ingest/open", R"({"n":1})", {"Idempotency-Key: order-1"});
  Answer other = Post(addr, "/ingest/open", R"({"n":2})", {"Idempotency-Key: order-2"});
  EXPECT_EQ(Str(k1.body, "event_id"), Str(k2.body, "event_id"));
  EXPECT_NE(Str(k1.body, "event_id"), Str(other.body, "event_id"));
  const std::string stripe_body = R"({"id":"evt_same","type":"invoice.paid"})";
  std::string stripe_ids;
  for (int i = 0; i < 2; ++i) {
    const std::string t = Now();
    Answer s = Post(
        addr, "/ingest/stripe", stripe_body,
        {"Stripe-Signature: t=" + t + ",v1=" + OpensslHmac("whsec_new", t + "." + stripe_body)});
    ASSERT_EQ(s.status, 200);
    stripe_ids += Str(s.body, "event_id") + " ";
  }
  EXPECT_EQ(stripe_ids.substr(0, stripe_ids.size() / 2), stripe_ids.substr(stripe_ids.size() / 2));
  // Keys are per source: the same key on another source is a new delivery.
  Answer gen =
      Post(addr, "/ingest/gen", "{}",
           {"X-Signature: " + OpensslHmac("gen_secret", "{}"), "Idempotency-Key: order-1"});
  EXPECT_NE(Str(gen.body, "event_id"), Str(k1.body, "event_id"));
  ASSERT_TRUE(p->WaitForLines(5)) << p->Stderr();
  ASSERT_FALSE(Eventually([&] { return p->StdoutLines().size() > 5; }, 500ms))
      << "a retry was emitted again";
  EXPECT_EQ(ScrapeMetric(*p, R"(pgcdc_webhook_gateway_duplicates_total{source="gh"})"), 1);
  EXPECT_EQ(ScrapeMetric(*p, R"(pgcdc_webhook_gateway_duplicates_total{source="open"})"), 1);
  EXPECT_EQ(ScrapeMetric(*p, R"(pgcdc_webhook_gateway_duplicates_total{source="stripe"})"), 1);
}

TEST(WebhookGatewayScenario, DeliveredAckMeansTheEventIsInTheFile) {
  TempDir dir;
  const std::string file = dir.path + "/events.jsonl";
  auto p = StartGateway(Args("127.0.0.1:0", {"--webhookgw-source", "app", "--webhookgw-ack",
                                             "delivered", "-a", "file", "--file-path", file}));
  ASSERT_TRUE(p);
  const std::string addr = p->HttpAddr().value_or("");
  for (int i = 0; i < 20; ++i) {
    Answer a = Post(addr, "/ingest/app", "{\"n\":" + std::to_string(i) + "}");
    ASSERT_EQ(a.status, 200);
    // No waiting: the 200 came after the file sink flushed the event.
    bool found = false;
    for (const auto& line : ReadFileLines(file)) {
      found = found || line.find(Str(a.body, "event_id")) != std::string::npos;
    }
    EXPECT_TRUE(found) << "acknowledged event " << i << " is not in the file yet";
  }
}

TEST(WebhookGatewayScenario, NeedsASourceAndTheHttpServer) {
  auto [code, err] = RunToExit({"listen", "--detector", "webhook_gateway"});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("at least one source is required"), std::string::npos) << err;
  std::tie(code, err) =
      RunToExit({"listen", "--detector", "webhook_gateway", "--webhookgw-source", "a:scheme=md5"});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("unknown scheme"), std::string::npos) << err;
  std::tie(code, err) = RunToExit(
      {"listen", "--detector", "webhook_gateway", "--webhookgw-source", "a", "--http-addr", ""});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(err.find("http_addr"), std::string::npos) << err;
}

TEST(WebhookGatewayScenario, ShutdownAnswers503ToUndeliveredRequests) {
  // stdout is not read, so a 1 MB event cannot be delivered: its request waits
  // until SIGTERM, then gets 503 and the caller knows to retry.
  auto p = StartGateway(Args(
      "127.0.0.1:0", {"--webhookgw-source", "app", "-a", "stdout", "--shutdown-timeout", "1s"}));
  ASSERT_TRUE(p);
  const std::string addr = p->HttpAddr().value_or("");
  p->PauseStdout();
  std::optional<HttpResult> answer;
  std::thread client([&] {
    answer = HttpSend(addr, "POST", "/ingest/app", {},
                      "{\"big\":\"" + std::string(1000000, 'x') + "\"}", 20s);
  });
  ASSERT_TRUE(Eventually(
      [&] { return ScrapeMetric(*p, "pgcdc_webhook_gateway_pending").value_or(0) == 1; }));
  p->Signal(SIGTERM);
  client.join();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 503);
  EXPECT_NE(answer->body.find("request cancelled"), std::string::npos) << answer->body;
  p->ResumeStdout();
  p->Wait();
}

TEST(WebhookGatewayScenario, SlowDeliveryAnswers503AfterTheAckTimeout) {
  auto p = StartGateway(Args("127.0.0.1:0", {"--webhookgw-source", "app", "-a", "stdout",
                                             "--webhookgw-ack-timeout", "300ms"}));
  ASSERT_TRUE(p);
  const std::string addr = p->HttpAddr().value_or("");
  p->PauseStdout();  // a 1 MB event cannot be delivered now
  const std::string big = "{\"big\":\"" + std::string(1000000, 'x') + "\"}";
  auto answer = HttpSend(addr, "POST", "/ingest/app", {"Idempotency-Key: k"}, big, 10s);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 503);
  EXPECT_NE(answer->body.find("delivery timed out"), std::string::npos) << answer->body;
  EXPECT_EQ(ScrapeMetric(*p, R"(pgcdc_webhook_gateway_errors_total{source="app"})"), 1);
  p->ResumeStdout();
  // The key was forgotten: the retry is a new delivery, answered once delivered.
  auto retry = HttpSend(addr, "POST", "/ingest/app", {"Idempotency-Key: k"}, big, 10s);
  ASSERT_TRUE(retry.has_value());
  EXPECT_EQ(retry->status, 200) << retry->body;
  EXPECT_EQ(retry->body.find("duplicate"), std::string::npos) << retry->body;
}

TEST(WebhookGatewayScenario, ARetryWhileTheFirstWaitsGetsTheFirstOutcome) {
  auto p = StartGateway(Args("127.0.0.1:0", {"--webhookgw-source", "app", "-a", "stdout"}));
  ASSERT_TRUE(p);
  const std::string addr = p->HttpAddr().value_or("");
  p->PauseStdout();  // the first request's 1 MB event waits for delivery
  const std::string big = "{\"big\":\"" + std::string(1000000, 'x') + "\"}";
  std::optional<HttpResult> first, retry;
  std::thread a(
      [&] { first = HttpSend(addr, "POST", "/ingest/app", {"Idempotency-Key: k"}, big, 20s); });
  ASSERT_TRUE(Eventually(
      [&] { return ScrapeMetric(*p, "pgcdc_webhook_gateway_pending").value_or(0) == 1; }));
  std::thread b(
      [&] { retry = HttpSend(addr, "POST", "/ingest/app", {"Idempotency-Key: k"}, big, 20s); });
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, R"(pgcdc_webhook_gateway_duplicates_total{source="app"})")
               .value_or(0) == 1;
  }));
  p->ResumeStdout();
  a.join();
  b.join();
  ASSERT_TRUE(first && retry);
  ASSERT_EQ(first->status, 200) << first->body;
  ASSERT_EQ(retry->status, 200) << retry->body;
  const std::string id = Str(ParseJson(first->body).as_object(), "event_id");
  EXPECT_EQ(Str(ParseJson(retry->body).as_object(), "event_id"), id);
  ASSERT_TRUE(p->WaitForLines(1));
  EXPECT_FALSE(Eventually([&] { return p->StdoutLines().size() > 1; }, 300ms));
}

TEST(WebhookGatewayScenario, SourcesFromTheConfigFile) {
  TempDir dir;
  const std::string config = dir.Write("pgcdc.yaml", R"(webhook_gateway:
  sources:
    billing:
      secret: "new,with,commas"
      secondary_secret: old
      channel_prefix: payments
      scheme: github
)");
  auto p = StartGateway(Args("127.0.0.1:0", {"--config", config, "-a", "stdout"}));
  ASSERT_TRUE(p);
  const std::string addr = p->HttpAddr().value_or("");
  const std::string body = R"({"type":"invoice paid"})";
  for (const char* secret : {"new,with,commas", "old"}) {
    Answer a = Post(addr, "/ingest/billing", body,
                    {"X-Hub-Signature-256: sha256=" + OpensslHmac(secret, body)});
    ASSERT_EQ(a.status, 200) << secret;
    ASSERT_TRUE(Eventually([&] { return !EventById(*p, Str(a.body, "event_id")).empty(); }));
    EXPECT_EQ(Str(EventById(*p, Str(a.body, "event_id")), "channel"), "payments.invoice_paid");
  }
  EXPECT_EQ(Post(addr, "/ingest/billing", body,
                 {"X-Hub-Signature-256: sha256=" + OpensslHmac("new", body)})
                .status,
            401);
}

// Posts events 1..n from `threads` concurrent clients (client t posts the
// numbers = t mod threads, in order), each retried on a new connection until
// it is answered 200; records the acknowledged event ids.
class Poster {
 public:
  Poster(std::string addr, int n, int threads) : addr_(std::move(addr)), n_(n) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, t, threads] { Run(t + 1, threads); });
    }
  }
  ~Poster() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  int acked() const { return acked_.load(); }
  bool done() const { return acked_.load() == n_; }
  std::map<int, std::string> acks() {
    std::lock_guard lock(mu_);
    return acks_;
  }

 private:
  void Run(int first, int step) {
    for (int i = first; i <= n_ && !stop_; i += step) {
      const auto deadline = Clock::now() + 60s;
      while (!stop_ && Clock::now() < deadline) {
        auto r = HttpSend(addr_, "POST", "/ingest/app", {"Idempotency-Key: n-" + std::to_string(i)},
                          "{\"n\":" + std::to_string(i) + "}", 2s);
        if (r && r->status == 200) {
          auto v = ParseJson(r->body);
          std::lock_guard lock(mu_);
          acks_[i] = Str(v.as_object(), "event_id");
          break;
        }
        std::this_thread::yield();  // the next attempt opens a new connection
      }
      ++acked_;
    }
  }
  std::string addr_;
  int n_;
  std::atomic<bool> stop_{false};
  std::atomic<int> acked_{0};
  std::mutex mu_;
  std::map<int, std::string> acks_;
  std::vector<std::thread> threads_;
};

// Two sinks: a file, and stdout, which the test stops reading before each
// kill so its events pile up undelivered. An event answered 200 must be in
// both; with --webhookgw-ack enqueued this test fails (events acknowledged
// while stdout was stalled are lost).
TEST(WebhookGatewayScenario, KillNineLosesNoAcknowledgedEvent) {
  TempDir dir;
  const std::string file = dir.path + "/events.jsonl";
  const std::string addr = "127.0.0.1:" + std::to_string(FreeTcpPort());
  const auto args = Args(addr, {"--webhookgw-source", "app", "-a", "file", "-a", "stdout",
                                "--file-path", file, "--file-max-size", "0"});
  constexpr int kEvents = 3000;
  auto p = StartGateway(args);
  ASSERT_TRUE(p);
  Poster poster(addr, kEvents, /*threads=*/8);
  std::set<std::string> stdout_ids;
  auto collect = [&](Process& proc) {
    for (const auto& line : proc.StdoutLines()) {
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (!ec && v.is_object()) stdout_ids.insert(Str(v.as_object(), "id"));
    }
  };
  for (int round = 0; round < 3; ++round) {
    const int target = (round + 1) * kEvents / 4;
    ASSERT_TRUE(Eventually([&] { return poster.acked() >= target; }, 60s))
        << "round " << round << ": " << poster.acked() << " acknowledged";
    // Stall stdout until its pipe and the bus queue fill up (with ack=delivered
    // the posters stall too: give it a second), then kill.
    p->PauseStdout();
    const int paused_at = poster.acked();
    (void)Eventually([&] { return poster.acked() >= paused_at + 2000; }, 1s);
    std::cerr << "kill -9 after " << poster.acked() << " acknowledged (" << paused_at
              << " when stdout stalled)\n";
    p->Signal(SIGKILL);
    p->ResumeStdout();
    p->Wait();
    collect(*p);
    p = StartGateway(args);
    ASSERT_TRUE(p);
  }
  ASSERT_TRUE(Eventually([&] { return poster.done(); }, 120s));
  const auto acks = poster.acks();
  ASSERT_EQ(acks.size(), static_cast<size_t>(kEvents));
  p->Signal(SIGTERM);
  p->Wait();
  collect(*p);
  std::set<std::string> file_ids;
  std::set<int64_t> numbers;
  for (const auto& line : ReadFileLines(file)) {
    boost::system::error_code ec;
    auto v = boost::json::parse(line, ec);
    if (ec || !v.is_object()) continue;  // a line torn by the kill (never an acknowledged one)
    file_ids.insert(Str(v.as_object(), "id"));
    numbers.insert(v.as_object()["payload"].as_object()["n"].as_int64());
  }
  int missing_file = 0;
  int missing_stdout = 0;
  for (const auto& [n, id] : acks) {
    if (!file_ids.contains(id)) ++missing_file;
    if (!stdout_ids.contains(id)) ++missing_stdout;
  }
  EXPECT_EQ(missing_file, 0) << "acknowledged events missing from the file";
  EXPECT_EQ(missing_stdout, 0) << "acknowledged events missing from stdout";
  EXPECT_EQ(numbers.size(), static_cast<size_t>(kEvents));
}

}  // namespace
}  // namespace pgcdc::testing
