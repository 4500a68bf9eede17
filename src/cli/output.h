// Output helpers shared by tabular commands (`-o table|json`).
#pragma once

#include <string>
#include <vector>

namespace pgcdc::cli {

// Joins a multi-line message (libpq: "...refused\n\tIs the server running...")
// into one line with single spaces, for one-line error reports.
std::string OneLine(const std::string& message);

// Aligned columns, first row as the header; trailing spaces trimmed.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace pgcdc::cli
