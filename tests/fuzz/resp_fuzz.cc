// libFuzzer target for the RESP2 reply parser of the redis adapter.
//
// Input: one split byte, then the bytes a server could send.
// Invariants checked (abort on violation):
//  * errors are kProtocol with the "resp: " prefix;
//  * feeding the bytes whole or split at any point gives the same replies and
//    the same verdict (the parser is incremental);
//  * a command encoded from pieces of the input parses back, as a reply, to
//    an array of exactly those bulk strings.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/redis/resp.h"

namespace {

using pgcdc::adapter::redis::AppendCommand;
using pgcdc::adapter::redis::Reply;
using pgcdc::adapter::redis::ReplyParser;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "resp_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  bool ok = true;
  std::vector<Reply> replies;
};

Outcome Parse(const std::vector<std::string_view>& chunks) {
  ReplyParser p;
  Outcome o;
  for (std::string_view c : chunks) {
    auto st = p.Feed(c, o.replies);
    if (!st) {
      Check(st.error().code() == pgcdc::ErrorCode::kProtocol, "errors are kProtocol");
      Check(st.error().message().starts_with("resp: "), "errors have the resp: prefix");
      o.ok = false;
      return o;
    }
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const size_t split = in.empty() ? 0 : data[0] % (in.size() + 1);

  const Outcome whole = Parse({in});
  const Outcome parts = Parse({in.substr(0, split), in.substr(split)});
  if (whole.ok) {
    Check(parts.ok, "a split does not turn valid input invalid");
    Check(whole.replies == parts.replies, "a split gives the same replies");
  } else {
    // An error may be found later (after more replies) but never vanishes.
    Check(!parts.ok, "a split does not hide an error");
  }

  // Round trip: pieces of the input as command arguments.
  std::vector<std::string_view> args;
  for (size_t pos = 0; pos < in.size() && args.size() < 16;) {
    const size_t n = static_cast<uint8_t>(in[pos]) % 32;
    args.push_back(in.substr(pos + 1, n));
    pos += 1 + n;
  }
  std::string wire;
  AppendCommand(wire, args);
  const Outcome back = Parse({wire});
  Check(back.ok && back.replies.size() == 1, "an encoded command parses as one reply");
  const Reply& r = back.replies[0];
  Check(r.type == Reply::Type::kArray && r.elements.size() == args.size(), "array of the args");
  for (size_t i = 0; i < args.size(); ++i) {
    Check(r.elements[i].type == Reply::Type::kBulk && r.elements[i].text == args[i],
          "each arg round-trips as a bulk string");
  }
  return 0;
}
