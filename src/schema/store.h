// Schema store (SPEC §9.4): versioned column lists per subject
// ("<schema>.<table>"). Register() hashes the canonical JSON of a column list
// (SHA-256, hex); the same hash as the subject's latest version returns that
// version, anything else becomes version + 1. Two backends: memory (lost at
// exit) and pg (table pgcdc_schemas, created by pgcdc's migrations).
//
// The latest hash of every subject seen is cached, so registering an
// unchanged column list (a Relation message re-sent after a reconnect) costs
// no database round trip. Thread-safe: the WAL detector registers, the HTTP
// API reads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/mutex.h"

namespace pgcdc::schema {

struct Column {
  std::string name;
  uint32_t type_oid = 0;
  std::string type_name;         // "int4", or "oid:<N>" for an unknown type
  std::optional<bool> nullable;  // omitted from the JSON when unknown
  bool operator==(const Column&) const = default;
};

struct Version {
  std::string subject;
  int version = 0;
  std::vector<Column> columns;
  std::string hash;
  int64_t created_at_ns = 0;  // Unix time
};

struct SubjectSummary {
  std::string subject;
  int latest_version = 0;
};

// `[{"name":…,"type_oid":…,"type_name":…[,"nullable":…]},…]`, in column order,
// no whitespace: the text that is hashed (and stored).
std::string CanonicalJson(const std::vector<Column>& columns);
// SHA-256 of CanonicalJson(columns), lower-case hex.
std::string Hash(const std::vector<Column>& columns);
// The inverse of CanonicalJson (any key order and spacing, e.g. JSONB text).
Result<std::vector<Column>> ParseColumns(std::string_view json);
// One version as the HTTP API shows it:
// {"subject","version","hash","created_at","columns":[…]}.
std::string VersionJson(const Version& v);

struct RegisterResult {
  int version = 0;
  bool created = false;  // a new version (false: the latest one matched)
};

class Store {
 public:
  virtual ~Store() = default;
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The version `columns` have under `subject`, creating it when they differ
  // from the latest one. Counted in pgcdc_schema_store_registrations_total
  // (new versions) and pgcdc_schema_store_errors_total.
  [[nodiscard]] Result<RegisterResult> Register(const std::string& subject,
                                                const std::vector<Column>& columns);

  [[nodiscard]] virtual Result<std::optional<Version>> Latest(const std::string& subject) = 0;
  [[nodiscard]] virtual Result<std::optional<Version>> Get(const std::string& subject,
                                                           int version) = 0;
  // Every subject with its latest version, sorted by subject.
  [[nodiscard]] virtual Result<std::vector<SubjectSummary>> Subjects() = 0;
  virtual std::string_view type() const = 0;

 protected:
  // Stores `columns` as the next version of `subject` unless its latest
  // version already has `hash` (concurrency-safe against other writers).
  [[nodiscard]] virtual Result<RegisterResult> Insert(const std::string& subject,
                                                      const std::vector<Column>& columns,
                                                      const std::string& hash) = 0;

 private:
  Mutex mu_;  // one registration at a time; guards the cache
  // subject -> (latest hash, its version)
  std::unordered_map<std::string, std::pair<std::string, int>> latest_ GUARDED_BY(mu_);
};

// Versions kept in memory, for the life of the process.
class MemoryStore : public Store {
 public:
  Result<std::optional<Version>> Latest(const std::string& subject) override;
  Result<std::optional<Version>> Get(const std::string& subject, int version) override;
  Result<std::vector<SubjectSummary>> Subjects() override;
  std::string_view type() const override { return "memory"; }

 protected:
  Result<RegisterResult> Insert(const std::string& subject, const std::vector<Column>& columns,
                                const std::string& hash) override;

 private:
  Mutex mu_;
  std::unordered_map<std::string, std::vector<Version>> versions_ GUARDED_BY(mu_);
};

struct Options {
  std::string type = "memory";  // memory | pg
  std::string db_url;           // pg: the database holding pgcdc_schemas
};

// Opens the store `options` describe. pg connects and runs pgcdc's
// migrations (or checks them with --skip-migrations): a database that cannot
// be reached is an error here, at start-up.
[[nodiscard]] Result<std::shared_ptr<Store>> Open(const Options& options);
// The pg backend on its own (Open with type pg).
[[nodiscard]] Result<std::shared_ptr<Store>> OpenPg(const std::string& db_url);

}  // namespace pgcdc::schema
