#include "detector/webhook_gateway/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <charconv>
#include <utility>

#include "core/bytes.h"
#include "core/json.h"

namespace pgcdc::detector::webhook_gateway {

namespace {

constexpr std::array<std::pair<std::string_view, Scheme>, 6> kSchemeNames = {{
    {"auto", Scheme::kAuto},
    {"stripe", Scheme::kStripe},
    {"github", Scheme::kGithub},
    {"slack", Scheme::kSlack},
    {"shopify", Scheme::kShopify},
    {"generic", Scheme::kGeneric},
}};

constexpr std::string_view kSlackTimestamp = "x-slack-request-timestamp";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool Fresh(int64_t ts, int64_t now, int64_t tolerance) {
  // Far-future timestamps are refused like stale ones (a clock that is off
  // by more than the tolerance, or a forged value kept for later replay).
  const int64_t diff = now > ts ? now - ts : ts - now;
  return diff <= tolerance;
}

// True when any secret's HMAC over `data` equals any of `digests`.
bool AnyMatch(const std::vector<std::string>& secrets, std::string_view data,
              const std::vector<std::string>& digests) {
  bool ok = false;
  for (const auto& secret : secrets) {
    const std::string mac = HmacSha256(secret, data);
    for (const auto& d : digests) ok = ConstantTimeEquals(mac, d) || ok;
  }
  return ok;
}

VerifyResult VerifyStripe(const VerifyConfig& c, std::string_view value, std::string_view body,
                          int64_t now) {
  std::optional<int64_t> ts;
  std::string_view ts_text;
  std::vector<std::string> digests;
  while (!value.empty()) {
    const size_t comma = value.find(',');
    const std::string_view part = Trim(value.substr(0, comma));
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view k = part.substr(0, eq);
    const std::string_view v = part.substr(eq + 1);
    if (k == "t") {
      ts = ParseInt(v);
      ts_text = v;
    } else if (k == "v1") {
      if (auto d = DecodeHex(v)) digests.push_back(std::move(*d));
    }
  }
  if (!ts || digests.empty()) return VerifyResult::kMalformed;
  if (!Fresh(*ts, now, c.tolerance_seconds)) return VerifyResult::kStale;
  std::string signed_payload;
  signed_payload.reserve(ts_text.size() + 1 + body.size());
  signed_payload.append(ts_text).append(".").append(body);
  return AnyMatch(c.secrets, signed_payload, digests) ? VerifyResult::kOk : VerifyResult::kMismatch;
}

VerifyResult VerifySlack(const VerifyConfig& c, std::string_view value,
                         const std::map<std::string, std::string>& headers, std::string_view body,
                         int64_t now) {
  auto ts_it = headers.find(std::string(kSlackTimestamp));
  if (ts_it == headers.end() || !value.starts_with("v0=")) return VerifyResult::kMalformed;
  const std::string_view ts_text = Trim(ts_it->second);
  const auto ts = ParseInt(ts_text);
  auto digest = DecodeHex(value.substr(3));
  if (!ts || !digest) return VerifyResult::kMalformed;
  if (!Fresh(*ts, now, c.tolerance_seconds)) return VerifyResult::kStale;
  std::string base;
  base.reserve(4 + ts_text.size() + body.size());
  base.append("v0:").append(ts_text).append(":").append(body);
  return AnyMatch(c.secrets, base, {std::move(*digest)}) ? VerifyResult::kOk
                                                         : VerifyResult::kMismatch;
}

// github, shopify and generic: a digest of the body alone.
VerifyResult VerifyBodyDigest(const VerifyConfig& c, Scheme scheme, std::string_view value,
                              std::string_view body) {
  std::optional<std::string> digest;
  if (scheme == Scheme::kGithub) {
    if (!value.starts_with("sha256=")) return VerifyResult::kMalformed;
    digest = DecodeHex(value.substr(7));
  } else if (scheme == Scheme::kShopify) {
    digest = DecodeBase64(value);
  } else {
    digest = DecodeHex(value);
  }
  if (!digest) return VerifyResult::kMalformed;
  return AnyMatch(c.secrets, body, {std::move(*digest)}) ? VerifyResult::kOk
                                                         : VerifyResult::kMismatch;
}

Scheme DetectScheme(std::string_view header, std::string_view value) {
  if (header == "stripe-signature" || value.starts_with("t=")) return Scheme::kStripe;
  if (header == "x-hub-signature-256" || value.starts_with("sha256=")) return Scheme::kGithub;
  if (header == "x-slack-signature" || value.starts_with("v0=")) return Scheme::kSlack;
  if (header == "x-shopify-hmac-sha256") return Scheme::kShopify;
  return Scheme::kGeneric;
}

}  // namespace

std::string_view SchemeName(Scheme scheme) {
  for (const auto& [name, s] : kSchemeNames) {
    if (s == scheme) return name;
  }
  return "auto";
}

std::optional<Scheme> ParseScheme(std::string_view name) {
  for (const auto& [n, s] : kSchemeNames) {
    if (n == name) return s;
  }
  return std::nullopt;
}

std::string_view DefaultHeader(Scheme scheme) {
  switch (scheme) {
    case Scheme::kStripe:
      return "stripe-signature";
    case Scheme::kGithub:
      return "x-hub-signature-256";
    case Scheme::kSlack:
      return "x-slack-signature";
    case Scheme::kShopify:
      return "x-shopify-hmac-sha256";
    case Scheme::kAuto:
    case Scheme::kGeneric:
      break;
  }
  return "x-signature";
}

std::string_view VerifyResultName(VerifyResult result) {
  switch (result) {
    case VerifyResult::kOk:
      return "ok";
    case VerifyResult::kMissing:
      return "missing signature";
    case VerifyResult::kMalformed:
      return "malformed signature";
    case VerifyResult::kMismatch:
      return "signature mismatch";
    case VerifyResult::kStale:
      return "timestamp outside tolerance";
  }
  return "unknown";
}

Resolved ResolveScheme(const VerifyConfig& config,
                       const std::map<std::string, std::string>& headers) {
  if (config.scheme != Scheme::kAuto) {
    return {config.scheme,
            config.header.empty() ? std::string(DefaultHeader(config.scheme)) : config.header};
  }
  std::string header = config.header;
  if (header.empty()) {
    header = std::string(DefaultHeader(Scheme::kGeneric));
    for (Scheme s : {Scheme::kStripe, Scheme::kGithub, Scheme::kSlack, Scheme::kShopify}) {
      if (headers.contains(std::string(DefaultHeader(s)))) {
        header = std::string(DefaultHeader(s));
        break;
      }
    }
  }
  auto it = headers.find(header);
  const std::string_view value = it == headers.end() ? std::string_view() : Trim(it->second);
  return {DetectScheme(header, value), std::move(header)};
}

VerifyResult Verify(const VerifyConfig& config, const std::map<std::string, std::string>& headers,
                    std::string_view body, int64_t now_unix) {
  if (config.secrets.empty()) return VerifyResult::kOk;
  const Resolved r = ResolveScheme(config, headers);
  auto it = headers.find(r.header);
  if (it == headers.end() || Trim(it->second).empty()) return VerifyResult::kMissing;
  const std::string_view value = Trim(it->second);
  switch (r.scheme) {
    case Scheme::kStripe:
      return VerifyStripe(config, value, body, now_unix);
    case Scheme::kSlack:
      return VerifySlack(config, value, headers, body, now_unix);
    default:
      return VerifyBodyDigest(config, r.scheme, value, body);
  }
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  const unsigned char* ok = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                                 reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                                 reinterpret_cast<unsigned char*>(out.data()), &len);
  out.resize(ok == nullptr ? 0 : len);
  return out;
}

std::optional<std::string> DecodeHex(std::string_view hex) {
  if (hex.empty() || hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = json::HexValue(hex[i]);
    const int lo = json::HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

}  // namespace pgcdc::detector::webhook_gateway
