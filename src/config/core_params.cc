#include "config/core_params.h"

#include "registry/define.h"

namespace pgcdc::config {

namespace {

using S = CoreSettings;

// The dead letter queue and its nack window.
std::vector<ParamSpec> DlqParams() {
  return {
      Param("dlq.type", &S::dlq, &DlqSettings::type,
            "dead letter queue for events an adapter can never deliver: stderr (one JSON line "
            "each), pg_table (replayable with `pgcdc dlq replay`), none, plugin (a Wasm plugin, "
            "--dlq-plugin-path)",
            {.flag = "dlq", .choices = {"stderr", "pg_table", "none", "plugin"}}),
      Param("dlq.table", &S::dlq, &DlqSettings::table,
            "table for --dlq pg_table (created if missing; may be schema-qualified)"),
      Param("dlq.db", &S::dlq, &DlqSettings::db, "database for --dlq pg_table (default: --db)",
            {.aliases = {"dlq.db_url"}}),
      Param("dlq.window_size", &S::dlq, &DlqSettings::window_size,
            "nack window: the last N events of each adapter that --dlq-window-threshold "
            "counts dead-lettered ones in (0 = off)",
            {.min = 0}),
      Param("dlq.window_threshold", &S::dlq, &DlqSettings::window_threshold,
            "dead-lettered events within the window that pause the adapter (nothing more "
            "acknowledged, health red; resume with SIGHUP or a restart); 0 = half the window",
            {.min = 0}),
  };
}

// The schema store: every relation's column list, versioned (SPEC §9.4).
std::vector<ParamSpec> SchemaStoreParams() {
  using C = SchemaStoreSettings;
  return {
      Param("schema.enabled", &S::schema, &C::enabled,
            "keep a versioned schema (column names and types) of every table the wal detector "
            "sees, served at /api/v1/schemas on the main HTTP server",
            {.flag = "schema-store"}),
      Param("schema.store", &S::schema, &C::store,
            "where --schema-store keeps versions: memory (lost at exit) or pg (table "
            "pgcdc_schemas in --schema-db)",
            {.flag = "schema-store-type", .choices = {"memory", "pg"}}),
      Param("schema.db_url", &S::schema, &C::db_url,
            "database for --schema-store-type pg (default: --db)", {.flag = "schema-db"}),
  };
}

// OpenTelemetry tracing (src/tracing reads them from the Config with the
// OTEL_* variables as fallback, so they bind to no struct here).
ParamSpec OtelParam(std::string key, ParamType type, std::string default_value,
                    std::string description, std::vector<std::string> choices = {},
                    std::optional<int64_t> min = std::nullopt) {
  ParamSpec spec;
  spec.key = std::move(key);
  spec.type = type;
  spec.default_value = std::move(default_value);
  spec.description = std::move(description);
  spec.choices = std::move(choices);
  spec.min = min;
  return spec;
}

std::vector<ParamSpec> OtelParams() {
  using T = ParamType;
  return {
      OtelParam("otel.exporter", T::kString, "none",
                "OpenTelemetry trace export: none, otlp (OTLP, see otel.protocol), stdout (JSON "
                "spans on stderr; stdout carries only events); env OTEL_TRACES_EXPORTER when unset",
                {"none", "stdout", "otlp"}),
      OtelParam("otel.protocol", T::kString, "http/protobuf",
                "OTLP transport: http/protobuf (collector port 4318) or grpc (port 4317); default "
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL",
                {"http/protobuf", "grpc"}),
      OtelParam("otel.endpoint", T::kString, "",
                "OTLP collector: http(s)://host:port (for http/protobuf /v1/traces is added "
                "unless the URL has a path); default OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "
                "OTEL_EXPORTER_OTLP_ENDPOINT, http://localhost:4318 (grpc: :4317)"),
      OtelParam("otel.sample_ratio", T::kString, "1.0",
                "share of new traces recorded (parent-based trace-id ratio, 0..1; an incoming "
                "traceparent's decision is kept); default OTEL_TRACES_SAMPLER_ARG"),
      OtelParam("otel.headers", T::kStringList, "",
                "extra OTLP request headers name=value (repeatable); default "
                "OTEL_EXPORTER_OTLP_TRACES_HEADERS / OTEL_EXPORTER_OTLP_HEADERS"),
      OtelParam("otel.service_name", T::kString, "pgcdc",
                "resource attribute service.name; default OTEL_SERVICE_NAME"),
      OtelParam("otel.queue_size", T::kInt, "2048",
                "spans waiting for export; more are dropped (counted), never events", {}, 1),
      OtelParam("otel.batch_size", T::kInt, "512", "spans per export request", {}, 1),
      OtelParam("otel.export_interval", T::kDuration, "5s",
                "longest wait before queued spans are exported", {}, 10),
      OtelParam("otel.export_timeout", T::kDuration, "10s",
                "deadline of one export request (and of the flush at shutdown)", {}, 10),
  };
}

// Limits and credentials shared by every HTTP listener.
std::vector<ParamSpec> HttpParams() {
  using H = HttpSettings;
  return {
      Param("http.auth_token", &S::http, &H::auth_token,
            "require \"Authorization: Bearer <token>\" (or Basic with the token as password) on "
            "every HTTP endpoint except /healthz and /readyz; empty = no authentication"),
      Param("http.auth_token_file", &S::http, &H::auth_token_file,
            "read --http-auth-token from this file (keeps it out of ps and the environment)"),
      Param("http.basic_user", &S::http, &H::basic_user,
            "require HTTP Basic auth with this user (and --http-basic-password)"),
      Param("http.basic_password", &S::http, &H::basic_password, "password for --http-basic-user"),
      Param("http.max_connections", &S::http, &H::max_connections,
            "open connections per HTTP listener; when full the oldest idle one is closed "
            "(0 = unlimited)",
            {.min = 0, .max = 1'000'000}),
      Param("http.max_header_bytes", &S::http, &H::max_header_bytes,
            "request line + headers cap (431 above)", {.min = 1024, .max = 1 << 24}),
      Param("http.max_body_bytes", &S::http, &H::max_body_bytes, "request body cap (413 above)",
            {.min = 0, .max = int64_t{1} << 32}),
      Param("http.read_timeout", &S::http, &H::read_timeout,
            "a request must arrive completely within this time (slow clients are closed)",
            {.min = 100}),
      Param("http.idle_timeout", &S::http, &H::idle_timeout,
            "how long a kept-alive connection may wait for its next request", {.min = 100}),
      Param("http.stream_max_buffered_bytes", &S::http, &H::stream_max_buffered_bytes,
            "bytes queued per SSE/WebSocket client before it is disconnected as a slow "
            "consumer (0 = only the per-client event cap)",
            {.min = 0}),
      Param("http.tls_cert_file", &S::http, &H::tls_cert_file,
            "serve the main HTTP server (and sse/ws own listeners) over TLS >= 1.2 with this PEM "
            "certificate chain",
            {.flag = "sse-tls-cert", .aliases = {"sse.tls_cert_file"}}),
      Param("http.tls_key_file", &S::http, &H::tls_key_file, "PEM private key for --sse-tls-cert",
            {.flag = "sse-tls-key", .aliases = {"sse.tls_key_file"}}),
      Param("http.metrics_tls_cert_file", &S::http, &H::metrics_tls_cert_file,
            "serve --metrics-addr over TLS >= 1.2 with this PEM certificate chain",
            {.flag = "metrics-tls-cert", .aliases = {"metrics_tls_cert_file"}}),
      Param("http.metrics_tls_key_file", &S::http, &H::metrics_tls_key_file,
            "PEM private key for --metrics-tls-cert",
            {.flag = "metrics-tls-key", .aliases = {"metrics_tls_key_file"}}),
      Param("http.loopback_host_check", &S::http, &H::loopback_host_check,
            "on a loopback listener, refuse requests whose Host is not localhost/127.x/[::1] "
            "(DNS rebinding protection; turn off behind a local reverse proxy)"),
  };
}

// Several detectors in one pipeline.
std::vector<ParamSpec> MultiDetectorParams() {
  using M = MultiDetectorSettings;
  return {
      Param("detector_mode", &S::multi, &M::mode,
            "how several detectors (repeated --detector, or detectors: in YAML) run: parallel "
            "(all at once; the first error stops all), sequential (one after another), failover "
            "(the next one when the current one fails or stays disconnected)",
            {.choices = {"parallel", "sequential", "failover"}}),
      Param("detector.dedup_window", &S::multi, &M::dedup_window,
            "parallel detectors: drop an event whose id was among the last N published "
            "(0 = off)",
            {.min = 0, .max = 10'000'000}),
      Param("detector.failover_timeout", &S::multi, &M::failover_timeout,
            "failover detectors: one that is not connected for this long is stopped and the next "
            "one started",
            {.min = 1}),
      TreeParamAt<S>("detectors", &S::detectors_yaml,
                     "several detectors (YAML list): each a map with type, an optional name, and "
                     "its own settings over the top-level ones (database_url, publication, "
                     "slot_name, a mysql: section, ...)"),
  };
}

}  // namespace

const std::vector<ParamSpec>& CoreParams() {
  static const std::vector<ParamSpec> params = Params({
      {
          Param("database_url", &S::database_url, "PostgreSQL connection string (URI or key=value)",
                {.flag = "db"}),
          Param("log_level", &S::log_level, "log level",
                {.choices = {"debug", "info", "warn", "error"}}),
          Param("log_format", &S::log_format, "log format on stderr",
                {.choices = {"text", "json", "auto", "color"}}),
          Param("detector.type", &S::detector_type,
                "change source (see `pgcdc list detectors`); repeat or comma-separate for several "
                "(see --detector-mode)",
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
                "HTTP server for the console, /inspect, /healthz, /readyz, /metrics and the "
                "sse/ws sinks (HOST:PORT; loopback by default, :PORT = every interface; empty "
                "disables)"),
      },
      HttpParams(),
      MultiDetectorParams(),
      // The bp- flags: --bp-warn-threshold for backpressure.warn_threshold.
      FlagsFromKeys(
          "backpressure.", "bp-",
          {
              Param("backpressure.enabled", &S::backpressure, &BackpressureSettings::enabled,
                    "throttle/pause the wal detector and shed low-priority adapters when the "
                    "persistent slot lags (needs --persistent-slot)",
                    {.flag = "backpressure"}),
              Param("backpressure.warn_threshold", &S::backpressure,
                    &BackpressureSettings::warn_threshold,
                    "slot lag (bytes) where the yellow zone starts", {.min = 1}),
              Param("backpressure.critical_threshold", &S::backpressure,
                    &BackpressureSettings::critical_threshold,
                    "slot lag (bytes) where the red zone starts", {.min = 1}),
              Param("backpressure.max_throttle", &S::backpressure,
                    &BackpressureSettings::max_throttle,
                    "longest pause before each WAL read in the yellow/red zones"),
              Param("backpressure.poll_interval", &S::backpressure,
                    &BackpressureSettings::poll_interval, "how often the slot lag is measured",
                    {.min = 10}),
              Param("backpressure.adapter_priorities", &S::backpressure,
                    &BackpressureSettings::adapter_priorities,
                    "adapter=critical|normal|best-effort (repeatable); adapters without one are "
                    "never shed",
                    {.flag = "adapter-priority"}),
          }),
      DlqParams(),
      SchemaStoreParams(),
      OtelParams(),
      {
          Param(
              "inspector.buffer_size", &S::inspector_buffer_size,
              "events kept per inspector tap for /inspect, /inspect/stream and the web console (0 "
              "disables the taps)",
              {.flag = "inspect-buffer", .min = 0, .max = 1'000'000}),
          Param("console.enabled", &S::console_enabled,
                "serve the web console at / on the main HTTP server", {.flag = "console"}),
          Param("metrics_addr", &S::metrics_addr,
                "optional separate listener for /metrics, /healthz, /readyz"),
          Param("skip_validation", &S::skip_validation,
                "start without the sinks' start-up checks of their targets (search index, S3 "
                "bucket): problems show on the first delivery and are retried as usual"),
          Param("skip_migrations", &S::skip_migrations,
                "do not create or upgrade pgcdc's own tables (checkpoints, snapshot progress, "
                "schema store); "
                "check they are current instead (create them with `pgcdc init --adapter "
                "state`)"),
      },
  });
  return params;
}

CoreSettings BindCore(const Config& values) {
  return BindConfig<CoreSettings>(CoreParams(), values);
}

}  // namespace pgcdc::config
