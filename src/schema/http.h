// The schema store's HTTP API on the main server (docs/schema-store.md):
//   GET /api/v1/schemas                          subjects with their latest version
//   GET /api/v1/schemas/<subject>                the latest version
//   GET /api/v1/schemas/<subject>/versions/<n>   one version
// JSON bodies; an unknown subject or version is a 404 with {"error":…}.
// Protected like every non-public route of that server (--http-auth-token).
#pragma once

#include <memory>

namespace pgcdc::net {
class HttpServer;
}  // namespace pgcdc::net

namespace pgcdc::schema {

class Store;

void MountApi(net::HttpServer& server, const std::shared_ptr<Store>& store);

}  // namespace pgcdc::schema
