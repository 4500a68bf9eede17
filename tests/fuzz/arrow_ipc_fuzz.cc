// libFuzzer target for the arrow sink's pure parts: the Arrow IPC encoder
// (arrow/ipc.h), Flight tickets and typed row conversion
// (adapter/arrow/batches.h).
//
// Input: one selector byte, then bytes. Invariants checked (abort on violation):
//  * 't': ParseTicket never crashes; an accepted ticket has a channel and
//    TicketJson of it parses back to the same channel and offset; a refusal
//    is kInvalidArgument;
//  * 'r': the bytes as a WAL payload `row` of a table with a column of every
//    mapped type: EncodeBatch succeeds (unconvertible values are null and
//    counted, never fatal) and the message is well framed;
//  * otherwise the bytes choose columns (type) and values: the schema and
//    record batch messages are 8-byte multiples, the root offset lies inside
//    the flatbuffer, the body is 8-aligned and the framing holds.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "adapter/arrow/batches.h"
#include "arrow/ipc.h"

namespace {

namespace aa = pgcdc::adapter::arrow;
namespace ipc = pgcdc::arrow_ipc;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "arrow_ipc_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

uint32_t Le32(std::string_view s, size_t at) {
  uint32_t v = 0;
  std::memcpy(&v, s.data() + at, 4);
  return v;
}

void CheckMessage(std::string_view header, std::string_view body) {
  Check(header.size() % 8 == 0 && header.size() >= 8, "flatbuffer size is a multiple of 8");
  Check(Le32(header, 0) + 4 <= header.size(), "root table inside the flatbuffer");
  Check(body.size() % 8 == 0, "body padded to 8 bytes");
  std::string framed;
  ipc::AppendFramed(header, body, framed);
  Check(Le32(framed, 0) == 0xFFFFFFFFu, "continuation marker");
  Check((8 + Le32(framed, 4)) % 8 == 0, "body starts 8-aligned");
  Check(framed.size() == 8 + Le32(framed, 4) + body.size(), "framed length");
}

void FuzzTicket(std::string_view in) {
  auto t = aa::ParseTicket(in);
  if (!t) {
    Check(t.error().code() == pgcdc::ErrorCode::kInvalidArgument, "refusal is kInvalidArgument");
    return;
  }
  Check(!t->channel.empty(), "accepted ticket has a channel");
  auto again = aa::ParseTicket(aa::TicketJson(t->channel, t->offset.value_or(0)));
  Check(again && again->channel == t->channel, "TicketJson round trip");
}

void FuzzRow(std::string_view in) {
  auto schema = std::make_shared<pgcdc::RowSchema>();
  int i = 0;
  for (uint32_t oid : {16u, 21u, 23u, 20u, 700u, 701u, 1082u, 1114u, 1184u, 17u, 1700u, 3802u}) {
    schema->columns.push_back(
        {.name = std::string(1, static_cast<char>('a' + i++)), .type_oid = oid});
  }
  auto e = std::make_shared<aa::Entry>();
  e->payload = R"({"row":)" + std::string(in) + "}";
  e->schema = schema;
  std::vector<aa::EntryPtr> entries = {e, e};
  const auto plan = aa::PlanStream(aa::SchemaMode::kTyped, entries);
  size_t errors = 0;
  auto batch = aa::EncodeBatch(aa::SchemaMode::kTyped, plan, entries, errors);
  Check(batch.has_value(), "typed batch encodes");
  CheckMessage(batch->header, batch->body);
}

void FuzzColumns(std::string_view in) {
  ipc::Schema schema;
  std::vector<ipc::Column> cols;
  const size_t ncols = in.empty() ? 0 : static_cast<uint8_t>(in[0]) % 6 + 1;
  for (size_t c = 0; c < ncols && 1 + c < in.size(); ++c) {
    const auto type = static_cast<ipc::Type>(static_cast<uint8_t>(in[1 + c]) % 10);
    schema.push_back({.name = std::string(in.substr(1, c)), .type = type});
    cols.emplace_back(type);
  }
  for (size_t at = 1 + ncols; at < in.size(); at += cols.size()) {
    for (size_t c = 0; c < cols.size(); ++c) {
      const uint8_t b = at + c < in.size() ? static_cast<uint8_t>(in[at + c]) : 0;
      if (b % 5 == 0) {
        cols[c].AppendNull();
      } else if (cols[c].type() == ipc::Type::kUtf8 || cols[c].type() == ipc::Type::kBinary) {
        cols[c].AppendBytes(in.substr(at, b % 7));
      } else if (cols[c].type() == ipc::Type::kBool) {
        cols[c].AppendBool(b % 2 == 0);
      } else if (cols[c].type() == ipc::Type::kFloat32 || cols[c].type() == ipc::Type::kFloat64) {
        cols[c].AppendDouble(b * 0.5);
      } else {
        cols[c].AppendInt(static_cast<int64_t>(b) * 1'000'003 - 77);
      }
    }
  }
  CheckMessage(ipc::SchemaMessage(schema), {});
  auto batch = ipc::RecordBatchMessage(schema, cols);
  Check(batch.has_value(), "columns of one length encode");
  CheckMessage(batch->header, batch->body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0]) {
    case 't':
      FuzzTicket(in);
      break;
    case 'r':
      FuzzRow(in);
      break;
    default:
      FuzzColumns(in);
      break;
  }
  return 0;
}
