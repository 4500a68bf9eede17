// A real nats-server for scenario tests (SERVICES.md): loopback only, a
// free port, JetStream with its own store directory (-sd), so Kill() and
// Start() keep the streams, as an outage would. Stopped (SIGKILL) with the
// object.
//
// Reading back is done by our own JetStream consumer (libnats): an ordered
// push consumer over the whole stream, which sees every stored message in
// stream order with its headers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness.h"

namespace pgcdc::testing {

class NatsServer {
 public:
  // jetstream = false starts a plain NATS server (no -js).
  explicit NatsServer(bool jetstream = true);
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  // Starts (again, on the same port and store); true once it accepts
  // clients (and, with JetStream, answers JetStream requests).
  bool Start();
  // SIGKILL, as a crash would.
  void Kill();
  // SIGSTOP / SIGCONT: a server that hangs (connections stay open, nothing
  // is answered) and comes back.
  void Pause();
  void Resume();

  int port() const { return port_; }
  std::string Url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

  struct Message {
    uint64_t seq = 0;  // stream sequence
    std::string subject;
    std::string data;
    std::string msg_id;        // the Nats-Msg-Id header ("" when absent)
    std::string content_type;  // the Content-Type header ("" when absent)
  };
  // Every message of `stream`, in stream order (empty on error, which is
  // reported as a test failure).
  std::vector<Message> ReadStream(const std::string& stream) const;

  struct StreamState {
    uint64_t messages = 0;
    std::vector<std::string> subjects;
    int64_t max_age_ns = 0;
    int64_t duplicates_ns = 0;
    int32_t max_msg_size = 0;
  };
  // The stream's configuration and message count; nullopt when it does not
  // exist or the server does not answer.
  std::optional<StreamState> Stream(const std::string& stream) const;
  // Message count of `stream`, -1 when it cannot be read.
  int64_t StreamMessages(const std::string& stream) const;
  // Creates a stream taking `subject` whose messages may be at most
  // `max_msg_size` bytes.
  bool CreateStream(const std::string& stream, const std::string& subject,
                    int32_t max_msg_size) const;

  // Publishes one message (with headers) and waits for JetStream's ack.
  bool Publish(const std::string& subject, const std::string& data,
               const std::vector<std::pair<std::string, std::string>>& headers = {}) const;
  // Publishes make(i) for i in [first, last] to `subject` (asynchronously,
  // then waits for every ack).
  bool PublishRange(const std::string& subject, int first, int last,
                    const std::function<std::string(int)>& make) const;
  struct ConsumerState {
    uint64_t ack_floor = 0;  // stream sequence every message up to is acked
    int64_t ack_pending = 0;
    uint64_t pending = 0;  // not yet delivered
  };
  std::optional<ConsumerState> Consumer(const std::string& stream,
                                        const std::string& durable) const;

 private:
  bool jetstream_;
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> process_;
};

}  // namespace pgcdc::testing
