#include "net/http1_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
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
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "core/json.h"

namespace pgcdc::net {

namespace {

constexpr size_t kMaxLine = 64 * 1024;      // status line, header line or chunk size line
constexpr size_t kMaxHeaders = 256 * 1024;  // all header lines of one response

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated header value lists `token` (case-insensitive).
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (IEquals(TrimView(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

Error ProtocolError(std::string what) {
  return Error(ErrorCode::kProtocol, "HTTP response: " + std::move(what));
}

// A Content-Length value: 1 to 18 decimal digits.
std::optional<int64_t> ParseContentLength(std::string_view value) {
  if (value.empty() || value.size() > 18 ||
      !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int64_t n = 0;
  for (char c : value) n = n * 10 + (c - '0');
  return n;
}

// The size on a chunk-size line (1 to 15 hex digits, extensions after ';'
// ignored).
std::optional<int64_t> ParseChunkSize(std::string_view line) {
  const std::string_view hex = TrimView(line.substr(0, line.find(';')));
  if (hex.empty() || hex.size() > 15) return std::nullopt;
  int64_t n = 0;
  for (char c : hex) {
    const int d = json::HexValue(c);
    if (d < 0) return std::nullopt;
    n = n * 16 + d;
  }
  return n;
}

}  // namespace

// ---- URL ------------------------------------------------------------------

Result<Http1Url> ParseHttp1Url(std::string_view url) {
  Http1Url u;
  auto bad = [&](std::string why) {
    return Fail(ErrorCode::kConfig, "invalid URL \"" + std::string(url) + "\": " + why);
  };
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("expected http:// or https://");
  const std::string_view scheme = url.substr(0, sep);
  if (IEquals(scheme, "https")) {
    u.tls = true;
  } else if (!IEquals(scheme, "http")) {
    return bad("expected http:// or https://");
  }
  std::string_view rest = url.substr(sep + 3);
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) {
    return bad(
        "credentials in the URL are not supported here; send an Authorization header "
        "instead");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("unexpected characters after the IPv6 address");
      port = after.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return bad("no host");
  u.host = std::string(host);
  u.port = u.tls ? 443 : 80;
  if (!port.empty()) {
    unsigned value = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || value > 65535) return bad("invalid port");
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value == 0 || value > 65535) return bad("invalid port");
    u.port = static_cast<uint16_t>(value);
  }
  // Origin-form target: path and query, never the fragment.
  rest = rest.substr(0, rest.find('#'));
  if (rest.empty() || rest.front() == '?') u.target = "/";
  u.target.append(rest);
  for (char c : u.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad("invalid character in path");
  }
  u.host_header = authority.front() == '[' ? "[" + u.host + "]" : u.host;
  if (u.port != (u.tls ? 443 : 80)) u.host_header += ":" + std::to_string(u.port);
  return u;
}

// ---- response parser ---------------------------------------------------------

void Http1ResponseParser::Reset() {
  state_ = State::kStatus;
  line_.clear();
  cur_ = {};
  chunked_ = until_close_ = has_length_ = false;
  remaining_ = 0;
}

void Http1ResponseParser::KeepBody(std::string_view data) {
  if (cur_.body.size() < max_body_) {
    cur_.body.append(data.substr(0, max_body_ - cur_.body.size()));
  }
}

void Http1ResponseParser::Finish(std::vector<Http1Response>& out) {
  out.push_back(std::move(cur_));
  cur_ = {};
  state_ = State::kStatus;
  chunked_ = until_close_ = has_length_ = false;
  remaining_ = 0;
}

bool Http1ResponseParser::Eof(std::vector<Http1Response>& out) {
  if (state_ == State::kBody && until_close_) {
    cur_.close = true;
    Finish(out);
    return true;
  }
  return false;
}

Status Http1ResponseParser::Line(std::string_view line, std::vector<Http1Response>& out) {
  switch (state_) {
    case State::kStatus:
      return StatusLine(line);
    case State::kHeaders:
      return line.empty() ? EndOfHeaders(out) : HeaderLine(line);
    case State::kChunkSize:
      return ChunkSizeLine(line);
    case State::kChunkDataEnd:
      if (!line.empty()) return Fail(ProtocolError("missing CRLF after chunk data"));
      state_ = State::kChunkSize;
      return Ok();
    case State::kTrailers:
      if (line.empty()) Finish(out);
      return Ok();
    case State::kBody:
    case State::kChunkData:
      break;
  }
  return Fail(ProtocolError("parser state error"));
}

Status Http1ResponseParser::StatusLine(std::string_view line) {
  if (line.empty()) return Ok();  // tolerate stray empty lines between responses
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (line.size() < 12 || !line.starts_with("HTTP/1.") || line[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(line[9])) ||
      !std::isdigit(static_cast<unsigned char>(line[10])) ||
      !std::isdigit(static_cast<unsigned char>(line[11])) ||
      (line.size() > 12 && line[12] != ' ')) {
    return Fail(ProtocolError("bad status line \"" + std::string(line.substr(0, 64)) + "\""));
  }
  cur_ = {};
  cur_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  if (line[7] == '0') cur_.close = true;  // HTTP/1.0 without keep-alive
  chunked_ = until_close_ = has_length_ = false;
  remaining_ = 0;
  state_ = State::kHeaders;
  header_bytes_ = 0;
  return Ok();
}

Status Http1ResponseParser::HeaderLine(std::string_view line) {
  header_bytes_ += line.size();
  if (header_bytes_ > kMaxHeaders) return Fail(ProtocolError("headers too large"));
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Fail(ProtocolError("bad header line"));
  }
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = TrimView(line.substr(colon + 1));
  if (IEquals(name, "content-length")) {
    const std::optional<int64_t> n = ParseContentLength(value);
    if (!n) return Fail(ProtocolError("bad Content-Length"));
    if (has_length_ && *n != remaining_) {
      return Fail(ProtocolError("conflicting Content-Length headers"));
    }
    has_length_ = true;
    remaining_ = *n;
  } else if (IEquals(name, "transfer-encoding")) {
    chunked_ = HasToken(value, "chunked");
    if (!chunked_) until_close_ = true;  // another coding: body runs until close
  } else if (IEquals(name, "connection")) {
    if (HasToken(value, "close")) cur_.close = true;
    if (HasToken(value, "keep-alive")) cur_.close = false;
  } else if (IEquals(name, "retry-after")) {
    cur_.retry_after = std::string(value);
  }
  return Ok();
}

Status Http1ResponseParser::EndOfHeaders(std::vector<Http1Response>& out) {
  if (cur_.status >= 100 && cur_.status < 200) {
    if (cur_.status == 101) return Fail(ProtocolError("unexpected protocol switch (101)"));
    cur_ = {};  // interim response: the real one follows
    state_ = State::kStatus;
    return Ok();
  }
  if (cur_.status == 204 || cur_.status == 304) {
    Finish(out);
  } else if (chunked_) {
    state_ = State::kChunkSize;
  } else if (until_close_ || !has_length_) {
    until_close_ = true;
    cur_.close = true;
    state_ = State::kBody;
  } else if (remaining_ == 0) {
    Finish(out);
  } else {
    state_ = State::kBody;
  }
  return Ok();
}

Status Http1ResponseParser::ChunkSizeLine(std::string_view line) {
  const std::optional<int64_t> n = ParseChunkSize(line);
  if (!n) return Fail(ProtocolError("bad chunk size"));
  if (*n == 0) {
    state_ = State::kTrailers;
  } else {
    remaining_ = *n;
    state_ = State::kChunkData;
  }
  return Ok();
}

Status Http1ResponseParser::Feed(std::string_view data, std::vector<Http1Response>& out) {
  while (!data.empty()) {
    if (state_ == State::kBody) {
      if (until_close_) {
        KeepBody(data);
        return Ok();
      }
      const size_t n = static_cast<size_t>(std::min<int64_t>(remaining_, data.size()));
      KeepBody(data.substr(0, n));
      data.remove_prefix(n);
      remaining_ -= static_cast<int64_t>(n);
      if (remaining_ == 0) Finish(out);
      continue;
    }
    if (state_ == State::kChunkData) {
      const size_t n = static_cast<size_t>(std::min<int64_t>(remaining_, data.size()));
      KeepBody(data.substr(0, n));
      data.remove_prefix(n);
      remaining_ -= static_cast<int64_t>(n);
      if (remaining_ == 0) state_ = State::kChunkDataEnd;
      continue;
    }
    // Line-based states.
    const size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      if (line_.size() + data.size() > kMaxLine) return Fail(ProtocolError("line too long"));
      line_.append(data);
      return Ok();
    }
    std::string_view line;
    if (line_.empty()) {
      line = data.substr(0, nl);
    } else {
      if (line_.size() + nl > kMaxLine) return Fail(ProtocolError("line too long"));
      line_.append(data.substr(0, nl));
      line = line_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    data.remove_prefix(nl + 1);
    Status st = Line(line, out);
    line_.clear();
    if (!st) return st;
  }
  return Ok();
}

// ---- connection ---------------------------------------------------------------

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

struct Http1Connection::Impl {
  Http1Url url;
  Http1TlsOptions tls_options;
  int fd = -1;
  int wake_fd = -1;
  std::atomic<bool> interrupted{false};
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  Http1ResponseParser parser{256};
  std::string out;  // pending request bytes
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
    parser.Reset();
  }

  std::string Where() const { return url.host_header; }

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

  Status InitTls() {
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

  Status Connect(Clock::time_point deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(url.port);
    if (int rc = ::getaddrinfo(url.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
      return Fail(ErrorCode::kConnection,
                  "cannot resolve " + url.host + ": " + std::string(gai_strerror(rc)));
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
    if (fd < 0) {
      return Fail(ErrorCode::kConnection, "cannot connect to " + Where() + ": " + last);
    }
    if (url.tls) {
      if (auto st = InitTls(); !st) {
        Drop();
        return st;
      }
      ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      if (!IsIpLiteral(url.host)) SSL_set_tlsext_host_name(ssl, url.host.c_str());
      if (!tls_options.insecure_skip_verify) {
        if (IsIpLiteral(url.host)) {
          X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), url.host.c_str());
        } else {
          SSL_set1_host(ssl, url.host.c_str());
        }
      }
      while (true) {
        ERR_clear_error();
        const int rc = SSL_connect(ssl);
        if (rc == 1) break;
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
    return Ok();
  }

  // Non-blocking write of out[*written..]. Returns false on a fatal error.
  enum class Io { kProgress, kWouldBlockRead, kWouldBlockWrite, kEof, kError };
  Io Write(size_t& written, std::string& error) {
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

  Io Read(size_t& got, std::string& error) {
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

  Io SslStatus(int rc, std::string& error) {
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

  // Exchange()'s I/O loop: `out` holds `expected` pipelined requests; writes
  // them and reads responses until each has its answer. Any error drops the
  // connection and says how many requests went unanswered.
  Status RunExchange(size_t expected, std::vector<Http1Response>& responses,
                     Clock::time_point deadline);
  // What one pass of that loop could not make progress on.
  struct Blocked {
    bool write = false;  // nothing (more) to write, or the write would block
    bool read = false;   // the read would block
    short want = POLLIN;
  };
  // Writes more of `out` from `written`; false on a fatal error (in `error`).
  bool WriteSome(size_t& written, Blocked& blocked, std::string& error);
  // Reads what is there into the parser; sets `eof` at the end of the
  // stream. An error carries the code and reason the exchange fails with.
  Status ReadSome(size_t expected, std::vector<Http1Response>& responses, Blocked& blocked,
                  bool& eof, std::string& error);
};

Http1Connection::Http1Connection(Http1Url url, Http1TlsOptions tls)
    : impl_(std::make_unique<Impl>()) {
  impl_->url = std::move(url);
  impl_->tls_options = std::move(tls);
  impl_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Http1Connection::~Http1Connection() = default;

bool Http1Connection::connected() const { return impl_->fd >= 0; }

void Http1Connection::Interrupt() {
  impl_->interrupted = true;
  const uint64_t one = 1;
  if (impl_->wake_fd >= 0) {
    [[maybe_unused]] ssize_t n = ::write(impl_->wake_fd, &one, sizeof one);
  }
}

Status Http1Connection::Exchange(std::span<const Request> requests,
                                 std::vector<Http1Response>& responses,
                                 Clock::time_point deadline) {
  Impl& m = *impl_;
  responses.clear();
  if (requests.empty()) return Ok();
  if (m.interrupted.load()) return Fail(ErrorCode::kCancelled, "interrupted");
  // A connection the server closed while idle shows as readable (EOF):
  // detect that before sending, so a request is not lost to a stale socket.
  if (m.fd >= 0) {
    pollfd p{m.fd, POLLIN, 0};
    if (::poll(&p, 1, 0) > 0) m.Drop();
  }
  if (m.fd < 0) {
    if (auto st = m.Connect(deadline); !st) return st;
    ++connects_;
  }
  m.out.clear();
  for (const Request& r : requests) {
    m.out.append(r.head);
    m.out.append(r.body);
  }
  return m.RunExchange(requests.size(), responses, deadline);
}

Status Http1Connection::Impl::RunExchange(size_t expected, std::vector<Http1Response>& responses,
                                          Clock::time_point deadline) {
  size_t written = 0;
  bool eof = false;
  std::string error;
  auto fail = [&](ErrorCode code, std::string why) {
    Drop();
    const size_t missing = expected - responses.size();
    return Fail(code, "POST to " + Where() + ": " + why + " (" + std::to_string(missing) + " of " +
                          std::to_string(expected) + " requests unanswered)");
  };
  while (responses.size() < expected) {
    // Checked here too, not only when waiting: a peer that never stops
    // sending must not keep us past the deadline or a shutdown.
    if (interrupted.load()) return fail(ErrorCode::kCancelled, "interrupted");
    if (Clock::now() >= deadline) return fail(ErrorCode::kTimeout, "timed out");
    Blocked blocked;
    if (!WriteSome(written, blocked, error)) return fail(ErrorCode::kConnection, error);
    if (auto st = ReadSome(expected, responses, blocked, eof, error); !st) {
      return fail(st.error().code(), st.error().message());
    }
    if (eof) {
      parser.Eof(responses);
      if (responses.size() >= expected) break;
      return fail(ErrorCode::kConnection, "connection closed by the server");
    }
    if (blocked.read && blocked.write) {
      if (auto st = Wait(blocked.want, deadline); !st) {
        return fail(st.error().code(), st.error().message());
      }
    }
  }
  // A final answer before the whole request was written (e.g. 413 while the
  // body was still going out) leaves the stream out of step: drop it.
  if (responses.back().close || eof || written < out.size()) Drop();
  return Ok();
}

bool Http1Connection::Impl::WriteSome(size_t& written, Blocked& blocked, std::string& error) {
  blocked.write = written == out.size();
  if (written == out.size()) return true;
  switch (Write(written, error)) {
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

Status Http1Connection::Impl::ReadSome(size_t expected, std::vector<Http1Response>& responses,
                                       Blocked& blocked, bool& eof, std::string& error) {
  size_t got = 0;
  switch (Read(got, error)) {
    case Io::kProgress: {
      if (got == 0) break;
      auto st = parser.Feed(std::string_view(in, got), responses);
      if (!st) return Fail(ErrorCode::kProtocol, st.error().message());
      if (responses.size() > expected) {
        return Fail(ErrorCode::kProtocol, "more responses than requests");
      }
      // A response that announces a close ends the exchange early.
      if (!responses.empty() && responses.back().close && responses.size() < expected) {
        return Fail(ErrorCode::kConnection, "server closed the connection (Connection: close)");
      }
      break;
    }
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

}  // namespace pgcdc::net
