#include "verify/sink_reader.h"

namespace pgcdc::verify {

namespace {

constexpr std::string_view kForms =
    "expected file:PATH, pg_table:[DSN/]TABLE or kafka:BROKERS/TOPIC";

// Splits "x/y" at the last '/': {x, y}; x is "" without a '/'.
std::pair<std::string, std::string> SplitLast(std::string_view s) {
  const size_t slash = s.rfind('/');
  if (slash == std::string_view::npos) return {"", std::string(s)};
  return {std::string(s.substr(0, slash)), std::string(s.substr(slash + 1))};
}

Status Bad(std::string_view spec, std::string_view why) {
  return Fail(ErrorCode::kConfig, "--against \"" + std::string(spec) + "\": " + std::string(why));
}

}  // namespace

Result<Against> ParseAgainst(std::string_view spec) {
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos) return Fail(Bad(spec, kForms).error());
  const std::string_view kind = spec.substr(0, colon);
  const std::string_view rest = spec.substr(colon + 1);
  Against a;
  if (kind == "file") {
    if (rest.empty()) return Fail(Bad(spec, "no file path").error());
    a.kind = Against::Kind::kFile;
    a.path = std::string(rest);
  } else if (kind == "pg_table") {
    a.kind = Against::Kind::kPgTable;
    std::tie(a.dsn, a.table) = SplitLast(rest);
    if (a.table.empty()) return Fail(Bad(spec, "no table name after the last '/'").error());
  } else if (kind == "kafka") {
    a.kind = Against::Kind::kKafka;
    std::tie(a.brokers, a.topic) = SplitLast(rest);
    if (a.brokers.empty() || a.topic.empty()) {
      return Fail(Bad(spec, "expected kafka:BROKERS/TOPIC (host:port[,host:port…]/topic)").error());
    }
  } else {
    return Fail(
        Bad(spec, std::string("unknown sink \"") + std::string(kind) + "\"; " + std::string(kForms))
            .error());
  }
  return a;
}

Result<std::unique_ptr<SinkReader>> OpenSink(const Against& against, const SinkOptions& options) {
  switch (against.kind) {
    case Against::Kind::kFile:
      return OpenFileSink(against.path);
    case Against::Kind::kPgTable:
      return OpenPgTableSink(against.dsn.empty() ? options.source_dsn : against.dsn, against.table,
                             options.channels);
    case Against::Kind::kKafka:
      return OpenKafkaSink(against, options);
  }
  return Fail(ErrorCode::kConfig, "unknown sink kind");
}

}  // namespace pgcdc::verify
