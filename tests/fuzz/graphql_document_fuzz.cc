// libFuzzer target for the graphql adapter's document parser, subscription
// planner and raw-JSON projection.
//
// Input: one split byte, then a GraphQL document and a JSON payload (split
// at that point).
// Invariants checked (abort on violation):
//  * parsing never crashes; a syntax error has a message and a 1-based
//    location;
//  * a plan for a parsed document encodes any valid JSON payload (as is and
//    re-encoded compactly) to a valid JSON object;
//  * the raw-JSON walker finds the end of every valid JSON document.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapter/graphql/document.h"
#include "adapter/graphql/raw_json.h"
#include "adapter/graphql/subscription.h"
#include "core/json_dom.h"

namespace {

using namespace pgcdc::adapter::graphql;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "graphql_document_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

void CheckPayload(const Plan& plan, const std::string& payload) {
  pgcdc::Event e = pgcdc::MakeEvent("ch", "INSERT", payload, "fuzz");
  auto dom = pgcdc::json::ParseDom(payload);
  (void)Matches(plan, e, dom ? &*dom : nullptr);
  std::string out;
  AppendEventObject(plan, e, out);
  auto back = pgcdc::json::ParseDom(out);
  Check(back && back->is_object(), "the encoded event is a JSON object");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = data[0] % (in.size() + 1);
  const std::string_view doc = in.substr(0, split);
  const std::string_view payload = in.substr(split);

  auto dom = pgcdc::json::ParseDom(payload);
  if (dom) {
    const size_t end = SkipJsonValue(payload, 0);
    Check(end != std::string_view::npos, "a valid document is walked");
    Check(payload.find_first_not_of(" \t\r\n", end) == std::string_view::npos,
          "the walk ends at the document's end");
  }

  auto op = ParseOperation(doc);
  if (!op) {
    Check(!op.error().message.empty(), "errors have a message");
    if (op.error().message.starts_with("Syntax Error")) {
      Check(op.error().line >= 1 && op.error().column >= 1, "syntax errors have a location");
    }
    return 0;
  }
  static const boost::json::value kNull;
  auto plan = MakePlan(*op, dom && dom->is_object() ? *dom : kNull);
  if (!plan) {
    Check(!plan.error().message.empty(), "plan errors have a message");
    return 0;
  }
  if (dom) {
    CheckPayload(*plan, std::string(payload));
    CheckPayload(*plan, pgcdc::json::SerializeDom(*dom));
  }
  return 0;
}
