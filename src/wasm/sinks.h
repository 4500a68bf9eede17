// Plugins that receive events (SPEC §10.1, docs/plugins.md): adapter plugins
// (a sink: `handle` gets each event's envelope JSON), the DLQ plugin
// (`record`) and the checkpoint store plugin (`load`/`save`). Each calls its
// optional `init` export with the config object at start and `close` at
// shutdown. A call fails when it traps, runs out of time or memory, returns
// non-zero, calls error_set, or sets a non-empty output (the error message).
//
// Adapter plugins run through the delivery middleware: a failed event is
// retried (plugins.adapter_max_attempts, backoff) and then dead-lettered;
// the pipeline acknowledges an event only once `handle` returned success or
// the DLQ recorded it, so a kill -9 loses nothing (events not acknowledged
// are replayed from the slot). Unlike the reference tool, which acks a
// failed event anyway and has no DLQ attached.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "adapter/adapter.h"
#include "core/error.h"
#include "dlq/dlq.h"
#include "pg/checkpoint_store.h"
#include "wasm/plugin.h"
#include "wasm/settings.h"

namespace pgcdc::wasm {

// Calls `function` and treats a non-empty output as the call's error.
Status CallExpectingNoOutput(Plugin& plugin, std::string_view function, std::string_view input);

// Loads `entry` as a plugin of `type` that must export every function in
// `required`, and calls its `init` (with the config object) when exported.
Result<std::shared_ptr<Plugin>> LoadWithInit(const Settings& s, const Entry& entry,
                                             const std::string& type,
                                             const std::vector<std::string>& required);

// The adapters of every configured adapter plugin (--plugin-adapter,
// plugins.adapters), named after their entries.
Result<std::vector<adapter::AdapterPtr>> MakePluginAdapters(const Settings& s);
// An adapter around a loaded plugin (tests).
adapter::AdapterPtr MakePluginAdapter(std::string name, std::shared_ptr<Plugin> plugin,
                                      const Settings& s);

// The DLQ plugin (--dlq plugin, plugins.dlq).
Result<dlq::DeadLetterQueuePtr> MakePluginDlq(const Settings& s);
dlq::DeadLetterQueuePtr MakePluginDlq(std::shared_ptr<Plugin> plugin);

// A checkpoint store backed by a plugin: `load` gets the slot name and
// answers nothing (no checkpoint) or {"lsn":N}; `save` gets
// {"slot_name":"…","lsn":N}.
class PluginCheckpointStore final : public pg::CheckpointBackend {
 public:
  explicit PluginCheckpointStore(std::shared_ptr<Plugin> plugin) : plugin_(std::move(plugin)) {}
  ~PluginCheckpointStore() override;
  // The configured plugin (plugins.checkpoint); an error when none is.
  static Result<std::unique_ptr<PluginCheckpointStore>> Open(const Settings& s);
  Result<uint64_t> Load(const std::string& slot) override;
  Status Save(const std::string& slot, uint64_t lsn) override;

 private:
  std::shared_ptr<Plugin> plugin_;
};

}  // namespace pgcdc::wasm
