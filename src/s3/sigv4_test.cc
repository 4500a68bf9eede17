// SigV4 against the worked examples AWS publishes (the values below are the
// documented inputs and outputs, not computed by this code).
#include "s3/sigv4.h"

#include <gtest/gtest.h>

namespace pgcdc::s3 {
namespace {

constexpr std::string_view kEmptyHash =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// "Deriving the signing key" example (IAM general reference).
TEST(SigV4, SigningKeyMatchesTheDocumentedExample) {
  EXPECT_EQ(
      SigningKeyHex("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"),
      "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(SigV4, Sha256OfTheEmptyPayload) { EXPECT_EQ(Sha256Hex(""), kEmptyHash); }

// S3 developer guide, "Example: GET Object" (header-based auth, single chunk).
TEST(SigV4, S3GetObjectExample) {
  SignedRequest r{.method = "GET", .canonical_uri = "/test.txt"};
  r.payload_hash = std::string(kEmptyHash);
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", std::string(kEmptyHash)},
               {"x-amz-date", "20130524T000000Z"}};
  EXPECT_EQ(CanonicalRequest(r),
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:" +
                std::string(kEmptyHash) + "\nx-amz-date:20130524T000000Z\n\n" +
                "host;range;x-amz-content-sha256;x-amz-date\n" + std::string(kEmptyHash));
  const Credentials c{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  EXPECT_EQ(Authorization(r, c, "us-east-1", "s3", "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// S3 developer guide, "Example: PUT Object" (a '$' in the key is encoded).
TEST(SigV4, S3PutObjectExample) {
  const std::string body = "Welcome to Amazon S3.";
  const std::string hash = Sha256Hex(body);
  EXPECT_EQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  SignedRequest r{.method = "PUT", .canonical_uri = "/" + UriEncode("test$file.text", true)};
  EXPECT_EQ(r.canonical_uri, "/test%24file.text");
  r.payload_hash = hash;
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-date", "20130524T000000Z"},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", hash}};
  const Credentials c{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
  EXPECT_EQ(Authorization(r, c, "us-east-1", "s3", "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

// IAM general reference, "Signature Version 4 example" (GET with a query string).
TEST(SigV4, IamListUsersExampleWithAQuery) {
  SignedRequest r{.method = "GET",
                  .canonical_uri = "/",
                  .query = {{"Version", "2010-05-08"}, {"Action", "ListUsers"}}};
  r.payload_hash = std::string(kEmptyHash);
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
               {"Host", "iam.amazonaws.com"},
               {"X-Amz-Date", "20150830T123600Z"}};
  EXPECT_EQ(CanonicalQuery(r.query), "Action=ListUsers&Version=2010-05-08");
  EXPECT_EQ(Sha256Hex(CanonicalRequest(r)),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
  const Credentials c{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  EXPECT_EQ(Authorization(r, c, "us-east-1", "iam", "20150830T123600Z"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

TEST(SigV4, EncodingAndValues) {
  EXPECT_EQ(UriEncode("channel=pgcdc_x/year=2026/a b+c", true),
            "channel%3Dpgcdc_x/year%3D2026/a%20b%2Bc");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(CanonicalQuery({{"uploads", ""}}), "uploads=");
  SignedRequest r{.method = "PUT", .canonical_uri = "/k", .payload_hash = "x"};
  r.headers = {{"X-Amz-Meta-A", "  two   spaces  "}, {"host", "h"}};
  EXPECT_NE(CanonicalRequest(r).find("x-amz-meta-a:two spaces\n"), std::string::npos);
  EXPECT_EQ(AmzDate(0), "19700101T000000Z");
  EXPECT_EQ(AmzDate(1369353600), "20130524T000000Z");
}

}  // namespace
}  // namespace pgcdc::s3
