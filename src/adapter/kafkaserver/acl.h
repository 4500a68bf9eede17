// Who may use the built-in broker, and what each user may do with its
// topics, consumer groups, transactional ids and the cluster
// (docs/kafkaserver.md "Users and ACLs").
//
// Users authenticate with SASL/PLAIN: `kafkaserver.sasl_user` /
// `sasl_password`, the `kafkaserver.users` list ("name:password") and the
// `kafkaserver.users_file` (one "name:password" per line; blank lines and
// lines starting with '#' are skipped). Passwords are compared in constant
// time.
//
// ACL rules (docs/kafkaserver.md "Users and ACLs") grant a user — or every
// user, `*` — operations on resources, after Kafka's resource types:
//
//   user:operation:topic                 a topic (the original form)
//   user:operation:topic:NAME            the same, spelled out
//   user:operation:group:NAME            a consumer group
//   user:operation:transactional_id:NAME a transactional id
//   user:operation:cluster               the broker as a whole
//
// (`user:read:cluster` is therefore not the topic "cluster", which is written
// `user:read:topic:cluster`; read and write on the cluster are errors saying so.)
// NAME is exact, `*`, or a prefix ending in `*` (`pgcdc.*`). Operations, per
// type (read and write imply describe, `all` is every operation of the type):
//   topic            read (Fetch, ListOffsets, OffsetCommit, OffsetFetch),
//                    write (Produce, AddPartitionsToTxn), describe (Metadata)
//   group            read (JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//                    OffsetCommit), describe (FindCoordinator, OffsetFetch,
//                    DescribeGroups, ListGroups)
//   transactional_id write (InitProducerId, AddPartitionsToTxn, EndTxn,
//                    transactional Produce), describe (FindCoordinator)
//   cluster          describe (ListGroups lists every group),
//                    idempotent_write (InitProducerId without a
//                    transactional id; write on any topic also allows it)
//
// Which types are checked at all: with no rule nothing is (every
// authenticated user may do everything); topics once any rule exists (the
// data: whatever no rule grants is refused, as before group rules existed);
// groups, transactional ids and the cluster each only once a rule names that
// type, so configurations with topic rules alone keep every group open.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace pgcdc::adapter::kafkaserver {

enum class AclResource : uint8_t { kTopic, kGroup, kTransactionalId, kCluster };
// Operation bits.
enum class AclOp : uint8_t { kRead = 1, kWrite = 2, kDescribe = 4, kIdempotentWrite = 8 };

// "topic", "group", "transactional_id", "cluster" (logs).
std::string_view AclResourceName(AclResource type);
// "read", "write", "describe", "idempotent_write" (logs).
std::string_view AclOpName(AclOp op);

// One SASL/PLAIN account.
struct SaslUser {
  std::string name;
  std::string password;
};

// "name:password" entries (the password may contain ':'). `origin` names
// where they came from in error messages.
Result<std::vector<SaslUser>> ParseSaslUsers(const std::vector<std::string>& entries,
                                             std::string_view origin);
// The same from a file's text: one entry per line.
Result<std::vector<SaslUser>> ParseSaslUsersFile(std::string_view text, std::string_view origin);

// The account `name` whose password is `password`, or nullptr. Every entry is
// compared in full, so the time does not depend on which part differs.
const SaslUser* FindSaslUser(const std::vector<SaslUser>& users, std::string_view name,
                             std::string_view password);

class Acl {
 public:
  // Rules in the forms above; an error names the rule (kafkaserver.acls[i]).
  static Result<Acl> Parse(const std::vector<std::string>& rules);

  // False when no rule was given: everything is allowed.
  bool enabled() const { return !rules_.empty(); }
  // Are requests on resources of `type` checked (see above)?
  bool Restricts(AclResource type) const;
  // May `user` do `op` on resource `name` of `type` (the cluster has no
  // name)? True when `type` is not restricted.
  bool Allows(std::string_view user, AclResource type, AclOp op, std::string_view name) const;
  // Does some rule grant `user` `op` on some resource of `type` (or is the
  // type unrestricted)? Kafka lets a producer with write on any topic be
  // idempotent (KIP-679).
  bool AllowsAny(std::string_view user, AclResource type, AclOp op) const;
  // Was `op` on the cluster granted by a rule (not merely unrestricted)?
  bool GrantsCluster(std::string_view user, AclOp op) const;
  // The user names rules mention by name (not `*`): each must be an account.
  std::vector<std::string> NamedUsers() const;

 private:
  struct Rule {
    std::string user;  // or "*"
    AclResource type = AclResource::kTopic;
    uint8_t ops = 0;      // AclOp bits, implied describe included
    std::string pattern;  // exact, "*", or "prefix*"; empty for the cluster
  };
  uint8_t Granted(std::string_view user, AclResource type, std::string_view name) const;
  std::vector<Rule> rules_;
  uint8_t restricted_ = 0;  // bit (1 << type) per restricted type
};

}  // namespace pgcdc::adapter::kafkaserver
