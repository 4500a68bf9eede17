// chain: wraps another adapter (--chain-terminal) and rewrites each event's
// payload through links before handing it on (SPEC §5.23): gzip
// (--chain-compress), then AES-GCM (--chain-encrypt-key, 16/24/32-byte hex
// key, random 12-byte nonce prepended, 16-byte tag appended). Unlike the
// reference tool, the result stays valid JSON whatever the terminal: the
// payload becomes a JSON string holding the base64 of the bytes, so every
// sink can carry it; `pgcdc chain decode` turns such events back.
//
// Everything else — delivery, acknowledgement, held events, subscribers —
// is the terminal's: the chain only forwards. An event a link cannot encode
// goes to the DLQ (counted) instead of being skipped silently.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/adapter.h"
#include "core/error.h"

namespace pgcdc::adapter::chain {

struct Options {
  std::string terminal;     // the adapter that delivers
  bool compress = false;    // gzip link
  std::string encrypt_key;  // hex AES key (16, 24 or 32 bytes); empty = no encryption
  int64_t batch_size = 0;   // accepted for compatibility (a no-op link upstream)
};

// The payload links, both ways. Pure apart from the random nonce.
class Links {
 public:
  static Result<Links> Make(bool compress, std::string_view hex_key);
  // Payload JSON text -> JSON string text ("\"<base64>\"").
  Result<std::string> Encode(std::string_view payload) const;
  // The reverse: a payload Encode() produced -> the original JSON text.
  Result<std::string> Decode(std::string_view encoded) const;
  bool empty() const { return !compress_ && key_.empty(); }

 private:
  bool compress_ = false;
  std::string key_;  // raw key bytes
};

// gzip and its inverse (zlib), exposed for tests.
Result<std::string> Gzip(std::string_view bytes);
Result<std::string> Gunzip(std::string_view bytes);
// AES-GCM with `key` (16/24/32 bytes): nonce || ciphertext || tag, and back.
Result<std::string> Seal(std::string_view key, std::string_view plain);
Result<std::string> Open(std::string_view key, std::string_view sealed);

class ChainAdapter final : public Adapter {
 public:
  ChainAdapter(Links links, AdapterPtr terminal);
  std::string_view Name() const override { return "chain"; }
  Status Attach(const Services& services) override;
  Status Open() override { return terminal_->Open(); }
  Status Deliver(std::span<const Event* const> events) override;
  Status Flush() override { return terminal_->Flush(); }
  std::optional<uint64_t> OldestHeldSeq() const override { return terminal_->OldestHeldSeq(); }
  std::optional<size_t> Subscribers() const override { return terminal_->Subscribers(); }
  void Interrupt() override { terminal_->Interrupt(); }
  void Close() override { terminal_->Close(); }

 private:
  Links links_;
  AdapterPtr terminal_;
  Services services_;
  std::vector<Event> copies_;
  std::vector<const Event*> ptrs_;
};

}  // namespace pgcdc::adapter::chain
