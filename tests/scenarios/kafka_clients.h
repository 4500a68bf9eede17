// Kafka helpers shared by the Kafka journeys (kafka_test.cc, kafkaserver_test.cc,
// snapshot_adapters_test.cc): kcat runs and the records they print, and the
// librdkafka mock cluster (tests/tools/kafka_mock_cluster.cc) in its own
// process.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace pgcdc::testing {

// One record as kcat prints it with kKcatFormat.
struct KRecord {
  std::string topic;
  int partition = -1;
  int64_t offset = -1;
  std::string key;
  std::map<std::string, std::string> headers;
  std::string value;
};

// kcat -f format: "R\t<topic>\t<partition>\t<offset>\t<key>\t<headers>\t<value>\n".
extern const std::string kKcatFormat;

std::vector<std::string> Split(const std::string& s, char sep);

// Records printed by kcat with kKcatFormat (other lines ignored).
std::vector<KRecord> ParseKcatRecords(const std::string& output);

// `kcat <args>` with a 60 s time limit.
CommandResult Kcat(std::vector<std::string> args, const std::string& stdin_text = {});

// Every record of `topic` from the beginning (kcat -C -e).
std::vector<KRecord> ConsumeAll(const std::string& addr, const std::string& topic,
                                std::vector<std::string> extra = {});

// Like ConsumeAll, for binary values (Avro, Protobuf): kcat prints each
// key's and value's size, so any byte may occur in them.
std::vector<KRecord> ConsumeAllBinary(const std::string& addr, const std::string& topic,
                                      std::vector<std::string> extra = {});

// The built-in broker (-a kafkaserver, 3 partitions) in its own pgcdc
// process; it speaks the transactional protocol, read_committed included.
// Sets `addr` to its address.
std::unique_ptr<Process> StartKafkaServerBroker(std::string& addr);

// One balanced-consumer run of group `group` until the end of every
// assigned partition (kcat -G ... -e); offsets are committed on exit.
std::vector<KRecord> ConsumeGroup(const std::string& addr, const std::string& group,
                                  const std::string& topic);
// The same run with `extra` kcat options (SASL), for the caller to check
// (ConsumeGroup expects success).
CommandResult KcatGroup(const std::string& addr, const std::string& group, const std::string& topic,
                        const std::vector<std::string>& extra);

// The librdkafka mock cluster helper. Brokers keep their data while down.
class MockKafka {
 public:
  // Starts `kafka_mock_cluster <args>` and waits for its bootstrap line.
  static std::unique_ptr<MockKafka> Start(std::vector<std::string> args = {});
  const std::string& bootstrap() const { return bootstrap_; }
  // Every broker refuses connections / accepts them again (the helper confirms).
  bool Down();
  bool Up();
  Process& process() { return *process_; }

 private:
  std::unique_ptr<Process> process_;
  std::string bootstrap_;
  size_t downs_ = 0;
  size_t ups_ = 0;
};

}  // namespace pgcdc::testing
