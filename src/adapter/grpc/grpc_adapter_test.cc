#include "adapter/grpc/grpc_adapter.h"

#include <gtest/gtest.h>

#include "adapter/grpc/stream_server.h"
#include "core/event.h"
#include "pgcdc/eventstream.pb.h"
#include "registry/test_util.h"

namespace pgcdc::adapter::grpc {
namespace {

TEST(GrpcEncode, EventFieldsMapToTheSpecMessage) {
  Event e;
  e.id = NewUuidV7At(1'700'000'000'000);
  e.channel = "pgcdc:orders";
  e.operation = "INSERT";
  e.payload = R"({"id":1})";
  e.source = "wal";
  e.created_at_ns = 1'700'000'000'123'456'789;
  auto bytes = EncodeEvent(e);
  ::pgcdc_wire::Event m;
  ASSERT_TRUE(m.ParseFromString(*bytes));
  EXPECT_EQ(m.id(), e.id.ToString());
  EXPECT_EQ(m.channel(), "pgcdc:orders");
  EXPECT_EQ(m.operation(), "INSERT");
  EXPECT_EQ(m.payload(), R"({"id":1})");
  EXPECT_EQ(m.source(), "wal");
  EXPECT_EQ(m.created_at(), "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(m.traceparent(), "");
}

TEST(GrpcDeclaration, DefaultsAndValidation) {
  auto [o, errors] = testing::BindForTest<Options>(Connector(), {});
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(o.addr, "127.0.0.1:9090");
  EXPECT_EQ(o.client_queue, 256u);
  EXPECT_EQ(o.replay_buffer, 1024u);
  auto [bad, bad_errors] = testing::BindForTest<Options>(
      Connector(), {{"grpc.addr", "nope"}, {"grpc.tls_cert", "c.pem"}, {"grpc.client_queue", "0"}});
  EXPECT_TRUE(testing::HasError(bad_errors, "grpc.addr"));
  EXPECT_TRUE(testing::HasError(bad_errors, "--grpc-tls-key go together"));
  EXPECT_TRUE(testing::HasError(bad_errors, "grpc.client_queue"));
}

TEST(GrpcAdapter, OpenFailsClearlyWhenTheAddressCannotBeBound) {
  auto ok = MakeGrpcAdapter({.addr = "127.0.0.1:0"});
  ASSERT_TRUE(ok->Open().has_value());
  EXPECT_EQ(ok->Subscribers(), 0u);
  ok->Close();
  // TEST-NET-1: not an address of this machine.
  auto bad = MakeGrpcAdapter({.addr = "192.0.2.1:9090"});
  auto st = bad->Open();
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message().find("cannot listen on 192.0.2.1:9090"), std::string::npos)
      << st.error().message();
}

}  // namespace
}  // namespace pgcdc::adapter::grpc
