// Test helper: decodes bytes pgcdc produced with the independent npm
// libraries in tests/tools (avsc, protobufjs) — never with our own decoder.
// Used by the encoding cross-check and the messaging scenario tests.
// Requires PGCDC_SOURCE_DIR (set by CTest) and node on the PATH.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace pgcdc::encoding::testing {

// Runs `node tests/tools/<script> <schema file> [extra] <data file>` with
// `schema` and `data` in temporary files; returns its output (a failing run
// is a test failure, its output returned all the same).
inline std::string RunNodeDecoder(const std::string& script, const std::string& schema,
                                  const std::string& data, const std::string& extra = {}) {
  const char* src = std::getenv("PGCDC_SOURCE_DIR");
  const std::string source_dir = src != nullptr ? src : ".";
  char dir[] = "/tmp/pgcdc-decode-XXXXXX";
  EXPECT_NE(::mkdtemp(dir), nullptr);
  const std::string schema_file = std::string(dir) + "/schema";
  const std::string data_file = std::string(dir) + "/data.bin";
  std::ofstream(schema_file) << schema;
  std::ofstream(data_file, std::ios::binary) << data;
  const std::string cmd = "node " + source_dir + "/tests/tools/" + script + " " + schema_file +
                          " " + extra + " " + data_file + " 2>&1";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    EXPECT_EQ(::pclose(p), 0) << out;
  }
  std::remove(schema_file.c_str());
  std::remove(data_file.c_str());
  ::rmdir(dir);
  return out;
}

// Avro records (concatenated, each written with `schema`): one JSON line
// per record (tests/tools/avro_decode.js: longs as strings, bytes as hex).
inline std::string DecodeAvro(const std::string& schema, const std::string& records) {
  return RunNodeDecoder("avro_decode.js", schema, records);
}

// One protobuf message of type `message` from the .proto text `proto`, as
// JSON (tests/tools/protobuf_decode.js: int64 as strings, bytes as hex).
inline std::string DecodeProtobuf(const std::string& proto, const std::string& message,
                                  const std::string& bytes) {
  return RunNodeDecoder("protobuf_decode.js", proto, bytes, message);
}

}  // namespace pgcdc::encoding::testing
