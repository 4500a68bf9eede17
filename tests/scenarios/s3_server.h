// A real s3rver (npm, tests/tools; SERVICES.md) for scenario tests: loopback
// only, a free port, its own directory, bucket "bkt" created at start,
// credentials S3RVER/S3RVER (it checks the access key id, not signatures).
// Stop()/Start() keep the port and the directory (outage tests). Stopped
// (SIGKILL) with the object.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace pgcdc::testing {

class S3Server {
 public:
  S3Server();
  ~S3Server();
  S3Server(const S3Server&) = delete;
  S3Server& operator=(const S3Server&) = delete;

  // Starts (again); true once it answers HTTP.
  bool Start();
  // SIGKILL, as a crash would.
  void Stop();
  std::string Addr() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Endpoint() const { return "http://" + Addr(); }
  // The objects of bucket "bkt", read from s3rver's directory: key -> bytes.
  std::map<std::string, std::string> Objects() const;

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<Process> proc_;
};

// The s3 sink's flags for `s3` (bucket "bkt", its credentials, short backoff,
// a 300ms flush interval, reliable bus), then `extra`.
std::vector<std::string> S3SinkArgs(const S3Server& s3, const std::vector<std::string>& extra);

}  // namespace pgcdc::testing
