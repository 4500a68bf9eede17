#include "detector/consume/consume.h"

#include <map>

#include "core/json.h"
#include "core/log.h"
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
