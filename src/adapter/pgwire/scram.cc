#include "adapter/pgwire/scram.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "core/bytes.h"
#include "core/json.h"

namespace pgcdc::adapter::pgwire {

namespace {

constexpr size_t kSaltBytes = 16;
constexpr size_t kNonceBytes = 18;

Result<std::string> RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    return Fail(ErrorCode::kUnknown, "scram: no random bytes from OpenSSL");
  }
  return out;
}

// The value of attribute `name` ("r=...") in a comma-separated SCRAM message.
std::optional<std::string_view> Attr(std::string_view message, char name) {
  size_t pos = 0;
  while (pos <= message.size()) {
    const size_t end = std::min(message.find(',', pos), message.size());
    const std::string_view part = message.substr(pos, end - pos);
    if (part.size() >= 2 && part[0] == name && part[1] == '=') return part.substr(2);
    pos = end + 1;
  }
  return std::nullopt;
}

Error Bad(std::string_view what) {
  return Error(ErrorCode::kProtocol, "scram: malformed " + std::string(what));
}

std::string Xor(std::string_view a, std::string_view b) {
  std::string out(a);
  for (size_t i = 0; i < out.size() && i < b.size(); ++i) out[i] = static_cast<char>(out[i] ^ b[i]);
  return out;
}

}  // namespace

std::string HmacSha256(std::string_view key, std::string_view data) {
  std::string out(EVP_MAX_MD_SIZE, '\0');
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       reinterpret_cast<unsigned char*>(out.data()), &len);
  out.resize(len);
  return out;
}

std::string Sha256(std::string_view data) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string Base64(std::string_view bytes) {
  std::string out;
  json::AppendBase64(out, bytes);
  return out;
}

Result<std::string> ScramSaltedPassword(std::string_view password, std::string_view salt,
                                        int iterations) {
  std::string salted(SHA256_DIGEST_LENGTH, '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), iterations, EVP_sha256(),
                        static_cast<int>(salted.size()),
                        reinterpret_cast<unsigned char*>(salted.data())) != 1) {
    return Fail(ErrorCode::kUnknown, "scram: PBKDF2 failed");
  }
  return salted;
}

Result<ScramSecret> MakeScramSecret(std::string_view password, std::string salt, int iterations) {
  auto salted = ScramSaltedPassword(password, salt, iterations);
  if (!salted) return Fail(salted.error());
  ScramSecret s;
  s.salt = std::move(salt);
  s.iterations = iterations;
  s.stored_key = Sha256(HmacSha256(*salted, "Client Key"));
  s.server_key = HmacSha256(*salted, "Server Key");
  return s;
}

Result<ScramSecret> MakeScramSecret(std::string_view password) {
  auto salt = RandomBytes(kSaltBytes);
  if (!salt) return Fail(salt.error());
  return MakeScramSecret(password, std::move(*salt), 4096);
}

ScramServer::ScramServer(ScramSecret secret, std::string server_nonce_suffix)
    : secret_(std::move(secret)), nonce_suffix_(std::move(server_nonce_suffix)) {}

Result<std::string> ScramServer::ClientFirst(std::string_view message) {
  // gs2-header: "n,," or "y,," (an authzid between the commas is refused).
  if (message.size() < 3 || (message[0] != 'n' && message[0] != 'y') || message[1] != ',' ||
      message[2] != ',') {
    return Fail(message.starts_with("p=")
                    ? Error(ErrorCode::kProtocol, "scram: channel binding is not supported")
                    : Bad("client-first-message"));
  }
  gs2_header_ = std::string(message.substr(0, 3));
  client_first_bare_ = std::string(message.substr(3));
  auto client_nonce = Attr(client_first_bare_, 'r');
  if (!client_nonce || client_nonce->empty()) return Fail(Bad("client-first-message"));
  if (nonce_suffix_.empty()) {
    auto raw = RandomBytes(kNonceBytes);
    if (!raw) return Fail(raw.error());
    nonce_suffix_ = Base64(*raw);
  }
  nonce_ = std::string(*client_nonce) + nonce_suffix_;
  server_first_ =
      "r=" + nonce_ + ",s=" + Base64(secret_.salt) + ",i=" + std::to_string(secret_.iterations);
  return server_first_;
}

Result<std::string> ScramServer::ClientFinal(std::string_view message) {
  if (server_first_.empty()) return Fail(Bad("exchange (client-final before client-first)"));
  const size_t proof_at = message.rfind(",p=");
  if (proof_at == std::string_view::npos) return Fail(Bad("client-final-message"));
  const std::string_view without_proof = message.substr(0, proof_at);
  auto binding = Attr(without_proof, 'c');
  auto nonce = Attr(without_proof, 'r');
  auto proof = DecodeBase64(message.substr(proof_at + 3));
  if (!binding || !nonce || !proof) return Fail(Bad("client-final-message"));
  if (*binding != Base64(gs2_header_)) {
    return Fail(ErrorCode::kProtocol, "scram: channel binding data does not match");
  }
  if (*nonce != nonce_) return Fail(ErrorCode::kProtocol, "scram: nonce does not match");
  const std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  const std::string client_signature = HmacSha256(secret_.stored_key, auth_message);
  const std::string client_key = Xor(*proof, client_signature);
  if (proof->size() != client_signature.size() ||
      !ConstantTimeEquals(Sha256(client_key), secret_.stored_key)) {
    return Fail(ErrorCode::kInvalidArgument, "password authentication failed");
  }
  return "v=" + Base64(HmacSha256(secret_.server_key, auth_message));
}

}  // namespace pgcdc::adapter::pgwire
