// YAML keys of the reference tool (SPEC §8.4). A key listed here that no
// connector in this build declares is accepted with a warning ("not
// supported by this build"), so an upstream configuration file loads; a key
// neither declared nor listed is an error with a suggestion. When a connector
// lands, its own declarations take over: entries here are only consulted for
// keys nobody declares.
#include "config/upstream_keys.h"

#include <string_view>
#include <utility>

namespace pgcdc::config {

namespace {

// Per section ("" = top level) its keys; "x.*" = a free-form subtree (maps,
// lists of objects).
using Sections = std::vector<std::pair<std::string_view, std::vector<std::string_view>>>;

// Top level, bus, detectors and sources.
Sections CoreAndSourceSections() {
  return {
      {"",
       {"database_url", "channels", "adapters", "log_level", "log_format", "shutdown_timeout",
        "metrics_addr", "metrics_tls_cert_file", "metrics_tls_key_file", "pipeline_name"}},
      // bus, detector
      {"bus", {"buffer_size", "mode"}},
      {"detector",
       {"type", "backoff_base", "backoff_cap", "publication", "all_tables", "tx_metadata",
        "tx_markers", "persistent_slot", "slot_name", "checkpoint_db", "include_schema",
        "schema_events", "heartbeat_interval", "heartbeat_table", "slot_lag_warn", "toast_cache",
        "toast_cache_max_entries", "cooperative_checkpoint", "snapshot_first"}},
      // snapshots, sources
      {"snapshot", {"table", "where", "batch_size"}},
      {"incremental_snapshot",
       {"enabled", "signal_table", "chunk_size", "chunk_delay", "progress_db"}},
      {"outbox",
       {"table", "poll_interval", "batch_size", "keep_processed", "backoff_base", "backoff_cap"}},
      {"sqlite", {"db_path", "poll_interval", "batch_size", "keep_processed"}},
  };
}

Sections SinkSections() {
  return {
      {"webhook",
       {"url", "headers.*", "signing_key", "max_retries", "timeout", "backoff_base", "backoff_cap",
        "cb_max_failures", "cb_reset_timeout", "rate_limit", "rate_limit_burst"}},
      {"sse",
       {"addr", "cors_origins", "heartbeat_interval", "read_timeout", "idle_timeout",
        "tls_cert_file", "tls_key_file"}},
      {"websocket", {"ping_interval"}},
      {"file", {"path", "max_size", "max_files"}},
      {"exec", {"command", "backoff_base", "backoff_cap"}},
      {"pg_table", {"url", "table", "backoff_base", "backoff_cap"}},
      {"embedding", {"cb_max_failures", "cb_reset_timeout", "rate_limit", "rate_limit_burst"}},
      {"kafkaserver",
       {"addr", "partition_count", "buffer_size", "session_timeout", "checkpoint_db",
        "key_column"}},
      {"iceberg",
       {"catalog_type", "catalog_uri", "warehouse", "namespace", "table", "mode", "schema_mode",
        "primary_keys", "flush_interval", "flush_size", "backoff_base", "backoff_cap"}},
      {"chain", {"terminal", "compress", "encrypt_key", "batch_size"}},
  };
}

Sections PipelineFeatureSections() {
  return {
      {"transforms", {"*"}},
      {"routes", {"*"}},
      {"dlq", {"type", "table", "db_url", "window_size", "window_threshold"}},
      {"backpressure",
       {"enabled", "warn_threshold", "critical_threshold", "max_throttle", "poll_interval",
        "adapter_priorities.*"}},
      {"otel", {"exporter", "endpoint", "sample_ratio"}},
      {"inspector", {"buffer_size"}},
  };
}

}  // namespace

const std::vector<std::string>& UpstreamKeys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> out;
    for (const Sections& group :
         {CoreAndSourceSections(), SinkSections(), PipelineFeatureSections()}) {
      for (const auto& [section, leaves] : group) {
        for (std::string_view leaf : leaves) {
          out.push_back(section.empty() ? std::string(leaf)
                                        : std::string(section) + "." + std::string(leaf));
        }
      }
    }
    return out;
  }();
  return keys;
}

}  // namespace pgcdc::config
