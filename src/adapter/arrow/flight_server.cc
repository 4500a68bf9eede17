#include "adapter/arrow/flight_server.h"

#include "arrow/flight/flight.grpc.pb.h"
#include "arrow/flight/flight.pb.h"
#include "core/metrics.h"
#include "rpc/server.h"

namespace pgcdc::adapter::arrow {

namespace {

namespace fl = ::arrow::flight::protocol;
using ::grpc::ServerContext;
using ::grpc::Status;
using ::grpc::StatusCode;

struct Metrics {
  metrics::Counter& doget =
      metrics::DefaultCounter("pgcdc_arrow_doget_total", "Arrow Flight DoGet calls served.");
  metrics::Counter& rows = metrics::DefaultCounter(
      "pgcdc_arrow_rows_served_total", "Rows sent in Arrow Flight DoGet record batches.");
  metrics::Counter& value_errors = metrics::DefaultCounter(
      "pgcdc_arrow_value_errors_total",
      "Typed-schema values that did not convert to their Arrow type and were sent as null.");
  metrics::Family<metrics::Counter>& rejected = metrics::Default().AddCounter(
      "pgcdc_arrow_rejected_total",
      "Arrow Flight calls refused, by reason: bad_ticket, out_of_range (the ticket's offset is "
      "no longer or not yet buffered), unauthenticated, bad_descriptor, unimplemented.",
      {"reason"});
  metrics::Gauge& streams = metrics::DefaultGauge("pgcdc_arrow_flight_clients_active",
                                                  "Arrow Flight DoGet streams being sent now.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

Status Reject(std::string_view reason, StatusCode code, const std::string& message) {
  M().rejected.With({reason}).Inc();
  return {code, message};
}

Status Unimplemented(std::string_view rpc) {
  return Reject("unimplemented", StatusCode::UNIMPLEMENTED,
                "pgcdc's arrow sink serves ListFlights, GetFlightInfo, GetSchema and DoGet "
                "(read-only, bearer token in metadata); " +
                    std::string(rpc) + " is not supported");
}

std::string FramedSchema(const arrow_ipc::Schema& schema) {
  std::string out;
  arrow_ipc::AppendFramed(arrow_ipc::SchemaMessage(schema), {}, out);
  return out;
}

class Service final : public fl::FlightService::Service {
 public:
  Service(std::shared_ptr<const Store> store, const FlightServerOptions& o)
      : store_(std::move(store)), o_(o) {}

  Status ListFlights(ServerContext* ctx, const fl::Criteria*,
                     ::grpc::ServerWriter<fl::FlightInfo>* writer) override {
    if (auto st = Auth(*ctx); !st.ok()) return st;
    for (const auto& ch : store_->Channels()) {
      if (ctx->IsCancelled() || !writer->Write(Info(ch))) break;
    }
    return Status::OK;
  }

  Status GetFlightInfo(ServerContext* ctx, const fl::FlightDescriptor* d,
                       fl::FlightInfo* out) override {
    if (auto st = Auth(*ctx); !st.ok()) return st;
    auto channel = ChannelOf(*d);
    if (!channel.ok()) return channel.status;
    *out = Info(store_->Channel(channel.name));
    return Status::OK;
  }

  Status GetSchema(ServerContext* ctx, const fl::FlightDescriptor* d,
                   fl::SchemaResult* out) override {
    if (auto st = Auth(*ctx); !st.ok()) return st;
    auto channel = ChannelOf(*d);
    if (!channel.ok()) return channel.status;
    out->set_schema(FramedSchema(SchemaFor(store_->Channel(channel.name))));
    return Status::OK;
  }

  Status DoGet(ServerContext* ctx, const fl::Ticket* ticket,
               ::grpc::ServerWriter<fl::FlightData>* writer) override;

  Status Handshake(
      ServerContext*,
      ::grpc::ServerReaderWriter<fl::HandshakeResponse, fl::HandshakeRequest>*) override {
    return Unimplemented("Handshake (send `authorization: Bearer <token>` metadata instead)");
  }
  Status PollFlightInfo(ServerContext*, const fl::FlightDescriptor*, fl::PollInfo*) override {
    return Unimplemented("PollFlightInfo");
  }
  Status DoPut(ServerContext*,
               ::grpc::ServerReaderWriter<fl::PutResult, fl::FlightData>*) override {
    return Unimplemented("DoPut");
  }
  Status DoExchange(ServerContext*,
                    ::grpc::ServerReaderWriter<fl::FlightData, fl::FlightData>*) override {
    return Unimplemented("DoExchange");
  }
  Status DoAction(ServerContext*, const fl::Action*, ::grpc::ServerWriter<fl::Result>*) override {
    return Unimplemented("DoAction");
  }
  Status ListActions(ServerContext*, const fl::Empty*,
                     ::grpc::ServerWriter<fl::ActionType>*) override {
    return Unimplemented("ListActions");
  }

 private:
  struct ChannelResult {
    std::string name;
    Status status;
    bool ok() const { return status.ok(); }
  };

  Status Auth(const ServerContext& ctx) const {
    auto st = rpc::CheckBearer(ctx, o_.token);
    if (!st.ok()) M().rejected.With({"unauthenticated"}).Inc();
    return st;
  }

  static ChannelResult ChannelOf(const fl::FlightDescriptor& d) {
    if (d.type() != fl::FlightDescriptor::PATH || d.path_size() != 1 || d.path(0).empty()) {
      return {.status = Reject("bad_descriptor", StatusCode::INVALID_ARGUMENT,
                               "want a PATH descriptor with one element: the channel")};
    }
    return {.name = d.path(0)};
  }

  // The schema a DoGet from the channel's oldest offset starts with.
  arrow_ipc::Schema SchemaFor(const ChannelState& ch) const {
    if (o_.mode == SchemaMode::kEnvelope) return EnvelopeSchema(o_.dictionaries);
    return TypedSchema(ch.oldest ? ch.oldest->schema.get() : nullptr, o_.dictionaries);
  }

  fl::FlightInfo Info(const ChannelState& ch) const {
    fl::FlightInfo info;
    info.set_schema(FramedSchema(SchemaFor(ch)));
    auto* d = info.mutable_flight_descriptor();
    d->set_type(fl::FlightDescriptor::PATH);
    d->add_path(ch.channel);
    info.add_endpoint()->mutable_ticket()->set_ticket(TicketJson(ch.channel, ch.first));
    info.set_total_records(static_cast<int64_t>(ch.next - ch.first));
    info.set_total_bytes(-1);
    info.set_ordered(true);
    return info;
  }

  Status WriteBatches(ServerContext& ctx, const Plan& plan, const Slice& slice,
                      ::grpc::ServerWriter<fl::FlightData>& writer) const;

  std::shared_ptr<const Store> store_;
  FlightServerOptions o_;
};

Status Service::DoGet(ServerContext* ctx, const fl::Ticket* ticket,
                      ::grpc::ServerWriter<fl::FlightData>* writer) {
  if (auto st = Auth(*ctx); !st.ok()) return st;
  M().streams.Add(1);
  struct Done {
    ~Done() { M().streams.Add(-1); }
  } done;
  auto t = ParseTicket(ticket->ticket());
  if (!t) return Reject("bad_ticket", StatusCode::INVALID_ARGUMENT, t.error().message());
  auto slice = store_->Read(t->channel, t->offset, store_->capacity());
  if (!slice) return Reject("out_of_range", StatusCode::OUT_OF_RANGE, slice.error().message());
  M().doget.Inc();
  const Plan plan = PlanStream(o_.mode, slice->entries, o_.dictionaries);
  fl::FlightData schema;
  schema.set_data_header(arrow_ipc::SchemaMessage(plan.schema));
  if (!writer->Write(schema)) return Status::OK;  // client gone
  auto dictionaries = EncodeDictionaries(plan);
  if (!dictionaries) return {StatusCode::INTERNAL, dictionaries.error().message()};
  for (auto& d : *dictionaries) {
    fl::FlightData data;
    data.set_data_header(std::move(d.header));
    data.set_data_body(std::move(d.body));
    if (!writer->Write(data)) return Status::OK;
  }
  return WriteBatches(*ctx, plan, *slice, *writer);
}

// The record batches of `plan` (one empty batch when there is nothing), each
// with app_metadata {"first_offset":A,"next_offset":B}.
Status Service::WriteBatches(ServerContext& ctx, const Plan& plan, const Slice& slice,
                             ::grpc::ServerWriter<fl::FlightData>& writer) const {
  const std::span<const EntryPtr> all(slice.entries.data(), plan.count);
  size_t at = 0;
  do {
    const size_t n = BatchEnd(all.subspan(at), o_.batch_rows, o_.batch_bytes);
    size_t value_errors = 0;
    auto batch = EncodeBatch(o_.mode, plan, all.subspan(at, n), value_errors);
    if (!batch) return {StatusCode::INTERNAL, batch.error().message()};
    M().value_errors.Inc(value_errors);
    fl::FlightData data;
    data.set_data_header(std::move(batch->header));
    data.set_data_body(std::move(batch->body));
    data.set_app_metadata(R"({"first_offset":)" + std::to_string(slice.first + at) +
                          R"(,"next_offset":)" + std::to_string(slice.first + at + n) + "}");
    if (ctx.IsCancelled() || !writer.Write(data)) return Status::OK;
    M().rows.Inc(n);
    at += n;
  } while (at < all.size());
  return Status::OK;
}

}  // namespace

struct FlightServer::Impl {
  std::unique_ptr<Service> service;
  std::unique_ptr<rpc::Server> server;
};

FlightServer::FlightServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FlightServer::~FlightServer() { Stop(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<FlightServer>> FlightServer::Start(const FlightServerOptions& options,
                                                          std::shared_ptr<const Store> store) {
  auto impl = std::make_unique<Impl>();
  impl->service = std::make_unique<Service>(std::move(store), options);
  auto server = rpc::Server::Start({.name = "arrow",
                                    .addr = options.addr,
                                    .tls_cert_file = options.tls_cert_file,
                                    .tls_key_file = options.tls_key_file},
                                   {impl->service.get()});
  if (!server) return Fail(server.error());
  impl->server = std::move(*server);
  return std::unique_ptr<FlightServer>(new FlightServer(std::move(impl)));
}

const std::string& FlightServer::addr() const { return impl_->server->addr(); }

void FlightServer::Stop(std::chrono::milliseconds grace) { impl_->server->Stop(grace); }

}  // namespace pgcdc::adapter::arrow
