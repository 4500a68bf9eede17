// View front end and engine: the first line is a view query (clause
// stripping, libpg_query, planning); the remaining lines are event payloads
// run through the planned view, then every window is flushed and encoded.
// Nothing may crash, whatever the query or the payloads.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "view/engine.h"
#include "view/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nl = input.find('\n');
  auto query = pgcdc::view::ParseQuery(input.substr(0, nl));
  if (!query || nl == std::string_view::npos) return 0;
  auto plan = std::make_shared<const pgcdc::view::Query>(std::move(*query));
  pgcdc::view::Engine engine(plan, {.max_groups = 64});
  std::string_view rest = input.substr(nl + 1);
  int64_t now = 0;
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    engine.Process(
        {.channel = "c", .operation = "INSERT", .source = "fuzz", .payload = rest.substr(0, end)},
        now);
    now += 250000000;
    for (const auto& w : engine.Advance(now)) {
      for (size_t r = 0; r < w.rows.size(); ++r) (void)pgcdc::view::RowJson(*plan, w, r);
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  for (const auto& w : engine.FlushAll()) (void)pgcdc::view::BatchJson(*plan, w);
  return 0;
}
