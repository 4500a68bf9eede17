// User journey: a streaming SQL view over WAL changes. Rows inserted into
// PostgreSQL flow WAL → view (windows by an event-time column) → VIEW_RESULT
// events on stdout; every closed tumbling window's aggregates must equal what
// PostgreSQL computes with the same GROUP BY over the same rows. Late events
// are counted and change nothing; a non-numeric value in SUM is counted, not
// a crash; a query that does not parse stops start-up with exit 2, naming
// the view and the position.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

// "2025-01-01T00:01:00Z" → Unix seconds (the view's window starts are whole seconds).
int64_t UnixSeconds(const std::string& rfc3339) {
  std::tm tm{};
  EXPECT_NE(strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm), nullptr) << rfc3339;
  return static_cast<int64_t>(timegm(&tm));
}

struct Cell {
  std::optional<double> value;  // nullopt = NULL
};

std::string Describe(const std::map<std::string, Cell>& row) {
  std::string out;
  for (const auto& [k, v] : row) {
    out += k + "=" + (v.value ? std::to_string(*v.value) : "NULL") + " ";
  }
  return out;
}

bool Close(const Cell& a, const Cell& b) {
  if (!a.value || !b.value) return !a.value && !b.value;
  const double scale = std::max({1.0, std::fabs(*a.value), std::fabs(*b.value)});
  return std::fabs(*a.value - *b.value) <= 1e-9 * scale;
}

constexpr const char* kColumns[] = {"n",  "n_amount", "total", "avg_price", "lo",     "hi",
                                    "sd", "d",        "u",     "weighted",  "bad_sum"};

// The view, and the same aggregates in SQL over window buckets of 60 s.
constexpr const char* kView =
    "w:SELECT row.region AS region, COUNT(*) AS n, COUNT(row.amount) AS n_amount, "
    "SUM(row.amount) AS total, AVG(row.price) AS avg_price, MIN(row.amount) AS lo, "
    "MAX(row.price) AS hi, STDDEV(row.price) AS sd, COUNT(DISTINCT row.amount) AS d, "
    "approx_count_distinct(row.amount) AS u, "
    "SUM(row.amount * row.qty) AS weighted, SUM(row.note) AS bad_sum "
    "FROM pgcdc_events "
    "TUMBLING WINDOW 1m "  // before GROUP BY: accepted too
    "WHERE row.region <> 'zz' AND (COALESCE(row.amount, 0) >= 5 OR row.amount IS NULL) "
    "GROUP BY row.region HAVING COUNT(*) > 1 "
    "EVENT TIME BY payload.row.ts";
constexpr const char* kSql =
    "SELECT region, (floor(extract(epoch FROM ts) / 60) * 60)::bigint AS ws, count(*), "
    "count(amount), sum(amount), avg(price), min(amount), max(price), stddev_pop(price), "
    "count(DISTINCT amount), count(DISTINCT amount), sum(amount * qty), "
    "sum(note::int) FILTER (WHERE note ~ '^[0-9]+$') "
    "FROM v_orders WHERE region <> 'zz' AND (COALESCE(amount, 0) >= 5 OR amount IS NULL) "
    "AND id <= 600 GROUP BY 1, 2 HAVING count(*) > 1";

TEST(ViewScenario, TumblingWindowsEqualPostgresGroupBy) {
  auto conn = Connect();
  FreshPublishedTable(conn, "v_orders",
                      "id int PRIMARY KEY, region text, amount int, qty int, price float8, "
                      "note text, ts timestamptz",
                      "p_vorders");
  auto p = StartWalListen(WalListenArgs("p_vorders", {"--view-query", kView, "--view-emit-late"}));
  ASSERT_TRUE(p);
  // 600 rows over 10 minutes of event time, NULLs and non-numeric notes
  // included, then one row an hour later that moves the watermark past them.
  ExecOrFail(conn,
             "INSERT INTO v_orders SELECT g, (ARRAY['eu','us','ap'])[1 + g % 3], "
             "CASE WHEN g % 7 = 0 THEN NULL ELSE (g * 37) % 101 END, g % 5, "
             "CASE WHEN g % 11 = 0 THEN NULL ELSE ((g * 13) % 50) / 4.0 END, "
             "CASE WHEN g % 9 = 0 THEN 'n/a' ELSE (g % 10)::text END, "
             "'2025-01-01 00:00:00+00'::timestamptz + g * interval '1 second' "
             "FROM generate_series(1, 600) g");
  ExecOrFail(conn,
             "INSERT INTO v_orders VALUES (1000, 'zz', 1, 1, 1, '1', "
             "'2025-01-01 01:00:00+00')");

  auto expected = conn.Query(kSql);
  ASSERT_TRUE(expected) << expected.error().message();
  ASSERT_GT(expected->size(), 25u);
  auto results = [&] {
    std::vector<std::string> out;
    for (const auto& l : p->StdoutLines()) {
      if (l.find("\"channel\":\"pgcdc:_view:w\"") != std::string::npos) out.push_back(l);
    }
    return out;
  };
  ASSERT_TRUE(Eventually([&] { return results().size() >= expected->size(); }, 30s))
      << results().size() << " of " << expected->size() << "\n"
      << p->Stderr();

  // A late row (its window closed an hour of event time ago): counted, ignored.
  ExecOrFail(conn,
             "INSERT INTO v_orders VALUES (1001, 'eu', 50, 1, 1, '1', "
             "'2025-01-01 00:00:30+00')");
  ASSERT_TRUE(Eventually([&] {
    return ScrapeMetric(*p, "pgcdc_view_late_events_total{view=\"w\"}") == 1.0;
  })) << p->Stderr();
  // … and reported on the view's :late channel (--view-emit-late), as it arrived.
  auto late_line = [&]() -> std::optional<std::string> {
    for (const auto& l : p->StdoutLines()) {
      if (l.find("\"channel\":\"pgcdc:_view:w:late\"") != std::string::npos) return l;
    }
    return std::nullopt;
  };
  ASSERT_TRUE(Eventually([&] { return late_line().has_value(); })) << p->Stderr();
  {
    CheckEnvelope(*late_line(), "pgcdc:_view:w:late", "VIEW_LATE", "view");
    const auto report = ParseJson(*late_line()).at("payload");
    EXPECT_EQ(report.at("channel").as_string(), "pgcdc:v_orders");
    EXPECT_EQ(report.at("operation").as_string(), "INSERT");
    EXPECT_EQ(report.at("payload").at("row").at("id").to_number<int64_t>(), 1001);
  }

  std::map<std::pair<std::string, int64_t>, std::map<std::string, Cell>> want;
  for (const auto& row : *expected) {
    auto& cells = want[{*row[0], std::stoll(*row[1])}];
    for (size_t i = 0; i < std::size(kColumns); ++i) {
      cells[kColumns[i]] = {row[i + 2] ? std::optional<double>(std::stod(*row[i + 2]))
                                       : std::nullopt};
    }
  }
  std::map<std::pair<std::string, int64_t>, std::map<std::string, Cell>> got;
  for (const auto& line : results()) {
    CheckEnvelope(line, "pgcdc:_view:w", "VIEW_RESULT", "view");
    auto payload = ParseJson(line).at("payload").as_object();
    const auto& window = payload.at("_window").as_object();
    const int64_t start = UnixSeconds(std::string(window.at("start").as_string()));
    EXPECT_EQ(UnixSeconds(std::string(window.at("end").as_string())), start + 60);
    auto& cells = got[{std::string(payload.at("region").as_string()), start}];
    for (const char* c : kColumns) {
      const auto& v = payload.at(c);
      cells[c] = {v.is_null() ? std::nullopt : std::optional<double>(v.to_number<double>())};
    }
  }
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [key, cells] : want) {
    ASSERT_TRUE(got.count(key)) << key.first << "@" << key.second;
    for (const char* c : kColumns) {
      EXPECT_TRUE(Close(got[key][c], cells.at(c)))
          << key.first << "@" << key.second << " " << c << "\n view: " << Describe(got[key])
          << "\n   pg: " << Describe(cells);
    }
  }
  // "n/a" notes are counted as type errors (SUM skips them), never a crash.
  auto bad = conn.Query(
      "SELECT count(*) FROM v_orders WHERE note = 'n/a' AND region <> 'zz' "
      "AND (COALESCE(amount, 0) >= 5 OR amount IS NULL) AND id <= 600");
  ASSERT_TRUE(bad);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_view_type_errors_total{view=\"w\"}"), std::stod(*(*bad)[0][0]));
  const auto processed = ScrapeMetric(*p, "pgcdc_view_events_processed_total{view=\"w\"}");
  ASSERT_TRUE(processed);
  EXPECT_GT(ScrapeMetric(*p, "pgcdc_view_window_duration_seconds_count{view=\"w\"}").value_or(0),
            0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();

  // `pgcdc view test` over the captured row events computes the same windows
  // offline (event time: the same watermark, the same late row).
  std::string events;
  std::multiset<std::string> live;
  const std::string marker = "\"channel\":\"pgcdc:_view:w\"";
  for (const auto& l : p->StdoutLines()) {
    if (l.find(marker) == std::string::npos) {
      events += l + "\n";
    } else {
      live.insert(boost::json::serialize(ParseJson(l).at("payload")));
    }
  }
  auto offline = RunCommand({PgcdcBinary(), "view", "test", "--view-query", kView}, events);
  EXPECT_EQ(offline.exit_code, 0) << offline.output;
  std::multiset<std::string> replayed;
  for (size_t start = 0; start < offline.output.size();) {
    size_t end = offline.output.find('\n', start);
    if (end == std::string::npos) end = offline.output.size();
    const std::string line = offline.output.substr(start, end - start);
    if (line.find(marker) != std::string::npos) {
      replayed.insert(boost::json::serialize(ParseJson(line).at("payload")));
    }
    start = end + 1;
  }
  EXPECT_GE(live.size(), expected->size());
  EXPECT_EQ(replayed, live) << offline.output;
  EXPECT_NE(offline.output.find("view w: " + std::to_string(static_cast<int64_t>(*processed)) +
                                " events aggregated, 1 late"),
            std::string::npos)
      << offline.output;
}

// Interval joins live (SPEC §7.5): orders and payments, two tables of one
// publication, joined by order id within 10 minutes of event time; and a
// self-join on the orders channel alone (SPEC's quirk 43: it never matched).
// The pairs on stdout must be exactly what PostgreSQL's join returns.
TEST(ViewScenario, IntervalJoinsOverTwoTablesEqualPostgresJoin) {
  auto conn = Connect();
  FreshPublishedTable(conn, "j_orders",
                      "id int PRIMARY KEY, customer int, amount int, ts timestamptz", "p_join");
  ExecOrFail(conn, "DROP TABLE IF EXISTS j_payments");
  ExecOrFail(
      conn, "CREATE TABLE j_payments (id int PRIMARY KEY, order_id int, paid int, ts timestamptz)");
  ExecOrFail(conn, "ALTER PUBLICATION p_join ADD TABLE j_payments");
  const std::string paid =
      "paid:SELECT a.row.id AS order_id, b.row.id AS payment, a.row.amount AS amount, "
      "b.row.paid AS paid FROM pgcdc_events a JOIN pgcdc_events b ON a.row.id = b.row.order_id "
      "WITHIN 10m WHERE a.channel = 'pgcdc:j_orders' AND b.channel = 'pgcdc:j_payments' "
      "EVENT TIME BY row.ts ALLOWED LATENESS 1h";
  const std::string again =
      "again:SELECT a.row.id AS first, b.row.id AS second FROM pgcdc_events a "
      "JOIN pgcdc_events b ON a.row.customer = b.row.customer AND a.row.id < b.row.id "
      "WITHIN 5m WHERE a.channel = 'pgcdc:j_orders' AND b.channel = 'pgcdc:j_orders' "
      "EVENT TIME BY row.ts ALLOWED LATENESS 1h";
  auto p = StartWalListen(WalListenArgs("p_join", {"--view-query", paid, "--view-query", again}));
  ASSERT_TRUE(p);
  // 60 orders a minute apart (3 customers); a payment for each paid 0..14
  // minutes after its order (two in three within the bound); every 10th order
  // is paid twice.
  ExecOrFail(conn,
             "INSERT INTO j_orders SELECT g, g % 3, g * 10, "
             "'2025-01-01 00:00:00+00'::timestamptz + g * interval '1 minute' "
             "FROM generate_series(1, 60) g");
  ExecOrFail(conn,
             "INSERT INTO j_payments SELECT g, CASE WHEN g > 60 THEN g - 60 ELSE g END, g, "
             "'2025-01-01 00:00:00+00'::timestamptz + (CASE WHEN g > 60 THEN g - 60 ELSE g END) * "
             "interval '1 minute' + (g % 15) * interval '1 minute' "
             "FROM generate_series(1, 120) g WHERE g <= 60 OR g % 10 = 0");
  auto want_paid = conn.Query(
      "SELECT o.id, p.id, o.amount, p.paid FROM j_orders o JOIN j_payments p ON o.id = p.order_id "
      "AND abs(extract(epoch FROM p.ts - o.ts)) <= 600");
  auto want_again = conn.Query(
      "SELECT a.id, b.id FROM j_orders a JOIN j_orders b ON a.customer = b.customer AND a.id < "
      "b.id "
      "AND abs(extract(epoch FROM b.ts - a.ts)) <= 300");
  ASSERT_TRUE(want_paid && want_again);
  ASSERT_GT(want_paid->size(), 30u);
  ASSERT_GT(want_again->size(), 5u);
  auto pairs = [&](const std::string& view, const char* l, const char* r) {
    std::multiset<std::string> out;
    for (const auto& line : p->StdoutLines()) {
      if (line.find("\"channel\":\"pgcdc:_view:" + view + "\"") == std::string::npos) continue;
      CheckEnvelope(line, "pgcdc:_view:" + view, "VIEW_RESULT", "view");
      const auto payload = ParseJson(line).at("payload");
      EXPECT_FALSE(payload.as_object().contains("_window")) << line;
      std::string row = std::to_string(payload.at(l).to_number<int64_t>()) + "-" +
                        std::to_string(payload.at(r).to_number<int64_t>());
      if (view == "paid") {
        row += ":" + std::to_string(payload.at("amount").to_number<int64_t>()) + "/" +
               std::to_string(payload.at("paid").to_number<int64_t>());
      }
      out.insert(row);
    }
    return out;
  };
  std::multiset<std::string> expect_paid, expect_again;
  for (const auto& row : *want_paid) {
    expect_paid.insert(*row[0] + "-" + *row[1] + ":" + *row[2] + "/" + *row[3]);
  }
  for (const auto& row : *want_again) expect_again.insert(*row[0] + "-" + *row[1]);
  ASSERT_TRUE(Eventually(
      [&] {
        return pairs("paid", "order_id", "payment").size() >= expect_paid.size() &&
               pairs("again", "first", "second").size() >= expect_again.size();
      },
      30s))
      << p->Stderr();
  EXPECT_EQ(pairs("paid", "order_id", "payment"), expect_paid);
  EXPECT_EQ(pairs("again", "first", "second"), expect_again);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_view_join_evicted_total{view=\"paid\"}"), 0.0);
  EXPECT_EQ(ScrapeMetric(*p, "pgcdc_view_late_events_total{view=\"paid\"}"), 0.0);
  EXPECT_GT(ScrapeMetric(*p, "pgcdc_view_groups{view=\"paid\"}").value_or(0), 0.0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
}

// Restarts (docs/views.md): kill -9 while a window is open, with
// --persistent-slot and --view-state-file; after the restart every window
// equals PostgreSQL's GROUP BY over all rows: the open window's rows before
// the kill are neither lost (they were held, so the slot replays them) nor
// counted twice, and rows of windows emitted before the kill that the
// replay brings back (transactions straddle windows) do not reopen them.
TEST(ViewScenario, KillNineMidWindowLosesAndDoublesNothing) {
  auto conn = Connect();
  TempDir dir;
  FreshPublishedTable(conn, "vk_orders",
                      "id int PRIMARY KEY, region text, amount int, ts timestamptz", "p_vkill",
                      "pgcdc_p_vkill");
  const std::string view =
      "w:SELECT row.region AS region, COUNT(*) AS n, SUM(row.amount) AS total FROM pgcdc_events "
      "GROUP BY row.region EVENT TIME BY row.ts TUMBLING WINDOW 1m";
  const auto args = WalListenArgs("p_vkill", {"--persistent-slot", "--view-query", view,
                                              "--view-state-file", dir.path + "/view-state.json"});
  // Rows 1..n, one per second of event time, in transactions of 7 rows.
  auto insert = [&](int from, int to) {
    for (int i = from; i <= to; i += 7) {
      ExecOrFail(conn,
                 "INSERT INTO vk_orders SELECT g, (ARRAY['eu','us'])[1 + g % 2], g % 13, "
                 "'2025-01-01 00:00:00+00'::timestamptz + g * interval '1 second' "
                 "FROM generate_series(" +
                     std::to_string(i) + ", " + std::to_string(std::min(to, i + 6)) + ") g");
    }
  };
  std::map<std::string, std::set<std::string>> got;  // "<start>|<region>" → distinct results
  auto collect = [&](Process& p) {
    for (const auto& l : p.StdoutLines()) {
      if (l.find("\"channel\":\"pgcdc:_view:w\"") == std::string::npos) continue;
      const auto payload = ParseJson(l).at("payload");
      if (payload.at("region").as_string() == "zz") continue;  // the row that closes the rest
      got[std::string(payload.at("_window").at("start").as_string()) + "|" +
          std::string(payload.at("region").as_string())]
          .insert(std::to_string(payload.at("n").to_number<int64_t>()) + "/" +
                  std::to_string(payload.at("total").to_number<int64_t>()));
    }
  };
  auto emitted = [&](Process& p, const std::string& start) {
    for (const auto& l : p.StdoutLines()) {
      if (l.find("\"start\":\"" + start + "\"") != std::string::npos) return true;
    }
    return false;
  };
  {
    auto p = StartWalListen(args);
    ASSERT_TRUE(p);
    insert(1, 287);
    auto before = conn.Query("SELECT pg_current_wal_lsn()::text");
    ASSERT_TRUE(before);
    insert(288, 330);  // windows up to 00:05:00 close; 00:05:00-00:06:00 holds rows 300..330
    // The slot confirms past 287 (so the replay does not start from the
    // beginning), not past 299: the transaction of rows 295..301 is replayed.
    ASSERT_TRUE(Eventually(
        [&] {
          auto r = conn.Query(
              "SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots "
              "WHERE slot_name = 'pgcdc_p_vkill'",
              {(*before)[0][0]});
          return r && !r->empty() && (*r)[0][0] == std::optional<std::string>("t");
        },
        30s))
        << p->Stderr();
    ASSERT_TRUE(Eventually([&] { return emitted(*p, "2025-01-01T00:04:00Z"); }, 30s))
        << p->Stderr();
    // The open window's rows were received (counted), not confirmed.
    ASSERT_TRUE(Eventually([&] {
      return ScrapeMetric(*p, "pgcdc_view_events_processed_total{view=\"w\"}").value_or(0) >= 330;
    })) << p->Stderr();
    p->Signal(SIGKILL);
    p->Wait();
    collect(*p);
  }
  auto p = StartWalListen(args);
  ASSERT_TRUE(p);
  insert(331, 600);
  ExecOrFail(conn, "INSERT INTO vk_orders VALUES (1000, 'zz', 0, '2025-01-01 02:00:00+00')");
  ASSERT_TRUE(Eventually([&] { return emitted(*p, "2025-01-01T00:10:00Z"); }, 30s)) << p->Stderr();
  collect(*p);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  auto want = conn.Query(
      "SELECT to_char(date_trunc('minute', ts) AT TIME ZONE 'UTC', "
      "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || '|' || region, count(*) || '/' || sum(amount) "
      "FROM vk_orders WHERE id <= 600 GROUP BY 1");
  ASSERT_TRUE(want);
  ASSERT_EQ(want->size(), 21u);
  for (const auto& row : *want) {
    const auto it = got.find(*row[0]);
    ASSERT_NE(it, got.end()) << "window lost: " << *row[0];
    EXPECT_EQ(it->second, std::set<std::string>{*row[1]}) << *row[0];
  }
  EXPECT_EQ(got.size(), want->size());
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_vkill')");
}

// Waits until `pred` holds, running `tick` (an insert) every 300 ms: results
// are known delivered once the other adapters finished an event the source
// published after the results came back through the bus.
bool EventuallyWithTicks(const std::function<bool()>& pred, const std::function<void()>& tick) {
  auto next = Clock::now();
  return Eventually(
      [&] {
        if (pred()) return true;
        if (Clock::now() >= next) {
          tick();
          next = Clock::now() + 300ms;
        }
        return false;
      },
      15s);
}

// The view state file's entry for `view` (null when there is none yet).
boost::json::value SavedViewState(const std::string& path, const std::string& view) {
  std::ifstream in(path);  // replaced atomically (rename): always complete
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto doc = boost::json::parse(text.str(), ec);
  if (ec || !doc.is_object()) return nullptr;
  const auto* views = doc.as_object().if_contains("views");
  const auto* entry =
      views != nullptr && views->is_object() ? views->as_object().if_contains(view) : nullptr;
  return entry != nullptr ? *entry : boost::json::value(nullptr);
}

// Restarts with session windows (docs/views.md): key "a" keeps one session
// open for the whole run while sessions of "b" and "c" close and are
// delivered; the process is killed with kill -9 while "a" (and one "b"
// session) are open. The slot replays from a's first event, so the replay
// brings back the tail of delivered sessions (b 20..40) and whole delivered
// ones (b 100..140, c 50..60 and 150..160). Every session must be emitted
// exactly once, equal to PostgreSQL's gaps-and-islands over all rows. The
// same after a clean stop (SIGTERM) in the same place.
void SessionsSurviveARestart(int stop_signal) {
  auto conn = Connect();
  TempDir dir;
  FreshPublishedTable(conn, "vs_events", "id int PRIMARY KEY, k text, v int, ts timestamptz",
                      "p_vsess", "pgcdc_p_vsess");
  const std::string state = dir.path + "/view-state.json";
  const std::string view =
      "s:SELECT row.k AS k, COUNT(*) AS n, SUM(row.v) AS total FROM pgcdc_events "
      "WHERE row.k <> 'tick' GROUP BY row.k EVENT TIME BY row.ts SESSION WINDOW 30s";
  const auto args = WalListenArgs(
      "p_vsess", {"--persistent-slot", "--view-query", view, "--view-state-file", state});
  // (second, key): a every 10 s from 20 to 400; b and c in bursts 60 s apart.
  std::vector<std::pair<int, std::string>> rows;
  for (int t = 20; t <= 400; t += 10) rows.emplace_back(t, "a");
  for (int start : {0, 100, 200, 300}) {
    for (int t = start; t <= start + 40; t += 10) rows.emplace_back(t, "b");
  }
  for (int start : {50, 150, 270}) {
    for (int t = start; t <= start + 10; t += 10) rows.emplace_back(t, "c");
  }
  std::sort(rows.begin(), rows.end());
  size_t inserted = 0;
  auto insert_until = [&](int last_second) {  // one transaction per row, in time order
    for (; inserted < rows.size() && rows[inserted].first <= last_second; ++inserted) {
      const auto& [t, k] = rows[inserted];
      ExecOrFail(conn, "INSERT INTO vs_events VALUES (" + std::to_string(inserted + 1) + ", '" + k +
                           "', " + std::to_string((inserted * 7) % 13) +
                           ", '2025-01-01 00:00:00+00'::timestamptz + interval '" +
                           std::to_string(t) + " seconds')");
    }
  };
  // "<key>|<start>" → every result emitted for it, "<n>/<total>@<end>".
  std::map<std::string, std::vector<std::string>> got;
  auto results = [](Process& p) {
    std::vector<boost::json::object> out;
    for (const auto& l : p.StdoutLines()) {
      if (l.find("\"channel\":\"pgcdc:_view:s\"") == std::string::npos) continue;
      out.push_back(ParseJson(l).at("payload").as_object());
    }
    return out;
  };
  auto collect = [&](Process& p) {
    for (const auto& r : results(p)) {
      if (r.at("k").as_string() == "zz") continue;  // the row that closes the rest
      got[std::string(r.at("k").as_string()) + "|" +
          std::string(r.at("_window").at("start").as_string())]
          .push_back(std::to_string(r.at("n").to_number<int64_t>()) + "/" +
                     std::to_string(r.at("total").to_number<int64_t>()) + "@" +
                     std::string(r.at("_window").at("end").as_string()));
    }
  };
  const int64_t t0 = 1735689600;  // 2025-01-01T00:00:00Z
  bool recorded = false;
  {
    auto p = StartWalListen(args);
    ASSERT_TRUE(p);
    insert_until(250);  // b 200..240 and a (from 20) are open; b, c sessions before closed
    const size_t first_run = inserted;
    ASSERT_TRUE(Eventually(
        [&] {
          return ScrapeMetric(*p, "pgcdc_view_events_processed_total{view=\"s\"}").value_or(0) >=
                 static_cast<double>(first_run);
        },
        30s))
        << p->Stderr();
    ASSERT_TRUE(Eventually([&] { return results(*p).size() >= 4; }, 30s)) << p->Stderr();
    // Wait until the closed sessions are known delivered (recorded in the
    // state file next to the watermark): only then must a restart not emit
    // them again. (Not asserted here: the unfixed build never records them,
    // and the test shows the duplicates it emits instead.) Ticks: rows the
    // view skips (WHERE) at the newest event time, so nothing changes.
    int ticks = 0;
    recorded = EventuallyWithTicks(
        [&] {
          const auto entry = SavedViewState(state, "s");
          const auto* sessions =
              entry.is_object() ? entry.as_object().if_contains("sessions") : nullptr;
          if (sessions == nullptr || !sessions->is_object()) return false;
          size_t done = 0;  // b through 140 s, c through 160 s
          for (const auto& kv : sessions->as_object()) {
            if (kv.value().to_number<int64_t>() >= (t0 + 140) * 1000000000) ++done;
          }
          return done >= 2;
        },
        [&] {
          ExecOrFail(conn, "INSERT INTO vs_events VALUES (" + std::to_string(2000 + ticks++) +
                               ", 'tick', 0, '2025-01-01 00:04:10+00')");
        });
    p->Signal(stop_signal);
    const auto code = p->Wait();
    if (stop_signal == SIGTERM) EXPECT_EQ(code, 0) << p->Stderr();
    collect(*p);
  }
  EXPECT_TRUE(recorded) << "the state file never recorded the delivered sessions";
  auto p = StartWalListen(args);
  ASSERT_TRUE(p);
  insert_until(400);
  ExecOrFail(conn, "INSERT INTO vs_events VALUES (1000, 'zz', 0, '2025-01-01 02:00:00+00')");
  auto want = conn.Query(
      "WITH o AS (SELECT k, v, ts, CASE WHEN lag(ts) OVER w IS NULL OR "
      "ts - lag(ts) OVER w > interval '30 seconds' THEN 1 ELSE 0 END AS brk "
      "FROM vs_events WHERE k NOT IN ('zz', 'tick') WINDOW w AS (PARTITION BY k ORDER BY ts)), "
      "g AS (SELECT *, sum(brk) OVER (PARTITION BY k ORDER BY ts) AS sid FROM o) "
      "SELECT k || '|' || to_char(min(ts) AT TIME ZONE 'UTC', "
      "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), count(*) || '/' || sum(v) || '@' || "
      "to_char(max(ts) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
      "FROM g GROUP BY k, sid");
  ASSERT_TRUE(want) << want.error().message();
  ASSERT_EQ(want->size(), 8u);  // a: 1, b: 4, c: 3
  // a's session, the last to close (with the "zz" row), is out: so is every
  // other (and anything a replay emitted again came before).
  ASSERT_TRUE(Eventually(
      [&] {
        for (const auto& r : results(*p)) {
          if (r.at("k").as_string() == "a") return true;
        }
        return false;
      },
      30s))
      << p->Stderr();
  // The replay did bring back delivered sessions' events (b 20..40 and
  // 100..140, c 50..60 and 150..160 at least): skipped, counted as late.
  EXPECT_GE(ScrapeMetric(*p, "pgcdc_view_late_events_total{view=\"s\"}").value_or(0), 12.0);
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  collect(*p);
  for (const auto& row : *want) {
    const auto it = got.find(*row[0]);
    ASSERT_NE(it, got.end()) << "session lost: " << *row[0];
    EXPECT_EQ(it->second, std::vector<std::string>{*row[1]}) << "session " << *row[0];
  }
  for (const auto& [key, emitted] : got) {
    bool known = false;
    for (const auto& row : *want) known = known || *row[0] == key;
    EXPECT_TRUE(known) << "session that does not exist (a partial replay?): " << key << " "
                       << emitted.front();
  }
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_vsess')");
}

// Restarts with an interval join: kill -9 after pairs were emitted and known
// delivered; the replay brings their events back (the join buffers hold
// them), and every pair must be emitted exactly once over both runs, equal
// to PostgreSQL's join of all rows. The same after a clean stop (SIGTERM).
void JoinPairsSurviveARestart(int stop_signal) {
  auto conn = Connect();
  TempDir dir;
  FreshPublishedTable(conn, "vj_orders", "id int PRIMARY KEY, amount int, ts timestamptz",
                      "p_vjoin", "pgcdc_p_vjoin");
  ExecOrFail(conn, "DROP TABLE IF EXISTS vj_payments");
  ExecOrFail(conn,
             "CREATE TABLE vj_payments (id int PRIMARY KEY, order_id int, paid int, ts "
             "timestamptz)");
  ExecOrFail(conn, "ALTER PUBLICATION p_vjoin ADD TABLE vj_payments");
  const std::string state = dir.path + "/view-state.json";
  const std::string view =
      "paid:SELECT a.row.id AS order_id, b.row.id AS payment, a.row.amount AS amount "
      "FROM pgcdc_events a JOIN pgcdc_events b ON a.row.id = b.row.order_id WITHIN 10m "
      "WHERE a.channel = 'pgcdc:vj_orders' AND b.channel = 'pgcdc:vj_payments' "
      "EVENT TIME BY row.ts ALLOWED LATENESS 1h";
  const auto args = WalListenArgs(
      "p_vjoin", {"--persistent-slot", "--view-query", view, "--view-state-file", state});
  // Orders a minute apart; payments 0..14 minutes after their order (two in
  // three within the bound); every 10th order paid twice. Payment p pays
  // order p (p <= 60) or p - 60.
  auto orders = [&](int from, int to) {
    ExecOrFail(conn,
               "INSERT INTO vj_orders SELECT g, g * 10, '2025-01-01 00:00:00+00'::timestamptz "
               "+ g * interval '1 minute' FROM generate_series(" +
                   std::to_string(from) + ", " + std::to_string(to) + ") g");
  };
  auto payments = [&](int from, int to) {  // in transactions of 5
    for (int i = from; i <= to; i += 5) {
      ExecOrFail(conn,
                 "INSERT INTO vj_payments SELECT g, CASE WHEN g > 60 THEN g - 60 ELSE g END, g, "
                 "'2025-01-01 00:00:00+00'::timestamptz + (CASE WHEN g > 60 THEN g - 60 ELSE g "
                 "END) * interval '1 minute' + (g % 15) * interval '1 minute' "
                 "FROM generate_series(" +
                     std::to_string(i) + ", " + std::to_string(std::min(to, i + 4)) +
                     ") g WHERE g <= 60 OR g % 10 = 0");
    }
  };
  auto pairs = [](Process& p) {
    std::multiset<std::string> out;
    for (const auto& l : p.StdoutLines()) {
      if (l.find("\"channel\":\"pgcdc:_view:paid\"") == std::string::npos) continue;
      const auto payload = ParseJson(l).at("payload");
      out.insert(std::to_string(payload.at("order_id").to_number<int64_t>()) + "-" +
                 std::to_string(payload.at("payment").to_number<int64_t>()) + ":" +
                 std::to_string(payload.at("amount").to_number<int64_t>()));
    }
    return out;
  };
  auto want_pairs = [&](const std::string& where) {
    auto r = conn.Query(
        "SELECT o.id || '-' || p.id || ':' || o.amount FROM vj_orders o JOIN vj_payments p "
        "ON o.id = p.order_id AND abs(extract(epoch FROM p.ts - o.ts)) <= 600 " +
        where);
    EXPECT_TRUE(r) << r.error().message();
    std::multiset<std::string> out;
    if (r) {
      for (const auto& row : *r) out.insert(*row[0]);
    }
    return out;
  };
  std::multiset<std::string> got;
  bool recorded = false;
  {
    auto p = StartWalListen(args);
    ASSERT_TRUE(p);
    orders(1, 40);
    payments(1, 25);
    const auto first = want_pairs("");
    ASSERT_GT(first.size(), 10u);
    ASSERT_TRUE(Eventually([&] { return pairs(*p).size() >= first.size(); }, 30s)) << p->Stderr();
    // The id of the last payment event so far.
    std::string last_payment;
    for (const auto& l : p->StdoutLines()) {
      if (l.find("\"channel\":\"pgcdc:vj_payments\"") == std::string::npos) continue;
      last_payment = std::string(ParseJson(l).at("id").as_string());
    }
    ASSERT_FALSE(last_payment.empty());
    // Wait until the state file records the pairs as delivered (not
    // asserted here: the unfixed build never does). Ticks: orders nothing pays.
    int ticks = 0;
    recorded = EventuallyWithTicks(
        [&] {
          const auto entry = SavedViewState(state, "paid");
          const auto* joined =
              entry.is_object() ? entry.as_object().if_contains("joined") : nullptr;
          return joined != nullptr && joined->is_array() && joined->as_array().size() == 1 &&
                 joined->as_array()[0].is_string() &&
                 std::string(joined->as_array()[0].as_string()) >= last_payment;
        },
        [&] {
          ExecOrFail(conn, "INSERT INTO vj_orders VALUES (" + std::to_string(900 + ticks++) +
                               ", 0, '2025-01-01 00:30:00+00')");
        });
    p->Signal(stop_signal);
    const auto code = p->Wait();
    if (stop_signal == SIGTERM) EXPECT_EQ(code, 0) << p->Stderr();
    got = pairs(*p);
  }
  EXPECT_TRUE(recorded) << "the state file never recorded the delivered pairs";
  auto p = StartWalListen(args);
  ASSERT_TRUE(p);
  payments(26, 120);
  orders(41, 45);
  const auto want = want_pairs("");
  ASSERT_TRUE(Eventually(  // every pair out (anything emitted twice came before)
      [&] {
        auto second = pairs(*p);
        for (const auto& pair : want) {
          if (!got.count(pair) && !second.count(pair)) return false;
        }
        return true;
      },
      30s))
      << p->Stderr();
  p->Signal(SIGTERM);
  EXPECT_EQ(p->Wait(), 0) << p->Stderr();
  for (const auto& pair : pairs(*p)) got.insert(pair);
  std::vector<std::string> twice, extra, missing;
  for (const auto& pair : got) {
    if (!want.count(pair)) {
      extra.push_back(pair);
    } else if (got.count(pair) > want.count(pair)) {
      twice.push_back(pair);
    }
  }
  for (const auto& pair : want) {
    if (!got.count(pair)) missing.push_back(pair);
  }
  EXPECT_TRUE(twice.empty()) << "pairs emitted twice: " << twice.size() << ", e.g. "
                             << twice.front();
  EXPECT_TRUE(extra.empty()) << "pairs that do not exist: " << extra.front();
  EXPECT_TRUE(missing.empty()) << "pairs lost: " << missing.front();
  EXPECT_EQ(got, want);
  (void)conn.Query("SELECT pg_drop_replication_slot('pgcdc_p_vjoin')");
}

TEST(ViewScenario, KillNineWithSessionsEmitsEachSessionOnce) { SessionsSurviveARestart(SIGKILL); }
TEST(ViewScenario, StopWithSessionsEmitsEachSessionOnce) { SessionsSurviveARestart(SIGTERM); }
TEST(ViewScenario, KillNineWithAnIntervalJoinEmitsEachPairOnce) {
  JoinPairsSurviveARestart(SIGKILL);
}
TEST(ViewScenario, StopWithAnIntervalJoinEmitsEachPairOnce) { JoinPairsSurviveARestart(SIGTERM); }

TEST(ViewScenario, BadQueryStopsStartupWithThePosition) {
  auto [code, err] = RunAdapterToExit(
      "stdout", {"--view-query", "broken:SELECT COUNT(* FROM pgcdc_events TUMBLING WINDOW 1s"});
  EXPECT_EQ(code, 2) << err;
  EXPECT_NE(
      err.find("view \"broken\": syntax error: syntax error at or near \"FROM\" at position 16"),
      std::string::npos)
      << err;
  auto [code2, err2] =
      RunAdapterToExit("stdout", {"--view-query", "nowin:SELECT COUNT(*) FROM pgcdc_events"});
  EXPECT_EQ(code2, 2) << err2;
  EXPECT_NE(err2.find("view \"nowin\": missing window clause"), std::string::npos) << err2;
}

}  // namespace
}  // namespace pgcdc::testing
