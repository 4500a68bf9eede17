// The two renderings of a verify report: a summary for people and a JSON
// document for scripts (`-o json`; the fields are listed in docs/verify.md).
#pragma once

#include <string>

#include "verify/verify.h"

namespace pgcdc::verify {

std::string RenderText(const VerifyReport& report);
std::string RenderJson(const VerifyReport& report);

}  // namespace pgcdc::verify
