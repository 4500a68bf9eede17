// PostgreSQL text-format values -> JSON, the way PostgreSQL's to_json() does it.
//
// The WAL detector receives row values from pgoutput in PostgreSQL's TEXT
// output format together with each column's type OID. AppendValueJson turns
// one such value into one JSON value.
//
// CONTRACT. For a non-NULL value v of type T, AppendValueJson(catalog, T,
// text_of(v), out) appends JSON that is semantically equal to what
// `SELECT to_json(v)` returns on the same server, so a WAL row built from it
// equals the `row_to_json(NEW)` a LISTEN/NOTIFY trigger sends. This holds when
//   * the replication session runs with DateStyle='ISO, MDY', TimeZone='UTC',
//     IntervalStyle='postgres' and extra_float_digits=1 (the detector sets
//     these; the text output of dates/times/intervals/floats depends on them),
//   * the catalog knows every user-defined type involved (see TypeCatalog),
// with these documented deviations:
//   1. `numeric` values that cannot round-trip through an IEEE double — more
//      than 15 significant digits (leading and trailing zeros do not count) or
//      a decimal exponent outside [-307, 307] — are emitted as a JSON string
//      holding the exact decimal text (to_json emits a bare number that many
//      JSON consumers would silently round). Applies inside arrays and
//      composites too. int8 and float values are always bare numbers.
//   2. `json` values are compacted (insignificant whitespace removed, invalid
//      UTF-8 inside strings replaced); to_json embeds json text verbatim. The
//      value is the same JSON; only the spelling differs. jsonb is embedded
//      compacted as well (to_json embeds jsonb's output with ", " and ": ").
//      Numbers inside json/jsonb keep their spelling (deviation 1 does not
//      reach inside them).
//   3. A user-defined type with a function cast to json (e.g. hstore, some
//      PostGIS types) is converted by to_json through that cast; we cannot run
//      SQL, so it is emitted as its text as a JSON string
//      (TypeKind::kJsonCast marks such types so the caller can warn).
//
// The rules (PostgreSQL's json.c json_categorize_type/datum_to_json):
//   * domains are converted as their base type;
//   * int2/int4/int8/float4/float8/numeric: the text as a bare JSON number when
//     it is a valid JSON number, else as a JSON string ("NaN", "Infinity",
//     "-Infinity");
//   * bool: true / false;
//   * date: "2026-11-24", "0044-03-15 BC", "infinity", "-infinity";
//   * timestamp: "2026-11-24T02:34:37.913847" (ISO 8601 'T' separator; BC
//     values keep the " BC" suffix, infinities as above);
//   * timestamptz: like timestamp plus the UTC offset as ±HH:MM[:SS]
//     ("…+00:00");
//   * json/jsonb: embedded as JSON;
//   * arrays: JSON arrays, multi-dimensional ones nested, explicit bounds
//     ("[0:1]={1,2}") dropped, NULL elements as null, elements converted by
//     the element type; int2vector/oidvector likewise (oid elements are
//     strings);
//   * composite types: JSON objects keyed by attribute name (dropped columns
//     excluded), NULL fields as null;
//   * everything else — text, varchar, char, name, uuid, inet, cidr, macaddr,
//     money, oid, interval, time, timetz, bytea ("\\x0102"), bit, varbit,
//     ranges, multiranges, geometric types, tsvector, xml, enums, unknown
//     OIDs, … — the text as a JSON string.
//
// Performance: linear in the input, no regex, no heap allocation for scalar
// values (only `out` grows); arrays and composites allocate only to unescape
// quoted elements that contain escapes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"

namespace pgcdc::pgtypes {

// How the text of a type is converted.
enum class TypeKind : uint8_t {
  kString,       // the text as a JSON string (the default for unknown OIDs)
  kBool,         // "t"/"f" -> true/false
  kNumber,       // int2/int4/int8/float4/float8: bare number if valid JSON number
  kNumeric,      // numeric: like kNumber plus the >15-digit exception
  kDate,         // ISO date text as a string
  kTimestamp,    // ISO timestamp text with 'T' separator
  kTimestampTz,  // ... plus offset as ±HH:MM[:SS]
  kJson,         // json/jsonb: embedded (compacted)
  kArray,        // "{...}" array literal: JSON array of element conversions
  kVector,       // int2vector/oidvector: space-separated elements -> JSON array
  kComposite,    // "(...)" record literal: JSON object
  kDomain,       // converted as its base type
  kJsonCast,     // user type with a cast to json: emitted as a string (see deviation 3)
};

class ValueConverter;  // internal, pgtypes.cc

// One attribute of a composite type, in attribute-number order.
struct CompositeField {
  std::string name;
  uint32_t type_oid = 0;
};

// One result row of DescriptorQuery(), as text (NULL = nullopt). The same
// shape as pg::Row, so the detector can pass libpq results straight through.
using DescriptorRow = std::vector<std::optional<std::string>>;

// Knows how to convert each type OID. Built-in types (OIDs below 16384 that
// PostgreSQL ships, including all their array types) are known statically;
// user-defined types are registered at runtime, typically by running
// DescriptorQuery() and passing its rows to ApplyDescriptorRows(). Unknown
// OIDs convert as strings.
//
// Registering an OID that the built-in table knows is ignored (built-in OIDs
// never change); registering a user OID again replaces the earlier entry
// (e.g. after ALTER TYPE). Domains, array elements and composite fields may be
// registered in any order: references are resolved at conversion time.
//
// Thread-safety: const methods may run concurrently; mutations need exclusive
// access.
class TypeCatalog {
 public:
  TypeCatalog() = default;

  void AddDomain(uint32_t oid, uint32_t base_oid);
  void AddEnum(uint32_t oid);
  // `delim` is the ELEMENT type's typdelim (',' for everything but box).
  void AddArray(uint32_t oid, uint32_t elem_oid, char delim = ',');
  // `fields` excludes dropped columns, in attnum order.
  void AddComposite(uint32_t oid, std::vector<CompositeField> fields);
  // A user type converted as its text (base types, ranges, multiranges).
  void AddString(uint32_t oid);
  // A user type that has a function cast to json (deviation 3).
  void AddJsonCast(uint32_t oid);
  // Forgets a user-registered OID (no-op for built-ins).
  void Remove(uint32_t oid);

  // True when the OID is built-in or registered.
  bool Contains(uint32_t oid) const;
  // The kind registered for `oid` (not resolved through domains); kString for
  // unknown OIDs.
  TypeKind Kind(uint32_t oid) const;
  // The OIDs in `oids` that Contains() does not know, deduplicated, in first-
  // seen order: the parameter for DescriptorQuery().
  std::vector<uint32_t> Missing(std::span<const uint32_t> oids) const;

  // SQL returning descriptors for the types whose OIDs are in $1 (an oid[]
  // text literal such as "{16390,16402}", see OidArrayLiteral) and,
  // recursively, for every type they reference (domain base types, array
  // elements, composite attribute types). Columns:
  //   0 oid, 1 typtype, 2 typbasetype, 3 elem (0 unless a true array),
  //   4 element typdelim, 5 has a function cast to json (t/f),
  //   6 attname, 7 atttypid (NULL unless a composite attribute row)
  // One row per type, or one per attribute for composite types; OIDs that do
  // not exist produce no rows. Uses only catalog columns that exist since
  // PostgreSQL 10. Typical use: Missing(column type OIDs) -> run this with
  // OidArrayLiteral(missing) -> ApplyDescriptorRows(rows); re-run for an OID
  // after pgoutput announces a changed type (ALTER TYPE).
  static std::string_view DescriptorQuery();
  static std::string OidArrayLiteral(std::span<const uint32_t> oids);

  // Registers the types described by DescriptorQuery() result rows. Rows for
  // built-in OIDs are skipped. Malformed rows are skipped and reported in the
  // returned kParse error; the well-formed rows are applied regardless.
  Status ApplyDescriptorRows(const std::vector<DescriptorRow>& rows);

 private:
  friend class ValueConverter;
  struct Entry {
    TypeKind kind = TypeKind::kString;
    char delim = ',';
    uint32_t ref = 0;  // array/vector element or domain base type
    // Composite: fields and each field's pre-encoded `"name":` prefix.
    std::vector<CompositeField> fields;
    std::vector<std::string> keys;
  };
  std::unordered_map<uint32_t, Entry> user_;
};

// Appends exactly one JSON value for the non-NULL value `pg_text` of type
// `type_oid` (PostgreSQL text output). On malformed text (a broken array or
// record literal, a timestamp in an unexpected DateStyle, invalid json, …)
// the whole value is emitted as a JSON string of `pg_text` instead and a
// kParse error is returned: `out` still received exactly one valid JSON value,
// so the caller may count the error and carry on. The error message names
// the type and the problem, never the value. Invalid UTF-8 is replaced with
// U+FFFD. SQL NULLs never reach this function: the caller writes `null`.
Status AppendValueJson(const TypeCatalog& catalog, uint32_t type_oid, std::string_view pg_text,
                       std::string& out);

// The pg_type.typname of a built-in type ("int4", "_int4", "timestamptz"),
// or "" for OIDs outside the built-in table.
std::string_view TypeName(uint32_t oid);

// True when `s` is exactly one RFC 8259 number (what PostgreSQL's
// IsValidJsonNumber accepts).
bool IsJsonNumber(std::string_view s);

}  // namespace pgcdc::pgtypes
