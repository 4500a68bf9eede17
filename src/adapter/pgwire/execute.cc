// Evaluate(), Matches(), Project() and the wire encoding of cells (query.h).
#include <algorithm>
#include <charconv>

#include "adapter/pgwire/query.h"
#include "codec/pgoutput/pgoutput.h"
#include "core/time.h"

namespace pgcdc::adapter::pgwire {

namespace {

// Microseconds between 1970-01-01 and PostgreSQL's epoch 2000-01-01.
constexpr int64_t kPgEpochMicros = 946'684'800'000'000;

std::optional<int64_t> ToInt(std::string_view s) {
  int64_t v = 0;
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  while (begin != end && *begin == ' ') ++begin;
  while (end != begin && end[-1] == ' ') --end;
  if (begin != end && *begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || ptr != end || begin == end) return std::nullopt;
  return v;
}

Cell Text(std::string s) { return Cell{.kind = Cell::Kind::kText, .text = std::move(s)}; }

constexpr size_t kEventColumnCount = 7;
constexpr uint32_t kAllColumns = (1u << kEventColumnCount) - 1;

// Fills the cells of the pgcdc_events columns in `mask` (bit i = column i),
// so rows a WHERE rejects never copy their payload.
void FillEventCells(const Row& r, uint32_t mask, CellRow& cells) {
  cells.resize(kEventColumnCount);
  for (size_t c = 0; c < kEventColumnCount; ++c) {
    if ((mask & (1u << c)) == 0) continue;
    switch (c) {
      case 0:
        cells[c] = Text(r.id);
        break;
      case 1:
        cells[c] = Text(r.channel);
        break;
      case 2:
        cells[c] = Text(r.operation);
        break;
      case 3:
        cells[c] = Text(r.source);
        break;
      case 4:
        cells[c] = Text(r.payload);
        break;
      case 5:
        cells[c] = Cell{.kind = Cell::Kind::kTime, .number = r.created_at_ns};
        break;
      default:
        cells[c] = Text(pgoutput::FormatLsn(r.lsn));
        break;
    }
  }
}

CellRow EventCells(const Row& r) {
  CellRow cells;
  FillEventCells(r, kAllColumns, cells);
  return cells;
}

// The columns a predicate reads, as a mask.
uint32_t ColumnsOf(const Predicate& p) {
  uint32_t mask = 0;
  if (p.kind == Predicate::Kind::kAnd || p.kind == Predicate::Kind::kOr ||
      p.kind == Predicate::Kind::kNot) {
    for (const auto& child : p.children) mask |= ColumnsOf(child);
    return mask;
  }
  return p.column < 32 ? 1u << p.column : 0;
}

std::vector<CellRow> TableRows(Table table, const Ring& ring, int64_t now_ns) {
  std::vector<CellRow> rows;
  if (table == Table::kChannels) {
    for (const auto& c : ring.Channels()) {
      rows.push_back({Text(c.channel), Cell{.kind = Cell::Kind::kInt, .number = c.events}});
    }
  } else if (table == Table::kStatus) {
    const RingStatus s = ring.Status();
    const std::pair<std::string, std::string> kv[] = {
        {"adapter", "pgwire"},
        {"buffer_capacity", std::to_string(s.capacity)},
        {"buffer_used", std::to_string(s.used)},
        {"events_total", std::to_string(s.total)},
        {"server_time", FormatRfc3339Nano(now_ns / 1'000'000'000 * 1'000'000'000)},
    };
    for (const auto& [k, v] : kv) rows.push_back({Text(k), Text(v)});
  } else {
    for (const auto& r : ring.Snapshot()) rows.push_back(EventCells(*r));
  }
  return rows;
}

// SQL LIKE: % any run, _ one character (bytes), backslash escapes.
bool Like(std::string_view s, std::string_view p) {
  size_t si = 0, pi = 0, star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '%') {
      star_p = ++pi;
      star_s = si;
      continue;
    }
    if (pi < p.size()) {
      char want = p[pi];
      size_t step = 1;
      if (want == '\\' && pi + 1 < p.size()) {
        want = p[pi + 1];
        step = 2;
      }
      if ((p[pi] == '_' && step == 1) || want == s[si]) {
        pi += step;
        ++si;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

using Params = std::vector<std::optional<std::string>>;

SqlResult<std::optional<std::string>> OperandValue(const Predicate::Operand& o,
                                                   const Params& params) {
  if (o.param == 0) return o.constant;
  if (static_cast<size_t>(o.param) > params.size()) {
    return SqlFail("08P01", "there is no parameter $" + std::to_string(o.param));
  }
  return params[o.param - 1];
}

// Three-valued comparison of a cell with an operand: nullopt = unknown.
SqlResult<std::optional<bool>> Compare(const Cell& cell, const std::string& op,
                                       const std::optional<std::string>& value) {
  if (!value) return std::optional<bool>();
  int cmp = 0;
  if (cell.kind == Cell::Kind::kInt) {
    auto v = ToInt(*value);
    if (!v) return SqlFail("22P02", "invalid input syntax for type integer: \"" + *value + "\"");
    cmp = cell.number < *v ? -1 : (cell.number > *v ? 1 : 0);
  } else {
    const int c = cell.text.compare(*value);
    cmp = c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (op == "=") return std::optional<bool>(cmp == 0);
  if (op == "<>") return std::optional<bool>(cmp != 0);
  if (op == "<") return std::optional<bool>(cmp < 0);
  if (op == "<=") return std::optional<bool>(cmp <= 0);
  if (op == ">") return std::optional<bool>(cmp > 0);
  return std::optional<bool>(cmp >= 0);
}

SqlResult<std::optional<bool>> EvalLeaf(const Predicate& p, const CellRow& row,
                                        const Params& params) {
  const Cell& cell = row[p.column];
  std::optional<bool> result = false;
  for (const auto& operand : p.operands) {
    auto value = OperandValue(operand, params);
    if (!value) return std::unexpected(value.error());
    std::optional<bool> r;
    if (p.kind == Predicate::Kind::kLike) {
      if (*value)
        r = Like(cell.kind == Cell::Kind::kInt ? std::to_string(cell.number) : cell.text, **value);
    } else {
      auto c = Compare(cell, p.kind == Predicate::Kind::kIn ? "=" : p.op, *value);
      if (!c) return std::unexpected(c.error());
      r = *c;
    }
    if (r == true) {
      result = true;
      break;
    }
    if (!r) result = std::nullopt;  // IN: unknown unless some operand matches
  }
  if (p.negated && result) result = !*result;
  return result;
}

SqlResult<std::optional<bool>> Eval(const Predicate& p, const CellRow& row, const Params& params) {
  using K = Predicate::Kind;
  if (p.kind != K::kAnd && p.kind != K::kOr && p.kind != K::kNot) {
    return EvalLeaf(p, row, params);
  }
  if (p.kind == K::kNot) {
    auto v = Eval(p.children.front(), row, params);
    if (!v || !*v) return v;
    return std::optional<bool>(!**v);
  }
  const bool is_and = p.kind == K::kAnd;
  std::optional<bool> acc = is_and;
  for (const auto& child : p.children) {
    auto v = Eval(child, row, params);
    if (!v) return v;
    if (*v == !is_and) return std::optional<bool>(!is_and);  // decided
    if (!*v) acc = std::nullopt;
  }
  return acc;
}

// A LIMIT/OFFSET value: nullopt = none.
SqlResult<std::optional<int64_t>> Bound(const Predicate::Operand& o, const Params& params,
                                        const char* what, const char* sqlstate) {
  auto value = OperandValue(o, params);
  if (!value) return std::unexpected(value.error());
  if (!*value) return std::optional<int64_t>();
  auto n = ToInt(**value);
  if (!n) return SqlFail("22P02", "invalid input syntax for type bigint: \"" + **value + "\"");
  if (*n < 0) return SqlFail(sqlstate, std::string(what) + " must not be negative");
  return n;
}

// Sorts by the ORDER BY keys; ties keep ring order (the original index).
void SortRows(std::vector<CellRow>& rows, const std::vector<Statement::Order>& order) {
  std::vector<size_t> idx(rows.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    for (const auto& o : order) {
      const Cell& x = rows[a][o.column];
      const Cell& y = rows[b][o.column];
      int c = 0;
      if (x.kind == Cell::Kind::kText) {
        c = x.text.compare(y.text);
      } else {
        c = x.number < y.number ? -1 : (x.number > y.number ? 1 : 0);
      }
      if (c != 0) return o.desc ? c > 0 : c < 0;
    }
    return a < b;
  });
  std::vector<CellRow> sorted;
  sorted.reserve(rows.size());
  for (size_t i : idx) sorted.push_back(std::move(rows[i]));
  rows = std::move(sorted);
}

// The table's rows that pass the WHERE clause. Event rows are built in two
// steps: the columns the WHERE reads, then (for rows it keeps) the columns
// the result and ORDER BY need.
SqlResult<std::vector<CellRow>> FilteredRows(const Statement& s, const Params& params,
                                             const Ring& ring, int64_t now_ns) {
  std::vector<CellRow> rows;
  const bool events = s.table == Table::kEvents || s.table == Table::kEventsLive;
  const uint32_t where_mask = s.where ? ColumnsOf(*s.where) : 0;
  uint32_t out_mask = 0;
  for (size_t c : s.columns) out_mask |= 1u << c;
  for (const auto& o : s.order) out_mask |= 1u << o.column;
  auto keep = [&](const CellRow& row) -> SqlResult<bool> {
    if (!s.where) return true;
    auto v = Eval(*s.where, row, params);
    if (!v) return std::unexpected(v.error());
    return *v == true;
  };
  if (events) {
    for (const auto& r : ring.Snapshot()) {
      CellRow cells;
      FillEventCells(*r, where_mask, cells);
      auto k = keep(cells);
      if (!k) return std::unexpected(k.error());
      if (!*k) continue;
      FillEventCells(*r, out_mask & ~where_mask, cells);
      rows.push_back(std::move(cells));
    }
    return rows;
  }
  for (auto& row : TableRows(s.table, ring, now_ns)) {
    auto k = keep(row);
    if (!k) return std::unexpected(k.error());
    if (*k) rows.push_back(std::move(row));
  }
  return rows;
}

SqlResult<ResultSet> RunSelect(const Statement& s, const Params& params, const Ring& ring,
                               int64_t now_ns) {
  auto rows = FilteredRows(s, params, ring, now_ns);
  if (!rows) return std::unexpected(rows.error());
  if (!s.order.empty()) SortRows(*rows, s.order);
  auto limit = Bound(s.limit, params, "LIMIT", "2201W");
  if (!limit) return std::unexpected(limit.error());
  auto offset = Bound(s.offset, params, "OFFSET", "2201X");
  if (!offset) return std::unexpected(offset.error());
  ResultSet out{.fields = s.fields};
  if (s.count) {
    out.rows.push_back(
        {Cell{.kind = Cell::Kind::kInt, .number = static_cast<int64_t>(rows->size())}});
    if (offset->value_or(0) > 0 || *limit == 0) out.rows.clear();
  } else {
    const size_t from = std::min<size_t>(rows->size(), offset->value_or(0));
    const size_t to =
        limit->has_value() ? std::min<size_t>(rows->size(), from + **limit) : rows->size();
    for (size_t i = from; i < to; ++i) {
      CellRow projected;
      projected.reserve(s.columns.size());
      for (size_t c : s.columns) projected.push_back(std::move((*rows)[i][c]));
      out.rows.push_back(std::move(projected));
    }
  }
  out.tag = "SELECT " + std::to_string(out.rows.size());
  return out;
}

void PutBigEndian(std::string& out, uint64_t v, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xFF));
  }
}

}  // namespace

SqlResult<std::optional<int64_t>> LimitOf(const Statement& s, const Params& params) {
  return Bound(s.limit, params, "LIMIT", "2201W");
}

std::vector<Field> StatementFields(const Statement& s) {
  switch (s.kind) {
    case Statement::Kind::kSelect:
    case Statement::Kind::kValues:
    case Statement::Kind::kShow:
      return s.fields;
    default:
      return {};
  }
}

SqlResult<ResultSet> Evaluate(const Statement& s, const Params& params, const Ring& ring,
                              int64_t now_ns) {
  if (s.kind == Statement::Kind::kSelect) return RunSelect(s, params, ring, now_ns);
  ResultSet out{.fields = s.fields, .rows = {s.values}};
  for (Cell& c : out.rows.front()) {
    if (c.kind == Cell::Kind::kTime && c.number == -1) c.number = now_ns;
  }
  out.tag = s.kind == Statement::Kind::kShow ? "SHOW" : "SELECT 1";
  return out;
}

SqlResult<bool> Matches(const Statement& s, const Params& params, const Row& row) {
  if (!s.where) return true;
  auto keep = Eval(*s.where, EventCells(row), params);
  if (!keep) return std::unexpected(keep.error());
  return *keep == true;
}

CellRow Project(const Statement& s, const Row& row) {
  CellRow all = EventCells(row);
  CellRow out;
  out.reserve(s.columns.size());
  for (size_t c : s.columns) out.push_back(all[c]);
  return out;
}

SqlResult<std::string> BinaryParamToText(std::string_view bytes, int32_t type_oid) {
  const auto be = [&](size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
    return v;
  };
  switch (type_oid) {
    case 21:
      if (bytes.size() == 2) return std::to_string(static_cast<int16_t>(be(2)));
      break;
    case kOidInt4:
      if (bytes.size() == 4) return std::to_string(static_cast<int32_t>(be(4)));
      break;
    case kOidInt8:
      if (bytes.size() == 8) return std::to_string(static_cast<int64_t>(be(8)));
      break;
    case 0:
    case kOidText:
    case 1043:  // varchar
    case 705:   // unknown
      return std::string(bytes);
    default:
      return SqlFail(
          "0A000", "binary parameters of type " + std::to_string(type_oid) + " are not supported");
  }
  return SqlFail("22P03", "incorrect binary data format in bind parameter");
}

std::optional<std::string> EncodeCell(const Cell& cell, const Field& field) {
  std::string out;
  switch (cell.kind) {
    case Cell::Kind::kNull:
      return std::nullopt;
    case Cell::Kind::kText:
      return cell.text;
    case Cell::Kind::kBool:
      if (field.format == 1) return std::string(1, cell.number != 0 ? '\1' : '\0');
      return std::string(cell.number != 0 ? "t" : "f");
    case Cell::Kind::kInt:
      if (field.format == 0) return std::to_string(cell.number);
      PutBigEndian(out, static_cast<uint64_t>(cell.number), field.type_oid == kOidInt4 ? 4 : 8);
      return out;
    case Cell::Kind::kTime:
      if (field.format == 0) return FormatTimestamptz(cell.number);
      // Floor division: microseconds since 2000-01-01.
      PutBigEndian(out,
                   static_cast<uint64_t>(
                       (cell.number >= 0 ? cell.number / 1000 : (cell.number - 999) / 1000) -
                       kPgEpochMicros),
                   8);
      return out;
  }
  return std::nullopt;
}

std::string FormatTimestamptz(int64_t unix_nanos) {
  // RFC 3339 ("2026-01-02T03:04:05.123456789Z") reshaped into PostgreSQL's
  // output: a space, microseconds (trailing zeros trimmed), "+00".
  const int64_t micros_ns =
      unix_nanos >= 0 ? unix_nanos / 1000 * 1000 : (unix_nanos - 999) / 1000 * 1000;
  std::string s = FormatRfc3339Nano(micros_ns);
  if (!s.empty() && s.back() == 'Z') s.pop_back();
  if (const size_t t = s.find('T'); t != std::string::npos) s[t] = ' ';
  return s + "+00";
}

}  // namespace pgcdc::adapter::pgwire
