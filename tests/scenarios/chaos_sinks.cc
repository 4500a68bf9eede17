// The sinks of the chaos suite (chaos.h): how each is started, read back and
// made unavailable.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>

#include "chaos.h"
#ifdef PGCDC_TEST_DUCKDB_API
#include "duckdb_reader.h"
#endif
#include "fake_clickhouse.h"
#include "http_receiver.h"
#include "json_util.h"
#include "kafka_clients.h"
#include "nats_server.h"
#include "redis_server.h"
#include "s3_server.h"

namespace pgcdc::testing::chaos {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> EnvList(const char* name) {
  std::vector<std::string> out;
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return out;
  std::stringstream in(v);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

void AppendLines(std::vector<Delivered>& out, const std::vector<std::string>& lines,
                 const std::string& channel) {
  for (const auto& l : lines) {
    if (auto d = ParseEvent(l, channel)) out.push_back(*d);
  }
}

// The number of lines in a growing file, estimated from its size (cheap to
// poll); the bytes per line are measured once the file holds 1 MB.
double LinesEstimate(const std::string& path, double& bytes_per_line) {
  std::error_code ec;
  const auto size = static_cast<double>(fs::file_size(path, ec));
  if (ec) return 0;
  if (bytes_per_line == 0) {
    if (size < (1 << 20)) return static_cast<double>(ReadFileLines(path).size());
    bytes_per_line = size / static_cast<double>(std::max<size_t>(ReadFileLines(path).size(), 1));
  }
  return size / bytes_per_line;
}

std::string Channel(const std::string& table) { return "pgcdc:" + table; }

// ---- stdout: the lines every process wrote; unavailable = the reader stops.
class StdoutSink : public Sink {
 public:
  explicit StdoutSink(const std::string& table) : channel_(Channel(table)) {}
  std::vector<std::string> Args() override { return {"-a", "stdout"}; }
  std::vector<Delivered> Events(Process* live) override {
    std::vector<Delivered> out = ended_;
    if (live != nullptr) AppendLines(out, live->StdoutLines(), channel_);
    return out;
  }
  double Progress(Process* live) override {
    return static_cast<double>(ended_.size() + (live ? live->StdoutLines().size() : 0));
  }
  void Ended(Process& p) override { AppendLines(ended_, p.StdoutLines(), channel_); }
  bool CanBeUnavailable() const override { return true; }
  void SetAvailable(bool available, Process* live) override {
    if (live == nullptr) return;
    if (available) {
      live->ResumeStdout();
    } else {
      live->PauseStdout();
    }
  }

 private:
  std::string channel_;
  std::vector<Delivered> ended_;
};

// A sink whose events end up as the lines of one file.
class LineFileSink : public Sink {
 public:
  std::vector<Delivered> Events(Process*) override {
    std::vector<Delivered> out;
    AppendLines(out, ReadFileLines(path_), channel_);
    return out;
  }
  double Progress(Process*) override { return LinesEstimate(path_, bytes_per_line_); }

 protected:
  explicit LineFileSink(const std::string& table) : channel_(Channel(table)) {}
  std::string channel_;
  std::string path_;

 private:
  double bytes_per_line_ = 0;
};

// A sink whose files are on a tmpfs of its own (TmpfsDisk): the disk-full
// fault.
template <class Base>
class OnTmpfs : public Base {
 public:
  using Base::Base;
  bool HasDisk() const override { return disk_.mounted(); }
  void FillDisk(bool full) override { disk_.Fill(full); }

 protected:
  TmpfsDisk disk_;
};

// ---- file: one file (no rotation) on a small tmpfs that can be filled up.
class FileSink : public OnTmpfs<LineFileSink> {
 public:
  explicit FileSink(const std::string& table) : OnTmpfs(table) {
    path_ = disk_.path() + "/events.jsonl";
  }
  std::vector<std::string> Args() override {
    return {"-a", "file", "--file-path", path_, "--file-max-size", "0"};
  }
};

// ---- webhook: a receiver answering 503 while unavailable; the breaker
// holds events back (so the retries never give up into the DLQ).
class WebhookSink : public Sink {
 public:
  explicit WebhookSink(const std::string& table) : channel_(Channel(table)) {
    rx_.SetResponder([this](const HttpReceiver::Request&) {
      return down_ ? HttpReceiver::Reply{503, "{}", {}} : HttpReceiver::Reply{200, "{}", {}};
    });
  }
  std::vector<std::string> Args() override {
    EXPECT_TRUE(rx_.ok());
    return {"-a",
            "webhook",
            "-u",
            rx_.Url(),
            "--retries",
            "5",
            "--webhook-backoff-base",
            "20ms",
            "--webhook-backoff-cap",
            "200ms",
            "--webhook-cb-failures",
            "3",
            "--webhook-cb-reset",
            "500ms",
            "--webhook-batch-size",
            "50"};
  }
  // Accepted (2xx) bodies in arrival order; parsed once and cached.
  std::vector<Delivered> Events(Process*) override {
    const auto requests = rx_.Requests();
    for (; parsed_ < requests.size(); ++parsed_) {
      const auto& r = requests[parsed_];
      if (r.reply_status / 100 != 2) continue;
      boost::system::error_code ec;
      auto v = boost::json::parse(r.body, ec);
      if (ec) continue;
      if (!v.is_array()) {
        if (auto d = ParseEvent(r.body, channel_)) cache_.push_back(*d);
        continue;
      }
      for (const auto& e : v.as_array()) {
        if (auto d = ParseEvent(boost::json::serialize(e), channel_)) cache_.push_back(*d);
      }
    }
    return cache_;
  }
  bool CanBeUnavailable() const override { return true; }
  void SetAvailable(bool available, Process*) override { down_ = !available; }

 private:
  std::string channel_;
  HttpReceiver rx_;
  std::atomic<bool> down_{false};
  size_t parsed_ = 0;
  std::vector<Delivered> cache_;
};

// ---- pg_table: an events table (plus an arrival sequence) in its own
// database; unavailable = connections refused and pgcdc's session ended.
class PgTableSink : public Sink {
 public:
  explicit PgTableSink(const std::string& table)
      : channel_(Channel(table)), db_("chaos_" + table), events_(table + "_events") {
    auto conn = Connect();
    (void)conn.Exec("ALTER DATABASE " + pg::QuoteIdentifier(db_) + " ALLOW_CONNECTIONS true");
    ExecOrFail(conn, "DROP DATABASE IF EXISTS " + pg::QuoteIdentifier(db_) + " WITH (FORCE)");
    ExecOrFail(conn, "CREATE DATABASE " + pg::QuoteIdentifier(db_));
    auto target = Target();
    ExecOrFail(target, "CREATE TABLE " + pg::QuoteIdentifier(events_) +
                           " (id TEXT PRIMARY KEY, channel TEXT NOT NULL, operation TEXT NOT "
                           "NULL, payload JSONB NOT NULL, source TEXT NOT NULL, created_at "
                           "TIMESTAMPTZ NOT NULL, arrival bigserial)");
  }
  std::vector<std::string> Args() override {
    return {"-a",
            "pg_table",
            "--pg-table-url",
            SharedCluster().Url(db_),
            "--pg-table-name",
            events_,
            "--pg-table-backoff-base",
            "50ms",
            "--pg-table-backoff-cap",
            "500ms"};
  }
  std::vector<Delivered> Events(Process*) override {
    std::vector<Delivered> out;
    auto conn = Target();
    auto r = conn.Query(
        "SELECT json_build_object('id', id, 'channel', channel, 'payload', "
        "payload)::text FROM " +
        pg::QuoteIdentifier(events_) + " ORDER BY arrival");
    if (!r) return out;
    for (const auto& row : *r) {
      if (auto d = ParseEvent(*row[0], channel_)) out.push_back(*d);
    }
    return out;
  }
  double Progress(Process*) override {
    auto conn = Target();
    auto r = conn.Query("SELECT count(*) FROM " + pg::QuoteIdentifier(events_));
    return r && !r->empty() ? std::stod(*(*r)[0][0]) : 0;
  }
  bool CanBeUnavailable() const override { return true; }
  void SetAvailable(bool available, Process*) override {
    auto conn = Connect();
    ExecOrFail(conn, "ALTER DATABASE " + pg::QuoteIdentifier(db_) + " ALLOW_CONNECTIONS " +
                         (available ? "true" : "false"));
    if (!available) {
      auto r = conn.Query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", {db_});
      EXPECT_TRUE(r) << r.error().message();
    }
  }

 private:
  pg::Conn Target() {
    auto c = pg::Conn::Open(SharedCluster().Url(db_));
    if (!c) return pg::Conn();
    return std::move(*c);
  }
  std::string channel_;
  std::string db_;
  std::string events_;
};

// ---- kafkaserver: pgcdc is the broker; records live in its data dir and
// are read back with kcat from the final process.
class KafkaServerSink : public Sink {
 public:
  explicit KafkaServerSink(const std::string& table)
      : channel_(Channel(table)), topic_("pgcdc." + table) {}
  std::vector<std::string> Args() override {
    return {"-a",
            "kafkaserver",
            "--kafkaserver-addr",
            "127.0.0.1:0",
            "--kafkaserver-data-dir",
            dir_.path,
            "--kafkaserver-partitions",
            "4",
            "--kafkaserver-retention-bytes",
            "0"};
  }
  std::vector<Delivered> Events(Process* live) override {
    std::vector<Delivered> out;
    if (live == nullptr) return out;
    const std::string addr = Addr(*live);
    if (addr.empty()) return out;
    for (const auto& rec : ConsumeAll(addr, topic_)) {
      if (auto d = ParseEvent(rec.value, channel_)) out.push_back(*d);
    }
    return out;
  }
  double Progress(Process* live) override {
    if (live == nullptr) return base_;
    last_ = ScrapeMetric(*live, "pgcdc_kafkaserver_records_stored_total").value_or(last_);
    return base_ + last_;
  }
  bool ReadableAfterEnd() const override { return false; }
  void Ended(Process&) override {
    base_ += last_;
    last_ = 0;
  }

 private:
  static std::string Addr(Process& p) {
    if (!p.WaitForStderr("kafkaserver listening")) return {};
    static const std::regex re("kafkaserver listening addr=([^ \n]+)");
    std::smatch m;
    const std::string err = p.Stderr();
    return std::regex_search(err, m, re) ? std::string(m[1]) : std::string();
  }
  std::string channel_;
  std::string topic_;
  TempDir dir_;
  double base_ = 0;
  double last_ = 0;
};

// ---- exec: a shell loop appending each line to a file; unavailable = the
// script exits (status 1) while a flag file exists, so pgcdc restarts it
// with backoff and gives the unread events to the next child.
class ExecSink : public LineFileSink {
 public:
  explicit ExecSink(const std::string& table) : LineFileSink(table) {
    path_ = dir_.path + "/out.jsonl";
    down_ = dir_.path + "/down";
  }
  std::vector<std::string> Args() override {
    const std::string script = "while [ ! -e '" + down_ +
                               "' ] && IFS= read -r line; do printf '%s\\n' \"$line\" >> '" +
                               path_ + "'; done; exit 1";
    return {"-a",
            "exec",
            "--exec-command",
            script,
            "--exec-backoff-base",
            "20ms",
            "--exec-backoff-cap",
            "500ms"};
  }
  bool CanBeUnavailable() const override { return true; }
  void SetAvailable(bool available, Process*) override {
    if (available) {
      fs::remove(down_);
    } else {
      std::ofstream(down_) << "down\n";
    }
  }

 private:
  TempDir dir_;
  std::string down_;
};

// A sink whose progress is a counter metric of the live process (summed
// over the processes the run started).
class CounterProgress {
 public:
  explicit CounterProgress(std::string series) : series_(std::move(series)) {}
  double Read(Process* live) {
    if (live != nullptr) last_ = ScrapeMetric(*live, series_).value_or(last_);
    return base_ + last_;
  }
  void Ended() {
    base_ += last_;
    last_ = 0;
  }

 private:
  std::string series_;
  double base_ = 0;
  double last_ = 0;
};

// ---- kafka: librdkafka's mock cluster (three brokers) in its own process;
// unavailable = every broker refuses connections. The mock keeps only the
// newest ~5 MB of a partition, so the topic gets 64 partitions (room for
// about 700,000 events of this table) and the suite checks that every
// partition still starts at offset 0 when it reads it.
class KafkaSink : public Sink {
 public:
  static constexpr int kPartitions = 64;
  explicit KafkaSink(const std::string& table)
      : channel_(Channel(table)),
        topic_("pgcdc." + table),
        mock_(MockKafka::Start(
            {"--brokers", "3", "--topic", topic_ + ":" + std::to_string(kPartitions)})),
        progress_("pgcdc_kafka_records_delivered_total") {
    EXPECT_TRUE(mock_);
  }
  std::vector<std::string> Args() override {
    return {"-a",
            "kafka",
            "--kafka-brokers",
            mock_ ? mock_->bootstrap() : "",
            "--kafka-value",
            "envelope",
            "--kafka-property",
            "reconnect.backoff.max.ms=500",
            "--kafka-connect-timeout",
            "20s"};
  }
  std::vector<Delivered> Events(Process*) override {
    std::vector<Delivered> out;
    std::map<int, int64_t> first_offset;
    for (const auto& rec : ConsumeAll(mock_->bootstrap(), topic_)) {
      first_offset.try_emplace(rec.partition, rec.offset);
      if (auto d = ParseEvent(rec.value, channel_)) out.push_back(*d);
    }
    for (const auto& [partition, offset] : first_offset) {
      EXPECT_EQ(offset, 0) << "the mock deleted the start of partition " << partition
                           << " (a harness limit, not a loss)";
    }
    return out;
  }
  double Progress(Process* live) override { return progress_.Read(live); }
  void Ended(Process&) override { progress_.Ended(); }
  bool CanBeUnavailable() const override { return true; }
  void SetAvailable(bool available, Process*) override {
    EXPECT_TRUE(available ? mock_->Up() : mock_->Down());
  }

 private:
  std::string channel_;
  std::string topic_;
  std::unique_ptr<MockKafka> mock_;
  CounterProgress progress_;
};

// A server made unavailable by a crash (SIGKILL) and back on the same port
// and store.
template <class Server>
void CrashOrStart(Server& server, bool available) {
  if (available) {
    EXPECT_TRUE(server.Start());
  } else {
    server.Kill();
  }
}

// ---- nats: a JetStream server with a file store; unavailable = killed
// (SIGKILL) and started again on the same port and store.
class NatsSink : public Sink {
 public:
  explicit NatsSink(const std::string& table) : channel_(Channel(table)) {}
  std::vector<std::string> Args() override {
    return {"-a",
            "nats",
            "--nats-url",
            nats_.Url(),
            "--nats-stream",
            "CHAOS",
            "--nats-backoff-base",
            "50ms",
            "--nats-backoff-cap",
            "300ms"};
  }
  std::vector<Delivered> Events(Process*) override {
    std::vector<Delivered> out;
    for (const auto& m : nats_.ReadStream("CHAOS")) {
      if (auto d = ParseEvent(m.data, channel_)) out.push_back(*d);
    }
    return out;
  }
  double Progress(Process*) override {
    return static_cast<double>(std::max<int64_t>(nats_.StreamMessages("CHAOS"), 0));
  }
  bool CanBeUnavailable() const override { return true; }
  void SetAvailable(bool available, Process*) override { CrashOrStart(nats_, available); }

 private:
  std::string channel_;
  NatsServer nats_;
};

// ---- redis: stream mode (XADD of every event) on a server with an
// append-only file (fsync always); unavailable = killed and started again.
class RedisSink : public Sink {
 public:
  explicit RedisSink(const std::string& table)
      : channel_(Channel(table)), redis_(/*persistent=*/true) {}
  std::vector<std::string> Args() override {
    return {"-a",
            "redis",
            "--redis-url",
            redis_.Url(),
            "--redis-mode",
            "stream",
            "--redis-stream-maxlen",
            "0",
            "--redis-backoff-base",
            "50ms",
            "--redis-backoff-cap",
            "300ms"};
  }
  std::vector<Delivered> Events(Process*) override {
    std::vector<Delivered> out;
    std::stringstream in(redis_.Cli({"--raw", "XRANGE", channel_, "-", "+"}));
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line[0] == '{') {
        if (auto d = ParseEvent(line, channel_)) out.push_back(*d);
      }
    }
    return out;
  }
  double Progress(Process*) override {
    return static_cast<double>(std::max<long long>(redis_.CliInt({"XLEN", channel_}), 0));
  }
  bool CanBeUnavailable() const override { return true; }
  void SetAvailable(bool available, Process*) override { CrashOrStart(redis_, available); }

 private:
  std::string channel_;
  RedisServer redis_;
};

// ---- clickhouse: the FAKE ClickHouse server (no ClickHouse is packaged);
// rows in arrival order; unavailable = every insert answered 503.
class ClickHouseSink : public Sink {
 public:
  explicit ClickHouseSink(const std::string& table) : channel_(Channel(table)) {}
  std::vector<std::string> Args() override {
    EXPECT_TRUE(fake_.ok());
    return {"-a",
            "clickhouse",
            "--clickhouse-dsn",
            fake_.Dsn(),
            "--clickhouse-auto-create",
            "--clickhouse-batch-size",
            "500",
            "--clickhouse-flush-interval",
            "200ms",
            "--clickhouse-backoff-base",
            "50ms",
            "--clickhouse-backoff-cap",
            "300ms"};
  }
  // Each row as the envelope ParseEvent reads (the payload column is JSON text).
  std::vector<Delivered> Events(Process*) override {
    std::vector<Delivered> out;
    for (const auto& r : fake_.Rows()) {
      const auto& row = r.as_object();
      boost::json::object envelope;
      envelope["id"] = row.at("id");
      envelope["channel"] = row.at("channel");
      boost::system::error_code ec;
      envelope["payload"] = boost::json::parse(row.at("payload").as_string(), ec);
      if (ec) continue;
      if (auto d = ParseEvent(boost::json::serialize(envelope), channel_)) out.push_back(*d);
    }
    return out;
  }
  double Progress(Process*) override {
    return static_cast<double>(std::max<int64_t>(fake_.Count().first, 0));
  }
  bool CanBeUnavailable() const override { return true; }
  void SetAvailable(bool available, Process*) override {
    fake_.Control(available ? "/_fake/fail?status=503&count=0"
                            : "/_fake/fail?status=503&count=1000000000");
  }

 private:
  std::string channel_;
  FakeClickHouse fake_;
};

// ---- s3: JSON-lines objects in the real s3rver (npm, SERVICES.md), read
// back from its directory: objects in the order of their names' first LSN
// (a replay that starts an object at the same event replaces it), lines in
// order; unavailable = s3rver killed (SIGKILL) and started again on the same
// port and directory.
class S3Sink : public Sink {
 public:
  explicit S3Sink(const std::string& table)
      : channel_(Channel(table)), progress_("pgcdc_s3_flush_size_sum") {}
  std::vector<std::string> Args() override { return S3SinkArgs(s3_, {"--s3-flush-size", "2000"}); }
  std::vector<Delivered> Events(Process*) override {
    const auto objects = s3_.Objects();
    std::vector<const std::pair<const std::string, std::string>*> sorted;
    for (const auto& o : objects) sorted.push_back(&o);
    // <…>/day=DD/<first LSN, 16 hex digits>-<first event id>.jsonl
    auto name = [](const std::string& key) { return key.substr(key.rfind('/') + 1); };
    std::sort(sorted.begin(), sorted.end(), [&](const auto* a, const auto* b) {
      return std::pair(name(a->first), a->first) < std::pair(name(b->first), b->first);
    });
    std::vector<Delivered> out;
    for (const auto* o : sorted) {
      std::istringstream in(o->second);
      for (std::string line; std::getline(in, line);) {
        if (auto d = ParseEvent(line, channel_)) out.push_back(*d);
      }
    }
    return out;
  }
  double Progress(Process* live) override { return progress_.Read(live); }
  void Ended(Process&) override { progress_.Ended(); }
  bool CanBeUnavailable() const override { return true; }
  void SetAvailable(bool available, Process*) override {
    if (available) {
      EXPECT_TRUE(s3_.Start());
    } else {
      s3_.Stop();
    }
  }

 private:
  std::string channel_;
  S3Server s3_;
  CounterProgress progress_;
};

#ifdef PGCDC_TEST_DUCKDB_API
// A Delivered from a row of key `k`, version `v` and event id `id` (text).
std::optional<Delivered> FromRow(const std::string& k, const std::string& v,
                                 const std::string& id) {
  if (k.empty() || v.empty()) return std::nullopt;
  return Delivered{.key = std::stoi(k), .version = std::stoi(v), .lsn = LsnOfEventId(id)};
}

// ---- duckdb: a database file on its own tmpfs (local: no outage, the
// disk fills up instead). Read back over POST /query while pgcdc runs (it
// holds the file's lock), else with DuckDB's C API. The table keeps one row
// per event id and no arrival order (INSERT OR REPLACE, which a replayed
// batch goes through, inserts in no particular order): rows are read in
// created_at order, which a replay renews, ties by event id.
class DuckdbSink : public OnTmpfs<Sink> {
 public:
  explicit DuckdbSink(const std::string& table)
      : channel_(Channel(table)), path_(disk_.path() + "/cdc.duckdb") {}
  std::vector<std::string> Args() override {
    return {"-a",
            "duckdb",
            "--duckdb-path",
            path_,
            "--duckdb-retention",
            "24h",
            "--duckdb-query-max-bytes",
            "1073741824",
            "--duckdb-query-timeout",
            "2m"};
  }
  std::vector<Delivered> Events(Process* live) override {
    const std::string sql =
        "SELECT CAST(payload->>'$.row.id' AS INTEGER) AS k, CAST(payload->>'$.row.v' AS "
        "INTEGER) AS v, id FROM cdc_events WHERE channel = " +
        duckdb_api::QuoteLiteral(channel_) + " ORDER BY created_at, id";
    std::vector<Delivered> out;
    if (live == nullptr) {
      DuckReader db(path_);
      std::string error = db.error();
      for (const auto& r : db.Query(sql, error)) {
        if (auto d = FromRow(r.at("k"), r.at("v"), r.at("id"))) out.push_back(*d);
      }
      EXPECT_EQ(error, "") << "reading " << path_;
      return out;
    }
    const auto addr = live->HttpAddr();
    const auto reply =
        addr
            ? HttpSend(*addr, "POST", "/query", {"Content-Type: application/json"},
                       boost::json::serialize(boost::json::object{{"sql", sql}, {"timeout", "2m"}}),
                       150s)
            : std::nullopt;
    if (!reply || reply->status != 200) {
      ADD_FAILURE() << "POST /query: " << (reply ? reply->body : "no answer");
      return out;
    }
    const auto rows = ParseJson(reply->body);
    for (const auto& r : rows.as_array()) {
      const auto& o = r.as_object();
      if (!o.at("k").is_int64() || !o.at("v").is_int64()) continue;
      out.push_back({.key = static_cast<int>(o.at("k").as_int64()),
                     .version = static_cast<int>(o.at("v").as_int64()),
                     .lsn = LsnOfEventId(o.at("id").as_string())});
    }
    return out;
  }
  // Rows in the table (a gauge pgcdc updates about once a second).
  double Progress(Process* live) override {
    if (live != nullptr) {
      rows_ = std::max(rows_, ScrapeMetric(*live, "pgcdc_duckdb_rows_total").value_or(0));
    }
    return rows_;
  }

 private:
  std::string channel_;
  std::string path_;
  double rows_ = 0;
};

// ---- iceberg: a local warehouse on its own tmpfs (no outage; the disk
// fills up instead). Read back as a reader would: the current metadata and
// manifests with tests/tools/iceberg_read.js, the data files it lists with
// DuckDB's read_parquet, in commit (sequence number) order.
class IcebergSink : public OnTmpfs<Sink> {
 public:
  explicit IcebergSink(const std::string& table)
      : channel_(Channel(table)),
        warehouse_(disk_.path() + "/wh"),
        progress_("pgcdc_iceberg_flush_size_sum") {}
  std::vector<std::string> Args() override {
    return {"-a",
            "iceberg",
            "--iceberg-warehouse",
            warehouse_,
            "--iceberg-table",
            "events",
            "--iceberg-flush-size",
            "5000",
            "--iceberg-flush-interval",
            "1s",
            "--iceberg-backoff-base",
            "100ms",
            "--iceberg-backoff-cap",
            "500ms"};
  }
  std::vector<Delivered> Events(Process*) override {
    std::vector<Delivered> out;
    const std::string dir = warehouse_ + "/pgcdc/events";
    if (!fs::exists(dir + "/metadata/version-hint.text")) return out;
    boost::json::object table = ReadIcebergTable(dir);
    if (table.contains("error")) {
      ADD_FAILURE() << "iceberg_read.js: " << boost::json::serialize(table);
      return out;
    }
    std::vector<std::pair<int64_t, std::string>> files;  // sequence number, path
    for (const auto& f : table.at("files").as_array()) {
      if (f.at("content").to_number<int64_t>() != 0) continue;
      files.emplace_back(std::stoll(std::string(f.at("sequence_number").as_string())),
                         std::string(f.at("local").as_string()));
    }
    std::sort(files.begin(), files.end());
    DuckReader duck;
    std::string error = duck.error();
    for (const auto& [seq, path] : files) {
      for (const auto& r :
           duck.Query("SELECT json_extract_string(payload, '$.row.id') AS k, "
                      "json_extract_string(payload, '$.row.v') AS v, event_id FROM read_parquet(" +
                          duckdb_api::QuoteLiteral(path) +
                          ") WHERE channel = " + duckdb_api::QuoteLiteral(channel_),
                      error)) {
        if (auto d = FromRow(r.at("k"), r.at("v"), r.at("event_id"))) out.push_back(*d);
      }
    }
    EXPECT_EQ(error, "") << "reading the iceberg table's data files";
    return out;
  }
  double Progress(Process* live) override { return progress_.Read(live); }
  void Ended(Process&) override { progress_.Ended(); }

 private:
  std::string channel_;
  std::string warehouse_;
  CounterProgress progress_;
};
#endif

}  // namespace

Profile LoadProfile() {
  Profile p;
  const char* name = std::getenv("PGCDC_CHAOS_PROFILE");
  p.name = name != nullptr && *name != '\0' ? name : "short";
  if (p.name == "full") {
    p.sinks = {"stdout", "file",  "webhook", "pg_table",   "kafkaserver", "exec",   "kafka",
               "nats",   "redis", "s3",      "clickhouse", "duckdb",      "iceberg"};
    p.rows = 200000;
    p.kills = 20;
    p.pg_restarts = 2;
    p.walsender_kills = 1;
    p.outage = std::chrono::seconds(30);
    p.disk_full = std::chrono::seconds(10);
  } else {
    p.sinks = {"file"};
    p.rows = 30000;
    p.kills = 3;
    p.pg_restarts = 1;
    p.walsender_kills = 1;
    p.outage = std::chrono::seconds(3);
    p.disk_full = std::chrono::seconds(3);
  }
  if (auto sinks = EnvList("PGCDC_CHAOS_SINKS"); !sinks.empty()) p.sinks = sinks;
  p.rows = EnvInt("PGCDC_CHAOS_ROWS", p.rows);
  p.kills = EnvInt("PGCDC_CHAOS_KILLS", p.kills);
  p.pg_restarts = EnvInt("PGCDC_CHAOS_RESTARTS", p.pg_restarts);
  p.walsender_kills = EnvInt("PGCDC_CHAOS_WALSENDER", p.walsender_kills);
  p.outage = std::chrono::seconds(EnvInt("PGCDC_CHAOS_OUTAGE_S", int(p.outage.count())));
  p.disk_full = std::chrono::seconds(EnvInt("PGCDC_CHAOS_DISK_FULL_S", int(p.disk_full.count())));
  const char* seed = std::getenv("PGCDC_CHAOS_SEED");
  p.seed = seed != nullptr && *seed != '\0' ? static_cast<uint32_t>(std::strtoul(seed, nullptr, 10))
                                            : std::random_device{}();
  return p;
}

uint64_t LsnOfEventId(std::string_view id) {
  std::string hex;
  for (char c : id) {
    if (c != '-') hex.push_back(c);
  }
  if (hex.size() != 32 || hex[12] != '8') return 0;
  const uint64_t upper = std::strtoull(hex.substr(0, 12).c_str(), nullptr, 16);
  const uint64_t lower = std::strtoull(hex.substr(13, 3).c_str(), nullptr, 16);
  return ((upper << 12) | lower) << 4;
}

std::optional<Delivered> ParseEvent(std::string_view json, const std::string& channel) {
  boost::system::error_code ec;
  auto parsed = boost::json::parse(json, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const auto& e = parsed.as_object();
  const auto* ch = e.if_contains("channel");
  const auto* id = e.if_contains("id");
  const auto* payload = e.if_contains("payload");
  if (ch == nullptr || !ch->is_string() || ch->as_string() != channel || id == nullptr ||
      !id->is_string() || payload == nullptr || !payload->is_object()) {
    return std::nullopt;
  }
  const auto* row = payload->as_object().if_contains("row");
  if (row == nullptr || !row->is_object()) return std::nullopt;
  const auto* key = row->as_object().if_contains("id");
  const auto* version = row->as_object().if_contains("v");
  if (key == nullptr || !key->is_int64() || version == nullptr || !version->is_int64()) {
    return std::nullopt;
  }
  return Delivered{.key = static_cast<int>(key->as_int64()),
                   .version = static_cast<int>(version->as_int64()),
                   .lsn = LsnOfEventId(id->as_string())};
}

std::string SinkMissing(const std::string& name) {
#ifndef PGCDC_TEST_DUCKDB_API
  if (name == "duckdb" || name == "iceberg") return "this build has no DuckDB (cmake/DuckDB.cmake)";
#endif
  (void)name;
  return {};
}

std::unique_ptr<Sink> MakeSink(const std::string& name, const std::string& table) {
  if (name == "stdout") return std::make_unique<StdoutSink>(table);
  if (name == "file") return std::make_unique<FileSink>(table);
  if (name == "webhook") return std::make_unique<WebhookSink>(table);
  if (name == "pg_table") return std::make_unique<PgTableSink>(table);
  if (name == "kafkaserver") return std::make_unique<KafkaServerSink>(table);
  if (name == "exec") return std::make_unique<ExecSink>(table);
  if (name == "kafka") return std::make_unique<KafkaSink>(table);
  if (name == "nats") return std::make_unique<NatsSink>(table);
  if (name == "redis") return std::make_unique<RedisSink>(table);
  if (name == "clickhouse") return std::make_unique<ClickHouseSink>(table);
  if (name == "s3") return std::make_unique<S3Sink>(table);
#ifdef PGCDC_TEST_DUCKDB_API
  if (name == "duckdb") return std::make_unique<DuckdbSink>(table);
  if (name == "iceberg") return std::make_unique<IcebergSink>(table);
#endif
  return nullptr;
}

}  // namespace pgcdc::testing::chaos
