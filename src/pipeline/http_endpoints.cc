#include "pipeline/http_endpoints.h"

#include <malloc.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/health.h"
#include "core/json.h"
#include "core/metrics.h"
#include "net/http_server.h"

namespace pgcdc::pipeline {

// /healthz and /readyz stay open when HTTP auth is on (probes); /metrics
// needs credentials like everything else.
void MountCoreEndpoints(net::HttpServer& server, const Health& health,
                        const std::function<bool()>& ready) {
  server.Handle("GET", "/healthz",
                [&health](const net::HttpRequest&) {
                  net::HttpResponse r;
                  r.status = health.Overall() == HealthStatus::kDown ? 503 : 200;
                  r.body = health.ToJson();
                  return r;
                },
                {.public_route = true});
  server.Handle("GET", "/readyz",
                [ready](const net::HttpRequest&) {
                  net::HttpResponse r;
                  const bool ok = ready();
                  r.status = ok ? 200 : 503;
                  r.body = ok ? "{\"ready\":true}" : "{\"ready\":false}";
                  return r;
                },
                {.public_route = true});
  MountMetrics(server);
  MountDebug(server);
}

void MountMetrics(net::HttpServer& server) {
  server.Handle("GET", "/metrics", [](const net::HttpRequest&) {
    net::HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics::Default().Expose();
    return r;
  });
}

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// {"count":N,"threads":[{"tid","name","state","cpu_seconds"}]} from /proc.
std::string ThreadsJson() {
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  std::string list;
  size_t count = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const std::string dir = task.path().string();
    std::string name = ReadFile(dir + "/comm");
    while (!name.empty() && name.back() == '\n') name.pop_back();
    // stat: "tid (comm) state ... utime(14) stime(15)"; comm may hold spaces.
    const std::string stat = ReadFile(dir + "/stat");
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    fields >> state;
    std::string skip;
    for (int i = 4; i < 14; ++i) fields >> skip;
    double utime = 0, stime = 0;
    fields >> utime >> stime;
    if (count++ > 0) list += ",";
    list += "{\"tid\":" + task.path().filename().string() + ",\"name\":";
    json::AppendString(list, name);
    list += ",\"state\":";
    json::AppendString(list, state);
    std::ostringstream cpu;
    cpu << (utime + stime) / hz;
    list += ",\"cpu_seconds\":" + cpu.str() + "}";
  }
  return "{\"count\":" + std::to_string(count) + ",\"threads\":[" + list + "]}";
}

// Resident and virtual size from /proc/self/status, and glibc's allocator
// totals (mallinfo2).
std::string MemoryJson() {
  std::string out = "{";
  std::istringstream status(ReadFile("/proc/self/status"));
  bool first = true;
  for (std::string line; std::getline(status, line);) {
    for (const auto& [key, name] : {std::pair{"VmRSS:", "rss_bytes"},
                                    {"VmHWM:", "rss_peak_bytes"},
                                    {"VmSize:", "virtual_bytes"}}) {
      if (!line.starts_with(key)) continue;
      const uint64_t kib = std::strtoull(line.c_str() + std::string_view(key).size(), nullptr, 10);
      out += std::string(first ? "" : ",") + "\"" + name + "\":" + std::to_string(kib * 1024);
      first = false;
    }
  }
  const struct mallinfo2 mi = ::mallinfo2();
  out += std::string(first ? "" : ",") + "\"malloc\":{\"arena_bytes\":" + std::to_string(mi.arena) +
         ",\"in_use_bytes\":" + std::to_string(mi.uordblks) +
         ",\"free_bytes\":" + std::to_string(mi.fordblks) +
         ",\"mmap_bytes\":" + std::to_string(mi.hblkhd) + "}}";
  return out;
}

}  // namespace

void MountDebug(net::HttpServer& server) {
  server.Handle("GET", "/debug/threads", [](const net::HttpRequest&) {
    net::HttpResponse r;
    r.body = ThreadsJson();
    return r;
  });
  server.Handle("GET", "/debug/memory", [](const net::HttpRequest&) {
    net::HttpResponse r;
    r.body = MemoryJson();
    return r;
  });
}

}  // namespace pgcdc::pipeline
