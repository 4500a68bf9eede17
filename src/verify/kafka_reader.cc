// kafka:BROKERS/TOPIC — every partition of the topic from its low watermark
// to the high watermark it had when the pass started, with a librdkafka
// consumer that is assigned the partitions (no consumer group, nothing
// committed). Record headers pgcdc-channel, pgcdc-operation and
// pgcdc-event-id (the kafka sink writes them) are passed on as hints.
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <map>

#include "verify/sink_reader.h"

namespace pgcdc::verify {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kPollMs = 100;
constexpr size_t kErrBytes = 512;

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;

struct PartitionsDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
using PartitionsPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionsDeleter>;

std::string_view Header(rd_kafka_headers_t* headers, const char* name) {
  const void* value = nullptr;
  size_t size = 0;
  if (headers == nullptr ||
      rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      value == nullptr) {
    return {};
  }
  return std::string_view(static_cast<const char*>(value), size);
}

Result<KafkaPtr> NewConsumer(const Against& a, const SinkOptions& o) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[kErrBytes];
  std::map<std::string, std::string> props = {{"bootstrap.servers", a.brokers},
                                              {"group.id", "pgcdc-verify"},
                                              {"enable.auto.commit", "false"},
                                              {"enable.auto.offset.store", "false"},
                                              {"enable.partition.eof", "true"}};
  for (const auto& [k, v] : o.kafka_properties) props[k] = v;
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Fail(ErrorCode::kConfig, "kafka property " + k + ": " + err);
    }
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);  // not taken over on failure
    return Fail(ErrorCode::kConfig, std::string("kafka consumer: ") + err);
  }
  return KafkaPtr(rk);
}

// The topic's partition ids; kNotFound when the brokers do not know it.
Result<std::vector<int32_t>> TopicPartitions(rd_kafka_t* rk, const Against& a, int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* topic = rd_kafka_topic_new(rk, a.topic.c_str(), nullptr);
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, topic, &md, timeout_ms);
  rd_kafka_topic_destroy(topic);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Fail(ErrorCode::kConnection,
                "kafka " + a.brokers + ": metadata: " + rd_kafka_err2str(err));
  }
  std::vector<int32_t> partitions;
  if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < md->topics[0].partition_cnt; ++i) {
      partitions.push_back(md->topics[0].partitions[i].id);
    }
  }
  rd_kafka_metadata_destroy(md);
  if (partitions.empty()) {
    return Fail(ErrorCode::kNotFound,
                "kafka topic \"" + a.topic + "\" does not exist at " + a.brokers);
  }
  return partitions;
}

class KafkaReader final : public SinkReader {
 public:
  KafkaReader(Against against, SinkOptions options)
      : against_(std::move(against)), options_(std::move(options)) {}

  Status ReadAll(const RecordFn& fn) override {
    auto rk = NewConsumer(against_, options_);
    if (!rk) return Fail(rk.error());
    auto assignment = Assign(rk->get());
    if (!assignment) return Fail(assignment.error());
    return Consume(rk->get(), *assignment, fn);
  }

  std::string Describe() const override {
    return "kafka topic " + against_.topic + " at " + against_.brokers;
  }

 private:
  using Ends = std::map<int32_t, int64_t>;  // partition -> high watermark

  // Assigns every non-empty partition from its low watermark; returns the
  // high watermarks to read up to.
  Result<Ends> Assign(rd_kafka_t* rk) {
    const int timeout = static_cast<int>(options_.kafka_timeout.count());
    auto partitions = TopicPartitions(rk, against_, timeout);
    if (!partitions) return Fail(partitions.error());
    Ends ends;
    PartitionsPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions->size())));
    for (int32_t p : *partitions) {
      int64_t lo = 0;
      int64_t hi = 0;
      const auto w =
          rd_kafka_query_watermark_offsets(rk, against_.topic.c_str(), p, &lo, &hi, timeout);
      if (w != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return Fail(ErrorCode::kConnection, "kafka partition " + std::to_string(p) +
                                                ": watermarks: " + rd_kafka_err2str(w));
      }
      if (hi <= lo) continue;
      ends[p] = hi;
      rd_kafka_topic_partition_list_add(list.get(), against_.topic.c_str(), p)->offset = lo;
    }
    if (const auto a = rd_kafka_assign(rk, list.get()); a != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Fail(ErrorCode::kConnection, std::string("kafka assign: ") + rd_kafka_err2str(a));
    }
    return ends;
  }

  // Polls until every partition reached its end; gives up after
  // kafka_timeout without progress.
  Status Consume(rd_kafka_t* rk, Ends ends, const RecordFn& fn) {
    auto deadline = Clock::now() + options_.kafka_timeout;
    while (!ends.empty()) {
      if (Clock::now() > deadline) {
        return Fail(ErrorCode::kTimeout, "kafka topic " + against_.topic + ": no progress for " +
                                             std::to_string(options_.kafka_timeout.count()) +
                                             " ms with " + std::to_string(ends.size()) +
                                             " partition(s) not read to the end");
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, kPollMs);
      if (m == nullptr) continue;
      deadline = Clock::now() + options_.kafka_timeout;
      Status st = Handle(*m, ends, fn);
      rd_kafka_message_destroy(m);
      if (!st) return st;
    }
    return Ok();
  }

  Status Handle(rd_kafka_message_t& m, Ends& ends, const RecordFn& fn) {
    const int32_t p = m.partition;
    if (m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (auto it = ends.find(p); it != ends.end() && m.offset >= it->second) ends.erase(it);
      return Ok();
    }
    if (m.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Fail(ErrorCode::kConnection,
                  "kafka topic " + against_.topic + ": " + rd_kafka_message_errstr(&m));
    }
    auto it = ends.find(p);
    if (it == ends.end() || m.offset >= it->second) return Ok();  // past the end at start
    rd_kafka_headers_t* headers = nullptr;
    (void)rd_kafka_message_headers(&m, &headers);  // no headers: hints stay empty
    const Hints hints{.channel = Header(headers, "pgcdc-channel"),
                      .operation = Header(headers, "pgcdc-operation"),
                      .id = Header(headers, "pgcdc-event-id")};
    const std::string_view value(static_cast<const char*>(m.payload), m.payload ? m.len : 0);
    fn(value, hints,
       Location{
           .name = against_.topic, .position = static_cast<uint64_t>(m.offset), .partition = p});
    if (m.offset + 1 >= it->second) ends.erase(it);
    return Ok();
  }

  Against against_;
  SinkOptions options_;
};

}  // namespace

Result<std::unique_ptr<SinkReader>> OpenKafkaSink(const Against& against,
                                                  const SinkOptions& options) {
  // Check the settings and the topic once now, so problems are reported
  // before the table is read.
  auto rk = NewConsumer(against, options);
  if (!rk) return Fail(rk.error());
  auto partitions =
      TopicPartitions(rk->get(), against, static_cast<int>(options.kafka_timeout.count()));
  if (!partitions) return Fail(partitions.error());
  return std::make_unique<KafkaReader>(against, options);
}

}  // namespace pgcdc::verify
