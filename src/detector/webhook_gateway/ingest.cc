#include "detector/webhook_gateway/ingest.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include "core/json.h"

namespace pgcdc::detector::webhook_gateway {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// A source name or path channel: one non-empty path segment of safe
// characters (letters, digits, '-', '_', '.').
bool ValidName(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// `key=value` items (after the name) into the source.
Status ApplyOption(Source& source, std::string_view item) {
  const size_t eq = item.find('=');
  if (eq == std::string_view::npos) {
    return Fail(ErrorCode::kConfig, "webhook_gateway source " + source.name + ": option \"" +
                                        std::string(item) + "\" is not key=value");
  }
  const std::string_view key = item.substr(0, eq);
  std::string value(item.substr(eq + 1));
  if (key == "secret" || key == "secret2") {
    if (value.empty()) {
      return Fail(ErrorCode::kConfig,
                  "webhook_gateway source " + source.name + ": empty " + std::string(key));
    }
    auto& secrets = source.verify.secrets;
    const size_t slot = key == "secret" ? 0 : 1;
    if (secrets.size() <= slot) secrets.resize(slot + 1);
    secrets[slot] = std::move(value);
  } else if (key == "header") {
    source.verify.header = Lower(value);
  } else if (key == "prefix") {
    source.prefix = std::move(value);
  } else if (key == "scheme") {
    auto scheme = ParseScheme(value);
    if (!scheme) {
      return Fail(ErrorCode::kConfig, "webhook_gateway source " + source.name +
                                          ": unknown scheme \"" + value +
                                          "\" (stripe, github, slack, shopify, generic, auto)");
    }
    source.verify.scheme = *scheme;
  } else {
    return Fail(ErrorCode::kConfig, "webhook_gateway source " + source.name +
                                        ": unknown option \"" + std::string(key) +
                                        "\" (secret, secret2, header, prefix, scheme)");
  }
  return Ok();
}

// Items after flag/env comma splitting, joined back into one string per
// source: an item whose first ':' or '=' is '=' continues the one before.
std::vector<std::string> JoinItems(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    const size_t sep = item.find_first_of(":=");
    if (!out.empty() && sep != std::string::npos && item[sep] == '=') {
      out.back() += (out.back().find(':') == std::string::npos ? ":" : ",") + item;
    } else {
      out.push_back(item);
    }
  }
  return out;
}

Result<Source> ParseOne(std::string_view text) {
  Source source;
  const size_t colon = text.find(':');
  source.name = std::string(text.substr(0, colon));
  if (!ValidName(source.name)) {
    return Fail(ErrorCode::kConfig,
                "webhook_gateway source \"" + std::string(text) +
                    "\": the name must be letters, digits, '-', '_' or '.' (name[:key=value,...])");
  }
  std::string_view rest =
      colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (item.empty()) continue;
    if (auto st = ApplyOption(source, item); !st) return Fail(st.error());
  }
  if (source.verify.secrets.size() == 2 && source.verify.secrets[0].empty()) {
    return Fail(ErrorCode::kConfig,
                "webhook_gateway source " + source.name + ": secret2 needs secret");
  }
  return source;
}

}  // namespace

Result<std::vector<Source>> ParseCliSources(const std::vector<std::string>& items) {
  std::vector<Source> out;
  std::set<std::string> names;
  for (const auto& text : JoinItems(items)) {
    auto source = ParseOne(text);
    if (!source) return Fail(source.error());
    if (!names.insert(source->name).second) {
      return Fail(ErrorCode::kConfig, "webhook_gateway source " + source->name + " declared twice");
    }
    out.push_back(std::move(*source));
  }
  return out;
}

Status ParseYamlSources(const std::string& yaml, std::vector<Source>& out) {
  // YAML key -> the --webhookgw-source option it sets.
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> kKeys = {{
      {"secret", "secret"},
      {"secondary_secret", "secret2"},
      {"signature_header", "header"},
      {"channel_prefix", "prefix"},
      {"scheme", "scheme"},
  }};
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return Fail(ErrorCode::kConfig, std::string("webhook_gateway.sources: ") + e.what());
  }
  if (root.IsNull()) return Ok();
  if (!root.IsMap()) {
    return Fail(ErrorCode::kConfig, "webhook_gateway.sources: must be a map of source names");
  }
  std::set<std::string> names;
  for (const auto& s : out) names.insert(s.name);
  for (const auto& entry : root) {
    const auto name = entry.first.as<std::string>();
    if (name.find(':') != std::string::npos) {
      return Fail(ErrorCode::kConfig,
                  "webhook_gateway.sources: invalid source name \"" + name + "\"");
    }
    auto source = ParseOne(name);
    if (!source) return Fail(source.error());
    if (!entry.second.IsNull() && !entry.second.IsMap()) {
      return Fail(ErrorCode::kConfig,
                  "webhook_gateway.sources." + source->name + ": must be a map");
    }
    for (const auto& kv : entry.second) {
      const auto key = kv.first.as<std::string>();
      auto it =
          std::find_if(kKeys.begin(), kKeys.end(), [&](const auto& k) { return k.first == key; });
      if (it == kKeys.end() || !kv.second.IsScalar()) {
        return Fail(ErrorCode::kConfig, "webhook_gateway.sources." + source->name + "." + key +
                                            ": unknown or not a value (secret, secondary_secret, "
                                            "signature_header, channel_prefix, scheme)");
      }
      const std::string value = kv.second.as<std::string>();
      if (value.empty() && it->second != "secret" && it->second != "secret2") continue;
      if (auto st = ApplyOption(*source, std::string(it->second) + "=" + value); !st) return st;
    }
    if (!names.insert(source->name).second) {
      return Fail(ErrorCode::kConfig, "webhook_gateway source " + source->name + " declared twice");
    }
    out.push_back(std::move(*source));
  }
  return Ok();
}

std::optional<IngestPath> ParseIngestPath(std::string_view path) {
  constexpr std::string_view kPrefix = "/ingest/";
  if (!path.starts_with(kPrefix)) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  IngestPath out;
  const size_t slash = path.find('/');
  out.source = std::string(path.substr(0, slash));
  if (out.source.empty()) return std::nullopt;
  if (slash != std::string_view::npos) {
    out.channel = std::string(path.substr(slash + 1));
    if (!ValidName(out.channel)) return std::nullopt;
  }
  return out;
}

Body ParseBody(std::string_view body, bool want_id) {
  Body out;
  auto info = json::Compact(body, out.payload, {.find_key = "type"});
  if (!info) {
    out.raw = true;
    out.payload.clear();
    out.payload.reserve(body.size() + 16);
    out.payload += "{\"raw\":";
    json::AppendString(out.payload, body);
    out.payload += '}';
    return out;
  }
  if (info->found_string && !info->found_string->empty()) out.type = std::move(info->found_string);
  if (want_id && info->kind == json::Kind::kObject) {
    std::string scratch;
    auto id = json::Compact(out.payload, scratch, {.find_key = "id"});
    if (id && id->found_string && !id->found_string->empty()) out.id = std::move(id->found_string);
  }
  return out;
}

std::string ChannelFor(const Source& source, std::string_view path_channel,
                       const std::optional<std::string>& type) {
  std::string channel = source.prefix.empty() ? "pgcdc:" + source.name : source.prefix;
  if (!path_channel.empty()) {
    channel.append(".").append(path_channel);
  } else if (type) {
    channel += '.';
    for (char c : *type) channel += c == ' ' ? '_' : c;
  }
  return channel;
}

std::string IdempotencyKey(const Source& source, Scheme scheme,
                           const std::map<std::string, std::string>& headers,
                           const std::optional<std::string>& body_id) {
  auto header = [&](const char* name) -> std::string {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  };
  std::string key = header("idempotency-key");
  if (key.empty() && scheme == Scheme::kStripe && body_id) key = "stripe:" + *body_id;
  if (key.empty()) key = header("x-github-delivery");
  if (key.empty()) key = header("x-shopify-webhook-id");
  if (key.empty() || key.size() > 512) return {};
  return source.name + "\n" + key;
}

}  // namespace pgcdc::detector::webhook_gateway
