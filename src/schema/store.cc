#include "schema/store.h"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/json/value.hpp>

#include "core/json.h"
#include "core/json_dom.h"
#include "core/metrics.h"
#include "core/time.h"

namespace pgcdc::schema {

namespace {

struct StoreMetrics {
  metrics::Counter& registrations = metrics::DefaultCounter(
      "pgcdc_schema_store_registrations_total",
      "New schema versions registered in the schema store (--schema-store).");
  metrics::Counter& unchanged = metrics::DefaultCounter(
      "pgcdc_schema_store_unchanged_total",
      "Schema store registrations whose columns matched the latest version (no new version).");
  metrics::Counter& errors = metrics::DefaultCounter("pgcdc_schema_store_errors_total",
                                                     "Schema store registrations that failed.");
};

StoreMetrics& M() { return metrics::Lazy<StoreMetrics>(); }

}  // namespace

std::string CanonicalJson(const std::vector<Column>& columns) {
  std::string out;
  json::Writer w(out);
  w.BeginArray();
  for (const auto& c : columns) {
    w.BeginObject();
    w.StringField("name", c.name);
    w.UintField("type_oid", c.type_oid);
    w.StringField("type_name", c.type_name);
    if (c.nullable) w.BoolField("nullable", *c.nullable);
    w.EndObject();
  }
  w.EndArray();
  return out;
}

std::string Hash(const std::vector<Column>& columns) {
  const std::string text = CanonicalJson(columns);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  std::string out;
  if (EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
    return out;  // OpenSSL without SHA-256: callers treat "" as an error
  }
  json::AppendHex(out, std::string_view(reinterpret_cast<const char*>(digest), len));
  return out;
}

Result<std::vector<Column>> ParseColumns(std::string_view text) {
  auto dom = json::ParseDom(text);
  if (!dom) return Fail(dom.error().Wrap("schema columns"));
  if (!dom->is_array()) return Fail(ErrorCode::kParse, "schema columns: not a JSON array");
  std::vector<Column> out;
  for (const auto& item : dom->as_array()) {
    const auto* obj = item.if_object();
    const auto* name = obj != nullptr ? obj->if_contains("name") : nullptr;
    const auto* oid = obj != nullptr ? obj->if_contains("type_oid") : nullptr;
    const auto* type_name = obj != nullptr ? obj->if_contains("type_name") : nullptr;
    if (name == nullptr || !name->is_string() || oid == nullptr || !oid->is_number() ||
        type_name == nullptr || !type_name->is_string()) {
      return Fail(ErrorCode::kParse,
                  "schema columns: each entry needs name, type_oid and type_name");
    }
    boost::system::error_code ec;
    Column c;
    c.name = std::string(name->as_string());
    c.type_oid = oid->to_number<uint32_t>(ec);
    if (ec) return Fail(ErrorCode::kParse, "schema columns: type_oid is not an OID");
    c.type_name = std::string(type_name->as_string());
    if (const auto* n = obj->if_contains("nullable"); n != nullptr && n->is_bool()) {
      c.nullable = n->as_bool();
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string VersionJson(const Version& v) {
  std::string out;
  json::Writer w(out);
  w.BeginObject();
  w.StringField("subject", v.subject);
  w.IntField("version", v.version);
  w.StringField("hash", v.hash);
  w.StringField("created_at", FormatRfc3339Nano(v.created_at_ns));
  w.Key("columns");
  w.Raw(CanonicalJson(v.columns));
  w.EndObject();
  return out;
}

Result<RegisterResult> Store::Register(const std::string& subject,
                                       const std::vector<Column>& columns) {
  std::string hash = Hash(columns);
  if (hash.empty()) {
    M().errors.Inc();
    return Fail(ErrorCode::kUnknown, "schema store: SHA-256 is not available");
  }
  MutexLock lock(mu_);
  if (auto it = latest_.find(subject); it != latest_.end() && it->second.first == hash) {
    M().unchanged.Inc();
    return RegisterResult{.version = it->second.second, .created = false};
  }
  auto r = Insert(subject, columns, hash);
  if (!r) {
    M().errors.Inc();
    return Fail(r.error().Wrap("schema store: register " + subject));
  }
  (r->created ? M().registrations : M().unchanged).Inc();
  latest_[subject] = {std::move(hash), r->version};
  return r;
}

// ---- MemoryStore -------------------------------------------------------------

Result<RegisterResult> MemoryStore::Insert(const std::string& subject,
                                           const std::vector<Column>& columns,
                                           const std::string& hash) {
  MutexLock lock(mu_);
  auto& list = versions_[subject];
  if (!list.empty() && list.back().hash == hash) {
    return RegisterResult{.version = list.back().version, .created = false};
  }
  Version v;
  v.subject = subject;
  v.version = list.empty() ? 1 : list.back().version + 1;
  v.columns = columns;
  v.hash = hash;
  v.created_at_ns = NowUnixNanos();
  list.push_back(std::move(v));
  return RegisterResult{.version = list.back().version, .created = true};
}

Result<std::optional<Version>> MemoryStore::Latest(const std::string& subject) {
  MutexLock lock(mu_);
  auto it = versions_.find(subject);
  if (it == versions_.end() || it->second.empty()) return std::optional<Version>();
  return std::optional<Version>(it->second.back());
}

Result<std::optional<Version>> MemoryStore::Get(const std::string& subject, int version) {
  MutexLock lock(mu_);
  auto it = versions_.find(subject);
  if (it == versions_.end() || version < 1 || static_cast<size_t>(version) > it->second.size()) {
    return std::optional<Version>();
  }
  return std::optional<Version>(it->second[static_cast<size_t>(version) - 1]);
}

Result<std::vector<SubjectSummary>> MemoryStore::Subjects() {
  MutexLock lock(mu_);
  std::vector<SubjectSummary> out;
  for (const auto& [subject, list] : versions_) {
    if (!list.empty()) out.push_back({subject, list.back().version});
  }
  std::ranges::sort(out, {}, &SubjectSummary::subject);
  return out;
}

Result<std::shared_ptr<Store>> Open(const Options& options) {
  (void)M();  // the families show on /metrics (at 0) once a store is on
  if (options.type == "memory") return std::shared_ptr<Store>(std::make_shared<MemoryStore>());
  if (options.type == "pg") {
    if (options.db_url.empty()) {
      return Fail(ErrorCode::kConfig,
                  "schema.store pg needs a database: set --schema-db (schema.db_url) or --db");
    }
    return OpenPg(options.db_url);
  }
  return Fail(ErrorCode::kConfig,
              "schema.store: unknown store type \"" + options.type + "\" (memory or pg)");
}

}  // namespace pgcdc::schema
