// The pure parts of the webhook gateway (SPEC §2.8, §1.5.11): source
// declarations, the /ingest path, the channel, the payload and the
// idempotency key of a request. No I/O.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "detector/webhook_gateway/signature.h"

namespace pgcdc::detector::webhook_gateway {

struct Source {
  std::string name;
  VerifyConfig verify;  // secrets, scheme, header
  std::string prefix;   // channel prefix; empty = "pgcdc:<name>"
};

// Parses the --webhookgw-source values: `name[:key=value,...]` with keys
// secret, secret2 (the second secret accepted during a rotation), header,
// prefix and scheme (stripe|github|slack|shopify|generic). Flag and env
// lists are split on commas before they get here, so a `key=value` item
// continues the source before it. Names must be unique.
Result<std::vector<Source>> ParseCliSources(const std::vector<std::string>& items);

// Parses the YAML map webhook_gateway.sources (as YAML text):
// <name>: {secret, secondary_secret, signature_header, channel_prefix,
// scheme}, and appends the sources to `out` (names unique across both).
Status ParseYamlSources(const std::string& yaml, std::vector<Source>& out);

// The path of a request under /ingest/: {source, channel} ("/ingest/s" or
// "/ingest/s/c"); nullopt for anything else (empty or extra segments).
struct IngestPath {
  std::string source;
  std::string channel;  // empty = none in the path
};
std::optional<IngestPath> ParseIngestPath(std::string_view path);

// What a request body becomes: the payload (the compacted JSON body, or
// {"raw":"<body>"} when it is not JSON) and the fields the channel and the
// idempotency key read.
struct Body {
  std::string payload;
  bool raw = false;                 // not JSON: wrapped
  std::optional<std::string> type;  // top-level string "type" of a JSON object
  std::optional<std::string> id;    // top-level string "id" (only when asked for)
};
Body ParseBody(std::string_view body, bool want_id);

// SPEC's channel: <prefix>.<path channel>, else <prefix>.<type with spaces
// as '_'> for a non-empty type, else <prefix>.
std::string ChannelFor(const Source& source, std::string_view path_channel,
                       const std::optional<std::string>& type);

// The key that identifies retries of one delivery (headers lower-case):
// Idempotency-Key, else the provider's delivery id (Stripe event id from the
// body, X-GitHub-Delivery, X-Shopify-Webhook-Id); empty when there is none.
// Scoped by source: "<source>\n<key>".
std::string IdempotencyKey(const Source& source, Scheme scheme,
                           const std::map<std::string, std::string>& headers,
                           const std::optional<std::string>& body_id);

}  // namespace pgcdc::detector::webhook_gateway
