// Parameters of the pipeline itself (not of a connector): connection,
// logging, adapters, detector selection, bus, HTTP, shutdown, routes, DLQ,
// backpressure, schema store. Declared once in CoreParams(), bound into CoreSettings.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "config/value.h"
#include "registry/param_spec.h"

namespace pgcdc::config {

class Config;

struct BackpressureSettings {
  bool enabled = false;
  int64_t warn_threshold = 524'288'000;
  int64_t critical_threshold = 2'147'483'648;
  std::chrono::milliseconds max_throttle{500};
  std::chrono::milliseconds poll_interval{10'000};
  RouteMap adapter_priorities;  // adapter -> [critical|normal|best-effort]
};

struct DlqSettings {
  std::string type = "stderr";
  std::string table = "pgcdc_dead_letters";
  std::string db;  // empty = database_url
  // Nack window (pipeline/nack_window.h): outcomes per adapter window (0 =
  // off) and the dead-lettered events in it that pause the adapter (0 = half).
  int64_t window_size = 0;
  int64_t window_threshold = 0;
};

// Limits and credentials of every HTTP listener (main, metrics, sse/ws own
// listeners); see docs/security.md.
struct HttpSettings {
  std::string auth_token;       // bearer token (also the Basic password, any user)
  std::string auth_token_file;  // file holding the token (trailing newline ignored)
  std::string basic_user;
  std::string basic_password;
  int64_t max_connections = 1024;
  int64_t max_header_bytes = 16 * 1024;
  int64_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  int64_t stream_max_buffered_bytes = 16 << 20;
  bool loopback_host_check = true;
  // TLS of the main server (and sse/ws own listeners) and of the metrics one.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string metrics_tls_cert_file;
  std::string metrics_tls_key_file;
};

// The schema store (src/schema, docs/schema-store.md).
struct SchemaStoreSettings {
  bool enabled = false;
  std::string store = "memory";  // memory | pg
  std::string db_url;            // pg; empty = database_url
};

// Several detectors in one pipeline (detector/multi; cli/detectors.h).
struct MultiDetectorSettings {
  std::string mode = "parallel";
  int64_t dedup_window = 0;
  std::chrono::nanoseconds failover_timeout = std::chrono::seconds(30);
};

// The typed core configuration every command and connector factory sees.
struct CoreSettings {
  std::string database_url;
  std::string log_level = "info";
  std::string log_format = "auto";  // colour on a terminal, text otherwise
  // One detector's name; several comma-separated (repeated --detector) make
  // a multi-detector, as does a `detectors:` list (its YAML text here).
  std::string detector_type = "listen_notify";
  std::string detectors_yaml;
  MultiDetectorSettings multi;
  std::vector<std::string> adapters = {"stdout"};
  int64_t bus_buffer_size = 1024;
  std::string bus_mode = "fast";
  RouteMap routes;
  std::chrono::nanoseconds shutdown_timeout = std::chrono::seconds(5);
  std::string http_addr = "127.0.0.1:8080";
  std::string metrics_addr;
  HttpSettings http;
  BackpressureSettings backpressure;
  DlqSettings dlq;
  SchemaStoreSettings schema;
  int64_t inspector_buffer_size = 100;
  bool console_enabled = true;
  bool skip_validation = false;
  bool skip_migrations = false;
};

const std::vector<ParamSpec>& CoreParams();
// Binds the core parameters of a loaded configuration.
CoreSettings BindCore(const Config& values);

}  // namespace pgcdc::config
