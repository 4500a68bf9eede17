// Commit-to-delivery latency (issue 6, part 2): drives single-row INSERT
// transactions into PostgreSQL at a fixed rate and measures, per row, the
// time from COMMIT returning to the client until pgcdc wrote the row's event
// to stdout (and, with --webhook, until the event reached an HTTP receiver).
//
// It starts pgcdc itself (WAL detector, temporary slot) with stdout on a pipe
// it reads. Timestamps are CLOCK_MONOTONIC in this one process, so the
// measurement needs no clock synchronisation.
//
// Usage: latency_bench --dsn DSN --pgcdc PATH --rate N --seconds S
//                      [--threads K] [--webhook] [--label TEXT]
// Prints one Markdown table row per path:
//   | label | path | rate | sent | received | p50 | p95 | p99 | max |
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "raw_http_receiver.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "latency_bench: %s\n", msg.c_str());
  std::exit(1);
}

PGconn* Connect(const std::string& dsn) {
  PGconn* c = PQconnectdb(dsn.c_str());
  if (PQstatus(c) != CONNECTION_OK) Die(std::string("connect: ") + PQerrorMessage(c));
  return c;
}

void Exec(PGconn* c, const std::string& sql) {
  PGresult* r = PQexec(c, sql.c_str());
  const auto st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    Die("SQL failed: " + sql + ": " + PQerrorMessage(c));
  }
  PQclear(r);
}

// The row id of an event line or body: the number after "row":{"id":.
int64_t RowId(std::string_view text) {
  constexpr std::string_view kKey = "\"row\":{\"id\":";
  const size_t p = text.find(kKey);
  if (p == std::string_view::npos) return -1;
  int64_t v = 0;
  size_t i = p + kKey.size();
  if (i >= text.size() || text[i] < '0' || text[i] > '9') return -1;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) v = v * 10 + (text[i] - '0');
  return v;
}

// Arrival times by row id (0 = not yet).
class Arrivals {
 public:
  explicit Arrivals(size_t n) : at_(new std::atomic<int64_t>[n]), n_(n) {
    for (size_t i = 0; i < n; ++i) at_[i].store(0, std::memory_order_relaxed);
  }
  void Mark(int64_t id, int64_t ns) {
    if (id >= 0 && static_cast<size_t>(id) < n_) {
      int64_t zero = 0;
      at_[id].compare_exchange_strong(zero, ns, std::memory_order_relaxed);
    }
  }
  int64_t At(size_t id) const { return at_[id].load(std::memory_order_relaxed); }
  size_t size() const { return n_; }

 private:
  std::unique_ptr<std::atomic<int64_t>[]> at_;
  size_t n_;
};

struct Stats {
  size_t sent = 0, received = 0;
  double p50 = 0, p95 = 0, p99 = 0, max = 0;
};

Stats Summarise(const Arrivals& committed, const Arrivals& arrived, size_t first_id) {
  std::vector<double> ms;
  Stats s;
  for (size_t id = first_id; id < committed.size(); ++id) {
    const int64_t c = committed.At(id);
    if (c == 0) continue;
    ++s.sent;
    const int64_t a = arrived.At(id);
    if (a == 0) continue;
    ++s.received;
    ms.push_back(static_cast<double>(std::max<int64_t>(0, a - c)) / 1e6);
  }
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
  };
  s.p50 = pct(0.50);
  s.p95 = pct(0.95);
  s.p99 = pct(0.99);
  s.max = ms.back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dsn, pgcdc, label = "run";
  double rate = 1000, seconds = 30;
  int threads = 4;
  bool webhook = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + a);
      return argv[++i];
    };
    if (a == "--dsn") {
      dsn = next();
    } else if (a == "--pgcdc") {
      pgcdc = next();
    } else if (a == "--rate") {
      rate = std::stod(next());
    } else if (a == "--seconds") {
      seconds = std::stod(next());
    } else if (a == "--threads") {
      threads = std::stoi(next());
    } else if (a == "--webhook") {
      webhook = true;
    } else if (a == "--label") {
      label = next();
    } else {
      Die("unknown argument " + a);
    }
  }
  if (dsn.empty() || pgcdc.empty()) Die("--dsn and --pgcdc are required");
  signal(SIGPIPE, SIG_IGN);

  const size_t total = static_cast<size_t>(rate * seconds);
  const size_t warmup = 200;  // ids [1, warmup] prove the stream is up; not measured
  const size_t n = warmup + total + 1;
  Arrivals committed(n), stdout_at(n), webhook_at(n);

  {
    PGconn* c = Connect(dsn);
    Exec(c, "DROP TABLE IF EXISTS lat_t");
    Exec(c, "CREATE TABLE lat_t (id bigint PRIMARY KEY, pad text NOT NULL)");
    Exec(c, "DROP PUBLICATION IF EXISTS lat_pub");
    Exec(c, "CREATE PUBLICATION lat_pub FOR TABLE lat_t");
    PQfinish(c);
  }

  std::unique_ptr<pgcdc::bench::RawReceiver> receiver;
  if (webhook) {
    receiver = std::make_unique<pgcdc::bench::RawReceiver>(
        [&](std::string_view body) { webhook_at.Mark(RowId(body), NowNs()); });
  }

  // pgcdc with stdout on a pipe (and stderr to a log file for diagnostics).
  int out_pipe[2];
  if (pipe(out_pipe) != 0) Die("pipe");
  std::vector<std::string> args = {pgcdc,
                                   "listen",
                                   "--detector",
                                   "wal",
                                   "--db",
                                   dsn,
                                   "--publication",
                                   "lat_pub",
                                   "--heartbeat-interval",
                                   "0",
                                   "--http-addr",
                                   "127.0.0.1:0",
                                   "-a",
                                   "stdout"};
  if (receiver) {
    for (const char* a : {"-a", "webhook", "-u"}) args.emplace_back(a);
    args.push_back("http://127.0.0.1:" + std::to_string(receiver->port()) + "/hook");
    // One channel: a single lane; pipelining keeps up at thousands per second.
    for (const char* a : {"--webhook-pipeline", "16"}) args.emplace_back(a);
  }
  std::vector<char*> argv_c;
  for (auto& a : args) argv_c.push_back(a.data());
  argv_c.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_addclose(&fa, out_pipe[0]);
  const std::string err_log = "/tmp/latency_bench.pgcdc.log";
  posix_spawn_file_actions_addopen(&fa, 2, err_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  if (posix_spawn(&pid, pgcdc.c_str(), &fa, nullptr, argv_c.data(), environ) != 0) {
    Die("cannot start " + pgcdc);
  }
  close(out_pipe[1]);

  std::atomic<size_t> lines{0};
  std::thread reader([&] {
    std::string buf;
    char chunk[1 << 16];
    while (true) {
      const ssize_t r = read(out_pipe[0], chunk, sizeof chunk);
      if (r <= 0) break;
      const int64_t t = NowNs();
      buf.append(chunk, static_cast<size_t>(r));
      size_t start = 0, nl;
      while ((nl = buf.find('\n', start)) != std::string::npos) {
        stdout_at.Mark(RowId(std::string_view(buf).substr(start, nl - start)), t);
        lines.fetch_add(1, std::memory_order_relaxed);
        start = nl + 1;
      }
      buf.erase(0, start);
    }
  });

  // Wait until pgcdc streams (its temporary slot exists only from then on),
  // then send warm-up rows and wait until the last one arrived.
  {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    auto logged = [&](const char* what) {
      FILE* f = std::fopen(err_log.c_str(), "r");
      if (f == nullptr) return false;
      std::string text;
      char b[4096];
      size_t r;
      while ((r = std::fread(b, 1, sizeof b, f)) > 0) text.append(b, r);
      std::fclose(f);
      return text.find(what) != std::string::npos;
    };
    while (!logged(" streaming ")) {
      if (Clock::now() > deadline) Die("pgcdc never streamed; see " + err_log);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    PGconn* c = Connect(dsn);
    for (size_t id = 1; id <= warmup; ++id) {
      Exec(c, "INSERT INTO lat_t VALUES (" + std::to_string(id) + ", 'warm-up')");
      committed.Mark(static_cast<int64_t>(id), NowNs());
    }
    while (stdout_at.At(warmup) == 0 || (receiver && webhook_at.At(warmup) == 0)) {
      if (Clock::now() > deadline) Die("warm-up rows never arrived; see " + err_log);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    PQfinish(c);
  }

  // The measured run: `threads` connections, each on a fixed schedule.
  const int64_t interval_ns = static_cast<int64_t>(1e9 * threads / rate);
  const int64_t t0 = NowNs() + 50'000'000;
  std::atomic<size_t> late{0};
  std::vector<std::thread> writers;
  for (int k = 0; k < threads; ++k) {
    writers.emplace_back([&, k] {
      PGconn* c = Connect(dsn);
      PGresult* prep =
          PQprepare(c, "ins", "INSERT INTO lat_t VALUES ($1::bigint, 'x')", 1, nullptr);
      PQclear(prep);
      for (size_t i = 0;; ++i) {
        const size_t id = warmup + 1 + i * threads + static_cast<size_t>(k);
        if (id >= n) break;
        const int64_t due = t0 + static_cast<int64_t>(i) * interval_ns + k * interval_ns / threads;
        int64_t now = NowNs();
        if (now < due) {
          std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
        } else if (now - due > 5'000'000) {
          late.fetch_add(1, std::memory_order_relaxed);
        }
        const std::string v = std::to_string(id);
        const char* vals[1] = {v.c_str()};
        PGresult* r = PQexecPrepared(c, "ins", 1, vals, nullptr, nullptr, 0);
        const int64_t done = NowNs();
        if (PQresultStatus(r) != PGRES_COMMAND_OK) Die(std::string("insert: ") + PQerrorMessage(c));
        PQclear(r);
        committed.Mark(static_cast<int64_t>(id), done);
      }
      PQfinish(c);
    });
  }
  for (auto& w : writers) w.join();
  const double actual_s = static_cast<double>(NowNs() - t0) / 1e9;

  // Let the tail arrive (bounded).
  const auto wait_until = Clock::now() + std::chrono::seconds(15);
  while (Clock::now() < wait_until) {
    const bool all_stdout =
        stdout_at.At(n - 1) != 0 && Summarise(committed, stdout_at, warmup + 1).received ==
                                        Summarise(committed, stdout_at, warmup + 1).sent;
    const bool all_webhook = !receiver || Summarise(committed, webhook_at, warmup + 1).received ==
                                              Summarise(committed, webhook_at, warmup + 1).sent;
    if (all_stdout && all_webhook) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  reader.join();

  auto row = [&](const char* path, const Arrivals& arrivals) {
    const Stats s = Summarise(committed, arrivals, warmup + 1);
    std::printf(
        "| %s | %s | %.0f tx/s (achieved %.0f) | %zu | %zu | %.2f ms | %.2f ms | %.2f ms | %.2f ms "
        "|\n",
        label.c_str(), path, rate, static_cast<double>(s.sent) / actual_s, s.sent, s.received,
        s.p50, s.p95, s.p99, s.max);
  };
  if (const char* dump = std::getenv("LATENCY_DUMP")) {
    // id, commit and stdout arrival (ns, monotonic) for offline analysis.
    if (FILE* f = std::fopen(dump, "w")) {
      for (size_t id = warmup + 1; id < n; ++id) {
        std::fprintf(f, "%zu %lld %lld\n", id, static_cast<long long>(committed.At(id)),
                     static_cast<long long>(stdout_at.At(id)));
      }
      std::fclose(f);
    }
  }
  row("commit → stdout", stdout_at);
  if (receiver) row("commit → webhook", webhook_at);
  if (late.load() > 0) {
    std::fprintf(stderr,
                 "latency_bench: %zu inserts started more than 5 ms late (generator behind)\n",
                 late.load());
  }
  return 0;
}
