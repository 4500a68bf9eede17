#include "adapter/kafka/offsets_topic.h"

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>

#include "adapter/kafka/position.h"
#include "core/log.h"

namespace pgcdc::adapter::kafka {

namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kAdapter = "kafka";
constexpr int kPollMs = 100;
constexpr int kMaxReplication = 3;

void OnLog(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  // The reader shares the producer's properties: librdkafka warns about the
  // producer-only ones (CONFWARN), which is noise here.
  const log::Level l = level <= 3 ? log::Level::kWarn : log::Level::kDebug;
  if (log::Enabled(l)) {
    log::Write(l, "kafka: librdkafka (offsets reader)",
               {{"adapter", kAdapter}, {"facility", fac}, {"msg", buf}});
  }
}

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
};
using HandlePtr = std::unique_ptr<rd_kafka_t, HandleDeleter>;

// A consumer that reads committed data only, never commits and never creates
// topics.
Result<HandlePtr> NewReader(const OffsetsTopic& t) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  std::vector<std::pair<std::string, std::string>> props = t.client_properties;
  props.emplace_back("group.id", "pgcdc-offsets-reader");
  props.emplace_back("enable.auto.commit", "false");
  props.emplace_back("enable.partition.eof", "true");
  props.emplace_back("isolation.level", "read_committed");
  props.emplace_back("allow.auto.create.topics", "false");
  for (const auto& [name, value] : props) {
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return Fail(ErrorCode::kConfig, "kafka offsets reader: property " + name + ": " + err);
    }
  }
  rd_kafka_conf_set_log_cb(conf, &OnLog);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return Fail(ErrorCode::kConfig, std::string("kafka offsets reader: ") + err);
  }
  return HandlePtr(rk);
}

// The topic's partition count; 0 when it does not exist.
Result<int> Partitions(rd_kafka_t* rk, const OffsetsTopic& t, int* brokers) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, t.topic.c_str(), nullptr);
  if (rkt == nullptr) return Fail(ErrorCode::kConfig, "kafka: bad offsets topic " + t.topic);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk, 0, rkt, &md, static_cast<int>(t.timeout.count()));
  rd_kafka_topic_destroy(rkt);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Fail(ErrorCode::kConnection,
                "kafka: metadata of the offsets topic " + t.topic + ": " + rd_kafka_err2str(err));
  }
  // Brokers may answer with more topics than asked for: find ours.
  int n = 0;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (t.topic == md->topics[i].topic) {
      topic_err = md->topics[i].err;
      n = md->topics[i].partition_cnt;
    }
  }
  if (brokers != nullptr) *brokers = md->broker_cnt;
  rd_kafka_metadata_destroy(md);
  if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
      topic_err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
    return 0;
  }
  if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Fail(ErrorCode::kConnection,
                "kafka: offsets topic " + t.topic + ": " + rd_kafka_err2str(topic_err));
  }
  return n;
}

}  // namespace

Status EnsureOffsetsTopic(const OffsetsTopic& t) {
  auto rk = NewReader(t);
  if (!rk) return Fail(rk.error());
  int brokers = 0;
  auto partitions = Partitions(rk->get(), t, &brokers);
  if (!partitions) return Fail(partitions.error());
  if (*partitions > 0) return Ok();

  char err[512];
  const int replication = std::max(1, std::min(brokers, kMaxReplication));
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(t.topic.c_str(), 1, replication, err, sizeof err);
  if (nt == nullptr) return Fail(ErrorCode::kConfig, std::string("kafka: offsets topic: ") + err);
  rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
  rd_kafka_AdminOptions_t* opts =
      rd_kafka_AdminOptions_new(rk->get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(opts, static_cast<int>(t.timeout.count()), err,
                                            sizeof err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk->get());
  rd_kafka_CreateTopics(rk->get(), &nt, 1, opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, static_cast<int>(t.timeout.count()) + kPollMs);
  std::string problem;
  if (ev == nullptr) {
    problem = "no answer";
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    problem = rd_kafka_event_error_string(ev);
  } else if (const auto* res = rd_kafka_event_CreateTopics_result(ev)) {
    size_t n = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(res, &n);
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* s = rd_kafka_topic_result_error_string(topics[i]);
        problem = s != nullptr ? s : rd_kafka_err2str(e);
      }
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy(nt);
  if (problem.empty()) {
    log::Info("kafka: created the compacted offsets topic",
              {{"adapter", kAdapter}, {"topic", t.topic}});
  } else {
    log::Warn(
        "kafka: could not create the offsets topic; it will be auto-created on first use "
        "(make it compacted: cleanup.policy=compact)",
        {{"adapter", kAdapter}, {"topic", t.topic}, {"error", problem}});
  }
  return Ok();
}

Result<std::optional<Uuid>> ReadCommittedPosition(const OffsetsTopic& t) {
  auto rk = NewReader(t);
  if (!rk) return Fail(rk.error());
  auto partitions = Partitions(rk->get(), t, nullptr);
  if (!partitions) return Fail(partitions.error());
  if (*partitions == 0) return std::optional<Uuid>();

  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(*partitions);
  for (int p = 0; p < *partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, t.topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  const rd_kafka_resp_err_t aerr = rd_kafka_assign(rk->get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Fail(ErrorCode::kConnection,
                std::string("kafka: reading the offsets topic: ") + rd_kafka_err2str(aerr));
  }

  // The newest record of our key in each partition (normally one holds them
  // all), then the greatest position over partitions.
  std::map<int32_t, Uuid> newest;
  std::map<int32_t, bool> at_end;
  std::string last_error;
  uint64_t records = 0, ours = 0;
  const auto deadline = SteadyClock::now() + t.timeout;
  while (static_cast<int>(at_end.size()) < *partitions) {
    if (SteadyClock::now() >= deadline) {
      return Fail(ErrorCode::kTimeout, "kafka: could not read the offsets topic " + t.topic +
                                           " to its end within " +
                                           std::to_string(t.timeout.count()) + "ms" +
                                           (last_error.empty() ? "" : ": " + last_error));
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk->get(), kPollMs);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) ++records;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end[m->partition] = true;
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      last_error = rd_kafka_message_errstr(m);
    } else if (m->key != nullptr && std::string_view(static_cast<const char*>(m->key),
                                                     m->key_len) == t.transactional_id) {
      auto id = DecodeCommitted(std::string_view(static_cast<const char*>(m->payload),
                                                 m->payload != nullptr ? m->len : 0));
      ++ours;
      if (id) newest[m->partition] = *id;
    }
    rd_kafka_message_destroy(m);
  }
  std::optional<Uuid> best;
  for (const auto& [p, id] : newest) {
    if (!best || AtOrBefore(*best, id)) best = id;
  }
  log::Debug("kafka: offsets topic read",
             {{"adapter", kAdapter},
              {"topic", t.topic},
              {"partitions", static_cast<int64_t>(*partitions)},
              {"records", static_cast<uint64_t>(records)},
              {"ours", static_cast<uint64_t>(ours)},
              {"committed", best ? best->ToString() : std::string("none")}});
  return best;
}

}  // namespace pgcdc::adapter::kafka
