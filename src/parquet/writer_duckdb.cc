// The Parquet writer on DuckDB's C API (see writer.h), on the helpers of
// duckdb_api.h (which includes duckdb.h).
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "parquet/duckdb_api.h"
#include "parquet/writer.h"

namespace pgcdc::parquet {

namespace {

std::atomic<uint64_t> next_id{1};

using duckdb_api::AppenderError;
using duckdb_api::Duck;
using duckdb_api::QuoteIdent;
using duckdb_api::QuoteLiteral;

// The process-wide in-memory database (opened on first use, never closed:
// writers may live until exit). Extensions are never installed or loaded
// from the network: Parquet is built into libduckdb.
struct Database {
  duckdb_database db = nullptr;
  std::string error;
};

const Database& SharedDatabase() {
  static const Database database = [] {
    Database d;
    auto db = duckdb_api::Open("", {}, "parquet");
    if (db) {
      d.db = *db;
    } else {
      d.error = db.error().message();
    }
    return d;
  }();
  return database;
}

// Runs one statement; kIo with DuckDB's message on failure.
Status Exec(duckdb_connection conn, const std::string& sql, std::string_view what) {
  return duckdb_api::Exec(conn, sql, "parquet: " + std::string(what));
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kIo, "parquet: cannot read " + path);
  std::ostringstream body;
  body << in.rdbuf();
  if (!in && !in.eof()) return Fail(ErrorCode::kIo, "parquet: cannot read " + path);
  return std::move(body).str();
}

}  // namespace

bool Available() { return duckdb_api::Load().has_value(); }
std::string_view UnavailableReason() {
  static const std::string reason = [] {
    Status loaded = duckdb_api::Load();
    return loaded ? std::string() : loaded.error().message();
  }();
  return reason;
}

struct Writer::Impl {
  std::vector<Column> columns;
  Options options;
  std::string table;  // quoted
  duckdb_connection conn = nullptr;
  duckdb_appender appender = nullptr;
  size_t column = 0;  // next column of the current row
  uint64_t rows = 0;

  ~Impl() {
    if (appender != nullptr) Duck().appender_destroy(&appender);
    if (conn != nullptr) {
      (void)Exec(conn, "DROP TABLE IF EXISTS " + table, "drop");
      Duck().disconnect(&conn);
    }
  }

  Status OpenAppender() {
    if (appender != nullptr) Duck().appender_destroy(&appender);
    const std::string name = table.substr(1, table.size() - 2);
    if (Duck().appender_create(conn, nullptr, name.c_str(), &appender) == DuckDBError) {
      std::string msg = appender != nullptr ? AppenderError(appender) : "?";
      return Fail(ErrorCode::kIo, "parquet: appender: " + msg);
    }
    return Ok();
  }

  // Checks a value call's result; advances to the next column on success.
  Status Value(duckdb_state state) {
    if (state == DuckDBError) {
      return Fail(ErrorCode::kInvalidArgument, "parquet: column " +
                                                   QuoteIdent(columns[column].name) + " (" +
                                                   std::string(TypeName(columns[column].type)) +
                                                   "): " + AppenderError(appender));
    }
    ++column;
    return Ok();
  }

  // Writes every buffered row to `path`; the rows stay buffered.
  Status Copy(const std::string& path) {
    if (column != 0) return Fail(ErrorCode::kInvalidArgument, "parquet: finish inside a row");
    if (Duck().appender_flush(appender) == DuckDBError) {
      // The appender is unusable now and its rows are gone: start over clean.
      const std::string msg = AppenderError(appender);
      (void)Reset();
      (void)OpenAppender();
      return Fail(ErrorCode::kIo, "parquet: flush rows: " + msg);
    }
    const std::string copy = "COPY " + table + " TO " + QuoteLiteral(path) +
                             " (FORMAT PARQUET, COMPRESSION " + QuoteLiteral(options.compression) +
                             ", ROW_GROUP_SIZE " + std::to_string(options.row_group_size) +
                             FieldIds() + ")";
    return Exec(conn, copy, "write " + path);
  }

  // ", FIELD_IDS {'name': id, ...}" when the columns carry field ids.
  std::string FieldIds() const {
    std::string out;
    for (const Column& c : columns) {
      if (c.field_id <= 0) continue;
      out += out.empty() ? ", FIELD_IDS {" : ", ";
      out += QuoteLiteral(c.name) + ": " + std::to_string(c.field_id);
    }
    if (!out.empty()) out += "}";
    return out;
  }

  Status Reset() {
    rows = 0;
    return Exec(conn, "DELETE FROM " + table, "reset");
  }

  Status Ready() const {
    if (column >= columns.size()) {
      return Fail(ErrorCode::kInvalidArgument, "parquet: more values than columns in a row");
    }
    return Ok();
  }
};

Writer::Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Writer::~Writer() = default;

Result<WriterPtr> Writer::Create(std::vector<Column> columns, Options options) {
  if (columns.empty()) return Fail(ErrorCode::kInvalidArgument, "parquet: no columns");
  std::set<std::string> names;
  for (const Column& c : columns) {
    if (!names.insert(c.name).second) {
      return Fail(ErrorCode::kInvalidArgument, "parquet: column " + QuoteIdent(c.name) + " twice");
    }
  }
  const Database& db = SharedDatabase();
  if (db.db == nullptr) return Fail(ErrorCode::kIo, db.error);
  auto impl = std::make_unique<Impl>();
  impl->columns = std::move(columns);
  impl->options = std::move(options);
  impl->table = QuoteIdent("pgcdc_parquet_" + std::to_string(next_id.fetch_add(1)));
  if (Duck().connect(db.db, &impl->conn) == DuckDBError) {
    impl->conn = nullptr;
    return Fail(ErrorCode::kIo, "parquet: cannot connect to DuckDB");
  }
  std::string ddl = "CREATE TABLE " + impl->table + " (";
  for (size_t i = 0; i < impl->columns.size(); ++i) {
    if (i > 0) ddl += ", ";
    ddl += QuoteIdent(impl->columns[i].name) + " " + std::string(TypeName(impl->columns[i].type));
  }
  ddl += ")";
  if (auto st = Exec(impl->conn, ddl, "create table"); !st) return Fail(st.error());
  if (auto st = impl->OpenAppender(); !st) return Fail(st.error());
  return WriterPtr(new Writer(std::move(impl)));
}

Status Writer::Null() {
  if (auto st = impl_->Ready(); !st) return st;
  return impl_->Value(Duck().append_null(impl_->appender));
}

Status Writer::String(std::string_view value) { return Text(value); }

Status Writer::Text(std::string_view value) {
  if (auto st = impl_->Ready(); !st) return st;
  if (impl_->columns[impl_->column].type == Type::kTimestampTz) {
    if (auto micros = ParseTimestampTz(value)) return TimestampMicros(*micros);
  }
  return impl_->Value(Duck().append_varchar_length(impl_->appender, value.data(), value.size()));
}

Status Writer::Bool(bool value) {
  if (auto st = impl_->Ready(); !st) return st;
  return impl_->Value(Duck().append_bool(impl_->appender, value));
}

Status Writer::Int64(int64_t value) {
  if (auto st = impl_->Ready(); !st) return st;
  return impl_->Value(Duck().append_int64(impl_->appender, value));
}

Status Writer::Double(double value) {
  if (auto st = impl_->Ready(); !st) return st;
  return impl_->Value(Duck().append_double(impl_->appender, value));
}

Status Writer::TimestampMicros(int64_t micros) {
  if (auto st = impl_->Ready(); !st) return st;
  return impl_->Value(Duck().append_timestamp(impl_->appender, duckdb_timestamp{micros}));
}

Status Writer::EndRow() {
  if (impl_->column != impl_->columns.size()) {
    return Fail(ErrorCode::kInvalidArgument,
                "parquet: row ended after " + std::to_string(impl_->column) + " of " +
                    std::to_string(impl_->columns.size()) + " columns");
  }
  if (Duck().appender_end_row(impl_->appender) == DuckDBError) {
    return Fail(ErrorCode::kIo, "parquet: end row: " + AppenderError(impl_->appender));
  }
  impl_->column = 0;
  ++impl_->rows;
  return Ok();
}

uint64_t Writer::rows() const { return impl_->rows; }
const std::vector<Column>& Writer::columns() const { return impl_->columns; }

Status Writer::FinishToFile(const std::string& path) {
  if (auto st = impl_->Copy(path); !st) return st;
  return impl_->Reset();
}

Result<std::string> Writer::Finish() {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("pgcdc-" + std::to_string(::getpid()) + "-" +
                                                std::to_string(next_id.fetch_add(1)) + ".parquet");
  Status st = impl_->Copy(path.string());
  Result<std::string> body = st ? ReadFile(path.string()) : Fail(st.error());
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (!body) return body;
  if (auto reset = impl_->Reset(); !reset) return Fail(reset.error());
  return body;
}

}  // namespace pgcdc::parquet
