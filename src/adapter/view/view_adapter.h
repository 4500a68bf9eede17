// view adapter: streaming SQL views (SPEC §5.22, §7). Every event except the
// views' own results (channel pgcdc:_view:*) runs through each view's engine
// (src/view); closed windows become VIEW_RESULT events on
// pgcdc:_view:<name>, published back into the bus (Services::publish) so
// every adapter receives them.
//
// Threads: Deliver/Flush/Close run on the adapter's worker (engines are
// single-threaded there; Flush, called at least every poll interval, moves
// processing time on). Results go through a bounded queue to an emitter
// thread that publishes them, so the worker never blocks on the bus it
// drains; a full queue drops results and counts them
// (pgcdc_view_results_dropped_total). On Close every open window is
// flushed once more; results the stopping pipeline no longer takes are
// counted as dropped.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "adapter/adapter.h"
#include "core/mutex.h"
#include "registry/registry.h"
#include "view/engine.h"

namespace pgcdc::metrics {
class Counter;
class Gauge;
}  // namespace pgcdc::metrics

namespace pgcdc::adapter::view {

enum class Emit { kRow, kBatch };

struct Options {
  std::string views_yaml;  // views: [{name, query, emit, max_groups, event_time_field}]
  std::vector<std::string> cli_queries;  // --view-query name:query
  Emit emit = Emit::kRow;                // for --view-query views
  int64_t max_groups = 100000;           // for --view-query views
  bool emit_late = false;                // for --view-query views
  int64_t result_buffer = 1000;          // results waiting for the bus
  // Where views keep what a restart resumes from — the watermark, delivered
  // sessions, delivered join pairs (docs/views.md, "Restarts"); empty = none.
  std::string state_file;
};

struct ViewDef {
  std::string name;
  std::shared_ptr<const pgcdc::view::Query> query;
  Emit emit = Emit::kRow;
  int64_t max_groups = 100000;
  // Late events go to pgcdc:_view:<name>:late as VIEW_LATE events.
  bool emit_late = false;
};

// The VIEW_RESULT payloads of one closed window: one per row (emit: row) or
// one for the whole window (emit: batch). Shared by the adapter and
// `pgcdc view test`.
std::vector<std::string> ResultPayloads(const ViewDef& view,
                                        const pgcdc::view::WindowResult& window);

// Every view of the configuration, parsed (YAML first; a --view-query of the
// same name replaces it). Errors name the view: `view "x": … at position N`.
Result<std::vector<ViewDef>> BuildViews(const Options& options);

class ViewAdapter : public Adapter {
 public:
  using Clock = std::function<int64_t()>;  // Unix nanoseconds
  ViewAdapter(std::vector<ViewDef> views, Options options, Clock clock = {});
  ~ViewAdapter() override;

  std::string_view Name() const override { return "view"; }
  Status Attach(const Services& services) override;
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  Status Flush() override;
  void Close() override;
  // The oldest source event an open window (or a window whose results are
  // not yet delivered by every other adapter) still needs: the pipeline
  // confirms only the events before it, so a restart replays what the
  // windows need (docs/views.md, "Restarts").
  std::optional<uint64_t> OldestHeldSeq() const override;

 private:
  struct View;
  // Closes the view's due windows (all of them when `now` is empty) and queues
  // their results.
  void CloseWindows(View& v, std::optional<int64_t> now);
  void Collect(View& v, const std::vector<pgcdc::view::WindowResult>& windows);
  void Release();
  Status SaveState();
  Status LoadState();
  void UpdateMetrics(View& v);
  void Enqueue(EventBatch batch) EXCLUDES(mu_);
  void RunEmitter() EXCLUDES(mu_);

  std::vector<std::unique_ptr<View>> views_;
  Options options_;
  Clock clock_;
  std::function<bool(EventBatch&&)> publish_;
  std::function<uint64_t(std::string_view)> delivered_by_others_;
  uint64_t max_seq_seen_ = 0;   // highest Event::seq delivered to this adapter
  uint64_t held_ = UINT64_MAX;  // OldestHeldSeq as of the last Flush
  std::string saved_state_;     // what the state file holds
  Mutex mu_;
  CondVar cv_;
  std::deque<EventBatch> pending_ GUARDED_BY(mu_);
  size_t pending_events_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread emitter_;
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::view
