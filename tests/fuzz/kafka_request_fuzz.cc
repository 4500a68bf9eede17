// libFuzzer target for the Kafka wire-protocol codec (src/codec/kafka).
//
// Input: one selector byte, then the data.
//   selector % 4 == 0: the rest is one request frame body (header + body), as
//     the broker gets it from FrameSplitter: DecodeRequestHeader, then the
//     decoder of (api_key, api_version) when supported.
//   selector % 4 == 1: the rest is a records blob: SplitRecordBatches and
//     DecodeRecordBatches (bit 2: partial tail allowed, bit 3: CRC checked);
//     decoded records are re-encoded with compression (selector >> 4) % 5
//     and decoded again.
//   selector % 4 == 2: the rest is a socket byte stream fed to FrameSplitter
//     in chunks whose sizes come from the selector; every frame is then
//     decoded as in mode 0.
//   selector % 4 == 3: data[1] picks an API, data[2] a version; the rest is a
//     request BODY decoded with that decoder (so flexible versions and every
//     version are reached without a valid header), plus the response
//     decoders that exist (ApiVersions, Metadata, Produce, Fetch).
// Invariants checked (abort on violation):
//  * decode errors are kParse and name the API ("Fetch v11: ...") or the
//    layer ("request header: ", "record batch at offset N: ");
//  * a decoded request re-encodes (where an encoder exists) to bytes that
//    decode again and re-encode identically (fixed point), and for classic
//    (non-flexible) versions to exactly as many bytes as the input body;
//  * response encode -> decode -> encode is a fixed point;
//  * record batches: record counts match the header, offsets are base +
//    delta within last_offset_delta, re-encoded batches decode to the same
//    records; nothing allocates beyond the decompression cap.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "codec/kafka/frame.h"
#include "codec/kafka/messages.h"
#include "codec/kafka/record_batch.h"
#include "codec/kafka/wire.h"

namespace {

namespace k = pgcdc::codec::kafka;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "kafka_request_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

void CheckError(const pgcdc::Error& e, std::string_view prefix) {
  Check(e.code() == pgcdc::ErrorCode::kParse, "decode errors are kParse");
  Check(e.message().starts_with(prefix), "decode error names the API / layer");
}

std::string Prefix(int16_t key, int16_t version) {
  return std::string(k::ApiName(key)) + " v" + std::to_string(version) + ": ";
}

// Decode with `decode`; on success re-encode with `encode` and check the
// fixed point (and exact size for classic versions).
template <class Decode, class Encode>
void RoundTrip(std::string_view body, int16_t key, int16_t version, Decode decode, Encode encode) {
  auto r = decode(body, version);
  if (!r) {
    CheckError(r.error(), Prefix(key, version));
    return;
  }
  k::Writer w1;
  encode(*r, version, w1);
  if (!k::IsFlexible(key, version)) {
    Check(w1.size() == body.size(), "classic request re-encodes to the input size");
  }
  auto r2 = decode(w1.buffer(), version);
  Check(r2.has_value(), "re-encoded request decodes");
  k::Writer w2;
  encode(*r2, version, w2);
  Check(w2.buffer() == w1.buffer(), "request re-encoding is a fixed point");
}

template <class Decode>
void DecodeOnly(std::string_view body, int16_t key, int16_t version, Decode decode) {
  auto r = decode(body, version);
  if (!r) CheckError(r.error(), Prefix(key, version));
}

// Response decoders exist for four APIs: encode(decode(x)) is a fixed point.
template <class Decode, class Encode>
void ResponseRoundTrip(std::string_view body, int16_t version, Decode decode, Encode encode) {
  auto r = decode(body, version);
  if (!r) {
    Check(r.error().code() == pgcdc::ErrorCode::kParse, "response decode errors are kParse");
    return;
  }
  k::Writer w1;
  encode(*r, version, w1);
  auto r2 = decode(w1.buffer(), version);
  Check(r2.has_value(), "re-encoded response decodes");
  k::Writer w2;
  encode(*r2, version, w2);
  Check(w2.buffer() == w1.buffer(), "response re-encoding is a fixed point");
}

void DecodeBody(int16_t key, int16_t version, std::string_view body) {
  if (!k::IsSupported(key, version)) return;
  switch (static_cast<k::ApiKey>(key)) {
    case k::ApiKey::kProduce:
      RoundTrip(body, key, version, k::DecodeProduceRequest, k::EncodeProduceRequest);
      break;
    case k::ApiKey::kFetch:
      RoundTrip(body, key, version, k::DecodeFetchRequest, k::EncodeFetchRequest);
      break;
    case k::ApiKey::kListOffsets:
      RoundTrip(body, key, version, k::DecodeListOffsetsRequest, k::EncodeListOffsetsRequest);
      break;
    case k::ApiKey::kMetadata:
      RoundTrip(body, key, version, k::DecodeMetadataRequest, k::EncodeMetadataRequest);
      break;
    case k::ApiKey::kOffsetCommit:
      DecodeOnly(body, key, version, k::DecodeOffsetCommitRequest);
      break;
    case k::ApiKey::kOffsetFetch:
      RoundTrip(body, key, version, k::DecodeOffsetFetchRequest, k::EncodeOffsetFetchRequest);
      break;
    case k::ApiKey::kFindCoordinator:
      DecodeOnly(body, key, version, k::DecodeFindCoordinatorRequest);
      break;
    case k::ApiKey::kJoinGroup:
      DecodeOnly(body, key, version, k::DecodeJoinGroupRequest);
      break;
    case k::ApiKey::kHeartbeat:
      DecodeOnly(body, key, version, k::DecodeHeartbeatRequest);
      break;
    case k::ApiKey::kLeaveGroup:
      DecodeOnly(body, key, version, k::DecodeLeaveGroupRequest);
      break;
    case k::ApiKey::kSyncGroup:
      DecodeOnly(body, key, version, k::DecodeSyncGroupRequest);
      break;
    case k::ApiKey::kDescribeGroups:
      DecodeOnly(body, key, version, k::DecodeDescribeGroupsRequest);
      break;
    case k::ApiKey::kListGroups:
      DecodeOnly(body, key, version, k::DecodeListGroupsRequest);
      break;
    case k::ApiKey::kSaslHandshake:
      DecodeOnly(body, key, version, k::DecodeSaslHandshakeRequest);
      break;
    case k::ApiKey::kApiVersions:
      RoundTrip(body, key, version, k::DecodeApiVersionsRequest, k::EncodeApiVersionsRequest);
      break;
    case k::ApiKey::kInitProducerId:
      RoundTrip(body, key, version, k::DecodeInitProducerIdRequest, k::EncodeInitProducerIdRequest);
      break;
    case k::ApiKey::kAddPartitionsToTxn:
      RoundTrip(body, key, version, k::DecodeAddPartitionsToTxnRequest,
                k::EncodeAddPartitionsToTxnRequest);
      break;
    case k::ApiKey::kEndTxn:
      RoundTrip(body, key, version, k::DecodeEndTxnRequest, k::EncodeEndTxnRequest);
      break;
    case k::ApiKey::kSaslAuthenticate: {
      auto r = k::DecodeSaslAuthenticateRequest(body, version);
      if (!r) {
        CheckError(r.error(), Prefix(key, version));
      } else {
        (void)k::ParseSaslPlain(r->auth_bytes);
      }
      break;
    }
  }
}

void DecodeFrame(std::string_view frame) {
  size_t off = 0;
  auto h = k::DecodeRequestHeader(frame, &off);
  if (!h) {
    CheckError(h.error(), "request header: ");
    return;
  }
  Check(off <= frame.size(), "body offset inside the frame");
  Check(h->flexible == k::IsFlexible(h->api_key, h->api_version), "flexible flag");
  k::Writer w;
  k::EncodeRequestHeader(*h, w);
  Check(w.size() <= off, "re-encoded header is not longer");
  const std::string framed = k::FrameResponse(*h, "x");
  Check(framed.size() >= 9 && framed.back() == 'x', "FrameResponse layout");
  DecodeBody(h->api_key, h->api_version, frame.substr(off));
}

void Records(std::string_view data, uint8_t selector) {
  k::DecodeOptions opt;
  opt.allow_partial_tail = (selector & 0x04) != 0;
  opt.verify_crc = (selector & 0x08) != 0;
  opt.max_decompressed_bytes = 1 << 20;
  auto split = k::SplitRecordBatches(data, opt);
  auto decoded = k::DecodeRecordBatches(data, opt);
  if (!split) {
    CheckError(split.error(), "record batch at offset ");
    Check(!decoded.has_value(), "decode fails when split fails");
    return;
  }
  size_t total = 0;
  for (const k::BatchView& v : *split) {
    Check(v.bytes.size() == v.header.size(), "batch view has the header's size");
    Check(v.bytes.data() == data.data() + total, "batches are contiguous");
    total += v.bytes.size();
  }
  Check(total <= data.size(), "batches lie inside the input");
  if (!decoded) {
    CheckError(decoded.error(), "record batch at offset ");
    return;
  }
  Check(decoded->size() == split->size(), "decode and split agree");
  for (const k::DecodedBatch& b : *decoded) {
    Check(b.records.size() == static_cast<size_t>(b.record_count), "record count matches");
    for (const k::Record& r : b.records) {
      Check(r.offset >= b.base_offset && r.offset <= b.last_offset(), "offset inside the batch");
    }
    if (b.records.empty()) continue;
    // Re-encode with a codec picked by the selector and decode again.
    const auto c = static_cast<k::Compression>((selector >> 4) % 5);
    std::string again;
    auto s = k::EncodeRecordBatch(b.base_offset, b.records, c, again);
    Check(s.has_value(), "decoded records re-encode");
    k::DecodeOptions big;
    big.max_decompressed_bytes = 64u << 20;
    auto d2 = k::DecodeRecordBatches(again, big);
    Check(d2.has_value() && d2->size() == 1, "re-encoded batch decodes");
    const auto& rs = (*d2)[0].records;
    Check(rs.size() == b.records.size(), "same record count after re-encoding");
    for (size_t i = 0; i < rs.size(); ++i) {
      Check(rs[i].key == b.records[i].key && rs[i].value == b.records[i].value &&
                rs[i].headers == b.records[i].headers,
            "same record contents after re-encoding");
      Check(rs[i].offset == b.base_offset + static_cast<int64_t>(i), "offsets renumbered");
    }
  }
}

void Stream(std::string_view data, uint8_t selector) {
  k::FrameSplitter splitter(4096);
  const size_t chunk = 1 + (selector >> 2);
  size_t fed = 0;
  size_t out = 0;
  for (size_t pos = 0; pos < data.size(); pos += chunk) {
    const std::string_view piece = data.substr(pos, chunk);
    splitter.Append(piece);
    fed += piece.size();
    while (true) {
      auto f = splitter.Next();
      if (!f) {
        Check(f.error().code() == pgcdc::ErrorCode::kProtocol, "frame errors are kProtocol");
        Check(!splitter.Next().has_value(), "frame errors are sticky");
        return;
      }
      if (!f->has_value()) break;
      Check((*f)->size() <= 4096, "frames respect the cap");
      out += 4 + (*f)->size();
      DecodeFrame(**f);
    }
    Check(out + splitter.buffered() == fed, "no byte lost or duplicated");
  }
}

void Body(std::string_view data) {
  if (data.size() < 2) return;
  const auto apis = k::SupportedApis();
  const k::ApiVersionRange& api = apis[static_cast<uint8_t>(data[0]) % apis.size()];
  const int16_t version =
      static_cast<int16_t>(static_cast<uint8_t>(data[1]) % (api.max_version + 1));
  const std::string_view body = data.substr(2);
  DecodeBody(api.api_key, version, body);
  switch (static_cast<k::ApiKey>(api.api_key)) {
    case k::ApiKey::kApiVersions:
      ResponseRoundTrip(body, version, k::DecodeApiVersionsResponse, k::EncodeApiVersionsResponse);
      break;
    case k::ApiKey::kMetadata:
      ResponseRoundTrip(body, version, k::DecodeMetadataResponse, k::EncodeMetadataResponse);
      break;
    case k::ApiKey::kProduce:
      ResponseRoundTrip(body, version, k::DecodeProduceResponse, k::EncodeProduceResponse);
      break;
    case k::ApiKey::kFetch:
      ResponseRoundTrip(body, version, k::DecodeFetchResponse, k::EncodeFetchResponse);
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t selector = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (selector % 4) {
    case 0:
      DecodeFrame(rest);
      break;
    case 1:
      Records(rest, selector);
      break;
    case 2:
      Stream(rest, selector);
      break;
    default:
      Body(rest);
      break;
  }
  return 0;
}
