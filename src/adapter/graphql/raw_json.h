// Walking compact JSON text without building a DOM (pure; fuzzed through
// tests/fuzz/graphql_document_fuzz.cc): the graphql adapter projects payloads
// by copying the selected members' bytes, so numbers keep their exact
// spelling (12.50 stays 12.50) and nothing is re-encoded.
//
// Input is expected to be valid JSON (Event::payload's invariant); on
// malformed text the functions stop early and never read out of bounds.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace pgcdc::adapter::graphql {

// End (one past) of the JSON value starting at s[i] after optional
// whitespace; npos when malformed.
size_t SkipJsonValue(std::string_view s, size_t i);

// Calls fn(key, value) for each member of the object `obj` (keys unescaped,
// values as raw text). False when `obj` is not a well-formed object.
bool ForEachMember(std::string_view obj,
                   const std::function<void(const std::string& key, std::string_view value)>& fn);

// Calls fn(value) for each element of the array `arr`. False when malformed.
bool ForEachElement(std::string_view arr, const std::function<void(std::string_view value)>& fn);

}  // namespace pgcdc::adapter::graphql
