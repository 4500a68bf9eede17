#include "pipeline/signals.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "core/log.h"

namespace pgcdc::pipeline {

namespace {
sigset_t WatchedSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}
}  // namespace

void BlockSignals() {
  sigset_t set = WatchedSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

SignalWatcher::SignalWatcher(std::stop_source stop, std::function<void()> on_hup)
    : stop_(std::move(stop)), on_hup_(std::move(on_hup)) {
  thread_ = std::thread([this] { Loop(); });
}

SignalWatcher::~SignalWatcher() {
  quit_ = true;
  if (thread_.joinable()) thread_.join();
}

void SignalWatcher::Loop() {
  const sigset_t set = WatchedSet();
  int stops = 0;
  while (!quit_.load()) {
    timespec timeout{0, 100'000'000};
    siginfo_t info{};
    const int sig = sigtimedwait(&set, &info, &timeout);
    if (sig < 0) continue;  // EAGAIN (timeout) or EINTR
    if (sig == SIGHUP) {
      if (on_hup_) {
        on_hup_();
      } else {
        log::Warn("SIGHUP ignored: this command has nothing to reload");
      }
      continue;
    }
    // Several watchers may share one stop source (a command that watches
    // signals around RunPipeline's own watcher): a stop already requested
    // means this is the second signal.
    if (stop_.stop_requested()) ++stops;
    ++stops;
    if (stops == 1) {
      log::Info("signal received, shutting down (send again to exit immediately)",
                {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
      stop_.request_stop();
    } else {
      log::Warn("second signal received, exiting immediately");
      ::_exit(130);
    }
  }
}

}  // namespace pgcdc::pipeline
