#include "verify/report.h"

#include <cstdio>

#include "core/json.h"

namespace pgcdc::verify {

namespace {

double Rate(uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// ---- text ---------------------------------------------------------------------

void TextFindings(std::string& out, std::string_view title, uint64_t count,
                  const std::vector<Finding>& examples) {
  if (count == 0) return;
  out.append(title).append(" (").append(std::to_string(count)).append("):\n");
  for (const auto& f : examples) {
    out.append("  ").append(f.where).append(": ").append(f.detail).append("\n");
  }
  out.append("\n");
}

void TextCategory(std::string& out, const VerifyReport& r, std::string_view title,
                  const Category& c) {
  if (c.count == 0) return;
  out.append(title).append(" (").append(std::to_string(c.count)).append(")");
  if (c.examples.size() < c.count) {
    out.append(", first ").append(std::to_string(c.examples.size()));
  }
  out.append(":\n");
  for (const auto& e : c.examples) {
    out.append("  ").append(KeyDisplay(r.shape, e.key));
    for (size_t i = 0; i < e.columns.size(); ++i) {
      out.append(i == 0 ? "  columns: " : ", ").append(e.columns[i]);
    }
    out.append("\n");
    if (!e.source_row.empty()) out.append("    table: ").append(e.source_row).append("\n");
    if (!e.sink_row.empty()) out.append("    sink:  ").append(e.sink_row).append("\n");
  }
  out.append("\n");
}

std::string Line(std::string_view label, uint64_t n, std::string_view what) {
  std::string out = "  ";
  out.append(label);
  out.append(label.size() < 10 ? 10 - label.size() : 1, ' ');
  out.append(std::to_string(n));
  if (!what.empty()) out.append("  ").append(what);
  return out + "\n";
}

}  // namespace

std::string RenderText(const VerifyReport& r) {
  const ReplayStats& s = r.replay;
  std::string out = "pgcdc verify: table " + r.table + " against " + r.against + "\n";
  out += "  sink      " + r.sink + ": " + std::to_string(s.records) + " records, " +
         std::to_string(s.row_events) + " row events of the table, " + std::to_string(r.sink_keys) +
         " rows at the end (" + Fixed(r.sink_seconds, 2) + " s)\n";
  out += "  table     " + std::to_string(r.scan.rows) + " rows in " +
         std::to_string(r.scan.chunks) + " chunks (" + Fixed(r.scan.seconds, 2) + " s, " +
         Fixed(Rate(r.scan.rows, r.scan.seconds) / 1e6, 2) + " M rows/s)\n";
  out += Line("matching", r.diff.matching, "");
  out += Line("missing", r.diff.missing.count, "rows the table has and the sink does not");
  out += Line("extra", r.diff.extra.count, "rows the sink has and the table does not");
  out += Line("differing", r.diff.differing.count, "rows whose values differ");
  if (s.toast_masked > 0) {
    out += Line("toast", s.toast_masked,
                "rows compared without unchanged TOAST columns the sink does not carry");
  }
  if (r.check_order) {
    out += Line("ordered", s.ordered_events, "events with a WAL position checked");
    out += Line("unordered", s.unpositioned_events, "events without a WAL position");
    out += Line("duplicate", s.duplicates, "events delivered more than once");
    out += Line("reordered", s.order_violations, "events older than an earlier one of their key");
  }
  out += "\n";
  TextCategory(out, r, "missing", r.diff.missing);
  TextCategory(out, r, "differing", r.diff.differing);
  TextCategory(out, r, "extra", r.diff.extra);
  TextFindings(out, "out of order", s.order_violations, s.order_examples);
  TextFindings(out, "unreadable records (skipped)", s.unreadable, s.unreadable_examples);
  TextFindings(out, "row events without a key (skipped)", s.keyless, s.keyless_examples);
  out += r.Match() ? "result: MATCH\n" : "result: MISMATCH\n";
  return out;
}

// ---- JSON ---------------------------------------------------------------------

namespace {

void JsonFindings(json::Writer& w, std::string_view name, uint64_t count,
                  const std::vector<Finding>& examples, std::string_view detail_key) {
  w.Key(name);
  w.BeginObject();
  w.UintField("count", count);
  w.Key("examples");
  w.BeginArray();
  for (const auto& f : examples) {
    w.BeginObject();
    w.StringField("where", f.where);
    w.StringField(detail_key, f.detail);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void JsonCategory(json::Writer& w, const VerifyReport& r, std::string_view name,
                  const Category& c) {
  w.Key(name);
  w.BeginObject();
  w.UintField("count", c.count);
  w.Key("examples");
  w.BeginArray();
  for (const auto& e : c.examples) {
    w.BeginObject();
    w.Key("key");
    w.Raw(KeyDisplay(r.shape, e.key));
    if (!e.source_row.empty()) {
      w.Key("table");
      w.Raw(e.source_row);
    }
    if (!e.sink_row.empty()) {
      w.Key("sink");
      w.Raw(e.sink_row);
    }
    if (!e.columns.empty()) {
      w.Key("columns");
      w.BeginArray();
      for (const auto& c : e.columns) w.String(c);
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void JsonSource(json::Writer& w, const VerifyReport& r) {
  w.Key("source");
  w.BeginObject();
  w.StringField("table", r.table);
  w.Key("key_columns");
  w.BeginArray();
  for (const auto& k : r.shape.key_columns()) w.String(k);
  w.EndArray();
  w.UintField("rows", r.scan.rows);
  w.UintField("chunks", r.scan.chunks);
  w.Key("seconds");
  w.Double(r.scan.seconds);
  w.Key("rows_per_second");
  w.Double(Rate(r.scan.rows, r.scan.seconds));
  w.UintField("value_errors", r.scan.value_errors);
  w.EndObject();
}

void JsonSink(json::Writer& w, const VerifyReport& r) {
  const ReplayStats& s = r.replay;
  w.Key("sink");
  w.BeginObject();
  w.StringField("against", r.against);
  w.StringField("read", r.sink);
  w.UintField("records", s.records);
  w.UintField("row_events", s.row_events);
  w.UintField("other_tables", s.other_tables);
  w.UintField("non_row_events", s.non_row_events);
  w.UintField("truncates", s.truncates);
  w.UintField("rows", r.sink_keys);
  w.UintField("toast_masked", s.toast_masked);
  w.Key("seconds");
  w.Double(r.sink_seconds);
  JsonFindings(w, "unreadable", s.unreadable, s.unreadable_examples, "error");
  JsonFindings(w, "keyless", s.keyless, s.keyless_examples, "error");
  w.EndObject();
}

void JsonOrder(json::Writer& w, const VerifyReport& r) {
  const ReplayStats& s = r.replay;
  w.Key("order");
  w.BeginObject();
  w.BoolField("checked", r.check_order);
  w.UintField("positioned_events", s.ordered_events);
  w.UintField("unpositioned_events", s.unpositioned_events);
  w.UintField("duplicates", s.duplicates);
  JsonFindings(w, "violations", s.order_violations, s.order_examples, "detail");
  w.EndObject();
}

}  // namespace

std::string RenderJson(const VerifyReport& r) {
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  w.BoolField("match", r.Match());
  JsonSource(w, r);
  JsonSink(w, r);
  w.UintField("matching", r.diff.matching);
  JsonCategory(w, r, "missing", r.diff.missing);
  JsonCategory(w, r, "extra", r.diff.extra);
  JsonCategory(w, r, "differing", r.diff.differing);
  JsonOrder(w, r);
  w.EndObject();
  out.push_back('\n');
  return out;
}

}  // namespace pgcdc::verify
