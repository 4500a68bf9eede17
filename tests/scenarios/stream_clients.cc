#include "stream_clients.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace pgcdc::testing {

std::string ToolsDir() {
  const char* src = std::getenv("PGCDC_SOURCE_DIR");
  return std::string(src != nullptr ? src : ".") + "/tests/tools";
}

std::unique_ptr<Process> StartStreamSink(const std::string& adapter,
                                         const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"listen", "--db",        SharedCluster().Url(), "-a",
                                   adapter,  "--http-addr", "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto p = Process::Start({.args = args});
  EXPECT_TRUE(p != nullptr);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  }
  return p;
}

std::unique_ptr<Process> StartNode(const std::string& script, std::vector<std::string> args) {
  args.insert(args.begin(), script);
  return Process::Start({.args = args, .cwd = ToolsDir(), .binary = "/usr/bin/node"});
}

std::optional<boost::json::object> LastWith(Process& p, const std::string& key) {
  auto lines = p.StdoutLines();
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    boost::system::error_code ec;
    auto v = boost::json::parse(*it, ec);
    if (!ec && v.is_object() && v.as_object().contains(key)) return v.as_object();
  }
  return std::nullopt;
}

bool WaitFor(Process& p, const std::string& key, std::chrono::milliseconds timeout) {
  return Eventually([&] { return LastWith(p, key).has_value(); }, timeout);
}

std::vector<int64_t> Counts(Process& p) {
  std::vector<int64_t> out;
  auto lines = p.StdoutLines();
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    boost::system::error_code ec;
    auto v = boost::json::parse(*it, ec);
    if (ec || !v.is_object()) continue;
    const auto& o = v.as_object();
    const boost::json::value* arr = o.if_contains("progress");
    if (arr == nullptr) arr = o.if_contains("counts");
    if (arr == nullptr) continue;
    for (const auto& c : arr->as_array()) out.push_back(c.as_int64());
    return out;
  }
  return out;
}

std::string GrpcAddr(Process& p, const std::string& server) {
  const std::string needle = "grpc server listening server=" + server + " addr=";
  if (!p.WaitForStderr(needle)) return {};
  const std::string err = p.Stderr();
  const auto pos = err.find(needle) + needle.size();
  return err.substr(pos, err.find_first_of(" \n", pos) - pos);
}

void NotifyMany(const std::string& channel, int count, int pad) {
  auto conn = Connect();
  auto r = conn.Query("SELECT pg_notify($1, json_build_object('i', g, 'pad', repeat('x', " +
                          std::to_string(pad) + "))::text) FROM generate_series(1, " +
                          std::to_string(count) + ") g",
                      {channel});
  ASSERT_TRUE(r) << r.error().message();
}

StalledClient::StalledClient(const std::string& host_port, const std::string& request) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(host_port.rfind(':') + 1))));
  inet_pton(AF_INET, host_port.substr(0, host_port.rfind(':')).c_str(), &sa.sin_addr);
  ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
        send(fd_, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size());
}

void StalledClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace pgcdc::testing
