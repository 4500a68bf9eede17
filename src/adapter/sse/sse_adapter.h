// sse adapter (SPEC §5.3): Server-Sent Events on GET /events (all channels)
// and /events/<channel> (plus ?channel=a,b filters). Each event becomes one
// frame "id: <event id>\nevent: <channel>\ndata: <envelope JSON>\n\n",
// encoded once and shared by every client. Deliver() only queues frames to
// the clients' bounded queues (net::Broadcaster); a client that falls behind
// is disconnected, the pipeline never waits for a socket. Events are
// acknowledged once queued: delivery is best-effort for clients that are not
// connected, softened by a bounded replay ring for Last-Event-ID resumes.
//
// Serves on the main HTTP server (Services::http, --http-addr) unless
// --sse-addr names another address; then the adapter runs its own server.
// Threads: Deliver()/Close() on the adapter worker; route handlers on the
// HTTP server's I/O thread.
#pragma once

#include "registry/registry.h"

namespace pgcdc::adapter::sse {

// The adapter is a streamsink::BroadcastSink (adapter/stream), configured by
// the `sse:` section.
ConnectorInfo Connector();

}  // namespace pgcdc::adapter::sse
