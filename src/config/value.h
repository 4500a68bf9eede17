// The value of one configuration parameter after layering (flag > env > YAML
// > default). Header-only so ParamSpec binders can name it without a
// dependency on the loader.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace pgcdc::config {

using RouteMap = std::map<std::string, std::vector<std::string>>;
using Value = std::variant<std::monostate, std::string, int64_t, bool, std::chrono::nanoseconds,
                           std::vector<std::string>, RouteMap>;

}  // namespace pgcdc::config
