// search adapter (SPEC §5.9, fixed): keeps a Typesense collection or a
// Meilisearch index in step with row changes.
//
// Each row event becomes a document keyed by its id column (see
// search_protocol.h for the requests). Documents are held until batch_size
// of them are waiting or the oldest waited batch_interval (and at
// shutdown); then consecutive upserts go out as one import request, a
// partial update (an UPDATE with unchanged TOAST columns) and each delete as
// a request of their own, pipelined on one keep-alive connection, in event
// order.
//
// Acknowledgement: held documents are reported through OldestHeldSeq(), so
// the pipeline confirms an event to the source only once the engine accepted
// it (Typesense: its import line succeeded; Meilisearch: the task was
// enqueued, or with `wait` succeeded) or it is in the DLQ.
//
// Failure handling:
//  - connection errors, 408, 429, 5xx: back off and send again from the
//    first unanswered request (health degraded meanwhile; nothing dropped);
//  - 401/403: the adapter stops with an error naming the API key;
//  - a Typesense import line that failed, a Meilisearch task that failed, any
//    other 4xx: the event goes to the DLQ with the engine's message (a
//    request of several documents is first split into single documents, so
//    only the rejected ones are dead-lettered);
//  - events that are not row changes (transaction markers, schema events),
//    rows without the id column and TRUNCATE are skipped and counted in
//    pgcdc_search_skipped_total{reason}.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "adapter/retrying_adapter.h"
#include "adapter/search/search_protocol.h"
#include "registry/registry.h"

namespace pgcdc::adapter::search {

struct Options {
  Engine engine = Engine::kTypesense;
  std::string url;
  std::string api_key;
  std::string index;
  std::string id_column = "id";
  size_t batch_size = 100;
  std::chrono::milliseconds batch_interval{1'000};
  bool wait = false;                          // Meilisearch: poll each task until it finished
  std::chrono::milliseconds timeout{10'000};  // one round trip; a task wait
  std::string tls_ca_file;
  bool tls_insecure = false;
  BackoffPolicy backoff{std::chrono::seconds(1), std::chrono::seconds(30),
                        std::chrono::milliseconds(100)};
};

class SearchAdapter : public RetryingAdapter {
 public:
  explicit SearchAdapter(Options options);
  ~SearchAdapter() override;

  // Pre-flight: GET /health, then the index with the API key (a clear
  // error for a refused key; Typesense: the collection must exist).
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  // Sends the held documents once the oldest waited batch_interval.
  Status Flush() override;
  std::optional<uint64_t> OldestHeldSeq() const override;
  void Interrupt() override;
  // Sends what is still held, one attempt (best effort: those events are
  // not confirmed any more and come again after a restart, as idempotent
  // upserts and deletes).
  void Close() override;

  struct Conn;
  struct Held;
  struct Unit;

 private:
  Status SendHeld();
  Status Run(std::vector<Unit>& units);
  Status HandleResponse(std::vector<Unit>& units, size_t i, int status, const std::string& body,
                        std::string& retry);
  Status Accepted(std::vector<Unit>& units, size_t i, const std::string& body, std::string& retry);
  Status WaitForTask(uint64_t uid, std::string& failed, std::string& retry);
  Status Rejected(std::vector<Unit>& units, size_t i, const std::string& why);
  Status DeadLetter(const Event& event, const std::string& reason);
  Status Exchange(std::span<const Unit> units, std::vector<int>& status,
                  std::vector<std::string>& bodies, std::string& failure);
  Status Preflight();

  Options options_;
  std::string host_header_;
  std::unique_ptr<Conn> conn_;
  std::vector<Held> held_;
  std::chrono::steady_clock::time_point oldest_at_{};
  bool closing_ = false;  // Close(): one attempt, no retries
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::search
