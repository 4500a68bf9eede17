#include "adapter/grpc/stream_server.h"

#include <grpcpp/support/byte_buffer.h>

#include "core/time.h"
#include "core/trace_context.h"
#include "pgcdc/eventstream.grpc.pb.h"
#include "pgcdc/eventstream.pb.h"
#include "rpc/server.h"

namespace pgcdc::adapter::grpc {

namespace {

namespace wire = ::pgcdc_wire;

::grpc::Status StatusFor(EndReason reason, size_t client_queue) {
  switch (reason) {
    case EndReason::kSlow:
      return {::grpc::StatusCode::RESOURCE_EXHAUSTED,
              "slow consumer: its queue of " + std::to_string(client_queue) +
                  " events (--grpc-client-queue) stayed full longer than "
                  "--grpc-slow-client-timeout; reconnect with resume_from"};
    case EndReason::kShutdown:
      return {::grpc::StatusCode::UNAVAILABLE, "server shutting down"};
    case EndReason::kGone:
    case EndReason::kNone:
      break;
  }
  return {::grpc::StatusCode::CANCELLED, "stream cancelled"};
}

::grpc::Status StatusFor(const Hub::Subscription& s) {
  using C = ::grpc::StatusCode;
  switch (s.refusal) {
    case Hub::Refusal::kShuttingDown:
      return {C::UNAVAILABLE, s.message};
    case Hub::Refusal::kTooManyClients:
      return {C::RESOURCE_EXHAUSTED, s.message};
    case Hub::Refusal::kResumeMiss:
      return {C::NOT_FOUND, s.message};
    case Hub::Refusal::kBadChannel:
      return {C::INVALID_ARGUMENT, s.message};
    case Hub::Refusal::kNone:
      break;
  }
  return ::grpc::Status::OK;
}

// One Subscribe call. Deletes itself in OnDone (the callback API's rule);
// the hub's Client outlives it only as a detached, inert record.
class SubscribeStream final : public ::grpc::ServerWriteReactor<::grpc::ByteBuffer>,
                              public Transport {
 public:
  SubscribeStream(const std::shared_ptr<Hub>& hub, size_t client_queue,
                  std::vector<std::string> channels, const std::string& resume_from)
      : hub_(hub), client_queue_(client_queue) {
    auto sub = hub_->Subscribe(std::move(channels), resume_from, this);
    if (!sub.client) {
      Finish(StatusFor(sub));
      return;
    }
    client_ = std::move(sub.client);
    // Clients learn at once that the subscription stands (before any event).
    StartSendInitialMetadata();
  }

  // Transport (called with the client's lock held).
  void Send(const Item& item, bool more) override {
    ::grpc::Slice slice(item.bytes->data(), item.bytes->size());
    buffer_ = ::grpc::ByteBuffer(&slice, 1);
    // More queued: let gRPC coalesce this message with the next ones (one
    // frame and syscall for many); the last one of a run goes out at once.
    ::grpc::WriteOptions options;
    if (more) options.set_buffer_hint();
    StartWrite(&buffer_, options);
  }
  void Close(EndReason reason) override { Finish(StatusFor(reason, client_queue_)); }

  // Reactions (gRPC threads).
  void OnWriteDone(bool ok) override {
    if (client_) client_->WriteDone(ok);
  }
  void OnCancel() override {
    if (client_) client_->End(EndReason::kGone);
  }
  void OnDone() override {
    if (client_) {
      client_->Detach();
      hub_->Remove(client_.get());
    }
    delete this;
  }

 private:
  std::shared_ptr<Hub> hub_;
  size_t client_queue_;
  std::shared_ptr<Client> client_;
  ::grpc::ByteBuffer buffer_;  // the write in flight
};

class Service final
    : public wire::EventStream::WithRawCallbackMethod_Subscribe<wire::EventStream::Service> {
 public:
  Service(std::shared_ptr<Hub> hub, const StreamServerOptions& options)
      : hub_(std::move(hub)), token_(options.token), client_queue_(options.client_queue) {}

  ::grpc::ServerWriteReactor<::grpc::ByteBuffer>* Subscribe(
      ::grpc::CallbackServerContext* context, const ::grpc::ByteBuffer* request) override {
    if (auto auth = rpc::CheckBearer(*context, token_); !auth.ok()) return Refuse(auth);
    wire::SubscribeRequest req;
    if (!::grpc::SerializationTraits<wire::SubscribeRequest>::Deserialize(
             const_cast<::grpc::ByteBuffer*>(request), &req)
             .ok()) {
      return Refuse({::grpc::StatusCode::INVALID_ARGUMENT, "malformed SubscribeRequest"});
    }
    std::vector<std::string> channels(req.channels().begin(), req.channels().end());
    return new SubscribeStream(hub_, client_queue_, std::move(channels), req.resume_from());
  }

 private:
  static ::grpc::ServerWriteReactor<::grpc::ByteBuffer>* Refuse(const ::grpc::Status& status) {
    class Refused final : public ::grpc::ServerWriteReactor<::grpc::ByteBuffer> {
     public:
      explicit Refused(const ::grpc::Status& s) { Finish(s); }
      void OnDone() override { delete this; }
    };
    return new Refused(status);
  }

  std::shared_ptr<Hub> hub_;
  std::string token_;
  size_t client_queue_;
};

}  // namespace

std::shared_ptr<const std::string> EncodeEvent(const Event& event) {
  wire::Event m;
  m.set_id(event.id.ToString());
  m.set_channel(event.channel);
  m.set_operation(event.operation);
  m.set_payload(event.payload);
  m.set_source(std::string(event.source));
  m.set_created_at(FormatRfc3339Nano(event.created_at_ns));
  // SPEC §5.15 field 7: the deliver span's traceparent, "" without tracing.
  if (trace::Enabled()) m.set_traceparent(trace::DeliveryTraceparent(event, "grpc"));
  auto out = std::make_shared<std::string>();
  m.SerializeToString(out.get());
  return out;
}

struct StreamServer::Impl {
  std::shared_ptr<Hub> hub;
  std::unique_ptr<Service> service;
  std::unique_ptr<rpc::Server> server;
};

StreamServer::StreamServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

StreamServer::~StreamServer() { Stop(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<StreamServer>> StreamServer::Start(const StreamServerOptions& options,
                                                          std::shared_ptr<Hub> hub) {
  auto impl = std::make_unique<Impl>();
  impl->hub = hub;
  impl->service = std::make_unique<Service>(std::move(hub), options);
  auto server = rpc::Server::Start({.name = "grpc",
                                    .addr = options.addr,
                                    .tls_cert_file = options.tls_cert_file,
                                    .tls_key_file = options.tls_key_file},
                                   {impl->service.get()});
  if (!server) return Fail(server.error());
  impl->server = std::move(*server);
  return std::unique_ptr<StreamServer>(new StreamServer(std::move(impl)));
}

const std::string& StreamServer::addr() const { return impl_->server->addr(); }

void StreamServer::Stop(std::chrono::milliseconds grace) {
  impl_->hub->CloseAll();
  impl_->server->Stop(grace);
}

}  // namespace pgcdc::adapter::grpc
