// What one graphql-transport-ws subscription asks for (pure; unit-tested):
// the parsed operation checked against pgcdc's schema (docs/graphql.md),
// its filters and its selection, and how an event is matched and encoded.
//
// Filters (SPEC §5.17): `channel` (exact), `operation` (exact) and `where`
// (top-level payload key -> expected value; numbers compare by value,
// strings/booleans/null by type and value, lists and objects by JSON
// equality). They come from the root field's arguments (literals or
// $variables) and, for compatibility with clients of the Go tool, from
// variables of those names that no argument overrides.
//
// Selection: the root field's selection set picks event fields (id, channel,
// operation, source, created_at, payload, __typename) in the order written,
// with aliases; `payload { ... }` projects the payload JSON by key,
// recursively (lists element-wise; missing keys give null). No selection
// set: the whole event object.
#pragma once

#include <boost/json/value.hpp>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/graphql/document.h"
#include "core/event.h"

namespace pgcdc::adapter::graphql {

struct Plan {
  std::string response_key = "events";  // data.<key>
  std::optional<std::string> channel;
  std::optional<std::string> operation;
  std::optional<std::string> table;  // schema-aware table fields: "schema.table"
  std::optional<boost::json::object> where;
  bool whole_event = true;     // no selection set
  std::vector<Field> fields;   // the selected event fields, when !whole_event
  bool needs_payload = false;  // `where`: Matches() needs the parsed payload
  std::string projection_key;  // equal for plans that encode an event identically
};

// Resolves a schema-aware root field name to its "schema.table"; nullopt for
// an unknown name. Null function: only `events` exists.
using TableLookup = std::function<std::optional<std::string>(std::string_view field)>;

// Checks `op` (the parsed document) and `variables` (null or an object) and
// builds the plan; a GraphQL-style message (with the location when known)
// otherwise.
[[nodiscard]] std::expected<Plan, DocumentError> MakePlan(const Operation& op,
                                                          const boost::json::value& variables,
                                                          const TableLookup& tables = {});

// Whether `event` passes the plan's filters. `payload` is the parsed payload
// when plan.needs_payload (null otherwise, or when it is not valid JSON).
bool Matches(const Plan& plan, const Event& event, const boost::json::value* payload);

// Appends the event object the plan selects (the value of data.<key>).
// Payload members are copied byte for byte (numbers keep their spelling).
void AppendEventObject(const Plan& plan, const Event& event, std::string& out);

}  // namespace pgcdc::adapter::graphql
