// User journey: events an adapter could not deliver sit in the pg_table dead
// letter queue; the operator inspects them with `pgcdc dlq list`, re-delivers
// them with `pgcdc dlq replay` (to the adapter they failed in, or elsewhere
// with --to) and cleans up with `pgcdc dlq purge`.
//
// One test runs the whole way (a pipeline whose webhook rejects everything
// fills the table through --dlq pg_table); another shows the nack window
// (--dlq-window-size) pausing such a pipeline instead of draining the stream
// into the DLQ. The others seed records with the
// INSERT the backend runs (src/dlq/pg_dlq_test.cc covers the backend), so they
// control created_at and the adapter names exactly.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "core/event.h"
#include "harness.h"
#include "http_receiver.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

namespace fs = std::filesystem;

// The table the pg_table backend creates (src/dlq/store.cc).
void CreateDlqTable(pg::Conn& conn, const std::string& table,
                    const std::string& payload_type = "JSON") {
  ExecOrFail(conn, "DROP TABLE IF EXISTS " + table);
  ExecOrFail(conn, "CREATE TABLE " + table +
                       " (id BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL, adapter TEXT NOT "
                       "NULL, error TEXT NOT NULL, payload " +
                       payload_type +
                       " NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now(), replayed_at "
                       "TIMESTAMPTZ)");
}

// Inserts one record like the backend does; returns the stored envelope.
std::string Seed(pg::Conn& conn, const std::string& table, const Event& e,
                 const std::string& adapter, const std::string& error,
                 const std::string& created_at = {}) {
  auto r = conn.Query("INSERT INTO " + table +
                          " (event_id, adapter, error, payload, created_at) VALUES ($1, $2, $3, "
                          "$4, coalesce($5::timestamptz, now()))",
                      {e.id.ToString(), adapter, error, e.Json(),
                       created_at.empty() ? std::nullopt : std::optional(created_at)});
  EXPECT_TRUE(r) << r.error().message();
  return e.Json();
}

Event Ev(const std::string& channel, const std::string& payload) {
  return MakeEvent(channel, "INSERT", payload, "listen_notify");
}

std::string Scalar(pg::Conn& conn, const std::string& sql) {
  auto r = conn.Query(sql);
  EXPECT_TRUE(r) << r.error().message();
  if (!r || r->empty() || !r->at(0).at(0)) return "<null>";
  return *r->at(0).at(0);
}

struct Outcome {
  int code = -1;
  std::vector<std::string> out;
  std::string err;
};

Outcome Pgcdc(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  auto p = Process::Start(
      {.args = std::move(args), .env = std::move(env), .cwd = fs::temp_directory_path().string()});
  Outcome r;
  if (!p) return r;
  r.code = p->Wait(60s).value_or(-1);
  r.out = p->StdoutLines();
  r.err = p->Stderr();
  return r;
}

std::vector<std::string> Dlq(const std::string& sub, const std::string& table,
                             std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"dlq", sub, "--db", SharedCluster().Url(), "--dlq-table", table};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

TEST(DlqScenario, ListAsTableAndJsonWithFilters) {
  auto conn = Connect();
  const std::string t = "dl_list";
  CreateDlqTable(conn, t);
  const std::string long_error(100, 'x');
  Seed(conn, t, Ev("pgcdc:a", "1"), "webhook", "HTTP 500", "2025-06-15T10:00:00Z");
  Seed(conn, t, Ev("pgcdc:b", "2"), "file", long_error, "2025-06-15T11:00:00Z");
  const std::string third =
      Seed(conn, t, Ev("pgcdc:c", R"({"k":"v"})"), "webhook", "timeout", "2025-06-15T12:00:00Z");
  ExecOrFail(conn, "UPDATE " + t + " SET replayed_at = '2025-06-16T00:00:00Z' WHERE id = 1");

  Outcome all = Pgcdc(Dlq("list", t));
  ASSERT_EQ(all.code, 0) << all.err;
  ASSERT_EQ(all.out.size(), 4u) << Joined(all.out);
  EXPECT_EQ(all.out[0].rfind("ID  EVENT_ID", 0), 0u) << all.out[0];
  EXPECT_NE(all.out[0].find("ADAPTER  ERROR"), std::string::npos);
  EXPECT_NE(all.out[0].find("CREATED_AT"), std::string::npos);
  // Newest first.
  EXPECT_EQ(all.out[1].rfind("3 ", 0), 0u) << all.out[1];
  EXPECT_NE(all.out[1].find("2025-06-15T12:00:00Z"), std::string::npos);
  EXPECT_EQ(all.out[1].back(), '-');  // not replayed
  EXPECT_NE(all.out[2].find(std::string(57, 'x') + "..."), std::string::npos) << all.out[2];
  EXPECT_EQ(all.out[2].find(std::string(58, 'x')), std::string::npos);
  EXPECT_NE(all.out[3].find("2025-06-16T00:00:00Z"), std::string::npos) << all.out[3];

  Outcome limited = Pgcdc(Dlq("list", t, {"--limit", "2"}));
  ASSERT_EQ(limited.code, 0) << limited.err;
  ASSERT_EQ(limited.out.size(), 4u) << Joined(limited.out);
  EXPECT_EQ(limited.out[3], "Showing 2 of 3 total records. Use --limit to see more.");

  // --adapter, inclusive --since/--until, --pending, --id; env for the db.
  Outcome filtered = Pgcdc({"dlq", "list", "--dlq-table", t, "--adapter", "webhook", "--since",
                            "2025-06-15T10:00:00Z", "--until", "2025-06-15T14:00:00+02:00"},
                           {{"PGCDC_DATABASE_URL", SharedCluster().Url()}});
  ASSERT_EQ(filtered.code, 0) << filtered.err;
  ASSERT_EQ(filtered.out.size(), 3u) << Joined(filtered.out);
  EXPECT_EQ(filtered.out[1].rfind("3 ", 0), 0u);
  EXPECT_EQ(filtered.out[2].rfind("1 ", 0), 0u);
  Outcome pending = Pgcdc(Dlq("list", t, {"--pending", "--adapter", "webhook"}));
  ASSERT_EQ(pending.out.size(), 2u) << Joined(pending.out);
  Outcome by_id = Pgcdc(Dlq("list", t, {"--id", "2", "-o", "json"}));
  ASSERT_EQ(by_id.code, 0) << by_id.err;
  ASSERT_EQ(by_id.out.size(), 1u);
  auto one = ParseJson(by_id.out[0]).as_array();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].at("adapter").as_string(), "file");
  EXPECT_EQ(one[0].at("error").as_string(), long_error);  // not truncated in JSON

  Outcome json = Pgcdc(Dlq("list", t, {"-o", "json"}));
  ASSERT_EQ(json.code, 0) << json.err;
  ASSERT_EQ(json.out.size(), 1u);
  auto arr = ParseJson(json.out[0]).as_array();
  ASSERT_EQ(arr.size(), 3u);
  EXPECT_EQ(arr[0].at("id").as_int64(), 3);
  EXPECT_EQ(arr[0].at("created_at").as_string(), "2025-06-15T12:00:00Z");
  EXPECT_TRUE(arr[0].at("replayed_at").is_null());
  EXPECT_EQ(arr[2].at("replayed_at").as_string(), "2025-06-16T00:00:00Z");
  // The payload is the envelope itself, byte for byte.
  const std::string& line = json.out[0];
  EXPECT_NE(line.find("\"payload\":" + third + ","), std::string::npos) << line;

  Outcome none = Pgcdc(Dlq("list", t, {"--adapter", "nope"}));
  ASSERT_EQ(none.code, 0) << none.err;
  ASSERT_EQ(none.out.size(), 1u);
  EXPECT_EQ(none.out[0], "No dead letter queue records found.");
  Outcome none_json = Pgcdc(Dlq("list", t, {"--adapter", "nope", "-o", "json"}));
  ASSERT_EQ(none_json.out.size(), 1u);
  EXPECT_EQ(none_json.out[0], "[]");
}

TEST(DlqScenario, ReplayToStdoutIsByteIdenticalAndMarksRecords) {
  auto conn = Connect();
  const std::string t = "dl_replay";
  CreateDlqTable(conn, t);
  std::vector<std::string> envelopes;
  // Key order, number spelling, escapes and non-ASCII survive the round trip.
  envelopes.push_back(Seed(conn, t, Ev("pgcdc:orders", R"({"z":1,"a":1.50,"s":"é \u0000 <&>"})"),
                           "webhook", "HTTP 503"));
  Event with_tx = Ev("pgcdc:orders", R"({"id":2})");
  with_tx.transaction =
      TransactionInfo{.xid = 771, .commit_time_ns = 1750000000123456789, .seq = 3};
  envelopes.push_back(Seed(conn, t, with_tx, "webhook", "HTTP 503"));
  envelopes.push_back(Seed(conn, t, Ev("pgcdc:other", "\"plain\""), "file", "disk full"));

  Outcome dry = Pgcdc(Dlq("replay", t, {"--dry-run", "--to", "stdout"}));
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_EQ(Joined(dry.out),
            "Dry run: 3 pending record(s) would be replayed to stdout:\n  file: 1\n  webhook: 2\n");
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM " + t + " WHERE replayed_at IS NULL"), "3");

  Outcome replay = Pgcdc(Dlq("replay", t, {"--to", "stdout"}));
  ASSERT_EQ(replay.code, 0) << replay.err;
  EXPECT_EQ(replay.out, envelopes);  // byte-identical, oldest first
  EXPECT_NE(replay.err.find("  stdout: 3 succeeded, 0 failed\n"), std::string::npos) << replay.err;
  EXPECT_NE(replay.err.find("Replay complete: 3 succeeded, 0 failed."), std::string::npos);
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM " + t +
                             " WHERE replayed_at > now() - interval '1 minute'"),
            "3");
  Outcome listed = Pgcdc(Dlq("list", t, {"--pending"}));
  EXPECT_EQ(Joined(listed.out), "No dead letter queue records found.\n");

  // Nothing left to do.
  Outcome again = Pgcdc(Dlq("replay", t, {"--to", "stdout"}));
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(again.out.empty()) << Joined(again.out);
  EXPECT_NE(again.err.find("No pending dead letter queue records to replay."), std::string::npos);

  // purge --replayed --force removes them; pending records stay.
  Seed(conn, t, Ev("pgcdc:new", "1"), "stdout", "x");
  Outcome purge = Pgcdc(Dlq("purge", t, {"--replayed", "--force"}));
  ASSERT_EQ(purge.code, 0) << purge.err;
  EXPECT_EQ(Joined(purge.out), "Purged 3 dead letter queue record(s).\n");
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM " + t), "1");
}

TEST(DlqScenario, ReplayGoesBackToEachRecordsAdapterAndToFile) {
  auto conn = Connect();
  const std::string t = "dl_route";
  CreateDlqTable(conn, t);
  TempDir dir;
  const std::string path = dir.path + "/replayed.jsonl";
  const std::string a = Seed(conn, t, Ev("pgcdc:a", "1"), "file", "e");
  const std::string b = Seed(conn, t, Ev("pgcdc:b", "2"), "stdout", "e");
  const std::string c = Seed(conn, t, Ev("pgcdc:c", "3"), "file", "e");

  // --limit 2 takes the two oldest; --batch-size 1 pages one record at a time.
  Outcome first =
      Pgcdc(Dlq("replay", t, {"--file-path", path, "--limit", "2", "--batch-size", "1"}));
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_EQ(first.out, std::vector<std::string>{b});
  EXPECT_EQ(ReadFileLines(path), std::vector<std::string>{a});
  EXPECT_NE(first.err.find("  file: 1 succeeded, 0 failed\n  stdout: 1 succeeded, 0 failed\n"),
            std::string::npos)
      << first.err;

  Outcome rest = Pgcdc(Dlq("replay", t, {"--file-path", path}));
  ASSERT_EQ(rest.code, 0) << rest.err;
  EXPECT_TRUE(rest.out.empty());
  EXPECT_EQ(ReadFileLines(path), (std::vector<std::string>{a, c}));
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM " + t + " WHERE replayed_at IS NULL"), "0");

  // --to file with the file flags from the environment, as for `listen`.
  const std::string d = Seed(conn, t, Ev("pgcdc:d", "4"), "webhook", "e");
  Outcome to_file = Pgcdc(Dlq("replay", t, {"--to", "file"}), {{"PGCDC_FILE_PATH", path}});
  ASSERT_EQ(to_file.code, 0) << to_file.err;
  EXPECT_EQ(ReadFileLines(path), (std::vector<std::string>{a, c, d}));
}

// A tiny HTTP endpoint (node): /ok answers 200, anything else 400; prints
// "PORT <n>" once listening and "BODY <request body>" per request.
std::unique_ptr<Process> StartWebhookPeer() {
  const std::string script = R"JS(
    const http = require('http');
    const s = http.createServer((req, res) => {
      let body = '';
      req.on('data', d => body += d);
      req.on('end', () => {
        console.log('BODY ' + body);
        res.writeHead(req.url === '/ok' ? 200 : 400);
        res.end();
      });
    });
    s.listen(0, '127.0.0.1', () => console.log('PORT ' + s.address().port));
  )JS";
  return Process::Start({.args = {"node", "-e", script}, .binary = "/usr/bin/env"});
}

TEST(DlqScenario, ReplayToAStillFailingWebhookKeepsRecordsPending) {
  auto peer = StartWebhookPeer();
  ASSERT_TRUE(peer && peer->WaitForLines(1)) << (peer ? peer->Stderr() : "no node");
  const std::string first = peer->StdoutLines().at(0);
  ASSERT_EQ(first.rfind("PORT ", 0), 0u) << first;
  const std::string base = "http://127.0.0.1:" + first.substr(5);

  auto conn = Connect();
  const std::string t = "dl_webhook";
  CreateDlqTable(conn, t);
  const std::string a = Seed(conn, t, Ev("pgcdc:a", R"({"n":1})"), "webhook", "HTTP 503");
  const std::string b = Seed(conn, t, Ev("pgcdc:b", R"({"n":2})"), "webhook", "HTTP 503");

  // The endpoint rejects them again: they are dead-lettered again, stay pending.
  Outcome rejected = Pgcdc(Dlq("replay", t, {"--url", base + "/bad", "--retries", "1"}));
  EXPECT_EQ(rejected.code, 1) << rejected.err;
  EXPECT_NE(rejected.err.find("adapter webhook) failed: dead-lettered again:"), std::string::npos)
      << rejected.err;
  EXPECT_NE(rejected.err.find("  webhook: 0 succeeded, 2 failed"), std::string::npos);
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM " + t + " WHERE replayed_at IS NULL"), "2");

  // Fixed endpoint: delivered byte for byte, marked.
  Outcome ok = Pgcdc(Dlq("replay", t, {"--url", base + "/ok"}));
  ASSERT_EQ(ok.code, 0) << ok.err;
  EXPECT_NE(ok.err.find("  webhook: 2 succeeded, 0 failed"), std::string::npos) << ok.err;
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM " + t + " WHERE replayed_at IS NULL"), "0");
  ASSERT_TRUE(peer->WaitForLines(5));
  const auto lines = peer->StdoutLines();
  EXPECT_EQ(lines[3], "BODY " + a);
  EXPECT_EQ(lines[4], "BODY " + b);
}

// The row ids of the events in the stderr DLQ lines and in the requests the
// receiver answered with 200.
std::set<int64_t> DeadLetteredIds(const std::string& err) {
  std::set<int64_t> ids;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("{\"event\":")) continue;
    auto e = ParseJson(line).as_object()["event"].as_object();
    ids.insert(e["payload"].as_object()["row"].as_object()["id"].as_int64());
  }
  return ids;
}

std::set<int64_t> AcceptedIds(const HttpReceiver& hook) {
  std::set<int64_t> ids;
  for (const auto& r : hook.Requests()) {
    if (r.reply_status != 200) continue;
    auto e = ParseJson(r.body).as_object();
    ids.insert(e["payload"].as_object()["row"].as_object()["id"].as_int64());
  }
  return ids;
}

TEST(DlqScenario, NackWindowPausesInsteadOfDrainingTheStreamIntoTheDlq) {
  HttpReceiver hook;
  ASSERT_TRUE(hook.ok());
  hook.SetResponder(
      [](const HttpReceiver::Request&) { return HttpReceiver::Reply{.status = 400}; });
  auto conn = Connect();
  FreshPublishedTable(conn, "dl_window", "id int PRIMARY KEY", "p_dl_window", "pgcdc_p_dl_window");
  const std::vector<std::string> args = WalListenArgs(
      "p_dl_window", {"--persistent-slot", "-a", "webhook", "--url", hook.Url(), "--retries", "1",
                      "--dlq-window-size", "20", "--dlq-window-threshold", "10"});
  const std::string paused_series = "pgcdc_nack_window_exceeded_total{adapter=\"webhook\"}";
  const std::string dlq_series = "pgcdc_dlq_records_total{adapter=\"webhook\"}";
  auto p = Process::Start({.args = args});
  ASSERT_TRUE(p && p->WaitForStderr("streaming detector=wal")) << (p ? p->Stderr() : "");
  constexpr int kRows = 200;
  ExecOrFail(conn,
             "INSERT INTO dl_window SELECT generate_series(1, " + std::to_string(kRows) + ")");
  // The insert position (the write position lags without synchronous commit).
  auto end = conn.Query("SELECT pg_current_wal_insert_lsn()::text");
  ASSERT_TRUE(end && !end->empty());
  const std::string written = *end->at(0).at(0);

  // Ten events dead-lettered, then the webhook is paused: health red, nothing
  // more recorded, the slot not confirmed past the rows.
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*p, paused_series) == 1.0; })) << p->Stderr();
  EXPECT_TRUE(p->WaitForStderr("nack window exceeded")) << p->Stderr();
  auto health = HttpGet(*p->HttpAddr(), "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 503);
  EXPECT_NE(health->body.find("\"nack_window/webhook\":{\"status\":\"down\""), std::string::npos)
      << health->body;
  EXPECT_EQ(ScrapeMetric(*p, dlq_series), 10.0);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_adapter_paused{adapter=\"webhook\"}"), 1.0);
  EXPECT_LE(hook.Count(), 11u);  // the eleventh rejection waits, unrecorded
  auto confirmed = conn.Query(
      "SELECT confirmed_flush_lsn < $1::pg_lsn FROM pg_replication_slots WHERE slot_name = $2",
      {written, std::string("pgcdc_p_dl_window")});
  ASSERT_TRUE(confirmed && !confirmed->empty());
  EXPECT_EQ(confirmed->at(0).at(0), "t") << written;

  // Stopped while paused: a clean exit, nothing acknowledged.
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  EXPECT_NE(p->Stderr().find("stopped while paused"), std::string::npos) << p->Stderr();

  // Restarted: the rows come again and pause it again; the sink is fixed and
  // SIGHUP resumes it. Every row is then delivered or dead-lettered.
  hook.Clear();
  auto again = Process::Start({.args = args});
  ASSERT_TRUE(again && again->WaitForStderr("streaming detector=wal"));
  ASSERT_TRUE(Eventually([&] { return ScrapeMetric(*again, paused_series) == 1.0; }))
      << again->Stderr();
  hook.SetResponder(
      [](const HttpReceiver::Request&) { return HttpReceiver::Reply{.status = 200}; });
  again->Signal(SIGHUP);
  ASSERT_TRUE(again->WaitForStderr("nack window: adapter resumed")) << again->Stderr();
  std::set<int64_t> all;
  ASSERT_TRUE(Eventually([&] {
    all = AcceptedIds(hook);
    for (int64_t id : DeadLetteredIds(again->Stderr())) all.insert(id);
    return all.size() == static_cast<size_t>(kRows);
  })) << all.size()
      << " of " << kRows;
  EXPECT_NE(Healthz(*again).find("\"nack_window/webhook\":{\"status\":\"up\""), std::string::npos);
  EXPECT_EQ(ScrapeMetric(*again, "pgcdc_adapter_paused{adapter=\"webhook\"}"), 0.0);
  again->Signal(SIGTERM);
  EXPECT_EQ(again->Wait(), 0) << again->Stderr();
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_dl_window')");
}

TEST(DlqScenario, PipelineDeadLettersIntoTheTableThenReplay) {
  // End to end: a webhook that rejects everything, --dlq pg_table creates the
  // table on the first failure, and the records replay to stdout unchanged.
  auto peer = StartWebhookPeer();
  ASSERT_TRUE(peer && peer->WaitForLines(1)) << (peer ? peer->Stderr() : "no node");
  const std::string base = "http://127.0.0.1:" + peer->StdoutLines().at(0).substr(5);
  auto conn = Connect();
  const std::string t = "dl_pipeline";
  ExecOrFail(conn, "DROP TABLE IF EXISTS " + t);

  auto listen =
      Process::Start({.args = {"listen", "--db", SharedCluster().Url(), "-c", "pgcdc:dlq_e2e", "-a",
                               "webhook", "--url", base + "/bad", "--retries", "1", "--dlq",
                               "pg_table", "--dlq-table", t, "--http-addr", "127.0.0.1:0"}});
  ASSERT_TRUE(listen);
  ASSERT_TRUE(listen->WaitForStderr("listening detector=listen_notify")) << listen->Stderr();
  for (const char* payload : {R"({"k": 1, "a": "x"})", "plain"}) {
    auto r = conn.Query("SELECT pg_notify('pgcdc:dlq_e2e', $1)", {std::string(payload)});
    ASSERT_TRUE(r) << r.error().message();
  }
  ASSERT_TRUE(Eventually([&] {
    auto r = conn.Query("SELECT count(*) FROM " + t);
    return r && r->at(0).at(0) == "2";
  })) << listen->Stderr();
  EXPECT_EQ(ScrapeMetric(*listen, "pgcdc_dlq_records_total{adapter=\"webhook\"}"), 2);
  // Records not replayed yet (counted from the table on the first write).
  EXPECT_EQ(ScrapeMetric(*listen, "pgcdc_dlq_depth"), 2);
  listen->Signal(SIGTERM);
  EXPECT_EQ(listen->Wait(), 0) << listen->Stderr();

  Outcome listed = Pgcdc(Dlq("list", t, {"-o", "json"}));
  ASSERT_EQ(listed.code, 0) << listed.err;
  auto arr = ParseJson(listed.out.at(0)).as_array();
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[0].at("adapter").as_string(), "webhook");
  EXPECT_NE(std::string(arr[0].at("error").as_string()).find("HTTP 400"), std::string::npos);

  Outcome replay = Pgcdc(Dlq("replay", t, {"--to", "stdout"}));
  ASSERT_EQ(replay.code, 0) << replay.err;
  ASSERT_EQ(replay.out.size(), 2u);
  EXPECT_EQ(CheckEnvelope(replay.out[0], "pgcdc:dlq_e2e", "NOTIFY", "listen_notify"),
            R"({"k":1,"a":"x"})");
  EXPECT_EQ(CheckEnvelope(replay.out[1], "pgcdc:dlq_e2e", "NOTIFY", "listen_notify"), R"("plain")");
  EXPECT_EQ(replay.out[0] + "," + replay.out[1],
            Scalar(conn, "SELECT string_agg(payload::text, ',' ORDER BY id) FROM " + t));
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM " + t + " WHERE replayed_at IS NULL"), "0");
}

TEST(DlqScenario, CorruptRecordFailsAloneAndStaysPending) {
  auto conn = Connect();
  const std::string t = "dl_corrupt";
  CreateDlqTable(conn, t);
  const std::string good1 = Seed(conn, t, Ev("pgcdc:a", "1"), "stdout", "e");
  ExecOrFail(conn, "INSERT INTO " + t +
                       " (event_id, adapter, error, payload) VALUES ('x', 'stdout', 'e', "
                       "'{\"not\":\"an event\"}')");
  const std::string good2 = Seed(conn, t, Ev("pgcdc:b", "2"), "stdout", "e");

  Outcome r = Pgcdc(Dlq("replay", t));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.out, (std::vector<std::string>{good1, good2}));
  EXPECT_NE(r.err.find("record 2 (event x, adapter stdout) failed: stored event: missing \"id\""),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("Replay complete: 2 succeeded, 1 failed."), std::string::npos) << r.err;
  EXPECT_EQ(
      Scalar(conn, "SELECT string_agg(id::text, ',') FROM " + t + " WHERE replayed_at IS NULL"),
      "2");
}

TEST(DlqScenario, FailingAdapterLeavesRecordsPending) {
  auto conn = Connect();
  const std::string t = "dl_failing";
  CreateDlqTable(conn, t);
  Seed(conn, t, Ev("pgcdc:a", "1"), "file", "e");
  Seed(conn, t, Ev("pgcdc:b", "2"), "file", "e");
  // The file's directory does not exist: the adapter cannot open.
  Outcome r = Pgcdc(Dlq("replay", t, {"--file-path", "/nonexistent-dir/x/events.jsonl"}));
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("cannot open adapter file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("  file: 0 succeeded, 2 failed"), std::string::npos) << r.err;
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM " + t + " WHERE replayed_at IS NULL"), "2");

  // A record for an adapter this build does not have: a usage error, nothing sent.
  Seed(conn, t, Ev("pgcdc:c", "3"), "no_such_sink", "e");
  // (A private path: /tmp is shared with other test runs on the machine.)
  TempDir dir;
  const std::string never = dir.path + "/never-written.jsonl";
  Outcome unknown = Pgcdc(Dlq("replay", t, {"--file-path", never}));
  EXPECT_EQ(unknown.code, 2) << unknown.err;
  EXPECT_NE(unknown.err.find("adapter \"no_such_sink\" (1 pending record(s)) is not available"),
            std::string::npos)
      << unknown.err;
  EXPECT_FALSE(fs::exists(never));
  // Missing adapter settings are reported the same way.
  Outcome no_path = Pgcdc(Dlq("replay", t, {"--adapter", "file"}));
  EXPECT_EQ(no_path.code, 2) << no_path.err;
  EXPECT_NE(no_path.err.find("file.path: required"), std::string::npos) << no_path.err;
}

TEST(DlqScenario, PurgeAsksForConfirmation) {
  auto conn = Connect();
  const std::string t = "dl_purge";
  CreateDlqTable(conn, t);
  Seed(conn, t, Ev("pgcdc:a", "1"), "stdout", "e", "2025-01-01T00:00:00Z");
  Seed(conn, t, Ev("pgcdc:b", "2"), "stdout", "e", "2025-02-01T00:00:00Z");
  Seed(conn, t, Ev("pgcdc:c", "3"), "webhook", "e", "2025-03-01T00:00:00Z");
  std::vector<std::string> base = {PgcdcBinary()};
  auto args = Dlq("purge", t, {"--adapter", "stdout", "--until", "2025-02-01T00:00:00Z"});
  base.insert(base.end(), args.begin(), args.end());

  auto no = RunCommand(base, "n\n");
  EXPECT_EQ(no.exit_code, 0) << no.output;
  EXPECT_NE(no.output.find("About to delete 2 DLQ record(s). Continue? [y/N]"), std::string::npos)
      << no.output;
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM " + t), "3");

  auto yes = RunCommand(base, "y\n");
  EXPECT_EQ(yes.exit_code, 0) << yes.output;
  EXPECT_NE(yes.output.find("Purged 2 dead letter queue record(s)."), std::string::npos)
      << yes.output;
  EXPECT_EQ(Scalar(conn, "SELECT adapter FROM " + t), "webhook");
}

TEST(DlqScenario, LegacyJsonbTableAndSchemaQualifiedName) {
  auto conn = Connect();
  ExecOrFail(conn, "CREATE SCHEMA IF NOT EXISTS ops");
  const std::string t = "ops.dl_legacy";
  CreateDlqTable(conn, t, "JSONB");  // the Go tool's layout
  Event e = Ev("pgcdc:a", R"({"b":1,"a":{"y":2,"x":3}})");
  Seed(conn, t, e, "stdout", "e");
  Outcome r = Pgcdc(Dlq("replay", t));
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(r.out.size(), 1u);
  // jsonb reordered the payload's keys; the envelope is otherwise the same.
  EXPECT_EQ(ObjectKeys(r.out[0]), ObjectKeys(e.Json()));
  EXPECT_EQ(ParseJson(r.out[0]), ParseJson(e.Json()));
  EXPECT_EQ(Scalar(conn, "SELECT count(*) FROM ops.dl_legacy WHERE replayed_at IS NOT NULL"), "1");
}

TEST(DlqScenario, UsageAndDatabaseErrors) {
  Outcome bad_since = Pgcdc(Dlq("list", "pgcdc_dead_letters", {"--since", "yesterday"}));
  EXPECT_EQ(bad_since.code, 2);
  EXPECT_NE(bad_since.err.find("--since: \"yesterday\" is not an RFC 3339 time"), std::string::npos)
      << bad_since.err;
  Outcome reversed =
      Pgcdc(Dlq("purge", "pgcdc_dead_letters",
                {"--since", "2025-02-01T00:00:00Z", "--until", "2025-01-01T00:00:00Z"}));
  EXPECT_EQ(reversed.code, 2);
  EXPECT_NE(reversed.err.find("must not be later than --until"), std::string::npos);

  Outcome no_db = Pgcdc({"dlq", "list"});
  EXPECT_EQ(no_db.code, 2);
  EXPECT_NE(no_db.err.find("database_url: required"), std::string::npos) << no_db.err;

  auto conn = Connect();
  ExecOrFail(conn, "DROP TABLE IF EXISTS dl_missing");
  for (const char* sub : {"list", "replay", "purge"}) {
    const bool purge = std::string(sub) == "purge";
    Outcome missing =
        Pgcdc(Dlq(sub, "dl_missing",
                  purge ? std::vector<std::string>{"--force"} : std::vector<std::string>{}));
    EXPECT_EQ(missing.code, 1) << sub;
    EXPECT_NE(missing.err.find("no dead letter table \"dl_missing\""), std::string::npos)
        << missing.err;
    EXPECT_NE(missing.err.find("run a pipeline with --dlq pg_table first"), std::string::npos);
  }

  auto port = pg::FreeLocalPort();
  ASSERT_TRUE(port);
  Outcome refused =
      Pgcdc({"dlq", "list", "--db",
             "postgres://postgres:hunter2@127.0.0.1:" + std::to_string(*port) + "/postgres"});
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("pgcdc dlq list: connect:"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find('\n'), refused.err.size() - 1) << refused.err;  // one line
}

}  // namespace
}  // namespace pgcdc::testing
