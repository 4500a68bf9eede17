// Long-lived server-to-client streams served by HttpServer: Server-Sent Events
// (a chunked text/event-stream response) and WebSocket (RFC 6455).
//
// A Stream is owned by the server's I/O thread; the handle is thread-safe, so
// producers on other threads push frames into its bounded queue without ever
// waiting for the socket. Frames are shared bytes (encode once, write to many
// clients): an SSE frame is written as-is inside the chunked body, a WebSocket
// frame must already be a complete RFC 6455 frame (EncodeWebSocketText()).
//
// Light header: no Boost.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace pgcdc::net {

// Bytes shared read-only by every client a frame goes to.
using SharedFrame = std::shared_ptr<const std::string>;

enum class StreamKind { kEventStream, kWebSocket };

// Why a stream ended (StreamSpec::on_close).
enum class StreamEnd {
  kClientClosed,  // the client went away (EOF, reset, WebSocket close)
  kServerClosed,  // Stream::Close() or server shutdown
  kSlowClient,    // a write made no progress within the write timeout
  kError,         // protocol error or dead peer (no pong)
};
std::string_view StreamEndName(StreamEnd end);

// WebSocket close codes used by pgcdc (RFC 6455 §7.4).
inline constexpr uint16_t kWsCloseNormal = 1000;         // "server shutting down"
inline constexpr uint16_t kWsCloseProtocol = 1002;       // malformed client frame
inline constexpr uint16_t kWsCloseTooBig = 1009;         // client message over the cap
inline constexpr uint16_t kWsCloseTryAgainLater = 1013;  // slow consumer disconnected

class Stream {
 public:
  enum class PushResult { kQueued, kFull, kClosed };
  virtual ~Stream() = default;

  // Queues one frame. kFull: the queue holds `queue_capacity` frames and the
  // frame was not queued; kClosed: the stream is closing or gone. Any thread,
  // never blocks on I/O.
  virtual PushResult Push(SharedFrame frame) = 0;
  // Queues all frames (one batch) unless the queue already holds
  // `queue_capacity` frames (kFull, nothing queued): a burst larger than the
  // capacity is accepted by a client that has caught up, so the bound is
  // capacity + one batch. `queued` gets how many were taken.
  virtual PushResult PushMany(std::span<const SharedFrame> frames, size_t& queued) = 0;
  // Like Push() but ignores the capacity (for a bounded replay on connect).
  virtual PushResult PushUnbounded(SharedFrame frame) = 0;
  // Ends the stream: refuses new frames, writes what is queued (or drops it
  // when `drop_queued`), sends a WebSocket close frame with `code`/`reason`
  // (SSE: ends the chunked body), then closes the connection. The whole
  // sequence is bounded by HttpServerOptions::close_linger. Any thread;
  // idempotent (the first call wins).
  virtual void Close(uint16_t code, std::string_view reason, bool drop_queued) = 0;

  virtual StreamKind kind() const = 0;
  virtual const std::string& peer() const = 0;  // "ip:port" of the client
  virtual size_t queued() const = 0;            // frames waiting to be written
};
using StreamPtr = std::shared_ptr<Stream>;

// How a stream route accepts a request.
struct StreamSpec {
  size_t queue_capacity = 1024;  // frames waiting per client (>= 1)
  // SSE: a keep-alive comment when nothing was written for this long;
  // WebSocket: a ping every interval (a client that did not answer the
  // previous ping and sent nothing since is dropped). Zero = off.
  std::chrono::milliseconds keepalive{std::chrono::seconds(15)};
  // Extra response headers (SSE response / WebSocket handshake).
  std::map<std::string, std::string> headers;
  // Called on the I/O thread once the response head / handshake is written.
  // Frames pushed from here come before anything pushed later.
  std::function<void(const StreamPtr&)> on_open;
  // WebSocket only: called on the I/O thread with every complete client data
  // message (fragments joined; at most HttpServerOptions::ws_max_client_frame
  // bytes, larger ones close the stream with 1009). `binary` for opcode 2.
  // Unset: client messages are ignored.
  std::function<void(const StreamPtr&, std::string&& message, bool binary)> on_message;
  // Called once on the I/O thread when the stream has ended (also when the
  // stream ends before on_open ran; then `stream` is the same handle).
  std::function<void(const StreamPtr&, StreamEnd)> on_close;
};

// "id: <id>\nevent: <event>\ndata: <data>\n\n". Empty id/event lines are left
// out; CR/LF inside id and event are replaced by spaces; data with line breaks
// becomes several data: lines (the client joins them back with "\n").
std::string EncodeSseEvent(std::string_view id, std::string_view event, std::string_view data);

// The header of an unfragmented, unmasked server-to-client frame whose
// payload of `payload_len` bytes the caller appends next (builds a frame
// from pieces without copying it twice).
void AppendWebSocketHeader(std::string& out, uint8_t opcode, uint64_t payload_len);
// One unfragmented, unmasked server-to-client WebSocket frame.
std::string EncodeWebSocketFrame(uint8_t opcode, std::string_view payload);
inline std::string EncodeWebSocketText(std::string_view payload) {
  return EncodeWebSocketFrame(0x1, payload);
}
// Close frame payload: 2-byte code + UTF-8 reason (cut to fit 123 bytes).
std::string EncodeWebSocketClose(uint16_t code, std::string_view reason);

// Sec-WebSocket-Accept for a client's Sec-WebSocket-Key (RFC 6455 §4.2.2).
std::string WebSocketAcceptKey(std::string_view client_key);

}  // namespace pgcdc::net
