#include "s3/client.h"

#include <curl/curl.h>

#include <atomic>
#include <ctime>
#include <mutex>

namespace pgcdc::s3 {

namespace {

constexpr size_t kMaxReplyBody = 64 << 10;
// GetObject bodies (metadata files, manifests) are kept whole up to this size.
constexpr size_t kMaxObjectBody = size_t{1} << 30;

std::string UrlPart(CURLU* u, CURLUPart part) {
  char* v = nullptr;
  std::string s;
  if (curl_url_get(u, part, &v, 0) == CURLUE_OK && v != nullptr) s = v;
  curl_free(v);
  return s;
}

}  // namespace

struct S3Client::Impl {
  CURL* curl = nullptr;
  std::string scheme_host;  // scheme://host[:port]
  std::string host;         // Host header
  std::string path_prefix;  // "/bucket" path-style, "" virtual-hosted
  std::atomic<bool> interrupted{false};
  std::string body;
  size_t body_limit = kMaxReplyBody;
  std::string etag;
  std::string header_scratch;
  char error[CURL_ERROR_SIZE] = {};
  ~Impl() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

namespace {

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* impl = static_cast<S3Client::Impl*>(user);
  const size_t len = size * n;
  if (impl->body.size() < impl->body_limit) {
    impl->body.append(data, std::min(len, impl->body_limit - impl->body.size()));
  }
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* impl = static_cast<S3Client::Impl*>(user);
  const size_t len = size * n;
  std::string_view line(data, len);
  if (line.size() > 5 && (line[0] == 'E' || line[0] == 'e') &&
      (line.starts_with("ETag:") || line.starts_with("etag:"))) {
    line.remove_prefix(5);
    while (!line.empty() && (line.front() == ' ')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.remove_suffix(1);
    impl->etag.assign(line);
  }
  return len;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<S3Client::Impl*>(user)->interrupted.load() ? 1 : 0;
}

}  // namespace

S3Client::S3Client(ClientOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {}
S3Client::~S3Client() = default;

Status S3Client::Open() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (options_.endpoint.empty()) {
    impl_->host = options_.bucket + ".s3." + options_.region + ".amazonaws.com";
    impl_->scheme_host = "https://" + impl_->host;
  } else {
    CURLU* u = curl_url();
    const CURLUcode rc = curl_url_set(u, CURLUPART_URL, options_.endpoint.c_str(), 0);
    const std::string scheme = UrlPart(u, CURLUPART_SCHEME);
    const std::string host = UrlPart(u, CURLUPART_HOST);
    const std::string port = UrlPart(u, CURLUPART_PORT);
    curl_url_cleanup(u);
    if (rc != CURLUE_OK || (scheme != "http" && scheme != "https") || host.empty()) {
      return Fail(ErrorCode::kConfig, "s3.endpoint: \"" + options_.endpoint +
                                          "\" is not an http:// or https:// URL with a host");
    }
    impl_->host = port.empty() ? host : host + ":" + port;
    impl_->scheme_host = scheme + "://" + impl_->host;
    impl_->path_prefix = "/" + UriEncode(options_.bucket, false);
  }
  display_ = impl_->scheme_host + impl_->path_prefix;
  impl_->curl = curl_easy_init();
  if (impl_->curl == nullptr) return Fail(ErrorCode::kUnknown, "s3: curl_easy_init failed");
  CURL* c = impl_->curl;
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, impl_.get());
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, impl_.get());
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, impl_.get());
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, impl_->error);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  return Ok();
}

void S3Client::Interrupt() { impl_->interrupted.store(true); }

Reply S3Client::Send(const Request& request) {
  Impl& im = *impl_;
  Reply reply;
  std::string path = im.path_prefix + "/" + UriEncode(request.key, true);
  const std::string query = CanonicalQuery(request.query);
  const std::string amz_date = AmzDate(static_cast<int64_t>(::time(nullptr)));
  SignedRequest sr{.method = request.method, .canonical_uri = path, .query = request.query};
  sr.payload_hash = Sha256Hex(request.body);
  sr.headers = {
      {"host", im.host}, {"x-amz-date", amz_date}, {"x-amz-content-sha256", sr.payload_hash}};
  if (!options_.credentials.session_token.empty()) {
    sr.headers.emplace_back("x-amz-security-token", options_.credentials.session_token);
  }
  for (const auto& h : request.headers) sr.headers.push_back(h);
  const std::string auth = Authorization(sr, options_.credentials, options_.region, "s3", amz_date);
  curl_slist* list = nullptr;
  for (const auto& [name, value] : sr.headers) {
    list = curl_slist_append(list, (name + ": " + value).c_str());
  }
  list = curl_slist_append(list, ("Authorization: " + auth).c_str());
  list = curl_slist_append(list, "Expect:");
  const std::string url = im.scheme_host + path + (query.empty() ? "" : "?" + query);
  CURL* c = im.curl;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  const bool head = request.method == "HEAD";
  curl_easy_setopt(c, CURLOPT_NOBODY, head ? 1L : 0L);
  if (head) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, nullptr);
  } else if (request.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, nullptr);
  } else {
    // The size is set on the next line, so the body need not be NUL-terminated.
    curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                     request.body.data());  // NOLINT(bugprone-suspicious-stringview-data-usage)
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  im.body.clear();
  im.body_limit = request.whole_body ? kMaxObjectBody : kMaxReplyBody;
  im.etag.clear();
  im.error[0] = '\0';
  const CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(list);
  const std::string what = request.method + " " + path;
  if (rc != CURLE_OK) {
    reply.message =
        what + ": " + (im.error[0] != '\0' ? std::string(im.error) : curl_easy_strerror(rc));
    return reply;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  reply.body = std::move(im.body);
  reply.etag = std::move(im.etag);
  reply.message = what + ": HTTP " + std::to_string(reply.status);
  if (!reply.ok()) {
    if (std::string code = XmlValue(reply.body, "Code"); !code.empty()) reply.message += " " + code;
    if (std::string msg = XmlValue(reply.body, "Message"); !msg.empty())
      reply.message += ": " + msg;
  }
  return reply;
}

Reply S3Client::HeadBucket() { return Send({.method = "HEAD"}); }

Reply S3Client::PutObject(std::string_view key, std::string_view body,
                          std::string_view content_type, std::string_view content_encoding) {
  Request r{.method = "PUT", .key = key, .body = body};
  r.headers.emplace_back("content-type", std::string(content_type));
  if (!content_encoding.empty())
    r.headers.emplace_back("content-encoding", std::string(content_encoding));
  return Send(r);
}

Reply S3Client::PutObjectIfAbsent(std::string_view key, std::string_view body,
                                  std::string_view content_type) {
  Request r{.method = "PUT", .key = key, .body = body};
  r.headers.emplace_back("content-type", std::string(content_type));
  r.headers.emplace_back("if-none-match", "*");
  return Send(r);
}

Reply S3Client::GetObject(std::string_view key) {
  return Send({.method = "GET", .key = key, .whole_body = true});
}

Reply S3Client::HeadObject(std::string_view key) { return Send({.method = "HEAD", .key = key}); }

Reply S3Client::CreateMultipart(std::string_view key, std::string_view content_type,
                                std::string_view content_encoding) {
  Request r{.method = "POST", .key = key, .query = {{"uploads", ""}}};
  r.headers.emplace_back("content-type", std::string(content_type));
  if (!content_encoding.empty())
    r.headers.emplace_back("content-encoding", std::string(content_encoding));
  Reply reply = Send(r);
  if (reply.ok()) {
    reply.body = XmlValue(reply.body, "UploadId");
    if (reply.body.empty()) {
      reply.status = 502;
      reply.message += " (no UploadId in the reply)";
    }
  }
  return reply;
}

Reply S3Client::UploadPart(std::string_view key, std::string_view upload_id, int part_number,
                           std::string_view body) {
  return Send(
      {.method = "PUT",
       .key = key,
       .query = {{"partNumber", std::to_string(part_number)}, {"uploadId", std::string(upload_id)}},
       .body = body});
}

Reply S3Client::CompleteMultipart(std::string_view key, std::string_view upload_id,
                                  const std::vector<std::string>& etags) {
  std::string xml = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); ++i) {
    xml.append("<Part><PartNumber>").append(std::to_string(i + 1)).append("</PartNumber><ETag>");
    xml.append(etags[i]).append("</ETag></Part>");
  }
  xml.append("</CompleteMultipartUpload>");
  Reply reply = Send({.method = "POST",
                      .key = key,
                      .query = {{"uploadId", std::string(upload_id)}},
                      .headers = {{"content-type", "application/xml"}},
                      .body = xml});
  // S3 may answer 200 with an <Error> body when the completion failed late.
  if (reply.ok() && reply.body.find("<Error>") != std::string::npos) {
    reply.status = 500;
    reply.message += " " + XmlValue(reply.body, "Code") + ": " + XmlValue(reply.body, "Message");
  }
  return reply;
}

Reply S3Client::AbortMultipart(std::string_view key, std::string_view upload_id) {
  return Send({.method = "DELETE", .key = key, .query = {{"uploadId", std::string(upload_id)}}});
}

std::string XmlValue(std::string_view xml, std::string_view tag) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const size_t a = xml.find(open);
  if (a == std::string_view::npos) return {};
  const size_t b = xml.find(close, a + open.size());
  if (b == std::string_view::npos) return {};
  return std::string(xml.substr(a + open.size(), b - a - open.size()));
}

}  // namespace pgcdc::s3
