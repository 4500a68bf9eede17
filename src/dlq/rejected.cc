#include "core/log.h"
#include "dlq/dlq.h"

namespace pgcdc::dlq {

Status DeadLetterRejected(DeadLetterQueue* dlq, const Event& event, std::string_view adapter,
                          std::string_view reason) {
  const std::string id = event.id.ToString();
  const std::string who(adapter);
  if (dlq == nullptr) {
    return Fail(ErrorCode::kInvalidArgument, who + ": event " + id + " was rejected (" +
                                                 std::string(reason) +
                                                 ") and no dead letter queue is attached");
  }
  if (auto st = dlq->Record(event, adapter, reason); !st) {
    return Fail(st.error().Wrap(who + ": dead-letter event " + id +
                                " (rejected: " + std::string(reason) + ")"));
  }
  log::Warn(who + ": event rejected; sent to the dead letter queue",
            {{"adapter", adapter}, {"event_id", id}, {"error", reason}});
  return Ok();
}

}  // namespace pgcdc::dlq
