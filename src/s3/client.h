// S3Client: the few S3 REST calls the sinks need (HeadBucket, Get/Head/PutObject,
// a conditional PutObject and multipart upload), signed with SigV4 (sigv4.h) and sent with one
// reused libcurl easy handle (keep-alive). Path-style URLs (<endpoint>/<bucket>/<key>) when an
// endpoint is configured (MinIO, R2, s3rver), virtual-hosted AWS URLs
// (https://<bucket>.s3.<region>.amazonaws.com/<key>) otherwise.
//
// Every call returns a Reply: the HTTP status (0 = no response: network
// error, timeout) and a short, credential-free description. Retrying is the
// caller's business (Retryable()). One thread at a time; Interrupt() from any.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "s3/sigv4.h"

namespace pgcdc::s3 {

struct ClientOptions {
  std::string endpoint;  // empty = AWS (virtual-hosted); else scheme://host[:port]
  std::string bucket;
  std::string region = "us-east-1";
  Credentials credentials;
  std::chrono::milliseconds timeout{30'000};  // one request
};

struct Reply {
  long status = 0;      // 0 = no HTTP response
  std::string message;  // "PUT /bucket/key: HTTP 503 SlowDown: ..." (no secrets)
  std::string body;     // response body (first 64 KiB; GetObject: all of it)
  std::string etag;     // ETag response header (UploadPart)
  bool ok() const { return status >= 200 && status < 300; }
  // Worth another attempt: no response, 408, 429, 5xx.
  bool Retryable() const { return status == 0 || status == 408 || status == 429 || status >= 500; }
};

class S3Client {
 public:
  explicit S3Client(ClientOptions options);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Checks the endpoint and creates the curl handle.
  Status Open();
  Reply HeadBucket();
  Reply PutObject(std::string_view key, std::string_view body, std::string_view content_type,
                  std::string_view content_encoding);
  // PutObject with `If-None-Match: *`: 412 (or 409) when the key exists, on
  // stores that support conditional writes (AWS S3 since 2024, MinIO, R2);
  // stores that ignore the header (s3rver) overwrite.
  Reply PutObjectIfAbsent(std::string_view key, std::string_view body,
                          std::string_view content_type);
  // The whole object in Reply::body (up to 1 GiB); 404 when absent.
  Reply GetObject(std::string_view key);
  // 200 when the key exists, 404 when not.
  Reply HeadObject(std::string_view key);
  // Multipart upload: Create returns the upload id in Reply::body.
  Reply CreateMultipart(std::string_view key, std::string_view content_type,
                        std::string_view content_encoding);
  Reply UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                   std::string_view body);
  Reply CompleteMultipart(std::string_view key, std::string_view upload_id,
                          const std::vector<std::string>& etags);
  Reply AbortMultipart(std::string_view key, std::string_view upload_id);
  // Aborts a request in flight (it then fails with status 0). Any thread.
  void Interrupt();

  // "https://bucket.s3.region.amazonaws.com" or the endpoint (no credentials).
  const std::string& display_endpoint() const { return display_; }

  struct Request {
    std::string method;
    std::string_view key;  // empty = the bucket itself
    std::vector<std::pair<std::string, std::string>> query;
    std::vector<std::pair<std::string, std::string>> headers;  // extra, signed
    std::string_view body;
    bool whole_body = false;  // keep the whole response body (GetObject)
  };
  Reply Send(const Request& request);

  struct Impl;

 private:
  ClientOptions options_;
  std::string display_;
  std::unique_ptr<Impl> impl_;
};

// The value of <Tag>...</Tag> in an S3 XML reply ("" when absent).
std::string XmlValue(std::string_view xml, std::string_view tag);

}  // namespace pgcdc::s3
