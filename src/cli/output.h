// Output helpers shared by tabular commands (`-o table|json`).
#pragma once

#include <string>
#include <vector>

namespace pgcdc::cli {

// Aligned columns, first row as the header; trailing spaces trimmed.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace pgcdc::cli
