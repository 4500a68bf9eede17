// exec adapter (SPEC §5.6): one compact JSON line per event on the stdin of
// a long-running child process (`sh -c <command>`), restarted when it exits.
//
// Delivery and acknowledgement. Deliver() writes the lines into the pipe;
// Flush() waits until the child has read every byte of them from the pipe
// (the pipe's unread byte count, FIONREAD, reaches 0). Only then are the
// events acknowledged. If the child exits (or closes its stdin) first, the
// bytes it never read are still in the pipe: their events are written again,
// in order, to the next child. An event the child has read counts as
// delivered even if the child dies before acting on it, so a command that
// reads ahead and exits early (`head -n 3` reads a whole buffer) can lose
// what it read but did not process; a line-by-line reader loses nothing.
//
// Restarts use jittered exponential backoff (backoff_base/backoff_cap); the
// backoff starts over after a child that read something, so a child that
// exits after every N lines is restarted quickly while a command that fails
// at once backs off to the cap. Events wait (not acknowledged) meanwhile.
//
// The child runs in its own process group with default signal handling and
// an empty signal mask, stdin = the pipe, stdout = our stderr (or
// /dev/null), stderr = our stderr, no other inherited descriptors. Our
// stdout carries only events and is never given to the child. At shutdown
// its stdin is closed (EOF) and it gets stop_timeout to exit before SIGTERM,
// then SIGKILL, to its process group.
//
// Threads: the adapter worker calls everything except Interrupt(), which may
// come from any thread and makes a blocked Deliver()/Flush() (full pipe,
// restart backoff) return kCancelled promptly.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "adapter/retrying_adapter.h"
#include "registry/registry.h"

namespace pgcdc::adapter::exec {

enum class ChildStdout { kStderr, kDiscard };

struct Options {
  std::string command;  // run as `sh -c <command>`
  BackoffPolicy backoff{std::chrono::seconds(1), std::chrono::seconds(30),
                        std::chrono::milliseconds(100)};
  ChildStdout child_stdout = ChildStdout::kStderr;
  // After closing the child's stdin at shutdown (or after it closed its
  // stdin), wait this long for it to exit before SIGTERM, and as long again
  // before SIGKILL.
  std::chrono::milliseconds stop_timeout{5000};
};

// Finds an executable `name` in the directories of `path` (PATH syntax).
// Returns its full path, or an empty string.
std::string FindInPath(const std::string& name, const std::string& path);

class ExecAdapter : public RetryingAdapter {
 public:
  explicit ExecAdapter(Options options);
  ~ExecAdapter() override;

  // Pre-flight (command set, `sh` on PATH) and starts the first child.
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  // Returns once the child has read everything written so far.
  Status Flush() override;
  void Close() override;

  // For tests: the current child's pid (-1 when none) and restarts so far.
  pid_t child_pid() const { return pid_; }
  uint64_t restarts() const { return restarts_.load(); }

 private:
  Status Spawn();
  // Writes every queued byte not yet written to the current child.
  Status Pump();
  // The current child stopped reading: keep its unread lines, reap it,
  // back off, start the next one (which gets the unread lines first).
  Status Restart(std::string_view reason);
  // Drops the lines the child has completely read from the pipe.
  void TrimConsumed();
  // Ends the current child: close its stdin, wait, SIGTERM, SIGKILL.
  void StopChild(bool graceful);
  // Waits up to `d` for the child to exit; true when it was reaped.
  bool WaitChild(std::chrono::milliseconds d, bool interruptible);

  Options options_;
  std::string sh_;  // resolved path of sh
  pid_t pid_ = -1;
  int fd_ = -1;  // write end of the child's stdin pipe (non-blocking)
  std::atomic<uint64_t> restarts_{0};
  std::string last_exit_;  // how the last child ended ("exit code 3")

  // Lines given to the current child, oldest first, that it has not been
  // seen to read completely. lines_[0] starts at stream offset base_;
  // written_ bytes of this child's stream have been written;
  // [write_idx_, write_off_) locates the next byte to write.
  std::deque<std::string> lines_;
  uint64_t base_ = 0;
  uint64_t written_ = 0;
  size_t write_idx_ = 0;
  size_t write_off_ = 0;
  uint64_t consumed_total_ = 0;  // bytes the current child has read
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::exec
