// Test PKI made with the openssl CLI in a temp directory: ca.pem/ca.key, a
// server certificate for 127.0.0.1 (server.pem/server.key, SAN IP:127.0.0.1)
// and a client certificate (client.pem/client.key, CN pgcdc-client,
// clientAuth). Removed with the object.
#pragma once

#include <string>

namespace pgcdc::testing {

struct TestCertificates {
  std::string dir;
  // Creates the directory and the files; false (with a test failure) on error.
  bool Generate();
  ~TestCertificates();
};

}  // namespace pgcdc::testing
