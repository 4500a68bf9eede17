#include "net/tls_server.h"

namespace pgcdc::net {

namespace ssl = boost::asio::ssl;

Result<std::unique_ptr<ssl::context>> LoadServerTls(const std::string& cert_file,
                                                    const std::string& key_file) {
  if (cert_file.empty() || key_file.empty()) {
    return Fail(ErrorCode::kConfig, "TLS needs both a certificate and a key");
  }
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec) return Fail(ErrorCode::kConfig, "TLS certificate " + cert_file + ": " + ec.message());
  ctx->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return Fail(ErrorCode::kConfig, "TLS key " + key_file + ": " + ec.message());
  return ctx;
}

}  // namespace pgcdc::net
