// Structured logging to stderr.
//
// Text format:  2025-06-15T12:00:00.123Z INFO  message key=value key2="quoted value"
// Color format: the text format with the level coloured and time/keys dimmed.
// JSON format:  {"time":"…","level":"info","msg":"message","key":"value"}
// stdout never carries logs; it is reserved for events.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

namespace pgcdc::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };
enum class Format { kText, kJson, kColor };  // kColor: text with ANSI colours

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v) {}
  Field(std::string_view k, int64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, uint64_t v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, int v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, unsigned v) : key(k), value(std::to_string(v)), quoted(false) {}
  Field(std::string_view k, double v);
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), quoted(false) {}
  std::string_view key;
  std::string value;
  bool quoted = true;  // JSON: emit as string (true) or raw number/bool (false)
};

// Parses "debug|info|warn|error"; returns false on unknown names.
bool ParseLevel(std::string_view name, Level* out);
// Parses "text|json|color|auto"; auto is color when stderr is a terminal (and
// NO_COLOR is unset and TERM is not "dumb"), text otherwise.
bool ParseFormat(std::string_view name, Format* out);
// What "auto" picks for the given terminal facts (testable without a TTY).
Format AutoFormat(bool stderr_is_tty, const char* no_color_env, const char* term_env);

void Configure(Level level, Format format);
bool Enabled(Level level);

void Write(Level level, std::string_view msg, std::span<const Field> fields);
inline void Write(Level level, std::string_view msg, std::initializer_list<Field> fields = {}) {
  Write(level, msg, std::span<const Field>(fields.begin(), fields.size()));
}

inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, msg, f);
}
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, msg, f);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, msg, f);
}
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) {
  if (Enabled(Level::kError)) Write(Level::kError, msg, f);
}

}  // namespace pgcdc::log
