#include "adapter/encoding/protobuf.h"

#include <gtest/gtest.h>

namespace pgcdc::encoding::protobuf {
namespace {

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

TEST(ProtobufTest, EncodesTheEventMessage) {
  Event e = MakeEvent("c", "OP", "{}", "wal");
  e.id = MakeUuidV7(0, 0, 0);
  e.created_at_ns = 300;
  std::string out;
  Encode(e, "{}", out);
  const std::string id = e.id.ToString();
  EXPECT_EQ(Hex(out), "0a24" + Hex(id) + "1201" + Hex("c") + "1a02" + Hex("OP") + "2202" +
                          Hex("{}") + "2a03" + Hex("wal") + "30ac02");
  // A transaction block; a negative int32 takes ten bytes.
  e.transaction = TransactionInfo{.xid = 5, .commit_time_ns = 1, .seq = -1};
  out.clear();
  Encode(e, "", out);
  EXPECT_TRUE(
      Hex(out).ends_with("3a0f"
                         "0805"
                         "1001"
                         "18ffffffffffffffffff01"))
      << Hex(out);
}

TEST(ProtobufTest, ConfluentHeaderHasTheMessageIndex) {
  std::string out;
  AppendConfluentHeader(7, out);
  EXPECT_EQ(Hex(out), "000000000700");
  EXPECT_NE(EventProto().find("message Event {"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::encoding::protobuf
