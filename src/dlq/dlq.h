// Dead letter queue (SPEC §4.2): where an event goes when an adapter can
// never deliver it (permanent rejection, retries exhausted). Recording an
// event counts as "handled" for acknowledgement, so Record() must only return
// Ok once the record is durable for the backend (written to stderr, committed
// to the table). If Record() fails, the caller must not acknowledge the event.
//
// Backends: stderr (default; one JSON line per record), pg_table
// (pgcdc_dead_letters, replayable with `pgcdc dlq replay`), none (discard,
// counted). Implementations are thread-safe: several adapter workers and
// middleware lanes record concurrently.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/event.h"
#include "core/metrics.h"

namespace pgcdc::dlq {

class DeadLetterQueue {
 public:
  virtual ~DeadLetterQueue() = default;
  // Backend name: "stderr", "pg_table", "none".
  virtual std::string_view Kind() const = 0;
  // Records one undeliverable event with the adapter that gave up and why.
  virtual Status Record(const Event& event, std::string_view adapter, std::string_view error) = 0;
  virtual void Close() {}
};
using DeadLetterQueuePtr = std::unique_ptr<DeadLetterQueue>;

struct Options {
  std::string type = "stderr";               // stderr | pg_table | none
  std::string table = "pgcdc_dead_letters";  // pg_table: target table (may be schema-qualified)
  std::string db_url;                        // pg_table: connection string
};

// Builds the configured backend. pg_table connects lazily (first Record).
Result<DeadLetterQueuePtr> Make(const Options& options);

// pgcdc_dlq_records_total{adapter}: events recorded for `adapter`, by every
// DLQ kind.
metrics::Counter& RecordsFor(std::string_view adapter);

// A sink's peer rejected `event` for its content (it will never accept it):
// records it in `dlq` and logs a warning naming the event and `reason`. An
// error (no DLQ attached, or recording failed) means the caller must not
// acknowledge the event and should stop with that error.
Status DeadLetterRejected(DeadLetterQueue* dlq, const Event& event, std::string_view adapter,
                          std::string_view reason);

// The stderr line for one record:
// {"event":<envelope>,"adapter":"…","error":"…","timestamp":"<RFC 3339 ns UTC>"}
std::string StderrLine(const Event& event, std::string_view adapter, std::string_view error,
                       int64_t now_ns);

}  // namespace pgcdc::dlq
