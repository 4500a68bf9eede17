// clickhouse adapter (SPEC §5.20, fixed): every event becomes a row of a
// ClickHouse table, inserted in batches over ClickHouse's HTTP interface
// (`INSERT INTO "db"."table" (…) FORMAT JSONEachRow`, see
// clickhouse_protocol.h).
//
// Open() parses the DSN, pings the server (GET /ping), creates the table
// when asked (ReplacingMergeTree(_version) ORDER BY (channel, id)) and checks
// that it has the columns; the keep-alive connection is reopened whenever it
// broke (SPEC's adapter flushed through a connection it never opened).
//
// Events are held until batch_size of them wait or the oldest waited
// flush_interval (and at shutdown). Acknowledgement: held events are reported
// through OldestHeldSeq(), so the pipeline confirms an event to the source
// only after ClickHouse answered 200 for its rows or it is in the DLQ.
//
// Failure handling:
//  - connection errors, timeouts, 408, 429, 5xx: the batch stays held, the
//    adapter reports itself degraded and sends it again after a backoff
//    (nothing is dropped; the source is not confirmed meanwhile);
//  - rows refused (an exception code about the data, e.g. Code: 27, or a
//    400): the batch is split in halves until the refused rows are alone;
//    each goes to the DLQ with the server's text, the others are inserted;
//  - credentials, a missing table or column, a statement ClickHouse does not
//    accept: the adapter stops with the server's message (nothing confirmed).
// Redeliveries (after a crash, or a retried request whose answer was lost)
// carry the same deterministic event ids, so ReplacingMergeTree collapses
// them; duplicate ids inside one batch are sent once
// (pgcdc_clickhouse_dedup_skipped_total).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "adapter/clickhouse/clickhouse_protocol.h"
#include "adapter/retrying_adapter.h"
#include "config/value.h"
#include "registry/registry.h"

namespace pgcdc::adapter::clickhouse {

struct Options {
  std::string dsn;
  std::string table = "pgcdc_events";
  bool auto_create = false;
  bool async_insert = false;
  config::RouteMap settings;  // setting -> value (a list only when the value had commas)
  size_t batch_size = 10000;
  std::chrono::milliseconds flush_interval{1'000};
  std::chrono::milliseconds timeout{30'000};  // one request
  std::string tls_ca_file;
  bool tls_insecure = false;
  BackoffPolicy backoff{};  // 5s / 60s
};

class ClickHouseAdapter : public RetryingAdapter {
 public:
  explicit ClickHouseAdapter(Options options);
  ~ClickHouseAdapter() override;

  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  // Sends the held rows once the oldest waited flush_interval.
  Status Flush() override;
  std::optional<uint64_t> OldestHeldSeq() const override;
  void Interrupt() override;
  // Sends what is still held, one attempt (those events are not confirmed
  // otherwise and come again after a restart).
  void Close() override;

  struct Conn;
  // One request's outcome: an answer, or `failure` (no answer).
  struct Reply {
    Answer answer;
    std::string body;
    std::string failure;
  };

 private:
  Status Preflight();
  Status CheckColumns();
  Status SendHeld();
  // Inserts rows [begin, end) of `lines`, retrying transient failures;
  // `rejected` gets the answer when ClickHouse refused the rows.
  Status Insert(std::span<const std::string> lines, size_t begin, size_t end,
                std::optional<Answer>& rejected);
  Status Send(std::string_view target, std::string_view body, Reply& reply);
  Status SendRetrying(std::string_view target, std::string_view body, Reply& reply);
  Status Fatal(const std::string& what, const Answer& answer);

  Options options_;
  Dsn dsn_;
  std::string insert_target_;
  std::unique_ptr<Conn> conn_;
  std::vector<Event> held_;
  std::chrono::steady_clock::time_point oldest_at_{};
  bool closing_ = false;
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::clickhouse
