#include "adapter/view/view_adapter.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/mutex.h"
#include "registry/test_util.h"

namespace pgcdc::adapter::view {
namespace {

constexpr int64_t kSec = 1000000000;

// Services whose publish collects what the adapter's emitter thread publishes.
struct Collector {
  Mutex mu;
  CondVar cv;
  std::vector<Event> events;  // under mu
  Services Make() {
    Services s;
    s.publish = [this](EventBatch&& b) {
      MutexLock lock(mu);
      for (auto& e : b.events) events.push_back(std::move(e));
      cv.NotifyAll();
      return true;
    };
    return s;
  }
};

// A view state file in a fresh temporary directory, removed at scope exit.
struct StateFile {
  std::string dir;
  std::string path;
  StateFile() {
    char tmpl[] = "/tmp/pgcdc-view-state-XXXXXX";
    EXPECT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    path = dir + "/state.json";
  }
  ~StateFile() {
    std::remove(path.c_str());
    rmdir(dir.c_str());
  }
  StateFile(const StateFile&) = delete;
  StateFile& operator=(const StateFile&) = delete;
  std::string Read() const {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
};

TEST(ViewAdapter, ValidationNamesTheViewAndThePosition) {
  const ConnectorInfo info = Connector();
  auto cfg = testing::LoadConnectorConfig(
      info, {{"view.cli_queries", {"bad:SELECT COUNT(* FROM pgcdc_events TUMBLING WINDOW 1s"}}});
  const auto errors = testing::Validate(info, cfg);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "view \"bad\": syntax error: syntax error at or near \"FROM\" at position 16");
  // A query's commas are not list separators.
  auto commas = testing::LoadConnectorConfig(
      info, {{"view.cli_queries",
              {"a:SELECT COUNT(*), SUM(x) FROM pgcdc_events TUMBLING WINDOW 1s",
               "b:SELECT MIN(x), MAX(x) FROM pgcdc_events TUMBLING WINDOW 1s"}}});
  EXPECT_TRUE(testing::Validate(info, commas).empty());
  auto views = BuildViews({.cli_queries = commas.values.GetList("view.cli_queries")});
  ASSERT_TRUE(views) << views.error().message();
  EXPECT_EQ(views->size(), 2u);
  auto none = testing::LoadConnectorConfig(info, {});
  EXPECT_EQ(testing::Validate(info, none).size(), 1u);
}

TEST(ViewAdapter, YamlViewsAndCliOverride) {
  Options o;
  o.views_yaml = R"(
- name: a
  query: SELECT COUNT(*) AS n FROM pgcdc_events TUMBLING WINDOW 1s
  emit: batch
  max_groups: 7
- name: b
  query: SELECT COUNT(*) AS n FROM pgcdc_events TUMBLING WINDOW 1m
  event_time_field: payload.row.ts
)";
  o.cli_queries = {"b:SELECT COUNT(*) AS m FROM pgcdc_events SESSION WINDOW 5s"};
  auto views = BuildViews(o);
  ASSERT_TRUE(views) << views.error().message();
  ASSERT_EQ(views->size(), 2u);
  EXPECT_EQ((*views)[0].emit, Emit::kBatch);
  EXPECT_EQ((*views)[0].max_groups, 7);
  EXPECT_EQ((*views)[1].query->window.kind, pgcdc::view::WindowKind::kSession);

  o.cli_queries.clear();
  views = BuildViews(o);
  ASSERT_TRUE(views);
  EXPECT_EQ((*views)[1].query->event_time, (std::vector<std::string>{"row", "ts"}));

  o.views_yaml = "- name: x\n  query: SELECT 1\n  color: red\n";
  EXPECT_EQ(BuildViews(o).error().message(),
            "views[0]: unknown key \"color\" (name, query, emit, max_groups, event_time_field, "
            "emit_late)");
  o.views_yaml =
      "- name: x\n  query: SELECT COUNT(*) FROM pgcdc_events WHERE channel = "
      "'pgcdc:_view:y' TUMBLING WINDOW 1s\n";
  EXPECT_EQ(BuildViews(o).error().message(),
            "view \"x\": a query must not read pgcdc:_view: channels");
}

TEST(ViewAdapter, PublishesClosedWindowsAndIgnoresItsOwnResults) {
  Options o;
  o.cli_queries = {
      "per_region:SELECT row.region AS region, COUNT(*) AS n FROM pgcdc_events "
      "GROUP BY row.region TUMBLING WINDOW 10s"};
  auto views = BuildViews(o);
  ASSERT_TRUE(views);
  std::atomic<int64_t> now{5 * kSec};
  ViewAdapter a(std::move(*views), o, [&] { return now.load(); });
  Mutex mu;
  CondVar cv;
  std::vector<Event> published;
  Services s;
  s.publish = [&](EventBatch&& b) {
    MutexLock lock(mu);
    for (auto& e : b.events) published.push_back(std::move(e));
    cv.NotifyAll();
    return true;
  };
  ASSERT_TRUE(a.Attach(s));
  ASSERT_TRUE(a.Open());
  Event e1 = MakeEvent("pgcdc:orders", "INSERT", R"({"row":{"region":"eu"}})", "wal");
  Event e2 =
      MakeEvent("pgcdc:_view:per_region", "VIEW_RESULT", R"({"row":{"region":"eu"}})", "view");
  const Event* batch[] = {&e1, &e1, &e2};
  ASSERT_TRUE(a.Deliver(batch));
  now = 10 * kSec;
  ASSERT_TRUE(a.Flush());
  {
    MutexLock lock(mu);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (published.empty()) ASSERT_TRUE(cv.WaitUntil(mu, deadline));
    ASSERT_EQ(published.size(), 1u);
    EXPECT_EQ(published[0].channel, "pgcdc:_view:per_region");
    EXPECT_EQ(published[0].operation, "VIEW_RESULT");
    EXPECT_EQ(published[0].source, "view");
    EXPECT_EQ(published[0].payload,
              R"({"region":"eu","n":2,"_window":{"start":"1970-01-01T00:00:00Z",)"
              R"("end":"1970-01-01T00:00:10Z"}})");
  }
  a.Close();
}

TEST(ViewAdapter, LateEventsArePublishedOnTheLateChannelWhenAsked) {
  for (const bool emit_late : {true, false}) {
    Options o;
    o.emit_late = emit_late;
    o.cli_queries = {
        "w:SELECT COUNT(*) AS n FROM pgcdc_events EVENT TIME BY row.ts TUMBLING WINDOW 10s"};
    auto views = BuildViews(o);
    ASSERT_TRUE(views);
    ViewAdapter a(std::move(*views), o, [] { return int64_t{0}; });
    Collector c;
    ASSERT_TRUE(a.Attach(c.Make()));
    ASSERT_TRUE(a.Open());
    Event on_time =
        MakeEvent("pgcdc:t", "INSERT", R"({"row":{"ts":"2026-01-01T00:00:25Z"}})", "wal");
    Event late = MakeEvent("pgcdc:t", "UPDATE", R"({"row":{"ts":"2026-01-01T00:00:05Z"}})", "wal");
    const Event* batch[] = {&on_time, &late};
    ASSERT_TRUE(a.Deliver(batch));
    a.Close();  // flushes: the open window [20,30) and, when asked, the late event
    MutexLock lock(c.mu);
    std::vector<const Event*> reports;
    for (const auto& e : c.events) {
      if (e.channel == "pgcdc:_view:w:late") reports.push_back(&e);
    }
    ASSERT_EQ(reports.size(), emit_late ? 1u : 0u);
    if (emit_late) {
      EXPECT_EQ(reports[0]->operation, "VIEW_LATE");
      EXPECT_EQ(reports[0]->payload, R"({"id":")" + late.id.ToString() +
                                         R"(","channel":"pgcdc:t","operation":"UPDATE",)"
                                         R"("payload":{"row":{"ts":"2026-01-01T00:00:05Z"}}})");
    }
  }
}

// Restarts (docs/views.md): the adapter holds the source events of open
// windows, and of closed windows until the other adapters delivered the
// results; the state file keeps the restart watermark below such windows.
TEST(ViewAdapter, HoldsEventsUntilResultsAreDeliveredAndSavesTheWatermark) {
  StateFile file;
  Options o;
  o.state_file = file.path;
  o.cli_queries = {
      "w:SELECT COUNT(*) AS n FROM pgcdc_events EVENT TIME BY row.ts TUMBLING WINDOW 10s"};
  auto views = BuildViews(o);
  ASSERT_TRUE(views);
  ViewAdapter a(*views, o, [] { return int64_t{0}; });
  Collector c;
  std::atomic<uint64_t> others{0};
  Services s = c.Make();
  s.delivered_by_others = [&](std::string_view name) {
    EXPECT_EQ(name, "view");
    return others.load();
  };
  ASSERT_TRUE(a.Attach(s));
  ASSERT_TRUE(a.Open());
  auto at = [](int sec, uint64_t seq) {
    Event e =
        MakeEvent("pgcdc:t", "INSERT",
                  R"({"row":{"ts":"2026-01-01T00:00:)" + std::to_string(sec) + R"(Z"}})", "wal");
    e.seq = seq;
    return e;
  };
  Event e1 = at(11, 1), e2 = at(15, 2), e3 = at(25, 3);  // e3 closes [10,20)
  const Event* first[] = {&e1, &e2, &e3};
  ASSERT_TRUE(a.Deliver(first));
  ASSERT_TRUE(a.Flush());
  // [10,20) is closed but its results are not delivered: 1 is still held.
  EXPECT_EQ(a.OldestHeldSeq(), std::optional<uint64_t>(1));
  Event result;
  {
    MutexLock lock(c.mu);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (c.events.empty()) ASSERT_TRUE(c.cv.WaitUntil(c.mu, deadline));
    result = c.events[0];
  }
  // The state file keeps the watermark below the undelivered window's end.
  EXPECT_EQ(file.Read(), R"({"views":{"w":{"watermark_ns":1767225619999999999}}})");
  // The result comes back through the bus, then a later event (seq 4):
  // once the others finished seq 4, [10,20)'s events are released; the open
  // window [20,30) still holds 3.
  Event e4 = at(26, 4);
  const Event* second[] = {&result, &e4};
  ASSERT_TRUE(a.Deliver(second));
  ASSERT_TRUE(a.Flush());
  EXPECT_EQ(a.OldestHeldSeq(), std::optional<uint64_t>(1));
  others = 4;
  ASSERT_TRUE(a.Flush());
  EXPECT_EQ(a.OldestHeldSeq(), std::optional<uint64_t>(3));
  EXPECT_EQ(file.Read(), R"({"views":{"w":{"watermark_ns":1767225626000000000}}})");
  // With a state file, a stop does not flush [20,30): it resumes after the restart.
  a.Close();
  {
    MutexLock lock(c.mu);
    EXPECT_EQ(c.events.size(), 1u);
  }

  // A restart resumes from the saved watermark: a replayed event of the
  // emitted window [10,20) is late, one of the open window [20,30) counts.
  ViewAdapter b(*views, o, [] { return int64_t{0}; });
  Collector again;
  ASSERT_TRUE(b.Attach(again.Make()));
  ASSERT_TRUE(b.Open());
  Event r2 = at(15, 0), r3 = at(25, 0);  // untracked: Close() flushes what they open
  const Event* replay[] = {&r2, &r3};
  ASSERT_TRUE(b.Deliver(replay));
  b.Close();
  MutexLock lock(again.mu);
  ASSERT_EQ(again.events.size(), 1u);
  EXPECT_NE(again.events[0].payload.find(R"("n":1,"_window":{"start":"2026-01-01T00:00:20Z")"),
            std::string::npos)
      << again.events[0].payload;
}

// Restarts with sessions: the state file keeps, next to the watermark, the
// end of each key's last delivered session, so a replay that brings part of
// it back (another key's session was open) does not emit it again. Files
// with only a watermark (before sessions were kept) still load; a damaged
// entry stops start-up.
TEST(ViewAdapter, SavesDeliveredSessionsAndSkipsThemAfterARestart) {
  StateFile file;
  Options o;
  o.state_file = file.path;
  o.cli_queries = {
      "s:SELECT row.k AS k, COUNT(*) AS n FROM pgcdc_events GROUP BY row.k "
      "EVENT TIME BY row.ts SESSION WINDOW 5s"};
  auto views = BuildViews(o);
  ASSERT_TRUE(views);
  auto at = [](const char* key, int sec, uint64_t seq) {
    Event e = MakeEvent("pgcdc:t", "INSERT",
                        std::string(R"({"row":{"k":")") + key + R"(","ts":"2026-01-01T00:00:)" +
                            (sec < 10 ? "0" : "") + std::to_string(sec) + R"(Z"}})",
                        "wal");
    e.seq = seq;
    return e;
  };
  auto wait_for = [](Collector& c, size_t n) {
    MutexLock lock(c.mu);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (c.events.size() < n) {
      if (!c.cv.WaitUntil(c.mu, deadline)) break;
    }
    return c.events;
  };
  {
    ViewAdapter a(*views, o, [] { return int64_t{0}; });
    Collector c;
    std::atomic<uint64_t> others{0};
    Services s = c.Make();
    s.delivered_by_others = [&](std::string_view) { return others.load(); };
    ASSERT_TRUE(a.Attach(s));
    ASSERT_TRUE(a.Open());
    // b@0..4 closes at a@9 while a's session (from a@3) is open.
    Event e1 = at("b", 0, 1), e2 = at("b", 2, 2), e3 = at("a", 3, 3), e4 = at("b", 4, 4),
          e5 = at("a", 6, 5), e6 = at("a", 9, 6);
    const Event* batch[] = {&e1, &e2, &e3, &e4, &e5, &e6};
    ASSERT_TRUE(a.Deliver(batch));
    ASSERT_TRUE(a.Flush());
    auto results = wait_for(c, 1);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_NE(results[0].payload.find(R"({"k":"b","n":3,)"), std::string::npos);
    // Not delivered yet: the watermark stays before b@0 (none), no session kept.
    EXPECT_EQ(file.Read().find("sessions"), std::string::npos) << file.Read();
    Event e7 = at("a", 10, 7);
    const Event* back[] = {&results[0], &e7};
    ASSERT_TRUE(a.Deliver(back));
    others = 7;
    ASSERT_TRUE(a.Flush());
    EXPECT_EQ(a.OldestHeldSeq(), std::optional<uint64_t>(3));  // a's open session
    // "b" as the engine keys it: type tag '4' (text), the text, NUL.
    EXPECT_EQ(file.Read(), R"({"views":{"s":{"watermark_ns":1767225602000000000,)"
                           R"("sessions":{"346200":1767225604000000000}}}})");
    a.Close();
  }
  {
    // The replay from b@2: b@2 and b@4 are skipped; a's session is rebuilt.
    ViewAdapter b(*views, o, [] { return int64_t{0}; });
    Collector c;
    ASSERT_TRUE(b.Attach(c.Make()));
    ASSERT_TRUE(b.Open());
    Event r2 = at("b", 2, 0), r3 = at("a", 3, 0), r4 = at("b", 4, 0), r5 = at("a", 6, 0),
          r6 = at("a", 9, 0), r7 = at("a", 10, 0);
    const Event* replay[] = {&r2, &r3, &r4, &r5, &r6, &r7};
    ASSERT_TRUE(b.Deliver(replay));
    b.Close();  // untracked events: Close flushes a's session
    auto results = wait_for(c, 1);
    ASSERT_EQ(results.size(), 1u);
    EXPECT_NE(results[0].payload.find(R"({"k":"a","n":4,)"), std::string::npos)
        << results[0].payload;
  }
  {
    // A file from before sessions were kept loads; a damaged entry does not.
    std::ofstream(o.state_file) << R"({"views":{"s":{"watermark_ns":5}}})";
    ViewAdapter old(*views, o, [] { return int64_t{0}; });
    Collector c;
    ASSERT_TRUE(old.Attach(c.Make()));
    EXPECT_TRUE(old.Open());
    old.Close();
    std::ofstream(o.state_file) << R"({"views":{"s":{"sessions":{"zz":1}}}})";
    ViewAdapter bad(*views, o, [] { return int64_t{0}; });
    ASSERT_TRUE(bad.Attach(c.Make()));
    auto st = bad.Open();
    ASSERT_FALSE(st);
    EXPECT_NE(st.error().message().find("bad session entry \"zz\""), std::string::npos)
        << st.error().message();
  }
}

TEST(ViewAdapter, NeedsAPipeline) {
  ViewAdapter a({}, {});
  EXPECT_FALSE(a.Attach(Services{}));
}

}  // namespace
}  // namespace pgcdc::adapter::view
