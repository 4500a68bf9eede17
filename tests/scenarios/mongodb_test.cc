// User journeys of the mongodb source (docs/mongodb.md). No MongoDB server is
// packaged for Debian, so these run the real libmongoc against a FAKE
// one-member replica set (tests/tools/fake_mongo.js, node + npm bson) that
// speaks the wire protocol: change events arrive with their SPEC shape; the
// resume token is saved only once delivered and a restart (also after
// kill -9) resumes from it; a token the server no longer has stops pgcdc
// with the recovery steps; a dropped connection is resumed without loss;
// configuration mistakes exit 2.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <set>

#include "harness.h"
#include "json_util.h"
#include "stream_clients.h"

namespace pgcdc::testing {
namespace {

// The fake server process and its control API.
class FakeMongo {
 public:
  FakeMongo() {
    proc_ = Process::Start({.args = {ToolsDir() + "/fake_mongo.js"}, .binary = "/usr/bin/node"});
    if (!proc_ || !proc_->WaitForLines(1)) {
      ADD_FAILURE() << "fake_mongo did not start: " << (proc_ ? proc_->Stderr() : "");
      return;
    }
    auto ports = ParseJson(proc_->StdoutLines()[0]).as_object();
    port_ = static_cast<int>(ports["mongo"].as_int64());
    control_ = "127.0.0.1:" + std::to_string(ports["control"].as_int64());
  }
  std::string Uri() const {
    return "mongodb://127.0.0.1:" + std::to_string(port_) + "/?replicaSet=rs0";
  }
  // POSTs `body` (Extended JSON) to the control API; the answer's JSON.
  boost::json::value Post(const std::string& path, const std::string& body = "{}") {
    auto r = HttpSend(control_, "POST", path, {"Content-Type: application/json"}, body);
    if (!r || r->status != 200) {
      ADD_FAILURE() << "fake_mongo " << path << " failed: " << (r ? r->body : "no answer")
                    << proc_->Stderr();
      return nullptr;
    }
    return ParseJson(r->body);
  }
  boost::json::value Get(const std::string& path) {
    auto r = HttpGet(control_, path);
    if (!r || r->status != 200) return nullptr;
    return ParseJson(r->body);
  }
  // The stored resume token's _data for `scope_key` ("" when none).
  std::string Token(const std::string& ns, const std::string& scope_key) {
    auto docs = Get("/collection?ns=" + ns);
    if (!docs.is_array()) return {};
    for (const auto& d : docs.as_array()) {
      const auto& o = d.as_object();
      if (o.at("_id").as_string() == scope_key) {
        return std::string(o.at("resume_token").as_object().at("_data").as_string());
      }
    }
    return {};
  }
  int64_t Stat(const std::string& name) { return Get("/stats").as_object()[name].as_int64(); }
  std::string Stderr() { return proc_ ? proc_->Stderr() : ""; }

 private:
  std::unique_ptr<Process> proc_;
  int port_ = 0;
  std::string control_;
};

std::vector<std::string> MongoArgs(const FakeMongo& m, std::vector<std::string> extra) {
  std::vector<std::string> args = {"listen",     "--detector",
                                   "mongodb",    "--mongodb-uri",
                                   m.Uri(),      "--mongodb-database",
                                   "shop",       "--mongodb-save-interval",
                                   "50ms",       "--mongodb-max-await",
                                   "100ms",      "--mongodb-backoff-base",
                                   "100ms",      "--mongodb-backoff-cap",
                                   "500ms",      "--http-addr",
                                   "127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::unique_ptr<Process> StartMongo(const FakeMongo& m, std::vector<std::string> extra) {
  auto p = Process::Start({.args = MongoArgs(m, std::move(extra))});
  if (p && !p->WaitForStderr("watching detector=mongodb")) {
    ADD_FAILURE() << p->Stderr();
    p.reset();
  }
  return p;
}

boost::json::object Obj(const std::string& line) { return ParseJson(line).as_object(); }

// The `n` (= _id) of each INSERT event line, in order.
std::vector<int64_t> InsertedIds(const std::vector<std::string>& lines) {
  std::vector<int64_t> ids;
  for (const auto& l : lines) {
    auto o = Obj(l);
    if (o["operation"].as_string() != "INSERT") continue;
    ids.push_back(o["payload"].as_object()["row"].as_object()["n"].as_int64());
  }
  return ids;
}

TEST(MongodbScenario, ChangesBecomeEventsAndTheTokenIsSavedOnceDelivered) {
  FakeMongo m;
  // Two collections: the database's stream filtered on them (and never the
  // token collection, which pgcdc writes to in the same database).
  auto p = StartMongo(m, {"--mongodb-collections", "orders,users"});
  ASSERT_TRUE(p);
  m.Post("/insert",
         R"({"db":"shop","coll":"orders","doc":{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},
      "total":{"$numberDecimal":"9.99"},"at":{"$date":"2024-01-02T03:04:05Z"},
      "big":{"$numberLong":"9007199254740993"},"bin":{"$binary":{"base64":"AQI=","subType":"00"}}}})");
  m.Post("/insert", R"({"db":"shop","coll":"skipped","doc":{"_id":1}})");
  m.Post("/insert", R"({"db":"shop","coll":"users","doc":{"_id":"u1","name":"Ada"}})");
  m.Post("/update", R"({"db":"shop","coll":"users","id":"u1","set":{"name":"Ada L."},"unset":[]})");
  m.Post("/replace", R"({"db":"shop","coll":"users","doc":{"_id":"u1","nick":"ada"}})");
  m.Post("/delete", R"({"db":"shop","coll":"users","id":"u1"})");
  ASSERT_TRUE(p->WaitForLines(5)) << p->Stderr();
  auto lines = p->StdoutLines();
  ASSERT_EQ(lines.size(), 5U);
  auto insert = Obj(lines[0]);
  EXPECT_EQ(insert["channel"].as_string(), "pgcdc:shop.orders");
  EXPECT_EQ(insert["operation"].as_string(), "INSERT");
  EXPECT_EQ(insert["source"].as_string(), "mongodb_changestream");
  EXPECT_EQ(
      boost::json::serialize(insert["payload"]),
      R"({"collection":"orders","database":"shop",)"
      R"("document_key":{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"}},"old":null,"op":"INSERT",)"
      R"("row":{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},"total":{"$numberDecimal":"9.99"},)"
      R"("at":{"$date":"2024-01-02T03:04:05Z"},"big":9007199254740993,)"
      R"("bin":{"$binary":{"base64":"AQI=","subType":"00"}}}})");
  auto update = Obj(lines[2]);
  EXPECT_EQ(update["operation"].as_string(), "UPDATE");
  EXPECT_EQ(boost::json::serialize(update["payload"]),
            R"({"collection":"users","database":"shop","document_key":{"_id":"u1"},"old":null,)"
            R"("op":"UPDATE","row":{"_id":"u1","name":"Ada L."},)"
            R"("update_description":{"removed_fields":[],"updated_fields":{"name":"Ada L."}}})");
  EXPECT_EQ(Obj(lines[3])["operation"].as_string(), "UPDATE");  // replace
  auto del = Obj(lines[4]);
  EXPECT_EQ(del["operation"].as_string(), "DELETE");
  EXPECT_EQ(boost::json::serialize(del["payload"]),
            R"({"collection":"users","database":"shop","document_key":{"_id":"u1"},"old":null,)"
            R"("op":"DELETE","row":null})");
  // The delete's token is saved once stdout wrote it.
  ASSERT_TRUE(Eventually([&] {
    const std::string t = m.Token("shop.pgcdc_resume_tokens", "shop");
    if (t.empty()) return false;
    auto e = m.Get("/oplog?token=" + t);
    return e.is_object() && e.as_object()["type"].as_string() == "delete";
  })) << p->Stderr();
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_mongodb_events_received_total"), 5.0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  EXPECT_EQ(p->StdoutLines().size(), 5U) << "the token saves must not become events";

  // A new run resumes after the saved token: only what changed since.
  m.Post("/insert", R"({"db":"shop","coll":"orders","doc":{"_id":2}})");
  auto q = StartMongo(m, {"--mongodb-collections", "orders,users"});
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->WaitForLines(1)) << q->Stderr();
  EXPECT_EQ(boost::json::serialize(Obj(q->StdoutLines()[0])["payload"].as_object()["row"]),
            R"({"_id":2})");
  EXPECT_NE(q->Stderr().find("resumed=true"), std::string::npos) << q->Stderr();
  q->Signal(SIGTERM);
  EXPECT_EQ(q->Wait(), 0) << q->Stderr();
  EXPECT_EQ(q->StdoutLines().size(), 1U);
}

// The token is saved only once the sink delivered the event: with stdout
// stuck (not read) the saved token stays behind what pgcdc read; once it
// drains, the token reaches the last event.
TEST(MongodbScenario, NoTokenIsSavedBeforeTheSinkDelivered) {
  FakeMongo m;
  auto p = StartMongo(m, {"--mongodb-collections", "orders"});
  ASSERT_TRUE(p);
  p->PauseStdout();
  const std::string pad(2000, 'x');
  for (int i = 1; i <= 200; ++i) {
    m.Post("/insert", R"({"db":"shop","coll":"orders","doc":{"_id":)" + std::to_string(i) +
                          R"(,"n":)" + std::to_string(i) + R"(,"pad":")" + pad + R"("}})");
  }
  auto saved_id = [&]() -> int64_t {
    const std::string t = m.Token("shop.pgcdc_resume_tokens", "shop.orders");
    if (t.empty()) return 0;
    return m.Get("/oplog?token=" + t).as_object()["key"].as_object()["_id"].as_int64();
  };
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_mongodb_events_received_total").value_or(0) == 200 &&
           ScrapeMetric(*p, "pgcdc_mongodb_pending").value_or(0) > 0;
  })) << p->Stderr();
  EXPECT_LT(saved_id(), 200) << "saved before the sink wrote them";
  p->ResumeStdout();
  ASSERT_TRUE(p->WaitForLines(200)) << p->Stderr();
  ASSERT_TRUE(Eventually([&] { return saved_id() == 200; })) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// Cluster scope: every database's changes, fullDocument default (updates
// without the document) and the pre-image when asked for.
TEST(MongodbScenario, ClusterScopeWithPreImages) {
  FakeMongo m;
  auto p = StartMongo(
      m, {"--mongodb-scope", "cluster", "--mongodb-metadata-db", "meta", "--mongodb-full-document",
          "default", "--mongodb-full-document-before-change", "whenAvailable"});
  ASSERT_TRUE(p);
  m.Post("/insert", R"({"db":"a","coll":"x","doc":{"_id":1,"v":1}})");
  m.Post("/update", R"({"db":"a","coll":"x","id":1,"set":{"v":2},"unset":[]})");
  m.Post("/insert", R"({"db":"b","coll":"y","doc":{"_id":1}})");
  m.Post("/drop", R"({"db":"b","coll":"y"})");
  ASSERT_TRUE(p->WaitForLines(4)) << p->Stderr();
  auto lines = p->StdoutLines();
  EXPECT_EQ(boost::json::serialize(Obj(lines[1])["payload"]),
            R"({"collection":"x","database":"a","document_key":{"_id":1},"old":{"_id":1,"v":1},)"
            R"("op":"UPDATE","row":null,)"
            R"("update_description":{"removed_fields":[],"updated_fields":{"v":2}}})");
  EXPECT_EQ(Obj(lines[2])["channel"].as_string(), "pgcdc:b.y");
  auto drop = Obj(lines[3]);
  EXPECT_EQ(drop["channel"].as_string(), "pgcdc:_mongo");
  EXPECT_EQ(drop["operation"].as_string(), "drop");
  EXPECT_EQ(boost::json::serialize(drop["payload"]),
            R"({"collection":"y","database":"b","operation_type":"drop"})");
  ASSERT_TRUE(Eventually([&] { return !m.Token("meta.pgcdc_resume_tokens", "_cluster").empty(); }))
      << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  EXPECT_EQ(p->StdoutLines().size(), 4U) << "the token saves must not become events";
}

// kill -9 mid-stream: every change arrives; the restart resumes after the
// saved token, and everything up to that token had been written before the
// kill (the token is saved only after delivery).
TEST(MongodbScenario, KillNineLosesNothing) {
  FakeMongo m;
  TempDir dir;
  const std::string out = dir.path + "/events.jsonl";
  constexpr int kRows = 20000;
  const std::vector<std::string> args = {"--mongodb-collections", "orders", "-a", "file",
                                         "--file-path",           out};
  auto p = StartMongo(m, args);
  ASSERT_TRUE(p);
  m.Post("/insert-range",
         R"({"db":"shop","coll":"orders","from":1,"to":)" + std::to_string(kRows) + "}");
  ASSERT_TRUE(Eventually([&] {
    return ReadFileLines(out).size() >= 2000 &&
           !m.Token("shop.pgcdc_resume_tokens", "shop.orders").empty();
  })) << p->Stderr();
  p->Signal(SIGKILL);
  p->Wait();
  // Changes made while pgcdc is down are picked up too.
  constexpr int kTotal = kRows + 1000;
  m.Post("/insert-range", R"({"db":"shop","coll":"orders","from":)" + std::to_string(kRows + 1) +
                              R"(,"to":)" + std::to_string(kTotal) + "}");
  const size_t written = ReadFileLines(out).size();
  const std::string token = m.Token("shop.pgcdc_resume_tokens", "shop.orders");
  auto at = m.Get("/oplog?token=" + token);
  ASSERT_TRUE(at.is_object()) << token;
  const int64_t saved_id = at.as_object()["key"].as_object()["_id"].as_int64();
  const auto before = InsertedIds(ReadFileLines(out));
  const std::set<int64_t> before_set(before.begin(), before.end());
  for (int64_t id = 1; id <= saved_id; ++id) {
    ASSERT_TRUE(before_set.contains(id))
        << "token of " << saved_id << " saved before " << id << " was written";
  }

  auto q = StartMongo(m, args);
  ASSERT_TRUE(q);
  ASSERT_TRUE(
      Eventually([&] { return ReadFileLines(out).size() >= written + kTotal - saved_id; }, 60s))
      << q->Stderr();
  q->Signal(SIGTERM);
  EXPECT_EQ(q->Wait(), 0) << q->Stderr();
  const auto all = InsertedIds(ReadFileLines(out));
  const std::vector<int64_t> resumed(all.begin() + static_cast<ptrdiff_t>(before.size()),
                                     all.end());
  ASSERT_FALSE(resumed.empty());
  EXPECT_EQ(resumed.front(), saved_id + 1) << "the restart resumes right after the saved token";
  std::set<int64_t> ids(all.begin(), all.end());
  EXPECT_EQ(ids.size(), static_cast<size_t>(kTotal));
  EXPECT_EQ(*ids.begin(), 1);
  EXPECT_EQ(*ids.rbegin(), kTotal);
  // At-least-once: only what was written after the saved token comes twice.
  EXPECT_LE(all.size() - ids.size(), before.size() - static_cast<size_t>(saved_id));
}

// The server closes every connection mid-stream: pgcdc reconnects, resumes
// from the last event it read, and nothing is lost or repeated.
TEST(MongodbScenario, DroppedConnectionIsResumed) {
  FakeMongo m;
  auto p = StartMongo(m, {"--mongodb-collections", "orders"});
  ASSERT_TRUE(p);
  m.Post("/insert-range", R"({"db":"shop","coll":"orders","from":1,"to":100})");
  ASSERT_TRUE(p->WaitForLines(100)) << p->Stderr();
  EXPECT_GE(m.Post("/drop-connections").as_object()["closed"].as_int64(), 1);
  m.Post("/insert-range", R"({"db":"shop","coll":"orders","from":101,"to":200})");
  ASSERT_TRUE(p->WaitForLines(200)) << p->Stderr();
  EXPECT_GE(m.Stat("connections"), 2);
  EXPECT_GE(m.Stat("aggregates"), 2) << "a new change stream resumed the old one";
  // libmongoc resumes once by itself (an aggregate, retried once as a
  // retryable read); when that fails too, pgcdc reconnects and resumes from
  // the last event it read.
  m.Post("/drop-connections", R"({"refuse_aggregates":3})");
  m.Post("/insert-range", R"({"db":"shop","coll":"orders","from":201,"to":300})");
  ASSERT_TRUE(p->WaitForLines(300)) << p->Stderr();
  EXPECT_NE(p->Stderr().find("connection lost, reconnecting"), std::string::npos) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  const auto ids = InsertedIds(p->StdoutLines());
  ASSERT_EQ(ids.size(), 300U);
  for (int64_t i = 0; i < 300; ++i) EXPECT_EQ(ids[static_cast<size_t>(i)], i + 1);
}

// The saved token is older than the server's oplog: a loud error naming the
// recovery, and pgcdc stops instead of silently skipping the gap.
TEST(MongodbScenario, HistoryLostStopsWithTheRecoverySteps) {
  FakeMongo m;
  auto p = StartMongo(m, {"--mongodb-collections", "orders"});
  ASSERT_TRUE(p);
  m.Post("/insert", R"({"db":"shop","coll":"orders","doc":{"_id":1}})");
  ASSERT_TRUE(p->WaitForLines(1)) << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return !m.Token("shop.pgcdc_resume_tokens", "shop.orders").empty();
  })) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  m.Post("/insert", R"({"db":"shop","coll":"orders","doc":{"_id":2}})");
  m.Post("/forget");
  auto [code, err] = RunToExit(MongoArgs(m, {"--mongodb-collections", "orders"}));
  EXPECT_EQ(code, 1) << err;
  EXPECT_NE(err.find("ChangeStreamHistoryLost, code 286"), std::string::npos) << err;
  EXPECT_NE(err.find("resume token lost"), std::string::npos) << err;
  EXPECT_NE(err.find("delete the token document"), std::string::npos) << err;
  // pgcdc doctor says so too, before anything starts.
  auto doctor =
      RunCommand({PgcdcBinary(), "doctor", "--detector", "mongodb", "--mongodb-uri", m.Uri(),
                  "--mongodb-database", "shop", "--mongodb-collections", "orders"});
  EXPECT_EQ(doctor.exit_code, 1) << doctor.output;
  EXPECT_NE(doctor.output.find("ok      mongodb    replica set"), std::string::npos)
      << doctor.output;
  EXPECT_NE(doctor.output.find("fail    mongodb    resume token"), std::string::npos)
      << doctor.output;
}

// on_history_lost=resnapshot: every watched document as a SNAPSHOT event
// (their state now), then the stream from now; the new start token is saved,
// so the next restart resumes normally.
TEST(MongodbScenario, HistoryLostResnapshotsWhenAsked) {
  FakeMongo m;
  const std::vector<std::string> args = {"--mongodb-scope", "database", "--mongodb-on-history-lost",
                                         "resnapshot"};
  auto p = StartMongo(m, args);
  ASSERT_TRUE(p);
  m.Post("/insert-range", R"({"db":"shop","coll":"orders","from":1,"to":3})");
  m.Post("/insert", R"({"db":"shop","coll":"users","doc":{"_id":"u1"}})");
  ASSERT_TRUE(p->WaitForLines(4)) << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    const std::string t = m.Token("shop.pgcdc_resume_tokens", "shop");
    return !t.empty() &&
           m.Get("/oplog?token=" + t).as_object()["ns"].as_object()["coll"] == "users";
  })) << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  m.Post("/update", R"({"db":"shop","coll":"orders","id":2,"set":{"n":20},"unset":[]})");
  m.Post("/delete", R"({"db":"shop","coll":"orders","id":3})");
  m.Post("/forget");

  auto q = StartMongo(m, args);
  ASSERT_TRUE(q);
  ASSERT_TRUE(q->WaitForLines(3)) << q->Stderr();
  EXPECT_NE(q->Stderr().find("resume token lost: copying the watched collections anew"),
            std::string::npos);
  m.Post("/insert", R"({"db":"shop","coll":"orders","doc":{"_id":4,"n":4}})");
  ASSERT_TRUE(q->WaitForLines(4)) << q->Stderr();
  auto lines = q->StdoutLines();
  std::vector<std::string> rows;
  for (size_t i = 0; i < 3; ++i) {
    auto o = Obj(lines[i]);
    EXPECT_EQ(o["operation"].as_string(), "SNAPSHOT") << lines[i];
    rows.push_back(std::string(o["channel"].as_string()) + " " +
                   boost::json::serialize(o["payload"].as_object()["row"]));
  }
  EXPECT_EQ(rows, (std::vector<std::string>{R"(pgcdc:shop.orders {"_id":1,"n":1})",
                                            R"(pgcdc:shop.orders {"_id":2,"n":20})",
                                            R"(pgcdc:shop.users {"_id":"u1"})"}));
  EXPECT_EQ(boost::json::serialize(Obj(lines[0])["payload"]),
            R"({"collection":"orders","database":"shop","document_key":{"_id":1},"old":null,)"
            R"("op":"SNAPSHOT","row":{"_id":1,"n":1}})");
  EXPECT_EQ(Obj(lines[3])["operation"].as_string(), "INSERT");
  ASSERT_TRUE(Eventually([&] {
    const std::string t = m.Token("shop.pgcdc_resume_tokens", "shop");
    auto e = m.Get("/oplog?token=" + t);
    return e.is_object() && e.as_object()["key"].as_object()["_id"] == 4;
  })) << q->Stderr();
  q->Signal(SIGTERM);
  EXPECT_EQ(q->Wait(), 0) << q->Stderr();

  // The next run resumes from the saved token: no second copy.
  m.Post("/insert", R"({"db":"shop","coll":"orders","doc":{"_id":5,"n":5}})");
  auto r = StartMongo(m, args);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->WaitForLines(1)) << r->Stderr();
  EXPECT_EQ(Obj(r->StdoutLines()[0])["operation"].as_string(), "INSERT");
  r->Signal(SIGTERM);
  EXPECT_EQ(r->Wait(), 0) << r->Stderr();
  EXPECT_EQ(r->StdoutLines().size(), 1U);
}

TEST(MongodbScenario, ConfigurationMistakesExitTwo) {
  auto [no_uri, e1] = RunToExit(
      {"listen", "--detector", "mongodb", "--mongodb-database", "d", "--mongodb-collections", "c"});
  EXPECT_EQ(no_uri, 2) << e1;
  EXPECT_NE(e1.find("mongodb.uri: required"), std::string::npos) << e1;
  auto [bad_uri, e2] = RunToExit({"listen", "--detector", "mongodb", "--mongodb-uri", "mongo://x",
                                  "--mongodb-database", "d", "--mongodb-collections", "c"});
  EXPECT_EQ(bad_uri, 2) << e2;
  EXPECT_NE(e2.find("not a MongoDB connection string"), std::string::npos) << e2;
  const std::string nobody = "mongodb://127.0.0.1:" + std::to_string(FreeTcpPort());
  auto [unreachable, e3] =
      RunToExit({"listen", "--detector", "mongodb", "--mongodb-uri", nobody, "--mongodb-database",
                 "d", "--mongodb-collections", "c", "--mongodb-timeout", "1s"});
  EXPECT_EQ(unreachable, 2) << e3;
  EXPECT_NE(e3.find("check --mongodb-uri"), std::string::npos) << e3;
}

}  // namespace
}  // namespace pgcdc::testing
