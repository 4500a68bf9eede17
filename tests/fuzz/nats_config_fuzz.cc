// libFuzzer target for the nats adapter's configuration parsers: server URLs
// (net::ParseServerUrl, nats ParseServers, the redaction of secrets) and the
// channel → subject mapping.
//
// Input: text split at the first newline into (a) a nats.url value or a
// subject prefix and (b) a channel.
// Invariants checked (abort on violation):
//  * errors are kConfig (URLs) or kInvalidArgument (subjects);
//  * a URL that parses still parses once redacted, to the same host, port,
//    path and user, with the secret replaced by "xxx";
//  * every server of a parsed list parses on its own;
//  * a mapped subject is valid and starts with "<prefix>.".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapter/nats/nats_adapter.h"
#include "net/server_url.h"

namespace {

namespace nats = pgcdc::adapter::nats;
namespace net = pgcdc::net;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "nats_config_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

void CheckUrl(std::string_view url) {
  auto u = net::ParseServerUrl(url);
  if (!u) {
    Check(u.error().code() == pgcdc::ErrorCode::kConfig, "URL errors are kConfig");
    return;
  }
  const std::string redacted = net::RedactServerUrl(url);
  auto r = net::ParseServerUrl(redacted);
  Check(static_cast<bool>(r), "a redacted URL parses");
  Check(r->host == u->host && r->port == u->port && r->path == u->path,
        "redaction keeps host, port and path");
  Check(r->has_user_info == u->has_user_info, "redaction keeps the user-info");
  if (u->has_user_info) {
    Check(r->password == "xxx", "redaction replaces the secret");
    Check(u->lone_secret == r->lone_secret, "redaction keeps the user-info's form");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string_view first = in.substr(0, nl);
  const std::string_view channel = nl == std::string_view::npos ? "" : in.substr(nl + 1);

  CheckUrl(first);
  if (auto servers = nats::ParseServers(first); servers) {
    for (const auto& s : *servers) Check(static_cast<bool>(net::ParseServerUrl(s)), "server");
  } else {
    Check(servers.error().code() == pgcdc::ErrorCode::kConfig, "server list errors are kConfig");
  }
  (void)nats::RedactServers(first);

  if (nats::SubjectProblem(first).empty()) {
    auto subject = nats::SubjectFor(first, channel);
    if (subject) {
      Check(nats::SubjectProblem(*subject).empty(), "a mapped subject is valid");
      Check(subject->starts_with(std::string(first) + "."), "a mapped subject has the prefix");
    } else {
      Check(subject.error().code() == pgcdc::ErrorCode::kInvalidArgument,
            "subject errors are kInvalidArgument");
    }
  }
  return 0;
}
