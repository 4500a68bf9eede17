// The pure part of the search sink (SPEC §5.9): what an event becomes (a
// document to upsert, a partial update, a delete, or nothing), the HTTP
// requests of Typesense and Meilisearch, and the parsing of their answers.
// Unit tested without a server (search_protocol_test.cc).
//
//   Typesense    upsert   POST   /collections/{index}/documents/import?action=upsert  (JSONL)
//                partial  PATCH  /collections/{index}/documents/{id}
//                delete   DELETE /collections/{index}/documents/{id}
//                header   X-TYPESENSE-API-KEY: <key>
//   Meilisearch  upsert   POST   /indexes/{index}/documents  (JSON array; add or replace)
//                partial  PUT    /indexes/{index}/documents  (one-element array; add or update)
//                delete   DELETE /indexes/{index}/documents/{id}
//                task     GET    /tasks/{uid}  (--search-wait)
//                header   Authorization: Bearer <key>
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "net/http1_client.h"

namespace pgcdc::adapter::search {

enum class Engine { kTypesense, kMeilisearch };
std::string_view EngineName(Engine engine);

// What one event becomes.
struct Document {
  enum class Kind { kSkip, kUpsert, kPartial, kDelete };
  Kind kind = Kind::kSkip;
  // kSkip: "not_row" (transaction markers, schema events, messages, payloads
  // without a row), "no_id", "truncate".
  std::string skip_reason;
  std::string id;    // the row's id column, stringified
  std::string body;  // kUpsert/kPartial: the document JSON (one object)
};

// INSERT/UPDATE/SNAPSHOT → kUpsert (kPartial when the payload lists
// `_unchanged_toast_columns`: those columns are left out of the document
// instead of being overwritten with null); DELETE → kDelete. Typesense
// requires a string `id`, so for it the document's `id` is the row id as a
// JSON string (also when id_column names another column).
Document PlanDocument(Engine engine, std::string_view id_column, const Event& event);

// The column names of an `_unchanged_toast_columns` value (a JSON array of
// strings; SPEC's upstream split it on commas and so never matched one).
std::vector<std::string> ToastColumns(std::string_view raw_array);

// Percent-encodes a path segment (RFC 3986 unreserved characters stay).
std::string EscapePathSegment(std::string_view segment);

// One HTTP request (the head is built by RequestHead).
struct Request {
  std::string_view method;
  std::string target;  // origin-form path (and query)
  std::string body;
};

// Request line and headers, ending in the empty line; the target is
// `base_path` (the URL's path, e.g. behind a proxy) + request.target.
// `api_key` goes into the engine's header (none when empty).
std::string RequestHead(Engine engine, const Request& request, std::string_view base_path,
                        std::string_view host_header, std::string_view api_key);

Request UpsertRequest(Engine engine, std::string_view index,
                      std::span<const std::string* const> documents);
Request PartialRequest(Engine engine, std::string_view index, std::string_view id,
                       std::string_view document);
Request DeleteRequest(Engine engine, std::string_view index, std::string_view id);
Request TaskRequest(uint64_t task_uid);
// Pre-flight: GET /health, then the index (authenticated).
Request HealthRequest();
Request IndexRequest(Engine engine, std::string_view index);

// A Typesense import answer: one result line per document, in order.
// Element i is empty when document i was accepted, else the engine's error.
// A missing line counts as an error ("no result line"); an unreadable one
// carries the line's text.
std::vector<std::string> ParseImportResults(std::string_view body, size_t documents);

// Meilisearch's `taskUid` (or the older `uid`) of a 202 answer.
Result<uint64_t> ParseTaskUid(std::string_view body);

struct TaskState {
  enum class Status { kPending, kSucceeded, kFailed };
  Status status = Status::kPending;
  std::string error;  // kFailed: the task's error message (and code)
};
Result<TaskState> ParseTaskState(std::string_view body);

// How an HTTP status is handled (net::ClassifyHttpStatus).
using Outcome = net::HttpOutcome;
inline Outcome ClassifyStatus(int status) { return net::ClassifyHttpStatus(status); }

// The `message` of an error answer (Typesense and Meilisearch both use it),
// else the body's start; for error texts.
std::string ErrorMessage(std::string_view body);

}  // namespace pgcdc::adapter::search
