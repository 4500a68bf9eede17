// s3 adapter (SPEC §5.15): buffers events and writes them as objects to S3 or
// any S3-compatible store (MinIO, R2, s3rver), one object per channel per
// flush (parquet typed: per table version), under Hive-style keys:
//
//   [<prefix>/]channel=<channel, ':'→'_'>/year=YYYY/month=MM/day=DD/<name>.jsonl[.gz|.zst]
//   (or <name>.parquet: --s3-format parquet, see parquet/event_rows.h for the columns)
//
// <name> = <first LSN, 16 hex digits>-<first event id>: a function of the
// first event of the object only, so an object written again after a crash
// (the unacknowledged window is replayed) gets the same key and overwrites
// the earlier copy instead of adding one. The date is the first event's
// created_at (UTC).
//
// Durability (unlike upstream, which drops the oldest events when its buffer
// overflows, acknowledges at buffering time and only logs failed uploads):
//  - events are acknowledged to the pipeline only after their object was
//    uploaded (HTTP 200): until then OldestHeldSeq() holds the source's
//    checkpoint, so --persistent-slot replays them after a crash;
//  - a full buffer (flush_size events or flush_bytes bytes) is uploaded
//    before more events are taken (back-pressure, never a drop), so memory
//    stays bounded by the flush size;
//  - network errors, timeouts, 408, 429 and 5xx are retried with backoff for
//    as long as it takes (health degraded meanwhile); 403 (credentials) and
//    404 (no such bucket) stop the pipeline with a clear error; nothing
//    is acknowledged either way.
// A flush larger than part_size is sent as a multipart upload.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "adapter/retrying_adapter.h"
#include "parquet/event_rows.h"
#include "parquet/writer.h"
#include "registry/registry.h"
#include "s3/client.h"

namespace pgcdc::adapter::s3 {

// The shared S3 client (src/s3) and Parquet event rows (src/parquet).
using parquet::AppendStats;
using pgcdc::s3::ClientOptions;
using pgcdc::s3::Credentials;
using pgcdc::s3::Reply;
using pgcdc::s3::S3Client;

struct Options {
  std::string bucket;
  std::string prefix;
  std::string endpoint;  // set = path-style requests to it
  std::string region = "us-east-1";
  std::string access_key_id;                // empty = AWS_ACCESS_KEY_ID
  std::string secret_access_key;            // empty = AWS_SECRET_ACCESS_KEY
  std::string session_token;                // empty = AWS_SESSION_TOKEN
  std::string format = "jsonl";             // jsonl, parquet
  std::string compression = "none";         // none, gzip, zstd (parquet: the file's codec)
  std::string parquet_schema = "envelope";  // envelope (SPEC), typed (a column per table column)
  std::chrono::milliseconds flush_interval{60'000};
  size_t flush_size = 10'000;      // events per flush
  size_t flush_bytes = 64u << 20;  // encoded bytes per flush (memory bound)
  size_t part_size = 16u << 20;    // multipart above this; parts of this size
  std::chrono::milliseconds drain_timeout{30'000};
  std::chrono::milliseconds timeout{30'000};  // one HTTP request
  BackoffPolicy backoff{std::chrono::seconds(5), std::chrono::seconds(60),
                        std::chrono::milliseconds(100)};
};

// How a batch encodes events (from Options).
struct Layout {
  bool parquet = false;
  bool typed = false;  // parquet: a typed file per table (WAL row events)
  parquet::Options parquet_options;
};
Layout LayoutOf(const Options& o);

// One object being filled: the events of one channel (parquet typed: of one
// table version) since the last flush.
struct Partition {
  std::string channel;
  // jsonl: the JSON lines; parquet: the finished file once encoded (kept
  // until it is uploaded, so a retry sends the same bytes).
  std::string body;
  parquet::WriterPtr rows;  // parquet: rows not yet encoded
  // parquet typed: the table version of the rows (held, so the address that
  // keys the partition cannot be reused by another version meanwhile).
  std::shared_ptr<const RowSchema> schema;
  size_t bytes = 0;  // buffered bytes (parquet: an estimate)
  size_t events = 0;
  uint64_t first_seq = 0;  // 0 = untracked source
  uint64_t first_lsn = 0;
  std::string first_id;
  int64_t first_created_ns = 0;
};

// The object key of a partition (pure; see the header comment).
std::string ObjectKey(std::string_view prefix, std::string_view channel, const Partition& p,
                      std::string_view extension);
// ".jsonl", ".jsonl.gz", ".jsonl.zst".
std::string Extension(std::string_view format, std::string_view compression);

// The buffer: partitions by channel plus totals (pure, unit tested).
class Batch {
 public:
  explicit Batch(Layout layout = {}) : layout_(std::move(layout)) {}
  // Appends one event (the caller skips what is not written). Fails only
  // for parquet (no Parquet support, a row DuckDB refuses). Parquet typed:
  // values that did not convert to their column type are written as NULL
  // and counted in `stats`.
  Status Add(const Event& event, AppendStats* stats = nullptr);
  // Parquet: encodes the partition's rows into its body (once).
  Status Encode(Partition& p);
  bool empty() const { return partitions_.empty(); }
  size_t events() const { return events_; }
  size_t bytes() const { return bytes_; }
  // Lowest seq still held (nullopt when nothing tracked is held).
  std::optional<uint64_t> OldestSeq() const;
  std::map<std::string, Partition>& partitions() { return partitions_; }
  // Drops one uploaded partition.
  void Erase(std::map<std::string, Partition>::iterator it);
  // When the first event of the current buffer arrived (steady clock).
  std::chrono::steady_clock::time_point since() const { return since_; }

 private:
  using Partitions = std::map<std::string, Partition>;
  Result<Partitions::iterator> PartitionFor(const Event& event, bool typed);

  Layout layout_;
  std::map<std::string, Partition> partitions_;
  size_t events_ = 0;
  size_t bytes_ = 0;
  std::chrono::steady_clock::time_point since_{};
};

class S3Adapter final : public RetryingAdapter {
 public:
  explicit S3Adapter(Options options);
  ~S3Adapter() override;
  // Resolves credentials and checks the bucket (HeadBucket): 403/404 fail here.
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  // Uploads once flush_interval passed since the first buffered event.
  Status Flush() override;
  std::optional<uint64_t> OldestHeldSeq() const override;
  void Interrupt() override;
  // Drains the buffer (bounded by drain_timeout).
  void Close() override;

 private:
  Status Upload(std::chrono::steady_clock::time_point deadline);
  // Counts and logs typed-parquet values written as NULL.
  static void Unconverted(const Event& e, const AppendStats& stats);
  Status UploadPartition(const std::string& key, const std::string& body);
  Status Multipart(const std::string& key, const std::string& body,
                   std::chrono::steady_clock::time_point deadline);
  // Runs `call` until it succeeds, fails for good or `deadline` passes.
  Status Retry(const std::function<Reply()>& call, std::chrono::steady_clock::time_point deadline,
               Reply* out = nullptr);

  Options options_;
  std::unique_ptr<S3Client> client_;
  Batch batch_;
  std::string content_type_;
  std::string content_encoding_;
  std::string extension_;
};

// `pgcdc doctor`: HeadBucket with the configured credentials (any failure,
// also an unreachable endpoint, is a failed finding).
CheckList CheckBucket(const Options& o);

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::s3
