#include "rpc/server.h"

#include <fstream>
#include <sstream>

#include "core/bytes.h"
#include "core/log.h"
#include "net/http_server.h"

namespace pgcdc::rpc {

namespace {

Result<std::string> ReadPem(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kConfig, std::string(what) + " " + path + ": cannot be read");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) return Fail(ErrorCode::kConfig, std::string(what) + " " + path + ": empty");
  return ss.str();
}

Result<std::shared_ptr<::grpc::ServerCredentials>> Credentials(const ServerOptions& o) {
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) {
    return ::grpc::InsecureServerCredentials();
  }
  auto cert = ReadPem(o.tls_cert_file, "TLS certificate");
  if (!cert) return Fail(cert.error());
  auto key = ReadPem(o.tls_key_file, "TLS key");
  if (!key) return Fail(key.error());
  ::grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return ::grpc::SslServerCredentials(ssl);
}

}  // namespace

Result<std::string> GrpcListenAddress(const std::string& addr) {
  auto a = net::ParseListenAddress(addr);
  if (!a) return Fail(a.error());
  std::string host = a->host.empty() ? "[::]" : a->host;
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  return host + ":" + std::to_string(a->port);
}

void ValidateServerOptions(std::string_view section, const ServerOptions& options,
                           std::vector<std::string>& errors) {
  const std::string name(section);
  if (auto a = net::ParseListenAddress(options.addr); !a) {
    errors.push_back(name + ".addr: " + a.error().message());
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    errors.push_back(name + ".tls_cert: --" + name + "-tls-cert and --" + name +
                     "-tls-key go together");
  }
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                              const std::vector<::grpc::Service*>& services) {
  auto listen = GrpcListenAddress(options.addr);
  if (!listen) return Fail(listen.error().Wrap(options.name + " address"));
  auto creds = Credentials(options);
  if (!creds) return Fail(creds.error().Wrap(options.name));
  ::grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(*listen, *creds, &port);
  // One listener only: SO_REUSEPORT would let a second pgcdc bind the same port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  if (options.max_message_bytes > 0) {
    builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  }
  for (auto* s : services) builder.RegisterService(s);
  std::unique_ptr<Server> server(new Server());
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || port == 0) {
    return Fail(ErrorCode::kConnection,
                options.name + ": cannot listen on " + options.addr + " (address in use?)");
  }
  const auto colon = listen->rfind(':');
  server->addr_ = listen->substr(0, colon + 1) + std::to_string(port);
  log::Info("grpc server listening", {{"server", options.name}, {"addr", server->addr_}});
  return server;
}

Server::~Server() { Stop(std::chrono::milliseconds(0)); }

void Server::Stop(std::chrono::milliseconds grace) {
  if (stopped_ || !server_) return;
  stopped_ = true;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
}

::grpc::Status CheckBearer(const ::grpc::ServerContextBase& context, const std::string& token) {
  if (token.empty()) return ::grpc::Status::OK;
  const auto& md = context.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return {::grpc::StatusCode::UNAUTHENTICATED, "missing authorization: Bearer <token> metadata"};
  }
  const std::string_view got(it->second.data(), it->second.size());
  const std::string want = "Bearer " + token;
  if (!ConstantTimeEquals(got, want)) {
    return {::grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token"};
  }
  return ::grpc::Status::OK;
}

}  // namespace pgcdc::rpc
