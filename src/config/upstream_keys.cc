// YAML keys of the reference tool (SPEC §8.4). A key listed here that no
// connector in this build declares is accepted with a warning ("not
// supported by this build"), so an upstream configuration file loads; a key
// neither declared nor listed is an error with a suggestion. When a connector
// lands, its own declarations take over: entries here are only consulted for
// keys nobody declares.
#include "config/upstream_keys.h"

namespace pgcdc::config {

const std::vector<std::string>& UpstreamKeys() {
  // "x.*" = a free-form subtree (maps, lists of objects).
  static const std::vector<std::string> keys = {
      "database_url", "channels", "adapters", "log_level", "log_format", "shutdown_timeout",
      "metrics_addr", "metrics_tls_cert_file", "metrics_tls_key_file", "skip_validation",
      "skip_migrations", "pipeline_name", "detector_mode",
      // bus, detector
      "bus.buffer_size", "bus.mode", "detector.type", "detector.backoff_base",
      "detector.backoff_cap", "detector.publication", "detector.all_tables", "detector.tx_metadata",
      "detector.tx_markers", "detector.persistent_slot", "detector.slot_name",
      "detector.checkpoint_db", "detector.include_schema", "detector.schema_events",
      "detector.heartbeat_interval", "detector.heartbeat_table", "detector.slot_lag_warn",
      "detector.toast_cache", "detector.toast_cache_max_entries", "detector.cooperative_checkpoint",
      "detector.snapshot_first",
      // snapshots, sources
      "snapshot.table", "snapshot.where", "snapshot.batch_size", "incremental_snapshot.enabled",
      "incremental_snapshot.signal_table", "incremental_snapshot.chunk_size",
      "incremental_snapshot.chunk_delay", "incremental_snapshot.progress_db", "outbox.table",
      "outbox.poll_interval", "outbox.batch_size", "outbox.keep_processed", "outbox.backoff_base",
      "outbox.backoff_cap", "mysql.addr", "mysql.user", "mysql.password", "mysql.server_id",
      "mysql.tables", "mysql.use_gtid", "mysql.flavor", "mysql.binlog_prefix", "mysql.backoff_base",
      "mysql.backoff_cap", "mongodb.uri", "mongodb.scope", "mongodb.database",
      "mongodb.collections", "mongodb.full_document", "mongodb.metadata_db",
      "mongodb.metadata_coll", "mongodb.backoff_base", "mongodb.backoff_cap", "sqlite.db_path",
      "sqlite.poll_interval", "sqlite.batch_size", "sqlite.keep_processed", "kafka_consumer.topics",
      "kafka_consumer.group", "kafka_consumer.offset", "nats_consumer.stream",
      "nats_consumer.subjects", "nats_consumer.durable", "webhook_gateway.max_body_size",
      "webhook_gateway.sources.*",
      // sinks
      "webhook.url", "webhook.headers.*", "webhook.signing_key", "webhook.max_retries",
      "webhook.timeout", "webhook.backoff_base", "webhook.backoff_cap", "webhook.cb_max_failures",
      "webhook.cb_reset_timeout", "webhook.rate_limit", "webhook.rate_limit_burst", "sse.addr",
      "sse.cors_origins", "sse.heartbeat_interval", "sse.read_timeout", "sse.idle_timeout",
      "sse.tls_cert_file", "sse.tls_key_file", "websocket.ping_interval", "file.path",
      "file.max_size", "file.max_files", "exec.command", "exec.backoff_base", "exec.backoff_cap",
      "pg_table.url", "pg_table.table", "pg_table.backoff_base", "pg_table.backoff_cap",
      "embedding.api_url", "embedding.api_key", "embedding.model", "embedding.columns",
      "embedding.id_column", "embedding.table", "embedding.db_url", "embedding.dimension",
      "embedding.max_retries", "embedding.timeout", "embedding.backoff_base",
      "embedding.backoff_cap", "embedding.cb_max_failures", "embedding.cb_reset_timeout",
      "embedding.rate_limit", "embedding.rate_limit_burst", "embedding.skip_unchanged",
      "search.engine", "search.url", "search.api_key", "search.index", "search.id_column",
      "search.batch_size", "search.batch_interval", "search.backoff_base", "search.backoff_cap",
      "grpc.addr", "kafkaserver.addr", "kafkaserver.partition_count", "kafkaserver.buffer_size",
      "kafkaserver.session_timeout", "kafkaserver.checkpoint_db", "kafkaserver.key_column",
      "s3.bucket", "s3.prefix", "s3.endpoint", "s3.region", "s3.access_key_id",
      "s3.secret_access_key", "s3.format", "s3.flush_interval", "s3.flush_size", "s3.drain_timeout",
      "s3.backoff_base", "s3.backoff_cap", "iceberg.catalog_type", "iceberg.catalog_uri",
      "iceberg.warehouse", "iceberg.namespace", "iceberg.table", "iceberg.mode",
      "iceberg.schema_mode", "iceberg.primary_keys", "iceberg.flush_interval", "iceberg.flush_size",
      "iceberg.backoff_base", "iceberg.backoff_cap", "graphql.path", "graphql.schema_aware",
      "graphql.buffer_size", "graphql.keepalive_interval", "arrow.addr", "arrow.buffer_size",
      "duckdb.path", "duckdb.retention", "duckdb.flush_interval", "duckdb.flush_size",
      "clickhouse.dsn", "clickhouse.table", "clickhouse.auto_create", "clickhouse.async_insert",
      "clickhouse.settings.*", "clickhouse.batch_size", "clickhouse.flush_interval",
      "clickhouse.backoff_base", "clickhouse.backoff_cap", "pgwire.addr", "pgwire.buffer_size",
      "pgwire.password", "pgwire.tls_cert", "pgwire.tls_key", "chain.terminal", "chain.compress",
      "chain.encrypt_key", "chain.batch_size",
      // pipeline features
      "views.*", "transforms.*", "routes.*", "dlq.type", "dlq.table", "dlq.db_url",
      "dlq.window_size", "dlq.window_threshold", "backpressure.enabled",
      "backpressure.warn_threshold", "backpressure.critical_threshold", "backpressure.max_throttle",
      "backpressure.poll_interval", "backpressure.adapter_priorities.*", "plugins.*",
      "otel.exporter", "otel.endpoint", "otel.sample_ratio", "inspector.buffer_size",
      "schema.enabled", "schema.store", "schema.db_url"};
  return keys;
}

}  // namespace pgcdc::config
