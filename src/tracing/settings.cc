// Tracing settings: the otel.* keys (flags, PGCDC_OTEL_* env, YAML) first,
// then the standard OTEL_* variables, then defaults.

#include <cerrno>
#include <cstdlib>

#include "config/config.h"
#include "net/http1_client.h"
#include "tracing/tracer.h"

namespace pgcdc::tracing {

namespace {

using config::Origin;

bool SetByConfig(const config::Config& cfg, std::string_view key) {
  const Origin o = cfg.origin(key);
  return o != Origin::kUnset && o != Origin::kDefault;
}

std::optional<std::string> Env(const Getenv& getenv, const std::string& name) {
  if (!getenv) return std::nullopt;
  auto v = getenv(name);
  if (!v || v->empty()) return std::nullopt;
  return v;
}

Result<double> ParseRatio(std::string_view text, std::string_view what) {
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !(v >= 0.0 && v <= 1.0)) {
    return Fail(ErrorCode::kConfig,
                std::string(what) + ": \"" + s + "\" is not a ratio between 0 and 1");
  }
  return v;
}

Result<int64_t> ParseMillis(std::string_view text, std::string_view what) {
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || v <= 0) {
    return Fail(ErrorCode::kConfig,
                std::string(what) + ": \"" + s + "\" is not a positive number of milliseconds");
  }
  return static_cast<int64_t>(v);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

bool ValidHeaderName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u >= 0x7F || c == ':' || c == '"' || c == '(' || c == ')' || c == ',') {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> ParseHeaderList(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(start, comma - start);
    start = comma + 1;
    if (Trim(item).empty()) continue;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Fail(ErrorCode::kConfig, "header \"" + std::string(item) + "\" is not name=value");
    }
    std::string name = Trim(item.substr(0, eq));
    const std::string raw = Trim(item.substr(eq + 1));
    std::string value;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && HexDigit(raw[i + 1]) >= 0 &&
          HexDigit(raw[i + 2]) >= 0) {
        value.push_back(static_cast<char>(HexDigit(raw[i + 1]) << 4 | HexDigit(raw[i + 2])));
        i += 2;
      } else {
        value.push_back(raw[i]);
      }
    }
    if (!ValidHeaderName(name)) {
      return Fail(ErrorCode::kConfig, "header name \"" + name + "\" is not valid");
    }
    for (char c : value) {
      if (c == '\r' || c == '\n' || c == '\0') {
        return Fail(ErrorCode::kConfig, "header \"" + name + "\" contains a line break");
      }
    }
    out.emplace_back(std::move(name), std::move(value));
    if (comma == text.size()) break;
  }
  return out;
}

std::string TracesUrl(std::string_view endpoint) {
  std::string url(endpoint);
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) url = "http://" + url;
  const size_t host_start = url.find("://") + 3;
  const size_t path = url.find('/', host_start);
  if (path == std::string::npos) return url + "/v1/traces";
  if (path == url.size() - 1) return url + "v1/traces";
  return url;
}

Result<Settings> SettingsFrom(const config::Config& cfg, const Getenv& getenv) {
  Settings s;
  if (SetByConfig(cfg, "otel.exporter")) {
    s.exporter = cfg.GetString("otel.exporter");
  } else if (auto env = Env(getenv, "OTEL_TRACES_EXPORTER")) {
    if (*env == "otlp" || *env == "none") {
      s.exporter = *env;
    } else if (*env == "console") {
      s.exporter = "stdout";
    } else {
      return Fail(ErrorCode::kConfig,
                  "OTEL_TRACES_EXPORTER: \"" + *env + "\" is not supported (otlp, console, none)");
    }
  }
  if (SetByConfig(cfg, "otel.protocol")) {
    s.protocol = cfg.GetString("otel.protocol");
  } else {
    for (const char* var : {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"}) {
      auto env = Env(getenv, var);
      if (!env) continue;
      if (*env != "grpc" && *env != "http/protobuf") {
        return Fail(ErrorCode::kConfig,
                    std::string(var) + ": \"" + *env + "\" is not supported (grpc, http/protobuf)");
      }
      s.protocol = *env;
      break;
    }
  }
  const bool grpc = s.protocol == "grpc";
  if (grpc) s.endpoint = "http://localhost:4317";
  if (SetByConfig(cfg, "otel.endpoint")) {
    s.endpoint = grpc ? cfg.GetString("otel.endpoint") : TracesUrl(cfg.GetString("otel.endpoint"));
  } else if (auto env = Env(getenv, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
    s.endpoint = *env;  // the signal-specific variable is used as is
  } else if (auto env2 = Env(getenv, "OTEL_EXPORTER_OTLP_ENDPOINT")) {
    std::string base = *env2;
    if (!base.empty() && base.back() == '/') base.pop_back();
    s.endpoint = grpc ? base : base + "/v1/traces";
  }
  if (grpc && s.endpoint.find("://") == std::string::npos) s.endpoint = "http://" + s.endpoint;
#ifndef PGCDC_HAVE_OTLP_GRPC
  if (grpc && s.exporter == "otlp") {
    return Fail(ErrorCode::kConfig,
                "otel.protocol: grpc is not in this build (built with PGCDC_WITH_OTLP_GRPC=OFF); "
                "use http/protobuf");
  }
#endif
  if (SetByConfig(cfg, "otel.headers")) {
    for (const std::string& h : cfg.GetList("otel.headers")) {
      auto parsed = ParseHeaderList(h);
      if (!parsed) return Fail(parsed.error().Wrap("otel.headers"));
      for (auto& kv : *parsed) s.headers.push_back(std::move(kv));
    }
  } else {
    for (const char* var : {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"}) {
      if (auto env = Env(getenv, var)) {
        auto parsed = ParseHeaderList(*env);
        if (!parsed) return Fail(parsed.error().Wrap(var));
        s.headers = std::move(*parsed);
        break;
      }
    }
  }
  if (SetByConfig(cfg, "otel.sample_ratio")) {
    auto r = ParseRatio(cfg.GetString("otel.sample_ratio"), "otel.sample_ratio");
    if (!r) return Fail(r.error());
    s.sample_ratio = *r;
  } else {
    const auto sampler = Env(getenv, "OTEL_TRACES_SAMPLER");
    if (sampler == "always_off" || sampler == "parentbased_always_off") {
      s.sample_ratio = 0;
    } else if (auto arg = Env(getenv, "OTEL_TRACES_SAMPLER_ARG");
               arg && (!sampler || sampler->find("traceidratio") != std::string::npos)) {
      auto r = ParseRatio(*arg, "OTEL_TRACES_SAMPLER_ARG");
      if (!r) return Fail(r.error());
      s.sample_ratio = *r;
    }
  }
  if (SetByConfig(cfg, "otel.service_name")) {
    s.service_name = cfg.GetString("otel.service_name");
  } else if (auto env = Env(getenv, "OTEL_SERVICE_NAME")) {
    s.service_name = *env;
  }
  auto int_setting = [&](const char* key, const char* var, size_t& out) -> Status {
    if (SetByConfig(cfg, key) || !Env(getenv, var)) {
      if (cfg.Has(key)) out = static_cast<size_t>(std::max<int64_t>(1, cfg.GetInt(key)));
      return Ok();
    }
    auto v = ParseMillis(*Env(getenv, var), var);
    if (!v) return Fail(v.error());
    out = static_cast<size_t>(*v);
    return Ok();
  };
  auto ms_setting = [&](const char* key, const char* var,
                        std::chrono::milliseconds& out) -> Status {
    if (SetByConfig(cfg, key) || !Env(getenv, var)) {
      if (cfg.Has(key)) {
        out = std::chrono::duration_cast<std::chrono::milliseconds>(cfg.GetDuration(key));
      }
      return Ok();
    }
    auto v = ParseMillis(*Env(getenv, var), var);
    if (!v) return Fail(v.error());
    out = std::chrono::milliseconds(*v);
    return Ok();
  };
  for (Status st :
       {int_setting("otel.queue_size", "OTEL_BSP_MAX_QUEUE_SIZE", s.queue_size),
        int_setting("otel.batch_size", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", s.batch_size),
        ms_setting("otel.export_interval", "OTEL_BSP_SCHEDULE_DELAY", s.export_interval),
        ms_setting("otel.export_timeout", "OTEL_EXPORTER_OTLP_TIMEOUT", s.export_timeout)}) {
    if (!st) return Fail(st.error());
  }
  if (s.exporter == "otlp") {
    if (auto url = net::ParseHttp1Url(s.endpoint); !url) {
      return Fail(ErrorCode::kConfig,
                  "otel.endpoint: \"" + s.endpoint + "\": " + url.error().message());
    }
  }
  return s;
}

std::vector<std::string> Validate(const config::Config& cfg) {
  std::vector<std::string> errors;
  auto s = SettingsFrom(cfg, [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  });
  if (!s) errors.push_back(s.error().message());
  return errors;
}

}  // namespace pgcdc::tracing
