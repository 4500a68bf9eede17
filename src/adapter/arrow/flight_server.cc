#include "adapter/arrow/flight_server.h"

#include <grpcpp/support/byte_buffer.h>

#include <optional>
#include <utility>

#include "adapter/arrow/write_ahead.h"
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

std::string FramedSchema(const arrow_ipc::Schema& schema, const arrow_ipc::Metadata& metadata) {
  std::string out;
  arrow_ipc::AppendFramed(arrow_ipc::SchemaMessage(schema, metadata), {}, out);
  return out;
}

// A slice that owns `bytes` (no copy into gRPC).
::grpc::Slice OwnedSlice(std::string bytes) {
  auto* owned = new std::string(std::move(bytes));
  return {owned->data(), owned->size(), [](void* p) { delete static_cast<std::string*>(p); },
          owned};
}

void AppendVarint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// One FlightData as protobuf wire bytes: header and app_metadata serialised
// by protobuf, then data_body (field 1000, length-delimited) whose bytes —
// the megabytes of a record batch — go to gRPC in their own slice, uncopied.
::grpc::ByteBuffer FlightMessage(std::string header, std::string body,
                                 std::string app_metadata = {}) {
  fl::FlightData meta;
  meta.set_data_header(std::move(header));
  if (!app_metadata.empty()) meta.set_app_metadata(std::move(app_metadata));
  std::string prefix = meta.SerializeAsString();
  if (body.empty()) {
    ::grpc::Slice only = OwnedSlice(std::move(prefix));
    return {&only, 1};
  }
  constexpr uint64_t kDataBodyTag = (1000 << 3) | 2;
  AppendVarint(kDataBodyTag, prefix);
  AppendVarint(body.size(), prefix);
  ::grpc::Slice slices[2] = {OwnedSlice(std::move(prefix)), OwnedSlice(std::move(body))};
  return {slices, 2};
}

// What a DoGet sends, in order: the schema, one DictionaryBatch per
// dictionary, then record batches of `plan` (one empty batch when there is
// nothing), each with app_metadata {"first_offset":A,"next_offset":B}.
class DoGetMessages {
 public:
  struct Step {
    enum Kind { kMessage, kEnd, kError } kind = kEnd;
    ::grpc::ByteBuffer message;
    size_t rows = 0;
    ::grpc::Status status;
  };

  DoGetMessages(const FlightServerOptions& o, Slice slice)
      : mode_(o.mode),
        batch_rows_(o.batch_rows),
        batch_bytes_(o.batch_bytes),
        slice_(std::move(slice)),
        plan_(PlanStream(mode_, slice_.entries, o.dictionaries)) {}

  Step Next() {
    if (!schema_sent_) {
      schema_sent_ = true;
      auto dictionaries = EncodeDictionaries(plan_);
      if (!dictionaries) return Error(dictionaries.error().message());
      dictionaries_ = std::move(*dictionaries);
      return {.kind = Step::kMessage,
              .message = FlightMessage(arrow_ipc::SchemaMessage(plan_.schema, plan_.metadata), {})};
    }
    if (next_dictionary_ < dictionaries_.size()) {
      auto& d = dictionaries_[next_dictionary_++];
      return {.kind = Step::kMessage,
              .message = FlightMessage(std::move(d.header), std::move(d.body))};
    }
    if (at_ >= plan_.count && batch_sent_) return {};
    return NextBatch();
  }

 private:
  static Step Error(const std::string& message) {
    return {.kind = Step::kError, .status = {StatusCode::INTERNAL, message}};
  }

  Step NextBatch() {
    const std::span<const EntryPtr> all(slice_.entries.data(), plan_.count);
    const size_t n = BatchEnd(all.subspan(at_), batch_rows_, batch_bytes_);
    size_t value_errors = 0;
    auto batch = EncodeBatch(mode_, plan_, all.subspan(at_, n), value_errors);
    if (!batch) return Error(batch.error().message());
    M().value_errors.Inc(value_errors);
    const uint64_t first = slice_.first + at_;
    at_ += n;
    batch_sent_ = true;
    return {.kind = Step::kMessage,
            .message = FlightMessage(std::move(batch->header), std::move(batch->body),
                                     R"({"first_offset":)" + std::to_string(first) +
                                         R"(,"next_offset":)" + std::to_string(first + n) + "}"),
            .rows = n};
  }

  SchemaMode mode_;
  size_t batch_rows_;
  size_t batch_bytes_;
  Slice slice_;  // before plan_, which points into it
  Plan plan_;
  bool schema_sent_ = false;
  std::vector<arrow_ipc::EncodedBatch> dictionaries_;
  size_t next_dictionary_ = 0;
  size_t at_ = 0;
  bool batch_sent_ = false;
};

// One DoGet call (callback API; deletes itself in OnDone). While a message
// is being written, the next one is encoded, so encoding and the transfer
// overlap; whichever finishes last goes on with the next write.
class DoGetStream final : public ::grpc::ServerWriteReactor<::grpc::ByteBuffer> {
 public:
  DoGetStream(const FlightServerOptions& o, Slice slice) : messages_(o, std::move(slice)) {
    M().streams.Add(1);
    Pump();
  }

  void OnWriteDone(bool ok) override {
    const auto done = ahead_.WriteDone(ok);
    M().rows.Inc(done.rows);
    if (done.go_on) Pump();
  }
  void OnDone() override { delete this; }

 private:
  void End(const ::grpc::Status& status) {
    M().streams.Add(-1);
    Finish(status);
  }

  void Pump() {
    for (;;) {
      if (ahead_.failed()) return End(::grpc::Status::OK);  // the client went away
      auto step = ready_ ? std::move(*std::exchange(ready_, std::nullopt)) : messages_.Next();
      if (step.kind == DoGetMessages::Step::kEnd) return End(::grpc::Status::OK);
      if (step.kind == DoGetMessages::Step::kError) return End(step.status);
      in_flight_ = step.message;  // ByteBuffer copies are slice references, not bytes
      ahead_.Started(step.rows);
      StartWrite(&in_flight_);
      ready_ = messages_.Next();      // while the write is on its way
      if (!ahead_.Encoded()) return;  // OnWriteDone goes on
    }
  }

  // Used by the one thread driving the stream (WriteAhead hands it over).
  DoGetMessages messages_;
  std::optional<DoGetMessages::Step> ready_;  // encoded ahead
  ::grpc::ByteBuffer in_flight_;
  WriteAhead ahead_;
};

// A call refused before any message.
class Refused final : public ::grpc::ServerWriteReactor<::grpc::ByteBuffer> {
 public:
  explicit Refused(const ::grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

class Service final
    : public fl::FlightService::WithRawCallbackMethod_DoGet<fl::FlightService::Service> {
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
    const ChannelState ch = store_->Channel(channel.name);
    out->set_schema(FramedSchema(SchemaFor(ch), MetadataFor(ch)));
    return Status::OK;
  }

  ::grpc::ServerWriteReactor<::grpc::ByteBuffer>* DoGet(::grpc::CallbackServerContext* ctx,
                                                        const ::grpc::ByteBuffer* request) override;

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

  Status Auth(const ::grpc::ServerContextBase& ctx) const {
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
  // Its custom_metadata (typed mode with --schema-store: the store version).
  arrow_ipc::Metadata MetadataFor(const ChannelState& ch) const {
    if (o_.mode == SchemaMode::kEnvelope || !ch.oldest) return {};
    return StoreMetadata(ch.oldest->schema);
  }

  fl::FlightInfo Info(const ChannelState& ch) const {
    fl::FlightInfo info;
    info.set_schema(FramedSchema(SchemaFor(ch), MetadataFor(ch)));
    auto* d = info.mutable_flight_descriptor();
    d->set_type(fl::FlightDescriptor::PATH);
    d->add_path(ch.channel);
    info.add_endpoint()->mutable_ticket()->set_ticket(TicketJson(ch.channel, ch.first));
    info.set_total_records(static_cast<int64_t>(ch.next - ch.first));
    info.set_total_bytes(-1);
    info.set_ordered(true);
    return info;
  }

  std::shared_ptr<const Store> store_;
  FlightServerOptions o_;
};

::grpc::ServerWriteReactor<::grpc::ByteBuffer>* Service::DoGet(::grpc::CallbackServerContext* ctx,
                                                               const ::grpc::ByteBuffer* request) {
  if (auto st = Auth(*ctx); !st.ok()) return new Refused(st);
  fl::Ticket ticket;
  ::grpc::ByteBuffer copy = *request;  // Deserialize consumes its buffer
  if (!::grpc::SerializationTraits<fl::Ticket>::Deserialize(&copy, &ticket).ok()) {
    return new Refused(Reject("bad_ticket", StatusCode::INVALID_ARGUMENT, "malformed Ticket"));
  }
  auto t = ParseTicket(ticket.ticket());
  if (!t)
    return new Refused(Reject("bad_ticket", StatusCode::INVALID_ARGUMENT, t.error().message()));
  auto slice = store_->Read(t->channel, t->offset, store_->capacity());
  if (!slice) {
    return new Refused(Reject("out_of_range", StatusCode::OUT_OF_RANGE, slice.error().message()));
  }
  M().doget.Inc();
  return new DoGetStream(o_, std::move(*slice));
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
