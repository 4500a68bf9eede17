// libFuzzer target for the CEL JSON binding decoder (cel::ValueFromJson),
// cross-checked against Boost.JSON (core/json_dom.h).
//
// Input: any bytes, parsed as one JSON document. Invariants (abort on violation):
//  * ValueFromJson accepts exactly the documents Boost.JSON accepts, except
//    numbers whose exponent has 10+ digits (Boost rejects them as
//    "exponent overflow"; we accept them as infinity or zero);
//  * accepted documents convert to the same structure: kinds, string bytes,
//    sizes, ints and uints exactly, doubles to within Boost's (not always
//    correctly rounded) conversion (which also yields NaN for 0e99999), and
//    the last duplicate key wins in both.
#include <boost/json/value.hpp>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "cel/cel.h"
#include "core/json_dom.h"

namespace {

using pgcdc::cel::Kind;
using pgcdc::cel::Value;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

void Compare(const Value& v, const boost::json::value& j) {
  switch (j.kind()) {
    case boost::json::kind::null:
      Check(v.kind() == Kind::kNull, "null");
      break;
    case boost::json::kind::bool_:
      Check(v.kind() == Kind::kBool && v.bool_value() == j.get_bool(), "bool");
      break;
    case boost::json::kind::int64:
      Check(v.kind() == Kind::kInt && v.int_value() == j.get_int64(), "int");
      break;
    case boost::json::kind::uint64:
      Check(v.kind() == Kind::kUint && v.uint_value() == j.get_uint64(), "uint");
      break;
    case boost::json::kind::double_: {
      Check(v.kind() == Kind::kDouble, "double kind");
      double a = v.double_value(), b = j.get_double();
      // Boost turns 0e<huge> into NaN; the value is 0.
      Check(a == b || std::isnan(b) ||
                std::fabs(a - b) <= 1e-14 * std::fmax(std::fabs(a), std::fabs(b)) ||
                (std::fabs(a) < 1e-300 && std::fabs(b) < 1e-300),
            "double value");
      break;
    }
    case boost::json::kind::string:
      Check(v.kind() == Kind::kString && v.str() == std::string_view(j.get_string()), "string");
      break;
    case boost::json::kind::array: {
      const auto& a = j.get_array();
      Check(v.kind() == Kind::kList && v.list().size() == a.size(), "array size");
      for (size_t i = 0; i < a.size(); ++i) Compare(v.list()[i], a[i]);
      break;
    }
    case boost::json::kind::object: {
      Check(v.kind() == Kind::kMap, "object");
      for (const auto& kv : j.get_object()) {
        const Value* x = v.map().FindString(std::string_view(kv.key()));
        Check(x != nullptr, "object key");
        Compare(*x, kv.value());
      }
      break;
    }
  }
}

// An exponent with 10 or more digits somewhere in the text.
bool HasHugeExponent(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != 'e' && text[i] != 'E') continue;
    size_t p = i + 1;
    if (p < text.size() && (text[p] == '+' || text[p] == '-')) ++p;
    size_t digits = 0;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
      ++digits;
      ++p;
    }
    if (digits >= 10) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ours = pgcdc::cel::ValueFromJson(text);
  auto boost_dom = pgcdc::json::ParseDom(text);
  if (ours.has_value() != boost_dom.has_value()) {
    Check(ours.has_value() && !boost_dom.has_value() && HasHugeExponent(text),
          "acceptance differs from Boost.JSON");
    return 0;
  }
  if (ours) Compare(*ours, *boost_dom);
  return 0;
}
