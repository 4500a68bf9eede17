// `pgcdc view test`: runs views over recorded events (JSON lines as the
// stdout/file sinks write them) without a database or a pipeline, so users
// can debug a query on captured data.
//
// Processing time is each event's `created_at` (the time pgcdc captured it);
// an event without a readable one keeps the previous event's time. Windows
// close as that time (or, with EVENT TIME BY, the watermark) passes them, and
// every window still open at the end of the input is closed then. Results
// are printed as {"channel","operation":"VIEW_RESULT","payload"} lines: the
// VIEW_RESULT event a pipeline would publish, without its random id and
// capture time, so two runs over the same input print the same bytes.
#pragma once

#include <iosfwd>
#include <vector>

#include "adapter/view/view_adapter.h"

namespace pgcdc::adapter::view {

struct OfflineReport {
  size_t lines = 0;      // non-empty input lines
  size_t bad_lines = 0;  // not a JSON event object (reported on `err`)
  size_t results = 0;    // VIEW_RESULT lines printed
};

// Reads events from `in`, writes results to `out`, per-line problems and a
// summary per view to `err`.
OfflineReport RunOffline(const std::vector<ViewDef>& views, std::istream& in, std::ostream& out,
                         std::ostream& err);

}  // namespace pgcdc::adapter::view
