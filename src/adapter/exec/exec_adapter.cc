#include "adapter/exec/exec_adapter.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "config/config.h"
#include "core/log.h"
#include "core/metrics.h"
#include "registry/define.h"

extern char** environ;

namespace pgcdc::adapter::exec {

namespace {

using std::chrono::milliseconds;

// How often a waiting Flush() looks at the pipe's unread byte count (it
// starts at kDrainPollFirst and doubles up to kDrainPollMax), and how often a
// child that is being stopped is checked for exit.
constexpr milliseconds kDrainPollMax{50};
constexpr milliseconds kReapPoll{10};
constexpr std::chrono::microseconds kDrainPollFirst{50};
// Lines handed to one writev().
constexpr int kMaxIov = 256;
// PATH when the environment has none (glibc's default search path).
constexpr const char* kDefaultPath = "/bin:/usr/bin";

metrics::Counter& RestartsMetric() {
  static metrics::Counter& c = metrics::DefaultCounter(
      "pgcdc_exec_restarts_total",
      "Times the exec adapter started a new child after the previous one exited.");
  return c;
}

metrics::Counter& ResentMetric() {
  static metrics::Counter& c =
      metrics::DefaultCounter("pgcdc_exec_resent_events_total",
                              "Events written again to a new exec child because the previous one "
                              "exited before reading them.");
  return c;
}

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = ::sigabbrev_np(WTERMSIG(status));
    return std::string("killed by signal ") +
           (name != nullptr ? std::string("SIG") + name : std::to_string(WTERMSIG(status)));
  }
  return "status " + std::to_string(status);
}

Error Cancelled() { return Error(ErrorCode::kCancelled, "exec: interrupted"); }

}  // namespace

std::string FindInPath(const std::string& name, const std::string& path) {
  size_t start = 0;
  for (;;) {
    const size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? colon : colon - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string::npos) return {};
    start = colon + 1;
  }
}

ExecAdapter::ExecAdapter(Options options)
    : RetryingAdapter("exec", options.backoff), options_(std::move(options)) {
  RestartsMetric();
  ResentMetric();
}

ExecAdapter::~ExecAdapter() { Close(); }

Status ExecAdapter::Open() {
  if (options_.command.empty()) {
    return Fail(ErrorCode::kConfig, "exec: the command is empty (--exec-command)");
  }
  if (sleeper().fd() < 0) {
    return Fail(ErrorCode::kIo, std::string("exec: eventfd: ") + std::strerror(errno));
  }
  const char* env_path = std::getenv("PATH");
  const std::string path = env_path != nullptr ? env_path : kDefaultPath;
  sh_ = FindInPath("sh", path);
  if (sh_.empty()) {
    return Fail(ErrorCode::kNotFound, "exec: no executable sh found on PATH (" + path + ")");
  }
  return Spawn();
}

Status ExecAdapter::Spawn() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    return Fail(ErrorCode::kIo, std::string("exec: pipe: ") + std::strerror(errno));
  }
  if (::fcntl(p[1], F_SETFL, O_NONBLOCK) != 0) {
    const int err = errno;
    ::close(p[0]);
    ::close(p[1]);
    return Fail(ErrorCode::kIo, std::string("exec: fcntl: ") + std::strerror(err));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[0], STDIN_FILENO);
  if (options_.child_stdout == ChildStdout::kDiscard) {
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  } else {
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
  }
  posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);

  // The pipeline blocks SIGINT/SIGTERM/SIGHUP in every thread and ignores
  // SIGPIPE; the child starts with an empty mask and default handlers, in
  // its own process group so a terminal's Ctrl-C reaches only pgcdc (which
  // then closes the child's stdin to let it finish).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::string arg0 = "sh", arg1 = "-c", arg2 = options_.command;
  char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, sh_.c_str(), &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(p[0]);
  if (rc != 0) {
    ::close(p[1]);
    return Fail(ErrorCode::kIo, "exec: start " + sh_ + ": " + std::strerror(rc));
  }
  fd_ = p[1];
  pid_ = pid;
  base_ = 0;
  written_ = 0;
  write_idx_ = 0;
  write_off_ = 0;
  consumed_total_ = 0;
  log::Info("exec child started", {{"adapter", "exec"},
                                   {"pid", static_cast<int64_t>(pid)},
                                   {"command", options_.command},
                                   {"pending_events", static_cast<uint64_t>(lines_.size())}});
  return Ok();
}

Status ExecAdapter::Deliver(std::span<const Event* const> events) {
  if (interrupted()) return Fail(Cancelled());
  for (const Event* e : events) {
    const std::string& json = e->Json();
    std::string line;
    line.reserve(json.size() + 1);
    line.append(json);
    line.push_back('\n');
    lines_.push_back(std::move(line));
  }
  if (auto st = Pump(); !st) return st;
  TrimConsumed();
  return Ok();
}

Status ExecAdapter::Pump() {
  for (;;) {
    if (interrupted()) return Fail(Cancelled());
    if (fd_ < 0) {
      if (auto st = Restart("no child running"); !st) return st;
      continue;
    }
    if (write_idx_ >= lines_.size()) return Ok();
    // Many lines per system call.
    iovec iov[kMaxIov];
    int count = 0;
    for (size_t i = write_idx_; i < lines_.size() && count < kMaxIov; ++i, ++count) {
      const size_t off = i == write_idx_ ? write_off_ : 0;
      iov[count].iov_base = lines_[i].data() + off;
      iov[count].iov_len = lines_[i].size() - off;
    }
    const ssize_t n = ::writev(fd_, iov, count);
    if (n > 0) {
      written_ += static_cast<uint64_t>(n);
      size_t left = static_cast<size_t>(n);
      while (left > 0) {
        const size_t rest = lines_[write_idx_].size() - write_off_;
        if (left < rest) {
          write_off_ += left;
          break;
        }
        left -= rest;
        ++write_idx_;
        write_off_ = 0;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      // Pipe full: wait for room, for the reader to go away, or Interrupt().
      TrimConsumed();
      pollfd fds[2] = {{fd_, POLLOUT, 0}, {sleeper().fd(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
        return Fail(ErrorCode::kIo, std::string("exec: poll: ") + std::strerror(errno));
      }
      if ((fds[0].revents & (POLLERR | POLLHUP)) != 0 && !interrupted()) {
        if (auto st = Restart("child exited or closed its stdin"); !st) return st;
      }
      continue;
    }
    const int err = n < 0 ? errno : EIO;
    if (auto st = Restart(err == EPIPE ? std::string("child exited or closed its stdin")
                                       : std::string("write: ") + std::strerror(err));
        !st) {
      return st;
    }
  }
}

void ExecAdapter::TrimConsumed() {
  if (fd_ < 0) return;
  int unread = 0;
  if (::ioctl(fd_, FIONREAD, &unread) != 0 || unread < 0) return;
  const uint64_t consumed = written_ - std::min<uint64_t>(written_, static_cast<uint64_t>(unread));
  consumed_total_ = consumed;
  // Only completely written lines (index < write_idx_) can be completely read.
  while (write_idx_ > 0 && base_ + lines_.front().size() <= consumed) {
    base_ += lines_.front().size();
    lines_.pop_front();
    --write_idx_;
  }
}

Status ExecAdapter::Flush() {
  std::chrono::microseconds wait = kDrainPollFirst;
  for (;;) {
    if (interrupted()) return Fail(Cancelled());
    if (lines_.empty()) return Ok();
    if (auto st = Pump(); !st) return st;
    TrimConsumed();
    if (lines_.empty()) return Ok();
    // Sleep until the reader goes away (POLLERR), Interrupt(), or the next look.
    pollfd fds[2] = {{fd_, 0, 0}, {sleeper().fd(), POLLIN, 0}};
    const timespec ts{static_cast<time_t>(wait.count() / 1'000'000),
                      static_cast<long>(wait.count() % 1'000'000) * 1000};
    if (::ppoll(fds, 2, &ts, nullptr) < 0 && errno != EINTR) {
      return Fail(ErrorCode::kIo, std::string("exec: poll: ") + std::strerror(errno));
    }
    if ((fds[0].revents & (POLLERR | POLLHUP)) != 0 && !interrupted()) {
      TrimConsumed();
      if (lines_.empty()) continue;  // it read everything before leaving
      if (auto st = Restart("child exited or closed its stdin"); !st) return st;
      wait = kDrainPollFirst;
      continue;
    }
    wait = std::min<std::chrono::microseconds>(wait * 2, kDrainPollMax);
  }
}

Status ExecAdapter::Restart(std::string_view reason) {
  size_t unread_events = 0;
  bool progress = false;
  std::string ended = "not running";
  const int64_t old_pid = pid_;
  if (fd_ >= 0) {
    TrimConsumed();
    progress = consumed_total_ > 0;
    // Lines written (completely or partly) that the child did not read.
    unread_events = write_idx_ + (write_off_ > 0 ? 1 : 0);
  }
  if (fd_ >= 0 || pid_ > 0) {
    StopChild(/*graceful=*/true);
    ended = last_exit_;
  }
  if (progress) backoff().Reset();
  for (;;) {
    const milliseconds delay = backoff().Next();
    log::Warn("exec child stopped; restarting",
              {{"adapter", "exec"},
               {"pid", old_pid},
               {"reason", reason},
               {"status", ended},
               {"unread_events", static_cast<uint64_t>(unread_events)},
               {"pending_events", static_cast<uint64_t>(lines_.size())},
               {"restart_in_ms", static_cast<int64_t>(delay.count())}});
    if (!sleeper().SleepFor(delay)) return Fail(Cancelled());
    auto st = Spawn();
    if (st) break;
    log::Error("exec: could not start the child",
               {{"adapter", "exec"}, {"error", st.error().message()}});
    reason = "start failed";
    ended = st.error().message();
  }
  ++restarts_;
  RestartsMetric().Inc();
  if (unread_events > 0) ResentMetric().Inc(unread_events);
  return Ok();
}

bool ExecAdapter::WaitChild(milliseconds d, bool interruptible) {
  const auto deadline = std::chrono::steady_clock::now() + d;
  for (;;) {
    if (pid_ <= 0) return true;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      last_exit_ = DescribeStatus(status);
      pid_ = -1;
      return true;
    }
    if (r < 0 && errno != EINTR) {  // ECHILD: already reaped elsewhere
      last_exit_ = "unknown (already reaped)";
      pid_ = -1;
      return true;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - now) + milliseconds(1);
    const milliseconds step = std::min(kReapPoll, left);
    if (interruptible) {
      if (!sleeper().SleepFor(step)) return false;
    } else {
      ::usleep(static_cast<useconds_t>(step.count() * 1000));
    }
  }
}

void ExecAdapter::StopChild(bool graceful) {
  if (fd_ >= 0) {
    ::close(fd_);  // EOF on the child's stdin
    fd_ = -1;
  }
  if (pid_ <= 0) return;
  const pid_t pid = pid_;
  if (graceful && !interrupted() && WaitChild(options_.stop_timeout, true)) return;
  if (pid_ > 0 && graceful && !interrupted()) {
    log::Warn("exec: child did not exit after its stdin closed; sending SIGTERM",
              {{"adapter", "exec"}, {"pid", static_cast<int64_t>(pid)}});
    ::kill(-pid, SIGTERM);
    if (WaitChild(options_.stop_timeout, true)) return;
  }
  if (pid_ > 0) {
    log::Warn("exec: killing child", {{"adapter", "exec"}, {"pid", static_cast<int64_t>(pid)}});
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    last_exit_ = DescribeStatus(status);
    pid_ = -1;
  }
}

void ExecAdapter::Close() {
  if (fd_ < 0 && pid_ <= 0) return;
  if (fd_ >= 0) TrimConsumed();
  const size_t unread = write_idx_ + (write_off_ > 0 ? 1 : 0);
  if (!lines_.empty()) {
    log::Warn("exec: closing with events the child has not read",
              {{"adapter", "exec"},
               {"written_unread", static_cast<uint64_t>(fd_ >= 0 ? unread : 0)},
               {"pending", static_cast<uint64_t>(lines_.size())}});
  }
  const pid_t pid = pid_;
  StopChild(/*graceful=*/!interrupted());
  log::Info("exec child stopped",
            {{"adapter", "exec"}, {"pid", static_cast<int64_t>(pid)}, {"status", last_exit_}});
}

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "exec",
      .description =
          "Writes one JSON line per event to the stdin of `sh -c <command>`, restarting it with "
          "backoff when it exits; events its stdin never read go to the next child.",
      .params = Params({
          {Param("exec.command", &O::command,
                 "shell command that reads JSON lines on stdin (run with sh -c)")},
          BackoffParams<O>("exec", "exec", &O::backoff, "restart"),
          {ParamEnum("exec.stdout", &O::child_stdout,
                     {{"stderr", ChildStdout::kStderr}, {"discard", ChildStdout::kDiscard}},
                     "where the child's stdout goes: stderr (pgcdc's stderr) or discard; "
                     "pgcdc's stdout carries only events"),
           Param("exec.stop_timeout", &O::stop_timeout,
                 "at shutdown, time the child gets to exit after its stdin closes (then SIGTERM, "
                 "then SIGKILL after as long again)",
                 {.min = 0})},
      }),
      .validate =
          [](const O& o, const Context&, Errors& errors) {
            if (o.command.empty()) {
              errors.push_back("exec.command: required for adapter exec (--exec-command)");
            }
            ValidateBackoff("exec", o.backoff, errors);
          },
      .make = MakeRetryingAdapter<ExecAdapter, O>,
  });
}

}  // namespace pgcdc::adapter::exec

PGCDC_REGISTER_CONNECTOR(adapter, exec, pgcdc::adapter::exec::Connector)
