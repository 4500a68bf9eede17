// JSON DOM for code that must read JSON (DLQ replay, transforms, CEL
// bindings): Boost.JSON, compiled once in json_dom.cc (its src.hpp) so no
// other translation unit pays for it. The event hot path never parses JSON;
// it uses the writer in core/json.h.
#pragma once

#include <boost/json/value.hpp>
#include <string_view>

#include "core/error.h"

namespace pgcdc::json {

// Parses one JSON document; kParse error with the position on failure.
Result<boost::json::value> ParseDom(std::string_view text);

// Compact serialisation (no HTML escaping, UTF-8 kept as is).
std::string SerializeDom(const boost::json::value& value);

}  // namespace pgcdc::json
