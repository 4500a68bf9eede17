// Error and Result types used across pgcdc.
//
// The data plane never throws: fallible functions return Result<T>
// (std::expected<T, Error>). Error carries a code callers can branch on and a
// human-readable message with context prefixes ("connect: ...").
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace pgcdc {

enum class ErrorCode {
  kUnknown,
  kInvalidArgument,  // bad input from a user or a peer
  kNotFound,
  kIo,          // local I/O failure (files, pipes)
  kClosed,      // the other side went away cleanly (EPIPE, closed queue)
  kConnection,  // network / database connection failure (retryable)
  kProtocol,    // peer spoke something we do not understand
  kTimeout,
  kCancelled,  // stop requested
  kParse,      // malformed data
  kConfig,     // configuration error (usage error, exit code 2)
  kUnimplemented,
};

std::string_view ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a copy whose message is "context: message".
  Error Wrap(std::string_view context) const {
    std::string m;
    m.reserve(context.size() + 2 + message_.size());
    m.append(context).append(": ").append(message_);
    return Error(code_, std::move(m));
  }

 private:
  ErrorCode code_;
  std::string message_;
};

// std::expected<T, Error> that must not be ignored: dropping a Result or a
// Status is a compile warning (an error in CI, -Werror=unused-result). Discard
// one on purpose with `(void)` and a comment saying why.
template <class T>
class [[nodiscard]] Result : public std::expected<T, Error> {
 public:
  using Base = std::expected<T, Error>;
  using Base::Base;
  Result() = default;
  // NOLINTNEXTLINE(google-explicit-constructor): converts like the base type does.
  Result(Base base) : Base(std::move(base)) {}
};
using Status = Result<void>;

inline std::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error(code, std::move(message)));
}
inline std::unexpected<Error> Fail(Error error) { return std::unexpected<Error>(std::move(error)); }

inline Status Ok() { return {}; }

}  // namespace pgcdc
