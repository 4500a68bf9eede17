// The sinks of the chaos suite (chaos.h): how each is started, read back and
// made unavailable.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>

#include "chaos.h"
#include "fake_clickhouse.h"
#include "http_receiver.h"
#include "json_util.h"
#include "kafka_clients.h"
#include "nats_server.h"
#include "redis_server.h"

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

// ---- file: one file (no rotation) on a small tmpfs that can be filled up.
class FileSink : public LineFileSink {
 public:
  explicit FileSink(const std::string& table) : LineFileSink(table) {
    mount_ = dir_.path + "/disk";
    fs::create_directories(mount_);
    // 512 MiB holds the full profile's stream (≈ 100 MB) with room to spare.
    if (::mount("chaos", mount_.c_str(), "tmpfs", 0, "size=512m") == 0) {
      mounted_ = true;
    } else {
      std::cerr << "chaos: cannot mount a tmpfs (" << std::strerror(errno)
                << "); the disk-full fault is skipped\n";
    }
    path_ = mount_ + "/events.jsonl";
  }
  ~FileSink() override {
    if (mounted_) ::umount2(mount_.c_str(), MNT_DETACH);
  }
  std::vector<std::string> Args() override {
    return {"-a", "file", "--file-path", path_, "--file-max-size", "0"};
  }
  bool HasDisk() const override { return mounted_; }
  void FillDisk(bool full) override;

 private:
  TempDir dir_;
  std::string mount_;
  bool mounted_ = false;
};

void FileSink::FillDisk(bool full) {
  const std::string filler = mount_ + "/filler";
  if (!full) {
    fs::remove(filler);
    return;
  }
  std::ofstream out(filler, std::ios::binary);
  const std::string block(1 << 20, 'x');
  while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
  }
  // The last partial block: byte by byte until the disk refuses.
  out.clear();
  for (int i = 0; i < (1 << 20) && out.put('x') && out.flush(); ++i) {
  }
}

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

}  // namespace

Profile LoadProfile() {
  Profile p;
  const char* name = std::getenv("PGCDC_CHAOS_PROFILE");
  p.name = name != nullptr && *name != '\0' ? name : "short";
  if (p.name == "full") {
    p.sinks = {"stdout", "file",  "webhook", "pg_table", "kafkaserver",
               "exec",   "kafka", "nats",    "redis",    "clickhouse"};
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
  return nullptr;
}

}  // namespace pgcdc::testing::chaos
