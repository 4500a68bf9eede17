#include "registry/registry.h"

#include <algorithm>
#include <cctype>

#include "core/enum_names.h"

namespace pgcdc {

constexpr EnumNames<ParamType, ParamType::kTree> kParamTypeNames(
    {"string", "int", "bool", "duration", "list", "routes", "yaml"}, "string");

std::string_view ParamTypeName(ParamType type) { return kParamTypeNames(type); }

std::string FlagName(const ParamSpec& spec) {
  std::string f = spec.flag;
  if (f.empty()) {
    f = spec.key;
    std::replace(f.begin(), f.end(), '.', '-');
    std::replace(f.begin(), f.end(), '_', '-');
  }
  return "--" + f;
}

std::string EnvName(const ParamSpec& spec) {
  std::string e = "PGCDC_";
  for (char c : spec.key) {
    e.push_back(c == '.' || c == '-'
                    ? '_'
                    : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return e;
}

constexpr EnumNames<ConnectorKind, ConnectorKind::kTransform> kConnectorKindNames(
    {"detector", "adapter", "transform"}, "adapter");

std::string_view ConnectorKindName(ConnectorKind kind) { return kConnectorKindNames(kind); }

constexpr EnumNames<CheckResult::Level, CheckResult::Level::kFail> kCheckLevelNames({"ok", "warn",
                                                                                     "fail"},
                                                                                    "fail");

std::string_view CheckLevelName(CheckResult::Level level) { return kCheckLevelNames(level); }

CheckResult Verdict(bool ok, CheckResult::Level otherwise, std::string name, std::string detail,
                    std::string hint) {
  return {.level = ok ? CheckResult::Level::kOk : otherwise,
          .name = std::move(name),
          .detail = std::move(detail),
          .hint = ok ? std::string() : std::move(hint)};
}

CheckList FailedCheck(std::string name, std::string detail, std::string hint) {
  return {{.level = CheckResult::Level::kFail,
           .name = std::move(name),
           .detail = std::move(detail),
           .hint = std::move(hint)}};
}

Status Registry::Add(ConnectorInfo info) {
  if (Find(info.kind, info.name) != nullptr) {
    return Fail(ErrorCode::kConfig, "registry: duplicate " +
                                        std::string(ConnectorKindName(info.kind)) + " \"" +
                                        info.name + "\"");
  }
  for (const auto& p : info.params) {
    for (const auto& other : connectors_) {
      for (const auto& q : other.params) {
        if (q.key != p.key) continue;
        if (q.type != p.type || q.default_value != p.default_value || FlagName(q) != FlagName(p)) {
          return Fail(ErrorCode::kConfig, "registry: key \"" + p.key + "\" of " + info.name +
                                              " differs from its declaration in " + other.name +
                                              " (type, default or flag)");
        }
      }
    }
  }
  connectors_.push_back(std::move(info));
  return Ok();
}

const ConnectorInfo* Registry::Find(ConnectorKind kind, std::string_view name) const {
  for (const auto& c : connectors_) {
    if (c.kind == kind && c.name == name) return &c;
  }
  return nullptr;
}

const ConnectorInfo* Registry::FindAny(std::string_view name) const {
  for (const auto& c : connectors_) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::vector<const ConnectorInfo*> Registry::List(ConnectorKind kind) const {
  std::vector<const ConnectorInfo*> out;
  for (const auto& c : connectors_) {
    if (c.kind == kind) out.push_back(&c);
  }
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name < b->name; });
  return out;
}

}  // namespace pgcdc
