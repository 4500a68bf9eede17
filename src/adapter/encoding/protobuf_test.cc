#include "adapter/encoding/protobuf.h"

#include <gtest/gtest.h>

#include "core/json.h"

namespace pgcdc::encoding::protobuf {
namespace {

using json::ToHex;

TEST(ProtobufTest, EncodesTheEventMessage) {
  Event e = MakeEvent("c", "OP", "{}", "wal");
  e.id = MakeUuidV7(0, 0, 0);
  e.created_at_ns = 300;
  std::string out;
  Encode(e, "{}", out);
  const std::string id = e.id.ToString();
  EXPECT_EQ(ToHex(out), "0a24" + ToHex(id) + "1201" + ToHex("c") + "1a02" + ToHex("OP") + "2202" +
                            ToHex("{}") + "2a03" + ToHex("wal") + "30ac02");
  // A transaction block; a negative int32 takes ten bytes.
  e.transaction = TransactionInfo{.xid = 5, .commit_time_ns = 1, .seq = -1};
  out.clear();
  Encode(e, "", out);
  EXPECT_TRUE(
      ToHex(out).ends_with("3a0f"
                           "0805"
                           "1001"
                           "18ffffffffffffffffff01"))
      << ToHex(out);
}

TEST(ProtobufTest, ConfluentHeaderHasTheMessageIndex) {
  std::string out;
  AppendConfluentHeader(7, out);
  EXPECT_EQ(ToHex(out), "000000000700");
  EXPECT_NE(EventProto().find("message Event {"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::encoding::protobuf
