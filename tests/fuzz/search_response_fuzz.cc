// libFuzzer target for the search sink's parsers (adapter/search).
//
// Input: one selector byte, then bytes a search engine could answer (or an
// event payload). Invariants checked (abort on violation):
//  * ParseImportResults returns exactly one entry per document, whatever the
//    body; an entry is empty only for a line that says success;
//  * ParseTaskUid / ParseTaskState never crash; a failed task has a message;
//  * ErrorMessage never contains a line break (it ends up in logs);
//  * PlanDocument on the bytes as a payload: an upsert or partial update is a
//    JSON object whose Typesense `id` is the id as a string; a delete has no
//    body; a skip has a reason.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapter/search/search_protocol.h"
#include "core/json_dom.h"

namespace {

namespace search = pgcdc::adapter::search;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "search_response_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

void Responses(std::string_view body, size_t documents) {
  const auto results = search::ParseImportResults(body, documents);
  Check(results.size() == documents, "one import result per document");
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].empty()) Check(body.find("success") != std::string_view::npos, "success line");
  }
  (void)search::ParseTaskUid(body);
  if (auto state = search::ParseTaskState(body);
      state && state->status == search::TaskState::Status::kFailed) {
    Check(!state->error.empty(), "a failed task has a message");
  }
  const std::string message = search::ErrorMessage(body);
  Check(message.find_first_of("\r\n") == std::string::npos, "error message without line breaks");
}

void Plan(std::string_view payload, search::Engine engine, const char* op) {
  pgcdc::Event e = pgcdc::MakeEvent("pgcdc:t", op, std::string(payload), "fuzz");
  const search::Document d = search::PlanDocument(engine, "id", e);
  if (d.kind == search::Document::Kind::kSkip) {
    Check(!d.skip_reason.empty(), "a skip has a reason");
    return;
  }
  if (d.kind == search::Document::Kind::kDelete) {
    Check(d.body.empty(), "a delete has no body");
    return;
  }
  auto dom = pgcdc::json::ParseDom(d.body);
  Check(dom && dom->is_object(), "a document is a JSON object");
  if (engine == search::Engine::kTypesense) {
    const auto* id = dom->as_object().if_contains("id");
    Check(id != nullptr && id->is_string() && id->as_string() == d.id, "typesense id is a string");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t selector = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  Responses(rest, selector % 8);
  const char* ops[] = {"INSERT", "UPDATE", "DELETE", "SNAPSHOT"};
  Plan(rest, (selector & 8) != 0 ? search::Engine::kMeilisearch : search::Engine::kTypesense,
       ops[(selector >> 4) % 4]);
  return 0;
}
