// `pgcdc verify`: does a sink hold what the table holds?
//
// RunVerify opens the table (one read-only snapshot), rebuilds the latest
// state the sink holds for it (Replay), streams the table's rows in key
// order against that state (Differ) and, when rows differ, reads the sink a
// second time to show the sink's side of a few examples. See docs/verify.md.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "verify/diff.h"
#include "verify/replay.h"
#include "verify/table_scan.h"

namespace pgcdc::verify {

struct VerifyOptions {
  std::string database_url;
  std::string table;
  std::string against;
  bool check_order = false;
  size_t max_examples = 10;
  size_t chunk_rows = 20000;
  std::vector<std::string> ignore_columns;
  std::vector<std::string> channels;  // override the table's channels
  std::chrono::milliseconds kafka_timeout{30000};
  std::map<std::string, std::string> kafka_properties;
};

struct VerifyReport {
  std::string table;    // as the database names it (schema.table)
  std::string against;  // as given
  std::string sink;     // what was read
  RowShape shape;
  ReplayStats replay;
  uint64_t sink_keys = 0;  // rows the sink holds at the end of its log
  double sink_seconds = 0;
  ScanStats scan;
  DiffResult diff;
  bool check_order = false;
  bool Match() const { return diff.Match() && replay.order_violations == 0; }
};

// Errors: kConfig, kInvalidArgument, kNotFound for what the user must fix
// (exit 2); anything else is a runtime failure.
Result<VerifyReport> RunVerify(const VerifyOptions& options);

// True when an error from RunVerify is a usage or configuration problem.
bool IsUsageError(const Error& e);

}  // namespace pgcdc::verify
