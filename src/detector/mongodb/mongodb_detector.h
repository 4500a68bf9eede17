// mongodb source (SPEC §2.6, issue 18; docs/mongodb.md): a MongoDB change
// stream through libmongoc. Scope collection (one collection: that
// collection's stream; several: the database's stream with
// $match {ns.coll: {$in: [...]}}), database or cluster; fullDocument and
// fullDocumentBeforeChange as configured. Events: change_event.h.
//
// Checkpoint: the resume token of the last event every adapter delivered
// (RunContext::acks) is upserted as {_id: <scope key>, resume_token,
// updated_at} into metadata_db.metadata_coll (at most every save_interval,
// and at shutdown) — deliberately unlike SPEC's "every 100 events / 5 s
// regardless of delivery". On start the stored token is passed as
// resumeAfter, so a crash re-delivers at most what was not yet saved
// (at-least-once; the same event keeps its id). The metadata collection's
// own changes are excluded from database and cluster streams.
//
// Errors: a missing or malformed URI, a server that cannot be reached on the
// first attempt → configuration error (exit 2). A lost connection later is
// resumed (libmongoc once, then the Supervisor with mongodb.backoff_*) from
// the last published token: nothing is lost or repeated. A stored token the
// server no longer has (ChangeStreamHistoryLost, code 286) stops pgcdc with
// an error naming the recovery (on_history_lost=fail, the default); with
// `resnapshot` a new stream is opened from now, every watched document is
// published as a SNAPSHOT event, and the new stream's start token is saved
// once they are delivered.
//
// Thread: Run() on the detector thread; one single-threaded mongoc client
// per connection.
#pragma once

#include <bson/bson.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/retry_policy.h"
#include "detector/consume/consume.h"
#include "detector/detector.h"
#include "registry/registry.h"

namespace pgcdc::detector::mongodb {

// An owned heap bson_t (bson_t's alignment attribute rules out unique_ptr).
class BsonPtr {
 public:
  BsonPtr() = default;
  explicit BsonPtr(bson_t* b) : b_(b) {}
  BsonPtr(std::nullptr_t) {}  // NOLINT(google-explicit-constructor)
  ~BsonPtr() { reset(); }
  BsonPtr(BsonPtr&& o) noexcept : b_(o.b_) { o.b_ = nullptr; }
  BsonPtr& operator=(BsonPtr&& o) noexcept {
    if (this != &o) {
      bson_t* b = o.b_;
      o.b_ = nullptr;
      reset(b);
    }
    return *this;
  }
  BsonPtr(const BsonPtr&) = delete;
  BsonPtr& operator=(const BsonPtr&) = delete;
  bson_t* get() const { return b_; }
  explicit operator bool() const { return b_ != nullptr; }
  bool operator==(std::nullptr_t) const { return b_ == nullptr; }
  void reset(bson_t* b = nullptr) {
    if (b_ != nullptr) bson_destroy(b_);
    b_ = b;
  }

 private:
  bson_t* b_ = nullptr;
};

// Also the connector's config struct (mongodb.*).
struct Options {
  std::string uri;
  std::string scope = "collection";
  std::string database;
  std::vector<std::string> collections;
  std::string full_document = "updateLookup";
  std::string full_document_before_change = "off";
  std::string metadata_db;  // empty: = database
  std::string metadata_coll = "pgcdc_resume_tokens";
  std::string on_history_lost = "fail";
  std::chrono::milliseconds save_interval{1000};
  std::chrono::milliseconds max_await{500};
  std::chrono::milliseconds timeout{10000};  // server selection and connect
  RetryPolicy backoff{.base = std::chrono::seconds(5), .cap = std::chrono::seconds(60)};
  // After a stop request, how long published events may still be delivered
  // so their token is saved (set from shutdown_timeout).
  std::chrono::milliseconds stop_grace{2500};
};

// What to watch, derived from Options.
struct Target {
  enum class Kind { kCluster, kDatabase, kCollection };
  Kind kind = Kind::kCollection;
  std::string database;
  std::string collection;           // kCollection
  std::vector<std::string> filter;  // kDatabase of several collections: ns.coll $in
  std::string scope_key;            // _id of the resume token document
  std::string metadata_db;
  std::string metadata_coll;
};
Target TargetOf(const Options& o);

// The configuration errors of `o` (one message per problem).
void Validate(const Options& o, std::vector<std::string>& errors);

// The aggregation pipeline (after libmongoc's $changeStream stage) and the
// watch options (fullDocument, fullDocumentBeforeChange, maxAwaitTimeMS,
// resumeAfter/startAfter when `token` is not empty).
void BuildPipeline(const Target& t, bson_t* pipeline);
void BuildWatchOptions(const Options& o, const bson_t* token, bool start_after, bson_t* opts);

// The server error code of a lost history (ChangeStreamHistoryLost).
inline constexpr uint32_t kHistoryLostCode = 286;

class MongodbDetector final : public Detector {
 public:
  explicit MongodbDetector(Options options);
  std::string_view Name() const override { return "mongodb"; }
  Status Run(RunContext& ctx) override;

  struct Session;  // one client (libmongoc stays in the .cc)

 private:
  friend struct Session;
  Status RunCycle(RunContext& ctx, Supervisor::Session& session);

  Options options_;
  Target target_;
  uint64_t next_seq_ = 0;  // seqs keep rising across connections
  bool token_loaded_ = false;
  BsonPtr resume_;                          // where the next stream starts (null: now)
  bool start_after_ = false;                // resume_ is an invalidate event's token
  consume::DeliveryQueue<BsonPtr> tokens_;  // published, not yet delivered
  BsonPtr unsaved_;                         // delivered, not yet saved
  std::chrono::steady_clock::time_point last_save_{};
};

// mongoc_init() and pgcdc's log handler for libmongoc, once per process.
void EnsureInit();

// `pgcdc doctor --detector mongodb`.
CheckList CheckServer(const Options& o);

}  // namespace pgcdc::detector::mongodb
