#include "codec/kafka/record_batch.h"

#include <algorithm>
#include <array>
#include <limits>
#include <string>

#include "codec/kafka/wire.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define PGCDC_KAFKA_HAVE_SSE42 1
#endif

namespace pgcdc::codec::kafka {

// ---------------------------------------------------------------------------
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).

namespace {

using CrcTables = std::array<std::array<uint32_t, 256>, 8>;

constexpr CrcTables MakeCrcTables() {
  CrcTables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; ++i) {
    for (size_t s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
  return t;
}

constexpr CrcTables kCrcTables = MakeCrcTables();

uint32_t Crc32cSoftware(uint32_t crc, const unsigned char* p, size_t n) {
  while (n >= 8) {
    const uint32_t lo = crc ^ (uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) |
                               (uint32_t{p[3]} << 24));
    const uint32_t hi =
        uint32_t{p[4]} | (uint32_t{p[5]} << 8) | (uint32_t{p[6]} << 16) | (uint32_t{p[7]} << 24);
    crc = kCrcTables[7][lo & 0xff] ^ kCrcTables[6][(lo >> 8) & 0xff] ^
          kCrcTables[5][(lo >> 16) & 0xff] ^ kCrcTables[4][lo >> 24] ^ kCrcTables[3][hi & 0xff] ^
          kCrcTables[2][(hi >> 8) & 0xff] ^ kCrcTables[1][(hi >> 16) & 0xff] ^
          kCrcTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = (crc >> 8) ^ kCrcTables[0][(crc ^ *p++) & 0xff];
  return crc;
}

#ifdef PGCDC_KAFKA_HAVE_SSE42
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(uint32_t crc, const unsigned char* p,
                                                          size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    __builtin_memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool HaveSse42() {
  static const bool have = __builtin_cpu_supports("sse4.2");
  return have;
}
#endif

}  // namespace

uint32_t Crc32c(std::string_view data, uint32_t crc) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  crc = ~crc;
#ifdef PGCDC_KAFKA_HAVE_SSE42
  if (HaveSse42()) return ~Crc32cHardware(crc, p, data.size());
#endif
  return ~Crc32cSoftware(crc, p, data.size());
}

// ---------------------------------------------------------------------------
// Encoding.

namespace {

constexpr size_t kCrcOffset = 17;
constexpr size_t kAttributesOffset = 21;
constexpr size_t kMinBatchLength = kRecordBatchOverhead - kBatchLogOverhead;  // 49
// A record is at least: length, attributes, timestamp delta, offset delta,
// key length, value length, header count (1 byte each).
constexpr size_t kMinRecordSize = 7;

std::unexpected<Error> BatchError(size_t at, const std::string& what) {
  return Fail(ErrorCode::kParse, "record batch at offset " + std::to_string(at) + ": " + what);
}

void EncodeRecord(const Record& r, int64_t timestamp_delta, int32_t offset_delta, Writer& body,
                  Writer& out) {
  body.buffer().clear();
  body.Int8(0);  // record attributes (unused)
  body.VarLong(timestamp_delta);
  body.VarInt(offset_delta);
  if (r.key) {
    body.VarInt(static_cast<int32_t>(r.key->size()));
    body.Raw(*r.key);
  } else {
    body.VarInt(-1);
  }
  if (r.value) {
    body.VarInt(static_cast<int32_t>(r.value->size()));
    body.Raw(*r.value);
  } else {
    body.VarInt(-1);
  }
  body.VarInt(static_cast<int32_t>(r.headers.size()));
  for (const RecordHeader& h : r.headers) {
    body.VarInt(static_cast<int32_t>(h.key.size()));
    body.Raw(h.key);
    if (h.value) {
      body.VarInt(static_cast<int32_t>(h.value->size()));
      body.Raw(*h.value);
    } else {
      body.VarInt(-1);
    }
  }
  out.VarInt(static_cast<int32_t>(body.size()));
  out.Raw(body.buffer());
}

}  // namespace

Status EncodeRecordBatch(int64_t base_offset, std::span<const Record> records,
                         const BatchEncodeOptions& options, std::string& out) {
  if (records.empty()) {
    return Fail(ErrorCode::kInvalidArgument, "record batch: no records");
  }
  constexpr size_t kMaxField = static_cast<size_t>(std::numeric_limits<int32_t>::max());
  if (records.size() > kMaxField) {
    return Fail(ErrorCode::kInvalidArgument, "record batch: too many records");
  }
  const int64_t first_ts = records.front().timestamp_ms;
  int64_t max_ts = first_ts;
  Writer section;
  Writer body;
  size_t total = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    total += (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
    for (const RecordHeader& h : r.headers) {
      total += h.key.size() + (h.value ? h.value->size() : 0);
    }
    if (total > kMaxField) {
      return Fail(ErrorCode::kInvalidArgument, "record batch: records larger than 2 GiB");
    }
    max_ts = std::max(max_ts, r.timestamp_ms);
    // Wrapping subtraction (as Java's long arithmetic): the decoder's wrapping
    // addition restores any timestamp exactly.
    const auto ts_delta = static_cast<int64_t>(static_cast<uint64_t>(r.timestamp_ms) -
                                               static_cast<uint64_t>(first_ts));
    EncodeRecord(r, ts_delta, static_cast<int32_t>(i), body, section);
  }
  std::string payload = section.Take();
  if (options.compression != Compression::kNone) {
    auto compressed = Compress(options.compression, payload);
    if (!compressed) return std::unexpected(compressed.error().Wrap("record batch"));
    payload = std::move(*compressed);
  }
  if (payload.size() > kMaxField - kRecordBatchOverhead) {
    return Fail(ErrorCode::kInvalidArgument, "record batch: larger than 2 GiB");
  }

  auto attributes =
      static_cast<int16_t>(static_cast<int16_t>(options.compression) & kAttrCompressionMask);
  if (options.log_append_time) attributes |= kAttrLogAppendTime;
  if (options.transactional) attributes |= kAttrTransactional;
  if (options.control) attributes |= kAttrControl;

  Writer w;
  w.buffer().reserve(kRecordBatchOverhead + payload.size());
  w.Int64(base_offset);
  w.Int32(static_cast<int32_t>(kMinBatchLength + payload.size()));
  w.Int32(options.partition_leader_epoch);
  w.Int8(2);
  w.UInt32(0);  // CRC placeholder
  w.Int16(attributes);
  w.Int32(static_cast<int32_t>(records.size() - 1));
  w.Int64(first_ts);
  w.Int64(max_ts);
  w.Int64(options.producer_id);
  w.Int16(options.producer_epoch);
  w.Int32(options.base_sequence);
  w.Int32(static_cast<int32_t>(records.size()));
  w.Raw(payload);
  std::string& b = w.buffer();
  const uint32_t crc = Crc32c(std::string_view(b).substr(kAttributesOffset));
  w.PatchInt32(kCrcOffset, static_cast<int32_t>(crc));
  out.append(b);
  return Ok();
}

// ---------------------------------------------------------------------------
// Decoding.

namespace {

Result<BatchHeader> ParseHeaderAt(std::string_view data, size_t at) {
  if (data.size() < kRecordBatchOverhead) {
    return BatchError(at, "truncated header (" + std::to_string(data.size()) + " of " +
                              std::to_string(kRecordBatchOverhead) + " bytes)");
  }
  Reader r(data);
  BatchHeader h;
  h.base_offset = r.Int64();
  h.batch_length = r.Int32();
  h.partition_leader_epoch = r.Int32();
  h.magic = r.Int8();
  h.crc = r.UInt32();
  h.attributes = r.Int16();
  h.last_offset_delta = r.Int32();
  h.first_timestamp = r.Int64();
  h.max_timestamp = r.Int64();
  h.producer_id = r.Int64();
  h.producer_epoch = r.Int16();
  h.base_sequence = r.Int32();
  h.record_count = r.Int32();
  if (h.magic != 2) {
    return BatchError(at, "unsupported magic " + std::to_string(h.magic) +
                              " (only message format v2 is supported)");
  }
  if (h.batch_length < 0 || static_cast<size_t>(h.batch_length) < kMinBatchLength) {
    return BatchError(at, "batch length " + std::to_string(h.batch_length) + " is below the " +
                              std::to_string(kMinBatchLength) + "-byte header");
  }
  if (data.size() >= h.size()) {
    h.crc_ok = Crc32c(data.substr(kAttributesOffset, h.size() - kAttributesOffset)) == h.crc;
  }
  return h;
}

}  // namespace

Result<BatchHeader> ParseBatchHeader(std::string_view data) { return ParseHeaderAt(data, 0); }

Result<std::vector<BatchView>> SplitRecordBatches(std::string_view data,
                                                  const DecodeOptions& options) {
  std::vector<BatchView> out;
  size_t pos = 0;
  while (pos < data.size()) {
    const std::string_view rest = data.substr(pos);
    if (rest.size() < kRecordBatchOverhead) {
      // A partial header at the tail of a fetch response; Kafka's own tail
      // can also be shorter than the log overhead.
      if (options.allow_partial_tail) break;
      return BatchError(pos, "truncated header (" + std::to_string(rest.size()) + " of " +
                                 std::to_string(kRecordBatchOverhead) + " bytes)");
    }
    auto h = ParseHeaderAt(rest, pos);
    if (!h) return std::unexpected(h.error());
    if (h->size() > rest.size()) {
      if (options.allow_partial_tail) break;
      return BatchError(pos, "truncated batch (" + std::to_string(rest.size()) + " of " +
                                 std::to_string(h->size()) + " bytes)");
    }
    if (options.verify_crc && !h->crc_ok) {
      return BatchError(pos, "CRC mismatch");
    }
    if (h->record_count < 0) {
      return BatchError(pos, "negative record count " + std::to_string(h->record_count));
    }
    if (h->last_offset_delta < 0 ||
        (h->record_count > 0 && h->last_offset_delta < h->record_count - 1)) {
      return BatchError(pos, "last offset delta " + std::to_string(h->last_offset_delta) +
                                 " inconsistent with " + std::to_string(h->record_count) +
                                 " records");
    }
    if (h->base_offset > std::numeric_limits<int64_t>::max() - h->last_offset_delta) {
      return BatchError(
          pos, "base offset " + std::to_string(h->base_offset) + " + last offset delta overflows");
    }
    if (h->compression() > Compression::kZstd) {
      return BatchError(
          pos, "unknown compression type " + std::to_string(static_cast<int>(h->compression())));
    }
    if (h->compression() == Compression::kNone &&
        static_cast<size_t>(h->record_count) >
            (h->size() - kRecordBatchOverhead) / kMinRecordSize) {
      return BatchError(
          pos, "record count " + std::to_string(h->record_count) + " does not fit the batch");
    }
    out.push_back(BatchView{*h, rest.substr(0, h->size())});
    pos += h->size();
  }
  return out;
}

namespace {

// Decodes `count` records from `section` (already decompressed).
Status DecodeRecords(std::string_view section, const BatchHeader& h, size_t at,
                     std::vector<Record>& out) {
  if (static_cast<size_t>(h.record_count) > section.size() / kMinRecordSize) {
    return BatchError(
        at, "record count " + std::to_string(h.record_count) + " does not fit the records section");
  }
  out.reserve(static_cast<size_t>(h.record_count));
  Reader r(section);
  for (int32_t i = 0; i < h.record_count; ++i) {
    const size_t start = r.position();
    const int32_t length = r.VarInt();
    if (!r.ok()) break;
    if (length < 0 || static_cast<size_t>(length) > r.remaining()) {
      return BatchError(at, "record " + std::to_string(i) + ": length " + std::to_string(length) +
                                " exceeds the remaining bytes");
    }
    Reader rec(r.Raw(static_cast<size_t>(length)));
    Record out_rec;
    rec.Int8();  // attributes
    const int64_t ts_delta = rec.VarLong();
    const int32_t offset_delta = rec.VarInt();
    const int32_t key_len = rec.VarInt();
    if (key_len >= 0) {
      out_rec.key.emplace(rec.Raw(static_cast<size_t>(key_len)));
    } else if (key_len != -1) {
      rec.Fail("negative key length");
    }
    const int32_t value_len = rec.VarInt();
    if (value_len >= 0) {
      out_rec.value.emplace(rec.Raw(static_cast<size_t>(value_len)));
    } else if (value_len != -1) {
      rec.Fail("negative value length");
    }
    const int32_t header_count = rec.VarInt();
    if (header_count < 0 || static_cast<size_t>(header_count) > rec.remaining() / 2) {
      rec.Fail("header count " + std::to_string(header_count) + " invalid");
    } else {
      out_rec.headers.reserve(static_cast<size_t>(header_count));
      for (int32_t k = 0; k < header_count && rec.ok(); ++k) {
        RecordHeader hdr;
        const int32_t hk = rec.VarInt();
        if (hk < 0) {
          rec.Fail("null or negative header key length");
          break;
        }
        hdr.key.assign(rec.Raw(static_cast<size_t>(hk)));
        const int32_t hv = rec.VarInt();
        if (hv >= 0) {
          hdr.value.emplace(rec.Raw(static_cast<size_t>(hv)));
        } else if (hv != -1) {
          rec.Fail("negative header value length");
        }
        out_rec.headers.push_back(std::move(hdr));
      }
    }
    if (rec.ok() && !rec.AtEnd()) {
      rec.Fail(std::to_string(rec.remaining()) + " bytes left after the fields");
    }
    if (!rec.ok()) {
      return BatchError(at, "record " + std::to_string(i) + " (at " + std::to_string(start) +
                                "): " + rec.error());
    }
    if (offset_delta < 0 || offset_delta > h.last_offset_delta) {
      return BatchError(at, "record " + std::to_string(i) + ": offset delta " +
                                std::to_string(offset_delta) + " outside the batch");
    }
    out_rec.offset = h.base_offset + offset_delta;  // no overflow: checked by Split
    out_rec.timestamp_ms = h.log_append_time()
                               ? h.max_timestamp
                               : static_cast<int64_t>(static_cast<uint64_t>(h.first_timestamp) +
                                                      static_cast<uint64_t>(ts_delta));
    out.push_back(std::move(out_rec));
  }
  if (!r.ok()) return BatchError(at, "records: " + r.error());
  if (!r.AtEnd()) {
    return BatchError(at, std::to_string(r.remaining()) + " bytes left after " +
                              std::to_string(h.record_count) + " records");
  }
  return Ok();
}

}  // namespace

Result<std::vector<DecodedBatch>> DecodeRecordBatches(std::string_view data,
                                                      const DecodeOptions& options) {
  auto views = SplitRecordBatches(data, options);
  if (!views) return std::unexpected(views.error());
  std::vector<DecodedBatch> out;
  out.reserve(views->size());
  for (const BatchView& v : *views) {
    const size_t at = static_cast<size_t>(v.bytes.data() - data.data());
    DecodedBatch b;
    static_cast<BatchHeader&>(b) = v.header;
    const std::string_view section = v.bytes.substr(kRecordBatchOverhead);
    if (v.header.compression() == Compression::kNone) {
      if (auto s = DecodeRecords(section, v.header, at, b.records); !s) {
        return std::unexpected(s.error());
      }
    } else {
      auto plain = Decompress(v.header.compression(), section, options.max_decompressed_bytes);
      if (!plain) return BatchError(at, plain.error().message());
      if (auto s = DecodeRecords(*plain, v.header, at, b.records); !s) {
        return std::unexpected(s.error());
      }
    }
    out.push_back(std::move(b));
  }
  return out;
}

Status PatchBaseOffset(std::string& batch_bytes, int64_t base_offset) {
  if (batch_bytes.size() < kRecordBatchOverhead) {
    return Fail(ErrorCode::kInvalidArgument, "record batch: too short to patch the base offset");
  }
  const auto v = static_cast<uint64_t>(base_offset);
  for (size_t i = 0; i < 8; ++i) batch_bytes[i] = static_cast<char>(v >> (8 * (7 - i)));
  return Ok();
}

Status PatchPartitionLeaderEpoch(std::string& batch_bytes, int32_t epoch) {
  if (batch_bytes.size() < kRecordBatchOverhead) {
    return Fail(ErrorCode::kInvalidArgument, "record batch: too short to patch the leader epoch");
  }
  const auto v = static_cast<uint32_t>(epoch);
  for (size_t i = 0; i < 4; ++i) batch_bytes[12 + i] = static_cast<char>(v >> (8 * (3 - i)));
  return Ok();
}

}  // namespace pgcdc::codec::kafka
