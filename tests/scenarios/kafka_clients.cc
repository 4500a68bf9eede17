#include "kafka_clients.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <optional>
#include <regex>
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

namespace {

// The next `sep`-terminated field of `s` from `pos` (advanced past `sep`).
std::optional<std::string> Field(const std::string& s, size_t& pos, char sep) {
  const size_t end = s.find(sep, pos);
  if (end == std::string::npos) return std::nullopt;
  std::string f = s.substr(pos, end - pos);
  pos = end + 1;
  return f;
}

// `n` bytes of `s` from `pos` then `sep` (n < 0: kcat's null, no bytes).
std::optional<std::string> Sized(const std::string& s, size_t& pos, const std::string& n,
                                 char sep) {
  const long long size = std::max(0LL, std::stoll(n));
  if (pos + size >= s.size() || s[pos + size] != sep) return std::nullopt;
  std::string f = s.substr(pos, size);
  pos += size + 1;
  return f;
}

}  // namespace

std::vector<KRecord> ConsumeAllBinary(const std::string& addr, const std::string& topic,
                                      std::vector<std::string> extra) {
  // "R\t<topic>\t<partition>\t<offset>\t<headers>\t<key size>\t<key>\t<value size>\t<value>\n"
  std::vector<std::string> args = {"-b",
                                   addr,
                                   "-C",
                                   "-t",
                                   topic,
                                   "-o",
                                   "beginning",
                                   "-e",
                                   "-q",
                                   "-f",
                                   "R\t%t\t%p\t%o\t%h\t%K\t%k\t%S\t%s\n"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = Kcat(std::move(args));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::vector<KRecord> out;
  const std::string& s = r.output;
  size_t pos = 0;
  while (pos < s.size()) {
    if (s.compare(pos, 2, "R\t") != 0) {
      ADD_FAILURE() << "unexpected kcat output at byte " << pos << ": " << s.substr(pos, 80);
      break;
    }
    pos += 2;
    KRecord rec;
    auto topic_f = Field(s, pos, '\t');
    auto part = Field(s, pos, '\t');
    auto offset = Field(s, pos, '\t');
    auto headers = Field(s, pos, '\t');
    auto key_size = Field(s, pos, '\t');
    auto key = key_size ? Sized(s, pos, *key_size, '\t') : std::nullopt;
    auto value_size = key ? Field(s, pos, '\t') : std::nullopt;
    auto value = value_size ? Sized(s, pos, *value_size, '\n') : std::nullopt;
    if (!topic_f || !part || !offset || !headers || !value) {
      ADD_FAILURE() << "truncated kcat record: " << s.substr(0, 200);
      break;
    }
    rec.topic = *topic_f;
    rec.partition = std::stoi(*part);
    rec.offset = std::stoll(*offset);
    rec.key = *key;
    for (const auto& h : Split(*headers, ',')) {
      const auto eq = h.find('=');
      if (eq != std::string::npos) rec.headers[h.substr(0, eq)] = h.substr(eq + 1);
    }
    rec.value = std::move(*value);
    out.push_back(std::move(rec));
  }
  return out;
}

std::vector<KRecord> ConsumeGroup(const std::string& addr, const std::string& group,
                                  const std::string& topic) {
  auto r = KcatGroup(addr, group, topic, {});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return ParseKcatRecords(r.output);
}

CommandResult KcatGroup(const std::string& addr, const std::string& group, const std::string& topic,
                        const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"-b", addr, "-G", group,      "-X", "auto.offset.reset=earliest",
                                   "-e", "-q", "-f", kKcatFormat};
  args.insert(args.end(), extra.begin(), extra.end());
  args.push_back(topic);
  return Kcat(args);
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

std::unique_ptr<Process> StartKafkaServerBroker(std::string& addr) {
  auto broker = Process::Start(
      {.args = {"listen", "--db", SharedCluster().Url(), "-c", "k_unused", "--http-addr", "", "-a",
                "kafkaserver", "--kafkaserver-addr", "127.0.0.1:0", "--kafkaserver-partitions", "3",
                "--kafkaserver-buffer-size", "1000000"}});
  EXPECT_TRUE(broker);
  if (!broker) return nullptr;
  EXPECT_TRUE(broker->WaitForStderr("kafkaserver listening")) << broker->Stderr();
  std::smatch m;
  const std::string err = broker->Stderr();
  if (std::regex_search(err, m, std::regex("kafkaserver listening addr=([^ ]+)"))) addr = m[1];
  return broker;
}

}  // namespace pgcdc::testing
