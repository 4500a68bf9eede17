// Avro object container files (the Avro specification's "Object Container
// Files"): what Iceberg manifests and manifest lists are. Pure; no I/O.
//
// Writing: the caller encodes each record's datum with the primitives below
// (or avro.h's AppendLong/AppendBytes) under its schema; ContainerFile()
// frames them (magic, metadata map with avro.schema and avro.codec=null, a
// sync marker, one data block).
//
// Reading: ReadContainer() decodes any container file whose codec is `null`
// generically, driven by the writer schema in its header, into JSON DOM
// values: records → objects (field name → value), unions → the branch's value
// (null → null), arrays → arrays, maps → objects, enums → the symbol, int/long
// → int64, float/double → double, string/bytes/fixed → string (the raw
// bytes). Truncated or malformed input is an error (kParse), never a crash;
// sizes are checked against what is left of the input.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace pgcdc::encoding::avro {

// Datum primitives (binary encoding).
void AppendInt(int64_t v, std::string& out);  // int and long: zigzag varint
void AppendBool(bool v, std::string& out);
void AppendString(std::string_view s, std::string& out);  // string and bytes
// A union's branch index.
inline void AppendUnion(int64_t branch, std::string& out) { AppendInt(branch, out); }

// A container file holding `records` (each an encoded datum of `schema_json`)
// with `metadata` (user keys; avro.schema and avro.codec are added). `sync`
// is the 16-byte marker (random per file in practice).
std::string ContainerFile(std::string_view schema_json,
                          const std::vector<std::pair<std::string, std::string>>& metadata,
                          std::span<const std::string> records, std::string_view sync);

struct Container {
  boost::json::value schema;  // the writer schema (parsed avro.schema)
  std::map<std::string, std::string> metadata;
  std::vector<boost::json::value> records;
};
Result<Container> ReadContainer(std::string_view bytes);

}  // namespace pgcdc::encoding::avro
