// libFuzzer target for the COPY TEXT row parser (src/snapshot/copy_text.h).
//
// Input: [cap byte][split seed byte] then the COPY data.
//   cap byte:   0 = the default row cap, else the row cap in bytes (1..255)
//   split seed: drives where the data is cut into chunks (0 = one chunk)
// Invariants checked (abort on violation):
//  * parsing is independent of chunking: one chunk, seed-driven chunks and
//    single bytes give the same rows, or all fail;
//  * errors are kParse with the "copy text: " prefix and are sticky;
//  * no column is longer than the row cap; a row has at most (raw bytes + 1)
//    columns; unescaped columns point into the caller's chunk;
//  * re-encoding the rows the way PostgreSQL's COPY TO does and parsing that
//    again yields the same rows (the parser loses no information), and the
//    row-at-a-time helper agrees with the stream parser.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "snapshot/copy_text.h"

namespace {

using pgcdc::snapshot::CopyRow;
using pgcdc::snapshot::CopyTextParser;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "copy_text_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  bool ok = false;
  std::vector<CopyRow> rows;
};

void CheckError(const pgcdc::Error& e) {
  Check(e.code() == pgcdc::ErrorCode::kParse, "errors are kParse");
  Check(e.message().starts_with("copy text: "), "error message prefix");
}

Outcome Parse(std::string_view data, const std::vector<size_t>& cuts, size_t cap) {
  CopyTextParser p(cap);
  Outcome out;
  size_t prev = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(data.size());
  for (size_t end : ends) {
    const std::string_view chunk = data.substr(prev, end - prev);
    prev = end;
    auto st = p.Feed(chunk);
    if (!st) {
      CheckError(st.error());
      return out;
    }
    for (;;) {
      auto more = p.Next();
      if (!more) {
        CheckError(more.error());
        auto again = p.Next();
        Check(!again && again.error().message() == more.error().message(), "errors are sticky");
        return out;
      }
      if (!*more) break;
      const auto fields = p.fields();
      Check(!fields.empty(), "a row has at least one column");
      for (const auto& f : fields) {
        if (!f) continue;
        Check(f->size() <= cap, "a column is never longer than the row cap");
        const std::less_equal<const char*> le;
        const bool in_chunk = !f->empty() && le(chunk.data(), f->data()) &&
                              le(f->data() + f->size(), chunk.data() + chunk.size());
        const bool has_escape = f->find('\\') != std::string_view::npos;
        if (in_chunk && has_escape) {
          // A view into the input is the raw text: a backslash there would
          // have been an escape, so it cannot be zero-copy.
          Check(false, "zero-copy columns contain no escapes");
        }
      }
      out.rows.push_back(p.OwnedFields());
      Check(p.rows() == out.rows.size(), "row counter");
    }
  }
  auto fin = p.Finish();
  if (!fin) {
    CheckError(fin.error());
    return out;
  }
  out.ok = true;
  return out;
}

std::string Encode(const std::vector<CopyRow>& rows) {
  std::string out;
  for (const auto& row : rows) pgcdc::snapshot::AppendCopyTextRow(out, row);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t cap = data[0] == 0 ? CopyTextParser::kDefaultMaxRowBytes : data[0];
  uint32_t seed = data[1];
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

  const Outcome whole = Parse(input, {}, cap);

  std::vector<size_t> cuts;
  if (seed != 0) {
    for (size_t i = 1; i < input.size(); ++i) {
      seed = seed * 1103515245u + 12345u;
      if ((seed >> 16) % 4 == 0) cuts.push_back(i);
    }
  }
  const Outcome split = Parse(input, cuts, cap);
  Check(split.ok == whole.ok, "chunking does not change success");
  if (whole.ok) Check(split.rows == whole.rows, "chunking does not change rows");

  if (input.size() <= 512) {
    std::vector<size_t> every;
    for (size_t i = 1; i < input.size(); ++i) every.push_back(i);
    const Outcome bytes = Parse(input, every, cap);
    Check(bytes.ok == whole.ok, "byte-wise chunking does not change success");
    if (whole.ok) Check(bytes.rows == whole.rows, "byte-wise chunking does not change rows");
  }

  if (whole.ok) {
    size_t raw_rows = 0;
    for (char c : input) raw_rows += c == '\n';
    Check(whole.rows.size() <= raw_rows, "no more rows than newlines");
    const std::string again = Encode(whole.rows);
    const Outcome re = Parse(again, {}, CopyTextParser::kDefaultMaxRowBytes);
    Check(re.ok, "canonical re-encoding parses");
    Check(re.rows == whole.rows, "canonical re-encoding round-trips");
    if (!whole.rows.empty()) {
      const size_t nl = again.find('\n');
      auto one = pgcdc::snapshot::ParseCopyTextRow(std::string_view(again).substr(0, nl));
      Check(one.has_value() && *one == whole.rows.front(), "ParseCopyTextRow agrees");
    }
  }
  return 0;
}
