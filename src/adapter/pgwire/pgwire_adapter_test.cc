// The declaration, and the server in process driven by libpq (the reference
// client): start-up, both query protocols, errors that keep the connection
// usable, SCRAM and cleartext passwords, limits and bad bytes.
#include "adapter/pgwire/pgwire_adapter.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "adapter/pgwire/server.h"
#include "pg/libpq_ptr.h"
#include "registry/test_util.h"

namespace pgcdc::adapter::pgwire {
namespace {

TEST(PgwireDeclaration, DefaultsAndValidation) {
  auto [o, errors] = testing::BindForTest<Options>(Connector(), {});
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(o.addr, "127.0.0.1:5433");
  EXPECT_EQ(o.buffer_size, 10000u);
  EXPECT_EQ(o.auth, "scram");
  auto [bad, bad_errors] =
      testing::BindForTest<Options>(Connector(), {{"pgwire.addr", "nope"},
                                                  {"pgwire.tls_cert", "c.pem"},
                                                  {"pgwire.buffer_size", "0"},
                                                  {"pgwire.auth", "cleartext"}});
  EXPECT_TRUE(testing::HasError(bad_errors, "pgwire.addr"));
  EXPECT_TRUE(testing::HasError(bad_errors, "--pgwire-tls-key go together"));
  EXPECT_TRUE(testing::HasError(bad_errors, "pgwire.buffer_size"));
  EXPECT_TRUE(testing::HasError(bad_errors, "cleartext needs"));
}

// Polls `pred` until it holds or 10 s pass.
bool WaitFor(const std::function<bool()>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

using ConnPtr = pg::PgConnPtr;
using ResultPtr = pg::PgResultPtr;

class PgwireServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions o = {}) {
    o.host = "127.0.0.1";
    o.port = 0;
    ring_ = std::make_shared<Ring>(100);
    std::vector<Row> rows;
    for (int i = 0; i < 3; ++i) {
      rows.push_back(Row{.id = "id" + std::to_string(i),
                         .channel = i == 1 ? "Orders" : "orders",
                         .operation = "INSERT",
                         .source = "listen_notify",
                         .payload = "{\"i\":" + std::to_string(i) + "}",
                         .created_at_ns = 1'700'000'000'000'000'000 + i});
    }
    (void)ring_->Append(std::move(rows));
    server_ = std::make_unique<Server>(o, ring_);
    ring_->SetListener([s = server_.get()] { s->Notify(); });
    auto bound = server_->Start();
    ASSERT_TRUE(bound) << bound.error().message();
    port_ = bound->substr(bound->rfind(':') + 1);
  }
  ConnPtr Connect(const std::string& extra = "") {
    return ConnPtr(PQconnectdb(("host=127.0.0.1 port=" + port_ +
                                " user=alice dbname=x sslmode=disable connect_timeout=5 " + extra)
                                   .c_str()));
  }
  static ResultPtr Exec(PGconn* c, const std::string& sql) {
    return ResultPtr(PQexec(c, sql.c_str()));
  }
  static std::string Field(const PGresult* r, const char* field) {
    const char* v = PQresultErrorField(r, field == std::string("C")   ? PG_DIAG_SQLSTATE
                                          : field == std::string("P") ? PG_DIAG_STATEMENT_POSITION
                                                                      : PG_DIAG_MESSAGE_PRIMARY);
    return v != nullptr ? v : "";
  }

  void TearDown() override {
    if (server_) server_->Stop();
    if (ring_) ring_->SetListener(nullptr);
  }

  // A plain TCP connection to the server (-1 on failure).
  int ConnectRaw() const {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(port_)));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }

  std::shared_ptr<Ring> ring_;
  std::unique_ptr<Server> server_;
  std::string port_;
};

TEST_F(PgwireServerTest, SimpleQueriesAndErrorsKeepTheConnectionUsable) {
  Start();
  auto c = Connect();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  EXPECT_STREQ(PQparameterStatus(c.get(), "server_version"), "17.0");
  auto r = Exec(c.get(), "SELECT id, created_at FROM pgcdc_events WHERE channel = 'orders'");
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  ASSERT_EQ(PQntuples(r.get()), 2);
  EXPECT_STREQ(PQgetvalue(r.get(), 1, 0), "id2");
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 1), "2023-11-14 22:13:20+00");
  EXPECT_EQ(PQftype(r.get(), 1), 1184u);
  EXPECT_STREQ(PQcmdTuples(r.get()), "2");

  r = Exec(c.get(), "SELECT * FROM missing_table");
  EXPECT_EQ(PQresultStatus(r.get()), PGRES_FATAL_ERROR);
  EXPECT_EQ(Field(r.get(), "C"), "42P01");
  EXPECT_EQ(Field(r.get(), "P"), "15");
  r = Exec(c.get(), "this is not sql");
  EXPECT_EQ(Field(r.get(), "C"), "42601");
  r = Exec(c.get(), "");
  EXPECT_EQ(PQresultStatus(r.get()), PGRES_EMPTY_QUERY);
  r = Exec(c.get(), "BEGIN");
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_INTRANS);
  r = Exec(c.get(), "SELECT nope FROM pgcdc_events");
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_INERROR);
  r = Exec(c.get(), "SELECT 1");
  EXPECT_EQ(Field(r.get(), "C"), "25P02");
  r = Exec(c.get(), "ROLLBACK");
  EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
  r = Exec(c.get(), "SELECT count(*) FROM pgcdc_events; SHOW server_version");
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK);
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "17.0");  // the last result
}

TEST_F(PgwireServerTest, ExtendedProtocolBindsParameters) {
  Start();
  auto c = Connect();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  const char* values[] = {"Orders"};
  ResultPtr r(PQexecParams(c.get(), "SELECT id, channel FROM pgcdc_events WHERE channel = $1", 1,
                           nullptr, values, nullptr, nullptr, 0));
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  ASSERT_EQ(PQntuples(r.get()), 1);
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "id1");

  // Binary results and a binary int8 LIMIT parameter.
  const uint64_t two = htobe64(2);
  const char* limit[] = {reinterpret_cast<const char*>(&two)};
  const int lengths[] = {8};
  const int formats[] = {1};
  const Oid types[] = {20};
  r.reset(PQexecParams(c.get(), "SELECT created_at FROM pgcdc_events LIMIT $1", 1, types, limit,
                       lengths, formats, 1));
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  ASSERT_EQ(PQntuples(r.get()), 2);
  EXPECT_EQ(PQgetlength(r.get(), 0, 0), 8);

  // Prepared statements, describe, then an error and a retry on the same connection.
  r.reset(
      PQprepare(c.get(), "s1", "SELECT * FROM pgcdc_channels WHERE event_count >= $1", 0, nullptr));
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_COMMAND_OK) << PQerrorMessage(c.get());
  r.reset(PQdescribePrepared(c.get(), "s1"));
  EXPECT_EQ(PQnparams(r.get()), 1);
  EXPECT_EQ(PQparamtype(r.get(), 0), 23u);
  EXPECT_EQ(PQnfields(r.get()), 2);
  const char* bad[] = {"many"};
  r.reset(PQexecPrepared(c.get(), "s1", 1, bad, nullptr, nullptr, 0));
  EXPECT_EQ(Field(r.get(), "C"), "22P02");
  const char* good[] = {"2"};
  r.reset(PQexecPrepared(c.get(), "s1", 1, good, nullptr, nullptr, 0));
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQerrorMessage(c.get());
  ASSERT_EQ(PQntuples(r.get()), 1);
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "orders");
  r.reset(PQprepare(c.get(), "s2", "SELECT * FROM nowhere", 0, nullptr));
  EXPECT_EQ(Field(r.get(), "C"), "42P01");
  r = Exec(c.get(), "SELECT 1 AS one");
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "1");
}

TEST_F(PgwireServerTest, ScramPassword) {
  Start({.password = "s3cret"});
  auto ok = Connect("password=s3cret");
  ASSERT_EQ(PQstatus(ok.get()), CONNECTION_OK) << PQerrorMessage(ok.get());
  auto wrong = Connect("password=nope");
  EXPECT_EQ(PQstatus(wrong.get()), CONNECTION_BAD);
  EXPECT_NE(std::string(PQerrorMessage(wrong.get())).find("password authentication failed"),
            std::string::npos)
      << PQerrorMessage(wrong.get());
}

TEST_F(PgwireServerTest, CleartextPasswordWhenAskedFor) {
  Start({.password = "pw", .cleartext = true});
  auto ok = Connect("password=pw");
  ASSERT_EQ(PQstatus(ok.get()), CONNECTION_OK) << PQerrorMessage(ok.get());
  auto wrong = Connect("password=x");
  EXPECT_EQ(PQstatus(wrong.get()), CONNECTION_BAD);
}

TEST_F(PgwireServerTest, ConnectionCapAndGarbage) {
  Start({.max_connections = 1});
  auto first = Connect();
  ASSERT_EQ(PQstatus(first.get()), CONNECTION_OK);
  auto second = Connect();
  EXPECT_EQ(PQstatus(second.get()), CONNECTION_BAD);
  EXPECT_NE(std::string(PQerrorMessage(second.get())).find("too many clients"), std::string::npos)
      << PQerrorMessage(second.get());
  first.reset();
  ASSERT_TRUE(WaitFor([&] { return server_->ConnectionCount() == 0; }));
  // Garbage instead of a start-up packet: the server closes the connection.
  const int fd = ConnectRaw();
  ASSERT_GE(fd, 0);
  const std::string junk = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  char buf[64];
  EXPECT_EQ(read(fd, buf, sizeof buf), 0);  // EOF, nothing answered
  close(fd);
  // The slot is free again and the server still serves.
  ASSERT_TRUE(WaitFor([&] { return server_->ConnectionCount() == 0; }));
  auto again = Connect();
  EXPECT_EQ(PQstatus(again.get()), CONNECTION_OK) << PQerrorMessage(again.get());
}

TEST_F(PgwireServerTest, TimeoutsAndMessageSizeCap) {
  Start({.max_message_size = 2048,
         .startup_timeout = std::chrono::milliseconds(300),
         .idle_timeout = std::chrono::milliseconds(300)});
  // A query over the cap closes that connection.
  auto big = Connect();
  ASSERT_EQ(PQstatus(big.get()), CONNECTION_OK);
  auto r = Exec(big.get(), "SELECT '" + std::string(4096, 'x') + "'");
  EXPECT_NE(PQresultStatus(r.get()), PGRES_TUPLES_OK);
  EXPECT_EQ(PQstatus(big.get()), CONNECTION_BAD);
  // An idle session is closed after the idle timeout.
  auto idle = Connect();
  ASSERT_EQ(PQstatus(idle.get()), CONNECTION_OK);
  ASSERT_TRUE(WaitFor([&] { return server_->ConnectionCount() == 0; }));
  r = Exec(idle.get(), "SELECT 1");
  EXPECT_NE(PQresultStatus(r.get()), PGRES_TUPLES_OK);
  // A client that never sends its start-up packet is closed too.
  const int fd = ConnectRaw();
  ASSERT_GE(fd, 0);
  char buf[8];
  EXPECT_EQ(read(fd, buf, sizeof buf), 0);
  close(fd);
}

TEST_F(PgwireServerTest, LiveTailThatFallsBehindEndsWithAnError) {
  Start();
  auto c = Connect();
  ASSERT_EQ(PQstatus(c.get()), CONNECTION_OK);
  ASSERT_EQ(PQsendQuery(c.get(), "SELECT id FROM pgcdc_events_live"), 1);
  ResultPtr r(PQgetResult(c.get()));
  ASSERT_EQ(PQresultStatus(r.get()), PGRES_COPY_OUT) << PQerrorMessage(c.get());
  // One batch larger than the ring (100): rows the tail had not sent are gone.
  std::vector<Row> rows(150, Row{.channel = "x"});
  (void)ring_->Append(std::move(rows));
  char* buf = nullptr;
  EXPECT_EQ(PQgetCopyData(c.get(), &buf, 0), -1);  // the copy ended
  r.reset(PQgetResult(c.get()));
  EXPECT_STREQ(PQresultErrorField(r.get(), PG_DIAG_SQLSTATE), "54000");
  EXPECT_NE(std::string(PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY))
                .find("50 rows were overwritten"),
            std::string::npos);
  while (PGresult* rest = PQgetResult(c.get())) PQclear(rest);
  r = Exec(c.get(), "SELECT count(*) FROM pgcdc_events");
  EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "100");
}

}  // namespace
}  // namespace pgcdc::adapter::pgwire
