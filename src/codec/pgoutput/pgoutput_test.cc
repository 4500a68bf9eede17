#include "codec/pgoutput/pgoutput.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#ifndef PGOUTPUT_TESTDATA_DIR
#error "PGOUTPUT_TESTDATA_DIR must point at src/codec/pgoutput/testdata"
#endif

namespace pgcdc::pgoutput {
namespace {

using ::testing::HasSubstr;

// --- Test-only wire builder ---------------------------------------------------

class Wire {
 public:
  Wire& U8(uint8_t v) {
    s_.push_back(static_cast<char>(v));
    return *this;
  }
  Wire& Char(char c) { return U8(static_cast<uint8_t>(c)); }
  Wire& U16(uint16_t v) { return U8(v >> 8).U8(v & 0xFF); }
  Wire& U32(uint32_t v) { return U16(v >> 16).U16(v & 0xFFFF); }
  Wire& U64(uint64_t v) { return U32(v >> 32).U32(v & 0xFFFFFFFF); }
  Wire& I32(int32_t v) { return U32(static_cast<uint32_t>(v)); }
  Wire& I64(int64_t v) { return U64(static_cast<uint64_t>(v)); }
  Wire& Str(std::string_view v) {
    s_.append(v);
    s_.push_back('\0');
    return *this;
  }
  Wire& Raw(std::string_view v) {
    s_.append(v);
    return *this;
  }
  Wire& Append(const Wire& w) { return Raw(w.str()); }
  // TupleData column helpers.
  Wire& Text(std::string_view v) { return Char('t').I32(static_cast<int32_t>(v.size())).Raw(v); }
  Wire& Binary(std::string_view v) { return Char('b').I32(static_cast<int32_t>(v.size())).Raw(v); }
  Wire& Null() { return Char('n'); }
  Wire& Toast() { return Char('u'); }

  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

std::span<const uint8_t> Span(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A PostgreSQL timestamp (2025-05-08T...) and its Unix-nanosecond equivalent.
constexpr int64_t kPgMicros = 800'000'000'123'456;
constexpr int64_t kUnixNs = (kPgMicros + kPostgresEpochUnixSeconds * 1'000'000) * 1000;

DecodeContext Ctx(uint32_t version, bool in_stream = false, uint32_t stream_xid = 0) {
  DecodeContext ctx;
  ctx.protocol_version = version;
  ctx.in_stream = in_stream;
  ctx.stream_xid = stream_xid;
  return ctx;
}

template <class T>
T MustDecode(const std::string& bytes, DecodeContext& ctx) {
  auto r = DecodeMessage(Span(bytes), ctx);
  if (!r.has_value()) {
    ADD_FAILURE() << "decode failed: " << r.error().message();
    return T{};
  }
  if (!std::holds_alternative<T>(*r)) {
    ADD_FAILURE() << "decoded as " << MessageName(*r);
    return T{};
  }
  return std::get<T>(std::move(*r));
}

template <class T>
T MustDecode(const std::string& bytes, uint32_t version = 1) {
  DecodeContext ctx = Ctx(version);
  return MustDecode<T>(bytes, ctx);
}

Error MustFail(const std::string& bytes, DecodeContext ctx) {
  auto r = DecodeMessage(Span(bytes), ctx);
  if (r.has_value()) {
    ADD_FAILURE() << "unexpectedly decoded as " << MessageName(*r);
    return Error(ErrorCode::kUnknown, "");
  }
  return r.error();
}

Error MustFail(const std::string& bytes, uint32_t version = 1) {
  return MustFail(bytes, Ctx(version));
}

void ExpectText(const ColumnValue& c, std::string_view want) {
  EXPECT_EQ(c.kind, ColumnKind::kText);
  EXPECT_EQ(c.data, want);
}

// --- Time and LSN -------------------------------------------------------------

TEST(PgoutputTimeTest, ConvertsBetweenEpochs) {
  EXPECT_EQ(PgTimestampToUnixNanos(0), 946'684'800'000'000'000);
  EXPECT_EQ(PgTimestampToUnixNanos(1), 946'684'800'000'001'000);
  EXPECT_EQ(PgTimestampToUnixNanos(-946'684'800'000'000), 0);
  EXPECT_EQ(PgTimestampToUnixNanos(kPgMicros), kUnixNs);
  EXPECT_EQ(UnixNanosToPgTimestamp(kUnixNs), kPgMicros);
  EXPECT_EQ(UnixNanosToPgTimestamp(kUnixNs + 999), kPgMicros);         // truncates
  EXPECT_EQ(UnixNanosToPgTimestamp(946'684'800'000'000'000 - 1), -1);  // floors
  EXPECT_EQ(UnixNanosToPgTimestamp(0), -946'684'800'000'000);
}

TEST(PgoutputTimeTest, SaturatesOutOfRange) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(PgTimestampToUnixNanos(kMax), kMax);         // PostgreSQL 'infinity'
  EXPECT_EQ(PgTimestampToUnixNanos(kMin), kMin);         // '-infinity'
  EXPECT_EQ(PgTimestampToUnixNanos(kMax / 1000), kMax);  // multiplication fits, addition does not
  EXPECT_EQ(PgTimestampToUnixNanos(kMin / 1000 + 1),
            (kMin / 1000 + 1) * 1000 + 946'684'800'000'000'000);
  EXPECT_EQ(UnixNanosToPgTimestamp(kMax), kMax / 1000 - 946'684'800'000'000);
  EXPECT_EQ(UnixNanosToPgTimestamp(kMin), kMin / 1000 - 1 - 946'684'800'000'000);
}

TEST(PgoutputLsnTest, Formats) {
  EXPECT_EQ(FormatLsn(0), "0/0");
  EXPECT_EQ(FormatLsn(0x16B374D848), "16/B374D848");
  EXPECT_EQ(FormatLsn(uint64_t{1} << 32), "1/0");
  EXPECT_EQ(FormatLsn(0xABCDEF), "0/ABCDEF");
  EXPECT_EQ(FormatLsn(std::numeric_limits<uint64_t>::max()), "FFFFFFFF/FFFFFFFF");
}

TEST(PgoutputLsnTest, ParsesAndRoundTrips) {
  EXPECT_EQ(ParseLsn("16/B374D848").value(), 0x16B374D848u);
  EXPECT_EQ(ParseLsn("16/b374d848").value(), 0x16B374D848u);
  EXPECT_EQ(ParseLsn("0/0").value(), 0u);
  EXPECT_EQ(ParseLsn("00000000/00000001").value(), 1u);
  EXPECT_EQ(ParseLsn("FFFFFFFF/FFFFFFFF").value(), std::numeric_limits<uint64_t>::max());
  uint64_t x = 0x9E3779B97F4A7C15;
  for (int i = 0; i < 2000; ++i) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    const uint64_t lsn = x >> (i % 64);
    auto parsed = ParseLsn(FormatLsn(lsn));
    ASSERT_TRUE(parsed.has_value()) << FormatLsn(lsn);
    EXPECT_EQ(*parsed, lsn);
  }
}

TEST(PgoutputLsnTest, RejectsMalformed) {
  for (std::string_view bad : {"", "/", "1/", "/1", "1", "123456789/0", "0/123456789", "G/0",
                               "1/2/3", " 1/2", "1/2 ", "+1/2", "-1/2", "0x1/2", "1/-0", "1\0/2"}) {
    auto r = ParseLsn(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kParse);
    EXPECT_THAT(r.error().message(), HasSubstr("invalid LSN"));
  }
}

// --- Streaming replication layer --------------------------------------------

TEST(PgoutputReplicationTest, DecodesXLogData) {
  const std::string bytes = Wire()
                                .Char('w')
                                .U64(0x0000001600000010)
                                .U64(0x00000016000000FF)
                                .I64(kPgMicros)
                                .Raw("payload\0bytes")
                                .str();
  auto r = DecodeReplicationMessage(Span(bytes));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  const auto& x = std::get<XLogData>(*r);
  EXPECT_EQ(x.wal_start, 0x0000001600000010u);
  EXPECT_EQ(x.wal_end, 0x00000016000000FFu);
  EXPECT_EQ(x.server_time_ns, kUnixNs);
  EXPECT_EQ(x.payload.size(), bytes.size() - 25);
  // Zero-copy: the payload points into the input.
  EXPECT_EQ(reinterpret_cast<const char*>(x.payload.data()), bytes.data() + 25);
}

TEST(PgoutputReplicationTest, DecodesEmptyXLogData) {
  const std::string bytes = Wire().Char('w').U64(1).U64(2).I64(0).str();
  auto r = DecodeReplicationMessage(Span(bytes));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(std::get<XLogData>(*r).payload.empty());
}

TEST(PgoutputReplicationTest, DecodesKeepalive) {
  for (uint8_t reply : {0, 1}) {
    const std::string bytes = Wire().Char('k').U64(0xABCDEF0123).I64(kPgMicros).U8(reply).str();
    auto r = DecodeReplicationMessage(Span(bytes));
    ASSERT_TRUE(r.has_value()) << r.error().message();
    const auto& k = std::get<PrimaryKeepalive>(*r);
    EXPECT_EQ(k.wal_end, 0xABCDEF0123u);
    EXPECT_EQ(k.server_time_ns, kUnixNs);
    EXPECT_EQ(k.reply_requested, reply == 1);
  }
}

TEST(PgoutputReplicationTest, RejectsMalformed) {
  const std::string xlog = Wire().Char('w').U64(1).U64(2).I64(3).str();
  const std::string keepalive = Wire().Char('k').U64(1).I64(2).U8(1).str();
  for (const std::string* full : {&xlog, &keepalive}) {
    for (size_t n = 0; n < full->size(); ++n) {
      auto r = DecodeReplicationMessage(Span(std::string_view(*full).substr(0, n)));
      ASSERT_FALSE(r.has_value()) << "prefix " << n;
      EXPECT_EQ(r.error().code(), ErrorCode::kParse);
    }
  }
  auto r = DecodeReplicationMessage(Span(keepalive + "x"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "replication: Primary Keepalive: 1 unexpected trailing byte");

  r = DecodeReplicationMessage(Span(std::string_view("w\0\0", 3)));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "replication: XLogData: truncated (WAL start)");

  r = DecodeReplicationMessage(Span("x123"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(r.error().message(), "replication: unknown message type 'x' (0x78)");

  r = DecodeReplicationMessage(Span(std::string_view("\x01", 1)));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "replication: unknown message type 0x01");
}

TEST(PgoutputReplicationTest, EncodesStandbyStatusUpdateExactly) {
  // client time = PostgreSQL epoch + 0xABCDEF microseconds (+ 999 ns, dropped).
  const int64_t client_ns = (kPostgresEpochUnixSeconds * 1'000'000 + 0xABCDEF) * 1000 + 999;
  const std::string got = EncodeStandbyStatusUpdate(0x0102030405060708, 0x1112131415161718,
                                                    0x2122232425262728, client_ns, true);
  const std::string want(
      "r"
      "\x01\x02\x03\x04\x05\x06\x07\x08"
      "\x11\x12\x13\x14\x15\x16\x17\x18"
      "\x21\x22\x23\x24\x25\x26\x27\x28"
      "\x00\x00\x00\x00\x00\xAB\xCD\xEF"
      "\x01",
      34);
  EXPECT_EQ(got.size(), kStandbyStatusUpdateSize);
  EXPECT_EQ(got, want);

  const std::string no_reply = EncodeStandbyStatusUpdate(0, 0, 0, 0, false);
  EXPECT_EQ(no_reply.size(), 34u);
  EXPECT_EQ(no_reply.back(), '\0');
  // Unix epoch is before the PostgreSQL epoch: a negative TimestampTz.
  EXPECT_EQ(no_reply.substr(25, 8), Wire().I64(-946'684'800'000'000).str());
}

TEST(PgoutputReplicationTest, StandbyStatusUpdateRoundTrips) {
  const std::string bytes = EncodeStandbyStatusUpdate(10, 20, 30, kUnixNs, true);
  auto r = DecodeStandbyStatusUpdate(Span(bytes));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->written, 10u);
  EXPECT_EQ(r->flushed, 20u);
  EXPECT_EQ(r->applied, 30u);
  EXPECT_EQ(r->client_time_ns, kUnixNs);
  EXPECT_TRUE(r->reply_requested);

  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(DecodeStandbyStatusUpdate(Span(std::string_view(bytes).substr(0, n))));
  }
  auto wrong = DecodeStandbyStatusUpdate(Span("k"));
  ASSERT_FALSE(wrong.has_value());
  EXPECT_EQ(wrong.error().code(), ErrorCode::kProtocol);
}

// --- pgoutput: one test per message type -------------------------------------

TEST(PgoutputMessageTest, Begin) {
  const std::string bytes = Wire().Char('B').U64(0x16B374D848).I64(kPgMicros).U32(4242).str();
  const Begin m = MustDecode<Begin>(bytes);
  EXPECT_EQ(m.final_lsn, 0x16B374D848u);
  EXPECT_EQ(m.commit_time_ns, kUnixNs);
  EXPECT_EQ(m.xid, 4242u);
}

TEST(PgoutputMessageTest, Commit) {
  const std::string bytes = Wire().Char('C').U8(0).U64(100).U64(200).I64(kPgMicros).str();
  const Commit m = MustDecode<Commit>(bytes);
  EXPECT_EQ(m.flags, 0);
  EXPECT_EQ(m.commit_lsn, 100u);
  EXPECT_EQ(m.end_lsn, 200u);
  EXPECT_EQ(m.commit_time_ns, kUnixNs);
  // Unknown flags are passed through, not rejected.
  EXPECT_EQ(MustDecode<Commit>(Wire().Char('C').U8(7).U64(1).U64(2).I64(3).str()).flags, 7);
}

TEST(PgoutputMessageTest, Origin) {
  const Origin m = MustDecode<Origin>(Wire().Char('O').U64(0xABCDEF).Str("upstream").str());
  EXPECT_EQ(m.lsn, 0xABCDEFu);
  EXPECT_EQ(m.name, "upstream");
}

TEST(PgoutputMessageTest, Relation) {
  const std::string bytes = Wire()
                                .Char('R')
                                .U32(16393)
                                .Str("app")
                                .Str("items")
                                .Char('f')
                                .U16(3)
                                .U8(1)
                                .Str("id")
                                .U32(23)
                                .I32(-1)
                                .U8(0)
                                .Str("price")
                                .U32(1700)
                                .I32(655366)
                                .U8(0)
                                .Str("")
                                .U32(25)
                                .I32(-1)
                                .str();
  const Relation m = MustDecode<Relation>(bytes);
  EXPECT_FALSE(m.xid.has_value());
  EXPECT_EQ(m.relation_id, 16393u);
  EXPECT_EQ(m.namespace_name, "app");
  EXPECT_EQ(m.name, "items");
  EXPECT_EQ(m.replica_identity, 'f');
  ASSERT_EQ(m.columns.size(), 3u);
  EXPECT_EQ(m.columns[0].flags, 1);
  EXPECT_TRUE(m.columns[0].is_key());
  EXPECT_EQ(m.columns[0].name, "id");
  EXPECT_EQ(m.columns[0].type_oid, 23u);
  EXPECT_EQ(m.columns[0].type_modifier, -1);
  EXPECT_FALSE(m.columns[1].is_key());
  EXPECT_EQ(m.columns[1].name, "price");
  EXPECT_EQ(m.columns[1].type_oid, 1700u);
  EXPECT_EQ(m.columns[1].type_modifier, 655366);
  EXPECT_EQ(m.columns[2].name, "");
  EXPECT_EQ(m.columns[2].type_oid, 25u);

  // pg_catalog relations have an empty namespace; zero columns is legal.
  const Relation empty =
      MustDecode<Relation>(Wire().Char('R').U32(1).Str("").Str("t").Char('n').U16(0).str());
  EXPECT_EQ(empty.namespace_name, "");
  EXPECT_EQ(empty.replica_identity, 'n');
  EXPECT_TRUE(empty.columns.empty());
}

TEST(PgoutputMessageTest, Type) {
  const Type m = MustDecode<Type>(Wire().Char('Y').U32(16386).Str("app").Str("mood").str());
  EXPECT_FALSE(m.xid.has_value());
  EXPECT_EQ(m.oid, 16386u);
  EXPECT_EQ(m.namespace_name, "app");
  EXPECT_EQ(m.name, "mood");
}

TEST(PgoutputMessageTest, InsertWithEveryColumnKind) {
  const std::string bytes = Wire()
                                .Char('I')
                                .U32(16393)
                                .Char('N')
                                .U16(5)
                                .Text("widget")
                                .Null()
                                .Toast()
                                .Binary(std::string_view("\x00\xff\x00", 3))
                                .Text("")
                                .str();
  const Insert m = MustDecode<Insert>(bytes);
  EXPECT_FALSE(m.xid.has_value());
  EXPECT_EQ(m.relation_id, 16393u);
  ASSERT_EQ(m.new_tuple.columns.size(), 5u);
  ExpectText(m.new_tuple.columns[0], "widget");
  EXPECT_EQ(m.new_tuple.columns[1].kind, ColumnKind::kNull);
  EXPECT_TRUE(m.new_tuple.columns[1].data.empty());
  EXPECT_EQ(m.new_tuple.columns[2].kind, ColumnKind::kUnchangedToast);
  EXPECT_TRUE(m.new_tuple.columns[2].data.empty());
  EXPECT_EQ(m.new_tuple.columns[3].kind, ColumnKind::kBinary);
  EXPECT_EQ(m.new_tuple.columns[3].data, std::string_view("\x00\xff\x00", 3));
  ExpectText(m.new_tuple.columns[4], "");
  // Zero-copy: the value points into the input buffer.
  const char* widget = m.new_tuple.columns[0].data.data();
  EXPECT_GE(widget, bytes.data());
  EXPECT_LT(widget, bytes.data() + bytes.size());

  // A tuple with no columns.
  EXPECT_TRUE(
      MustDecode<Insert>(Wire().Char('I').U32(1).Char('N').U16(0).str()).new_tuple.columns.empty());
}

TEST(PgoutputMessageTest, UpdateWithoutOldTuple) {
  // Decoded tuples borrow from the input: keep it alive in a named string.
  const std::string bytes = Wire().Char('U').U32(7).Char('N').U16(2).Text("1").Toast().str();
  const Update m = MustDecode<Update>(bytes);
  EXPECT_EQ(m.relation_id, 7u);
  EXPECT_FALSE(m.old_kind.has_value());
  EXPECT_TRUE(m.old_tuple.columns.empty());
  ASSERT_EQ(m.new_tuple.columns.size(), 2u);
  ExpectText(m.new_tuple.columns[0], "1");
  EXPECT_EQ(m.new_tuple.columns[1].kind, ColumnKind::kUnchangedToast);
}

TEST(PgoutputMessageTest, UpdateWithKeyAndOldTuples) {
  for (char kind : {'K', 'O'}) {
    const std::string bytes = Wire()
                                  .Char('U')
                                  .U32(7)
                                  .Char(kind)
                                  .U16(2)
                                  .Text("2")
                                  .Null()
                                  .Char('N')
                                  .U16(2)
                                  .Text("3")
                                  .Text("gadget")
                                  .str();
    const Update m = MustDecode<Update>(bytes);
    ASSERT_TRUE(m.old_kind.has_value());
    EXPECT_EQ(*m.old_kind, kind == 'K' ? OldTupleKind::kKey : OldTupleKind::kOld);
    ASSERT_EQ(m.old_tuple.columns.size(), 2u);
    ExpectText(m.old_tuple.columns[0], "2");
    EXPECT_EQ(m.old_tuple.columns[1].kind, ColumnKind::kNull);
    ASSERT_EQ(m.new_tuple.columns.size(), 2u);
    ExpectText(m.new_tuple.columns[0], "3");
    ExpectText(m.new_tuple.columns[1], "gadget");
  }
}

TEST(PgoutputMessageTest, Delete) {
  for (char kind : {'K', 'O'}) {
    const std::string bytes = Wire().Char('D').U32(9).Char(kind).U16(2).Text("42").Null().str();
    const Delete m = MustDecode<Delete>(bytes);
    EXPECT_EQ(m.relation_id, 9u);
    EXPECT_EQ(m.old_kind, kind == 'K' ? OldTupleKind::kKey : OldTupleKind::kOld);
    ASSERT_EQ(m.old_tuple.columns.size(), 2u);
    ExpectText(m.old_tuple.columns[0], "42");
    EXPECT_EQ(m.old_tuple.columns[1].kind, ColumnKind::kNull);
  }
}

TEST(PgoutputMessageTest, Truncate) {
  const Truncate m =
      MustDecode<Truncate>(Wire().Char('T').I32(3).U8(3).U32(10).U32(20).U32(30).str());
  EXPECT_EQ(m.options, 3);
  EXPECT_TRUE(m.cascade());
  EXPECT_TRUE(m.restart_identity());
  EXPECT_EQ(m.relation_ids, (std::vector<uint32_t>{10, 20, 30}));

  const Truncate plain = MustDecode<Truncate>(Wire().Char('T').I32(1).U8(0).U32(5).str());
  EXPECT_FALSE(plain.cascade());
  EXPECT_FALSE(plain.restart_identity());
  EXPECT_EQ(MustDecode<Truncate>(Wire().Char('T').I32(1).U8(2).U32(5).str()).restart_identity(),
            true);
  EXPECT_TRUE(MustDecode<Truncate>(Wire().Char('T').I32(0).U8(1).str()).relation_ids.empty());
}

TEST(PgoutputMessageTest, LogicalMessage) {
  const std::string content("bin\0ary\xff", 8);
  const std::string bytes = Wire()
                                .Char('M')
                                .U8(1)
                                .U64(0x1530000)
                                .Str("pgcdc")
                                .I32(static_cast<int32_t>(content.size()))
                                .Raw(content)
                                .str();
  const LogicalMessage m = MustDecode<LogicalMessage>(bytes);
  EXPECT_FALSE(m.xid.has_value());
  EXPECT_TRUE(m.transactional);
  EXPECT_EQ(m.lsn, 0x1530000u);
  EXPECT_EQ(m.prefix, "pgcdc");
  EXPECT_EQ(m.content, content);

  const std::string nontx_bytes = Wire().Char('M').U8(2).U64(1).Str("p").I32(0).str();
  const LogicalMessage nontx = MustDecode<LogicalMessage>(nontx_bytes);
  EXPECT_EQ(nontx.flags, 2);  // unknown flag bits are kept, not rejected
  EXPECT_FALSE(nontx.transactional);
  EXPECT_EQ(nontx.prefix, "p");
  EXPECT_TRUE(nontx.content.empty());
}

TEST(PgoutputMessageTest, StreamControlMessages) {
  DecodeContext ctx = Ctx(2);
  const StreamStart start = MustDecode<StreamStart>(Wire().Char('S').U32(747).U8(1).str(), ctx);
  EXPECT_EQ(start.xid, 747u);
  EXPECT_TRUE(start.first_segment);
  EXPECT_TRUE(ctx.in_stream);
  EXPECT_EQ(ctx.stream_xid, 747u);

  MustDecode<StreamStop>("E", ctx);
  EXPECT_FALSE(ctx.in_stream);
  EXPECT_EQ(ctx.stream_xid, 0u);

  EXPECT_FALSE(MustDecode<StreamStart>(Wire().Char('S').U32(747).U8(0).str(), ctx).first_segment);
  MustDecode<StreamStop>("E", ctx);

  const StreamCommit commit = MustDecode<StreamCommit>(
      Wire().Char('c').U32(747).U8(0).U64(0x154FA88).U64(0x154FAB8).I64(kPgMicros).str(), ctx);
  EXPECT_EQ(commit.xid, 747u);
  EXPECT_EQ(commit.flags, 0);
  EXPECT_EQ(commit.commit_lsn, 0x154FA88u);
  EXPECT_EQ(commit.end_lsn, 0x154FAB8u);
  EXPECT_EQ(commit.commit_time_ns, kUnixNs);

  const StreamAbort abort = MustDecode<StreamAbort>(Wire().Char('A').U32(749).U32(750).str(), ctx);
  EXPECT_EQ(abort.xid, 749u);
  EXPECT_EQ(abort.subxid, 750u);
  EXPECT_FALSE(abort.abort_lsn.has_value());
  EXPECT_FALSE(abort.abort_time_ns.has_value());
}

TEST(PgoutputMessageTest, StreamAbortParallelFields) {
  const std::string v2 = Wire().Char('A').U32(5).U32(6).str();
  const std::string v4 = Wire().Append(Wire().Raw(v2)).U64(0xBEEF).I64(kPgMicros).str();

  // Protocol 4: both the short form (streaming = on) and the long form
  // (streaming = parallel) decode.
  const StreamAbort short_form = MustDecode<StreamAbort>(v2, 4);
  EXPECT_FALSE(short_form.abort_lsn.has_value());
  const StreamAbort long_form = MustDecode<StreamAbort>(v4, 4);
  EXPECT_EQ(long_form.xid, 5u);
  EXPECT_EQ(long_form.subxid, 6u);
  ASSERT_TRUE(long_form.abort_lsn.has_value());
  EXPECT_EQ(*long_form.abort_lsn, 0xBEEFu);
  ASSERT_TRUE(long_form.abort_time_ns.has_value());
  EXPECT_EQ(*long_form.abort_time_ns, kUnixNs);

  // Below protocol 4 the extra fields are trailing garbage.
  for (uint32_t v : {2u, 3u}) {
    const Error e = MustFail(v4, v);
    EXPECT_EQ(e.code(), ErrorCode::kParse);
    EXPECT_EQ(e.message(), "pgoutput: Stream Abort: 16 unexpected trailing bytes");
  }
  // Protocol 4 with a partial extension is truncated.
  EXPECT_EQ(MustFail(v4.substr(0, v2.size() + 4), 4).message(),
            "pgoutput: Stream Abort: truncated (abort LSN)");
  EXPECT_EQ(MustFail(v4 + "x", 4).message(), "pgoutput: Stream Abort: 1 unexpected trailing byte");
}

TEST(PgoutputMessageTest, TwoPhaseMessages) {
  const BeginPrepare bp = MustDecode<BeginPrepare>(
      Wire().Char('b').U64(11).U64(12).I64(kPgMicros).U32(753).Str("pgcdc-g1").str(), 3);
  EXPECT_EQ(bp.prepare_lsn, 11u);
  EXPECT_EQ(bp.end_lsn, 12u);
  EXPECT_EQ(bp.prepare_time_ns, kUnixNs);
  EXPECT_EQ(bp.xid, 753u);
  EXPECT_EQ(bp.gid, "pgcdc-g1");

  const Prepare p = MustDecode<Prepare>(
      Wire().Char('P').U8(0).U64(21).U64(22).I64(kPgMicros).U32(754).Str("g2").str(), 3);
  EXPECT_EQ(p.flags, 0);
  EXPECT_EQ(p.prepare_lsn, 21u);
  EXPECT_EQ(p.end_lsn, 22u);
  EXPECT_EQ(p.prepare_time_ns, kUnixNs);
  EXPECT_EQ(p.xid, 754u);
  EXPECT_EQ(p.gid, "g2");

  const CommitPrepared cp = MustDecode<CommitPrepared>(
      Wire().Char('K').U8(0).U64(31).U64(32).I64(kPgMicros).U32(755).Str("g3").str(), 3);
  EXPECT_EQ(cp.commit_lsn, 31u);
  EXPECT_EQ(cp.end_lsn, 32u);
  EXPECT_EQ(cp.commit_time_ns, kUnixNs);
  EXPECT_EQ(cp.xid, 755u);
  EXPECT_EQ(cp.gid, "g3");

  const RollbackPrepared rp = MustDecode<RollbackPrepared>(
      Wire().Char('r').U8(0).U64(41).U64(42).I64(kPgMicros).I64(0).U32(756).Str("g4").str(), 3);
  EXPECT_EQ(rp.prepare_end_lsn, 41u);
  EXPECT_EQ(rp.rollback_end_lsn, 42u);
  EXPECT_EQ(rp.prepare_time_ns, kUnixNs);
  EXPECT_EQ(rp.rollback_time_ns, PgTimestampToUnixNanos(0));
  EXPECT_EQ(rp.xid, 756u);
  EXPECT_EQ(rp.gid, "g4");

  const StreamPrepare sp = MustDecode<StreamPrepare>(
      Wire().Char('p').U8(0).U64(51).U64(52).I64(kPgMicros).U32(757).Str("g5").str(), 4);
  EXPECT_EQ(sp.prepare_lsn, 51u);
  EXPECT_EQ(sp.end_lsn, 52u);
  EXPECT_EQ(sp.prepare_time_ns, kUnixNs);
  EXPECT_EQ(sp.xid, 757u);
  EXPECT_EQ(sp.gid, "g5");
}

TEST(PgoutputMessageTest, MessageNames) {
  EXPECT_EQ(MessageName(Message(Begin{})), "Begin");
  EXPECT_EQ(MessageName(Message(LogicalMessage{})), "Logical Message");
  EXPECT_EQ(MessageName(Message(StreamStart{})), "Stream Start");
  EXPECT_EQ(MessageName(Message(StreamPrepare{})), "Stream Prepare");
}

// --- Protocol versions and streaming state ----------------------------------

TEST(PgoutputProtocolTest, MessagesNeedTheirProtocolVersion) {
  struct Case {
    std::string bytes;
    uint32_t min_version;
  };
  const std::vector<Case> cases = {
      {Wire().Char('S').U32(1).U8(1).str(), 2},
      {"E", 2},
      {Wire().Char('c').U32(1).U8(0).U64(1).U64(2).I64(3).str(), 2},
      {Wire().Char('A').U32(1).U32(1).str(), 2},
      {Wire().Char('b').U64(1).U64(2).I64(3).U32(4).Str("g").str(), 3},
      {Wire().Char('P').U8(0).U64(1).U64(2).I64(3).U32(4).Str("g").str(), 3},
      {Wire().Char('K').U8(0).U64(1).U64(2).I64(3).U32(4).Str("g").str(), 3},
      {Wire().Char('r').U8(0).U64(1).U64(2).I64(3).I64(4).U32(5).Str("g").str(), 3},
      {Wire().Char('p').U8(0).U64(1).U64(2).I64(3).U32(4).Str("g").str(), 3},
  };
  for (const Case& c : cases) {
    for (uint32_t v = 1; v < c.min_version; ++v) {
      const Error e = MustFail(c.bytes, v);
      EXPECT_EQ(e.code(), ErrorCode::kProtocol) << c.bytes[0];
      EXPECT_THAT(e.message(),
                  HasSubstr("requires protocol version >= " + std::to_string(c.min_version) +
                            " (negotiated " + std::to_string(v) + ")"));
    }
    // At the minimum version they decode ("E" needs an open stream block).
    DecodeContext ctx = Ctx(c.min_version, /*in_stream=*/c.bytes == "E");
    EXPECT_TRUE(DecodeMessage(Span(c.bytes), ctx).has_value()) << c.bytes[0];
  }
  const Error e = MustFail("B", 0);
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
}

TEST(PgoutputProtocolTest, SameInsertBytesDependOnStreamState) {
  // Inside a stream block an Insert starts with the (sub)transaction xid.
  const std::string streamed =
      Wire().Char('I').U32(750).U32(16412).Char('N').U16(1).Text("3001").str();
  DecodeContext ctx = Ctx(2);
  MustDecode<StreamStart>(Wire().Char('S').U32(749).U8(1).str(), ctx);
  const Insert in_stream = MustDecode<Insert>(streamed, ctx);
  ASSERT_TRUE(in_stream.xid.has_value());
  EXPECT_EQ(*in_stream.xid, 750u);  // a subtransaction of stream 749
  EXPECT_EQ(in_stream.relation_id, 16412u);
  ExpectText(in_stream.new_tuple.columns.at(0), "3001");

  // The same bytes outside the block: the xid is read as the relation id and
  // the relation id's first byte as the tuple marker.
  MustDecode<StreamStop>("E", ctx);
  const Error e = MustFail(streamed, ctx);
  EXPECT_EQ(e.code(), ErrorCode::kParse);
  EXPECT_EQ(e.message(), "pgoutput: Insert: expected new tuple marker 'N', got 0x00");

  // And a plain Insert inside a block is misread the other way round.
  const std::string plain = Wire().Char('I').U32(16412).Char('N').U16(1).Text("1").str();
  EXPECT_EQ(MustDecode<Insert>(plain, ctx).relation_id, 16412u);
  EXPECT_EQ(MustFail(plain, Ctx(2, /*in_stream=*/true, 749)).code(), ErrorCode::kParse);
}

TEST(PgoutputProtocolTest, EveryXidCarryingMessageReadsTheXidInsideAStream) {
  DecodeContext ctx = Ctx(2, /*in_stream=*/true, /*stream_xid=*/99);
  const Relation rel = MustDecode<Relation>(
      Wire().Char('R').U32(99).U32(1).Str("s").Str("t").Char('d').U16(0).str(), ctx);
  EXPECT_EQ(rel.xid, 99u);
  EXPECT_EQ(rel.relation_id, 1u);
  const Type type = MustDecode<Type>(Wire().Char('Y').U32(99).U32(2).Str("s").Str("ty").str(), ctx);
  EXPECT_EQ(type.xid, 99u);
  EXPECT_EQ(type.oid, 2u);
  const Update upd =
      MustDecode<Update>(Wire().Char('U').U32(99).U32(3).Char('N').U16(0).str(), ctx);
  EXPECT_EQ(upd.xid, 99u);
  EXPECT_EQ(upd.relation_id, 3u);
  const Delete del =
      MustDecode<Delete>(Wire().Char('D').U32(99).U32(4).Char('K').U16(0).str(), ctx);
  EXPECT_EQ(del.xid, 99u);
  EXPECT_EQ(del.relation_id, 4u);
  const Truncate tr = MustDecode<Truncate>(Wire().Char('T').U32(99).I32(1).U8(0).U32(5).str(), ctx);
  EXPECT_EQ(tr.xid, 99u);
  EXPECT_EQ(tr.relation_ids, std::vector<uint32_t>{5});
  const LogicalMessage msg =
      MustDecode<LogicalMessage>(Wire().Char('M').U32(99).U8(1).U64(6).Str("p").I32(0).str(), ctx);
  EXPECT_EQ(msg.xid, 99u);
  EXPECT_EQ(msg.lsn, 6u);
  // Messages without an xid field are unaffected by the stream block.
  EXPECT_EQ(MustDecode<Origin>(Wire().Char('O').U64(7).Str("o").str(), ctx).lsn, 7u);
}

TEST(PgoutputProtocolTest, StreamBlockStateErrorsLeaveContextUnchanged) {
  DecodeContext ctx = Ctx(2);
  Error e = MustFail("E", ctx);
  EXPECT_EQ(e.code(), ErrorCode::kProtocol);
  EXPECT_EQ(e.message(), "pgoutput: Stream Stop: not in a stream block");

  MustDecode<StreamStart>(Wire().Char('S').U32(10).U8(1).str(), ctx);
  auto r = DecodeMessage(Span(Wire().Char('S').U32(11).U8(1).str()), ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(r.error().message(),
            "pgoutput: Stream Start: already inside the stream block of xid 10");
  EXPECT_TRUE(ctx.in_stream);
  EXPECT_EQ(ctx.stream_xid, 10u);

  // A malformed Stop does not close the block; a malformed Start does not open one.
  EXPECT_FALSE(DecodeMessage(Span("Ex"), ctx).has_value());
  EXPECT_TRUE(ctx.in_stream);
  MustDecode<StreamStop>("E", ctx);
  EXPECT_FALSE(DecodeMessage(Span(Wire().Char('S').U32(12).str()), ctx).has_value());
  EXPECT_FALSE(ctx.in_stream);
  EXPECT_EQ(ctx.stream_xid, 0u);
}

// --- Malformed input ----------------------------------------------------------

struct Sample {
  std::string name;
  std::string bytes;
  DecodeContext ctx;
};

std::vector<Sample> ValidSamples() {
  const DecodeContext v1 = Ctx(1);
  const DecodeContext stream = Ctx(4, true, 99);
  const DecodeContext v4 = Ctx(4);
  const Wire tuple = Wire().U16(4).Text("abc").Null().Toast().Binary("\x01\x02");
  return {
      {"begin", Wire().Char('B').U64(1).I64(2).U32(3).str(), v1},
      {"commit", Wire().Char('C').U8(0).U64(1).U64(2).I64(3).str(), v1},
      {"origin", Wire().Char('O').U64(1).Str("origin").str(), v1},
      {"relation",
       Wire()
           .Char('R')
           .U32(1)
           .Str("ns")
           .Str("rel")
           .Char('d')
           .U16(2)
           .U8(1)
           .Str("a")
           .U32(23)
           .I32(-1)
           .U8(0)
           .Str("b")
           .U32(25)
           .I32(-1)
           .str(),
       v1},
      {"stream_relation",
       Wire()
           .Char('R')
           .U32(99)
           .U32(1)
           .Str("ns")
           .Str("rel")
           .Char('d')
           .U16(1)
           .U8(1)
           .Str("a")
           .U32(23)
           .I32(-1)
           .str(),
       stream},
      {"type", Wire().Char('Y').U32(1).Str("ns").Str("ty").str(), v1},
      {"stream_type", Wire().Char('Y').U32(99).U32(1).Str("ns").Str("ty").str(), stream},
      {"insert", Wire().Char('I').U32(1).Char('N').Append(tuple).str(), v1},
      {"stream_insert", Wire().Char('I').U32(99).U32(1).Char('N').Append(tuple).str(), stream},
      {"update", Wire().Char('U').U32(1).Char('N').Append(tuple).str(), v1},
      {"update_key", Wire().Char('U').U32(1).Char('K').Append(tuple).Char('N').Append(tuple).str(),
       v1},
      {"stream_update_old",
       Wire().Char('U').U32(99).U32(1).Char('O').Append(tuple).Char('N').Append(tuple).str(),
       stream},
      {"delete", Wire().Char('D').U32(1).Char('K').Append(tuple).str(), v1},
      {"stream_delete", Wire().Char('D').U32(99).U32(1).Char('O').Append(tuple).str(), stream},
      {"truncate", Wire().Char('T').I32(2).U8(1).U32(1).U32(2).str(), v1},
      {"stream_truncate", Wire().Char('T').U32(99).I32(1).U8(1).U32(1).str(), stream},
      {"message", Wire().Char('M').U8(1).U64(1).Str("p").I32(3).Raw("abc").str(), v1},
      {"stream_message", Wire().Char('M').U32(99).U8(0).U64(1).Str("p").I32(1).Raw("a").str(),
       stream},
      {"stream_start", Wire().Char('S').U32(5).U8(1).str(), v4},
      {"stream_stop", "E", stream},
      {"stream_commit", Wire().Char('c').U32(5).U8(0).U64(1).U64(2).I64(3).str(), v4},
      {"stream_abort", Wire().Char('A').U32(5).U32(6).str(), Ctx(2)},
      {"stream_abort_parallel", Wire().Char('A').U32(5).U32(6).U64(7).I64(8).str(), v4},
      {"begin_prepare", Wire().Char('b').U64(1).U64(2).I64(3).U32(4).Str("gid").str(), v4},
      {"prepare", Wire().Char('P').U8(0).U64(1).U64(2).I64(3).U32(4).Str("gid").str(), v4},
      {"commit_prepared", Wire().Char('K').U8(0).U64(1).U64(2).I64(3).U32(4).Str("gid").str(), v4},
      {"rollback_prepared",
       Wire().Char('r').U8(0).U64(1).U64(2).I64(3).I64(4).U32(5).Str("gid").str(), v4},
      {"stream_prepare", Wire().Char('p').U8(0).U64(1).U64(2).I64(3).U32(4).Str("gid").str(), v4},
  };
}

TEST(PgoutputMalformedTest, EveryTruncationFailsCleanly) {
  for (const Sample& s : ValidSamples()) {
    SCOPED_TRACE(s.name);
    DecodeContext full_ctx = s.ctx;
    ASSERT_TRUE(DecodeMessage(Span(s.bytes), full_ctx).has_value());
    // The parallel Stream Abort's 9-byte prefix is the valid short form.
    const size_t skip = s.name == "stream_abort_parallel" ? 9 : s.bytes.size();
    for (size_t n = 0; n < s.bytes.size(); ++n) {
      if (n == skip) continue;
      DecodeContext ctx = s.ctx;
      auto r = DecodeMessage(Span(std::string_view(s.bytes).substr(0, n)), ctx);
      ASSERT_FALSE(r.has_value()) << "prefix of " << n << " bytes decoded";
      EXPECT_EQ(r.error().code(), ErrorCode::kParse) << r.error().message();
      EXPECT_TRUE(r.error().message().starts_with("pgoutput: ")) << r.error().message();
      EXPECT_EQ(ctx.in_stream, s.ctx.in_stream);
      EXPECT_EQ(ctx.stream_xid, s.ctx.stream_xid);
    }
  }
}

TEST(PgoutputMalformedTest, TrailingBytesAreRejected) {
  for (const Sample& s : ValidSamples()) {
    SCOPED_TRACE(s.name);
    DecodeContext ctx = s.ctx;
    auto r = DecodeMessage(Span(s.bytes + "z"), ctx);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kParse);
    EXPECT_THAT(r.error().message(), HasSubstr("1 unexpected trailing byte"));
  }
}

TEST(PgoutputMalformedTest, ErrorMessagesNameTheMessageAndTheProblem) {
  // Five columns, cut off inside the third one's value.
  const std::string insert = Wire()
                                 .Char('I')
                                 .U32(1)
                                 .Char('N')
                                 .U16(5)
                                 .Text("a")
                                 .Text("b")
                                 .Char('t')
                                 .I32(10)
                                 .Raw("xy")
                                 .str();
  EXPECT_EQ(MustFail(insert).message(), "pgoutput: Insert: truncated tuple data (column 3 of 5)");
  // Cut off before the fourth column's kind byte.
  EXPECT_EQ(
      MustFail(Wire().Char('I').U32(1).Char('N').U16(5).Text("a").Null().Null().str()).message(),
      "pgoutput: Insert: truncated tuple data (column 4 of 5)");
  // Fewer bytes left than columns declared.
  EXPECT_EQ(MustFail(Wire().Char('I').U32(1).Char('N').U16(5).Null().str()).message(),
            "pgoutput: Insert: truncated tuple data (5 columns declared, 1 bytes left)");

  EXPECT_EQ(MustFail(Wire().Char('I').U32(1).Char('N').U16(2).Null().Char('x').str()).message(),
            "pgoutput: Insert: unknown column kind 'x' (0x78) in tuple data (column 2 of 2)");
  EXPECT_EQ(MustFail(Wire().Char('U').U32(1).Char('K').U16(1).Char('t').I32(-5).Char('N').str())
                .message(),
            "pgoutput: Update: negative column length -5 in old tuple data (column 1 of 1)");
  EXPECT_EQ(MustFail(Wire().Char('U').U32(1).Char('K').U16(0).Char('K').U16(0).str()).message(),
            "pgoutput: Update: expected new tuple marker 'N', got 'K' (0x4B)");
  EXPECT_EQ(MustFail(Wire().Char('U').U32(1).Char('X').U16(0).str()).message(),
            "pgoutput: Update: expected tuple marker 'K', 'O' or 'N', got 'X' (0x58)");
  EXPECT_EQ(MustFail(Wire().Char('D').U32(1).Char('N').U16(0).str()).message(),
            "pgoutput: Delete: expected old tuple marker 'K' or 'O', got 'N' (0x4E)");
  EXPECT_EQ(MustFail(Wire().Char('O').U64(1).Raw("no-nul").str()).message(),
            "pgoutput: Origin: unterminated string (origin name)");
  EXPECT_EQ(MustFail(Wire().Char('B').U64(1).U32(2).str()).message(),
            "pgoutput: Begin: truncated (commit timestamp)");
  EXPECT_EQ(MustFail(Wire().Char('M').U8(0).U64(1).Str("p").I32(-1).str()).message(),
            "pgoutput: Logical Message: negative content length -1");
  EXPECT_EQ(MustFail(Wire().Char('M').U8(0).U64(1).Str("p").I32(9).Raw("abc").str()).message(),
            "pgoutput: Logical Message: truncated (content)");
  EXPECT_EQ(MustFail(Wire().Char('T').I32(-1).U8(0).str()).message(),
            "pgoutput: Truncate: negative relation count -1");
  EXPECT_EQ(MustFail(Wire()
                         .Char('R')
                         .U32(1)
                         .Str("s")
                         .Str("t")
                         .Char('d')
                         .U16(2)
                         .U8(0)
                         .Str("a")
                         .U32(23)
                         .I32(-1)
                         .U8(0)
                         .Raw("bbbbbbbbbbbb")
                         .str())
                .message(),
            "pgoutput: Relation: unterminated string (column name) (column 2 of 2)");
}

TEST(PgoutputMalformedTest, UnknownMessageTypes) {
  for (int b = 0; b < 256; ++b) {
    if (std::string_view("BCORYIUDTMSEcAbPKrp").find(static_cast<char>(b)) !=
        std::string_view::npos) {
      continue;
    }
    const std::string bytes(1, static_cast<char>(b));
    const Error e = MustFail(bytes + std::string(4, '\0'), 4);
    EXPECT_EQ(e.code(), ErrorCode::kProtocol);
    EXPECT_THAT(e.message(), HasSubstr("pgoutput: unknown message type "));
  }
  EXPECT_EQ(MustFail("x").message(), "pgoutput: unknown message type 'x' (0x78)");
  EXPECT_EQ(MustFail(std::string(1, '\xff')).message(), "pgoutput: unknown message type 0xFF");
  const Error empty = MustFail("");
  EXPECT_EQ(empty.code(), ErrorCode::kParse);
  EXPECT_EQ(empty.message(), "pgoutput: empty message");
}

TEST(PgoutputMalformedTest, HugeCountsFailFastWithoutAllocating) {
  // 65535 columns but only 10 bytes of column data.
  const std::string insert = Wire().Char('I').U32(1).Char('N').U16(65535).Raw("tttttttttt").str();
  EXPECT_EQ(MustFail(insert).message(),
            "pgoutput: Insert: truncated tuple data (65535 columns declared, 10 bytes left)");
  // 65535 relation columns need at least 655350 bytes.
  const std::string relation = Wire()
                                   .Char('R')
                                   .U32(1)
                                   .Str("s")
                                   .Str("t")
                                   .Char('d')
                                   .U16(65535)
                                   .Raw(std::string(100, 'a'))
                                   .str();
  EXPECT_EQ(MustFail(relation).message(),
            "pgoutput: Relation: truncated column list (65535 columns declared, 100 bytes left)");
  // 2^31-1 truncated relations.
  const std::string truncate = Wire().Char('T').I32(0x7FFFFFFF).U8(0).U32(1).str();
  EXPECT_EQ(
      MustFail(truncate).message(),
      "pgoutput: Truncate: truncated relation list (2147483647 relations declared, 4 bytes left)");
  // Huge value and content lengths.
  EXPECT_EQ(
      MustFail(Wire().Char('I').U32(1).Char('N').U16(1).Char('b').I32(0x7FFFFFFF).str()).message(),
      "pgoutput: Insert: truncated tuple data (column 1 of 1)");
  EXPECT_EQ(MustFail(Wire().Char('M').U8(0).U64(1).Str("p").I32(0x7FFFFFFF).str()).message(),
            "pgoutput: Logical Message: truncated (content)");
}

TEST(PgoutputMalformedTest, GarbageNeverCrashes) {
  // Cheap deterministic fuzzing: random bytes behind every type byte, in and
  // out of a stream block, must decode or fail without crashing (the real
  // fuzzer lives in tests/fuzz/pgoutput_fuzz.cc).
  uint64_t x = 12345;
  auto next = [&] {
    x = x * 6364136223846793005u + 1442695040888963407u;
    return static_cast<uint8_t>(x >> 56);
  };
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(1, "BCORYIUDTMSEcAbPKrp"[i % 19]);
    const size_t len = next() % 48;
    for (size_t j = 0; j < len; ++j) {
      const uint8_t b = next();
      bytes.push_back(static_cast<char>(b < 128 ? b % 4 : b));  // many small counts
    }
    DecodeContext ctx = Ctx(1 + (i / 19) % 4, (i / 76) % 2 == 1, 1);
    if (ctx.protocol_version < 2) ctx.in_stream = false;
    if (DecodeMessage(Span(bytes), ctx).has_value()) ++decoded;
  }
  EXPECT_GT(decoded, 0);
}

// --- Real captures (PostgreSQL 15.x, see testdata/README.md) ----------------

struct Capture {
  std::vector<std::string> frames;  // CopyData bodies; decoded messages borrow from these
  std::vector<PrimaryKeepalive> keepalives;
  std::vector<XLogData> xlog;
  std::vector<Message> messages;  // parallel to xlog
  DecodeContext ctx;

  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    for (const Message& m : messages) out.emplace_back(MessageName(m));
    return out;
  }
  template <class T>
  std::vector<T> All() const {
    std::vector<T> out;
    for (const Message& m : messages) {
      if (const T* t = std::get_if<T>(&m)) out.push_back(*t);
    }
    return out;
  }
};

// Frames files are a sequence of [uint32 big-endian length][CopyData body].
std::vector<std::string> ReadFrames(const std::string& file) {
  std::vector<std::string> frames;
  std::ifstream in(std::string(PGOUTPUT_TESTDATA_DIR) + "/" + file, std::ios::binary);
  EXPECT_TRUE(in.good()) << file;
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t pos = 0;
  while (pos < data.size()) {
    EXPECT_LE(pos + 4, data.size());
    if (pos + 4 > data.size()) break;
    const auto* p = reinterpret_cast<const uint8_t*>(data.data() + pos);
    const size_t n = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
    EXPECT_LE(pos + 4 + n, data.size());
    if (pos + 4 + n > data.size()) break;
    frames.push_back(data.substr(pos + 4, n));
    pos += 4 + n;
  }
  return frames;
}

Capture LoadCapture(const std::string& file, uint32_t version) {
  Capture c;
  c.ctx = Ctx(version);
  c.frames = ReadFrames(file);
  for (const std::string& frame : c.frames) {
    auto outer = DecodeReplicationMessage(Span(frame));
    EXPECT_TRUE(outer.has_value()) << outer.error().message();
    if (!outer) continue;
    if (const auto* k = std::get_if<PrimaryKeepalive>(&*outer)) {
      c.keepalives.push_back(*k);
      continue;
    }
    const XLogData& x = std::get<XLogData>(*outer);
    auto m = DecodeMessage(x.payload, c.ctx);
    EXPECT_TRUE(m.has_value()) << m.error().message();
    if (!m) continue;
    c.xlog.push_back(x);
    c.messages.push_back(std::move(*m));
  }
  EXPECT_FALSE(c.ctx.in_stream) << file << " ends inside a stream block";
  return c;
}

TEST(PgoutputCaptureTest, ProtocolV1TextCapture) {
  const Capture c = LoadCapture("v1.frames", 1);
  ASSERT_EQ(c.messages.size(), 46u);
  EXPECT_FALSE(c.keepalives.empty());
  const std::vector<std::string> names = c.Names();
  const std::vector<std::string> head(names.begin(), names.begin() + 6);
  EXPECT_EQ(head,
            (std::vector<std::string>{"Begin", "Type", "Relation", "Insert", "Insert", "Commit"}));

  const Begin& begin = std::get<Begin>(c.messages[0]);
  EXPECT_EQ(begin.xid, 730u);
  EXPECT_EQ(FormatLsn(begin.final_lsn), "0/152CB90");
  const Commit& commit = std::get<Commit>(c.messages[5]);
  EXPECT_EQ(commit.flags, 0);
  EXPECT_EQ(commit.commit_lsn, begin.final_lsn);
  EXPECT_EQ(FormatLsn(commit.end_lsn), "0/152CBC0");
  EXPECT_EQ(commit.commit_time_ns, begin.commit_time_ns);
  EXPECT_EQ(FormatLsn(c.xlog[0].wal_start), "0/152C9E0");

  const Type& mood = std::get<Type>(c.messages[1]);
  EXPECT_EQ(mood.namespace_name, "app");
  EXPECT_EQ(mood.name, "mood");
  const Relation& items = std::get<Relation>(c.messages[2]);
  EXPECT_EQ(items.namespace_name, "app");
  EXPECT_EQ(items.name, "items");
  EXPECT_EQ(items.replica_identity, 'd');
  ASSERT_EQ(items.columns.size(), 8u);
  EXPECT_TRUE(items.columns[0].is_key());
  EXPECT_EQ(items.columns[0].name, "id");
  EXPECT_EQ(items.columns[0].type_oid, 23u);          // int4
  EXPECT_EQ(items.columns[2].type_oid, 1700u);        // numeric
  EXPECT_EQ(items.columns[2].type_modifier, 655366);  // numeric(10,2)
  EXPECT_EQ(items.columns[4].type_oid, 3802u);        // jsonb
  EXPECT_EQ(items.columns[6].type_oid, mood.oid);
  EXPECT_EQ(items.columns[7].type_oid, 17u);  // bytea

  const Insert& widget = std::get<Insert>(c.messages[3]);
  EXPECT_EQ(widget.relation_id, items.relation_id);
  ASSERT_EQ(widget.new_tuple.columns.size(), 8u);
  ExpectText(widget.new_tuple.columns[0], "1");
  ExpectText(widget.new_tuple.columns[1], "widget");
  ExpectText(widget.new_tuple.columns[2], "9.99");
  ExpectText(widget.new_tuple.columns[3], "t");
  ExpectText(widget.new_tuple.columns[4], "{\"a\": 1}");
  EXPECT_EQ(widget.new_tuple.columns[5].kind, ColumnKind::kNull);
  ExpectText(widget.new_tuple.columns[6], "happy");
  ExpectText(widget.new_tuple.columns[7], "\\x00ff");

  const std::vector<Update> updates = c.All<Update>();
  ASSERT_EQ(updates.size(), 4u);
  EXPECT_FALSE(updates[0].old_kind.has_value());  // non-key update, default identity
  ExpectText(updates[0].new_tuple.columns[2], "10.50");
  ASSERT_TRUE(updates[1].old_kind.has_value());  // key change
  EXPECT_EQ(*updates[1].old_kind, OldTupleKind::kKey);
  ExpectText(updates[1].old_tuple.columns[0], "2");
  for (size_t i = 1; i < 8; ++i) EXPECT_EQ(updates[1].old_tuple.columns[i].kind, ColumnKind::kNull);
  ExpectText(updates[1].new_tuple.columns[0], "3");
  ExpectText(updates[1].new_tuple.columns[5], "tab\tand \"quotes\"");
  EXPECT_EQ(updates[2].old_kind, OldTupleKind::kOld);  // REPLICA IDENTITY FULL
  ExpectText(updates[2].old_tuple.columns[1], "forty-two");
  ExpectText(updates[2].new_tuple.columns[1], "answer");
  // The TOASTed note is not resent when another column changes.
  EXPECT_EQ(updates[3].new_tuple.columns[5].kind, ColumnKind::kUnchangedToast);
  ExpectText(updates[3].new_tuple.columns[2], "1.00");

  const std::vector<Delete> deletes = c.All<Delete>();
  ASSERT_EQ(deletes.size(), 2u);
  EXPECT_EQ(deletes[0].old_kind, OldTupleKind::kKey);
  ExpectText(deletes[0].old_tuple.columns[0], "3");
  EXPECT_EQ(deletes[1].old_kind, OldTupleKind::kOld);
  ExpectText(deletes[1].old_tuple.columns[1], "answer");

  const std::vector<Insert> inserts = c.All<Insert>();
  ASSERT_EQ(inserts.size(), 5u);
  EXPECT_EQ(inserts[3].new_tuple.columns[5].data.size(), 9600u);  // 300 md5 hex digests

  const std::vector<LogicalMessage> msgs = c.All<LogicalMessage>();
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_TRUE(msgs[0].transactional);
  EXPECT_EQ(msgs[0].prefix, "pgcdc");
  EXPECT_EQ(msgs[0].content, "in-tx message");
  EXPECT_FALSE(msgs[1].transactional);
  EXPECT_EQ(msgs[1].prefix, "pgcdc.nontx");
  EXPECT_EQ(msgs[1].content, std::string_view("\x00\x01"
                                              "bip",
                                              5));

  const std::vector<Truncate> truncates = c.All<Truncate>();
  ASSERT_EQ(truncates.size(), 1u);
  EXPECT_TRUE(truncates[0].cascade());
  EXPECT_TRUE(truncates[0].restart_identity());
  ASSERT_EQ(truncates[0].relation_ids.size(), 2u);
  EXPECT_EQ(truncates[0].relation_ids[0], items.relation_id);

  const std::vector<Origin> origins = c.All<Origin>();
  ASSERT_EQ(origins.size(), 1u);
  EXPECT_EQ(origins[0].name, "upstream");
  EXPECT_EQ(origins[0].lsn, 0xABCDEFu);
  // pg_replication_origin_xact_setup('0/ABCDEF', '2025-01-02 03:04:05+00').
  EXPECT_EQ(c.All<Begin>().back().commit_time_ns, 1'735'787'045'000'000'000);
}

TEST(PgoutputCaptureTest, ProtocolV1BinaryCapture) {
  const Capture c = LoadCapture("v1_binary.frames", 1);
  ASSERT_EQ(c.Names(), (std::vector<std::string>{"Begin", "Type", "Relation", "Insert", "Commit"}));
  const Insert& ins = std::get<Insert>(c.messages[3]);
  ASSERT_EQ(ins.new_tuple.columns.size(), 8u);
  for (size_t i : {0, 1, 2, 3, 4, 6, 7}) {
    EXPECT_EQ(ins.new_tuple.columns[i].kind, ColumnKind::kBinary) << i;
  }
  EXPECT_EQ(ins.new_tuple.columns[0].data, std::string_view("\0\0\0\x05", 4));  // int4 5
  EXPECT_EQ(ins.new_tuple.columns[1].data, "bin");
  EXPECT_EQ(ins.new_tuple.columns[3].data, "\x01");                             // bool true
  EXPECT_EQ(ins.new_tuple.columns[4].data, std::string_view("\x01[1, 2]", 7));  // jsonb v1
  EXPECT_EQ(ins.new_tuple.columns[5].kind, ColumnKind::kNull);
  EXPECT_EQ(ins.new_tuple.columns[7].data, "\xde\xad\xbe\xef");
}

TEST(PgoutputCaptureTest, ProtocolV2StreamingCapture) {
  const Capture c = LoadCapture("v2_stream.frames", 2);
  const std::vector<StreamStart> starts = c.All<StreamStart>();
  ASSERT_EQ(starts.size(), 5u);
  EXPECT_EQ(c.All<StreamStop>().size(), 5u);

  // Transaction 747: two stream blocks, then Stream Commit.
  EXPECT_EQ(starts[0].xid, 747u);
  EXPECT_TRUE(starts[0].first_segment);
  EXPECT_EQ(starts[1].xid, 747u);
  EXPECT_FALSE(starts[1].first_segment);
  const std::vector<StreamCommit> commits = c.All<StreamCommit>();
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_EQ(commits[0].xid, 747u);
  EXPECT_EQ(FormatLsn(commits[0].commit_lsn), "0/154FA88");
  EXPECT_EQ(FormatLsn(commits[0].end_lsn), "0/154FAB8");
  EXPECT_EQ(commits[1].xid, 749u);

  // 748 rolled back entirely; 749 rolled back its subtransaction 750.
  const std::vector<StreamAbort> aborts = c.All<StreamAbort>();
  ASSERT_EQ(aborts.size(), 2u);
  EXPECT_EQ(aborts[0].xid, 748u);
  EXPECT_EQ(aborts[0].subxid, 748u);
  EXPECT_EQ(aborts[1].xid, 749u);
  EXPECT_EQ(aborts[1].subxid, 750u);
  EXPECT_FALSE(aborts[1].abort_lsn.has_value());

  // Every change inside a block carries an xid; the trailing plain
  // transaction's Insert does not.
  bool in_block = false;
  int streamed_inserts = 0;
  for (const Message& m : c.messages) {
    if (std::holds_alternative<StreamStart>(m)) in_block = true;
    if (std::holds_alternative<StreamStop>(m)) in_block = false;
    if (const auto* ins = std::get_if<Insert>(&m)) {
      EXPECT_EQ(ins->xid.has_value(), in_block);
      if (in_block) ++streamed_inserts;
    }
    if (const auto* rel = std::get_if<Relation>(&m)) {
      EXPECT_TRUE(rel->xid.has_value());
      EXPECT_EQ(rel->name, "big");
      ASSERT_EQ(rel->columns.size(), 1u);  // publication column list (id)
    }
  }
  EXPECT_EQ(streamed_inserts, 80 + 60 + 1 + 60 + 1);
  const std::vector<Insert> inserts = c.All<Insert>();
  ExpectText(inserts.back().new_tuple.columns.at(0), "4001");
  EXPECT_FALSE(inserts.back().xid.has_value());
  EXPECT_EQ(c.All<Begin>().size(), 1u);

  const std::vector<LogicalMessage> msgs = c.All<LogicalMessage>();
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].xid, 747u);
  EXPECT_EQ(msgs[0].content, "streamed message");
  EXPECT_EQ(c.All<Update>().at(0).xid, 747u);
  EXPECT_EQ(c.All<Delete>().at(0).xid, 747u);
}

TEST(PgoutputCaptureTest, ProtocolV3TwoPhaseCapture) {
  const Capture c = LoadCapture("v3_two_phase.frames", 3);
  const std::vector<BeginPrepare> begins = c.All<BeginPrepare>();
  ASSERT_EQ(begins.size(), 2u);
  EXPECT_EQ(begins[0].gid, "pgcdc-g1");
  EXPECT_EQ(begins[0].xid, 753u);
  const std::vector<Prepare> prepares = c.All<Prepare>();
  ASSERT_EQ(prepares.size(), 2u);
  EXPECT_EQ(prepares[0].prepare_lsn, begins[0].prepare_lsn);
  EXPECT_EQ(prepares[0].end_lsn, begins[0].end_lsn);
  EXPECT_EQ(prepares[0].prepare_time_ns, begins[0].prepare_time_ns);
  const std::vector<CommitPrepared> commits = c.All<CommitPrepared>();
  ASSERT_EQ(commits.size(), 2u);
  EXPECT_EQ(commits[0].gid, "pgcdc-g1");
  EXPECT_EQ(commits[0].commit_lsn, prepares[0].end_lsn);
  EXPECT_EQ(commits[1].gid, "pgcdc-g3");
  const std::vector<RollbackPrepared> rollbacks = c.All<RollbackPrepared>();
  ASSERT_EQ(rollbacks.size(), 1u);
  EXPECT_EQ(rollbacks[0].gid, "pgcdc-g2");
  EXPECT_EQ(rollbacks[0].xid, 754u);
  EXPECT_EQ(rollbacks[0].prepare_end_lsn, prepares[1].end_lsn);
  EXPECT_EQ(rollbacks[0].prepare_time_ns, prepares[1].prepare_time_ns);
  const std::vector<StreamPrepare> sprep = c.All<StreamPrepare>();
  ASSERT_EQ(sprep.size(), 1u);
  EXPECT_EQ(sprep[0].gid, "pgcdc-g3");
  EXPECT_EQ(sprep[0].xid, 755u);
  EXPECT_EQ(c.All<StreamStart>().size(), 2u);
}

TEST(PgoutputCaptureTest, NegotiatedVersionMatters) {
  // Two-phase traffic decoded as protocol 2 fails on the first Begin Prepare
  // (frame 0 is a keepalive).
  const std::vector<std::string> frames = ReadFrames("v3_two_phase.frames");
  ASSERT_GE(frames.size(), 2u);
  auto outer = DecodeReplicationMessage(Span(frames[1]));
  ASSERT_TRUE(outer.has_value());
  DecodeContext ctx = Ctx(2);
  auto m = DecodeMessage(std::get<XLogData>(*outer).payload, ctx);
  ASSERT_FALSE(m.has_value());
  EXPECT_EQ(m.error().code(), ErrorCode::kProtocol);
  EXPECT_EQ(m.error().message(),
            "pgoutput: Begin Prepare: requires protocol version >= 3 (negotiated 2)");
}

TEST(PgoutputCaptureTest, EveryPrefixOfEveryRealMessageFails) {
  for (const char* file :
       {"v1.frames", "v1_binary.frames", "v2_stream.frames", "v3_two_phase.frames"}) {
    SCOPED_TRACE(file);
    const uint32_t version = file[1] == '1' ? 1 : file[1] == '2' ? 2 : 3;
    DecodeContext ctx = Ctx(version);
    for (const std::string& frame : ReadFrames(file)) {
      for (size_t n = 0; n < frame.size(); ++n) {
        auto r = DecodeReplicationMessage(Span(std::string_view(frame).substr(0, n)));
        // Cutting into the payload still yields a valid XLogData frame.
        if (n < 25 || frame[0] != 'w') {
          ASSERT_FALSE(r.has_value()) << n;
        }
      }
      auto outer = DecodeReplicationMessage(Span(frame));
      ASSERT_TRUE(outer.has_value());
      const XLogData* x = std::get_if<XLogData>(&*outer);
      if (x == nullptr) continue;
      for (size_t n = 0; n < x->payload.size(); ++n) {
        DecodeContext copy = ctx;
        auto r = DecodeMessage(x->payload.first(n), copy);
        ASSERT_FALSE(r.has_value())
            << "prefix " << n << " of a " << x->payload.size() << "-byte message";
        ASSERT_EQ(r.error().code(), ErrorCode::kParse) << r.error().message();
        ASSERT_EQ(copy.in_stream, ctx.in_stream);
      }
      ASSERT_TRUE(DecodeMessage(x->payload, ctx).has_value());
    }
  }
}

}  // namespace
}  // namespace pgcdc::pgoutput
