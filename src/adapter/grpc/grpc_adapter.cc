#include "adapter/grpc/grpc_adapter.h"

#include <vector>

#include "adapter/grpc/hub.h"
#include "adapter/grpc/stream_server.h"
#include "registry/define.h"
#include "rpc/server.h"

namespace pgcdc::adapter::grpc {

namespace {

class GrpcAdapter final : public Adapter {
 public:
  explicit GrpcAdapter(Options options)
      : options_(std::move(options)),
        hub_(std::make_shared<Hub>(Hub::Options{.client_queue = options_.client_queue,
                                                .replay_capacity = options_.replay_buffer,
                                                .max_clients = options_.max_clients,
                                                .slow_timeout = options_.slow_client_timeout})) {}
  ~GrpcAdapter() override { Close(); }

  std::string_view Name() const override { return "grpc"; }

  Status Open() override {
    auto server = StreamServer::Start({.addr = options_.addr,
                                       .tls_cert_file = options_.tls_cert_file,
                                       .tls_key_file = options_.tls_key_file,
                                       .token = options_.token,
                                       .client_queue = options_.client_queue},
                                      hub_);
    if (!server) return Fail(server.error());
    server_ = std::move(*server);
    return Ok();
  }

  Status Deliver(std::span<const Event* const> events) override {
    if (options_.wait_for_client && !hub_->WaitForClient()) {
      return Fail(ErrorCode::kCancelled, "grpc: stopped before a first client subscribed");
    }
    items_.clear();
    items_.reserve(events.size());
    for (const Event* e : events) {
      items_.push_back({.id = e->id.ToString(), .channel = e->channel, .bytes = EncodeEvent(*e)});
    }
    hub_->Publish(items_);
    items_.clear();
    return Ok();
  }

  std::optional<size_t> Subscribers() const override { return hub_->clients(); }

  // Shutdown gave up waiting: end every stream (wakes a Deliver waiting for
  // a slow client).
  void Interrupt() override { hub_->CloseAll(); }

  void Close() override {
    if (server_) server_->Stop(options_.shutdown_grace);
    server_.reset();
    hub_->CloseAll();
  }

 private:
  Options options_;
  std::shared_ptr<Hub> hub_;
  std::unique_ptr<StreamServer> server_;
  std::vector<Item> items_;  // Deliver() scratch
};

void Validate(const Options& o, Errors& errors) {
  rpc::ValidateServerOptions(
      "grpc", {.addr = o.addr, .tls_cert_file = o.tls_cert_file, .tls_key_file = o.tls_key_file},
      errors);
}

}  // namespace

AdapterPtr MakeGrpcAdapter(Options options) {
  return std::make_unique<GrpcAdapter>(std::move(options));
}

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "grpc",
      .description = "gRPC server streaming pgcdc.EventStream/Subscribe with channel filters, "
                     "resume_from replay, TLS and a bearer token; slow clients are ended with "
                     "RESOURCE_EXHAUSTED.",
      .params = Params({
          {Param("grpc.addr", &O::addr,
                 "listen address HOST:PORT (empty host = all interfaces; the default binds "
                 "localhost only)"),
           Param("grpc.client_queue", &O::client_queue,
                 "events queued per client (memory bound: clients x queue x event size)",
                 {.min = 1, .max = 10'000'000}),
           Param("grpc.slow_client_timeout", &O::slow_client_timeout,
                 "how long the sink waits for a client whose queue is full before ending it with "
                 "RESOURCE_EXHAUSTED (0 = at once, never wait)",
                 {.min = 0}),
           Param("grpc.replay_buffer", &O::replay_buffer,
                 "recent events kept for SubscribeRequest.resume_from (0 = off)",
                 {.min = 0, .max = 10'000'000}),
           Param("grpc.max_clients", &O::max_clients,
                 "streams served at once; more are refused with RESOURCE_EXHAUSTED",
                 {.min = 1, .max = 100'000}),
           Param("grpc.tls_cert", &O::tls_cert_file, "PEM certificate chain: serve TLS"),
           Param("grpc.tls_key", &O::tls_key_file, "PEM private key for --grpc-tls-cert"),
           Param("grpc.token", &O::token,
                 "require `authorization: Bearer <token>` metadata on Subscribe (empty = none)"),
           Param("grpc.shutdown_grace", &O::shutdown_grace,
                 "at shutdown, how long streams get to receive UNAVAILABLE before they are "
                 "cancelled",
                 {.min = 0}),
           Param("grpc.wait_for_client", &O::wait_for_client,
                 "hold delivery (and so the source) while no client is subscribed; with "
                 "--persistent-slot nothing is lost before the first client")},
      }),
      .validate = [](const O& o, const Context& ctx, Errors& errors) { Validate(o, errors); },
      .make = [](O o, const Context& ctx) -> Result<AdapterPtr> {
        return MakeGrpcAdapter(std::move(o));
      },
  });
}

}  // namespace pgcdc::adapter::grpc

PGCDC_REGISTER_CONNECTOR(adapter, grpc, pgcdc::adapter::grpc::Connector)
