// Evaluates CEL expressions for the differential test: one expression per
// stdin line (no variables), one JSON result per stdout line in a type-tagged
// form: {"int":"5"} {"uint":"5"} {"double":1.5|"NaN"|"Inf"|"-Inf"} {"string":..}
// {"bytes":"<hex>"} {"bool":..} {"null":true} {"list":[..]} {"map":[[k,v],..]}
// {"type":"int"} {"timestamp":[s,n]} {"duration":[s,n]} {"error":"msg"}.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

#include "cel/cel.h"

namespace {

using pgcdc::cel::Kind;
using pgcdc::cel::Value;

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

void Encode(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Kind::kNull:
      out += R"({"null":true})";
      break;
    case Kind::kBool:
      out += v.bool_value() ? R"({"bool":true})" : R"({"bool":false})";
      break;
    case Kind::kInt:
      out += R"({"int":")" + std::to_string(v.int_value()) + "\"}";
      break;
    case Kind::kUint:
      out += R"({"uint":")" + std::to_string(v.uint_value()) + "\"}";
      break;
    case Kind::kDouble: {
      double d = v.double_value();
      if (std::isnan(d)) {
        out += R"({"double":"NaN"})";
      } else if (std::isinf(d)) {
        out += d > 0 ? R"({"double":"Inf"})" : R"({"double":"-Inf"})";
      } else {
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%.17g", d);
        out += R"({"double":)" + std::string(buf) + "}";
      }
      break;
    }
    case Kind::kString:
      out += R"({"string":)";
      AppendJsonString(out, v.str());
      out += "}";
      break;
    case Kind::kBytes: {
      out += R"({"bytes":")";
      static constexpr char kHex[] = "0123456789abcdef";
      for (unsigned char c : v.str()) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
      out += "\"}";
      break;
    }
    case Kind::kList: {
      out += R"({"list":[)";
      bool first = true;
      for (const Value& item : v.list()) {
        if (!first) out.push_back(',');
        first = false;
        Encode(out, item);
      }
      out += "]}";
      break;
    }
    case Kind::kMap: {
      out += R"({"map":[)";
      bool first = true;
      for (const auto& [key, value] : v.map().entries()) {
        if (!first) out.push_back(',');
        first = false;
        out.push_back('[');
        Encode(out, key);
        out.push_back(',');
        Encode(out, value);
        out.push_back(']');
      }
      out += "]}";
      break;
    }
    case Kind::kTimestamp:
    case Kind::kDuration:
      out += v.kind() == Kind::kTimestamp ? R"({"timestamp":[)" : R"({"duration":[)";
      out += "\"" + std::to_string(v.seconds()) + "\"," + std::to_string(v.nanos()) + "]}";
      break;
    case Kind::kType:
      out += R"({"type":)";
      AppendJsonString(out, v.str());
      out += "}";
      break;
    case Kind::kError:
      out += R"({"error":)";
      AppendJsonString(out, v.str());
      out += "}";
      break;
  }
}

}  // namespace

int main() {
  pgcdc::cel::Declarations decls;
  pgcdc::cel::Activation act(decls);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::string out;
    auto program = pgcdc::cel::Program::Compile(line, decls);
    if (!program) {
      out += R"({"error":)";
      AppendJsonString(out, program.error().message());
      out += "}";
    } else {
      Encode(out, program->Evaluate(act));
    }
    out.push_back('\n');
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}
