#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

extern char** environ;

namespace pgcdc::testing {

TempDir::TempDir() {
  std::string t = (std::filesystem::temp_directory_path() / "pgcdc-test-XXXXXX").string();
  if (::mkdtemp(t.data()) == nullptr) std::abort();
  path = t;
}
TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

TmpfsDisk::TmpfsDisk() : path_(dir_.path + "/disk") {
  std::filesystem::create_directories(path_);
  // 512 MiB holds the chaos suite's full profile (≈ 100 MB as JSON lines).
  if (::mount("chaos", path_.c_str(), "tmpfs", 0, "size=512m") == 0) {
    mounted_ = true;
  } else {
    std::cerr << "cannot mount a tmpfs (" << std::strerror(errno)
              << "); the full-disk fault is skipped\n";
  }
}

TmpfsDisk::~TmpfsDisk() {
  if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
}

void TmpfsDisk::Fill(bool full) const {
  const std::string filler = path_ + "/filler";
  if (!full) {
    std::filesystem::remove(filler);
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

std::string TempDir::Write(const std::string& name, const std::string& text) const {
  const std::string file = path + "/" + name;
  std::ofstream(file, std::ios::trunc) << text;
  return file;
}

std::vector<std::string> ReadFileLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    // A line without its newline is still being written by the process under
    // test: leave it for the next read instead of returning half a record.
    if (in.eof()) break;
    lines.push_back(line);
  }
  return lines;
}

std::string PgcdcBinary() {
  const char* bin = std::getenv("PGCDC_BIN");
  return bin != nullptr ? bin : "pgcdc";
}

std::chrono::milliseconds Scaled(std::chrono::milliseconds timeout) {
  static const double scale = [] {
    const char* text = std::getenv("PGCDC_TEST_TIMEOUT_SCALE");
    const double value = text != nullptr ? std::strtod(text, nullptr) : 1.0;
    return value >= 1.0 ? value : 1.0;
  }();
  return std::chrono::milliseconds(
      static_cast<int64_t>(static_cast<double>(timeout.count()) * scale));
}

bool Eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + Scaled(timeout);
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

// ---- Process -----------------------------------------------------------------

std::unique_ptr<Process> Process::Start(Options options) {
  std::unique_ptr<Process> p(new Process());
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return nullptr;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());

  const std::string binary = options.binary.empty() ? PgcdcBinary() : options.binary;
  std::vector<std::string> argv_s = {binary};
  for (auto& a : options.args) argv_s.push_back(a);
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env_map[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // Keep the child's configuration hermetic: no PGCDC_* from the caller.
  for (auto it = env_map.begin(); it != env_map.end();) {
    it = it->first.rfind("PGCDC_", 0) == 0 && it->first != "PGCDC_BIN" ? env_map.erase(it)
                                                                       : std::next(it);
  }
  const bool binary_is_pgcdc = options.binary.empty();
  if (binary_is_pgcdc && !options.own_http_addr &&
      std::ranges::find(options.args, "--http-addr") == options.args.end()) {
    env_map["PGCDC_HTTP_ADDR"] = "127.0.0.1:0";
  }
  for (auto& [k, v] : options.env) env_map[k] = v;
  std::vector<std::string> env_s;
  for (auto& [k, v] : env_map) env_s.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  // The child must start with default signal dispositions and an empty mask.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  const int rc = posix_spawn(&p->pid_, binary.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    ADD_FAILURE() << "spawn " << binary << ": " << std::strerror(rc);
    return nullptr;
  }
  p->out_fd_ = out[0];
  p->err_fd_ = err[0];
  Process* raw = p.get();
  p->out_thread_ = std::thread([raw] { raw->ReadLoop(raw->out_fd_, true); });
  p->err_thread_ = std::thread([raw] { raw->ReadLoop(raw->err_fd_, false); });
  return p;
}

Process::~Process() {
  if (!exit_code_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    Wait(5s);
  }
  {
    std::lock_guard lock(mu_);
    paused_ = false;
    stdout_closed_ = true;
  }
  cv_.notify_all();
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
  if (out_fd_ >= 0) ::close(out_fd_);
  if (err_fd_ >= 0) ::close(err_fd_);
}

void Process::ReadLoop(int fd, bool is_stdout) {
  char buf[65536];
  while (true) {
    if (is_stdout) {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !paused_ || stdout_closed_; });
      if (stdout_closed_) return;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;  // re-check pause/close state
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return;  // EOF: every write end is closed (the child exited)
    std::lock_guard lock(mu_);
    if (is_stdout) {
      out_partial_.append(buf, n);
      size_t start = 0, nl;
      while ((nl = out_partial_.find('\n', start)) != std::string::npos) {
        out_lines_.push_back(out_partial_.substr(start, nl - start));
        start = nl + 1;
      }
      out_partial_.erase(0, start);
    } else {
      err_.append(buf, n);
    }
    cv_.notify_all();
  }
}

void Process::Signal(int sig) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  const auto deadline = Clock::now() + Scaled(timeout);
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      std::lock_guard lock(mu_);
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
  // Let the readers collect the last output.
  if (out_thread_.joinable() && !paused_) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
  return exit_code_;
}

std::vector<std::string> Process::StdoutLines() {
  std::lock_guard lock(mu_);
  return out_lines_;
}

std::string Process::Stderr() {
  std::lock_guard lock(mu_);
  return err_;
}

bool Process::WaitForLines(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, Scaled(timeout), [&] { return out_lines_.size() >= n; });
}

bool Process::WaitForStderr(const std::string& needle, std::chrono::milliseconds timeout,
                            size_t times) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, Scaled(timeout), [&] {
    size_t count = 0, pos = 0;
    while ((pos = err_.find(needle, pos)) != std::string::npos) {
      ++count;
      pos += needle.size();
    }
    return count >= times;
  });
}

void Process::PauseStdout() {
  std::lock_guard lock(mu_);
  paused_ = true;
}

void Process::ResumeStdout() {
  {
    std::lock_guard lock(mu_);
    paused_ = false;
  }
  cv_.notify_all();
}

void Process::CloseStdout() {
  {
    std::lock_guard lock(mu_);
    stdout_closed_ = true;
    paused_ = false;
  }
  cv_.notify_all();
  if (out_thread_.joinable()) out_thread_.join();
  ::close(out_fd_);
  out_fd_ = -1;
}

std::optional<std::string> Process::HttpAddr(const std::string& server,
                                             std::chrono::milliseconds timeout) {
  const std::string needle = "http server listening server=" + server + " addr=";
  if (!WaitForStderr(needle, timeout)) return std::nullopt;
  std::string err = Stderr();
  auto pos = err.find(needle) + needle.size();
  auto end = err.find_first_of(" \n", pos);
  return err.substr(pos, end - pos);
}

// ---- HTTP --------------------------------------------------------------------

std::optional<HttpResult> HttpGet(const std::string& host_port, const std::string& path,
                                  std::chrono::milliseconds timeout) {
  return HttpSend(host_port, "GET", path, {}, {}, timeout);
}

std::optional<HttpResult> HttpExchange(const std::string& host_port, const std::string& method,
                                       const std::string& path, const std::string& headers,
                                       std::chrono::milliseconds timeout) {
  std::vector<std::string> lines;
  for (size_t at = 0; at < headers.size();) {
    size_t end = headers.find("\r\n", at);
    if (end == std::string::npos) end = headers.size();
    if (end > at) lines.push_back(headers.substr(at, end - at));
    at = end + 2;
  }
  return HttpSend(host_port, method, path, lines, {}, timeout);
}

std::optional<HttpResult> HttpSend(const std::string& host_port, const std::string& method,
                                   const std::string& path, const std::vector<std::string>& headers,
                                   const std::string& body, std::chrono::milliseconds timeout) {
  auto colon = host_port.rfind(':');
  std::string host = host_port.substr(0, colon);
  const std::string port = host_port.substr(colon + 1);
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return std::nullopt;
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const bool connected = ::connect(fd, res->ai_addr, res->ai_addrlen) == 0;
  ::freeaddrinfo(res);
  if (!connected) {
    ::close(fd);
    return std::nullopt;
  }
  std::string req =
      method + " " + path + " HTTP/1.1\r\nHost: " + host_port + "\r\nConnection: close\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  if (method != "GET" || !body.empty())
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  // A server may answer (413) and close before the whole body was sent:
  // read its answer anyway.
  for (size_t sent = 0; sent < req.size();) {
    const ssize_t w = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (w <= 0) break;
    sent += static_cast<size_t>(w);
  }
  std::string raw;
  char buf[8192];
  ssize_t n;
  // The whole answer within `timeout` (a stream that keeps sending is cut off).
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline && (n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, n);
  ::close(fd);
  auto hdr_end = raw.find("\r\n\r\n");
  if (hdr_end == std::string::npos || raw.size() < 12) return std::nullopt;
  HttpResult r;
  r.status = std::atoi(raw.substr(9, 3).c_str());
  r.headers = raw.substr(0, hdr_end);
  r.body = raw.substr(hdr_end + 4);
  // De-chunk if needed.
  if (r.headers.find("chunked") != std::string::npos) {
    std::string body, in = r.body;
    size_t pos = 0;
    while (pos < in.size()) {
      auto eol = in.find("\r\n", pos);
      if (eol == std::string::npos) break;
      size_t len = std::stoul(in.substr(pos, eol - pos), nullptr, 16);
      if (len == 0) break;
      body += in.substr(eol + 2, len);
      pos = eol + 2 + len + 2;
    }
    r.body = body;
  }
  return r;
}

int FreeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text) {
  CommandResult result;
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return result;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, out[1], 2);
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(in[0]);
  ::close(out[1]);
  if (rc != 0) {
    ::close(in[1]);
    ::close(out[0]);
    result.output = std::string("spawn failed: ") + std::strerror(rc);
    return result;
  }
  std::thread writer([&] {
    size_t off = 0;
    while (off < stdin_text.size()) {
      ssize_t n = ::write(in[1], stdin_text.data() + off, stdin_text.size() - off);
      if (n <= 0) break;
      off += n;
    }
    ::close(in[1]);
  });
  char buf[8192];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) result.output.append(buf, n);
  ::close(out[0]);
  writer.join();
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// ---- PostgreSQL --------------------------------------------------------------

namespace {
std::unique_ptr<pg::TempCluster>& ClusterSlot() {
  static std::unique_ptr<pg::TempCluster> cluster;
  return cluster;
}
}  // namespace

pg::TempCluster& SharedCluster() {
  auto& slot = ClusterSlot();
  if (!slot) {
    auto c = pg::TempCluster::Start({.log_prefix = "pgcdc-test"});
    if (!c) {
      std::fprintf(stderr, "cannot start PostgreSQL: %s\n", c.error().message().c_str());
      std::abort();
    }
    slot = std::move(*c);
    std::atexit([] { ClusterSlot().reset(); });
  }
  return *slot;
}

pg::Conn Connect() {
  auto c = pg::Conn::Open(SharedCluster().Url());
  if (!c) {
    ADD_FAILURE() << c.error().message();
    return pg::Conn();
  }
  return std::move(*c);
}

void ExecOrFail(pg::Conn& conn, const std::string& sql) {
  auto st = conn.Exec(sql);
  ASSERT_TRUE(st) << sql << ": " << st.error().message();
}

void FreshPublishedTable(pg::Conn& conn, const std::string& table, const std::string& columns,
                         const std::string& publication, const std::string& slot) {
  ExecOrFail(conn, "DROP TABLE IF EXISTS " + pg::QuoteIdentifier(table) + " CASCADE");
  ExecOrFail(conn, "CREATE TABLE " + pg::QuoteIdentifier(table) + " (" + columns + ")");
  ExecOrFail(conn, "DROP PUBLICATION IF EXISTS " + pg::QuoteIdentifier(publication));
  ExecOrFail(conn, "CREATE PUBLICATION " + pg::QuoteIdentifier(publication) + " FOR TABLE " +
                       pg::QuoteIdentifier(table));
  if (!slot.empty()) {
    (void)conn.Query(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
        {slot});
    (void)conn.Query(
        "DELETE FROM pgcdc_checkpoints WHERE slot_name = $1 AND "
        "to_regclass('pgcdc_checkpoints') IS NOT NULL",
        {slot});
  }
}

std::unique_ptr<Process> StartWalListen(const std::vector<std::string>& args) {
  auto p = Process::Start({.args = args});
  EXPECT_TRUE(p);
  if (p) {
    EXPECT_TRUE(p->WaitForStderr("streaming detector=wal", 30s)) << p->Stderr();
  }
  return p;
}

std::vector<std::string> WalListenArgs(const std::string& publication,
                                       const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"listen",
                                   "--detector",
                                   "wal",
                                   "--db",
                                   SharedCluster().Url(),
                                   "--publication",
                                   publication,
                                   "--http-addr",
                                   "127.0.0.1:0",
                                   "--detector-backoff-base",
                                   "100ms",
                                   "--detector-backoff-cap",
                                   "500ms",
                                   "--detector-status-interval",
                                   "200ms"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

void RunKillNineRounds(const KillNineRun& run,
                       const std::function<std::unique_ptr<Process>()>& start,
                       const std::function<double(Process&)>& progress,
                       const std::function<void(Process&)>& before_kill) {
  std::thread writer;
  std::atomic<bool> writer_done{false};
  std::mt19937 rng(run.seed);
  for (int round = 0; round < run.rounds; ++round) {
    auto p = start();
    if (!p) {
      ADD_FAILURE() << "round " << round << ": pgcdc did not start";
      break;
    }
    if (round == 0) {
      writer = std::thread([&] {
        std::optional<pg::Conn> w;
        if (!run.write) w.emplace(Connect());
        for (int i = 1; i <= run.rows; i += run.per_tx) {
          const int last = std::min(run.rows, i + run.per_tx - 1);
          auto st = run.write ? run.write(i, last)
                              : w->Exec("INSERT INTO " + run.table + " SELECT " + run.values +
                                        " FROM generate_series(" + std::to_string(i) + ", " +
                                        std::to_string(last) + ") g");
          if (!st) ADD_FAILURE() << st.error().message();
        }
        writer_done = true;
      });
    }
    const double target = progress(*p) + run.min_progress +
                          static_cast<double>(rng() % std::max<uint32_t>(run.spread, 1));
    // Until the target, or until the writer is done and the process caught
    // up (its progress stopped moving: the target was beyond what is left).
    double last = -1;
    auto moved = Clock::now();
    Eventually(
        [&] {
          const double now = progress(*p);
          if (now != last) {
            last = now;
            moved = Clock::now();
          }
          return now >= target || (writer_done && Clock::now() - moved > 1s);
        },
        60s);
    if (before_kill) before_kill(*p);
    std::cerr << run.table << ": kill -9 at progress " << progress(*p) << "\n";
    p->Signal(SIGKILL);
    p->Wait();
  }
  if (writer.joinable()) writer.join();
  EXPECT_TRUE(writer_done);
}

std::unique_ptr<Process> StartStreaming(const std::vector<std::string>& args) {
  auto p = Process::Start({.args = args});
  if (!p || !p->WaitForStderr("streaming detector=wal")) {
    ADD_FAILURE() << "pgcdc did not start streaming: " << (p ? p->Stderr() : "");
    return nullptr;
  }
  return p;
}

void RunKillNineRounds(const KillNineRun& run, const std::vector<std::string>& args,
                       const std::function<double(Process&)>& progress) {
  RunKillNineRounds(
      run, [&] { return StartStreaming(args); }, progress);
}

KillNineRun SinkKillNineRun(std::string table, int rows, uint32_t seed) {
  return {.table = std::move(table),
          .values = "g, g",
          .rows = rows,
          .per_tx = 20,
          .seed = seed,
          .min_progress = 500};
}

std::optional<double> ScrapeMetric(Process& p, const std::string& series) {
  auto addr = p.HttpAddr();
  if (!addr) return std::nullopt;
  auto m = HttpGet(*addr, "/metrics");
  if (!m) return std::nullopt;
  return MetricValue(m->body, series);
}

std::string Healthz(Process& p) {
  auto addr = p.HttpAddr();
  if (!addr) return {};
  auto h = HttpGet(*addr, "/healthz");
  return h ? h->body : std::string();
}

std::pair<int, std::string> RunToExit(const std::vector<std::string>& args) {
  auto p = Process::Start({.args = args});
  if (!p) {
    ADD_FAILURE() << "cannot start pgcdc";
    return {-1, ""};
  }
  const auto code = p->Wait();
  return {code.value_or(-1), p->Stderr()};
}

std::pair<int, std::string> RunAdapterToExit(const std::string& adapter,
                                             const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"listen", "--db",  SharedCluster().Url(), "-c", "x",
                                   "-a",     adapter, "--http-addr",         ""};
  args.insert(args.end(), extra.begin(), extra.end());
  return RunToExit(args);
}

std::optional<double> MetricValue(const std::string& exposition, const std::string& series) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return std::nullopt;
}

}  // namespace pgcdc::testing
