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
#include <ctime>
#include <mutex>

namespace pgcdc::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kText)};

std::mutex& WriteMutex() {
  static std::mutex* mu = new std::mutex();  // leaked: usable during static destruction
  return *mu;
}

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;   // overlong
    if (b0 == 0xED && b1 >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xF0 && b1 < 0x90) return 0;   // overlong
    if (b0 == 0xF4 && b1 >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

// JSON string body (no surrounding quotes) per RFC 8259; invalid UTF-8 is
// replaced with U+FFFD so the line is always valid JSON.
void AppendJsonEscaped(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  AppendJsonEscaped(out, s);
  out += '"';
}

// Go %q-like escaping of the string body: \" \\ \n \r \t, other control
// characters and invalid UTF-8 bytes as \xNN. Valid UTF-8 passes through.
void AppendGoEscaped(std::string& out, std::string_view s, bool escape_quotes) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        if (escape_quotes) {
          out += "\\\"";
        } else {
          out += '"';
        }
        break;
      case '\\':
        if (escape_quotes) {
          out += "\\\\";
        } else {
          out += '\\';
        }
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

bool NeedsQuoting(std::string_view s) {
  if (s.empty()) return true;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || c < 0x20 || c == 0x7F) return true;
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s, i);
      if (n == 0) return true;
      i += n;
      continue;
    }
    ++i;
  }
  return false;
}

void AppendTextValue(std::string& out, std::string_view v) {
  if (!NeedsQuoting(v)) {
    out += v;
    return;
  }
  out += '"';
  AppendGoEscaped(out, v, /*escape_quotes=*/true);
  out += '"';
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

std::string_view TextLevel(Level level) {
  switch (level) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO ";
    case Level::kWarn:
      return "WARN ";
    case Level::kError:
      return "ERROR";
    case Level::kOff:
      break;
  }
  return "?????";
}

std::string_view JsonLevel(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      break;
  }
  return "unknown";
}

void WriteAll(std::string_view line) {
  std::lock_guard lock(WriteMutex());
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

bool ParseFormat(std::string_view name, Format* out) {
  if (name == "text" || name == "auto" || name == "color") {
    *out = Format::kText;
  } else if (name == "json") {
    *out = Format::kJson;
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

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  std::string line;
  line.reserve(128 + msg.size());
  if (static_cast<Format>(g_format.load(std::memory_order_relaxed)) == Format::kJson) {
    line += "{\"time\":\"";
    AppendTimestamp(line);
    line += "\",\"level\":\"";
    line += JsonLevel(level);
    line += "\",\"msg\":";
    AppendJsonString(line, msg);
    for (const Field& f : fields) {
      line += ',';
      AppendJsonString(line, f.key);
      line += ':';
      if (f.quoted) {
        AppendJsonString(line, f.value);
      } else {
        line += f.value;
      }
    }
    line += "}\n";
  } else {
    AppendTimestamp(line);
    line += ' ';
    line += TextLevel(level);
    line += ' ';
    // The message is not quoted, but control characters are escaped so a
    // record is always exactly one line.
    AppendGoEscaped(line, msg, /*escape_quotes=*/false);
    for (const Field& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      AppendTextValue(line, f.value);
    }
    line += '\n';
  }
  WriteAll(line);
}

}  // namespace pgcdc::log
