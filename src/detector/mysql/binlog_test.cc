// Unit tests of the binlog decoder, the value codec, MySQL binary JSON and the
// event stream. testdata.hex is a real capture from MariaDB 10.11 (one event
// per line, hex, as the server sent it over COM_BINLOG_DUMP; server started
// with --binlog-format=ROW --binlog-row-image=FULL --binlog-row-metadata=FULL
// and binlog_checksum=CRC32) of:
//   CREATE TABLE types (...30 columns of every type...)   -- see kInsertRow
//   INSERT (1, every value), INSERT (id) VALUES (2),
//   UPDATE vc, d2 WHERE id=1, DELETE id=2, TRUNCATE TABLE types,
//   ALTER TABLE types ADD COLUMN extra int default 7, INSERT (3, extra 8).
// The expected values are the server's own rendering (JSON_OBJECT of the row
// on the same server, time_zone '+00:00'), with the documented mapping for
// BIT (number), binary strings (base64), TIMESTAMP (RFC 3339 UTC) and the
// 30-digit DECIMAL (string).
#include "detector/mysql/binlog.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "core/json.h"
#include "detector/mysql/mysql_json.h"
#include "detector/mysql/row_values.h"
#include "detector/mysql/state_file.h"
#include "detector/mysql/stream.h"

namespace pgcdc::detector::mysql {
namespace {

std::vector<uint8_t> FromHex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(json::HexValue(hex[i]) * 16 + json::HexValue(hex[i + 1])));
  }
  return out;
}

std::vector<std::vector<uint8_t>> Capture() {
  std::ifstream in(std::string(MYSQL_TESTDATA_DIR) + "/testdata.hex");
  std::vector<std::vector<uint8_t>> events;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) events.push_back(FromHex(line));
  }
  return events;
}

struct FakeSink : StreamSink {
  std::vector<Event> events;
  std::vector<Position> boundaries;
  bool describe_json = true;
  bool Emit(Event&& e) override {
    events.push_back(std::move(e));
    return true;
  }
  void Boundary(const Position& p) override { boundaries.push_back(p); }
  std::optional<std::vector<ColumnInfo>> DescribeTable(const std::string& db,
                                                       const std::string& table) override {
    if (!describe_json) return std::nullopt;
    // As information_schema shows it: only the JSON check matters here.
    std::vector<ColumnInfo> cols(30);
    cols[29].name = "j";
    cols[29].is_json_text = true;
    std::vector<ColumnInfo> with_extra = cols;
    with_extra.push_back({.name = "extra"});
    return with_extra;
  }
};

constexpr std::string_view kInsertRow =
    R"({"id":1,"ti":-128,"tu":255,"si":-32768,"mi":-8388608,"mu":16777215,)"
    R"("bi":-9223372036854775808,"bu":18446744073709551615,)"
    R"("d":"-12345678901234567890.0123456789","d2":-1.50,"f":3.25,"db":-2.5e+100,"b":682,)"
    R"("e":"green","st":"a,c","dt":"2024-02-29","tm":"-838:59:59.999","tm0":"12:00:00",)"
    R"("dtm":"2024-05-06 07:08:09.123456","dtm0":"1999-12-31 23:59:59",)"
    R"("ts":"2024-01-02T03:04:05.67Z","y":2024,"c":"ab","vc":"x<y>&\"z","l1":"café",)"
    R"("tx":"héllo wörld ☃","bn":"AAEC","vb":"/wA=","bl":"3q2+7w==",)"
    R"("j":{"a":[1,2.5,"x",null,true],"b":{}}})";

StreamOptions CaptureOptions() {
  StreamOptions o;
  o.checksum = true;
  o.schema_events = true;
  return o;
}

TEST(MysqlStreamTest, RealCaptureEveryTypeAndOperation) {
  auto capture = Capture();
  ASSERT_EQ(capture.size(), 28u);
  FakeSink sink;
  BinlogStream stream(CaptureOptions(), {"binlog.000002", 379, "0-1-7"}, sink);
  for (const auto& ev : capture) {
    ASSERT_TRUE(stream.Handle(ev)) << stream.Handle(ev).error().message();
  }
  std::vector<std::string> ops;
  for (const auto& e : sink.events) ops.push_back(e.operation);
  EXPECT_EQ(ops, (std::vector<std::string>{"INSERT", "INSERT", "UPDATE", "DELETE", "TRUNCATE",
                                           "SCHEMA_CHANGE", "INSERT"}));
  const Event& ins = sink.events[0];
  EXPECT_EQ(ins.channel, "pgcdc:shop.types");
  EXPECT_EQ(ins.source, "mysql_binlog");
  EXPECT_EQ(ins.payload, "{\"old\":null,\"op\":\"INSERT\",\"row\":" + std::string(kInsertRow) +
                             ",\"schema\":\"shop\",\"table\":\"types\"}");
  EXPECT_EQ(ins.key, "1");
  EXPECT_EQ(ins.lsn >> 32, 2u);
  // The NULL row: every column but id is null.
  EXPECT_NE(sink.events[1].payload.find("\"ti\":null"), std::string::npos);
  // UPDATE: old = before, row = after.
  const Event& upd = sink.events[2];
  EXPECT_NE(upd.payload.find("\"old\":{\"id\":1,"), std::string::npos);
  EXPECT_NE(upd.payload.find("\"vc\":\"changed\""), std::string::npos);
  EXPECT_NE(upd.payload.find("\"d2\":0.01"), std::string::npos);
  EXPECT_NE(upd.payload.find("\"vc\":\"x<y>&\\\"z\""), std::string::npos);
  // DELETE: the before image in row.
  EXPECT_TRUE(
      sink.events[3].payload.starts_with("{\"old\":null,\"op\":\"DELETE\",\"row\":{\"id\":2"));
  EXPECT_EQ(
      sink.events[4].payload,
      "{\"old\":null,\"op\":\"TRUNCATE\",\"row\":null,\"schema\":\"shop\",\"table\":\"types\"}");
  EXPECT_EQ(sink.events[5].channel, "pgcdc:_schema");
  EXPECT_EQ(sink.events[5].payload,
            "{\"changes\":[{\"type\":\"column_added\",\"column\":\"extra\",\"type_name\":\"int\"}],"
            "\"op\":\"SCHEMA_CHANGE\",\"schema\":\"shop\",\"table\":\"types\"}");
  EXPECT_NE(sink.events[6].payload.find("\"extra\":8}"), std::string::npos);
  // Positions: after every group, ending at the last XID; the GTID state follows.
  ASSERT_FALSE(sink.boundaries.empty());
  EXPECT_EQ(stream.position().file, "binlog.000002");
  EXPECT_EQ(stream.position().pos, 0x116du);  // the last XID's end
  EXPECT_EQ(stream.position().gtid, "0-1-15");
  EXPECT_FALSE(stream.in_group());
}

TEST(MysqlStreamTest, IdsAreStableAcrossReplays) {
  auto capture = Capture();
  FakeSink a, b;
  BinlogStream s1(CaptureOptions(), {"binlog.000002", 379, ""}, a);
  BinlogStream s2(CaptureOptions(), {"binlog.000002", 379, ""}, b);
  for (const auto& ev : capture) {
    ASSERT_TRUE(s1.Handle(ev));
    ASSERT_TRUE(s2.Handle(ev));
  }
  ASSERT_EQ(a.events.size(), b.events.size());
  for (size_t i = 0; i < a.events.size(); ++i) {
    if (a.events[i].channel == "pgcdc:_schema") continue;
    EXPECT_EQ(a.events[i].id, b.events[i].id) << i;
  }
  EXPECT_NE(a.events[0].id, a.events[1].id);
}

TEST(MysqlStreamTest, TableFilterAndMarkers) {
  auto capture = Capture();
  FakeSink sink;
  StreamOptions o = CaptureOptions();
  o.tables = *TableFilter::Parse({"other.types", "nope"});
  BinlogStream skip(o, {"binlog.000002", 379, ""}, sink);
  for (const auto& ev : capture) ASSERT_TRUE(skip.Handle(ev));
  EXPECT_TRUE(sink.events.empty());

  FakeSink marked;
  o = CaptureOptions();
  o.tables = *TableFilter::Parse({"types"});
  o.tx_markers = true;
  BinlogStream stream(o, {"binlog.000002", 379, ""}, marked);
  for (const auto& ev : capture) ASSERT_TRUE(stream.Handle(ev));
  ASSERT_GE(marked.events.size(), 3u);
  EXPECT_EQ(marked.events[0].operation, "BEGIN");
  EXPECT_EQ(marked.events[0].channel, "pgcdc:_txn");
  EXPECT_NE(marked.events[0].payload.find("\"gtid\":\"0-1-9\""), std::string::npos);
  EXPECT_EQ(marked.events[1].operation, "INSERT");
  ASSERT_TRUE(marked.events[1].transaction.has_value());
  EXPECT_EQ(marked.events[1].transaction->seq, 1);
  EXPECT_EQ(marked.events[2].operation, "COMMIT");
  EXPECT_NE(marked.events[2].payload.find("\"event_count\":1"), std::string::npos);
}

TEST(MysqlStreamTest, WithoutJsonLookupMariaDbJsonIsText) {
  auto capture = Capture();
  FakeSink sink;
  sink.describe_json = false;
  BinlogStream stream(CaptureOptions(), {"binlog.000002", 379, ""}, sink);
  for (const auto& ev : capture) ASSERT_TRUE(stream.Handle(ev));
  EXPECT_NE(sink.events[0].payload.find(R"("j":"{\"a\": [1, 2.5, \"x\", null, true], \"b\": {}}")"),
            std::string::npos);
}

// Every prefix and every single-byte corruption of every captured event is
// rejected or decoded, never a crash (run under ASan in CI).
TEST(MysqlStreamTest, TruncatedAndCorruptEventsNeverCrash) {
  auto capture = Capture();
  for (size_t i = 0; i < capture.size(); ++i) {
    for (size_t cut = 0; cut < capture[i].size(); cut += 3) {
      FakeSink sink;
      BinlogStream stream(CaptureOptions(), {"binlog.000002", 379, ""}, sink);
      for (size_t k = 0; k < i; ++k) (void)stream.Handle(capture[k]);
      std::vector<uint8_t> bad = capture[i];
      bad[cut] ^= 0x5a;
      (void)stream.Handle(bad);
      (void)stream.Handle(std::span<const uint8_t>(capture[i].data(), cut));
    }
  }
}

TEST(MysqlValuesTest, DecimalBinaryFormat) {
  // MySQL's documented examples: DECIMAL(14,4).
  auto pos = FromHex("810DFB38D204D2");
  auto neg = FromHex("7EF204C72DFB2D");
  EXPECT_EQ(*DecodeDecimal(pos, 14, 4), "1234567890.1234");
  EXPECT_EQ(*DecodeDecimal(neg, 14, 4), "-1234567890.1234");
  EXPECT_FALSE(DecodeDecimal(pos, 66, 4));
  EXPECT_FALSE(DecodeDecimal(std::span<const uint8_t>(pos.data(), 3), 14, 4));
  EXPECT_FALSE(NeedsExactDecimal("-1234567890.1234"));
  EXPECT_TRUE(NeedsExactDecimal("1234567890.123456"));
  EXPECT_FALSE(NeedsExactDecimal("0.000000000000000000001"));
}

TEST(MysqlValuesTest, TextInCharsets) {
  std::string out;
  EXPECT_TRUE(AppendTextJson("latin1", "caf\xe9 \x80", out));
  EXPECT_EQ(out, "\"café €\"");
  out.clear();
  EXPECT_FALSE(AppendTextJson("utf8mb4", "bad\xff", out));
  EXPECT_EQ(out, "\"bad\xEF\xBF\xBD\"");
  out.clear();
  EXPECT_TRUE(AppendTextJson("utf16", std::string("\x00h\x26\x03", 4), out));
  EXPECT_EQ(out, "\"h☃\"");
  EXPECT_EQ(CharsetOf(63, nullptr), "binary");
  CharsetMap m{{63, "binary"}, {99, "cp1251"}};
  EXPECT_EQ(CharsetOf(99, &m), "cp1251");
}

TEST(MysqlJsonTest, BinaryDocument) {
  // Built by hand (see the comment in mysql_json.h): {"a":1,"b":[true,"x"]}.
  std::vector<uint8_t> bytes = {0x00, 0x02, 0x00, 0x20, 0x00, 0x12, 0x00, 0x01, 0x00, 0x13, 0x00,
                                0x01, 0x00, 0x05, 0x01, 0x00, 0x02, 0x14, 0x00, 'a',  'b',  0x02,
                                0x00, 0x0c, 0x00, 0x04, 0x01, 0x00, 0x0c, 0x0a, 0x00, 0x01, 'x'};
  std::string out;
  ASSERT_TRUE(AppendMysqlJson(bytes, out));
  EXPECT_EQ(out, "{\"a\":1,\"b\":[true,\"x\"]}");
  // Scalars: a double, a string, an opaque DECIMAL(4,2) 12.34, an empty value.
  out.clear();
  std::vector<uint8_t> dbl = {0x0b, 0, 0, 0, 0, 0, 0, 0x04, 0x40};
  ASSERT_TRUE(AppendMysqlJson(dbl, out));
  EXPECT_EQ(out, "2.5");
  out.clear();
  std::vector<uint8_t> dec = {0x0f, 246, 4, 4, 2, 0x80 | 12, 34};
  ASSERT_TRUE(AppendMysqlJson(dec, out));
  EXPECT_EQ(out, "12.34");
  out.clear();
  ASSERT_TRUE(AppendMysqlJson({}, out));
  EXPECT_EQ(out, "null");
  // Every truncation fails cleanly and leaves `out` alone.
  for (size_t n = 1; n < bytes.size(); ++n) {
    std::string o = "x";
    EXPECT_FALSE(AppendMysqlJson(std::span<const uint8_t>(bytes.data(), n), o)) << n;
    EXPECT_EQ(o, "x");
  }
}

TEST(MysqlJsonTest, DeepNestingIsRejected) {
  // 200 nested small arrays of one element each, built from the inside out
  // (innermost: an empty array).
  std::vector<uint8_t> inner = {0x00, 0x00, 0x04, 0x00};  // count 0, size 4
  for (int i = 0; i < 200; ++i) {
    std::vector<uint8_t> outer = {0x01, 0x00, 0, 0, 0x02, 0x07, 0x00};
    const size_t size = outer.size() + inner.size();
    outer[2] = static_cast<uint8_t>(size & 0xff);
    outer[3] = static_cast<uint8_t>(size >> 8);
    outer.insert(outer.end(), inner.begin(), inner.end());
    inner = std::move(outer);
  }
  inner.insert(inner.begin(), 0x02);
  std::string out;
  auto st = AppendMysqlJson(inner, out);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message().find("nested too deeply"), std::string::npos);
}

TEST(MysqlStreamTest, TableFilterParse) {
  EXPECT_FALSE(TableFilter::Parse({""}));
  EXPECT_FALSE(TableFilter::Parse({"a.b.c"}));
  EXPECT_FALSE(TableFilter::Parse({".t"}));
  auto f = TableFilter::Parse({"shop.orders", "items"});
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->Matches("shop", "orders"));
  EXPECT_FALSE(f->Matches("other", "orders"));
  EXPECT_TRUE(f->Matches("any", "items"));
  EXPECT_EQ(FileNumber("mysql-bin.000042"), 42u);
  EXPECT_EQ(FileNumber("weird"), 0u);
}

TEST(MysqlStateFileTest, RoundTripAndAtomicReplace) {
  char tmpl[] = "/tmp/pgcdc-mysql-state-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/pos.json";
  auto none = LoadState(path);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(SaveState(path, {{"binlog.000003", 1234, "0-1-5,1-2-9"}, "db:3306"}));
  ASSERT_TRUE(SaveState(path, {{"binlog.000004", 4, "0-1-6"}, "db:3306"}));
  auto loaded = LoadState(path);
  ASSERT_TRUE(loaded && loaded->has_value());
  EXPECT_EQ((*loaded)->position, (Position{"binlog.000004", 4, "0-1-6"}));
  EXPECT_EQ((*loaded)->addr, "db:3306");
  std::ofstream(path) << "not json";
  EXPECT_FALSE(LoadState(path));
  std::remove(path.c_str());
  std::remove((path + ".tmp").c_str());
  rmdir(tmpl);
}

}  // namespace
}  // namespace pgcdc::detector::mysql
