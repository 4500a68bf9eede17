// The arrow sink's Arrow Flight service (arrow.flight.protocol.FlightService
// of proto/arrow/flight/flight.proto): ListFlights, GetFlightInfo, GetSchema
// and DoGet over the Store; every other RPC answers UNIMPLEMENTED naming
// what is served. The only translation unit that sees the generated code
// (compile firewall).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "adapter/arrow/batches.h"
#include "adapter/arrow/store.h"
#include "core/error.h"

namespace pgcdc::adapter::arrow {

struct FlightServerOptions {
  std::string addr;  // HOST:PORT
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string token;  // bearer token; empty = no check
  SchemaMode mode = SchemaMode::kEnvelope;
  size_t batch_rows = 65'536;     // rows per record batch at most
  size_t batch_bytes = 3u << 20;  // about this many bytes per record batch
  bool dictionaries = true;       // dictionary-encoded channel/operation/source
};

class FlightServer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<FlightServer>> Start(
      const FlightServerOptions& options, std::shared_ptr<const Store> store);
  ~FlightServer();
  FlightServer(const FlightServer&) = delete;
  FlightServer& operator=(const FlightServer&) = delete;

  const std::string& addr() const;
  // Refuses new calls, lets calls in flight finish for up to `grace`.
  void Stop(std::chrono::milliseconds grace);

 private:
  struct Impl;
  explicit FlightServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgcdc::adapter::arrow
