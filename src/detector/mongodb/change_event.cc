#include "detector/mongodb/change_event.h"

#include <array>

#include "core/json.h"

namespace pgcdc::detector::mongodb {

namespace {

struct BsonString {
  char* text = nullptr;
  explicit BsonString(char* t) : text(t) {}
  ~BsonString() { bson_free(text); }
  BsonString(const BsonString&) = delete;
  BsonString& operator=(const BsonString&) = delete;
};

// The document or array `it` points at, as a static bson_t (false: neither).
bool SubDocument(const bson_iter_t& it, bson_t* out) {
  if (!BSON_ITER_HOLDS_DOCUMENT(&it) && !BSON_ITER_HOLDS_ARRAY(&it)) return false;
  uint32_t len = 0;
  const uint8_t* data = nullptr;
  if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
    bson_iter_document(&it, &len, &data);
  } else {
    bson_iter_array(&it, &len, &data);
  }
  return bson_init_static(out, data, len);
}

// The value `it` points at as relaxed Extended JSON.
std::string ValueJson(const bson_iter_t& it) {
  bson_t wrapper = BSON_INITIALIZER;
  (void)bson_append_value(&wrapper, "v", 1, bson_iter_value(const_cast<bson_iter_t*>(&it)));
  std::string doc = RelaxedJson(&wrapper);
  bson_destroy(&wrapper);
  constexpr std::string_view kPrefix = "{\"v\":";
  if (!doc.starts_with(kPrefix) || !doc.ends_with('}')) return "null";
  return doc.substr(kPrefix.size(), doc.size() - kPrefix.size() - 1);
}

// The member `key` of `doc` as relaxed Extended JSON; "null" when missing
// or null.
std::string MemberJson(const bson_t* doc, const char* key) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, doc, key) || BSON_ITER_HOLDS_NULL(&it)) return "null";
  return ValueJson(it);
}

std::string StringAt(const bson_t* doc, const char* dotted) {
  bson_iter_t it;
  bson_iter_t found;
  if (!bson_iter_init(&it, doc) || !bson_iter_find_descendant(&it, dotted, &found) ||
      !BSON_ITER_HOLDS_UTF8(&found)) {
    return {};
  }
  uint32_t len = 0;
  const char* s = bson_iter_utf8(&found, &len);
  return {s, len};
}

// An _id as the event key: strings unquoted, ObjectIds as hex, anything
// else its relaxed Extended JSON.
std::string IdText(const bson_iter_t& id) {
  if (BSON_ITER_HOLDS_UTF8(&id)) {
    uint32_t len = 0;
    const char* s = bson_iter_utf8(&id, &len);
    return {s, len};
  }
  if (BSON_ITER_HOLDS_OID(&id)) {
    std::array<char, 25> hex{};
    bson_oid_to_string(bson_iter_oid(&id), hex.data());
    return hex.data();
  }
  return ValueJson(id);
}

std::string KeyText(const bson_t* change) {
  bson_iter_t it;
  bson_iter_t id;
  if (!bson_iter_init(&it, change) || !bson_iter_find_descendant(&it, "documentKey._id", &id)) {
    return {};
  }
  return IdText(id);
}

int64_t CreatedAt(const bson_t* change) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, change, "wallTime") && BSON_ITER_HOLDS_DATE_TIME(&it)) {
    return bson_iter_date_time(&it) * 1'000'000;
  }
  if (bson_iter_init_find(&it, change, "clusterTime") && BSON_ITER_HOLDS_TIMESTAMP(&it)) {
    uint32_t seconds = 0;
    uint32_t increment = 0;
    bson_iter_timestamp(&it, &seconds, &increment);
    return static_cast<int64_t>(seconds) * 1'000'000'000;
  }
  return 0;
}

// {"removed_fields":[…],"updated_fields":{…}} from updateDescription.
std::string UpdateDescription(const bson_t* change) {
  bson_iter_t it;
  bson_t desc;
  if (!bson_iter_init_find(&it, change, "updateDescription") || !SubDocument(it, &desc)) {
    return R"({"removed_fields":[],"updated_fields":{}})";
  }
  std::string removed = MemberJson(&desc, "removedFields");
  std::string updated = MemberJson(&desc, "updatedFields");
  return "{\"removed_fields\":" + (removed == "null" ? std::string("[]") : removed) +
         ",\"updated_fields\":" + (updated == "null" ? std::string("{}") : updated) + "}";
}

std::string_view CrudOperation(std::string_view type) {
  if (type == "insert") return "INSERT";
  if (type == "update" || type == "replace") return "UPDATE";
  if (type == "delete") return "DELETE";
  return {};
}

void AppendMember(std::string& out, std::string_view name, std::string_view json) {
  if (out.size() > 1) out += ',';
  json::AppendString(out, name);
  out += ':';
  out += json;
}

}  // namespace

std::string RelaxedJson(const bson_t* doc) {
  size_t len = 0;
  const BsonString text(bson_as_relaxed_extended_json(doc, &len));
  if (text.text == nullptr) return "null";
  std::string out;
  if (!json::Compact(std::string_view(text.text, len), out)) return "null";
  return out;
}

uint64_t TokenDigest(const bson_t* token) {
  uint64_t h = 14695981039346656037ULL;  // FNV-1a
  const uint8_t* data = bson_get_data(token);
  for (uint32_t i = 0; i < token->len; ++i) {
    h ^= data[i];
    h *= 1099511628211ULL;
  }
  return h;
}

ChangeEvent SnapshotEvent(const bson_t* doc, std::string_view db, std::string_view coll) {
  ChangeEvent e;
  e.operation_type = "snapshot";
  e.operation = "SNAPSHOT";
  e.channel = "pgcdc:" + std::string(db) + "." + std::string(coll);
  std::string db_json;
  json::AppendString(db_json, db);
  std::string coll_json;
  json::AppendString(coll_json, coll);
  std::string id = MemberJson(doc, "_id");
  e.payload = "{";
  AppendMember(e.payload, "collection", coll_json);
  AppendMember(e.payload, "database", db_json);
  AppendMember(e.payload, "document_key", "{\"_id\":" + id + "}");
  AppendMember(e.payload, "old", "null");
  AppendMember(e.payload, "op", "\"SNAPSHOT\"");
  AppendMember(e.payload, "row", RelaxedJson(doc));
  e.payload += '}';
  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, "_id")) e.key = IdText(it);
  return e;
}

ChangeEvent MapChangeEvent(const bson_t* change) {
  ChangeEvent e;
  e.operation_type = StringAt(change, "operationType");
  if (e.operation_type.empty()) {
    e.error = "change stream document without operationType";
    return e;
  }
  const std::string db = StringAt(change, "ns.db");
  const std::string coll = StringAt(change, "ns.coll");
  std::string db_json;
  json::AppendString(db_json, db);
  std::string coll_json;
  json::AppendString(coll_json, coll);
  e.created_at_ns = CreatedAt(change);
  e.payload = "{";
  AppendMember(e.payload, "collection", coll_json);
  AppendMember(e.payload, "database", db_json);
  const std::string_view op = CrudOperation(e.operation_type);
  if (op.empty()) {
    std::string type_json;
    json::AppendString(type_json, e.operation_type);
    AppendMember(e.payload, "operation_type", type_json);
    e.payload += '}';
    e.channel = "pgcdc:_mongo";
    e.operation = e.operation_type;
    return e;
  }
  e.channel = "pgcdc:" + db + "." + coll;
  e.operation = std::string(op);
  e.key = KeyText(change);
  const std::string before = MemberJson(change, "fullDocumentBeforeChange");
  std::string row = MemberJson(change, "fullDocument");
  std::string old = "null";
  if (op == "DELETE") {
    if (row == "null") row = before;
  } else if (op == "UPDATE") {
    old = before;
  }
  AppendMember(e.payload, "document_key", MemberJson(change, "documentKey"));
  AppendMember(e.payload, "old", old);
  std::string op_json;
  json::AppendString(op_json, op);
  AppendMember(e.payload, "op", op_json);
  AppendMember(e.payload, "row", row);
  if (e.operation_type == "update") {
    AppendMember(e.payload, "update_description", UpdateDescription(change));
  }
  e.payload += '}';
  return e;
}

}  // namespace pgcdc::detector::mongodb
