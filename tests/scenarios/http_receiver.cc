#include "http_receiver.h"

#include <array>
#include <cstdint>
#include <cstring>

#include "net/http_server.h"

namespace pgcdc::testing {

std::string HttpReceiver::Request::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

HttpReceiver::HttpReceiver(std::vector<std::string> paths)
    : server_(std::make_unique<net::HttpServer>("receiver")) {
  for (const auto& path : paths) {
    for (const char* method : {"POST", "PUT", "GET"}) {
      server_->Handle(method, path, [this](const net::HttpRequest& r) {
        Request req;
        req.method = r.method;
        req.path = r.path;
        req.target = r.target;
        req.headers = r.headers;
        req.body = r.body;
        Reply reply = Handle(std::move(req));
        net::HttpResponse res;
        res.status = reply.status;
        // 1xx/204/304 responses have no body (Beast refuses to send one).
        if (reply.status >= 200 && reply.status != 204 && reply.status != 304) {
          res.body = std::move(reply.body);
        }
        res.headers = std::move(reply.headers);
        return res;
      });
    }
  }
  auto addr = server_->Start({"127.0.0.1", 0});
  if (addr) base_url_ = "http://" + *addr;
}

HttpReceiver::~HttpReceiver() { Stop(); }

void HttpReceiver::Stop() {
  if (server_) server_->Stop();
}

HttpReceiver::Reply HttpReceiver::Handle(Request request) {
  Responder responder;
  {
    std::lock_guard lock(mu_);
    request.at = std::chrono::steady_clock::now();
    request.index = next_index_++;
    responder = responder_;
  }
  // The responder runs unlocked (it may sleep or inspect Requests()).
  Reply reply = responder ? responder(request) : Reply{200, "{}", {}};
  request.reply_status = reply.status;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(std::move(request));
  }
  cv_.notify_all();
  return reply;
}

void HttpReceiver::SetResponder(Responder responder) {
  std::lock_guard lock(mu_);
  responder_ = std::move(responder);
}

void HttpReceiver::RespondWithSequence(std::vector<int> statuses, int then) {
  auto seq = std::make_shared<std::vector<int>>(std::move(statuses));
  auto pos = std::make_shared<size_t>(0);
  // Only the I/O thread calls the responder, so the counter needs no lock.
  SetResponder([seq, pos, then](const Request&) {
    const int status = *pos < seq->size() ? (*seq)[(*pos)++] : then;
    return Reply{status, "{\"status\":" + std::to_string(status) + "}", {}};
  });
}

std::vector<HttpReceiver::Request> HttpReceiver::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t HttpReceiver::Count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

bool HttpReceiver::WaitForRequests(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

void HttpReceiver::Clear() {
  std::lock_guard lock(mu_);
  requests_.clear();
}

// --- SHA-256 (FIPS 180-4) and HMAC (RFC 2104) -------------------------------

namespace {

constexpr std::array<uint32_t, 64> kK = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

uint32_t Rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

std::array<uint8_t, 32> Sha256(std::string_view data) {
  std::array<uint32_t, 8> h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::string msg(data);
  const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<char>((bits >> (i * 8)) & 0xff));
  for (size_t off = 0; off < msg.size(); off += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const uint8_t*>(msg.data() + off + i * 4);
      w[i] = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    }
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = Rotr(w[i - 15], 7) ^ Rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = Rotr(w[i - 2], 17) ^ Rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t s1 = Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25);
      const uint32_t ch = (e & f) ^ (~e & g);
      const uint32_t t1 = hh + s1 + ch + kK[i] + w[i];
      const uint32_t s0 = Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22);
      const uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
      const uint32_t t2 = s0 + maj;
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  std::array<uint8_t, 32> out{};
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 4; ++j) out[i * 4 + j] = static_cast<uint8_t>(h[i] >> (24 - j * 8));
  }
  return out;
}

}  // namespace

std::string TestHmacSha256Hex(std::string_view key, std::string_view data) {
  std::string k(key);
  if (k.size() > 64) {
    auto d = Sha256(k);
    k.assign(reinterpret_cast<const char*>(d.data()), d.size());
  }
  k.resize(64, '\0');
  std::string inner(64, '\0'), outer(64, '\0');
  for (int i = 0; i < 64; ++i) {
    inner[i] = static_cast<char>(k[i] ^ 0x36);
    outer[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  inner.append(data);
  auto ih = Sha256(inner);
  outer.append(reinterpret_cast<const char*>(ih.data()), ih.size());
  auto mac = Sha256(outer);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (uint8_t b : mac) {
    hex.push_back(kHex[b >> 4]);
    hex.push_back(kHex[b & 0xf]);
  }
  return hex;
}

}  // namespace pgcdc::testing
