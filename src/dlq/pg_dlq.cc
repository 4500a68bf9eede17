#include "dlq/dlq.h"

namespace pgcdc::dlq {

Result<DeadLetterQueuePtr> MakePgTable(const Options& options) {
  return Fail(ErrorCode::kUnimplemented, "dlq: pg_table backend is not implemented yet");
}

}  // namespace pgcdc::dlq
