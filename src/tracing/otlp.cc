// OTLP/HTTP protobuf export (and the stdout exporter's JSON lines; OTLP/gRPC
// is otlp_grpc.cc).

#include <unistd.h>

#include <memory>

#include "core/log.h"
#include "core/mutex.h"
#include "net/http1_client.h"
#include "pgcdc/otlp_trace.pb.h"
#include "tracing/tracer.h"

#ifdef PGCDC_HAVE_OTLP_GRPC
#include "tracing/otlp_grpc.h"
#endif

namespace pgcdc::tracing {

namespace {

std::string IdBytes(const trace::TraceId& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

std::string IdBytes(uint64_t id) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(id >> (56 - 8 * i));
  return out;
}

void AddString(google::protobuf::RepeatedPtrField<pgcdc_otlp::KeyValue>* attrs,
               std::string_view key, std::string_view value) {
  auto* kv = attrs->Add();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_string_value(std::string(value));
}

void AddInt(google::protobuf::RepeatedPtrField<pgcdc_otlp::KeyValue>* attrs, std::string_view key,
            int64_t value) {
  auto* kv = attrs->Add();
  kv->set_key(std::string(key));
  kv->mutable_value()->set_int_value(value);
}

}  // namespace

std::string EncodeOtlp(std::span<const SpanRecord> spans, std::string_view service_name) {
  pgcdc_otlp::ExportTraceServiceRequest req;
  auto* rs = req.add_resource_spans();
  AddString(rs->mutable_resource()->mutable_attributes(), "service.name", service_name);
  AddString(rs->mutable_resource()->mutable_attributes(), "telemetry.sdk.name", "pgcdc");
  AddString(rs->mutable_resource()->mutable_attributes(), "telemetry.sdk.language", "cpp");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("pgcdc");
  for (const SpanRecord& s : spans) {
    auto* span = ss->add_spans();
    span->set_trace_id(IdBytes(s.trace_id));
    span->set_span_id(IdBytes(s.span_id));
    if (s.parent_span_id != 0) span->set_parent_span_id(IdBytes(s.parent_span_id));
    if (s.tracestate.size != 0) span->set_trace_state(std::string(s.tracestate.view()));
    span->set_name(std::string(SpanNameText(s.name)));
    span->set_start_time_unix_nano(static_cast<uint64_t>(s.start_ns));
    span->set_end_time_unix_nano(static_cast<uint64_t>(s.end_ns));
    auto* attrs = span->mutable_attributes();
    AddString(attrs, "pgcdc.event.id", s.event_id.ToString());
    AddString(attrs, "pgcdc.channel", s.channel.view());
    AddString(attrs, "pgcdc.operation", s.operation.view());
    if (s.name == SpanName::kDetect) {
      span->set_kind(pgcdc_otlp::Span::SPAN_KIND_PRODUCER);
      AddString(attrs, "pgcdc.source", s.source.view());
      if (s.lsn != 0) AddInt(attrs, "pgcdc.lsn", static_cast<int64_t>(s.lsn));
      if (s.table.size != 0) AddString(attrs, "pgcdc.table", s.table.view());
    } else {
      span->set_kind(pgcdc_otlp::Span::SPAN_KIND_CONSUMER);
      AddString(attrs, "pgcdc.adapter", s.adapter.view());
      // SPEC: linked to (and a child of) the detector span.
      auto* link = span->add_links();
      link->set_trace_id(IdBytes(s.trace_id));
      link->set_span_id(IdBytes(s.parent_span_id));
    }
    auto* status = span->mutable_status();
    if (s.error) {
      status->set_code(pgcdc_otlp::Status::STATUS_CODE_ERROR);
      status->set_message(std::string(s.status_message.view()));
    } else {
      status->set_code(pgcdc_otlp::Status::STATUS_CODE_OK);
    }
  }
  return req.SerializeAsString();
}

namespace {

// One keep-alive connection to the collector, used by the export thread.
class OtlpHttpExporter {
 public:
  explicit OtlpHttpExporter(Settings settings) : settings_(std::move(settings)) {}

  Status Export(std::span<const SpanRecord> spans) {
    if (!url_) {
      auto url = net::ParseHttp1Url(settings_.endpoint);
      if (!url) return Fail(url.error().Wrap("otel endpoint " + settings_.endpoint));
      url_ = *url;
      conn_ = std::make_unique<net::Http1Connection>(*url_, net::Http1TlsOptions{}, 512);
    }
    const std::string body = EncodeOtlp(spans, settings_.service_name);
    std::string head = "POST " + url_->target + " HTTP/1.1\r\nHost: " + url_->host_header +
                       "\r\nContent-Type: application/x-protobuf\r\nUser-Agent: pgcdc\r\n"
                       "Content-Length: " +
                       std::to_string(body.size()) + "\r\n";
    for (const auto& [name, value] : settings_.headers) head += name + ": " + value + "\r\n";
    head += "\r\n";
    const net::Http1Connection::Request request{head, body};
    std::vector<net::Http1Response> responses;
    const auto deadline = net::Http1Connection::Clock::now() + settings_.export_timeout;
    if (auto st = conn_->Exchange(std::span(&request, 1), responses, deadline); !st) {
      return Fail(st.error().Wrap("POST " + settings_.endpoint));
    }
    if (responses.empty()) return Fail(ErrorCode::kProtocol, "no response from collector");
    const int status = responses[0].status;
    if (status < 200 || status >= 300) {
      return Fail(ErrorCode::kProtocol, "POST " + settings_.endpoint + ": HTTP " +
                                            std::to_string(status) + " " +
                                            responses[0].body.substr(0, 200));
    }
    return Ok();
  }

 private:
  Settings settings_;
  std::optional<net::Http1Url> url_;
  std::unique_ptr<net::Http1Connection> conn_;
};

}  // namespace

ExportFn MakeExporter(const Settings& settings) {
  if (settings.exporter == "stdout") {
    // stdout carries only events: the "stdout" exporter writes to stderr.
    return [](std::span<const SpanRecord> spans) -> Status {
      std::string out;
      for (const SpanRecord& s : spans) {
        out += SpanJson(s);
        out += '\n';
      }
      size_t off = 0;
      while (off < out.size()) {
        const ssize_t n = ::write(STDERR_FILENO, out.data() + off, out.size() - off);
        if (n <= 0) return Fail(ErrorCode::kIo, "cannot write spans to stderr");
        off += static_cast<size_t>(n);
      }
      return Ok();
    };
  }
#ifdef PGCDC_HAVE_OTLP_GRPC
  if (settings.protocol == "grpc") return MakeGrpcExporter(settings);
#endif
  auto exporter = std::make_shared<OtlpHttpExporter>(settings);
  return [exporter](std::span<const SpanRecord> spans) { return exporter->Export(spans); };
}

}  // namespace pgcdc::tracing
