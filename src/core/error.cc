#include "core/error.h"

namespace pgcdc {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnknown:
      return "unknown";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kClosed:
      return "closed";
    case ErrorCode::kConnection:
      return "connection";
    case ErrorCode::kProtocol:
      return "protocol";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kParse:
      return "parse";
    case ErrorCode::kConfig:
      return "config";
    case ErrorCode::kUnimplemented:
      return "unimplemented";
  }
  return "unknown";
}

}  // namespace pgcdc
