#include "s3_server.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "stream_clients.h"

namespace pgcdc::testing {

namespace fs = std::filesystem;

namespace {
constexpr std::string_view kObjectSuffix = "._S3rver_object";
}  // namespace

S3Server::S3Server() : port_(FreeTcpPort()) { EXPECT_TRUE(Start()) << "s3rver did not start"; }

S3Server::~S3Server() { Stop(); }

bool S3Server::Start() {
  proc_ = Process::Start(
      {.args = {ToolsDir() + "/node_modules/s3rver/bin/s3rver.js", "-d", dir_.path, "-a",
                "127.0.0.1", "-p", std::to_string(port_), "-s", "--configure-bucket", "bkt"},
       .binary = "/usr/bin/node"});
  if (!proc_) return false;
  // Any HTTP answer (an unsigned request gets an error document) means it serves.
  return Eventually([&] { return HttpGet(Addr(), "/", 1s).has_value(); }, 20s);
}

void S3Server::Stop() {
  if (!proc_) return;
  proc_->Signal(SIGKILL);
  (void)proc_->Wait();
  proc_.reset();
}

std::map<std::string, std::string> S3Server::Objects() const {
  std::map<std::string, std::string> out;
  const fs::path root = fs::path(dir_.path) / "bkt";
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string path = it->path().string();
    if (!it->is_regular_file() || !path.ends_with(kObjectSuffix)) continue;
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string key = fs::relative(it->path(), root).string();
    key.resize(key.size() - kObjectSuffix.size());
    out[key] = ss.str();
  }
  return out;
}

std::vector<std::string> S3SinkArgs(const S3Server& s3, const std::vector<std::string>& extra) {
  std::vector<std::string> sink = {"-a",
                                   "s3",
                                   "--s3-bucket",
                                   "bkt",
                                   "--s3-endpoint",
                                   s3.Endpoint(),
                                   "--s3-access-key-id",
                                   "S3RVER",
                                   "--s3-secret-access-key",
                                   "S3RVER",
                                   "--s3-backoff-base",
                                   "100ms",
                                   "--s3-backoff-cap",
                                   "500ms",
                                   "--s3-flush-interval",
                                   "300ms",
                                   "--bus-mode",
                                   "reliable"};
  sink.insert(sink.end(), extra.begin(), extra.end());
  return sink;
}

}  // namespace pgcdc::testing
