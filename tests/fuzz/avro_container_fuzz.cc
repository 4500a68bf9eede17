// libFuzzer target for the Avro object container reader (Iceberg manifests
// and manifest lists read back by the iceberg sink).
//
// Input: any bytes, read as a container file; and the same bytes as the
// datum of a manifest-list record framed by our writer.
// Invariants checked (abort on violation):
//  * errors are kParse with the "avro container: " prefix, never a crash;
//  * a file our writer frames decodes to the records it was given.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/encoding/avro_container.h"

namespace {

namespace avro = pgcdc::encoding::avro;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "avro_container_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

constexpr std::string_view kSchema =
    R"({"type":"record","name":"r","fields":[{"name":"s","type":"string"},)"
    R"({"name":"n","type":["null","long"]},{"name":"a","type":{"type":"array","items":"int"}},)"
    R"({"name":"m","type":{"type":"map","values":"bytes"}}]})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto c = avro::ReadContainer(in);
  if (!c) {
    Check(c.error().code() == pgcdc::ErrorCode::kParse, "error code");
    Check(c.error().message().starts_with("avro container: "), "error prefix");
  }
  // Our own framing around a record built from the input.
  std::string rec;
  avro::AppendString(in.substr(0, size / 2), rec);
  avro::AppendUnion(1, rec);
  avro::AppendInt(static_cast<int64_t>(size), rec);
  avro::AppendInt(1, rec);
  avro::AppendInt(size > 0 ? data[0] : 0, rec);
  avro::AppendInt(0, rec);
  avro::AppendInt(1, rec);
  avro::AppendString("k", rec);
  avro::AppendString(in.substr(size / 2), rec);
  avro::AppendInt(0, rec);
  const std::string file = avro::ContainerFile(kSchema, {{"x", std::string(in.substr(0, 8))}},
                                               std::vector<std::string>{rec}, "0123456789abcdef");
  auto back = avro::ReadContainer(file);
  Check(back.has_value(), "own file reads back");
  Check(back->records.size() == 1, "one record");
  const auto& r = back->records[0].as_object();
  Check(r.at("s").as_string() == in.substr(0, size / 2), "string field");
  Check(r.at("n").as_int64() == static_cast<int64_t>(size), "union long");
  Check(r.at("m").as_object().at("k").as_string() == in.substr(size / 2), "map bytes");
  return 0;
}
