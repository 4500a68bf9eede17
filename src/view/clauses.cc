#include "view/clauses.h"

#include <cctype>
#include <chrono>
#include <optional>

#include "config/config.h"

namespace pgcdc::view {

Error ErrorAt(const std::string& message, int pos) {
  return Error(ErrorCode::kConfig, message + " at position " + std::to_string(pos));
}

namespace {

enum class TokKind { kWord, kString, kIdent, kPunct };

struct Token {
  TokKind kind;
  size_t begin;
  size_t end;
  std::string_view text;
};

bool WordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// End of the quoted run starting at `i` (quote char q, doubled to escape).
size_t QuotedEnd(std::string_view s, size_t i, char q) {
  for (size_t j = i + 1; j < s.size(); ++j) {
    if (s[j] != q) continue;
    if (j + 1 < s.size() && s[j + 1] == q) {
      ++j;
      continue;
    }
    return j + 1;
  }
  return s.size();
}

// Words (identifiers, numbers, durations, dotted paths), quoted strings and
// identifiers, punctuation; whitespace and SQL comments skipped.
std::vector<Token> Tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    size_t end = i + 1;
    TokKind kind = TokKind::kPunct;
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      ++i;
      continue;
    }
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      const size_t close = s.find("*/", i + 2);
      i = close == std::string_view::npos ? s.size() : close + 2;
      continue;
    }
    if (c == '\'' || c == '"') {
      end = QuotedEnd(s, i, c);
      kind = c == '\'' ? TokKind::kString : TokKind::kIdent;
    } else if (WordChar(c)) {
      while (end < s.size() && WordChar(s[end])) ++end;
      kind = TokKind::kWord;
    }
    out.push_back({kind, i, end, s.substr(i, end - i)});
    i = end;
  }
  return out;
}

bool IsWord(const std::vector<Token>& t, size_t i, std::string_view word) {
  if (i >= t.size() || t[i].kind != TokKind::kWord || t[i].text.size() != word.size()) return false;
  for (size_t k = 0; k < word.size(); ++k) {
    if (std::toupper(static_cast<unsigned char>(t[i].text[k])) != word[k]) return false;
  }
  return true;
}

int Pos(const Token& t) { return static_cast<int>(t.begin) + 1; }

// The duration at token i (> 0 unless allow_zero); `what` names it in errors.
Result<int64_t> DurationAt(const std::vector<Token>& t, size_t i, size_t anchor,
                           const std::string& what, bool allow_zero = false) {
  if (i >= t.size() || t[i].kind != TokKind::kWord) {
    const int pos = i < t.size() ? Pos(t[i]) : Pos(t[anchor]) + 1;
    return Fail(ErrorAt(what + " needs a duration such as 10s, 1m or 500ms", pos));
  }
  auto d = config::ParseDuration(t[i].text);
  if (!d) {
    return Fail(ErrorAt(what + ": invalid duration \"" + std::string(t[i].text) + "\"", Pos(t[i])));
  }
  if (d->count() < 0 || (d->count() == 0 && !allow_zero)) {
    return Fail(ErrorAt(what + " must be " + (allow_zero ? ">= 0" : "> 0"), Pos(t[i])));
  }
  return d->count();
}

std::vector<std::string> SplitPath(std::string_view text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t dot = text.find('.', start);
    parts.emplace_back(text.substr(start, dot == std::string_view::npos ? text.npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() > 1 && parts.front() == "payload") parts.erase(parts.begin());
  return parts;
}

struct Match {
  size_t last = 0;  // index of the clause's last token
};

// Matches one clause at token i into `out`; nullopt when none starts there.
Result<std::optional<Match>> MatchClause(const std::vector<Token>& t, size_t i, Clauses& out,
                                         bool& have_window) {
  auto window = [&](WindowKind kind, const char* name) -> Result<std::optional<Match>> {
    if (have_window) return Fail(ErrorAt("more than one window clause", Pos(t[i])));
    have_window = true;
    out.have_window = true;
    out.window_pos = Pos(t[i]);
    auto size = DurationAt(t, i + 2, i + 1, name);
    if (!size) return Fail(size.error());
    out.window = {.kind = kind, .size_ns = *size};
    if (kind != WindowKind::kSliding) return Match{i + 2};
    if (!IsWord(t, i + 3, "SLIDE")) {
      return Fail(ErrorAt("SLIDING WINDOW <size> needs SLIDE <duration>",
                          i + 3 < t.size() ? Pos(t[i + 3]) : Pos(t[i + 2]) + 1));
    }
    auto slide = DurationAt(t, i + 4, i + 3, "SLIDE");
    if (!slide) return Fail(slide.error());
    if (*slide > *size)
      return Fail(ErrorAt("SLIDE must not exceed the window size", Pos(t[i + 4])));
    out.window.slide_ns = *slide;
    return Match{i + 4};
  };
  if (IsWord(t, i + 1, "WINDOW")) {
    if (IsWord(t, i, "TUMBLING")) return window(WindowKind::kTumbling, "TUMBLING WINDOW");
    if (IsWord(t, i, "SLIDING")) return window(WindowKind::kSliding, "SLIDING WINDOW");
    if (IsWord(t, i, "SESSION")) return window(WindowKind::kSession, "SESSION WINDOW");
  }
  if (IsWord(t, i, "EVENT") && IsWord(t, i + 1, "TIME") && IsWord(t, i + 2, "BY")) {
    if (!out.event_time.empty()) return Fail(ErrorAt("more than one EVENT TIME BY", Pos(t[i])));
    if (i + 3 >= t.size() || t[i + 3].kind != TokKind::kWord) {
      return Fail(ErrorAt("EVENT TIME BY needs a field path such as payload.row.created_at",
                          i + 3 < t.size() ? Pos(t[i + 3]) : Pos(t[i + 2]) + 2));
    }
    out.event_time = SplitPath(t[i + 3].text);
    return Match{i + 3};
  }
  if (IsWord(t, i, "WITHIN") && !IsWord(t, i + 1, "GROUP")) {
    if (out.within_pos != 0) return Fail(ErrorAt("more than one WITHIN", Pos(t[i])));
    auto d = DurationAt(t, i + 1, i, "WITHIN");
    if (!d) return Fail(d.error());
    out.within_ns = *d;
    out.within_pos = Pos(t[i]);
    return Match{i + 1};
  }
  if (IsWord(t, i, "ALLOWED") && IsWord(t, i + 1, "LATENESS")) {
    auto d = DurationAt(t, i + 2, i + 1, "ALLOWED LATENESS", /*allow_zero=*/true);
    if (!d) return Fail(d.error());
    out.lateness_ns = *d;
    return Match{i + 2};
  }
  return std::optional<Match>();
}

}  // namespace

Error MissingWindow(std::string_view query) {
  return ErrorAt(
      "missing window clause (TUMBLING WINDOW <dur>, SLIDING WINDOW <dur> SLIDE <dur> or "
      "SESSION WINDOW <dur>)",
      static_cast<int>(query.size()) + 1);
}

Result<Clauses> StripClauses(std::string_view query) {
  Clauses out;
  out.sql = std::string(query);
  const std::vector<Token> tokens = Tokenize(query);
  bool have_window = false;
  bool have_lateness = false;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].kind != TokKind::kWord) continue;
    const bool lateness = IsWord(tokens, i, "ALLOWED") && IsWord(tokens, i + 1, "LATENESS");
    if (lateness && have_lateness) {
      return Fail(ErrorAt("more than one ALLOWED LATENESS", Pos(tokens[i])));
    }
    auto m = MatchClause(tokens, i, out, have_window);
    if (!m) return Fail(m.error());
    if (!*m) continue;
    have_lateness = have_lateness || lateness;
    for (size_t k = tokens[i].begin; k < tokens[(*m)->last].end; ++k) out.sql[k] = ' ';
    i = (*m)->last;
  }
  if (out.lateness_ns > 0 && out.event_time.empty()) {
    return Fail(ErrorAt("ALLOWED LATENESS needs EVENT TIME BY", 1));
  }
  return out;
}

}  // namespace pgcdc::view
