#include "adapter/iceberg/iceberg_adapter.h"

#include <algorithm>
#include <boost/json.hpp>
#include <filesystem>
#include <limits>
#include <set>

#include "core/json_dom.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/uuid.h"
#include "dlq/dlq.h"
#include "registry/define.h"

namespace pgcdc::adapter::iceberg {

namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::string_view kAdapter = "iceberg";
constexpr std::string_view kTxnChannel = "pgcdc:_txn";
// Bytes counted per row besides its payload and channel (id, times, …).
constexpr size_t kRowOverhead = 96;
// The first key field's id (after the six envelope fields).
constexpr int kFirstKeyField = 7;

struct Metrics {
  metrics::Family<metrics::Counter>& flushes = metrics::Default().AddCounter(
      "pgcdc_iceberg_flushes_total", "Iceberg commits by outcome (success, error).", {"status"});
  metrics::Counter& flush_ok = flushes.With({"success"});
  metrics::Counter& flush_error = flushes.With({"error"});
  metrics::Histogram& flush_size =
      metrics::DefaultHistogram("pgcdc_iceberg_flush_size", "Events per Iceberg commit.",
                                {10, 100, 500, 1000, 5000, 10000, 50000});
  metrics::Histogram& flush_duration =
      metrics::DefaultHistogram("pgcdc_iceberg_flush_duration_seconds",
                                "Time to write and commit one Iceberg snapshot (retries included).",
                                metrics::DefaultBuckets());
  metrics::Gauge& buffered = metrics::DefaultGauge("pgcdc_iceberg_buffer_size",
                                                   "Events buffered for the next Iceberg commit.");
  metrics::Counter& files =
      metrics::DefaultCounter("pgcdc_iceberg_data_files_written_total",
                              "Iceberg Parquet files written (data and equality-delete files).");
  metrics::Counter& bytes = metrics::DefaultCounter("pgcdc_iceberg_bytes_written_total",
                                                    "Bytes of Iceberg Parquet files written.");
  metrics::Counter& conflicts = metrics::DefaultCounter(
      "pgcdc_iceberg_commit_retries_total",
      "Iceberg commits rebuilt because another writer committed the same version first.");
  metrics::Counter& skipped = metrics::DefaultCounter(
      "pgcdc_iceberg_skipped_total", "Transaction marker events (pgcdc:_txn) not written.");
  metrics::Counter& dead_lettered =
      metrics::DefaultCounter("pgcdc_iceberg_dead_lettered_total",
                              "Events sent to the DLQ by the iceberg sink (upsert: no key).");
};
Metrics& M() { return metrics::Lazy<Metrics>(); }

std::string JoinKey(const std::vector<std::string>& key) {
  std::string out;
  for (const auto& k : key) {
    out += std::to_string(k.size());
    out.push_back(':');
    out += k;
  }
  return out;
}

std::vector<parquet::Column> ColumnsOf(const std::vector<Field>& fields) {
  std::vector<parquet::Column> cols;
  for (const Field& f : fields) {
    cols.push_back({f.name,
                    f.type == "timestamptz" ? parquet::Type::kTimestampTz : parquet::Type::kString,
                    f.id});
  }
  return cols;
}

// Min/max of string values (byte order, as Iceberg compares UTF-8).
void Bound(ColumnStats& s, std::string_view v) {
  if (!s.lower || v < *s.lower) s.lower = std::string(v);
  if (!s.upper || v > *s.upper) s.upper = std::string(v);
}

}  // namespace

std::vector<Field> TableFields(const Options& o) {
  std::vector<Field> f = {{1, "event_id", "string"},       {2, "operation", "string"},
                          {3, "timestamp", "timestamptz"}, {4, "channel", "string"},
                          {5, "source", "string"},         {6, "payload", "string"}};
  if (o.mode == "upsert") {
    int id = kFirstKeyField;
    for (const auto& k : o.primary_keys) f.push_back({id++, k, "string"});
  }
  return f;
}

Result<TableLocation> LocateTable(const Options& o) {
  std::string rel;
  std::string_view ns = o.namespace_name;
  while (!ns.empty()) {
    const size_t dot = ns.find('.');
    std::string_view level = ns.substr(0, dot);
    if (level.empty() || level == ".." || level.find('/') != std::string_view::npos) {
      return Fail(ErrorCode::kConfig, "iceberg.namespace: \"" + o.namespace_name +
                                          "\" has an empty level, '/' or '..'");
    }
    rel.append(level).push_back('/');
    ns = dot == std::string_view::npos ? std::string_view() : ns.substr(dot + 1);
  }
  if (o.table.empty() || o.table.find('/') != std::string::npos || o.table == "..") {
    return Fail(ErrorCode::kConfig, "iceberg.table: \"" + o.table + "\" is not a table name");
  }
  rel += o.table;
  TableLocation loc;
  if (o.warehouse.starts_with("s3://")) {
    std::string_view rest = std::string_view(o.warehouse).substr(5);
    const size_t slash = rest.find('/');
    loc.s3 = true;
    loc.bucket = std::string(rest.substr(0, slash));
    std::string prefix(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (loc.bucket.empty()) {
      return Fail(ErrorCode::kConfig,
                  "iceberg.warehouse: \"" + o.warehouse + "\" has no bucket (s3://bucket/prefix)");
    }
    loc.prefix = prefix.empty() ? rel : prefix + "/" + rel;
    return loc;
  }
  if (o.warehouse.find("://") != std::string::npos) {
    return Fail(ErrorCode::kConfig, "iceberg.warehouse: \"" + o.warehouse +
                                        "\": only local directories and s3:// are supported");
  }
  std::error_code ec;
  const auto abs = std::filesystem::absolute(o.warehouse, ec);
  if (ec) return Fail(ErrorCode::kConfig, "iceberg.warehouse: " + ec.message());
  loc.root = (abs.lexically_normal() / rel).string();
  return loc;
}

Result<std::vector<std::string>> KeyOf(const Event& event,
                                       const std::vector<std::string>& primary_keys) {
  auto doc = json::ParseDom(event.payload);
  if (!doc || !doc->is_object()) {
    return Fail(ErrorCode::kInvalidArgument, "upsert: the payload is not a row event");
  }
  const auto& o = doc->as_object();
  const bool is_delete = event.operation == "DELETE";
  const boost::json::object* image = nullptr;
  const char* const order[] = {is_delete ? "old" : "row", is_delete ? "row" : nullptr};
  for (const char* name : order) {
    if (name == nullptr) break;
    if (const auto* v = o.if_contains(name); v != nullptr && v->is_object()) {
      image = &v->as_object();
      break;
    }
  }
  if (image == nullptr) {
    return Fail(ErrorCode::kInvalidArgument,
                "upsert: " + event.operation + " event has no row image to take the key from");
  }
  std::vector<std::string> key;
  for (const auto& k : primary_keys) {
    const auto* v = image->if_contains(k);
    if (v == nullptr || v->is_null()) {
      return Fail(ErrorCode::kInvalidArgument,
                  "upsert: key column \"" + k + "\" is missing or null in the row" +
                      (is_delete ? " (a DELETE needs REPLICA IDENTITY covering the key)" : ""));
    }
    key.push_back(v->is_string() ? std::string(v->as_string()) : json::SerializeDom(*v));
  }
  return key;
}

IcebergAdapter::IcebergAdapter(Options options)
    : RetryingAdapter(kAdapter, options.backoff),
      options_(std::move(options)),
      upsert_(options_.mode == "upsert"),
      fields_(TableFields(options_)) {}

IcebergAdapter::~IcebergAdapter() = default;

Status IcebergAdapter::Open() {
  if (options_.catalog_type != "hadoop") {
    log::Warn("iceberg: catalog type not implemented; writing the hadoop (directory) layout",
              {{"catalog_type", options_.catalog_type}});
  }
  if (options_.schema_mode != "raw") {
    log::Warn("iceberg: schema mode not implemented; writing the raw (envelope) schema",
              {{"schema_mode", options_.schema_mode}});
  }
  auto loc = LocateTable(options_);
  if (!loc) return Fail(loc.error());
  if (loc->s3) {
    auto s = MakeS3Storage({.bucket = loc->bucket,
                            .prefix = loc->prefix,
                            .endpoint = options_.s3_endpoint,
                            .region = options_.s3_region,
                            .access_key_id = options_.s3_access_key_id,
                            .secret_access_key = options_.s3_secret_access_key,
                            .session_token = options_.s3_session_token,
                            .timeout = options_.s3_timeout});
    if (!s) return Fail(s.error());
    storage_ = std::move(*s);
  } else {
    storage_ = MakeLocalStorage(loc->root);
  }
  std::vector<int> ids;
  for (const Field& f : fields_) {
    if (f.id >= kFirstKeyField) ids.push_back(f.id);
  }
  table_ = std::make_unique<Table>(
      *storage_, fields_, ids,
      std::map<std::string, std::string>{{"write.format.default", "parquet"},
                                         {"pgcdc.mode", options_.mode}});
  auto data = parquet::Writer::Create(ColumnsOf(fields_));
  if (!data) return Fail(data.error().Wrap("iceberg"));
  data_writer_ = std::move(*data);
  if (upsert_) {
    std::vector<Field> keys(fields_.begin() + (kFirstKeyField - 1), fields_.end());
    auto del = parquet::Writer::Create(ColumnsOf(keys));
    if (!del) return Fail(del.error().Wrap("iceberg"));
    delete_writer_ = std::move(*del);
  }
  Status st = table_->Load();
  if (st && !table_->exists()) st = table_->Create();
  if (!st) {
    if (st.error().code() == ErrorCode::kConfig) return st;
    // Not writable or not reachable yet: commits retry (events stay held).
    Degraded(st.error().message());
    log::Warn("iceberg: table not ready; commits will retry",
              {{"adapter", kAdapter}, {"error", st.error().message()}});
  } else {
    loaded_ = true;
  }
  log::Info("iceberg: ready", {{"table", storage_->Location("")},
                               {"mode", options_.mode},
                               {"version", static_cast<int64_t>(table_->version())},
                               {"flush_size", static_cast<uint64_t>(options_.flush_size)}});
  return Ok();
}

Status IcebergAdapter::Deliver(std::span<const Event* const> events) {
  for (const Event* e : events) {
    if (e->filtered) continue;
    if (e->channel == kTxnChannel) {
      M().skipped.Inc();
      continue;
    }
    Row row{.id = e->id.ToString(),
            .operation = e->operation,
            .micros = e->created_at_ns / 1000,
            .channel = e->channel,
            .source = std::string(e->source),
            .payload = e->payload,
            .seq = e->seq};
    if (upsert_) {
      if (e->operation == "TRUNCATE") {
        if (auto st = dlq::DeadLetterRejected(
                dead_letters(), *e, kAdapter,
                "upsert: TRUNCATE cannot be written as equality deletes (no keys)");
            !st) {
          return st;
        }
        M().dead_lettered.Inc();
        continue;
      }
      auto key = KeyOf(*e, options_.primary_keys);
      if (!key) {
        if (auto st = dlq::DeadLetterRejected(dead_letters(), *e, kAdapter, key.error().message());
            !st) {
          return st;
        }
        M().dead_lettered.Inc();
        continue;
      }
      row.key = std::move(*key);
      row.deleted = e->operation == "DELETE";
    }
    if (rows_.empty() && oldest_seq_ == 0) since_ = SteadyClock::now();
    if (oldest_seq_ == 0) oldest_seq_ = e->seq;
    const size_t size = row.payload.size() + row.channel.size() + kRowOverhead;
    bytes_ += size;
    if (upsert_) {
      auto [it, added] = by_key_.try_emplace(JoinKey(row.key), rows_.size());
      if (!added) {
        rows_[it->second] = std::move(row);  // the newest event per key wins
      } else {
        rows_.push_back(std::move(row));
      }
    } else {
      rows_.push_back(std::move(row));
    }
    if (rows_.size() >= options_.flush_size || bytes_ >= options_.flush_bytes) {
      if (auto st = Commit(SteadyClock::time_point::max()); !st) return st;
    }
  }
  M().buffered.Set(static_cast<double>(rows_.size()));
  return Ok();
}

Status IcebergAdapter::Flush() {
  if (rows_.empty() || SteadyClock::now() - since_ < options_.flush_interval) return Ok();
  return Commit(SteadyClock::time_point::max());
}

std::optional<uint64_t> IcebergAdapter::OldestHeldSeq() const {
  if (oldest_seq_ == 0) return std::nullopt;
  return oldest_seq_;
}

void IcebergAdapter::Interrupt() {
  RetryingAdapter::Interrupt();
  if (storage_) storage_->Interrupt();
}

void IcebergAdapter::Close() {
  if (!rows_.empty() && table_) {
    const size_t left = rows_.size();
    if (auto st = Commit(SteadyClock::now() + options_.drain_timeout); !st) {
      log::Error(
          "iceberg: final commit failed; the events are not acknowledged and will be replayed "
          "by a persistent slot",
          {{"adapter", kAdapter},
           {"events", static_cast<uint64_t>(left)},
           {"error", st.error().message()}});
    }
  }
}

void IcebergAdapter::Clear() {
  rows_.clear();
  by_key_.clear();
  bytes_ = 0;
  oldest_seq_ = 0;
  written_.clear();
}

Result<DataFile> IcebergAdapter::WriteDataFile() {
  DataFile f{.content = DataFile::kData, .path = "data/" + NewUuidV7().ToString() + ".parquet"};
  parquet::Writer& w = *data_writer_;
  int64_t min_ts = std::numeric_limits<int64_t>::max();
  int64_t max_ts = std::numeric_limits<int64_t>::min();
  const size_t nkeys = fields_.size() - (kFirstKeyField - 1);
  std::vector<ColumnStats> stats(fields_.size());
  for (const Row& r : rows_) {
    if (r.deleted) continue;
    Status st = w.String(r.id);
    if (st) st = w.String(r.operation);
    if (st) st = w.TimestampMicros(r.micros);
    if (st) st = w.String(r.channel);
    if (st) st = w.String(r.source);
    if (st) st = w.String(r.payload);
    for (size_t i = 0; st && upsert_ && i < nkeys; ++i) st = w.String(r.key[i]);
    if (st) st = w.EndRow();
    if (!st) {
      (void)w.Finish();  // drop the partial file's rows
      return Fail(st.error().Wrap("iceberg: parquet"));
    }
    ++f.records;
    Bound(stats[0], r.id);
    Bound(stats[1], r.operation);
    min_ts = std::min(min_ts, r.micros);
    max_ts = std::max(max_ts, r.micros);
    Bound(stats[3], r.channel);
    Bound(stats[4], r.source);
    for (size_t i = 0; upsert_ && i < nkeys; ++i) Bound(stats[6 + i], r.key[i]);
  }
  if (f.records == 0) return f;  // nothing but deletes
  auto body = w.Finish();
  if (!body) return Fail(body.error().Wrap("iceberg: encode parquet"));
  if (auto st = storage_->Put(f.path, *body); !st) return Fail(st.error());
  f.size = static_cast<int64_t>(body->size());
  for (size_t i = 0; i < fields_.size(); ++i) {
    ColumnStats& s = stats[i];
    s.values = f.records;
    s.nulls = 0;
    if (fields_[i].id == 3) {
      s.lower = TimestampBound(min_ts);
      s.upper = TimestampBound(max_ts);
    }
    if (fields_[i].id == 6) s.lower = s.upper = std::nullopt;  // payload: counts only
    f.stats[fields_[i].id] = std::move(s);
  }
  M().files.Inc();
  M().bytes.Inc(body->size());
  return f;
}

Result<DataFile> IcebergAdapter::WriteDeleteFile() {
  DataFile f{.content = DataFile::kEqualityDeletes,
             .path = "data/" + NewUuidV7().ToString() + "-deletes.parquet"};
  parquet::Writer& w = *delete_writer_;
  const size_t nkeys = fields_.size() - (kFirstKeyField - 1);
  std::vector<ColumnStats> stats(nkeys);
  for (const Row& r : rows_) {
    Status st = Ok();
    for (size_t i = 0; st && i < nkeys; ++i) st = w.String(r.key[i]);
    if (st) st = w.EndRow();
    if (!st) {
      (void)w.Finish();
      return Fail(st.error().Wrap("iceberg: parquet"));
    }
    ++f.records;
    for (size_t i = 0; i < nkeys; ++i) Bound(stats[i], r.key[i]);
  }
  auto body = w.Finish();
  if (!body) return Fail(body.error().Wrap("iceberg: encode parquet"));
  if (auto st = storage_->Put(f.path, *body); !st) return Fail(st.error());
  f.size = static_cast<int64_t>(body->size());
  for (size_t i = 0; i < nkeys; ++i) {
    const int id = kFirstKeyField + static_cast<int>(i);
    f.equality_ids.push_back(id);
    stats[i].values = f.records;
    f.stats[id] = std::move(stats[i]);
  }
  M().files.Inc();
  M().bytes.Inc(body->size());
  return f;
}

Status IcebergAdapter::TryCommit() {
  if (!loaded_) {
    Status st = table_->Load();
    if (st && !table_->exists()) st = table_->Create();
    if (!st) return st;
    loaded_ = true;
  }
  if (written_.empty()) {
    // Files are written once per pending commit; a retry only commits again.
    std::vector<DataFile> files;
    if (upsert_) {
      auto del = WriteDeleteFile();
      if (!del) return Fail(del.error());
      files.push_back(std::move(*del));
    }
    auto data = WriteDataFile();
    if (!data) return Fail(data.error());
    if (data->records > 0) files.push_back(std::move(*data));
    written_ = std::move(files);
  }
  auto r = table_->Commit(written_);
  if (!r) {
    // The table may have moved (another writer): re-read it next time.
    loaded_ = false;
    return Fail(r.error());
  }
  if (r->attempts > 1) M().conflicts.Inc(static_cast<uint64_t>(r->attempts - 1));
  log::Debug("iceberg: committed", {{"snapshot_id", r->snapshot_id},
                                    {"sequence_number", r->sequence_number},
                                    {"version", static_cast<int64_t>(r->version)}});
  return Ok();
}

Status IcebergAdapter::Commit(SteadyClock::time_point deadline) {
  const auto start = SteadyClock::now();
  const size_t events = rows_.size();
  for (;;) {
    if (interrupted()) return Fail(ErrorCode::kCancelled, "iceberg: interrupted");
    Status st = TryCommit();
    if (st) {
      backoff().Reset();
      Recovered();
      Clear();
      M().flush_ok.Inc();
      M().flush_size.Observe(static_cast<double>(events));
      M().flush_duration.Observe(std::chrono::duration<double>(SteadyClock::now() - start).count());
      M().buffered.Set(0);
      return Ok();
    }
    M().flush_error.Inc();
    if (st.error().code() == ErrorCode::kConfig) return st;
    if (interrupted()) return Fail(ErrorCode::kCancelled, "iceberg: interrupted");
    Degraded(st.error().message());
    const milliseconds delay = backoff().Next();
    log::Warn("iceberg: commit failed; retrying (the events stay buffered and unacknowledged)",
              {{"adapter", kAdapter},
               {"error", st.error().message()},
               {"buffered_events", static_cast<uint64_t>(rows_.size())},
               {"retry_in_ms", static_cast<int64_t>(delay.count())}});
    if (SteadyClock::now() + delay > deadline) {
      return Fail(ErrorCode::kTimeout, "iceberg: drain timeout passed: " + st.error().message());
    }
    if (!sleeper().SleepFor(delay)) return Fail(ErrorCode::kCancelled, "iceberg: interrupted");
  }
}

// ---- declaration ---------------------------------------------------------------

namespace {

void Validate(const Options& o, const Context&, Errors& errors) {
  if (o.warehouse.empty()) {
    errors.push_back(
        "iceberg.warehouse: required for adapter iceberg (--iceberg-warehouse: a directory or "
        "s3://bucket/prefix)");
  }
  if (o.table.empty()) {
    errors.push_back("iceberg.table: required for adapter iceberg (--iceberg-table)");
  }
  if (o.mode == "upsert" && o.primary_keys.empty()) {
    errors.push_back(
        "iceberg.primary_keys: required when iceberg.mode is upsert (--iceberg-pk id[,other])");
  }
  if (o.mode == "upsert") {
    std::set<std::string> seen;
    for (const auto& k : o.primary_keys) {
      const auto envelope = TableFields(Options{});
      const bool clash = std::any_of(envelope.begin(), envelope.end(),
                                     [&](const Field& f) { return f.name == k; });
      if (k.empty() || clash || !seen.insert(k).second) {
        errors.push_back("iceberg.primary_keys: \"" + k +
                         "\" is empty, repeated or an envelope column name");
      }
    }
  }
  if (o.mode != "upsert" && !o.primary_keys.empty()) {
    errors.push_back("iceberg.primary_keys: only used with iceberg.mode upsert");
  }
  if (!parquet::Available()) {
    errors.push_back("iceberg: Parquet: " + std::string(parquet::UnavailableReason()));
  }
  if (!o.warehouse.empty() && !o.table.empty()) {
    if (auto loc = LocateTable(o); !loc) errors.push_back(loc.error().message());
  }
  if (o.s3_access_key_id.empty() != o.s3_secret_access_key.empty()) {
    errors.push_back(
        "iceberg.s3_access_key_id / iceberg.s3_secret_access_key: set both or neither");
  }
  ValidateBackoff("iceberg", o.backoff, errors);
}

std::vector<ParamSpec> IcebergParams() {
  using O = Options;
  return {
      Param("iceberg.catalog_type", &O::catalog_type,
            "catalog: hadoop (metadata files + version-hint.text in the warehouse); rest and sql "
            "are not implemented (accepted with a warning, written as hadoop)",
            {.flag = "iceberg-catalog", .choices = {"hadoop", "rest", "sql"}}),
      Param("iceberg.catalog_uri", &O::catalog_uri, "catalog URI (unused: hadoop catalog only)"),
      Param("iceberg.warehouse", &O::warehouse,
            "warehouse: a local directory, or s3://bucket[/prefix] (with --iceberg-s3-*)"),
      Param("iceberg.namespace", &O::namespace_name,
            "namespace (dot-separated levels become directories)"),
      Param("iceberg.table", &O::table, "table name"),
      Param("iceberg.mode", &O::mode,
            "append (a row per event) or upsert (a row per key: equality deletes keyed by "
            "--iceberg-pk)",
            {.choices = {"append", "upsert"}}),
      Param("iceberg.schema_mode", &O::schema_mode,
            "raw (the event envelope columns); auto is not implemented (behaves as raw)",
            {.flag = "iceberg-schema", .choices = {"raw", "auto"}}),
      Param("iceberg.primary_keys", &O::primary_keys,
            "upsert: the row columns that key the table (comma-separated)", {.flag = "iceberg-pk"}),
      Param("iceberg.flush_interval", &O::flush_interval,
            "commit buffered events at least this often", {.min = 1}),
      Param("iceberg.flush_size", &O::flush_size, "commit once this many events are buffered",
            {.min = 1, .max = 10'000'000}),
      Param("iceberg.flush_bytes", &O::flush_bytes,
            "commit once the buffered events reach this many bytes (bounds memory)", {.min = 1024}),
      Param("iceberg.drain_timeout", &O::drain_timeout,
            "time the final commit at shutdown may take", {.min = 1}),
      Param("iceberg.s3_endpoint", &O::s3_endpoint,
            "s3:// warehouse: S3-compatible endpoint (http(s)://host:port; path-style), empty = "
            "AWS"),
      Param("iceberg.s3_region", &O::s3_region, "s3:// warehouse: signing region"),
      Param("iceberg.s3_access_key_id", &O::s3_access_key_id,
            "s3:// warehouse: access key id (default: $AWS_ACCESS_KEY_ID); never logged"),
      Param("iceberg.s3_secret_access_key", &O::s3_secret_access_key,
            "s3:// warehouse: secret access key (default: $AWS_SECRET_ACCESS_KEY); never logged"),
      Param("iceberg.s3_session_token", &O::s3_session_token,
            "s3:// warehouse: session token (default: $AWS_SESSION_TOKEN)"),
      Param("iceberg.s3_timeout", &O::s3_timeout, "s3:// warehouse: deadline of one request",
            {.min = 1}),
  };
}

}  // namespace

ConnectorInfo Connector() {
  return DefineAdapter<Options>({
      .name = "iceberg",
      .description =
          "Commits events to an Apache Iceberg format-v2 table (hadoop catalog) on a local "
          "warehouse or S3: Parquet data files, Avro manifests, atomic metadata commits; append "
          "or upsert (equality deletes by key); events acknowledged only once committed.",
      .params =
          Params({IcebergParams(),
                  BackoffParams<Options>("iceberg", "iceberg", &Options::backoff, "commit retry")}),
      .validate = Validate,
      .make = MakeRetryingAdapter<IcebergAdapter, Options>,
  });
}

}  // namespace pgcdc::adapter::iceberg

PGCDC_REGISTER_CONNECTOR(adapter, iceberg, pgcdc::adapter::iceberg::Connector)
