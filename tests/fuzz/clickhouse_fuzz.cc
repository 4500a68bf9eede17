// libFuzzer target for the clickhouse sink's pure code (adapter/clickhouse).
//
// Input: one selector byte, then bytes used as a DSN, an identifier, a server
// answer and an event channel. Invariants checked (abort on violation):
//  * ParseDsn: a parsed DSN has a host, a port, a database and a redacted
//    form without ":<password>@"; an error starts with "clickhouse.dsn: ";
//  * QuoteIdentifier round-trips through ClickHouse's unescaping and never
//    leaves a raw control character or an unescaped quote;
//  * Classify gives a one-line message; ParseColumnNames never crashes;
//  * AppendRow writes exactly one line that is a JSON object.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapter/clickhouse/clickhouse_protocol.h"
#include "core/json_dom.h"

namespace {

namespace ch = pgcdc::adapter::clickhouse;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "clickhouse_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

void Dsn(std::string_view text) {
  auto d = ch::ParseDsn(text);
  if (!d) {
    Check(d.error().message().starts_with("clickhouse.dsn: "), "errors name the key");
    return;
  }
  Check(!d->url.host.empty() && d->url.port != 0 && !d->database.empty(), "a complete DSN");
  if (!d->password.empty()) {
    Check(d->redacted.find(":" + d->password + "@") == std::string::npos, "password redacted");
  }
}

// ClickHouse's reading of a double-quoted identifier (the escapes we write).
std::string Unquote(std::string_view q) {
  std::string out;
  for (size_t i = 1; i + 1 < q.size(); ++i) {
    const auto c = static_cast<unsigned char>(q[i]);
    if (c != '\\') {
      Check(c != '"', "no unescaped quote");
      Check(c >= 0x20 && c != 0x7f, "no raw control character");
      out.push_back(q[i]);
      continue;
    }
    const char e = q[++i];
    if (e == 'x') {
      out.push_back(static_cast<char>(std::stoi(std::string(q.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
      continue;
    }
    const std::string_view from = "nrtbfva";
    const std::string_view to = "\n\r\t\b\f\v\a";
    const size_t k = from.find(e);
    out.push_back(k == std::string_view::npos ? e : to[k]);
  }
  return out;
}

void Identifier(std::string_view name) {
  const std::string q = ch::QuoteIdentifier(name);
  Check(q.size() >= 2 && q.front() == '"' && q.back() == '"', "quoted");
  Check(Unquote(q) == name, "identifier round trip");
}

void Answer(int status, std::string_view body) {
  const ch::Answer a = ch::Classify(status, body);
  Check(a.message.find_first_of("\r\n") == std::string::npos, "one-line message");
  Check(!a.message.empty(), "a message");
  (void)ch::ParseColumnNames(body);
}

void Row(std::string_view channel) {
  pgcdc::Event e = pgcdc::MakeEvent(std::string(channel), "INSERT", "{\"a\":1}", "fuzz");
  std::string out;
  ch::AppendRow(e, 1, out);
  Check(out.ends_with('\n') && out.find('\n') == out.size() - 1, "one line");
  auto dom = pgcdc::json::ParseDom(std::string_view(out).substr(0, out.size() - 1));
  Check(dom && dom->is_object(), "a JSON object");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t selector = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  Dsn(rest);
  Identifier(rest);
  static constexpr int kStatus[] = {200, 400, 401, 403, 404, 408, 429, 500, 502, 503};
  Answer(kStatus[selector % 10], rest);
  Row(rest);
  return 0;
}
