#include "core/json_dom.h"

// The one place Boost.JSON's implementation is compiled (header-only mode).
#include <boost/json/src.hpp>

namespace pgcdc::json {

Result<boost::json::value> ParseDom(std::string_view text) {
  boost::system::error_code ec;
  // Boost's default nesting limit (32) is below what real payloads use.
  boost::json::parse_options opts;
  opts.max_depth = 512;
  boost::json::stream_parser p({}, opts);
  const size_t n = p.write_some(text.data(), text.size(), ec);
  if (!ec && n < text.size()) ec = boost::json::error::extra_data;
  if (!ec) p.finish(ec);
  if (ec) {
    return Fail(ErrorCode::kParse,
                "invalid JSON at byte " + std::to_string(n) + ": " + ec.message());
  }
  return p.release();
}

std::string SerializeDom(const boost::json::value& value) { return boost::json::serialize(value); }

}  // namespace pgcdc::json
