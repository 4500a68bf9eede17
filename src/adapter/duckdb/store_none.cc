// The duckdb sink's store in a build without DuckDB (cmake/DuckDB.cmake).
#include "adapter/duckdb/store.h"

namespace pgcdc::adapter::duckdb {

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions&) {
  return Fail(ErrorCode::kUnimplemented,
              "duckdb: this build has no DuckDB (libduckdb was not found at build time; see "
              "cmake/DuckDB.cmake)");
}

}  // namespace pgcdc::adapter::duckdb
