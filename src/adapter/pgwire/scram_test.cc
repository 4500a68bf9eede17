#include "adapter/pgwire/scram.h"

#include <gtest/gtest.h>

#include "core/bytes.h"

namespace pgcdc::adapter::pgwire {
namespace {

// RFC 7677 §3's example exchange (user "user", password "pencil").
TEST(PgwireScram, Rfc7677Example) {
  auto salt = DecodeBase64("W22ZaJ0SNY7soEsUEjb6gQ==");
  ASSERT_TRUE(salt);
  auto secret = MakeScramSecret("pencil", *salt, 4096);
  ASSERT_TRUE(secret);
  ScramServer server(*secret, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
  auto first = server.ClientFirst("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(*first,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
            "i=4096");
  auto final_message = server.ClientFinal(
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
      "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
  ASSERT_TRUE(final_message) << final_message.error().message();
  EXPECT_EQ(*final_message, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

// The client side, computed from the password (what libpq does).
std::string ClientFinalFor(std::string_view password, const std::string& client_first_bare,
                           const std::string& server_first, const std::string& gs2) {
  const std::string nonce = server_first.substr(2, server_first.find(',') - 2);
  const size_t s_at = server_first.find(",s=") + 3;
  const auto salt = DecodeBase64(server_first.substr(s_at, server_first.find(",i=") - s_at));
  const int iterations = std::stoi(server_first.substr(server_first.find(",i=") + 3));
  auto salted = ScramSaltedPassword(password, *salt, iterations);
  EXPECT_TRUE(salted);
  const std::string client_key = HmacSha256(*salted, "Client Key");
  const std::string without_proof = "c=" + Base64(gs2) + ",r=" + nonce;
  const std::string auth = client_first_bare + "," + server_first + "," + without_proof;
  std::string proof = HmacSha256(Sha256(client_key), auth);
  for (size_t i = 0; i < proof.size(); ++i) proof[i] = static_cast<char>(proof[i] ^ client_key[i]);
  return without_proof + ",p=" + Base64(proof);
}

TEST(PgwireScram, RoundTripWithARandomSalt) {
  const std::string password = "pässwörd with spaces";
  auto secret = MakeScramSecret(password);
  ASSERT_TRUE(secret);
  EXPECT_EQ(secret->salt.size(), 16u);
  for (const std::string gs2 : {"n,,", "y,,"}) {
    ScramServer server(*secret);
    const std::string bare = "n=,r=clientnonce123";
    auto first = server.ClientFirst(gs2 + bare);
    ASSERT_TRUE(first) << first.error().message();
    auto final_message = server.ClientFinal(ClientFinalFor(password, bare, *first, gs2));
    ASSERT_TRUE(final_message) << final_message.error().message();
    EXPECT_TRUE(final_message->starts_with("v="));
    ScramServer other(*secret);
    auto first2 = other.ClientFirst(gs2 + bare);
    ASSERT_TRUE(first2);
    EXPECT_NE(*first, *first2);  // a fresh server nonce each time
    EXPECT_FALSE(other.ClientFinal(ClientFinalFor("wrong", bare, *first2, gs2)));
  }
}

TEST(PgwireScram, WrongPasswordAndBadMessagesFail) {
  auto secret = MakeScramSecret("right");
  ASSERT_TRUE(secret);
  {
    ScramServer server(*secret, "srv");
    ASSERT_TRUE(server.ClientFirst("n,,n=,r=abc"));
    // A proof of the right length but computed from nothing.
    auto r = server.ClientFinal("c=biws,r=abcsrv,p=" + Base64(std::string(32, 'x')));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  }
  {
    ScramServer server(*secret, "srv");
    EXPECT_FALSE(server.ClientFinal("c=biws,r=x,p=AAAA"));  // before client-first
    EXPECT_FALSE(server.ClientFirst("p=tls-server-end-point,,n=,r=abc"));
    EXPECT_FALSE(server.ClientFirst("n,,n="));  // no nonce
  }
  {
    ScramServer server(*secret, "srv");
    ASSERT_TRUE(server.ClientFirst("n,,n=,r=abc"));
    EXPECT_FALSE(server.ClientFinal("c=biws,r=WRONGsrv,p=" + Base64(std::string(32, 'x'))));
    EXPECT_FALSE(server.ClientFinal("c=eSws,r=abcsrv,p=" + Base64(std::string(32, 'x'))));
    EXPECT_FALSE(server.ClientFinal("c=biws,r=abcsrv"));
  }
}

}  // namespace
}  // namespace pgcdc::adapter::pgwire
