// Test helper: the captured frames and batches in testdata/ (see its README),
// found through KAFKA_TESTDATA_DIR, which the test target defines.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

namespace pgcdc::codec::kafka::testing {

inline std::string ReadTestdata(const std::string& name) {
  std::ifstream in(std::string(KAFKA_TESTDATA_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace pgcdc::codec::kafka::testing
