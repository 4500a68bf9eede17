// The pure part of the embedding sink (SPEC §5.8): what an event becomes
// (an upsert of its text, a delete, a skip or a rejection), the content hash
// that lets unchanged text skip the API, the OpenAI-compatible request and
// response, the pgvector text form and the SQL. Unit tested without servers
// (embedding_protocol_test.cc).
//
//   API    POST {api_url}/embeddings  {"model":M,"input":["text",…]}
//          → {"data":[{"index":i,"embedding":[…]},…],"usage":{"total_tokens":N}}
//   table  source_id TEXT PRIMARY KEY, source_table, content, embedding vector(N),
//          event_id, content_hash, created_at, updated_at (`pgcdc init --adapter
//          embedding`)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "net/http1_client.h"

namespace pgcdc::adapter::embedding {

struct PlanOptions {
  std::vector<std::string> columns;  // the text columns, joined with a space
  std::string id_column = "id";
  std::string model;
  bool skip_unchanged = false;  // compare with the old image when the event has one
};

// What one event becomes.
struct Item {
  enum class Kind { kSkip, kUpsert, kDelete, kReject };
  Kind kind = Kind::kSkip;
  // kSkip: "not_row" (transaction markers, schema events, messages),
  // "truncate", "no_id", "empty_content", "unchanged" (old image or TOAST).
  // kReject: why the event cannot be embedded (goes to the DLQ).
  std::string reason;
  std::string source_id;
  std::string source_table;
  std::string content;
  std::string hash;  // ContentHash(model, content)
};

// INSERT/UPDATE/SNAPSHOT → kUpsert, DELETE → kDelete. A row without any of
// the configured columns is rejected (bad input), and so is an UPDATE whose
// text is partly an unchanged TOAST value the event does not carry (the
// text cannot be rebuilt; REPLICA IDENTITY FULL fixes that).
Item PlanItem(const PlanOptions& options, const Event& event);

// Hex SHA-256 of the model and the content: equal hashes mean the stored
// vector is still right.
std::string ContentHash(std::string_view model, std::string_view content);

// The request body for `inputs`.
std::string RequestBody(std::string_view model, const std::vector<const std::string*>& inputs);
// The target path of the embeddings endpoint: the URL's path, with
// "/embeddings" appended unless it already ends in it.
std::string EmbeddingsPath(std::string_view url_path);
// Request line and headers (ending in the empty line).
std::string RequestHead(std::string_view path, std::string_view host_header,
                        std::string_view api_key, size_t body_size);

struct Embeddings {
  std::vector<std::vector<float>> vectors;  // in input order
  uint64_t tokens = 0;
};
// Parses an answer to a request of `inputs` texts: kParse when it is not
// JSON of that shape (data entries ordered by their `index` when given).
Result<Embeddings> ParseResponse(std::string_view body, size_t inputs);
// The `error.message` (or `message`) of an error answer, else its start.
std::string ApiErrorMessage(std::string_view body);

// pgvector's text form, "[0.1,-2,3.5e-07]" (shortest round-trip floats).
std::string VectorText(const std::vector<float>& v);
// A PostgreSQL text[] literal, {"a","b\"c"}, for `= ANY($1::text[])`.
std::string TextArray(const std::vector<std::string>& values);

// SELECT source_id, content_hash FROM t WHERE source_id = ANY($1::text[])
std::string LookupSql(const std::string& quoted_table);
// One statement: deletes the ids in $1 (a text[]) and upserts `rows` rows
// (source_id, source_table, content, embedding, event_id, content_hash)
// from $2 on. The ids must be distinct (one final operation per id).
std::string WriteSql(const std::string& quoted_table, size_t rows);
constexpr size_t kParamsPerRow = 6;

// How an HTTP status is handled (net::ClassifyHttpStatus).
using Outcome = net::HttpOutcome;
inline Outcome ClassifyStatus(int status) { return net::ClassifyHttpStatus(status); }

}  // namespace pgcdc::adapter::embedding
