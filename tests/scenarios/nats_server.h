// A real nats-server for scenario tests (SERVICES.md): loopback only, a
// free port, JetStream with its own store directory (-sd), so Kill() and
// Start() keep the streams, as an outage would. Stopped (SIGKILL) with the
// object.
//
// Reading back is done by our own JetStream consumer (libnats): an ordered
// push consumer over the whole stream, which sees every stored message in
// stream order with its headers.
//
// NatsCluster: several such servers joined by routes (-cluster/-routes,
// one cluster name, server names n1..nN) for replicated streams.
#pragma once

#include <chrono>
#include <cstddef>
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
  // One JetStream node of a cluster: server `name`, routes listening on
  // `route_port` and dialling `peer_route_ports`. Start() then waits only
  // until it accepts clients (JetStream needs a quorum: NatsCluster::Ready).
  struct ClusterNode {
    std::string name;
    std::string cluster;
    int route_port = 0;
    std::vector<int> peer_route_ports;
  };
  explicit NatsServer(ClusterNode node);
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
  bool running() const { return process_ != nullptr; }
  const std::string& name() const { return node_.name; }
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
    int64_t replicas = 0;
    std::string leader;     // server name of the stream's leader ("" when none)
    int current_peers = 0;  // followers that are current (not offline)
  };
  // The stream's configuration and message count; nullopt when it does not
  // exist or the server does not answer.
  std::optional<StreamState> Stream(const std::string& stream) const;
  // Message count of `stream`, -1 when it cannot be read.
  int64_t StreamMessages(const std::string& stream) const;
  // Creates a stream taking `subject` whose messages may be at most
  // `max_msg_size` bytes, kept on `replicas` servers.
  bool CreateStream(const std::string& stream, const std::string& subject, int32_t max_msg_size,
                    int replicas = 1) const;

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
    uint64_t pending = 0;     // not yet delivered
    uint64_t delivered = 0;   // stream sequence of the last message delivered
    int64_t redelivered = 0;  // messages delivered more than once, not yet acked
  };
  std::optional<ConsumerState> Consumer(const std::string& stream,
                                        const std::string& durable) const;

 private:
  bool jetstream_;
  ClusterNode node_;  // name empty: a single server
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> process_;
};

// A JetStream cluster of `nodes` servers on loopback (free client and route
// ports, own store per node). Queries go through any running node.
class NatsCluster {
 public:
  explicit NatsCluster(size_t nodes = 3);

  // True once every running node answers JetStream requests (a meta leader
  // is elected) within `timeout`.
  bool Ready(std::chrono::milliseconds timeout = 30s) const;
  // Creates `stream` (subject, `replicas` copies) and waits until it has a
  // leader and every follower is current.
  bool CreateStream(const std::string& stream, const std::string& subject, int replicas,
                    std::chrono::milliseconds timeout = 30s) const;
  // Every node's client URL, comma-separated (what nats.url takes).
  std::string Urls() const;
  size_t size() const { return nodes_.size(); }
  NatsServer& node(size_t i) { return *nodes_.at(i); }
  // The first running node (queries are answered cluster-wide).
  const NatsServer& Any() const;
  // Index of the node whose server name is `name`.
  std::optional<size_t> IndexOf(const std::string& name) const;

 private:
  std::vector<std::unique_ptr<NatsServer>> nodes_;
};

}  // namespace pgcdc::testing
