// A small HTTP/1.1 client that pipelines requests: it writes several requests
// on one keep-alive connection without waiting for each answer and reads the
// responses back in order (RFC 9112 §9.3.2). On a loopback or LAN peer this
// turns one wake-up per request into one per window, which is what lets the
// webhook sink deliver one event per request at high rates.
//
// Scope (deliberately small): http:// and https:// (OpenSSL, SNI, hostname
// verification, CA file, client certificate), Content-Length and chunked
// response bodies, interim 1xx responses, "Connection: close". No redirects,
// no proxies, no compression: callers that need those use libcurl.
//
// Delivery semantics of pipelining: requests are processed by the server in
// the order sent. If the connection breaks, responses that did not arrive are
// reported as failed and the request may or may not have been processed (the
// usual at-least-once ambiguity of any HTTP retry).
//
// One Http1Connection is used by one thread at a time. The transport (TCP,
// TLS, deadlines, interrupts) is net::ClientSocket.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "net/client_socket.h"

namespace pgcdc::net {

struct Http1Url {
  bool tls = false;
  std::string host;  // without brackets for IPv6 literals
  uint16_t port = 0;
  std::string target;       // origin-form: path plus "?query", at least "/"
  std::string host_header;  // value for the Host header (with port when not default)
};

// How a sink treats an HTTP answer.
enum class HttpOutcome {
  kOk,      // 2xx
  kRetry,   // 408, 429, 5xx: the peer is (temporarily) unable; send again later
  kAuth,    // 401, 403: the credentials are wrong; an operator must fix them
  kReject,  // any other status: the peer refused this content
};
HttpOutcome ClassifyHttpStatus(int status);

// Parses an absolute http:// or https:// URL. Credentials in the URL are
// refused (they would have to become an Authorization header: configure that
// header explicitly instead).
Result<Http1Url> ParseHttp1Url(std::string_view url);

struct Http1Response {
  int status = 0;
  std::string retry_after;  // the Retry-After header value, if any
  std::string body;         // the first `max_body` bytes of the body
  bool close = false;       // the server will close the connection after it
};

// Incremental response parser (pure). Feed() bytes as they arrive; complete
// responses are appended to `out`. A malformed response makes Feed() fail
// (the connection must be dropped).
class Http1ResponseParser {
 public:
  explicit Http1ResponseParser(size_t max_body = 256) : max_body_(max_body) {}
  Status Feed(std::string_view data, std::vector<Http1Response>& out);
  // The connection ended: completes a response whose body runs until close.
  // Returns true when a response was completed that way.
  bool Eof(std::vector<Http1Response>& out);
  // True when no response is partially parsed.
  bool Idle() const { return state_ == State::kStatus && line_.empty(); }
  // Forgets any partial response (after the connection was dropped). Only
  // responses to POST/PUT are expected (never to HEAD).
  void Reset();

 private:
  enum class State { kStatus, kHeaders, kBody, kChunkSize, kChunkData, kChunkDataEnd, kTrailers };
  Status Line(std::string_view line, std::vector<Http1Response>& out);
  // Line()'s steps, by state.
  Status StatusLine(std::string_view line);
  Status HeaderLine(std::string_view line);  // a non-empty header line
  Status EndOfHeaders(std::vector<Http1Response>& out);
  Status ChunkSizeLine(std::string_view line);
  void Finish(std::vector<Http1Response>& out);
  void KeepBody(std::string_view data);

  size_t max_body_;
  State state_ = State::kStatus;
  std::string line_;  // partial line
  Http1Response cur_;
  bool chunked_ = false;
  bool until_close_ = false;
  int64_t remaining_ = 0;  // body or chunk bytes still to come
  bool has_length_ = false;
  size_t header_bytes_ = 0;
};

using Http1TlsOptions = TlsOptions;

class Http1Connection {
 public:
  using Clock = std::chrono::steady_clock;

  // `max_body`: how much of each response body is kept (Http1Response::body).
  Http1Connection(const Http1Url& url, Http1TlsOptions tls, size_t max_body = 256);
  ~Http1Connection();
  Http1Connection(const Http1Connection&) = delete;
  Http1Connection& operator=(const Http1Connection&) = delete;

  struct Request {
    std::string_view head;  // request line and headers, ending in an empty line
    std::string_view body;
  };

  // Sends `requests` pipelined on the connection (connecting first when needed) and reads the
  // responses in order into `responses` (cleared first). Returns an error
  // when not every request got its response; `responses` then holds the
  // responses that did arrive (for a prefix of the requests). The connection
  // is dropped after an error or a "Connection: close".
  Status Exchange(std::span<const Request> requests, std::vector<Http1Response>& responses,
                  Clock::time_point deadline);

  // Thread-safe: makes a blocked Exchange() return promptly.
  void Interrupt();
  bool connected() const;
  // Connections opened so far (for tests and metrics).
  uint64_t connects() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgcdc::net
