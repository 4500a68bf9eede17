#include "adapter/webhook/webhook_adapter.h"

#include <curl/curl.h>
#include <netdb.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <iterator>

#include "adapter/middleware/params.h"
#include "config/config.h"
#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "core/trace_context.h"
#include "net/http1_client.h"
#include "registry/define.h"

#ifndef PGCDC_VERSION
#define PGCDC_VERSION "0.0.0"
#endif

namespace pgcdc::adapter::webhook {

namespace {

using middleware::SendError;
using middleware::SendResult;

constexpr size_t kResponseSnippet = 256;  // response bytes kept for error messages
// A batch ends early rather than let its body pass this (wide rows).
constexpr size_t kMaxBodyBytes = 8u << 20;
constexpr std::string_view kUserAgent = "pgcdc/" PGCDC_VERSION;

void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// RFC 9110 token characters.
bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// Header values must not carry line breaks (header injection).
std::string SafeHeaderValue(std::string_view v) {
  std::string out(v);
  for (char& c : out) {
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
  return out;
}

// Requests by outcome class: 2xx, 3xx, 4xx, 5xx, error (no HTTP response).
struct RequestCounters {
  metrics::Counter* by_class[6];
  RequestCounters() {
    auto& f = metrics::Default().AddCounter("pgcdc_webhook_requests_total",
                                            "Webhook HTTP requests by outcome class (2xx, 3xx, "
                                            "4xx, 5xx, or error when no response arrived).",
                                            {"class"});
    static constexpr const char* kNames[6] = {"error", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 6; ++i) by_class[i] = &f.With({kNames[i]});
  }
  void Count(long status) {
    const long c = status / 100;
    by_class[c >= 1 && c <= 5 ? c : 0]->Inc();
  }
};

RequestCounters& Requests() {
  static RequestCounters counters;
  return counters;
}

size_t OnBody(char* data, size_t size, size_t n, void* user);
size_t OnHeader(char* data, size_t size, size_t n, void* user);

}  // namespace

struct WebhookDeliverer::Lane {
  CURL* curl = nullptr;
  // Pipelined mode (options.pipeline > 1) instead of `curl`.
  std::unique_ptr<net::Http1Connection> conn;
  std::vector<std::string> heads;   // per unit of a window
  std::vector<std::string> bodies;  // array bodies per unit of a window
  std::vector<net::Http1Response> responses;
  std::string body;         // batch body (array of envelopes)
  std::string response;     // first kResponseSnippet bytes of the response body
  std::string retry_after;  // Retry-After of the final response
  std::string header_scratch;
  char error[CURL_ERROR_SIZE] = {};
  // HMAC-SHA256 context keyed once with the signing key (re-initialised per
  // request without a new key, which skips OpenSSL's algorithm lookup).
  EVP_MAC_CTX* hmac = nullptr;
  ~Lane() {
    if (curl != nullptr) curl_easy_cleanup(curl);
    if (hmac != nullptr) EVP_MAC_CTX_free(hmac);
  }
};

namespace {

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* lane = static_cast<WebhookDeliverer::Lane*>(user);
  const size_t len = size * n;
  if (lane->response.size() < kResponseSnippet) {
    lane->response.append(data, std::min(len, kResponseSnippet - lane->response.size()));
  }
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* lane = static_cast<WebhookDeliverer::Lane*>(user);
  const size_t len = size * n;
  std::string_view line(data, len);
  if (line.starts_with("HTTP/")) {
    // A new response (after a redirect or a 100 Continue): forget the old one.
    lane->retry_after.clear();
    lane->response.clear();
    return len;
  }
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() && EqualsIgnoreCase(line.substr(0, kName.size()), kName)) {
    lane->retry_after = Trim(line.substr(kName.size()));
  }
  return len;
}

// scheme://host[:port]/path: the URL without credentials and query, for
// messages and logs (a query often carries a token).
std::string DisplayUrl(std::string_view url) {
  CURLU* u = curl_url();
  std::string out(url);
  if (curl_url_set(u, CURLUPART_URL, std::string(url).c_str(), 0) == CURLUE_OK) {
    auto part = [&](CURLUPart p) {
      char* v = nullptr;
      std::string s;
      if (curl_url_get(u, p, &v, 0) == CURLUE_OK && v != nullptr) s = v;
      curl_free(v);
      return s;
    };
    out = part(CURLUPART_SCHEME) + "://" + part(CURLUPART_HOST);
    if (const std::string port = part(CURLUPART_PORT); !port.empty()) out += ":" + port;
    out += part(CURLUPART_PATH);
  }
  curl_url_cleanup(u);
  return out;
}

}  // namespace

Result<std::string> CheckUrl(std::string_view url) {
  if (url.empty()) return Fail(ErrorCode::kConfig, "webhook.url: required (--url)");
  CURLU* u = curl_url();
  auto done = [&](Result<std::string> r) {
    curl_url_cleanup(u);
    return r;
  };
  const std::string s(url);
  if (CURLUcode rc = curl_url_set(u, CURLUPART_URL, s.c_str(), 0); rc != CURLUE_OK) {
    return done(Fail(ErrorCode::kConfig,
                     "webhook.url: invalid URL \"" + s + "\": " + curl_url_strerror(rc)));
  }
  char* scheme = nullptr;
  char* host = nullptr;
  std::string scheme_s, host_s;
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK && scheme) scheme_s = scheme;
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) host_s = host;
  curl_free(scheme);
  curl_free(host);
  if (scheme_s != "http" && scheme_s != "https") {
    return done(
        Fail(ErrorCode::kConfig, "webhook.url: \"" + s + "\" must be an http:// or https:// URL"));
  }
  if (host_s.empty()) {
    return done(Fail(ErrorCode::kConfig, "webhook.url: \"" + s + "\" has no host"));
  }
  return done(host_s);
}

Result<std::vector<std::pair<std::string, std::string>>> ParseHeaders(
    const std::vector<std::string>& entries) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& raw : entries) {
    const size_t colon = raw.find(':');
    if (colon == std::string::npos) {
      if (!out.empty() && !Trim(raw).empty()) {
        // "Accept: a, b" given as a flag arrives split at the comma.
        out.back().second += ", " + Trim(raw);
        continue;
      }
      return Fail(ErrorCode::kConfig,
                  "webhook.headers: invalid header \"" + raw + "\" (expected \"Name: value\")");
    }
    std::string name = Trim(std::string_view(raw).substr(0, colon));
    std::string value = Trim(std::string_view(raw).substr(colon + 1));
    if (name.empty() || !std::all_of(name.begin(), name.end(), IsTokenChar)) {
      return Fail(ErrorCode::kConfig, "webhook.headers: invalid header name in \"" + raw + "\"");
    }
    if (value.find_first_of("\r\n") != std::string::npos) {
      return Fail(ErrorCode::kConfig,
                  "webhook.headers: header \"" + name + "\" contains a line break");
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

namespace {

// A reusable HMAC-SHA256 context keyed with `key`; null on failure.
EVP_MAC_CTX* NewHmac(std::string_view key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac == nullptr) return nullptr;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  EVP_MAC_free(mac);  // the context keeps its own reference
  if (ctx == nullptr) return nullptr;
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_END};
  if (EVP_MAC_init(ctx, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) !=
      1) {
    EVP_MAC_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

// Appends the hex HMAC of `body` with the context's key; false on failure.
bool AppendHmacHex(EVP_MAC_CTX* ctx, std::string_view body, std::string& out) {
  unsigned char md[EVP_MAX_MD_SIZE];
  size_t md_len = 0;
  if (EVP_MAC_init(ctx, nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size()) != 1 ||
      EVP_MAC_final(ctx, md, &md_len, sizeof md) != 1) {
    return false;
  }
  json::AppendHex(out, std::string_view(reinterpret_cast<const char*>(md), md_len));
  return true;
}

}  // namespace

std::string HmacSha256Hex(std::string_view key, std::string_view body) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), md, &md_len);
  std::string out;
  json::AppendHex(out, std::string_view(reinterpret_cast<const char*>(md), md_len));
  return out;
}

std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value, int64_t now) {
  const std::string v = Trim(value);
  if (v.empty()) return std::nullopt;
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (v.size() > 9) return std::chrono::milliseconds(999'999'999'000);  // absurdly large
    return std::chrono::milliseconds(std::stoll(v) * 1000);
  }
  const time_t t = curl_getdate(v.c_str(), nullptr);
  if (t == -1) return std::nullopt;
  const int64_t delta = static_cast<int64_t>(t) - now;
  return std::chrono::milliseconds(std::max<int64_t>(0, delta) * 1000);
}

WebhookDeliverer::WebhookDeliverer(Options options) : options_(std::move(options)) {}

WebhookDeliverer::~WebhookDeliverer() { Close(); }

namespace {

// Start-up checks after the URL parsed: a typo in the host or an unreadable
// TLS file is a start-up error, not an endless retry.
Status Preflight(const Options& options, std::string host, const std::string& display_url) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0) {
    return Fail(ErrorCode::kConnection, "webhook: cannot resolve host \"" + host + "\" of " +
                                            display_url + ": " + gai_strerror(rc));
  }
  ::freeaddrinfo(res);
  for (const auto& [what, path] : {std::pair{"CA file", &options.ca_file},
                                   {"client certificate", &options.cert_file},
                                   {"client key", &options.key_file}}) {
    if (!path->empty() && ::access(path->c_str(), R_OK) != 0) {
      return Fail(ErrorCode::kConfig, std::string("webhook: cannot read ") + what + " " + *path +
                                          ": " + std::strerror(errno));
    }
  }
  if (options.insecure_skip_verify) {
    log::Warn(
        "webhook: TLS certificate verification is DISABLED "
        "(webhook.tls_insecure_skip_verify); anyone on the path can read and alter events",
        {{"url", display_url}});
  }
  return Ok();
}

// Pipelined mode: our own HTTP/1.1 client, which cannot go through a proxy.
Result<net::Http1Url> PipelineUrl(const Options& options) {
  auto url = net::ParseHttp1Url(options.url);
  if (!url) return Fail(url.error().Wrap("webhook.url (with webhook.pipeline > 1)"));
  for (const char* var :
       {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    const char* v = std::getenv(var);
    if (v != nullptr && *v != '\0') {
      return Fail(ErrorCode::kConfig,
                  std::string("webhook.pipeline > 1 connects directly and cannot use the "
                              "proxy in $") +
                      var + "; unset it or use --webhook-pipeline 1");
    }
  }
  return url;
}

// The lane's HMAC context, keyed once, when events are signed.
Status SetUpSigning(const Options& options, WebhookDeliverer::Lane& lane) {
  if (options.signing_key.empty()) return Ok();
  lane.hmac = NewHmac(options.signing_key);
  if (lane.hmac == nullptr) {
    return Fail(ErrorCode::kUnknown, "webhook: cannot set up HMAC-SHA256 (OpenSSL)");
  }
  return Ok();
}

Status SetUpPipelinedLane(const Options& options, const net::Http1Url& url,
                          WebhookDeliverer::Lane& lane) {
  lane.conn = std::make_unique<net::Http1Connection>(
      url, net::Http1TlsOptions{.ca_file = options.ca_file,
                                .cert_file = options.cert_file,
                                .key_file = options.key_file,
                                .insecure_skip_verify = options.insecure_skip_verify});
  return SetUpSigning(options, lane);
}

// One libcurl easy handle, reused for every request of the lane (keep-alive).
Status SetUpCurlLane(const Options& options, WebhookDeliverer::Lane& lane) {
  CURL* c = curl_easy_init();
  if (c == nullptr) return Fail(ErrorCode::kUnknown, "webhook: curl_easy_init failed");
  lane.curl = c;
  curl_easy_setopt(c, CURLOPT_URL, options.url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, lane.error);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &lane);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &lane);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, options.max_redirects > 0 ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(options.max_redirects));
  curl_easy_setopt(c, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_ALL));
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!options.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str());
  if (!options.cert_file.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, options.cert_file.c_str());
  if (!options.key_file.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, options.key_file.c_str());
  if (options.insecure_skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  return SetUpSigning(options, lane);
}

}  // namespace

Status WebhookDeliverer::Open(size_t lanes) {
  CurlGlobalInit();
  auto host = CheckUrl(options_.url);
  if (!host) return Fail(host.error());
  display_url_ = DisplayUrl(options_.url);
  if (auto st = Preflight(options_, std::move(*host), display_url_); !st) return st;

  std::optional<net::Http1Url> url;  // pipelined mode only
  if (options_.pipeline > 1) {
    auto parsed = PipelineUrl(options_);
    if (!parsed) return Fail(parsed.error());
    url = std::move(*parsed);
    target_ = url->target;
    host_header_ = url->host_header;
  }
  std::vector<std::unique_ptr<Lane>> opened;
  for (size_t i = 0; i < std::max<size_t>(1, lanes); ++i) {
    auto lane = std::make_unique<Lane>();
    auto st = url ? SetUpPipelinedLane(options_, *url, *lane) : SetUpCurlLane(options_, *lane);
    if (!st) return st;
    opened.push_back(std::move(lane));
  }
  const size_t opened_count = opened.size();
  {
    MutexLock lock(lanes_mu_);
    lanes_ = std::move(opened);
  }
  log::Info("webhook: ready", {{"url", display_url_},
                               {"lanes", static_cast<uint64_t>(opened_count)},
                               {"batch", options_.batch},
                               {"pipeline", static_cast<uint64_t>(options_.pipeline)},
                               {"signed", !options_.signing_key.empty()}});
  return Ok();
}

namespace {

// The request body: the cached envelope itself for one event, an array for a
// batch (built in `scratch`).
std::string_view BodyOf(std::span<const Event* const> events, bool batch, std::string& scratch) {
  if (!batch && events.size() == 1) return events[0]->Json();
  scratch.clear();
  scratch.push_back('[');
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) scratch.push_back(',');
    scratch.append(events[i]->Json());
  }
  scratch.push_back(']');
  return scratch;
}

// What an HTTP status means for delivery.
SendResult Classify(long status, const std::string& response, const std::string& retry_after,
                    const std::string& target) {
  Requests().Count(status);
  if (status >= 200 && status < 300) return {};
  std::string msg = "webhook: POST " + target + ": HTTP " + std::to_string(status);
  if (!response.empty()) msg += ": " + SafeHeaderValue(response);
  if (status == 408 || status == 429 || status >= 500) {
    SendError err = SendError::Retryable(std::move(msg));
    if (!retry_after.empty()) {
      err.retry_after = ParseRetryAfter(retry_after, static_cast<int64_t>(::time(nullptr)));
    }
    return std::unexpected(std::move(err));
  }
  if (status >= 300 && status < 400) msg += " (redirect not followed or redirect limit reached)";
  return std::unexpected(SendError::Permanent(std::move(msg)));
}

}  // namespace

// Headers in SPEC order; configured headers replace built-ins of the same
// name; the signature always comes last. Calls emit(name, value) for each.
namespace {

template <typename Emit>
bool ForEachHeader(const Options& options, EVP_MAC_CTX* hmac, std::span<const Event* const> events,
                   std::string_view body, bool array, Emit&& emit) {
  std::vector<std::pair<std::string_view, std::string>> headers;
  headers.reserve(8 + options.headers.size());
  headers.emplace_back("Content-Type", "application/json");
  headers.emplace_back("User-Agent", std::string(kUserAgent));
  headers.emplace_back("X-PGCDC-Event-ID", events[0]->id.ToString());
  // Receivers drop redeliveries by this key: the event id (deterministic for
  // WAL and outbox events, docs/events.md), or first:last id for a batch.
  std::string idempotency_key = events[0]->id.ToString();
  if (events.size() > 1) {
    idempotency_key.push_back(':');
    events.back()->id.AppendTo(idempotency_key);
  }
  headers.emplace_back("Idempotency-Key", std::move(idempotency_key));
  const std::string& channel = events[0]->channel;
  const bool one_channel = std::all_of(events.begin(), events.end(),
                                       [&](const Event* e) { return e->channel == channel; });
  if (one_channel) headers.emplace_back("X-PGCDC-Channel", SafeHeaderValue(channel));
  if (array) headers.emplace_back("X-PGCDC-Batch-Size", std::to_string(events.size()));
  // W3C trace context of the (first) event's deliver span, when tracing is on.
  if (char tp[trace::kTraceparentSize]; trace::DeliveryTraceparent(*events[0], "webhook", tp)) {
    headers.emplace_back("traceparent", std::string(tp, sizeof tp));
    if (std::string state = trace::TracestateOf(*events[0]); !state.empty()) {
      headers.emplace_back("tracestate", std::move(state));
    }
  }
  for (const auto& [name, value] : options.headers) {
    auto it = std::find_if(headers.begin(), headers.end(),
                           [&](const auto& h) { return EqualsIgnoreCase(h.first, name); });
    if (it != headers.end()) {
      it->second = value;
    } else {
      headers.emplace_back(name, value);
    }
  }
  if (!options.signing_key.empty()) {
    std::erase_if(headers,
                  [](const auto& h) { return EqualsIgnoreCase(h.first, "X-PGCDC-Signature"); });
    std::string signature = "sha256=";
    if (!AppendHmacHex(hmac, body, signature)) return false;
    headers.emplace_back("X-PGCDC-Signature", std::move(signature));
  }
  for (const auto& [name, value] : headers) emit(name, value);
  return true;
}

}  // namespace

SendResult WebhookDeliverer::Send(size_t lane_index, std::span<const Event* const> events,
                                  middleware::Clock::time_point deadline) {
  if (events.empty()) return {};
  Lane* const found = LaneAt(lane_index);
  if (found == nullptr) {
    return std::unexpected(
        SendError::Retryable("webhook: lane " + std::to_string(lane_index) + " was not opened"));
  }
  Lane& lane = *found;
  if (lane.conn) {
    std::vector<SendResult> results;
    const std::span<const Event* const> unit[1] = {events};
    SendPipelined(lane_index, unit, deadline, results);
    return std::move(results.front());
  }
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - middleware::Clock::now());
  if (left.count() <= 0) {
    return std::unexpected(SendError::Retryable("webhook: attempt deadline passed before sending"));
  }

  const bool array = options_.batch || events.size() > 1;
  const std::string_view body = BodyOf(events, options_.batch, lane.body);
  curl_slist* list = nullptr;
  std::string line;
  const bool signed_ok = ForEachHeader(options_, lane.hmac, events, body, array,
                                       [&](std::string_view name, const std::string& value) {
                                         line.assign(name);
                                         // "Name;" sends an empty header; "Name:" would remove it.
                                         if (value.empty()) {
                                           line.push_back(';');
                                         } else {
                                           line.append(": ").append(value);
                                         }
                                         list = curl_slist_append(list, line.c_str());
                                       });
  if (!signed_ok) {
    curl_slist_free_all(list);
    return std::unexpected(SendError::Retryable("webhook: HMAC-SHA256 failed (OpenSSL)"));
  }
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip

  CURL* c = lane.curl;
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  // The size is set on the next line, so the body need not be NUL-terminated.
  curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                   body.data());  // NOLINT(bugprone-suspicious-stringview-data-usage)
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
  lane.response.clear();
  lane.retry_after.clear();
  lane.error[0] = '\0';
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(list);

  if (rc != CURLE_OK) {
    Requests().Count(0);
    std::string msg = "webhook: POST " + display_url_ + ": " +
                      (lane.error[0] != '\0' ? std::string(lane.error) : curl_easy_strerror(rc));
    if (rc == CURLE_TOO_MANY_REDIRECTS) return std::unexpected(SendError::Permanent(msg));
    return std::unexpected(SendError::Retryable(std::move(msg)));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return Classify(status, lane.response, lane.retry_after, display_url_);
}

void WebhookDeliverer::SendPipelined(size_t lane_index,
                                     std::span<const std::span<const Event* const>> units,
                                     middleware::Clock::time_point deadline,
                                     std::vector<SendResult>& results) {
  results.clear();
  Lane* const found = LaneAt(lane_index);
  if (found == nullptr || !found->conn) {
    for (size_t k = 0; k < units.size(); ++k) {
      results.push_back(std::unexpected(SendError::Retryable(
          "webhook: lane " + std::to_string(lane_index) + " was not opened for pipelining")));
    }
    return;
  }
  Lane& lane = *found;
  if (lane.heads.size() < units.size()) {
    lane.heads.resize(units.size());
    lane.bodies.resize(units.size());
  }
  std::vector<net::Http1Connection::Request> requests;
  requests.reserve(units.size());
  for (size_t k = 0; k < units.size(); ++k) {
    const auto events = units[k];
    const bool array = options_.batch || events.size() > 1;
    const std::string_view body = BodyOf(events, options_.batch, lane.bodies[k]);
    std::string& head = lane.heads[k];
    head.assign("POST ").append(target_).append(" HTTP/1.1\r\nHost: ").append(host_header_);
    head.append("\r\n");
    const bool signed_ok =
        ForEachHeader(options_, lane.hmac, events, body, array,
                      [&](std::string_view name, const std::string& value) {
                        head.append(name).append(": ").append(value).append("\r\n");
                      });
    if (!signed_ok) {
      results.assign(
          units.size(),
          std::unexpected(SendError::Retryable("webhook: HMAC-SHA256 failed (OpenSSL)")));
      return;
    }
    head.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
    requests.push_back({head, body});
  }
  auto st = lane.conn->Exchange(requests, lane.responses, deadline);
  for (size_t k = 0; k < units.size(); ++k) {
    if (k < lane.responses.size()) {
      const auto& r = lane.responses[k];
      results.push_back(Classify(r.status, r.body, r.retry_after, display_url_));
    } else {
      Requests().Count(0);
      results.push_back(std::unexpected(SendError::Retryable(
          "webhook: POST " + display_url_ + ": " + (st ? "no response" : st.error().message()))));
    }
  }
}

WebhookDeliverer::Lane* WebhookDeliverer::LaneAt(size_t index) {
  MutexLock lock(lanes_mu_);
  return index < lanes_.size() ? lanes_[index].get() : nullptr;
}

void WebhookDeliverer::Interrupt() {
  // From the shutdown thread while a worker may be in Close().
  MutexLock lock(lanes_mu_);
  for (auto& lane : lanes_) {
    if (lane->conn) lane->conn->Interrupt();
  }
}

void WebhookDeliverer::Close() {
  MutexLock lock(lanes_mu_);
  lanes_.clear();
}

namespace {

void Validate(const Config& c, const Context&, Errors& errors) {
  if (c.http.url.empty()) {
    errors.push_back("webhook.url: required for adapter webhook (--url)");
  } else if (auto u = CheckUrl(c.http.url); !u) {
    errors.push_back(u.error().message());
  }
  if (auto h = ParseHeaders(c.headers); !h) errors.push_back(h.error().message());
  if (c.http.pipeline > 1) {
    if (auto u = net::ParseHttp1Url(c.http.url); !u) {
      errors.push_back("webhook.url (with webhook.pipeline > 1): " + u.error().message());
    }
  }
  if (!c.http.key_file.empty() && c.http.cert_file.empty()) {
    errors.push_back("webhook.tls_key_file: needs webhook.tls_cert_file (--webhook-tls-cert)");
  }
  for (auto& m : middleware::Validate(c.delivery, "webhook.")) errors.push_back(std::move(m));
}

Result<AdapterPtr> Make(Config c, const Context&) {
  auto headers = ParseHeaders(c.headers);
  if (!headers) return Fail(headers.error());
  c.http.headers = std::move(*headers);
  c.http.batch = c.delivery.batch_size > 1;
  c.delivery.batch_bytes = kMaxBodyBytes;
  c.http.pipeline = std::max<size_t>(1, c.http.pipeline);
  return std::make_unique<middleware::ReliableAdapter>(
      "webhook", c.delivery, std::make_unique<WebhookDeliverer>(std::move(c.http)));
}

// The request, lanes and TLS (the middleware's parameters come on top).
std::vector<ParamSpec> HttpParams() {
  return {
      Param("webhook.url", &Config::http, &Options::url,
            "endpoint to POST events to (http:// or https://)", {.flag = "url", .short_flag = "u"}),
      Param("webhook.headers", &Config::headers,
            "extra request header \"Name: value\" (repeatable); overrides a built-in header of "
            "the same name",
            {.flag = "webhook-header"}),
      Param("webhook.signing_key", &Config::http, &Options::signing_key,
            "HMAC-SHA256 key; adds X-PGCDC-Signature: sha256=<hex> over the exact body",
            {.flag = "signing-key"}),
      Param("webhook.concurrency", &Config::delivery, &middleware::Options::concurrency,
            "requests in flight; events are spread over lanes by channel, so each "
            "channel stays in order",
            {.min = 1, .max = 256}),
      Param("webhook.batch_size", &Config::delivery, &middleware::Options::batch_size,
            "events per request; > 1 sends a JSON array of envelopes", {.min = 1, .max = 10000}),
      Param("webhook.pipeline", &Config::http, &Options::pipeline,
            "requests in flight per lane (HTTP/1.1 pipelining on one keep-alive "
            "connection); > 1 uses pgcdc's own HTTP/1.1 client: no redirects or "
            "proxies, and a retried event may arrive after later events of its channel",
            {.min = 1, .max = 1024}),
      Param("webhook.tls_ca_file", &Config::http, &Options::ca_file,
            "PEM CA bundle to verify the server with (default: system store)"),
      Param("webhook.tls_cert_file", &Config::http, &Options::cert_file,
            "PEM client certificate (mutual TLS)", {.flag = "webhook-tls-cert"}),
      Param("webhook.tls_key_file", &Config::http, &Options::key_file,
            "PEM client private key (mutual TLS)", {.flag = "webhook-tls-key"}),
      Param("webhook.tls_insecure_skip_verify", &Config::http, &Options::insecure_skip_verify,
            "do not verify the server certificate (testing only; logs a warning)"),
  };
}

}  // namespace

ConnectorInfo Connector() {
  return DefineAdapter<Config>({
      .name = "webhook",
      .description =
          "POSTs each event (or a JSON array batch) to an HTTP(S) endpoint with HMAC signing, "
          "retries with backoff and Retry-After, a circuit breaker, rate limiting, parallel "
          "lanes that keep per-channel order, and the DLQ for rejected events.",
      // webhook.max_retries, timeout, backoff_base/cap, cb_max_failures,
      // cb_reset_timeout, rate_limit, rate_limit_burst.
      .params =
          Params({HttpParams(), middleware::DeliveryParams<Config>(
                                    "webhook", &Config::delivery,
                                    {.retries_flag = "retries",
                                     .attempt = "one HTTP attempt (connect + send + response)"})}),
      .validate = Validate,
      .make = Make,
  });
}

}  // namespace pgcdc::adapter::webhook

PGCDC_REGISTER_CONNECTOR(adapter, webhook, pgcdc::adapter::webhook::Connector)
