// Proof of the streaming SQL views against a SQL engine (issue 20): 100 K
// generated events — random keys, values and NULLs, out-of-order event times
// with late events, unreadable timestamps — go through `pgcdc view test` for
// each of 22 view queries (every aggregate, every window kind, event and
// processing time, WHERE/HAVING under SQL NULL logic, arithmetic, IN, LIKE,
// COALESCE). DuckDB computes the same aggregate over the same events per
// window, with the lateness rule written in SQL: an event is left out of a
// window whose end the watermark (newest earlier event time minus ALLOWED
// LATENESS) had reached. Every window row must match: same windows, same
// groups, integers equal, floats within 1e-9 relative. Interval joins are
// checked the same way against DuckDB range joins (IntervalJoins… below).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "core/time.h"
#include "harness.h"
#include "json_util.h"
#include "view/engine.h"

#ifdef PGCDC_TEST_DUCKDB
#include <duckdb.h>
#endif

namespace pgcdc::testing {
namespace {

#ifndef PGCDC_TEST_DUCKDB
TEST(ViewDifferential, NeedsDuckDb) { GTEST_SKIP() << "this build has no DuckDB"; }
#else

constexpr int64_t kMs = 1'000'000;                // ns
constexpr int64_t kT0 = 1'767'225'600'000 * kMs;  // 2026-01-01T00:00:00Z

// A cell as text; numbers compared numerically.
using Cell = std::optional<std::string>;
using Rows = std::map<std::string, std::vector<Cell> >;  // "<window start ns>|<key>" → cells

bool SameCell(const Cell& a, const Cell& b) {
  if (!a || !b) return !a && !b;
  char* end_a = nullptr;
  char* end_b = nullptr;
  const double x = std::strtod(a->c_str(), &end_a);
  const double y = std::strtod(b->c_str(), &end_b);
  if (*end_a != '\0' || *end_b != '\0' || a->empty() || b->empty()) return *a == *b;
  const double scale = std::max({1.0, std::fabs(x), std::fabs(y)});
  return std::fabs(x - y) <= 1e-9 * scale;
}

std::string Show(const std::vector<Cell>& cells) {
  std::string out;
  for (const auto& c : cells) out += (c ? *c : "NULL") + " ";
  return out;
}

struct Generated {
  std::string jsonl;  // event lines for `pgcdc view test`
  std::string csv;    // the same events for DuckDB
};

// Random integers in [lo, hi] from a seeded generator.
class Uniform {
 public:
  explicit Uniform(uint32_t seed) : rng_(seed) {}
  int64_t operator()(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }

 private:
  std::mt19937_64 rng_;
};

// The event time of an event captured at `clock_us`: 1 % unreadable
// (nullopt), `late_pct` % moved back by [late_lo, late_hi] µs, the rest by
// up to `jitter` µs.
std::optional<int64_t> EventTime(Uniform& uniform, int64_t clock_us, int64_t late_pct,
                                 int64_t late_lo, int64_t late_hi, int64_t jitter) {
  const int64_t roll = uniform(0, 99);
  if (roll == 0) return std::nullopt;
  if (roll <= late_pct) return clock_us - uniform(late_lo, late_hi);
  return clock_us - uniform(0, jitter);
}

// Stream A: 100 K events, ~5 ms apart in capture time, event times jittered
// back by up to 2 s (4 % up to 20 s: late for small lateness), 1 % with an
// unreadable timestamp; 40 keys (1 % NULL), ints and floats with 5 % NULLs.
// Stream B (in_order): 20 K events, event time = capture time, 10 keys, ~300 ms
// apart on average (sessions).
Generated Generate(bool in_order, int n, uint32_t seed) {
  Uniform uniform(seed);
  Generated g;
  g.csv = "seq,ts_us,k,v,f,s,pt_us\n";
  int64_t clock_us = 0;
  for (int i = 0; i < n; ++i) {
    clock_us += in_order ? uniform(1, 600'000) : uniform(1, 10'000);
    std::optional<int64_t> ts_us = clock_us;
    if (!in_order) ts_us = EventTime(uniform, clock_us, 4, 2'000'000, 20'000'000, 2'000'000);
    const int keys = in_order ? 10 : 40;
    std::optional<std::string> k;
    if (uniform(0, 99) != 0) k = "k" + std::to_string(uniform(0, keys - 1));
    std::optional<int64_t> v;
    if (uniform(0, 19) != 0) v = uniform(-1000, 1000);
    std::optional<std::string> f;
    if (uniform(0, 19) != 0) f = std::to_string(uniform(-500'000, 500'000)) + "e-3";
    const std::string s = "s" + std::to_string(uniform(0, 199));
    const int64_t created_ns = kT0 + clock_us * 1000;
    std::string row = "{";
    row += "\"ts\":" + (ts_us ? "\"" + FormatRfc3339Nano(kT0 + *ts_us * 1000) + "\"" : "\"n/a\"");
    row += ",\"k\":" + (k ? "\"" + *k + "\"" : "null");
    row += ",\"v\":" + (v ? std::to_string(*v) : "null");
    row += ",\"f\":" + (f ? *f : "null");
    row += ",\"s\":\"" + s + "\"}";
    g.jsonl += R"({"id":"e)" + std::to_string(i) +
               R"(","channel":"pgcdc:t","operation":"INSERT","source":"wal","created_at":")" +
               FormatRfc3339Nano(created_ns) + R"(","payload":{"row":)" + row + "}}\n";
    g.csv += std::to_string(i) + "," + (ts_us ? std::to_string(*ts_us) : "") + "," +
             k.value_or("") + "," + (v ? std::to_string(*v) : "") + "," + f.value_or("") + "," + s +
             "," + std::to_string(clock_us) + "\n";
  }
  return g;
}

class DuckDb {
 public:
  DuckDb() {
    if (duckdb_open(nullptr, &db_) != DuckDBSuccess ||
        duckdb_connect(db_, &conn_) != DuckDBSuccess) {
      ADD_FAILURE() << "cannot open DuckDB";
    }
  }
  ~DuckDb() {
    duckdb_disconnect(&conn_);
    duckdb_close(&db_);
  }
  DuckDb(const DuckDb&) = delete;
  DuckDb& operator=(const DuckDb&) = delete;

  // Rows of `sql`: column 0 the window start (ns), column 1 the group key,
  // the rest the aggregates.
  Rows Query(const std::string& sql) {
    Rows out;
    duckdb_result res;
    if (duckdb_query(conn_, sql.c_str(), &res) != DuckDBSuccess) {
      ADD_FAILURE() << duckdb_result_error(&res) << "\n" << sql;
      duckdb_destroy_result(&res);
      return out;
    }
    const idx_t cols = duckdb_column_count(&res);
    const idx_t rows = duckdb_row_count(&res);
    for (idx_t r = 0; r < rows; ++r) {
      std::vector<Cell> cells;
      for (idx_t c = 0; c < cols; ++c) {
        if (duckdb_value_is_null(&res, c, r)) {
          cells.emplace_back();
          continue;
        }
        char* text = duckdb_value_varchar(&res, c, r);
        cells.emplace_back(text);
        duckdb_free(text);
      }
      const std::string key = cells[0].value_or("?") + "|" + cells[1].value_or("NULL");
      out[key] = std::vector<Cell>(cells.begin() + 2, cells.end());
    }
    duckdb_destroy_result(&res);
    return out;
  }
  void Exec(const std::string& sql) { (void)Query(sql + "; SELECT 0, 0"); }

 private:
  duckdb_database db_ = nullptr;
  duckdb_connection conn_ = nullptr;
};

// A result payload's `columns` as cells (numbers as text, 17 digits).
std::vector<Cell> Cells(const boost::json::object& payload,
                        const std::vector<std::string>& columns) {
  std::vector<Cell> cells;
  for (const auto& c : columns) {
    const auto& v = payload.at(c);
    if (v.is_null()) {
      cells.emplace_back();
    } else if (v.is_string()) {
      cells.emplace_back(std::string(v.as_string()));
    } else {
      std::ostringstream num;
      num.precision(17);
      num << v.to_number<double>();
      cells.emplace_back(num.str());
    }
  }
  return cells;
}

// Every row DuckDB wants must be the view's (same key, same cells); the
// first differences are reported. Returns the rows compared.
size_t CompareRows(const std::string& query, const Rows& want, const Rows& got) {
  EXPECT_EQ(got.size(), want.size()) << query;
  size_t compared = 0;
  int shown = 0;
  for (const auto& [key, cells] : want) {
    auto it = got.find(key);
    if (it == got.end()) {
      if (shown++ < 3) ADD_FAILURE() << query << "\nmissing " << key;
      continue;
    }
    for (size_t col = 0; col < cells.size(); ++col) {
      if (!SameCell(it->second[col], cells[col]) && shown++ < 3) {
        ADD_FAILURE() << query << "\n"
                      << key << " view: " << Show(it->second) << "\n duckdb: " << Show(cells);
      }
    }
    ++compared;
  }
  return compared;
}

// The view's rows: `columns` in order, keyed like DuckDb::Query (the key
// column `k` when grouped, else none).
Rows ViewRows(const std::string& output, const std::string& view,
              const std::vector<std::string>& columns, bool grouped) {
  Rows out;
  std::istringstream in(output);
  std::string line;
  const std::string prefix = R"({"channel":"pgcdc:_view:)" + view + "\"";
  while (std::getline(in, line)) {
    if (!line.starts_with(prefix)) continue;
    const auto payload = ParseJson(line).at("payload").as_object();
    const auto start =
        view::ParseTimestamp(std::string(payload.at("_window").at("start").as_string()));
    std::string key = std::to_string(start.value_or(-1)) + "|";
    if (grouped) {
      const auto& k = payload.at("k");
      key += k.is_null() ? "NULL" : std::string(k.as_string());
    } else {
      key += "NULL";
    }
    std::vector<Cell> cells = Cells(payload, columns);
    out[key] = std::move(cells);
  }
  return out;
}

// One view and the SQL that must give the same rows.
struct Case {
  std::string query;    // the view (SPEC §7 syntax)
  std::string columns;  // its output columns, comma-separated
  std::string aggs;     // the same in DuckDB SQL, over table x
  std::string where = "TRUE";
  std::string having = "TRUE";
  bool grouped = true;
};

// DuckDB rows of a windowed case: `windows` is a table of (event columns, ws
// in µs) rows that the view's window rule admits.
std::string Sql(const Case& c, const std::string& windows) {
  return "SELECT (ws + " + std::to_string(kT0 / 1000) + ") * 1000 AS ws_ns, " +
         std::string(c.grouped ? "k" : "NULL") + ", " + c.aggs + " FROM (" + windows +
         ") x WHERE " + c.where + " GROUP BY ws" + (c.grouped ? ", k" : "") + " HAVING " + c.having;
}

// Event-time tumbling/sliding windows over table `ev`: an event counts in
// each window [ws, ws+size) containing it whose end the watermark before it
// (newest earlier event time minus lateness) had not reached.
std::string EventTimeWindows(int64_t size_us, int64_t slide_us, int64_t lateness_us) {
  const std::string size = std::to_string(size_us), slide = std::to_string(slide_us);
  const std::string bucket = "CAST(floor(ts_us / " + slide + ") AS BIGINT) * " + slide;
  return "SELECT w.*, " + bucket + " - j * " + slide +
         " AS ws FROM (SELECT *, max(ts_us) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING "
         "AND 1 PRECEDING) - " +
         std::to_string(lateness_us) + " AS wm FROM ev WHERE ts_us IS NOT NULL) w, range(0, " +
         std::to_string(size_us / slide_us) + ") t(j) WHERE wm IS NULL OR " + bucket + " - j * " +
         slide + " + " + size + " > wm";
}

std::string ProcessingTimeWindows(int64_t size_us) {
  const std::string size = std::to_string(size_us);
  return "SELECT *, (pt_us // " + size + ") * " + size + " AS ws FROM ev";
}

// Sessions per key over the in-order stream: a new session when the gap to
// the key's previous event exceeds `gap`; ws = the session's first event.
std::string SessionWindows(int64_t gap_us) {
  return "SELECT *, min(ts_us) OVER (PARTITION BY k, sid) AS ws FROM (SELECT *, sum(CASE WHEN d "
         "IS NULL OR d > " +
         std::to_string(gap_us) +
         " THEN 1 ELSE 0 END) OVER (PARTITION BY k ORDER BY ts_us, seq) AS sid FROM (SELECT *, "
         "ts_us - lag(ts_us) OVER (PARTITION BY k ORDER BY ts_us, seq) AS d FROM evb))";
}

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

TEST(ViewDifferential, EveryWindowEqualsDuckDbOverTheSameEvents) {
  TempDir dir;
  const Generated a = Generate(false, 100'000, 20261207);
  const Generated b = Generate(true, 20'000, 7);
  const std::string a_jsonl = dir.Write("a.jsonl", a.jsonl);
  const std::string b_jsonl = dir.Write("b.jsonl", b.jsonl);
  const std::string a_csv = dir.Write("a.csv", a.csv);
  const std::string b_csv = dir.Write("b.csv", b.csv);

  const std::string et = " EVENT TIME BY row.ts ALLOWED LATENESS 5s TUMBLING WINDOW 10s";
  const std::string tw = EventTimeWindows(10'000'000, 10'000'000, 5'000'000);
  const std::string by = " FROM pgcdc_events GROUP BY row.k" + et;
  // (view query, columns, DuckDB aggregates[, where, having, grouped]) over stream A,
  // windows `tw` unless given.
  struct Spec {
    Case c;
    std::string windows;
  };
  std::vector<Spec> specs = {
      {{"SELECT row.k AS k, COUNT(*) AS n" + by, "n", "count(*)"}, tw},
      {{"SELECT row.k AS k, SUM(row.v) AS sv, COUNT(row.v) AS cv" + by, "sv,cv",
        "sum(v), count(v)"},
       tw},
      {{"SELECT row.k AS k, AVG(row.f) AS af, STDDEV(row.f) AS sf" + by, "af,sf",
        "avg(f), stddev_pop(f)"},
       tw},
      {{"SELECT row.k AS k, STDDEV_SAMP(row.v) AS ss" + by, "ss", "stddev_samp(v)"}, tw},
      {{"SELECT row.k AS k, MIN(row.v) AS lo, MAX(row.v) AS hi" + by, "lo,hi", "min(v), max(v)"},
       tw},
      {{"SELECT row.k AS k, MIN(row.s) AS ls, MAX(row.s) AS hs" + by, "ls,hs", "min(s), max(s)"},
       tw},
      {{"SELECT row.k AS k, COUNT(DISTINCT row.s) AS ds, approx_count_distinct(row.s) AS us" + by,
        "ds,us", "count(DISTINCT s), count(DISTINCT s)"},
       tw},
      {{"SELECT COUNT(*) AS n, SUM(row.v) AS sv, MAX(row.f) AS mf FROM pgcdc_events" + et,
        "n,sv,mf", "count(*), sum(v), max(f)", "TRUE", "TRUE", false},
       tw},
      {{"SELECT row.k AS k, COUNT(*) AS n, SUM(row.f) AS sf FROM pgcdc_events WHERE row.v > 100 "
        "AND row.f IS NOT NULL GROUP BY row.k" +
            et,
        "n,sf", "count(*), sum(f)", "v > 100 AND f IS NOT NULL"},
       tw},
      {{"SELECT row.k AS k, COUNT(*) AS n FROM pgcdc_events WHERE row.v IS NULL OR row.v < -500 "
        "GROUP BY row.k" +
            et,
        "n", "count(*)", "v IS NULL OR v < -500"},
       tw},
      {{"SELECT row.k AS k, COUNT(*) AS n FROM pgcdc_events GROUP BY row.k HAVING COUNT(*) > 20" +
            et,
        "n", "count(*)", "TRUE", "count(*) > 20"},
       tw},
      {{"SELECT row.k AS k, SUM(row.v * 2 + 1) AS a, AVG(row.v % 7) AS m" + by, "a,m",
        "sum(v * 2 + 1), avg(v % 7)"},
       tw},
      {{"SELECT row.k AS k, SUM(COALESCE(row.v, 0)) AS c, COUNT(COALESCE(row.f, 1)) AS cf" + by,
        "c,cf", "sum(coalesce(v, 0)), count(coalesce(f, 1))"},
       tw},
      {{"SELECT row.k AS k, COUNT(*) AS n FROM pgcdc_events WHERE row.k IN ('k1', 'k2', 'k3') "
        "GROUP BY row.k" +
            et,
        "n", "count(*)", "k IN ('k1', 'k2', 'k3')"},
       tw},
      {{"SELECT row.k AS k, COUNT(*) AS n FROM pgcdc_events WHERE row.s LIKE 's1%' AND row.v "
        "NOT BETWEEN -100 AND 100 GROUP BY row.k" +
            et,
        "n", "count(*)", "s LIKE 's1%' AND v NOT BETWEEN -100 AND 100"},
       tw},
      {{"SELECT row.k AS k, COUNT(*) AS n, SUM(row.v) AS sv FROM pgcdc_events GROUP BY row.k "
        "EVENT TIME BY row.ts ALLOWED LATENESS 5s SLIDING WINDOW 30s SLIDE 10s",
        "n,sv", "count(*), sum(v)"},
       EventTimeWindows(30'000'000, 10'000'000, 5'000'000)},
      {{"SELECT COUNT(*) AS n, AVG(row.f) AS af FROM pgcdc_events EVENT TIME BY row.ts "
        "SLIDING WINDOW 20s SLIDE 5s",
        "n,af", "count(*), avg(f)", "TRUE", "TRUE", false},
       EventTimeWindows(20'000'000, 5'000'000, 0)},
      {{"SELECT row.k AS k, COUNT(*) AS n, MAX(row.f) AS mf FROM pgcdc_events GROUP BY row.k "
        "EVENT TIME BY row.ts TUMBLING WINDOW 5s",
        "n,mf", "count(*), max(f)"},
       EventTimeWindows(5'000'000, 5'000'000, 0)},
      {{"SELECT row.k AS k, COUNT(*) AS n, SUM(row.v) AS sv FROM pgcdc_events GROUP BY row.k "
        "TUMBLING WINDOW 10s",
        "n,sv", "count(*), sum(v)"},
       ProcessingTimeWindows(10'000'000)},
      {{"SELECT COUNT(*) AS n, COUNT(DISTINCT row.k) AS dk FROM pgcdc_events "
        "SLIDING WINDOW 15s SLIDE 5s",
        "n,dk", "count(*), count(DISTINCT k)", "TRUE", "TRUE", false},
       "SELECT e.*, (pt_us // 5000000) * 5000000 - j * 5000000 AS ws FROM ev e, range(0, 3) "
       "t(j)"},
  };
  // Sessions, over stream B (in order).
  std::vector<Spec> sessions = {
      {{"SELECT row.k AS k, COUNT(*) AS n, SUM(row.v) AS sv FROM pgcdc_events GROUP BY row.k "
        "EVENT TIME BY row.ts SESSION WINDOW 4s",
        "n,sv", "count(*), sum(v)"},
       SessionWindows(4'000'000)},
      {{"SELECT row.k AS k, MIN(row.f) AS lo, MAX(row.f) AS hi, COUNT(DISTINCT row.s) AS ds "
        "FROM pgcdc_events GROUP BY row.k EVENT TIME BY row.ts SESSION WINDOW 2500ms",
        "lo,hi,ds", "min(f), max(f), count(DISTINCT s)"},
       SessionWindows(2'500'000)},
  };
  ASSERT_GE(specs.size() + sessions.size(), 20u);

  DuckDb duck;
  const std::string columns =
      "columns={'seq':'BIGINT','ts_us':'BIGINT','k':'VARCHAR','v':'BIGINT','f':'DOUBLE',"
      "'s':'VARCHAR','pt_us':'BIGINT'}";
  duck.Exec("CREATE TABLE ev AS SELECT * FROM read_csv('" + a_csv + "', header=true, " + columns +
            ")");
  duck.Exec("CREATE TABLE evb AS SELECT * FROM read_csv('" + b_csv + "', header=true, " + columns +
            ")");

  size_t compared = 0;
  for (const auto* list : {&specs, &sessions}) {
    const bool on_b = list == &sessions;
    std::string yaml = "views:\n";
    for (size_t i = 0; i < list->size(); ++i) {
      yaml += "  - name: c" + std::to_string(i) + "\n    query: \"" + (*list)[i].c.query +
              "\"\n    max_groups: 1000000\n";
    }
    const std::string config = dir.Write(on_b ? "b.yaml" : "a.yaml", yaml);
    auto run = RunCommand(
        {PgcdcBinary(), "view", "test", "--config", config, "-i", on_b ? b_jsonl : a_jsonl});
    ASSERT_EQ(run.exit_code, 0) << run.output.substr(0, 2000);
    if (!on_b) {
      // The input did exercise the late rule and unreadable event times.
      const size_t at = run.output.find("view c0: ");
      ASSERT_NE(at, std::string::npos);
      int64_t events = 0, late = 0, errors = 0, bad = 0;
      ASSERT_EQ(std::sscanf(run.output.c_str() + at,
                            "view c0: %ld events aggregated, %ld late, %ld type errors, %ld",
                            &events, &late, &errors, &bad),
                4);
      EXPECT_GT(late, 500);
      EXPECT_GT(bad, 500);
      EXPECT_EQ(events + late + bad, 100'000);
    }
    for (size_t i = 0; i < list->size(); ++i) {
      const Case& c = (*list)[i].c;
      const std::string name = "c" + std::to_string(i);
      const Rows got = ViewRows(run.output, name, Split(c.columns), c.grouped);
      const Rows want = duck.Query(Sql(c, (*list)[i].windows));
      ASSERT_GT(want.size(), 10u) << c.query;
      compared += CompareRows(c.query, want, got);
    }
  }
  std::cout << "view differential: " << compared << " window rows compared over "
            << specs.size() + sessions.size() << " views\n";
  // Late events and unreadable timestamps were part of the input.
  EXPECT_NE(a.jsonl.find("\"n/a\""), std::string::npos);
}
// Interval joins (SPEC §7.5) against DuckDB's range join. 20 K events on
// two channels (and a third that no side reads), ~5 ms apart, order ids
// reused over ~1 s, 1 % NULL keys, event times jittered back by up to
// 500 ms (3 % by 2–10 s: late for a 1 s lateness), 1 % unreadable. The view
// must emit exactly the pairs of the SQL join over the events that were not
// late (event time below the newest earlier event time minus the lateness).
Generated GenerateJoin(int n, uint32_t seed) {
  Uniform uniform(seed);
  Generated g;
  g.csv = "seq,ts_us,k,v,f,pt_us,ch\n";
  int64_t clock_us = 0;
  for (int i = 0; i < n; ++i) {
    clock_us += uniform(1, 10'000);
    const std::optional<int64_t> ts_us =
        EventTime(uniform, clock_us, 3, 2'000'000, 10'000'000, 500'000);
    std::optional<std::string> k;
    if (uniform(0, 99) != 0) k = "o" + std::to_string(i / 8 + uniform(0, 30));
    const int64_t v = uniform(-1000, 1000);
    std::optional<std::string> f;
    if (uniform(0, 19) != 0) f = std::to_string(uniform(-500'000, 500'000)) + "e-3";
    const int64_t c = uniform(0, 9);
    const std::string ch = c < 5 ? "pgcdc:orders" : c < 9 ? "pgcdc:payments" : "pgcdc:other";
    std::string row = "{\"i\":" + std::to_string(i);
    row += ",\"ts\":" + (ts_us ? "\"" + FormatRfc3339Nano(kT0 + *ts_us * 1000) + "\"" : "\"n/a\"");
    row += ",\"k\":" + (k ? "\"" + *k + "\"" : "null");
    row += ",\"v\":" + std::to_string(v) + ",\"f\":" + f.value_or("null") + "}";
    g.jsonl += R"({"id":"e)" + std::to_string(i) + R"(","channel":")" + ch +
               R"(","operation":"INSERT","source":"wal","created_at":")" +
               FormatRfc3339Nano(kT0 + clock_us * 1000) + R"(","payload":{"row":)" + row + "}}\n";
    g.csv += std::to_string(i) + "," + (ts_us ? std::to_string(*ts_us) : "") + "," +
             k.value_or("") + "," + std::to_string(v) + "," + f.value_or("") + "," +
             std::to_string(clock_us) + "," + ch + "\n";
  }
  return g;
}

// Join output rows keyed by "<l>|<r>" (the pair's event numbers), the
// other columns as cells, from the view's lines or DuckDB's result.
Rows JoinViewRows(const std::string& output, const std::string& view,
                  const std::vector<std::string>& columns) {
  Rows out;
  std::istringstream in(output);
  std::string line;
  const std::string prefix = R"({"channel":"pgcdc:_view:)" + view + "\"";
  while (std::getline(in, line)) {
    if (!line.starts_with(prefix)) continue;
    const auto payload = ParseJson(line).at("payload").as_object();
    const std::string key = std::to_string(payload.at("l").to_number<int64_t>()) + "|" +
                            std::to_string(payload.at("r").to_number<int64_t>());
    std::vector<Cell> cells = Cells(payload, columns);
    EXPECT_TRUE(out.emplace(key, std::move(cells)).second) << "pair emitted twice: " << key;
  }
  return out;
}

TEST(ViewDifferential, IntervalJoinsEqualDuckDbRangeJoins) {
  TempDir dir;
  const Generated c = GenerateJoin(20'000, 99);
  const std::string jsonl = dir.Write("c.jsonl", c.jsonl);
  const std::string csv = dir.Write("c.csv", c.csv);
  struct JoinCase {
    std::string query;    // selects l, r and `columns`
    std::string columns;  // comma-separated
    std::string sql;      // DuckDB: l, r, the columns, over `ok a, ok b` (admitted events)
    int64_t lateness_us = 0;
  };
  const std::string from = " FROM pgcdc_events a JOIN pgcdc_events b ON a.row.k = b.row.k ";
  const std::string two = " a.channel = 'pgcdc:orders' AND b.channel = 'pgcdc:payments' ";
  const std::string range = "a.k = b.k AND abs(a.ts_us - b.ts_us) <= ";
  const std::vector<JoinCase> cases = {
      // Two channels, event time, a residual across the sides and a side filter.
      {"SELECT a.row.i AS l, b.row.i AS r, a.row.v AS av, b.row.f AS bf" + from +
           "AND a.row.v < b.row.v + 500 WITHIN 2s WHERE" + two +
           "AND a.row.f IS NOT NULL EVENT TIME BY row.ts ALLOWED LATENESS 1s",
       "av,bf",
       "SELECT a.seq, b.seq, a.v, b.f FROM ok a JOIN ok b ON " + range +
           "2000000 WHERE a.ch = 'pgcdc:orders' AND b.ch = 'pgcdc:payments' AND a.v < b.v + 500 "
           "AND a.f IS NOT NULL",
       1'000'000},
      // SPEC quirk 43: a self-join on one channel.
      {"SELECT a.row.i AS l, b.row.i AS r, b.row.v - a.row.v AS dv" + from +
           "AND a.row.i < b.row.i WITHIN 1s WHERE a.channel = 'pgcdc:orders' AND "
           "b.channel = 'pgcdc:orders' EVENT TIME BY row.ts ALLOWED LATENESS 1s",
       "dv",
       "SELECT a.seq, b.seq, b.v - a.v FROM ok a JOIN ok b ON " + range +
           "1000000 WHERE a.ch = 'pgcdc:orders' AND b.ch = 'pgcdc:orders' AND a.seq < b.seq",
       1'000'000},
      // Every event on both sides, no lateness (out-of-order events are late),
      // an event pairs with itself.
      {"SELECT a.row.i AS l, b.row.i AS r, a.channel AS ac" + from +
           "WITHIN 300ms EVENT TIME BY row.ts",
       "ac", "SELECT a.seq, b.seq, a.ch FROM ok a JOIN ok b ON " + range + "300000", 0},
      // Processing time (capture time): no late events, unreadable ts irrelevant.
      {"SELECT a.row.i AS l, b.row.i AS r, b.row.k AS k" + from + "WITHIN 500ms WHERE" + two, "k",
       "SELECT a.seq, b.seq, b.k FROM evc a JOIN evc b ON a.k = b.k AND abs(a.pt_us - b.pt_us) "
       "<= 500000 WHERE a.ch = 'pgcdc:orders' AND b.ch = 'pgcdc:payments'",
       -1},
  };
  std::string yaml = "views:\n";
  for (size_t i = 0; i < cases.size(); ++i) {
    yaml += "  - name: j" + std::to_string(i) + "\n    query: \"" + cases[i].query +
            "\"\n    max_groups: 1000000\n";
  }
  auto run = RunCommand(
      {PgcdcBinary(), "view", "test", "--config", dir.Write("c.yaml", yaml), "-i", jsonl});
  ASSERT_EQ(run.exit_code, 0) << run.output.substr(0, 2000);
  EXPECT_NE(run.output.find("0 join rows evicted"), std::string::npos) << run.output.substr(0, 500);

  DuckDb duck;
  duck.Exec("CREATE TABLE evc AS SELECT * FROM read_csv('" + csv +
            "', header=true, columns={'seq':'BIGINT','ts_us':'BIGINT','k':'VARCHAR','v':'BIGINT',"
            "'f':'DOUBLE','pt_us':'BIGINT','ch':'VARCHAR'})");
  size_t compared = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const JoinCase& jc = cases[i];
    const std::string admitted =
        "CREATE OR REPLACE TABLE ok AS SELECT * FROM (SELECT *, max(ts_us) OVER (ORDER BY seq "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) - " +
        std::to_string(std::max<int64_t>(jc.lateness_us, 0)) +
        " AS wm FROM evc WHERE ts_us IS NOT NULL) WHERE wm IS NULL OR ts_us >= wm";
    duck.Exec(admitted);
    const Rows want = duck.Query(jc.sql);
    const Rows got = JoinViewRows(run.output, "j" + std::to_string(i), Split(jc.columns));
    ASSERT_GT(want.size(), 1000u) << jc.query;
    compared += CompareRows(jc.query, want, got);
  }
  std::cout << "view differential: " << compared << " join pairs compared over " << cases.size()
            << " join views\n";
}
#endif  // PGCDC_TEST_DUCKDB

}  // namespace
}  // namespace pgcdc::testing
