#include "verify/sink_event.h"

#include <algorithm>

namespace pgcdc::verify {

namespace {

constexpr std::string_view kCloudEventTypePrefix = "io.pgcdc.change.";

RowOp OpFromOperation(std::string_view op) {
  if (op == "INSERT" || op == "UPDATE" || op == "SNAPSHOT") return RowOp::kPut;
  if (op == "DELETE") return RowOp::kDelete;
  if (op == "TRUNCATE") return RowOp::kTruncate;
  return RowOp::kOther;
}

// A Debezium envelope (before/after/op/source) into `e`.
void ReadDebezium(const JsonTree& t, NodeId env, SinkEvent& e) {
  e.operation = t.FindString(env, "op");
  const NodeId source = t.Find(env, "source");
  e.schema = t.FindString(source, "schema");
  e.table = t.FindString(source, "table");
  const std::string_view op = e.operation;
  if (op == "c" || op == "u" || op == "r") {
    e.op = RowOp::kPut;
    e.row = t.Find(env, "after");
    if (const NodeId before = t.Find(env, "before"); t.IsObject(before)) e.old = before;
  } else if (op == "d") {
    e.op = RowOp::kDelete;
    e.row = t.Find(env, "before");
  } else if (op == "t") {
    e.op = RowOp::kTruncate;
  }
}

bool IsDebezium(const JsonTree& t, NodeId obj) {
  return t.Find(obj, "op") != kNone && t.Find(obj, "source") != kNone &&
         (t.Find(obj, "after") != kNone || t.Find(obj, "before") != kNone);
}

// A pgcdc payload ({"op","row","old","table",…}) or a Debezium envelope as
// the payload; `operation` is the event's when the payload has no op.
Status ReadPayload(const JsonTree& t, NodeId payload, std::string_view operation, SinkEvent& e) {
  if (!t.IsObject(payload)) {
    return Fail(ErrorCode::kParse, "the payload is not a JSON object");
  }
  if (IsDebezium(t, payload)) {
    ReadDebezium(t, payload, e);
    return Ok();
  }
  const NodeId row = t.Find(payload, "row");
  const std::string_view op = t.FindString(payload, "op");
  if (row == kNone && op != "TRUNCATE") {
    // Transaction markers, messages, schema events and NOTIFY payloads carry
    // no row; they are not about a row at all.
    e.op = RowOp::kOther;
    e.operation = op.empty() ? operation : op;
    return Ok();
  }
  e.operation = op.empty() ? operation : op;
  e.op = OpFromOperation(e.operation);
  e.row = row;
  if (const NodeId old = t.Find(payload, "old"); t.IsObject(old)) e.old = old;
  e.schema = t.FindString(payload, "schema");
  e.table = t.FindString(payload, "table");
  e.unchanged_toast = t.Find(payload, "_unchanged_toast_columns");
  return Ok();
}

}  // namespace

std::string Location::Format() const {
  std::string out(name);
  if (!id.empty()) return out.append(" id=").append(id);
  if (partition >= 0) {
    return out.append("[")
        .append(std::to_string(partition))
        .append("]@")
        .append(std::to_string(position));
  }
  return out.append(":").append(std::to_string(position));
}

Result<SinkEvent> ReadSinkEvent(const JsonTree& t, const Hints& hints) {
  const NodeId root = t.root();
  if (!t.IsObject(root)) {
    return Fail(ErrorCode::kParse, "not a JSON object (expected a pgcdc event or payload)");
  }
  SinkEvent e;
  e.channel = hints.channel;
  e.id = hints.id;
  std::string_view operation = hints.operation;
  NodeId payload = root;
  if (t.Find(root, "specversion") != kNone && t.Find(root, "data") != kNone) {
    // CloudEvents: the subject is the channel, the type ends in the operation.
    if (e.channel.empty()) e.channel = t.FindString(root, "subject");
    if (e.id.empty()) e.id = t.FindString(root, "id");
    const std::string_view type = t.FindString(root, "type");
    if (operation.empty() && type.starts_with(kCloudEventTypePrefix)) {
      operation = type.substr(kCloudEventTypePrefix.size());
    }
    payload = t.Find(root, "data");
  } else if (t.Find(root, "payload") != kNone && t.Find(root, "operation") != kNone) {
    if (e.channel.empty()) e.channel = t.FindString(root, "channel");
    if (e.id.empty()) e.id = t.FindString(root, "id");
    if (operation.empty()) operation = t.FindString(root, "operation");
    payload = t.Find(root, "payload");
  } else if (!IsDebezium(t, root) && t.Find(root, "op") == kNone) {
    return Fail(ErrorCode::kParse,
                "unrecognised record: expected a pgcdc event (id, channel, operation, payload), "
                "a payload (op, table, row), a Debezium or a CloudEvents envelope");
  }
  if (auto st = ReadPayload(t, payload, operation, e); !st) return Fail(st.error());
  return e;
}

TableMatch TableMatch::For(std::string_view schema, std::string_view name) {
  TableMatch m;
  m.schema = std::string(schema);
  m.name = std::string(name);
  const std::string qualified = std::string(schema.empty() ? "public" : schema) + "." + m.name;
  if (schema.empty() || schema == "public") m.channels.push_back("pgcdc:" + m.name);
  m.channels.push_back("pgcdc:" + qualified);
  return m;
}

bool TableMatch::Matches(const SinkEvent& e) const {
  if (!e.channel.empty() && !channels.empty()) {
    return std::find(channels.begin(), channels.end(), e.channel) != channels.end();
  }
  if (e.table.empty()) return channels.empty();
  if (e.table != name) return false;
  const std::string_view want = schema.empty() ? std::string_view("public") : schema;
  return e.schema.empty() || e.schema == want;
}

}  // namespace pgcdc::verify
