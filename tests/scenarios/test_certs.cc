#include "test_certs.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "harness.h"

namespace pgcdc::testing {

bool TestCertificates::Generate() {
  std::string t = (std::filesystem::temp_directory_path() / "pgcdc-certs-XXXXXX").string();
  if (::mkdtemp(t.data()) == nullptr) return false;
  dir = t;
  auto run = [&](std::vector<std::string> argv) {
    auto r = RunCommand(argv);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.exit_code == 0;
  };
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                       "-nodes"};
  auto req = [&](const std::string& name, const std::string& cn) {
    std::vector<std::string> a = {"openssl", "req"};
    a.insert(a.end(), ec.begin(), ec.end());
    a.insert(a.end(), {"-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".csr",
                       "-subj", "/CN=" + cn});
    return run(a);
  };
  auto sign = [&](const std::string& name, const std::string& ext) {
    std::ofstream(dir + "/" + name + ".ext") << ext << "\n";
    return run({"openssl", "x509", "-req", "-in", dir + "/" + name + ".csr", "-CA", dir + "/ca.pem",
                "-CAkey", dir + "/ca.key", "-CAcreateserial", "-days", "1", "-out",
                dir + "/" + name + ".pem", "-extfile", dir + "/" + name + ".ext"});
  };
  std::vector<std::string> ca = {"openssl", "req", "-x509"};
  ca.insert(ca.end(), ec.begin(), ec.end());
  ca.insert(ca.end(), {"-keyout", dir + "/ca.key", "-out", dir + "/ca.pem", "-days", "1", "-subj",
                       "/CN=pgcdc test CA"});
  return run(ca) && req("server", "127.0.0.1") && sign("server", "subjectAltName=IP:127.0.0.1") &&
         req("client", "pgcdc-client") && sign("client", "extendedKeyUsage=clientAuth");
}

TestCertificates::~TestCertificates() {
  if (!dir.empty()) std::filesystem::remove_all(dir);
}

}  // namespace pgcdc::testing
