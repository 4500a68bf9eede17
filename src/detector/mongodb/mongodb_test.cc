#include <gtest/gtest.h>

#include "detector/mongodb/change_event.h"
#include "detector/mongodb/mongodb_detector.h"
#include "registry/test_util.h"

namespace pgcdc::detector::mongodb {
ConnectorInfo Connector();

namespace {

using testing::HasError;

BsonPtr FromJson(const std::string& json) {
  bson_error_t error;
  BsonPtr b(bson_new_from_json(reinterpret_cast<const uint8_t*>(json.data()),
                               static_cast<ssize_t>(json.size()), &error));
  EXPECT_TRUE(b) << error.message << " in " << json;
  return b;
}

ChangeEvent Map(const std::string& json) { return MapChangeEvent(FromJson(json).get()); }

TEST(MongodbEvent, InsertIsARowWithExtendedJsonValues) {
  ChangeEvent e = Map(R"({"_id":{"_data":"01"},"operationType":"insert",
      "wallTime":{"$date":"2024-01-02T03:04:05.006Z"},
      "ns":{"db":"shop","coll":"orders"},
      "documentKey":{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"}},
      "fullDocument":{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"n":{"$numberLong":"7"},
        "price":{"$numberDecimal":"9.99"},"at":{"$date":"2024-01-02T03:04:05Z"},
        "bin":{"$binary":{"base64":"AQI=","subType":"00"}},"f":1.5,"s":"a\"b"}})");
  EXPECT_TRUE(e.error.empty());
  EXPECT_EQ(e.channel, "pgcdc:shop.orders");
  EXPECT_EQ(e.operation, "INSERT");
  EXPECT_EQ(e.key, "65a1b2c3d4e5f60718293a4b");
  EXPECT_EQ(e.created_at_ns, 1704164645006000000);
  EXPECT_EQ(
      e.payload,
      R"({"collection":"orders","database":"shop",)"
      R"("document_key":{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"}},"old":null,"op":"INSERT",)"
      R"("row":{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"n":7,)"
      R"("price":{"$numberDecimal":"9.99"},"at":{"$date":"2024-01-02T03:04:05Z"},)"
      R"("bin":{"$binary":{"base64":"AQI=","subType":"00"}},"f":1.5,"s":"a\"b"}})");
}

TEST(MongodbEvent, UpdateCarriesTheDescriptionAndThePreImage) {
  ChangeEvent e = Map(R"({"_id":{"_data":"02"},"operationType":"update",
      "ns":{"db":"shop","coll":"orders"},"documentKey":{"_id":"k1"},
      "updateDescription":{"updatedFields":{"n":2},"removedFields":["x"],"truncatedArrays":[]},
      "fullDocument":{"_id":"k1","n":2},"fullDocumentBeforeChange":{"_id":"k1","n":1,"x":0}})");
  EXPECT_EQ(e.operation, "UPDATE");
  EXPECT_EQ(e.key, "k1");
  EXPECT_EQ(e.payload,
            R"({"collection":"orders","database":"shop","document_key":{"_id":"k1"},)"
            R"("old":{"_id":"k1","n":1,"x":0},"op":"UPDATE","row":{"_id":"k1","n":2},)"
            R"("update_description":{"removed_fields":["x"],"updated_fields":{"n":2}}})");
  // fullDocument "default": no row; replace is an UPDATE without a description.
  ChangeEvent r = Map(R"({"_id":{"_data":"03"},"operationType":"replace",
      "ns":{"db":"d","coll":"c"},"documentKey":{"_id":3},"fullDocument":{"_id":3}})");
  EXPECT_EQ(r.operation, "UPDATE");
  EXPECT_EQ(r.key, "3");
  EXPECT_EQ(r.payload.find("update_description"), std::string::npos);
  ChangeEvent u = Map(R"({"_id":{"_data":"04"},"operationType":"update",
      "ns":{"db":"d","coll":"c"},"documentKey":{"_id":3}})");
  EXPECT_NE(u.payload.find(R"("row":null,"update_description":{"removed_fields":[],)"),
            std::string::npos)
      << u.payload;
}

TEST(MongodbEvent, DeleteRowIsThePreImageWhenSent) {
  ChangeEvent e = Map(R"({"_id":{"_data":"05"},"operationType":"delete",
      "ns":{"db":"d","coll":"c"},"documentKey":{"_id":1}})");
  EXPECT_EQ(e.operation, "DELETE");
  EXPECT_EQ(e.payload, R"({"collection":"c","database":"d","document_key":{"_id":1},"old":null,)"
                       R"("op":"DELETE","row":null})");
  ChangeEvent pre = Map(R"({"_id":{"_data":"06"},"operationType":"delete",
      "ns":{"db":"d","coll":"c"},"documentKey":{"_id":1},"fullDocumentBeforeChange":{"_id":1,"v":2}})");
  EXPECT_NE(pre.payload.find(R"("old":null,"op":"DELETE","row":{"_id":1,"v":2})"),
            std::string::npos)
      << pre.payload;
}

TEST(MongodbEvent, OtherOperationsAreSystemEvents) {
  ChangeEvent e =
      Map(R"({"_id":{"_data":"07"},"operationType":"drop","ns":{"db":"d","coll":"c"}})");
  EXPECT_EQ(e.channel, "pgcdc:_mongo");
  EXPECT_EQ(e.operation, "drop");
  EXPECT_EQ(e.payload, R"({"collection":"c","database":"d","operation_type":"drop"})");
  ChangeEvent db = Map(R"({"_id":{"_data":"08"},"operationType":"dropDatabase","ns":{"db":"d"}})");
  EXPECT_EQ(db.payload, R"({"collection":"","database":"d","operation_type":"dropDatabase"})");
  EXPECT_FALSE(Map(R"({"_id":{"_data":"09"}})").error.empty());
}

TEST(MongodbEvent, SnapshotDocumentIsASnapshotRow) {
  ChangeEvent e = SnapshotEvent(
      FromJson(R"({"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"v":1})").get(), "d", "c");
  EXPECT_EQ(e.channel, "pgcdc:d.c");
  EXPECT_EQ(e.operation, "SNAPSHOT");
  EXPECT_EQ(e.key, "65a1b2c3d4e5f60718293a4b");
  EXPECT_EQ(
      e.payload,
      R"({"collection":"c","database":"d","document_key":{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"}},)"
      R"("old":null,"op":"SNAPSHOT","row":{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"v":1}})");
}

TEST(MongodbEvent, TokenDigestIsStable) {
  EXPECT_EQ(TokenDigest(FromJson(R"({"_data":"0A"})").get()),
            TokenDigest(FromJson(R"({"_data":"0A"})").get()));
  EXPECT_NE(TokenDigest(FromJson(R"({"_data":"0A"})").get()),
            TokenDigest(FromJson(R"({"_data":"0B"})").get()));
}

TEST(MongodbTarget, ScopeDecidesTheStreamAndTheTokenKey) {
  Options o;
  o.database = "shop";
  o.collections = {"orders"};
  Target t = TargetOf(o);
  EXPECT_EQ(t.kind, Target::Kind::kCollection);
  EXPECT_EQ(t.scope_key, "shop.orders");
  EXPECT_EQ(t.metadata_db, "shop");
  o.collections = {"orders", "users"};
  t = TargetOf(o);
  EXPECT_EQ(t.kind, Target::Kind::kDatabase);
  EXPECT_EQ(t.scope_key, "shop");
  BsonPtr pipeline(bson_new());
  BuildPipeline(t, pipeline.get());
  EXPECT_EQ(RelaxedJson(pipeline.get()),
            R"({"pipeline":[{"$match":{"ns.coll":{"$in":["orders","users"]}}},)"
            R"({"$match":{"ns.coll":{"$ne":"pgcdc_resume_tokens"}}}]})");
  o.scope = "cluster";
  o.metadata_db = "meta";
  t = TargetOf(o);
  EXPECT_EQ(t.kind, Target::Kind::kCluster);
  EXPECT_EQ(t.scope_key, "_cluster");
  pipeline.reset(bson_new());
  BuildPipeline(t, pipeline.get());
  EXPECT_EQ(
      RelaxedJson(pipeline.get()),
      R"({"pipeline":[{"$match":{"$nor":[{"ns.db":"meta","ns.coll":"pgcdc_resume_tokens"}]}}]})");
}

TEST(MongodbTarget, WatchOptionsFollowTheConfiguration) {
  Options o;
  BsonPtr opts(bson_new());
  BuildWatchOptions(o, nullptr, false, opts.get());
  EXPECT_EQ(RelaxedJson(opts.get()), R"({"fullDocument":"updateLookup","maxAwaitTimeMS":500})");
  o.full_document = "default";
  o.full_document_before_change = "whenAvailable";
  BsonPtr token = FromJson(R"({"_data":"0C"})");
  opts.reset(bson_new());
  BuildWatchOptions(o, token.get(), false, opts.get());
  EXPECT_EQ(RelaxedJson(opts.get()),
            R"({"fullDocumentBeforeChange":"whenAvailable","maxAwaitTimeMS":500,)"
            R"("resumeAfter":{"_data":"0C"}})");
  opts.reset(bson_new());
  BuildWatchOptions(o, token.get(), true, opts.get());
  EXPECT_NE(RelaxedJson(opts.get()).find(R"("startAfter":{"_data":"0C"})"), std::string::npos);
}

TEST(MongodbConfig, BadSettingsAreClearErrors) {
  const ConnectorInfo info = Connector();
  config::CoreSettings core;
  core.bus_mode = "reliable";  // what --detector mongodb implies
  auto errors = [&](const std::vector<std::pair<std::string, std::string>>& flags) {
    return testing::BindForTest<Options>(info, flags, core).second;
  };
  EXPECT_TRUE(HasError(errors({}), "mongodb.uri: required for detector mongodb"));
  EXPECT_TRUE(HasError(
      errors(
          {{"mongodb.uri", "http://x"}, {"mongodb.database", "d"}, {"mongodb.collections", "c"}}),
      "not a MongoDB connection string"));
  EXPECT_TRUE(HasError(errors({{"mongodb.uri", "mongodb://h"}, {"mongodb.collections", "c"}}),
                       "mongodb.database: required"));
  EXPECT_TRUE(HasError(errors({{"mongodb.uri", "mongodb://h"}, {"mongodb.database", "d"}}),
                       "scope collection needs at least one collection"));
  EXPECT_TRUE(errors({{"mongodb.uri", "mongodb://h"},
                      {"mongodb.database", "d"},
                      {"mongodb.scope", "database"}})
                  .empty());
  EXPECT_TRUE(HasError(errors({{"mongodb.uri", "mongodb://h"}, {"mongodb.scope", "cluster"}}),
                       "mongodb.metadata_db"));
  EXPECT_TRUE(errors({{"mongodb.uri", "mongodb://h"},
                      {"mongodb.scope", "cluster"},
                      {"mongodb.metadata_db", "m"},
                      {"mongodb.on_history_lost", "resnapshot"}})
                  .empty());
  EXPECT_TRUE(HasError(errors({{"mongodb.uri", "mongodb://h"},
                               {"mongodb.scope", "database"},
                               {"mongodb.database", "d"},
                               {"mongodb.on_history_lost", "skip"}}),
                       "mongodb.on_history_lost"));
  EXPECT_TRUE(HasError(testing::BindForTest<Options>(info, {{"mongodb.uri", "mongodb://h"},
                                                            {"mongodb.scope", "database"},
                                                            {"mongodb.database", "d"}})
                           .second,
                       "use --bus-mode reliable"));
  auto [o, e] = testing::BindForTest<Options>(
      info,
      {{"mongodb.uri", "mongodb://h"}, {"mongodb.database", "d"}, {"mongodb.collections", "a,b"}},
      core);
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(o.collections, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(o.full_document, "updateLookup");
  EXPECT_EQ(o.metadata_coll, "pgcdc_resume_tokens");
  EXPECT_EQ(o.backoff.base, std::chrono::seconds(5));
  EXPECT_EQ(o.backoff.cap, std::chrono::seconds(60));
}

}  // namespace
}  // namespace pgcdc::detector::mongodb
