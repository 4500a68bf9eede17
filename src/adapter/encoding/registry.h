// Confluent Schema Registry client (SPEC §10.3): registers a schema under a
// subject (POST /subjects/<subject>/versions) and returns its id, cached per
// (subject, schema) so each schema costs one request per process.
//
// Errors: a 4xx answer (incompatible schema 409, invalid schema 422, …) is
// kInvalidArgument with the registry's message — the event cannot be encoded
// and is dead-lettered by the sink; anything else (connection, timeout, 5xx)
// is kConnection — the sink holds the event and retries.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "core/error.h"

namespace pgcdc::net {
class Http1Connection;
struct Http1Response;
}  // namespace pgcdc::net

namespace pgcdc::encoding {

struct RegistryOptions {
  std::string url;  // http(s)://host:port[/prefix]
  std::string username;
  std::string password;
  std::string ca_file;
  std::chrono::milliseconds timeout{10'000};
};

// Subject for a channel: the topic-style name (':' → '.') plus "-value".
std::string SubjectFor(std::string_view channel);

class SchemaRegistry {
 public:
  static Result<std::unique_ptr<SchemaRegistry>> Open(RegistryOptions options);
  ~SchemaRegistry();

  // `schema_type`: "AVRO" or "PROTOBUF".
  Result<uint32_t> Register(const std::string& subject, const std::string& schema,
                            std::string_view schema_type);
  // Start-up check: the registry answers GET /schemas/types and lists
  // `schema_type`. kConnection when it cannot be reached (or answers 5xx),
  // kConfig when it refuses (credentials, not a registry, type unsupported).
  Status Check(std::string_view schema_type);
  void Interrupt();
  // Registry requests made so far (cache misses), for tests and metrics.
  uint64_t requests() const { return requests_; }

 private:
  SchemaRegistry() = default;
  // One request (`path` below the base path); connection errors are
  // kConnection (kCancelled when interrupted), prefixed with `what`.
  Result<net::Http1Response> Exchange(std::string_view method, const std::string& path,
                                      std::string_view body, const std::string& what);
  RegistryOptions options_;
  std::string base_path_;    // path prefix of the URL, without a trailing '/'
  std::string host_header_;  // Host header value
  std::string auth_header_;  // "Authorization: Basic …\r\n" or empty
  std::unique_ptr<net::Http1Connection> conn_;
  std::map<std::pair<std::string, std::string>, uint32_t> ids_;
  uint64_t requests_ = 0;
};

}  // namespace pgcdc::encoding
