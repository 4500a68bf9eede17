// Inspector: what is flowing through the pipeline right now (SPEC §9.1).
//
// Keeps a bounded ring of the most recent events at each tap point and
// streams new ones to live subscribers:
//   post-detector   every event as the detector published it (recorded once,
//                   not once per adapter as upstream does)
//   post-transform  per adapter, after its route filter and transforms
//   pre-adapter     per adapter, exactly what is handed to the sink (the same
//                   events as post-transform, so both share one ring)
// HTTP: GET /inspect?point=&limit=&adapter=&channel= (JSON) and
// GET /inspect/stream?point=&adapter=&channel= (SSE, `event: <point>`,
// `data: {"adapter":…,"event":<envelope>}`).
//
// Cost when nobody looks: one lock and a string copy (reusing capacity) per
// event per tap, bounded by the ring size; --inspect-buffer 0 turns taps off.
// Thread-safe: the detector thread and every adapter worker record into it.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/event.h"

namespace pgcdc::net {
class HttpServer;
}

namespace pgcdc::pipeline {

enum class TapPoint { kPostDetector = 0, kPostTransform = 1, kPreAdapter = 2 };
std::string_view TapPointName(TapPoint point);

class Inspector {
 public:
  // `capacity`: events kept per tap point (0 = disabled).
  explicit Inspector(size_t capacity);
  ~Inspector();
  Inspector(const Inspector&) = delete;
  Inspector& operator=(const Inspector&) = delete;

  bool enabled() const { return capacity_ > 0; }
  // `adapter` is empty for post-detector. Recording post-transform or
  // pre-adapter fills the one ring both points read.
  void Record(TapPoint point, std::string_view adapter, std::span<const Event* const> events);
  void Record(TapPoint point, std::string_view adapter, std::span<const Event> events);

  // Adds /inspect and /inspect/stream.
  void Mount(net::HttpServer& server);
  // Ends live streams (shutdown).
  void Close();

  // JSON body of GET /inspect (exposed for tests).
  std::string Snapshot(TapPoint point, size_t limit, std::string_view adapter,
                       std::string_view channel) const;

  struct State;

 private:
  size_t capacity_;
  std::shared_ptr<State> state_;
};

}  // namespace pgcdc::pipeline
