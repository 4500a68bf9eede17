#include "adapter/arrow/arrow_adapter.h"

#include <memory>

#include "adapter/arrow/flight_server.h"
#include "adapter/arrow/store.h"
#include "core/metrics.h"
#include "registry/define.h"
#include "rpc/server.h"

namespace pgcdc::adapter::arrow {

namespace {

struct Metrics {
  metrics::Gauge& buffered = metrics::DefaultGauge(
      "pgcdc_arrow_buffered_events", "Events held in the arrow sink's per-channel rings.");
  metrics::Gauge& channels =
      metrics::DefaultGauge("pgcdc_arrow_channels", "Channels the arrow sink buffers.");
  metrics::Counter& evicted = metrics::DefaultCounter(
      "pgcdc_arrow_evicted_total",
      "Events overwritten in a full ring (--arrow-buffer-size); tickets for their offsets get "
      "OUT_OF_RANGE.");
};

Metrics& M() { return metrics::Lazy<Metrics>(); }

class ArrowAdapter final : public Adapter {
 public:
  explicit ArrowAdapter(Options options)
      : options_(std::move(options)), store_(std::make_shared<Store>(options_.buffer_size)) {}
  ~ArrowAdapter() override { Close(); }

  std::string_view Name() const override { return "arrow"; }

  Status Open() override {
    auto server = FlightServer::Start(
        {.addr = options_.addr,
         .tls_cert_file = options_.tls_cert_file,
         .tls_key_file = options_.tls_key_file,
         .token = options_.token,
         .mode = options_.schema == "typed" ? SchemaMode::kTyped : SchemaMode::kEnvelope,
         .batch_rows = options_.batch_rows,
         .batch_bytes = options_.batch_bytes,
         .dictionaries = options_.dictionary},
        store_);
    if (!server) return Fail(server.error());
    server_ = std::move(*server);
    M();
    return Ok();
  }

  Status Deliver(std::span<const Event* const> events) override {
    size_t evicted = 0;
    for (const Event* e : events) evicted += store_->Append(MakeEntry(*e));
    M().evicted.Inc(evicted);
    M().buffered.Set(static_cast<double>(store_->total()));
    M().channels.Set(static_cast<double>(store_->channel_count()));
    return Ok();
  }

  void Close() override {
    if (server_) server_->Stop(options_.shutdown_grace);
    server_.reset();
  }

 private:
  Options options_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<FlightServer> server_;
};

void Validate(const Options& o, Errors& errors) {
  rpc::ValidateServerOptions(
      "arrow", {.addr = o.addr, .tls_cert_file = o.tls_cert_file, .tls_key_file = o.tls_key_file},
      errors);
}

}  // namespace

AdapterPtr MakeArrowAdapter(Options options) {
  return std::make_unique<ArrowAdapter>(std::move(options));
}

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "arrow",
      .description = "Arrow Flight server (ListFlights, GetFlightInfo, GetSchema, DoGet) over "
                     "per-channel ring buffers with absolute ticket offsets; envelope or typed "
                     "columns, TLS and a bearer token.",
      .params = Params({
          {Param("arrow.addr", &O::addr,
                 "listen address HOST:PORT (empty host = all interfaces; the default binds "
                 "localhost only)"),
           Param("arrow.buffer_size", &O::buffer_size,
                 "events kept per channel (memory bound: channels x size x event size); older "
                 "offsets get OUT_OF_RANGE",
                 {.min = 1, .max = 100'000'000}),
           Param("arrow.schema", &O::schema,
                 "envelope: SPEC's id/channel/operation/payload/source/created_at columns; "
                 "typed: one typed column per table column of WAL rows",
                 {.choices = {"envelope", "typed"}}),
           Param("arrow.batch_rows", &O::batch_rows, "rows per DoGet record batch at most",
                 {.min = 1, .max = 1'000'000}),
           Param("arrow.batch_bytes", &O::batch_bytes,
                 "about this many bytes per DoGet record batch (one gRPC message; keep it under "
                 "your clients' receive limit, 4 MiB by default; one larger event is sent alone)",
                 {.min = 1024, .max = 1u << 30}),
           Param("arrow.dictionary", &O::dictionary,
                 "dictionary-encode the repetitive string columns (channel, operation, source; "
                 "typed: _pgcdc_operation): Arrow readers decode them much faster"),
           Param("arrow.tls_cert", &O::tls_cert_file, "PEM certificate chain: serve TLS"),
           Param("arrow.tls_key", &O::tls_key_file, "PEM private key for --arrow-tls-cert"),
           Param("arrow.token", &O::token,
                 "require `authorization: Bearer <token>` metadata on every call (empty = none)"),
           Param("arrow.shutdown_grace", &O::shutdown_grace,
                 "at shutdown, how long DoGet calls in flight get to finish", {.min = 0})},
      }),
      .validate = [](const O& o, const Context& ctx, Errors& errors) { Validate(o, errors); },
      .make = [](O o, const Context& ctx) -> Result<AdapterPtr> {
        return MakeArrowAdapter(std::move(o));
      },
  });
}

}  // namespace pgcdc::adapter::arrow

PGCDC_REGISTER_CONNECTOR(adapter, arrow, pgcdc::adapter::arrow::Connector)
