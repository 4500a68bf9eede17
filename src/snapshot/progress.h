// Progress display for a table export (`pgcdc snapshot`).
//
// On a terminal: one line on the output stream, redrawn in place ("\r" +
// erase-to-end) at most every `min_interval` (default 200 ms, i.e. <= 5/s):
// rows done, rows/s, and — when the planner's row estimate is known and not
// yet exceeded — a bar, the percentage and an ETA. Otherwise: a structured
// log line ("snapshot progress") every `log_every_rows` rows, but no more
// often than `min_log_interval`, so huge tables do not flood the log.
//
// Threading: Update/Finish are called from one thread (the detector's).
// The formatting helpers are pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace pgcdc::snapshot {

struct ProgressSample {
  uint64_t rows = 0;
  int64_t estimated_rows = -1;  // -1 = unknown
  double elapsed_seconds = 0;
  bool done = false;
};

// "1,234,567".
std::string FormatCount(uint64_t n);
// "0:07", "12:34", "1:02:03".
std::string FormatClock(double seconds);
// Percentage 0..100 when the estimate is usable (known, > 0 and not
// exceeded, or the export is done), else a negative value.
double ProgressPercent(const ProgressSample& s);
// The terminal line, without "\r" or a newline.
std::string FormatProgressLine(std::string_view table, const ProgressSample& s);

class ProgressReporter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::string table;
    bool tty = false;
    std::FILE* out = stderr;  // terminal mode only
    std::chrono::milliseconds min_interval{200};
    uint64_t log_every_rows = 1000;
    std::chrono::milliseconds min_log_interval{1000};
    std::function<Clock::time_point()> now;  // for tests; default steady_clock
  };

  explicit ProgressReporter(Options options);

  // Starts the clock (also done by the constructor).
  void Start();
  void SetEstimate(int64_t estimated_rows) { estimate_ = estimated_rows; }
  // Reports rows done so far; draws/logs when due.
  void Update(uint64_t rows);
  // Final state: terminal mode draws the last line and ends it with a
  // newline (only if anything was drawn or `completed`); log mode is silent
  // (the caller logs a summary).
  void Finish(uint64_t rows, bool completed);

  double ElapsedSeconds() const;
  uint64_t lines_written() const { return lines_; }

 private:
  Clock::time_point Now() const { return options_.now ? options_.now() : Clock::now(); }
  ProgressSample Sample(uint64_t rows, bool done) const;
  void Draw(const ProgressSample& s, bool final_line);

  Options options_;
  Clock::time_point start_;
  Clock::time_point last_draw_{};
  bool drawn_ = false;
  uint64_t last_logged_rows_ = 0;
  int64_t estimate_ = -1;
  uint64_t lines_ = 0;
};

}  // namespace pgcdc::snapshot
