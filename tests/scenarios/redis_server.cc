#include "redis_server.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace pgcdc::testing {

RedisServer::RedisServer(bool persistent, std::string tls_dir)
    : persistent_(persistent), tls_dir_(std::move(tls_dir)), port_(FreeTcpPort()) {
  EXPECT_TRUE(Start()) << "redis-server did not start on port " << port_;
}

RedisServer::~RedisServer() { Kill(); }

bool RedisServer::Start() {
  // A second Start() while running would race the new server's bind against
  // the old one's exit (the old Process is killed when replaced): stop first.
  Kill();
  std::vector<std::string> args = {"--bind", "127.0.0.1", "--save",      "",
                                   "--dir",  dir_.path,   "--daemonize", "no"};
  if (tls_dir_.empty()) {
    args.insert(args.end(), {"--port", std::to_string(port_)});
  } else {
    args.insert(args.end(),
                {"--port", "0", "--tls-port", std::to_string(port_), "--tls-cert-file",
                 tls_dir_ + "/server.pem", "--tls-key-file", tls_dir_ + "/server.key",
                 "--tls-ca-cert-file", tls_dir_ + "/ca.pem", "--tls-auth-clients", "no"});
  }
  if (persistent_) {
    for (const char* a : {"--appendonly", "yes", "--appendfsync", "always"}) args.push_back(a);
  }
  process_ = Process::Start({.args = args, .binary = "/usr/bin/redis-server"});
  if (!process_) return false;
  return Eventually([&] { return Cli({"PING"}) == "PONG"; }, 20s);
}

void RedisServer::Kill() {
  if (!process_) return;
  process_->Signal(SIGKILL);
  process_->Wait();
  process_.reset();
}

std::string RedisServer::Cli(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port_)};
  if (!tls_dir_.empty()) argv.insert(argv.end(), {"--tls", "--cacert", tls_dir_ + "/ca.pem"});
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out = RunCommand(argv).output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

long long RedisServer::CliInt(const std::vector<std::string>& args) const {
  const std::string out = Cli(args);
  try {
    size_t used = 0;
    const long long v = std::stoll(out, &used);
    return used == out.size() ? v : -1;
  } catch (...) {
    return -1;
  }
}

}  // namespace pgcdc::testing
