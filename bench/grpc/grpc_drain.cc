// A minimal C++ gRPC subscriber for bench/grpc/grpc_bench.sh: subscribes to
// pgcdc.EventStream/Subscribe (all channels), parses every event, and exits
// once it has --expect events, printing one JSON line:
//   {"events":N,"elapsed_ms":T,"status":C}
// (T from the subscription's first response — initial metadata or event —
// to the last event; C the stream's status code when it ended early, else 0).
// Usage: grpc_drain --addr IPV4:PORT --expect N
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "pgcdc/eventstream.grpc.pb.h"

int main(int argc, char** argv) {
  std::string addr = "127.0.0.1:9090";
  long expect = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--addr") == 0) addr = argv[i + 1];
    if (std::strcmp(argv[i], "--expect") == 0) expect = std::strtol(argv[i + 1], nullptr, 10);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  // A large stream window up front (like @grpc/grpc-js's): the server is not
  // held to small writes while BDP probing grows gRPC's default 64 KB.
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 8 * 1024 * 1024);
  // "ipv4:" skips the DNS resolver for a literal address.
  auto channel =
      grpc::CreateCustomChannel("ipv4:" + addr, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::fprintf(stderr, "grpc_drain: cannot connect to %s\n", addr.c_str());
    return 2;
  }
  auto stub = pgcdc_wire::EventStream::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_wait_for_ready(true);
  pgcdc_wire::SubscribeRequest req;
  auto reader = stub->Subscribe(&ctx, req);
  reader->WaitForInitialMetadata();
  const auto t0 = std::chrono::steady_clock::now();
  pgcdc_wire::Event ev;
  long n = 0;
  size_t bytes = 0;
  while (n < expect && reader->Read(&ev)) {
    ++n;
    bytes += ev.payload().size();
  }
  const auto t1 = std::chrono::steady_clock::now();
  int code = 0;
  if (n < expect) code = reader->Finish().error_code();
  ctx.TryCancel();
  std::printf("{\"events\":%ld,\"elapsed_ms\":%.1f,\"payload_bytes\":%zu,\"status\":%d}\n", n,
              std::chrono::duration<double, std::milli>(t1 - t0).count(), bytes, code);
  return n == expect ? 0 : 1;
}
