// Kafka framing: every request and response is an int32 big-endian size
// followed by that many bytes.
//
// FrameSplitter is an incremental splitter for one connection's inbound byte
// stream: Append() whatever the socket delivered, then call Next() until it
// returns an empty optional. A negative size or a size above the cap is a
// protocol error (kProtocol); the connection must then be closed (Kafka does
// the same for socket.request.max.bytes, default 100 MiB). The error is
// sticky: later Next() calls return it again.
//
// Owned by one connection; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc::codec::kafka {

inline constexpr size_t kDefaultMaxFrameSize = 100u * 1024u * 1024u;

class FrameSplitter {
 public:
  explicit FrameSplitter(size_t max_frame_size = kDefaultMaxFrameSize)
      : max_frame_size_(max_frame_size) {}

  void Append(std::string_view bytes);

  // The next complete frame body (without the 4-byte size), std::nullopt if
  // more bytes are needed, or an error for a bad size.
  Result<std::optional<std::string>> Next();

  // Bytes buffered and not yet returned as frames.
  size_t buffered() const { return buffer_.size() - consumed_; }
  // Size of the frame currently being assembled (0 if its header is not
  // complete yet); lets a server enforce memory budgets before the body arrives.
  size_t pending_frame_size() const;

 private:
  size_t max_frame_size_;
  std::string buffer_;
  size_t consumed_ = 0;
  std::optional<Error> error_;
};

// Prepends the int32 size to `body`.
std::string FrameWithSize(std::string_view body);

}  // namespace pgcdc::codec::kafka
