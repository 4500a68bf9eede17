#include "snapshot/chunk_plan.h"

#include <algorithm>
#include <charconv>

namespace pgcdc::snapshot {

namespace {

std::string Tid(uint64_t page) { return "'(" + std::to_string(page) + ",0)'::tid"; }

Result<uint64_t> ParseU64(const std::optional<std::string>& text, const char* what) {
  uint64_t v = 0;
  if (!text) return Fail(ErrorCode::kProtocol, std::string(what) + " is null");
  const auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || p != text->data() + text->size()) {
    return Fail(ErrorCode::kProtocol, std::string(what) + " is not a number: " + *text);
  }
  return v;
}

}  // namespace

std::vector<PageRange> PlanChunks(uint64_t pages, uint64_t chunk_pages) {
  chunk_pages = std::max<uint64_t>(chunk_pages, 1);
  pages = std::min(pages, kMaxPage);
  std::vector<PageRange> out;
  uint64_t begin = 0;
  while (pages - begin > chunk_pages) {
    out.push_back({begin, begin + chunk_pages});
    begin += chunk_pages;
  }
  out.push_back({begin, kOpenEnd});
  return out;
}

std::string CtidCondition(const PageRange& range) {
  std::string out;
  if (range.begin > 0) out = "ctid >= " + Tid(range.begin);
  if (range.end != kOpenEnd) {
    if (!out.empty()) out.append(" AND ");
    out.append("ctid < " + Tid(range.end));
  }
  return out;
}

std::string Describe(const PageRange& range) {
  return "[" + std::to_string(range.begin) + "," +
         (range.end == kOpenEnd ? std::string("end") : std::to_string(range.end)) + ")";
}

Result<TableLayout> ReadTableLayout(pg::Conn& conn, const std::string& quoted_table) {
  auto rows = conn.Query(
      "SELECT c.oid::text, c.relkind::text IN ('r', 'm', 't') "
      "AND current_setting('server_version_num')::int >= 140000, "
      "(pg_relation_size(c.oid) / current_setting('block_size')::bigint)::text "
      "FROM pg_class c WHERE c.oid = $1::regclass",
      {quoted_table});
  if (!rows) return Fail(rows.error().Wrap("read the size of " + quoted_table));
  if (rows->empty() || rows->front().size() != 3) {
    return Fail(ErrorCode::kNotFound, "table " + quoted_table + " not found in pg_class");
  }
  const auto& r = rows->front();
  TableLayout layout;
  auto oid = ParseU64(r[0], "oid");
  if (!oid) return Fail(oid.error());
  layout.oid = static_cast<uint32_t>(*oid);
  layout.splittable = r[1].value_or("f") == "t";
  if (layout.splittable) {
    auto pages = ParseU64(r[2], "page count");
    if (!pages) return Fail(pages.error());
    layout.pages = *pages;
  }
  return layout;
}

}  // namespace pgcdc::snapshot
