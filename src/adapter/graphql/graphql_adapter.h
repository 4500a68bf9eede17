// graphql adapter (SPEC §5.17): GraphQL subscriptions over the
// graphql-transport-ws protocol on the main HTTP server (GET <path>), plus
// the SDL at GET <path>/schema.
//
// Protocol (github.com/enisdenjo/graphql-ws PROTOCOL.md): the client must send
// connection_init within the init timeout (else close 4408); a second one is
// closed 4429; a subscribe before the ack 4401; a malformed message 4400; a
// wrong token (when graphql.token is set) 4403; a subscribe whose id is
// active 4409. ping -> pong; the server pings every keepalive interval. An
// invalid document or bad variables answer an `error` message for that id.
// Each matching event is one `next` message; `complete` from either side
// ends a subscription.
//
// Slow subscribers: a subscription that still has `buffer_size` messages
// waiting to be written (queued or in the write in progress) when the next
// batch of events comes is ended with an `error` message ("slow subscriber
// ...") and counted (pgcdc_graphql_slow_subscriptions_total) — events are
// never dropped silently. One that caught up takes a whole batch, so the
// bound is buffer_size + one batch.
//
// Threads: Deliver()/Close() on the adapter worker; WebSocket callbacks on the
// HTTP server's I/O thread; one housekeeping thread for init timeouts and
// keepalive pings. Shared state sits behind one mutex; route handlers hold it
// through a shared_ptr so they may outlive the adapter.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "adapter/adapter.h"
#include "registry/registry.h"

namespace pgcdc::adapter::graphql {

struct Options {
  std::string path = "/graphql";
  bool schema_aware = false;
  size_t buffer_size = 256;  // messages waiting per subscription (+ one batch)
  std::chrono::milliseconds keepalive_interval{std::chrono::seconds(15)};
  std::chrono::milliseconds init_timeout{std::chrono::seconds(15)};
  std::string token;  // required bearer token (header or connection_init payload); empty = none
  std::vector<std::string> allowed_origins;
  size_t max_subscriptions = 100;  // per connection
};

class GraphqlAdapter final : public Adapter {
 public:
  explicit GraphqlAdapter(Options options);
  ~GraphqlAdapter() override;
  std::string_view Name() const override { return "graphql"; }
  Status Attach(const Services& services) override;
  Status Open() override;
  Status Deliver(std::span<const Event* const> events) override;
  std::optional<size_t> Subscribers() const override;
  void Close() override;

  struct State;

 private:
  std::shared_ptr<State> state_;
  std::thread housekeeper_;  // init timeouts and keepalive pings
};

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::graphql
