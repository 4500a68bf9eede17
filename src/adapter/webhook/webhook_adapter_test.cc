#include "adapter/webhook/webhook_adapter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include "config/config.h"
#include "config/core_params.h"
#include "net/http_server.h"
#include "registry/define.h"
#include "registry/test_util.h"

namespace pgcdc::adapter::webhook {
namespace {

using namespace std::chrono_literals;
using middleware::Clock;
using middleware::SendError;

TEST(WebhookHelpers, HmacMatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(WebhookHelpers, RetryAfterSecondsAndDates) {
  EXPECT_EQ(ParseRetryAfter("7", 0), 7000ms);
  EXPECT_EQ(ParseRetryAfter(" 0 ", 0), 0ms);
  // 1994-11-06T08:49:37Z = 784111777
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), 30000ms);
  EXPECT_EQ(ParseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", 784111777 - 2), 2000ms);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 100), 0ms);
  EXPECT_FALSE(ParseRetryAfter("soon", 0));
  EXPECT_FALSE(ParseRetryAfter("", 0));
  EXPECT_FALSE(ParseRetryAfter("-5", 0));
}

TEST(WebhookHelpers, HeadersParseAndRejoinSplitValues) {
  auto h = ParseHeaders({"Authorization: Bearer x:y", "Accept: a", "b", "X-Empty:"});
  ASSERT_TRUE(h) << h.error().message();
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ((*h)[0], (std::pair<std::string, std::string>{"Authorization", "Bearer x:y"}));
  EXPECT_EQ((*h)[1].second, "a, b");
  EXPECT_EQ((*h)[2].second, "");
  EXPECT_FALSE(ParseHeaders({"novalue"}));
  EXPECT_FALSE(ParseHeaders({"Bad Name: x"}));
  EXPECT_FALSE(ParseHeaders({": x"}));
}

TEST(WebhookHelpers, UrlMustBeHttpWithHost) {
  EXPECT_EQ(CheckUrl("http://example.com/x").value(), "example.com");
  EXPECT_EQ(CheckUrl("https://127.0.0.1:8/x?y=1").value(), "127.0.0.1");
  EXPECT_FALSE(CheckUrl("ftp://example.com/"));
  EXPECT_FALSE(CheckUrl("not a url"));
  EXPECT_FALSE(CheckUrl(""));
  EXPECT_FALSE(CheckUrl("http://"));
}

// A local receiver: records requests, answers with `respond`.
class Receiver {
 public:
  using Respond = std::function<net::HttpResponse(const net::HttpRequest&)>;
  explicit Receiver(Respond respond) : server_("test"), respond_(std::move(respond)) {
    for (const char* path : {"/hook", "/ok", "/loop"}) {
      server_.Handle("POST", path, [this](const net::HttpRequest& r) {
        std::lock_guard lock(mu_);
        requests_.push_back(r);
        return respond_(r);
      });
    }
    auto addr = server_.Start({"127.0.0.1", 0});
    EXPECT_TRUE(addr);
    base_ = "http://" + *addr;
  }
  ~Receiver() { server_.Stop(); }
  std::string Url(const std::string& path = "/hook") const { return base_ + path; }
  std::vector<net::HttpRequest> Requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  net::HttpServer server_;
  Respond respond_;
  std::string base_;
  std::mutex mu_;
  std::vector<net::HttpRequest> requests_;
};

net::HttpResponse Status(int code, std::map<std::string, std::string> headers = {}) {
  net::HttpResponse r;
  r.status = code;
  // 204 and 304 must not carry a body.
  if (code != 204 && code != 304) r.body = "{\"status\":" + std::to_string(code) + "}";
  r.headers = std::move(headers);
  return r;
}

struct Sent {
  std::vector<Event> events;
  std::vector<const Event*> ptrs;
  explicit Sent(int n, const std::string& channel = "pgcdc:orders") {
    for (int i = 0; i < n; ++i) {
      events.push_back(MakeEvent(channel, "INSERT", "{\"n\":" + std::to_string(i) + "}", "test"));
    }
    for (auto& e : events) ptrs.push_back(&e);
  }
};

middleware::SendResult SendOnce(WebhookDeliverer& d, const Sent& s, size_t lane = 0) {
  return d.Send(lane, s.ptrs, Clock::now() + 5s);
}

TEST(WebhookDeliverer, SignedEventWithHeaders) {
  Receiver rx([](const net::HttpRequest&) { return Status(200); });
  Options o;
  o.url = rx.Url();
  o.signing_key = "s3cret";
  o.headers = {{"X-Tenant", "acme"}, {"user-agent", "custom-agent"}};
  WebhookDeliverer d(o);
  ASSERT_TRUE(d.Open(2));
  Sent s(1);
  Sent other(2);
  ASSERT_TRUE(SendOnce(d, s));
  ASSERT_TRUE(SendOnce(d, s, 1));
  // The lane's keyed HMAC context is reused: a second body on lane 0.
  ASSERT_TRUE(d.Send(0, std::span(other.ptrs).subspan(1, 1), Clock::now() + 5s));
  auto reqs = rx.Requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const auto& r : reqs) {
    EXPECT_EQ(r.headers.at("x-pgcdc-signature"), "sha256=" + HmacSha256Hex("s3cret", r.body));
  }
  EXPECT_EQ(reqs[2].body, other.events[1].Json());
  const auto& r = reqs[0];
  EXPECT_EQ(r.body, s.events[0].Json());
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("user-agent"), "custom-agent");
  EXPECT_EQ(r.headers.at("x-pgcdc-event-id"), s.events[0].id.ToString());
  EXPECT_EQ(r.headers.at("idempotency-key"), s.events[0].id.ToString());
  EXPECT_EQ(r.headers.at("x-pgcdc-channel"), "pgcdc:orders");
  EXPECT_EQ(r.headers.at("x-tenant"), "acme");
  EXPECT_EQ(r.headers.at("x-pgcdc-signature"), "sha256=" + HmacSha256Hex("s3cret", r.body));
  EXPECT_FALSE(r.headers.contains("x-pgcdc-batch-size"));
  EXPECT_FALSE(r.headers.contains("expect"));
  d.Close();
}

TEST(WebhookDeliverer, BatchIsAJsonArray) {
  Receiver rx([](const net::HttpRequest&) { return Status(204); });
  Options o;
  o.url = rx.Url();
  o.batch = true;
  WebhookDeliverer d(o);
  ASSERT_TRUE(d.Open(1));
  Sent s(3);
  ASSERT_TRUE(SendOnce(d, s));
  auto reqs = rx.Requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body,
            "[" + s.events[0].Json() + "," + s.events[1].Json() + "," + s.events[2].Json() + "]");
  EXPECT_EQ(reqs[0].headers.at("x-pgcdc-batch-size"), "3");
  EXPECT_EQ(reqs[0].headers.at("x-pgcdc-event-id"), s.events[0].id.ToString());
  EXPECT_EQ(reqs[0].headers.at("idempotency-key"),
            s.events[0].id.ToString() + ":" + s.events[2].id.ToString());
  EXPECT_EQ(reqs[0].headers.at("x-pgcdc-channel"), "pgcdc:orders");
}

TEST(WebhookDeliverer, ClassifiesResponses) {
  std::atomic<int> code{200};
  std::map<std::string, std::string> extra;
  Receiver rx([&](const net::HttpRequest& r) {
    if (r.path == "/ok") return Status(200);
    if (r.path == "/loop") return Status(307, {{"Location", "/loop"}});
    return Status(code.load(), extra);
  });
  Options o;
  o.url = rx.Url();
  WebhookDeliverer d(o);
  ASSERT_TRUE(d.Open(1));
  Sent s(1);
  for (int c : {200, 201, 299}) {
    code = c;
    EXPECT_TRUE(SendOnce(d, s)) << c;
  }
  for (int c : {408, 429, 500, 502, 503, 599}) {
    code = c;
    auto r = SendOnce(d, s);
    ASSERT_FALSE(r) << c;
    EXPECT_EQ(r.error().kind, SendError::Kind::kRetryable) << c;
    EXPECT_NE(r.error().message.find("HTTP " + std::to_string(c)), std::string::npos);
    EXPECT_FALSE(r.error().retry_after);
  }
  for (int c : {400, 401, 403, 404, 410, 422, 304}) {
    code = c;
    auto r = SendOnce(d, s);
    ASSERT_FALSE(r) << c;
    EXPECT_EQ(r.error().kind, SendError::Kind::kPermanent) << c;
  }
  code = 429;
  extra = {{"Retry-After", "3"}};
  auto r = SendOnce(d, s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().retry_after, 3000ms);

  // A redirect is followed (POST kept) ...
  code = 308;
  extra = {{"Location", "/ok"}};
  EXPECT_TRUE(SendOnce(d, s));
  EXPECT_EQ(rx.Requests().back().path, "/ok");
  EXPECT_EQ(rx.Requests().back().body, s.events[0].Json());
  // ... but an endless one is permanent.
  Options lo;
  lo.url = rx.Url("/loop");
  WebhookDeliverer loop(lo);
  ASSERT_TRUE(loop.Open(1));
  r = SendOnce(loop, s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, SendError::Kind::kPermanent);
}

TEST(WebhookDeliverer, NetworkErrorsAreRetryable) {
  uint16_t port;
  {
    Receiver rx([](const net::HttpRequest&) { return Status(200); });
    port = static_cast<uint16_t>(std::stoi(rx.Url().substr(rx.Url().rfind(':') + 1)));
  }
  Options o;
  o.url = "http://127.0.0.1:" + std::to_string(port) + "/hook?token=secret";
  WebhookDeliverer d(o);
  ASSERT_TRUE(d.Open(1));
  Sent s(1);
  auto r = SendOnce(d, s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, SendError::Kind::kRetryable);
  EXPECT_EQ(r.error().message.find("secret"), std::string::npos) << r.error().message;
  // A deadline in the past is retryable without sending.
  r = d.Send(0, s.ptrs, Clock::now() - 1ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, SendError::Kind::kRetryable);
}

TEST(WebhookDeliverer, TimeoutIsRetryable) {
  std::atomic<bool> slow{true};
  Receiver rx([&](const net::HttpRequest&) {
    if (slow) std::this_thread::sleep_for(500ms);
    return Status(200);
  });
  Options o;
  o.url = rx.Url();
  WebhookDeliverer d(o);
  ASSERT_TRUE(d.Open(1));
  Sent s(1);
  const auto start = Clock::now();
  auto r = d.Send(0, s.ptrs, Clock::now() + 100ms);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, SendError::Kind::kRetryable);
  EXPECT_LT(Clock::now() - start, 450ms);
}

TEST(WebhookDeliverer, OpenFailsForUnresolvableHost) {
  Options o;
  o.url = "http://no-such-host.invalid/hook";
  WebhookDeliverer d(o);
  auto st = d.Open(1);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("cannot resolve host \"no-such-host.invalid\""),
            std::string::npos)
      << st.error().message();
}

TEST(WebhookDeliverer, OpenFailsForMissingCaFile) {
  Options o;
  o.url = "https://127.0.0.1/hook";
  o.ca_file = "/nonexistent/ca.pem";
  WebhookDeliverer d(o);
  auto st = d.Open(1);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("CA file"), std::string::npos);
}

TEST(WebhookConnector, ParamsAndValidation) {
  auto info = Connector();
  EXPECT_EQ(info.name, "webhook");
  std::vector<std::string> keys;
  for (const auto& p : info.params) keys.push_back(p.key);
  for (const char* k : {"webhook.url", "webhook.signing_key", "webhook.max_retries",
                        "webhook.cb_max_failures", "webhook.rate_limit_burst",
                        "webhook.concurrency", "webhook.batch_size", "webhook.headers"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  }
  const config::CoreSettings core;
  auto load = [&](const std::vector<std::pair<std::string, std::string>>& flags) {
    return testing::BindForTest<Config>(info, flags, core);
  };
  {
    auto [c, errors] = load({{"webhook.url", "http://localhost/x"}});
    EXPECT_TRUE(errors.empty()) << errors[0];
    EXPECT_EQ(c.http.url, "http://localhost/x");
    EXPECT_EQ(c.delivery.max_attempts, 5);
    EXPECT_EQ(c.delivery.attempt_timeout, 10s);
    EXPECT_EQ(c.delivery.backoff_base, 1s);
    EXPECT_EQ(c.delivery.backoff_cap, 32s);
    EXPECT_EQ(c.delivery.breaker_failures, 0);
    EXPECT_EQ(c.delivery.breaker_reset, 60s);
    EXPECT_EQ(c.delivery.concurrency, 1u);
    EXPECT_EQ(c.delivery.batch_size, 1u);
    EXPECT_EQ(c.delivery.rate_limit, 0);
    EXPECT_FALSE(c.delivery.rate_burst);
    EXPECT_EQ(c.http.pipeline, 1u);
    EXPECT_FALSE(c.http.insecure_skip_verify);
  }
  {
    auto [c, errors] = load({{"webhook.url", "http://localhost/x"},
                             {"webhook.rate_limit", "50"},
                             {"webhook.batch_size", "10"},
                             {"webhook.headers", "X-A: 1"},
                             {"webhook.signing_key", "k"}});
    EXPECT_TRUE(errors.empty());
    EXPECT_EQ(middleware::RateBurst(c.delivery), 50);
    EXPECT_EQ(c.delivery.batch_size, 10u);
    EXPECT_EQ(c.headers, std::vector<std::string>{"X-A: 1"});
    EXPECT_EQ(c.http.signing_key, "k");
  }
  // Flags and defaults come from the declarations.
  for (const auto& p : info.params) {
    if (p.key == "webhook.max_retries") {
      EXPECT_EQ(p.flag, "retries");
      EXPECT_EQ(p.default_value, "5");
    } else if (p.key == "webhook.cb_reset_timeout") {
      EXPECT_EQ(p.flag, "webhook-cb-reset");
    } else if (p.key == "webhook.rate_limit_burst") {
      EXPECT_EQ(p.default_value, "");
    }
  }
  {
    config::Sources src;
    src.flags["webhook.url"] = {"http://localhost/x"};
    src.getenv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    auto a = info.make_adapter(config::Load(info.params, src).config, core);
    ASSERT_TRUE(a) << a.error().message();
    EXPECT_EQ((*a)->Name(), "webhook");
  }
  EXPECT_FALSE(load({}).second.empty());
  EXPECT_FALSE(load({{"webhook.url", "ftp://x/"}}).second.empty());
  EXPECT_FALSE(load({{"webhook.url", "http://x/"}, {"webhook.headers", "oops"}}).second.empty());
  EXPECT_FALSE(
      load({{"webhook.url", "http://x/"}, {"webhook.tls_key_file", "k.pem"}}).second.empty());
  EXPECT_FALSE(load({{"webhook.url", "http://x/"},
                     {"webhook.rate_limit", "10"},
                     {"webhook.rate_limit_burst", "0"}})
                   .second.empty());
}

}  // namespace
}  // namespace pgcdc::adapter::webhook
