#include "dlq/dlq.h"

#include <unistd.h>

#include <cerrno>

#include "core/json.h"
#include "core/metrics.h"
#include "core/mutex.h"
#include "core/time.h"

namespace pgcdc::dlq {

// Defined in pg_dlq.cc.
Result<DeadLetterQueuePtr> MakePgTable(const Options& options);

metrics::Counter& RecordsFor(std::string_view adapter) {
  return metrics::AdapterCounter("pgcdc_dlq_records_total",
                                 "Events written to the dead letter queue.", adapter);
}

namespace {

// One JSON line per record on stderr, written with a single write(2) so
// records never interleave with log lines from other threads.
class StderrDlq final : public DeadLetterQueue {
 public:
  std::string_view Kind() const override { return "stderr"; }
  Status Record(const Event& event, std::string_view adapter, std::string_view error) override {
    std::string line = StderrLine(event, adapter, error, NowUnixNanos());
    line.push_back('\n');
    MutexLock lock(mu_);
    size_t off = 0;
    while (off < line.size()) {
      const ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Fail(ErrorCode::kIo, "dlq stderr: write failed");
      }
      off += static_cast<size_t>(n);
    }
    RecordsFor(adapter).Inc();
    return Ok();
  }

 private:
  Mutex mu_;
};

class NoneDlq final : public DeadLetterQueue {
 public:
  std::string_view Kind() const override { return "none"; }
  Status Record(const Event&, std::string_view adapter, std::string_view) override {
    RecordsFor(adapter).Inc();
    return Ok();
  }
};

}  // namespace

std::string StderrLine(const Event& event, std::string_view adapter, std::string_view error,
                       int64_t now_ns) {
  std::string out;
  out.reserve(event.Json().size() + error.size() + 96);
  json::Writer w(out);
  w.BeginObject();
  w.Key("event");
  w.Raw(event.Json());
  w.StringField("adapter", adapter);
  w.StringField("error", error);
  w.StringField("timestamp", FormatRfc3339Nano(now_ns));
  w.EndObject();
  return out;
}

Result<DeadLetterQueuePtr> Make(const Options& options) {
  if (options.type == "stderr") return std::make_unique<StderrDlq>();
  if (options.type == "none") return std::make_unique<NoneDlq>();
  if (options.type == "pg_table") return MakePgTable(options);
  return Fail(ErrorCode::kConfig,
              "dlq: unknown backend \"" + options.type + "\" (stderr, pg_table, none)");
}

}  // namespace pgcdc::dlq
