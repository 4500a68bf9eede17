// Proof of the pgtypes contract against a real server: for a table with one
// column of each interesting type (built-in scalars, arrays, ranges,
// geometric types, a domain chain, an enum, composites with a dropped
// attribute, nested composites and arrays of them) and several rows of tricky
// values, AppendValueJson(text output) must equal to_json(value) — compared as
// parsed JSON, with object key order — except for the documented numeric
// deviation (more than 15 significant digits -> exact decimal string). The
// catalog is populated with TypeCatalog::DescriptorQuery() against the same
// database, exactly as the WAL detector does it.
#include "codec/pgtypes/pgtypes.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.h"
#include "json_util.h"

namespace pgcdc::testing {
namespace {

namespace bj = boost::json;
using pgtypes::TypeCatalog;

constexpr std::string_view kSetupSql = R"sql(
DROP SCHEMA IF EXISTS pgtypes_scn CASCADE;
CREATE SCHEMA pgtypes_scn;
CREATE TYPE pgtypes_scn.mood AS ENUM ('sad', 'ok', 'happy "quoted"', 'with,comma', 'NULL');
CREATE DOMAIN pgtypes_scn.posint AS int4 CHECK (VALUE > 0);
CREATE DOMAIN pgtypes_scn.pp AS pgtypes_scn.posint;
CREATE DOMAIN pgtypes_scn.intlist AS int4[];
CREATE DOMAIN pgtypes_scn.stamp AS timestamptz;
CREATE TYPE pgtypes_scn.pair AS (n int4, gone text, label text, tags text[], m pgtypes_scn.mood,
                                 at timestamptz, amount numeric);
ALTER TYPE pgtypes_scn.pair DROP ATTRIBUTE gone;
CREATE TYPE pgtypes_scn.nest AS (p pgtypes_scn.pair, ps pgtypes_scn.pair[], d pgtypes_scn.pp[],
                                 j jsonb, "Weird ""Key""" text, s pgtypes_scn.stamp);
CREATE TABLE pgtypes_scn.samples (
  id int PRIMARY KEY,
  b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric, n_arr numeric[],
  f8_arr float8[], t text, vc varchar(10), bp char(5), by bytea, u uuid, ip inet, cidr_col cidr,
  mac macaddr, mac8 macaddr8, d date, d_arr date[], ts timestamp, tstz timestamptz,
  ts_arr timestamp[], tstz_arr timestamptz[], tm time, tmtz timetz, iv interval, mon money,
  bits bit(4), vb varbit, j json, jb jsonb, jb_arr jsonb[], j_arr json[], i4_arr int4[],
  t_arr text[], t2 text[][], bool_arr bool[], r int4range, nr numrange, tsr tstzrange,
  mr int4multirange, r_arr int4range[], pt point, ln line, ls lseg, bx box, bx_arr box[],
  pth path, poly polygon, circ circle, tsv tsvector, tsq tsquery, x xml, o oid, ch "char",
  nm name, i2v int2vector, ov oidvector, lsn pg_lsn, rc regclass, mood pgtypes_scn.mood,
  mood_arr pgtypes_scn.mood[], dom pgtypes_scn.posint, dom2 pgtypes_scn.pp,
  dom_arr pgtypes_scn.posint[], dom_of_arr pgtypes_scn.intlist, stamp pgtypes_scn.stamp,
  comp pgtypes_scn.pair, comp_arr pgtypes_scn.pair[], nest pgtypes_scn.nest, u_arr uuid[],
  by_arr bytea[], iv_arr interval[]
);
INSERT INTO pgtypes_scn.samples VALUES (1,
  true, 1, 42, 9007199254740993, 1.5, 0.1, 123.4500, '{1.5,2,NULL}', '{0.1,1e-7}',
  'hello', 'short', 'ab', '\x0102ff', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '192.168.0.1/24',
  '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', '2026-11-24', '{2026-11-24,NULL}',
  '2026-11-24 02:34:37.913847', '2026-11-24 02:34:37.913847+00', '{"2026-11-24 02:34:37"}',
  '{"2026-11-24 02:34:37.5+00"}', '02:34:37.9', '02:34:37+05:30',
  '1 year 2 mons 3 days 04:05:06.789', '$1,234.56', B'1010', B'10101',
  '{"a": 1, "b": [true, null]}', '{"z": 1, "a": {"nested": [1, 2.50]}}',
  ARRAY['{"k": "v"}'::jsonb, '[1, 2]', 'null'], ARRAY['{"k":  "v"}'::json], '{1,2,3}',
  '{a,b,c}', '{{a,b},{c,d}}', '{t,f}', '[1,10)', '(1.5,2.5]', '[2026-01-01 00:00+00,infinity)',
  '{[1,3),[5,7)}', '{"[1,3)",empty}', '(1,2)', '{1,-1,0}', '[(0,0),(1,1)]', '(1,1),(0,0)',
  '{(1,1),(0,0);(3,3),(2,2)}', '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(2,0))', '<(0,0),1>',
  'a fat cat sat on a mat', 'fat & rat', '<a>x</a>', 12345, 'x', 'pg_class', '1 2 3', '23 25',
  '16/B374D848', 'pg_class', 'happy "quoted"', '{sad,"happy \"quoted\"","with,comma","NULL"}', 5,
  6, '{1,NULL,3}', '{4,5}', '2026-11-24 02:34:37+00',
  ROW(1, 'label one', '{x,"y z"}', 'ok', '2026-11-24 02:34:37+00', 12.5)::pgtypes_scn.pair,
  ARRAY[ROW(2, 'a,b', '{}', 'sad', NULL, NULL)::pgtypes_scn.pair, NULL],
  ROW(ROW(3, 'in "nest" (x)', NULL, 'with,comma', '-infinity', 1e-10)::pgtypes_scn.pair,
      ARRAY[ROW(4, '', '{NULL,"NULL"}', NULL, NULL, NULL)::pgtypes_scn.pair], '{7,8}',
      '{"j": [1, {"k": null}]}', 'w', '0044-03-15 12:00:00+00 BC')::pgtypes_scn.nest,
  '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{"\\x00","\\xdeadbeef"}', '{"1 day","-00:00:01"}'
);
INSERT INTO pgtypes_scn.samples VALUES (2,
  false, -32768, -2147483648, -9223372036854775808, 'NaN', '-0', 12345678901234567890.123456789,
  '{NaN,Infinity,-Infinity,99999999999999999999,0.000000000000000000001}',
  '{NaN,Infinity,-Infinity,-0,1e+300,5e-324}',
  E'quote " backslash \\ newline \n tab \t ctrl \x01 del \x7f unicode \u00e9 \U0001F600 </script> & {a,b} (c)',
  '', '', '\x', '00000000-0000-0000-0000-000000000000', '::1', '::/0', '00:00:00:00:00:00',
  '00:00:00:00:00:00:00:00', '0044-03-15 BC', '{infinity,-infinity,"0044-03-15 BC"}',
  '0044-03-15 12:00:01.5 BC', '1800-01-01 00:00:00+00', '{infinity,"0001-01-01 00:00:00 BC"}',
  '{-infinity,"1900-06-30 23:59:59.999999+00",NULL}', '24:00:00', '00:00:00-15:59',
  '-1 days +02:03:04.5', '-$0.01', B'0000', B'',
  '{ "dup": 1, "dup": 2, "s": "\u00e9\n", "n": 1.0e+2 }',
  '{"big": 123456789012345678901234567890, "s": "\u00e9", "e": [], "o": {}}', '{}', '{}',
  '[0:2]={1,2,3}', E'{"a\\"b","c,d",NULL,"NULL",""," x ","{}","back\\\\slash","\u00e9"}',
  '[2:3][-1:0]={{"a b",NULL},{"}","\""}}', '{NULL}', 'empty', '(,)', '(,)', '{}', '{}',
  '(-1.5,1e+300)', '{0,1,-5}', '[(-1,-1),(1,1)]', '(0,0),(0,0)', '{}', '((0,0),(1,1))',
  '((0,0))', '<(1.5,-2.5),0.5>', '', '!x', '', 0, '', '', '', '', '0/0', '-', 'NULL', '{}', 1,
  1, '{}', '{}', 'infinity',
  ROW(NULL, NULL, NULL, NULL, NULL, NULL)::pgtypes_scn.pair, '{}',
  ROW(NULL, NULL, NULL, NULL, NULL, NULL)::pgtypes_scn.nest, '{}', '{}', '{}'
);
INSERT INTO pgtypes_scn.samples (id) VALUES (3);
INSERT INTO pgtypes_scn.samples (id, i8, f4, f8, n, n_arr, t, d, ts, tstz, tstz_arr, iv, j, jb,
                                 t2, comp, nest, i4_arr, stamp)
VALUES (4, 9223372036854775807, '3.4028235e+38', '1e+300', 0.00000000000000000001,
  ARRAY[1e300, 1e-300, 123456789012345, 1234567890123456, -0.5, 1e15, 1e16, 1e308,
         1e-400]::numeric[],
  repeat('x', 100) || E'\u00e9', '5874897-12-31', '294276-12-31 23:59:59.999999',
  '294276-12-31 23:59:59.999999+00', '{"2000-02-29 12:00:00.000001+00","1969-12-31 23:59:59+00"}',
  '-178000000 years', '"just a string"', '[1, "two", {"three": [3.0]}]',
  '{{"{",NULL},{"\\\\","a\"b"}}',
  ROW(-1, E'multi\nline, \\ and "q"', '{"",NULL," "}', 'NULL', '1800-01-01 12:00:00+00',
      1234567890.1234567890)::pgtypes_scn.pair,
  ROW(NULL, ARRAY[NULL, ROW(5, NULL, NULL, NULL, NULL, 'NaN')]::pgtypes_scn.pair[], '{}',
      '"s"', E'\t', NULL)::pgtypes_scn.nest,
  '[-5:-3]={7,8,9}', '-infinity');
)sql";

// The session settings the WAL detector uses (and the given time zone).
void ApplySessionSettings(pg::Conn& conn, const std::string& time_zone) {
  ExecOrFail(conn, "SET DateStyle = 'ISO, MDY'; SET TimeZone = '" + time_zone +
                       "'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1");
}

// Independent check for deviation 1: more than 15 significant digits or a
// decimal exponent outside [-307, 307]. `s` is a plain decimal (numeric_out).
bool NeedsExactString(const std::string& s) {
  std::string digits;
  long point = -1;
  for (char c : s) {
    if (c == '.') {
      point = static_cast<long>(digits.size());
    } else if (c >= '0' && c <= '9') {
      digits.push_back(c);
    }
  }
  if (point < 0) point = static_cast<long>(digits.size());
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return false;
  const size_t last = digits.find_last_not_of('0');
  const long exponent = point - 1 - static_cast<long>(first);
  return last - first + 1 > 15 || exponent > 307 || exponent < -307;
}

struct Stats {
  int values = 0;
  int numeric_strings = 0;
};

// Compares our JSON with PostgreSQL's, including object key order.
void Compare(const bj::value& ours, const bj::value& theirs, const std::string& where,
             Stats& stats) {
  if (ours.is_string() && theirs.is_number()) {
    const std::string s(ours.as_string());
    EXPECT_TRUE(pgtypes::IsJsonNumber(s) && NeedsExactString(s))
        << where << ": number " << s << " became a string without reason";
    EXPECT_EQ(ParseJson(s), theirs) << where;
    ++stats.numeric_strings;
    return;
  }
  ASSERT_EQ(ours.kind(), theirs.kind())
      << where << ": ours " << bj::serialize(ours) << " theirs " << bj::serialize(theirs);
  if (ours.is_object()) {
    const bj::object& a = ours.as_object();
    const bj::object& b = theirs.as_object();
    ASSERT_EQ(a.size(), b.size()) << where;
    auto ia = a.begin();
    auto ib = b.begin();
    for (; ia != a.end(); ++ia, ++ib) {
      ASSERT_EQ(ia->key(), ib->key()) << where;
      Compare(ia->value(), ib->value(), where + "." + std::string(ia->key()), stats);
    }
  } else if (ours.is_array()) {
    const bj::array& a = ours.as_array();
    const bj::array& b = theirs.as_array();
    ASSERT_EQ(a.size(), b.size()) << where;
    for (size_t i = 0; i < a.size(); ++i) {
      Compare(a[i], b[i], where + "[" + std::to_string(i) + "]", stats);
    }
  } else {
    EXPECT_EQ(ours, theirs) << where;
  }
}

// Populates `catalog` for `type_oids` the way the detector does.
void LoadCatalog(pg::Conn& conn, TypeCatalog& catalog, const std::vector<uint32_t>& type_oids) {
  const std::vector<uint32_t> missing = catalog.Missing(type_oids);
  if (missing.empty()) return;
  auto rows = conn.Query(std::string(TypeCatalog::DescriptorQuery()),
                         {TypeCatalog::OidArrayLiteral(missing)});
  ASSERT_TRUE(rows) << rows.error().message();
  auto st = catalog.ApplyDescriptorRows(*rows);
  ASSERT_TRUE(st) << st.error().message();
}

struct Column {
  std::string name;
  uint32_t type_oid;
};

std::vector<Column> TableColumns(pg::Conn& conn, const std::string& table) {
  std::vector<Column> columns;
  auto rows = conn.Query(
      "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 "
      "AND NOT attisdropped ORDER BY attnum",
      {table});
  EXPECT_TRUE(rows) << rows.error().message();
  if (!rows) return columns;
  for (auto& r : *rows) columns.push_back({*r[0], static_cast<uint32_t>(std::stoul(*r[1]))});
  return columns;
}

class PgTypesScenario : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    auto conn = Connect();
    ExecOrFail(conn, std::string(kSetupSql));
  }
};

TEST_P(PgTypesScenario, TextOutputConvertsLikeToJson) {
  auto conn = Connect();
  ApplySessionSettings(conn, GetParam());
  const std::vector<Column> columns = TableColumns(conn, "pgtypes_scn.samples");
  ASSERT_GT(columns.size(), 70u);

  TypeCatalog catalog;
  std::vector<uint32_t> oids;
  for (auto& c : columns) oids.push_back(c.type_oid);
  LoadCatalog(conn, catalog, oids);
  EXPECT_TRUE(catalog.Missing(oids).empty());

  // One query: per column the text output (what pgoutput sends) and to_json.
  std::string sql = "SELECT id";
  for (auto& c : columns) {
    const std::string col = pg::QuoteIdentifier(c.name);
    sql += ", " + col + ", to_json(" + col + ")::text";
  }
  sql += " FROM pgtypes_scn.samples ORDER BY id";
  auto rows = conn.Query(sql);
  ASSERT_TRUE(rows) << rows.error().message();
  ASSERT_EQ(rows->size(), 4u);

  Stats stats;
  for (const pg::Row& row : *rows) {
    for (size_t i = 0; i < columns.size(); ++i) {
      const std::string where = "row " + *row[0] + " column " + columns[i].name;
      const auto& text = row[1 + 2 * i];
      const auto& expected = row[2 + 2 * i];
      ASSERT_EQ(text.has_value(), expected.has_value()) << where;
      if (!text) continue;
      std::string ours;
      auto st = pgtypes::AppendValueJson(catalog, columns[i].type_oid, *text, ours);
      EXPECT_TRUE(st) << where << " text " << *text << ": " << st.error().message();
      ++stats.values;
      SCOPED_TRACE(where + "\n  text:    " + *text + "\n  ours:    " + ours +
                   "\n  to_json: " + *expected);
      Compare(ParseJson(ours), ParseJson(*expected), where, stats);
    }
  }
  EXPECT_GT(stats.values, 160);
  // Deviation 1 hits exactly: n and n_arr[3] in row 2; n_arr[3], [7], [8] and comp.amount in
  // row 4.
  EXPECT_EQ(stats.numeric_strings, 6);
  std::printf("compared %d values, %d numeric exact-decimal strings\n", stats.values,
              stats.numeric_strings);
}

INSTANTIATE_TEST_SUITE_P(TimeZones, PgTypesScenario,
                         ::testing::Values("UTC", "America/New_York", "Asia/Kolkata"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '/') c = '_';
                           }
                           return name;
                         });

// The catalog query follows references transitively: a column of a nested
// composite type pulls in its attribute types, arrays, domains and enums.
TEST(PgTypesCatalogScenario, DescriptorQueryResolvesDependencies) {
  auto conn = Connect();
  ExecOrFail(conn, std::string(kSetupSql));
  auto oid = [&](const std::string& type) {
    auto r = conn.Query("SELECT $1::regtype::oid", {type});
    EXPECT_TRUE(r) << r.error().message();
    return static_cast<uint32_t>(std::stoul(*(*r)[0][0]));
  };
  TypeCatalog catalog;
  LoadCatalog(conn, catalog, {oid("pgtypes_scn.nest")});
  EXPECT_EQ(catalog.Kind(oid("pgtypes_scn.nest")), pgtypes::TypeKind::kComposite);
  EXPECT_EQ(catalog.Kind(oid("pgtypes_scn.pair")), pgtypes::TypeKind::kComposite);
  EXPECT_EQ(catalog.Kind(oid("pgtypes_scn.pair[]")), pgtypes::TypeKind::kArray);
  EXPECT_EQ(catalog.Kind(oid("pgtypes_scn.pp[]")), pgtypes::TypeKind::kArray);
  EXPECT_EQ(catalog.Kind(oid("pgtypes_scn.pp")), pgtypes::TypeKind::kDomain);
  EXPECT_EQ(catalog.Kind(oid("pgtypes_scn.posint")), pgtypes::TypeKind::kDomain);
  EXPECT_EQ(catalog.Kind(oid("pgtypes_scn.stamp")), pgtypes::TypeKind::kDomain);
  EXPECT_EQ(catalog.Kind(oid("pgtypes_scn.mood")), pgtypes::TypeKind::kString);
  EXPECT_TRUE(catalog.Contains(oid("pgtypes_scn.mood")));
  // Unknown OIDs simply produce no rows.
  LoadCatalog(conn, catalog, {4000000000u});
  EXPECT_FALSE(catalog.Contains(4000000000u));
}

// Deviation 3: a user type with a function cast to json is converted by
// to_json through the cast; we emit its text and mark it kJsonCast.
TEST(PgTypesCatalogScenario, JsonCastTypesAreMarked) {
  auto conn = Connect();
  ExecOrFail(conn, R"sql(
    DROP SCHEMA IF EXISTS pgtypes_cast CASCADE;
    CREATE SCHEMA pgtypes_cast;
    CREATE TYPE pgtypes_cast.level AS ENUM ('low', 'high');
    CREATE FUNCTION pgtypes_cast.level_json(pgtypes_cast.level) RETURNS json
      LANGUAGE sql AS $$ SELECT json_build_object('level', $1::text) $$;
    CREATE CAST (pgtypes_cast.level AS json) WITH FUNCTION pgtypes_cast.level_json(pgtypes_cast.level);
  )sql");
  auto r = conn.Query(
      "SELECT 'pgtypes_cast.level'::regtype::oid, to_json('high'::pgtypes_cast.level)::text");
  ASSERT_TRUE(r) << r.error().message();
  const uint32_t level = static_cast<uint32_t>(std::stoul(*(*r)[0][0]));
  EXPECT_EQ(ParseJson(*(*r)[0][1]), ParseJson(R"({"level":"high"})"));
  TypeCatalog catalog;
  LoadCatalog(conn, catalog, {level});
  EXPECT_EQ(catalog.Kind(level), pgtypes::TypeKind::kJsonCast);
  std::string out;
  ASSERT_TRUE(pgtypes::AppendValueJson(catalog, level, "high", out));
  EXPECT_EQ(out, R"("high")");
}

}  // namespace
}  // namespace pgcdc::testing
