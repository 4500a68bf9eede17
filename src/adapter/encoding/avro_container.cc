#include "adapter/encoding/avro_container.h"

#include <boost/json.hpp>
#include <cstring>
#include <unordered_map>

#include "adapter/encoding/avro.h"
#include "core/json_dom.h"

namespace pgcdc::encoding::avro {

namespace json = boost::json;

namespace {

constexpr std::string_view kMagic("Obj\x01", 4);
constexpr size_t kSyncSize = 16;
// Nesting deeper than this is refused (a hostile schema cannot blow the stack).
constexpr int kMaxDepth = 64;

Error Bad(const std::string& what) { return Error(ErrorCode::kParse, "avro container: " + what); }

// A cursor over the input with checked reads.
struct Reader {
  std::string_view in;
  size_t pos = 0;

  size_t left() const { return in.size() - pos; }

  Result<int64_t> Long() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= in.size()) return Fail(Bad("truncated varint"));
      const auto b = static_cast<uint8_t>(in[pos++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
    }
    return Fail(Bad("varint too long"));
  }

  Result<std::string_view> Bytes(size_t n) {
    if (n > left()) return Fail(Bad("truncated data"));
    std::string_view s = in.substr(pos, n);
    pos += n;
    return s;
  }

  Result<std::string_view> String() {
    auto n = Long();
    if (!n) return Fail(n.error());
    if (*n < 0) return Fail(Bad("negative length"));
    return Bytes(static_cast<size_t>(*n));
  }
};

// Named types seen so far (full name → schema), for references by name.
using Names = std::unordered_map<std::string, const json::value*>;

void Collect(const json::value& schema, const std::string& ns, Names& names, int depth) {
  if (depth > kMaxDepth) return;
  if (schema.is_array()) {
    for (const auto& b : schema.as_array()) Collect(b, ns, names, depth + 1);
    return;
  }
  if (!schema.is_object()) return;
  const auto& o = schema.as_object();
  std::string here = ns;
  if (const auto* n = o.if_contains("namespace"); n != nullptr && n->is_string()) {
    here = std::string(n->as_string());
  }
  if (const auto* n = o.if_contains("name"); n != nullptr && n->is_string()) {
    std::string name(n->as_string());
    if (name.find('.') == std::string::npos && !here.empty()) name = here + "." + name;
    names[name] = &schema;
    names[std::string(n->as_string())] = &schema;  // short names too (lenient)
  }
  if (const auto* f = o.if_contains("fields"); f != nullptr && f->is_array()) {
    for (const auto& field : f->as_array()) {
      if (field.is_object()) {
        if (const auto* t = field.as_object().if_contains("type"))
          Collect(*t, here, names, depth + 1);
      }
    }
  }
  if (const auto* t = o.if_contains("items")) Collect(*t, here, names, depth + 1);
  if (const auto* t = o.if_contains("values")) Collect(*t, here, names, depth + 1);
  if (const auto* t = o.if_contains("type"); t != nullptr && !t->is_string()) {
    Collect(*t, here, names, depth + 1);
  }
}

Result<json::value> Decode(const json::value& schema, const Names& names, Reader& r, int depth);

Result<json::value> DecodeBlocks(const json::value& item, const Names& names, Reader& r, int depth,
                                 bool map) {
  json::value out = map ? json::value(json::object()) : json::value(json::array());
  for (;;) {
    auto count = r.Long();
    if (!count) return Fail(count.error());
    if (*count == 0) return out;
    int64_t n = *count;
    if (n < 0) {
      n = -n;
      if (auto size = r.Long(); !size) return Fail(size.error());
    }
    if (static_cast<uint64_t>(n) > r.left()) return Fail(Bad("block count larger than the data"));
    for (int64_t i = 0; i < n; ++i) {
      std::string key;
      if (map) {
        auto k = r.String();
        if (!k) return Fail(k.error());
        key.assign(*k);
      }
      auto v = Decode(item, names, r, depth + 1);
      if (!v) return v;
      if (map) {
        out.as_object()[key] = std::move(*v);
      } else {
        out.as_array().push_back(std::move(*v));
      }
    }
  }
}

Result<json::value> Decode(const json::value& schema, const Names& names, Reader& r, int depth) {
  if (depth > kMaxDepth) return Fail(Bad("schema nested too deeply"));
  if (schema.is_array()) {
    auto branch = r.Long();
    if (!branch) return Fail(branch.error());
    const auto& branches = schema.as_array();
    if (*branch < 0 || static_cast<size_t>(*branch) >= branches.size()) {
      return Fail(Bad("union branch out of range"));
    }
    return Decode(branches[static_cast<size_t>(*branch)], names, r, depth + 1);
  }
  std::string_view type;
  const json::object* o = nullptr;
  if (schema.is_string()) {
    type = schema.as_string();
  } else if (schema.is_object()) {
    o = &schema.as_object();
    const auto* t = o->if_contains("type");
    if (t == nullptr) return Fail(Bad("schema without a type"));
    if (!t->is_string()) return Decode(*t, names, r, depth + 1);
    type = t->as_string();
  } else {
    return Fail(Bad("bad schema"));
  }
  if (type == "null") return json::value(nullptr);
  if (type == "boolean") {
    auto b = r.Bytes(1);
    if (!b) return Fail(b.error());
    return json::value((*b)[0] != 0);
  }
  if (type == "int" || type == "long") {
    auto v = r.Long();
    if (!v) return Fail(v.error());
    return json::value(*v);
  }
  if (type == "float") {
    auto b = r.Bytes(4);
    if (!b) return Fail(b.error());
    float f = 0;
    std::memcpy(&f, b->data(), 4);
    return json::value(static_cast<double>(f));
  }
  if (type == "double") {
    auto b = r.Bytes(8);
    if (!b) return Fail(b.error());
    double d = 0;
    std::memcpy(&d, b->data(), 8);
    return json::value(d);
  }
  if (type == "string" || type == "bytes") {
    auto s = r.String();
    if (!s) return Fail(s.error());
    return json::value(json::string(*s));
  }
  if (o == nullptr) {
    auto it = names.find(std::string(type));
    if (it == names.end()) return Fail(Bad("unknown type " + std::string(type)));
    return Decode(*it->second, names, r, depth + 1);
  }
  if (type == "record" || type == "error") {
    json::object out;
    const auto* fields = o->if_contains("fields");
    if (fields == nullptr || !fields->is_array()) return Fail(Bad("record without fields"));
    for (const auto& f : fields->as_array()) {
      if (!f.is_object() || !f.as_object().contains("name") || !f.as_object().contains("type") ||
          !f.as_object().at("name").is_string()) {
        return Fail(Bad("bad record field"));
      }
      auto v = Decode(f.as_object().at("type"), names, r, depth + 1);
      if (!v) return v;
      out[f.as_object().at("name").as_string()] = std::move(*v);
    }
    return json::value(std::move(out));
  }
  if (type == "enum") {
    auto i = r.Long();
    if (!i) return Fail(i.error());
    const auto* symbols = o->if_contains("symbols");
    if (symbols == nullptr || !symbols->is_array() || *i < 0 ||
        static_cast<size_t>(*i) >= symbols->as_array().size()) {
      return Fail(Bad("enum index out of range"));
    }
    return symbols->as_array()[static_cast<size_t>(*i)];
  }
  if (type == "array" || type == "map") {
    const auto* item = o->if_contains(type == "array" ? "items" : "values");
    if (item == nullptr) return Fail(Bad(std::string(type) + " without its item type"));
    return DecodeBlocks(*item, names, r, depth, type == "map");
  }
  if (type == "fixed") {
    const auto* size = o->if_contains("size");
    if (size == nullptr || !size->is_int64() || size->as_int64() < 0) {
      return Fail(Bad("fixed without a size"));
    }
    auto b = r.Bytes(static_cast<size_t>(size->as_int64()));
    if (!b) return Fail(b.error());
    return json::value(json::string(*b));
  }
  return Decode(json::value(json::string(type)), names, r, depth + 1);
}

}  // namespace

void AppendInt(int64_t v, std::string& out) { AppendLong(v, out); }
void AppendBool(bool v, std::string& out) { out.push_back(v ? '\1' : '\0'); }
void AppendString(std::string_view s, std::string& out) { AppendBytes(s, out); }

std::string ContainerFile(std::string_view schema_json,
                          const std::vector<std::pair<std::string, std::string>>& metadata,
                          std::span<const std::string> records, std::string_view sync) {
  std::string out(kMagic);
  AppendLong(static_cast<int64_t>(metadata.size() + 2), out);
  AppendString("avro.schema", out);
  AppendString(schema_json, out);
  AppendString("avro.codec", out);
  AppendString("null", out);
  for (const auto& [k, v] : metadata) {
    AppendString(k, out);
    AppendString(v, out);
  }
  AppendLong(0, out);
  std::string marker(sync.substr(0, kSyncSize));
  marker.resize(kSyncSize, '\0');
  out += marker;
  if (!records.empty()) {
    size_t size = 0;
    for (const auto& r : records) size += r.size();
    AppendLong(static_cast<int64_t>(records.size()), out);
    AppendLong(static_cast<int64_t>(size), out);
    for (const auto& r : records) out += r;
    out += marker;
  }
  return out;
}

Result<Container> ReadContainer(std::string_view bytes) {
  Reader r{bytes};
  if (!bytes.starts_with(kMagic)) return Fail(Bad("not an Avro container file (bad magic)"));
  r.pos = kMagic.size();
  Container c;
  auto meta = DecodeBlocks(json::value("bytes"), {}, r, 0, true);
  if (!meta) return Fail(meta.error());
  for (const auto& [k, v] : meta->as_object())
    c.metadata[std::string(k)] = std::string(v.as_string());
  if (auto codec = c.metadata.find("avro.codec");
      codec != c.metadata.end() && codec->second != "null") {
    return Fail(Bad("codec " + codec->second + " is not supported (only null)"));
  }
  auto schema_text = c.metadata.find("avro.schema");
  if (schema_text == c.metadata.end()) return Fail(Bad("no avro.schema in the header"));
  auto schema = pgcdc::json::ParseDom(schema_text->second);
  if (!schema) return Fail(Bad("avro.schema: " + schema.error().message()));
  c.schema = std::move(*schema);
  Names names;
  Collect(c.schema, "", names, 0);
  auto sync = r.Bytes(kSyncSize);
  if (!sync) return Fail(sync.error());
  while (r.left() > 0) {
    auto count = r.Long();
    if (!count) return Fail(count.error());
    auto size = r.Long();
    if (!size) return Fail(size.error());
    if (*count < 0 || *size < 0 || static_cast<uint64_t>(*size) > r.left()) {
      return Fail(Bad("bad block header"));
    }
    Reader block{r.in.substr(r.pos, static_cast<size_t>(*size))};
    r.pos += static_cast<size_t>(*size);
    for (int64_t i = 0; i < *count; ++i) {
      auto v = Decode(c.schema, names, block, 0);
      if (!v) return Fail(v.error());
      c.records.push_back(std::move(*v));
    }
    auto marker = r.Bytes(kSyncSize);
    if (!marker) return Fail(marker.error());
    if (*marker != *sync) return Fail(Bad("sync marker mismatch"));
  }
  return c;
}

}  // namespace pgcdc::encoding::avro
