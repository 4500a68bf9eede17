#include "detector/mysql/client.h"

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <poll.h>
#include <sys/socket.h>

// After mysql.h, which it needs.
#include <mariadb_rpl.h>

#include <charconv>
#include <cstring>

namespace pgcdc::detector::mysql {

namespace {

struct StmtCloser {
  void operator()(MYSQL_STMT* s) const { mysql_stmt_close(s); }
};
struct ResCloser {
  void operator()(MYSQL_RES* r) const { mysql_free_result(r); }
};

// How a server/client error number is classified (see Supervisor is_fatal).
ErrorCode CodeOf(unsigned int err) {
  switch (err) {
    case ER_ACCESS_DENIED_ERROR:
    case ER_DBACCESS_DENIED_ERROR:
    case ER_SPECIFIC_ACCESS_DENIED_ERROR:
    case ER_TABLEACCESS_DENIED_ERROR:
      return ErrorCode::kInvalidArgument;
    case ER_MASTER_FATAL_ERROR_READING_BINLOG:
      return ErrorCode::kNotFound;
    default:
      return ErrorCode::kConnection;
  }
}

}  // namespace

Result<ConnectOptions> ParseAddr(const std::string& addr) {
  ConnectOptions o;
  std::string host = addr;
  std::string port;
  if (!addr.empty() && addr.front() == '[') {
    const size_t close = addr.find(']');
    if (close == std::string::npos) {
      return Fail(ErrorCode::kInvalidArgument, "mysql.addr: bad address \"" + addr + "\"");
    }
    host = addr.substr(1, close - 1);
    if (close + 1 < addr.size() && addr[close + 1] == ':') port = addr.substr(close + 2);
  } else if (const size_t colon = addr.rfind(':'); colon != std::string::npos) {
    host = addr.substr(0, colon);
    port = addr.substr(colon + 1);
  }
  if (host.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "mysql.addr: no host in \"" + addr + "\"");
  }
  o.host = host;
  if (!port.empty()) {
    unsigned v = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || end != port.data() + port.size() || v == 0 || v > 65535) {
      return Fail(ErrorCode::kInvalidArgument, "mysql.addr: bad port in \"" + addr + "\"");
    }
    o.port = static_cast<uint16_t>(v);
  }
  return o;
}

Result<std::unique_ptr<Client>> Client::Connect(const ConnectOptions& options) {
  std::unique_ptr<Client> c(new Client());
  c->mysql_ = mysql_init(nullptr);
  if (c->mysql_ == nullptr) return Fail(ErrorCode::kIo, "mysql: out of memory");
  const unsigned int connect_timeout = static_cast<unsigned int>(options.connect_timeout.count());
  mysql_optionsv(c->mysql_, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  if (options.read_timeout.count() > 0) {
    const unsigned int read_timeout = static_cast<unsigned int>(options.read_timeout.count());
    mysql_optionsv(c->mysql_, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
  }
  mysql_optionsv(c->mysql_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (mysql_real_connect(c->mysql_, options.host.c_str(), options.user.c_str(),
                         options.password.c_str(), nullptr, options.port, nullptr,
                         CLIENT_REMEMBER_OPTIONS) == nullptr) {
    return Fail(c->LastError("connect to " + options.host + ":" + std::to_string(options.port)));
  }
  c->fd_ = static_cast<int>(mysql_get_socket(c->mysql_));
  return c;
}

Client::~Client() {
  if (event_ != nullptr) mariadb_free_rpl_event(event_);
  if (rpl_ != nullptr) mariadb_rpl_close(rpl_);
  if (mysql_ != nullptr) mysql_close(mysql_);
}

Error Client::LastError(const std::string& what) const {
  const unsigned int err = mysql_errno(mysql_);
  if (interrupted_) return Error(ErrorCode::kCancelled, "mysql: interrupted");
  return Error(CodeOf(err), "mysql: " + what + ": " + mysql_error(mysql_) + " (error " +
                                std::to_string(err) + ")");
}

Result<std::vector<Row>> Client::Query(const std::string& sql) {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return Fail(LastError(sql));
  std::unique_ptr<MYSQL_RES, ResCloser> res(mysql_store_result(mysql_));
  std::vector<Row> rows;
  if (!res) {
    if (mysql_field_count(mysql_) != 0) return Fail(LastError(sql));
    return rows;
  }
  const unsigned int n = mysql_num_fields(res.get());
  while (MYSQL_ROW r = mysql_fetch_row(res.get())) {
    const unsigned long* lens = mysql_fetch_lengths(res.get());
    Row row(n);
    for (unsigned int i = 0; i < n; ++i) {
      if (r[i] != nullptr) row[i] = std::string(r[i], lens[i]);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Status Client::QueryEach(const std::string& sql, const std::function<Status(const RowView&)>& row) {
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return Fail(LastError(sql));
  std::unique_ptr<MYSQL_RES, ResCloser> res(mysql_use_result(mysql_));
  if (!res) {
    if (mysql_field_count(mysql_) != 0) return Fail(LastError(sql));
    return Ok();
  }
  const unsigned int n = mysql_num_fields(res.get());
  RowView view(n);
  while (MYSQL_ROW r = mysql_fetch_row(res.get())) {
    const unsigned long* lens = mysql_fetch_lengths(res.get());
    for (unsigned int i = 0; i < n; ++i) {
      view[i] = r[i] == nullptr ? std::nullopt : std::optional(std::string_view(r[i], lens[i]));
    }
    if (auto st = row(view); !st) {
      // Freeing an unfinished result would read every remaining row first:
      // drop the connection instead (it cannot be used for anything else).
      ::shutdown(fd_, SHUT_RDWR);
      return st;
    }
  }
  if (mysql_errno(mysql_) != 0) return Fail(LastError(sql));
  return Ok();
}

Result<std::vector<Row>> Client::Query(const std::string& sql,
                                       const std::vector<std::string>& params) {
  std::unique_ptr<MYSQL_STMT, StmtCloser> st(mysql_stmt_init(mysql_));
  if (!st) return Fail(LastError(sql));
  auto stmt_error = [&] {
    return Error(CodeOf(mysql_stmt_errno(st.get())),
                 "mysql: " + sql + ": " + mysql_stmt_error(st.get()));
  };
  if (mysql_stmt_prepare(st.get(), sql.data(), sql.size()) != 0) return Fail(stmt_error());
  std::vector<MYSQL_BIND> in(params.size());
  std::vector<unsigned long> in_len(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    std::memset(&in[i], 0, sizeof(MYSQL_BIND));
    in_len[i] = params[i].size();
    in[i].buffer_type = MYSQL_TYPE_STRING;
    in[i].buffer = const_cast<char*>(params[i].data());
    in[i].buffer_length = params[i].size();
    in[i].length = &in_len[i];
  }
  if ((!params.empty() && mysql_stmt_bind_param(st.get(), in.data()) != 0) ||
      mysql_stmt_execute(st.get()) != 0) {
    return Fail(stmt_error());
  }
  std::vector<Row> rows;
  std::unique_ptr<MYSQL_RES, ResCloser> meta(mysql_stmt_result_metadata(st.get()));
  if (!meta) return rows;
  const unsigned int n = mysql_num_fields(meta.get());
  constexpr size_t kInline = 256;
  std::vector<MYSQL_BIND> out(n);
  std::vector<unsigned long> len(n);
  std::vector<my_bool> null(n);
  std::vector<std::string> buf(n, std::string(kInline, '\0'));
  for (unsigned int i = 0; i < n; ++i) {
    std::memset(&out[i], 0, sizeof(MYSQL_BIND));
    out[i].buffer_type = MYSQL_TYPE_STRING;
    out[i].buffer = buf[i].data();
    out[i].buffer_length = kInline;
    out[i].length = &len[i];
    out[i].is_null = &null[i];
  }
  if (mysql_stmt_bind_result(st.get(), out.data()) != 0) return Fail(stmt_error());
  int rc = 0;
  while ((rc = mysql_stmt_fetch(st.get())) == 0 || rc == MYSQL_DATA_TRUNCATED) {
    Row row(n);
    for (unsigned int i = 0; i < n; ++i) {
      if (null[i] != 0) continue;
      if (len[i] <= kInline) {
        row[i] = buf[i].substr(0, len[i]);
        continue;
      }
      std::string big(len[i], '\0');
      MYSQL_BIND b;
      std::memset(&b, 0, sizeof b);
      b.buffer_type = MYSQL_TYPE_STRING;
      b.buffer = big.data();
      b.buffer_length = big.size();
      if (mysql_stmt_fetch_column(st.get(), &b, i, 0) != 0) return Fail(stmt_error());
      row[i] = std::move(big);
    }
    rows.push_back(std::move(row));
  }
  if (rc == 1) return Fail(stmt_error());
  return rows;
}

Status Client::Exec(const std::string& sql) {
  auto r = Query(sql);
  if (!r) return Fail(r.error());
  return Ok();
}

Result<std::string> Client::Scalar(const std::string& sql) {
  auto r = Query(sql);
  if (!r) return Fail(r.error());
  if (r->empty() || r->front().empty()) {
    return Fail(ErrorCode::kProtocol, "mysql: " + sql + ": no result");
  }
  return r->front()[0].value_or("");
}

Status Client::StartDump(uint32_t server_id, const std::string& file, uint64_t pos) {
  rpl_ = mariadb_rpl_init(mysql_);
  if (rpl_ == nullptr) return Fail(LastError("binlog dump"));
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_SERVER_ID, static_cast<unsigned int>(server_id));
  if (!file.empty()) {
    mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FILENAME, file.c_str(), file.size());
  }
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_START, static_cast<unsigned long>(pos));
  mariadb_rpl_optionsv(rpl_, MARIADB_RPL_FLAGS, 0u);
  if (mariadb_rpl_open(rpl_) != 0) {
    return Fail(LastError("start binlog dump at " + file + ":" + std::to_string(pos)));
  }
  return Ok();
}

Result<std::span<const uint8_t>> Client::NextEvent() {
  event_ = mariadb_rpl_fetch(rpl_, event_);
  if (event_ == nullptr) {
    if (mysql_errno(mysql_) == 0 && !interrupted_) {
      return Fail(ErrorCode::kConnection, "mysql: the server ended the binlog dump");
    }
    return Fail(LastError("read binlog"));
  }
  const size_t ofs = event_->raw_data_ofs;
  if (event_->raw_data == nullptr || event_->raw_data_size < ofs) {
    return Fail(ErrorCode::kProtocol, "mysql: empty binlog packet");
  }
  return std::span<const uint8_t>(event_->raw_data + ofs, event_->raw_data_size - ofs);
}

void Client::Interrupt() {
  interrupted_ = true;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

bool Client::Readable(std::chrono::milliseconds wait) const {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(wait.count())) > 0;
}

}  // namespace pgcdc::detector::mysql
