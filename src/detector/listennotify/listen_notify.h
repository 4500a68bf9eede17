// listen_notify detector (SPEC §2.1): one dedicated libpq connection that
// LISTENs on every configured channel and turns each notification into an
// event (see notify_event.h). On connection loss (backend terminated, server
// restart, network) it reconnects with full-jitter backoff and re-LISTENs;
// notifications sent while disconnected are lost (PostgreSQL does not queue
// them), which is inherent to LISTEN/NOTIFY: use the wal detector for
// at-least-once delivery.
//
// Thread: Run() executes on the pipeline's detector thread; Stop is signalled
// through the RunContext stop token (an eventfd wakes the poll loop).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "core/backoff.h"
#include "detector/detector.h"

namespace pgcdc::detector::listennotify {

// Also the connector's config struct: its parameters (channels,
// detector.backoff_*) bind to these fields, whose initializers are the
// defaults. database_url comes from the core settings.
struct Options {
  std::string database_url;
  std::vector<std::string> channels;
  BackoffPolicy backoff;  // detector.backoff_base / detector.backoff_cap
  // Largest batch handed to the bus at once.
  size_t max_batch = 1024;
};

class ListenNotifyDetector : public Detector {
 public:
  explicit ListenNotifyDetector(Options options);
  std::string_view Name() const override { return "listen_notify"; }
  Status Run(RunContext& ctx) override;

 private:
  Options options_;
};

}  // namespace pgcdc::detector::listennotify
