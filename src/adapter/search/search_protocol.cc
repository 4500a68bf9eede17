#include "adapter/search/search_protocol.h"

#include <boost/json.hpp>

#include "core/escape.h"
#include "core/json.h"
#include "core/json_dom.h"
#include "transform/payload.h"

namespace pgcdc::adapter::search {

std::string_view EngineName(Engine engine) {
  return engine == Engine::kTypesense ? "typesense" : "meilisearch";
}

std::vector<std::string> ToastColumns(std::string_view raw_array) {
  return transform::JsonStringList(raw_array);
}

namespace {

Document Skip(std::string reason) {
  Document d;
  d.skip_reason = std::move(reason);
  return d;
}

}  // namespace

Document PlanDocument(Engine engine, std::string_view id_column, const Event& event) {
  if (event.operation == "TRUNCATE") return Skip("truncate");
  if (!transform::IsRowOperation(event.operation)) return Skip("not_row");
  transform::Arena arena;
  auto root = transform::JsonObject::Parse(event.payload, arena);
  if (!root) return Skip("not_row");
  auto row = (*root)->Child("row", arena);
  if (!row || *row == nullptr) return Skip("not_row");
  const auto* id = (*row)->Find(id_column);
  if (id == nullptr || id->raw == "null") return Skip("no_id");
  Document doc;
  doc.id = transform::StringifyJson(id->raw);
  if (event.operation == "DELETE") {
    doc.kind = Document::Kind::kDelete;
    return doc;
  }
  doc.kind = Document::Kind::kUpsert;
  if (const auto* toast = (*root)->Find("_unchanged_toast_columns"); toast != nullptr) {
    for (const std::string& column : ToastColumns(toast->raw)) {
      if (column != id_column && (*row)->Erase(column)) doc.kind = Document::Kind::kPartial;
    }
  }
  std::string quoted;
  if (engine == Engine::kTypesense && (id_column != "id" || !id->raw.starts_with('"'))) {
    json::AppendString(quoted, doc.id);
    (*row)->Set("id", quoted);
  }
  (*row)->AppendTo(doc.body);
  return doc;
}

std::string EscapePathSegment(std::string_view segment) { return PercentEncode(segment); }

std::string RequestHead(Engine engine, const Request& request, std::string_view base_path,
                        std::string_view host_header, std::string_view api_key) {
  std::string head;
  head.reserve(160 + base_path.size() + request.target.size() + api_key.size());
  head.append(request.method).append(" ").append(base_path).append(request.target);
  head.append(" HTTP/1.1\r\nHost: ");
  head.append(host_header).append("\r\nUser-Agent: pgcdc\r\n");
  if (!request.body.empty() || request.method != "GET") {
    head.append("Content-Type: application/json\r\nContent-Length: ")
        .append(std::to_string(request.body.size()))
        .append("\r\n");
  }
  if (!api_key.empty()) {
    head.append(engine == Engine::kTypesense ? "X-TYPESENSE-API-KEY: " : "Authorization: Bearer ");
    head.append(api_key).append("\r\n");
  }
  head.append("\r\n");
  return head;
}

namespace {

std::string DocumentsPath(Engine engine, std::string_view index) {
  return (engine == Engine::kTypesense ? "/collections/" : "/indexes/") + EscapePathSegment(index) +
         "/documents";
}

}  // namespace

Request UpsertRequest(Engine engine, std::string_view index,
                      std::span<const std::string* const> documents) {
  Request r;
  r.method = "POST";
  r.target = DocumentsPath(engine, index);
  size_t size = 2;
  for (const std::string* d : documents) size += d->size() + 1;
  r.body.reserve(size);
  if (engine == Engine::kTypesense) {
    r.target += "/import?action=upsert";
    for (size_t i = 0; i < documents.size(); ++i) {
      if (i > 0) r.body.push_back('\n');
      r.body.append(*documents[i]);
    }
    return r;
  }
  r.body.push_back('[');
  for (size_t i = 0; i < documents.size(); ++i) {
    if (i > 0) r.body.push_back(',');
    r.body.append(*documents[i]);
  }
  r.body.push_back(']');
  return r;
}

Request PartialRequest(Engine engine, std::string_view index, std::string_view id,
                       std::string_view document) {
  Request r;
  if (engine == Engine::kTypesense) {
    r.method = "PATCH";
    r.target = DocumentsPath(engine, index) + "/" + EscapePathSegment(id);
    r.body = std::string(document);
    return r;
  }
  // PUT = "add or update": fields absent from the document keep their value
  // (upstream POSTed, which replaces the document and drops them).
  r.method = "PUT";
  r.target = DocumentsPath(engine, index);
  r.body.append("[").append(document).append("]");
  return r;
}

Request DeleteRequest(Engine engine, std::string_view index, std::string_view id) {
  return Request{.method = "DELETE",
                 .target = DocumentsPath(engine, index) + "/" + EscapePathSegment(id),
                 .body = {}};
}

Request TaskRequest(uint64_t task_uid) {
  return Request{.method = "GET", .target = "/tasks/" + std::to_string(task_uid), .body = {}};
}

Request HealthRequest() { return Request{.method = "GET", .target = "/health", .body = {}}; }

Request IndexRequest(Engine engine, std::string_view index) {
  return Request{.method = "GET",
                 .target = (engine == Engine::kTypesense ? "/collections/" : "/indexes/") +
                           EscapePathSegment(index),
                 .body = {}};
}

std::vector<std::string> ParseImportResults(std::string_view body, size_t documents) {
  std::vector<std::string> out(documents, "no result line for this document");
  size_t pos = 0;
  for (size_t i = 0; i < documents && pos < body.size(); ++i) {
    size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line == R"({"success":true})") {
      out[i].clear();
      continue;
    }
    auto dom = json::ParseDom(line);
    if (!dom || !dom->is_object()) {
      out[i] = "unreadable import result: " + std::string(line.substr(0, 200));
      continue;
    }
    const auto& o = dom->as_object();
    const auto* ok = o.if_contains("success");
    if (ok != nullptr && ok->is_bool() && ok->as_bool()) {
      out[i].clear();
      continue;
    }
    const auto* err = o.if_contains("error");
    out[i] = err != nullptr && err->is_string() ? std::string(err->as_string())
                                                : std::string(line.substr(0, 200));
  }
  return out;
}

Result<uint64_t> ParseTaskUid(std::string_view body) {
  auto dom = json::ParseDom(body);
  if (dom && dom->is_object()) {
    for (const char* key : {"taskUid", "uid"}) {
      const auto* v = dom->as_object().if_contains(key);
      if (v != nullptr && v->is_int64() && v->as_int64() >= 0) {
        return static_cast<uint64_t>(v->as_int64());
      }
      if (v != nullptr && v->is_uint64()) return v->as_uint64();
    }
  }
  return Fail(ErrorCode::kProtocol,
              "meilisearch: no taskUid in the answer: " + std::string(body.substr(0, 200)));
}

Result<TaskState> ParseTaskState(std::string_view body) {
  auto dom = json::ParseDom(body);
  if (!dom || !dom->is_object()) {
    return Fail(ErrorCode::kProtocol,
                "meilisearch: unreadable task: " + std::string(body.substr(0, 200)));
  }
  const auto& o = dom->as_object();
  const auto* status = o.if_contains("status");
  if (status == nullptr || !status->is_string()) {
    return Fail(ErrorCode::kProtocol, "meilisearch: task without a status");
  }
  TaskState state;
  const std::string_view s = status->as_string();
  if (s == "succeeded") {
    state.status = TaskState::Status::kSucceeded;
  } else if (s == "failed" || s == "canceled") {
    state.status = TaskState::Status::kFailed;
    state.error = "task " + std::string(s);
    if (const auto* err = o.if_contains("error"); err != nullptr && err->is_object()) {
      const auto& e = err->as_object();
      if (const auto* m = e.if_contains("message"); m != nullptr && m->is_string()) {
        state.error.append(": ").append(m->as_string());
      }
      if (const auto* c = e.if_contains("code"); c != nullptr && c->is_string()) {
        state.error.append(" (").append(c->as_string()).append(")");
      }
    }
  }
  return state;
}

std::string ErrorMessage(std::string_view body) {
  std::string out;
  auto dom = json::ParseDom(body);
  const boost::json::value* m = nullptr;
  if (dom && dom->is_object()) m = dom->as_object().if_contains("message");
  if (m != nullptr && m->is_string()) {
    out = std::string(m->as_string().subview().substr(0, 500));
  } else {
    out = std::string(body.substr(0, 200));
  }
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';  // it ends up in one log line
  }
  return out;
}

}  // namespace pgcdc::adapter::search
