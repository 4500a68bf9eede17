#include "kafka_clients.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <sstream>

#ifndef KAFKA_MOCK_CLUSTER  // librdkafka missing at configure time: tests fail clearly
#define KAFKA_MOCK_CLUSTER "kafka_mock_cluster"
#endif

namespace pgcdc::testing {

const std::string kKcatFormat = "R\t%t\t%p\t%o\t%k\t%h\t%s\n";

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

std::vector<KRecord> ParseKcatRecords(const std::string& output) {
  std::vector<KRecord> out;
  for (const auto& line : Split(output, '\n')) {
    if (line.rfind("R\t", 0) != 0) continue;
    auto f = Split(line, '\t');
    if (f.size() < 7) continue;
    KRecord r;
    r.topic = f[1];
    r.partition = std::stoi(f[2]);
    r.offset = std::stoll(f[3]);
    r.key = f[4];
    for (const auto& h : Split(f[5], ',')) {
      const auto eq = h.find('=');
      if (eq != std::string::npos) r.headers[h.substr(0, eq)] = h.substr(eq + 1);
    }
    r.value = f[6];
    out.push_back(std::move(r));
  }
  return out;
}

CommandResult Kcat(std::vector<std::string> args, const std::string& stdin_text) {
  args.insert(args.begin(), {"timeout", "60", "kcat"});
  return RunCommand(args, stdin_text);
}

std::vector<KRecord> ConsumeAll(const std::string& addr, const std::string& topic,
                                std::vector<std::string> extra) {
  std::vector<std::string> args = {"-b",        addr, "-C", "-t", topic,      "-o",
                                   "beginning", "-e", "-q", "-f", kKcatFormat};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = Kcat(args);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return ParseKcatRecords(r.output);
}

std::vector<KRecord> ConsumeGroup(const std::string& addr, const std::string& group,
                                  const std::string& topic) {
  auto r = Kcat({"-b", addr, "-G", group, "-X", "auto.offset.reset=earliest", "-e", "-q", "-f",
                 kKcatFormat, topic});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return ParseKcatRecords(r.output);
}

std::unique_ptr<MockKafka> MockKafka::Start(std::vector<std::string> args) {
  std::unique_ptr<MockKafka> m(new MockKafka());
  m->process_ = Process::Start({.args = std::move(args), .binary = KAFKA_MOCK_CLUSTER});
  if (!m->process_ || !m->process_->WaitForLines(1)) {
    ADD_FAILURE() << "kafka_mock_cluster did not start"
                  << (m->process_ ? m->process_->Stderr() : std::string());
    return nullptr;
  }
  const std::string line = m->process_->StdoutLines().front();
  if (line.rfind("bootstrap=", 0) != 0) {
    ADD_FAILURE() << "kafka_mock_cluster: unexpected output " << line;
    return nullptr;
  }
  m->bootstrap_ = line.substr(10);
  return m;
}

namespace {
size_t CountLines(Process& p, const std::string& what) {
  size_t n = 0;
  for (const auto& l : p.StdoutLines()) n += l == what ? 1 : 0;
  return n;
}
}  // namespace

bool MockKafka::Down() {
  process_->Signal(SIGUSR1);
  ++downs_;
  return Eventually([&] { return CountLines(*process_, "down") >= downs_; });
}

bool MockKafka::Up() {
  process_->Signal(SIGUSR2);
  ++ups_;
  return Eventually([&] { return CountLines(*process_, "up") >= ups_; });
}

}  // namespace pgcdc::testing
