#include "transform/wasm_transform.h"

#include <cstdlib>

#include "core/json.h"
#include "core/json_dom.h"
#include "registry/define.h"
#include "transform/payload.h"
#include "wasm/plugin.h"
#include "wasm/settings.h"

namespace pgcdc::transform {

namespace {

// True when `json` has whitespace outside strings.
bool HasWhitespace(std::string_view json) {
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      return true;
    }
  }
  return false;
}

// JSON text without whitespace outside strings (Event::payload is compact);
// numbers keep their exact text.
std::string Compact(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json.size()) {
        out += json[++i];
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
      out += c;
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      out += c;
    }
  }
  return out;
}

class WasmTransform final : public Transform {
 public:
  explicit WasmTransform(std::shared_ptr<wasm::Plugin> plugin) : plugin_(std::move(plugin)) {}
  std::string_view Type() const override { return "wasm"; }

  Result<Verdict> ApplyTo(PayloadContext& ctx) override {
    const Event& ev = ctx.event();
    // The envelope with the chain's current payload. While no transform
    // before this one changed the payload it is the event's own JSON, which
    // the sink encodes anyway (Event caches it): no second encoding.
    std::string built;
    std::string_view input;
    if (!ctx.changed()) {
      input = ev.Json();
    } else {
      Event view;
      view.id = ev.id;
      view.channel = ev.channel;
      view.operation = ev.operation;
      view.payload = std::string(ctx.PayloadText());
      view.source = ev.source;
      view.created_at_ns = ev.created_at_ns;
      view.transaction = ev.transaction;
      AppendEventJson(view, built);
      input = built;
    }
    auto out = plugin_->Call("transform", input);
    if (!out) return Fail(out.error());
    if (out->empty()) return Verdict::kDrop;
    if (*out == input) return Verdict::kKeep;  // unchanged: nothing to parse
    if (auto st = ApplyOutput(ctx, *out); !st) return Fail(st.error());
    return Verdict::kKeep;
  }

 private:
  Status ApplyOutput(PayloadContext& ctx, std::string_view output) {
    const std::string where = "plugin " + plugin_->options().name + ": ";
    Arena arena;
    auto root = JsonObject::Parse(output, arena);
    if (!root) return Fail(ErrorCode::kParse, where + "output is not a JSON event object");
    const JsonObject::Member* payload = (*root)->Find("payload");
    if (payload == nullptr) return Fail(ErrorCode::kParse, where + "output has no payload");
    Event& ev = ctx.event();
    for (auto [key, field] : {std::pair{"channel", &ev.channel}, {"operation", &ev.operation}}) {
      const JsonObject::Member* m = (*root)->Find(key);
      if (m == nullptr) continue;
      if (m->raw.empty() || m->raw.front() != '"') {
        return Fail(ErrorCode::kParse, where + "output " + key + " is not a string");
      }
      std::string value = StringifyJson(m->raw);
      if (value != *field) {
        *field = std::move(value);
        ev.InvalidateJson();
      }
    }
    if (payload->raw == ctx.PayloadText()) return {};  // unchanged (the common case)
    std::string compact =
        HasWhitespace(payload->raw) ? Compact(payload->raw) : std::string(payload->raw);
    if (compact != ctx.PayloadText()) {
      ctx.ReplacePayload(std::move(compact));
      ev.schema.reset();  // the row may no longer match the relation's columns
    }
    return {};
  }

  std::shared_ptr<wasm::Plugin> plugin_;
};

}  // namespace

const std::vector<ParamSpec>& PluginParams() { return wasm::Params(); }

TransformPtr MakeWasmTransform(std::shared_ptr<wasm::Plugin> plugin) {
  return std::make_shared<WasmTransform>(std::move(plugin));
}

void AddPluginTransforms(const config::Config& cfg, const std::vector<std::string>& adapters,
                         std::vector<TransformPtr>& global,
                         std::map<std::string, std::vector<TransformPtr>>& per_adapter,
                         std::vector<std::string>& errors) {
  const wasm::Settings settings = wasm::Bind(cfg);
  const size_t errors_before = errors.size();
  wasm::Validate(settings, errors);
  if (errors.size() != errors_before) return;
  auto entries = wasm::TransformEntries(settings);
  if (!entries) {
    errors.push_back(entries.error().message());
    return;
  }
  std::vector<std::string> known = adapters;  // adapter plugins may be scoped to as well
  if (auto sinks = wasm::AdapterEntries(settings)) {
    for (const auto& a : *sinks) known.push_back(a.name);
  }
  for (auto& e : *entries) {
    if (!e.adapter.empty() && std::find(known.begin(), known.end(), e.adapter) == known.end()) {
      errors.push_back("plugin " + e.name + ": scope adapter " + e.adapter + " is not configured");
      continue;
    }
    auto plugin = wasm::Plugin::Load(e.path, wasm::OptionsFor(settings, e, "transform"));
    if (!plugin) {
      errors.push_back("plugin " + e.name + ": " + plugin.error().message());
      continue;
    }
    if (!(*plugin)->HasFunction("transform")) {
      errors.push_back("plugin " + e.name + " (" + e.path + "): no `transform` export");
      continue;
    }
    auto t = MakeWasmTransform(std::shared_ptr<wasm::Plugin>(std::move(*plugin)));
    (e.adapter.empty() ? global : per_adapter[e.adapter]).push_back(std::move(t));
  }
}

}  // namespace pgcdc::transform
