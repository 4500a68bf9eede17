// StopWaker is the Sleeper (core/sleep.h): an eventfd that becomes readable
// when a stop is requested, plus the interruptible SleepFor(). Kept as an
// alias for code written before the Sleeper; new code uses Sleeper.
#pragma once

#include "core/sleep.h"

namespace pgcdc {

using StopWaker = Sleeper;

}  // namespace pgcdc
