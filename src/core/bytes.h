// Small byte-string helpers shared by the code that checks credentials and
// signatures (HTTP auth, the webhook gateway, the Kafka server's SASL).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgcdc {

// Equal, without an early exit that depends on the contents (the lengths
// may leak): for comparing secrets, tokens and MACs.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// RFC 4648 base64 (standard alphabet, padding optional); nullopt on a
// character outside the alphabet or an impossible length.
std::optional<std::string> DecodeBase64(std::string_view text);

}  // namespace pgcdc
