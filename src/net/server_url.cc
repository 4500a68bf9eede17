#include "net/server_url.h"

#include <algorithm>
#include <charconv>

namespace pgcdc::net {

namespace {

Error Bad(std::string why) { return Error(ErrorCode::kConfig, std::move(why)); }

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    unsigned v = 0;
    const char* first = s.data() + i + 1;
    auto [p, ec] = std::from_chars(first, first + 2, v, 16);
    if (ec != std::errc() || p != first + 2) return std::nullopt;
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

}  // namespace

Result<ServerUrl> ParseServerUrl(std::string_view url) {
  ServerUrl out;
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return Fail(Bad("no scheme://"));
  out.scheme = std::string(url.substr(0, sep));
  std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return Fail(Bad("query parameters and fragments are not supported"));
  }
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    out.path = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
  }
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    out.has_user_info = true;
    std::string_view user, secret = info;
    if (const size_t colon = info.find(':'); colon != std::string_view::npos) {
      user = info.substr(0, colon);
      secret = info.substr(colon + 1);
    } else {
      out.lone_secret = true;
    }
    auto u = PercentDecode(user);
    auto s = PercentDecode(secret);
    if (!u || !s) return Fail(Bad("bad percent-encoding in the user or password"));
    out.user = std::move(*u);
    out.password = std::move(*s);
  }
  std::string_view port;
  if (rest.starts_with('[')) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return Fail(Bad("unterminated [IPv6 address]"));
    out.host = std::string(rest.substr(1, close - 1));
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Fail(Bad("unexpected text after the IPv6 address"));
      port = after.substr(1);
    }
  } else if (const size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    out.host = std::string(rest.substr(0, colon));
    port = rest.substr(colon + 1);
    if (out.host.find(':') != std::string::npos) {
      return Fail(Bad("write an IPv6 address in [brackets]"));
    }
  } else {
    out.host = std::string(rest);
  }
  if (out.host.empty()) return Fail(Bad("no host"));
  if (std::any_of(out.host.begin(), out.host.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == ','; })) {
    return Fail(Bad("bad host \"" + out.host + "\""));
  }
  if (!port.empty() || rest.ends_with(':')) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (port.empty() || ec != std::errc() || p != port.data() + port.size() || v == 0 ||
        v > 65535) {
      return Fail(Bad("bad port \"" + std::string(port) + "\""));
    }
    out.port = static_cast<uint16_t>(v);
  }
  return out;
}

std::string RedactServerUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const size_t start = scheme + 3;
  const size_t end = std::min(url.find('/', start), url.size());
  const size_t at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  const std::string_view info = url.substr(start, at - start);
  std::string out(url.substr(0, start));
  if (const size_t colon = info.find(':'); colon != std::string_view::npos) {
    out += info.substr(0, colon);
    out += ":xxx";
  } else {
    out += "xxx";
  }
  out += url.substr(at);
  return out;
}

}  // namespace pgcdc::net
