#include "serve/api.h"

#include <boost/json/value.hpp>
#include <list>
#include <thread>

#include "console/console.h"
#include "core/json.h"
#include "core/json_dom.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "net/http_server.h"
#include "pipeline/http_endpoints.h"
#include "serve/manager.h"
#include "serve/page.h"

namespace pgcdc::serve {

namespace {

constexpr std::string_view kBase = "/api/v1/pipelines";

struct Series {
  metrics::Family<metrics::Counter>& requests = metrics::Default().AddCounter(
      "pgcdc_serve_api_requests_total", "Requests to the `pgcdc serve` REST API by outcome.",
      {"method", "code"});
};

net::HttpResponse Json(int status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

net::HttpResponse ErrorResponse(const OpError& e) {
  std::string body = "{\"error\":";
  json::AppendString(body, e.message);
  if (!e.errors.empty()) {
    body += ",\"errors\":[";
    for (size_t i = 0; i < e.errors.size(); ++i) {
      if (i) body += ",";
      json::AppendString(body, e.errors[i]);
    }
    body += "]";
  }
  body += "}";
  return Json(e.http_status, std::move(body));
}

net::HttpResponse Done(const OpResult<PipelineInfo>& r, std::string_view status, int code = 200) {
  if (!r) return ErrorResponse(r.error());
  std::string body = "{\"status\":";
  json::AppendString(body, status);
  body += ",\"pipeline\":";
  json::AppendString(body, r->name);
  body += ",\"info\":" + InfoJson(*r) + "}";
  return Json(code, std::move(body));
}

bool QueryFlag(const net::HttpRequest& req, const std::string& key) {
  auto it = req.query.find(key);
  return it != req.query.end() && (it->second == "true" || it->second == "1" || it->second.empty());
}

// The request body as a pipeline entry: JSON, or YAML when the content type
// says so. `name` from the URL fills a missing name (PUT).
OpResult<PipelineSpec> BodySpec(const net::HttpRequest& req, const std::string& url_name) {
  auto ct = req.headers.find("content-type");
  const bool yaml = ct != req.headers.end() && ct->second.find("yaml") != std::string::npos;
  Result<boost::json::value> doc = yaml ? YamlToJson(req.body, "body") : json::ParseDom(req.body);
  if (!doc) return std::unexpected(OpError{400, "invalid body: " + doc.error().message(), {}});
  if (!url_name.empty() && doc->is_object() && !doc->as_object().contains("name")) {
    doc->as_object()["name"] = url_name;
  }
  auto spec = ParseSpec(*doc, "body");
  if (!spec) return std::unexpected(OpError{400, spec.error().message(), {}});
  return std::move(*spec);
}

// "/api/v1/pipelines/NAME[/ACTION]" -> {NAME, ACTION}; nullopt when the path
// is something else.
std::optional<std::pair<std::string, std::string>> SplitPath(const std::string& path) {
  if (path.size() <= kBase.size() + 1 || path.compare(0, kBase.size(), kBase) != 0 ||
      path[kBase.size()] != '/') {
    return std::nullopt;
  }
  std::string rest = path.substr(kBase.size() + 1);
  std::string action;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    action = rest.substr(slash + 1);
    rest.resize(slash);
  }
  if (rest.empty() || action.find('/') != std::string::npos) return std::nullopt;
  return std::pair{rest, action};
}

net::HttpResponse NotFound() { return Json(404, R"({"error":"not found"})"); }

// A page on another site must not drive the API through the operator's
// browser (a pipeline with an exec sink runs commands): changes come only
// from non-browser clients (no Origin) or from the API's own origin, and a
// body only with a JSON or YAML content type, which a cross-site form cannot
// send without a CORS preflight (never granted).
std::optional<net::HttpResponse> RefuseCrossSite(const net::HttpRequest& req) {
  if (!net::WebSocketOriginAllowed({}, req)) {
    return Json(403, R"({"error":"cross-origin requests may not change pipelines"})");
  }
  if (req.body.empty()) return std::nullopt;
  auto ct = req.headers.find("content-type");
  const std::string type = ct == req.headers.end() ? "" : ct->second;
  if (type.find("json") == std::string::npos && type.find("yaml") == std::string::npos) {
    return Json(415, R"({"error":"send the body as application/json or application/yaml"})");
  }
  return std::nullopt;
}

}  // namespace

struct Api::Impl {
  explicit Impl(Manager& m) : manager(m) {}
  ~Impl() {
    std::list<std::thread> all;
    {
      MutexLock lock(mu);
      all.swap(threads);
    }
    for (auto& t : all) t.join();
  }

  // Runs `work` on its own thread and replies with its response.
  void Defer(net::HttpReply reply, std::function<net::HttpResponse()> work) {
    MutexLock lock(mu);
    Reap();
    if (in_flight >= kMaxInFlight) {
      reply(Json(503, R"({"error":"too many lifecycle calls in flight; retry"})"));
      return;
    }
    ++in_flight;
    threads.emplace_back([this, reply = std::move(reply), work = std::move(work)] {
      net::HttpResponse r = work();
      reply(std::move(r));
      MutexLock l(mu);
      --in_flight;
      done.push_back(std::this_thread::get_id());
    });
  }

  void Reap() REQUIRES(mu) {
    for (auto it = threads.begin(); it != threads.end();) {
      auto d = std::find(done.begin(), done.end(), it->get_id());
      if (d == done.end()) {
        ++it;
        continue;
      }
      done.erase(d);
      it->join();
      it = threads.erase(it);
    }
  }

  net::HttpResponse Get(const net::HttpRequest& req) {
    if (req.path == kBase || req.path == std::string(kBase) + "/") {
      auto list = manager.List();
      std::string body = "{\"pipelines\":[";
      for (size_t i = 0; i < list.size(); ++i) body += (i ? "," : "") + InfoJson(list[i]);
      body += "],\"count\":" + std::to_string(list.size()) + "}";
      return Json(200, std::move(body));
    }
    auto parts = SplitPath(req.path);
    if (!parts || !parts->second.empty()) return NotFound();
    auto info = manager.Get(parts->first);
    if (!info) return ErrorResponse(info.error());
    return Json(200, InfoJson(*info));
  }

  net::HttpResponse Post(const net::HttpRequest& req) {
    if (req.path == kBase) {
      auto spec = BodySpec(req, "");
      if (!spec) return ErrorResponse(spec.error());
      const bool dry = QueryFlag(req, "dry_run");
      auto r = manager.Create(std::move(*spec), QueryFlag(req, "start"), dry);
      return dry ? Done(r, "valid") : Done(r, "created", 201);
    }
    auto parts = SplitPath(req.path);
    if (!parts) return NotFound();
    const auto& [name, action] = *parts;
    if (action == "start") return Done(manager.Start(name), "started");
    if (action == "stop") return Done(manager.Stop(name), "stopped");
    if (action == "pause") return Done(manager.Pause(name), "paused");
    if (action == "resume") return Done(manager.Resume(name), "resumed");
    return NotFound();
  }

  net::HttpResponse Put(const net::HttpRequest& req) {
    auto parts = SplitPath(req.path);
    if (!parts || !parts->second.empty()) return NotFound();
    auto spec = BodySpec(req, parts->first);
    if (!spec) return ErrorResponse(spec.error());
    const bool dry = QueryFlag(req, "dry_run");
    return Done(manager.Replace(parts->first, std::move(*spec), dry), dry ? "valid" : "replaced");
  }

  net::HttpResponse Delete(const net::HttpRequest& req) {
    auto parts = SplitPath(req.path);
    if (!parts || !parts->second.empty()) return NotFound();
    return Done(manager.Remove(parts->first), "removed");
  }

  Manager& manager;
  Mutex mu;
  std::list<std::thread> threads GUARDED_BY(mu);
  std::vector<std::thread::id> done GUARDED_BY(mu);
  size_t in_flight GUARDED_BY(mu) = 0;
};

Api::Api(Manager& manager) : impl_(std::make_unique<Impl>(manager)) {}
Api::~Api() = default;

void Api::Mount(net::HttpServer& server) {
  Impl* impl = impl_.get();
  auto counted = [](const std::string& method, net::HttpResponse r) {
    metrics::Lazy<Series>().requests.With({method, std::to_string(r.status)}).Inc();
    return r;
  };
  server.HandlePrefix("GET", std::string(kBase), [impl, counted](const net::HttpRequest& req) {
    return counted("GET", impl->Get(req));
  });
  using Fn = net::HttpResponse (Impl::*)(const net::HttpRequest&);
  for (auto [method, fn] : {std::pair<const char*, Fn>{"POST", &Impl::Post},
                            {"PUT", &Impl::Put},
                            {"DELETE", &Impl::Delete}}) {
    const std::string m = method;
    server.HandlePrefixAsync(m, std::string(kBase),
                             [impl, fn, m, counted](net::HttpRequest&& req, net::HttpReply reply) {
                               if (auto refused = RefuseCrossSite(req)) {
                                 return reply(counted(m, std::move(*refused)));
                               }
                               auto shared = std::make_shared<net::HttpRequest>(std::move(req));
                               impl->Defer(std::move(reply), [impl, fn, m, counted, shared] {
                                 return counted(m, (impl->*fn)(*shared));
                               });
                             });
  }
  console::MountPage(server, Page());
  Manager* manager = &impl->manager;
  server.Handle("GET", "/healthz",
                [manager](const net::HttpRequest&) { return Json(200, manager->HealthJson()); },
                {.public_route = true});
  server.Handle("GET", "/readyz",
                [manager](const net::HttpRequest&) {
                  const bool ok = manager->Ready();
                  return Json(ok ? 200 : 503, ok ? R"({"ready":true})" : R"({"ready":false})");
                },
                {.public_route = true});
  pipeline::MountMetrics(server);
  pipeline::MountDebug(server);
}

}  // namespace pgcdc::serve
