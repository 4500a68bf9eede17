// Web console: a single static page served at / on the main HTTP server
// (embedded in the binary, no CDN, no build step). It shows the live event
// stream (/inspect/stream) with a channel filter and pause/resume, and
// per-adapter counters and health (/api/stats, /healthz), refreshed every
// second.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace pgcdc::net {
class HttpServer;
}

namespace pgcdc::console {

// The page (HTML with inline CSS and JavaScript).
std::string_view Page();

// Mounts GET / answering `html` (a page that lives as long as the server)
// with the headers every page of ours carries (no cache, a CSP that allows
// only its own inline script and style, no framing).
void MountPage(net::HttpServer& server, std::string_view html);

// Mounts GET / (the page) and GET /api/stats (`stats()` must return JSON).
void Mount(net::HttpServer& server, std::function<std::string()> stats);

}  // namespace pgcdc::console
