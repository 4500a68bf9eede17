// webhook adapter (SPEC §5.2): POSTs each event's envelope JSON (or, with
// batching, a JSON array of envelopes) to an HTTP(S) endpoint.
//
// WebhookDeliverer is a middleware::Deliverer: retries, backoff, Retry-After,
// the circuit breaker, rate limiting, per-channel ordering across
// `concurrency` lanes and the DLQ all come from middleware::ReliableAdapter.
// This class only turns one unit of events into one HTTP request and says how
// it went:
//   2xx                          -> delivered
//   408, 429, 5xx, network error -> retryable (Retry-After honoured)
//   any other 4xx, 3xx (after following redirects) -> permanent (DLQ)
//
// Each lane owns one libcurl easy handle, reused for every request of that
// lane, so a lane keeps its keep-alive connection. With pipeline > 1 a lane
// owns a net::Http1Connection instead and keeps up to `pipeline` requests in
// flight on it (see middleware.h for what that means for ordering). Send() for different lanes
// runs concurrently; a lane is never used by two threads at once.
// libcurl and OpenSSL headers stay in the .cc.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "adapter/middleware/middleware.h"
#include "core/mutex.h"
#include "registry/registry.h"

namespace pgcdc::adapter::webhook {

struct Options {
  std::string url;
  // Extra request headers in configured order ("Name", "value"); they
  // override the built-in headers of the same name (except the signature).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string signing_key;  // empty = no X-PGCDC-Signature
  // Array bodies (batch mode) even for a unit of one event.
  bool batch = false;
  // TLS.
  std::string ca_file;    // trust these CAs instead of the system store
  std::string cert_file;  // client certificate (PEM)
  std::string key_file;   // client key (PEM)
  bool insecure_skip_verify = false;
  int max_redirects = 5;
  // Requests in flight per lane (HTTP/1.1 pipelining on one keep-alive
  // connection). 1 = libcurl, one request at a time (redirects, proxies);
  // > 1 = our own HTTP/1.1 client (no redirects, no proxies).
  size_t pipeline = 1;
};

// The webhook section (YAML `webhook:`); defaults are the parameter defaults.
// Connector() binds every webhook.* key to a field of it.
struct Config {
  // url, signing_key, pipeline, tls_*; `headers` and `batch` are derived
  // from the fields below when the adapter is made.
  Options http;
  // max_retries, timeout, backoff_*, cb_*, rate_limit*, concurrency and
  // batch_size: the delivery middleware's options (adapter/middleware).
  middleware::Options delivery;
  // "Name: value" entries (repeatable flag), parsed into http.headers.
  std::vector<std::string> headers;
};

class WebhookDeliverer final : public middleware::Deliverer {
 public:
  explicit WebhookDeliverer(Options options);
  ~WebhookDeliverer() override;
  std::string_view Name() const override { return "webhook"; }
  // Checks the URL, resolves its host (a clear error when it does not
  // resolve) and creates one curl handle per lane.
  Status Open(size_t lanes) override;
  middleware::SendResult Send(size_t lane, std::span<const Event* const> events,
                              middleware::Clock::time_point deadline) override;
  size_t PipelineDepth() const override { return options_.pipeline; }
  void SendPipelined(size_t lane, std::span<const std::span<const Event* const>> units,
                     middleware::Clock::time_point deadline,
                     std::vector<middleware::SendResult>& results) override;
  void Interrupt() override;
  void Close() override;

  struct Lane;

 private:
  Options options_;
  std::string display_url_;  // the URL without credentials and query, for messages
  std::string target_;       // pipelined mode: request target and Host header
  std::string host_header_;
  // The lane at `index`, null when it was not opened. A lane lives until
  // Close(), which never overlaps Send(); lanes_mu_ orders Open() and Close()
  // against Interrupt() from the shutdown thread.
  Lane* LaneAt(size_t index) EXCLUDES(lanes_mu_);

  Mutex lanes_mu_;
  std::vector<std::unique_ptr<Lane>> lanes_ GUARDED_BY(lanes_mu_);
};

// "Name: value" -> {"Name", "value"}; errors name the bad entry. Pieces of a
// flag value that was split at commas (a value without ':' following a
// header) are joined back to the previous header's value with ", ".
Result<std::vector<std::pair<std::string, std::string>>> ParseHeaders(
    const std::vector<std::string>& entries);

// Checks that `url` is an absolute http:// or https:// URL with a host.
// Returns the host.
Result<std::string> CheckUrl(std::string_view url);

// Lower-case hex HMAC-SHA256 of `body` with `key`.
std::string HmacSha256Hex(std::string_view key, std::string_view body);

// HTTP Retry-After: delta-seconds or an HTTP-date (relative to `now`, Unix
// seconds). nullopt when unparseable; a date in the past gives zero.
std::optional<std::chrono::milliseconds> ParseRetryAfter(std::string_view value, int64_t now);

// The adapter is a middleware::ReliableAdapter around a WebhookDeliverer.
ConnectorInfo Connector();

}  // namespace pgcdc::adapter::webhook
