#include "detector/consume/consume.h"

#include <map>

#include "core/json.h"
#include "core/log.h"
#include "detector/delivery.h"
#include "dlq/dlq.h"
#include "dlq/envelope.h"
#include "pipeline/ack_tracker.h"

namespace pgcdc::detector::consume {

namespace {

void AppendRaw(std::string& out, std::string_view data) {
  out += "{\"raw\":\"";
  json::AppendBase64(out, data);
  out += "\"}";
}

// A text value as a JSON string, anything else as {"raw":"<base64>"}.
void AppendText(std::string& out, std::string_view value) {
  if (json::IsValidUtf8(value)) {
    json::AppendString(out, value);
  } else {
    AppendRaw(out, value);
  }
}

}  // namespace

std::string PayloadOf(std::string_view data, RawForm form) {
  std::string out;
  if (!data.empty() && json::Compact(data, out)) return out;
  out.clear();
  if (form == RawForm::kString) {
    AppendText(out, data);
  } else {
    AppendRaw(out, data);
  }
  return out;
}

std::string MetadataPayload(const MessageInfo& info, std::string_view payload) {
  std::string out = "{";
  for (const auto& [name, value] : info.coordinates) {
    json::AppendString(out, name);
    out += ':';
    out += value;
    out += ',';
  }
  out += "\"key\":";
  if (info.has_key) {
    AppendText(out, info.key);
  } else {
    out += "null";
  }
  out += ",\"headers\":{";
  std::map<std::string_view, std::string_view> last;
  std::vector<std::string_view> order;
  for (const auto& h : info.headers) {
    if (last.emplace(h.name, h.value).second) {
      order.push_back(h.name);
    } else {
      last[h.name] = h.value;
    }
  }
  for (size_t i = 0; i < order.size(); ++i) {
    if (i > 0) out += ',';
    AppendText(out, order[i]);
    out += ':';
    AppendText(out, last[order[i]]);
  }
  out += "},\"value\":";
  out += payload;
  out += '}';
  return out;
}

Result<Event> Unwrap(std::string_view data) {
  if (data.empty()) return Fail(ErrorCode::kParse, "not a pgcdc event envelope: empty message");
  auto event = dlq::EventFromEnvelope(data);
  if (!event) {
    return Fail(ErrorCode::kParse, "not a pgcdc event envelope: " + event.error().message());
  }
  return event;
}

Converted ConsumedEvent(EventParts parts, std::string_view data, bool unwrap) {
  Converted c;
  c.event.id = parts.id;
  c.event.channel = std::move(parts.channel);
  c.event.operation = std::string(parts.operation);
  c.event.payload = std::move(parts.payload);
  c.event.source = parts.source;
  c.event.created_at_ns = parts.created_at_ns;
  c.event.key = std::move(parts.key);
  if (!unwrap) return c;
  auto inner = Unwrap(data);
  if (!inner) {
    c.unusable = inner.error().message();
    return c;
  }
  inner->key = std::move(c.event.key);
  c.event = std::move(*inner);
  return c;
}

Uuid PositionId(std::string_view scope, uint64_t position) {
  constexpr uint64_t kPositionMask = (uint64_t{1} << 60) - 1;
  return MakePositionUuid(position & kPositionMask, 0, PositionOrigin(scope));
}

Status Supervise(RunContext& ctx, std::string_view source, metrics::Counter& errors,
                 const RetryPolicy& backoff, const Supervisor::ServeFn& cycle) {
  SupervisorOptions so = SupervisorFor(ctx, std::string(source), errors, backoff);
  so.is_fatal = FatalBeforeUp(ErrorCode::kConfig);
  Supervisor supervisor(std::move(so), ctx.stop);
  return supervisor.Run(cycle);
}

Error AtStart(const Supervisor::Session& session, uint64_t next_seq, const Error& error,
              std::string_view source, std::string_view hint) {
  if (session.up() || session.failures() > 0 || next_seq > 0) return error;
  return Error(ErrorCode::kConfig,
               std::string(source) + ": " + error.message() + " (check " + std::string(hint) + ")");
}

bool FinishInFlight(const RunContext& ctx, const Sleeper& sleeper, uint64_t last_seq,
                    std::chrono::milliseconds grace, std::string_view source) {
  if (last_seq == 0 || WaitDelivered(ctx, sleeper, last_seq, {.stop_grace = grace})) return true;
  log::Info(
      "stopped before every consumed message was delivered; the source delivers the rest "
      "again after the restart",
      {{"detector", source}});
  return false;
}

void ValidateCore(const config::CoreSettings& core, std::string_view detector,
                  std::string_view finished, std::vector<std::string>& errors) {
  if (core.bus_mode != "fast") return;
  errors.push_back("bus.mode: fast mode drops events when an adapter falls behind, and their " +
                   std::string(finished) +
                   " as delivered; use --bus-mode reliable (the default with --detector " +
                   std::string(detector) + ")");
}

Status RecordUnusable(const RunContext& ctx, const Event& event, std::string_view source,
                      std::string_view reason, metrics::Counter& counter) {
  counter.Inc();
  log::Warn("message cannot be delivered as an event; sent to the dead letter queue",
            {{"detector", source}, {"reason", reason}, {"channel", event.channel}});
  if (ctx.dlq == nullptr) {
    log::Warn("no dead letter queue: the message was",
              {{"detector", source}, {"payload", event.payload}});
    return Ok();
  }
  if (auto st = ctx.dlq->Record(event, source, reason); !st) {
    return Fail(st.error().Wrap("record an unusable message in the dead letter queue"));
  }
  return Ok();
}

uint64_t DeliveredThrough(const RunContext& ctx, uint64_t last_seq) {
  if (ctx.acks == nullptr || ctx.acks->size() == 0) return last_seq;
  return ctx.acks->DeliveredThrough();
}

}  // namespace pgcdc::detector::consume
