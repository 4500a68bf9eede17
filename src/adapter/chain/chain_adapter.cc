#include "adapter/chain/chain_adapter.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <memory>

#include "core/bytes.h"
#include "core/json.h"
#include "core/metrics.h"
#include "dlq/dlq.h"
#include "registry/define.h"

namespace pgcdc::adapter::chain {

namespace {

constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;

struct Series {
  metrics::Counter& processed = metrics::DefaultCounter(
      "pgcdc_chain_events_processed_total", "Events the chain adapter encoded for its terminal.");
  metrics::Counter& errors = metrics::DefaultCounter(
      "pgcdc_chain_errors_total", "Events a chain link could not encode (dead-lettered).");
};
Series& S() { return metrics::Lazy<Series>(); }

Result<std::string> HexToBytes(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return Fail(ErrorCode::kConfig, "odd number of hex digits");
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return Fail(ErrorCode::kConfig, "not a hex string");
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

const EVP_CIPHER* Cipher(size_t key_size) {
  switch (key_size) {
    case 16:
      return EVP_aes_128_gcm();
    case 24:
      return EVP_aes_192_gcm();
    case 32:
      return EVP_aes_256_gcm();
    default:
      return nullptr;
  }
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

}  // namespace

Result<std::string> Gzip(std::string_view bytes) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Fail(ErrorCode::kUnknown, "gzip: deflateInit2 failed");
  }
  std::string out(deflateBound(&z, static_cast<uLong>(bytes.size())) + 32, '\0');
  z.next_in = const_cast<Bytef*>(U(bytes));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = U(out);
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Fail(ErrorCode::kUnknown, "gzip: deflate did not finish");
  return out;
}

Result<std::string> Gunzip(std::string_view bytes) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return Fail(ErrorCode::kUnknown, "gunzip: init failed");
  std::string out;
  char buf[65536];
  z.next_in = const_cast<Bytef*>(U(bytes));
  z.avail_in = static_cast<uInt>(bytes.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) break;  // truncated input
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return Fail(ErrorCode::kParse, "gunzip: not a complete gzip stream");
  return out;
}

Result<std::string> Seal(std::string_view key, std::string_view plain) {
  const EVP_CIPHER* cipher = Cipher(key.size());
  if (cipher == nullptr) return Fail(ErrorCode::kConfig, "AES key must be 16, 24 or 32 bytes");
  std::string out(kNonce + plain.size() + kTag, '\0');
  if (RAND_bytes(U(out), kNonce) != 1) return Fail(ErrorCode::kUnknown, "no random nonce");
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  int fin = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), cipher, nullptr, U(key), U(out)) != 1 ||
      EVP_EncryptUpdate(ctx.get(), U(out) + kNonce, &len, U(plain),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), U(out) + kNonce + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, U(out) + kNonce + plain.size()) !=
          1) {
    return Fail(ErrorCode::kUnknown, "AES-GCM encryption failed");
  }
  return out;
}

Result<std::string> Open(std::string_view key, std::string_view sealed) {
  const EVP_CIPHER* cipher = Cipher(key.size());
  if (cipher == nullptr) return Fail(ErrorCode::kConfig, "AES key must be 16, 24 or 32 bytes");
  if (sealed.size() < kNonce + kTag) return Fail(ErrorCode::kParse, "AES-GCM: input too short");
  const size_t n = sealed.size() - kNonce - kTag;
  std::string out(n, '\0');
  std::string tag(sealed.substr(kNonce + n));
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  int fin = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), cipher, nullptr, U(key), U(sealed)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), U(out), &len, U(sealed) + kNonce, static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, U(tag)) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), U(out) + len, &fin) != 1) {
    return Fail(ErrorCode::kParse, "AES-GCM: authentication failed (wrong key or altered data)");
  }
  return out;
}

Result<Links> Links::Make(bool compress, std::string_view hex_key) {
  Links l;
  l.compress_ = compress;
  if (!hex_key.empty()) {
    auto key = HexToBytes(hex_key);
    if (!key) return Fail(ErrorCode::kConfig, "chain.encrypt_key: " + key.error().message());
    if (Cipher(key->size()) == nullptr) {
      return Fail(ErrorCode::kConfig,
                  "chain.encrypt_key: must be 16, 24 or 32 bytes (32, 48 or 64 hex digits)");
    }
    l.key_ = std::move(*key);
  }
  return l;
}

Result<std::string> Links::Encode(std::string_view payload) const {
  std::string bytes(payload);
  if (compress_) {
    auto z = Gzip(bytes);
    if (!z) return Fail(z.error());
    bytes = std::move(*z);
  }
  if (!key_.empty()) {
    auto sealed = Seal(key_, bytes);
    if (!sealed) return Fail(sealed.error());
    bytes = std::move(*sealed);
  }
  std::string out = "\"";
  json::AppendBase64(out, bytes);
  out += '"';
  return out;
}

Result<std::string> Links::Decode(std::string_view encoded) const {
  if (encoded.size() < 2 || encoded.front() != '"' || encoded.back() != '"') {
    return Fail(ErrorCode::kParse, "payload is not a chain-encoded string");
  }
  auto raw = DecodeBase64(encoded.substr(1, encoded.size() - 2));
  if (!raw) return Fail(ErrorCode::kParse, "payload is not base64");
  std::string bytes = std::move(*raw);
  if (!key_.empty()) {
    auto plain = Open(key_, bytes);
    if (!plain) return Fail(plain.error());
    bytes = std::move(*plain);
  }
  if (compress_) {
    auto plain = Gunzip(bytes);
    if (!plain) return Fail(plain.error());
    bytes = std::move(*plain);
  }
  return bytes;
}

ChainAdapter::ChainAdapter(Links links, AdapterPtr terminal)
    : links_(std::move(links)), terminal_(std::move(terminal)) {}

Status ChainAdapter::Attach(const Services& services) {
  services_ = services;
  return terminal_->Attach(services);
}

Status ChainAdapter::Deliver(std::span<const Event* const> events) {
  copies_.clear();
  copies_.reserve(events.size());
  for (const Event* e : events) {
    auto encoded = links_.Encode(e->payload);
    if (!encoded) {
      S().errors.Inc();
      if (services_.dlq == nullptr) return Fail(encoded.error().Wrap("chain"));
      if (auto st = services_.dlq->Record(*e, Name(), encoded.error().message()); !st) return st;
      continue;
    }
    Event copy = *e;  // a copy starts without the cached JSON
    copy.payload = std::move(*encoded);
    copies_.push_back(std::move(copy));
  }
  ptrs_.clear();
  for (const Event& e : copies_) ptrs_.push_back(&e);
  S().processed.Inc(copies_.size());
  if (ptrs_.empty()) return Ok();
  return terminal_->Deliver(ptrs_);
}

ConnectorInfo Connector() {
  using O = Options;
  return DefineAdapter<Options>({
      .name = "chain",
      .description = "Encodes each payload (gzip, AES-GCM, as a base64 JSON string) and hands "
                     "the events to another adapter (--chain-terminal).",
      .params = {Param("chain.terminal", &O::terminal,
                       "the adapter that delivers the encoded events (e.g. webhook, file, kafka)",
                       {.flag = "chain-terminal", .required = true}),
                 Param("chain.compress", &O::compress, "gzip each payload",
                       {.flag = "chain-compress"}),
                 Param("chain.encrypt_key", &O::encrypt_key,
                       "AES-GCM key as hex (32, 48 or 64 digits); empty = no encryption",
                       {.flag = "chain-encrypt-key"}),
                 Param("chain.batch_size", &O::batch_size,
                       "accepted for compatibility; batching is the terminal's own setting",
                       {.flag = "chain-batch-size", .min = 0})},
      .validate =
          [](const O& o, const Context&, Errors& errors) {
            if (o.terminal == "chain") errors.push_back("chain.terminal: cannot be chain itself");
            if (auto l = Links::Make(o.compress, o.encrypt_key); !l) {
              errors.push_back(l.error().message());
            } else if (l->empty()) {
              errors.push_back(
                  "chain: no link configured (set --chain-compress and/or --chain-encrypt-key)");
            }
          },
      .inner_key = "chain.terminal",
      .wrap = [](const O& o, const Context&, AdapterPtr inner) -> Result<AdapterPtr> {
        auto links = Links::Make(o.compress, o.encrypt_key);
        if (!links) return Fail(links.error());
        return std::make_unique<ChainAdapter>(std::move(*links), std::move(inner));
      },
  });
}

}  // namespace pgcdc::adapter::chain

PGCDC_REGISTER_CONNECTOR(adapter, chain, pgcdc::adapter::chain::Connector)
