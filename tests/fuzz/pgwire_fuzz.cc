// libFuzzer target for the pgwire gateway's pure code: frontend message
// framing and decoding, SCRAM messages, and the SQL planner + evaluator.
//
// Input: a selector byte, then bytes a client could send.
// Invariants checked (abort on violation):
//  * framing: cutting frames from the input whole or byte by byte gives the
//    same frames and the same verdict;
//  * every decoder either fails cleanly or accepts; nothing crashes;
//  * a planned statement evaluates over a small ring without crashing, and
//    an evaluation error carries a 5-character SQLSTATE; a parse error too.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/pgwire/protocol.h"
#include "adapter/pgwire/query.h"
#include "adapter/pgwire/ring.h"
#include "adapter/pgwire/scram.h"

namespace {

namespace pw = pgcdc::adapter::pgwire;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "pgwire_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

std::vector<pw::Frame> Cut(const std::string& buffer, bool startup, size_t chunk,
                           pw::FrameStatus& end) {
  std::vector<pw::Frame> frames;
  std::string pending;
  size_t pos = 0;
  while (true) {
    pw::Frame f;
    end = pw::TakeFrame(pending, startup, 4096, f);
    if (end == pw::FrameStatus::kFrame) {
      frames.push_back(std::move(f));
      continue;
    }
    if (end != pw::FrameStatus::kNeedMore || pos >= buffer.size()) return frames;
    pending.append(buffer, pos, chunk);
    pos += chunk;
  }
}

void FuzzFrames(std::string_view data) {
  for (bool startup : {true, false}) {
    pw::FrameStatus whole_end{};
    pw::FrameStatus split_end{};
    auto whole = Cut(std::string(data), startup, data.size() + 1, whole_end);
    auto split = Cut(std::string(data), startup, 1, split_end);
    Check(whole.size() == split.size() && whole_end == split_end, "framing depends on chunking");
    for (size_t i = 0; i < whole.size(); ++i) {
      Check(whole[i].type == split[i].type && whole[i].body == split[i].body, "frame differs");
      const std::string& b = whole[i].body;
      (void)pw::ParseStartup(b);
      (void)pw::ParseParse(b);
      (void)pw::ParseBind(b);
      (void)pw::ParseTarget(b);
      (void)pw::ParseExecute(b);
      (void)pw::ParseSaslInitial(b);
      (void)pw::ParseCStringBody(b);
    }
  }
}

void FuzzScram(std::string_view data) {
  static const pw::ScramSecret secret = [] {
    auto s = pw::MakeScramSecret("password", "saltsaltsaltsalt", 16);
    Check(s.has_value(), "secret");
    return *s;
  }();
  const size_t cut = data.empty() ? 0 : static_cast<uint8_t>(data[0]) % (data.size() + 1);
  pw::ScramServer server(secret, "nonce");
  if (server.ClientFirst(data.substr(0, cut))) (void)server.ClientFinal(data.substr(cut));
}

void FuzzSql(std::string_view data) {
  static const std::unique_ptr<pw::Ring> ring = [] {
    auto r = std::make_unique<pw::Ring>(4);
    std::vector<pw::Row> rows;
    for (int i = 0; i < 6; ++i) {
      rows.push_back({.id = "id" + std::to_string(i),
                      .channel = i % 2 ? "a" : "B",
                      .operation = "INSERT",
                      .source = "wal",
                      .payload = "{}",
                      .created_at_ns = i,
                      .lsn = static_cast<uint64_t>(i)});
    }
    (void)r->Append(std::move(rows));
    return r;
  }();
  const std::string sql(data.substr(0, data.find('\0')));
  auto parsed = pw::ParseSql(sql, "fuzz");
  if (!parsed) {
    Check(parsed.error().sqlstate.size() == 5, "parse error without SQLSTATE");
    return;
  }
  const std::vector<std::optional<std::string>> params = {std::string("a"), std::string("2"),
                                                          std::nullopt};
  for (const auto& st : parsed->statements) {
    if (!st) {
      Check(st.error().sqlstate.size() == 5, "plan error without SQLSTATE");
      continue;
    }
    auto rs = pw::Evaluate(*st, params, *ring, 0);
    if (!rs) {
      Check(rs.error().sqlstate.size() == 5, "evaluation error without SQLSTATE");
      continue;
    }
    for (const auto& row : rs->rows) {
      Check(row.size() == rs->fields.size(), "row width differs from the fields");
      for (size_t c = 0; c < row.size(); ++c) (void)pw::EncodeCell(row[c], rs->fields[c]);
    }
    (void)pw::Matches(*st, params, pw::Row{.channel = "a"});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      FuzzFrames(in);
      break;
    case 1:
      FuzzScram(in);
      break;
    default:
      FuzzSql(in);
      break;
  }
  return 0;
}
