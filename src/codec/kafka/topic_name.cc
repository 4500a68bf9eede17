#include "codec/kafka/topic_name.h"

namespace pgcdc::codec::kafka {

namespace {
constexpr size_t kMaxTopicName = 249;
}  // namespace

bool IsTopicChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool IsValidTopicName(std::string_view name) {
  if (name.empty() || name.size() > kMaxTopicName || name == "." || name == "..") return false;
  for (const char c : name) {
    if (!IsTopicChar(c)) return false;
  }
  return true;
}

std::string TopicForChannel(std::string_view channel) {
  std::string out;
  out.reserve(channel.size());
  for (const char c : channel) {
    if (c == ':') {
      out.push_back('.');
    } else {
      out.push_back(IsTopicChar(c) ? c : '_');
    }
  }
  if (out.size() > kMaxTopicName) out.resize(kMaxTopicName);
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out;
}

}  // namespace pgcdc::codec::kafka
