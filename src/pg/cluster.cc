#include "pg/cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace pgcdc::pg {

namespace fs = std::filesystem;

Result<int> FreeLocalPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Fail(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return Fail(ErrorCode::kIo, std::string("bind: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

namespace {

std::string FindBinDir(const std::string& requested) {
  if (!requested.empty()) return requested;
  if (const char* env = std::getenv("PGCDC_PG_BIN_DIR"); env != nullptr && *env != '\0') return env;
  for (const char* dir : {"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin",
                          "/usr/lib/postgresql/17/bin", "/usr/local/pgsql/bin"}) {
    if (fs::exists(fs::path(dir) / "initdb")) return dir;
  }
  return {};
}

// Runs argv, appending its stdout/stderr to log_path; returns the exit code.
Result<int> RunAndWait(const std::vector<std::string>& argv, const std::string& log_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return Fail(ErrorCode::kIo, "spawn " + argv[0] + ": " + std::strerror(rc));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return Fail(ErrorCode::kIo, std::string("waitpid: ") + std::strerror(errno));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

std::string Tail(const std::string& path, size_t max_lines = 15) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (lines.size() > max_lines) lines.erase(lines.begin());
  }
  std::string out;
  for (auto& l : lines) out += "\n  " + l;
  return out;
}

}  // namespace

Status TempCluster::RunTool(const std::vector<std::string>& argv, const std::string& what) {
  std::vector<std::string> full;
  if (as_postgres_user_) full = {"runuser", "-u", "postgres", "--"};
  for (const auto& a : argv) full.push_back(a);
  const std::string log = dir_ + "/tools.log";
  auto rc = RunAndWait(full, log);
  if (!rc) return Fail(rc.error().Wrap(what));
  if (*rc != 0) {
    return Fail(ErrorCode::kIo, what + " failed (exit " + std::to_string(*rc) + "):" + Tail(log) +
                                    Tail(LogPath(), 5));
  }
  return Ok();
}

Result<std::unique_ptr<TempCluster>> TempCluster::Start(const ClusterOptions& options) {
  std::unique_ptr<TempCluster> c(new TempCluster());
  c->bin_dir_ = FindBinDir(options.bin_dir);
  if (c->bin_dir_.empty()) {
    return Fail(ErrorCode::kNotFound,
                "PostgreSQL server binaries not found (install postgresql-15, or set "
                "PGCDC_PG_BIN_DIR to the directory holding initdb and pg_ctl)");
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" +
                     options.log_prefix + "-pg-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Fail(ErrorCode::kIo, "mkdtemp " + tmpl + ": " + std::strerror(errno));
  }
  c->dir_ = tmpl;
  if (::geteuid() == 0) {
    struct passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      return Fail(ErrorCode::kNotFound,
                  "running as root but there is no 'postgres' user to run PostgreSQL as");
    }
    c->as_postgres_user_ = true;
    if (::chown(c->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Fail(ErrorCode::kIo, "chown " + c->dir_ + ": " + std::strerror(errno));
    }
  }
  ::chmod(c->dir_.c_str(), 0700);
  if (auto st = c->RunTool({c->bin_dir_ + "/initdb", "-D", c->dir_ + "/data", "-U", "postgres",
                            "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"},
                           "initdb");
      !st) {
    return Fail(st.error());
  }
  std::vector<std::string> args = {"-c", "listen_addresses=127.0.0.1", "-k", c->dir_,
                                   "-c", "max_connections=100"};
  if (options.logical_replication) {
    for (const char* s : {"wal_level=logical", "max_replication_slots=20", "max_wal_senders=20"}) {
      args.push_back("-c");
      args.push_back(s);
    }
  }
  for (const char* s : {"fsync=off", "synchronous_commit=off", "full_page_writes=off"}) {
    args.push_back("-c");
    args.push_back(s);
  }
  for (const auto& s : options.settings) {
    args.push_back("-c");
    args.push_back(s);
  }
  c->server_args_ = args;
  // A port can be taken between picking and binding; retry a few times.
  Status started = Fail(ErrorCode::kIo, "not started");
  for (int attempt = 0; attempt < 5 && !started; ++attempt) {
    auto port = FreeLocalPort();
    if (!port) return Fail(port.error());
    c->port_ = *port;
    started = c->StartServer();
  }
  if (!started) return Fail(started.error());
  return c;
}

Status TempCluster::StartServer() {
  std::string opts = "-p " + std::to_string(port_);
  for (const auto& a : server_args_) opts += " " + a;
  auto st = RunTool({bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-l", LogPath(), "-w", "-t", "60",
                     "-o", opts, "start"},
                    "pg_ctl start");
  if (st) running_ = true;
  return st;
}

Status TempCluster::StopServer() {
  if (!running_) return Ok();
  running_ = false;
  return RunTool(
      {bin_dir_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "-t", "60", "stop"},
      "pg_ctl stop");
}

Status TempCluster::Stop() {
  Status st = StopServer();
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }
  return st;
}

TempCluster::~TempCluster() { (void)Stop(); }

std::string TempCluster::Url(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + database +
         "?connect_timeout=10";
}

}  // namespace pgcdc::pg
