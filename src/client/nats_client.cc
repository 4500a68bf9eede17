#include "client/nats_client.h"

#include <nats/nats.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "net/server_url.h"

namespace pgcdc::client::nats {

Result<std::vector<std::string>> ParseServers(std::string_view url) {
  std::vector<std::string> out;
  size_t pos = 0;
  for (;;) {
    const size_t comma = std::min(url.find(',', pos), url.size());
    const std::string_view one = url.substr(pos, comma - pos);
    auto bad = [&](const std::string& why) {
      return Fail(ErrorCode::kConfig,
                  "invalid NATS URL \"" + net::RedactServerUrl(one) + "\": " + why);
    };
    if (!one.starts_with("nats://") && !one.starts_with("tls://")) {
      return bad("expected nats://[user:password@]host[:port] or tls:// for TLS");
    }
    auto parsed = net::ParseServerUrl(one);
    if (!parsed) return bad(parsed.error().message());
    if (!parsed->path.empty()) return bad("a NATS URL has no path");
    out.emplace_back(one);
    if (comma == url.size()) break;
    pos = comma + 1;
  }
  return out;
}

std::string RedactServers(std::string_view url) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    const size_t comma = std::min(url.find(',', pos), url.size());
    out += net::RedactServerUrl(url.substr(pos, comma - pos));
    if (comma == url.size()) return out;
    out += ',';
    pos = comma + 1;
  }
}

void ValidateConnection(const Connection& c, std::string_view user,
                        std::vector<std::string>& errors) {
  if (c.url.empty()) {
    errors.push_back("nats.url: required for " + std::string(user) + " (--nats-url)");
  } else if (auto s = ParseServers(c.url); !s) {
    errors.push_back("nats.url: " + s.error().message());
  }
  for (const auto& [key, path] :
       {std::pair{"nats.cred_file", &c.cred_file}, {"nats.tls_ca_file", &c.tls_ca_file}}) {
    if (!path->empty() && ::access(path->c_str(), R_OK) != 0) {
      errors.push_back(std::string(key) + ": cannot read \"" + *path + "\"");
    }
  }
}

natsStatus ConfigureOptions(natsOptions* opts, const Connection& c,
                            const std::vector<std::string>& servers,
                            std::chrono::milliseconds timeout) {
  std::vector<const char*> urls;
  bool tls = !c.tls_ca_file.empty();
  for (const auto& u : servers) {
    urls.push_back(u.c_str());
    tls = tls || u.starts_with("tls://");
  }
  natsStatus s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetName(opts, "pgcdc");
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, false);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, timeout.count());
  if (s == NATS_OK && tls) s = natsOptions_SetSecure(opts, true);
  if (s == NATS_OK && !c.tls_ca_file.empty()) {
    s = natsOptions_LoadCATrustedCertificates(opts, c.tls_ca_file.c_str());
  }
  if (s == NATS_OK && !c.cred_file.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(opts, c.cred_file.c_str(), nullptr);
  }
  return s;
}

std::string ErrorText(natsStatus s) {
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  if (last != s || text == nullptr || *text == '\0') return natsStatus_GetText(s);
  // libnats prefixes the source location: "(conn.c:2088): No server …".
  std::string_view t = text;
  if (t.starts_with('(')) {
    if (const size_t end = t.find("): "); end != std::string_view::npos) t.remove_prefix(end + 3);
  }
  return std::string(t);
}

}  // namespace pgcdc::client::nats
