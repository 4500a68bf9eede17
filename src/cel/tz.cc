#include "cel/tz.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <vector>

#include "core/mutex.h"

namespace pgcdc::cel {

namespace {

struct Zone {
  std::vector<int64_t> transitions;  // sorted transition times
  std::vector<uint8_t> type_index;   // local time type after each transition
  std::vector<int32_t> offsets;      // UT offset per local time type
  int32_t initial = 0;               // offset before the first transition
};

uint32_t Be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
int64_t Be64(const unsigned char* p) {
  return static_cast<int64_t>((uint64_t{Be32(p)} << 32) | Be32(p + 4));
}

// Parses a TZif file (version 2+ 64-bit block when present).
std::unique_ptr<Zone> ParseTzif(const std::string& data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t size = data.size();
  if (size < 44 || data.compare(0, 4, "TZif") != 0) return nullptr;
  auto counts = [&](size_t at, uint32_t c[6]) {
    for (int i = 0; i < 6; ++i) c[i] = Be32(p + at + 20 + 4 * i);
  };
  uint32_t c[6];  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
  counts(0, c);
  size_t block = 44;
  int time_size = 4;
  if (data[4] >= '2') {
    size_t v1 = size_t{c[3]} * 5 + size_t{c[4]} * 6 + c[5] + size_t{c[2]} * 8 + c[1] + c[0];
    size_t second = 44 + v1;
    if (second + 44 > size || data.compare(second, 4, "TZif") != 0) return nullptr;
    counts(second, c);
    block = second + 44;
    time_size = 8;
  }
  size_t need = size_t{c[3]} * (time_size + 1) + size_t{c[4]} * 6;
  if (block + need > size || c[4] == 0) return nullptr;
  auto zone = std::make_unique<Zone>();
  const unsigned char* t = p + block;
  for (uint32_t i = 0; i < c[3]; ++i) {
    zone->transitions.push_back(time_size == 8 ? Be64(t + 8 * i)
                                               : static_cast<int32_t>(Be32(t + 4 * i)));
  }
  const unsigned char* idx = t + size_t{c[3]} * time_size;
  for (uint32_t i = 0; i < c[3]; ++i) {
    if (idx[i] >= c[4]) return nullptr;
    zone->type_index.push_back(idx[i]);
  }
  const unsigned char* types = idx + c[3];
  for (uint32_t i = 0; i < c[4]; ++i) {
    zone->offsets.push_back(static_cast<int32_t>(Be32(types + 6 * i)));
  }
  zone->initial = zone->offsets[0];
  return zone;
}

bool ValidZoneName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/') return false;
  if (name.find("..") != std::string_view::npos) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '/' || ch == '_' || ch == '-' || ch == '+';
  });
}

const Zone* LoadZone(std::string_view name) {
  static Mutex mu;
  static std::map<std::string, std::unique_ptr<Zone>, std::less<>> cache;
  MutexLock lock(mu);
  auto it = cache.find(name);
  if (it != cache.end()) return it->second.get();
  // Bounded cache (names come from expressions); unknown names are cached too.
  constexpr size_t kMaxCachedZones = 1000;
  if (cache.size() >= kMaxCachedZones) return nullptr;
  std::unique_ptr<Zone> zone;
  if (ValidZoneName(name)) {
    std::ifstream in("/usr/share/zoneinfo/" + std::string(name), std::ios::binary);
    if (in) {
      std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      zone = ParseTzif(data);
    }
  }
  const Zone* result = zone.get();
  cache.emplace(std::string(name), std::move(zone));
  return result;
}

}  // namespace

bool TimeZoneOffset(std::string_view zone, int64_t unix_seconds, int64_t& offset,
                    std::string& error) {
  if (zone == "UTC" || zone == "Z" || zone == "GMT") {
    offset = 0;
    return true;
  }
  // [+-]HH:MM (a bare HH:MM means +HH:MM).
  std::string_view z = zone;
  int sign = 1;
  if (!z.empty() && (z[0] == '+' || z[0] == '-')) {
    sign = z[0] == '-' ? -1 : 1;
    z.remove_prefix(1);
  }
  if (z.size() == 5 && z[2] == ':' && std::isdigit(static_cast<unsigned char>(z[0])) &&
      std::isdigit(static_cast<unsigned char>(z[1])) &&
      std::isdigit(static_cast<unsigned char>(z[3])) &&
      std::isdigit(static_cast<unsigned char>(z[4]))) {
    int h = (z[0] - '0') * 10 + (z[1] - '0');
    int m = (z[3] - '0') * 10 + (z[4] - '0');
    offset = sign * (h * 3600 + m * 60);
    return true;
  }
  const Zone* tz = LoadZone(zone);
  if (tz == nullptr) {
    error = "unknown time zone '" + std::string(zone) + "'";
    return false;
  }
  auto it = std::upper_bound(tz->transitions.begin(), tz->transitions.end(), unix_seconds);
  if (it == tz->transitions.begin()) {
    offset = tz->initial;
  } else {
    offset = tz->offsets[tz->type_index[it - tz->transitions.begin() - 1]];
  }
  return true;
}

}  // namespace pgcdc::cel
