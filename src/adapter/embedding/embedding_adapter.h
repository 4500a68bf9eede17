// embedding adapter (SPEC §5.8, fixed): keeps a pgvector table of text
// embeddings in step with row changes. For each row event the configured
// text columns are joined, embedded through an OpenAI-compatible API and
// upserted (source_id = the row's id column); a DELETE removes the row.
//
// Events are held until batch_size × concurrency of them wait (or the queue
// runs empty); then, for the held events:
//  1. one SELECT reads the stored content hashes of their ids; only the
//     last operation per id counts, and an upsert whose content hash (model
//     + text) equals the stored one is skipped — unchanged text is never
//     embedded again, with or without an old image;
//  2. the texts still to embed (each distinct text once) go to the API,
//     batch_size inputs per request, up to `concurrency` requests at once;
//  3. one statement per 1,000 ids deletes and upserts (no explicit
//     transaction: each statement commits alone, and a retry is idempotent).
// Deliver()/Flush() return only after that, so the pipeline acknowledges
// the events once their rows are committed (or they are in the DLQ).
//
// Failure handling:
//  - API unreachable, 408, 429, 5xx: back off (Retry-After honoured up to
//    backoff_cap) and send again, health degraded meanwhile; nothing is
//    dropped. max_retries > 0 bounds the attempts: then those events go to
//    the DLQ;
//  - 401/403: the adapter stops with an error naming the API key;
//  - any other 4xx, an answer that is not the expected JSON, a vector whose
//    dimension is not the table's: a request of several inputs is split
//    into single ones, a single one dead-letters its events;
//  - PostgreSQL connection lost or transient errors: reconnect with backoff
//    and write again (the vectors are kept, not requested again); a row the
//    server rejects (SQLSTATE class 22/23) dead-letters its event;
//  - events without any of the text columns → DLQ; non-row events, rows
//    without an id, empty text → skipped, counted in
//    pgcdc_embedding_skipped_total{reason}.
//
// One PostgreSQL connection only (PGlite's socket server takes one at a
// time); the API connections are one per concurrent request, kept alive.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "adapter/embedding/embedding_protocol.h"
#include "adapter/retrying_adapter.h"
#include "pg/session.h"
#include "registry/registry.h"

namespace pgcdc::adapter::embedding {

struct Options {
  std::string api_url;
  std::string api_key;
  std::string model = "text-embedding-3-small";
  std::vector<std::string> columns;
  std::string id_column = "id";
  std::string table = "pgcdc_embeddings";
  std::string db_url;
  size_t dimension = 1536;
  size_t batch_size = 64;
  size_t concurrency = 2;
  uint32_t max_retries = 0;  // API attempts per request; 0 = until it answers
  std::chrono::milliseconds timeout{30'000};
  bool skip_unchanged = false;
  BackoffPolicy backoff{std::chrono::seconds(2), std::chrono::seconds(60),
                        std::chrono::milliseconds(100)};
};

class EmbeddingAdapter : public RetryingAdapter {
 public:
  explicit EmbeddingAdapter(Options options);
  ~EmbeddingAdapter() override;

  // Pre-flight: the API URL parses, PostgreSQL connects, the table exists
  // with its columns (its vector dimension wins over `dimension`).
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  Status Flush() override;
  void Interrupt() override;
  void Close() override;

  struct Held;
  struct Api;
  struct Request;

 private:
  Status Process();
  Status EnsureConnected();
  Status LookupHashes();
  // The final operation per id among the live held items (indexes into held_).
  std::vector<size_t> FinalOps() const;
  Status Embed(const std::vector<size_t>& final_ops);
  Status RunRequests(std::vector<Request>& requests);
  void SendWave(std::vector<Request>& requests, const std::vector<size_t>& wave);
  Status HandleAnswer(std::vector<Request>& requests, size_t i, std::string& retry);
  Status Accept(std::vector<Request>& requests, size_t i);
  Status Unusable(std::vector<Request>& requests, size_t i, std::string_view reason,
                  const std::string& why);
  Status DeadLetterText(const std::string& hash, std::string_view reason, const std::string& why);
  Status Write(const std::vector<size_t>& final_ops);
  Status WriteChunk(std::span<const size_t> ops, std::string& retry);
  Status DeadLetter(Held& h, std::string_view reason, const std::string& why);
  // Reports the outage (health degraded), counts it and backs off (at least
  // `at_least`, capped by backoff_cap: a peer's Retry-After).
  Status Wait(const std::string& why,
              std::chrono::milliseconds at_least = std::chrono::milliseconds(0));

  Options options_;
  PlanOptions plan_;
  std::string quoted_table_;
  pg::Session session_;
  std::unique_ptr<Api> api_;
  std::vector<Held> held_;
  bool looked_up_ = false;
  size_t dimension_ = 0;  // what every vector must have (the table's, else `dimension`)
  // For the held events: the stored content hash per id, and the vectors
  // already embedded per content hash (kept across retries of the writes).
  std::unordered_map<std::string, std::string> stored_;
  std::unordered_map<std::string, std::string> vectors_;
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::embedding
