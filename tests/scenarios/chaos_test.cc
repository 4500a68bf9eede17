// The chaos suite (see chaos.h for the profiles and knobs): for each sink, a
// writer commits `rows` inserts and a third as many updates (column v counts
// a row's versions) while faults hit pgcdc, PostgreSQL and the sink at random
// points of the delivered stream. Then every version of every row must be at
// the sink (lost = 0), the first appearances per key must be in version order,
// and the duplicates are reported with their bound: the events that were
// delivered beyond the slot's confirmed position when each fault struck.
#include "chaos.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace pgcdc::testing::chaos {
namespace {

namespace fs = std::filesystem;

enum class Fault { kKill, kPgRestart, kWalsender, kOutage, kDiskFull };

const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kKill:
      return "kill -9";
    case Fault::kPgRestart:
      return "pg_ctl restart -m immediate";
    case Fault::kWalsender:
      return "pg_terminate_backend(walsender)";
    case Fault::kOutage:
      return "sink unavailable";
    case Fault::kDiskFull:
      return "disk full";
  }
  return "?";
}

constexpr int kPerTx = 10;
constexpr int kUpdatesPerTx = 3;

// Restarts the shared cluster in immediate mode (as a crash would), with the
// options it was started with (postmaster.opts), and waits until it answers.
void RestartPostgresImmediately() {
  const std::string data = SharedCluster().dir() + "/data";
  std::ifstream pidfile(data + "/postmaster.pid");
  std::string pid;
  std::getline(pidfile, pid);
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/" + pid + "/exe", ec);
  ASSERT_FALSE(ec) << "postmaster pid " << pid << ": " << ec.message();
  std::vector<std::string> argv;
  if (::geteuid() == 0) argv = {"runuser", "-u", "postgres", "--"};
  const std::vector<std::string> pg_ctl = {(exe.parent_path() / "pg_ctl").string(),
                                           "-D",
                                           data,
                                           "-l",
                                           SharedCluster().LogPath(),
                                           "-m",
                                           "immediate",
                                           "-w",
                                           "-t",
                                           "60",
                                           "restart"};
  argv.insert(argv.end(), pg_ctl.begin(), pg_ctl.end());
  auto r = RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(Eventually([] { return pg::Conn::Open(SharedCluster().Url()).has_value(); }, 60s));
}

// The writer: transactions of kPerTx inserts (ids ascending, v = 0) and
// kUpdatesPerTx updates of recent rows (v = v + 1). A failed transaction
// (PostgreSQL restarting) is retried on a new connection; the inserts are
// idempotent, so a commit whose reply was lost is harmless, and a retried
// update only adds a version. The source table is the truth in the end.
class Writer {
 public:
  Writer(std::string table, int rows, uint32_t seed)
      : table_(std::move(table)), rows_(rows), rng_(seed) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Writer() { Join(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_; }
  int retries() const { return retries_; }
  int committed_rows() const { return committed_; }

 private:
  std::string Batch(int first, int last) {
    const std::string t = pg::QuoteIdentifier(table_);
    std::string sql = "BEGIN; INSERT INTO " + t + " (id) SELECT g FROM generate_series(" +
                      std::to_string(first) + ", " + std::to_string(last) +
                      ") g ON CONFLICT DO NOTHING;";
    if (first > 1) {
      std::string ids;
      for (int u = 0; u < kUpdatesPerTx; ++u) {
        const int lo = std::max(1, first - 2000);
        ids += (u ? "," : "") + std::to_string(lo + static_cast<int>(rng_() % (first - lo)));
      }
      sql += " UPDATE " + t + " SET v = v + 1 WHERE id IN (" + ids + ");";
    }
    return sql + " COMMIT";
  }
  void Run() {
    std::optional<pg::Conn> conn;
    for (int i = 1; i <= rows_; i += kPerTx) {
      const std::string sql = Batch(i, std::min(rows_, i + kPerTx - 1));
      const auto deadline = Clock::now() + 120s;
      while (true) {
        if (!conn || !conn->ok()) {
          auto c = pg::Conn::Open(SharedCluster().Url());
          if (c && c->Exec("SET synchronous_commit = on")) conn = std::move(*c);
        }
        if (conn && conn->ok() && conn->Exec(sql)) break;
        conn.reset();
        ++retries_;
        if (Clock::now() > deadline) {
          ADD_FAILURE() << "writer: no database for 120 s";
          return;
        }
        std::this_thread::sleep_for(50ms);  // reconnect backoff
      }
      committed_ = std::min(rows_, i + kPerTx - 1);
    }
    done_ = true;
  }
  std::string table_;
  int rows_;
  std::mt19937 rng_;
  std::atomic<bool> done_{false};
  std::atomic<int> retries_{0};
  std::atomic<int> committed_{0};
  std::thread thread_;
};

struct Tally {
  size_t expected = 0;  // versions of rows in the source table
  size_t delivered = 0;
  size_t lost = 0;
  size_t dups = 0;
  size_t order_violations = 0;
  size_t unexpected = 0;  // versions the source never had
  std::string examples;
};

// `final_v[key]`: the source's version of each key (-1: no such row).
Tally Check(const std::vector<Delivered>& events, const std::vector<int>& final_v) {
  Tally t;
  std::vector<std::vector<bool>> seen(final_v.size());
  std::vector<int> highest(final_v.size(), -1);
  for (size_t k = 0; k < final_v.size(); ++k) {
    if (final_v[k] >= 0) {
      seen[k].assign(final_v[k] + 1, false);
      t.expected += final_v[k] + 1;
    }
  }
  auto example = [&](const std::string& what) {
    if (t.examples.size() < 600) t.examples += what + "; ";
  };
  for (const auto& e : events) {
    ++t.delivered;
    if (e.key < 0 || static_cast<size_t>(e.key) >= final_v.size() || e.version < 0 ||
        e.version > final_v[e.key]) {
      ++t.unexpected;
      example("unexpected " + std::to_string(e.key) + "@v" + std::to_string(e.version));
      continue;
    }
    if (seen[e.key][e.version]) {
      ++t.dups;
      continue;
    }
    seen[e.key][e.version] = true;
    if (e.version < highest[e.key]) {
      ++t.order_violations;
      example("key " + std::to_string(e.key) + " v" + std::to_string(e.version) + " after v" +
              std::to_string(highest[e.key]));
    }
    highest[e.key] = std::max(highest[e.key], e.version);
  }
  for (size_t k = 0; k < final_v.size(); ++k) {
    for (size_t v = 0; v < seen[k].size(); ++v) {
      if (!seen[k][v]) {
        ++t.lost;
        example("lost " + std::to_string(k) + "@v" + std::to_string(v));
      }
    }
  }
  return t;
}

std::vector<int> SourceVersions(const std::string& table, int rows) {
  std::vector<int> v(rows + 1, -1);
  auto conn = Connect();
  auto r = conn.Query("SELECT id, v FROM " + pg::QuoteIdentifier(table));
  EXPECT_TRUE(r) << r.error().message();
  if (!r) return v;
  for (const auto& row : *r) {
    const int id = std::stoi(*row[0]);
    if (id >= 0 && id <= rows) v[id] = std::stoi(*row[1]);
  }
  return v;
}

size_t CountOf(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = 0; (pos = haystack.find(needle, pos)) != std::string::npos;
       pos += needle.size())
    ++n;
  return n;
}

// One sink's run: the pgcdc process, the faults and their counts.
class ChaosRun {
 public:
  ChaosRun(const Profile& profile, const std::string& sink_name)
      : profile_(profile),
        sink_name_(sink_name),
        table_("chaos_" + sink_name),
        publication_("p_chaos_" + sink_name),
        slot_("pgcdc_p_chaos_" + sink_name),
        rng_(profile.seed) {}

  void Execute();

 private:
  void StartPgcdc();
  void EndPgcdc(int sig);
  uint64_t ConfirmedLsn(bool with_checkpoint = true);
  void AddWindow(uint64_t confirmed) { AddWindow(confirmed, sink_->Events(p_.get()), 0); }
  void AddWindow(uint64_t confirmed, const std::vector<Delivered>& events, size_t extra);
  void Kill();
  bool WaitStreaming(size_t times);
  void Inject(Fault f);
  void HoldOutage();
  void HoldDiskFull();
  std::vector<Fault> Schedule();
  void WaitForPoint(double point);
  void Finish();

  const Profile& profile_;
  std::string sink_name_;
  std::string table_;
  std::string publication_;
  std::string slot_;
  std::mt19937 rng_;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<Process> p_;
  std::vector<std::string> args_;
  std::map<Fault, int> injected_;
  int runs_ = 0;
  int unplanned_exits_ = 0;
  size_t bound_ = 0;
  size_t dead_lettered_ = 0;
  std::optional<int> disk_full_exit_;
  const bool verbose_ = std::getenv("PGCDC_CHAOS_VERBOSE") != nullptr;
};

void ChaosRun::StartPgcdc() {
  p_ = Process::Start({.args = args_});
  ASSERT_TRUE(p_);
  ++runs_;
  ASSERT_TRUE(p_->WaitForStderr("streaming detector=wal", 60s)) << p_->Stderr();
}

void ChaosRun::EndPgcdc(int sig) {
  p_->Signal(sig);
  ASSERT_TRUE(p_->Wait(60s).has_value()) << "pgcdc did not end";
  sink_->Ended(*p_);
  if (verbose_) std::cerr << p_->Stderr();
  dead_lettered_ += CountOf(p_->Stderr(), "{\"event\":");
  p_.reset();
}

// Where the stream resumes: the server starts at the later of the slot's
// confirmed position and the checkpoint pgcdc asks for.
uint64_t ChaosRun::ConfirmedLsn(bool with_checkpoint) {
  auto conn = Connect();
  auto r = conn.Query(
      "SELECT greatest((confirmed_flush_lsn - '0/0')::bigint, (SELECT max(lsn) FROM "
      "pgcdc_checkpoints c WHERE c.slot_name = s.slot_name AND $2)) FROM pg_replication_slots s "
      "WHERE slot_name = $1",
      {slot_, with_checkpoint ? "true" : "false"});
  if (!r || r->empty() || !(*r)[0][0]) return 0;
  return std::stoull(*(*r)[0][0]);
}

// What the sink holds beyond `confirmed` may come again: the bound's share
// of this fault (distinct versions, since a redelivery repeats each once).
void ChaosRun::AddWindow(uint64_t confirmed, const std::vector<Delivered>& events, size_t extra) {
  std::set<std::pair<int, int>> window;
  for (const auto& e : events) {
    if (e.lsn >= confirmed) window.insert({e.key, e.version});
  }
  bound_ += window.size() + extra;
  auto conn = Connect();
  auto r = conn.Query(
      "SELECT (pg_current_wal_lsn() - '0/0')::bigint, (SELECT lsn FROM pgcdc_checkpoints WHERE "
      "slot_name = $1)",
      {slot_});
  std::cerr << "chaos " << sink_name_ << ": window " << window.size() << " events after "
            << confirmed << " (wal at " << (r && !r->empty() ? r->at(0).at(0).value_or("?") : "?")
            << ", checkpoint " << (r && !r->empty() ? r->at(0).at(1).value_or("none") : "?")
            << ")\n";
}

bool ChaosRun::WaitStreaming(size_t times) {
  return p_->WaitForStderr("streaming detector=wal", 60s, times);
}

void ChaosRun::HoldOutage() {
  const double before = sink_->Progress(p_.get());
  sink_->SetAvailable(false, p_.get());
  std::this_thread::sleep_for(profile_.outage);  // the fault's duration
  const double during = sink_->Progress(p_.get());
  sink_->SetAvailable(true, p_.get());
  std::cerr << "chaos " << sink_name_ << ": progress " << before << " -> " << during
            << " during the outage\n";
}

// The file sink fails its write with ENOSPC and pgcdc stops with an error
// (the batch unacknowledged); a supervisor would start it again, which this
// does once the disk has room. A pgcdc that keeps running is fine too.
void ChaosRun::HoldDiskFull() {
  sink_->FillDisk(true);
  const auto errors = CountOf(p_->Stderr(), "No space left");
  const bool noticed = Eventually([&] { return CountOf(p_->Stderr(), "No space left") > errors; },
                                  profile_.disk_full);
  std::this_thread::sleep_for(profile_.disk_full / 2);  // stays full a while longer
  sink_->FillDisk(false);
  std::cerr << "chaos " << sink_name_ << ": disk full " << (noticed ? "noticed" : "NOT noticed")
            << " by pgcdc\n";
  if (auto code = p_->Wait(0ms)) {
    std::cerr << "chaos " << sink_name_ << ": pgcdc exited with " << *code
              << " on the full disk; starting it again\n";
    disk_full_exit_ = code;
    EndPgcdc(SIGKILL);
    AddWindow(ConfirmedLsn());  // the restart delivers what was not confirmed again
    StartPgcdc();
  }
}

// A sink that lives in pgcdc (kafkaserver) is read just before the kill;
// what it stored meanwhile (its progress) is added to the window.
void ChaosRun::Kill() {
  std::vector<Delivered> before;
  double stored_meanwhile = 0;
  if (!sink_->ReadableAfterEnd()) {
    const double start = sink_->Progress(p_.get());
    before = sink_->Events(p_.get());
    stored_meanwhile = sink_->Progress(p_.get()) - start;
  }
  EndPgcdc(SIGKILL);
  const uint64_t confirmed = ConfirmedLsn();
  if (sink_->ReadableAfterEnd()) {
    AddWindow(confirmed);
  } else {
    AddWindow(confirmed, before, static_cast<size_t>(stored_meanwhile));
  }
  StartPgcdc();
}

void ChaosRun::Inject(Fault f) {
  ++injected_[f];
  std::cerr << "chaos " << sink_name_ << ": " << FaultName(f) << " at progress "
            << sink_->Progress(p_.get()) << "\n";
  const size_t streams = CountOf(p_->Stderr(), "streaming detector=wal");
  switch (f) {
    case Fault::kKill:
      Kill();
      return;
    case Fault::kPgRestart:
      RestartPostgresImmediately();
      AddWindow(ConfirmedLsn());
      break;
    case Fault::kWalsender: {
      auto conn = Connect();
      auto r = conn.Query(
          "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 "
          "AND active_pid IS NOT NULL",
          {slot_});
      ASSERT_TRUE(r && r->size() == 1) << (r ? "slot not active" : r.error().message());
      AddWindow(ConfirmedLsn());
      break;
    }
    case Fault::kOutage:
      HoldOutage();
      return;
    case Fault::kDiskFull:
      HoldDiskFull();
      return;
  }
  ASSERT_TRUE(WaitStreaming(streams + 1)) << "pgcdc did not stream again\n" << p_->Stderr();
}

std::vector<Fault> ChaosRun::Schedule() {
  std::vector<Fault> faults(profile_.kills, Fault::kKill);
  faults.insert(faults.end(), profile_.pg_restarts, Fault::kPgRestart);
  faults.insert(faults.end(), profile_.walsender_kills, Fault::kWalsender);
  if (sink_->CanBeUnavailable() && profile_.outage.count() > 0) faults.push_back(Fault::kOutage);
  if (sink_->HasDisk() && profile_.disk_full.count() > 0) faults.push_back(Fault::kDiskFull);
  std::shuffle(faults.begin(), faults.end(), rng_);
  return faults;
}

// Until the sink's progress reaches `point`, or the writer is done and the
// progress stopped moving; restarts a pgcdc that exited on its own.
void ChaosRun::WaitForPoint(double point) {
  double last = -1;
  auto moved = Clock::now();
  auto last_report = Clock::now();
  const auto deadline = Clock::now() + 300s;
  while (Clock::now() < deadline) {
    if (auto code = p_->Wait(0ms)) {
      ++unplanned_exits_;
      std::cerr << "chaos " << sink_name_ << ": pgcdc exited on its own (" << *code << ")\n"
                << p_->Stderr().substr(p_->Stderr().size() > 2000 ? p_->Stderr().size() - 2000 : 0);
      EndPgcdc(SIGKILL);
      StartPgcdc();
    }
    const double now = sink_->Progress(p_.get());
    if (now != last) {
      last = now;
      moved = Clock::now();
    }
    if (now >= point || (writer_->done() && Clock::now() - moved > 2s)) return;
    if (verbose_ && Clock::now() - last_report > 1s) {
      last_report = Clock::now();
      std::cerr << "chaos " << sink_name_ << ": progress " << now << ", writer at "
                << writer_->committed_rows() << ", slot confirmed " << ConfirmedLsn() << "\n";
    }
    std::this_thread::sleep_for(20ms);  // polling interval
  }
  ADD_FAILURE() << "no progress towards " << point;
}

void ChaosRun::Execute() {
  auto conn = Connect();
  FreshPublishedTable(conn, table_, "id int PRIMARY KEY, v int NOT NULL DEFAULT 0", publication_,
                      slot_);
  sink_ = MakeSink(sink_name_, table_);
  ASSERT_TRUE(sink_) << "unknown sink " << sink_name_;
  args_ = WalListenArgs(publication_, {"--persistent-slot"});
  for (const auto& a : sink_->Args()) args_.push_back(a);
  StartPgcdc();
  if (::testing::Test::HasFatalFailure()) return;
  writer_ = std::make_unique<Writer>(table_, profile_.rows, profile_.seed);
  const auto faults = Schedule();
  // Random points of the delivered stream (expected size: rows + updates).
  const double expected = profile_.rows * (1.0 + double(kUpdatesPerTx) / kPerTx);
  std::uniform_real_distribution<double> at(0.03 * expected, 0.9 * expected);
  std::vector<double> points;
  for (size_t i = 0; i < faults.size(); ++i) points.push_back(at(rng_));
  std::sort(points.begin(), points.end());
  for (size_t i = 0; i < faults.size() && !::testing::Test::HasFatalFailure(); ++i) {
    // Points close together still see some deliveries in between.
    WaitForPoint(std::max(points[i], sink_->Progress(p_.get()) + 100));
    Inject(faults[i]);
  }
  writer_->Join();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  ASSERT_TRUE(writer_->done());
  Finish();
}

void ChaosRun::Finish() {
  const auto final_v = SourceVersions(table_, profile_.rows);
  Tally t;
  const bool complete = Eventually(
      [&] {
        t = Check(sink_->Events(p_.get()), final_v);
        return t.lost == 0;
      },
      std::chrono::milliseconds(300s));
  // The slot catches up: it confirms the last transaction once delivered.
  uint64_t wal_end = 0;
  {
    auto conn = Connect();
    auto r = conn.Query("SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint");
    if (r && !r->empty()) wal_end = std::stoull(*(*r)[0][0]);
  }
  const bool confirmed = Eventually([&] { return ConfirmedLsn(false) + 4096 >= wal_end; },
                                    std::chrono::milliseconds(20s));
  std::cerr << "chaos " << sink_name_ << ": slot confirmed " << ConfirmedLsn(false) << " of "
            << wal_end << "\n";
  EXPECT_TRUE(confirmed) << "the slot did not advance to the end of the stream";
  EndPgcdc(SIGTERM);
  if (sink_name_ != "kafkaserver") t = Check(sink_->Events(nullptr), final_v);
  std::ostringstream row;
  row << "| " << sink_name_ << " | " << runs_ << " | " << injected_[Fault::kKill] << " | "
      << injected_[Fault::kPgRestart] << " | " << injected_[Fault::kWalsender] << " | "
      << (injected_[Fault::kOutage] ? std::to_string(profile_.outage.count()) + " s" : "—") << " | "
      << (!injected_[Fault::kDiskFull] ? std::string("—")
          : disk_full_exit_            ? "exit " + std::to_string(*disk_full_exit_) + ", restarted"
                                       : std::string("kept running"))
      << " | " << profile_.rows << " | " << t.expected << " | " << t.delivered << " | " << t.lost
      << " | " << t.dups << " | " << bound_ << " | " << t.order_violations << " | "
      << dead_lettered_ << " |";
  std::cerr << "chaos seed " << profile_.seed << " result\n" << row.str() << "\n";
  if (const char* report = std::getenv("PGCDC_CHAOS_REPORT"); report && *report) {
    std::ofstream(report, std::ios::app) << row.str() << "\n";
  }
  EXPECT_TRUE(complete) << t.examples;
  EXPECT_EQ(t.lost, 0u) << t.examples;
  EXPECT_EQ(t.order_violations, 0u) << t.examples;
  EXPECT_EQ(t.unexpected, 0u) << t.examples;
  EXPECT_LE(t.dups, bound_) << "more duplicates than events beyond the confirmed positions";
  EXPECT_EQ(unplanned_exits_, 0) << "pgcdc exited on its own";
  EXPECT_EQ(dead_lettered_, 0u) << "events went to the dead letter queue";
  std::cerr << "writer retries: " << writer_->retries() << "\n";
}

class ChaosScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(ChaosScenario, EveryVersionArrivesInKeyOrderAndDuplicatesStayBounded) {
  static const Profile profile = [] {
    Profile p = LoadProfile();
    std::cerr << "chaos profile " << p.name << " seed " << p.seed << " (PGCDC_CHAOS_SEED=" << p.seed
              << " reproduces it)\n";
    return p;
  }();
  if (std::find(profile.sinks.begin(), profile.sinks.end(), GetParam()) == profile.sinks.end()) {
    GTEST_SKIP() << GetParam() << " is not in the " << profile.name << " profile";
  }
  if (const std::string why = SinkMissing(GetParam()); !why.empty()) GTEST_SKIP() << why;
  ChaosRun run(profile, GetParam());
  run.Execute();
}

INSTANTIATE_TEST_SUITE_P(Sinks, ChaosScenario,
                         ::testing::Values("stdout", "file", "webhook", "pg_table", "kafkaserver",
                                           "exec", "kafka", "nats", "redis", "s3", "clickhouse",
                                           "duckdb", "iceberg"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pgcdc::testing::chaos
