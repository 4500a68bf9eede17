// The payload fields a view reads, pulled out of an event's JSON text in one
// pass without building a document (the engine's hot path).
//
// AssignFields numbers the distinct payload paths a plan references
// (Query::fields, Expr::field). FieldExtractor then runs Boost.JSON's
// tokenizer (basic_parser, the same one and the same options json::ParseDom
// uses, so the same payloads are rejected and numbers convert identically)
// and keeps only the values under those paths. Values that a document would
// give differently are not guessed: a referenced path whose value is an
// object or array (the engine reads it as compact JSON text) or a key that
// occurs twice on a referenced path (a document keeps the last) make the
// extractor answer kNeedsDocument, and the engine reads that event through
// json::ParseDom instead.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "view/query.h"

namespace pgcdc::view {

// Fills q.fields and every payload field's slot (Expr::field,
// Query::event_time_field, Join::left_slot_fields/right_slot_fields).
// Envelope attributes (channel, operation, source) get no slot. ParseQuery
// calls it; idempotent.
void AssignFields(Query& q);

// Whether `path` names an envelope attribute rather than a payload field.
bool IsEnvelopeField(const std::vector<std::string>& path);

class FieldExtractor {
 public:
  enum class Outcome {
    kOk,             // values() holds every field (NULL where absent)
    kNeedsDocument,  // valid JSON, but read this event through the document path
    kInvalid,        // not one JSON document (json::ParseDom fails on it too)
  };

  explicit FieldExtractor(const std::vector<std::vector<std::string>>& fields);
  ~FieldExtractor();
  FieldExtractor(const FieldExtractor&) = delete;
  FieldExtractor& operator=(const FieldExtractor&) = delete;

  Outcome Extract(std::string_view payload);
  // By slot (Query::fields order); valid after kOk until the next Extract.
  const std::vector<Value>& values() const;

  class Handler;  // Boost.JSON's handler (fields.cc)

 private:
  struct Parser;
  std::unique_ptr<Parser> parser_;
};

}  // namespace pgcdc::view
