// Kafka topic names: the validity rule and pgcdc's channel -> topic mapping,
// shared by the producer sink (adapter/kafka) and the built-in broker
// (adapter/kafkaserver). Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace pgcdc::codec::kafka {

// A character Kafka allows in a topic name: [a-zA-Z0-9._-].
bool IsTopicChar(char c);

// Kafka's topic name rule: 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
bool IsValidTopicName(std::string_view name);

// "pgcdc:orders" -> "pgcdc.orders" (SPEC §5.13/§5.14); characters Kafka does
// not allow become '_', the name is cut to 249 characters, and "", "." and
// ".." get a leading '_'. The result is always a valid topic name.
std::string TopicForChannel(std::string_view channel);

}  // namespace pgcdc::codec::kafka
