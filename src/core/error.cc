#include "core/error.h"

#include "core/enum_names.h"

namespace pgcdc {

constexpr EnumNames<ErrorCode, ErrorCode::kUnimplemented> kErrorCodeNames(
    {"unknown", "invalid_argument", "not_found", "io", "closed", "connection", "protocol",
     "timeout", "cancelled", "parse", "config", "unimplemented"},
    "unknown");

std::string_view ErrorCodeName(ErrorCode code) { return kErrorCodeNames(code); }

}  // namespace pgcdc
