// A small RAII layer over libsqlite3 for the sqlite detector and its setup
// command: a connection, prepared statements with bound parameters, and
// errors as Status (SQLITE_BUSY/SQLITE_LOCKED as kConnection, so callers
// retry; a missing file or table as kInvalidArgument).
//
// Thread: a Db and its statements are used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace pgcdc::detector::sqlite {

class Stmt;

class Db {
 public:
  struct OpenOptions {
    bool create = false;  // create the file when missing (tests, --apply never)
    std::chrono::milliseconds busy_timeout{5000};
  };
  // Opens an existing database file read-write.
  static Result<Db> Open(const std::string& path, const OpenOptions& options);
  static Result<Db> Open(const std::string& path) { return Open(path, OpenOptions{}); }

  Db(Db&&) noexcept;
  Db& operator=(Db&&) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Runs one or more statements without results.
  Status Exec(std::string_view sql);
  Result<Stmt> Prepare(std::string_view sql);
  // The first column of the first row as text (nullopt: no row or NULL).
  Result<std::optional<std::string>> QueryText(std::string_view sql);

  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement. Step() returns true for a row, false when done.
class Stmt {
 public:
  Stmt(Stmt&&) noexcept;
  Stmt& operator=(Stmt&&) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Status Bind(int index, int64_t value);  // 1-based
  Status Bind(int index, std::string_view value);
  Result<bool> Step();
  // Resets for another run (bindings kept).
  void Reset();

  int64_t Int(int column) const;
  std::optional<std::string> Text(int column) const;  // nullopt for NULL

 private:
  friend class Db;
  Stmt(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

// A Status for SQLite result code `rc` on `db` ("what: message").
Error SqliteError(sqlite3* db, int rc, std::string_view what);

// "name" with embedded quotes doubled (SQL identifier) / 'text' (literal).
std::string QuoteIdent(std::string_view name);
std::string QuoteLiteral(std::string_view text);

}  // namespace pgcdc::detector::sqlite
