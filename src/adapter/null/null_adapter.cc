#include "adapter/null/null_adapter.h"

#include "core/log.h"
#include "core/metrics.h"
#include "registry/define.h"

namespace pgcdc::adapter::null {

namespace {

metrics::Counter& EventsTotal() {
  static metrics::Counter& c = metrics::DefaultCounter("pgcdc_null_events_total",
                                                       "Events acknowledged by the null adapter.");
  return c;
}

}  // namespace

NullAdapter::NullAdapter(Options options) : options_(options) {}

Status NullAdapter::Deliver(std::span<const Event* const> events) {
  const uint64_t before = delivered_.fetch_add(events.size(), std::memory_order_relaxed);
  EventsTotal().Inc(events.size());
  if (options_.log_every > 0) {
    const auto every = static_cast<uint64_t>(options_.log_every);
    if ((before + events.size()) / every != before / every) {
      log::Info("null adapter progress", {{"events", before + events.size()}});
    }
  }
  return Ok();
}

void NullAdapter::Close() { log::Info("null adapter closed", {{"events", delivered()}}); }

ConnectorInfo Connector() {
  return DefineAdapter<Options>({
      .name = "null",
      .description = "Acknowledges and counts every event without writing it anywhere "
                     "(benchmarks, dry runs).",
      .params = {Param("null.log_every", &Options::log_every,
                       "log a progress line every this many events (0 = never)", {.min = 0})},
      .make = [](Options o, const Context&) -> Result<AdapterPtr> {
        return std::make_unique<NullAdapter>(o);
      },
  });
}

}  // namespace pgcdc::adapter::null

PGCDC_REGISTER_CONNECTOR(adapter, null, pgcdc::adapter::null::Connector)
