// GroupCoordinator: Kafka consumer groups with the classic rebalance protocol
// (JoinGroup / SyncGroup / Heartbeat / LeaveGroup), as Kafka's broker runs it.
//
// States: Empty → PreparingRebalance → CompletingRebalance → Stable (and back);
// Dead is reported for unknown groups.
//  - JoinGroup puts the group into PreparingRebalance and is answered when
//    every known member has rejoined (and no MEMBER_ID_REQUIRED member is
//    pending), or when the rebalance timeout (the largest of the members')
//    expires — members that did not rejoin are then removed. A group that
//    rebalances out of Empty first waits `initial_rebalance_delay`, extended
//    while new members keep arriving, up to the rebalance timeout (Kafka's
//    group.initial.rebalance.delay.ms).
//  - On completion the generation is bumped, the protocol is chosen by vote
//    among those every member supports, and all JoinGroup calls are answered:
//    the leader (first joiner, kept while it rejoins) gets every member's
//    metadata, followers an empty list.
//  - SyncGroup from followers waits for the leader's; the leader's assignment
//    completes everyone's SyncGroup and makes the group Stable. Members that
//    do not send SyncGroup within the rebalance timeout are removed.
//  - Heartbeat answers REBALANCE_IN_PROGRESS while preparing a rebalance,
//    ILLEGAL_GENERATION / UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID as Kafka does.
//  - Members not heard from within their session timeout are removed by
//    Tick() (members waiting in JoinGroup/SyncGroup are kept alive, except new
//    members after `new_member_join_timeout`).
//  - Static membership (group.instance.id): a rejoin with an unknown member id
//    replaces the old member id (requests with the old id get
//    FENCED_INSTANCE_ID); no rebalance when the group is Stable and the
//    protocol does not change.
//
// Threading and time: no threads and no clock inside. The caller serialises
// all calls (one strand or mutex) and passes `now` (steady clock) to every
// call; Tick(now) must be called periodically (NextDeadline() says when the
// next timer is due). JoinGroup/SyncGroup answers are delivered through
// callbacks which may run inside that call, inside another member's call or
// inside Tick(); callbacks run after the coordinator's state is consistent, on
// the calling thread, and may call back into the coordinator.
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

#include "adapter/kafkaserver/kafka_errors.h"

namespace pgcdc::adapter::kafkaserver {

using GroupClock = std::chrono::steady_clock;
using GroupTime = GroupClock::time_point;

enum class GroupState { kEmpty, kPreparingRebalance, kCompletingRebalance, kStable, kDead };

// Kafka's state names: "Empty", "PreparingRebalance", "CompletingRebalance",
// "Stable", "Dead".
std::string_view GroupStateName(GroupState state);
// Inverse of GroupStateName (case-insensitive, as ListGroups v4 filters are).
std::optional<GroupState> ParseGroupState(std::string_view name);

struct GroupCoordinatorOptions {
  // group.initial.rebalance.delay.ms (0 = answer the first JoinGroup at once).
  std::chrono::milliseconds initial_rebalance_delay{3000};
  // group.min/max.session.timeout.ms: JoinGroup outside → INVALID_SESSION_TIMEOUT.
  std::chrono::milliseconds min_session_timeout{6000};
  std::chrono::milliseconds max_session_timeout{1800000};
  // group.max.size.
  int32_t max_group_size = INT32_MAX;
  // How long a new member may wait in JoinGroup (Kafka: 5 minutes).
  std::chrono::milliseconds new_member_join_timeout{300000};
  // Member id generator; default: "<client_id or instance id>-<uuid>".
  std::function<std::string(std::string_view client_id,
                            const std::optional<std::string>& group_instance_id)>
      member_id_generator;
};

struct JoinProtocol {
  std::string name;
  std::string metadata;
};

struct JoinArgs {
  std::string group_id;
  std::string member_id;  // "" for a new member
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 10000;
  int32_t rebalance_timeout_ms = 300000;  // JoinGroup v0: pass the session timeout
  std::string protocol_type;              // "consumer"
  std::vector<JoinProtocol> protocols;    // in the member's preference order
  bool require_known_member_id = false;   // JoinGroup v4+
  std::string reason;                     // v8+, for logs
};

struct JoinMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string metadata;  // for the selected protocol
};

struct JoinResult {
  KafkaError error = KafkaError::kNone;
  int32_t generation_id = -1;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string leader_id;
  std::string member_id;
  bool skip_assignment = false;
  std::vector<JoinMember> members;  // only for the leader
};

struct SyncAssignment {
  std::string member_id;
  std::string assignment;
};

struct SyncArgs {
  std::string group_id;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  int32_t generation_id = -1;
  std::optional<std::string> protocol_type;  // v5+
  std::optional<std::string> protocol_name;  // v5+
  std::vector<SyncAssignment> assignments;   // the leader's
};

struct SyncResult {
  KafkaError error = KafkaError::kNone;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string assignment;
};

struct LeaveMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
};

struct LeaveResult {
  KafkaError error = KafkaError::kNone;
  std::vector<KafkaError> member_errors;  // parallel to the request's members
};

struct MemberDescription {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  std::string metadata;    // only when Stable
  std::string assignment;  // only when Stable
};

struct GroupDescription {
  KafkaError error = KafkaError::kNone;
  std::string group_id;
  std::string state;  // GroupStateName
  std::string protocol_type;
  std::string protocol_data;  // the selected protocol (only when Stable)
  std::vector<MemberDescription> members;
};

struct GroupListing {
  std::string group_id;
  std::string protocol_type;
  std::string state;
};

class GroupCoordinator {
 public:
  using JoinCallback = std::function<void(JoinResult)>;
  using SyncCallback = std::function<void(SyncResult)>;

  explicit GroupCoordinator(GroupCoordinatorOptions options = {});
  ~GroupCoordinator();
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  void Join(JoinArgs args, GroupTime now, JoinCallback done);
  void Sync(SyncArgs args, GroupTime now, SyncCallback done);
  KafkaError Heartbeat(std::string_view group_id, std::string_view member_id,
                       const std::optional<std::string>& group_instance_id, int32_t generation_id,
                       GroupTime now);
  // LeaveGroup v3+ (a batch); v0–2 pass one member and use member_errors[0]
  // as the top-level error.
  LeaveResult Leave(std::string_view group_id, const std::vector<LeaveMember>& members,
                    GroupTime now);

  // OffsetCommit admission, as Kafka checks it: generation -1 with an empty
  // member id may commit to an Empty (or unknown, then created) group; a
  // group member must match the generation; CompletingRebalance →
  // REBALANCE_IN_PROGRESS; an unknown group with generation >= 0 →
  // ILLEGAL_GENERATION. A valid member commit counts as a heartbeat.
  KafkaError ValidateCommit(std::string_view group_id, std::string_view member_id,
                            const std::optional<std::string>& group_instance_id,
                            int32_t generation_id, GroupTime now);

  // Registers an Empty group if unknown (groups that only have stored offsets).
  void EnsureGroup(std::string_view group_id);

  // Expires sessions, pending members, rebalance and sync timeouts.
  void Tick(GroupTime now);
  // Earliest time Tick has work to do, if any.
  std::optional<GroupTime> NextDeadline() const;

  GroupDescription Describe(std::string_view group_id) const;
  // All groups, sorted by id; `states` (empty = all) filters by state.
  std::vector<GroupListing> List(const std::vector<GroupState>& states = {}) const;
  std::optional<GroupState> StateOf(std::string_view group_id) const;
  int32_t GenerationOf(std::string_view group_id) const;  // -1 if unknown

  // Answers every pending JoinGroup/SyncGroup with `error` (server shutdown).
  void Shutdown(KafkaError error = KafkaError::kCoordinatorNotAvailable);

 private:
  struct Member;
  struct Group;

  Group* FindGroup(std::string_view id) const;
  Group& GetOrCreateGroup(std::string_view id);
  void JoinNewMember(Group& g, JoinArgs& args, GroupTime now, JoinCallback& done);
  void JoinKnownMember(Group& g, JoinArgs& args, GroupTime now, JoinCallback& done);
  void AddMemberAndRebalance(Group& g, JoinArgs& args, std::string member_id, GroupTime now,
                             JoinCallback done);
  void UpdateMemberAndRebalance(Group& g, Member& m, JoinArgs& args, GroupTime now,
                                JoinCallback done);
  void MaybePrepareRebalance(Group& g, GroupTime now, std::string_view reason);
  void PrepareRebalance(Group& g, GroupTime now, std::string_view reason);
  void MaybeCompleteJoin(Group& g, GroupTime now);
  void CompleteJoin(Group& g, GroupTime now);
  void RemoveMember(Group& g, const std::string& member_id, GroupTime now, std::string_view reason);
  void ResetAndPropagateSyncError(Group& g, KafkaError error);
  void ExpireGroup(Group& g, GroupTime now);
  bool SupportsProtocols(const Group& g, const Member* self, std::string_view protocol_type,
                         const std::vector<JoinProtocol>& protocols) const;
  std::string SelectProtocol(const Group& g) const;
  JoinResult CurrentJoinResult(const Group& g, const Member& m, bool with_members) const;
  std::string NewMemberId(std::string_view client_id,
                          const std::optional<std::string>& instance_id) const;
  KafkaError ValidateMember(const Group& g, std::string_view member_id,
                            const std::optional<std::string>& instance_id) const;
  void Defer(std::function<void()> fn);
  void Flush();

  GroupCoordinatorOptions options_;
  std::map<std::string, std::unique_ptr<Group>, std::less<>> groups_;
  std::vector<std::function<void()>> pending_;
  bool flushing_ = false;
};

}  // namespace pgcdc::adapter::kafkaserver
