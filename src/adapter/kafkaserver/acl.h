// Who may use the built-in broker, and which topics each user may read and
// write (docs/kafkaserver.md "Users and ACLs").
//
// Users authenticate with SASL/PLAIN: `kafkaserver.sasl_user` /
// `sasl_password`, the `kafkaserver.users` list ("name:password") and the
// `kafkaserver.users_file` (one "name:password" per line; blank lines and
// lines starting with '#' are skipped). Passwords are compared in constant
// time.
//
// ACL rules ("user:operation:topic") grant a user — or every user, `*` —
// `read` (Metadata, Fetch, ListOffsets, OffsetCommit, OffsetFetch), `write`
// (Produce, AddPartitionsToTxn) or `all` on a topic: an exact name, `*`, or a
// prefix ending in `*` (`pgcdc.*`). With no rule every authenticated user may
// do everything (the behaviour without ACLs); with at least one rule whatever
// no rule grants is refused with TOPIC_AUTHORIZATION_FAILED, and topics the
// user may neither read nor write are left out of a full Metadata listing.
// Consumer groups are not restricted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace pgcdc::adapter::kafkaserver {

enum class TopicOp : uint8_t { kRead = 1, kWrite = 2 };

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

class TopicAcl {
 public:
  // Rules "user:read|write|all:topic-pattern".
  static Result<TopicAcl> Parse(const std::vector<std::string>& rules);

  // False when no rule was given: everything is allowed.
  bool enabled() const { return !rules_.empty(); }
  bool Allows(std::string_view user, TopicOp op, std::string_view topic) const;
  // May `user` see the topic at all (read or write)?
  bool Describes(std::string_view user, std::string_view topic) const;
  // The user names rules mention by name (not `*`): each must be an account.
  std::vector<std::string> NamedUsers() const;

 private:
  struct Rule {
    std::string user;     // or "*"
    uint8_t ops = 0;      // TopicOp bits
    std::string pattern;  // exact, "*", or "prefix*"
  };
  uint8_t Granted(std::string_view user, std::string_view topic) const;
  std::vector<Rule> rules_;
};

}  // namespace pgcdc::adapter::kafkaserver
