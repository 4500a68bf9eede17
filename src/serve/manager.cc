#include "serve/manager.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/value.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "core/json.h"
#include "core/json_dom.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/scope.h"
#include "core/time.h"

namespace pgcdc::serve {

namespace bj = boost::json;

// Lifecycle operations on one pipeline are serialised by `op` (held while a
// stop joins the pipeline's thread, never together with the manager's mu_
// being waited for by that thread). Everything else is read and written under
// the manager's mu_.
struct Manager::Entry {
  std::string name;
  Origin origin = Origin::kFile;
  Mutex op;
  std::thread thread;  // with op held
  // Under Manager::mu_:
  PipelineSpec spec;
  Phase phase = Phase::kStopped;
  Phase wanted = Phase::kStopped;
  std::string error;
  int64_t started_at_ns = 0;
  int starts = 0;
  bool halting = false;
  mutable bool streamed = false;  // since the last launch
  std::stop_source stop;
  std::optional<RunProbes> probes;
};

namespace {

struct Series {
  metrics::Family<metrics::Gauge>& state = metrics::Default().AddGauge(
      "pgcdc_serve_pipeline_state",
      "1 for the state each pipeline of `pgcdc serve` is in (stopped, running, paused, error).",
      {"pipeline", "state"});
  metrics::Family<metrics::Counter>& failures = metrics::Default().AddCounter(
      "pgcdc_serve_pipeline_failures_total",
      "Times a pipeline of `pgcdc serve` ended with an error.", {"pipeline"});
  metrics::Counter& state_errors = metrics::DefaultCounter(
      "pgcdc_serve_state_write_errors_total", "Failed writes of the serve state file.");
};

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kStopped:
      return "stopped";
    case Phase::kRunning:
      return "running";
    case Phase::kPaused:
      return "paused";
    case Phase::kError:
      return "error";
  }
  return "stopped";
}

std::optional<Phase> ParseWanted(std::string_view s) {
  if (s == "running") return Phase::kRunning;
  if (s == "stopped") return Phase::kStopped;
  if (s == "paused") return Phase::kPaused;
  return std::nullopt;
}

OpError Err(int status, std::string message, std::vector<std::string> errors = {}) {
  return OpError{status, std::move(message), std::move(errors)};
}

}  // namespace

std::string InfoJson(const PipelineInfo& info) {
  std::string out = "{\"name\":";
  json::AppendString(out, info.name);
  out += ",\"status\":";
  json::AppendString(out, info.status);
  out += info.origin == Origin::kApi ? ",\"origin\":\"api\"" : ",\"origin\":\"file\"";
  if (info.started_at_ns != 0) {
    out += ",\"started_at\":\"";
    AppendRfc3339Nano(info.started_at_ns, out);
    out += "\"";
  }
  if (!info.error.empty()) {
    out += ",\"error\":";
    json::AppendString(out, info.error);
  }
  out += ",\"restarts\":" + std::to_string(info.restarts);
  out += ",\"config\":" + (info.config_json.empty() ? std::string("{}") : info.config_json);
  if (!info.stats_json.empty()) out += ",\"stats\":" + info.stats_json;
  if (!info.health_json.empty()) out += ",\"health\":" + info.health_json;
  out += "}";
  return out;
}

Manager::Manager(Runtime& runtime, std::string state_file)
    : runtime_(runtime), state_file_(std::move(state_file)) {}

Manager::~Manager() { StopAll(); }

Manager::EntryPtr Manager::Find(const std::string& name) const {
  MutexLock lock(mu_);
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : it->second;
}

// "starting" until the pipeline first streams (assembled, and no component
// down: the detector connected); "running" from then on, its health telling
// whether it is degraded later.
std::string Manager::StatusName(const Entry& e) const {
  mu_.AssertHeld();
  if (e.phase != Phase::kRunning) return PhaseName(e.phase);
  if (!e.streamed && e.probes && e.probes->ready() &&
      (!e.probes->health || e.probes->health() != HealthStatus::kDown)) {
    e.streamed = true;
  }
  return e.streamed ? "running" : "starting";
}

PipelineInfo Manager::Info(const Entry& e) const {
  mu_.AssertHeld();
  PipelineInfo info;
  info.name = e.name;
  info.status = StatusName(e);
  info.origin = e.origin;
  info.error = e.error;
  info.started_at_ns = e.phase == Phase::kRunning ? e.started_at_ns : 0;
  info.restarts = e.starts > 0 ? e.starts - 1 : 0;
  info.config_json = json::SerializeDom(e.spec.raw);
  if (e.probes && e.probes->stats_json) info.stats_json = e.probes->stats_json();
  if (e.probes && e.probes->health_json) info.health_json = e.probes->health_json();
  return info;
}

void Manager::Publish(const Entry& e) {
  auto& s = metrics::Lazy<Series>();
  Phase phase;
  {
    MutexLock lock(mu_);
    phase = e.phase;
  }
  for (Phase p : {Phase::kStopped, Phase::kRunning, Phase::kPaused, Phase::kError}) {
    s.state.With({e.name, PhaseName(p)}).Set(p == phase ? 1 : 0);
  }
}

void Manager::Launch(const EntryPtr& e) {
  if (e->thread.joinable()) e->thread.join();  // ended on its own
  PipelineSpec spec;
  std::stop_token token;
  {
    MutexLock lock(mu_);
    e->phase = Phase::kRunning;
    e->error.clear();
    e->halting = false;
    e->streamed = false;
    e->started_at_ns = NowUnixNanos();
    e->starts++;
    e->stop = std::stop_source();
    token = e->stop.get_token();
    spec = e->spec;
  }
  Publish(*e);
  log::Info("pipeline starting", {{"pipeline", e->name}});
  e->thread = std::thread([this, e, spec = std::move(spec), token] {
    Status st = [&] {
      // Logs and metric series of the pipeline's threads name it (core/scope.h).
      scope::Enter in(scope::Make(e->name));
      return runtime_.Run(spec, token, [this, e](const RunProbes* p) {
        MutexLock lock(mu_);
        if (p != nullptr) {
          e->probes = *p;
        } else {
          e->probes.reset();
        }
      });
    }();
    bool failed = false;
    {
      MutexLock lock(mu_);
      e->probes.reset();
      if (!e->halting) {
        e->phase = st ? Phase::kStopped : Phase::kError;
        e->error = st ? "" : st.error().message();
        failed = !st;
      }
    }
    if (failed) {
      metrics::Lazy<Series>().failures.With({e->name}).Inc();
      log::Error("pipeline failed", {{"pipeline", e->name}, {"error", st.error().message()}});
    } else if (st) {
      log::Info("pipeline stopped", {{"pipeline", e->name}});
    }
    Publish(*e);
  });
}

void Manager::Halt(Entry& e, Phase then) {
  std::stop_source stop;
  {
    MutexLock lock(mu_);
    e.halting = true;
    stop = e.stop;
  }
  stop.request_stop();  // runs the pipeline's stop callbacks: not under mu_
  if (e.thread.joinable()) e.thread.join();
  {
    MutexLock lock(mu_);
    e.phase = then;
    e.probes.reset();
  }
  Publish(e);
}

std::vector<PipelineInfo> Manager::List() const {
  MutexLock lock(mu_);
  std::vector<PipelineInfo> out;
  for (const auto& [name, e] : entries_) out.push_back(Info(*e));
  return out;
}

OpResult<PipelineInfo> Manager::Get(const std::string& name) const {
  MutexLock lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) return std::unexpected(Err(404, "no pipeline named " + name));
  return Info(*it->second);
}

OpResult<PipelineInfo> Manager::Create(PipelineSpec spec, bool start, bool dry_run) {
  std::vector<std::string> warnings;
  std::vector<std::string> errors = runtime_.Validate(spec, warnings);
  if (!errors.empty()) {
    return std::unexpected(Err(400, "invalid pipeline " + spec.name, std::move(errors)));
  }
  auto e = std::make_shared<Entry>();
  e->name = spec.name;
  e->origin = Origin::kApi;
  e->spec = std::move(spec);
  e->wanted = start ? Phase::kRunning : Phase::kStopped;
  {
    MutexLock lock(mu_);
    if (entries_.count(e->name)) {
      return std::unexpected(Err(409, "a pipeline named " + e->name + " exists"));
    }
    if (dry_run) return Info(*e);
    entries_[e->name] = e;
  }
  Persist();
  Publish(*e);
  log::Info("pipeline created", {{"pipeline", e->name}});
  if (start) {
    MutexLock op(e->op);
    Launch(e);
  }
  MutexLock lock(mu_);
  return Info(*e);
}

OpResult<PipelineInfo> Manager::Replace(const std::string& name, PipelineSpec spec, bool dry_run) {
  EntryPtr e = Find(name);
  if (!e) return std::unexpected(Err(404, "no pipeline named " + name));
  if (e->origin == Origin::kFile) {
    return std::unexpected(Err(409, "pipeline " + name +
                                        " is defined in the serve config file; edit the file "
                                        "and restart instead"));
  }
  if (spec.name != name) {
    return std::unexpected(Err(400, "the body names pipeline " + spec.name + ", the URL " + name));
  }
  std::vector<std::string> warnings;
  std::vector<std::string> errors = runtime_.Validate(spec, warnings);
  if (!errors.empty()) {
    return std::unexpected(Err(400, "invalid pipeline " + name, std::move(errors)));
  }
  MutexLock op(e->op);
  if (dry_run) {
    MutexLock lock(mu_);
    return Info(*e);
  }
  bool was_running;
  {
    MutexLock lock(mu_);
    was_running = e->phase == Phase::kRunning;
  }
  // Drain first (the detector acknowledges what the sinks delivered), then
  // start from that checkpoint with the new entry.
  if (was_running) Halt(*e, Phase::kStopped);
  {
    MutexLock lock(mu_);
    e->spec = std::move(spec);
  }
  Persist();
  log::Info("pipeline replaced",
            {{"pipeline", name}, {"restarted", was_running ? "true" : "false"}});
  if (was_running) Launch(e);
  MutexLock lock(mu_);
  return Info(*e);
}

OpResult<PipelineInfo> Manager::Remove(const std::string& name) {
  EntryPtr e = Find(name);
  if (!e) return std::unexpected(Err(404, "no pipeline named " + name));
  if (e->origin == Origin::kFile) {
    return std::unexpected(
        Err(409, "pipeline " + name + " is defined in the serve config file; remove it there"));
  }
  MutexLock op(e->op);
  PipelineInfo info;
  {
    MutexLock lock(mu_);
    if (e->phase == Phase::kRunning || e->phase == Phase::kPaused) {
      return std::unexpected(Err(
          409, "cannot remove pipeline " + name + ": it is " + StatusName(*e) + "; stop it first"));
    }
    info = Info(*e);
    entries_.erase(name);
  }
  if (e->thread.joinable()) e->thread.join();
  auto& s = metrics::Lazy<Series>();
  for (Phase p : {Phase::kStopped, Phase::kRunning, Phase::kPaused, Phase::kError}) {
    s.state.With({name, PhaseName(p)}).Set(0);
  }
  Persist();
  log::Info("pipeline removed", {{"pipeline", name}});
  info.status = "removed";
  return info;
}

OpResult<PipelineInfo> Manager::Transition(const std::string& name, const char* verb,
                                           std::initializer_list<Phase> from, Phase wanted,
                                           const std::function<void(const EntryPtr&)>& act) {
  EntryPtr e = Find(name);
  if (!e) return std::unexpected(Err(404, "no pipeline named " + name));
  MutexLock op(e->op);
  {
    MutexLock lock(mu_);
    if (std::find(from.begin(), from.end(), e->phase) == from.end()) {
      return std::unexpected(Err(
          409, "cannot " + std::string(verb) + " pipeline " + name + ": it is " + StatusName(*e)));
    }
    e->wanted = wanted;
  }
  act(e);
  Persist();
  MutexLock lock(mu_);
  return Info(*e);
}

OpResult<PipelineInfo> Manager::Start(const std::string& name) {
  return Transition(name, "start", {Phase::kStopped, Phase::kError}, Phase::kRunning,
                    [this](const EntryPtr& e) { Launch(e); });
}

OpResult<PipelineInfo> Manager::Stop(const std::string& name) {
  return Transition(name, "stop", {Phase::kRunning, Phase::kPaused}, Phase::kStopped,
                    [this](const EntryPtr& e) { Halt(*e, Phase::kStopped); });
}

OpResult<PipelineInfo> Manager::Pause(const std::string& name) {
  return Transition(name, "pause", {Phase::kRunning}, Phase::kPaused,
                    [this](const EntryPtr& e) { Halt(*e, Phase::kPaused); });
}

OpResult<PipelineInfo> Manager::Resume(const std::string& name) {
  return Transition(name, "resume", {Phase::kPaused}, Phase::kRunning,
                    [this](const EntryPtr& e) { Launch(e); });
}

void Manager::StartWanted() {
  std::vector<EntryPtr> all;
  {
    MutexLock lock(mu_);
    for (const auto& [name, e] : entries_) all.push_back(e);
  }
  for (const auto& e : all) {
    MutexLock op(e->op);
    bool go;
    {
      MutexLock lock(mu_);
      go = e->wanted == Phase::kRunning && e->phase == Phase::kStopped;
      if (e->wanted == Phase::kPaused && e->phase == Phase::kStopped) e->phase = Phase::kPaused;
    }
    if (go) Launch(e);
    Publish(*e);
  }
}

void Manager::StopAll() {
  std::vector<EntryPtr> all;
  {
    MutexLock lock(mu_);
    for (const auto& [name, e] : entries_) all.push_back(e);
  }
  // Ask every pipeline to stop first so they drain in parallel.
  std::vector<std::stop_source> stops;
  {
    MutexLock lock(mu_);
    for (const auto& e : all) {
      e->halting = true;
      stops.push_back(e->stop);
    }
  }
  for (auto& s : stops) s.request_stop();
  for (const auto& e : all) {
    MutexLock op(e->op);
    if (e->thread.joinable()) e->thread.join();
    MutexLock lock(mu_);
    if (e->phase == Phase::kRunning) e->phase = Phase::kStopped;
    e->probes.reset();
  }
}

bool Manager::Ready() const {
  MutexLock lock(mu_);
  for (const auto& [name, e] : entries_) {
    if (e->wanted != Phase::kRunning) continue;
    if (e->phase != Phase::kRunning || !e->probes || !e->probes->ready()) return false;
    if (e->probes->health && e->probes->health() == HealthStatus::kDown) return false;
  }
  return true;
}

std::string Manager::HealthJson() const {
  MutexLock lock(mu_);
  bool degraded = false;
  std::string components;
  for (const auto& [name, e] : entries_) {
    const std::string status = StatusName(*e);
    const bool healthy =
        !e->probes || !e->probes->health || e->probes->health() != HealthStatus::kDown;
    const bool up = (status == "running" && healthy) || e->wanted != Phase::kRunning;
    degraded = degraded || !up;
    if (!components.empty()) components += ",";
    json::AppendString(components, "pipeline:" + name);
    components += ":{\"status\":";
    components += up ? "\"up\"" : "\"degraded\"";
    components += ",\"pipeline_status\":";
    json::AppendString(components, status);
    if (!e->error.empty()) {
      components += ",\"last_error\":";
      json::AppendString(components, e->error);
    } else if (!healthy) {
      components += ",\"last_error\":\"a component of the pipeline is down (see its health)\"";
    }
    components += "}";
  }
  return std::string("{\"status\":") + (degraded ? "\"degraded\"" : "\"up\"") +
         ",\"components\":{" + components + "}}";
}

// ---- state file -------------------------------------------------------------

void Manager::Persist() {
  if (state_file_.empty()) return;
  bj::array list;
  {
    MutexLock lock(mu_);
    for (const auto& [name, e] : entries_) {
      bj::object o;
      o["name"] = name;
      o["origin"] = e->origin == Origin::kApi ? "api" : "file";
      o["wanted"] = PhaseName(e->wanted == Phase::kError ? Phase::kRunning : e->wanted);
      if (e->origin == Origin::kApi) o["spec"] = e->spec.raw;
      list.push_back(std::move(o));
    }
  }
  bj::object root;
  root["version"] = 1;
  root["pipelines"] = std::move(list);
  const std::string text = json::SerializeDom(root) + "\n";
  MutexLock lock(persist_mu_);
  const std::string tmp = state_file_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  bool ok = fd >= 0;
  if (ok) {
    ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ok = ::fsync(fd) == 0 && ok;
    ok = ::close(fd) == 0 && ok;
  }
  ok = ok && std::rename(tmp.c_str(), state_file_.c_str()) == 0;
  if (!ok) {
    metrics::Lazy<Series>().state_errors.Inc();
    log::Error("cannot write the serve state file; API changes will not survive a restart",
               {{"file", state_file_}, {"error", std::strerror(errno)}});
  }
}

Status Manager::Load(const std::vector<PipelineSpec>& file_pipelines) {
  std::vector<std::string> errors;
  {
    MutexLock lock(mu_);
    for (const auto& spec : file_pipelines) {
      auto e = std::make_shared<Entry>();
      e->name = spec.name;
      e->origin = Origin::kFile;
      e->spec = spec;
      e->wanted = EnabledAtBoot(spec) ? Phase::kRunning : Phase::kStopped;
      entries_[spec.name] = e;
    }
  }
  for (const auto& spec : file_pipelines) {
    std::vector<std::string> warnings;
    for (const auto& err : runtime_.Validate(spec, warnings)) {
      errors.push_back("pipeline " + spec.name + ": " + err);
    }
    for (const auto& w : warnings) log::Warn("pipeline " + spec.name + ": " + w);
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& err : errors) msg += (msg.empty() ? "" : "\n") + err;
    return Fail(ErrorCode::kConfig, msg);
  }
  if (state_file_.empty()) return Ok();
  std::ifstream in(state_file_);
  if (!in) return Ok();  // first start
  std::stringstream text;
  text << in.rdbuf();
  auto root = json::ParseDom(text.str());
  const std::string at = "state file " + state_file_ + ": ";
  if (!root || !root->is_object() || !root->as_object().if_contains("pipelines") ||
      !root->as_object().at("pipelines").is_array()) {
    return Fail(ErrorCode::kConfig,
                at + (root ? "expected {\"pipelines\":[...]}" : root.error().message()) +
                    " (fix or move it away; pipelines are never dropped)");
  }
  for (const auto& item : root->as_object().at("pipelines").as_array()) {
    if (auto st = LoadStateEntry(item, at); !st) return st;
  }
  return Ok();
}

Status Manager::LoadStateEntry(const bj::value& item, const std::string& at) {
  const bj::object* o = item.if_object();
  const bj::value* name = o ? o->if_contains("name") : nullptr;
  const bj::value* wanted = o ? o->if_contains("wanted") : nullptr;
  const bj::value* origin = o ? o->if_contains("origin") : nullptr;
  if (name == nullptr || !name->is_string() || wanted == nullptr || !wanted->is_string() ||
      origin == nullptr || !origin->is_string() || !ParseWanted(wanted->as_string())) {
    return Fail(ErrorCode::kConfig, at + "bad entry " + json::SerializeDom(item));
  }
  const std::string n(name->as_string());
  const Phase want = *ParseWanted(wanted->as_string());
  if (origin->as_string() == "file") {
    EntryPtr e = Find(n);
    if (!e || e->origin != Origin::kFile) {
      log::Warn("the serve state file names a pipeline the config file no longer defines",
                {{"pipeline", n}});
      return Ok();
    }
    MutexLock lock(mu_);
    e->wanted = want;
    return Ok();
  }
  const bj::value* raw = o->if_contains("spec");
  auto spec = raw ? ParseSpec(*raw, at + n) : Fail(ErrorCode::kConfig, at + n + ": no spec");
  if (!spec) return Fail(spec.error());
  if (Find(n)) {
    return Fail(ErrorCode::kConfig, at + "pipeline " + n +
                                        " was created over the API and is also in the config "
                                        "file; rename one of them");
  }
  auto e = std::make_shared<Entry>();
  e->name = n;
  e->origin = Origin::kApi;
  e->spec = std::move(*spec);
  e->wanted = want;
  std::vector<std::string> warnings;
  std::vector<std::string> errs = runtime_.Validate(e->spec, warnings);
  if (!errs.empty()) {
    // Kept, not dropped: the user sees why it does not run and can fix it.
    e->phase = Phase::kError;
    for (const auto& err : errs) e->error += (e->error.empty() ? "" : "; ") + err;
    log::Error("pipeline from the state file is invalid", {{"pipeline", n}, {"error", e->error}});
  }
  MutexLock lock(mu_);
  entries_[n] = e;
  return Ok();
}

}  // namespace pgcdc::serve
