// Structured logging to stderr.
//
// Each record is formatted into one buffer and handed to a single write(2)
// under a mutex, so lines from different threads never interleave (and the
// output stays line-atomic even when stderr is a pipe shared with children).
// No third-party logger: the format is simple and fully ours.

#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "core/json.h"
#include "core/mutex.h"
#include "core/scope.h"
#include "core/trace_context.h"

namespace pgcdc::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kText)};

Mutex& WriteMutex() {
  static Mutex* mu = new Mutex();  // leaked: usable during static destruction
  return *mu;
}

// Text values are written bare when they are plain printable ASCII without
// separators; otherwise they are quoted with JSON string escaping (which also
// replaces invalid UTF-8), so a record is always exactly one parseable line.
bool NeedsQuoting(std::string_view s) {
  if (s.empty()) return true;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7F) return true;
  }
  return false;
}

bool HasControlOrNonAscii(std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7F) return true;
  }
  return false;
}

void AppendTextValue(std::string& out, std::string_view v) {
  if (NeedsQuoting(v)) {
    json::AppendString(out, v);
  } else {
    out += v;
  }
}

// "2025-06-15T12:00:00.123Z"
void AppendTimestamp(std::string& out) {
  const auto now = std::chrono::system_clock::now();
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
  const int millis = static_cast<int>(((ms % 1000) + 1000) % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const int n =
      std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  if (n > 0) out.append(buf, static_cast<size_t>(n));
}

struct LevelNames {
  std::string_view text;  // padded to 5 columns
  std::string_view json;
};

LevelNames NamesOf(Level level) {
  static constexpr LevelNames kNames[] = {
      {"DEBUG", "debug"}, {"INFO ", "info"}, {"WARN ", "warn"}, {"ERROR", "error"}};
  const auto i = static_cast<size_t>(level);
  return i < std::size(kNames) ? kNames[i] : LevelNames{"?????", "unknown"};
}

void WriteAll(std::string_view line) {
  MutexLock lock(WriteMutex());
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere left to report it
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// "<time> LEVEL msg key=value…", with ANSI colours when colour is set.
void AppendTextRecord(std::string& line, Level level, std::string_view msg,
                      std::span<const Field> fields, bool colour) {
  static constexpr std::string_view kLevelColours[] = {"\x1b[36m", "\x1b[32m", "\x1b[33m",
                                                       "\x1b[1;31m"};
  constexpr std::string_view kDim = "\x1b[2m";
  constexpr std::string_view kReset = "\x1b[0m";
  if (colour) line += kDim;
  AppendTimestamp(line);
  if (colour) line += kReset;
  line += ' ';
  const auto i = static_cast<size_t>(level);
  if (colour && i < std::size(kLevelColours)) line += kLevelColours[i];
  line += NamesOf(level).text;
  if (colour) line += kReset;
  line += ' ';
  // The message is bare unless it holds control or non-ASCII bytes.
  if (HasControlOrNonAscii(msg)) {
    json::AppendString(line, msg);
  } else {
    line += msg;
  }
  for (const Field& f : fields) {
    line += ' ';
    if (colour) line += kDim;
    line += f.key;
    line += '=';
    if (colour) line += kReset;
    AppendTextValue(line, f.value);
  }
  line += '\n';
}

}  // namespace

Field::Field(std::string_view k, double v) : key(k), quoted(false) {
  if (std::isnan(v)) {
    value = "NaN";
    quoted = true;  // not a JSON number
  } else if (std::isinf(v)) {
    value = v > 0 ? "+Inf" : "-Inf";
    quoted = true;
  } else {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    value.assign(buf, end);
  }
}

bool ParseLevel(std::string_view name, Level* out) {
  if (name == "debug") {
    *out = Level::kDebug;
  } else if (name == "info") {
    *out = Level::kInfo;
  } else if (name == "warn" || name == "warning") {
    *out = Level::kWarn;
  } else if (name == "error") {
    *out = Level::kError;
  } else {
    return false;
  }
  return true;
}

Format AutoFormat(bool stderr_is_tty, const char* no_color_env, const char* term_env) {
  const bool no_color = no_color_env != nullptr && *no_color_env != '\0';
  const bool dumb = term_env == nullptr || std::string_view(term_env) == "dumb";
  return stderr_is_tty && !no_color && !dumb ? Format::kColor : Format::kText;
}

bool ParseFormat(std::string_view name, Format* out) {
  if (name == "text") {
    *out = Format::kText;
  } else if (name == "json") {
    *out = Format::kJson;
  } else if (name == "color") {
    *out = Format::kColor;
  } else if (name == "auto") {
    *out = AutoFormat(::isatty(STDERR_FILENO) == 1, std::getenv("NO_COLOR"), std::getenv("TERM"));
  } else {
    return false;
  }
  return true;
}

void Configure(Level level, Format format) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
  g_format.store(static_cast<int>(format), std::memory_order_relaxed);
}

bool Enabled(Level level) {
  return level != Level::kOff && static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

namespace {

// The fields plus `pipeline=<name>` when the thread works for a pipeline of
// `pgcdc serve` (core/scope.h) and the caller did not name one itself.
// Also adds trace_id/span_id when a sampled span is current on the thread
// (core/trace_context.h: tracing is on and the record is about one event).
std::span<const Field> WithPipeline(std::span<const Field> fields, std::vector<Field>& storage) {
  const std::string_view pipeline = scope::Pipeline();
  const trace::CurrentSpan* span = trace::Current();
  bool add_pipeline = !pipeline.empty();
  if (add_pipeline) {
    for (const Field& f : fields) {
      if (f.key == "pipeline") add_pipeline = false;
    }
  }
  if (!add_pipeline && span == nullptr) return fields;
  storage.reserve(fields.size() + 3);
  if (add_pipeline) storage.emplace_back("pipeline", pipeline);
  storage.insert(storage.end(), fields.begin(), fields.end());
  if (span != nullptr) {
    storage.emplace_back("trace_id", trace::TraceIdHex(span->trace_id));
    storage.emplace_back("span_id", trace::SpanIdHex(span->span_id));
  }
  return storage;
}

}  // namespace

void Write(Level level, std::string_view msg, std::span<const Field> fields) {
  if (!Enabled(level)) return;
  std::vector<Field> storage;
  fields = WithPipeline(fields, storage);
  std::string line;
  line.reserve(128 + msg.size());
  if (static_cast<Format>(g_format.load(std::memory_order_relaxed)) == Format::kJson) {
    line += "{\"time\":\"";
    AppendTimestamp(line);
    line += "\",\"level\":\"";
    line += NamesOf(level).json;
    line += "\",\"msg\":";
    json::AppendString(line, msg);
    for (const Field& f : fields) {
      line += ',';
      json::AppendString(line, f.key);
      line += ':';
      if (f.quoted) {
        json::AppendString(line, f.value);
      } else {
        line += f.value;
      }
    }
    line += "}\n";
  } else {
    AppendTextRecord(
        line, level, msg, fields,
        static_cast<Format>(g_format.load(std::memory_order_relaxed)) == Format::kColor);
  }
  WriteAll(line);
}

}  // namespace pgcdc::log
