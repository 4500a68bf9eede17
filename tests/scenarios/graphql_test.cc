// User journey: an app subscribes to changes with a GraphQL client. Real
// clients: npm "graphql-ws" over npm "ws" and npm "graphql" for the SDL
// (tests/tools/graphql_clients.js); raw graphql-transport-ws over npm "ws"
// for the protocol's failure paths.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "harness.h"
#include "json_util.h"
#include "stream_clients.h"

namespace pgcdc::testing {
namespace {

std::unique_ptr<Process> Client(const std::string& addr, std::vector<std::string> args) {
  args.insert(args.begin(), {"--url", "ws://" + addr + "/graphql"});
  return StartNode("graphql_clients.js", std::move(args));
}

std::unique_ptr<Process> Raw(const std::string& addr, const std::string& send,
                             std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--mode", "raw", "--send", send};
  args.insert(args.end(), extra.begin(), extra.end());
  return Client(addr, std::move(args));
}

// Every kept `next` result of a client's done line.
std::vector<boost::json::value> Messages(Process& p) {
  std::vector<boost::json::value> out;
  auto done = LastWith(p, "done");
  if (!done) return out;
  for (const auto& m : done->at("messages").as_array()) out.push_back(m);
  return out;
}

std::vector<boost::json::value> Parsed(const std::vector<std::string>& texts) {
  std::vector<boost::json::value> out;
  for (const auto& t : texts) out.push_back(boost::json::parse(t));
  return out;
}

// The close a raw client reported: {code, reason}.
std::pair<int64_t, std::string> CloseOf(Process& p) {
  auto c = LastWith(p, "close");
  if (!c) return {0, ""};
  const auto& o = c->at("close").as_object();
  return {o.at("code").as_int64(), std::string(o.at("reason").as_string())};
}

std::optional<double> Errors(Process& p, const std::string& reason) {
  return ScrapeMetric(p, "pgcdc_graphql_protocol_errors_total{reason=\"" + reason + "\"}");
}

constexpr const char* kInit = R"({"type":"connection_init"})";
constexpr const char* kAwaitAck = R"({"await":"connection_ack"})";

std::string Subscribe(const std::string& id, const std::string& query) {
  boost::json::object m{{"id", id}, {"type", "subscribe"}, {"payload", {{"query", query}}}};
  return boost::json::serialize(m);
}

TEST(GraphqlScenario, WalRowsReachSubscribersFilteredAndProjected) {
  auto conn = Connect();
  FreshPublishedTable(conn, "gql_orders",
                      "id int PRIMARY KEY, status text, amount numeric(10,2), secret text",
                      "gql_pub", "pgcdc_gql_pub");
  ExecOrFail(conn, "DROP TABLE IF EXISTS gql_items CASCADE");
  ExecOrFail(conn, "CREATE TABLE gql_items (id int PRIMARY KEY)");
  ExecOrFail(conn, "ALTER PUBLICATION gql_pub ADD TABLE gql_items");
  auto p = StartWalListen(WalListenArgs("gql_pub", {"-a", "graphql", "--graphql-schema-aware",
                                                    "--graphql-keepalive-interval", "300ms"}));
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr) << p->Stderr();
  const std::string orders_query =
      "subscription Orders($w: JSON) { events(channel: \"pgcdc:gql_orders\", where: $w) "
      "{ operation payload { row { id status } } } }";
  auto orders = Client(
      *addr, {"--query", orders_query, "--variables", R"({"w":{"op":"INSERT"}})", "--expect", "3"});
  // Go-tool style: the filter only in the variables.
  auto items = Client(*addr, {"--query", "subscription { events { channel payload { table } } }",
                              "--variables", R"({"channel":"pgcdc:gql_items"})", "--expect", "2"});
  ASSERT_TRUE(orders && items);
  ASSERT_TRUE(WaitFor(*orders, "open") && WaitFor(*items, "open"));
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_graphql_subscriptions_active") == 2;
  })) << p->Stderr();
  // The server's keepalive pings reach graphql-ws (it answers them).
  ASSERT_TRUE(WaitFor(*orders, "server_ping"));

  ExecOrFail(conn,
             "INSERT INTO gql_orders VALUES (1, 'new', 1.50, 's1'), (2, 'new', 2, 's2'), "
             "(3, 'paid', 3, 's3')");
  ExecOrFail(conn, "UPDATE gql_orders SET status = 'paid' WHERE id = 1");
  ExecOrFail(conn, "DELETE FROM gql_orders WHERE id = 2");
  ExecOrFail(conn, "INSERT INTO gql_items VALUES (10), (11)");
  ASSERT_TRUE(WaitFor(*orders, "done")) << p->Stderr();
  ASSERT_TRUE(WaitFor(*items, "done"));
  EXPECT_EQ(Messages(*orders),
            Parsed({
                R"({"events":{"operation":"INSERT","payload":{"row":{"id":1,"status":"new"}}}})",
                R"({"events":{"operation":"INSERT","payload":{"row":{"id":2,"status":"new"}}}})",
                R"({"events":{"operation":"INSERT","payload":{"row":{"id":3,"status":"paid"}}}})",
            }));
  EXPECT_EQ(Messages(*items),
            Parsed({
                R"({"events":{"channel":"pgcdc:gql_items","payload":{"table":"gql_items"}}})",
                R"({"events":{"channel":"pgcdc:gql_items","payload":{"table":"gql_items"}}})",
            }));
  EXPECT_EQ(orders->Wait(), 0);
  EXPECT_EQ(items->Wait(), 0);

  // Schema-aware: the SDL has typed per-table types that npm graphql builds,
  // and a query using them validates; the typed root field delivers.
  const std::string typed =
      "subscription { public_gql_orders { payload { op row { id amount } } } }";
  auto sdl = StartNode(
      "graphql_clients.js",
      {"--mode", "sdl", "--url", "http://" + *addr + "/graphql/schema", "--query", typed});
  ASSERT_TRUE(sdl && WaitFor(*sdl, "done"));
  auto sdl_done = *LastWith(*sdl, "done");
  EXPECT_EQ(sdl_done["status"].as_int64(), 200);
  EXPECT_TRUE(sdl_done["errors"].as_array().empty()) << boost::json::serialize(sdl_done);
  auto schema = HttpGet(*addr, "/graphql/schema");
  ASSERT_TRUE(schema);
  EXPECT_NE(schema->body.find("type PublicGqlOrdersRow {\n  id: Int\n  status: String\n  amount: "
                              "Float\n  secret: String\n}"),
            std::string::npos)
      << schema->body;
  auto wrong =
      StartNode("graphql_clients.js",
                {"--mode", "sdl", "--url", "http://" + *addr + "/graphql/schema", "--query",
                 "subscription { public_gql_orders { payload { row { nope } } } }"});
  ASSERT_TRUE(wrong && WaitFor(*wrong, "done"));
  EXPECT_EQ((*LastWith(*wrong, "done"))["errors"].as_array().size(), 1u);

  ASSERT_TRUE(
      Eventually([&] { return ScrapeMetric(*p, "pgcdc_graphql_subscriptions_active") == 0; }));
  auto tables = Client(*addr, {"--query", typed, "--expect", "1"});
  ASSERT_TRUE(tables && WaitFor(*tables, "open"));
  ASSERT_TRUE(
      Eventually([&] { return ScrapeMetric(*p, "pgcdc_graphql_subscriptions_active") == 1; }));
  ExecOrFail(conn, "INSERT INTO gql_items VALUES (12)");
  ExecOrFail(conn, "INSERT INTO gql_orders VALUES (4, 'new', 4.25, 's4')");
  ASSERT_TRUE(WaitFor(*tables, "done")) << p->Stderr();
  EXPECT_EQ(
      Messages(*tables),
      Parsed(
          {R"({"public_gql_orders":{"payload":{"op":"INSERT","row":{"id":4,"amount":4.25}}}})"}));

  // Shutdown: a live subscription is completed, then the socket closes 1000.
  EXPECT_EQ(tables->Wait(), 0);
  ASSERT_TRUE(
      Eventually([&] { return ScrapeMetric(*p, "pgcdc_graphql_subscriptions_active") == 0; }));
  auto live = Client(*addr, {"--query", "subscription { events { id } }"});
  ASSERT_TRUE(live && WaitFor(*live, "open"));
  ASSERT_TRUE(
      Eventually([&] { return ScrapeMetric(*p, "pgcdc_graphql_subscriptions_active") == 1; }));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0) << p->Stderr();
  EXPECT_TRUE(WaitFor(*live, "complete"));
}

// --schema-store with the schema-aware SDL: the row type's description
// names the table definition's store version, and follows ALTER TABLE; npm
// graphql still builds the SDL.
TEST(GraphqlScenario, SchemaAwareSdlNamesTheSchemaStoreVersion) {
  auto conn = Connect();
  FreshPublishedTable(conn, "gql_ss", "id int PRIMARY KEY, v text", "gql_ss_pub");
  auto p = StartWalListen(
      WalListenArgs("gql_ss_pub", {"-a", "graphql", "--graphql-schema-aware", "--schema-store"}));
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr) << p->Stderr();
  auto sdl_has = [&](const std::string& text) {
    return Eventually([&] {
      auto schema = HttpGet(*addr, "/graphql/schema");
      return schema && schema->body.find(text) != std::string::npos;
    });
  };
  ExecOrFail(conn, "INSERT INTO gql_ss VALUES (1, 'a')");
  EXPECT_TRUE(
      sdl_has("\"\"\"A row of public.gql_ss (schema store: public.gql_ss version 1).\"\"\"\n"
              "type PublicGqlSsRow {\n  id: Int\n  v: String\n}"))
      << HttpGet(*addr, "/graphql/schema")->body;
  ExecOrFail(conn, "ALTER TABLE gql_ss ADD COLUMN n int");
  ExecOrFail(conn, "INSERT INTO gql_ss VALUES (2, 'b', 2)");
  EXPECT_TRUE(
      sdl_has("\"\"\"A row of public.gql_ss (schema store: public.gql_ss version 2).\"\"\"\n"
              "type PublicGqlSsRow {\n  id: Int\n  v: String\n  n: Int\n}"))
      << HttpGet(*addr, "/graphql/schema")->body;
  auto sdl = StartNode("graphql_clients.js",
                       {"--mode", "sdl", "--url", "http://" + *addr + "/graphql/schema", "--query",
                        "subscription { public_gql_ss { payload { row { id n } } } }"});
  ASSERT_TRUE(sdl && WaitFor(*sdl, "done"));
  auto done = *LastWith(*sdl, "done");
  EXPECT_EQ(done["status"].as_int64(), 200);
  EXPECT_TRUE(done["errors"].as_array().empty()) << boost::json::serialize(done);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0) << p->Stderr();
}

TEST(GraphqlScenario, ProtocolViolationsGetTheProtocolsAnswers) {
  auto p =
      StartStreamSink("graphql", {"-c", "gql_bad", "--graphql-connection-init-timeout", "500ms"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  // Invalid documents: an `error` message for that subscription (graphql-ws
  // hands it to the sink's error callback); the connection stays usable.
  auto bad = Client(*addr, {"--query", "subscription { events { nope } }"});
  auto syntax = Client(*addr, {"--query", "subscription { events {"});
  ASSERT_TRUE(bad && syntax);
  ASSERT_TRUE(WaitFor(*bad, "sub_error") && WaitFor(*syntax, "sub_error"));
  auto err = (*LastWith(*bad, "sub_error"))["sub_error"].as_array()[0].as_object();
  EXPECT_EQ(err["message"].as_string(), "Cannot query field \"nope\" on type \"Event\".");
  EXPECT_EQ(err["locations"].as_array()[0].as_object()["column"].as_int64(), 25);
  err = (*LastWith(*syntax, "sub_error"))["sub_error"].as_array()[0].as_object();
  EXPECT_EQ(err["message"].as_string(), "Syntax Error: Expected Name, found <EOF>.");

  auto dup = Raw(*addr, std::string("[") + kInit + "," + kAwaitAck + "," +
                            Subscribe("a", "subscription { events { id } }") + "," +
                            Subscribe("a", "subscription { events { id } }") + "]");
  auto no_init = Raw(*addr, "[]");
  auto early = Raw(*addr, "[" + Subscribe("x", "subscription { events { id } }") + "]");
  auto twice = Raw(*addr, std::string("[") + kInit + "," + kAwaitAck + "," + kInit + "]");
  auto junk = Raw(*addr, std::string("[") + kInit + "," + kAwaitAck + R"(,{"typo":1}])");
  auto no_id =
      Raw(*addr, std::string("[") + kInit + "," + kAwaitAck +
                     R"(,{"type":"subscribe","payload":{"query":"subscription { events }"}}])");
  // No subprotocol: accepted, then closed 1008 (a client asking for another
  // subprotocol, e.g. the legacy "graphql-ws", gets none and gives up itself).
  auto protocol = Raw(*addr, "[]", {"--protocol", ""});
  for (auto* c : {dup.get(), no_init.get(), early.get(), twice.get(), junk.get(), no_id.get(),
                  protocol.get()}) {
    ASSERT_TRUE(c && WaitFor(*c, "close")) << p->Stderr();
  }
  EXPECT_EQ(CloseOf(*dup),
            std::make_pair(int64_t{4409}, std::string("Subscriber for a already exists")));
  EXPECT_EQ(CloseOf(*no_init),
            std::make_pair(int64_t{4408}, std::string("Connection initialisation timeout")));
  EXPECT_EQ(CloseOf(*early), std::make_pair(int64_t{4401}, std::string("Unauthorized")));
  EXPECT_EQ(CloseOf(*twice),
            std::make_pair(int64_t{4429}, std::string("Too many initialisation requests")));
  EXPECT_EQ(CloseOf(*junk), std::make_pair(int64_t{4400}, std::string("Invalid message received")));
  EXPECT_EQ(CloseOf(*no_id).first, 4400);
  EXPECT_EQ(CloseOf(*protocol).first, 1008);
  EXPECT_EQ(Errors(*p, "duplicate_id"), 1);
  EXPECT_EQ(Errors(*p, "init_timeout"), 1);
  EXPECT_EQ(Errors(*p, "document"), 2);
  EXPECT_EQ(Errors(*p, "invalid_message"), 2);

  // ping -> pong; complete ends the subscription (no more next messages).
  auto ping = Raw(*addr,
                  std::string("[") + kInit + "," + kAwaitAck + "," +
                      Subscribe("s", "subscription { events { id } }") +
                      R"(,{"id":"s","type":"complete"},{"type":"ping"}])",
                  {"--finish-on", "pong"});
  ASSERT_TRUE(ping && WaitFor(*ping, "done"));
  EXPECT_EQ((*LastWith(*ping, "msg"))["msg"].as_object()["type"].as_string(), "pong");
  EXPECT_TRUE(
      Eventually([&] { return ScrapeMetric(*p, "pgcdc_graphql_subscriptions_active") == 0; }));

  // A page on another site cannot open the socket.
  auto evil =
      HttpExchange(*addr, "GET", "/graphql",
                   "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: "
                   "13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: "
                   "https://evil.example\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n");
  ASSERT_TRUE(evil);
  EXPECT_EQ(evil->status, 403);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0);
}

TEST(GraphqlScenario, TokenIsRequiredWhenSet) {
  auto p = StartStreamSink("graphql", {"-c", "gql_tok", "--graphql-token", "s3cret"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  auto wrong = Client(*addr, {"--token", "guess", "--query", "subscription { events { id } }"});
  auto none = Raw(*addr, std::string("[") + kInit + "]");
  auto right = Client(*addr, {"--token", "s3cret", "--query", "subscription { events { channel } }",
                              "--expect", "1"});
  ASSERT_TRUE(wrong && none && right);
  ASSERT_TRUE(WaitFor(*wrong, "closed"));
  EXPECT_EQ((*LastWith(*wrong, "closed"))["closed"].as_object()["code"].as_int64(), 4403);
  ASSERT_TRUE(WaitFor(*none, "close"));
  EXPECT_EQ(CloseOf(*none).first, 4403);
  ASSERT_TRUE(WaitFor(*right, "open"));
  ASSERT_TRUE(
      Eventually([&] { return ScrapeMetric(*p, "pgcdc_graphql_subscriptions_active") == 1; }));
  NotifyMany("gql_tok", 1);
  ASSERT_TRUE(WaitFor(*right, "done"));
  EXPECT_EQ(Messages(*right), Parsed({R"({"events":{"channel":"gql_tok"}})"}));
  EXPECT_EQ(Errors(*p, "forbidden"), 2);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0);
}

TEST(GraphqlScenario, SlowSubscriberIsEndedWithAnErrorAndCountedOthersGetEverything) {
  constexpr int kChunk = 25;
  auto p = StartStreamSink(
      "graphql", {"-c", "gql_slow", "--graphql-buffer-size", "64", "--bus-buffer", "100000"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  auto slow = Raw(*addr,
                  std::string("[") + kInit + "," + kAwaitAck + "," +
                      Subscribe("s", "subscription { events { id payload } }") + "]",
                  {"--pause", "--finish-on", "error", "--keep", "0", "--timeout-ms", "120000"});
  auto healthy = Client(*addr, {"--query", "subscription { events { payload { i } } }", "--keep",
                                "0", "--timeout-ms", "120000", "--progress-ms", "50"});
  ASSERT_TRUE(slow && healthy);
  ASSERT_TRUE(WaitFor(*slow, "paused") && WaitFor(*healthy, "open"));
  ASSERT_TRUE(
      Eventually([&] { return ScrapeMetric(*p, "pgcdc_graphql_subscriptions_active") == 2; }));
  // Paced: the healthy subscriber reads each chunk before the next one comes;
  // the paused one's socket buffers fill, then its 64 messages.
  int sent = 0;
  while (ScrapeMetric(*p, "pgcdc_graphql_slow_subscriptions_total") != 1 && sent < 20000) {
    NotifyMany("gql_slow", kChunk, 6000);
    sent += kChunk;
    ASSERT_TRUE(Eventually([&] { return Counts(*healthy) == std::vector<int64_t>{sent}; }, 30s))
        << sent << " " << p->Stderr();
  }
  ASSERT_EQ(ScrapeMetric(*p, "pgcdc_graphql_slow_subscriptions_total"), 1) << p->Stderr();
  EXPECT_TRUE(
      Eventually([&] { return ScrapeMetric(*p, "pgcdc_graphql_subscriptions_active") == 1; }));
  slow->Signal(SIGUSR2);
  ASSERT_TRUE(WaitFor(*slow, "done", 60s));
  auto done = *LastWith(*slow, "done");
  EXPECT_LT(done["counts"].as_array()[0].as_int64(), sent);
  const auto& last = done["messages"].as_array().back().as_object();
  EXPECT_EQ(last.at("type").as_string(), "error");
  EXPECT_EQ(last.at("id").as_string(), "s");
  EXPECT_NE(boost::json::serialize(last).find("slow subscriber"), std::string::npos);
  // The healthy subscriber still gets everything.
  NotifyMany("gql_slow", kChunk);
  sent += kChunk;
  EXPECT_TRUE(Eventually([&] { return Counts(*healthy) == std::vector<int64_t>{sent}; }));
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0);
}

// No `next` for a subscription after the client completed it, while events
// keep coming (the delivery path used to build a batch's frames, then push
// them after a `complete` handled meanwhile). The server answers a `ping`
// sent right after each `complete` only once it handled that complete, so a
// `next` for a completed id after the pong was pushed after its complete.
TEST(GraphqlScenario, NoNextFollowsTheClientsComplete) {
  constexpr int kCycles = 40;
  auto p = StartStreamSink("graphql", {"-c", "gql_race", "--bus-buffer", "100000"});
  ASSERT_TRUE(p);
  auto addr = p->HttpAddr();
  ASSERT_TRUE(addr);
  std::string send = std::string("[") + kInit + "," + kAwaitAck;
  for (int i = 0; i < kCycles; ++i) {
    const std::string id = "s" + std::to_string(i);
    send += "," + Subscribe(id, "subscription { events { id } }") + R"(,{"await":"next"},)" +
            R"({"type":"complete","id":")" + id + R"("},{"type":"ping"},{"await":"pong"})";
  }
  send += R"(,{"type":"bogus"}])";  // ends the connection (4400): the client is done
  // 300 more subscriptions keep the delivery path busy fanning out.
  auto others =
      Client(*addr, {"--clients", "3", "--subs", "100", "--keep", "0", "--timeout-ms", "120000"});
  ASSERT_TRUE(others && WaitFor(*others, "open"));
  ASSERT_TRUE(
      Eventually([&] { return ScrapeMetric(*p, "pgcdc_graphql_subscriptions_active") == 300; }));
  std::atomic<bool> stop{false};
  std::thread load([&] {
    while (!stop) NotifyMany("gql_race", 200);
  });
  auto c = Raw(*addr, send, {"--timeout-ms", "60000"});
  const bool done = c && WaitFor(*c, "done", 90s);
  stop = true;
  load.join();
  ASSERT_TRUE(done) << (c ? c->Stderr() : "") << p->Stderr();
  auto last = *LastWith(*c, "done");
  int pongs = 0, nexts = 0;
  for (const auto& m : last["messages"].as_array()) {
    const auto& o = m.as_object();
    const auto type = o.at("type").as_string();
    if (type == "pong") ++pongs;
    if (type != "next") continue;
    ++nexts;
    const int id = std::stoi(std::string(o.at("id").as_string()).substr(1));
    EXPECT_GE(id, pongs) << "a next for s" << id << " after its complete was handled";
  }
  EXPECT_EQ(pongs, kCycles);
  EXPECT_GE(nexts, kCycles);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(10s), 0);
}

}  // namespace
}  // namespace pgcdc::testing
