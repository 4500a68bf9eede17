// Signature verification of inbound webhooks (SPEC §2.8 plus Slack and
// Shopify). Pure functions: no I/O, the clock is a parameter.
//
// Every scheme is HMAC-SHA256 keyed with the source's secret; the digest the
// caller sent is decoded (hex or base64) and compared in constant time.
// Up to two secrets are tried (rotation: the old and the new one).
//
//   stripe   Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]
//            over "<t>.<body>"; |now - t| <= tolerance
//   github   X-Hub-Signature-256: sha256=<hex> over the body
//   slack    X-Slack-Signature: v0=<hex> over "v0:<X-Slack-Request-Timestamp>:<body>";
//            |now - timestamp| <= tolerance
//   shopify  X-Shopify-Hmac-Sha256: base64 of the HMAC over the body
//   generic  <header> (default X-Signature): bare hex HMAC over the body
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgcdc::detector::webhook_gateway {

enum class Scheme { kAuto, kStripe, kGithub, kSlack, kShopify, kGeneric };

// "stripe", "github", ... ("auto" for kAuto).
std::string_view SchemeName(Scheme scheme);
std::optional<Scheme> ParseScheme(std::string_view name);

// The header a scheme reads its signature from (lower-case).
std::string_view DefaultHeader(Scheme scheme);

struct VerifyConfig {
  std::vector<std::string> secrets;  // 1 or 2 (rotation); empty = no verification
  Scheme scheme = Scheme::kAuto;
  std::string header;  // lower-case; empty = the scheme's default (auto: see ResolveScheme)
  int64_t tolerance_seconds = 300;
};

enum class VerifyResult {
  kOk,
  kMissing,    // no signature header
  kMalformed,  // header present but not in the scheme's format
  kMismatch,   // no secret produces the digest sent
  kStale,      // timestamp outside the tolerance (Stripe, Slack)
};
std::string_view VerifyResultName(VerifyResult result);

// Which scheme and header apply to a request. With an explicit scheme, its
// header (or the configured one). With kAuto: the configured header decides
// by its name or value (SPEC: Stripe-Signature or "t=" → stripe,
// X-Hub-Signature-256 or "sha256=" → github; plus X-Slack-Signature or "v0="
// → slack, X-Shopify-Hmac-Sha256 → shopify, else generic); without a
// configured header, the first provider header present, else X-Signature.
struct Resolved {
  Scheme scheme = Scheme::kGeneric;
  std::string header;  // lower-case
};
Resolved ResolveScheme(const VerifyConfig& config,
                       const std::map<std::string, std::string>& headers);

// Verifies a request (headers with lower-case names). `now_unix` is the
// current time in seconds.
VerifyResult Verify(const VerifyConfig& config, const std::map<std::string, std::string>& headers,
                    std::string_view body, int64_t now_unix);

// Building blocks (exposed for tests).
std::string HmacSha256(std::string_view key, std::string_view data);  // 32 raw bytes
std::optional<std::string> DecodeHex(std::string_view hex);

}  // namespace pgcdc::detector::webhook_gateway
