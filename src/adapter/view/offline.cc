#include "adapter/view/offline.h"

#include <istream>
#include <memory>
#include <ostream>
#include <string>

#include "core/json_dom.h"

namespace pgcdc::adapter::view {
namespace {

namespace v = pgcdc::view;

struct Running {
  explicit Running(const ViewDef& d)
      : def(&d), channel("pgcdc:_view:" + d.name), engine(d.query, {.max_groups = d.max_groups}) {}
  const ViewDef* def;
  std::string channel;
  v::Engine engine;
};

// The event fields a view reads; false when the line is not an event object.
struct Parsed {
  std::string channel, operation, source, payload, id;
  std::optional<int64_t> created_at;
};

std::string StringField(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

Result<Parsed> ParseLine(const std::string& line) {
  auto doc = json::ParseDom(line);
  if (!doc || !doc->is_object()) return Fail(ErrorCode::kParse, "not a JSON event object");
  const auto& o = doc->as_object();
  Parsed p{StringField(o, "channel"), StringField(o, "operation"),
           StringField(o, "source"),  {},
           StringField(o, "id"),      {}};
  if (p.channel.empty()) return Fail(ErrorCode::kParse, "event without a channel");
  // A payload that is JSON text in a string (LISTEN/NOTIFY) is read as that text.
  if (const auto* payload = o.if_contains("payload"); payload != nullptr) {
    p.payload =
        payload->is_string() ? std::string(payload->as_string()) : json::SerializeDom(*payload);
  }
  if (auto created = StringField(o, "created_at"); !created.empty()) {
    p.created_at = v::ParseTimestamp(created);
  }
  return p;
}

size_t Print(const Running& view, const std::vector<v::WindowResult>& windows, std::ostream& out) {
  size_t n = 0;
  auto line = [&](const std::string& payload) {
    out << R"({"channel":)" << json::SerializeDom(boost::json::value(view.channel))
        << R"(,"operation":"VIEW_RESULT","payload":)" << payload << "}\n";
    ++n;
  };
  for (const auto& w : windows) {
    for (const auto& payload : ResultPayloads(*view.def, w)) line(payload);
  }
  return n;
}

void Summary(const Running& view, std::ostream& err) {
  const v::Counters& c = view.engine.counters();
  err << "view " << view.def->name << ": " << c.events << " events aggregated, " << c.late
      << " late, " << c.type_errors << " type errors, " << c.bad_event_time + c.bad_payload
      << " without a readable event time or JSON payload, " << c.groups_overflow
      << " dropped at max_groups";
  if (view.def->query->join) err << ", " << c.join_evicted << " join rows evicted at max_groups";
  err << "\n";
}

}  // namespace

OfflineReport RunOffline(const std::vector<ViewDef>& views, std::istream& in, std::ostream& out,
                         std::ostream& err) {
  std::vector<std::unique_ptr<Running>> running;
  for (const auto& def : views) {
    running.push_back(std::make_unique<Running>(def));
  }
  OfflineReport report;
  int64_t now = 0;
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++report.lines;
    auto event = ParseLine(line);
    if (!event) {
      ++report.bad_lines;
      err << "pgcdc view test: line " << n << ": " << event.error().message() << " (skipped)\n";
      continue;
    }
    if (event->created_at) now = *event->created_at;
    if (event->channel.starts_with("pgcdc:_view:")) continue;  // a view's own results
    const v::EventView ev{event->channel, event->operation, event->source, event->payload,
                          event->id};
    for (auto& view : running) {
      if (view->engine.Process(ev, now) == v::Outcome::kLate && view->def->emit_late) {
        out << R"({"channel":)" << json::SerializeDom(boost::json::value(view->channel + ":late"))
            << R"(,"operation":"VIEW_LATE","payload":)" << v::LateJson(ev) << "}\n";
        ++report.results;
      }
      report.results += Print(*view, view->engine.Advance(now), out);
    }
  }
  for (auto& view : running) {
    report.results += Print(*view, view->engine.FlushAll(), out);
    Summary(*view, err);
  }
  out.flush();
  return report;
}

}  // namespace pgcdc::adapter::view
