#include "core/dynlib.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace pgcdc::dynlib {
namespace {

TEST(DynLib, CandidatesPreferTheEnvironmentThenThePackageLayout) {
  unsetenv("PGCDC_TEST_DYNLIB");
  auto paths = Candidates("libx.so", "PGCDC_TEST_DYNLIB", {"/opt/x/libx.so"});
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_EQ(paths[0], ExecutableDir() + "/../lib/pgcdc/libx.so");
  EXPECT_EQ(paths[1], ExecutableDir() + "/lib/pgcdc/libx.so");
  EXPECT_EQ(paths[2], "/opt/x/libx.so");
  setenv("PGCDC_TEST_DYNLIB", "/here/libx.so", 1);
  EXPECT_EQ(Candidates("libx.so", "PGCDC_TEST_DYNLIB", {"/opt/x/libx.so"}),
            std::vector<std::string>{"/here/libx.so"});
  unsetenv("PGCDC_TEST_DYNLIB");
}

TEST(DynLib, AMissingLibraryNamesEveryPathAndTheVariable) {
  auto handle = Open("the x engine", {"/nonexistent/a.so", "/nonexistent/b.so"}, "X_LIBRARY");
  ASSERT_FALSE(handle);
  EXPECT_EQ(handle.error().code(), ErrorCode::kNotFound);
  const std::string& m = handle.error().message();
  EXPECT_NE(m.find("the x engine could not be loaded"), std::string::npos) << m;
  EXPECT_NE(m.find("/nonexistent/a.so"), std::string::npos) << m;
  EXPECT_NE(m.find("/nonexistent/b.so"), std::string::npos) << m;
  EXPECT_NE(m.find("X_LIBRARY"), std::string::npos) << m;
}

TEST(DynLib, SymbolsResolveAndAMissingOneIsAnError) {
  auto handle = Open("libc", {"libc.so.6"}, nullptr);
  ASSERT_TRUE(handle) << handle.error().message();
  auto found = Symbol(*handle, "strlen", "libc");
  ASSERT_TRUE(found);
  EXPECT_NE(*found, nullptr);
  auto missing = Symbol(*handle, "pgcdc_no_such_symbol", "libc");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message().find("pgcdc_no_such_symbol"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::dynlib
