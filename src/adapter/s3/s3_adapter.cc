#include "adapter/s3/s3_adapter.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "codec/kafka/record_batch.h"
#include "core/log.h"
#include "core/metrics.h"
#include "registry/define.h"

namespace pgcdc::adapter::s3 {

namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kAdapter = "s3";
constexpr std::string_view kTxnChannel = "pgcdc:_txn";
// Bytes counted per parquet row besides its payload and channel (id, times, …).
constexpr size_t kParquetRowOverhead = 64;

struct Metrics {
  metrics::Family<metrics::Counter>& flushes = metrics::Default().AddCounter(
      "pgcdc_s3_flushes_total", "S3 flushes by outcome (success, error).", {"status"});
  metrics::Counter& flush_ok = flushes.With({"success"});
  metrics::Counter& flush_error = flushes.With({"error"});
  metrics::Histogram& flush_size = metrics::DefaultHistogram(
      "pgcdc_s3_flush_size", "Events per S3 flush.", {10, 100, 500, 1000, 5000, 10000, 50000});
  metrics::Histogram& flush_duration = metrics::DefaultHistogram(
      "pgcdc_s3_flush_duration_seconds", "Time to upload one S3 flush (retries included).",
      metrics::DefaultBuckets());
  metrics::Gauge& buffered =
      metrics::DefaultGauge("pgcdc_s3_buffer_size", "Events buffered for the next S3 flush.");
  metrics::Counter& objects =
      metrics::DefaultCounter("pgcdc_s3_objects_uploaded_total", "S3 objects uploaded.");
  metrics::Counter& bytes = metrics::DefaultCounter(
      "pgcdc_s3_bytes_uploaded_total", "Bytes of S3 objects uploaded (after compression).");
  metrics::Counter& failures = metrics::DefaultCounter(
      "pgcdc_s3_request_failures_total", "S3 requests that failed (each retry counts).");
  metrics::Counter& skipped = metrics::DefaultCounter(
      "pgcdc_s3_skipped_total", "Transaction marker events (pgcdc:_txn) not written to S3.");
  metrics::Counter& unconverted = metrics::DefaultCounter(
      "pgcdc_s3_parquet_unconverted_total",
      "Values of typed Parquet rows that did not convert to their column type (written as NULL).");
};
Metrics& M() { return metrics::Lazy<Metrics>(); }

Error Cancelled() { return Error(ErrorCode::kCancelled, "s3: interrupted"); }

// The message for an answer that retrying cannot fix.
std::string Permanent(const Reply& r, const Options& o) {
  std::string msg = "s3: " + r.message;
  if (r.status == 403) {
    msg +=
        " (access denied: check the credentials --s3-access-key-id/--s3-secret-access-key "
        "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, and that they may write to bucket \"" +
        o.bucket + "\")";
  } else if (r.status == 404) {
    msg += " (bucket \"" + o.bucket + "\" not found at " +
           (o.endpoint.empty() ? "AWS region " + o.region : o.endpoint) + ")";
  }
  return msg;
}

std::string EnvOr(const std::string& value, const char* name) {
  if (!value.empty()) return value;
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

}  // namespace

std::string Extension(std::string_view format, std::string_view compression) {
  std::string out = "." + std::string(format);
  if (format == "parquet") return out;  // compressed inside the file
  if (compression == "gzip") out += ".gz";
  if (compression == "zstd") out += ".zst";
  return out;
}

std::string ObjectKey(std::string_view prefix, std::string_view channel, const Partition& p,
                      std::string_view extension) {
  std::string key(prefix);
  while (!key.empty() && key.back() == '/') key.pop_back();
  if (!key.empty()) key.push_back('/');
  key.append("channel=");
  for (char c : channel) key.push_back(c == ':' ? '_' : c);
  const auto t = static_cast<time_t>(p.first_created_ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char date[64];
  std::snprintf(date, sizeof date, "/year=%04d/month=%02d/day=%02d/%016llx-", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, static_cast<unsigned long long>(p.first_lsn));
  key.append(date).append(p.first_id).append(extension);
  return key;
}

Layout LayoutOf(const Options& o) {
  Layout l{.parquet = o.format == "parquet", .typed = o.parquet_schema == "typed"};
  l.parquet_options.compression = o.compression == "none" ? "snappy" : o.compression;
  return l;
}

Result<Batch::Partitions::iterator> Batch::PartitionFor(const Event& event, bool typed) {
  std::string key = event.channel;
  if (typed) {
    // One file per table version: a changed relation starts a new file.
    char id[32];
    std::snprintf(id, sizeof id, "\x1f%p", static_cast<const void*>(event.schema.get()));
    key.append(id);
  }
  auto [it, added] = partitions_.try_emplace(std::move(key));
  Partition& p = it->second;
  if (added) {
    p.channel = event.channel;
    p.first_seq = event.seq;
    p.first_lsn = event.lsn;
    p.first_id = event.id.ToString();
    p.first_created_ns = event.created_at_ns;
    if (typed) p.schema = event.schema;
    if (layout_.parquet) {
      auto w = parquet::Writer::Create(
          typed ? parquet::TypedColumns(*event.schema) : parquet::EnvelopeColumns(),
          layout_.parquet_options);
      if (!w) {
        partitions_.erase(it);
        return Fail(w.error().Wrap("s3"));
      }
      p.rows = std::move(*w);
    }
  }
  return it;
}

Status Batch::Add(const Event& event, AppendStats* stats) {
  parquet::ParsedRow parsed;
  const bool typed = layout_.parquet && layout_.typed && parquet::ParseTypedRow(event, parsed);
  auto part = PartitionFor(event, typed);
  if (!part) return Fail(part.error());
  Partition& p = (*part)->second;
  const size_t before = p.bytes;
  if (!layout_.parquet) {
    p.body.append(event.Json()).push_back('\n');
    p.bytes = p.body.size();
  } else {
    AppendStats local;
    Status st =
        typed ? parquet::AppendTyped(*p.rows, event, *parsed.row, stats != nullptr ? *stats : local)
              : parquet::AppendEnvelope(*p.rows, event);
    if (!st) {
      // Only DuckDB itself failing gets here; the sink stops with the error
      // (nothing of this flush is acknowledged). No empty object is left.
      if (p.events == 0) partitions_.erase(*part);
      return st;
    }
    // An estimate of what the rows take (DuckDB stores them columnar).
    p.bytes += event.payload.size() + event.channel.size() + kParquetRowOverhead;
  }
  if (events_ == 0) since_ = SteadyClock::now();
  ++p.events;
  ++events_;
  bytes_ += p.bytes - before;
  return Ok();
}

Status Batch::Encode(Partition& p) {
  if (!layout_.parquet || p.rows == nullptr || p.rows->rows() == 0) return Ok();
  auto file = p.rows->Finish();
  if (!file) return Fail(file.error().Wrap("s3: encode parquet"));
  p.body = std::move(*file);
  return Ok();
}

std::optional<uint64_t> Batch::OldestSeq() const {
  std::optional<uint64_t> oldest;
  for (const auto& [channel, p] : partitions_) {
    if (p.first_seq != 0 && (!oldest || p.first_seq < *oldest)) oldest = p.first_seq;
  }
  return oldest;
}

void Batch::Erase(std::map<std::string, Partition>::iterator it) {
  events_ -= it->second.events;
  bytes_ -= it->second.bytes;
  partitions_.erase(it);
}

S3Adapter::S3Adapter(Options options)
    : RetryingAdapter(kAdapter, options.backoff),
      options_(std::move(options)),
      batch_(LayoutOf(options_)),
      content_type_(options_.format == "jsonl" ? "application/x-ndjson"
                                               : "application/octet-stream"),
      extension_(Extension(options_.format, options_.compression)) {
  if (options_.compression != "none" && options_.format == "jsonl") {
    content_encoding_ = options_.compression;
  }
}

S3Adapter::~S3Adapter() = default;

namespace {

// The client with resolved credentials (flags, else the AWS_* environment).
Result<std::unique_ptr<S3Client>> MakeClient(const Options& o) {
  Credentials creds{EnvOr(o.access_key_id, "AWS_ACCESS_KEY_ID"),
                    EnvOr(o.secret_access_key, "AWS_SECRET_ACCESS_KEY"),
                    EnvOr(o.session_token, "AWS_SESSION_TOKEN")};
  if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
    return Fail(ErrorCode::kConfig,
                "s3: no credentials: set --s3-access-key-id and --s3-secret-access-key (or "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  }
  auto client = std::make_unique<S3Client>(ClientOptions{.endpoint = o.endpoint,
                                                         .bucket = o.bucket,
                                                         .region = o.region,
                                                         .credentials = std::move(creds),
                                                         .timeout = o.timeout});
  if (auto st = client->Open(); !st) return Fail(st.error());
  return client;
}

}  // namespace

CheckList CheckBucket(const Options& o) {
  auto client = MakeClient(o);
  if (!client) return FailedCheck("bucket", client.error().message());
  const Reply head = (*client)->HeadBucket();
  if (!head.ok()) {
    return FailedCheck("bucket", head.Retryable() ? "s3: " + head.message : Permanent(head, o),
                       "check --s3-endpoint, --s3-bucket and the credentials");
  }
  return {
      {.name = "bucket",
       .detail = "bucket \"" + o.bucket + "\" at " + (*client)->display_endpoint() + " answers"}};
}

Status S3Adapter::Open() {
  auto client = MakeClient(options_);
  if (!client) return Fail(client.error());
  client_ = std::move(*client);
  const Reply head = skip_validation() ? Reply{.status = 200} : client_->HeadBucket();
  if (!head.ok() && !head.Retryable())
    return Fail(ErrorCode::kConnection, Permanent(head, options_));
  if (!head.ok()) {
    // Not there yet: uploads wait for it (health degraded) rather than fail start-up.
    Degraded(head.message);
    log::Warn("s3: bucket check failed; uploads will retry",
              {{"adapter", kAdapter}, {"error", head.message}});
  }
  log::Info("s3: ready", {{"endpoint", client_->display_endpoint()},
                          {"bucket", options_.bucket},
                          {"format", options_.format},
                          {"compression", options_.compression},
                          {"parquet_schema", options_.parquet_schema},
                          {"flush_size", static_cast<uint64_t>(options_.flush_size)}});
  return Ok();
}

Status S3Adapter::Deliver(std::span<const Event* const> events) {
  for (const Event* e : events) {
    if (e->filtered) continue;
    if (e->channel == kTxnChannel) {
      M().skipped.Inc();
      continue;
    }
    AppendStats stats;
    if (auto st = batch_.Add(*e, &stats); !st) return st;
    if (stats.unconverted > 0) Unconverted(*e, stats);
    if (batch_.events() >= options_.flush_size || batch_.bytes() >= options_.flush_bytes) {
      if (auto st = Upload(SteadyClock::time_point::max()); !st) return st;
    }
  }
  M().buffered.Set(static_cast<double>(batch_.events()));
  return Ok();
}

Status S3Adapter::Flush() {
  if (batch_.empty() || SteadyClock::now() - batch_.since() < options_.flush_interval) return Ok();
  return Upload(SteadyClock::time_point::max());
}

void S3Adapter::Unconverted(const Event& e, const AppendStats& stats) {
  M().unconverted.Inc(stats.unconverted);
  log::Warn("s3: parquet values that do not convert to their column type are written as NULL",
            {{"adapter", kAdapter},
             {"event_id", e.id.ToString()},
             {"channel", e.channel},
             {"values", static_cast<uint64_t>(stats.unconverted)},
             {"error", stats.first_error}});
}

std::optional<uint64_t> S3Adapter::OldestHeldSeq() const { return batch_.OldestSeq(); }

void S3Adapter::Interrupt() {
  RetryingAdapter::Interrupt();
  if (client_) client_->Interrupt();
}

void S3Adapter::Close() {
  if (!batch_.empty() && client_) {
    const size_t left = batch_.events();
    if (auto st = Upload(SteadyClock::now() + options_.drain_timeout); !st) {
      log::Error(
          "s3: final flush failed; the events are not acknowledged and will be replayed "
          "by a persistent slot",
          {{"adapter", kAdapter},
           {"events", static_cast<uint64_t>(left)},
           {"error", st.error().message()}});
    }
  }
  client_.reset();
}

Status S3Adapter::Upload(SteadyClock::time_point deadline) {
  const auto start = SteadyClock::now();
  const size_t events = batch_.events();
  auto& parts = batch_.partitions();
  while (!parts.empty()) {
    auto it = parts.begin();
    const std::string key = ObjectKey(options_.prefix, it->second.channel, it->second, extension_);
    if (auto st = batch_.Encode(it->second); !st) {
      M().flush_error.Inc();
      return st;
    }
    std::string compressed;
    const std::string* body = &it->second.body;
    if (!content_encoding_.empty()) {
      const auto codec = options_.compression == "gzip" ? codec::kafka::Compression::kGzip
                                                        : codec::kafka::Compression::kZstd;
      auto c = codec::kafka::Compress(codec, it->second.body);
      if (!c) return Fail(c.error().Wrap("s3: compress"));
      compressed = std::move(*c);
      body = &compressed;
    }
    Status st =
        body->size() > options_.part_size
            ? Multipart(key, *body, deadline)
            : Retry(
                  [&] { return client_->PutObject(key, *body, content_type_, content_encoding_); },
                  deadline);
    if (!st) {
      M().flush_error.Inc();
      return st;
    }
    M().objects.Inc();
    M().bytes.Inc(body->size());
    batch_.Erase(it);
  }
  M().flush_ok.Inc();
  M().flush_size.Observe(static_cast<double>(events));
  M().flush_duration.Observe(std::chrono::duration<double>(SteadyClock::now() - start).count());
  M().buffered.Set(0);
  return Ok();
}

Status S3Adapter::Multipart(const std::string& key, const std::string& body,
                            SteadyClock::time_point deadline) {
  Reply created;
  if (auto st =
          Retry([&] { return client_->CreateMultipart(key, content_type_, content_encoding_); },
                deadline, &created);
      !st) {
    return st;
  }
  const std::string upload_id = created.body;
  std::vector<std::string> etags;
  Status st = Ok();
  for (size_t off = 0; off < body.size() && st; off += options_.part_size) {
    const std::string_view part = std::string_view(body).substr(off, options_.part_size);
    const int number = static_cast<int>(etags.size()) + 1;
    Reply r;
    st = Retry([&] { return client_->UploadPart(key, upload_id, number, part); }, deadline, &r);
    if (st) etags.push_back(r.etag);
  }
  if (st) st = Retry([&] { return client_->CompleteMultipart(key, upload_id, etags); }, deadline);
  if (!st) {
    // Best effort: the parts would otherwise be billed until a lifecycle rule removes them.
    (void)client_->AbortMultipart(key, upload_id);
  }
  return st;
}

Status S3Adapter::Retry(const std::function<Reply()>& call, SteadyClock::time_point deadline,
                        Reply* out) {
  for (;;) {
    if (interrupted()) return Fail(Cancelled());
    Reply r = call();
    if (r.ok()) {
      backoff().Reset();
      Recovered();
      if (out != nullptr) *out = std::move(r);
      return Ok();
    }
    M().failures.Inc();
    if (interrupted()) return Fail(Cancelled());
    if (!r.Retryable()) return Fail(ErrorCode::kConnection, Permanent(r, options_));
    Degraded(r.message);
    const milliseconds delay = backoff().Next();
    log::Warn("s3: upload failed; retrying (the events stay buffered and unacknowledged)",
              {{"adapter", kAdapter},
               {"error", r.message},
               {"buffered_events", static_cast<uint64_t>(batch_.events())},
               {"retry_in_ms", static_cast<int64_t>(delay.count())}});
    if (SteadyClock::now() + delay > deadline) {
      return Fail(ErrorCode::kTimeout, "s3: drain timeout passed: " + r.message);
    }
    if (!sleeper().SleepFor(delay)) return Fail(Cancelled());
  }
}

// ---- declaration ---------------------------------------------------------------

namespace {

void Validate(const Options& o, const Context&, Errors& errors) {
  if (o.bucket.empty()) errors.push_back("s3.bucket: required for adapter s3 (--s3-bucket)");
  if (o.format == "parquet" && !parquet::Available()) {
    errors.push_back("s3.format: parquet: " + std::string(parquet::UnavailableReason()));
  }
  if (o.parquet_schema == "typed" && o.format != "parquet") {
    errors.push_back("s3.parquet_schema: typed needs s3.format parquet (--s3-format parquet)");
  }
  if (o.part_size < (5u << 20)) {
    errors.push_back("s3.part_size: must be at least 5MiB (S3's smallest multipart part)");
  }
  if (o.access_key_id.empty() != o.secret_access_key.empty()) {
    errors.push_back("s3.access_key_id / s3.secret_access_key: set both or neither");
  }
  ValidateBackoff("s3", o.backoff, errors);
}

std::vector<ParamSpec> S3Params() {
  using O = Options;
  return {
      Param("s3.bucket", &O::bucket, "bucket to write objects to"),
      Param("s3.prefix", &O::prefix, "key prefix (before channel=...)"),
      Param("s3.endpoint", &O::endpoint,
            "S3-compatible endpoint (http(s)://host:port: MinIO, R2, s3rver); set = path-style "
            "requests, empty = AWS"),
      Param("s3.region", &O::region, "signing region"),
      Param("s3.access_key_id", &O::access_key_id,
            "access key id (default: $AWS_ACCESS_KEY_ID); never logged"),
      Param("s3.secret_access_key", &O::secret_access_key,
            "secret access key (default: $AWS_SECRET_ACCESS_KEY); never logged"),
      Param("s3.session_token", &O::session_token,
            "session token of temporary credentials (default: $AWS_SESSION_TOKEN)"),
      Param("s3.format", &O::format,
            "object format: JSON lines, or Parquet files (needs a build with DuckDB)",
            {.choices = {"jsonl", "parquet"}}),
      Param("s3.parquet_schema", &O::parquet_schema,
            "parquet columns: envelope (event_id, operation, timestamp, channel, source, "
            "payload) or typed (a column per table column, PostgreSQL types mapped; a file per "
            "table per flush)",
            {.choices = {"envelope", "typed"}}),
      Param("s3.compression", &O::compression,
            "jsonl: compression of the object; parquet: the file's codec (none = snappy)",
            {.choices = {"none", "gzip", "zstd"}}),
      Param("s3.flush_interval", &O::flush_interval, "upload buffered events at least this often",
            {.min = 1}),
      Param("s3.flush_size", &O::flush_size, "upload once this many events are buffered",
            {.min = 1, .max = 10'000'000}),
      Param("s3.flush_bytes", &O::flush_bytes,
            "upload once the buffered JSON reaches this many bytes (bounds memory)", {.min = 1024}),
      Param("s3.part_size", &O::part_size,
            "objects larger than this are sent as multipart uploads of parts this size "
            "(at least 5MiB)",
            {.min = 5 << 20}),
      Param("s3.drain_timeout", &O::drain_timeout, "time the final flush at shutdown may take",
            {.min = 1}),
      Param("s3.timeout", &O::timeout, "deadline of one HTTP request", {.min = 1}),
  };
}

}  // namespace

ConnectorInfo Connector() {
  return DefineAdapter<Options>({
      .name = "s3",
      .description =
          "Writes events as JSON-lines objects (optionally gzip/zstd) or Parquet files (envelope "
          "or typed columns) to S3 or an S3-compatible store under Hive-style channel/date keys; "
          "SigV4, multipart uploads, retries, and events acknowledged only after their object "
          "is stored.",
      .params = Params(
          {S3Params(), BackoffParams<Options>("s3", "s3", &Options::backoff, "upload retry")}),
      .validate = Validate,
      .make = MakeRetryingAdapter<S3Adapter, Options>,
      .check = [](const Options& o, const Context&) { return CheckBucket(o); },
  });
}

}  // namespace pgcdc::adapter::s3

PGCDC_REGISTER_CONNECTOR(adapter, s3, pgcdc::adapter::s3::Connector)
