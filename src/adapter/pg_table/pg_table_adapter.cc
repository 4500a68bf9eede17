#include "adapter/pg_table/pg_table_adapter.h"

#include "adapter/adapter.h"

namespace pgcdc::pgtablesink {

ConnectorInfo Connector() {
  ConnectorInfo info;
  info.kind = ConnectorKind::kAdapter;
  info.name = "pg_table";
  info.description = "Inserts events into a PostgreSQL table in batches. (not implemented yet)";
  info.validate = [](const config::Config&, std::vector<std::string>& errors) {
    errors.push_back("adapters: \"pg_table\" is not implemented yet");
  };
  info.make_adapter = [](const config::Config&) -> Result<adapter::AdapterPtr> {
    return Fail(ErrorCode::kUnimplemented, "adapter pg_table is not implemented yet");
  };
  return info;
}

}  // namespace pgcdc::pgtablesink
