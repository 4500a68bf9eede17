// SCRAM-SHA-256 (RFC 5802 / RFC 7677) server side, as PostgreSQL speaks it:
// the user name inside the SCRAM messages is ignored (the start-up packet
// names the user), no channel binding (we only offer SCRAM-SHA-256, so a
// client sends gs2 flag "n" or "y"), 4096 PBKDF2 iterations by default.
//
// One ScramServer per authentication exchange; not thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc::adapter::pgwire {

// What a server keeps of a password (never the password itself).
struct ScramSecret {
  std::string salt;  // raw bytes
  int iterations = 4096;
  std::string stored_key;  // H(ClientKey), 32 bytes
  std::string server_key;  // HMAC(SaltedPassword, "Server Key"), 32 bytes
};

// Derives the secret of `password` (PBKDF2-HMAC-SHA-256 over salt).
[[nodiscard]] Result<ScramSecret> MakeScramSecret(std::string_view password, std::string salt,
                                                  int iterations);
// A secret with a fresh random 16-byte salt.
[[nodiscard]] Result<ScramSecret> MakeScramSecret(std::string_view password);

class ScramServer {
 public:
  // `server_nonce_suffix` empty = 18 random bytes, base64 (tests pass one).
  explicit ScramServer(ScramSecret secret, std::string server_nonce_suffix = {});

  // client-first-message → server-first-message.
  [[nodiscard]] Result<std::string> ClientFirst(std::string_view message);
  // client-final-message → server-final-message ("v=<signature>"); an error
  // (kInvalidArgument) when the proof does not match the password.
  [[nodiscard]] Result<std::string> ClientFinal(std::string_view message);

 private:
  ScramSecret secret_;
  std::string nonce_suffix_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;  // client nonce + server suffix
};

// PBKDF2-HMAC-SHA-256 of the password (SaltedPassword).
[[nodiscard]] Result<std::string> ScramSaltedPassword(std::string_view password,
                                                      std::string_view salt, int iterations);

// Test helpers (also what a client computes): HMAC-SHA-256 and SHA-256.
std::string HmacSha256(std::string_view key, std::string_view data);
std::string Sha256(std::string_view data);
std::string Base64(std::string_view bytes);

}  // namespace pgcdc::adapter::pgwire
