// AWS Signature Version 4 (header-based authentication) for S3 requests,
// computed with OpenSSL (SHA-256, HMAC-SHA256). Pure functions; unit-tested
// against the worked examples in AWS's public SigV4 documentation.
//
//   canonical request = METHOD \n canonical URI \n canonical query \n
//                       canonical headers \n signed headers \n payload hash
//   string to sign    = AWS4-HMAC-SHA256 \n <amz date> \n <scope> \n
//                       hex(sha256(canonical request))
//   signing key       = HMAC chain "AWS4"+secret -> date -> region -> service
//                       -> "aws4_request"
//
// Secrets never leave this file except inside the signature.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgcdc::s3 {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials (x-amz-security-token)
};

struct SignedRequest {
  std::string method;  // GET, PUT, POST, DELETE, HEAD
  // The URI-encoded absolute path ("/bucket/key" path-style, "/key" virtual-hosted).
  std::string canonical_uri;
  // Query parameters, unencoded; sorted and encoded when signed.
  std::vector<std::pair<std::string, std::string>> query;
  // Every header to sign (at least host, x-amz-date, x-amz-content-sha256).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_hash;  // hex SHA-256 of the body, or UNSIGNED-PAYLOAD
};

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// RFC 3986 encoding of everything but unreserved characters (A-Z a-z 0-9 - _ . ~);
// '/' is kept when `keep_slash` (object key paths).
std::string UriEncode(std::string_view s, bool keep_slash);
// "a=1&b=2", keys sorted, both sides encoded (also the wire query string).
std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query);
// "host;x-amz-date;..." (lower-case names, sorted).
std::string SignedHeaderNames(const SignedRequest& request);
std::string CanonicalRequest(const SignedRequest& request);
// Hex of the derived signing key (exposed for the documented test vector).
std::string SigningKeyHex(std::string_view secret, std::string_view date, std::string_view region,
                          std::string_view service);
// The Authorization header value for `request` at `amz_date`
// ("YYYYMMDDTHHMMSSZ", also in the x-amz-date header).
std::string Authorization(const SignedRequest& request, const Credentials& credentials,
                          std::string_view region, std::string_view service,
                          std::string_view amz_date);
// "YYYYMMDDTHHMMSSZ" of a Unix time.
std::string AmzDate(int64_t unix_seconds);

}  // namespace pgcdc::s3
