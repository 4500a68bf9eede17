#include "adapter/arrow/arrow_adapter.h"

#include <gtest/gtest.h>

#include "registry/test_util.h"

namespace pgcdc::adapter::arrow {
namespace {

TEST(ArrowDeclaration, DefaultsAndValidation) {
  auto [o, errors] = testing::BindForTest<Options>(Connector(), {});
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(o.addr, "127.0.0.1:8815");
  EXPECT_EQ(o.buffer_size, 10000u);
  EXPECT_EQ(o.schema, "envelope");
  auto [bad, bad_errors] = testing::BindForTest<Options>(Connector(), {{"arrow.addr", "nope"},
                                                                       {"arrow.tls_cert", "c.pem"},
                                                                       {"arrow.buffer_size", "0"},
                                                                       {"arrow.schema", "wide"}});
  EXPECT_TRUE(testing::HasError(bad_errors, "arrow.addr"));
  EXPECT_TRUE(testing::HasError(bad_errors, "--arrow-tls-key go together"));
  EXPECT_TRUE(testing::HasError(bad_errors, "arrow.buffer_size"));
  EXPECT_TRUE(testing::HasError(bad_errors, "arrow.schema"));
}

TEST(ArrowAdapter, OpenFailsClearlyWhenTheAddressCannotBeBound) {
  auto ok = MakeArrowAdapter({.addr = "127.0.0.1:0"});
  ASSERT_TRUE(ok->Open().has_value());
  ok->Close();
  auto bad = MakeArrowAdapter({.addr = "192.0.2.1:8815"});
  auto st = bad->Open();
  ASSERT_FALSE(st.has_value());
  EXPECT_NE(st.error().message().find("cannot listen on 192.0.2.1:8815"), std::string::npos)
      << st.error().message();
}

}  // namespace
}  // namespace pgcdc::adapter::arrow
