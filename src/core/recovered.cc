#include "core/recovered.h"

#include "core/metrics.h"

namespace pgcdc {

void CountRecovered(std::string_view component) {
  metrics::Default()
      .AddCounter("pgcdc_panics_recovered_total",
                  "Unexpected exceptions a component caught and survived (a request answered "
                  "with an error, an I/O loop restarted), by component.",
                  {"component"})
      .With({component})
      .Inc();
}

}  // namespace pgcdc
