#include "core/uuid.h"

#include <pthread.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cstring>

namespace pgcdc {

namespace uuid_internal {

// The monotonic step, exposed (undeclared in the header) for tests. States
// are (unix_ms << 12) | counter12.
uint64_t NextMonotonicState(uint64_t last_state, uint64_t now_ms);

}  // namespace uuid_internal

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr uint64_t kMsMask = (uint64_t{1} << 48) - 1;
constexpr uint64_t kRandom62Mask = (uint64_t{1} << 62) - 1;

// Monotonic generator state: (unix_ms << 12) | counter12. Incrementing the
// packed value bumps the counter and, on counter overflow, carries into the
// millisecond field, which is exactly the RFC 9562 "method 1" behaviour.
std::atomic<uint64_t> g_last_state{0};

// Bumped in the child after fork() so every thread reseeds its PRNG and the
// child never replays the parent's random bits.
std::atomic<uint64_t> g_fork_generation{0};

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// xoshiro256++ (Blackman & Vigna): fast, 256-bit state, good statistical
// quality. Not cryptographic; UUIDv7 only needs uniqueness.
class Xoshiro256 {
 public:
  void Seed() {
    uint64_t seed[4] = {};
    size_t got = 0;
    while (got < sizeof(seed)) {
      ssize_t n = getrandom(reinterpret_cast<char*>(seed) + got, sizeof(seed) - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    // Mix in process/thread specific values as well, so a failed getrandom()
    // still yields distinct streams per thread.
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t mix = seed[0] ^ seed[1] ^ seed[2] ^ seed[3] ^
                   (static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + ts.tv_nsec) ^
                   reinterpret_cast<uintptr_t>(this) ^ static_cast<uint64_t>(getpid()) << 32;
    for (int i = 0; i < 4; ++i) s_[i] = seed[i] ^ SplitMix64(mix);
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;  // all-zero state is a fixed point
    generation_ = g_fork_generation.load(std::memory_order_relaxed);
    seeded_ = true;
  }

  uint64_t Next() {
    if (!seeded_ || generation_ != g_fork_generation.load(std::memory_order_relaxed)) Seed();
    const uint64_t result = std::rotl(s_[0] + s_[3], 23) + s_[0];
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
  }

 private:
  uint64_t s_[4] = {};
  uint64_t generation_ = 0;
  bool seeded_ = false;
};

void OnForkChild() { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

struct ForkHandlerRegistration {
  ForkHandlerRegistration() { pthread_atfork(nullptr, nullptr, &OnForkChild); }
};
const ForkHandlerRegistration g_fork_handler_registration;

Xoshiro256& ThreadRng() {
  thread_local Xoshiro256 rng;
  return rng;
}

void StoreBigEndian64(uint64_t v, uint8_t* dst) {
  if constexpr (std::endian::native == std::endian::little) v = std::byteswap(v);
  std::memcpy(dst, &v, sizeof(v));
}

uint64_t NowUnixMillis() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec < 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1000 + static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

}  // namespace

void Uuid::AppendTo(std::string& out) const {
  char buf[36];
  char* p = buf;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
    *p++ = kHexDigits[bytes[i] >> 4];
    *p++ = kHexDigits[bytes[i] & 0x0f];
  }
  out.append(buf, sizeof(buf));
}

std::string Uuid::ToString() const {
  std::string s;
  s.reserve(36);
  AppendTo(s);
  return s;
}

Uuid MakeUuidV7(uint64_t unix_ms, uint16_t counter12, uint64_t random62) {
  // Big-endian layout: unix_ts_ms(48) | ver(4)=7 | rand_a(12)=counter |
  // var(2)=0b10 | rand_b(62).
  const uint64_t hi = (unix_ms & kMsMask) << 16 | 0x7000 | (counter12 & 0x0fff);
  const uint64_t lo = uint64_t{0x8000000000000000} | (random62 & kRandom62Mask);
  Uuid u;
  StoreBigEndian64(hi, u.bytes.data());
  StoreBigEndian64(lo, u.bytes.data() + 8);
  return u;
}

Uuid MakePositionUuid(uint64_t position60, uint32_t ordinal, uint32_t origin30) {
  constexpr uint64_t kPositionMask = (uint64_t{1} << 60) - 1;
  constexpr uint64_t kOriginMask = (uint64_t{1} << 30) - 1;
  const uint64_t pos = position60 & kPositionMask;
  const uint64_t hi = (pos >> 12) << 16 | 0x8000 | (pos & 0x0fff);
  const uint64_t lo =
      uint64_t{0x8000000000000000} | uint64_t{ordinal} << 30 | (origin30 & kOriginMask);
  Uuid u;
  StoreBigEndian64(hi, u.bytes.data());
  StoreBigEndian64(lo, u.bytes.data() + 8);
  return u;
}

uint32_t PositionOrigin(std::string_view scope) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (const char c : scope) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return static_cast<uint32_t>((h ^ (h >> 30) ^ (h >> 60)) & ((uint64_t{1} << 30) - 1));
}

std::optional<Uuid> ParseUuid(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  Uuid u;
  size_t pos = 0;
  for (size_t i = 0; i < 16; ++i) {
    if (pos == 8 || pos == 13 || pos == 18 || pos == 23) {
      if (text[pos] != '-') return std::nullopt;
      ++pos;
    }
    uint8_t byte = 0;
    for (int half = 0; half < 2; ++half) {
      const char c = text[pos++];
      uint8_t v;
      if (c >= '0' && c <= '9') {
        v = static_cast<uint8_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v = static_cast<uint8_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v = static_cast<uint8_t>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
      byte = static_cast<uint8_t>(byte << 4 | v);
    }
    u.bytes[i] = byte;
  }
  return u;
}

namespace uuid_internal {

uint64_t NextMonotonicState(uint64_t last_state, uint64_t now_ms) {
  // A newer millisecond restarts the counter at 0; the same or an older one
  // (clock stepped back) keeps the last millisecond and bumps the counter,
  // carrying into the millisecond when the counter overflows.
  const uint64_t candidate = (now_ms & kMsMask) << 12;
  return candidate > last_state ? candidate : last_state + 1;
}

}  // namespace uuid_internal

Uuid NewUuidV7() { return NewUuidV7At(NowUnixMillis()); }

Uuid NewUuidV7At(uint64_t now_ms) {
  uint64_t last = g_last_state.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = uuid_internal::NextMonotonicState(last, now_ms);
  } while (!g_last_state.compare_exchange_weak(last, next, std::memory_order_relaxed));
  return MakeUuidV7(next >> 12, static_cast<uint16_t>(next & 0xfff), ThreadRng().Next());
}

}  // namespace pgcdc
