// libFuzzer target for the mongodb source's change document → event mapping.
//
// Input: a BSON document (what a server could send as a change event).
// Invariants checked (abort on violation):
//  * a document libbson accepts never crashes the mapping;
//  * an event (no error) has a channel, an operation and a payload that is
//    one valid JSON object;
//  * the snapshot mapping of the same document is a valid JSON object too.
#include <bson/bson.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/json.h"
#include "detector/mongodb/change_event.h"

namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "mongodb_event_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

bool IsObject(const std::string& text) {
  std::string out;
  return text.starts_with('{') && pgcdc::json::Compact(text, out).has_value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  bson_t doc;
  if (!bson_init_static(&doc, data, size) || !bson_validate(&doc, BSON_VALIDATE_NONE, nullptr)) {
    return 0;
  }
  const auto e = pgcdc::detector::mongodb::MapChangeEvent(&doc);
  if (e.error.empty()) {
    Check(!e.channel.empty() && !e.operation.empty(), "an event has a channel and an operation");
    Check(IsObject(e.payload), "the payload is a JSON object");
  }
  const auto s = pgcdc::detector::mongodb::SnapshotEvent(&doc, "d", "c");
  Check(IsObject(s.payload), "the snapshot payload is a JSON object");
  return 0;
}
