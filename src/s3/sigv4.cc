#include "s3/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <ctime>

#include "core/escape.h"
#include "core/json.h"

namespace pgcdc::s3 {

namespace {

using Digest = std::string;  // raw 32 bytes

Digest Hmac(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return {reinterpret_cast<const char*>(md), len};
}

std::string Hex(std::string_view raw) {
  std::string out;
  json::AppendHex(out, raw);
  return out;
}

Digest SigningKey(std::string_view secret, std::string_view date, std::string_view region,
                  std::string_view service) {
  const Digest k_date = Hmac("AWS4" + std::string(secret), date);
  const Digest k_region = Hmac(k_date, region);
  const Digest k_service = Hmac(k_region, service);
  return Hmac(k_service, "aws4_request");
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and collapses runs of spaces, as SigV4 canonical header values want.
std::string CanonicalValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> SortedHeaders(const SignedRequest& request) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(request.headers.size());
  for (const auto& [name, value] : request.headers) {
    out.emplace_back(Lower(name), CanonicalValue(value));
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return Hex(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::string UriEncode(std::string_view s, bool keep_slash) { return PercentEncode(s, keep_slash); }

std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [k, v] : query) encoded.emplace_back(UriEncode(k, false), UriEncode(v, false));
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out.push_back('&');
    out.append(k).append("=").append(v);
  }
  return out;
}

std::string SignedHeaderNames(const SignedRequest& request) {
  std::string out;
  for (const auto& [name, value] : SortedHeaders(request)) {
    if (!out.empty()) out.push_back(';');
    out.append(name);
  }
  return out;
}

std::string CanonicalRequest(const SignedRequest& request) {
  std::string out = request.method;
  out.append("\n").append(request.canonical_uri.empty() ? "/" : request.canonical_uri);
  out.append("\n").append(CanonicalQuery(request.query)).append("\n");
  for (const auto& [name, value] : SortedHeaders(request)) {
    out.append(name).append(":").append(value).append("\n");
  }
  out.append("\n").append(SignedHeaderNames(request));
  out.append("\n").append(request.payload_hash);
  return out;
}

std::string SigningKeyHex(std::string_view secret, std::string_view date, std::string_view region,
                          std::string_view service) {
  return Hex(SigningKey(secret, date, region, service));
}

std::string Authorization(const SignedRequest& request, const Credentials& credentials,
                          std::string_view region, std::string_view service,
                          std::string_view amz_date) {
  const std::string_view date = amz_date.substr(0, 8);
  std::string scope(date);
  scope.append("/").append(region).append("/").append(service).append("/aws4_request");
  std::string to_sign = "AWS4-HMAC-SHA256\n";
  to_sign.append(amz_date).append("\n").append(scope).append("\n");
  to_sign.append(Sha256Hex(CanonicalRequest(request)));
  const std::string signature =
      Hex(Hmac(SigningKey(credentials.secret_access_key, date, region, service), to_sign));
  std::string out = "AWS4-HMAC-SHA256 Credential=";
  out.append(credentials.access_key_id).append("/").append(scope);
  out.append(", SignedHeaders=").append(SignedHeaderNames(request));
  out.append(", Signature=").append(signature);
  return out;
}

std::string AmzDate(int64_t unix_seconds) {
  const auto t = static_cast<time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace pgcdc::s3
