// Output helpers shared by tabular commands (`-o table|json`).
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace pgcdc::json {
class Writer;
}

namespace pgcdc::cli {

// Joins a multi-line message (libpq: "...refused\n\tIs the server running...")
// into one line with single spaces, for one-line error reports.
std::string OneLine(const std::string& message);

// Aligned columns, first row as the header; trailing spaces trimmed.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows);

// Writes the JSON document `body` builds to stdout, then a newline.
void PrintJson(const std::function<void(json::Writer&)>& body);

}  // namespace pgcdc::cli
