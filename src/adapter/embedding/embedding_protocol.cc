#include "adapter/embedding/embedding_protocol.h"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "core/json.h"
#include "core/json_dom.h"
#include "transform/payload.h"

namespace pgcdc::adapter::embedding {

namespace {

Item Skip(std::string reason) {
  Item it;
  it.reason = std::move(reason);
  return it;
}

Item Reject(std::string reason) {
  Item it;
  it.kind = Item::Kind::kReject;
  it.reason = std::move(reason);
  return it;
}

// The text of the configured columns present in `row` (nulls left out), or
// a rejection.
struct Text {
  std::string content;
  size_t present = 0;              // configured columns that are keys of the row
  std::vector<std::string> toast;  // configured columns left out as unchanged TOAST
};

Text Gather(const PlanOptions& o, const transform::JsonObject& row,
            const std::vector<std::string>& toast) {
  Text t;
  for (const std::string& column : o.columns) {
    if (std::find(toast.begin(), toast.end(), column) != toast.end()) {
      t.toast.push_back(column);
      continue;
    }
    const auto* m = row.Find(column);
    if (m == nullptr) continue;
    ++t.present;
    if (m->raw == "null") continue;
    std::string value = transform::StringifyJson(m->raw);
    if (value.empty()) continue;
    if (!t.content.empty()) t.content.push_back(' ');
    t.content += value;
  }
  return t;
}

// True when every configured column has the same text in `old` as in `row`.
bool SameAsOld(const PlanOptions& o, const transform::JsonObject& row,
               const transform::JsonObject& old) {
  for (const std::string& column : o.columns) {
    const auto* now = row.Find(column);
    const auto* before = old.Find(column);
    if (now == nullptr || before == nullptr) return false;
    if (transform::StringifyJson(now->raw) != transform::StringifyJson(before->raw)) return false;
  }
  return true;
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

Item PlanItem(const PlanOptions& o, const Event& event) {
  if (event.operation == "TRUNCATE") return Skip("truncate");
  if (!transform::IsRowOperation(event.operation)) return Skip("not_row");
  transform::Arena arena;
  auto root = transform::JsonObject::Parse(event.payload, arena);
  if (!root) return Skip("not_row");
  auto row = (*root)->Child("row", arena);
  if (!row || *row == nullptr) return Skip("not_row");
  const auto* id = (*row)->Find(o.id_column);
  if (id == nullptr || id->raw == "null") return Skip("no_id");
  Item it;
  it.source_id = transform::StringifyJson(id->raw);
  if (const auto* table = (*root)->Find("table"); table != nullptr && table->raw != "null") {
    it.source_table = transform::StringifyJson(table->raw);
  }
  if (event.operation == "DELETE") {
    it.kind = Item::Kind::kDelete;
    return it;
  }
  std::vector<std::string> toast;
  if (const auto* t = (*root)->Find("_unchanged_toast_columns"); t != nullptr) {
    toast = transform::JsonStringList(t->raw);
  }
  Text text = Gather(o, **row, toast);
  if (!text.toast.empty()) {
    if (text.toast.size() == o.columns.size()) return Skip("unchanged");
    return Reject("the text cannot be rebuilt: column(s) " + Joined(text.toast) +
                  " kept an unchanged TOAST value the event does not carry (set REPLICA "
                  "IDENTITY FULL on the table)");
  }
  if (text.present == 0) {
    return Reject("the row has none of the embedding columns (" + Joined(o.columns) + ")");
  }
  if (o.skip_unchanged && event.operation == "UPDATE") {
    auto old = (*root)->Child("old", arena);
    if (old && *old != nullptr && SameAsOld(o, **row, **old)) return Skip("unchanged");
  }
  if (text.content.empty()) return Skip("empty_content");
  if (text.content.find('\0') != std::string::npos ||
      it.source_id.find('\0') != std::string::npos) {
    return Reject("the text or the id contains a NUL byte (PostgreSQL text cannot hold it)");
  }
  it.kind = Item::Kind::kUpsert;
  it.hash = ContentHash(o.model, text.content);
  it.content = std::move(text.content);
  return it;
}

std::string ContentHash(std::string_view model, std::string_view content) {
  std::string data;
  data.reserve(model.size() + 1 + content.size());
  data.append(model).push_back('\0');
  data.append(content);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size_t{len} * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

std::string RequestBody(std::string_view model, const std::vector<const std::string*>& inputs) {
  std::string body = "{\"model\":";
  json::AppendString(body, model);
  body += ",\"input\":[";
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i > 0) body.push_back(',');
    json::AppendString(body, *inputs[i]);
  }
  body += "]}";
  return body;
}

std::string EmbeddingsPath(std::string_view url_path) {
  std::string path(url_path.substr(0, url_path.find('?')));
  while (path.ends_with('/')) path.pop_back();
  if (!path.ends_with("/embeddings")) path += "/embeddings";
  return path;
}

std::string RequestHead(std::string_view path, std::string_view host_header,
                        std::string_view api_key, size_t body_size) {
  std::string head = "POST ";
  head.append(path).append(" HTTP/1.1\r\nHost: ").append(host_header);
  head.append("\r\nUser-Agent: pgcdc\r\nContent-Type: application/json\r\nContent-Length: ");
  head.append(std::to_string(body_size)).append("\r\n");
  if (!api_key.empty()) head.append("Authorization: Bearer ").append(api_key).append("\r\n");
  head.append("\r\n");
  return head;
}

namespace {

Result<std::vector<float>> ParseVector(const boost::json::value& v, size_t i) {
  const auto* obj = v.if_object();
  const auto* emb = obj != nullptr ? obj->if_contains("embedding") : nullptr;
  if (emb == nullptr || !emb->is_array()) {
    return Fail(ErrorCode::kParse, "data[" + std::to_string(i) + "] has no embedding array");
  }
  std::vector<float> out;
  out.reserve(emb->as_array().size());
  for (const auto& x : emb->as_array()) {
    if (!x.is_number()) {
      return Fail(ErrorCode::kParse,
                  "data[" + std::to_string(i) + "].embedding holds a non-number");
    }
    const double d = x.to_number<double>();
    const auto f = static_cast<float>(d);
    if (!std::isfinite(f)) {
      return Fail(ErrorCode::kParse, "data[" + std::to_string(i) + "].embedding holds " +
                                         std::to_string(d) + " (not a finite float)");
    }
    out.push_back(f);
  }
  return out;
}

}  // namespace

Result<Embeddings> ParseResponse(std::string_view body, size_t inputs) {
  auto dom = json::ParseDom(body);
  if (!dom) return Fail(ErrorCode::kParse, "the answer is not JSON: " + dom.error().message());
  const auto* obj = dom->if_object();
  const auto* data = obj != nullptr ? obj->if_contains("data") : nullptr;
  if (data == nullptr || !data->is_array()) {
    return Fail(ErrorCode::kParse, "the answer has no \"data\" array");
  }
  const auto& arr = data->as_array();
  if (arr.size() != inputs) {
    return Fail(ErrorCode::kParse, "the answer has " + std::to_string(arr.size()) +
                                       " embeddings for " + std::to_string(inputs) + " inputs");
  }
  Embeddings out;
  out.vectors.resize(inputs);
  std::vector<bool> seen(inputs, false);
  for (size_t i = 0; i < arr.size(); ++i) {
    size_t at = i;
    if (const auto* o = arr[i].if_object(); o != nullptr && o->contains("index")) {
      const auto& idx = o->at("index");
      if (!idx.is_int64() || idx.as_int64() < 0 || static_cast<size_t>(idx.as_int64()) >= inputs) {
        return Fail(ErrorCode::kParse, "data[" + std::to_string(i) + "].index is out of range");
      }
      at = static_cast<size_t>(idx.as_int64());
    }
    if (seen[at]) return Fail(ErrorCode::kParse, "index " + std::to_string(at) + " twice");
    seen[at] = true;
    auto v = ParseVector(arr[i], i);
    if (!v) return Fail(v.error());
    out.vectors[at] = std::move(*v);
  }
  if (const auto* usage = obj->if_contains("usage"); usage != nullptr && usage->is_object()) {
    if (const auto* t = usage->as_object().if_contains("total_tokens");
        t != nullptr && t->is_int64() && t->as_int64() > 0) {
      out.tokens = static_cast<uint64_t>(t->as_int64());
    }
  }
  return out;
}

std::string ApiErrorMessage(std::string_view body) {
  if (auto dom = json::ParseDom(body); dom && dom->is_object()) {
    const auto& o = dom->as_object();
    const boost::json::value* m = nullptr;
    if (const auto* e = o.if_contains("error"); e != nullptr && e->is_object()) {
      m = e->as_object().if_contains("message");
    } else if (e != nullptr && e->is_string()) {
      m = e;
    }
    if (m == nullptr) m = o.if_contains("message");
    if (m != nullptr && m->is_string()) return std::string(m->as_string());
  }
  return std::string(body.substr(0, 200));
}

std::string VectorText(const std::vector<float>& v) {
  std::string out = "[";
  char buf[32];
  for (size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out.push_back(',');
    auto r = std::to_chars(buf, buf + sizeof buf, v[i]);
    out.append(buf, r.ptr);
  }
  out.push_back(']');
  return out;
}

std::string TextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
  return out;
}

std::string LookupSql(const std::string& quoted_table) {
  return "SELECT source_id, content_hash FROM " + quoted_table +
         " WHERE source_id = ANY($1::text[])";
}

std::string WriteSql(const std::string& quoted_table, size_t rows) {
  std::string del = "DELETE FROM " + quoted_table + " WHERE source_id = ANY($1::text[])";
  if (rows == 0) return del;
  std::string sql = "WITH gone AS (" + del + ") INSERT INTO " + quoted_table +
                    " (source_id, source_table, content, embedding, event_id, content_hash, "
                    "updated_at) VALUES ";
  size_t n = 2;
  for (size_t r = 0; r < rows; ++r) {
    if (r > 0) sql += ", ";
    sql += "($" + std::to_string(n) + ", $" + std::to_string(n + 1) + ", $" +
           std::to_string(n + 2) + ", $" + std::to_string(n + 3) + "::vector, $" +
           std::to_string(n + 4) + ", $" + std::to_string(n + 5) + ", now())";
    n += kParamsPerRow;
  }
  sql +=
      " ON CONFLICT (source_id) DO UPDATE SET source_table = EXCLUDED.source_table, content = "
      "EXCLUDED.content, embedding = EXCLUDED.embedding, event_id = EXCLUDED.event_id, "
      "content_hash = EXCLUDED.content_hash, updated_at = now()";
  return sql;
}

}  // namespace pgcdc::adapter::embedding
