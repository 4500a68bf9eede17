// SignalWatcher: turns SIGINT/SIGTERM into a stop request and SIGHUP into a
// reload callback, on a dedicated thread using sigtimedwait (no async-signal
// handler code). A second SIGINT/SIGTERM exits the process at once.
//
// BlockSignals() must run before any other thread is created so every thread
// inherits the mask; it also ignores SIGPIPE so writes to a closed pipe return
// EPIPE instead of killing the process.
#pragma once

#include <atomic>
#include <functional>
#include <stop_token>
#include <thread>

namespace pgcdc::pipeline {

void BlockSignals();

class SignalWatcher {
 public:
  SignalWatcher(std::stop_source stop, std::function<void()> on_hup = {});
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  void Loop();
  std::stop_source stop_;
  std::function<void()> on_hup_;
  std::atomic<bool> quit_{false};
  std::thread thread_;
};

}  // namespace pgcdc::pipeline
