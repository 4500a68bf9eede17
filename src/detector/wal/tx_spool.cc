#include "detector/wal/tx_spool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace pgcdc::detector::wal {

namespace {

// Every record, in a chunk or in the file: xid (4), length (4), lsn (8),
// then `length` bytes.
constexpr size_t kHeaderBytes = 16;

void EncodeHeader(uint32_t xid, uint32_t len, uint64_t lsn, uint8_t* out) {
  std::memcpy(out, &xid, 4);
  std::memcpy(out + 4, &len, 4);
  std::memcpy(out + 8, &lsn, 8);
}

TxSpool::Record DecodeHeader(const uint8_t* in, uint32_t* len) {
  TxSpool::Record r;
  std::memcpy(&r.xid, in, 4);
  std::memcpy(len, in + 4, 4);
  std::memcpy(&r.lsn, in + 8, 8);
  return r;
}

Error SpoolError(const std::string& what) {
  return Error(ErrorCode::kIo, "spool: " + what + ": " + std::strerror(errno));
}

size_t PageRound(size_t n) {
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return (n + page - 1) / page * page;
}

}  // namespace

TxSpool::Chunk::Chunk(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  data = static_cast<uint8_t*>(p);
  capacity = bytes;
}

TxSpool::Chunk::~Chunk() {
  if (data != nullptr) ::munmap(data, capacity);
}

TxSpool::Chunk::Chunk(Chunk&& o) noexcept
    : data(std::exchange(o.data, nullptr)),
      capacity(std::exchange(o.capacity, 0)),
      size(o.size),
      records(o.records) {}

TxSpool::TxSpool(SpoolBudget& budget, std::string dir) : budget_(budget), dir_(std::move(dir)) {}

TxSpool::~TxSpool() { Clear(); }

void TxSpool::Clear() {
  while (!chunks_.empty()) ReleaseFront();
  if (file_ != nullptr) std::fclose(file_);
  file_ = nullptr;
  file_buffer_.reset();
}

void TxSpool::ReleaseFront() {
  const size_t cap = chunks_.front().capacity;
  budget_.used -= std::min(budget_.used, cap);
  memory_bytes_ -= cap;
  chunks_.pop_front();
}

Status TxSpool::Add(uint32_t xid, uint64_t lsn, std::span<const uint8_t> bytes) {
  if (bytes.size() > UINT32_MAX) return Fail(ErrorCode::kInvalidArgument, "spool: record too big");
  // Once a record went to the file, every later one follows it there.
  if (file_ == nullptr && AddToMemory(xid, lsn, bytes)) return Ok();
  return AddToFile(xid, lsn, bytes);
}

bool TxSpool::AddToMemory(uint32_t xid, uint64_t lsn, std::span<const uint8_t> bytes) {
  const size_t need = kHeaderBytes + bytes.size();
  if (chunks_.empty() || chunks_.back().capacity - chunks_.back().size < need) {
    const size_t cap = PageRound(std::max(std::min(kSpoolChunkBytes, budget_.limit), need));
    if (budget_.used + cap > budget_.limit) return false;
    Chunk c(cap);
    if (c.data == nullptr) return false;  // no memory: the file takes it
    chunks_.push_back(std::move(c));
    budget_.used += cap;
    memory_bytes_ += cap;
  }
  Chunk& c = chunks_.back();
  EncodeHeader(xid, static_cast<uint32_t>(bytes.size()), lsn, c.data + c.size);
  if (!bytes.empty()) std::memcpy(c.data + c.size + kHeaderBytes, bytes.data(), bytes.size());
  c.size += need;
  ++c.records;
  ++memory_records_;
  return true;
}

Status TxSpool::OpenFile() {
  std::string tmpl = dir_ + "/pgcdc-spool-XXXXXX";
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return Fail(SpoolError("mkstemp " + tmpl));
  ::unlink(tmpl.c_str());  // disappears with the process, even on a crash
  file_ = ::fdopen(fd, "w+b");
  if (file_ == nullptr) {
    const Error e = SpoolError("fdopen");
    ::close(fd);
    return Fail(e);
  }
  file_buffer_ = std::make_unique_for_overwrite<char[]>(kSpoolFileBufferBytes);
  std::setvbuf(file_, file_buffer_.get(), _IOFBF, kSpoolFileBufferBytes);
  return Ok();
}

Status TxSpool::AddToFile(uint32_t xid, uint64_t lsn, std::span<const uint8_t> bytes) {
  if (file_ == nullptr) {
    if (auto st = OpenFile(); !st) return st;
  }
  uint8_t header[kHeaderBytes];
  EncodeHeader(xid, static_cast<uint32_t>(bytes.size()), lsn, header);
  if (std::fwrite(header, 1, kHeaderBytes, file_) != kHeaderBytes ||
      (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size())) {
    return Fail(SpoolError("write"));
  }
  file_bytes_ += kHeaderBytes + bytes.size();
  ++file_records_;
  return Ok();
}

Status TxSpool::Drain(const std::function<Status(const Record&)>& fn) {
  Status st = DrainChunks(fn);
  if (st && file_ != nullptr) st = DrainFile(fn);
  Clear();
  memory_records_ = 0;
  file_records_ = 0;
  return st;
}

Status TxSpool::DrainChunks(const std::function<Status(const Record&)>& fn) {
  while (!chunks_.empty()) {
    const Chunk& c = chunks_.front();
    const uint8_t* p = c.data;
    for (size_t i = 0; i < c.records; ++i) {
      uint32_t len = 0;
      Record r = DecodeHeader(p, &len);
      r.bytes = std::span<const uint8_t>(p + kHeaderBytes, len);
      if (auto st = fn(r); !st) return st;
      p += kHeaderBytes + len;
    }
    ReleaseFront();
  }
  return Ok();
}

Status TxSpool::DrainFile(const std::function<Status(const Record&)>& fn) {
  if (std::fflush(file_) != 0 || std::fseek(file_, 0, SEEK_SET) != 0) {
    return Fail(SpoolError("cannot rewind"));
  }
  std::vector<uint8_t> bytes;  // grows to the largest record, no further
  uint8_t header[kHeaderBytes];
  for (uint64_t i = 0; i < file_records_; ++i) {
    uint32_t len = 0;
    if (std::fread(header, 1, kHeaderBytes, file_) != kHeaderBytes) {
      return Fail(ErrorCode::kIo, "spool: short read");
    }
    Record r = DecodeHeader(header, &len);
    bytes.resize(len);
    if (len > 0 && std::fread(bytes.data(), 1, len, file_) != len) {
      return Fail(ErrorCode::kIo, "spool: short read");
    }
    r.bytes = bytes;
    if (auto st = fn(r); !st) return st;
  }
  return Ok();
}

}  // namespace pgcdc::detector::wal
