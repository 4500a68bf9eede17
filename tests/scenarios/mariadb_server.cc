#include "mariadb_server.h"

#include <gtest/gtest.h>
#include <mysql.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>

namespace pgcdc::testing {

MariaDbClient::~MariaDbClient() {
  if (mysql_ != nullptr) mysql_close(mysql_);
}

std::string MariaDbClient::LastError() const { return mysql_error(mysql_); }

bool MariaDbClient::Exec(const std::string& sql, bool quiet) {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
    if (!quiet) ADD_FAILURE() << sql << ": " << mysql_error(mysql_);
    return false;
  }
  // Drain every result of a multi-statement string.
  do {
    if (MYSQL_RES* r = mysql_store_result(mysql_)) mysql_free_result(r);
  } while (mysql_next_result(mysql_) == 0);
  if (mysql_errno(mysql_) != 0) {
    if (!quiet) ADD_FAILURE() << sql << ": " << mysql_error(mysql_);
    return false;
  }
  return true;
}

std::vector<std::vector<std::optional<std::string>>> MariaDbClient::Query(const std::string& sql) {
  std::vector<std::vector<std::optional<std::string>>> rows;
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
    ADD_FAILURE() << sql << ": " << mysql_error(mysql_);
    return rows;
  }
  MYSQL_RES* res = mysql_store_result(mysql_);
  if (res == nullptr) return rows;
  const unsigned n = mysql_num_fields(res);
  while (MYSQL_ROW r = mysql_fetch_row(res)) {
    const unsigned long* len = mysql_fetch_lengths(res);
    std::vector<std::optional<std::string>> row(n);
    for (unsigned i = 0; i < n; ++i) {
      if (r[i] != nullptr) row[i] = std::string(r[i], len[i]);
    }
    rows.push_back(std::move(row));
  }
  mysql_free_result(res);
  return rows;
}

std::string MariaDbClient::Scalar(const std::string& sql) {
  auto rows = Query(sql);
  if (rows.empty() || rows[0].empty() || !rows[0][0]) return "";
  return *rows[0][0];
}

MariaDbServer::MariaDbServer(std::vector<std::string> extra)
    : extra_(std::move(extra)), port_(FreeTcpPort()) {
  EXPECT_TRUE(Start()) << "mariadbd did not start on port " << port_;
}

MariaDbServer::~MariaDbServer() { Kill(); }

bool MariaDbServer::Start() {
  const passwd* pw = ::getpwnam("mysql");
  if (pw == nullptr) {
    ADD_FAILURE() << "no mysql user (apt-get install mariadb-server)";
    return false;
  }
  if (!installed_) {
    if (::chown(dir_.path.c_str(), pw->pw_uid, pw->pw_gid) != 0) return false;
    auto r = RunCommand({"/usr/bin/mariadb-install-db", "--no-defaults", "--user=mysql",
                         "--datadir=" + dir_.path + "/data",
                         "--auth-root-authentication-method=normal", "--skip-test-db"});
    if (r.exit_code != 0) {
      ADD_FAILURE() << "mariadb-install-db failed: " << r.output;
      return false;
    }
    installed_ = true;
  }
  std::vector<std::string> args = {"--no-defaults",
                                   "--user=mysql",
                                   "--datadir=" + dir_.path + "/data",
                                   "--socket=" + dir_.path + "/s.sock",
                                   "--port=" + std::to_string(port_),
                                   "--bind-address=127.0.0.1",
                                   "--pid-file=" + dir_.path + "/pid",
                                   "--log-bin=" + dir_.path + "/data/binlog",
                                   "--binlog-format=ROW",
                                   "--binlog-row-image=FULL",
                                   "--binlog-row-metadata=FULL",
                                   "--server-id=1",
                                   "--log-error=" + dir_.path + "/err.log",
                                   "--innodb-flush-log-at-trx-commit=2",
                                   "--innodb-buffer-pool-size=64M",
                                   "--character-set-server=utf8mb4"};
  args.insert(args.end(), extra_.begin(), extra_.end());
  process_ = Process::Start({.args = args, .binary = "/usr/sbin/mariadbd"});
  if (!process_) return false;
  return Eventually([&] { return Connect(/*quiet=*/true) != nullptr; }, 60s);
}

void MariaDbServer::Kill() {
  if (!process_) return;
  process_->Signal(SIGCONT);
  process_->Signal(SIGKILL);
  process_->Wait();
  process_.reset();
}

void MariaDbServer::Pause() {
  if (process_) process_->Signal(SIGSTOP);
}

void MariaDbServer::Resume() {
  if (process_) process_->Signal(SIGCONT);
}

std::unique_ptr<MariaDbClient> MariaDbServer::Connect(bool quiet) const {
  std::unique_ptr<MariaDbClient> c(new MariaDbClient());
  c->mysql_ = mysql_init(nullptr);
  const unsigned int timeout = 5;
  mysql_optionsv(c->mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_optionsv(c->mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (mysql_real_connect(c->mysql_, "127.0.0.1", "root", "", nullptr, static_cast<unsigned>(port_),
                         nullptr, CLIENT_MULTI_STATEMENTS) == nullptr) {
    if (!quiet) ADD_FAILURE() << "connect to mariadb: " << mysql_error(c->mysql_);
    return nullptr;
  }
  return c;
}

std::vector<std::string> MariaDbServer::CliArgs() const {
  return {"mariadb", "-h", "127.0.0.1", "-P", std::to_string(port_), "-uroot"};
}

namespace {
std::unique_ptr<MariaDbServer>& SharedSlot() {
  static std::unique_ptr<MariaDbServer> slot;
  return slot;
}
}  // namespace

MariaDbServer& SharedMariaDb() {
  auto& slot = SharedSlot();
  if (!slot) {
    slot = std::make_unique<MariaDbServer>();
    std::atexit([] { SharedSlot().reset(); });
  }
  return *slot;
}

}  // namespace pgcdc::testing
