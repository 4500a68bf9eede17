// User journey: publish a table's changes to a NATS JetStream stream, read
// back by our own JetStream consumer against a real nats-server -js.
//  - WAL → nats: every change once, subject pgcdc.<table>, Nats-Msg-Id =
//    the envelope id, data = the compact envelope, in commit order; the
//    stream is created with the subject and max_age;
//  - channels outside the prefix are prefixed (myapp:x → pgcdc.myapp.x); an
//    existing stream keeps its settings, and a message larger than its
//    max_msg_size is dead-lettered while the others go through;
//  - pgcdc killed with SIGKILL three times with a persistent slot: the
//    replayed changes carry the same Nats-Msg-Id and JetStream drops them,
//    so the stream holds every row exactly once;
//  - nats-server killed mid-stream and restarted on the same store: events
//    wait (health degraded, retries counted) and arrive after, in order;
//  - nats-server hanging (SIGSTOP): acks time out, everything is published
//    again, JetStream keeps each message once;
//  - bad URL / encoding, unreachable server, a server without JetStream:
//    clear errors.
#include <gtest/gtest.h>
#include <signal.h>

#include <set>

#include "harness.h"
#include "json_util.h"
#include "nats_server.h"

namespace pgcdc::testing {
namespace {

std::vector<std::string> WalNatsArgs(const std::string& publication, const NatsServer& nats,
                                     const std::string& stream, std::vector<std::string> extra) {
  std::vector<std::string> sink = {"-a",
                                   "nats",
                                   "--nats-url",
                                   nats.Url(),
                                   "--nats-stream",
                                   stream,
                                   "--nats-backoff-base",
                                   "50ms",
                                   "--nats-backoff-cap",
                                   "300ms",
                                   "--http-addr",
                                   "127.0.0.1:0"};
  sink.insert(sink.end(), extra.begin(), extra.end());
  return WalListenArgs(publication, sink);
}

// payload.row.id of a WAL event's envelope.
int64_t RowId(const boost::json::object& envelope) {
  return envelope.at("payload").as_object().at("row").as_object().at("id").to_number<int64_t>();
}

TEST(NatsScenario, WalChangesReachTheStreamOnceInOrderWithMsgIds) {
  NatsServer nats;
  auto conn = Connect();
  FreshPublishedTable(conn, "n_happy", "id int PRIMARY KEY, v text", "p_nhappy");
  auto p = Process::Start({.args = WalNatsArgs("p_nhappy", nats, "HAPPY", {})});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("streaming detector=wal")) << p->Stderr();
  ASSERT_TRUE(p->WaitForStderr("nats: stream created")) << p->Stderr();
  for (int t = 0; t < 10; ++t) {
    ExecOrFail(conn, "INSERT INTO n_happy SELECT g, 'v' || g FROM generate_series(" +
                         std::to_string(t * 50 + 1) + ", " + std::to_string(t * 50 + 50) + ") g");
  }
  ExecOrFail(conn, "UPDATE n_happy SET v = 'changed' WHERE id <= 10");
  ExecOrFail(conn, "DELETE FROM n_happy WHERE id > 495");
  constexpr size_t kEvents = 500 + 10 + 5;
  ASSERT_TRUE(Eventually([&] { return nats.StreamMessages("HAPPY") == kEvents; }, 30s))
      << nats.StreamMessages("HAPPY") << "\n"
      << p->Stderr();

  auto state = nats.Stream("HAPPY");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->subjects, std::vector<std::string>{"pgcdc.>"});
  EXPECT_EQ(state->max_age_ns, 24LL * 3600 * 1000 * 1000 * 1000);
  const auto messages = nats.ReadStream("HAPPY");
  ASSERT_EQ(messages.size(), kEvents);
  std::set<std::string> ids;
  std::string previous_id;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    EXPECT_EQ(m.seq, i + 1);
    EXPECT_EQ(m.subject, "pgcdc.n_happy");
    // The data is the compact envelope, its id the Nats-Msg-Id.
    EXPECT_EQ(m.data.find(": "), std::string::npos) << m.data;
    EXPECT_EQ(ObjectKeys(m.data), (std::vector<std::string>{"id", "channel", "operation", "payload",
                                                            "source", "created_at"}));
    auto e = ParseJson(m.data).as_object();
    EXPECT_EQ(m.msg_id, e["id"].as_string());
    EXPECT_EQ(e["channel"].as_string(), "pgcdc:n_happy");
    ids.insert(m.msg_id);
    // WAL ids sort in commit order (docs/events.md), and so does the stream.
    EXPECT_LT(previous_id, m.msg_id) << "message " << i;
    previous_id = m.msg_id;
    const std::string op(e["operation"].as_string());
    if (i < 500) {
      EXPECT_EQ(op, "INSERT");
      EXPECT_EQ(RowId(e), static_cast<int64_t>(i + 1));
    } else if (i < 510) {
      EXPECT_EQ(op, "UPDATE");
      EXPECT_EQ(RowId(e), static_cast<int64_t>(i - 499));
    } else {
      EXPECT_EQ(op, "DELETE");
      EXPECT_EQ(RowId(e), static_cast<int64_t>(i - 510 + 496));
    }
  }
  EXPECT_EQ(ids.size(), kEvents);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_nats_acked_total").value_or(0), kEvents);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_nats_published_total").value_or(0), kEvents);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_nats_retries_total").value_or(-1), 0);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_nats_publish_duration_seconds_count").value_or(0), kEvents);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(NatsScenario, ExistingStreamIsKeptAndOversizedMessagesAreDeadLettered) {
  NatsServer nats;
  // Made by someone else: messages up to 2000 bytes.
  ASSERT_TRUE(nats.CreateStream("SMALL", "pgcdc.>", 2000));
  auto p =
      Process::Start({.args = {"listen", "--db", SharedCluster().Url(), "-c", "myapp:x", "-c",
                               "pgcdc:big", "-a", "nats", "--nats-url", nats.Url(), "--nats-stream",
                               "SMALL", "--nats-max-age", "1h", "--http-addr", "127.0.0.1:0"}});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("listening detector=listen_notify")) << p->Stderr();
  auto state = nats.Stream("SMALL");
  ASSERT_TRUE(state);
  EXPECT_EQ(state->max_msg_size, 2000) << "the update kept the stream's own settings";
  EXPECT_EQ(state->max_age_ns, 3600LL * 1000 * 1000 * 1000);
  auto conn = Connect();
  ExecOrFail(conn,
             "SELECT pg_notify('myapp:x', json_build_object('n', g)::text) FROM "
             "generate_series(1, 20) g");
  ExecOrFail(conn,
             "SELECT pg_notify('pgcdc:big', json_build_object('blob', repeat('x', 5000))::text)");
  ExecOrFail(conn,
             "SELECT pg_notify('myapp:x', json_build_object('n', g)::text) FROM "
             "generate_series(21, 40) g");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_nats_dead_lettered_total").value_or(0) == 1 &&
           nats.StreamMessages("SMALL") == 40;
  })) << nats.StreamMessages("SMALL")
      << "\n"
      << p->Stderr();
  const auto messages = nats.ReadStream("SMALL");
  ASSERT_EQ(messages.size(), 40u);
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(messages[i].subject, "pgcdc.myapp.x");
    auto e = ParseJson(messages[i].data).as_object();
    EXPECT_EQ(e["payload"].as_object()["n"].as_int64(), static_cast<int64_t>(i + 1));
  }
  // The stderr DLQ holds the big event with JetStream's reason.
  const std::string err = p->Stderr();
  EXPECT_NE(err.find("\"adapter\":\"nats\""), std::string::npos) << err;
  EXPECT_NE(err.find("JetStream error 10054"), std::string::npos) << err;
  EXPECT_NE(err.find("pgcdc:big"), std::string::npos) << err;
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(NatsScenario, KillNineWithPersistentSlotStoresEveryRowOnce) {
  NatsServer nats;
  auto conn = Connect();
  FreshPublishedTable(conn, "n_crash", "id int PRIMARY KEY, v int", "p_ncrash", "pgcdc_p_ncrash");
  const auto args = WalNatsArgs("p_ncrash", nats, "CRASH",
                                {"--persistent-slot", "--detector-status-interval", "200ms",
                                 "--nats-duplicate-window", "10m"});
  constexpr int kRows = 50000;
  KillNineRun run = SinkKillNineRun("n_crash", kRows, /*seed=*/11);
  run.spread = 3000;
  RunKillNineRounds(run, args, [&](Process&) {
    return static_cast<double>(std::max<int64_t>(nats.StreamMessages("CRASH"), 0));
  });
  if (HasFailure()) return;
  auto p = Process::Start({.args = args});
  ASSERT_TRUE(p);
  ASSERT_TRUE(Eventually([&] { return nats.StreamMessages("CRASH") >= kRows; }, 120s))
      << nats.StreamMessages("CRASH") << " of " << kRows << "\n"
      << p->Stderr();
  // Caught up: the slot confirmed everything, so nothing more is coming.
  ASSERT_TRUE(Eventually(
      [&] {
        auto lag = conn.Query(
            "SELECT confirmed_flush_lsn >= pg_current_wal_lsn() FROM pg_replication_slots "
            "WHERE slot_name = 'pgcdc_p_ncrash'");
        return lag && !lag->empty() && (*lag)[0][0] == std::optional<std::string>("t");
      },
      60s));
  EXPECT_EQ(nats.StreamMessages("CRASH"), kRows);
  std::cerr << "nats crash test: the last run re-published "
            << ScrapeMetric(*p, "pgcdc_nats_duplicates_total").value_or(-1)
            << " messages JetStream had already stored\n";
  const auto messages = nats.ReadStream("CRASH");
  ASSERT_EQ(messages.size(), static_cast<size_t>(kRows));
  std::set<int64_t> rows;
  std::set<std::string> ids;
  for (const auto& m : messages) {
    auto e = ParseJson(m.data).as_object();
    rows.insert(RowId(e));
    ids.insert(m.msg_id);
  }
  EXPECT_EQ(rows.size(), static_cast<size_t>(kRows)) << "every row exactly once";
  EXPECT_EQ(ids.size(), static_cast<size_t>(kRows));
  EXPECT_EQ(*rows.begin(), 1);
  EXPECT_EQ(*rows.rbegin(), kRows);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_ncrash')");
}

TEST(NatsScenario, AServerOutageHoldsEventsUntilItIsBack) {
  NatsServer nats;
  auto conn = Connect();
  FreshPublishedTable(conn, "n_outage", "id int PRIMARY KEY, v text", "p_noutage");
  auto p = Process::Start({.args = WalNatsArgs("p_noutage", nats, "OUTAGE", {})});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("streaming detector=wal")) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO n_outage SELECT g, 'v' FROM generate_series(1, 100) g");
  ASSERT_TRUE(Eventually([&] { return nats.StreamMessages("OUTAGE") == 100; })) << p->Stderr();

  nats.Kill();
  for (int i = 101; i <= 300; i += 50) {
    ExecOrFail(conn, "INSERT INTO n_outage SELECT g, 'v' FROM generate_series(" +
                         std::to_string(i) + ", " + std::to_string(i + 49) + ") g");
  }
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_nats_retries_total").value_or(0) >= 2;
  })) << p->Stderr();
  const std::string degraded = Healthz(*p);
  EXPECT_NE(degraded.find(R"("nats":{"status":"degraded")"), std::string::npos) << degraded;

  ASSERT_TRUE(nats.Start());
  ASSERT_TRUE(Eventually([&] { return nats.StreamMessages("OUTAGE") == 300; }, 30s))
      << nats.StreamMessages("OUTAGE") << "\n"
      << p->Stderr();
  ASSERT_TRUE(Eventually([&] {
    return Healthz(*p).find(R"("nats":{"status":"up")") != std::string::npos;
  })) << Healthz(*p);
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_nats_reconnects_total").value_or(0), 1);
  // Nothing lost, nothing twice, and in commit order.
  const auto messages = nats.ReadStream("OUTAGE");
  ASSERT_EQ(messages.size(), 300u);
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(RowId(ParseJson(messages[i].data).as_object()), static_cast<int64_t>(i + 1));
  }
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

// A server that stops answering (SIGSTOP) keeps its connections open: the
// missing acks time out, pgcdc reconnects and publishes again; once the
// server runs again the stream holds every row once, in order.
TEST(NatsScenario, AHangingServerTimesOutAndEverythingIsPublishedAgain) {
  NatsServer nats;
  auto conn = Connect();
  FreshPublishedTable(conn, "n_hang", "id int PRIMARY KEY", "p_nhang");
  auto p =
      Process::Start({.args = WalNatsArgs("p_nhang", nats, "HANG", {"--nats-timeout", "300ms"})});
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->WaitForStderr("streaming detector=wal")) << p->Stderr();
  ExecOrFail(conn, "INSERT INTO n_hang SELECT generate_series(1, 100)");
  ASSERT_TRUE(Eventually([&] { return nats.StreamMessages("HANG") == 100; })) << p->Stderr();

  nats.Pause();
  ExecOrFail(conn, "INSERT INTO n_hang SELECT generate_series(101, 1100)");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_nats_retries_total").value_or(0) >= 2;
  })) << p->Stderr();
  EXPECT_NE(p->Stderr().find("no acknowledgement within 300ms"), std::string::npos) << p->Stderr();
  EXPECT_NE(Healthz(*p).find(R"("nats":{"status":"degraded")"), std::string::npos);
  nats.Resume();
  ASSERT_TRUE(Eventually(
      [&] { return Healthz(*p).find(R"("nats":{"status":"up")") != std::string::npos; }, 30s))
      << Healthz(*p) << p->Stderr();
  ASSERT_TRUE(Eventually([&] { return nats.StreamMessages("HANG") == 1100; }))
      << nats.StreamMessages("HANG");
  const auto messages = nats.ReadStream("HANG");
  ASSERT_EQ(messages.size(), 1100u);
  for (size_t i = 0; i < messages.size(); ++i) {
    EXPECT_EQ(RowId(ParseJson(messages[i].data).as_object()), static_cast<int64_t>(i + 1));
  }
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0);
}

TEST(NatsScenario, BadConfigurationIsAClearError) {
  auto run = [](const std::vector<std::string>& extra) { return RunAdapterToExit("nats", extra); };
  auto [code, err] = run({"--nats-url", "localhost:4222"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("nats.url: invalid NATS URL \"localhost:4222\""), std::string::npos) << err;
  std::tie(code, err) = run({"--nats-url", "nats://localhost", "--nats-encoding", "xml"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("nats.encoding"), std::string::npos) << err;
  std::tie(code, err) = run({"--nats-url", "nats://localhost", "--nats-encoding", "avro",
                             "--schema-registry-url", "ftp://registry"});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("encoding.schema_registry_url: "), std::string::npos) << err;
  std::tie(code, err) = run({});
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("nats.url: required"), std::string::npos) << err;

  const int closed = FreeTcpPort();
  std::tie(code, err) = run({"--nats-url", "nats://u:hunter2@127.0.0.1:" + std::to_string(closed)});
  EXPECT_NE(code, 0);
  EXPECT_NE(err.find("nats: cannot use nats://u:xxx@127.0.0.1:"), std::string::npos) << err;
  EXPECT_EQ(err.find("hunter2"), std::string::npos) << "password leaked: " << err;

  NatsServer plain(/*jetstream=*/false);
  std::tie(code, err) = run({"--nats-url", plain.Url()});
  EXPECT_NE(code, 0);
  EXPECT_NE(err.find("the server has no JetStream (start nats-server with -js)"), std::string::npos)
      << err;
}

}  // namespace
}  // namespace pgcdc::testing
