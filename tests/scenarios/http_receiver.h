// A real HTTP/1.1 receiver for scenario tests of HTTP sinks (webhook, …):
// a keep-alive server on 127.0.0.1 with a free port (net::HttpServer), that
// records every request and answers through a programmable responder.
//
// Thread-safety: Requests()/Count()/WaitForRequests() and the responder
// setters may be called from the test thread while the server thread records
// requests. The responder runs on the server's single I/O thread: a responder
// that sleeps (to simulate a slow peer) slows every connection down.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgcdc::net {
class HttpServer;
}

namespace pgcdc::testing {

class HttpReceiver {
 public:
  struct Request {
    std::string method;
    std::string path;
    std::string target;                          // with the query string
    std::map<std::string, std::string> headers;  // lower-cased names
    std::string body;
    std::chrono::steady_clock::time_point at;
    size_t index = 0;      // 0-based arrival order
    int reply_status = 0;  // what the responder answered
    // The header's value, or "" when absent (name in lower case).
    std::string Header(const std::string& name) const;
  };
  struct Reply {
    int status = 200;
    std::string body;
    std::map<std::string, std::string> headers;
  };
  // Decides the answer (request.index is its arrival order).
  using Responder = std::function<Reply(const Request&)>;

  // Starts serving POST, PUT and GET on each of `paths`; check ok() afterwards.
  explicit HttpReceiver(std::vector<std::string> paths = {"/hook"});
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  bool ok() const { return !base_url_.empty(); }
  // "http://127.0.0.1:PORT" + path.
  std::string Url(const std::string& path = "/hook") const { return base_url_ + path; }

  // Default: 200 with an empty JSON object.
  void SetResponder(Responder responder);
  // Answers the next statuses in order, then `then` for every later request.
  void RespondWithSequence(std::vector<int> statuses, int then = 200);

  std::vector<Request> Requests() const;
  size_t Count() const;
  // Waits until at least n requests arrived.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(15));
  void Clear();

  // Stops the server (later requests get connection errors).
  void Stop();

 private:
  Reply Handle(Request request);

  std::unique_ptr<net::HttpServer> server_;
  std::string base_url_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request> requests_;
  size_t next_index_ = 0;
  Responder responder_;
};

// Lower-case hex HMAC-SHA256 (own implementation, independent of the one in
// pgcdc, so a test checks the signature against a second implementation).
std::string TestHmacSha256Hex(std::string_view key, std::string_view data);

}  // namespace pgcdc::testing
