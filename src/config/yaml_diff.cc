#include "config/yaml_diff.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace pgcdc::config {

namespace {

void Flatten(const YAML::Node& node, const std::string& path, FlatYaml& out) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      if (node.size() == 0) out[path] = "{}";
      for (const auto& kv : node) {
        const std::string key = kv.first.as<std::string>();
        Flatten(kv.second, path.empty() ? key : path + "." + key, out);
      }
      break;
    case YAML::NodeType::Sequence: {
      bool scalars = true;
      for (const auto& item : node) scalars = scalars && item.IsScalar();
      if (node.size() == 0) {
        out[path] = "[]";
      } else if (scalars) {
        std::string joined;
        for (const auto& item : node) {
          joined += (joined.empty() ? "" : ",") + item.Scalar();
        }
        out[path] = joined;
      } else {
        for (size_t i = 0; i < node.size(); ++i) {
          Flatten(node[i], path + "[" + std::to_string(i) + "]", out);
        }
      }
      break;
    }
    case YAML::NodeType::Scalar:
      out[path] = node.Scalar();
      break;
    case YAML::NodeType::Null:
      out[path] = "null";
      break;
    case YAML::NodeType::Undefined:
      break;
  }
}

}  // namespace

Result<FlatYaml> FlattenYaml(std::string_view text) {
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    FlatYaml out;
    if (root.IsNull()) return out;  // an empty file has no settings
    if (!root.IsMap()) return Fail(ErrorCode::kConfig, "the document is not a YAML mapping");
    Flatten(root, "", out);
    return out;
  } catch (const YAML::Exception& e) {
    return Fail(ErrorCode::kConfig, "line " + std::to_string(e.mark.line + 1) + ", column " +
                                        std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

Result<FlatYaml> FlattenYamlFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Fail(ErrorCode::kConfig, "cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto flat = FlattenYaml(text.str());
  if (!flat) return Fail(flat.error().Wrap(path));
  return flat;
}

std::vector<std::string> DiffYaml(const FlatYaml& before, const FlatYaml& after) {
  std::vector<std::string> lines;
  auto b = before.begin();
  auto a = after.begin();
  while (b != before.end() || a != after.end()) {
    if (a == after.end() || (b != before.end() && b->first < a->first)) {
      lines.push_back("- " + b->first + ": " + b->second);
      ++b;
    } else if (b == before.end() || a->first < b->first) {
      lines.push_back("+ " + a->first + ": " + a->second);
      ++a;
    } else {
      if (b->second != a->second) {
        lines.push_back("  " + b->first + ": " + b->second + " -> " + a->second);
      }
      ++b;
      ++a;
    }
  }
  return lines;
}

}  // namespace pgcdc::config
