#include "codec/pgtypes/pgtypes.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <map>

#include "core/json.h"

namespace pgcdc::pgtypes {
namespace {

// Built-in types: every pg_catalog base, range and multirange type of
// PostgreSQL 15 and every array over them (generated from pg_type with
// `typtype NOT IN ('p','c') AND oid < 10000`, skipping arrays of pseudo and
// catalog row types). Built-in OIDs are stable across PostgreSQL versions.
// `elem` is set for true arrays (typlen = -1, typelem <> 0) and the two
// vector types; `delim` is the element type's typdelim.
struct BuiltinType {
  uint32_t oid;
  std::string_view name;
  TypeKind kind;
  uint32_t elem;
  char delim;
};

constexpr BuiltinType kBuiltins[] = {
    {16, "bool", TypeKind::kBool, 0, ','},
    {17, "bytea", TypeKind::kString, 0, ','},
    {18, "char", TypeKind::kString, 0, ','},
    {19, "name", TypeKind::kString, 0, ','},
    {20, "int8", TypeKind::kNumber, 0, ','},
    {21, "int2", TypeKind::kNumber, 0, ','},
    {22, "int2vector", TypeKind::kVector, 21, ','},
    {23, "int4", TypeKind::kNumber, 0, ','},
    {24, "regproc", TypeKind::kString, 0, ','},
    {25, "text", TypeKind::kString, 0, ','},
    {26, "oid", TypeKind::kString, 0, ','},
    {27, "tid", TypeKind::kString, 0, ','},
    {28, "xid", TypeKind::kString, 0, ','},
    {29, "cid", TypeKind::kString, 0, ','},
    {30, "oidvector", TypeKind::kVector, 26, ','},
    {114, "json", TypeKind::kJson, 0, ','},
    {142, "xml", TypeKind::kString, 0, ','},
    {143, "_xml", TypeKind::kArray, 142, ','},
    {194, "pg_node_tree", TypeKind::kString, 0, ','},
    {199, "_json", TypeKind::kArray, 114, ','},
    {271, "_xid8", TypeKind::kArray, 5069, ','},
    {600, "point", TypeKind::kString, 0, ','},
    {601, "lseg", TypeKind::kString, 0, ','},
    {602, "path", TypeKind::kString, 0, ','},
    {603, "box", TypeKind::kString, 0, ','},
    {604, "polygon", TypeKind::kString, 0, ','},
    {628, "line", TypeKind::kString, 0, ','},
    {629, "_line", TypeKind::kArray, 628, ','},
    {650, "cidr", TypeKind::kString, 0, ','},
    {651, "_cidr", TypeKind::kArray, 650, ','},
    {700, "float4", TypeKind::kNumber, 0, ','},
    {701, "float8", TypeKind::kNumber, 0, ','},
    {718, "circle", TypeKind::kString, 0, ','},
    {719, "_circle", TypeKind::kArray, 718, ','},
    {774, "macaddr8", TypeKind::kString, 0, ','},
    {775, "_macaddr8", TypeKind::kArray, 774, ','},
    {790, "money", TypeKind::kString, 0, ','},
    {791, "_money", TypeKind::kArray, 790, ','},
    {829, "macaddr", TypeKind::kString, 0, ','},
    {869, "inet", TypeKind::kString, 0, ','},
    {1000, "_bool", TypeKind::kArray, 16, ','},
    {1001, "_bytea", TypeKind::kArray, 17, ','},
    {1002, "_char", TypeKind::kArray, 18, ','},
    {1003, "_name", TypeKind::kArray, 19, ','},
    {1005, "_int2", TypeKind::kArray, 21, ','},
    {1006, "_int2vector", TypeKind::kArray, 22, ','},
    {1007, "_int4", TypeKind::kArray, 23, ','},
    {1008, "_regproc", TypeKind::kArray, 24, ','},
    {1009, "_text", TypeKind::kArray, 25, ','},
    {1010, "_tid", TypeKind::kArray, 27, ','},
    {1011, "_xid", TypeKind::kArray, 28, ','},
    {1012, "_cid", TypeKind::kArray, 29, ','},
    {1013, "_oidvector", TypeKind::kArray, 30, ','},
    {1014, "_bpchar", TypeKind::kArray, 1042, ','},
    {1015, "_varchar", TypeKind::kArray, 1043, ','},
    {1016, "_int8", TypeKind::kArray, 20, ','},
    {1017, "_point", TypeKind::kArray, 600, ','},
    {1018, "_lseg", TypeKind::kArray, 601, ','},
    {1019, "_path", TypeKind::kArray, 602, ','},
    {1020, "_box", TypeKind::kArray, 603, ';'},
    {1021, "_float4", TypeKind::kArray, 700, ','},
    {1022, "_float8", TypeKind::kArray, 701, ','},
    {1027, "_polygon", TypeKind::kArray, 604, ','},
    {1028, "_oid", TypeKind::kArray, 26, ','},
    {1033, "aclitem", TypeKind::kString, 0, ','},
    {1034, "_aclitem", TypeKind::kArray, 1033, ','},
    {1040, "_macaddr", TypeKind::kArray, 829, ','},
    {1041, "_inet", TypeKind::kArray, 869, ','},
    {1042, "bpchar", TypeKind::kString, 0, ','},
    {1043, "varchar", TypeKind::kString, 0, ','},
    {1082, "date", TypeKind::kDate, 0, ','},
    {1083, "time", TypeKind::kString, 0, ','},
    {1114, "timestamp", TypeKind::kTimestamp, 0, ','},
    {1115, "_timestamp", TypeKind::kArray, 1114, ','},
    {1182, "_date", TypeKind::kArray, 1082, ','},
    {1183, "_time", TypeKind::kArray, 1083, ','},
    {1184, "timestamptz", TypeKind::kTimestampTz, 0, ','},
    {1185, "_timestamptz", TypeKind::kArray, 1184, ','},
    {1186, "interval", TypeKind::kString, 0, ','},
    {1187, "_interval", TypeKind::kArray, 1186, ','},
    {1231, "_numeric", TypeKind::kArray, 1700, ','},
    {1266, "timetz", TypeKind::kString, 0, ','},
    {1270, "_timetz", TypeKind::kArray, 1266, ','},
    {1560, "bit", TypeKind::kString, 0, ','},
    {1561, "_bit", TypeKind::kArray, 1560, ','},
    {1562, "varbit", TypeKind::kString, 0, ','},
    {1563, "_varbit", TypeKind::kArray, 1562, ','},
    {1700, "numeric", TypeKind::kNumeric, 0, ','},
    {1790, "refcursor", TypeKind::kString, 0, ','},
    {2201, "_refcursor", TypeKind::kArray, 1790, ','},
    {2202, "regprocedure", TypeKind::kString, 0, ','},
    {2203, "regoper", TypeKind::kString, 0, ','},
    {2204, "regoperator", TypeKind::kString, 0, ','},
    {2205, "regclass", TypeKind::kString, 0, ','},
    {2206, "regtype", TypeKind::kString, 0, ','},
    {2207, "_regprocedure", TypeKind::kArray, 2202, ','},
    {2208, "_regoper", TypeKind::kArray, 2203, ','},
    {2209, "_regoperator", TypeKind::kArray, 2204, ','},
    {2210, "_regclass", TypeKind::kArray, 2205, ','},
    {2211, "_regtype", TypeKind::kArray, 2206, ','},
    {2949, "_txid_snapshot", TypeKind::kArray, 2970, ','},
    {2950, "uuid", TypeKind::kString, 0, ','},
    {2951, "_uuid", TypeKind::kArray, 2950, ','},
    {2970, "txid_snapshot", TypeKind::kString, 0, ','},
    {3220, "pg_lsn", TypeKind::kString, 0, ','},
    {3221, "_pg_lsn", TypeKind::kArray, 3220, ','},
    {3361, "pg_ndistinct", TypeKind::kString, 0, ','},
    {3402, "pg_dependencies", TypeKind::kString, 0, ','},
    {3614, "tsvector", TypeKind::kString, 0, ','},
    {3615, "tsquery", TypeKind::kString, 0, ','},
    {3642, "gtsvector", TypeKind::kString, 0, ','},
    {3643, "_tsvector", TypeKind::kArray, 3614, ','},
    {3644, "_gtsvector", TypeKind::kArray, 3642, ','},
    {3645, "_tsquery", TypeKind::kArray, 3615, ','},
    {3734, "regconfig", TypeKind::kString, 0, ','},
    {3735, "_regconfig", TypeKind::kArray, 3734, ','},
    {3769, "regdictionary", TypeKind::kString, 0, ','},
    {3770, "_regdictionary", TypeKind::kArray, 3769, ','},
    {3802, "jsonb", TypeKind::kJson, 0, ','},
    {3807, "_jsonb", TypeKind::kArray, 3802, ','},
    {3904, "int4range", TypeKind::kString, 0, ','},
    {3905, "_int4range", TypeKind::kArray, 3904, ','},
    {3906, "numrange", TypeKind::kString, 0, ','},
    {3907, "_numrange", TypeKind::kArray, 3906, ','},
    {3908, "tsrange", TypeKind::kString, 0, ','},
    {3909, "_tsrange", TypeKind::kArray, 3908, ','},
    {3910, "tstzrange", TypeKind::kString, 0, ','},
    {3911, "_tstzrange", TypeKind::kArray, 3910, ','},
    {3912, "daterange", TypeKind::kString, 0, ','},
    {3913, "_daterange", TypeKind::kArray, 3912, ','},
    {3926, "int8range", TypeKind::kString, 0, ','},
    {3927, "_int8range", TypeKind::kArray, 3926, ','},
    {4072, "jsonpath", TypeKind::kString, 0, ','},
    {4073, "_jsonpath", TypeKind::kArray, 4072, ','},
    {4089, "regnamespace", TypeKind::kString, 0, ','},
    {4090, "_regnamespace", TypeKind::kArray, 4089, ','},
    {4096, "regrole", TypeKind::kString, 0, ','},
    {4097, "_regrole", TypeKind::kArray, 4096, ','},
    {4191, "regcollation", TypeKind::kString, 0, ','},
    {4192, "_regcollation", TypeKind::kArray, 4191, ','},
    {4451, "int4multirange", TypeKind::kString, 0, ','},
    {4532, "nummultirange", TypeKind::kString, 0, ','},
    {4533, "tsmultirange", TypeKind::kString, 0, ','},
    {4534, "tstzmultirange", TypeKind::kString, 0, ','},
    {4535, "datemultirange", TypeKind::kString, 0, ','},
    {4536, "int8multirange", TypeKind::kString, 0, ','},
    {4600, "pg_brin_bloom_summary", TypeKind::kString, 0, ','},
    {4601, "pg_brin_minmax_multi_summary", TypeKind::kString, 0, ','},
    {5017, "pg_mcv_list", TypeKind::kString, 0, ','},
    {5038, "pg_snapshot", TypeKind::kString, 0, ','},
    {5039, "_pg_snapshot", TypeKind::kArray, 5038, ','},
    {5069, "xid8", TypeKind::kString, 0, ','},
    {6150, "_int4multirange", TypeKind::kArray, 4451, ','},
    {6151, "_nummultirange", TypeKind::kArray, 4532, ','},
    {6152, "_tsmultirange", TypeKind::kArray, 4533, ','},
    {6153, "_tstzmultirange", TypeKind::kArray, 4534, ','},
    {6155, "_datemultirange", TypeKind::kArray, 4535, ','},
    {6157, "_int8multirange", TypeKind::kArray, 4536, ','},
};

constexpr uint32_t kMaxBuiltinOid = 6157;
constexpr uint8_t kNoBuiltin = 0xFF;
static_assert(std::size(kBuiltins) < kNoBuiltin);

// Dense OID -> kBuiltins index (kNoBuiltin when absent): O(1) lookups.
constexpr std::array<uint8_t, kMaxBuiltinOid + 1> kBuiltinIndex = [] {
  std::array<uint8_t, kMaxBuiltinOid + 1> index{};
  for (auto& i : index) i = kNoBuiltin;
  for (size_t i = 0; i < std::size(kBuiltins); ++i)
    index[kBuiltins[i].oid] = static_cast<uint8_t>(i);
  return index;
}();

constexpr bool BuiltinTableIsSane() {
  for (size_t i = 0; i < std::size(kBuiltins); ++i) {
    if (kBuiltins[i].oid > kMaxBuiltinOid) return false;
    if (i > 0 && kBuiltins[i - 1].oid >= kBuiltins[i].oid) return false;
  }
  return true;
}
static_assert(BuiltinTableIsSane(), "kBuiltins must be sorted, unique and <= kMaxBuiltinOid");

const BuiltinType* FindBuiltin(uint32_t oid) {
  if (oid > kMaxBuiltinOid) return nullptr;
  const uint8_t i = kBuiltinIndex[oid];
  return i == kNoBuiltin ? nullptr : &kBuiltins[i];
}

}  // namespace

// ---------------------------------------------------------------------------
// TypeCatalog

void TypeCatalog::AddDomain(uint32_t oid, uint32_t base_oid) {
  if (FindBuiltin(oid)) return;
  user_[oid] = Entry{.kind = TypeKind::kDomain, .ref = base_oid};
}

void TypeCatalog::AddEnum(uint32_t oid) { AddString(oid); }

void TypeCatalog::AddArray(uint32_t oid, uint32_t elem_oid, char delim) {
  if (FindBuiltin(oid)) return;
  user_[oid] = Entry{.kind = TypeKind::kArray, .delim = delim, .ref = elem_oid};
}

void TypeCatalog::AddComposite(uint32_t oid, std::vector<CompositeField> fields) {
  if (FindBuiltin(oid)) return;
  Entry e{.kind = TypeKind::kComposite};
  e.keys.reserve(fields.size());
  for (const auto& f : fields) {
    std::string key;
    json::AppendString(key, f.name);
    key.push_back(':');
    e.keys.push_back(std::move(key));
  }
  e.fields = std::move(fields);
  user_[oid] = std::move(e);
}

void TypeCatalog::AddString(uint32_t oid) {
  if (FindBuiltin(oid)) return;
  user_[oid] = Entry{.kind = TypeKind::kString};
}

void TypeCatalog::AddJsonCast(uint32_t oid) {
  if (FindBuiltin(oid)) return;
  user_[oid] = Entry{.kind = TypeKind::kJsonCast};
}

void TypeCatalog::Remove(uint32_t oid) { user_.erase(oid); }

bool TypeCatalog::Contains(uint32_t oid) const {
  return FindBuiltin(oid) != nullptr || user_.contains(oid);
}

TypeKind TypeCatalog::Kind(uint32_t oid) const {
  if (const BuiltinType* b = FindBuiltin(oid)) return b->kind;
  auto it = user_.find(oid);
  return it == user_.end() ? TypeKind::kString : it->second.kind;
}

std::vector<uint32_t> TypeCatalog::Missing(std::span<const uint32_t> oids) const {
  std::vector<uint32_t> missing;
  for (uint32_t oid : oids) {
    if (Contains(oid) || std::find(missing.begin(), missing.end(), oid) != missing.end()) continue;
    missing.push_back(oid);
  }
  return missing;
}

std::string_view TypeCatalog::DescriptorQuery() {
  // A type's dependencies: a domain's base type, a true array's element type
  // (typlen = -1 and typelem <> 0; typsubscript does not exist before 14),
  // a composite's live attribute types. UNION deduplicates, so the recursion
  // terminates. A function cast to json only matters for non-built-in base,
  // enum, range and multirange types (json.c json_categorize_type).
  return R"sql(WITH RECURSIVE want(oid) AS (
    SELECT unnest($1::pg_catalog.oid[])
  UNION
    SELECT dep.oid
    FROM want w
    JOIN pg_catalog.pg_type t ON t.oid = w.oid
    CROSS JOIN LATERAL (
        SELECT t.typbasetype WHERE t.typtype = 'd'
      UNION ALL
        SELECT t.typelem WHERE t.typelem <> 0 AND t.typlen = -1
      UNION ALL
        SELECT a.atttypid FROM pg_catalog.pg_attribute a
        WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
    ) AS dep(oid)
)
SELECT t.oid, t.typtype, t.typbasetype,
       CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN t.typelem ELSE 0 END AS elem,
       COALESCE(e.typdelim, ',') AS elem_delim,
       (t.oid >= 16384 AND t.typtype IN ('b', 'e', 'r', 'm') AND EXISTS (
          SELECT 1 FROM pg_catalog.pg_cast c
          WHERE c.castsource = t.oid AND c.casttarget = 'pg_catalog.json'::pg_catalog.regtype
            AND c.castmethod = 'f')) AS json_cast,
       a.attname, a.atttypid
FROM want w
JOIN pg_catalog.pg_type t ON t.oid = w.oid
LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem AND t.typlen = -1
LEFT JOIN pg_catalog.pg_attribute a
  ON t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY t.oid, a.attnum)sql";
}

std::string TypeCatalog::OidArrayLiteral(std::span<const uint32_t> oids) {
  std::string s = "{";
  for (size_t i = 0; i < oids.size(); ++i) {
    if (i > 0) s.push_back(',');
    s += std::to_string(oids[i]);
  }
  s.push_back('}');
  return s;
}

namespace {

bool ParseOid(const std::optional<std::string>& v, uint32_t& oid) {
  if (!v || v->empty()) return false;
  const char* end = v->data() + v->size();
  auto [p, ec] = std::from_chars(v->data(), end, oid);
  return ec == std::errc() && p == end;
}

}  // namespace

Status TypeCatalog::ApplyDescriptorRows(const std::vector<DescriptorRow>& rows) {
  struct Pending {
    char typtype = 'b';
    uint32_t base = 0;
    uint32_t elem = 0;
    char delim = ',';
    bool json_cast = false;
    std::vector<CompositeField> fields;
  };
  std::map<uint32_t, Pending> pending;  // ordered: deterministic registration
  size_t bad = 0;
  size_t first_bad = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const DescriptorRow& r = rows[i];
    uint32_t oid = 0;
    uint32_t base = 0;
    uint32_t elem = 0;
    bool ok = r.size() == 8 && ParseOid(r[0], oid) && r[1] && r[1]->size() == 1 &&
              ParseOid(r[2], base) && ParseOid(r[3], elem) && r[4] && r[4]->size() == 1 && r[5];
    uint32_t atttypid = 0;
    if (ok && r[6]) ok = ParseOid(r[7], atttypid);
    if (!ok) {
      if (bad++ == 0) first_bad = i;
      continue;
    }
    Pending& p = pending[oid];
    p.typtype = (*r[1])[0];
    p.base = base;
    p.elem = elem;
    p.delim = (*r[4])[0];
    p.json_cast = *r[5] == "t";
    if (r[6]) p.fields.push_back({*r[6], atttypid});
  }
  for (auto& [oid, p] : pending) {
    if (FindBuiltin(oid)) continue;
    switch (p.typtype) {
      case 'd':
        AddDomain(oid, p.base);
        break;
      case 'c':
        AddComposite(oid, std::move(p.fields));
        break;
      case 'e':
        if (p.json_cast) {
          AddJsonCast(oid);
        } else {
          AddEnum(oid);
        }
        break;
      default:
        if (p.elem != 0) {
          AddArray(oid, p.elem, p.delim);
        } else if (p.json_cast) {
          AddJsonCast(oid);
        } else {
          AddString(oid);
        }
        break;
    }
  }
  if (bad > 0) {
    return Fail(ErrorCode::kParse, "type descriptors: skipped " + std::to_string(bad) +
                                       " malformed row(s), first at index " +
                                       std::to_string(first_bad));
  }
  return Ok();
}

// ---------------------------------------------------------------------------
// Scalars

bool IsJsonNumber(std::string_view s) {
  const size_t n = s.size();
  size_t i = 0;
  auto digit = [&](size_t k) { return k < n && s[k] >= '0' && s[k] <= '9'; };
  if (i < n && s[i] == '-') ++i;
  if (i < n && s[i] == '0') {
    ++i;
  } else if (i < n && s[i] >= '1' && s[i] <= '9') {
    while (digit(i)) ++i;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == n;
}

namespace {

constexpr int kMaxDepth = 100;         // arrays/composites nested in each other
constexpr int kMaxDomainChain = 32;    // domain over domain over …
constexpr int kDoubleSafeDigits = 15;  // DBL_DIG
constexpr long kDoubleSafeExponent = 307;

// Whether a valid JSON number survives a round trip through an IEEE double
// (parsed, then printed with 15 significant digits): at most 15 significant
// digits (leading and trailing zeros excluded) and a decimal exponent (of the
// leading digit) within [-307, 307].
bool FitsDouble(std::string_view s) {
  const size_t n = s.size();
  size_t i = (n > 0 && s[0] == '-') ? 1 : 0;
  long int_digits = 0;
  long index = 0;
  long first = -1;
  long last = -1;
  bool fraction = false;
  for (; i < n; ++i) {
    const char c = s[i];
    if (c == '.') {
      fraction = true;
      continue;
    }
    if (c == 'e' || c == 'E') break;
    if (!fraction) ++int_digits;
    if (c != '0') {
      if (first < 0) first = index;
      last = index;
    }
    ++index;
  }
  if (first < 0) return true;  // zero
  long exponent = int_digits - 1 - first;
  if (i < n) {  // explicit exponent (numeric_out never writes one)
    ++i;
    bool negative = false;
    if (s[i] == '+' || s[i] == '-') negative = s[i++] == '-';
    long e = 0;
    for (; i < n && e < 1'000'000; ++i) e = e * 10 + (s[i] - '0');
    exponent += negative ? -e : e;
  }
  return last - first + 1 <= kDoubleSafeDigits && exponent >= -kDoubleSafeExponent &&
         exponent <= kDoubleSafeExponent;
}

// PostgreSQL's scanner_isspace (array_in skips these around elements).
inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

inline void SkipSpace(const char*& p, const char* end) {
  while (p < end && IsSpace(*p)) ++p;
}

// Consumes exactly `count` digits.
inline bool Digits(const char*& p, const char* end, int count) {
  for (int i = 0; i < count; ++i, ++p) {
    if (p == end || !IsDigit(*p)) return false;
  }
  return true;
}

// ISO date "YYYY-MM-DD" (4 or more year digits); returns the end or nullptr.
const char* ScanIsoDate(const char* p, const char* end) {
  if (!Digits(p, end, 4)) return nullptr;
  while (p < end && IsDigit(*p)) ++p;
  if (p == end || *p++ != '-' || !Digits(p, end, 2)) return nullptr;
  if (p == end || *p++ != '-' || !Digits(p, end, 2)) return nullptr;
  return p;
}

inline bool IsInfinity(std::string_view s) { return s == "infinity" || s == "-infinity"; }

constexpr std::string_view kBc = " BC";

}  // namespace

// ---------------------------------------------------------------------------
// The converter

class ValueConverter {
 public:
  ValueConverter(const TypeCatalog& catalog, std::string& out) : catalog_(catalog), out_(out) {}

  bool Value(uint32_t oid, std::string_view s, int depth) {
    return Convert(Resolve(oid), s, depth);
  }
  const char* error() const { return error_; }

 private:
  // A type resolved through domains.
  struct TypeView {
    TypeKind kind = TypeKind::kString;
    char delim = ',';
    uint32_t ref = 0;
    const TypeCatalog::Entry* entry = nullptr;
  };

  TypeView Resolve(uint32_t oid) const;
  bool Convert(const TypeView& t, std::string_view s, int depth);
  bool Fail(const char* reason) {
    error_ = reason;
    return false;
  }
  bool Date(std::string_view s);
  bool Timestamp(std::string_view s, bool with_tz);
  bool Array(uint32_t elem, char delim, std::string_view s, int depth);
  bool ArrayLevel(const TypeView& elem, char delim, const char*& p, const char* end, int depth);
  bool ArrayElement(const char*& p, const char* end, char delim, std::string& scratch,
                    std::string_view& value, bool& is_null);
  bool Vector(uint32_t elem, std::string_view s, int depth);
  bool Composite(const TypeCatalog::Entry& type, std::string_view s, int depth);
  bool CompositeField(const char*& p, const char* end, std::string& scratch,
                      std::string_view& value);

  const TypeCatalog& catalog_;
  std::string& out_;
  const char* error_ = nullptr;
};

ValueConverter::TypeView ValueConverter::Resolve(uint32_t oid) const {
  for (int hop = 0; hop <= kMaxDomainChain; ++hop) {
    if (const BuiltinType* b = FindBuiltin(oid)) {
      return TypeView{.kind = b->kind, .delim = b->delim, .ref = b->elem};
    }
    auto it = catalog_.user_.find(oid);
    if (it == catalog_.user_.end()) return TypeView{};
    const TypeCatalog::Entry& e = it->second;
    if (e.kind != TypeKind::kDomain) {
      return TypeView{.kind = e.kind, .delim = e.delim, .ref = e.ref, .entry = &e};
    }
    oid = e.ref;
  }
  return TypeView{.kind = TypeKind::kDomain};  // cycle or absurdly long chain
}

bool ValueConverter::Convert(const TypeView& t, std::string_view s, int depth) {
  switch (t.kind) {
    case TypeKind::kString:
    case TypeKind::kJsonCast:
      json::AppendString(out_, s);
      return true;
    case TypeKind::kBool:
      if (s == "t") {
        out_.append("true");
      } else if (s == "f") {
        out_.append("false");
      } else {
        return Fail("bool is not t or f");
      }
      return true;
    case TypeKind::kNumber:
    case TypeKind::kNumeric:
      if (IsJsonNumber(s)) {
        if (t.kind == TypeKind::kNumeric && !FitsDouble(s)) {
          json::AppendString(out_, s);  // deviation 1: exact decimal text
        } else {
          out_.append(s);
        }
      } else if (s == "NaN" || s == "Infinity" || s == "-Infinity") {
        json::AppendString(out_, s);  // not JSON numbers: quoted, as to_json does
      } else {
        return Fail("not a number");
      }
      return true;
    case TypeKind::kDate:
      return Date(s);
    case TypeKind::kTimestamp:
      return Timestamp(s, false);
    case TypeKind::kTimestampTz:
      return Timestamp(s, true);
    case TypeKind::kJson:
      if (!json::Compact(s, out_)) return Fail("invalid json");
      return true;
    case TypeKind::kArray:
      return Array(t.ref, t.delim, s, depth);
    case TypeKind::kVector:
      return Vector(t.ref, s, depth);
    case TypeKind::kComposite:
      return Composite(*t.entry, s, depth);
    case TypeKind::kDomain:
      return Fail("domain chain too long or cyclic");
  }
  return Fail("unknown type kind");
}

// date: the ISO text equals to_json's XSD form ("2026-11-24", "0044-03-15 BC",
// "infinity"). The shape check catches a session with the wrong DateStyle.
bool ValueConverter::Date(std::string_view s) {
  if (!IsInfinity(s)) {
    const char* end = s.data() + s.size();
    const char* p = ScanIsoDate(
        s.data(), end);  // NOLINT(bugprone-suspicious-stringview-data-usage): bounded by end
    if (p == nullptr) return Fail("date is not in ISO DateStyle");
    if (p != end && std::string_view(p, end - p) != kBc) return Fail("junk after date");
  }
  out_.push_back('"');
  out_.append(s);
  out_.push_back('"');
  return true;
}

// ISO "YYYY-MM-DD HH:MM:SS[.ffffff][±HH[:MM[:SS]]][ BC]" -> XSD
// "YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM[:SS]][ BC]" (EncodeDateTime with
// USE_XSD_DATES always writes the offset's minutes).
bool ValueConverter::Timestamp(std::string_view s, bool with_tz) {
  if (IsInfinity(s)) {
    out_.push_back('"');
    out_.append(s);
    out_.push_back('"');
    return true;
  }
  const char* begin = s.data();
  const char* end = begin + s.size();
  const char* p = ScanIsoDate(begin, end);
  if (p == nullptr || p == end || *p != ' ') return Fail("timestamp is not in ISO DateStyle");
  const char* date_end = p++;
  const char* time_begin = p;
  if (!Digits(p, end, 2) || p == end || *p++ != ':' || !Digits(p, end, 2) || p == end ||
      *p++ != ':' || !Digits(p, end, 2)) {
    return Fail("malformed timestamp time");
  }
  if (p < end && *p == '.') {
    ++p;
    if (p == end || !IsDigit(*p)) return Fail("malformed timestamp fraction");
    while (p < end && IsDigit(*p)) ++p;
  }
  const char* time_end = p;
  const char* tz_hours = nullptr;
  const char* tz_minutes = nullptr;
  const char* tz_seconds = nullptr;
  char tz_sign = 0;
  if (with_tz) {
    if (p == end || (*p != '+' && *p != '-')) return Fail("timestamptz without UTC offset");
    tz_sign = *p++;
    tz_hours = p;
    if (!Digits(p, end, 2)) return Fail("malformed UTC offset");
    if (p < end && *p == ':') {
      tz_minutes = ++p;
      if (!Digits(p, end, 2)) return Fail("malformed UTC offset");
      if (p < end && *p == ':') {
        tz_seconds = ++p;
        if (!Digits(p, end, 2)) return Fail("malformed UTC offset");
      }
    }
  }
  const bool bc = p != end;
  if (bc && std::string_view(p, end - p) != kBc) return Fail("junk after timestamp");

  out_.push_back('"');
  out_.append(begin, date_end);
  out_.push_back('T');
  out_.append(time_begin, time_end);
  if (with_tz) {
    out_.push_back(tz_sign);
    out_.append(tz_hours, 2);
    out_.push_back(':');
    if (tz_minutes) {
      out_.append(tz_minutes, 2);
    } else {
      out_.append("00");
    }
    if (tz_seconds) {
      out_.push_back(':');
      out_.append(tz_seconds, 2);
    }
  }
  if (bc) out_.append(kBc);
  out_.push_back('"');
  return true;
}

// Array literal as array_out writes it (and array_in reads it):
//   [dims=]{elem,elem,...}  with nested {…} per dimension; elements are
// unquoted (NULL = SQL null, case-insensitive) or "double quoted" with
// backslash escapes; whitespace around elements is insignificant.
bool ValueConverter::Array(uint32_t elem, char delim, std::string_view s, int depth) {
  const char* p = s.data();
  const char* end = p + s.size();
  SkipSpace(p, end);
  if (p < end && *p == '[') {  // explicit bounds: "[0:1][1:2]=" — dropped, as to_json does
    while (p < end && *p != '=') {
      const char c = *p++;
      if (!IsDigit(c) && c != '[' && c != ']' && c != ':' && c != '-' && c != '+' && !IsSpace(c)) {
        return Fail("malformed array bounds");
      }
    }
    if (p == end) return Fail("array bounds without '='");
    ++p;
    SkipSpace(p, end);
  }
  if (p == end || *p != '{') return Fail("array does not start with '{'");
  if (!ArrayLevel(Resolve(elem), delim, p, end, depth + 1)) return false;
  SkipSpace(p, end);
  if (p != end) return Fail("junk after array");
  return true;
}

// `p` is at '{'; consumes through the matching '}'.
bool ValueConverter::ArrayLevel(const TypeView& elem, char delim, const char*& p, const char* end,
                                int depth) {
  if (depth > kMaxDepth) return Fail("array nested too deeply");
  ++p;
  out_.push_back('[');
  SkipSpace(p, end);
  if (p < end && *p == '}') {
    ++p;
    out_.push_back(']');
    return true;
  }
  std::string scratch;  // unescaped elements; SSO, allocates only for long escaped ones
  bool nested = false;  // all items of one level are sub-arrays, or none is
  for (bool first = true;; first = false) {
    SkipSpace(p, end);
    if (p == end) return Fail("unterminated array");
    if (!first) out_.push_back(',');
    if (first) {
      nested = *p == '{';
    } else if (nested != (*p == '{')) {
      return Fail("array mixes elements and sub-arrays");
    }
    if (*p == '{') {
      if (!ArrayLevel(elem, delim, p, end, depth + 1)) return false;
    } else {
      std::string_view value;
      bool is_null = false;
      if (!ArrayElement(p, end, delim, scratch, value, is_null)) return false;
      if (is_null) {
        out_.append("null");
      } else if (!Convert(elem, value, depth)) {
        return false;
      }
    }
    SkipSpace(p, end);
    if (p == end) return Fail("unterminated array");
    if (*p == delim) {
      ++p;
      continue;
    }
    if (*p == '}') {
      ++p;
      break;
    }
    return Fail("unexpected character in array");
  }
  out_.push_back(']');
  return true;
}

// Reads one non-nested element at `p` (after leading whitespace), leaving `p`
// at the delimiter or '}' that ends it (or at trailing whitespace).
bool ValueConverter::ArrayElement(const char*& p, const char* end, char delim, std::string& scratch,
                                  std::string_view& value, bool& is_null) {
  is_null = false;
  // Fast paths: what array_out writes — "plain" or "quoted without escapes".
  if (*p == '"') {
    const char* q = p + 1;
    while (q < end && *q != '"' && *q != '\\') ++q;
    if (q < end && *q == '"' && q + 1 < end && (q[1] == delim || q[1] == '}')) {
      value = std::string_view(p + 1, q - p - 1);
      p = q + 1;
      return true;
    }
  } else {
    const char* q = p;
    while (q < end && *q != delim && *q != '}' && *q != '"' && *q != '\\' && *q != '{') ++q;
    if (q < end && (*q == delim || *q == '}')) {
      const char* e = q;
      while (e > p && IsSpace(e[-1])) --e;
      if (e == p) return Fail("empty array element");
      value = std::string_view(p, e - p);
      is_null = value.size() == 4 && (value[0] | 0x20) == 'n' && (value[1] | 0x20) == 'u' &&
                (value[2] | 0x20) == 'l' && (value[3] | 0x20) == 'l';
      p = q;
      return true;
    }
  }
  // General path (array_in's rules): quotes may cover parts of the element,
  // backslash escapes the next character anywhere, unquoted trailing
  // whitespace is dropped.
  scratch.clear();
  bool in_quotes = false;
  bool literal = false;  // quoted or escaped somewhere: never NULL, may be empty
  size_t keep = 0;       // scratch length without trailing unquoted whitespace
  for (;;) {
    if (p == end)
      return Fail(in_quotes ? "unterminated quoted array element" : "unterminated array");
    const char c = *p;
    if (c == '\\') {
      if (++p == end) return Fail("array element ends in backslash");
      scratch.push_back(*p++);
      keep = scratch.size();
      literal = true;
    } else if (c == '"') {
      in_quotes = !in_quotes;
      literal = true;
      ++p;
      keep = scratch.size();
    } else if (in_quotes) {
      scratch.push_back(c);
      ++p;
      keep = scratch.size();
    } else if (c == delim || c == '}') {
      break;
    } else if (c == '{') {
      return Fail("unexpected '{' in array element");
    } else {
      scratch.push_back(c);
      ++p;
      if (!IsSpace(c)) keep = scratch.size();
    }
  }
  scratch.resize(keep);
  if (!literal && scratch.empty()) return Fail("empty array element");
  value = scratch;
  is_null = !literal && scratch.size() == 4 && (scratch[0] | 0x20) == 'n' &&
            (scratch[1] | 0x20) == 'u' && (scratch[2] | 0x20) == 'l' && (scratch[3] | 0x20) == 'l';
  return true;
}

// int2vector / oidvector: "1 2 3" (space separated, no NULLs, "" = empty).
bool ValueConverter::Vector(uint32_t elem, std::string_view s, int depth) {
  if (depth + 1 > kMaxDepth) return Fail("array nested too deeply");
  const TypeView elem_type = Resolve(elem);
  const char* p = s.data();
  const char* end = p + s.size();
  out_.push_back('[');
  bool first = true;
  for (;;) {
    SkipSpace(p, end);
    if (p == end) break;
    const char* q = p;
    while (q < end && !IsSpace(*q)) ++q;
    if (!first) out_.push_back(',');
    first = false;
    if (!Convert(elem_type, std::string_view(p, q - p), depth + 1)) return false;
    p = q;
  }
  out_.push_back(']');
  return true;
}

// Record literal as record_out writes it (and record_in reads it):
//   (f1,f2,...)  where an empty field is NULL, and fields may be
// "double quoted" with "" or \ escaping a quote and \ escaping anything.
// Whitespace is data. The field count must match the registered type.
bool ValueConverter::Composite(const TypeCatalog::Entry& type, std::string_view s, int depth) {
  if (depth + 1 > kMaxDepth) return Fail("composite nested too deeply");
  const char* p = s.data();
  const char* end = p + s.size();
  SkipSpace(p, end);
  if (p == end || *p != '(') return Fail("record does not start with '('");
  ++p;
  out_.push_back('{');
  std::string scratch;
  for (size_t i = 0; i < type.fields.size(); ++i) {
    if (i > 0) {
      if (p == end || *p != ',') return Fail("record has fewer fields than its type");
      ++p;
      out_.push_back(',');
    }
    out_.append(type.keys[i]);
    if (p == end) return Fail("unterminated record");
    if (*p == ',' || *p == ')') {
      out_.append("null");
      continue;
    }
    std::string_view value;
    if (!CompositeField(p, end, scratch, value)) return false;
    if (!Value(type.fields[i].type_oid, value, depth + 1)) return false;
  }
  if (p == end || *p != ')') return Fail("record has more fields than its type");
  ++p;
  SkipSpace(p, end);
  if (p != end) return Fail("junk after record");
  out_.push_back('}');
  return true;
}

bool ValueConverter::CompositeField(const char*& p, const char* end, std::string& scratch,
                                    std::string_view& value) {
  // Fast paths: plain, or quoted without any escape.
  if (*p == '"') {
    const char* q = p + 1;
    while (q < end && *q != '"' && *q != '\\') ++q;
    if (q + 1 < end && *q == '"' && (q[1] == ',' || q[1] == ')')) {
      value = std::string_view(p + 1, q - p - 1);
      p = q + 1;
      return true;
    }
  } else {
    const char* q = p;
    while (q < end && *q != ',' && *q != ')' && *q != '"' && *q != '\\') ++q;
    if (q < end && (*q == ',' || *q == ')')) {
      value = std::string_view(p, q - p);
      p = q;
      return true;
    }
  }
  scratch.clear();
  bool in_quotes = false;
  for (;;) {
    if (p == end)
      return Fail(in_quotes ? "unterminated quoted record field" : "unterminated record");
    const char c = *p;
    if (c == '\\') {
      if (++p == end) return Fail("record field ends in backslash");
      scratch.push_back(*p++);
    } else if (c == '"') {
      if (in_quotes && p + 1 < end && p[1] == '"') {
        scratch.push_back('"');
        p += 2;
      } else {
        in_quotes = !in_quotes;
        ++p;
      }
    } else if (!in_quotes && (c == ',' || c == ')')) {
      break;
    } else {
      scratch.push_back(c);
      ++p;
    }
  }
  value = scratch;
  return true;
}

// ---------------------------------------------------------------------------

Status AppendValueJson(const TypeCatalog& catalog, uint32_t type_oid, std::string_view pg_text,
                       std::string& out) {
  const size_t start = out.size();
  ValueConverter converter(catalog, out);
  if (converter.Value(type_oid, pg_text, 0)) return Ok();
  out.resize(start);
  json::AppendString(out, pg_text);
  std::string message = "malformed ";
  const std::string_view name = TypeName(type_oid);
  if (name.empty()) {
    message += "value of type " + std::to_string(type_oid);
  } else {
    message.append(name).append(" value");
  }
  message.append(": ").append(converter.error() ? converter.error() : "unknown error");
  return Fail(ErrorCode::kParse, std::move(message));
}

std::string_view TypeName(uint32_t oid) {
  const BuiltinType* b = FindBuiltin(oid);
  return b ? b->name : std::string_view();
}

}  // namespace pgcdc::pgtypes
