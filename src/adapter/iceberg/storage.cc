#include "adapter/iceberg/storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "s3/client.h"

namespace pgcdc::adapter::iceberg {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kExists = "exists";
std::atomic<uint64_t> temp_counter{0};

Error Errno(std::string_view what, const std::string& path) {
  return Error(ErrorCode::kIo,
               "iceberg: " + std::string(what) + " " + path + ": " + std::strerror(errno));
}

// Writes `body` to a fresh temp file next to `path` and fsyncs it; returns its name.
Result<std::string> WriteTemp(const std::string& path, std::string_view body) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) {
    return Fail(ErrorCode::kIo, "iceberg: create directory " +
                                    fs::path(path).parent_path().string() + ": " + ec.message());
  }
  std::string temp =
      path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(temp_counter.fetch_add(1));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(Errno("create", temp));
  size_t off = 0;
  while (off < body.size()) {
    const ssize_t n = ::write(fd, body.data() + off, body.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Error e = Errno("write", temp);
      ::close(fd);
      ::unlink(temp.c_str());
      return Fail(std::move(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Error e = Errno("fsync", temp);
    ::close(fd);
    ::unlink(temp.c_str());
    return Fail(std::move(e));
  }
  ::close(fd);
  return temp;
}

void SyncDir(const std::string& path) {
  const int fd = ::open(fs::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

class LocalStorage final : public Storage {
 public:
  explicit LocalStorage(std::string root) : root_(std::move(root)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  }
  std::string Location(std::string_view rel) const override {
    return root_ + "/" + std::string(rel);
  }
  Status Put(std::string_view rel, std::string_view body) override {
    const std::string path = Location(rel);
    auto temp = WriteTemp(path, body);
    if (!temp) return Fail(temp.error());
    if (::rename(temp->c_str(), path.c_str()) != 0) {
      Error e = Errno("rename to", path);
      ::unlink(temp->c_str());
      return Fail(std::move(e));
    }
    SyncDir(path);
    return Ok();
  }
  Status PutIfAbsent(std::string_view rel, std::string_view body) override {
    const std::string path = Location(rel);
    auto temp = WriteTemp(path, body);
    if (!temp) return Fail(temp.error());
    const int rc = ::link(temp->c_str(), path.c_str());
    const int err = errno;
    ::unlink(temp->c_str());
    if (rc != 0) {
      if (err == EEXIST) {
        return Fail(ErrorCode::kInvalidArgument, "iceberg: " + path + " " + std::string(kExists));
      }
      errno = err;
      return Fail(Errno("link", path));
    }
    SyncDir(path);
    return Ok();
  }
  Result<std::optional<std::string>> Get(std::string_view rel) override {
    const std::string path = Location(rel);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return std::optional<std::string>();
      return Fail(Errno("open", path));
    }
    std::string out;
    char buf[1 << 16];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Error e = Errno("read", path);
        ::close(fd);
        return Fail(std::move(e));
      }
      if (n == 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return std::optional<std::string>(std::move(out));
  }

 private:
  std::string root_;
};

std::string EnvOr(const std::string& value, const char* name) {
  if (!value.empty()) return value;
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

class S3Storage final : public Storage {
 public:
  S3Storage(S3Settings settings, std::unique_ptr<s3::S3Client> client)
      : settings_(std::move(settings)), client_(std::move(client)) {}

  std::string Location(std::string_view rel) const override {
    return "s3://" + settings_.bucket + "/" + Key(rel);
  }
  Status Put(std::string_view rel, std::string_view body) override {
    return Check(client_->PutObject(Key(rel), body, ContentType(rel), ""));
  }
  Status PutIfAbsent(std::string_view rel, std::string_view body) override {
    const std::string key = Key(rel);
    const s3::Reply head = client_->HeadObject(key);
    if (head.ok()) return Exists(key);
    if (head.status != 404) return Check(head);
    const s3::Reply put = client_->PutObjectIfAbsent(key, body, ContentType(rel));
    if (put.status == 412 || put.status == 409) return Exists(key);
    return Check(put);
  }
  Result<std::optional<std::string>> Get(std::string_view rel) override {
    s3::Reply r = client_->GetObject(Key(rel));
    if (r.status == 404) return std::optional<std::string>();
    if (auto st = Check(r); !st) return Fail(st.error());
    return std::optional<std::string>(std::move(r.body));
  }
  void Interrupt() override { client_->Interrupt(); }

 private:
  std::string Key(std::string_view rel) const {
    return settings_.prefix.empty() ? std::string(rel) : settings_.prefix + "/" + std::string(rel);
  }
  static std::string ContentType(std::string_view rel) {
    if (rel.ends_with(".json")) return "application/json";
    if (rel.ends_with(".text")) return "text/plain";
    return "application/octet-stream";
  }
  Status Exists(const std::string& key) const {
    return Fail(ErrorCode::kInvalidArgument,
                "iceberg: s3://" + settings_.bucket + "/" + key + " " + std::string(kExists));
  }
  Status Check(const s3::Reply& r) const {
    if (r.ok()) return Ok();
    if (r.Retryable()) return Fail(ErrorCode::kConnection, "iceberg: s3: " + r.message);
    std::string msg = "iceberg: s3: " + r.message;
    if (r.status == 403) {
      msg +=
          " (access denied: check --iceberg-s3-access-key-id/--iceberg-s3-secret-access-key "
          "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)";
    } else if (r.status == 404) {
      msg += " (bucket \"" + settings_.bucket + "\" not found)";
    }
    return Fail(ErrorCode::kConfig, msg);
  }

  S3Settings settings_;
  std::unique_ptr<s3::S3Client> client_;
};

}  // namespace

bool IsExists(const Error& e) {
  return e.code() == ErrorCode::kInvalidArgument && e.message().ends_with(kExists);
}

std::optional<std::string> Storage::Relative(std::string_view location) const {
  std::string root = Location("");
  if (location.starts_with("file:")) {  // "file:/x" and "file:///x" (other writers)
    location.remove_prefix(5);
    while (location.starts_with("//")) location.remove_prefix(1);
  }
  if (!location.starts_with(root)) return std::nullopt;
  return std::string(location.substr(root.size()));
}

StoragePtr MakeLocalStorage(std::string root) {
  return std::make_unique<LocalStorage>(std::move(root));
}

Result<StoragePtr> MakeS3Storage(S3Settings settings) {
  s3::Credentials creds{EnvOr(settings.access_key_id, "AWS_ACCESS_KEY_ID"),
                        EnvOr(settings.secret_access_key, "AWS_SECRET_ACCESS_KEY"),
                        EnvOr(settings.session_token, "AWS_SESSION_TOKEN")};
  if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
    return Fail(ErrorCode::kConfig,
                "iceberg: an s3:// warehouse needs credentials: set --iceberg-s3-access-key-id "
                "and --iceberg-s3-secret-access-key (or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY)");
  }
  auto client = std::make_unique<s3::S3Client>(s3::ClientOptions{.endpoint = settings.endpoint,
                                                                 .bucket = settings.bucket,
                                                                 .region = settings.region,
                                                                 .credentials = std::move(creds),
                                                                 .timeout = settings.timeout});
  if (auto st = client->Open(); !st) return Fail(st.error().Wrap("iceberg"));
  return StoragePtr(std::make_unique<S3Storage>(std::move(settings), std::move(client)));
}

}  // namespace pgcdc::adapter::iceberg
