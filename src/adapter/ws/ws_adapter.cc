#include "adapter/ws/ws_adapter.h"

#include "adapter/adapter.h"

namespace pgcdc::wssink {

ConnectorInfo Connector() {
  ConnectorInfo info;
  info.kind = ConnectorKind::kAdapter;
  info.name = "ws";
  info.description = "WebSocket on the main HTTP server: /ws and /ws/<channel>. (not implemented yet)";
  info.validate = [](const config::Config&, std::vector<std::string>& errors) {
    errors.push_back("adapters: \"ws\" is not implemented yet");
  };
  info.make_adapter = [](const config::Config&) -> Result<adapter::AdapterPtr> {
    return Fail(ErrorCode::kUnimplemented, "adapter ws is not implemented yet");
  };
  return info;
}

}  // namespace pgcdc::wssink
