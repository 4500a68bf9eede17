// Scenario-test harness: runs the real pgcdc binary as a child process with
// captured stdout/stderr, talks to it over HTTP, and shares one temporary
// PostgreSQL cluster per test binary. Everything waits for conditions with
// deadlines; nothing sleeps a fixed time to synchronise.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pg/cluster.h"
#include "pg/conn.h"

namespace pgcdc::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A temporary directory removed (recursively) at scope exit.
struct TempDir {
  std::string path;
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Writes (replaces) a file in the directory; returns its path.
  std::string Write(const std::string& name, const std::string& text) const;
};

// A 512 MiB tmpfs of its own (mounted as root) that can be filled up: the
// full-disk fault of sinks that write local files (the chaos suite's file,
// duckdb and iceberg sinks). Without the permission to mount it is a plain
// directory and mounted() is false (callers skip the fault).
class TmpfsDisk {
 public:
  TmpfsDisk();
  ~TmpfsDisk();
  TmpfsDisk(const TmpfsDisk&) = delete;
  TmpfsDisk& operator=(const TmpfsDisk&) = delete;
  const std::string& path() const { return path_; }
  bool mounted() const { return mounted_; }
  // A filler file takes every free byte (full) or is removed.
  void Fill(bool full) const;

 private:
  TempDir dir_;
  std::string path_;
  bool mounted_ = false;
};

// Reads a text file's complete lines (without their newline characters); a
// last line not yet ended by a newline is still being written and is left out.
std::vector<std::string> ReadFileLines(const std::string& path);

// Path of the binary under test ($PGCDC_BIN, set by CTest).
std::string PgcdcBinary();

// `timeout` times $PGCDC_TEST_TIMEOUT_SCALE (default 1). The sanitizer builds
// set it through CTest (cmake/PgcdcHelpers.cmake), since ASan and TSan make
// pgcdc several times slower; Eventually and Process's waits apply it.
std::chrono::milliseconds Scaled(std::chrono::milliseconds timeout);

// Polls `pred` every few milliseconds until it holds or `timeout` (scaled) passes.
bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 15s);

// A child process with stdout and stderr captured line by line.
class Process {
 public:
  struct Options {
    std::vector<std::string> args;           // argv[1..]; argv[0] is the binary
    std::map<std::string, std::string> env;  // added to (and overriding) the environment
    std::string cwd;                         // empty = inherit
    std::string binary;                      // empty = pgcdc
    // Unless a test passes --http-addr or PGCDC_HTTP_ADDR itself, pgcdc gets
    // PGCDC_HTTP_ADDR=127.0.0.1:0 so tests running in parallel never collide
    // on the default 127.0.0.1:8080. true: leave the address to pgcdc (its
    // default, or the test's YAML).
    bool own_http_addr = false;
  };
  static std::unique_ptr<Process> Start(Options options);
  ~Process();  // kills the child if still running

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Exit code (or 128+signal) once the child ended within `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout = 20s);

  std::vector<std::string> StdoutLines();
  std::string Stderr();
  // Waits for at least n stdout lines.
  bool WaitForLines(size_t n, std::chrono::milliseconds timeout = 15s);
  // Waits until stderr contains `needle` at least `times` times.
  bool WaitForStderr(const std::string& needle, std::chrono::milliseconds timeout = 15s,
                     size_t times = 1);

  // Stops reading stdout (so the child's writes block once the pipe fills)
  // and resumes it.
  void PauseStdout();
  void ResumeStdout();
  // Closes our end of the child's stdout pipe (child then gets EPIPE).
  void CloseStdout();

  // The HTTP address the child logged ("http server listening … addr=H:P").
  std::optional<std::string> HttpAddr(const std::string& server = "http",
                                      std::chrono::milliseconds timeout = 15s);

 private:
  Process() = default;
  void ReadLoop(int fd, bool is_stdout);
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::optional<int> exit_code_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string out_partial_;
  std::vector<std::string> out_lines_;
  std::string err_;
  bool paused_ = false;
  bool stdout_closed_ = false;
  std::thread out_thread_;
  std::thread err_thread_;
};

struct HttpResult {
  int status = 0;
  std::string headers;
  std::string body;
};
// Minimal HTTP/1.1 GET over a plain socket (Connection: close).
std::optional<HttpResult> HttpGet(const std::string& host_port, const std::string& path,
                                  std::chrono::milliseconds timeout = 5s);
// Any method with extra header lines ("Name: value\r\n" each); reads until
// the server closes or `timeout` passes (a stream's head then).
std::optional<HttpResult> HttpExchange(const std::string& host_port, const std::string& method,
                                       const std::string& path, const std::string& headers,
                                       std::chrono::milliseconds timeout = 5s);
// Any method, with extra header lines ("Name: value") and a body
// (Content-Length), over a plain socket (Connection: close).
std::optional<HttpResult> HttpSend(const std::string& host_port, const std::string& method,
                                   const std::string& path,
                                   const std::vector<std::string>& headers = {},
                                   const std::string& body = {},
                                   std::chrono::milliseconds timeout = 5s);

// A TCP port nobody listens on right now (for a server a test starts, or
// as an address where nothing answers).
int FreeTcpPort();

// Runs a command, returns exit code and combined output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text = {});

// One PostgreSQL cluster for the whole test binary (started lazily, stopped
// at exit even when tests fail).
pg::TempCluster& SharedCluster();
// A fresh connection to the shared cluster (fails the test on error).
pg::Conn Connect();
void ExecOrFail(pg::Conn& conn, const std::string& sql);

// (Re)creates `table` with `columns` (SQL column list) and a publication for
// it, and forgets slot `slot` and its checkpoint if they exist.
void FreshPublishedTable(pg::Conn& conn, const std::string& table, const std::string& columns,
                         const std::string& publication, const std::string& slot = {});

// `pgcdc listen --detector wal --db <shared cluster> --publication P
// --http-addr 127.0.0.1:0` with quick reconnects (backoff 100 ms .. 500 ms) and
// status updates every 200 ms, followed by `extra`.
std::vector<std::string> WalListenArgs(const std::string& publication,
                                       const std::vector<std::string>& extra = {});

// Starts pgcdc with `args` (a WAL listen, e.g. WalListenArgs(...)) and waits
// up to 30 s until the WAL detector streams (a test failure otherwise).
std::unique_ptr<Process> StartWalListen(const std::vector<std::string>& args);

// The crash journeys (kill -9 with a persistent slot): a writer thread inserts
// rows 1..rows into `table` (`SELECT <values> FROM generate_series(...) g`,
// so the default fills one int column with the row number) in transactions
// of `per_tx` rows while `rounds` pgcdc processes are started one after the
// other, each killed with SIGKILL once its progress passed a random target
// (progress when it started + min_progress + up to `spread`), or once the
// writer finished and the process caught up. The caller then starts the final
// run and checks the sink.
struct KillNineRun {
  std::string table;
  std::string values = "g";
  int rows = 0;
  int per_tx = 10;
  int rounds = 3;
  uint32_t seed = 1;
  double min_progress = 1000;
  uint32_t spread = 5000;
  // Writes rows first..last (inclusive) in one transaction of a source other
  // than the shared PostgreSQL table (e.g. a SQLite file); empty = the
  // PostgreSQL INSERT above.
  std::function<Status(int first, int last)> write;
};
// Returns once the writer finished (test failures are recorded with gtest).
// `start` returns a started process (null fails the test); `progress` reads
// how far it got (lines written, records delivered, ...); `before_kill`
// (optional) sees each process just before its SIGKILL.
void RunKillNineRounds(const KillNineRun& run,
                       const std::function<std::unique_ptr<Process>()>& start,
                       const std::function<double(Process&)>& progress,
                       const std::function<void(Process&)>& before_kill = {});

// Starts pgcdc with `args` and waits until its wal detector streams. Null
// (after recording a test failure) when it did not start or stream.
std::unique_ptr<Process> StartStreaming(const std::vector<std::string>& args);
// RunKillNineRounds with each process started from `args` (StartStreaming).
void RunKillNineRounds(const KillNineRun& run, const std::vector<std::string>& args,
                       const std::function<double(Process&)>& progress);
// The run of the sink crash journeys (redis, nats): `table` is (id int
// PRIMARY KEY, v int), filled with v = id 20 rows per transaction; kills come
// at least 500 rows apart.
KillNineRun SinkKillNineRun(std::string table, int rows, uint32_t seed);

// Scrapes the child's /metrics (its logged http address) and returns one series.
std::optional<double> ScrapeMetric(Process& p, const std::string& series);

// Extracts the value of a metric line ("name{labels} value") from an exposition.
std::optional<double> MetricValue(const std::string& exposition, const std::string& series);

// The child's /healthz body ("" when it does not answer).
std::string Healthz(Process& p);

// Runs pgcdc with `args` until it exits: {exit code (-1 if it did not end
// in time), stderr}.
std::pair<int, std::string> RunToExit(const std::vector<std::string>& args);
// `pgcdc listen -c x -a <adapter> <extra...>` (LISTEN/NOTIFY on the shared
// cluster, no HTTP server) until it exits: for configuration errors.
std::pair<int, std::string> RunAdapterToExit(const std::string& adapter,
                                             const std::vector<std::string>& extra);

}  // namespace pgcdc::testing
