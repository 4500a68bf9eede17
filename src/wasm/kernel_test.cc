#include "wasm/kernel.h"

#include <gtest/gtest.h>

namespace pgcdc::wasm {
namespace {

TEST(KernelTest, BlocksHoldBytesAndLengths) {
  Kernel k(1024);
  k.BeginCall("input!");
  EXPECT_EQ(k.input_length(), 6U);
  EXPECT_EQ(k.Block(k.input_offset()), "input!");
  const uint64_t a = k.AllocBytes("abc");
  ASSERT_NE(a, 0U);
  EXPECT_EQ(k.Length(a), 3U);
  EXPECT_EQ(k.LoadU8(a + 1), uint8_t{'b'});
  EXPECT_TRUE(k.StoreU8(a + 2, 'z'));
  EXPECT_EQ(k.Block(a), "abz");
  EXPECT_EQ(k.Length(a + 1), 0U) << "only block starts have a length";
  k.Free(a);
  EXPECT_EQ(k.Length(a), 0U);
  EXPECT_FALSE(k.Block(a));
}

TEST(KernelTest, OutOfRangeAccessFailsInsteadOfReadingPastTheMemory) {
  Kernel k(1024);
  k.BeginCall("");
  const uint64_t a = k.Alloc(8);
  EXPECT_TRUE(k.StoreU64(a, 0x0102030405060708ULL));
  EXPECT_EQ(k.LoadU64(a), 0x0102030405060708ULL);
  EXPECT_EQ(k.LoadU8(a), uint8_t{8}) << "little-endian like Wasm";
  EXPECT_FALSE(k.LoadU64(a + 1));
  EXPECT_FALSE(k.LoadU8(a + 8));
  EXPECT_FALSE(k.LoadU8(0));
  EXPECT_FALSE(k.StoreU64(a + 4, 1));
  EXPECT_FALSE(k.SetOutput(a, 9));
  EXPECT_FALSE(k.Range(~uint64_t{0}, 2));
}

TEST(KernelTest, AllocBeyondTheLimitReturnsZero) {
  Kernel k(64);
  k.BeginCall("");
  EXPECT_NE(k.Alloc(40), 0U);
  EXPECT_EQ(k.Alloc(40), 0U);
  EXPECT_EQ(k.Alloc(~uint64_t{0}), 0U);
}

TEST(KernelTest, InputWordsMayBePartialAtTheEnd) {
  Kernel k(1024);
  k.BeginCall("0123456789");
  EXPECT_EQ(k.InputLoadU64(8), uint64_t{'8'} | (uint64_t{'9'} << 8));
  EXPECT_EQ(k.InputLoadU8(9), uint8_t{'9'});
  EXPECT_FALSE(k.InputLoadU8(10));
  EXPECT_FALSE(k.InputLoadU64(10));
}

TEST(KernelTest, ConfigVarsOutputAndError) {
  Kernel k(1024);
  k.config()["greeting"] = "\"hi\"";
  k.BeginCall("");
  const uint64_t v = k.ConfigGet(k.AllocBytes("greeting"));
  EXPECT_EQ(k.Block(v), "\"hi\"");
  EXPECT_EQ(k.ConfigGet(k.AllocBytes("missing")), 0U);
  EXPECT_TRUE(k.VarSet(k.AllocBytes("n"), k.AllocBytes("1")));
  k.BeginCall("next call");  // variables outlive calls, blocks do not
  EXPECT_EQ(k.Block(k.VarGet(k.AllocBytes("n"))), "1");
  EXPECT_TRUE(k.VarSet(k.AllocBytes("n"), 0));
  EXPECT_EQ(k.VarGet(k.AllocBytes("n")), 0U);
  const uint64_t out = k.AllocBytes("out");
  EXPECT_TRUE(k.SetOutput(out, 3));
  EXPECT_EQ(k.output(), "out");
  EXPECT_TRUE(k.SetError(k.AllocBytes("bad")));
  EXPECT_EQ(k.error(), "bad");
  k.BeginCall("");
  EXPECT_FALSE(k.error());
  EXPECT_EQ(k.output(), "");
}

}  // namespace
}  // namespace pgcdc::wasm
