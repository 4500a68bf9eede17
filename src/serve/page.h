// The web page `pgcdc serve` answers at / (see page.cc).
#pragma once

#include <string_view>

namespace pgcdc::serve {

std::string_view Page();

}  // namespace pgcdc::serve
