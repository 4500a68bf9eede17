// Known-answer vectors were computed with the openssl CLI, not with this
// code, e.g.:
//   printf '%s' '1700000000.{"id":"evt_1","type":"charge.succeeded"}' |
//     openssl dgst -sha256 -hmac whsec_test
//   printf '%s' '{"id":1}' | openssl dgst -sha256 -hmac shpss -binary | base64
// The Slack vector is also the example of Slack's "Verifying requests" guide.
#include "detector/webhook_gateway/signature.h"

#include <gtest/gtest.h>

#include "core/bytes.h"
#include "core/json.h"

namespace pgcdc::detector::webhook_gateway {
namespace {

using Headers = std::map<std::string, std::string>;

constexpr int64_t kT = 1700000000;
const std::string kStripeBody = R"({"id":"evt_1","type":"charge.succeeded"})";
const std::string kStripeNew = "a3f7d2647ca8af4e7ebbd79c4f9380dbd98ee11b35cf0485b700ca327380e947";
const std::string kStripeOld = "0cd16587247132afe6e9e680518ce0ea0ec946fee279235dad23aeef7b5eab18";

VerifyConfig Config(std::vector<std::string> secrets, Scheme scheme = Scheme::kAuto,
                    std::string header = {}) {
  VerifyConfig c;
  c.secrets = std::move(secrets);
  c.scheme = scheme;
  c.header = std::move(header);
  return c;
}

TEST(SignatureTest, HmacMatchesKnownAnswer) {
  EXPECT_EQ(json::ToHex(HmacSha256("key", "The quick brown fox jumps over the lazy dog")),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST(SignatureTest, Stripe) {
  const Headers h = {{"stripe-signature", "t=1700000000,v1=" + kStripeNew}};
  EXPECT_EQ(Verify(Config({"whsec_test"}), h, kStripeBody, kT), VerifyResult::kOk);
  EXPECT_EQ(Verify(Config({"whsec_test"}), h, kStripeBody, kT + 300), VerifyResult::kOk);
  EXPECT_EQ(Verify(Config({"whsec_test"}), h, kStripeBody, kT + 301), VerifyResult::kStale);
  EXPECT_EQ(Verify(Config({"whsec_test"}), h, kStripeBody, kT - 301), VerifyResult::kStale);
  EXPECT_EQ(Verify(Config({"other"}), h, kStripeBody, kT), VerifyResult::kMismatch);
  EXPECT_EQ(Verify(Config({"whsec_test"}), h, kStripeBody + " ", kT), VerifyResult::kMismatch);
  // Several v1 entries (Stripe sends one per active secret) and a v0.
  const Headers several = {{"stripe-signature", "t=1700000000, v1=" + std::string(64, '0') +
                                                    ", v1=" + kStripeNew + ",v0=abc"}};
  EXPECT_EQ(Verify(Config({"whsec_test"}), several, kStripeBody, kT), VerifyResult::kOk);
  EXPECT_EQ(
      Verify(Config({"whsec_test"}), {{"stripe-signature", "v1=" + kStripeNew}}, kStripeBody, kT),
      VerifyResult::kMalformed);
  EXPECT_EQ(Verify(Config({"whsec_test"}), {{"stripe-signature", "t=x,v1=" + kStripeNew}},
                   kStripeBody, kT),
            VerifyResult::kMalformed);
}

TEST(SignatureTest, SecondSecretForRotation) {
  const Headers old_sig = {{"stripe-signature", "t=1700000000,v1=" + kStripeOld}};
  EXPECT_EQ(Verify(Config({"whsec_test"}), old_sig, kStripeBody, kT), VerifyResult::kMismatch);
  EXPECT_EQ(Verify(Config({"whsec_test", "whsec_old"}), old_sig, kStripeBody, kT),
            VerifyResult::kOk);
  const Headers new_sig = {{"stripe-signature", "t=1700000000,v1=" + kStripeNew}};
  EXPECT_EQ(Verify(Config({"whsec_test", "whsec_old"}), new_sig, kStripeBody, kT),
            VerifyResult::kOk);
}

TEST(SignatureTest, GithubAndGeneric) {
  const std::string body = R"({"action":"opened"})";
  const std::string sig = "b4277092b43931a789931bee582b102e57a681dea0fa82ba07c3c20de4ad9707";
  EXPECT_EQ(Verify(Config({"gh_secret"}), {{"x-hub-signature-256", "sha256=" + sig}}, body, 0),
            VerifyResult::kOk);
  // Upper-case hex decodes to the same bytes.
  std::string upper = sig;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(Verify(Config({"gh_secret"}), {{"x-hub-signature-256", "sha256=" + upper}}, body, 0),
            VerifyResult::kOk);
  EXPECT_EQ(Verify(Config({"gh_secret"}), {{"x-hub-signature-256", sig}}, body, 0),
            VerifyResult::kMalformed);
  // Generic: bare hex in X-Signature (the default header).
  EXPECT_EQ(
      Verify(Config({"gen_secret"}),
             {{"x-signature", "d6f301e72eb7db6f436001ccec5df035428177ffe5df9c5a1b7f9d570021867b"}},
             "hello", 0),
      VerifyResult::kOk);
  EXPECT_EQ(Verify(Config({"gen_secret"}), {{"x-signature", "zz"}}, "hello", 0),
            VerifyResult::kMalformed);
  EXPECT_EQ(Verify(Config({"gen_secret"}), {}, "hello", 0), VerifyResult::kMissing);
  // A configured header is the only one read.
  EXPECT_EQ(Verify(Config({"gh_secret"}, Scheme::kAuto, "x-my-sig"),
                   {{"x-hub-signature-256", "sha256=" + sig}}, body, 0),
            VerifyResult::kMissing);
  EXPECT_EQ(Verify(Config({"gh_secret"}, Scheme::kAuto, "x-my-sig"),
                   {{"x-my-sig", "sha256=" + sig}}, body, 0),
            VerifyResult::kOk);
}

TEST(SignatureTest, Slack) {
  const std::string body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="
      "G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-"
      "collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%"
      "2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121."
      "803a0bc887a14d10d2c447fce8b6703c";
  const Headers h = {
      {"x-slack-signature", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"},
      {"x-slack-request-timestamp", "1531420618"}};
  const VerifyConfig c = Config({"8f742231b10e8888abcd99yyyzzz85a5"});
  EXPECT_EQ(Verify(c, h, body, 1531420618 + 10), VerifyResult::kOk);
  EXPECT_EQ(Verify(c, h, body, 1531420618 + 301), VerifyResult::kStale);
  Headers no_ts = h;
  no_ts.erase("x-slack-request-timestamp");
  EXPECT_EQ(Verify(c, no_ts, body, 1531420618), VerifyResult::kMalformed);
  Headers other_ts = h;
  other_ts["x-slack-request-timestamp"] = "1531420619";
  EXPECT_EQ(Verify(c, other_ts, body, 1531420618), VerifyResult::kMismatch);
}

TEST(SignatureTest, Shopify) {
  const Headers h = {{"x-shopify-hmac-sha256", "hFJO6VJKe4kBKbdqB4Y0kbIIEQ8QBuyXm5SaI/IGi9o="}};
  EXPECT_EQ(Verify(Config({"shpss"}), h, R"({"id":1})", 0), VerifyResult::kOk);
  EXPECT_EQ(Verify(Config({"shpss"}), h, R"({"id":2})", 0), VerifyResult::kMismatch);
  EXPECT_EQ(Verify(Config({"shpss"}), {{"x-shopify-hmac-sha256", "!!"}}, "{}", 0),
            VerifyResult::kMalformed);
}

TEST(SignatureTest, ExplicitSchemePinsTheFormat) {
  // With scheme=github a Stripe-style header is not accepted as Stripe.
  const Headers h = {{"x-hub-signature-256", "t=1700000000,v1=" + kStripeNew}};
  EXPECT_EQ(Verify(Config({"whsec_test"}, Scheme::kGithub), h, kStripeBody, kT),
            VerifyResult::kMalformed);
  EXPECT_EQ(ResolveScheme(Config({"s"}, Scheme::kSlack), {}).header, "x-slack-signature");
  // Auto without a configured header: the provider header present decides.
  EXPECT_EQ(ResolveScheme(Config({"s"}), {{"x-shopify-hmac-sha256", "x"}}).scheme,
            Scheme::kShopify);
  EXPECT_EQ(ResolveScheme(Config({"s"}), {{"x-signature", "t=1,v1=00"}}).scheme, Scheme::kStripe);
  EXPECT_EQ(ResolveScheme(Config({"s"}), {}).scheme, Scheme::kGeneric);
}

TEST(SignatureTest, NoSecretAcceptsEverything) {
  EXPECT_EQ(Verify(Config({}), {}, "anything", 0), VerifyResult::kOk);
}

TEST(SignatureTest, Decoders) {
  EXPECT_EQ(DecodeHex("00ff"), std::string("\x00\xff", 2));
  EXPECT_FALSE(DecodeHex("0"));
  EXPECT_FALSE(DecodeHex(""));
  EXPECT_EQ(DecodeBase64("aGVsbG8="), "hello");
  EXPECT_EQ(DecodeBase64("aGVsbG8"), "hello");
  EXPECT_FALSE(DecodeBase64("a"));
  EXPECT_FALSE(DecodeBase64("aGV*"));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

}  // namespace
}  // namespace pgcdc::detector::webhook_gateway
