// The mongodb connector's declaration (SPEC §2.6), its validation and
// `pgcdc doctor --detector mongodb`.
#include <mongoc/mongoc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "detector/mongodb/mongodb_detector.h"
#include "registry/define.h"

namespace pgcdc::detector::mongodb {

namespace {

// Debian's libmongoc initialises itself when it is loaded (automatic init),
// which creates a shared-memory counters segment /dev/shm/mongoc-<pid> in
// every pgcdc process, mongodb in use or not. A process that is killed (or
// exits without mongoc_cleanup) leaves the file behind, and a later process
// that gets the same pid finds it and logs "Falling back to malloc for
// counters". Unlinking the name right away keeps the mapping (libmongoc's
// counters still work) and leaves nothing in /dev/shm. Runs during static
// initialisation, after the library's own constructor.
const bool kCountersSegmentUnlinked = [] {
  const std::string name = "/mongoc-" + std::to_string(static_cast<unsigned>(::getpid()));
  return ::shm_unlink(name.c_str()) == 0;
}();

}  // namespace

void Validate(const Options& o, std::vector<std::string>& errors) {
  if (o.uri.empty()) {
    errors.emplace_back("mongodb.uri: required for detector mongodb (--mongodb-uri)");
  } else {
    EnsureInit();
    bson_error_t error;
    mongoc_uri_t* uri = mongoc_uri_new_with_error(o.uri.c_str(), &error);
    if (uri == nullptr) {
      errors.push_back(std::string("mongodb.uri: not a MongoDB connection string: ") +
                       error.message);
    }
    mongoc_uri_destroy(uri);
  }
  if (o.scope != "cluster" && o.database.empty()) {
    errors.push_back("mongodb.database: required with scope " + o.scope + " (--mongodb-database)");
  }
  if (o.scope == "collection" && o.collections.empty()) {
    errors.emplace_back(
        "mongodb.collections: scope collection needs at least one collection "
        "(--mongodb-collections), or use --mongodb-scope database");
  }
  for (const auto& c : o.collections) {
    if (c.empty() || c.starts_with("system.") || c.find('$') != std::string::npos) {
      errors.push_back("mongodb.collections: \"" + c + "\" is not a collection name");
    }
  }
  if (o.scope == "cluster" && o.metadata_db.empty() && o.database.empty()) {
    errors.emplace_back(
        "mongodb.metadata_db: scope cluster needs a database for the resume tokens "
        "(--mongodb-metadata-db)");
  }
  if (o.metadata_coll.empty()) errors.emplace_back("mongodb.metadata_coll: must not be empty");
  ValidateBackoff("mongodb", o.backoff, errors);
}

ConnectorInfo Connector() {
  using O = Options;
  return DefineDetector<Options>({
      .name = "mongodb",
      .description =
          "MongoDB change streams (collection, database or cluster scope): insert/update/"
          "replace/delete as INSERT/UPDATE/DELETE with Extended JSON values; the resume token "
          "is saved only after every adapter delivered the event. At-least-once; needs no --db.",
      .params = Params({
          {Param("mongodb.uri", &O::uri, "MongoDB connection string (mongodb://…, a replica set)",
                 {.required = true}),
           Param("mongodb.scope", &O::scope, "what to watch",
                 {.choices = {"collection", "database", "cluster"}}),
           Param("mongodb.database", &O::database, "database to watch (required unless cluster)"),
           Param("mongodb.collections", &O::collections,
                 "collections to watch with scope collection (several: a database stream "
                 "filtered on them)"),
           Param("mongodb.full_document", &O::full_document, "fullDocument mode of update events",
                 {.choices = {"updateLookup", "default", "whenAvailable", "required"}}),
           Param("mongodb.full_document_before_change", &O::full_document_before_change,
                 "fullDocumentBeforeChange mode (MongoDB 6.0+, collections with "
                 "changeStreamPreAndPostImages): the pre-image becomes `old` (`row` of deletes)",
                 {.choices = {"off", "whenAvailable", "required"}}),
           Param("mongodb.metadata_db", &O::metadata_db,
                 "database of the resume token collection (default: mongodb.database)"),
           Param("mongodb.metadata_coll", &O::metadata_coll,
                 "collection holding {_id: scope key, resume_token, updated_at}"),
           Param("mongodb.on_history_lost", &O::on_history_lost,
                 "when the stored resume token is no longer in the oplog (code 286): fail "
                 "(exit with the recovery steps) or resnapshot (every watched document as a "
                 "SNAPSHOT event, then the stream from now)",
                 {.choices = {"fail", "resnapshot"}}),
           Param("mongodb.save_interval", &O::save_interval,
                 "saving the delivered resume token at most this often (and at shutdown)",
                 {.min = 1}),
           Param("mongodb.max_await", &O::max_await,
                 "how long one getMore waits for changes (maxAwaitTimeMS)", {.min = 1}),
           Param("mongodb.timeout", &O::timeout,
                 "server selection and connect timeout unless the URI sets them", {.min = 1})},
          ReconnectParams<O>("mongodb"),
      }),
      .validate =
          [](const O& o, const Context& ctx, Errors& errors) {
            Validate(o, errors);
            consume::ValidateCore(ctx.core, "mongodb", "their resume tokens would be saved",
                                  errors);
          },
      .make = [](O o, const Context& ctx) -> Result<DetectorPtr> {
        return consume::MakeConsumer<MongodbDetector>(std::move(o), ctx.core);
      },
      .check = [](const O& o, const Context&) { return CheckServer(o); },
  });
}

}  // namespace pgcdc::detector::mongodb

PGCDC_REGISTER_CONNECTOR(detector, mongodb, pgcdc::detector::mongodb::Connector)
