// Helpers shared by the view unit tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "view/parser.h"

namespace pgcdc::view {

// The plan of `text` (a test failure when it does not parse).
inline std::shared_ptr<const Query> Parse(const std::string& text) {
  auto q = ParseQuery(text);
  EXPECT_TRUE(q) << (q ? "" : q.error().message());
  return q ? std::make_shared<const Query>(std::move(*q)) : nullptr;
}

// The parse error of `text`, or "(parsed)".
inline std::string ParseError(const std::string& text) {
  auto q = ParseQuery(text);
  return q ? std::string("(parsed)") : q.error().message();
}

}  // namespace pgcdc::view
