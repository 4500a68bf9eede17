#include "config/core_params.h"

#include "registry/define.h"

namespace pgcdc::config {

namespace {
using S = CoreSettings;
}  // namespace

const std::vector<ParamSpec>& CoreParams() {
  static const std::vector<ParamSpec> params = {
      Param("database_url", &S::database_url, "PostgreSQL connection string (URI or key=value)",
            {.flag = "db"}),
      Param("log_level", &S::log_level, "log level",
            {.choices = {"debug", "info", "warn", "error"}}),
      Param("log_format", &S::log_format, "log format on stderr",
            {.choices = {"text", "json", "auto", "color"}}),
      Param("detector.type", &S::detector_type, "change source (see `pgcdc list detectors`)",
            {.flag = "detector"}),
      Param("adapters", &S::adapters,
            "sink(s) (repeatable or comma-separated; see `pgcdc list adapters`)",
            {.flag = "adapter", .short_flag = "a"}),
      Param("bus.buffer_size", &S::bus_buffer_size,
            "events buffered in the ingest queue and in each adapter's queue",
            {.flag = "bus-buffer", .min = 1, .max = 100'000'000}),
      Param("bus.mode", &S::bus_mode,
            "fast: a full adapter queue drops events (counted); reliable: block the detector "
            "instead (loss-free)",
            {.choices = {"fast", "reliable"}}),
      Param("routes", &S::routes,
            "send only these channels to an adapter: adapter=ch1,ch2 (repeatable)",
            {.flag = "route"}),
      Param("shutdown_timeout", &S::shutdown_timeout, "time adapters get to drain on shutdown",
            {.min = 1}),
      Param("http_addr", &S::http_addr,
            "HTTP server for /healthz, /readyz, /metrics (HOST:PORT; empty disables)"),
      ParamAt<S>(
          "backpressure.enabled", [](auto& s) -> auto& { return s.backpressure.enabled; },
          "throttle/pause the wal detector and shed low-priority adapters when the persistent "
          "slot lags (needs --persistent-slot)",
          {.flag = "backpressure"}),
      ParamAt<S>("backpressure.warn_threshold",
                 [](auto& s) -> auto& { return s.backpressure.warn_threshold; },
                 "slot lag (bytes) where the yellow zone starts",
                 {.flag = "bp-warn-threshold", .min = 1}),
      ParamAt<S>("backpressure.critical_threshold",
                 [](auto& s) -> auto& { return s.backpressure.critical_threshold; },
                 "slot lag (bytes) where the red zone starts",
                 {.flag = "bp-critical-threshold", .min = 1}),
      ParamAt<S>("backpressure.max_throttle",
                 [](auto& s) -> auto& { return s.backpressure.max_throttle; },
                 "longest pause before each WAL read in the yellow/red zones",
                 {.flag = "bp-max-throttle"}),
      ParamAt<S>("backpressure.poll_interval",
                 [](auto& s) -> auto& { return s.backpressure.poll_interval; },
                 "how often the slot lag is measured", {.flag = "bp-poll-interval", .min = 10}),
      ParamAt<S>(
          "backpressure.adapter_priorities",
          [](auto& s) -> auto& { return s.backpressure.adapter_priorities; },
          "adapter=critical|normal|best-effort (repeatable); adapters without one are never shed",
          {.flag = "adapter-priority"}),
      ParamAt<S>("dlq.type", [](auto& s) -> auto& { return s.dlq.type; },
                 "dead letter queue for events an adapter can never deliver: stderr (one JSON line "
                 "each), pg_table (replayable with `pgcdc dlq replay`), none",
                 {.flag = "dlq", .choices = {"stderr", "pg_table", "none"}}),
      ParamAt<S>(
          "dlq.table", [](auto& s) -> auto& { return s.dlq.table; },
          "table for --dlq pg_table (created if missing; may be schema-qualified)"),
      ParamAt<S>("dlq.db", [](auto& s) -> auto& { return s.dlq.db; },
                 "database for --dlq pg_table (default: --db)", {.aliases = {"dlq.db_url"}}),
      Param("inspector.buffer_size", &S::inspector_buffer_size,
            "events kept per inspector tap for /inspect, /inspect/stream and the web console (0 "
            "disables the taps)",
            {.flag = "inspect-buffer", .min = 0, .max = 1'000'000}),
      Param("console.enabled", &S::console_enabled,
            "serve the web console at / on the main HTTP server", {.flag = "console"}),
      Param("metrics_addr", &S::metrics_addr,
            "optional separate listener for /metrics, /healthz, /readyz"),
  };
  return params;
}

CoreSettings BindCore(const Config& values) {
  return BindConfig<CoreSettings>(CoreParams(), values);
}

}  // namespace pgcdc::config
