#include "adapter/kafkaserver/group_coordinator.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/enum_names.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/uuid.h"

namespace pgcdc::adapter::kafkaserver {

using std::chrono::milliseconds;

constexpr EnumNames<GroupState, GroupState::kDead> kGroupStateNames(
    {"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}, "Dead");

std::string_view GroupStateName(GroupState state) { return kGroupStateNames(state); }

std::optional<GroupState> ParseGroupState(std::string_view name) {
  return kGroupStateNames.Find(name, [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  });
}

struct GroupCoordinator::Member {
  std::string id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string protocol_type;
  std::vector<JoinProtocol> protocols;
  std::string assignment;
  JoinCallback join_cb;  // set while awaiting the JoinGroup answer
  SyncCallback sync_cb;  // set while awaiting the SyncGroup answer
  bool is_new = false;
  GroupTime heartbeat_deadline{};

  bool awaiting_join() const { return static_cast<bool>(join_cb); }
  bool awaiting_sync() const { return static_cast<bool>(sync_cb); }
  const std::string* MetadataFor(std::string_view protocol) const {
    for (const auto& p : protocols) {
      if (p.name == protocol) return &p.metadata;
    }
    return nullptr;
  }
  bool Supports(std::string_view protocol) const { return MetadataFor(protocol) != nullptr; }
  bool Matches(const std::vector<JoinProtocol>& other) const {
    if (other.size() != protocols.size()) return false;
    for (size_t i = 0; i < other.size(); ++i) {
      if (other[i].name != protocols[i].name || other[i].metadata != protocols[i].metadata) {
        return false;
      }
    }
    return true;
  }
  // Members waiting in JoinGroup/SyncGroup need no heartbeats, except new
  // members (bounded by new_member_join_timeout instead).
  bool KeptAlive() const { return !is_new && (awaiting_join() || awaiting_sync()); }
};

struct GroupCoordinator::Group {
  std::string id;
  GroupState state = GroupState::kEmpty;
  int32_t generation = 0;
  std::string protocol_type;
  std::optional<std::string> protocol_name;
  std::string leader_id;
  std::vector<std::unique_ptr<Member>> members;       // in join order
  std::map<std::string, GroupTime> pending_members;   // MEMBER_ID_REQUIRED → expiry
  std::map<std::string, std::string> static_members;  // instance id → member id
  std::optional<GroupTime> join_deadline;             // PreparingRebalance timer
  bool initial_delay = false;                         // join timer is the initial delay
  milliseconds initial_remaining{0};
  bool new_member_added = false;
  std::optional<GroupTime> sync_deadline;  // pending SyncGroup timer
  std::set<std::string> pending_sync;

  Member* Find(std::string_view member_id) const {
    for (const auto& m : members) {
      if (m->id == member_id) return m.get();
    }
    return nullptr;
  }
  size_t AwaitingJoin() const {
    size_t n = 0;
    for (const auto& m : members) n += m->awaiting_join() ? 1 : 0;
    return n;
  }
  bool AllMembersJoined() const {
    return AwaitingJoin() == members.size() && pending_members.empty();
  }
  milliseconds RebalanceTimeout() const {
    int32_t ms = 0;
    for (const auto& m : members) ms = std::max(ms, m->rebalance_timeout_ms);
    return milliseconds(ms);
  }
  // Removes a member without any protocol side effects.
  void Erase(const std::string& member_id) {
    auto it = std::find_if(members.begin(), members.end(),
                           [&](const auto& m) { return m->id == member_id; });
    if (it == members.end()) return;
    if ((*it)->instance_id) static_members.erase(*(*it)->instance_id);
    members.erase(it);
    pending_sync.erase(member_id);
    if (leader_id == member_id) leader_id = members.empty() ? std::string() : members.front()->id;
  }
};

namespace {

JoinResult JoinError(std::string member_id, KafkaError error) {
  JoinResult r;
  r.error = error;
  r.member_id = std::move(member_id);
  return r;
}

SyncResult SyncError(KafkaError error) {
  SyncResult r;
  r.error = error;
  return r;
}

}  // namespace

GroupCoordinator::GroupCoordinator(GroupCoordinatorOptions options)
    : options_(std::move(options)) {}

GroupCoordinator::~GroupCoordinator() = default;

// ---------------------------------------------------------------------------
// Deferred callbacks: answers are queued while state changes and delivered
// once the public call is done, so a callback never sees a half-updated group
// and may safely call back into the coordinator.

void GroupCoordinator::Defer(std::function<void()> fn) { pending_.push_back(std::move(fn)); }

void GroupCoordinator::Flush() {
  if (flushing_) return;  // a nested call: the outer Flush delivers
  flushing_ = true;
  while (!pending_.empty()) {
    auto batch = std::move(pending_);
    pending_.clear();
    for (auto& fn : batch) fn();
  }
  flushing_ = false;
}

// ---------------------------------------------------------------------------
// Helpers

GroupCoordinator::Group* GroupCoordinator::FindGroup(std::string_view id) const {
  auto it = groups_.find(id);
  return it == groups_.end() ? nullptr : it->second.get();
}

GroupCoordinator::Group& GroupCoordinator::GetOrCreateGroup(std::string_view id) {
  auto it = groups_.find(id);
  if (it != groups_.end()) return *it->second;
  auto g = std::make_unique<Group>();
  g->id = std::string(id);
  Group& ref = *g;
  groups_.emplace(g->id, std::move(g));
  return ref;
}

void GroupCoordinator::EnsureGroup(std::string_view group_id) { GetOrCreateGroup(group_id); }

std::string GroupCoordinator::NewMemberId(std::string_view client_id,
                                          const std::optional<std::string>& instance_id) const {
  if (options_.member_id_generator) return options_.member_id_generator(client_id, instance_id);
  std::string id = instance_id ? *instance_id : std::string(client_id);
  id += '-';
  NewUuidV7().AppendTo(id);
  return id;
}

KafkaError GroupCoordinator::ValidateMember(const Group& g, std::string_view member_id,
                                            const std::optional<std::string>& instance_id) const {
  if (instance_id) {
    auto it = g.static_members.find(*instance_id);
    if (it == g.static_members.end()) return KafkaError::kUnknownMemberId;
    if (it->second != member_id) return KafkaError::kFencedInstanceId;
    return KafkaError::kNone;
  }
  return g.Find(member_id) ? KafkaError::kNone : KafkaError::kUnknownMemberId;
}

bool GroupCoordinator::SupportsProtocols(const Group& g, const Member* self,
                                         std::string_view protocol_type,
                                         const std::vector<JoinProtocol>& protocols) const {
  if (protocol_type.empty() || protocols.empty()) return false;
  if (g.members.empty()) return true;
  if (protocol_type != g.protocol_type) return false;
  // A protocol every other member also supports (the joining member's own
  // old protocols do not count: it may change them).
  for (const auto& p : protocols) {
    bool all = true;
    for (const auto& m : g.members) {
      if (m.get() != self && !m->Supports(p.name)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

std::string GroupCoordinator::SelectProtocol(const Group& g) const {
  const Member* leader = g.Find(g.leader_id);
  if (leader == nullptr) leader = g.members.front().get();
  // Candidates: protocols every member supports, in the leader's order.
  std::vector<std::string> candidates;
  for (const auto& p : leader->protocols) {
    bool all = std::all_of(g.members.begin(), g.members.end(),
                           [&](const auto& m) { return m->Supports(p.name); });
    if (all) candidates.push_back(p.name);
  }
  if (candidates.empty()) return leader->protocols.front().name;  // cannot happen: checked on join
  std::vector<int> votes(candidates.size(), 0);
  for (const auto& m : g.members) {
    for (const auto& p : m->protocols) {
      auto it = std::find(candidates.begin(), candidates.end(), p.name);
      if (it != candidates.end()) {
        ++votes[static_cast<size_t>(it - candidates.begin())];
        break;
      }
    }
  }
  const auto best = std::max_element(votes.begin(), votes.end());  // first max wins ties
  return candidates[static_cast<size_t>(best - votes.begin())];
}

JoinResult GroupCoordinator::CurrentJoinResult(const Group& g, const Member& m,
                                               bool with_members) const {
  JoinResult r;
  r.generation_id = g.generation;
  r.protocol_type = g.protocol_type;
  r.protocol_name = g.protocol_name;
  r.leader_id = g.leader_id;
  r.member_id = m.id;
  if (with_members) {
    for (const auto& other : g.members) {
      const std::string* md = g.protocol_name ? other->MetadataFor(*g.protocol_name) : nullptr;
      r.members.push_back({other->id, other->instance_id, md ? *md : std::string()});
    }
  }
  return r;
}

// ---------------------------------------------------------------------------
// JoinGroup

void GroupCoordinator::Join(JoinArgs args, GroupTime now, JoinCallback done) {
  auto reply = [&](JoinResult r) {
    Defer([cb = std::move(done), r = std::move(r)]() mutable { cb(std::move(r)); });
  };
  if (args.group_id.empty()) {
    reply(JoinError(args.member_id, KafkaError::kInvalidGroupId));
  } else if (milliseconds(args.session_timeout_ms) < options_.min_session_timeout ||
             milliseconds(args.session_timeout_ms) > options_.max_session_timeout) {
    reply(JoinError(args.member_id, KafkaError::kInvalidSessionTimeout));
  } else {
    if (args.rebalance_timeout_ms <= 0) args.rebalance_timeout_ms = args.session_timeout_ms;
    Group* g = FindGroup(args.group_id);
    if (g == nullptr && !args.member_id.empty()) {
      reply(JoinError(args.member_id, KafkaError::kUnknownMemberId));
    } else {
      if (g == nullptr) g = &GetOrCreateGroup(args.group_id);
      const Member* known = args.member_id.empty() ? nullptr : g->Find(args.member_id);
      bool accept = true;
      switch (g->state) {
        case GroupState::kEmpty:
        case GroupState::kDead:
          break;
        case GroupState::kPreparingRebalance:
          accept = (known && known->awaiting_join()) ||
                   g->AwaitingJoin() < static_cast<size_t>(options_.max_group_size);
          break;
        case GroupState::kCompletingRebalance:
        case GroupState::kStable:
          accept = known || g->members.size() < static_cast<size_t>(options_.max_group_size);
          break;
      }
      if (g->state == GroupState::kDead) {
        reply(JoinError(args.member_id, KafkaError::kCoordinatorNotAvailable));
      } else if (!accept) {
        if (known) RemoveMember(*g, args.member_id, now, "group max size reached");
        g->pending_members.erase(args.member_id);
        reply(JoinError("", KafkaError::kGroupMaxSizeReached));
      } else if (args.member_id.empty()) {
        JoinNewMember(*g, args, now, done);
      } else {
        JoinKnownMember(*g, args, now, done);
      }
      if (g->state == GroupState::kPreparingRebalance) MaybeCompleteJoin(*g, now);
    }
  }
  Flush();
}

void GroupCoordinator::JoinNewMember(Group& g, JoinArgs& args, GroupTime now, JoinCallback& done) {
  if (!SupportsProtocols(g, nullptr, args.protocol_type, args.protocols)) {
    Defer([cb = std::move(done)] { cb(JoinError("", KafkaError::kInconsistentGroupProtocol)); });
    return;
  }
  std::string new_id = NewMemberId(args.client_id, args.group_instance_id);
  if (args.group_instance_id) {
    auto it = g.static_members.find(*args.group_instance_id);
    if (it != g.static_members.end()) {
      // A known static member restarted: it takes over the old member's place.
      Member* m = g.Find(it->second);
      const std::string old_id = it->second;
      const std::string old_leader = g.leader_id;
      log::Info("kafkaserver: static member rejoined with a new member id",
                {{"group", g.id},
                 {"instance", *args.group_instance_id},
                 {"old", old_id},
                 {"new", new_id}});
      if (m->join_cb) {
        Defer([cb = std::move(m->join_cb), old_id] {
          cb(JoinError(old_id, KafkaError::kFencedInstanceId));
        });
        m->join_cb = nullptr;
      }
      if (m->sync_cb) {
        Defer([cb = std::move(m->sync_cb)] { cb(SyncError(KafkaError::kFencedInstanceId)); });
        m->sync_cb = nullptr;
      }
      m->id = new_id;
      it->second = new_id;
      if (g.leader_id == old_id) g.leader_id = new_id;
      if (g.pending_sync.erase(old_id) > 0) g.pending_sync.insert(new_id);
      m->protocols = args.protocols;
      m->session_timeout_ms = args.session_timeout_ms;
      m->rebalance_timeout_ms = args.rebalance_timeout_ms;
      m->client_id = args.client_id;
      m->client_host = args.client_host;
      m->heartbeat_deadline = now + milliseconds(m->session_timeout_ms);
      switch (g.state) {
        case GroupState::kStable:
          if (g.protocol_name && SelectProtocol(g) == *g.protocol_name) {
            // No rebalance: answer with the current generation. The old leader
            // id is returned so the member does not run a pointless assignment.
            JoinResult r = CurrentJoinResult(g, *m, false);
            r.leader_id = old_leader;
            Defer([cb = std::move(done), r = std::move(r)]() mutable { cb(std::move(r)); });
          } else {
            m->join_cb = std::move(done);
            PrepareRebalance(g, now, "static member changed its protocols");
          }
          break;
        case GroupState::kCompletingRebalance:
          m->join_cb = std::move(done);
          PrepareRebalance(g, now, "static member rejoined while awaiting sync");
          break;
        case GroupState::kPreparingRebalance:
        case GroupState::kEmpty:
        case GroupState::kDead:
          m->join_cb = std::move(done);
          break;
      }
      return;
    }
    AddMemberAndRebalance(g, args, std::move(new_id), now, std::move(done));
    return;
  }
  if (args.require_known_member_id) {
    g.pending_members[new_id] = now + milliseconds(args.session_timeout_ms);
    Defer([cb = std::move(done), new_id] { cb(JoinError(new_id, KafkaError::kMemberIdRequired)); });
    return;
  }
  AddMemberAndRebalance(g, args, std::move(new_id), now, std::move(done));
}

void GroupCoordinator::JoinKnownMember(Group& g, JoinArgs& args, GroupTime now,
                                       JoinCallback& done) {
  auto reply = [&](JoinResult r) {
    Defer([cb = std::move(done), r = std::move(r)]() mutable { cb(std::move(r)); });
  };
  Member* m = g.Find(args.member_id);
  if (!SupportsProtocols(g, m, args.protocol_type, args.protocols)) {
    reply(JoinError(args.member_id, KafkaError::kInconsistentGroupProtocol));
    return;
  }
  if (g.pending_members.erase(args.member_id) > 0) {
    AddMemberAndRebalance(g, args, args.member_id, now, std::move(done));
    return;
  }
  if (const KafkaError err = ValidateMember(g, args.member_id, args.group_instance_id);
      err != KafkaError::kNone) {
    reply(JoinError(args.member_id, err));
    return;
  }
  switch (g.state) {
    case GroupState::kPreparingRebalance:
      UpdateMemberAndRebalance(g, *m, args, now, std::move(done));
      break;
    case GroupState::kCompletingRebalance:
      if (m->Matches(args.protocols)) {
        // Same metadata (the member probably lost our answer): resend it.
        reply(CurrentJoinResult(g, *m, m->id == g.leader_id));
      } else {
        UpdateMemberAndRebalance(g, *m, args, now, std::move(done));
      }
      break;
    case GroupState::kStable:
      if (m->id == g.leader_id || !m->Matches(args.protocols)) {
        // The leader rejoining (e.g. topic metadata changed) or changed
        // metadata forces a rebalance.
        UpdateMemberAndRebalance(g, *m, args, now, std::move(done));
      } else {
        reply(CurrentJoinResult(g, *m, false));
      }
      break;
    case GroupState::kEmpty:
    case GroupState::kDead:
      reply(JoinError(args.member_id, KafkaError::kUnknownMemberId));
      break;
  }
}

void GroupCoordinator::AddMemberAndRebalance(Group& g, JoinArgs& args, std::string member_id,
                                             GroupTime now, JoinCallback done) {
  auto m = std::make_unique<Member>();
  m->id = std::move(member_id);
  m->instance_id = args.group_instance_id;
  m->client_id = args.client_id;
  m->client_host = args.client_host;
  m->session_timeout_ms = args.session_timeout_ms;
  m->rebalance_timeout_ms = args.rebalance_timeout_ms;
  m->protocol_type = args.protocol_type;
  m->protocols = args.protocols;
  m->join_cb = std::move(done);
  m->is_new = true;
  m->heartbeat_deadline = now + options_.new_member_join_timeout;
  if (g.state == GroupState::kPreparingRebalance && g.generation == 0) g.new_member_added = true;
  if (m->instance_id) g.static_members[*m->instance_id] = m->id;
  if (g.members.empty()) g.protocol_type = args.protocol_type;
  if (g.leader_id.empty()) g.leader_id = m->id;
  log::Debug("kafkaserver: member joins group", {{"group", g.id}, {"member", m->id}});
  g.members.push_back(std::move(m));
  MaybePrepareRebalance(g, now, "member added");
}

void GroupCoordinator::UpdateMemberAndRebalance(Group& g, Member& m, JoinArgs& args, GroupTime now,
                                                JoinCallback done) {
  m.protocols = args.protocols;
  m.session_timeout_ms = args.session_timeout_ms;
  m.rebalance_timeout_ms = args.rebalance_timeout_ms;
  if (m.join_cb) {
    // A second JoinGroup for the same member (the client reconnected): the
    // older request is answered so no request stays pending forever.
    Defer([cb = std::move(m.join_cb), id = m.id] {
      cb(JoinError(id, KafkaError::kRebalanceInProgress));
    });
  }
  m.join_cb = std::move(done);
  MaybePrepareRebalance(g, now, "member rejoined");
}

void GroupCoordinator::MaybePrepareRebalance(Group& g, GroupTime now, std::string_view reason) {
  if (g.state == GroupState::kStable || g.state == GroupState::kCompletingRebalance ||
      g.state == GroupState::kEmpty) {
    PrepareRebalance(g, now, reason);
  }
}

void GroupCoordinator::PrepareRebalance(Group& g, GroupTime now, std::string_view reason) {
  if (g.state == GroupState::kCompletingRebalance) {
    ResetAndPropagateSyncError(g, KafkaError::kRebalanceInProgress);
  }
  g.pending_sync.clear();
  g.sync_deadline.reset();
  if (g.state == GroupState::kEmpty) {
    const milliseconds delay = options_.initial_rebalance_delay;
    g.initial_delay = true;
    g.join_deadline = now + delay;
    g.initial_remaining = std::max(g.RebalanceTimeout() - delay, milliseconds(0));
  } else {
    g.initial_delay = false;
    g.join_deadline = now + g.RebalanceTimeout();
  }
  log::Info("kafkaserver: preparing group rebalance", {{"group", g.id},
                                                       {"generation", g.generation},
                                                       {"reason", reason},
                                                       {"from_state", GroupStateName(g.state)}});
  g.state = GroupState::kPreparingRebalance;
  metrics::DefaultCounter("pgcdc_kafkaserver_group_rebalances_total",
                          "Consumer group rebalances started (a member joined, left or changed).")
      .Inc();
  MaybeCompleteJoin(g, now);
}

void GroupCoordinator::MaybeCompleteJoin(Group& g, GroupTime now) {
  if (g.state != GroupState::kPreparingRebalance) return;
  const bool expired = g.join_deadline && now >= *g.join_deadline;
  if (g.initial_delay) {
    if (!expired) return;  // the initial delay never completes early
    if (g.new_member_added && g.initial_remaining > milliseconds(0)) {
      g.new_member_added = false;
      const milliseconds delay = std::min(options_.initial_rebalance_delay, g.initial_remaining);
      g.initial_remaining -= delay;
      g.join_deadline = now + delay;
      if (delay > milliseconds(0)) return;
    }
    CompleteJoin(g, now);
    return;
  }
  if (g.AllMembersJoined() || expired) CompleteJoin(g, now);
}

void GroupCoordinator::CompleteJoin(Group& g, GroupTime now) {
  // Dynamic members that did not rejoin in time are dropped.
  std::vector<std::string> gone;
  for (const auto& m : g.members) {
    if (!m->awaiting_join() && !m->instance_id) gone.push_back(m->id);
  }
  for (const auto& id : gone) {
    log::Info("kafkaserver: removing member that did not rejoin",
              {{"group", g.id}, {"member", id}});
    g.Erase(id);
  }
  if (!g.members.empty()) {
    const Member* leader = g.Find(g.leader_id);
    if (leader == nullptr || !leader->awaiting_join()) {
      auto it = std::find_if(g.members.begin(), g.members.end(),
                             [](const auto& m) { return m->awaiting_join(); });
      if (it == g.members.end()) {
        // Only static members that have not rejoined: wait another round.
        g.initial_delay = false;
        g.join_deadline = now + g.RebalanceTimeout();
        return;
      }
      g.leader_id = (*it)->id;
    }
  }
  g.join_deadline.reset();
  g.initial_delay = false;
  g.new_member_added = false;
  ++g.generation;
  if (g.members.empty()) {
    g.protocol_name.reset();
    g.leader_id.clear();
    g.state = GroupState::kEmpty;
    log::Info("kafkaserver: group is empty", {{"group", g.id}, {"generation", g.generation}});
    return;
  }
  g.protocol_name = SelectProtocol(g);
  g.state = GroupState::kCompletingRebalance;
  log::Info("kafkaserver: group rebalanced", {{"group", g.id},
                                              {"generation", g.generation},
                                              {"members", g.members.size()},
                                              {"protocol", *g.protocol_name},
                                              {"leader", g.leader_id}});
  for (const auto& m : g.members) {
    if (m->join_cb) {
      JoinResult r = CurrentJoinResult(g, *m, m->id == g.leader_id);
      Defer([cb = std::move(m->join_cb), r = std::move(r)]() mutable { cb(std::move(r)); });
      m->join_cb = nullptr;
    }
    m->heartbeat_deadline = now + milliseconds(m->session_timeout_ms);
    m->is_new = false;
    g.pending_sync.insert(m->id);
  }
  g.sync_deadline = now + g.RebalanceTimeout();
}

void GroupCoordinator::RemoveMember(Group& g, const std::string& member_id, GroupTime now,
                                    std::string_view reason) {
  Member* m = g.Find(member_id);
  if (m == nullptr) return;
  if (m->join_cb) {
    Defer([cb = std::move(m->join_cb)] { cb(JoinError("", KafkaError::kUnknownMemberId)); });
    m->join_cb = nullptr;
  }
  if (m->sync_cb) {
    Defer([cb = std::move(m->sync_cb)] { cb(SyncError(KafkaError::kUnknownMemberId)); });
    m->sync_cb = nullptr;
  }
  log::Info("kafkaserver: member leaves group",
            {{"group", g.id}, {"member", member_id}, {"reason", reason}});
  g.Erase(member_id);
  switch (g.state) {
    case GroupState::kStable:
    case GroupState::kCompletingRebalance:
      MaybePrepareRebalance(g, now, reason);
      break;
    case GroupState::kPreparingRebalance:
      MaybeCompleteJoin(g, now);
      break;
    case GroupState::kEmpty:
    case GroupState::kDead:
      break;
  }
}

void GroupCoordinator::ResetAndPropagateSyncError(Group& g, KafkaError error) {
  for (const auto& m : g.members) {
    m->assignment.clear();
    if (m->sync_cb) {
      Defer([cb = std::move(m->sync_cb), error] { cb(SyncError(error)); });
      m->sync_cb = nullptr;
    }
  }
}

// ---------------------------------------------------------------------------
// SyncGroup, Heartbeat, LeaveGroup, OffsetCommit admission

void GroupCoordinator::Sync(SyncArgs args, GroupTime now, SyncCallback done) {
  auto reply = [&](SyncResult r) {
    Defer([cb = std::move(done), r = std::move(r)]() mutable { cb(std::move(r)); });
  };
  Group* g = args.group_id.empty() ? nullptr : FindGroup(args.group_id);
  const KafkaError err = [&] {
    if (args.group_id.empty()) return KafkaError::kInvalidGroupId;
    if (g == nullptr) return KafkaError::kUnknownMemberId;
    if (g->state == GroupState::kDead) return KafkaError::kCoordinatorNotAvailable;
    if (auto e = ValidateMember(*g, args.member_id, args.group_instance_id);
        e != KafkaError::kNone) {
      return e;
    }
    if (args.generation_id != g->generation) return KafkaError::kIllegalGeneration;
    if ((args.protocol_type && *args.protocol_type != g->protocol_type) ||
        (args.protocol_name && *args.protocol_name != g->protocol_name.value_or(""))) {
      return KafkaError::kInconsistentGroupProtocol;
    }
    return KafkaError::kNone;
  }();
  if (err != KafkaError::kNone) {
    reply(SyncError(err));
    Flush();
    return;
  }
  Member* m = g->Find(args.member_id);
  switch (g->state) {
    case GroupState::kEmpty:
    case GroupState::kDead:
      reply(SyncError(KafkaError::kUnknownMemberId));
      break;
    case GroupState::kPreparingRebalance:
      reply(SyncError(KafkaError::kRebalanceInProgress));
      break;
    case GroupState::kCompletingRebalance: {
      g->pending_sync.erase(m->id);
      if (g->pending_sync.empty()) g->sync_deadline.reset();
      if (m->sync_cb) {
        Defer([cb = std::move(m->sync_cb)] { cb(SyncError(KafkaError::kRebalanceInProgress)); });
      }
      m->sync_cb = std::move(done);
      if (m->id == g->leader_id) {
        for (const auto& member : g->members) member->assignment.clear();
        for (auto& a : args.assignments) {
          if (Member* target = g->Find(a.member_id)) target->assignment = std::move(a.assignment);
        }
        g->state = GroupState::kStable;
        log::Info("kafkaserver: group stable", {{"group", g->id}, {"generation", g->generation}});
        for (const auto& member : g->members) {
          if (!member->sync_cb) continue;
          SyncResult r;
          r.protocol_type = g->protocol_type;
          r.protocol_name = g->protocol_name;
          r.assignment = member->assignment;
          Defer(
              [cb = std::move(member->sync_cb), r = std::move(r)]() mutable { cb(std::move(r)); });
          member->sync_cb = nullptr;
          member->heartbeat_deadline = now + milliseconds(member->session_timeout_ms);
        }
      }
      break;
    }
    case GroupState::kStable: {
      g->pending_sync.erase(m->id);
      if (g->pending_sync.empty()) g->sync_deadline.reset();
      SyncResult r;
      r.protocol_type = g->protocol_type;
      r.protocol_name = g->protocol_name;
      r.assignment = m->assignment;
      m->heartbeat_deadline = now + milliseconds(m->session_timeout_ms);
      reply(std::move(r));
      break;
    }
  }
  Flush();
}

KafkaError GroupCoordinator::Heartbeat(std::string_view group_id, std::string_view member_id,
                                       const std::optional<std::string>& group_instance_id,
                                       int32_t generation_id, GroupTime now) {
  if (group_id.empty()) return KafkaError::kInvalidGroupId;
  Group* g = FindGroup(group_id);
  if (g == nullptr) return KafkaError::kUnknownMemberId;
  if (g->state == GroupState::kDead) return KafkaError::kCoordinatorNotAvailable;
  if (const KafkaError err = ValidateMember(*g, member_id, group_instance_id);
      err != KafkaError::kNone) {
    return err;
  }
  if (generation_id != g->generation) return KafkaError::kIllegalGeneration;
  Member* m = g->Find(member_id);
  switch (g->state) {
    case GroupState::kEmpty:
    case GroupState::kDead:
      return KafkaError::kUnknownMemberId;
    case GroupState::kPreparingRebalance:
      m->heartbeat_deadline = now + milliseconds(m->session_timeout_ms);
      return KafkaError::kRebalanceInProgress;
    case GroupState::kCompletingRebalance:
    case GroupState::kStable:
      m->heartbeat_deadline = now + milliseconds(m->session_timeout_ms);
      return KafkaError::kNone;
  }
  return KafkaError::kNone;
}

LeaveResult GroupCoordinator::Leave(std::string_view group_id,
                                    const std::vector<LeaveMember>& members, GroupTime now) {
  LeaveResult result;
  if (group_id.empty()) {
    result.error = KafkaError::kInvalidGroupId;
    return result;
  }
  Group* g = FindGroup(group_id);
  if (g == nullptr) {
    result.member_errors.assign(members.size(), KafkaError::kUnknownMemberId);
    return result;
  }
  if (g->state == GroupState::kDead) {
    result.error = KafkaError::kCoordinatorNotAvailable;
    return result;
  }
  for (const auto& lm : members) {
    std::optional<std::string> static_id;
    if (lm.group_instance_id) {
      auto it = g->static_members.find(*lm.group_instance_id);
      if (it != g->static_members.end()) static_id = it->second;
    }
    if (!lm.member_id.empty() && static_id && *static_id != lm.member_id) {
      result.member_errors.push_back(KafkaError::kFencedInstanceId);
    } else if (g->pending_members.erase(lm.member_id) > 0) {
      MaybeCompleteJoin(*g, now);
      result.member_errors.push_back(KafkaError::kNone);
    } else if (static_id) {
      RemoveMember(*g, *static_id, now, "left the group");
      result.member_errors.push_back(KafkaError::kNone);
    } else if (g->Find(lm.member_id) != nullptr) {
      RemoveMember(*g, lm.member_id, now, "left the group");
      result.member_errors.push_back(KafkaError::kNone);
    } else {
      result.member_errors.push_back(KafkaError::kUnknownMemberId);
    }
  }
  Flush();
  return result;
}

KafkaError GroupCoordinator::ValidateCommit(std::string_view group_id, std::string_view member_id,
                                            const std::optional<std::string>& group_instance_id,
                                            int32_t generation_id, GroupTime now) {
  Group* g = FindGroup(group_id);
  if (g == nullptr) {
    // A simple consumer (no group management) may commit; anything else is
    // from a generation that no longer exists.
    if (generation_id < 0) {
      GetOrCreateGroup(group_id);
      return KafkaError::kNone;
    }
    return KafkaError::kIllegalGeneration;
  }
  if (g->state == GroupState::kDead) return KafkaError::kCoordinatorNotAvailable;
  if (group_instance_id) {
    auto it = g->static_members.find(*group_instance_id);
    if (it != g->static_members.end() && it->second != member_id) {
      return KafkaError::kFencedInstanceId;
    }
  }
  if (generation_id < 0 && g->state == GroupState::kEmpty) return KafkaError::kNone;
  Member* m = g->Find(member_id);
  if (m == nullptr) return KafkaError::kUnknownMemberId;
  if (generation_id != g->generation) return KafkaError::kIllegalGeneration;
  if (g->state == GroupState::kCompletingRebalance) return KafkaError::kRebalanceInProgress;
  // Stable or PreparingRebalance: members may commit before rejoining.
  m->heartbeat_deadline = now + milliseconds(m->session_timeout_ms);
  return KafkaError::kNone;
}

// ---------------------------------------------------------------------------
// Timers

void GroupCoordinator::ExpireGroup(Group& g, GroupTime now) {
  // MEMBER_ID_REQUIRED members that never came back.
  bool pending_expired = false;
  for (auto it = g.pending_members.begin(); it != g.pending_members.end();) {
    if (now >= it->second) {
      it = g.pending_members.erase(it);
      pending_expired = true;
    } else {
      ++it;
    }
  }
  if (pending_expired) MaybeCompleteJoin(g, now);

  // Session timeouts. Members waiting in JoinGroup/SyncGroup are alive, except
  // new members waiting in JoinGroup longer than new_member_join_timeout.
  std::vector<std::string> expired;
  for (const auto& m : g.members) {
    if (!m->KeptAlive() && now >= m->heartbeat_deadline) expired.push_back(m->id);
  }
  for (const auto& id : expired) RemoveMember(g, id, now, "session timeout");

  if (g.state == GroupState::kPreparingRebalance && g.join_deadline && now >= *g.join_deadline) {
    MaybeCompleteJoin(g, now);
  }

  if ((g.state == GroupState::kCompletingRebalance || g.state == GroupState::kStable) &&
      g.sync_deadline && now >= *g.sync_deadline) {
    g.sync_deadline.reset();
    if (!g.pending_sync.empty()) {
      const std::set<std::string> missing = g.pending_sync;
      for (const auto& id : missing) {
        log::Info("kafkaserver: removing member that did not send SyncGroup",
                  {{"group", g.id}, {"member", id}});
        g.Erase(id);
      }
      PrepareRebalance(g, now, "members did not send SyncGroup in time");
    }
  }
}

void GroupCoordinator::Tick(GroupTime now) {
  for (auto& [id, g] : groups_) ExpireGroup(*g, now);
  Flush();
}

std::optional<GroupTime> GroupCoordinator::NextDeadline() const {
  std::optional<GroupTime> next;
  auto consider = [&](GroupTime t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [id, g] : groups_) {
    for (const auto& [mid, t] : g->pending_members) consider(t);
    for (const auto& m : g->members) {
      if (!m->KeptAlive()) consider(m->heartbeat_deadline);
    }
    if (g->state == GroupState::kPreparingRebalance && g->join_deadline)
      consider(*g->join_deadline);
    if (g->sync_deadline && !g->pending_sync.empty()) consider(*g->sync_deadline);
  }
  return next;
}

// ---------------------------------------------------------------------------
// Introspection

GroupDescription GroupCoordinator::Describe(std::string_view group_id) const {
  GroupDescription d;
  d.group_id = std::string(group_id);
  const Group* g = FindGroup(group_id);
  if (g == nullptr) {
    d.state = GroupStateName(GroupState::kDead);
    return d;
  }
  d.state = GroupStateName(g->state);
  d.protocol_type = g->protocol_type;
  const bool stable = g->state == GroupState::kStable;
  if (stable) d.protocol_data = g->protocol_name.value_or("");
  for (const auto& m : g->members) {
    MemberDescription md;
    md.member_id = m->id;
    md.group_instance_id = m->instance_id;
    md.client_id = m->client_id;
    md.client_host = m->client_host;
    if (stable) {
      if (const std::string* meta = m->MetadataFor(d.protocol_data)) md.metadata = *meta;
      md.assignment = m->assignment;
    }
    d.members.push_back(std::move(md));
  }
  return d;
}

std::vector<GroupListing> GroupCoordinator::List(const std::vector<GroupState>& states) const {
  std::vector<GroupListing> out;
  for (const auto& [id, g] : groups_) {
    if (!states.empty() && std::find(states.begin(), states.end(), g->state) == states.end()) {
      continue;
    }
    out.push_back({id, g->protocol_type, std::string(GroupStateName(g->state))});
  }
  return out;
}

std::optional<GroupState> GroupCoordinator::StateOf(std::string_view group_id) const {
  const Group* g = FindGroup(group_id);
  if (g == nullptr) return std::nullopt;
  return g->state;
}

int32_t GroupCoordinator::GenerationOf(std::string_view group_id) const {
  const Group* g = FindGroup(group_id);
  return g == nullptr ? -1 : g->generation;
}

void GroupCoordinator::Shutdown(KafkaError error) {
  for (auto& [id, g] : groups_) {
    for (const auto& m : g->members) {
      if (m->join_cb) {
        Defer([cb = std::move(m->join_cb), mid = m->id, error] { cb(JoinError(mid, error)); });
        m->join_cb = nullptr;
      }
      if (m->sync_cb) {
        Defer([cb = std::move(m->sync_cb), error] { cb(SyncError(error)); });
        m->sync_cb = nullptr;
      }
    }
  }
  Flush();
}

}  // namespace pgcdc::adapter::kafkaserver
