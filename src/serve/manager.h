// The pipelines of `pgcdc serve`: their lifecycle (start, stop, pause,
// resume, replace, remove), one thread each, isolation (a pipeline that
// fails is marked `error`; the others go on), and the state file that keeps
// pipelines created over the API, and every pipeline's wanted state, across
// restarts.
//
// How a pipeline is validated and run is the Runtime's business (the CLI
// runs the one pipeline assembly; tests use a fake), so this module is pure
// lifecycle and bookkeeping.
#pragma once

#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/health.h"
#include "core/mutex.h"
#include "serve/spec.h"

namespace pgcdc::serve {

// Views into a running pipeline, valid between the two calls of the
// Runtime's `probes` callback.
struct RunProbes {
  std::function<bool()> ready;              // assembled, events flowing
  std::function<std::string()> stats_json;  // per-adapter counters (console shape)
  std::function<HealthStatus()> health;     // its components (detector connected, ...)
  std::function<std::string()> health_json;
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  // Every configuration problem of the entry (empty = valid); notes go to warnings.
  virtual std::vector<std::string> Validate(const PipelineSpec& spec,
                                            std::vector<std::string>& warnings) = 0;
  // Runs the pipeline until `stop` is requested (then Ok after an orderly
  // drain) or it fails. Calls probes(&p) once the pipeline exists and
  // probes(nullptr) before it is torn down.
  virtual Status Run(const PipelineSpec& spec, std::stop_token stop,
                     const std::function<void(const RunProbes*)>& probes) = 0;
};

enum class Phase { kStopped, kRunning, kPaused, kError };
enum class Origin { kFile, kApi };

// An operation's failure as the API reports it.
struct OpError {
  int http_status = 400;
  std::string message;
  std::vector<std::string> errors;  // validation details
};
template <class T>
using OpResult = std::expected<T, OpError>;

struct PipelineInfo {
  std::string name;
  std::string status;  // stopped | starting | running | paused | error
  Origin origin = Origin::kFile;
  std::string error;
  int64_t started_at_ns = 0;  // 0 = never
  int restarts = 0;
  std::string config_json;  // the entry
  std::string stats_json;   // empty unless running
  std::string health_json;  // empty unless running
};
// {"name","status","origin","started_at"?,"error"?,"config":{…},"stats"?}
std::string InfoJson(const PipelineInfo& info);

class Manager {
 public:
  // state_file empty = nothing persisted.
  Manager(Runtime& runtime, std::string state_file);
  ~Manager();  // stops every pipeline
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Boot: the serve file's pipelines, then the state file's (API-created
  // pipelines, wanted states). A state file that cannot be read is an error
  // (pipelines are never dropped silently). Invalid entries are kept in
  // `error` with their validation messages.
  Status Load(const std::vector<PipelineSpec>& file_pipelines);
  // Starts every pipeline whose wanted state is running.
  void StartWanted();
  // Stops all (SIGTERM); each pipeline drains as `listen` would.
  void StopAll();

  std::vector<PipelineInfo> List() const;
  OpResult<PipelineInfo> Get(const std::string& name) const;
  // Validates; dry_run stops there. Created stopped unless `start`.
  OpResult<PipelineInfo> Create(PipelineSpec spec, bool start, bool dry_run);
  // Replaces an API-created pipeline's entry; a running pipeline is drained
  // and started again with the new entry (its checkpoint carries over).
  OpResult<PipelineInfo> Replace(const std::string& name, PipelineSpec spec, bool dry_run);
  OpResult<PipelineInfo> Remove(const std::string& name);
  OpResult<PipelineInfo> Start(const std::string& name);
  OpResult<PipelineInfo> Stop(const std::string& name);
  OpResult<PipelineInfo> Pause(const std::string& name);
  OpResult<PipelineInfo> Resume(const std::string& name);

  // Every pipeline that should run is streaming.
  bool Ready() const;
  // {"status":"up|degraded","components":{"pipeline:<name>":{…}}}: a failed
  // pipeline is `degraded` (the process stays live; /readyz reports it).
  std::string HealthJson() const;

 private:
  struct Entry;
  using EntryPtr = std::shared_ptr<Entry>;
  EntryPtr Find(const std::string& name) const;
  OpResult<PipelineInfo> Conflict(const Entry& e, const std::string& op) const;
  void Launch(const EntryPtr& e);   // e->op held
  void Halt(Entry& e, Phase then);  // e->op held; joins
  PipelineInfo Info(const Entry& e) const;
  std::string StatusName(const Entry& e) const;
  void Persist();
  void Publish(const Entry& e);
  Status LoadStateEntry(const boost::json::value& item, const std::string& at);

  Runtime& runtime_;
  std::string state_file_;
  mutable Mutex mu_;
  std::map<std::string, EntryPtr> entries_ GUARDED_BY(mu_);
  Mutex persist_mu_;
};

}  // namespace pgcdc::serve
