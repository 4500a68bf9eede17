#include "codec/kafka/frame.h"

#include <string>

namespace pgcdc::codec::kafka {

namespace {

int32_t LoadSize(std::string_view p) {
  const uint32_t v = (uint32_t{static_cast<uint8_t>(p[0])} << 24) |
                     (uint32_t{static_cast<uint8_t>(p[1])} << 16) |
                     (uint32_t{static_cast<uint8_t>(p[2])} << 8) | static_cast<uint8_t>(p[3]);
  return static_cast<int32_t>(v);
}

}  // namespace

void FrameSplitter::Append(std::string_view bytes) {
  if (error_) return;
  // Drop consumed bytes before growing, so the buffer holds at most one
  // partial frame plus what was just appended.
  if (consumed_ > 0 && (consumed_ == buffer_.size() || consumed_ >= buffer_.size() / 2)) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

size_t FrameSplitter::pending_frame_size() const {
  if (buffered() < 4) return 0;
  const int32_t n = LoadSize(std::string_view(buffer_).substr(consumed_, 4));
  return n < 0 ? 0 : static_cast<size_t>(n);
}

Result<std::optional<std::string>> FrameSplitter::Next() {
  if (error_) return std::unexpected(*error_);
  if (buffered() < 4) return std::optional<std::string>();
  const int32_t n = LoadSize(std::string_view(buffer_).substr(consumed_, 4));
  if (n < 0) {
    error_ = Error(ErrorCode::kProtocol, "kafka frame: negative frame size " + std::to_string(n));
    return std::unexpected(*error_);
  }
  if (static_cast<size_t>(n) > max_frame_size_) {
    error_ = Error(ErrorCode::kProtocol, "kafka frame: frame size " + std::to_string(n) +
                                             " exceeds the limit of " +
                                             std::to_string(max_frame_size_) + " bytes");
    return std::unexpected(*error_);
  }
  if (buffered() - 4 < static_cast<size_t>(n)) return std::optional<std::string>();
  std::string frame = buffer_.substr(consumed_ + 4, static_cast<size_t>(n));
  consumed_ += 4 + static_cast<size_t>(n);
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  return std::optional<std::string>(std::move(frame));
}

std::string FrameWithSize(std::string_view body) {
  std::string out;
  out.reserve(4 + body.size());
  const auto n = static_cast<uint32_t>(body.size());
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.append(body);
  return out;
}

}  // namespace pgcdc::codec::kafka
