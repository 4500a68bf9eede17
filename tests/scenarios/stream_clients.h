// Helpers shared by the streaming-sink journeys (sse_test.cc, ws_test.cc):
// starting pgcdc with a stream sink, the node clients of tests/tools
// (sse_clients.js, ws_clients.js) and their JSON-line reports, NOTIFY bursts
// and a raw client that never reads.
#pragma once

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness.h"

namespace pgcdc::testing {

// tests/tools in the source tree.
std::string ToolsDir();

// `pgcdc listen -a <adapter> --http-addr 127.0.0.1:0 <extra...>`, started and
// listening for notifications.
std::unique_ptr<Process> StartStreamSink(const std::string& adapter,
                                         const std::vector<std::string>& extra);

// The address of pgcdc's gRPC server ("grpc server listening server=<server>
// addr=H:P" in its log: grpc, arrow); empty when it did not log one within 15 s.
std::string GrpcAddr(Process& p, const std::string& server = "grpc");

// `node <script> <args...>` from tests/tools.
std::unique_ptr<Process> StartNode(const std::string& script, std::vector<std::string> args);

// The last stdout line of a node client that parses as an object with `key`.
std::optional<boost::json::object> LastWith(Process& p, const std::string& key);

bool WaitFor(Process& p, const std::string& key, std::chrono::milliseconds timeout = 20s);

// Per-client counts from the latest {"progress":[...]} or {"counts":[...]} line.
std::vector<int64_t> Counts(Process& p);

// `count` notifications on `channel` with payload {"i":n,"pad":"xxx..."} (`pad` x's).
void NotifyMany(const std::string& channel, int count, int pad = 0);

// A raw TCP client that sends a request and then never reads (tiny receive
// buffer), i.e. a stalled consumer.
class StalledClient {
 public:
  StalledClient(const std::string& host_port, const std::string& request);
  ~StalledClient() { Close(); }
  StalledClient(const StalledClient&) = delete;
  StalledClient& operator=(const StalledClient&) = delete;
  void Close();
  bool ok() const { return ok_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

}  // namespace pgcdc::testing
