// Batch compression codecs: gzip (zlib), snappy (raw + xerial framing), lz4
// (frame format), zstd. Every decompressor is streaming or size-checked so the
// output can never exceed the caller's cap.
#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>
#include <memory>
#include <string>

#include "codec/kafka/record_batch.h"
#include "core/enum_names.h"

namespace pgcdc::codec::kafka {

namespace {

std::unexpected<Error> Corrupt(std::string_view codec, std::string_view what) {
  std::string m;
  m.append(codec).append(": ").append(what);
  return Fail(ErrorCode::kParse, std::move(m));
}

std::unexpected<Error> TooLarge(std::string_view codec, size_t cap) {
  return Corrupt(codec, "decompressed size exceeds the limit of " + std::to_string(cap) + " bytes");
}

// Output grows in chunks, never beyond cap (+1 to detect overflow).
constexpr size_t kChunk = 64 * 1024;

// --- gzip --------------------------------------------------------------------

Result<std::string> GzipCompress(std::string_view in) {
  z_stream zs{};
  // 15 window bits + 16: gzip wrapper (RFC 1952), as Kafka's GZIPOutputStream.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return Fail(ErrorCode::kUnknown, "gzip: deflateInit2 failed");
  }
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const size_t produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Fail(ErrorCode::kUnknown, "gzip: deflate failed");
  out.resize(produced);
  return out;
}

Result<std::string> GzipDecompress(std::string_view in, size_t cap) {
  z_stream zs{};
  // 15 + 32: accept gzip or zlib headers.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Corrupt("gzip", "inflateInit2 failed");
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (true) {
    if (out.size() > cap) {
      inflateEnd(&zs);
      return TooLarge("gzip", cap);
    }
    const size_t old = out.size();
    const size_t grow = std::min(kChunk, cap + 1 - old);
    out.resize(old + grow);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    zs.avail_out = static_cast<uInt>(grow);
    rc = inflate(&zs, Z_NO_FLUSH);
    out.resize(old + (grow - zs.avail_out));
    if (rc == Z_STREAM_END) {
      // Concatenated gzip members are legal; continue with the next one.
      if (zs.avail_in > 0) {
        if (inflateReset(&zs) != Z_OK) break;
        continue;
      }
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      const std::string msg = zs.msg != nullptr ? zs.msg : "inflate error";
      inflateEnd(&zs);
      return Corrupt("gzip", msg);
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
      inflateEnd(&zs);
      return Corrupt("gzip", "truncated stream");
    }
  }
  inflateEnd(&zs);
  if (out.size() > cap) return TooLarge("gzip", cap);
  return out;
}

// --- snappy ------------------------------------------------------------------

// xerial snappy-java stream framing (Java clients): magic, version, compatible
// version, then [int32 BE length][raw snappy block] repeated.
constexpr char kXerialMagic[8] = {'\x82', 'S', 'N', 'A', 'P', 'P', 'Y', '\0'};
constexpr size_t kXerialHeader = 16;

Result<std::string> SnappyRaw(std::string_view in, size_t cap, std::string& out) {
  size_t n = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &n)) {
    return Corrupt("snappy", "bad block header");
  }
  if (n > cap || out.size() + n > cap) return TooLarge("snappy", cap);
  const size_t old = out.size();
  out.resize(old + n);
  if (!snappy::RawUncompress(in.data(), in.size(), out.data() + old)) {
    return Corrupt("snappy", "corrupt block");
  }
  return std::string();
}

Result<std::string> SnappyDecompress(std::string_view in, size_t cap) {
  std::string out;
  if (in.size() >= kXerialHeader && std::memcmp(in.data(), kXerialMagic, 8) == 0) {
    size_t pos = kXerialHeader;
    while (pos < in.size()) {
      if (in.size() - pos < 4) return Corrupt("snappy", "truncated xerial block length");
      const auto* p = reinterpret_cast<const unsigned char*>(in.data() + pos);
      const uint32_t len =
          (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
      pos += 4;
      if (len > in.size() - pos) return Corrupt("snappy", "truncated xerial block");
      auto r = SnappyRaw(in.substr(pos, len), cap, out);
      if (!r) return std::unexpected(r.error());
      pos += len;
    }
    return out;
  }
  auto r = SnappyRaw(in, cap, out);
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<std::string> SnappyCompress(std::string_view in) {
  std::string out;
  snappy::Compress(in.data(), in.size(), &out);
  return out;
}

// --- lz4 ---------------------------------------------------------------------

Result<std::string> Lz4Compress(std::string_view in) {
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  // Independent 64 KiB blocks, no checksums beyond the header: what Kafka's
  // Java KafkaLZ4BlockInputStream accepts and librdkafka produces.
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  std::string out;
  out.resize(LZ4F_compressFrameBound(in.size(), &prefs));
  const size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) {
    return Fail(ErrorCode::kUnknown, std::string("lz4: ") + LZ4F_getErrorName(n));
  }
  out.resize(n);
  return out;
}

struct Lz4Ctx {
  LZ4F_dctx* ctx = nullptr;
  ~Lz4Ctx() {
    if (ctx != nullptr) LZ4F_freeDecompressionContext(ctx);
  }
};

Result<std::string> Lz4Decompress(std::string_view in, size_t cap) {
  Lz4Ctx d;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&d.ctx, LZ4F_VERSION))) {
    return Corrupt("lz4", "cannot create context");
  }
  std::string out;
  const char* src = in.data();
  size_t left = in.size();
  size_t hint = 1;
  while (left > 0) {
    if (out.size() > cap) return TooLarge("lz4", cap);
    const size_t old = out.size();
    const size_t grow = std::min(kChunk, cap + 1 - old);
    out.resize(old + grow);
    size_t dst_size = grow;
    size_t src_size = left;
    hint = LZ4F_decompress(d.ctx, out.data() + old, &dst_size, src, &src_size, nullptr);
    out.resize(old + dst_size);
    if (LZ4F_isError(hint)) return Corrupt("lz4", LZ4F_getErrorName(hint));
    src += src_size;
    left -= src_size;
    if (hint == 0) {
      // End of frame. Anything after it must be another frame.
      if (left == 0) break;
      LZ4F_resetDecompressionContext(d.ctx);
      hint = 1;
    }
    if (src_size == 0 && dst_size == 0) return Corrupt("lz4", "no progress");
  }
  // Drain output still buffered in the context.
  while (hint != 0) {
    if (out.size() > cap) return TooLarge("lz4", cap);
    const size_t old = out.size();
    const size_t grow = std::min(kChunk, cap + 1 - old);
    out.resize(old + grow);
    size_t dst_size = grow;
    size_t src_size = 0;
    hint = LZ4F_decompress(d.ctx, out.data() + old, &dst_size, src, &src_size, nullptr);
    out.resize(old + dst_size);
    if (LZ4F_isError(hint)) return Corrupt("lz4", LZ4F_getErrorName(hint));
    if (dst_size == 0) {
      if (hint != 0) return Corrupt("lz4", "truncated frame");
      break;
    }
  }
  if (out.size() > cap) return TooLarge("lz4", cap);
  return out;
}

// --- zstd --------------------------------------------------------------------

Result<std::string> ZstdCompress(std::string_view in) {
  std::string out;
  out.resize(ZSTD_compressBound(in.size()));
  const size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  if (ZSTD_isError(n)) {
    return Fail(ErrorCode::kUnknown, std::string("zstd: ") + ZSTD_getErrorName(n));
  }
  out.resize(n);
  return out;
}

struct ZstdCtx {
  ZSTD_DStream* s = ZSTD_createDStream();
  ~ZstdCtx() { ZSTD_freeDStream(s); }
};

Result<std::string> ZstdDecompress(std::string_view in, size_t cap) {
  ZstdCtx z;
  if (z.s == nullptr) return Corrupt("zstd", "cannot create context");
  ZSTD_initDStream(z.s);
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  std::string out;
  size_t rc = 1;
  while (true) {
    if (out.size() > cap) return TooLarge("zstd", cap);
    const size_t old = out.size();
    const size_t grow = std::min(kChunk, cap + 1 - old);
    out.resize(old + grow);
    ZSTD_outBuffer output{out.data() + old, grow, 0};
    rc = ZSTD_decompressStream(z.s, &output, &input);
    out.resize(old + output.pos);
    if (ZSTD_isError(rc)) return Corrupt("zstd", ZSTD_getErrorName(rc));
    if (rc == 0 && input.pos == input.size) break;  // frame(s) complete
    if (input.pos == input.size && output.pos < grow) {
      return Corrupt("zstd", "truncated frame");
    }
  }
  if (out.size() > cap) return TooLarge("zstd", cap);
  return out;
}

}  // namespace

constexpr EnumNames<Compression, Compression::kZstd> kCompressionNames({"none", "gzip", "snappy",
                                                                        "lz4", "zstd"},
                                                                       "unknown");

std::string_view CompressionName(Compression c) { return kCompressionNames(c); }

Result<Compression> ParseCompression(std::string_view name) {
  if (auto c = kCompressionNames.Find(name)) return *c;
  return Fail(ErrorCode::kInvalidArgument, "unknown compression \"" + std::string(name) +
                                               "\" (expected none, gzip, snappy, lz4 or zstd)");
}

Result<std::string> Compress(Compression c, std::string_view data) {
  switch (c) {
    case Compression::kNone:
      return std::string(data);
    case Compression::kGzip:
      return GzipCompress(data);
    case Compression::kSnappy:
      return SnappyCompress(data);
    case Compression::kLz4:
      return Lz4Compress(data);
    case Compression::kZstd:
      return ZstdCompress(data);
  }
  return Fail(ErrorCode::kInvalidArgument,
              "unknown compression type " + std::to_string(static_cast<int>(c)));
}

Result<std::string> Decompress(Compression c, std::string_view data, size_t max_output) {
  switch (c) {
    case Compression::kNone:
      if (data.size() > max_output) return TooLarge("none", max_output);
      return std::string(data);
    case Compression::kGzip:
      return GzipDecompress(data, max_output);
    case Compression::kSnappy:
      return SnappyDecompress(data, max_output);
    case Compression::kLz4:
      return Lz4Decompress(data, max_output);
    case Compression::kZstd:
      return ZstdDecompress(data, max_output);
  }
  return Fail(ErrorCode::kParse, "unknown compression type " + std::to_string(static_cast<int>(c)));
}

}  // namespace pgcdc::codec::kafka
