#include "adapter/kafkaserver/acl.h"

#include <algorithm>

#include "codec/kafka/topic_name.h"
#include "core/bytes.h"
#include "core/enum_names.h"

namespace pgcdc::adapter::kafkaserver {
namespace {

bool MatchesPattern(std::string_view pattern, std::string_view topic) {
  if (pattern == "*") return true;
  if (pattern.ends_with('*')) return topic.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == topic;
}

Result<SaslUser> ParseUser(std::string_view entry, std::string_view where) {
  const size_t colon = entry.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == entry.size()) {
    return Fail(ErrorCode::kInvalidArgument,
                std::string(where) + ": expected name:password, got a value without both");
  }
  return SaslUser{std::string(entry.substr(0, colon)), std::string(entry.substr(colon + 1))};
}

}  // namespace

Result<std::vector<SaslUser>> ParseSaslUsers(const std::vector<std::string>& entries,
                                             std::string_view origin) {
  std::vector<SaslUser> users;
  for (size_t i = 0; i < entries.size(); ++i) {
    auto u = ParseUser(entries[i], std::string(origin) + "[" + std::to_string(i) + "]");
    if (!u) return Fail(u.error());
    users.push_back(std::move(*u));
  }
  return users;
}

Result<std::vector<SaslUser>> ParseSaslUsersFile(std::string_view text, std::string_view origin) {
  std::vector<SaslUser> users;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto u = ParseUser(line, std::string(origin) + " line " + std::to_string(line_no));
    if (!u) return Fail(u.error());
    users.push_back(std::move(*u));
  }
  return users;
}

const SaslUser* FindSaslUser(const std::vector<SaslUser>& users, std::string_view name,
                             std::string_view password) {
  const SaslUser* found = nullptr;
  for (const auto& u : users) {
    const bool name_ok = ConstantTimeEquals(u.name, name);
    const bool password_ok = ConstantTimeEquals(u.password, password);
    if (name_ok && password_ok && found == nullptr) found = &u;
  }
  return found;
}

constexpr EnumNames<AclResource, AclResource::kCluster> kAclResourceNames(
    {"topic", "group", "transactional_id", "cluster"}, "?");

std::string_view AclResourceName(AclResource type) { return kAclResourceNames(type); }

std::string_view AclOpName(AclOp op) {
  switch (op) {
    case AclOp::kRead:
      return "read";
    case AclOp::kWrite:
      return "write";
    case AclOp::kDescribe:
      return "describe";
    case AclOp::kIdempotentWrite:
      return "idempotent_write";
  }
  return "?";
}

namespace {

constexpr uint8_t Bit(AclOp op) { return static_cast<uint8_t>(op); }
constexpr uint8_t TypeBit(AclResource type) {
  return static_cast<uint8_t>(1u << static_cast<uint8_t>(type));
}

// The operations a rule may name for each resource type, and what each grants
// (read and write imply describe, as in Kafka; `all` is every one of them).
struct OpSpelling {
  std::string_view name;
  uint8_t grants;
};
struct TypeSpec {
  AclResource type;
  std::string_view what;  // "a topic", for messages
  std::vector<OpSpelling> ops;
  std::string_view expected;  // "read, write, describe or all"
};

const TypeSpec& SpecOf(AclResource type) {
  static const TypeSpec kSpecs[] = {
      {AclResource::kTopic,
       "a topic",
       {{"read", Bit(AclOp::kRead) | Bit(AclOp::kDescribe)},
        {"write", Bit(AclOp::kWrite) | Bit(AclOp::kDescribe)},
        {"describe", Bit(AclOp::kDescribe)},
        {"all", Bit(AclOp::kRead) | Bit(AclOp::kWrite) | Bit(AclOp::kDescribe)}},
       "read, write, describe or all"},
      {AclResource::kGroup,
       "a group",
       {{"read", Bit(AclOp::kRead) | Bit(AclOp::kDescribe)},
        {"describe", Bit(AclOp::kDescribe)},
        {"all", Bit(AclOp::kRead) | Bit(AclOp::kDescribe)}},
       "read, describe or all"},
      {AclResource::kTransactionalId,
       "a transactional id",
       {{"write", Bit(AclOp::kWrite) | Bit(AclOp::kDescribe)},
        {"describe", Bit(AclOp::kDescribe)},
        {"all", Bit(AclOp::kWrite) | Bit(AclOp::kDescribe)}},
       "write, describe or all"},
      {AclResource::kCluster,
       "the cluster",
       {{"describe", Bit(AclOp::kDescribe)},
        {"idempotent_write", Bit(AclOp::kIdempotentWrite)},
        {"all", Bit(AclOp::kDescribe) | Bit(AclOp::kIdempotentWrite)}},
       "describe, idempotent_write or all"},
  };
  return kSpecs[static_cast<uint8_t>(type)];
}

constexpr std::string_view kForms =
    "expected user:operation:topic, user:operation:topic|group|transactional_id:NAME or "
    "user:operation:cluster, e.g. alice:read:pgcdc.orders or alice:read:group:analytics";

// A name pattern: exact, `*`, or a prefix ending in `*` (no other `*`).
// Topic names (and prefixes) must also be valid topic names.
bool ValidPattern(AclResource type, std::string_view pattern) {
  if (pattern.empty()) return false;
  const std::string_view prefix =
      pattern.ends_with('*') ? pattern.substr(0, pattern.size() - 1) : pattern;
  if (prefix.find('*') != std::string_view::npos) return false;
  if (type == AclResource::kTopic) return prefix.empty() || codec::kafka::IsValidTopicName(prefix);
  return true;
}

}  // namespace

Result<Acl> Acl::Parse(const std::vector<std::string>& rules) {
  Acl acl;
  for (size_t i = 0; i < rules.size(); ++i) {
    const std::string where = "kafkaserver.acls[" + std::to_string(i) + "] \"" + rules[i] + "\"";
    auto fail = [&](const std::string& why) {
      return Fail(ErrorCode::kInvalidArgument, where + ": " + why);
    };
    const std::string_view r = rules[i];
    const size_t a = r.find(':');
    const size_t b = a == std::string_view::npos ? a : r.find(':', a + 1);
    if (b == std::string_view::npos) return fail(std::string(kForms));
    Rule rule;
    rule.user = std::string(r.substr(0, a));
    if (rule.user.empty()) return fail("empty user");
    const std::string_view op = r.substr(a + 1, b - a - 1);
    const std::string_view rest = r.substr(b + 1);
    // user:op:NAME is a topic, except the word `cluster`; user:op:TYPE:NAME.
    const size_t c = rest.find(':');
    bool short_cluster = false;
    if (c == std::string_view::npos) {
      short_cluster = rest == "cluster";
      rule.type = short_cluster ? AclResource::kCluster : AclResource::kTopic;
      if (!short_cluster) rule.pattern = std::string(rest);
    } else {
      const std::string_view type = rest.substr(0, c);
      rule.pattern = std::string(rest.substr(c + 1));
      if (type == "topic") {
        rule.type = AclResource::kTopic;
      } else if (type == "group") {
        rule.type = AclResource::kGroup;
      } else if (type == "transactional_id") {
        rule.type = AclResource::kTransactionalId;
      } else if (type == "cluster") {
        return fail("the cluster takes no name: write user:operation:cluster");
      } else {
        return fail("resource type \"" + std::string(type) +
                    "\": expected topic, group, transactional_id or cluster");
      }
    }
    const TypeSpec& spec = SpecOf(rule.type);
    for (const auto& o : spec.ops) {
      if (o.name == op) rule.ops = o.grants;
    }
    if (rule.ops == 0) {
      std::string why = "operation \"" + std::string(op) + "\" on " + std::string(spec.what) +
                        ": expected " + std::string(spec.expected);
      if (short_cluster) {
        why += " (the topic named \"cluster\" is written " + rule.user + ":" + std::string(op) +
               ":topic:cluster)";
      }
      return fail(why);
    }
    if (rule.type != AclResource::kCluster && !ValidPattern(rule.type, rule.pattern)) {
      const std::string_view name = rule.type == AclResource::kTopic   ? "a topic name"
                                    : rule.type == AclResource::kGroup ? "a group id"
                                                                       : "a transactional id";
      return fail(std::string(AclResourceName(rule.type)) + " \"" + rule.pattern + "\": expected " +
                  std::string(name) + ", `*`, or a prefix ending in `*`");
    }
    acl.restricted_ |= TypeBit(rule.type);
    acl.rules_.push_back(std::move(rule));
  }
  // Topics hold the data: any rule at all restricts them.
  if (!acl.rules_.empty()) acl.restricted_ |= TypeBit(AclResource::kTopic);
  return acl;
}

bool Acl::Restricts(AclResource type) const { return (restricted_ & TypeBit(type)) != 0; }

uint8_t Acl::Granted(std::string_view user, AclResource type, std::string_view name) const {
  uint8_t ops = 0;
  for (const auto& r : rules_) {
    if (r.type == type && (r.user == "*" || r.user == user) &&
        (type == AclResource::kCluster || MatchesPattern(r.pattern, name))) {
      ops |= r.ops;
    }
  }
  return ops;
}

bool Acl::Allows(std::string_view user, AclResource type, AclOp op, std::string_view name) const {
  return !Restricts(type) || (Granted(user, type, name) & Bit(op)) != 0;
}

bool Acl::AllowsAny(std::string_view user, AclResource type, AclOp op) const {
  if (!Restricts(type)) return true;
  return std::any_of(rules_.begin(), rules_.end(), [&](const Rule& r) {
    return r.type == type && (r.user == "*" || r.user == user) && (r.ops & Bit(op)) != 0;
  });
}

bool Acl::GrantsCluster(std::string_view user, AclOp op) const {
  return Restricts(AclResource::kCluster) &&
         (Granted(user, AclResource::kCluster, {}) & Bit(op)) != 0;
}

std::vector<std::string> Acl::NamedUsers() const {
  std::vector<std::string> names;
  for (const auto& r : rules_) {
    if (r.user != "*" && std::find(names.begin(), names.end(), r.user) == names.end()) {
      names.push_back(r.user);
    }
  }
  return names;
}

}  // namespace pgcdc::adapter::kafkaserver
