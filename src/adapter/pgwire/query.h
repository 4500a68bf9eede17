// The gateway's SQL: PostgreSQL's parser (src/sqlparse) turns a query string
// into statements; ParseSql() plans each onto what the gateway serves, Evaluate()
// evaluates a planned SELECT against the ring. Pure logic (no sockets).
//
// Served: SELECT [* | columns | count(*)] FROM pgcdc_events | pgcdc_channels |
// pgcdc_status | pgcdc_events_live [alias] [WHERE <predicates>] [ORDER BY
// column|ordinal [ASC|DESC], …] [LIMIT n] [OFFSET n]; predicates compare a
// column with a constant or a $n parameter (=, <>, <, <=, >, >=, LIKE,
// IN (…)), combined with AND, OR, NOT. Text compares exactly (case-sensitive
// bytes). SELECT without FROM of constants and version(), current_user,
// current_database(), current_schema(), now(); SET/RESET (accepted, no
// effect); SHOW of the parameters the server reports; BEGIN/COMMIT/ROLLBACK.
// Everything else is an SqlError with the SQLSTATE PostgreSQL would use and
// the 1-based character position of the offending token.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapter/pgwire/protocol.h"
#include "adapter/pgwire/ring.h"

namespace pgcdc::adapter::pgwire {

struct SqlError {
  std::string sqlstate;
  std::string message;
  int position = 0;  // 1-based character position; 0 = none
};

template <class T>
class [[nodiscard]] SqlResult : public std::expected<T, SqlError> {
 public:
  using Base = std::expected<T, SqlError>;
  using Base::Base;
  // NOLINTNEXTLINE(google-explicit-constructor): converts like the base type does.
  SqlResult(Base base) : Base(std::move(base)) {}
};
inline std::unexpected<SqlError> SqlFail(std::string sqlstate, std::string message,
                                         int position = 0) {
  return std::unexpected<SqlError>(SqlError{std::move(sqlstate), std::move(message), position});
}

enum class Table { kEvents, kChannels, kStatus, kEventsLive };

// A value in a result row.
struct Cell {
  enum class Kind { kNull, kText, kInt, kBool, kTime };
  Kind kind = Kind::kNull;
  std::string text;
  int64_t number = 0;  // kInt, kBool (0/1), kTime (Unix nanoseconds)
};
using CellRow = std::vector<Cell>;

// A WHERE expression (three-valued logic: unknown when a NULL parameter is
// compared).
struct Predicate {
  enum class Kind { kAnd, kOr, kNot, kCompare, kLike, kIn };
  Kind kind = Kind::kCompare;
  std::vector<Predicate> children;  // kAnd/kOr/kNot
  size_t column = 0;
  std::string op;        // kCompare: = <> < <= > >=
  bool negated = false;  // NOT LIKE, NOT IN
  // Operands: constants (text) or $n (1-based); one for compare/like, n for IN.
  struct Operand {
    std::optional<std::string> constant;  // nullopt with param 0 = NULL
    int param = 0;
  };
  std::vector<Operand> operands;
};

struct Statement {
  enum class Kind { kSelect, kValues, kSet, kShow, kTransaction, kEmpty };
  Kind kind = Kind::kEmpty;
  std::string tag;       // kSet, kTransaction: the command tag
  char transaction = 0;  // kTransaction: 'B' begin, 'C' commit, 'R' rollback
  // kSelect
  Table table = Table::kEvents;
  std::vector<size_t> columns;  // indexes into the table's columns
  bool count = false;           // SELECT count(*)
  std::optional<Predicate> where;
  struct Order {
    size_t column;  // table column
    bool desc;
  };
  std::vector<Order> order;
  Predicate::Operand limit;  // absent: constant nullopt, param 0
  Predicate::Operand offset;
  // kValues / kShow: the fields and the one row (now() is evaluated by Evaluate()).
  std::vector<Field> fields;
  CellRow values;
  // Parameter types by $n (index n-1), inferred; 0 = unknown (text).
  std::vector<int32_t> param_types;
};

struct ResultSet {
  std::vector<Field> fields;
  std::vector<CellRow> rows;
  std::string tag;
};

// The columns of a table.
const std::vector<Field>& TableColumns(Table table);
// SHOW-able parameters and the start-up ParameterStatus set.
const std::vector<std::pair<std::string, std::string>>& ServerParameters();

struct Parsed {
  // One entry per statement: planned, or the error it gets when run.
  std::vector<SqlResult<Statement>> statements;
};
// Parses `sql` (a syntax error fails the whole string, as PostgreSQL does);
// `user` answers current_user.
SqlResult<Parsed> ParseSql(const std::string& sql, const std::string& user);

// The fields a statement returns (empty for SET, BEGIN …).
std::vector<Field> StatementFields(const Statement& s);

// Runs a planned kSelect/kValues/kShow over the ring. `params` in text form.
SqlResult<ResultSet> Evaluate(const Statement& s,
                              const std::vector<std::optional<std::string>>& params,
                              const Ring& ring, int64_t now_ns);

// For the live tail: does `row` pass the WHERE, and its projected cells.
SqlResult<bool> Matches(const Statement& s, const std::vector<std::optional<std::string>>& params,
                        const Row& row);
CellRow Project(const Statement& s, const Row& row);

// The statement's LIMIT (nullopt = none; an error when not a non-negative
// integer).
SqlResult<std::optional<int64_t>> LimitOf(const Statement& s,
                                          const std::vector<std::optional<std::string>>& params);

// A parameter received in binary format, in text form (int2/int4/int8 as
// decimal, text and unknown types as the bytes); an error for other types.
SqlResult<std::string> BinaryParamToText(std::string_view bytes, int32_t type_oid);

// A cell in the wire format of `field` (0 text, 1 binary); nullopt = NULL.
std::optional<std::string> EncodeCell(const Cell& cell, const Field& field);

// PostgreSQL's timestamptz text output in UTC ("2026-01-02 03:04:05.123456+00").
std::string FormatTimestamptz(int64_t unix_nanos);

}  // namespace pgcdc::adapter::pgwire
