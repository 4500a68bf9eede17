// OTLP/gRPC export: the same ExportTraceServiceRequest bytes as OTLP/HTTP,
// sent as the unary call
// /opentelemetry.proto.collector.trace.v1.TraceService/Export through grpc++'s
// generic stub (no generated service code: the request is already encoded).
// Built only with PGCDC_WITH_OTLP_GRPC (the default; slim builds leave grpc++
// out).
#include "tracing/otlp_grpc.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cctype>
#include <future>
#include <memory>

#include "net/http1_client.h"

namespace pgcdc::tracing {
namespace {

constexpr const char* kExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

class OtlpGrpcExporter {
 public:
  explicit OtlpGrpcExporter(Settings settings) : settings_(std::move(settings)) {}

  Status Export(std::span<const SpanRecord> spans) {
    if (!stub_) {
      auto target = GrpcTarget(settings_.endpoint);
      if (!target) return Fail(target.error());
      auto creds = target->tls ? grpc::SslCredentials(grpc::SslCredentialsOptions{})
                               : grpc::InsecureChannelCredentials();
      stub_ = std::make_unique<grpc::GenericStub>(grpc::CreateChannel(target->address, creds));
    }
    const std::string body = EncodeOtlp(spans, settings_.service_name);
    grpc::Slice slice(body);
    const grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + settings_.export_timeout);
    for (const auto& [name, value] : settings_.headers) {
      std::string key = name;  // gRPC metadata keys are lower case
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      ctx.AddMetadata(key, value);
    }
    std::promise<grpc::Status> done;
    auto finished = done.get_future();
    stub_->UnaryCall(&ctx, kExportMethod, grpc::StubOptions(), &request, &response,
                     [&done](const grpc::Status& status) { done.set_value(status); });
    const grpc::Status status = finished.get();
    if (!status.ok()) {
      return Fail(ErrorCode::kProtocol, "OTLP/gRPC export to " + settings_.endpoint + ": " +
                                            std::to_string(status.error_code()) + " " +
                                            status.error_message());
    }
    return Ok();
  }

 private:
  Settings settings_;
  std::unique_ptr<grpc::GenericStub> stub_;
};

}  // namespace

Result<GrpcTargetAddress> GrpcTarget(std::string_view endpoint) {
  std::string url(endpoint);
  if (url.find("://") == std::string::npos) url = "http://" + url;
  auto parsed = net::ParseHttp1Url(url);
  if (!parsed) {
    return Fail(ErrorCode::kConfig,
                "otel.endpoint \"" + std::string(endpoint) + "\": " + parsed.error().message());
  }
  // The path (e.g. /v1/traces of an HTTP endpoint) means nothing to gRPC.
  const bool v6 = parsed->host.find(':') != std::string::npos;
  std::string address = v6 ? "[" + parsed->host + "]" : parsed->host;
  return GrpcTargetAddress{address + ":" + std::to_string(parsed->port), parsed->tls};
}

ExportFn MakeGrpcExporter(const Settings& settings) {
  auto exporter = std::make_shared<OtlpGrpcExporter>(settings);
  return [exporter](std::span<const SpanRecord> spans) { return exporter->Export(spans); };
}

}  // namespace pgcdc::tracing
