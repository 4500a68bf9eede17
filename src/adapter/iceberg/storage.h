// Storage: where an Iceberg table's files live, addressed by paths relative
// to the table's root ("data/x.parquet", "metadata/v3.metadata.json"):
//  - LocalStorage: a directory on the local filesystem. Put() writes a temp
//    file, fsyncs it and renames it into place; PutIfAbsent() links the
//    fsynced temp file to its name (link(2) fails when the name exists), so
//    two writers can never both create v<N>.metadata.json.
//  - S3Storage: a bucket and key prefix through the shared S3 client
//    (src/s3, SigV4). PutIfAbsent() checks with HEAD and then writes with
//    `If-None-Match: *`, which S3 (since 2024), MinIO and R2 enforce
//    atomically; on stores that ignore it (s3rver) two concurrent writers
//    could still race: run one writer per table there.
// Errors: kIo / kConnection are worth retrying (disk full, permission,
// network, 5xx); kConfig is not (bad endpoint, credentials refused, no such
// bucket). One thread at a time; Interrupt() from any.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pgcdc::adapter::iceberg {

class Storage {
 public:
  virtual ~Storage() = default;
  // The absolute location of a relative path, as written into metadata
  // ("/warehouse/ns/t/data/x.parquet", "s3://bucket/ns/t/data/x.parquet").
  virtual std::string Location(std::string_view rel) const = 0;
  // The relative path of a location under this table (nullopt when it is
  // elsewhere).
  std::optional<std::string> Relative(std::string_view location) const;
  // Creates or replaces the file.
  virtual Status Put(std::string_view rel, std::string_view body) = 0;
  // Creates the file; kInvalidArgument with "exists" when it already does.
  virtual Status PutIfAbsent(std::string_view rel, std::string_view body) = 0;
  // The file's bytes; nullopt when it does not exist.
  virtual Result<std::optional<std::string>> Get(std::string_view rel) = 0;
  // Aborts a request in flight (S3). Any thread.
  virtual void Interrupt() {}
};
using StoragePtr = std::unique_ptr<Storage>;

// The code PutIfAbsent() fails with when the file exists.
bool IsExists(const Error& e);

StoragePtr MakeLocalStorage(std::string root);

struct S3Settings {
  std::string bucket;
  std::string prefix;  // the table's key prefix, no leading or trailing '/'
  std::string endpoint;
  std::string region = "us-east-1";
  std::string access_key_id;  // empty = AWS_* environment
  std::string secret_access_key;
  std::string session_token;
  std::chrono::milliseconds timeout{30'000};
};
// Checks the endpoint and resolves the credentials (kConfig when missing).
Result<StoragePtr> MakeS3Storage(S3Settings settings);

}  // namespace pgcdc::adapter::iceberg
