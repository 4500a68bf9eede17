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
#include <string>
#include <vector>

#include "core/backoff.h"
#include "detector/detector.h"
#include "registry/registry.h"

namespace pgcdc::listennotify {

struct Options {
  std::string database_url;
  std::vector<std::string> channels;
  BackoffPolicy backoff;
  // Largest batch handed to the bus at once.
  size_t max_batch = 1024;
};

class ListenNotifyDetector : public detector::Detector {
 public:
  explicit ListenNotifyDetector(Options options);
  std::string_view Name() const override { return "listen_notify"; }
  Status Run(detector::RunContext& ctx) override;

 private:
  Options options_;
};

// Registry entry (name, parameters, factory).
ConnectorInfo Connector();

}  // namespace pgcdc::listennotify
