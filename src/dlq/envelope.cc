#include "dlq/envelope.h"

#include <functional>
#include <limits>
#include <set>
#include <string>

#include "core/json.h"
#include "core/json_dom.h"
#include "core/mutex.h"
#include "core/time.h"

namespace pgcdc::dlq {

namespace {

using json::HexValue;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` decimal digits at `pos`.
std::optional<int> Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!IsDigit(s[pos + i])) return std::nullopt;
    v = v * 10 + (s[pos + i] - '0');
  }
  return v;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t SkipWs(std::string_view s, size_t i) {
  while (i < s.size() && IsWs(s[i])) ++i;
  return i;
}

// `i` at an opening quote; returns the index just past the closing quote.
size_t SkipString(std::string_view s, size_t i) {
  ++i;
  while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
  return i + 1;
}

// Returns the index just past the value starting at `i` (valid JSON assumed).
size_t SkipValue(std::string_view s, size_t i) {
  if (i >= s.size()) return i;
  if (s[i] == '"') return SkipString(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = SkipString(s, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return i;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !IsWs(s[i])) ++i;
  return i;
}

// Decodes one JSON string token (with its quotes).
std::optional<std::string> DecodeString(std::string_view token) {
  if (token.find('\\') == std::string_view::npos) {
    if (token.size() < 2) return std::nullopt;
    return std::string(token.substr(1, token.size() - 2));
  }
  auto v = json::ParseDom(token);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

// Calls fn(key, raw value) for each top-level member of a valid JSON object.
void ForEachMember(std::string_view doc,
                   const std::function<void(const std::string&, std::string_view)>& fn) {
  size_t i = SkipWs(doc, 0);
  if (i >= doc.size() || doc[i] != '{') return;
  i = SkipWs(doc, i + 1);
  while (i < doc.size() && doc[i] == '"') {
    const size_t key_end = SkipString(doc, i);
    const auto key = DecodeString(doc.substr(i, key_end - i));
    i = SkipWs(doc, key_end);
    if (i >= doc.size() || doc[i] != ':') return;
    i = SkipWs(doc, i + 1);
    const size_t value_end = SkipValue(doc, i);
    if (key) fn(*key, doc.substr(i, value_end - i));
    i = SkipWs(doc, value_end);
    if (i < doc.size() && doc[i] == ',') i = SkipWs(doc, i + 1);
  }
}

Error Bad(const std::string& what) { return Error(ErrorCode::kParse, "stored event: " + what); }

}  // namespace

Result<Uuid> ParseUuid(std::string_view text) {
  static constexpr size_t kDash[] = {8, 13, 18, 23};
  auto bad = [&] {
    return Fail(ErrorCode::kParse, "\"" + std::string(text.substr(0, 64)) +
                                       "\" is not a UUID (8-4-4-4-12 hex digits)");
  };
  if (text.size() != 36) return bad();
  Uuid out;
  size_t byte = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == kDash[0] || i == kDash[1] || i == kDash[2] || i == kDash[3]) {
      if (text[i] != '-') return bad();
      ++i;
      continue;
    }
    const int hi = HexValue(text[i]);
    const int lo = i + 1 < text.size() ? HexValue(text[i + 1]) : -1;
    if (hi < 0 || lo < 0) return bad();
    out.bytes[byte++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return out;
}

Result<int64_t> ParseRfc3339(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return Fail(ErrorCode::kParse, "\"" + std::string(s.substr(0, 64)) +
                                       "\" is not an RFC 3339 time (" + std::string(why) +
                                       "; e.g. 2025-06-15T12:00:00Z)");
  };
  // YYYY-MM-DDTHH:MM:SS is 19 characters.
  const auto year = Digits(s, 0, 4), month = Digits(s, 5, 2), day = Digits(s, 8, 2);
  const auto hour = Digits(s, 11, 2), minute = Digits(s, 14, 2), second = Digits(s, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':') {
    return bad("expected YYYY-MM-DDTHH:MM:SS followed by Z or an offset");
  }
  if (*month < 1 || *month > 12) return bad("month out of range");
  if (*day < 1 || *day > DaysInMonth(*year, *month)) return bad("day out of range");
  if (*hour > 23 || *minute > 59 || *second > 59) return bad("time of day out of range");
  size_t i = 19;
  int64_t frac_ns = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const size_t start = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    const size_t n = i - start;
    if (n == 0) return bad("empty fraction");
    if (n > 9) return bad("more than 9 fraction digits");
    for (size_t k = 0; k < 9; ++k) {
      frac_ns = frac_ns * 10 + (k < n ? s[start + k] - '0' : 0);
    }
  }
  int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    const auto oh = Digits(s, i + 1, 2), om = Digits(s, i + 4, 2);
    if (!oh || !om || s[i + 3] != ':' || *oh > 23 || *om > 59) return bad("bad offset");
    offset_s = (*oh * 3600 + *om * 60) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return bad("missing Z or offset");
  }
  if (i != s.size()) return bad("trailing characters");
  if (*year < 1678 || *year > 2261) return bad("year outside 1678..2261");
  const int64_t secs =
      DaysFromCivil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day)) * 86400 +
      *hour * 3600 + *minute * 60 + *second - offset_s;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;
  if (secs > kMax || secs < -kMax) return bad("out of range");
  return secs * 1'000'000'000 + frac_ns;
}

std::string_view InternSource(std::string_view source) {
  static Mutex mu;
  // Never destroyed: events may outlive static destruction order.
  static auto* pool = new std::set<std::string, std::less<>>();
  MutexLock lock(mu);
  auto it = pool->find(source);
  if (it == pool->end()) it = pool->emplace(source).first;
  return *it;
}

std::optional<std::string_view> RawMember(std::string_view doc, std::string_view key) {
  std::optional<std::string_view> found;
  ForEachMember(doc, [&](const std::string& k, std::string_view v) {
    if (k == key) found = v;
  });
  return found;
}

Result<Event> EventFromEnvelope(std::string_view envelope) {
  std::string scratch;
  auto info = json::Compact(envelope, scratch);
  if (!info) return Fail(Bad("not valid JSON: " + info.error().message()));
  if (info->kind != json::Kind::kObject) return Fail(Bad("not a JSON object"));

  std::optional<std::string_view> id, channel, operation, payload, source, created_at, tx;
  ForEachMember(envelope, [&](const std::string& k, std::string_view v) {
    if (k == "id") id = v;
    if (k == "channel") channel = v;
    if (k == "operation") operation = v;
    if (k == "payload") payload = v;
    if (k == "source") source = v;
    if (k == "created_at") created_at = v;
    if (k == "transaction") tx = v;
  });
  auto string_member = [](const std::optional<std::string_view>& raw,
                          std::string_view name) -> Result<std::string> {
    if (!raw) return Fail(Bad("missing \"" + std::string(name) + "\""));
    auto s = raw->empty() || raw->front() != '"' ? std::nullopt : DecodeString(*raw);
    if (!s) return Fail(Bad("\"" + std::string(name) + "\" is not a string"));
    return *s;
  };

  Event e;
  auto id_text = string_member(id, "id");
  if (!id_text) return Fail(id_text.error());
  auto uuid = ParseUuid(*id_text);
  if (!uuid) return Fail(Bad("\"id\": " + uuid.error().message()));
  e.id = *uuid;
  auto ch = string_member(channel, "channel");
  if (!ch) return Fail(ch.error());
  e.channel = std::move(*ch);
  auto op = string_member(operation, "operation");
  if (!op) return Fail(op.error());
  e.operation = std::move(*op);
  auto src = string_member(source, "source");
  if (!src) return Fail(src.error());
  e.source = InternSource(*src);
  auto created = string_member(created_at, "created_at");
  if (!created) return Fail(created.error());
  auto created_ns = ParseRfc3339(*created);
  if (!created_ns) return Fail(Bad("\"created_at\": " + created_ns.error().message()));
  e.created_at_ns = *created_ns;
  if (!payload) return Fail(Bad("missing \"payload\""));
  e.payload.clear();
  if (auto st = json::Compact(*payload, e.payload); !st) {
    return Fail(Bad("\"payload\": " + st.error().message()));
  }

  if (tx && *tx != "null") {
    auto dom = json::ParseDom(*tx);
    if (!dom || !dom->is_object()) return Fail(Bad("\"transaction\" is not an object"));
    const auto& obj = dom->as_object();
    TransactionInfo t;
    boost::system::error_code ec;
    const auto* xid = obj.if_contains("xid");
    if (xid == nullptr) return Fail(Bad("\"transaction\" has no \"xid\""));
    const auto xid_value = xid->to_number<uint32_t>(ec);
    if (ec) return Fail(Bad("\"transaction.xid\" is not a 32-bit unsigned integer"));
    t.xid = xid_value;
    const auto* commit = obj.if_contains("commit_time");
    if (commit == nullptr || !commit->is_string()) {
      return Fail(Bad("\"transaction.commit_time\" is not a string"));
    }
    auto commit_ns = ParseRfc3339(std::string_view(commit->as_string()));
    if (!commit_ns) return Fail(Bad("\"transaction.commit_time\": " + commit_ns.error().message()));
    t.commit_time_ns = *commit_ns;
    if (const auto* seq = obj.if_contains("seq")) {
      const auto seq_value = seq->to_number<int64_t>(ec);
      if (ec) return Fail(Bad("\"transaction.seq\" is not an integer"));
      t.seq = seq_value;
    }
    e.transaction = t;
  }
  return e;
}

}  // namespace pgcdc::dlq
