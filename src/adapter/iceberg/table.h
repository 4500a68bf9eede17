// Table: one Iceberg format-v2 table (hadoop-catalog layout) on a Storage:
//
//   metadata/v<N>.metadata.json     table metadata (pretty JSON), one per commit
//   metadata/version-hint.text      the current N
//   metadata/snap-<id>-0-<uuid>.avro  manifest list of snapshot <id>
//   metadata/<uuid>-m<i>.avro       manifests (Avro container files)
//   data/<uuid>.parquet             data and equality-delete files (written by the caller)
//
// Commit() adds one snapshot whose manifest list holds the new manifests
// *and every manifest of the parent snapshot* (unlike SPEC's upstream, whose
// lists hold only the newest manifest), so the current snapshot references
// all data. The new v<N+1>.metadata.json is created with an exclusive create
// (Storage::PutIfAbsent): when another writer committed v<N+1> first, the
// table is re-read and the commit rebuilt on top of it (optimistic retry).
// The commit is durable once that file exists; version-hint.text follows
// (a reader that finds a stale hint still finds the newer versions: Load()
// probes past the hint, as Iceberg's hadoop catalog does).
//
// Unpartitioned tables only; the schema is fixed by the caller (Fields) and
// checked against an existing table's current schema.
// Not thread-safe: the adapter's worker uses it.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "adapter/iceberg/storage.h"
#include "core/error.h"

namespace pgcdc::adapter::iceberg {

struct Field {
  int id = 0;
  std::string name;
  std::string type;  // Iceberg primitive: "string", "timestamptz"
  bool required = true;
};

// Per-column metrics of a data file (Iceberg's value_counts,
// null_value_counts, lower_bounds, upper_bounds; bounds in Iceberg's
// single-value binary serialisation).
struct ColumnStats {
  int64_t values = 0;
  int64_t nulls = 0;
  std::optional<std::string> lower;
  std::optional<std::string> upper;
};

struct DataFile {
  enum Content { kData = 0, kEqualityDeletes = 2 };
  Content content = kData;
  std::string path;  // relative to the table root ("data/x.parquet")
  int64_t records = 0;
  int64_t size = 0;
  std::map<int, ColumnStats> stats;  // by field id
  std::vector<int> equality_ids;     // equality deletes: the key field ids
};

// One manifest-list entry (what a snapshot references).
struct ManifestFile {
  std::string path;  // location
  int64_t length = 0;
  int32_t spec_id = 0;
  int32_t content = 0;  // 0 data, 1 deletes
  int64_t sequence_number = 0;
  int64_t min_sequence_number = 0;
  int64_t added_snapshot_id = 0;
  int32_t added_files = 0;
  int32_t existing_files = 0;
  int32_t deleted_files = 0;
  int64_t added_rows = 0;
  int64_t existing_rows = 0;
  int64_t deleted_rows = 0;
};

struct CommitResult {
  int64_t snapshot_id = 0;
  int64_t sequence_number = 0;
  int version = 0;  // N of the new v<N>.metadata.json
  int attempts = 1;
};

class Table {
 public:
  // `identifier_ids`: the key fields (upsert), [] for append tables.
  Table(Storage& storage, std::vector<Field> fields, std::vector<int> identifier_ids,
        std::map<std::string, std::string> properties);

  // Reads the newest metadata (or finds no table). kConfig when a table is
  // there with another schema, is partitioned, or is not format v2.
  Status Load();
  bool exists() const { return version_ > 0; }
  int version() const { return version_; }
  // Creates v1 (no snapshot) unless the table exists (a concurrent creator's
  // table is loaded instead).
  Status Create();
  // Adds one snapshot holding `files` (already written under the table root).
  Result<CommitResult> Commit(const std::vector<DataFile>& files);

  const std::vector<ManifestFile>& manifests() const { return manifests_; }
  std::optional<int64_t> current_snapshot_id() const { return current_snapshot_; }
  const boost::json::object& metadata() const { return metadata_; }

 private:
  Result<CommitResult> TryCommit(const std::vector<DataFile>& files);
  Status Adopt(boost::json::object metadata, int version);
  boost::json::object InitialMetadata() const;
  Result<ManifestFile> WriteManifest(const std::vector<const DataFile*>& files, int content,
                                     int64_t snapshot_id, int64_t sequence_number,
                                     const std::string& name);

  Storage& storage_;
  std::vector<Field> fields_;
  std::vector<int> identifier_ids_;
  std::map<std::string, std::string> properties_;
  boost::json::object metadata_;
  int version_ = 0;
  std::optional<int64_t> current_snapshot_;
  std::vector<ManifestFile> manifests_;
};

// Pretty JSON (two-space indent), as Iceberg writers produce it.
std::string PrettyJson(const boost::json::value& v);

// Iceberg single-value serialisation: a timestamp(tz) in µs (8 bytes LE).
std::string TimestampBound(int64_t micros);

// The manifest entries and manifest-list schemas (Avro, with field ids).
std::string_view ManifestEntrySchema();
std::string_view ManifestFileSchema();
// Encodes one manifest-list entry / one manifest entry (status added).
void EncodeManifestFile(const ManifestFile& m, std::string& out);
void EncodeManifestEntry(const DataFile& f, const std::string& location, int64_t snapshot_id,
                         int64_t sequence_number, std::string& out);
// A manifest-list record decoded by encoding::avro::ReadContainer.
Result<ManifestFile> ManifestFileFromRecord(const boost::json::value& record);

}  // namespace pgcdc::adapter::iceberg
