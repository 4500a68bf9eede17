// The Parquet writer of a build without DuckDB (cmake/DuckDB.cmake found no
// libduckdb): every Create() fails with UnavailableReason().
#include "parquet/writer.h"

namespace pgcdc::parquet {

struct Writer::Impl {
  std::vector<Column> columns;
};

bool Available() { return false; }

std::string_view UnavailableReason() {
  return "this pgcdc build has no Parquet support: it was built without DuckDB's library "
         "(run scripts/bootstrap, which installs it with npm into tests/tools/node_modules, or "
         "set -DPGCDC_DUCKDB_DIR, then rebuild)";
}

Writer::Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Writer::~Writer() = default;

Result<WriterPtr> Writer::Create(std::vector<Column>, Options) {
  return Fail(ErrorCode::kUnimplemented, std::string(UnavailableReason()));
}

namespace {
Status Unavailable() { return Fail(ErrorCode::kUnimplemented, std::string(UnavailableReason())); }
}  // namespace

Status Writer::Null() { return Unavailable(); }
Status Writer::String(std::string_view) { return Unavailable(); }
Status Writer::Text(std::string_view) { return Unavailable(); }
Status Writer::Bool(bool) { return Unavailable(); }
Status Writer::Int64(int64_t) { return Unavailable(); }
Status Writer::Double(double) { return Unavailable(); }
Status Writer::TimestampMicros(int64_t) { return Unavailable(); }
Status Writer::EndRow() { return Unavailable(); }
uint64_t Writer::rows() const { return 0; }
const std::vector<Column>& Writer::columns() const { return impl_->columns; }
Result<std::string> Writer::Finish() { return Fail(Unavailable().error()); }
Status Writer::FinishToFile(const std::string&) { return Unavailable(); }

}  // namespace pgcdc::parquet
