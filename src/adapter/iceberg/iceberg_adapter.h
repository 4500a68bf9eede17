// iceberg adapter (SPEC §5.16, with its gaps filled): buffers events and
// commits them to an Apache Iceberg format-v2 table (hadoop-catalog layout,
// table.h) on a local warehouse directory or on S3 (s3://bucket/prefix, the
// shared SigV4 client). One commit per flush: a Parquet data file (fields
// 1 event_id, 2 operation, 3 timestamp (timestamptz µs), 4 channel,
// 5 source, 6 payload; Parquet field ids set), its manifest, a manifest list
// holding every manifest so far, and v<N+1>.metadata.json.
//
// Modes:
//  - append: every event is a row.
//  - upsert (--iceberg-pk a,b): the table holds one row per key: the key
//    columns (fields 7.., strings: the value's text) are the table's
//    identifier fields; a flush keeps the last event per key, writes an
//    equality-delete file with every key it touched and a data file with the
//    surviving (non-DELETE) rows, in one snapshot, so readers that apply
//    equality deletes see the newest row per key and none for deleted keys.
//    Events without the key (non-row events, a missing or null key column,
//    TRUNCATE) go to the DLQ, counted.
//
// Durability (unlike upstream, which acknowledges at buffering time and
// drops the oldest events when its buffer overflows): OldestHeldSeq() holds
// the source's checkpoint at the first uncommitted event, so
// --persistent-slot replays them after a crash; a full buffer (flush_size
// events or flush_bytes bytes) is committed before more events are taken
// (back-pressure); a failed write or commit (disk full, permission, network,
// 5xx) is retried with backoff for as long as it takes, health degraded
// meanwhile; credentials refused, no such bucket or a table with another
// schema stop the pipeline with a clear error. `pgcdc:_txn` events are
// skipped (counted).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adapter/iceberg/storage.h"
#include "adapter/iceberg/table.h"
#include "adapter/retrying_adapter.h"
#include "parquet/writer.h"
#include "registry/registry.h"

namespace pgcdc::adapter::iceberg {

struct Options {
  std::string catalog_type = "hadoop";
  std::string catalog_uri;
  std::string warehouse;  // a directory, or s3://bucket[/prefix]
  std::string namespace_name = "pgcdc";
  std::string table;
  std::string mode = "append";  // append, upsert
  std::string schema_mode = "raw";
  std::vector<std::string> primary_keys;
  std::chrono::milliseconds flush_interval{60'000};
  size_t flush_size = 10'000;
  size_t flush_bytes = 64u << 20;
  std::chrono::milliseconds drain_timeout{30'000};
  // s3:// warehouses
  std::string s3_endpoint;
  std::string s3_region = "us-east-1";
  std::string s3_access_key_id;
  std::string s3_secret_access_key;
  std::string s3_session_token;
  std::chrono::milliseconds s3_timeout{30'000};
  BackoffPolicy backoff{std::chrono::seconds(5), std::chrono::seconds(60),
                        std::chrono::milliseconds(100)};
};

// The table's fields for a mode: the six envelope fields, then (upsert) one
// string field per key column.
std::vector<Field> TableFields(const Options& o);

// Where the table lives: a local directory or bucket + key prefix.
struct TableLocation {
  bool s3 = false;
  std::string root;    // local: absolute directory of the table
  std::string bucket;  // s3
  std::string prefix;  // s3: key prefix of the table (no slashes around)
};
Result<TableLocation> LocateTable(const Options& o);

// One buffered event, as the row it becomes.
struct Row {
  std::string id;
  std::string operation;
  int64_t micros = 0;
  std::string channel;
  std::string source;
  std::string payload;
  std::vector<std::string> key;  // upsert
  bool deleted = false;          // upsert: a DELETE (no data row)
  uint64_t seq = 0;
};

// The key of an upsert event: the text of each key column of the row image
// (the old image for a DELETE). kInvalidArgument naming what is missing.
Result<std::vector<std::string>> KeyOf(const Event& event,
                                       const std::vector<std::string>& primary_keys);

class IcebergAdapter final : public RetryingAdapter {
 public:
  explicit IcebergAdapter(Options options);
  ~IcebergAdapter() override;
  // Opens the storage and loads (or creates) the table; an unreachable or
  // unwritable warehouse only degrades health (commits retry it).
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  // Commits once flush_interval passed since the first buffered event.
  Status Flush() override;
  std::optional<uint64_t> OldestHeldSeq() const override;
  void Interrupt() override;
  // Commits what is buffered (bounded by drain_timeout).
  void Close() override;

  // For tests.
  size_t buffered() const { return rows_.size(); }
  const Table* table() const { return table_.get(); }

 private:
  Status Commit(std::chrono::steady_clock::time_point deadline);
  Status TryCommit();
  Result<DataFile> WriteDataFile();
  Result<DataFile> WriteDeleteFile();
  void Clear();

  Options options_;
  bool upsert_ = false;
  std::vector<Field> fields_;
  StoragePtr storage_;
  std::unique_ptr<Table> table_;
  bool loaded_ = false;
  parquet::WriterPtr data_writer_;
  parquet::WriterPtr delete_writer_;
  std::vector<Row> rows_;
  std::unordered_map<std::string, size_t> by_key_;  // upsert: joined key -> rows_ index
  size_t bytes_ = 0;
  uint64_t oldest_seq_ = 0;  // first tracked seq since the last commit (0 = none)
  std::chrono::steady_clock::time_point since_{};
  std::vector<DataFile> written_;  // files of the pending commit already stored
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::iceberg
