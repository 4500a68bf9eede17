// The sinks `pgcdc verify --against` reads, oldest record first:
//   file:PATH                 JSON lines (the file sink, stdout redirected); the
//                             rotated files PATH.N … PATH.1 are read before PATH
//   pg_table:[DSN/]TABLE      the pg_table sink's table (ordered by created_at,
//                             id); no DSN = the --db database
//   kafka:BROKERS/TOPIC       every partition from its first offset to the high
//                             watermark at start (librdkafka consumer, no group)
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "verify/sink_event.h"

namespace pgcdc::verify {

struct Against {
  enum class Kind { kFile, kPgTable, kKafka };
  Kind kind = Kind::kFile;
  std::string path;     // file
  std::string dsn;      // pg_table ("" = the source database)
  std::string table;    // pg_table
  std::string brokers;  // kafka
  std::string topic;    // kafka
};

// kConfig with the accepted forms for anything else.
Result<Against> ParseAgainst(std::string_view spec);

struct SinkOptions {
  std::string source_dsn;             // pg_table without a DSN
  std::vector<std::string> channels;  // pg_table: only rows of these channels (empty = all)
  std::chrono::milliseconds kafka_timeout{30000};
  std::map<std::string, std::string> kafka_properties;
};

// Called per record; `document` and the hints are valid during the call.
using RecordFn =
    std::function<void(std::string_view document, const Hints& hints, const Location& where)>;

class SinkReader {
 public:
  virtual ~SinkReader() = default;
  // Reads every record in order. May be called again for a second pass.
  // kNotFound / kInvalidArgument when the sink is not there or not readable
  // (a configuration problem); kConnection / kIo / kTimeout otherwise.
  virtual Status ReadAll(const RecordFn& fn) = 0;
  // What was read, for the report ("out.jsonl.1, out.jsonl").
  virtual std::string Describe() const = 0;
};

// Opens the sink (connects, checks the table or file exists, finds the topic).
Result<std::unique_ptr<SinkReader>> OpenSink(const Against& against, const SinkOptions& options);

// The individual readers (sink_reader.cc dispatches).
Result<std::unique_ptr<SinkReader>> OpenFileSink(const std::string& path);
Result<std::unique_ptr<SinkReader>> OpenPgTableSink(const std::string& dsn,
                                                    const std::string& table,
                                                    const std::vector<std::string>& channels);
Result<std::unique_ptr<SinkReader>> OpenKafkaSink(const Against& against,
                                                  const SinkOptions& options);

}  // namespace pgcdc::verify
