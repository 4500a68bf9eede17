# The connectors this build contains: one line each, `<kind>/<folder>` under src/.
#
# Everything else derives from the connector's own folder (docs/adding-a-connector.md):
# the CMake option PGCDC_WITH_<FOLDER> (default ON, OFF drops it from the build),
# registration (builtin_connectors.cc is generated from this list), flags, PGCDC_* env
# vars, YAML keys, `pgcdc list`/`describe`, `config init` templates, docs/connectors.md
# and fuzz targets. The folder's CMakeLists.txt declares its library with
# pgcdc_connector_library(); its code registers with
# PGCDC_REGISTER_CONNECTOR(<kind>, <folder>, <function>) (registry/define.h).
set(PGCDC_CONNECTORS
  detector/listennotify
  detector/wal
  detector/outbox
  detector/sqlite
  detector/mysql
  detector/kafka_consumer
  detector/nats_consumer
  detector/mongodb
  detector/webhook_gateway
  adapter/stdout
  adapter/file
  adapter/webhook
  adapter/sse
  adapter/ws
  adapter/exec
  adapter/pg_table
  adapter/kafka
  adapter/kafkaserver
  adapter/null
  adapter/redis
  adapter/nats
  adapter/chain
  adapter/search
  adapter/embedding
  adapter/s3
  adapter/view
  adapter/graphql
  adapter/duckdb
  adapter/grpc
  adapter/arrow
  adapter/pgwire
  adapter/clickhouse
  adapter/iceberg
)
