// Protobuf encoding of events (SPEC §10.3): every event is the message
// pgcdc.plugin.v1.Event (the schema below), `payload` holding the bytes the
// sink sends (Kafka: the payload; NATS: the envelope JSON). Written by hand:
// one fixed message needs no code generator.
#pragma once

#include <string>
#include <string_view>

#include "core/event.h"

namespace pgcdc::encoding::protobuf {

// The .proto text of the message (what a schema registry stores).
const std::string& EventProto();
// The message's full name.
inline constexpr std::string_view kEventMessage = "pgcdc.plugin.v1.Event";

// Appends the encoded message: id=1, channel=2, operation=3, payload=4 (bytes),
// source=5, created_at_unix_ns=6 (int64), transaction=7 (when present:
// xid=1 uint32, commit_time_unix_ns=2 int64, seq=3 int32). Fields with
// proto3 default values are omitted, as every protobuf encoder does.
void Encode(const Event& event, std::string_view payload, std::string& out);

// The Confluent wire-format header for a protobuf value: magic 0x00, the
// schema id (big-endian) and the message-index array of the first message (0).
void AppendConfluentHeader(uint32_t schema_id, std::string& out);

}  // namespace pgcdc::encoding::protobuf
