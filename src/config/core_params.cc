#include "config/core_params.h"

namespace pgcdc::config {

const std::vector<ParamSpec>& CoreParams() {
  static const std::vector<ParamSpec> params = {
      {.key = "log_level",
       .type = ParamType::kString,
       .default_value = "info",
       .description = "log level",
       .choices = {"debug", "info", "warn", "error"}},
      {.key = "log_format",
       .type = ParamType::kString,
       .default_value = "text",
       .description = "log format on stderr",
       .choices = {"text", "json", "auto", "color"}},
      {.key = "detector.type",
       .type = ParamType::kString,
       .default_value = "listen_notify",
       .description = "change source (see `pgcdc list detectors`)",
       .flag = "detector"},
      {.key = "adapters",
       .type = ParamType::kStringList,
       .default_value = "stdout",
       .description = "sink(s) (repeatable or comma-separated; see `pgcdc list adapters`)",
       .flag = "adapter",
       .short_flag = "a"},
      {.key = "bus.buffer_size",
       .type = ParamType::kInt,
       .default_value = "1024",
       .description = "events buffered in the ingest queue and in each adapter's queue",
       .flag = "bus-buffer",
       .min = 1,
       .max = 100'000'000},
      {.key = "bus.mode",
       .type = ParamType::kString,
       .default_value = "fast",
       .description = "fast: a full adapter queue drops events (counted); reliable: block the "
                      "detector instead (loss-free)",
       .flag = "bus-mode",
       .choices = {"fast", "reliable"}},
      {.key = "routes",
       .type = ParamType::kRouteMap,
       .description = "send only these channels to an adapter: adapter=ch1,ch2 (repeatable)",
       .flag = "route"},
      {.key = "shutdown_timeout",
       .type = ParamType::kDuration,
       .default_value = "5s",
       .description = "time adapters get to drain on shutdown",
       .min = 1},
      {.key = "http_addr",
       .type = ParamType::kString,
       .default_value = ":8080",
       .description = "HTTP server for /healthz, /readyz, /metrics (HOST:PORT; empty disables)"},
      {.key = "metrics_addr",
       .type = ParamType::kString,
       .description = "optional separate listener for /metrics, /healthz, /readyz"},
  };
  return params;
}

const std::vector<std::string>& ReservedSections() {
  static const std::vector<std::string> sections = {
      "webhook", "sse", "websocket", "file", "exec", "pg_table", "embedding", "search", "redis",
      "grpc", "nats", "kafka", "encoding", "kafkaserver", "s3", "iceberg", "graphql", "arrow",
      "duckdb", "clickhouse", "pgwire", "chain", "views", "transforms", "dlq", "backpressure",
      "plugins", "otel", "inspector", "schema", "snapshot", "incremental_snapshot", "outbox",
      "mysql", "mongodb", "sqlite", "kafka_consumer", "nats_consumer", "webhook_gateway",
      "metrics_tls_cert_file", "metrics_tls_key_file", "skip_validation", "skip_migrations",
      "pipeline_name", "detector_mode"};
  return sections;
}

}  // namespace pgcdc::config
