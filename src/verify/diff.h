// Differ: compares the table's rows, as they stream by in key order, with
// the state a Replay rebuilt from the sink. Each table row is looked up by
// its canonical key, which is then marked seen:
//   missing    the table has the key, the sink does not
//   differing  both have it, the canonical rows' hashes differ
//   extra      the sink has a key the table never showed
// Each category keeps a count and the first `max_examples` keys (for extra:
// the smallest canonical keys) with the table's canonical row.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "verify/replay.h"
#include "verify/table_scan.h"

namespace pgcdc::verify {

struct Example {
  std::string key;                   // canonical key (KeyDisplay for users)
  std::string source_row;            // canonical JSON in the table, "" when absent
  std::string sink_row;              // canonical JSON in the sink, "" when absent or not captured
  std::vector<std::string> columns;  // differing: the columns whose values differ
};

// The members of two canonical row objects that differ (present in one
// only, or with different values), in name order.
std::vector<std::string> DifferingColumns(std::string_view a, std::string_view b);

struct Category {
  uint64_t count = 0;
  std::vector<Example> examples;
};

struct DiffResult {
  uint64_t source_rows = 0;
  uint64_t matching = 0;
  Category missing;
  Category extra;
  Category differing;
  bool Match() const { return missing.count == 0 && extra.count == 0 && differing.count == 0; }
};

class Differ {
 public:
  Differ(Replay::State& state, size_t max_examples) : state_(state), max_examples_(max_examples) {}

  // One row of the table (key order).
  void SourceRow(const std::string& key, uint64_t hash, const verify::SourceRow& row);
  // A row a few rows ahead: its key's slot is loaded meanwhile.
  void Prefetch(std::string_view key) const { state_.Prefetch(key); }
  // What is left in the state becomes `extra`; returns the result.
  DiffResult Finish();

 private:
  void Note(Category& c, const std::string& key, const verify::SourceRow* row, uint64_t mask);

  Replay::State& state_;
  size_t max_examples_;
  DiffResult result_;
  std::string scratch_;
};

}  // namespace pgcdc::verify
