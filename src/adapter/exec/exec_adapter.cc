#include "adapter/exec/exec_adapter.h"

#include "adapter/adapter.h"

namespace pgcdc::execsink {

ConnectorInfo Connector() {
  ConnectorInfo info;
  info.kind = ConnectorKind::kAdapter;
  info.name = "exec";
  info.description = "Writes one JSON line per event to a subprocess's stdin, restarting it when it exits. (not implemented yet)";
  info.validate = [](const config::Config&, std::vector<std::string>& errors) {
    errors.push_back("adapters: \"exec\" is not implemented yet");
  };
  info.make_adapter = [](const config::Config&) -> Result<adapter::AdapterPtr> {
    return Fail(ErrorCode::kUnimplemented, "adapter exec is not implemented yet");
  };
  return info;
}

}  // namespace pgcdc::execsink
