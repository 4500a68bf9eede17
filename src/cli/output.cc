#include "cli/output.h"

#include <algorithm>
#include <iostream>

#include "core/json.h"

namespace pgcdc::cli {

std::string RenderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& r : rows) {
    if (widths.size() < r.size()) widths.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(widths[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string OneLine(const std::string& message) {
  std::string line;
  bool space = false;
  for (char c : message) {
    if (c == '\n' || c == '\r' || c == '\t') {
      space = !line.empty();
      continue;
    }
    if (space && c != ' ') line.push_back(' ');
    space = false;
    line.push_back(c);
  }
  return line;
}

void PrintJson(const std::function<void(json::Writer&)>& body) {
  std::string out;
  json::Writer w(out);
  body(w);
  std::cout << out << "\n";
}

}  // namespace pgcdc::cli
