// OTLP/gRPC export (otlp_grpc.cc, built with PGCDC_WITH_OTLP_GRPC).
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "tracing/tracer.h"

namespace pgcdc::tracing {

// Where a gRPC channel connects for an otel endpoint: "host:port" (the
// port explicit, IPv6 in brackets) and whether it speaks TLS (https://).
struct GrpcTargetAddress {
  std::string address;
  bool tls = false;
};
Result<GrpcTargetAddress> GrpcTarget(std::string_view endpoint);

// Exports batches with the unary TraceService/Export call.
ExportFn MakeGrpcExporter(const Settings& settings);

}  // namespace pgcdc::tracing
