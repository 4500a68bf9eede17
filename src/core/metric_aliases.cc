// The reference tool's names for measurements pgcdc exports under its own
// names (SPEC §9.2), so that dashboards and alerts written for it keep working.
// Each alias shows the same samples with pgcdc's labels; it appears only while
// the component owning the family runs. docs/operations.md#metric-names lists
// them, and the families of the reference tool pgcdc has no counterpart for.
#include "core/metric_aliases.h"

#include <string_view>
#include <utility>

namespace pgcdc::metrics {

const std::vector<std::pair<std::string_view, std::string_view>>& ReferenceAliases() {
  static const std::vector<std::pair<std::string_view, std::string_view>> kAliases = {
      // WAL: the position confirmed to the server is the cooperative checkpoint
      // (every adapter delivered up to it).
      {"pgcdc_checkpoint_lsn", "pgcdc_wal_confirmed_lsn"},
      {"pgcdc_cooperative_checkpoint_lsn", "pgcdc_wal_confirmed_lsn"},
      // WAL the checkpoint (the slot's confirmed position) is behind the server.
      {"pgcdc_checkpoint_lag_bytes", "pgcdc_slot_lag_bytes"},
      // Delivery middleware (webhook and the other middleware-wrapped sinks).
      {"pgcdc_middleware_retries_total", "pgcdc_delivery_retries_total"},
      {"pgcdc_webhook_retries_total", "pgcdc_delivery_retries_total"},
      {"pgcdc_webhook_duration_seconds", "pgcdc_middleware_delivery_duration_seconds"},
      {"adapter_paused", "pgcdc_adapter_paused"},
      // Sources.
      {"pgcdc_mysql_events_received_total", "pgcdc_mysql_events_total"},
      {"pgcdc_outbox_polled_total", "pgcdc_outbox_polls_total"},
      {"pgcdc_outbox_events_processed_total", "pgcdc_outbox_events_total"},
      // Sinks.
      {"pgcdc_kafka_published_total", "pgcdc_kafka_records_delivered_total"},
      {"pgcdc_kafka_errors_total", "pgcdc_kafka_client_errors_total"},
      {"pgcdc_kafkaserver_connections_active", "pgcdc_kafkaserver_connections"},
      {"pgcdc_redis_operations_total", "pgcdc_redis_commands_total"},
      {"pgcdc_chain_link_errors_total", "pgcdc_chain_errors_total"},
      {"pgcdc_arrow_flight_records_sent_total", "pgcdc_arrow_rows_served_total"},
      {"pgcdc_arrow_flight_errors_total", "pgcdc_arrow_rejected_total"},
  };
  return kAliases;
}

void AddReferenceAliases(Registry& registry) {
  for (const auto& [alias, target] : ReferenceAliases()) {
    registry.AddAlias(std::string(alias), std::string(target));
  }
}

}  // namespace pgcdc::metrics
