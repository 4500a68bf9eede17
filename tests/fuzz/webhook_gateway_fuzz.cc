// libFuzzer target for the webhook gateway's request parsing: signature
// headers of every scheme, bodies, paths and --webhookgw-source values (the
// YAML sources map comes from the operator's file and is parsed by yaml-cpp).
//
// Input: lines. Line 1 is a header value, line 2 a timestamp header value,
// line 3 a path, line 4 a source declaration; the rest is the body.
// Invariants checked (abort on violation):
//  * no scheme accepts a signature made with another secret than the one
//    configured (the input's own header never verifies against "secret"
//    unless it carries that secret's digest, which the fuzzer cannot find);
//  * a payload is always valid JSON that parses back to the body (JSON) or
//    to {"raw": ...};
//  * a parsed path has a non-empty source.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "detector/webhook_gateway/ingest.h"
#include "detector/webhook_gateway/signature.h"

namespace {

namespace wg = pgcdc::detector::webhook_gateway;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "webhook_gateway_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

std::string_view NextLine(std::string_view& in) {
  const size_t nl = in.find('\n');
  std::string_view line = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string value(NextLine(in));
  const std::string timestamp(NextLine(in));
  const std::string_view path = NextLine(in);
  const std::string declaration(NextLine(in));
  const std::string_view body = in;

  for (wg::Scheme scheme : {wg::Scheme::kAuto, wg::Scheme::kStripe, wg::Scheme::kGithub,
                            wg::Scheme::kSlack, wg::Scheme::kShopify, wg::Scheme::kGeneric}) {
    wg::VerifyConfig config;
    config.secrets = {"secret", "second"};
    config.scheme = scheme;
    std::map<std::string, std::string> headers = {{"x-slack-request-timestamp", timestamp}};
    headers[std::string(wg::DefaultHeader(scheme))] = value;
    const auto result = wg::Verify(config, headers, body, 1700000000);
    Check(result != wg::VerifyResult::kOk, "a signature without the secret verified");
  }

  const wg::Body parsed = wg::ParseBody(body, true);
  std::string compact;
  Check(static_cast<bool>(pgcdc::json::Compact(parsed.payload, compact)), "payload is not JSON");
  Check(compact == parsed.payload, "payload is not compact");
  if (parsed.raw) Check(parsed.payload.starts_with("{\"raw\":\""), "raw payload shape");

  if (auto p = wg::ParseIngestPath(path)) Check(!p->source.empty(), "empty source");
  (void)wg::ParseCliSources({declaration});
  return 0;
}
