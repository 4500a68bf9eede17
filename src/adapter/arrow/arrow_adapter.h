// arrow adapter (SPEC §5.18, fixed and extended): keeps the last
// `buffer_size` events of every channel in a ring and serves them over Arrow
// Flight (gRPC): ListFlights, GetFlightInfo, GetSchema, DoGet.
//
// Differences from upstream (docs/arrow.md):
//  - ticket offsets are ABSOLUTE per channel (upstream's were relative to the
//    moving ring window and skipped or repeated rows); an offset that fell out
//    of the ring is refused with OUT_OF_RANGE naming the oldest available one;
//  - `--arrow-schema typed`: one typed column per table column of WAL rows;
//  - DoGet sends several record batches (≤ --arrow-batch-rows rows and about
//    --arrow-batch-bytes each; the defaults keep clients' default 4 MiB
//    message limit), each with app_metadata {"first_offset":A,"next_offset":B};
//  - channel/operation/source are dictionary-encoded (--arrow-dictionary);
//  - TLS, a bearer token, and a localhost default address.
// Events are acknowledged once buffered: the sink keeps them for whoever asks.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "adapter/adapter.h"
#include "registry/registry.h"

namespace pgcdc::adapter::arrow {

struct Options {
  std::string addr = "127.0.0.1:8815";
  size_t buffer_size = 10'000;
  std::string schema = "envelope";
  size_t batch_rows = 65'536;
  size_t batch_bytes = 3u << 20;
  bool dictionary = true;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string token;
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(2)};
};

[[nodiscard]] AdapterPtr MakeArrowAdapter(Options options);

ConnectorInfo Connector();

}  // namespace pgcdc::adapter::arrow
