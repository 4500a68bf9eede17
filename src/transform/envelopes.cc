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
    w.Key("op");
    w.String(DebeziumOp(e.operation));
    w.Key("source");
    w.BeginObject();
    w.Key("connector");
    w.String("pgcdc");
    w.Key("db");
    w.String(o_.database);
    w.Key("lsn");
    w.Uint(e.lsn);
    w.Key("name");
    w.String(o_.connector_name);
    w.Key("schema");
    w.String(StringMember(root, "schema", "public"));
    w.Key("snapshot");
    w.Bool(e.operation == "SNAPSHOT");
    w.Key("table");
    w.String(StringMember(root, "table", StringMember(root, "collection", "")));
    w.Key("ts_ms");
    w.Int((e.transaction ? e.transaction->commit_time_ns : e.created_at_ns) / kNanosPerMilli);
    w.Key("txId");
    w.Uint(e.transaction ? e.transaction->xid : 0);
    w.Key("version");
    w.String("pgcdc");
    w.EndObject();
    if (e.transaction) {
      w.Key("transaction");
      w.BeginObject();
      w.Key("data_collection_order");
      w.Int(e.transaction->seq);
      w.Key("id");
      w.String(std::to_string(e.transaction->xid) + ":" + std::to_string(e.lsn));
      w.Key("total_order");
      w.Int(e.transaction->seq);
      w.EndObject();
    }
    w.Key("ts_ms");
    w.Int(e.created_at_ns / kNanosPerMilli);
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
    w.Key("datacontenttype");
    w.String("application/json");
    w.Key("id");
    w.String(e.id.ToString());
    if (e.lsn > 0) {
      w.Key("pgcdclsn");
      w.Uint(e.lsn);
    }
    if (e.transaction && e.transaction->xid > 0) {
      w.Key("pgcdctxid");
      w.Uint(e.transaction->xid);
    }
    w.Key("source");
    w.String(o_.source);
    w.Key("specversion");
    w.String("1.0");
    w.Key("subject");
    w.String(e.channel);
    w.Key("time");
    const bool commit = e.transaction && e.transaction->commit_time_ns != 0;
    w.String(FormatRfc3339Nano(commit ? e.transaction->commit_time_ns : e.created_at_ns));
    w.Key("type");
    w.String(o_.type_prefix + "." + e.operation);
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
