// Broker: the Kafka request handlers of the built-in broker, without sockets.
//
// One frame in (a request without its 4-byte size), at most one framed
// response out, through a completion callback. The network server
// (server.h) feeds every connection's frames one at a time, in order, and
// writes the replies; unit tests drive the Broker directly with a fake
// Executor. Handlers: ApiVersions, Metadata, Produce, Fetch (long poll),
// ListOffsets, FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, SaslHandshake and
// SaslAuthenticate (SASL/PLAIN), InitProducerId, AddPartitionsToTxn and
// EndTxn, with topic, group, transactional-id and cluster ACLs (acl.h).
//
// Protocol failures close the connection, as Kafka does: an undecodable
// header or body, an unknown API key, an unsupported version of a known key
// (except ApiVersions, answered with UNSUPPORTED_VERSION and the supported
// list), and with SASL enabled any other request before authentication.
//
// Threading: every method runs on the broker thread (the server's I/O
// thread); callbacks are invoked on it too. Partition-log waiters fire on the
// appending thread and only Post() back to the broker thread. Completion
// callbacks may run inside Handle() or later (Fetch long poll, JoinGroup,
// SyncGroup); after CloseConnection() a connection's pending callback is
// never invoked.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/kafkaserver/acl.h"
#include "adapter/kafkaserver/group_coordinator.h"
#include "adapter/kafkaserver/topic_store.h"
#include "adapter/kafkaserver/transactions.h"
#include "core/error.h"

namespace pgcdc::adapter::kafkaserver {

class OffsetStore;
struct PendingFetch;

// Runs closures and timers on the broker thread: the server's io_context in
// production, a manual fake in tests.
class Executor {
 public:
  virtual ~Executor() = default;
  // Runs `fn` on the broker thread soon. Callable from any thread.
  virtual void Post(std::function<void()> fn) = 0;
  // One-shot timer on the broker thread; returns an id for CancelTimer.
  virtual uint64_t StartTimer(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  // Cancels a timer that has not fired (unknown ids are ignored).
  virtual void CancelTimer(uint64_t id) = 0;
  virtual GroupTime Now() const = 0;
};

struct BrokerOptions {
  // Broker address announced in Metadata/FindCoordinator.
  std::string advertised_host = "localhost";
  int32_t advertised_port = 9092;
  std::string cluster_id = "pgcdc";
  // SASL/PLAIN: when enabled every connection must authenticate first, as
  // one of `users`; `acl` then limits what each user may do with topics,
  // groups, transactional ids and the cluster.
  bool sasl = false;
  std::vector<SaslUser> users;
  Acl acl;
  // Upper bound for a Fetch long poll, whatever the client asks.
  std::chrono::milliseconds max_fetch_wait{std::chrono::minutes(5)};
  // Session timeouts requested in JoinGroup are capped at this value (0 = no cap).
  std::chrono::milliseconds session_timeout_cap{0};
  GroupCoordinatorOptions groups;
};

// What to send back for one request.
struct Reply {
  std::string bytes;   // the framed response; empty: nothing to send (Produce acks=0)
  bool close = false;  // close the connection (after sending `bytes`, if any)
  std::string close_reason;
};
using ReplyFn = std::function<void(Reply)>;

// Per-connection protocol state. Created by NewConnection, owned by the
// transport; the broker keeps only what pending requests need.
struct BrokerConnection {
  uint64_t id = 0;
  std::string peer;  // "host:port" of the client, for logs and DescribeGroups
  std::string host;  // client host only
  bool closed = false;
  bool authenticated = false;
  std::string user;  // the SASL user, once authenticated
  enum class Sasl { kNone, kHandshakeDone, kRawToken } sasl = Sasl::kNone;
  // The pending Fetch long poll, if any (broker-private).
  std::shared_ptr<PendingFetch> fetch;
};
using BrokerConnectionPtr = std::shared_ptr<BrokerConnection>;

class Broker {
 public:
  // `offsets` may be null: OffsetCommit/OffsetFetch then answer
  // COORDINATOR_NOT_AVAILABLE. `topics`, `offsets` and `executor` must
  // outlive the broker.
  Broker(BrokerOptions options, TopicStore& topics, OffsetStore* offsets, Executor& executor);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  BrokerConnectionPtr NewConnection(std::string peer);
  // Handles one request frame. `done` runs exactly once unless the
  // connection is closed first.
  void Handle(const BrokerConnectionPtr& conn, const std::string& frame, ReplyFn done);
  // The transport closed: cancels the connection's pending long poll.
  void CloseConnection(const BrokerConnectionPtr& conn);
  // Periodic housekeeping (group session expiry); the server calls it every second.
  void Tick();
  // Cancels every pending request (server shutdown).
  void Shutdown();

  GroupCoordinator& groups() { return groups_; }
  const BrokerOptions& options() const { return options_; }
  // Updates the announced address (the server learns the port at bind time).
  void SetAdvertised(std::string host, int32_t port);
  // Called (broker thread) after an OffsetCommit was stored.
  void OnCommit(std::function<void()> fn) { on_commit_ = std::move(fn); }

  struct Metrics;

 private:
  void Dispatch(const BrokerConnectionPtr& conn, const std::string& frame, ReplyFn& done);
  void RunFetch(const std::shared_ptr<PendingFetch>& fetch, bool final_attempt);
  void ArmFetch(const std::shared_ptr<PendingFetch>& fetch);
  void FinishFetch(const std::shared_ptr<PendingFetch>& fetch);
  void CancelFetch(PendingFetch& fetch);
  void UpdateGroupGauges();
  // kafkaserver.acls: may `conn`'s user do `op` on resource `name` of `type`?
  // A refusal is counted under `api` and logged (Refused); one that only
  // leaves the resource out of a full listing is counted only.
  bool Authorized(const BrokerConnection& conn, int16_t api, AclResource type, AclOp op,
                  std::string_view name, bool listing = false);
  // Counts and logs a refusal: one log line per user, API and resource a
  // minute at most, so a retrying client cannot flood the log.
  void Refused(const BrokerConnection& conn, int16_t api, AclResource type, AclOp op,
               std::string_view name);
  // The user a SASL/PLAIN token authenticates, or nullptr.
  const SaslUser* CheckPlain(std::string_view token) const;
  // Appends a transaction marker (control batch) to a partition.
  Result<int64_t> WriteMarker(const TxnPartition& partition, int64_t producer_id, int16_t epoch,
                              bool commit);

  BrokerOptions options_;
  TopicStore& topics_;
  OffsetStore* offsets_;
  Executor& executor_;
  GroupCoordinator groups_;
  Transactions txns_;
  uint64_t next_connection_id_ = 1;
  std::map<uint64_t, std::weak_ptr<BrokerConnection>> connections_;
  Metrics* metrics_;
  std::function<void()> on_commit_;
  std::map<std::string, GroupTime> refusals_logged_;  // Refused's rate limit
  struct Handlers;
  friend struct Handlers;
};

}  // namespace pgcdc::adapter::kafkaserver
