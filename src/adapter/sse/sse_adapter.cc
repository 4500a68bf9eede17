#include "adapter/sse/sse_adapter.h"

#include "adapter/adapter.h"

namespace pgcdc::ssesink {

ConnectorInfo Connector() {
  ConnectorInfo info;
  info.kind = ConnectorKind::kAdapter;
  info.name = "sse";
  info.description = "Server-Sent Events on the main HTTP server: /events and /events/<channel>. (not implemented yet)";
  info.validate = [](const config::Config&, std::vector<std::string>& errors) {
    errors.push_back("adapters: \"sse\" is not implemented yet");
  };
  info.make_adapter = [](const config::Config&) -> Result<adapter::AdapterPtr> {
    return Fail(ErrorCode::kUnimplemented, "adapter sse is not implemented yet");
  };
  return info;
}

}  // namespace pgcdc::ssesink
