// Envelope transforms: debezium (SPEC §6.2) and cloudevents (SPEC §6.3).
#include <cctype>

#include "core/json.h"
#include "core/time.h"
#include "transform/builtins.h"
#include "transform/payload.h"

namespace pgcdc::transform {

namespace {

constexpr int64_t kNanosPerMilli = 1'000'000;

std::string DebeziumOp(std::string_view operation) {
  if (operation == "INSERT") return "c";
  if (operation == "UPDATE") return "u";
  if (operation == "DELETE") return "d";
  if (operation == "SNAPSHOT") return "r";
  if (operation.empty()) return "";
  return std::string(1, static_cast<char>(std::tolower(static_cast<unsigned char>(operation[0]))));
}

// The text of a top-level string member, or `fallback`.
std::string StringMember(const JsonObject* root, std::string_view key, std::string_view fallback) {
  if (root == nullptr) return std::string(fallback);
  const JsonObject::Member* m = root->Find(key);
  if (m == nullptr || m->child || m->raw.empty() || m->raw.front() != '"') {
    return std::string(fallback);
  }
  return StringifyJson(m->raw);
}

class Debezium final : public Transform {
 public:
  explicit Debezium(DebeziumOptions options) : o_(std::move(options)) {}
  std::string_view Type() const override { return "debezium"; }

  Result<Verdict> ApplyTo(PayloadContext& ctx) override {
    auto structured = ctx.Structured();
    if (!structured) return Fail(structured.error());
    const Event& e = ctx.event();
    JsonObject* root = *ctx.Root();

    std::string row_scratch, old_scratch;
    std::string_view before = "null", after = "null";
    if (*structured) {
      const JsonObject::Member* row = root->Find("row");
      const JsonObject::Member* old = root->Find("old");
      std::string_view row_text = JsonObject::ValueText(*row, row_scratch);
      std::string_view old_text = old ? JsonObject::ValueText(*old, old_scratch) : "null";
      if (e.operation == "INSERT" || e.operation == "SNAPSHOT") {
        after = row_text;
      } else if (e.operation == "UPDATE") {
        before = old_text;
        after = row_text;
      } else if (e.operation == "DELETE") {
        before = row_text;
      } else {
        after = ctx.PayloadText();
      }
    } else if (e.operation == "DELETE") {
      before = ctx.PayloadText();
    } else {
      after = ctx.PayloadText();
    }

    std::string out;
    out.reserve(before.size() + after.size() + 320);
    json::Writer w(out);
    w.BeginObject();
    w.Key("after");
    w.Raw(after);
    w.Key("before");
    w.Raw(before);
    w.StringField("op", DebeziumOp(e.operation));
    w.Key("source");
    w.BeginObject();
    w.StringField("connector", "pgcdc");
    w.StringField("db", o_.database);
    w.UintField("lsn", e.lsn);
    w.StringField("name", o_.connector_name);
    w.StringField("schema", StringMember(root, "schema", "public"));
    w.BoolField("snapshot", e.operation == "SNAPSHOT");
    w.StringField("table", StringMember(root, "table", StringMember(root, "collection", "")));
    w.IntField("ts_ms",
               (e.transaction ? e.transaction->commit_time_ns : e.created_at_ns) / kNanosPerMilli);
    w.UintField("txId", e.transaction ? e.transaction->xid : 0);
    w.StringField("version", "pgcdc");
    w.EndObject();
    if (e.transaction) {
      w.Key("transaction");
      w.BeginObject();
      w.IntField("data_collection_order", e.transaction->seq);
      w.StringField("id", std::to_string(e.transaction->xid) + ":" + std::to_string(e.lsn));
      w.IntField("total_order", e.transaction->seq);
      w.EndObject();
    }
    w.IntField("ts_ms", e.created_at_ns / kNanosPerMilli);
    w.EndObject();
    ctx.ReplacePayload(std::move(out));
    return Verdict::kKeep;
  }

 private:
  DebeziumOptions o_;
};

class CloudEvents final : public Transform {
 public:
  explicit CloudEvents(CloudEventsOptions options) : o_(std::move(options)) {}
  std::string_view Type() const override { return "cloudevents"; }

  Result<Verdict> ApplyTo(PayloadContext& ctx) override {
    const Event& e = ctx.event();
    const std::string_view data = ctx.PayloadText();
    std::string out;
    out.reserve(data.size() + 256);
    json::Writer w(out);
    w.BeginObject();
    w.Key("data");
    w.Raw(data.empty() ? std::string_view("null") : data);
    w.StringField("datacontenttype", "application/json");
    w.StringField("id", e.id.ToString());
    if (e.lsn > 0) {
      w.UintField("pgcdclsn", e.lsn);
    }
    if (e.transaction && e.transaction->xid > 0) {
      w.UintField("pgcdctxid", e.transaction->xid);
    }
    w.StringField("source", o_.source);
    w.StringField("specversion", "1.0");
    w.StringField("subject", e.channel);
    w.Key("time");
    const bool commit = e.transaction && e.transaction->commit_time_ns != 0;
    w.String(FormatRfc3339Nano(commit ? e.transaction->commit_time_ns : e.created_at_ns));
    w.StringField("type", o_.type_prefix + "." + e.operation);
    w.EndObject();
    ctx.ReplacePayload(std::move(out));
    return Verdict::kKeep;
  }

 private:
  CloudEventsOptions o_;
};

}  // namespace

TransformPtr MakeDebezium(DebeziumOptions options) {
  return std::make_shared<Debezium>(std::move(options));
}

TransformPtr MakeCloudEvents(CloudEventsOptions options) {
  return std::make_shared<CloudEvents>(std::move(options));
}

}  // namespace pgcdc::transform
