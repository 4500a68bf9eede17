#include "adapter/kafkaserver/group_coordinator.h"

#include <gtest/gtest.h>

#include <array>
#include <memory>

namespace pgcdc::codec::kafka {

// Readable gtest output for error codes (found by ADL, so next to the enum).
void PrintTo(ErrorCode e, std::ostream* os) { *os << ErrorName(Code(e)); }

}  // namespace pgcdc::codec::kafka

namespace pgcdc::adapter::kafkaserver {
namespace {

using namespace std::chrono_literals;
using E = KafkaError;

// A JoinGroup/SyncGroup answer slot; the callbacks fill it.
template <class T>
struct Slot {
  std::shared_ptr<std::optional<T>> value = std::make_shared<std::optional<T>>();
  std::shared_ptr<int> calls = std::make_shared<int>(0);
  std::function<void(T)> Callback() const {
    return [value = value, calls = calls](T r) {
      ++*calls;
      *value = std::move(r);
    };
  }
  bool ready() const { return value->has_value(); }
  const T& operator*() const { return **value; }
  const T* operator->() const { return &**value; }
  void Reset() { *value = std::nullopt; }
};
using JoinSlot = Slot<JoinResult>;
using SyncSlot = Slot<SyncResult>;

class GroupTest : public ::testing::Test {
 protected:
  GroupTest() { Reset(0ms); }

  void Reset(std::chrono::milliseconds initial_delay, int32_t max_size = INT32_MAX) {
    GroupCoordinatorOptions o;
    o.initial_rebalance_delay = initial_delay;
    o.max_group_size = max_size;
    o.member_id_generator = [this](std::string_view client,
                                   const std::optional<std::string>& instance) {
      return (instance ? *instance : std::string(client)) + "-" + std::to_string(++next_id_);
    };
    gc_ = std::make_unique<GroupCoordinator>(std::move(o));
  }

  static JoinArgs Args(const std::string& member_id,
                       const std::vector<JoinProtocol>& protocols = {},
                       const std::string& group = "g") {
    JoinArgs a;
    a.group_id = group;
    a.member_id = member_id;
    a.client_id = "client";
    a.client_host = "/127.0.0.1";
    a.session_timeout_ms = 10000;
    a.rebalance_timeout_ms = 60000;
    a.protocol_type = "consumer";
    a.protocols =
        protocols.empty() ? std::vector<JoinProtocol>{{"range", "meta-" + member_id}} : protocols;
    return a;
  }

  JoinSlot Join(JoinArgs a) {
    JoinSlot s;
    gc_->Join(std::move(a), now_, s.Callback());
    return s;
  }
  JoinSlot Join(const std::string& member_id) { return Join(Args(member_id)); }
  // A JoinGroup v4+ join (KIP-394): a member without an id gets
  // MEMBER_ID_REQUIRED and an id to join again with.
  JoinSlot JoinKnown(const std::string& member_id) {
    JoinArgs a = Args(member_id);
    a.require_known_member_id = true;
    return Join(std::move(a));
  }

  SyncSlot Sync(const std::string& member_id, int32_t generation,
                std::vector<SyncAssignment> assignments = {}, const std::string& group = "g") {
    SyncArgs a;
    a.group_id = group;
    a.member_id = member_id;
    a.generation_id = generation;
    a.assignments = std::move(assignments);
    SyncSlot s;
    gc_->Sync(std::move(a), now_, s.Callback());
    return s;
  }

  KafkaError Heartbeat(const std::string& member_id, int32_t generation,
                       const std::string& group = "g") {
    return gc_->Heartbeat(group, member_id, std::nullopt, generation, now_);
  }

  void Advance(std::chrono::milliseconds d) {
    now_ += d;
    gc_->Tick(now_);
  }

  // A new member joins (no MEMBER_ID_REQUIRED); returns its slot.
  JoinSlot JoinNew() { return Join(Args("")); }

  // N new members join within a 1 s initial rebalance delay; returns their
  // JoinGroup slots, leader first (answered: the group is CompletingRebalance).
  template <size_t N>
  std::array<JoinSlot, N> JoinWithinDelay() {
    Reset(1000ms);
    std::array<JoinSlot, N> slots;
    for (JoinSlot& s : slots) s = JoinNew();
    Advance(1000ms);
    Advance(1000ms);
    return slots;
  }

  // Forms a Stable group of n members (joined within the initial delay) and
  // returns their ids, leader first.
  std::vector<std::string> FormStableGroup(int n) {
    Reset(3000ms);
    std::vector<JoinSlot> slots;
    for (int i = 0; i < n; ++i) slots.push_back(JoinNew());
    Advance(3000ms);
    Advance(3000ms);
    std::vector<std::string> ids;
    std::vector<SyncAssignment> assignment;
    for (auto& s : slots) {
      EXPECT_TRUE(s.ready());
      if (!s.ready()) return {};
      ids.push_back(s->member_id);
      assignment.push_back({s->member_id, "assign-" + s->member_id});
    }
    const int32_t gen = slots[0]->generation_id;
    std::vector<SyncSlot> syncs;
    for (size_t i = 1; i < ids.size(); ++i) syncs.push_back(Sync(ids[i], gen));
    auto leader_sync = Sync(ids[0], gen, assignment);
    EXPECT_TRUE(leader_sync.ready());
    for (auto& s : syncs) EXPECT_TRUE(s.ready());
    EXPECT_EQ(gc_->StateOf("g"), GroupState::kStable);
    return ids;
  }

  std::unique_ptr<GroupCoordinator> gc_;
  GroupTime now_ = GroupTime{} + 1000s;
  int next_id_ = 0;
};

TEST_F(GroupTest, SingleMemberJoinSyncHeartbeat) {
  auto j = JoinNew();
  ASSERT_TRUE(j.ready()) << "no initial delay configured: answered at once";
  EXPECT_EQ(j->error, E::kNone);
  EXPECT_EQ(j->member_id, "client-1");
  EXPECT_EQ(j->generation_id, 1);
  EXPECT_EQ(j->leader_id, j->member_id);
  EXPECT_EQ(j->protocol_type, "consumer");
  EXPECT_EQ(j->protocol_name, "range");
  ASSERT_EQ(j->members.size(), 1u);
  EXPECT_EQ(j->members[0].member_id, j->member_id);
  EXPECT_EQ(j->members[0].metadata, "meta-");
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kCompletingRebalance);
  const std::string id = j->member_id;

  EXPECT_EQ(Heartbeat(id, 1), E::kNone) << "heartbeats between join and sync are fine";
  auto s = Sync(id, 1, {{id, "my-assignment"}});
  ASSERT_TRUE(s.ready());
  EXPECT_EQ(s->error, E::kNone);
  EXPECT_EQ(s->assignment, "my-assignment");
  EXPECT_EQ(s->protocol_name, "range");
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kStable);

  EXPECT_EQ(Heartbeat(id, 1), E::kNone);
  EXPECT_EQ(Heartbeat(id, 0), E::kIllegalGeneration);
  EXPECT_EQ(Heartbeat("nobody", 1), E::kUnknownMemberId);
  EXPECT_EQ(Heartbeat(id, 1, "other-group"), E::kUnknownMemberId);
  EXPECT_EQ(Heartbeat(id, 1, ""), E::kInvalidGroupId);

  // SyncGroup again in Stable returns the stored assignment.
  auto again = Sync(id, 1);
  ASSERT_TRUE(again.ready());
  EXPECT_EQ(again->assignment, "my-assignment");

  // Heartbeats keep the member alive past its session timeout.
  for (int i = 0; i < 5; ++i) {
    Advance(8s);
    EXPECT_EQ(Heartbeat(id, 1), E::kNone);
  }
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kStable);
}

TEST_F(GroupTest, ThreeMembersWithinTheInitialDelayShareOneGeneration) {
  Reset(3000ms);
  const GroupTime t0 = now_;
  auto a = JoinNew();
  now_ += 1s;
  auto b = JoinNew();
  now_ += 1s;
  auto c = JoinNew();
  EXPECT_FALSE(a.ready());
  EXPECT_FALSE(b.ready());
  EXPECT_FALSE(c.ready());
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kPreparingRebalance);
  EXPECT_EQ(gc_->NextDeadline(), t0 + 3s);
  now_ = t0 + 3s;
  gc_->Tick(now_);
  EXPECT_FALSE(a.ready()) << "new members arrived during the delay: it is extended";
  EXPECT_EQ(gc_->NextDeadline(), t0 + 6s);
  now_ = t0 + 6s;
  gc_->Tick(now_);
  ASSERT_TRUE(a.ready());
  ASSERT_TRUE(b.ready());
  ASSERT_TRUE(c.ready());
  for (const auto* r : {&*a, &*b, &*c}) {
    EXPECT_EQ(r->error, E::kNone);
    EXPECT_EQ(r->generation_id, 1);
    EXPECT_EQ(r->leader_id, a->member_id);
  }
  ASSERT_EQ(a->members.size(), 3u) << "the leader gets every member's metadata";
  EXPECT_EQ(a->members[0].member_id, a->member_id);
  EXPECT_EQ(a->members[1].member_id, b->member_id);
  EXPECT_EQ(a->members[2].member_id, c->member_id);
  for (const auto& m : a->members) EXPECT_EQ(m.metadata, "meta-");
  EXPECT_TRUE(b->members.empty());
  EXPECT_TRUE(c->members.empty());
}

TEST_F(GroupTest, InitialDelayIsNotExtendedWithoutNewMembers) {
  Reset(3000ms);
  auto a = JoinNew();
  Advance(2999ms);
  EXPECT_FALSE(a.ready());
  Advance(1ms);
  ASSERT_TRUE(a.ready());
  EXPECT_EQ(a->generation_id, 1);
}

TEST_F(GroupTest, SessionExpiryRebalancesAndSurvivorsRejoin) {
  auto ids = FormStableGroup(3);
  ASSERT_EQ(ids.size(), 3u);
  const int32_t gen = gc_->GenerationOf("g");
  // ids[0] and ids[1] heartbeat; ids[2] has gone silent.
  for (int i = 0; i < 2; ++i) {
    Advance(4s);
    EXPECT_EQ(Heartbeat(ids[0], gen), E::kNone);
    EXPECT_EQ(Heartbeat(ids[1], gen), E::kNone);
    EXPECT_EQ(gc_->StateOf("g"), GroupState::kStable);
  }
  Advance(4s);
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kPreparingRebalance) << "ids[2] expired after 10 s";
  EXPECT_EQ(Heartbeat(ids[0], gen), E::kRebalanceInProgress);
  EXPECT_EQ(Heartbeat(ids[1], gen), E::kRebalanceInProgress);
  EXPECT_EQ(Heartbeat(ids[2], gen), E::kUnknownMemberId);

  auto a = Join(ids[0]);
  EXPECT_FALSE(a.ready()) << "waits for ids[1]";
  auto b = Join(ids[1]);
  ASSERT_TRUE(a.ready());
  ASSERT_TRUE(b.ready());
  EXPECT_EQ(a->generation_id, gen + 1);
  EXPECT_EQ(b->generation_id, gen + 1);
  EXPECT_EQ(a->leader_id, ids[0]);
  ASSERT_EQ(a->members.size(), 2u);
  auto sb = Sync(ids[1], gen + 1);
  auto sa = Sync(ids[0], gen + 1, {{ids[0], "p0,p1"}, {ids[1], "p2,p3"}});
  ASSERT_TRUE(sb.ready());
  EXPECT_EQ(sb->assignment, "p2,p3");
  EXPECT_EQ(sa->assignment, "p0,p1");
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kStable);
  EXPECT_EQ(Heartbeat(ids[0], gen), E::kIllegalGeneration) << "old generation";
}

TEST_F(GroupTest, RebalanceTimeoutDropsMembersThatDoNotRejoin) {
  auto ids = FormStableGroup(2);
  ASSERT_EQ(ids.size(), 2u);
  const int32_t gen = gc_->GenerationOf("g");
  auto a = Join(ids[0]);  // the leader rejoining forces a rebalance
  EXPECT_FALSE(a.ready());
  // ids[1] keeps heartbeating but never rejoins.
  for (int i = 0; i < 7; ++i) {
    Advance(8s);
    EXPECT_EQ(Heartbeat(ids[1], gen), E::kRebalanceInProgress);
  }
  EXPECT_FALSE(a.ready());
  Advance(4s);  // 60 s rebalance timeout
  ASSERT_TRUE(a.ready());
  EXPECT_EQ(a->generation_id, gen + 1);
  ASSERT_EQ(a->members.size(), 1u);
  EXPECT_EQ(Heartbeat(ids[1], gen), E::kUnknownMemberId);
}

TEST_F(GroupTest, LeaveRebalancesAndTheLastLeaveEmptiesTheGroup) {
  auto ids = FormStableGroup(2);
  ASSERT_EQ(ids.size(), 2u);
  const int32_t gen = gc_->GenerationOf("g");
  auto r = gc_->Leave("g", {{ids[1], std::nullopt}, {"stranger", std::nullopt}}, now_);
  EXPECT_EQ(r.error, E::kNone);
  EXPECT_EQ(r.member_errors, (std::vector<KafkaError>{E::kNone, E::kUnknownMemberId}));
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kPreparingRebalance);
  EXPECT_EQ(Heartbeat(ids[0], gen), E::kRebalanceInProgress);
  auto a = Join(ids[0]);
  ASSERT_TRUE(a.ready());
  EXPECT_EQ(a->generation_id, gen + 1);
  EXPECT_EQ(a->members.size(), 1u);

  auto last = gc_->Leave("g", {{ids[0], std::nullopt}}, now_);
  EXPECT_EQ(last.member_errors, (std::vector<KafkaError>{E::kNone}));
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kEmpty);
  EXPECT_EQ(gc_->GenerationOf("g"), gen + 2) << "becoming Empty bumps the generation";

  auto unknown_group = gc_->Leave("nope", {{"m", std::nullopt}}, now_);
  EXPECT_EQ(unknown_group.error, E::kNone);
  EXPECT_EQ(unknown_group.member_errors, (std::vector<KafkaError>{E::kUnknownMemberId}));
  EXPECT_EQ(gc_->Leave("", {}, now_).error, E::kInvalidGroupId);
}

TEST_F(GroupTest, MemberIdRequiredHandshake) {
  auto j = JoinKnown("");
  ASSERT_TRUE(j.ready());
  EXPECT_EQ(j->error, E::kMemberIdRequired);
  ASSERT_FALSE(j->member_id.empty());
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kEmpty) << "a pending member does not rebalance";
  EXPECT_EQ(Heartbeat(j->member_id, 0), E::kUnknownMemberId);

  auto k = JoinKnown(j->member_id);
  ASSERT_TRUE(k.ready());
  EXPECT_EQ(k->error, E::kNone);
  EXPECT_EQ(k->member_id, j->member_id);
  EXPECT_EQ(k->generation_id, 1);

  // Made-up member ids are rejected.
  auto bogus = Join(Args("made-up"));
  ASSERT_TRUE(bogus.ready());
  EXPECT_EQ(bogus->error, E::kUnknownMemberId);
  auto bogus_group = Join(Args("made-up", {}, "other"));
  ASSERT_TRUE(bogus_group.ready());
  EXPECT_EQ(bogus_group->error, E::kUnknownMemberId);
}

// A Stable group of one member (ids_[0], generation gen_) and a JoinGroup v4
// joiner that was handed an id (pending_) and has not joined again yet.
class PendingMemberTest : public GroupTest {
 protected:
  void SetUp() override {
    ids_ = FormStableGroup(1);
    ASSERT_EQ(ids_.size(), 1u);
    gen_ = gc_->GenerationOf("g");
    pending_ = JoinKnown("");
    ASSERT_EQ(pending_->error, E::kMemberIdRequired);
  }

  std::vector<std::string> ids_;
  int32_t gen_ = 0;
  JoinSlot pending_;
};

TEST_F(PendingMemberTest, BlocksTheRebalanceUntilItExpires) {
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kStable);
  auto leader = Join(ids_[0]);
  EXPECT_FALSE(leader.ready()) << "waits for the member that was handed an id";
  Advance(9s);
  EXPECT_EQ(Heartbeat(ids_[0], gen_), E::kRebalanceInProgress);
  EXPECT_FALSE(leader.ready());
  Advance(1s);  // the pending member's session timeout
  ASSERT_TRUE(leader.ready());
  EXPECT_EQ(leader->generation_id, gen_ + 1);
  EXPECT_EQ(leader->members.size(), 1u);
}

TEST_F(PendingMemberTest, ThatReturnsJoinsTheRebalance) {
  auto joined = JoinKnown(pending_->member_id);
  EXPECT_FALSE(joined.ready()) << "waits for the existing member";
  EXPECT_EQ(Heartbeat(ids_[0], gen_), E::kRebalanceInProgress);
  auto leader = Join(ids_[0]);
  ASSERT_TRUE(leader.ready());
  ASSERT_TRUE(joined.ready());
  EXPECT_EQ(joined->generation_id, gen_ + 1);
  EXPECT_EQ(leader->members.size(), 2u);
  EXPECT_EQ(leader->leader_id, ids_[0]);
}

TEST_F(GroupTest, FollowersSyncGroupWaitsForTheLeader) {
  auto [a, b, c] = JoinWithinDelay<3>();
  ASSERT_TRUE(a.ready() && b.ready() && c.ready());
  const int32_t gen = a->generation_id;
  auto sb = Sync(b->member_id, gen);
  auto sc = Sync(c->member_id, gen);
  EXPECT_FALSE(sb.ready());
  EXPECT_FALSE(sc.ready());
  EXPECT_EQ(Heartbeat(b->member_id, gen), E::kNone);
  // The leader assigns b but forgets c: c gets an empty assignment.
  auto sa = Sync(a->member_id, gen, {{a->member_id, "A"}, {b->member_id, "B"}, {"ghost", "X"}});
  ASSERT_TRUE(sa.ready());
  ASSERT_TRUE(sb.ready());
  ASSERT_TRUE(sc.ready());
  EXPECT_EQ(sa->assignment, "A");
  EXPECT_EQ(sb->assignment, "B");
  EXPECT_EQ(sb->error, E::kNone);
  EXPECT_EQ(sc->assignment, "");
  EXPECT_EQ(sc->error, E::kNone);
  EXPECT_EQ(*sb.calls, 1);
}

TEST_F(GroupTest, PendingSyncIsCancelledByARebalance) {
  auto [a, b] = JoinWithinDelay<2>();
  ASSERT_TRUE(a.ready() && b.ready());
  auto sb = Sync(b->member_id, a->generation_id);
  EXPECT_FALSE(sb.ready());
  auto r = gc_->Leave("g", {{a->member_id, std::nullopt}}, now_);
  EXPECT_EQ(r.member_errors[0], E::kNone);
  ASSERT_TRUE(sb.ready());
  EXPECT_EQ(sb->error, E::kRebalanceInProgress);
  EXPECT_EQ(Sync(b->member_id, a->generation_id)->error, E::kRebalanceInProgress);
}

TEST_F(GroupTest, MembersThatNeverSyncAreRemoved) {
  auto [a, b] = JoinWithinDelay<2>();
  ASSERT_TRUE(a.ready() && b.ready());
  const int32_t gen = a->generation_id;
  auto sb = Sync(b->member_id, gen);  // the leader (a) heartbeats but never syncs
  for (int i = 0; i < 7; ++i) {
    Advance(8s);
    EXPECT_EQ(Heartbeat(a->member_id, gen), E::kNone);
    EXPECT_FALSE(sb.ready()) << "b waits in SyncGroup, kept alive without heartbeats";
  }
  Advance(4s);  // rebalance timeout (60 s) since the join completed
  ASSERT_TRUE(sb.ready());
  EXPECT_EQ(sb->error, E::kRebalanceInProgress);
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kPreparingRebalance);
  EXPECT_EQ(Heartbeat(a->member_id, gen), E::kUnknownMemberId);
  auto again = Join(b->member_id);
  ASSERT_TRUE(again.ready());
  EXPECT_EQ(again->generation_id, gen + 1);
  EXPECT_EQ(again->leader_id, b->member_id);
}

TEST_F(GroupTest, LeaderSessionExpiryCancelsPendingSync) {
  auto [a, b] = JoinWithinDelay<2>();
  ASSERT_TRUE(a.ready() && b.ready());
  auto sb = Sync(b->member_id, a->generation_id);
  Advance(9s);
  EXPECT_FALSE(sb.ready());
  Advance(1s);  // the leader's 10 s session
  ASSERT_TRUE(sb.ready());
  EXPECT_EQ(sb->error, E::kRebalanceInProgress);
  auto again = Join(b->member_id);
  ASSERT_TRUE(again.ready());
  EXPECT_EQ(again->leader_id, b->member_id);
  EXPECT_EQ(again->members.size(), 1u);
}

TEST_F(GroupTest, InconsistentProtocolsAreRejected) {
  auto a = Join(Args("", {{"range", "x"}, {"roundrobin", "y"}}));
  ASSERT_EQ(a->error, E::kNone);
  auto b = Join(Args("", {{"cooperative-sticky", "z"}}));
  ASSERT_TRUE(b.ready());
  EXPECT_EQ(b->error, E::kInconsistentGroupProtocol);
  JoinArgs other_type = Args("", {{"range", "x"}});
  other_type.protocol_type = "connect";
  EXPECT_EQ(Join(other_type)->error, E::kInconsistentGroupProtocol);
  JoinArgs none = Args("");
  none.protocols.clear();
  EXPECT_EQ(Join(none)->error, E::kInconsistentGroupProtocol);
  JoinArgs no_type = Args("", {{"range", "x"}}, "fresh");
  no_type.protocol_type = "";
  EXPECT_EQ(Join(no_type)->error, E::kInconsistentGroupProtocol);

  // SyncGroup v5 checks the protocol type/name.
  SyncArgs s;
  s.group_id = "g";
  s.member_id = a->member_id;
  s.generation_id = a->generation_id;
  s.protocol_type = "consumer";
  s.protocol_name = "roundrobin";
  SyncSlot slot;
  gc_->Sync(s, now_, slot.Callback());
  ASSERT_TRUE(slot.ready());
  EXPECT_EQ(slot->error, E::kInconsistentGroupProtocol);
}

TEST_F(GroupTest, ProtocolIsChosenByVoteAmongCommonOnes) {
  Reset(1000ms);
  auto a = Join(Args("", {{"range", "ra"}, {"roundrobin", "rr-a"}}));
  auto b = Join(Args("", {{"roundrobin", "rr-b"}, {"range", "rb"}}));
  auto c = Join(Args("", {{"roundrobin", "rr-c"}, {"range", "rc"}}));
  Advance(1000ms);
  Advance(1000ms);
  ASSERT_TRUE(a.ready());
  EXPECT_EQ(a->protocol_name, "roundrobin") << "two votes to one";
  ASSERT_EQ(a->members.size(), 3u);
  EXPECT_EQ(a->members[0].metadata, "rr-a") << "metadata of the chosen protocol";
  EXPECT_EQ(a->members[2].metadata, "rr-c");

  Reset(0ms);
  auto x = Join(Args("", {{"range", "1"}, {"roundrobin", "2"}, {"sticky", "3"}}));
  ASSERT_EQ(x->protocol_name, "range");
  auto y = Join(Args("", {{"sticky", "4"}, {"roundrobin", "5"}}));
  EXPECT_FALSE(y.ready());
  auto x2 = Join(Args(x->member_id, {{"range", "1"}, {"roundrobin", "2"}, {"sticky", "3"}}));
  ASSERT_TRUE(x2.ready());
  // Common: roundrobin, sticky. x votes roundrobin, y votes sticky: the tie
  // goes to the leader's preference.
  EXPECT_EQ(x2->protocol_name, "roundrobin");
}

TEST_F(GroupTest, KnownMemberRejoiningWithSameMetadataGetsTheCurrentGeneration) {
  auto [a, b] = JoinWithinDelay<2>();
  ASSERT_TRUE(a.ready() && b.ready());
  // In CompletingRebalance: the answer is resent (the leader with members).
  auto a2 = Join(Args(a->member_id, {{"range", "meta-"}}));
  ASSERT_TRUE(a2.ready());
  EXPECT_EQ(a2->generation_id, a->generation_id);
  EXPECT_EQ(a2->members.size(), 2u);
  auto b2 = Join(Args(b->member_id, {{"range", "meta-"}}));
  ASSERT_TRUE(b2.ready());
  EXPECT_TRUE(b2->members.empty());
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kCompletingRebalance);
  // Changed metadata forces a rebalance.
  auto b3 = Join(Args(b->member_id, {{"range", "new-subscription"}}));
  EXPECT_FALSE(b3.ready());
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kPreparingRebalance);
  auto a3 = Join(Args(a->member_id, {{"range", "meta-"}}));
  ASSERT_TRUE(a3.ready() && b3.ready());
  EXPECT_EQ(a3->generation_id, a->generation_id + 1);
  EXPECT_EQ(a3->members[1].metadata, "new-subscription");
}

TEST_F(GroupTest, FollowerRejoiningAStableGroupDoesNotRebalance) {
  auto ids = FormStableGroup(2);
  ASSERT_EQ(ids.size(), 2u);
  const int32_t gen = gc_->GenerationOf("g");
  auto b = Join(Args(ids[1], {{"range", "meta-"}}));
  ASSERT_TRUE(b.ready());
  EXPECT_EQ(b->generation_id, gen);
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kStable);
  auto s = Sync(ids[1], gen);
  EXPECT_EQ(s->assignment, "assign-" + ids[1]);
}

TEST_F(GroupTest, SecondJoinForTheSameMemberAnswersTheFirst) {
  auto ids = FormStableGroup(2);
  ASSERT_EQ(ids.size(), 2u);
  auto first = Join(ids[0]);
  EXPECT_FALSE(first.ready());
  auto second = Join(ids[0]);
  ASSERT_TRUE(first.ready());
  EXPECT_EQ(first->error, E::kRebalanceInProgress);
  EXPECT_FALSE(second.ready());
  auto b = Join(ids[1]);
  ASSERT_TRUE(second.ready());
  EXPECT_EQ(second->error, E::kNone);
  EXPECT_EQ(*first.calls, 1);
}

TEST_F(GroupTest, StaticMemberRestartKeepsItsAssignmentWithoutRebalance) {
  Reset(0ms);
  JoinArgs a = Args("");
  a.group_instance_id = "instance-a";
  auto j = Join(a);
  ASSERT_EQ(j->error, E::kNone);
  const std::string old_id = j->member_id;
  EXPECT_EQ(old_id, "instance-a-1");
  ASSERT_TRUE(Sync(old_id, 1, {{old_id, "P"}}).ready());
  ASSERT_EQ(gc_->StateOf("g"), GroupState::kStable);

  // The process restarts and joins with no member id but the same instance id.
  auto k = Join(a);
  ASSERT_TRUE(k.ready());
  EXPECT_EQ(k->error, E::kNone);
  EXPECT_NE(k->member_id, old_id);
  EXPECT_EQ(k->generation_id, 1) << "no rebalance";
  EXPECT_EQ(k->leader_id, old_id) << "old leader id: the member must not reassign";
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kStable);
  auto s = Sync(k->member_id, 1);
  EXPECT_EQ(s->assignment, "P");
  const std::optional<std::string> inst = "instance-a";
  EXPECT_EQ(gc_->Heartbeat("g", old_id, inst, 1, now_), E::kFencedInstanceId);
  EXPECT_EQ(gc_->Heartbeat("g", k->member_id, inst, 1, now_), E::kNone);
  EXPECT_EQ(gc_->Heartbeat("g", k->member_id, std::string("other"), 1, now_), E::kUnknownMemberId);
  EXPECT_EQ(gc_->ValidateCommit("g", old_id, inst, 1, now_), E::kFencedInstanceId);
  auto leave = gc_->Leave("g", {{old_id, inst}}, now_);
  EXPECT_EQ(leave.member_errors[0], E::kFencedInstanceId);
  auto leave_by_instance = gc_->Leave("g", {{"", inst}}, now_);
  EXPECT_EQ(leave_by_instance.member_errors[0], E::kNone);
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kEmpty);
}

TEST_F(GroupTest, ValidateCommitFollowsKafkasRules) {
  // Simple consumers (generation -1, no member id) on a new group: allowed, group created.
  EXPECT_EQ(gc_->ValidateCommit("simple", "", std::nullopt, -1, now_), E::kNone);
  EXPECT_EQ(gc_->StateOf("simple"), GroupState::kEmpty);
  EXPECT_EQ(gc_->ValidateCommit("simple", "", std::nullopt, -1, now_), E::kNone);
  EXPECT_EQ(gc_->ValidateCommit("unknown", "m", std::nullopt, 3, now_), E::kIllegalGeneration);
  EXPECT_FALSE(gc_->StateOf("unknown").has_value());

  auto [a, b] = JoinWithinDelay<2>();
  ASSERT_TRUE(a.ready() && b.ready());
  const int32_t gen = a->generation_id;
  EXPECT_EQ(gc_->ValidateCommit("g", a->member_id, std::nullopt, gen, now_),
            E::kRebalanceInProgress)
      << "CompletingRebalance";
  auto sb = Sync(b->member_id, gen);
  Sync(a->member_id, gen, {});
  ASSERT_EQ(gc_->StateOf("g"), GroupState::kStable);
  EXPECT_EQ(gc_->ValidateCommit("g", a->member_id, std::nullopt, gen, now_), E::kNone);
  EXPECT_EQ(gc_->ValidateCommit("g", a->member_id, std::nullopt, gen - 1, now_),
            E::kIllegalGeneration);
  EXPECT_EQ(gc_->ValidateCommit("g", "", std::nullopt, -1, now_), E::kUnknownMemberId)
      << "simple consumers may not commit into an active group";
  EXPECT_EQ(gc_->ValidateCommit("g", "stranger", std::nullopt, gen, now_), E::kUnknownMemberId);

  // A commit counts as a heartbeat.
  for (int i = 0; i < 3; ++i) {
    Advance(8s);
    EXPECT_EQ(gc_->ValidateCommit("g", a->member_id, std::nullopt, gen, now_), E::kNone);
    EXPECT_EQ(Heartbeat(b->member_id, gen), E::kNone);
  }
  // During PreparingRebalance members may still commit with the old generation.
  auto rejoin = Join(a->member_id);
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kPreparingRebalance);
  EXPECT_EQ(gc_->ValidateCommit("g", b->member_id, std::nullopt, gen, now_), E::kNone);
}

TEST_F(GroupTest, DescribeAndListGroups) {
  EXPECT_EQ(gc_->Describe("nope").state, "Dead");
  EXPECT_EQ(gc_->Describe("nope").error, E::kNone);
  EXPECT_TRUE(gc_->Describe("nope").members.empty());

  auto a = Join(Args("", {{"range", "sub-a"}}, "b-group"));
  ASSERT_TRUE(a.ready());
  auto d1 = gc_->Describe("b-group");
  EXPECT_EQ(d1.state, "CompletingRebalance");
  EXPECT_EQ(d1.protocol_type, "consumer");
  EXPECT_EQ(d1.protocol_data, "") << "only Stable groups show the protocol";
  ASSERT_EQ(d1.members.size(), 1u);
  EXPECT_EQ(d1.members[0].metadata, "");
  EXPECT_EQ(d1.members[0].client_id, "client");
  EXPECT_EQ(d1.members[0].client_host, "/127.0.0.1");
  Sync(a->member_id, a->generation_id, {{a->member_id, "asg"}}, "b-group");
  auto d2 = gc_->Describe("b-group");
  EXPECT_EQ(d2.state, "Stable");
  EXPECT_EQ(d2.protocol_data, "range");
  EXPECT_EQ(d2.members[0].metadata, "sub-a");
  EXPECT_EQ(d2.members[0].assignment, "asg");

  gc_->EnsureGroup("a-offsets-only");
  gc_->EnsureGroup("b-group");  // no effect on an existing group
  auto all = gc_->List();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].group_id, "a-offsets-only");
  EXPECT_EQ(all[0].state, "Empty");
  EXPECT_EQ(all[0].protocol_type, "");
  EXPECT_EQ(all[1].group_id, "b-group");
  EXPECT_EQ(all[1].state, "Stable");
  EXPECT_EQ(all[1].protocol_type, "consumer");
  auto stable = gc_->List({GroupState::kStable});
  ASSERT_EQ(stable.size(), 1u);
  EXPECT_EQ(stable[0].group_id, "b-group");
  EXPECT_TRUE(gc_->List({GroupState::kDead}).empty());

  EXPECT_EQ(ParseGroupState("stable"), GroupState::kStable);
  EXPECT_EQ(ParseGroupState("PreparingRebalance"), GroupState::kPreparingRebalance);
  EXPECT_FALSE(ParseGroupState("bogus").has_value());
}

TEST_F(GroupTest, RequestValidation) {
  JoinArgs no_group = Args("");
  no_group.group_id = "";
  EXPECT_EQ(Join(no_group)->error, E::kInvalidGroupId);
  JoinArgs short_session = Args("");
  short_session.session_timeout_ms = 1000;
  EXPECT_EQ(Join(short_session)->error, E::kInvalidSessionTimeout);
  JoinArgs long_session = Args("");
  long_session.session_timeout_ms = 3600000;
  EXPECT_EQ(Join(long_session)->error, E::kInvalidSessionTimeout);
  EXPECT_EQ(Sync("m", 1, {}, "")->error, E::kInvalidGroupId);
  EXPECT_EQ(Sync("m", 1, {}, "nope")->error, E::kUnknownMemberId);
  auto a = JoinNew();
  EXPECT_EQ(Sync(a->member_id, 7)->error, E::kIllegalGeneration);
  EXPECT_EQ(Sync("stranger", 1)->error, E::kUnknownMemberId);
}

TEST_F(GroupTest, GroupMaxSize) {
  Reset(1000ms, 2);
  auto a = JoinNew();
  auto b = JoinNew();
  auto c = JoinNew();
  ASSERT_TRUE(c.ready());
  EXPECT_EQ(c->error, E::kGroupMaxSizeReached);
  Advance(1000ms);
  Advance(1000ms);
  ASSERT_TRUE(a.ready() && b.ready());
  EXPECT_EQ(a->members.size(), 2u);
}

TEST_F(GroupTest, CallbacksMayCallBackIntoTheCoordinator) {
  SyncSlot sync;
  JoinSlot join;
  gc_->Join(Args(""), now_, [&](JoinResult r) {
    join.Callback()(r);
    SyncArgs s;
    s.group_id = "g";
    s.member_id = r.member_id;
    s.generation_id = r.generation_id;
    s.assignments = {{r.member_id, "from-callback"}};
    gc_->Sync(std::move(s), now_, sync.Callback());
  });
  ASSERT_TRUE(join.ready());
  ASSERT_TRUE(sync.ready());
  EXPECT_EQ(sync->assignment, "from-callback");
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kStable);
}

TEST_F(GroupTest, ShutdownAnswersPendingRequests) {
  Reset(3000ms);
  auto a = JoinNew();
  EXPECT_FALSE(a.ready());
  gc_->Shutdown();
  ASSERT_TRUE(a.ready());
  EXPECT_EQ(a->error, E::kCoordinatorNotAvailable);
}

TEST_F(GroupTest, NextDeadlineTracksSessions) {
  EXPECT_FALSE(gc_->NextDeadline().has_value());
  auto a = JoinNew();
  Sync(a->member_id, 1, {});
  ASSERT_TRUE(gc_->NextDeadline().has_value());
  EXPECT_EQ(*gc_->NextDeadline(), now_ + 10s);
  now_ += 3s;
  EXPECT_EQ(Heartbeat(a->member_id, 1), E::kNone);
  EXPECT_EQ(*gc_->NextDeadline(), now_ + 10s);
  Advance(10s);
  EXPECT_EQ(gc_->StateOf("g"), GroupState::kEmpty);
  EXPECT_FALSE(gc_->NextDeadline().has_value());
}

}  // namespace
}  // namespace pgcdc::adapter::kafkaserver
