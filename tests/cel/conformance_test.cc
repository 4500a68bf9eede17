// Runs the CEL conformance suite (the simple tests of google/cel-spec, as
// shipped in npm @bufbuild/cel-spec) against pgcdc's CEL implementation.
//
// node (tests/cel/conformance_dump.js) turns the package's test data into one
// JSON document; every test of every section is compiled and evaluated here.
// Tests needing protobuf messages, enums, containers, extension functions or
// type-check-only output are skipped with a counted reason. The pass count per
// section must not drop below the floor recorded in kFloors (update it, and
// docs/cel.md, when the implementation improves).
#include <gtest/gtest.h>

#include <boost/json/value.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "cel/cel.h"
#include "core/json_dom.h"

namespace pgcdc::cel {
namespace {

namespace bj = boost::json;

// Minimum passing tests per section (regression floor).
const std::map<std::string, int> kFloors = {
#include "conformance_floors.inc"
};

std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  pclose(pipe);
  return out;
}

std::string Base64Decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  int bits = 0;
  uint32_t acc = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) continue;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string Str(const bj::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  return json::SerializeDom(v);
}

// Converts a protobuf-JSON cel.expr.Value; false (with a skip reason) when unsupported.
bool ConvertValue(const bj::value& jv, Value& out, std::string& skip) {
  const bj::object& o = jv.as_object();
  if (auto* p = o.if_contains("int64Value")) {
    out = Value::Int(p->is_string() ? std::stoll(Str(*p)) : p->to_number<int64_t>());
  } else if (auto* p = o.if_contains("uint64Value")) {
    out = Value::Uint(p->is_string() ? std::stoull(Str(*p)) : p->to_number<uint64_t>());
  } else if (auto* p = o.if_contains("doubleValue")) {
    if (p->is_string()) {
      std::string s = Str(*p);
      out = Value::Double(s == "NaN" ? NAN : (s == "-Infinity" ? -INFINITY : INFINITY));
    } else {
      out = Value::Double(p->to_number<double>());
    }
  } else if (auto* p = o.if_contains("stringValue")) {
    out = Value::String(Str(*p));
  } else if (auto* p = o.if_contains("bytesValue")) {
    out = Value::Bytes(Base64Decode(Str(*p)));
  } else if (auto* p = o.if_contains("boolValue")) {
    out = Value::Bool(p->as_bool());
  } else if (o.contains("nullValue")) {
    out = Value::Null();
  } else if (auto* p = o.if_contains("listValue")) {
    ValueList items;
    if (auto* vals = p->as_object().if_contains("values")) {
      for (const auto& item : vals->as_array()) {
        Value v;
        if (!ConvertValue(item, v, skip)) return false;
        items.push_back(std::move(v));
      }
    }
    out = Value::List(std::move(items));
  } else if (auto* p = o.if_contains("mapValue")) {
    std::vector<MapValue::Entry> entries;
    if (auto* es = p->as_object().if_contains("entries")) {
      for (const auto& e : es->as_array()) {
        Value k, v;
        if (!ConvertValue(e.at("key"), k, skip) || !ConvertValue(e.at("value"), v, skip)) {
          return false;
        }
        entries.emplace_back(std::move(k), std::move(v));
      }
    }
    out = Value::Map(std::make_shared<const MapValue>(std::move(entries)));
  } else if (auto* p = o.if_contains("typeValue")) {
    static std::map<std::string, std::string> names;  // keeps type names alive
    std::string name = Str(*p);
    out = Value::Type(names.emplace(name, name).first->second);
  } else if (auto* p = o.if_contains("objectValue")) {
    std::string type = Str(p->at("@type"));
    if (type == "type.googleapis.com/google.protobuf.Timestamp") {
      int64_t s;
      int32_t n;
      if (!ParseTimestamp(Str(p->at("value")), s, n)) return false;
      out = Value::Timestamp(s, n);
    } else if (type == "type.googleapis.com/google.protobuf.Duration") {
      int64_t s;
      int32_t n;
      if (!ParseDuration(Str(p->at("value")), s, n)) return false;
      out = Value::Duration(s, n);
    } else {
      skip = "protobuf message value";
      return false;
    }
  } else if (o.contains("enumValue")) {
    skip = "enum value";
    return false;
  } else {
    skip = "unsupported value form";
    return false;
  }
  return true;
}

bool ConvertType(const bj::object& t, TypeKind& out, std::string& skip) {
  if (auto* p = t.if_contains("primitive")) {
    std::string s = Str(*p);
    static const std::map<std::string, TypeKind> kPrim = {
        {"BOOL", TypeKind::kBool},     {"INT64", TypeKind::kInt},     {"UINT64", TypeKind::kUint},
        {"DOUBLE", TypeKind::kDouble}, {"STRING", TypeKind::kString}, {"BYTES", TypeKind::kBytes}};
    auto it = kPrim.find(s);
    if (it == kPrim.end()) {
      skip = "primitive type " + s;
      return false;
    }
    out = it->second;
    return true;
  }
  if (t.contains("listType")) {
    out = TypeKind::kList;
    return true;
  }
  if (t.contains("mapType")) {
    out = TypeKind::kMap;
    return true;
  }
  if (t.contains("dyn")) {
    out = TypeKind::kDyn;
    return true;
  }
  if (t.contains("null")) {
    out = TypeKind::kNull;
    return true;
  }
  if (auto* p = t.if_contains("wellKnown")) {
    std::string s = Str(*p);
    if (s == "TIMESTAMP") {
      out = TypeKind::kTimestamp;
      return true;
    }
    if (s == "DURATION") {
      out = TypeKind::kDuration;
      return true;
    }
  }
  skip = "declared type needs protobuf/abstract types";
  return false;
}

struct SectionStats {
  int total = 0;
  int passed = 0;
  int failed = 0;
  std::map<std::string, int> skipped;
};

TEST(CelConformance, Sections) {
  const char* source_dir = std::getenv("PGCDC_SOURCE_DIR");
  ASSERT_NE(source_dir, nullptr) << "PGCDC_SOURCE_DIR is not set (run through ctest)";
  std::filesystem::path modules = std::filesystem::path(source_dir) / "tests/tools/node_modules";
  ASSERT_TRUE(std::filesystem::exists(modules / "@bufbuild/cel-spec"))
      << "missing " << (modules / "@bufbuild/cel-spec")
      << " — run `npm ci` in tests/tools (scripts/bootstrap)";
  std::string script = std::string(source_dir) + "/tests/cel/conformance_dump.js";
  std::string json = RunCommand("node '" + script + "' '" + modules.string() + "'");
  auto doc = json::ParseDom(json);
  ASSERT_TRUE(doc) << "conformance dump is not JSON: " << doc.error().message();

  const bool verbose = std::getenv("CEL_CONFORMANCE_VERBOSE") != nullptr;
  std::map<std::string, SectionStats> stats;
  for (const auto& section : doc->at("sections").as_array()) {
    std::string name = Str(section.at("name"));
    SectionStats& st = stats[name];
    for (const auto& tv : section.at("tests").as_array()) {
      const bj::object& t = tv.as_object();
      ++st.total;
      std::string skip;
      std::string expr = Str(t.at("expr"));
      if (t.contains("checkOnly")) skip = "type-check only";
      if (skip.empty() && t.contains("container")) skip = "container/protobuf messages";
      if (skip.empty() &&
          (expr.find("optional") != std::string::npos || expr.find(".?") != std::string::npos ||
           expr.find("[?") != std::string::npos)) {
        skip = "optional types";
      }
      if (skip.empty() && expr.find("cel.") != std::string::npos) skip = "cel.* extension";
      if (skip.empty() && expr.find("math.") != std::string::npos) skip = "math extension";
      if (skip.empty() && expr.find("proto.") != std::string::npos) skip = "proto extension";
      if (skip.empty() && expr.find("base64.") != std::string::npos) skip = "encoders extension";
      if (skip.empty() && name.find("_ext") != std::string::npos && name != "string_ext") {
        skip = "extension section";
      }

      Declarations decls;
      if (skip.empty()) {
        if (auto* env = t.if_contains("typeEnv")) {
          for (const auto& d : env->as_array()) {
            const bj::object& decl = d.as_object();
            if (!decl.contains("ident")) {
              skip = "custom function declaration";
              break;
            }
            TypeKind type;
            if (!ConvertType(decl.at("ident").at("type").as_object(), type, skip)) break;
            decls.Add(Str(decl.at("name")), type);
          }
        }
      }
      std::vector<std::pair<int, Value>> bound;
      if (skip.empty()) {
        if (auto* b = t.if_contains("bindings")) {
          for (const auto& [key, binding] : b->as_object()) {
            const bj::value* inner = binding.as_object().if_contains("value");
            if (inner == nullptr) {
              skip = "non-value binding";
              break;
            }
            Value v;
            if (!ConvertValue(*inner, v, skip)) break;
            int slot = decls.Slot(std::string(key));
            if (slot < 0) slot = decls.Add(std::string(key), TypeKind::kDyn);
            bound.emplace_back(slot, std::move(v));
          }
        }
      }
      Activation act(decls);
      for (auto& [slot, v] : bound) act.Bind(slot, v);
      // Expected outcome.
      bool expect_error = false;
      Value expected = Value::Bool(true);
      if (skip.empty()) {
        if (auto* v = t.if_contains("value")) {
          ConvertValue(*v, expected, skip);
        } else if (t.contains("evalError")) {
          expect_error = true;
        } else if (auto* tr = t.if_contains("typedResult")) {
          if (auto* r = tr->as_object().if_contains("result")) {
            ConvertValue(*r, expected, skip);
          } else {
            skip = "type-check only";
          }
        } else if (t.contains("anyEvalErrors") || t.contains("unknown") ||
                   t.contains("anyUnknowns")) {
          skip = "unknowns/any-of results";
        }
      }
      if (!skip.empty()) {
        ++st.skipped[skip];
        continue;
      }
      CompileOptions options;
      options.type_check = !t.contains("disableCheck");
      auto program = Program::Compile(expr, decls, options);
      bool ok;
      std::string got;
      if (!program && program.error().message().find("message construction is not supported") !=
                          std::string::npos) {
        ++st.skipped["protobuf message construction"];
        continue;
      }
      if (!program) {
        ok = expect_error;
        got = "compile error: " + program.error().message();
      } else {
        Value result = program->Evaluate(act);
        got = result.DebugString();
        ok = expect_error ? result.IsError() : StrictEqual(result, expected);
      }
      if (ok) {
        ++st.passed;
      } else {
        ++st.failed;
        if (verbose) {
          std::printf("FAIL %s\n  expr: %s\n  want: %s\n  got:  %s\n", Str(t.at("path")).c_str(),
                      expr.c_str(), expect_error ? "<error>" : expected.DebugString().c_str(),
                      got.c_str());
        }
      }
    }
  }

  std::printf("%-18s %6s %6s %6s %6s\n", "section", "total", "pass", "fail", "skip");
  int total_pass = 0, total = 0;
  for (const auto& [name, st] : stats) {
    int skipped = 0;
    for (const auto& [reason, count] : st.skipped) skipped += count;
    std::printf("%-18s %6d %6d %6d %6d", name.c_str(), st.total, st.passed, st.failed, skipped);
    for (const auto& [reason, count] : st.skipped) std::printf("  [%s: %d]", reason.c_str(), count);
    std::printf("\n");
    total_pass += st.passed;
    total += st.total;
    auto floor = kFloors.find(name);
    int want = floor == kFloors.end() ? 0 : floor->second;
    EXPECT_GE(st.passed, want) << "conformance regression in section " << name;
  }
  std::printf("%-18s %6d %6d\n", "all", total, total_pass);
}

}  // namespace
}  // namespace pgcdc::cel
