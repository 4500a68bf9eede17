#include "wasm/kernel.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace pgcdc::wasm::kernel {
namespace {

void Put(std::vector<uint8_t>& m, uint64_t at, uint64_t v) { std::memcpy(m.data() + at, &v, 8); }
uint64_t Get(const std::vector<uint8_t>& m, uint64_t at) {
  uint64_t v = 0;
  std::memcpy(&v, m.data() + at, 8);
  return v;
}

TEST(KernelTest, BeginCallWritesTheInputAsTheFirstBlock) {
  std::vector<uint8_t> m(BytesNeeded(6), 0xee);
  BeginCall(m, "input!");
  const uint64_t off = Get(m, kInputOffset);
  EXPECT_EQ(off, kBase + kHeader);
  EXPECT_EQ(Get(m, kInputLength), 6U);
  EXPECT_EQ(Block(m, off), "input!");
  EXPECT_EQ(Get(m, kHeap), off + 8) << "blocks are padded to 8 bytes";
  EXPECT_EQ(Output(m), "") << "no output set";
  EXPECT_FALSE(Error(m));
}

TEST(KernelTest, BlocksAreRecognisedOnlyAtTheirStartAndWhileLive) {
  std::vector<uint8_t> m(512, 0);
  BeginCall(m, "");
  const uint64_t a = HostAlloc(m, "abc");
  ASSERT_NE(a, 0U);
  EXPECT_EQ(Block(m, a), "abc");
  EXPECT_FALSE(Block(m, a + 1));
  EXPECT_FALSE(Block(m, 0));
  EXPECT_FALSE(Block(m, 1U << 20));
  Put(m, a - 8, 0);  // what the kernel's free does
  EXPECT_FALSE(Block(m, a));
  Put(m, a - 8, a ^ kTag);
  Put(m, a - 16, 1U << 20);  // a length past the heap
  EXPECT_FALSE(Block(m, a));
}

TEST(KernelTest, HostAllocFailsWhenTheMemoryIsFull) {
  std::vector<uint8_t> m(BytesNeeded(8), 0);
  BeginCall(m, "12345678");
  EXPECT_EQ(HostAlloc(m, "x"), 0U);
}

TEST(KernelTest, OutputAndErrorAreReadFromTheControlBlock) {
  std::vector<uint8_t> m(512, 0);
  BeginCall(m, "in");
  const uint64_t out = HostAlloc(m, "result");
  Put(m, kOutputOffset, out);
  Put(m, kOutputLength, 6);
  EXPECT_EQ(Output(m), "result");
  Put(m, kOutputLength, 1000);
  EXPECT_FALSE(Output(m)) << "a range outside the memory";
  Put(m, kErrorOffset, HostAlloc(m, "bad"));
  EXPECT_EQ(Error(m), "bad");
  Put(m, kErrorOffset, 7);
  EXPECT_NE(Error(m)->find("invalid offset"), std::string::npos);
}

}  // namespace
}  // namespace pgcdc::wasm::kernel
