#include "wasm/sinks.h"

#include <algorithm>
#include <atomic>

#include "adapter/middleware/middleware.h"
#include "core/json.h"
#include "core/json_dom.h"
#include "core/log.h"
#include "core/time.h"

namespace pgcdc::wasm {

namespace {

std::string Where(const Plugin& plugin, std::string_view function) {
  return "plugin " + plugin.options().name + ": " + std::string(function);
}

// Calls `close` when exported; a failure is logged (shutdown goes on).
void CallClose(Plugin& plugin) {
  if (!plugin.HasFunction("close")) return;
  if (auto st = CallExpectingNoOutput(plugin, "close", {}); !st) {
    log::Warn("plugin close failed",
              {{"plugin", plugin.options().name}, {"error", st.error().message()}});
  }
}

// `handle` per event (the middleware retries and dead-letters failures).
class PluginDeliverer final : public middleware::Deliverer {
 public:
  PluginDeliverer(std::string name, std::shared_ptr<Plugin> plugin)
      : name_(std::move(name)), plugin_(std::move(plugin)) {}
  std::string_view Name() const override { return name_; }
  middleware::SendResult Send(size_t, std::span<const Event* const> events,
                              middleware::Clock::time_point) override {
    for (const Event* ev : events) {
      if (auto st = CallExpectingNoOutput(*plugin_, "handle", ev->Json()); !st) {
        return std::unexpected(middleware::SendError::Retryable(st.error().message()));
      }
    }
    return {};
  }
  void Close() override {
    if (!closed_) CallClose(*plugin_);
    closed_ = true;
  }

 private:
  std::string name_;
  std::shared_ptr<Plugin> plugin_;
  bool closed_ = false;
};

class PluginDlq final : public dlq::DeadLetterQueue {
 public:
  explicit PluginDlq(std::shared_ptr<Plugin> plugin) : plugin_(std::move(plugin)) {}
  ~PluginDlq() override { Close(); }
  std::string_view Kind() const override { return "plugin"; }
  Status Record(const Event& event, std::string_view adapter, std::string_view error) override {
    const std::string record = dlq::StderrLine(event, adapter, error, NowUnixNanos());
    if (auto st = CallExpectingNoOutput(*plugin_, "record", record); !st) {
      return Fail(st.error().code(), "dlq plugin: " + st.error().message());
    }
    dlq::RecordsFor(adapter).Inc();
    return Ok();
  }
  void Close() override {
    if (plugin_ && !closed_.exchange(true)) CallClose(*plugin_);
  }

 private:
  std::shared_ptr<Plugin> plugin_;
  std::atomic<bool> closed_{false};
};

}  // namespace

Status CallExpectingNoOutput(Plugin& plugin, std::string_view function, std::string_view input) {
  auto out = plugin.Call(function, input);
  if (!out) return Fail(out.error());
  if (!out->empty()) {
    return Fail(ErrorCode::kUnknown, Where(plugin, function) + ": " + out->substr(0, 1024));
  }
  return Ok();
}

Result<std::shared_ptr<Plugin>> LoadWithInit(const Settings& s, const Entry& entry,
                                             const std::string& type,
                                             const std::vector<std::string>& required) {
  auto loaded = Plugin::Load(entry.path, OptionsFor(s, entry, type));
  if (!loaded)
    return Fail(loaded.error().code(), "plugin " + entry.name + ": " + loaded.error().message());
  std::shared_ptr<Plugin> plugin(std::move(*loaded));
  for (const auto& f : required) {
    if (!plugin->HasFunction(f)) {
      return Fail(ErrorCode::kConfig,
                  "plugin " + entry.name + " (" + entry.path + "): no `" + f + "` export");
    }
  }
  if (plugin->HasFunction("init")) {
    if (auto st = CallExpectingNoOutput(*plugin, "init", entry.ConfigJson()); !st) {
      return Fail(ErrorCode::kConfig, st.error().message());
    }
  }
  return plugin;
}

adapter::AdapterPtr MakePluginAdapter(std::string name, std::shared_ptr<Plugin> plugin,
                                      const Settings& s) {
  middleware::Options o;
  o.concurrency = 1;  // calls to one instance are serialised anyway
  o.batch_size = 1;
  o.max_attempts = static_cast<int>(s.adapter_max_attempts);
  o.attempt_timeout = s.call_timeout * 2;  // the plugin's own limit stops a call first
  o.backoff_base = s.adapter_backoff_base;
  o.backoff_cap = std::max(s.adapter_backoff_base, std::chrono::milliseconds(30'000));
  o.breaker_failures = 0;
  auto deliverer = std::make_unique<PluginDeliverer>(name, std::move(plugin));
  return std::make_unique<middleware::ReliableAdapter>(std::move(name), o, std::move(deliverer));
}

Result<std::vector<adapter::AdapterPtr>> MakePluginAdapters(const Settings& s) {
  auto entries = AdapterEntries(s);
  if (!entries) return Fail(entries.error());
  std::vector<adapter::AdapterPtr> out;
  for (const auto& e : *entries) {
    auto plugin = LoadWithInit(s, e, "adapter", {"handle"});
    if (!plugin) return Fail(plugin.error());
    out.push_back(MakePluginAdapter(e.name, std::move(*plugin), s));
  }
  return out;
}

dlq::DeadLetterQueuePtr MakePluginDlq(std::shared_ptr<Plugin> plugin) {
  return std::make_unique<PluginDlq>(std::move(plugin));
}

Result<dlq::DeadLetterQueuePtr> MakePluginDlq(const Settings& s) {
  auto entry = DlqEntry(s);
  if (!entry) return Fail(entry.error());
  if (!*entry) {
    return Fail(ErrorCode::kConfig, "--dlq plugin needs plugins.dlq.path (--dlq-plugin-path)");
  }
  auto plugin = LoadWithInit(s, **entry, "dlq", {"record"});
  if (!plugin) return Fail(plugin.error());
  return MakePluginDlq(std::move(*plugin));
}

PluginCheckpointStore::~PluginCheckpointStore() {
  if (plugin_) CallClose(*plugin_);
}

Result<std::unique_ptr<PluginCheckpointStore>> PluginCheckpointStore::Open(const Settings& s) {
  auto entry = CheckpointEntry(s);
  if (!entry) return Fail(entry.error());
  if (!*entry) return Fail(ErrorCode::kConfig, "no checkpoint plugin configured");
  auto plugin = LoadWithInit(s, **entry, "checkpoint", {"load", "save"});
  if (!plugin) return Fail(plugin.error());
  return std::make_unique<PluginCheckpointStore>(std::move(*plugin));
}

Result<uint64_t> PluginCheckpointStore::Load(const std::string& slot) {
  auto out = plugin_->Call("load", slot);
  if (!out) return Fail(out.error());
  if (out->empty()) return uint64_t{0};
  auto dom = json::ParseDom(*out);
  const boost::json::value* lsn =
      dom && dom->is_object() ? dom->as_object().if_contains("lsn") : nullptr;
  if (lsn == nullptr || !(lsn->is_uint64() || lsn->is_int64()) ||
      (lsn->is_int64() && lsn->as_int64() < 0)) {
    return Fail(ErrorCode::kParse, Where(*plugin_, "load") +
                                       ": expected nothing or {\"lsn\": <uint64>}, got " +
                                       out->substr(0, 200));
  }
  return lsn->is_uint64() ? lsn->as_uint64() : static_cast<uint64_t>(lsn->as_int64());
}

Status PluginCheckpointStore::Save(const std::string& slot, uint64_t lsn) {
  std::string input;
  json::Writer w(input);
  w.BeginObject();
  w.StringField("slot_name", slot);
  w.UintField("lsn", lsn);
  w.EndObject();
  return CallExpectingNoOutput(*plugin_, "save", input);
}

}  // namespace pgcdc::wasm
