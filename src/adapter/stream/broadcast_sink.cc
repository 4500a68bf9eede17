#include "adapter/stream/broadcast_sink.h"

#include <algorithm>
#include <map>

#include "core/log.h"
#include "net/broadcaster.h"
#include "net/http_server.h"
#include "registry/define.h"

namespace pgcdc::streamsink {

namespace {

net::HttpResponse JsonError(int status, const std::string& message) {
  // Messages are fixed texts chosen by us (no user input): no escaping needed.
  net::HttpResponse r;
  r.status = status;
  r.body = "{\"error\":\"" + message + "\"}";
  return r;
}

// CORS headers for an event-stream response: "*" allows any origin,
// otherwise the request's Origin is echoed when listed.
std::map<std::string, std::string> CorsHeaders(const std::vector<std::string>& origins,
                                               const net::HttpRequest& req) {
  std::map<std::string, std::string> headers;
  if (std::find(origins.begin(), origins.end(), "*") != origins.end()) {
    headers["Access-Control-Allow-Origin"] = "*";
  } else if (auto o = req.headers.find("origin");
             o != req.headers.end() &&
             std::find(origins.begin(), origins.end(), o->second) != origins.end()) {
    headers["Access-Control-Allow-Origin"] = o->second;
    headers["Vary"] = "Origin";
  }
  return headers;
}

// The answer to a CORS preflight (OPTIONS) for an event stream: the allow
// headers when the Origin is listed, none otherwise (the browser then refuses).
net::HttpResponse Preflight(const std::vector<std::string>& origins, const net::HttpRequest& req) {
  net::HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  r.headers = CorsHeaders(origins, req);
  if (!r.headers.empty()) {
    r.headers["Access-Control-Allow-Methods"] = "GET, OPTIONS";
    r.headers["Access-Control-Allow-Headers"] =
        "Authorization, Cache-Control, Content-Type, Last-Event-ID";
    r.headers["Access-Control-Max-Age"] = "600";
  }
  return r;
}

}  // namespace

struct BroadcastSink::Impl {
  Options options;
  std::shared_ptr<net::Broadcaster> broadcaster;
  std::unique_ptr<net::HttpServer> own_server;  // when `addr` is its own listener
  net::HttpServerOptions server_options;        // for own_server
  bool mounted = false;
  std::vector<net::BroadcastFrame> frames;  // Deliver() scratch

  bool OwnServer() const { return !options.addr.empty() && options.addr != options.http_addr; }

  void Mount(net::HttpServer& server) {
    const std::string prefix = options.path + "/";
    auto handler = [b = broadcaster, prefix, route = options.route, cors = options.cors_origins](
                       const net::HttpRequest& req) -> net::StreamDecision {
      const bool has_path =
          req.path.size() >= prefix.size() && req.path.compare(0, prefix.size(), prefix) == 0;
      const std::string path_channel =
          has_path ? net::DecodePathComponent(std::string_view(req.path).substr(prefix.size()))
                   : std::string();
      auto q = req.query.find("channel");
      auto filter = net::ParseChannelFilter(path_channel, has_path,
                                            q == req.query.end() ? nullptr : &q->second);
      if (!filter.ok) {
        return net::StreamDecision::Refuse(JsonError(400, "bad channel filter: " + filter.error));
      }
      if (b->closed()) return net::StreamDecision::Refuse(JsonError(503, "server shutting down"));
      if (route == Route::kWebSocket) {
        if (!net::WebSocketOriginAllowed(cors, req)) {
          return net::StreamDecision::Refuse(JsonError(403, "origin not allowed"));
        }
        return net::StreamDecision::Accept(b->Subscribe(std::move(filter.channels), {}));
      }
      std::string last_id;
      if (auto h = req.headers.find("last-event-id"); h != req.headers.end()) last_id = h->second;
      return net::StreamDecision::Accept(
          b->Subscribe(std::move(filter.channels), std::move(last_id), CorsHeaders(cors, req)));
    };
    if (options.route == Route::kWebSocket) {
      server.HandleWebSocket(options.path, handler);
      server.HandleWebSocket(prefix, handler, /*prefix=*/true);
    } else {
      server.HandleEventStream(options.path, handler);
      server.HandleEventStream(prefix, handler, /*prefix=*/true);
      auto preflight = [cors = options.cors_origins](const net::HttpRequest& req) {
        return Preflight(cors, req);
      };
      server.Handle("OPTIONS", options.path, preflight);
      server.HandlePrefix("OPTIONS", prefix, preflight);
    }
    mounted = true;
  }
};

BroadcastSink::BroadcastSink(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  net::Broadcaster::Options bo;
  bo.name = impl_->options.name;
  bo.client_queue = impl_->options.client_queue;
  bo.replay_capacity = impl_->options.replay_buffer;
  bo.keepalive = impl_->options.keepalive;
  impl_->broadcaster = std::make_shared<net::Broadcaster>(bo);
}

BroadcastSink::~BroadcastSink() { Close(); }

std::string_view BroadcastSink::Name() const { return impl_->options.name; }

Status BroadcastSink::Attach(const adapter::Services& services) {
  if (impl_->OwnServer()) {  // started in Open()
    if (services.http_options != nullptr) impl_->server_options = *services.http_options;
    return Ok();
  }
  if (services.http == nullptr) {
    const auto& o = impl_->options;
    return Fail(ErrorCode::kConfig, o.name + ": no HTTP server to serve " + o.path +
                                        " on: set --http-addr (the main server) or " + o.flag);
  }
  impl_->Mount(*services.http);
  return Ok();
}

Status BroadcastSink::Open() {
  const auto& o = impl_->options;
  if (impl_->OwnServer() && !impl_->own_server) {
    impl_->own_server = std::make_unique<net::HttpServer>(o.name, impl_->server_options);
    impl_->Mount(*impl_->own_server);
  }
  if (!impl_->mounted) {
    return Fail(ErrorCode::kConfig, o.name + ": not attached to an HTTP server (internal wiring)");
  }
  if (impl_->own_server) {
    auto addr = net::ParseListenAddress(o.addr);
    if (!addr) return Fail(addr.error().Wrap(o.name + " address"));
    auto bound = impl_->own_server->Start(*addr);
    if (!bound) return Fail(bound.error());
    log::Info("http server listening", {{"server", o.name}, {"addr", *bound}});
  }
  return Ok();
}

Status BroadcastSink::Deliver(std::span<const Event* const> events) {
  auto& frames = impl_->frames;
  frames.clear();
  for (const Event* e : events) {
    net::BroadcastFrame f;
    f.channel = e->channel;
    impl_->options.encode(*e, f);
    frames.push_back(std::move(f));
  }
  impl_->broadcaster->Publish(frames);
  frames.clear();
  return Ok();
}

std::optional<size_t> BroadcastSink::Subscribers() const { return impl_->broadcaster->clients(); }

void BroadcastSink::Close() {
  impl_->broadcaster->CloseAll();
  if (impl_->own_server) impl_->own_server->Stop();
}

namespace {

// "ws" + "ping_interval" -> "ws-ping-interval".
std::string FlagFor(const std::string& prefix, std::string key) {
  std::replace(key.begin(), key.end(), '_', '-');
  return prefix + "-" + key;
}

}  // namespace

ConnectorInfo DefineStreamConnector(StreamConnector spec) {
  const std::string sec = spec.section;
  const std::string addr_key = sec + ".addr";
  const std::string addr_flag = "--" + spec.flag_prefix + "-addr";
  std::vector<ParamSpec> params = {
      Param(addr_key, &Options::addr,
            "own listener for " + spec.path +
                " (HOST:PORT); empty = the main HTTP server "
                "(--http-addr)",
            {.flag = spec.flag_prefix + "-addr"}),
      Param(sec + "." + spec.keepalive_key, &Options::keepalive, spec.keepalive_description,
            {.flag = FlagFor(spec.flag_prefix, spec.keepalive_key), .min = 1}),
      Param(sec + ".client_queue", &Options::client_queue, spec.queue_description,
            {.flag = FlagFor(spec.flag_prefix, "client_queue"), .min = 1, .max = 10'000'000}),
  };
  params.insert(params.end(), spec.extra.begin(), spec.extra.end());
  const bool replay = std::any_of(spec.extra.begin(), spec.extra.end(), [&](const ParamSpec& p) {
    return p.key == sec + ".replay_buffer";
  });
  return DefineAdapter<Options>({
      .name = spec.name,
      .description = spec.description,
      .params = std::move(params),
      .validate =
          [name = spec.name, addr_key, addr_flag](const Options& o, const Context& ctx,
                                                  Errors& errors) {
            if (o.addr.empty() && ctx.core.http_addr.empty()) {
              errors.push_back(name + ": needs an HTTP server: set --http-addr (the main " +
                               "server) or " + addr_flag);
            } else if (!o.addr.empty()) {
              if (auto a = net::ParseListenAddress(o.addr); !a) {
                errors.push_back(addr_key + ": " + a.error().message());
              }
            }
          },
      .make = [spec, addr_flag, replay](Options o,
                                        const Context& ctx) -> Result<adapter::AdapterPtr> {
        o.name = spec.name;
        o.flag = addr_flag;
        o.path = spec.path;
        o.route = spec.route;
        o.encode = spec.encode;
        o.http_addr = ctx.core.http_addr;
        if (!replay) o.replay_buffer = 0;
        return std::make_unique<BroadcastSink>(std::move(o));
      },
  });
}

}  // namespace pgcdc::streamsink
