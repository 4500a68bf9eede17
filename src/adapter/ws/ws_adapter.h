// ws adapter (SPEC §5.4): WebSocket on GET /ws (all channels) and
// /ws/<channel> (plus ?channel=a,b filters). One text message per event: the
// compact envelope JSON, framed once and shared by every client. Deliver()
// only queues to the clients' bounded queues (net::Broadcaster); a client
// that falls behind is disconnected with close code 1013 ("try again later"),
// the pipeline never waits for a socket. Pings every --ws-ping-interval; a
// client that answers neither that ping nor anything else by the next one is
// dropped. At shutdown clients get close 1000 "server shutting down". Events
// are acknowledged once queued (best-effort for clients not connected).
//
// Serves on the main HTTP server (Services::http) unless --ws-addr names
// another address; then the adapter runs its own server.
// Threads: Deliver()/Close() on the adapter worker; route handlers on the
// HTTP server's I/O thread.
#pragma once

#include "registry/registry.h"

namespace pgcdc::adapter::ws {

// The adapter is a streamsink::BroadcastSink (adapter/stream), configured by
// the `websocket:` section.
ConnectorInfo Connector();

}  // namespace pgcdc::adapter::ws
