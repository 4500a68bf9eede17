#include "adapter/kafkaserver/acl.h"

#include <algorithm>

#include "codec/kafka/topic_name.h"
#include "core/bytes.h"

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

Result<TopicAcl> TopicAcl::Parse(const std::vector<std::string>& rules) {
  TopicAcl acl;
  for (size_t i = 0; i < rules.size(); ++i) {
    const std::string where = "kafkaserver.acls[" + std::to_string(i) + "] \"" + rules[i] + "\"";
    const std::string_view r = rules[i];
    const size_t a = r.find(':');
    const size_t b = a == std::string_view::npos ? a : r.find(':', a + 1);
    if (b == std::string_view::npos) {
      return Fail(ErrorCode::kInvalidArgument,
                  where + ": expected user:operation:topic, e.g. alice:read:pgcdc.orders");
    }
    Rule rule{std::string(r.substr(0, a)), 0, std::string(r.substr(b + 1))};
    const std::string_view op = r.substr(a + 1, b - a - 1);
    if (op == "read") {
      rule.ops = static_cast<uint8_t>(TopicOp::kRead);
    } else if (op == "write") {
      rule.ops = static_cast<uint8_t>(TopicOp::kWrite);
    } else if (op == "all") {
      rule.ops = static_cast<uint8_t>(TopicOp::kRead) | static_cast<uint8_t>(TopicOp::kWrite);
    } else {
      return Fail(ErrorCode::kInvalidArgument,
                  where + ": operation \"" + std::string(op) + "\": expected read, write or all");
    }
    if (rule.user.empty()) return Fail(ErrorCode::kInvalidArgument, where + ": empty user");
    const std::string_view prefix =
        std::string_view(rule.pattern)
            .substr(0, rule.pattern.ends_with('*') ? rule.pattern.size() - 1 : rule.pattern.size());
    if (rule.pattern.empty() || (!prefix.empty() && (prefix.find('*') != std::string_view::npos ||
                                                     !codec::kafka::IsValidTopicName(prefix)))) {
      return Fail(ErrorCode::kInvalidArgument,
                  where + ": topic \"" + rule.pattern +
                      "\": expected a topic name, `*`, or a prefix ending in `*`");
    }
    acl.rules_.push_back(std::move(rule));
  }
  return acl;
}

uint8_t TopicAcl::Granted(std::string_view user, std::string_view topic) const {
  uint8_t ops = 0;
  for (const auto& r : rules_) {
    if ((r.user == "*" || r.user == user) && MatchesPattern(r.pattern, topic)) ops |= r.ops;
  }
  return ops;
}

bool TopicAcl::Allows(std::string_view user, TopicOp op, std::string_view topic) const {
  return !enabled() || (Granted(user, topic) & static_cast<uint8_t>(op)) != 0;
}

bool TopicAcl::Describes(std::string_view user, std::string_view topic) const {
  return !enabled() || Granted(user, topic) != 0;
}

std::vector<std::string> TopicAcl::NamedUsers() const {
  std::vector<std::string> names;
  for (const auto& r : rules_) {
    if (r.user != "*" && std::find(names.begin(), names.end(), r.user) == names.end()) {
      names.push_back(r.user);
    }
  }
  return names;
}

}  // namespace pgcdc::adapter::kafkaserver
