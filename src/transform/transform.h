// Transforms: map one event to zero or one event (SPEC §6).
//
// A Transform rewrites an event in place or asks for it to be dropped. A
// Chain runs transforms left to right and stops at the first drop or error.
// Inside a chain the payload is parsed at most once into a working document
// (transform/payload.h) that every transform edits, and serialised at most
// once at the end; the result equals applying the transforms one by one.
//
// Field transforms (drop_columns, rename_fields, mask, field filters) act on
// the row images `row` and `old` when the payload is structured (an object
// with `op` and `row` keys: WAL, snapshot, MySQL, MongoDB and the LISTEN/NOTIFY
// trigger format alike), on the top-level keys of any other object payload,
// and leave non-object payloads alone.
//
// Ownership and threads: a chain only ever changes the Event it is given; the
// caller applies per-adapter chains to its own copy, so one adapter's chain
// can never change what another adapter sees. Every built-in transform is
// safe to call from several threads at once (stateless ones are immutable;
// dedup and cel_filter lock), so a Chain may be shared, e.g. the global chain
// by the detector thread and a reload in progress. Chains are immutable after
// Build() and are swapped as a whole (ChainPtr) on SIGHUP.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "registry/param_spec.h"
#include "registry/registry.h"

namespace pgcdc::config {
class Config;
}

namespace pgcdc::transform {

class PayloadContext;
struct StreamPlan;

enum class Verdict { kKeep, kDrop };

class Transform {
 public:
  virtual ~Transform();
  // The YAML `type` name, e.g. "drop_columns".
  virtual std::string_view Type() const = 0;

  // Applies this transform alone to `event` (parses and serialises the
  // payload itself). The caller owns `event`; on a change the payload is
  // replaced and the cached JSON invalidated. Errors mean "skip the event and
  // count it"; they never leave the event half-changed.
  Result<Verdict> Apply(Event& event);

  // Chain step: works on the chain's shared working document.
  virtual Result<Verdict> ApplyTo(PayloadContext& ctx) = 0;

  // Adds what this transform does to a chain's streaming plan and returns
  // true, or returns false when it cannot be expressed there (the chain then
  // always uses the document path). Only drop_columns, mask and operation
  // filters can.
  virtual bool AddTo(StreamPlan& plan) const { return false; }
};
using TransformPtr = std::shared_ptr<Transform>;

class Chain {
 public:
  Chain() = default;
  explicit Chain(std::vector<TransformPtr> transforms);
  ~Chain();

  // Runs every transform on `event` (the caller's own copy). Stops at the
  // first drop or error; the error names the failing transform. On kKeep the
  // event holds the transformed payload (cached JSON invalidated if changed).
  // On kDrop or error the event's contents are unspecified.
  // Chains of only drop_columns, mask and operation filters edit structured
  // payloads in one streaming pass (same bytes as the document path).
  Result<Verdict> Apply(Event& event) const;
  // The document path only (for tests and benchmarks of the fast path).
  Result<Verdict> ApplyDocument(Event& event) const;
  bool streaming() const { return plan_ != nullptr; }

  bool empty() const { return transforms_.empty(); }
  size_t size() const { return transforms_.size(); }
  std::vector<std::string> Types() const;
  const std::vector<TransformPtr>& transforms() const { return transforms_; }

 private:
  std::vector<TransformPtr> transforms_;
  std::shared_ptr<const StreamPlan> plan_;  // null: no streaming fast path
};
using ChainPtr = std::shared_ptr<const Chain>;

struct ChainSet {
  ChainPtr global;  // never null after Build(); may be empty
  std::map<std::string, ChainPtr> per_adapter;

  // The adapter's own chain (not including the global one), or null.
  ChainPtr ForAdapter(std::string_view adapter) const;
  // "global=[drop_columns,mask] webhook=[filter]" (for logs and reload diffs).
  std::string Describe() const;
};

// CLI shortcut parameters (global chain): --drop-columns, --filter-operations,
// --filter-cel, --dedup-key, --dedup-window, --dedup-max-keys,
// --debezium-envelope, --debezium-connector-name, --debezium-database,
// --cloudevents-envelope, --cloudevents-source, --cloudevents-type-prefix.
// YAML keys live under `transforms.` (e.g. transforms.dedup.window).
const std::vector<ParamSpec>& Params();

// One ConnectorInfo (kind kTransform) per built-in type, for `pgcdc list
// transforms` / `describe`. The CLI shortcut params are attached to the type
// they configure; `validate` reports bad shortcut values (e.g. invalid CEL).
std::vector<ConnectorInfo> Connectors();

// The built-in type names, in documentation order.
const std::vector<std::string>& TypeNames();

// Builds every chain from the loaded configuration (CLI shortcuts -> global
// chain) and the `transforms:` section of the YAML file at `yaml_path` (empty
// = none; a missing file is an error). Global chain order:
//   --drop-columns, --filter-operations, --filter-cel, --dedup-*,
//   transforms.global..., --debezium-envelope, --cloudevents-envelope
// (envelopes last so that the field transforms and filters before them still
// see the row images). The same order applies at start-up and on SIGHUP.
//
// `previous` (may be null): dedup transforms whose scope, position and
// settings are unchanged keep their cache (CLI and YAML alike).
//
// Every problem is collected: unknown type, unknown or bad parameter (with
// file:line:column), unknown adapter name, invalid CEL (with a caret). The
// error message joins them with "; "; when `errors` is given each one is also
// appended to it. Nothing is skipped silently: on error the caller keeps its
// old chains.
// `yaml_text`, when given, is the document itself and yaml_path only names it.
Result<ChainSet> Build(const config::Config& cfg, const std::string& yaml_path,
                       const ChainSet* previous, std::vector<std::string>* errors = nullptr,
                       const std::string* yaml_text = nullptr);

}  // namespace pgcdc::transform
