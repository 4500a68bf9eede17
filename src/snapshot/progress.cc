#include "snapshot/progress.h"

#include <algorithm>
#include <cmath>

#include "core/log.h"

namespace pgcdc::snapshot {

namespace {

constexpr int kBarWidth = 24;
constexpr size_t kMaxTableChars = 32;

double Rate(const ProgressSample& s) {
  return s.elapsed_seconds > 0 ? static_cast<double>(s.rows) / s.elapsed_seconds : 0;
}

}  // namespace

std::string FormatCount(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  out.reserve(digits.size() + digits.size() / 3);
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string FormatClock(double seconds) {
  if (!(seconds >= 0)) seconds = 0;
  if (seconds > 359999) seconds = 359999;  // 99:59:59
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t h = total / 3600, m = (total / 60) % 60, s = total % 60;
  char buf[32];
  if (h > 0) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(h),
                  static_cast<long long>(m), static_cast<long long>(s));
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(m),
                  static_cast<long long>(s));
  }
  return buf;
}

double ProgressPercent(const ProgressSample& s) {
  if (s.done) return 100.0;
  if (s.estimated_rows <= 0 || s.rows > static_cast<uint64_t>(s.estimated_rows)) return -1;
  // Never claim 100% before the end: the estimate is only an estimate.
  return std::min(99.9,
                  100.0 * static_cast<double>(s.rows) / static_cast<double>(s.estimated_rows));
}

std::string FormatProgressLine(std::string_view table, const ProgressSample& s) {
  std::string out = "snapshot ";
  if (table.size() > kMaxTableChars) {
    out.append(table.substr(0, kMaxTableChars - 3)).append("...");
  } else {
    out.append(table);
  }
  const double pct = ProgressPercent(s);
  char buf[64];
  if (pct >= 0) {
    const int filled = static_cast<int>(pct / 100.0 * kBarWidth);
    out.append(" [");
    out.append(static_cast<size_t>(filled), '#');
    out.append(static_cast<size_t>(kBarWidth - filled), '.');
    std::snprintf(buf, sizeof buf, "] %5.1f%%", pct);
    out.append(buf);
  }
  out.append("  ").append(FormatCount(s.rows)).append(" rows  ");
  out.append(FormatCount(static_cast<uint64_t>(Rate(s)))).append(" rows/s  ");
  if (s.done) {
    out.append("done in ").append(FormatClock(s.elapsed_seconds));
  } else if (pct >= 0 && Rate(s) > 0) {
    const double left = static_cast<double>(s.estimated_rows) - static_cast<double>(s.rows);
    out.append("ETA ").append(FormatClock(left / Rate(s)));
  } else {
    out.append("elapsed ").append(FormatClock(s.elapsed_seconds));
  }
  return out;
}

ProgressReporter::ProgressReporter(Options options) : options_(std::move(options)) { Start(); }

void ProgressReporter::Start() { start_ = Now(); }

double ProgressReporter::ElapsedSeconds() const {
  return std::chrono::duration<double>(Now() - start_).count();
}

ProgressSample ProgressReporter::Sample(uint64_t rows, bool done) const {
  ProgressSample s;
  s.rows = rows;
  s.estimated_rows = estimate_;
  s.elapsed_seconds = ElapsedSeconds();
  s.done = done;
  return s;
}

void ProgressReporter::Draw(const ProgressSample& s, bool final_line) {
  const std::string line = FormatProgressLine(options_.table, s);
  std::fprintf(options_.out, "\r%s\x1b[K%s", line.c_str(), final_line ? "\n" : "");
  std::fflush(options_.out);
  drawn_ = true;
  ++lines_;
}

void ProgressReporter::Update(uint64_t rows) {
  const auto now = Now();
  if (options_.tty) {
    if (drawn_ && now - last_draw_ < options_.min_interval) return;
    last_draw_ = now;
    Draw(Sample(rows, false), false);
    return;
  }
  if (rows < last_logged_rows_ + std::max<uint64_t>(options_.log_every_rows, 1)) return;
  if (lines_ > 0 && now - last_draw_ < options_.min_log_interval) return;
  last_draw_ = now;
  last_logged_rows_ = rows;
  ++lines_;
  const ProgressSample s = Sample(rows, false);
  const double pct = ProgressPercent(s);
  const auto rate = static_cast<int64_t>(Rate(s));
  if (pct >= 0) {
    const double eta =
        Rate(s) > 0
            ? (static_cast<double>(s.estimated_rows) - static_cast<double>(s.rows)) / Rate(s)
            : 0;
    log::Info("snapshot progress", {{"table", options_.table},
                                    {"rows", rows},
                                    {"rows_per_second", rate},
                                    {"percent", std::round(pct * 10) / 10},
                                    {"eta", FormatClock(eta)}});
  } else {
    log::Info("snapshot progress",
              {{"table", options_.table}, {"rows", rows}, {"rows_per_second", rate}});
  }
}

void ProgressReporter::Finish(uint64_t rows, bool completed) {
  if (!options_.tty) return;
  if (!drawn_ && !completed) return;
  Draw(Sample(rows, completed), true);
}

}  // namespace pgcdc::snapshot
