#include "adapter/encoding/protobuf.h"

#include "adapter/encoding/avro.h"

namespace pgcdc::encoding::protobuf {

namespace {

enum WireType : uint8_t { kVarint = 0, kLengthDelimited = 2 };

void Varint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void Tag(uint32_t field, WireType type, std::string& out) { Varint(field << 3 | type, out); }

void Bytes(uint32_t field, std::string_view v, std::string& out) {
  if (v.empty()) return;
  Tag(field, kLengthDelimited, out);
  Varint(v.size(), out);
  out.append(v);
}

// int64/int32/uint32 as varints (negative int32/int64: ten bytes, two's complement).
void Int(uint32_t field, int64_t v, std::string& out) {
  if (v == 0) return;
  Tag(field, kVarint, out);
  Varint(static_cast<uint64_t>(v), out);
}

}  // namespace

const std::string& EventProto() {
  static const std::string proto = R"(syntax = "proto3";
package pgcdc.plugin.v1;

message Event {
  string id = 1;
  string channel = 2;
  string operation = 3;
  bytes payload = 4;
  string source = 5;
  int64 created_at_unix_ns = 6;
  TransactionInfo transaction = 7;
}

message TransactionInfo {
  uint32 xid = 1;
  int64 commit_time_unix_ns = 2;
  int32 seq = 3;
}
)";
  return proto;
}

void Encode(const Event& event, std::string_view payload, std::string& out) {
  Bytes(1, event.id.ToString(), out);
  Bytes(2, event.channel, out);
  Bytes(3, event.operation, out);
  Bytes(4, payload, out);
  Bytes(5, event.source, out);
  Int(6, event.created_at_ns, out);
  if (event.transaction) {
    std::string tx;
    Int(1, event.transaction->xid, tx);
    Int(2, event.transaction->commit_time_ns, tx);
    Int(3, static_cast<int32_t>(event.transaction->seq), tx);
    Tag(7, kLengthDelimited, out);
    Varint(tx.size(), out);
    out.append(tx);
  }
}

void AppendConfluentHeader(uint32_t schema_id, std::string& out) {
  avro::AppendConfluentHeader(schema_id, out);
  out.push_back(0);  // message indexes: [0], written as the single byte 0
}

}  // namespace pgcdc::encoding::protobuf
