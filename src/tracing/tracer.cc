#include "tracing/tracer.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "core/json.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/scope.h"
#include "core/time.h"

namespace pgcdc::tracing {

std::string_view SpanNameText(SpanName name) {
  return name == SpanName::kDetect ? "pgcdc.detect" : "pgcdc.adapter.deliver";
}

// ---- SpanQueue --------------------------------------------------------------

SpanQueue::SpanQueue(size_t capacity) : ring_(std::max<size_t>(1, capacity)) {}

size_t SpanQueue::PopUpTo(std::vector<SpanRecord>& out, size_t max) {
  MutexLock lock(mu_);
  const size_t n = std::min(max, count_);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(ring_[head_]);
    head_ = (head_ + 1) % ring_.size();
  }
  count_ -= n;
  return n;
}

size_t SpanQueue::size() const {
  MutexLock lock(mu_);
  return count_;
}

// ---- JSON (stdout exporter) -------------------------------------------------

std::string SpanJson(const SpanRecord& s) {
  std::string out = "{\"name\":";
  json::AppendString(out, SpanNameText(s.name));
  out += ",\"kind\":";
  out += s.name == SpanName::kDetect ? "\"producer\"" : "\"consumer\"";
  out += ",\"trace_id\":\"" + trace::TraceIdHex(s.trace_id) + "\"";
  out += ",\"span_id\":\"" + trace::SpanIdHex(s.span_id) + "\"";
  if (s.parent_span_id != 0) {
    out += ",\"parent_span_id\":\"" + trace::SpanIdHex(s.parent_span_id) + "\"";
  }
  out += ",\"start_unix_nano\":" + std::to_string(s.start_ns);
  out += ",\"end_unix_nano\":" + std::to_string(s.end_ns);
  out += ",\"attributes\":{\"pgcdc.event.id\":\"" + s.event_id.ToString() + "\",\"pgcdc.channel\":";
  json::AppendString(out, s.channel.view());
  out += ",\"pgcdc.operation\":";
  json::AppendString(out, s.operation.view());
  if (s.name == SpanName::kDetect) {
    out += ",\"pgcdc.source\":";
    json::AppendString(out, s.source.view());
    if (s.lsn != 0) out += ",\"pgcdc.lsn\":" + std::to_string(s.lsn);
    if (s.table.size != 0) {
      out += ",\"pgcdc.table\":";
      json::AppendString(out, s.table.view());
    }
  } else {
    out += ",\"pgcdc.adapter\":";
    json::AppendString(out, s.adapter.view());
  }
  out += "},\"status\":";
  out += s.error ? "\"error\"" : "\"ok\"";
  if (s.error) {
    out += ",\"status_message\":";
    json::AppendString(out, s.status_message.view());
  }
  out += '}';
  return out;
}

// ---- BatchProcessor ---------------------------------------------------------

struct BatchProcessor::Impl {
  Impl(const Settings& s, ExportFn fn) : settings(s), export_fn(std::move(fn)) {
    auto& reg = metrics::Default();
    auto& dropped_family = reg.AddCounter(
        "pgcdc_tracing_spans_dropped_total",
        "Spans not exported: queue_full (the export queue was full), export_failed (the "
        "collector did not take them). Events are never dropped for tracing.",
        {"reason"});
    dropped_full = &dropped_family.With({"queue_full"});
    dropped_export = &dropped_family.With({"export_failed"});
    exported_total = &metrics::DefaultCounter("pgcdc_tracing_spans_exported_total",
                                              "Spans the trace exporter delivered.");
    queued = &metrics::DefaultGauge("pgcdc_tracing_queue_spans", "Spans waiting for export.");
  }

  void Run(SpanQueue& queue) {
    // Signals belong to the command's signal watcher: a process-directed
    // SIGTERM must never be delivered to (and kill the process through) this
    // thread, whenever it was started.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::vector<SpanRecord> batch;
    batch.reserve(settings.batch_size);
    for (;;) {
      bool stopping = false;
      {
        MutexLock lock(mu);
        const auto deadline = std::chrono::steady_clock::now() + settings.export_interval;
        while (!stop && !ready) {
          if (!cv.WaitUntil(mu, deadline)) break;
        }
        ready = false;
        stopping = stop;
      }
      // Stopping: everything queued gets one chance, until export_timeout.
      const auto give_up = std::chrono::steady_clock::now() + settings.export_timeout;
      do {
        batch.clear();
        if (queue.PopUpTo(batch, settings.batch_size) == 0) break;
        queued->Set(static_cast<double>(queue.size()));
        ExportBatch(batch);
      } while (queue.size() >= settings.batch_size ||
               (stopping && std::chrono::steady_clock::now() < give_up));
      queued->Set(static_cast<double>(queue.size()));
      if (stopping) {
        if (const size_t left = queue.size(); left > 0) {
          batch.clear();
          queue.PopUpTo(batch, left);
          dropped_export->Inc(batch.size());
          dropped_count += batch.size();
        }
        return;
      }
    }
  }

  void ExportBatch(const std::vector<SpanRecord>& batch) {
    Status st = export_fn(batch);
    if (st) {
      exported_total->Inc(batch.size());
      exported_count += batch.size();
      if (failing) {
        failing = false;
        log::Info("trace export recovered", {{"spans_dropped_meanwhile", dropped_since_warn}});
        dropped_since_warn = 0;
      }
      return;
    }
    dropped_export->Inc(batch.size());
    dropped_count += batch.size();
    dropped_since_warn += batch.size();
    // Rate-limited: the first failure, then at most once per warn_interval.
    const auto now = std::chrono::steady_clock::now();
    if (!failing || now - last_warn >= settings.warn_interval) {
      log::Warn("trace export failed; spans dropped (events are not affected)",
                {{"error", st.error().message()},
                 {"spans_dropped", dropped_since_warn},
                 {"next_warning_in_s",
                  static_cast<int64_t>(
                      std::chrono::duration_cast<std::chrono::seconds>(settings.warn_interval)
                          .count())}});
      last_warn = now;
      dropped_since_warn = 0;
    }
    failing = true;
  }

  Settings settings;
  ExportFn export_fn;
  Mutex mu;
  CondVar cv;
  bool stop GUARDED_BY(mu) = false;
  bool ready GUARDED_BY(mu) = false;
  std::thread thread;
  // Export-thread state.
  bool failing = false;
  uint64_t dropped_since_warn = 0;
  std::chrono::steady_clock::time_point last_warn{};
  std::atomic<uint64_t> exported_count{0};
  std::atomic<uint64_t> dropped_count{0};
  metrics::Counter* dropped_full;
  metrics::Counter* dropped_export;
  metrics::Counter* exported_total;
  metrics::Gauge* queued;
};

BatchProcessor::BatchProcessor(Settings settings, ExportFn export_fn)
    : settings_(std::move(settings)),
      queue_(settings_.queue_size),
      impl_(std::make_unique<Impl>(settings_, std::move(export_fn))) {
  impl_->thread = std::thread(scope::Bind([this] { impl_->Run(queue_); }));
}

BatchProcessor::~BatchProcessor() { Stop(); }

void BatchProcessor::Notify(size_t queued) {
  if (queued < settings_.batch_size) return;
  {
    MutexLock lock(impl_->mu);
    impl_->ready = true;
  }
  impl_->cv.NotifyOne();
}

void BatchProcessor::Stop() {
  {
    MutexLock lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.NotifyOne();
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint64_t BatchProcessor::exported() const { return impl_->exported_count.load(); }
uint64_t BatchProcessor::dropped() const { return impl_->dropped_count.load(); }

void BatchProcessor::CountDropped(size_t n) {
  if (n == 0) return;
  impl_->dropped_full->Inc(n);
  impl_->dropped_count += n;
}

// ---- the process-wide tracer ------------------------------------------------

namespace {

struct Tracer {
  Settings settings;
  std::unique_ptr<BatchProcessor> processor;
};

std::atomic<Tracer*> g_tracer{nullptr};

void FillCommon(SpanRecord& r, const Event& e) {
  r.event_id = e.id;
  r.channel.Assign(e.channel);
  r.operation.Assign(e.operation);
  r.error = false;
  r.status_message.size = 0;
}

}  // namespace

ExportFn MakeExporter(const Settings& settings);  // otlp.cc

Status Start(const Settings& settings) {
  if (!settings.enabled()) return Ok();
  if (g_tracer.load() != nullptr) return Fail(ErrorCode::kConfig, "tracing already started");
  auto tracer = std::make_unique<Tracer>();
  tracer->settings = settings;
  tracer->processor = std::make_unique<BatchProcessor>(settings, MakeExporter(settings));
  g_tracer.store(tracer.release());
  trace::Configure(true, settings.sample_ratio);
  log::Info("tracing on", {{"exporter", settings.exporter},
                           {"endpoint", settings.exporter == "otlp" ? settings.endpoint : "stderr"},
                           {"sample_ratio", settings.sample_ratio},
                           {"service_name", settings.service_name}});
  return Ok();
}

void Shutdown() {
  trace::Configure(false, 1.0);
  Tracer* t = g_tracer.exchange(nullptr);
  if (t == nullptr) return;
  t->processor->Stop();
  delete t;
}

void RecordDetect(std::span<const Event> events) {
  Tracer* t = g_tracer.load(std::memory_order_acquire);
  if (t == nullptr || events.empty()) return;
  const int64_t now = NowUnixNanos();
  size_t i = 0;
  SpanQueue& q = t->processor->queue();
  const size_t dropped = q.Push(events.size(), [&](SpanRecord& r) {
    const Event& e = events[i++];
    const trace::TraceContext ctx = trace::ContextOf(e);
    if (!ctx.sampled()) return false;
    r.trace_id = ctx.trace_id;
    r.span_id = ctx.span_id;
    r.parent_span_id = ctx.parent_span_id;
    r.start_ns = e.created_at_ns > 0 && e.created_at_ns <= now ? e.created_at_ns : now;
    r.end_ns = now;
    r.name = SpanName::kDetect;
    FillCommon(r, e);
    r.source.Assign(e.source);
    r.lsn = e.lsn;
    if (e.schema) {
      r.table.Assign(e.schema->table);
    } else {
      r.table.size = 0;
    }
    r.adapter.size = 0;
    r.tracestate.size = 0;
    if (ctx.parent_span_id != 0) r.tracestate.Assign(trace::TracestateOf(e));
    return true;
  });
  t->processor->CountDropped(dropped);
  t->processor->Notify(q.size());
}

void RecordDeliver(std::string_view adapter, std::span<const Event* const> events, int64_t start_ns,
                   const Error* error) {
  Tracer* t = g_tracer.load(std::memory_order_acquire);
  if (t == nullptr || events.empty()) return;
  const int64_t now = NowUnixNanos();
  size_t i = 0;
  SpanQueue& q = t->processor->queue();
  const size_t dropped = q.Push(events.size(), [&](SpanRecord& r) {
    const Event& e = *events[i++];
    const trace::TraceContext ctx = trace::ContextOf(e);
    if (!ctx.sampled()) return false;
    r.trace_id = ctx.trace_id;
    r.span_id = trace::DeliverSpanId(ctx.span_id, adapter);
    r.parent_span_id = ctx.span_id;
    r.start_ns = start_ns;
    r.end_ns = now;
    r.name = SpanName::kDeliver;
    FillCommon(r, e);
    r.source.Assign(e.source);
    r.lsn = e.lsn;
    r.table.size = 0;
    r.adapter.Assign(adapter);
    r.tracestate.size = 0;
    if (error != nullptr) {
      r.error = true;
      r.status_message.Assign(error->message());
    }
    return true;
  });
  t->processor->CountDropped(dropped);
  t->processor->Notify(q.size());
}

}  // namespace pgcdc::tracing
