// A librdkafka (C++ API) consumer-group member for the kafkaserver scenario:
// an independent, real Kafka client. Subscribes to one topic, commits each
// record's offset synchronously after printing it (at-least-once: a member
// killed mid-stream loses nothing, its uncommitted records go to another
// member after the rebalance), and reports JSON lines on stdout:
//   {"event":"assigned","partitions":[0,3]}
//   {"event":"revoked","partitions":[0,3]}
//   {"event":"message","p":P,"o":O,"k":"key"}
//   {"event":"error","error":"..."}
//   {"event":"closed"}                         after SIGTERM/SIGINT
// Usage: kafka_group_consumer --brokers H:P --topic T --group G
//          [--strategy range|roundrobin|cooperative-sticky] [-X key=value ...]
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void Emit(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::string PartitionList(const std::vector<RdKafka::TopicPartition*>& parts) {
  std::string out = "[";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(parts[i]->partition());
  }
  return out + "]";
}

class Rebalance : public RdKafka::RebalanceCb {
 public:
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts) override {
    const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      Emit(R"({"event":"assigned","partitions":)" + PartitionList(parts) + "}");
      if (cooperative) {
        delete consumer->incremental_assign(parts);
      } else {
        consumer->assign(parts);
      }
    } else {
      Emit(R"({"event":"revoked","partitions":)" + PartitionList(parts) + "}");
      if (cooperative) {
        delete consumer->incremental_unassign(parts);
      } else {
        consumer->unassign();
      }
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string brokers, topic, group, strategy = "range";
  std::vector<std::pair<std::string, std::string>> extra;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const std::string v = argv[i + 1];
    if (a == "--brokers") {
      brokers = v;
    } else if (a == "--topic") {
      topic = v;
    } else if (a == "--group") {
      group = v;
    } else if (a == "--strategy") {
      strategy = v;
    } else if (a == "-X") {
      const auto eq = v.find('=');
      if (eq == std::string::npos) return 2;
      extra.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (brokers.empty() || topic.empty() || group.empty()) {
    std::fprintf(stderr, "usage: %s --brokers H:P --topic T --group G\n", argv[0]);
    return 2;
  }
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);

  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  Rebalance rebalance;
  auto set = [&](const std::string& k, const std::string& v) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      std::fprintf(stderr, "config %s: %s\n", k.c_str(), err.c_str());
      std::exit(2);
    }
  };
  set("bootstrap.servers", brokers);
  set("group.id", group);
  set("client.id", "pgcdc-rdkafka-group-test");
  set("enable.auto.commit", "false");
  set("auto.offset.reset", "earliest");
  set("session.timeout.ms", "6000");
  set("heartbeat.interval.ms", "500");
  set("partition.assignment.strategy", strategy);
  set("fetch.wait.max.ms", "200");
  for (const auto& [k, v] : extra) set(k, v);
  if (conf->set("rebalance_cb", &rebalance, err) != RdKafka::Conf::CONF_OK) return 2;

  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) {
    Emit(R"({"event":"error","error":")" + Escape(err) + "\"}");
    return 1;
  }
  if (auto e = consumer->subscribe({topic}); e != RdKafka::ERR_NO_ERROR) {
    Emit(R"({"event":"error","error":")" + Escape(RdKafka::err2str(e)) + "\"}");
    return 1;
  }
  while (!g_stop) {
    std::unique_ptr<RdKafka::Message> msg(consumer->consume(200));
    if (!msg) continue;
    switch (msg->err()) {
      case RdKafka::ERR_NO_ERROR: {
        const std::string key = msg->key() ? *msg->key() : "";
        Emit(R"({"event":"message","p":)" + std::to_string(msg->partition()) + R"(,"o":)" +
             std::to_string(msg->offset()) + R"(,"k":")" + Escape(key) + "\"}");
        // Commit after processing: synchronous, so a kill right after this
        // line cannot lose the record.
        if (auto e = consumer->commitSync(msg.get()); e != RdKafka::ERR_NO_ERROR) {
          Emit(R"({"event":"error","error":"commit: )" + Escape(RdKafka::err2str(e)) + "\"}");
        }
        break;
      }
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        break;
      default:
        Emit(R"({"event":"error","error":")" + Escape(msg->errstr()) + "\"}");
        break;
    }
  }
  consumer->close();
  Emit(R"({"event":"closed"})");
  return 0;
}
