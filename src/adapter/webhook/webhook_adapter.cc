#include "adapter/webhook/webhook_adapter.h"

#include "adapter/adapter.h"

namespace pgcdc::webhooksink {

ConnectorInfo Connector() {
  ConnectorInfo info;
  info.kind = ConnectorKind::kAdapter;
  info.name = "webhook";
  info.description = "POSTs each event (or a JSON array batch) to an HTTP endpoint with HMAC signing, retries, circuit breaker and DLQ. (not implemented yet)";
  info.validate = [](const config::Config&, std::vector<std::string>& errors) {
    errors.push_back("adapters: \"webhook\" is not implemented yet");
  };
  info.make_adapter = [](const config::Config&) -> Result<adapter::AdapterPtr> {
    return Fail(ErrorCode::kUnimplemented, "adapter webhook is not implemented yet");
  };
  return info;
}

}  // namespace pgcdc::webhooksink
