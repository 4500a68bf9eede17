// Server URLs of the form scheme://[userinfo@]host[:port][/path], as the
// clients of non-HTTP servers take them (redis://, rediss://, nats://,
// tls://). The connector checks the scheme, the path and what the user-info
// means for its protocol; this parses the common syntax once:
//  - user-info: "user:password" or a lone part (a password or a token,
//    depending on the protocol), percent-decoded;
//  - host: a name, an IPv4 literal or an [IPv6] literal (without brackets
//    here);
//  - port: 1..65535 when present;
//  - no query string or fragment.
// Error messages never contain the URL (callers name it redacted).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc::net {

struct ServerUrl {
  std::string scheme;  // lowercase as written, without "://"
  std::string host;
  std::optional<uint16_t> port;
  bool has_user_info = false;
  // "user:password": user and password; a lone "secret": user empty,
  // password = "secret", lone_secret = true.
  std::string user;
  std::string password;
  bool lone_secret = false;
  std::string path;  // after the first '/' of the authority (undecoded), "" when none
};

// kConfig errors describe the problem in words ("no host", "bad port \"x\"").
Result<ServerUrl> ParseServerUrl(std::string_view url);

// The URL with the secret part of its user-info replaced by "xxx"
// (user:xxx@host, or xxx@host for a lone secret), for logs and errors.
std::string RedactServerUrl(std::string_view url);

}  // namespace pgcdc::net
