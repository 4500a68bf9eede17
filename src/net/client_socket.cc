#include "net/client_socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pgcdc::net {

namespace {

std::string SslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown TLS error" : out;
}

bool IsIpLiteral(const std::string& host) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

}  // namespace

struct ClientSocket::Impl {
  Endpoint endpoint;
  TlsOptions tls_options;
  int fd = -1;
  int wake_fd = -1;
  std::atomic<bool> interrupted{false};
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  char in[64 * 1024];

  ~Impl() {
    Drop();
    if (ctx != nullptr) SSL_CTX_free(ctx);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  void Drop() {
    if (ssl != nullptr) {
      SSL_free(ssl);
      ssl = nullptr;
    }
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
  }

  const std::string& Where() const { return endpoint.display; }

  // Waits for `events` on the socket (or an interrupt) until the deadline.
  Status Wait(short events, Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return Fail(ErrorCode::kTimeout, "timed out talking to " + Where());
    pollfd p[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    const int rc = ::poll(p, 2, static_cast<int>(std::min<int64_t>(left + 1, 60'000)));
    if (rc < 0 && errno != EINTR) {
      return Fail(ErrorCode::kConnection, std::string("poll: ") + std::strerror(errno));
    }
    if (interrupted.load()) return Fail(ErrorCode::kCancelled, "interrupted");
    return Ok();
  }

  Status InitTls();
  Status Connect(Clock::time_point deadline);
  Status Handshake(Clock::time_point deadline);

  enum class Io { kProgress, kWouldBlockRead, kWouldBlockWrite, kEof, kError };
  Io Write(std::string_view out, size_t& written, std::string& error);
  Io Read(size_t& got, std::string& error);
  Io SslStatus(int rc, std::string& error);

  // What one pass of the exchange loop could not make progress on.
  struct Blocked {
    bool write = false;  // nothing (more) to write, or the write would block
    bool read = false;   // the read would block
    short want = POLLIN;
  };
  // Writes more of `out` from `written`; false on a fatal error (in `error`).
  bool WriteSome(std::string_view out, size_t& written, Blocked& blocked, std::string& error);
  // Reads what is there into the reader; sets `eof` at the end of the stream.
  Status ReadSome(Reader& reader, Blocked& blocked, bool& eof);
  Status RunExchange(std::string_view out, Reader& reader, Clock::time_point deadline);
};

Status ClientSocket::Impl::InitTls() {
  if (ctx != nullptr) return Ok();
  ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) return Fail(ErrorCode::kUnknown, "TLS: " + SslErrors());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (tls_options.insecure_skip_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    const bool loaded =
        tls_options.ca_file.empty()
            ? SSL_CTX_set_default_verify_paths(ctx) == 1
            : SSL_CTX_load_verify_locations(ctx, tls_options.ca_file.c_str(), nullptr) == 1;
    if (!loaded) return Fail(ErrorCode::kConfig, "TLS: cannot load CA: " + SslErrors());
  }
  if (!tls_options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, tls_options.cert_file.c_str()) != 1) {
      return Fail(ErrorCode::kConfig, "TLS: cannot load client certificate " +
                                          tls_options.cert_file + ": " + SslErrors());
    }
    const std::string& key =
        tls_options.key_file.empty() ? tls_options.cert_file : tls_options.key_file;
    if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return Fail(ErrorCode::kConfig, "TLS: cannot load client key " + key + ": " + SslErrors());
    }
  }
  return Ok();
}

Status ClientSocket::Impl::Connect(Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(endpoint.port);
  if (int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Fail(ErrorCode::kConnection,
                "cannot resolve " + endpoint.host + ": " + std::string(gai_strerror(rc)));
  }
  std::string last = "no address";
  for (addrinfo* a = res; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last = std::strerror(errno);
      continue;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = std::strerror(errno);
        ::close(fd);
        fd = -1;
        continue;
      }
      Status st = Wait(POLLOUT, deadline);
      int err = 0;
      socklen_t len = sizeof err;
      if (st) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (!st || err != 0) {
        last = st ? std::strerror(err) : st.error().message();
        ::close(fd);
        fd = -1;
        if (!st && st.error().code() == ErrorCode::kCancelled) break;
        continue;
      }
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0) return Fail(ErrorCode::kConnection, "cannot connect to " + Where() + ": " + last);
  if (!endpoint.tls) return Ok();
  if (auto st = InitTls(); !st) {
    Drop();
    return st;
  }
  return Handshake(deadline);
}

Status ClientSocket::Impl::Handshake(Clock::time_point deadline) {
  ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  const std::string& host = endpoint.host;
  if (!IsIpLiteral(host)) SSL_set_tlsext_host_name(ssl, host.c_str());
  if (!tls_options.insecure_skip_verify) {
    if (IsIpLiteral(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
      SSL_set1_host(ssl, host.c_str());
    }
  }
  while (true) {
    ERR_clear_error();
    const int rc = SSL_connect(ssl);
    if (rc == 1) return Ok();
    const int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
      if (auto st = Wait(e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline); !st) {
        Drop();
        return st;
      }
      continue;
    }
    std::string why = SslErrors();
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) why = X509_verify_cert_error_string(verify);
    Drop();
    return Fail(ErrorCode::kConnection, "TLS handshake with " + Where() + " failed: " + why);
  }
}

ClientSocket::Impl::Io ClientSocket::Impl::Write(std::string_view out, size_t& written,
                                                 std::string& error) {
  const char* p = out.data() + written;
  const size_t n = out.size() - written;
  if (ssl != nullptr) {
    ERR_clear_error();
    const int rc = SSL_write(ssl, p, static_cast<int>(std::min<size_t>(n, 1 << 30)));
    if (rc > 0) {
      written += static_cast<size_t>(rc);
      return Io::kProgress;
    }
    return SslStatus(rc, error);
  }
  const ssize_t rc = ::send(fd, p, n, MSG_NOSIGNAL);
  if (rc >= 0) {
    written += static_cast<size_t>(rc);
    return Io::kProgress;
  }
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::kWouldBlockWrite;
  if (errno == EINTR) return Io::kProgress;
  error = std::strerror(errno);
  return Io::kError;
}

ClientSocket::Impl::Io ClientSocket::Impl::Read(size_t& got, std::string& error) {
  if (ssl != nullptr) {
    ERR_clear_error();
    const int rc = SSL_read(ssl, in, sizeof in);
    if (rc > 0) {
      got = static_cast<size_t>(rc);
      return Io::kProgress;
    }
    return SslStatus(rc, error);
  }
  const ssize_t rc = ::recv(fd, in, sizeof in, 0);
  if (rc > 0) {
    got = static_cast<size_t>(rc);
    return Io::kProgress;
  }
  if (rc == 0) return Io::kEof;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return Io::kWouldBlockRead;
  if (errno == EINTR) {
    got = 0;
    return Io::kProgress;
  }
  error = std::strerror(errno);
  return Io::kError;
}

ClientSocket::Impl::Io ClientSocket::Impl::SslStatus(int rc, std::string& error) {
  switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
      return Io::kWouldBlockRead;
    case SSL_ERROR_WANT_WRITE:
      return Io::kWouldBlockWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Io::kEof;
    case SSL_ERROR_SYSCALL:
      if (errno == 0 || errno == ECONNRESET || errno == EPIPE) {
        error = "connection closed by peer";
        return errno == 0 ? Io::kEof : Io::kError;
      }
      error = std::strerror(errno);
      return Io::kError;
    default:
      error = "TLS: " + SslErrors();
      return Io::kError;
  }
}

bool ClientSocket::Impl::WriteSome(std::string_view out, size_t& written, Blocked& blocked,
                                   std::string& error) {
  blocked.write = written == out.size();
  if (written == out.size()) return true;
  switch (Write(out, written, error)) {
    case Io::kProgress:
      break;
    case Io::kWouldBlockWrite:
      blocked.write = true;
      blocked.want |= POLLOUT;
      break;
    case Io::kWouldBlockRead:  // TLS renegotiation: wait to read
      blocked.write = true;
      break;
    case Io::kEof:
    case Io::kError:
      if (error.empty()) error = "connection closed";
      return false;
  }
  return true;
}

Status ClientSocket::Impl::ReadSome(Reader& reader, Blocked& blocked, bool& eof) {
  size_t got = 0;
  std::string error;
  switch (Read(got, error)) {
    case Io::kProgress:
      if (got == 0) break;
      return reader.OnData(std::string_view(in, got));
    case Io::kWouldBlockRead:
      blocked.read = true;
      break;
    case Io::kWouldBlockWrite:
      blocked.read = true;
      blocked.want |= POLLOUT;
      break;
    case Io::kEof:
      eof = true;
      break;
    case Io::kError:
      return Fail(ErrorCode::kConnection, error);
  }
  return Ok();
}

Status ClientSocket::Impl::RunExchange(std::string_view out, Reader& reader,
                                       Clock::time_point deadline) {
  size_t written = 0;
  bool eof = false;
  std::string error;
  while (!reader.Done()) {
    // Checked here too, not only when waiting: a peer that never stops
    // sending must not keep us past the deadline or a shutdown.
    if (interrupted.load()) return Fail(ErrorCode::kCancelled, "interrupted");
    if (Clock::now() >= deadline) return Fail(ErrorCode::kTimeout, "timed out");
    Blocked blocked;
    if (!WriteSome(out, written, blocked, error)) return Fail(ErrorCode::kConnection, error);
    if (auto st = ReadSome(reader, blocked, eof); !st) return st;
    if (eof) {
      reader.OnEof();
      if (reader.Done()) break;
      return Fail(ErrorCode::kConnection, "connection closed by the server");
    }
    if (blocked.read && blocked.write) {
      if (auto st = Wait(blocked.want, deadline); !st) return st;
    }
  }
  // An answer before the whole request was written (e.g. HTTP 413 while the
  // body was still going out) leaves the stream out of step: drop it.
  if (eof || written < out.size()) Drop();
  return Ok();
}

ClientSocket::ClientSocket(Endpoint endpoint, TlsOptions tls) : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = std::move(endpoint);
  if (impl_->endpoint.display.empty()) {
    impl_->endpoint.display = impl_->endpoint.host + ":" + std::to_string(impl_->endpoint.port);
  }
  impl_->tls_options = std::move(tls);
  impl_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

ClientSocket::~ClientSocket() = default;

bool ClientSocket::connected() const { return impl_->fd >= 0; }
void ClientSocket::Drop() { impl_->Drop(); }
const Endpoint& ClientSocket::endpoint() const { return impl_->endpoint; }

void ClientSocket::Interrupt() {
  impl_->interrupted = true;
  const uint64_t one = 1;
  if (impl_->wake_fd >= 0) {
    [[maybe_unused]] ssize_t n = ::write(impl_->wake_fd, &one, sizeof one);
  }
}

Status ClientSocket::EnsureConnected(Clock::time_point deadline) {
  Impl& m = *impl_;
  if (m.interrupted.load()) return Fail(ErrorCode::kCancelled, "interrupted");
  // A connection the peer closed while idle shows as readable (EOF).
  if (m.fd >= 0) {
    pollfd p{m.fd, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) m.Drop();
  }
  if (m.fd < 0) {
    if (auto st = m.Connect(deadline); !st) return st;
    ++connects_;
  }
  return Ok();
}

Status ClientSocket::Exchange(std::string_view out, Reader& reader, Clock::time_point deadline) {
  Impl& m = *impl_;
  if (auto st = EnsureConnected(deadline); !st) return st;
  Status st = m.RunExchange(out, reader, deadline);
  if (!st) m.Drop();
  return st;
}

}  // namespace pgcdc::net
