#include "adapter/kafka/position.h"

#include "codec/pgoutput/pgoutput.h"
#include "core/json.h"
#include "core/json_dom.h"
#include "core/time.h"

namespace pgcdc::adapter::kafka {

namespace {
constexpr uint8_t kVersionPosition = 8;
constexpr uint8_t kVariantRfc = 0b10;
}  // namespace

bool IsPositionId(const Uuid& id) {
  return (id.bytes[6] >> 4) == kVersionPosition && (id.bytes[8] >> 6) == kVariantRfc;
}

uint32_t OriginOf(const Uuid& id) {
  return (static_cast<uint32_t>(id.bytes[12] & 0x3F) << 24) |
         (static_cast<uint32_t>(id.bytes[13]) << 16) | (static_cast<uint32_t>(id.bytes[14]) << 8) |
         id.bytes[15];
}

bool AtOrBefore(const Uuid& id, const Uuid& committed) {
  // Same origin: the ids differ only in (position, ordinal), which the
  // big-endian layout orders bytewise.
  return IsPositionId(id) && IsPositionId(committed) && OriginOf(id) == OriginOf(committed) &&
         id <= committed;
}

std::string EncodeCommitted(std::string_view transactional_id, const Event& last, int64_t now_ns) {
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  w.StringField("transactional_id", transactional_id);
  w.StringField("event_id", last.id.ToString());
  w.StringField("lsn", pgoutput::FormatLsn(last.lsn));
  w.UintField("seq", last.seq);
  w.StringField("committed_at", FormatRfc3339Nano(now_ns));
  w.EndObject();
  return out;
}

std::optional<Uuid> DecodeCommitted(std::string_view value) {
  auto dom = json::ParseDom(value);
  if (!dom || !dom->is_object()) return std::nullopt;
  const auto* id = dom->as_object().if_contains("event_id");
  if (id == nullptr || !id->is_string()) return std::nullopt;
  auto uuid = ParseUuid(std::string_view(id->as_string()));
  if (!uuid || !IsPositionId(*uuid)) return std::nullopt;
  return uuid;
}

}  // namespace pgcdc::adapter::kafka
