// redis adapter (SPEC §5.10, extended): keeps Redis in step with row changes.
//
//   invalidate  DEL <prefix><row id> for every change (a cache in front of
//               the table re-reads the row on its next miss)
//   sync        INSERT/UPDATE/SNAPSHOT → SET <prefix><row id> <row JSON>;
//               DELETE → DEL. Unchanged TOAST columns of an UPDATE are taken
//               from the value already stored (GET, then SET the merge).
//   stream      XADD <prefix><channel> MAXLEN ~ <n> * id <event id> event
//               <envelope JSON> for every event (no row id needed)
//
// Commands are pipelined: up to batch_size per round trip, in event order on
// one connection, so a row's changes are applied in order.
//
// Failure handling (no event is acknowledged before Redis answered its
// command, or it is in the DLQ):
//  - connection refused/lost, timeouts, LOADING, BUSY, MASTERDOWN, READONLY,
//    TRYAGAIN, CLUSTERDOWN, OOM, NOAUTH/WRONGPASS/NOPERM (fixable by an
//    operator, not the event's fault): back off, reconnect, and send again
//    the commands not yet answered. Health is degraded meanwhile; nothing is
//    dropped, the source keeps the events.
//  - any other error reply (WRONGTYPE, ERR …) is about this event's command:
//    the event goes to the DLQ with the server's message.
//  - events sync/invalidate cannot map to a key (no row id: transaction
//    markers, messages, a payload without the id column) and TRUNCATE in
//    sync mode are skipped, counted in pgcdc_redis_skipped_total{reason}.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/retrying_adapter.h"
#include "registry/registry.h"

namespace pgcdc::adapter::redis {

enum class Mode { kInvalidate, kSync, kStream };

struct Options {
  std::string url;
  Mode mode = Mode::kInvalidate;
  std::string key_prefix;
  std::string id_column = "id";
  int64_t stream_maxlen = 1'000'000;  // XADD MAXLEN ~; 0 = unbounded
  size_t batch_size = 1024;           // commands per round trip
  std::chrono::milliseconds timeout{10'000};
  std::string tls_ca_file;
  bool tls_insecure = false;
  BackoffPolicy backoff{std::chrono::seconds(1), std::chrono::seconds(30),
                        std::chrono::milliseconds(100)};
};

// redis://[[user]:password@]host[:port][/db] and rediss:// (TLS).
struct RedisUrl {
  bool tls = false;
  std::string host;
  uint16_t port = 6379;
  std::string username;  // empty: AUTH with the password only
  std::string password;  // empty: no AUTH
  int db = 0;
};
Result<RedisUrl> ParseRedisUrl(std::string_view url);
// The URL with the password replaced by "xxx" (for logs and errors).
std::string RedactRedisUrl(std::string_view url);

// --- pure planning (unit tested) ---

// What one event becomes.
struct Plan {
  enum class Kind { kSkip, kCommand, kMergeToast };
  Kind kind = Kind::kSkip;
  std::string skip_reason;  // kSkip: "no_id", "truncate"
  std::string key;
  std::string command;     // kCommand: the encoded RESP command
  std::string_view label;  // metric label of the write: "set", "del", "xadd"
  // kMergeToast: the row JSON and the columns to take from the stored value.
  std::string row_json;
  std::vector<std::string> toast_columns;
  // A kCommand that failed to parse the payload etc.: a DLQ reason instead.
  std::string invalid;
};
Plan PlanEvent(const Options& options, const Event& event);
// sync mode's SET after a TOAST merge: the row with each unchanged column
// taken from `stored` (the JSON object in Redis), or left out when `stored`
// is absent or lacks it. Falls back to `row_json` unchanged when `stored`
// is not a JSON object.
std::string MergeToast(std::string_view row_json, std::span<const std::string> columns,
                       const std::optional<std::string>& stored);

// How an error reply is handled.
enum class ReplyError { kRetry, kDeadLetter };
ReplyError ClassifyReplyError(std::string_view message);

class RedisAdapter : public RetryingAdapter {
 public:
  explicit RedisAdapter(Options options);
  ~RedisAdapter() override;

  // Pre-flight: connect, AUTH, SELECT, PING.
  Status Open() override;
  // Returns once every event's command was answered (or the event skipped or
  // dead-lettered).
  Status Deliver(std::span<const Event* const> events) override;
  void Interrupt() override;
  void Close() override;

  struct Conn;

 private:
  struct Pending;
  Status DeliverChunk(std::span<const Event* const> events);
  // Sends the commands of `pending` not yet done, handling replies; retries
  // with backoff after connection-class failures until all are done.
  Status Run(std::vector<Pending>& pending);
  Result<std::string> SendWindow(std::vector<Pending>& pending, size_t first, std::string& out,
                                 std::vector<std::pair<size_t, bool>>& window);
  void BuildWindow(std::vector<Pending>& pending, size_t first, std::string& out,
                   std::vector<std::pair<size_t, bool>>& window) const;
  Status ApplyReplies(std::vector<Pending>& pending,
                      const std::vector<std::pair<size_t, bool>>& window, std::string& failure);
  Status Connect();
  Status DeadLetter(const Event& event, const std::string& reason);

  Options options_;
  RedisUrl url_;
  std::unique_ptr<Conn> conn_;
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::redis
