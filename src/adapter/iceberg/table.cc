#include "adapter/iceberg/table.h"

#include <boost/json.hpp>
#include <chrono>
#include <random>

#include "adapter/encoding/avro_container.h"
#include "core/json_dom.h"
#include "core/log.h"
#include "core/uuid.h"

namespace pgcdc::adapter::iceberg {

namespace json = boost::json;
namespace avro = encoding::avro;

namespace {

constexpr std::string_view kHint = "metadata/version-hint.text";
// Concurrent commits retried before a flush gives up (and is retried later).
constexpr int kMaxCommitAttempts = 10;

std::string MetadataPath(int version) {
  return "metadata/v" + std::to_string(version) + ".metadata.json";
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A random positive int63 (snapshot ids).
int64_t RandomId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t v = 0;
  while (v == 0) v = static_cast<int64_t>(rng() >> 1);
  return v;
}

std::string Sync() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string s(16, '\0');
  for (size_t i = 0; i < 16; i += 8) {
    const uint64_t r = rng();
    for (size_t j = 0; j < 8; ++j) s[i + j] = static_cast<char>(r >> (8 * j));
  }
  return s;
}

Error Corrupt(const std::string& what) {
  return Error(ErrorCode::kConfig, "iceberg: table metadata: " + what);
}

int64_t Int(const json::object& o, std::string_view key, int64_t fallback = 0) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return fallback;
}

std::string Str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

void Pretty(const json::value& v, int indent, std::string& out) {
  const std::string pad(static_cast<size_t>(indent) * 2, ' ');
  const std::string inner(static_cast<size_t>(indent + 1) * 2, ' ');
  if (v.is_object() && !v.as_object().empty()) {
    out += "{\n";
    bool first = true;
    for (const auto& [k, child] : v.as_object()) {
      if (!first) out += ",\n";
      first = false;
      out += inner + json::serialize(json::value(k)) + " : ";
      Pretty(child, indent + 1, out);
    }
    out += "\n" + pad + "}";
  } else if (v.is_array() && !v.as_array().empty()) {
    out += "[ ";
    bool first = true;
    for (const auto& child : v.as_array()) {
      if (!first) out += ", ";
      first = false;
      Pretty(child, indent + 1, out);
    }
    out += " ]";
  } else {
    out += json::serialize(v);
  }
}

// Avro map<int, long> / map<int, bytes> as Iceberg writes them: an optional
// array of key/value records.
template <class F>
void AppendIntMap(const std::map<int, ColumnStats>& stats, F value, std::string& out) {
  std::vector<std::pair<int, std::string>> items;
  for (const auto& [id, s] : stats) {
    std::string v;
    if (value(s, v)) items.emplace_back(id, std::move(v));
  }
  if (items.empty()) {
    avro::AppendUnion(0, out);
    return;
  }
  avro::AppendUnion(1, out);
  avro::AppendInt(static_cast<int64_t>(items.size()), out);
  for (const auto& [id, v] : items) {
    avro::AppendInt(id, out);
    out += v;
  }
  avro::AppendInt(0, out);
}

std::string KeyValueMap(const char* name, int key_id, int value_id, const char* value_type,
                        int field_id) {
  const std::string k = std::to_string(key_id);
  const std::string v = std::to_string(value_id);
  return std::string(R"({"name":")") + name +
         R"(","type":["null",{"type":"array","items":{"type":"record","name":"k)" + k + "_v" + v +
         R"(","fields":[{"name":"key","type":"int","field-id":)" + k +
         R"(},{"name":"value","type":")" + value_type + R"(","field-id":)" + v +
         R"(}]},"logicalType":"map"}],"default":null,"field-id":)" + std::to_string(field_id) + "}";
}

}  // namespace

std::string PrettyJson(const json::value& v) {
  std::string out;
  Pretty(v, 0, out);
  out += "\n";
  return out;
}

std::string TimestampBound(int64_t micros) {
  std::string out(8, '\0');
  const auto u = static_cast<uint64_t>(micros);
  for (size_t i = 0; i < 8; ++i) out[i] = static_cast<char>(u >> (8 * i));
  return out;
}

std::string_view ManifestEntrySchema() {
  static const std::string schema =
      R"({"type":"record","name":"manifest_entry","fields":[)"
      R"({"name":"status","type":"int","field-id":0},)"
      R"({"name":"snapshot_id","type":["null","long"],"default":null,"field-id":1},)"
      R"({"name":"sequence_number","type":["null","long"],"default":null,"field-id":3},)"
      R"({"name":"file_sequence_number","type":["null","long"],"default":null,"field-id":4},)"
      R"({"name":"data_file","type":{"type":"record","name":"r2","fields":[)"
      R"({"name":"content","type":"int","field-id":134},)"
      R"({"name":"file_path","type":"string","field-id":100},)"
      R"({"name":"file_format","type":"string","field-id":101},)"
      R"({"name":"partition","type":{"type":"record","name":"r102","fields":[]},"field-id":102},)"
      R"({"name":"record_count","type":"long","field-id":103},)"
      R"({"name":"file_size_in_bytes","type":"long","field-id":104},)" +
      KeyValueMap("column_sizes", 117, 118, "long", 108) + "," +
      KeyValueMap("value_counts", 119, 120, "long", 109) + "," +
      KeyValueMap("null_value_counts", 121, 122, "long", 110) + "," +
      KeyValueMap("nan_value_counts", 138, 139, "long", 137) + "," +
      KeyValueMap("lower_bounds", 126, 127, "bytes", 125) + "," +
      KeyValueMap("upper_bounds", 129, 130, "bytes", 128) + "," +
      R"({"name":"key_metadata","type":["null","bytes"],"default":null,"field-id":131},)"
      R"({"name":"split_offsets","type":["null",{"type":"array","items":"long","element-id":133}],"default":null,"field-id":132},)"
      R"({"name":"equality_ids","type":["null",{"type":"array","items":"int","element-id":136}],"default":null,"field-id":135},)"
      R"({"name":"sort_order_id","type":["null","int"],"default":null,"field-id":140})"
      R"(]},"field-id":2}]})";
  return schema;
}

std::string_view ManifestFileSchema() {
  static const std::string schema =
      R"({"type":"record","name":"manifest_file","fields":[)"
      R"({"name":"manifest_path","type":"string","field-id":500},)"
      R"({"name":"manifest_length","type":"long","field-id":501},)"
      R"({"name":"partition_spec_id","type":"int","field-id":502},)"
      R"({"name":"content","type":"int","field-id":517},)"
      R"({"name":"sequence_number","type":"long","field-id":515},)"
      R"({"name":"min_sequence_number","type":"long","field-id":516},)"
      R"({"name":"added_snapshot_id","type":"long","field-id":503},)"
      R"({"name":"added_files_count","type":"int","field-id":504},)"
      R"({"name":"existing_files_count","type":"int","field-id":505},)"
      R"({"name":"deleted_files_count","type":"int","field-id":506},)"
      R"({"name":"added_rows_count","type":"long","field-id":512},)"
      R"({"name":"existing_rows_count","type":"long","field-id":513},)"
      R"({"name":"deleted_rows_count","type":"long","field-id":514},)"
      R"({"name":"partitions","type":["null",{"type":"array","items":{"type":"record","name":"r508","fields":[)"
      R"({"name":"contains_null","type":"boolean","field-id":509},)"
      R"({"name":"contains_nan","type":["null","boolean"],"default":null,"field-id":518},)"
      R"({"name":"lower_bound","type":["null","bytes"],"default":null,"field-id":510},)"
      R"({"name":"upper_bound","type":["null","bytes"],"default":null,"field-id":511})"
      R"(]},"element-id":508}],"default":null,"field-id":507},)"
      R"({"name":"key_metadata","type":["null","bytes"],"default":null,"field-id":519})"
      R"(]})";
  return schema;
}

void EncodeManifestFile(const ManifestFile& m, std::string& out) {
  avro::AppendString(m.path, out);
  avro::AppendInt(m.length, out);
  avro::AppendInt(m.spec_id, out);
  avro::AppendInt(m.content, out);
  avro::AppendInt(m.sequence_number, out);
  avro::AppendInt(m.min_sequence_number, out);
  avro::AppendInt(m.added_snapshot_id, out);
  avro::AppendInt(m.added_files, out);
  avro::AppendInt(m.existing_files, out);
  avro::AppendInt(m.deleted_files, out);
  avro::AppendInt(m.added_rows, out);
  avro::AppendInt(m.existing_rows, out);
  avro::AppendInt(m.deleted_rows, out);
  avro::AppendUnion(1, out);  // partitions: [] (unpartitioned)
  avro::AppendInt(0, out);
  avro::AppendUnion(0, out);  // key_metadata: null
}

void EncodeManifestEntry(const DataFile& f, const std::string& location, int64_t snapshot_id,
                         int64_t sequence_number, std::string& out) {
  avro::AppendInt(1, out);  // status: ADDED
  avro::AppendUnion(1, out);
  avro::AppendInt(snapshot_id, out);
  avro::AppendUnion(1, out);
  avro::AppendInt(sequence_number, out);
  avro::AppendUnion(1, out);
  avro::AppendInt(sequence_number, out);
  // data_file
  avro::AppendInt(f.content, out);
  avro::AppendString(location, out);
  avro::AppendString("PARQUET", out);
  // partition: empty record
  avro::AppendInt(f.records, out);
  avro::AppendInt(f.size, out);
  avro::AppendUnion(0, out);  // column_sizes: unknown (DuckDB wrote the file)
  AppendIntMap(
      f.stats,
      [](const ColumnStats& s, std::string& v) {
        avro::AppendInt(s.values, v);
        return true;
      },
      out);
  AppendIntMap(
      f.stats,
      [](const ColumnStats& s, std::string& v) {
        avro::AppendInt(s.nulls, v);
        return true;
      },
      out);
  avro::AppendUnion(0, out);  // nan_value_counts: no float columns
  AppendIntMap(
      f.stats,
      [](const ColumnStats& s, std::string& v) {
        if (!s.lower) return false;
        avro::AppendString(*s.lower, v);
        return true;
      },
      out);
  AppendIntMap(
      f.stats,
      [](const ColumnStats& s, std::string& v) {
        if (!s.upper) return false;
        avro::AppendString(*s.upper, v);
        return true;
      },
      out);
  avro::AppendUnion(0, out);  // key_metadata
  avro::AppendUnion(0, out);  // split_offsets
  if (f.content == DataFile::kEqualityDeletes && !f.equality_ids.empty()) {
    avro::AppendUnion(1, out);
    avro::AppendInt(static_cast<int64_t>(f.equality_ids.size()), out);
    for (int id : f.equality_ids) avro::AppendInt(id, out);
    avro::AppendInt(0, out);
  } else {
    avro::AppendUnion(0, out);
  }
  avro::AppendUnion(0, out);  // sort_order_id
}

Result<ManifestFile> ManifestFileFromRecord(const json::value& record) {
  if (!record.is_object()) return Fail(Corrupt("manifest list entry is not a record"));
  const auto& o = record.as_object();
  ManifestFile m;
  m.path = Str(o, "manifest_path");
  if (m.path.empty()) return Fail(Corrupt("manifest list entry without manifest_path"));
  m.length = Int(o, "manifest_length");
  m.spec_id = static_cast<int32_t>(Int(o, "partition_spec_id"));
  m.content = static_cast<int32_t>(Int(o, "content"));
  m.sequence_number = Int(o, "sequence_number");
  m.min_sequence_number = Int(o, "min_sequence_number");
  m.added_snapshot_id = Int(o, "added_snapshot_id");
  // Java's writers spell the counts added_data_files_count etc. (same field ids).
  m.added_files =
      static_cast<int32_t>(Int(o, "added_files_count", Int(o, "added_data_files_count")));
  m.existing_files =
      static_cast<int32_t>(Int(o, "existing_files_count", Int(o, "existing_data_files_count")));
  m.deleted_files =
      static_cast<int32_t>(Int(o, "deleted_files_count", Int(o, "deleted_data_files_count")));
  m.added_rows = Int(o, "added_rows_count");
  m.existing_rows = Int(o, "existing_rows_count");
  m.deleted_rows = Int(o, "deleted_rows_count");
  return m;
}

Table::Table(Storage& storage, std::vector<Field> fields, std::vector<int> identifier_ids,
             std::map<std::string, std::string> properties)
    : storage_(storage),
      fields_(std::move(fields)),
      identifier_ids_(std::move(identifier_ids)),
      properties_(std::move(properties)) {}

json::object Table::InitialMetadata() const {
  json::array fields;
  int last_id = 0;
  for (const Field& f : fields_) {
    fields.push_back(
        json::object{{"id", f.id}, {"name", f.name}, {"required", f.required}, {"type", f.type}});
    last_id = std::max(last_id, f.id);
  }
  json::array ids;
  for (int id : identifier_ids_) ids.push_back(id);
  json::object schema{{"type", "struct"}, {"schema-id", 0}};
  if (!ids.empty()) schema["identifier-field-ids"] = std::move(ids);
  schema["fields"] = std::move(fields);
  json::object props;
  for (const auto& [k, v] : properties_) props[k] = v;
  const std::string location = storage_.Location("");
  return json::object{
      {"format-version", 2},
      {"table-uuid", NewUuidV7().ToString()},
      {"location", location.substr(0, location.size() - 1)},
      {"last-sequence-number", 0},
      {"last-updated-ms", NowMs()},
      {"last-column-id", last_id},
      {"current-schema-id", 0},
      {"schemas", json::array{std::move(schema)}},
      {"default-spec-id", 0},
      {"partition-specs", json::array{json::object{{"spec-id", 0}, {"fields", json::array()}}}},
      {"last-partition-id", 999},
      {"default-sort-order-id", 0},
      {"sort-orders", json::array{json::object{{"order-id", 0}, {"fields", json::array()}}}},
      {"properties", std::move(props)},
      {"current-snapshot-id", -1},
      {"refs", json::object()},
      {"snapshots", json::array()},
      {"statistics", json::array()},
      {"snapshot-log", json::array()},
      {"metadata-log", json::array()},
  };
}

Status Table::Load() {
  auto hint = storage_.Get(kHint);
  if (!hint) return Fail(hint.error());
  int version = 0;
  if (*hint) {
    try {
      version = std::stoi(**hint);
    } catch (...) {
      version = 0;  // a torn hint: probe from v1
    }
  }
  if (version < 0) version = 0;
  std::optional<std::string> body;
  if (version > 0) {
    auto b = storage_.Get(MetadataPath(version));
    if (!b) return Fail(b.error());
    if (!*b)
      return Fail(Corrupt(std::string(kHint) + " names v" + std::to_string(version) + " but " +
                          MetadataPath(version) + " does not exist"));
    body = std::move(*b);
  }
  // The hint may lag the newest commit (written after it): probe forward.
  for (;;) {
    auto next = storage_.Get(MetadataPath(version + 1));
    if (!next) return Fail(next.error());
    if (!*next) break;
    ++version;
    body = std::move(*next);
  }
  if (version == 0) {
    version_ = 0;
    metadata_ = {};
    manifests_.clear();
    current_snapshot_.reset();
    return Ok();
  }
  auto parsed = pgcdc::json::ParseDom(*body);
  if (!parsed || !parsed->is_object()) {
    return Fail(Corrupt(MetadataPath(version) + " is not a JSON object"));
  }
  return Adopt(std::move(parsed->as_object()), version);
}

Status Table::Adopt(json::object md, int version) {
  const std::string file = MetadataPath(version);
  if (Int(md, "format-version") != 2) {
    return Fail(Corrupt(file + ": format-version " + std::to_string(Int(md, "format-version")) +
                        " is not supported (only 2)"));
  }
  // The current schema must be ours (ids, names, types).
  const int64_t schema_id = Int(md, "current-schema-id");
  const json::object* schema = nullptr;
  if (const auto* schemas = md.if_contains("schemas"); schemas != nullptr && schemas->is_array()) {
    for (const auto& s : schemas->as_array()) {
      if (s.is_object() && Int(s.as_object(), "schema-id") == schema_id) schema = &s.as_object();
    }
  }
  if (schema == nullptr) return Fail(Corrupt(file + ": no current schema"));
  std::string want;
  std::string have;
  for (const Field& f : fields_) want += std::to_string(f.id) + ":" + f.name + ":" + f.type + " ";
  if (const auto* fs = schema->if_contains("fields"); fs != nullptr && fs->is_array()) {
    for (const auto& f : fs->as_array()) {
      if (!f.is_object()) continue;
      const auto& fo = f.as_object();
      const auto* type = fo.if_contains("type");
      have += std::to_string(Int(fo, "id")) + ":" + Str(fo, "name") + ":" +
              (type != nullptr && type->is_string() ? std::string(type->as_string()) : "?") + " ";
    }
  }
  if (want != have) {
    return Fail(ErrorCode::kConfig,
                "iceberg: table at " + storage_.Location("") + " exists with another schema (" +
                    have + ") than this mode writes (" + want +
                    "): use another --iceberg-table, or the same --iceberg-mode and "
                    "--iceberg-pk as the writer that created it");
  }
  if (const auto* specs = md.if_contains("partition-specs");
      specs != nullptr && specs->is_array()) {
    for (const auto& s : specs->as_array()) {
      if (!s.is_object()) continue;
      const auto* f = s.as_object().if_contains("fields");
      if (Int(s.as_object(), "spec-id") == Int(md, "default-spec-id") && f != nullptr &&
          f->is_array() && !f->as_array().empty()) {
        return Fail(Corrupt(file + ": partitioned tables are not supported"));
      }
    }
  }
  std::vector<ManifestFile> manifests;
  std::optional<int64_t> current;
  if (const int64_t id = Int(md, "current-snapshot-id", -1); id > 0) {
    current = id;
    std::string list;
    if (const auto* snaps = md.if_contains("snapshots"); snaps != nullptr && snaps->is_array()) {
      for (const auto& s : snaps->as_array()) {
        if (s.is_object() && Int(s.as_object(), "snapshot-id") == id) {
          list = Str(s.as_object(), "manifest-list");
        }
      }
    }
    if (list.empty()) return Fail(Corrupt(file + ": current snapshot has no manifest-list"));
    auto rel = storage_.Relative(list);
    if (!rel) return Fail(Corrupt("manifest list " + list + " is outside the table location"));
    auto bytes = storage_.Get(*rel);
    if (!bytes) return Fail(bytes.error());
    if (!*bytes) return Fail(Corrupt("manifest list " + list + " is missing"));
    auto container = avro::ReadContainer(**bytes);
    if (!container) return Fail(Corrupt(list + ": " + container.error().message()));
    for (const auto& r : container->records) {
      auto m = ManifestFileFromRecord(r);
      if (!m) return Fail(m.error());
      manifests.push_back(std::move(*m));
    }
  }
  metadata_ = std::move(md);
  version_ = version;
  current_snapshot_ = current;
  manifests_ = std::move(manifests);
  return Ok();
}

Status Table::Create() {
  if (exists()) return Ok();
  json::object md = InitialMetadata();
  Status st = storage_.PutIfAbsent(MetadataPath(1), PrettyJson(md));
  if (!st && IsExists(st.error())) return Load();
  if (!st) return st;
  if (auto hint = storage_.Put(kHint, "1"); !hint) {
    log::Warn("iceberg: version-hint.text not written (readers probe past it)",
              {{"error", hint.error().message()}});
  }
  return Adopt(std::move(md), 1);
}

Result<ManifestFile> Table::WriteManifest(const std::vector<const DataFile*>& files, int content,
                                          int64_t snapshot_id, int64_t sequence_number,
                                          const std::string& name) {
  std::vector<std::string> records;
  ManifestFile m{.content = content,
                 .sequence_number = sequence_number,
                 .min_sequence_number = sequence_number,
                 .added_snapshot_id = snapshot_id};
  for (const DataFile* f : files) {
    std::string r;
    EncodeManifestEntry(*f, storage_.Location(f->path), snapshot_id, sequence_number, r);
    records.push_back(std::move(r));
    ++m.added_files;
    m.added_rows += f->records;
  }
  std::string schema_json;
  if (const auto* schemas = metadata_.if_contains("schemas"); schemas != nullptr) {
    for (const auto& s : schemas->as_array()) {
      if (s.is_object() && Int(s.as_object(), "schema-id") == Int(metadata_, "current-schema-id")) {
        schema_json = json::serialize(s);
      }
    }
  }
  const std::string body = avro::ContainerFile(ManifestEntrySchema(),
                                               {{"schema", schema_json},
                                                {"schema-id", "0"},
                                                {"partition-spec", "[]"},
                                                {"partition-spec-id", "0"},
                                                {"format-version", "2"},
                                                {"content", content == 0 ? "data" : "deletes"}},
                                               records, Sync());
  if (auto st = storage_.Put(name, body); !st) return Fail(st.error());
  m.path = storage_.Location(name);
  m.length = static_cast<int64_t>(body.size());
  return m;
}

Result<CommitResult> Table::Commit(const std::vector<DataFile>& files) {
  for (int attempt = 1;; ++attempt) {
    if (!exists()) {
      if (auto st = Create(); !st) return Fail(st.error());
    }
    auto r = TryCommit(files);
    if (r) {
      r->attempts = attempt;
      return r;
    }
    if (!IsExists(r.error()) || attempt >= kMaxCommitAttempts) return r;
    // Another writer committed v<N+1>: rebuild on top of its snapshot.
    log::Info("iceberg: concurrent commit; retrying on the newer table version",
              {{"version", static_cast<int64_t>(version_ + 1)}});
    if (auto st = Load(); !st) return Fail(st.error());
  }
}

Result<CommitResult> Table::TryCommit(const std::vector<DataFile>& files) {
  const int64_t sequence = Int(metadata_, "last-sequence-number") + 1;
  const int64_t snapshot_id = RandomId();
  const std::string uuid = NewUuidV7().ToString();
  std::vector<const DataFile*> data;
  std::vector<const DataFile*> deletes;
  for (const DataFile& f : files) {
    (f.content == DataFile::kData ? data : deletes).push_back(&f);
  }
  // New manifests first in the list, then every manifest of the parent.
  std::vector<ManifestFile> list;
  if (!data.empty()) {
    auto m = WriteManifest(data, 0, snapshot_id, sequence, "metadata/" + uuid + "-m0.avro");
    if (!m) return Fail(m.error());
    list.push_back(std::move(*m));
  }
  if (!deletes.empty()) {
    auto m = WriteManifest(deletes, 1, snapshot_id, sequence, "metadata/" + uuid + "-m1.avro");
    if (!m) return Fail(m.error());
    list.push_back(std::move(*m));
  }
  list.insert(list.end(), manifests_.begin(), manifests_.end());
  std::vector<std::string> records;
  for (const ManifestFile& m : list) {
    std::string r;
    EncodeManifestFile(m, r);
    records.push_back(std::move(r));
  }
  const std::string list_name =
      "metadata/snap-" + std::to_string(snapshot_id) + "-0-" + uuid + ".avro";
  const std::optional<int64_t> parent = current_snapshot_;
  const std::string list_body =
      avro::ContainerFile(ManifestFileSchema(),
                          {{"snapshot-id", std::to_string(snapshot_id)},
                           {"parent-snapshot-id", parent ? std::to_string(*parent) : "null"},
                           {"sequence-number", std::to_string(sequence)},
                           {"format-version", "2"}},
                          records, Sync());
  if (auto st = storage_.Put(list_name, list_body); !st) return Fail(st.error());

  // Summary: this snapshot's additions and the table's totals.
  int64_t added_files = 0, added_records = 0, added_delete_files = 0, added_deletes = 0;
  for (const DataFile* f : data) {
    ++added_files;
    added_records += f->records;
  }
  for (const DataFile* f : deletes) {
    ++added_delete_files;
    added_deletes += f->records;
  }
  json::object parent_summary;
  const int64_t now = NowMs();
  json::array snapshots;
  if (const auto* s = metadata_.if_contains("snapshots"); s != nullptr && s->is_array()) {
    snapshots = s->as_array();
  }
  for (const auto& s : snapshots) {
    if (parent && s.is_object() && Int(s.as_object(), "snapshot-id") == *parent) {
      if (const auto* sum = s.as_object().if_contains("summary"); sum && sum->is_object()) {
        parent_summary = sum->as_object();
      }
    }
  }
  auto total = [&](std::string_view key, int64_t add) {
    int64_t base = 0;
    if (const auto* v = parent_summary.if_contains(key); v != nullptr && v->is_string()) {
      try {
        base = std::stoll(std::string(v->as_string()));
      } catch (...) {
        base = 0;
      }
    }
    return std::to_string(base + add);
  };
  json::object summary{{"operation", deletes.empty() ? "append" : "overwrite"},
                       {"added-data-files", std::to_string(added_files)},
                       {"added-records", std::to_string(added_records)},
                       {"total-data-files", total("total-data-files", added_files)},
                       {"total-records", total("total-records", added_records)}};
  if (!deletes.empty()) {
    summary["added-delete-files"] = std::to_string(added_delete_files);
    summary["added-equality-delete-files"] = std::to_string(added_delete_files);
    summary["added-equality-deletes"] = std::to_string(added_deletes);
  }
  summary["total-delete-files"] = total("total-delete-files", added_delete_files);
  summary["total-equality-deletes"] = total("total-equality-deletes", added_deletes);
  summary["total-position-deletes"] = total("total-position-deletes", 0);
  json::object snap{{"snapshot-id", snapshot_id}};
  if (parent) snap["parent-snapshot-id"] = *parent;
  snap["sequence-number"] = sequence;
  snap["timestamp-ms"] = now;
  snap["manifest-list"] = storage_.Location(list_name);
  snap["summary"] = std::move(summary);
  snap["schema-id"] = Int(metadata_, "current-schema-id");
  snapshots.push_back(std::move(snap));

  json::object md = metadata_;
  md["last-sequence-number"] = sequence;
  md["last-updated-ms"] = now;
  md["current-snapshot-id"] = snapshot_id;
  md["snapshots"] = std::move(snapshots);
  json::object refs;
  if (const auto* r = md.if_contains("refs"); r != nullptr && r->is_object()) refs = r->as_object();
  refs["main"] = json::object{{"snapshot-id", snapshot_id}, {"type", "branch"}};
  md["refs"] = std::move(refs);
  json::array snapshot_log;
  if (const auto* l = md.if_contains("snapshot-log"); l != nullptr && l->is_array()) {
    snapshot_log = l->as_array();
  }
  snapshot_log.push_back(json::object{{"timestamp-ms", now}, {"snapshot-id", snapshot_id}});
  md["snapshot-log"] = std::move(snapshot_log);
  json::array metadata_log;
  if (const auto* l = md.if_contains("metadata-log"); l != nullptr && l->is_array()) {
    metadata_log = l->as_array();
  }
  metadata_log.push_back(
      json::object{{"timestamp-ms", Int(metadata_, "last-updated-ms")},
                   {"metadata-file", storage_.Location(MetadataPath(version_))}});
  md["metadata-log"] = std::move(metadata_log);

  const int next = version_ + 1;
  if (auto st = storage_.PutIfAbsent(MetadataPath(next), PrettyJson(md)); !st) {
    return Fail(st.error());
  }
  // Committed.
  metadata_ = std::move(md);
  version_ = next;
  current_snapshot_ = snapshot_id;
  manifests_ = std::move(list);
  if (auto hint = storage_.Put(kHint, std::to_string(next)); !hint) {
    log::Warn("iceberg: version-hint.text not updated (the commit stands; readers probe past it)",
              {{"version", static_cast<int64_t>(next)}, {"error", hint.error().message()}});
  }
  return CommitResult{.snapshot_id = snapshot_id, .sequence_number = sequence, .version = next};
}

}  // namespace pgcdc::adapter::iceberg
