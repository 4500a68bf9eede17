// Counting failures a component caught and survived: an unexpected C++
// exception at a thread or request boundary (the counterpart of a recovered
// panic in the reference tool, SPEC §9.2 `pgcdc_panics_recovered_total`).
#pragma once

#include <string_view>

namespace pgcdc {

// Increments pgcdc_panics_recovered_total{component}.
void CountRecovered(std::string_view component);

}  // namespace pgcdc
