#include "detector/mongodb/mongodb_detector.h"

#include <mongoc/mongoc.h>

#include <memory>
#include <mutex>
#include <utility>

#include "core/log.h"
#include "core/metrics.h"
#include "core/time.h"
#include "detector/delivery.h"
#include "detector/mongodb/change_event.h"

namespace pgcdc::detector::mongodb {

namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

constexpr std::string_view kSource = "mongodb";
constexpr size_t kSnapshotBatch = 500;
constexpr std::string_view kHistoryHint =
    "the oplog no longer holds the stored resume token, so changes made since it are lost to "
    "the change stream: restart with --mongodb-on-history-lost resnapshot (every watched "
    "document as a SNAPSHOT event, then the stream from now), or copy the collections by other "
    "means and delete the token document to start from now; enlarge the oplog "
    "(replSetResizeOplog) so it does not happen again";

struct Metrics {
  metrics::Counter& received = metrics::DefaultCounter(
      "pgcdc_mongodb_events_received_total", "Change stream events read by the mongodb source.");
  metrics::Counter& errors = metrics::DefaultCounter(
      "pgcdc_mongodb_errors_total",
      "Errors of the mongodb source (lost connections, failed commands, token saves).");
  metrics::Counter& saves = metrics::DefaultCounter(
      "pgcdc_mongodb_resume_token_saves_total",
      "Resume tokens saved to the metadata collection after their events were delivered.");
  metrics::Counter& dead_lettered = metrics::DefaultCounter(
      "pgcdc_mongodb_dead_lettered_total",
      "Change stream documents that could not become events (sent to the dead letter queue).");
  metrics::Counter& resnapshots = metrics::DefaultCounter(
      "pgcdc_mongodb_resnapshots_total",
      "Collections copied anew after a lost resume token (on_history_lost=resnapshot).");
  metrics::Gauge& pending = metrics::DefaultGauge(
      "pgcdc_mongodb_pending", "Change stream events published whose delivery is not confirmed.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

// libmongoc's own messages (warnings and worse) through pgcdc's log.
void LogHandler(mongoc_log_level_t level, const char* domain, const char* message, void* /*user*/) {
  if (level <= MONGOC_LOG_LEVEL_ERROR) {
    log::Error("libmongoc", {{"detector", kSource}, {"domain", domain}, {"message", message}});
  } else if (level == MONGOC_LOG_LEVEL_WARNING) {
    log::Warn("libmongoc", {{"detector", kSource}, {"domain", domain}, {"message", message}});
  }
}

}  // namespace

void EnsureInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_init();
    mongoc_log_set_handler(LogHandler, nullptr);
  });
}

namespace {

// libmongoc handles owned with their destroy function.
template <class T, void (*Destroy)(T*)>
struct Destroyer {
  void operator()(T* p) const { Destroy(p); }
};
template <class T, void (*Destroy)(T*)>
using Owned = std::unique_ptr<T, Destroyer<T, Destroy>>;
using UriPtr = Owned<mongoc_uri_t, mongoc_uri_destroy>;
using ClientPtr = Owned<mongoc_client_t, mongoc_client_destroy>;
using StreamPtr = Owned<mongoc_change_stream_t, mongoc_change_stream_destroy>;
using CollectionPtr = Owned<mongoc_collection_t, mongoc_collection_destroy>;

BsonPtr Copy(const bson_t* b) { return BsonPtr(bson_copy(b)); }

// The sub-document `key` of `doc` (null when missing or not a document).
BsonPtr DocumentMember(const bson_t* doc, const char* key) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key) || !BSON_ITER_HOLDS_DOCUMENT(&it)) return nullptr;
  uint32_t len = 0;
  const uint8_t* data = nullptr;
  bson_iter_document(&it, &len, &data);
  return BsonPtr(bson_new_from_data(data, len));
}

Result<UriPtr> ParseUri(const std::string& text) {
  EnsureInit();
  bson_error_t error;
  UriPtr uri(mongoc_uri_new_with_error(text.c_str(), &error));
  if (!uri) return Fail(ErrorCode::kConfig, std::string("mongodb.uri: ") + error.message);
  return uri;
}

// host:port list of the URI (no credentials), for logs and errors.
std::string Hosts(const mongoc_uri_t* uri) {
  std::string out;
  for (const mongoc_host_list_t* h = mongoc_uri_get_hosts(uri); h != nullptr; h = h->next) {
    if (!out.empty()) out += ',';
    out += h->host_and_port;
  }
  return out.empty() ? "(no host)" : out;
}

// The URI with pgcdc's defaults for what it does not say itself.
Result<UriPtr> ClientUri(const Options& o) {
  auto uri = ParseUri(o.uri);
  if (!uri) return uri;
  const auto ms = static_cast<int32_t>(o.timeout.count());
  mongoc_uri_t* u = uri->get();
  if (mongoc_uri_get_option_as_int32(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0) == 0) {
    (void)mongoc_uri_set_option_as_int32(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, ms);
  }
  if (mongoc_uri_get_option_as_int32(u, MONGOC_URI_CONNECTTIMEOUTMS, 0) == 0) {
    (void)mongoc_uri_set_option_as_int32(u, MONGOC_URI_CONNECTTIMEOUTMS, ms);
  }
  if (mongoc_uri_get_appname(u) == nullptr) (void)mongoc_uri_set_appname(u, "pgcdc");
  return uri;
}

Error CommandError(const bson_error_t& e, const std::string& what) {
  const ErrorCode code = e.domain == MONGOC_ERROR_SERVER && e.code == kHistoryLostCode
                             ? ErrorCode::kNotFound
                             : ErrorCode::kConnection;
  return Error(code, what + ": " + e.message);
}

// A connected client (ping answered).
Result<ClientPtr> Connect(const Options& o) {
  auto uri = ClientUri(o);
  if (!uri) return Fail(uri.error());
  ClientPtr client(mongoc_client_new_from_uri(uri->get()));
  if (!client) return Fail(ErrorCode::kConfig, "mongodb.uri: libmongoc refused the URI");
  (void)mongoc_client_set_error_api(client.get(), MONGOC_ERROR_API_VERSION_2);
  bson_t* ping = BCON_NEW("ping", BCON_INT32(1));
  bson_error_t error;
  const bool ok =
      mongoc_client_command_simple(client.get(), "admin", ping, nullptr, nullptr, &error);
  bson_destroy(ping);
  if (!ok) return Fail(CommandError(error, "connect to " + Hosts(uri->get())));
  return client;
}

// The stored token of `t` (null: none stored).
Result<BsonPtr> LoadToken(mongoc_client_t* client, const Target& t) {
  CollectionPtr coll(
      mongoc_client_get_collection(client, t.metadata_db.c_str(), t.metadata_coll.c_str()));
  bson_t* filter = BCON_NEW("_id", BCON_UTF8(t.scope_key.c_str()));
  bson_t* opts = BCON_NEW("limit", BCON_INT64(1));
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(coll.get(), filter, opts, nullptr);
  bson_destroy(filter);
  bson_destroy(opts);
  const bson_t* doc = nullptr;
  BsonPtr token;
  if (mongoc_cursor_next(cursor, &doc)) token = DocumentMember(doc, "resume_token");
  bson_error_t error;
  const bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  if (failed) {
    return Fail(
        CommandError(error, "read the resume token from " + t.metadata_db + "." + t.metadata_coll));
  }
  return token;
}

Status SaveToken(mongoc_client_t* client, const Target& t, const bson_t* token) {
  CollectionPtr coll(
      mongoc_client_get_collection(client, t.metadata_db.c_str(), t.metadata_coll.c_str()));
  bson_t* selector = BCON_NEW("_id", BCON_UTF8(t.scope_key.c_str()));
  bson_t* update = BCON_NEW("$set", "{", "resume_token", BCON_DOCUMENT(token), "updated_at",
                            BCON_DATE_TIME(NowUnixNanos() / 1'000'000), "}");
  bson_t* opts = BCON_NEW("upsert", BCON_BOOL(true));
  bson_error_t error;
  const bool ok = mongoc_collection_update_one(coll.get(), selector, update, opts, nullptr, &error);
  bson_destroy(selector);
  bson_destroy(update);
  bson_destroy(opts);
  if (!ok) {
    return Fail(
        CommandError(error, "save the resume token to " + t.metadata_db + "." + t.metadata_coll));
  }
  return Ok();
}

// The fatal error (and loud log line) of a resume token the server no
// longer has.
Error HistoryLost(const Target& t) {
  log::Error("resume token lost: the change stream cannot continue where it stopped",
             {{"detector", kSource}, {"scope_key", t.scope_key}, {"fix", kHistoryHint}});
  return Error(ErrorCode::kNotFound,
               "mongodb: the stored resume token of \"" + t.scope_key +
                   "\" is no longer in the server's oplog (ChangeStreamHistoryLost, code 286): " +
                   std::string(kHistoryHint));
}

using Namespaces = std::vector<std::pair<std::string, std::string>>;

bool Copied(const Target& t, const std::string& db, const std::string& coll) {
  return !coll.starts_with("system.") && !(db == t.metadata_db && coll == t.metadata_coll);
}

// The collections of `db` (without system ones and the token collection).
Status AppendCollections(mongoc_client_t* client, const Target& t, const std::string& db,
                         Namespaces& out) {
  mongoc_database_t* database = mongoc_client_get_database(client, db.c_str());
  bson_error_t error;
  char** names = mongoc_database_get_collection_names_with_opts(database, nullptr, &error);
  mongoc_database_destroy(database);
  if (names == nullptr) return Fail(CommandError(error, "list the collections of " + db));
  for (char** n = names; *n != nullptr; ++n) {
    if (Copied(t, db, *n)) out.emplace_back(db, *n);
  }
  bson_strfreev(names);
  return Ok();
}

// What a resnapshot copies: the watched collections.
Result<Namespaces> ListCollections(mongoc_client_t* client, const Target& t) {
  Namespaces out;
  if (t.kind == Target::Kind::kCollection) return Namespaces{{t.database, t.collection}};
  if (!t.filter.empty()) {
    for (const auto& c : t.filter) out.emplace_back(t.database, c);
    return out;
  }
  if (t.kind == Target::Kind::kDatabase) {
    if (auto st = AppendCollections(client, t, t.database, out); !st) return Fail(st.error());
    return out;
  }
  bson_error_t error;
  char** dbs = mongoc_client_get_database_names_with_opts(client, nullptr, &error);
  if (dbs == nullptr) return Fail(CommandError(error, "list the databases"));
  Status st = Ok();
  for (char** db = dbs; *db != nullptr && st; ++db) {
    const std::string name = *db;
    if (name == "admin" || name == "local" || name == "config") continue;
    st = AppendCollections(client, t, name, out);
  }
  bson_strfreev(dbs);
  if (!st) return Fail(st.error());
  return out;
}

// A change stream on `t` from `token` (null: from now).
Result<StreamPtr> OpenStream(mongoc_client_t* client, const Options& o, const Target& t,
                             const bson_t* token, bool start_after) {
  bson_t pipeline = BSON_INITIALIZER;
  bson_t opts = BSON_INITIALIZER;
  BuildPipeline(t, &pipeline);
  BuildWatchOptions(o, token, start_after, &opts);
  StreamPtr stream;
  switch (t.kind) {
    case Target::Kind::kCluster:
      stream.reset(mongoc_client_watch(client, &pipeline, &opts));
      break;
    case Target::Kind::kDatabase: {
      mongoc_database_t* db = mongoc_client_get_database(client, t.database.c_str());
      stream.reset(mongoc_database_watch(db, &pipeline, &opts));
      mongoc_database_destroy(db);
      break;
    }
    case Target::Kind::kCollection: {
      CollectionPtr coll(
          mongoc_client_get_collection(client, t.database.c_str(), t.collection.c_str()));
      stream.reset(mongoc_collection_watch(coll.get(), &pipeline, &opts));
      break;
    }
  }
  bson_destroy(&pipeline);
  bson_destroy(&opts);
  bson_error_t error;
  if (mongoc_change_stream_error_document(stream.get(), &error, nullptr)) {
    return Fail(CommandError(error, "open the change stream"));
  }
  return stream;
}

// Whether change streams can work here: hello names a replica set (setName)
// or a mongos (msg "isdbgrid").
CheckResult ReplicaSetCheck(mongoc_client_t* client) {
  bson_t* hello = BCON_NEW("hello", BCON_INT32(1));
  bson_t reply;
  bson_error_t error;
  const bool ok = mongoc_client_command_simple(client, "admin", hello, nullptr, &reply, &error);
  bson_destroy(hello);
  bson_iter_t it;
  const bool rs = ok && (bson_iter_init_find(&it, &reply, "setName") ||
                         (bson_iter_init_find(&it, &reply, "msg") && BSON_ITER_HOLDS_UTF8(&it)));
  bson_destroy(&reply);
  return Verdict(rs, CheckResult::Level::kFail, "replica set",
                 !ok ? std::string("hello failed: ") + error.message
                     : (rs ? "replica set or sharded cluster" : "standalone server"),
                 "change streams need a replica set (a single-node one will do: mongod --replSet "
                 "rs0, then rs.initiate())");
}

}  // namespace

CheckList CheckServer(const Options& o) {
  std::vector<std::string> errors;
  Validate(o, errors);
  if (!errors.empty()) return FailedCheck("configuration", errors.front());
  auto client = Connect(o);
  if (!client) {
    return FailedCheck("connect", client.error().message(),
                       "check --mongodb-uri and that the server runs");
  }
  CheckList out{{.name = "connect", .detail = "server answered ping"},
                ReplicaSetCheck(client->get())};
  const Target t = TargetOf(o);
  const std::string where =
      t.metadata_db + "." + t.metadata_coll + " {_id: \"" + t.scope_key + "\"}";
  auto token = LoadToken(client->get(), t);
  if (!token) {
    out.push_back({.level = CheckResult::Level::kFail,
                   .name = "resume token",
                   .detail = token.error().message(),
                   .hint = "pgcdc reads and writes " + where});
    return out;
  }
  if (!*token) {
    out.push_back(
        {.name = "resume token", .detail = "none stored in " + where + " (starts from now)"});
    return out;
  }
  auto stream = OpenStream(client->get(), o, t, token->get(), false);
  const bool lost = !stream && stream.error().code() == ErrorCode::kNotFound;
  out.push_back(
      Verdict(stream.has_value(), lost ? CheckResult::Level::kFail : CheckResult::Level::kWarn,
              "resume token",
              stream ? "stored in " + where + ", still in the oplog" : stream.error().message(),
              lost ? std::string(kHistoryHint) : "pgcdc retries opening the stream"));
  return out;
}

// ---------------------------------------------------------------------------

Target TargetOf(const Options& o) {
  Target t;
  t.database = o.database;
  t.metadata_db = o.metadata_db.empty() ? o.database : o.metadata_db;
  t.metadata_coll = o.metadata_coll;
  if (o.scope == "cluster") {
    t.kind = Target::Kind::kCluster;
    t.scope_key = "_cluster";
  } else if (o.scope == "database" || o.collections.size() != 1) {
    t.kind = Target::Kind::kDatabase;
    t.scope_key = o.database;
    if (o.scope == "collection") t.filter = o.collections;
  } else {
    t.kind = Target::Kind::kCollection;
    t.collection = o.collections[0];
    t.scope_key = o.database + "." + t.collection;
  }
  return t;
}

void BuildPipeline(const Target& t, bson_t* pipeline) {
  bson_t stages;
  BSON_APPEND_ARRAY_BEGIN(pipeline, "pipeline", &stages);
  int n = 0;
  auto stage = [&](bson_t* match) {
    const std::string index = std::to_string(n++);
    bson_t s;
    BSON_APPEND_DOCUMENT_BEGIN(&stages, index.c_str(), &s);
    BSON_APPEND_DOCUMENT(&s, "$match", match);
    bson_append_document_end(&stages, &s);
    bson_destroy(match);
  };
  if (!t.filter.empty()) {
    bson_t* match = bson_new();
    bson_t cond;
    bson_t in;
    BSON_APPEND_DOCUMENT_BEGIN(match, "ns.coll", &cond);
    BSON_APPEND_ARRAY_BEGIN(&cond, "$in", &in);
    for (size_t i = 0; i < t.filter.size(); ++i) {
      BSON_APPEND_UTF8(&in, std::to_string(i).c_str(), t.filter[i].c_str());
    }
    bson_append_array_end(&cond, &in);
    bson_append_document_end(match, &cond);
    stage(match);
  }
  // The token saves are changes too: keep them out of the stream.
  if (t.kind == Target::Kind::kDatabase && t.metadata_db == t.database) {
    stage(BCON_NEW("ns.coll", "{", "$ne", BCON_UTF8(t.metadata_coll.c_str()), "}"));
  } else if (t.kind == Target::Kind::kCluster) {
    stage(BCON_NEW("$nor", "[", "{", "ns.db", BCON_UTF8(t.metadata_db.c_str()), "ns.coll",
                   BCON_UTF8(t.metadata_coll.c_str()), "}", "]"));
  }
  bson_append_array_end(pipeline, &stages);
}

void BuildWatchOptions(const Options& o, const bson_t* token, bool start_after, bson_t* opts) {
  if (o.full_document != "default") BSON_APPEND_UTF8(opts, "fullDocument", o.full_document.c_str());
  if (o.full_document_before_change != "off") {
    BSON_APPEND_UTF8(opts, "fullDocumentBeforeChange", o.full_document_before_change.c_str());
  }
  BSON_APPEND_INT64(opts, "maxAwaitTimeMS", o.max_await.count());
  if (token != nullptr)
    BSON_APPEND_DOCUMENT(opts, start_after ? "startAfter" : "resumeAfter", token);
}

// ---------------------------------------------------------------------------

struct MongodbDetector::Session {
  MongodbDetector& d;
  RunContext& ctx;
  const Sleeper& sleeper;
  ClientPtr client;
  StreamPtr stream;
  uint64_t published = 0;  // the last seq this session handed to the bus
  bool stopping = false;   // the bus no longer takes events

  Status Watch();
  Status Resnapshot();
  Status CopyCollection(const std::string& db, const std::string& coll);
  bool Publish(EventBatch& batch);
  Status Serve();
  Status Take(const bson_t* doc, bool* invalidated);
  void SaveDelivered(bool force);
  Status Close();
};

Status MongodbDetector::Session::Watch() {
  auto opened = OpenStream(client.get(), d.options_, d.target_, d.resume_.get(), d.start_after_);
  if (!opened) return Fail(opened.error());
  stream = std::move(*opened);
  return Ok();
}

// on_history_lost=resnapshot: a new stream from now, then every document
// of the watched collections as SNAPSHOT events; the new stream's start
// token is saved once they are delivered (a crash before that copies again).
Status MongodbDetector::Session::Resnapshot() {
  log::Warn("resume token lost: copying the watched collections anew, then streaming from now",
            {{"detector", kSource}, {"scope_key", d.target_.scope_key}});
  // d.resume_ keeps the lost token until the copy is complete: a copy cut
  // short by an error starts over after the reconnect.
  auto opened = OpenStream(client.get(), d.options_, d.target_, nullptr, false);
  if (!opened) return Fail(opened.error());
  stream = std::move(*opened);
  const bson_t* start = mongoc_change_stream_get_resume_token(stream.get());
  BsonPtr start_token = start != nullptr ? Copy(start) : nullptr;
  auto colls = ListCollections(client.get(), d.target_);
  if (!colls) return Fail(colls.error());
  for (const auto& [db, coll] : *colls) {
    if (auto st = CopyCollection(db, coll); !st) return st;
    if (sleeper.woken() || stopping) return Ok();
  }
  M().resnapshots.Inc();
  if (!start_token) {
    log::Warn("the server sent no start token: the lost one stays stored until the next event",
              {{"detector", kSource}});
    return Ok();
  }
  d.resume_ = Copy(start_token.get());
  d.start_after_ = false;
  d.tokens_.Push(d.next_seq_, std::move(start_token));
  return Ok();
}

Status MongodbDetector::Session::CopyCollection(const std::string& db, const std::string& coll) {
  CollectionPtr c(mongoc_client_get_collection(client.get(), db.c_str(), coll.c_str()));
  bson_t filter = BSON_INITIALIZER;
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(c.get(), &filter, nullptr, nullptr);
  EventBatch batch;
  const bson_t* doc = nullptr;
  bool open = true;
  size_t rows = 0;
  while (open && !sleeper.woken() && mongoc_cursor_next(cursor, &doc)) {
    ChangeEvent e = SnapshotEvent(doc, db, coll);
    Event event = MakeEvent(std::move(e.channel), std::move(e.operation), std::move(e.payload),
                            "mongodb_changestream");
    event.key = std::move(e.key);
    event.seq = ++d.next_seq_;
    batch.events.push_back(std::move(event));
    ++rows;
    if (batch.events.size() >= kSnapshotBatch) open = Publish(batch);
  }
  bson_error_t error;
  const bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(&filter);
  if (failed) return Fail(CommandError(error, "copy " + db + "." + coll));
  if (open && !batch.events.empty()) (void)Publish(batch);
  log::Info(
      "collection copied",
      {{"detector", kSource}, {"ns", db + "." + coll}, {"documents", static_cast<uint64_t>(rows)}});
  return Ok();
}

// Hands `batch` to the bus (emptied); false once the pipeline stops.
bool MongodbDetector::Session::Publish(EventBatch& batch) {
  const bool ok = ctx.publish(std::move(batch));
  batch = EventBatch{};
  if (ok) published = d.next_seq_;
  stopping = stopping || !ok;
  return ok;
}

Status MongodbDetector::Session::Serve() {
  while (!sleeper.woken() && !stopping) {
    SaveDelivered(false);
    const bson_t* doc = nullptr;
    if (mongoc_change_stream_next(stream.get(), &doc)) {
      bool invalidated = false;
      if (auto st = Take(doc, &invalidated); !st) return st;
      if (invalidated) {
        (void)Close();
        return Fail(ErrorCode::kConnection,
                    "change stream invalidated (the collection or database was dropped or "
                    "renamed); a new one starts after the invalidate event");
      }
      continue;
    }
    bson_error_t error;
    if (mongoc_change_stream_error_document(stream.get(), &error, nullptr)) {
      M().errors.Inc();
      const Error e = CommandError(error, "change stream");
      if (e.code() != ErrorCode::kNotFound) return Fail(e);
      // Resnapshot: reconnect, where opening the stream meets the lost history.
      if (d.options_.on_history_lost == "resnapshot")
        return Fail(ErrorCode::kConnection, e.message());
      return Fail(HistoryLost(d.target_));
    }
  }
  return Close();
}

Status MongodbDetector::Session::Take(const bson_t* doc, bool* invalidated) {
  auto& m = M();
  m.received.Inc();
  BsonPtr token = DocumentMember(doc, "_id");
  if (!token) {
    m.errors.Inc();
    return Fail(ErrorCode::kProtocol, "a change stream document without a resume token (_id)");
  }
  ChangeEvent c = MapChangeEvent(doc);
  d.resume_ = Copy(token.get());
  d.start_after_ = c.operation_type == "invalidate";
  *invalidated = d.start_after_;
  Event event;
  event.id = consume::PositionId("mongodb:" + d.target_.scope_key, TokenDigest(token.get()));
  event.channel = std::move(c.channel);
  event.operation = std::move(c.operation);
  event.payload = std::move(c.payload);
  event.key = std::move(c.key);
  event.source = "mongodb_changestream";
  event.created_at_ns = c.created_at_ns > 0 ? c.created_at_ns : NowUnixNanos();
  if (!c.error.empty()) {
    event.payload = RelaxedJson(doc);
    if (auto st = consume::RecordUnusable(ctx, event, kSource, c.error, m.dead_lettered); !st) {
      return st;
    }
    d.tokens_.Push(d.next_seq_, std::move(token));
    return Ok();
  }
  event.seq = ++d.next_seq_;
  d.tokens_.Push(d.next_seq_, std::move(token));
  EventBatch batch;
  batch.events.push_back(std::move(event));
  if (!Publish(batch)) return Ok();  // the pipeline is stopping
  m.pending.Set(static_cast<double>(d.tokens_.size()));
  return Ok();
}

// Saves the token of the last delivered event (at most every save_interval
// unless `force`); a failed save is retried with the next one.
void MongodbDetector::Session::SaveDelivered(bool force) {
  d.tokens_.Release(consume::DeliveredThrough(ctx, d.next_seq_),
                    [&](BsonPtr&& t) { d.unsaved_ = std::move(t); });
  M().pending.Set(static_cast<double>(d.tokens_.size()));
  if (!d.unsaved_) return;
  const auto now = SteadyClock::now();
  if (!force && now - d.last_save_ < d.options_.save_interval) return;
  d.last_save_ = now;
  if (auto st = SaveToken(client.get(), d.target_, d.unsaved_.get()); !st) {
    M().errors.Inc();
    log::Warn("cannot save the resume token; retrying with the next one",
              {{"detector", kSource}, {"error", st.error().message()}});
    return;
  }
  d.unsaved_.reset();
  M().saves.Inc();
}

// At shutdown (or before a restart): lets the events in flight finish (up
// to stop_grace) and saves the last delivered token.
Status MongodbDetector::Session::Close() {
  if (!d.tokens_.empty()) {
    (void)consume::FinishInFlight(ctx, sleeper, published, d.options_.stop_grace, kSource);
  }
  SaveDelivered(true);
  return Ok();
}

// ---------------------------------------------------------------------------

MongodbDetector::MongodbDetector(Options options)
    : options_(std::move(options)), target_(TargetOf(options_)) {}

Status MongodbDetector::Run(RunContext& ctx) {
  EnsureInit();
  log::Info("starting detector", {{"detector", kSource},
                                  {"scope", options_.scope},
                                  {"scope_key", target_.scope_key},
                                  {"full_document", options_.full_document}});
  SupervisorOptions so = SupervisorFor(ctx, std::string(kSource), M().errors, options_.backoff);
  auto before_up = FatalBeforeUp(ErrorCode::kConfig);
  so.is_fatal = [before_up](const Error& e, bool ever_up) {
    return e.code() == ErrorCode::kNotFound || before_up(e, ever_up);
  };
  Supervisor supervisor(std::move(so), ctx.stop);
  return supervisor.Run([&](Supervisor::Session& session) { return RunCycle(ctx, session); });
}

Status MongodbDetector::RunCycle(RunContext& ctx, Supervisor::Session& session) {
  Session s{.d = *this, .ctx = ctx, .sleeper = session.sleeper()};
  auto client = Connect(options_);
  if (!client) {
    return Fail(consume::AtStart(session, next_seq_, client.error(), kSource, "--mongodb-uri"));
  }
  s.client = std::move(*client);
  if (!token_loaded_) {
    auto token = LoadToken(s.client.get(), target_);
    if (!token)
      return Fail(consume::AtStart(session, next_seq_, token.error(), kSource, "--mongodb-uri"));
    resume_ = std::move(*token);
    token_loaded_ = true;
  }
  if (auto st = s.Watch(); !st) {
    if (st.error().code() != ErrorCode::kNotFound) {
      return Fail(consume::AtStart(session, next_seq_, st.error(), kSource, "--mongodb-uri"));
    }
    if (options_.on_history_lost != "resnapshot") return Fail(HistoryLost(target_));
    session.Up();
    if (auto r = s.Resnapshot(); !r) return r;
  }
  session.Up();
  log::Info(
      "watching",
      {{"detector", kSource}, {"scope_key", target_.scope_key}, {"resumed", resume_ != nullptr}});
  return s.Serve();
}

}  // namespace pgcdc::detector::mongodb
