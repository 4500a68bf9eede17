// TLS server contexts for pgcdc's listeners (the HTTP servers, the Kafka
// protocol broker): TLS 1.2 or later, a PEM certificate chain and key.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "core/error.h"

namespace pgcdc::net {

// kConfig errors name the file that failed, or say that both are needed when
// only one is set.
Result<std::unique_ptr<boost::asio::ssl::context>> LoadServerTls(const std::string& cert_file,
                                                                 const std::string& key_file);

}  // namespace pgcdc::net
