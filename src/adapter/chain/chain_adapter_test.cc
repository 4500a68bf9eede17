#include "adapter/chain/chain_adapter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/bytes.h"

namespace pgcdc::adapter::chain {
namespace {

constexpr const char* kKey128 = "000102030405060708090a0b0c0d0e0f";
constexpr const char* kKey256 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST(ChainLinksTest, GzipRoundTripsAndIsRealGzip) {
  const std::string text(10000, 'x');
  auto z = Gzip(text);
  ASSERT_TRUE(z);
  EXPECT_LT(z->size(), 200u);
  ASSERT_GE(z->size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>((*z)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*z)[1]), 0x8b);
  EXPECT_EQ(*Gunzip(*z), text);
  EXPECT_FALSE(Gunzip("not gzip"));
  EXPECT_FALSE(Gunzip(z->substr(0, z->size() / 2)));  // truncated
}

TEST(ChainLinksTest, SealOpensOnlyWithTheKeyAndIntactData) {
  const std::string key(16, 'k');
  auto sealed = Seal(key, "hello");
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->size(), 12u + 5u + 16u);  // nonce + text + tag
  EXPECT_EQ(*Open(key, *sealed), "hello");
  auto other = Seal(key, "hello");
  EXPECT_NE(*other, *sealed);  // a fresh nonce each time
  EXPECT_FALSE(Open(std::string(16, 'x'), *sealed));
  std::string altered = *sealed;
  altered[13] ^= 1;
  EXPECT_FALSE(Open(key, altered));
  EXPECT_FALSE(Seal("short", "x"));
}

TEST(ChainLinksTest, EncodeGivesAJsonStringThatDecodesBack) {
  const std::string payload = R"({"op":"INSERT","row":{"id":1,"name":"é"}})";
  for (const auto& [compress, key] :
       std::vector<std::pair<bool, std::string>>{{true, ""}, {false, kKey128}, {true, kKey256}}) {
    auto links = Links::Make(compress, key);
    ASSERT_TRUE(links);
    auto encoded = links->Encode(payload);
    ASSERT_TRUE(encoded);
    ASSERT_GE(encoded->size(), 2u);
    EXPECT_EQ(encoded->front(), '"');
    EXPECT_EQ(encoded->back(), '"');
    EXPECT_TRUE(DecodeBase64(encoded->substr(1, encoded->size() - 2)).has_value());
    EXPECT_EQ(*links->Decode(*encoded), payload);
  }
}

TEST(ChainLinksTest, BadKeysAreConfigErrors) {
  EXPECT_FALSE(Links::Make(false, "abc"));         // odd
  EXPECT_FALSE(Links::Make(false, "zz"));          // not hex
  EXPECT_FALSE(Links::Make(false, "0011223344"));  // 5 bytes
  EXPECT_TRUE(Links::Make(false, ""));
  EXPECT_TRUE(Links::Make(false, "")->empty());
}

TEST(ChainLinksTest, DecodeRefusesWhatItDidNotEncode) {
  auto links = Links::Make(true, kKey128);
  ASSERT_TRUE(links);
  EXPECT_FALSE(links->Decode(R"({"id":1})"));
  EXPECT_FALSE(links->Decode(R"("!!!")"));
  auto other = Links::Make(true, kKey256);
  EXPECT_FALSE(links->Decode(*other->Encode("{}")));
}

}  // namespace
}  // namespace pgcdc::adapter::chain
