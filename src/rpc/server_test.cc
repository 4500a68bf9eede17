#include "rpc/server.h"

#include <gtest/gtest.h>

namespace pgcdc::rpc {
namespace {

TEST(GrpcListenAddress, EmptyHostMeansAllInterfacesAndIpv6IsBracketed) {
  EXPECT_EQ(*GrpcListenAddress(":9090"), "[::]:9090");
  EXPECT_EQ(*GrpcListenAddress("127.0.0.1:0"), "127.0.0.1:0");
  EXPECT_EQ(*GrpcListenAddress("[::1]:9090"), "[::1]:9090");
  EXPECT_FALSE(GrpcListenAddress("no-port").has_value());
}

// Binding (port 0, a port in use) is covered with a real service by
// src/adapter/grpc/grpc_adapter_test.cc: gRPC refuses to start without one.

TEST(Server, UnreadableTlsFilesAreAConfigError) {
  auto s = Server::Start({.name = "t",
                          .addr = "127.0.0.1:0",
                          .tls_cert_file = "/nonexistent.pem",
                          .tls_key_file = "/nonexistent.key"},
                         {});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kConfig);
  EXPECT_NE(s.error().message().find("/nonexistent.pem"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::rpc
