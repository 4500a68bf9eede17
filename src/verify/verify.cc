#include "verify/verify.h"

#include <algorithm>

#include "core/log.h"
#include "pg/conn.h"
#include "verify/sink_reader.h"

namespace pgcdc::verify {

namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

Result<RowShape> ShapeFor(const TableInfo& info, const VerifyOptions& o) {
  for (const auto& c : o.ignore_columns) {
    if (std::find(info.key_columns.begin(), info.key_columns.end(), c) != info.key_columns.end()) {
      return Fail(ErrorCode::kConfig,
                  "--ignore-columns: \"" + c + "\" is a primary key column and cannot be ignored");
    }
  }
  return RowShape(info.columns, info.key_columns, o.ignore_columns);
}

TableMatch MatchFor(const TableInfo& info, const VerifyOptions& o) {
  TableMatch m = TableMatch::For(info.name.schema, info.name.name);
  if (!o.channels.empty()) m.channels = o.channels;
  return m;
}

// Reads the whole sink into `replay`.
Status ReadSink(SinkReader& sink, Replay& replay) {
  return sink.ReadAll([&](std::string_view doc, const Hints& hints, const Location& where) {
    replay.Add(doc, hints, where);
  });
}

// The second pass: the sink's rows for the differing and extra examples.
Status CaptureSinkRows(SinkReader& sink, const RowShape& shape, const TableMatch& match,
                       DiffResult& diff) {
  std::unordered_set<std::string> keys;
  for (const Category* c : {&diff.differing, &diff.extra}) {
    for (const auto& e : c->examples) keys.insert(e.key);
  }
  if (keys.empty()) return Ok();
  Replay again(shape, match, ReplayOptions{});
  again.Capture(std::move(keys));
  if (auto st = ReadSink(sink, again); !st) return st;
  for (Category* c : {&diff.differing, &diff.extra}) {
    for (auto& e : c->examples) {
      if (auto it = again.captured().find(e.key); it != again.captured().end()) {
        e.sink_row = it->second;
      }
      if (!e.source_row.empty() && !e.sink_row.empty()) {
        e.columns = DifferingColumns(e.source_row, e.sink_row);
      }
    }
  }
  return Ok();
}

}  // namespace

bool IsUsageError(const Error& e) {
  return e.code() == ErrorCode::kConfig || e.code() == ErrorCode::kInvalidArgument ||
         e.code() == ErrorCode::kNotFound;
}

Result<VerifyReport> RunVerify(const VerifyOptions& o) {
  auto against = ParseAgainst(o.against);
  if (!against) return Fail(against.error());
  auto conn = pg::Conn::Open(o.database_url);
  if (!conn) return Fail(conn.error().Wrap("source database"));
  auto scan = TableScan::Open(*conn, o.table);
  if (!scan) return Fail(scan.error());
  const TableInfo& info = (*scan)->info();
  VerifyReport report;
  report.table = (info.name.schema.empty() ? "" : info.name.schema + ".") + info.name.name;
  report.against = o.against;
  report.check_order = o.check_order;
  auto shape = ShapeFor(info, o);
  if (!shape) return Fail(shape.error());
  report.shape = std::move(*shape);
  const TableMatch match = MatchFor(info, o);

  SinkOptions sink_options{.source_dsn = o.database_url,
                           .channels = match.channels,
                           .kafka_timeout = o.kafka_timeout,
                           .kafka_properties = o.kafka_properties};
  auto sink = OpenSink(*against, sink_options);
  if (!sink) return Fail(sink.error());
  report.sink = (*sink)->Describe();

  const auto sink_start = SteadyClock::now();
  Replay replay(report.shape, match, ReplayOptions{o.check_order, o.max_examples});
  if (auto st = ReadSink(**sink, replay); !st) return Fail(st.error());
  replay.Finish();
  report.sink_seconds = SecondsSince(sink_start);
  replay.state().ForEach(
      [&](std::string_view, const KeyState& s) { report.sink_keys += s.deleted ? 0 : 1; });
  log::Info("verify: sink read", {{"sink", report.sink},
                                  {"records", replay.stats().records},
                                  {"keys", report.sink_keys},
                                  {"seconds", report.sink_seconds}});

  Differ differ(replay.state(), o.max_examples);
  auto scanned = (*scan)->Run(
      report.shape, o.chunk_rows,
      [&](const std::string& key, uint64_t hash, const SourceRow& row) {
        differ.SourceRow(key, hash, row);
      },
      [&](std::string_view key) { differ.Prefetch(key); });
  if (!scanned) return Fail(scanned.error().Wrap("table " + report.table));
  report.scan = *scanned;
  log::Info(
      "verify: table read",
      {{"table", report.table}, {"rows", report.scan.rows}, {"seconds", report.scan.seconds}});
  report.diff = differ.Finish();
  report.replay = replay.stats();
  if (auto st = CaptureSinkRows(**sink, report.shape, match, report.diff); !st) {
    return Fail(st.error().Wrap("second pass over the sink"));
  }
  return report;
}

}  // namespace pgcdc::verify
