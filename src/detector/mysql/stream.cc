#include "detector/mysql/stream.h"

#include <algorithm>
#include <cctype>

#include "core/json.h"
#include "core/log.h"
#include "core/time.h"
#include "core/uuid.h"

namespace pgcdc::detector::mysql {

namespace {

constexpr std::string_view kSource = "mysql_binlog";
constexpr const char* kTxnChannel = "pgcdc:_txn";
constexpr const char* kSchemaChannel = "pgcdc:_schema";
constexpr uint16_t kArtificialFlag = 0x20;
constexpr uint64_t kPosition60 = (uint64_t{1} << 60) - 1;

// The statement's first words, upper-cased, comments and whitespace skipped.
class Words {
 public:
  explicit Words(std::string_view s) : s_(s) {}
  // The next word (letters, digits, _) upper-cased, or an identifier
  // (backquoted or bare) verbatim when `identifier`.
  std::string Next(bool identifier = false) {
    Skip();
    std::string w;
    if (identifier && i_ < s_.size() && s_[i_] == '`') {
      for (++i_; i_ < s_.size(); ++i_) {
        if (s_[i_] == '`') {
          if (i_ + 1 < s_.size() && s_[i_ + 1] == '`') {
            w.push_back('`');
            ++i_;
            continue;
          }
          ++i_;
          break;
        }
        w.push_back(s_[i_]);
      }
      return w;
    }
    while (i_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[i_])) != 0 || s_[i_] == '_' ||
            s_[i_] == '$' || static_cast<unsigned char>(s_[i_]) >= 0x80)) {
      w.push_back(identifier ? s_[i_]
                             : static_cast<char>(std::toupper(static_cast<unsigned char>(s_[i_]))));
      ++i_;
    }
    return w;
  }
  bool Consume(char c) {
    Skip();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

 private:
  void Skip() {
    while (i_ < s_.size()) {
      if (std::isspace(static_cast<unsigned char>(s_[i_])) != 0) {
        ++i_;
      } else if (s_.substr(i_, 2) == "/*") {
        const size_t end = s_.find("*/", i_ + 2);
        i_ = end == std::string_view::npos ? s_.size() : end + 2;
      } else if (s_.substr(i_, 2) == "--" || s_[i_] == '#') {
        const size_t end = s_.find('\n', i_);
        i_ = end == std::string_view::npos ? s_.size() : end + 1;
      } else {
        break;
      }
    }
  }
  std::string_view s_;
  size_t i_ = 0;
};

std::string TypeName(const Column& c) {
  auto u = [&](const std::string& n) { return c.is_unsigned ? n + " unsigned" : n; };
  switch (c.type) {
    case kTypeTiny:
      return u("tinyint");
    case kTypeShort:
      return u("smallint");
    case kTypeInt24:
      return u("mediumint");
    case kTypeLong:
      return u("int");
    case kTypeLongLong:
      return u("bigint");
    case kTypeFloat:
      return "float";
    case kTypeDouble:
      return "double";
    case kTypeNewDecimal:
      return "decimal(" + std::to_string(c.precision) + "," + std::to_string(c.scale) + ")";
    case kTypeYear:
      return "year";
    case kTypeDate:
    case kTypeNewDate:
      return "date";
    case kTypeTime:
    case kTypeTime2:
      return "time";
    case kTypeDatetime:
    case kTypeDatetime2:
      return "datetime";
    case kTypeTimestamp:
    case kTypeTimestamp2:
      return "timestamp";
    case kTypeVarchar:
    case kTypeVarString:
      return c.collation == kBinaryCollation ? "varbinary" : "varchar";
    case kTypeString:
      return c.collation == kBinaryCollation ? "binary" : "char";
    case kTypeBlob:
    case kTypeTinyBlob:
    case kTypeMediumBlob:
    case kTypeLongBlob:
      if (c.is_json_text) return "json";
      return c.collation == kBinaryCollation ? "blob" : "text";
    case kTypeJson:
      return "json";
    case kTypeEnum:
      return "enum";
    case kTypeSet:
      return "set";
    case kTypeBit:
      return "bit";
    case kTypeGeometry:
      return "geometry";
    default:
      return "type:" + std::to_string(c.type);
  }
}

const Column* FindColumn(const std::vector<Column>& cols, const std::string& name) {
  for (const auto& c : cols) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

void BeginChange(json::Writer& w, std::string_view type, const std::string& column) {
  w.BeginObject();
  w.StringField("type", type);
  w.StringField("column", column);
}

// The `changes` array between two column lists (by name); empty when equal.
std::string SchemaChanges(const std::vector<Column>& before, const std::vector<Column>& after) {
  std::string out;
  json::Writer w(out);
  w.BeginArray();
  bool any = false;
  for (const auto& c : after) {
    const Column* prev = FindColumn(before, c.name);
    if (prev == nullptr) {
      BeginChange(w, "column_added", c.name);
      w.StringField("type_name", TypeName(c));
      w.EndObject();
      any = true;
    } else if (TypeName(*prev) != TypeName(c)) {
      BeginChange(w, "column_type_changed", c.name);
      w.StringField("old_type", TypeName(*prev));
      w.StringField("new_type", TypeName(c));
      w.EndObject();
      any = true;
    }
  }
  for (const auto& c : before) {
    if (FindColumn(after, c.name) == nullptr) {
      BeginChange(w, "column_removed", c.name);
      w.EndObject();
      any = true;
    }
  }
  w.EndArray();
  if (!any) out.clear();
  return out;
}

// Fills what the table map did not carry from information_schema.
void Enrich(TableMap& map, const std::vector<ColumnInfo>& info) {
  for (size_t i = 0; i < map.columns.size(); ++i) {
    Column& c = map.columns[i];
    const ColumnInfo* ci = nullptr;
    if (map.has_names) {
      for (const auto& x : info) {
        if (x.name == c.name) ci = &x;
      }
    } else if (info.size() == map.columns.size()) {
      ci = &info[i];
      c.name = ci->name;
    }
    if (ci == nullptr) continue;
    if (!map.has_signedness) c.is_unsigned = ci->is_unsigned;
    if (!map.has_charsets && ci->collation != 0) c.collation = ci->collation;
    if (c.elements.empty()) c.elements = ci->elements;
    c.is_json_text = ci->is_json_text && IsCharacterType(c.type);
    c.key = c.key || ci->key;
  }
}

}  // namespace

uint64_t FileNumber(std::string_view file) {
  const size_t dot = file.rfind('.');
  if (dot == std::string_view::npos) return 0;
  uint64_t n = 0;
  for (char ch : file.substr(dot + 1)) {
    if (ch < '0' || ch > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(ch - '0');
    if (n > 0x0fffffff) return 0;
  }
  return n;
}

Result<TableFilter> TableFilter::Parse(const std::vector<std::string>& entries) {
  TableFilter f;
  for (const auto& e : entries) {
    const size_t dot = e.find('.');
    if (e.empty() || (dot != std::string::npos && (dot == 0 || dot + 1 == e.size() ||
                                                   e.find('.', dot + 1) != std::string::npos))) {
      return Fail(ErrorCode::kInvalidArgument,
                  "mysql.tables: \"" + e + "\" is not a table name (db.table or table)");
    }
    if (dot == std::string::npos) {
      f.bare_.push_back(e);
    } else {
      f.qualified_.emplace_back(e.substr(0, dot), e.substr(dot + 1));
    }
  }
  return f;
}

bool TableFilter::Matches(std::string_view db, std::string_view table) const {
  if (all()) return true;
  for (const auto& b : bare_) {
    if (b == table) return true;
  }
  for (const auto& [d, t] : qualified_) {
    if (d == db && t == table) return true;
  }
  return false;
}

struct BinlogStream::Table {
  std::string raw;  // the TABLE_MAP body this was decoded from
  bool captured = false;
  TableMap map;
  std::string channel;
  std::vector<std::string> keys;  // pre-encoded `"name":`
  std::string schema_json;        // `,"schema":"db","table":"t"}` tail
};

BinlogStream::BinlogStream(StreamOptions options, Position start, StreamSink& sink)
    : options_(std::move(options)), sink_(sink), file_(start.file), committed_(std::move(start)) {
  if (options_.tx_markers) options_.tx_metadata = true;
  file_number_ = FileNumber(file_);
  fd_.checksum = options_.checksum;
  // The GTID state, one entry per domain.
  std::string_view g = committed_.gtid;
  while (!g.empty()) {
    const size_t comma = g.find(',');
    std::string_view one = g.substr(0, comma);
    if (const size_t dash = one.find('-'); dash != std::string_view::npos) {
      gtid_state_[static_cast<uint32_t>(
          std::strtoul(std::string(one.substr(0, dash)).c_str(), nullptr, 10))] = std::string(one);
    }
    g = comma == std::string_view::npos ? std::string_view{} : g.substr(comma + 1);
  }
}

BinlogStream::~BinlogStream() = default;

std::string BinlogStream::GtidState() const {
  std::string out;
  for (const auto& [domain, gtid] : gtid_state_) {
    if (!out.empty()) out.push_back(',');
    out += gtid;
  }
  return out;
}

Status BinlogStream::Handle(Bytes event) {
  auto raw = SplitEvent(event, fd_);
  if (!raw) return Fail(raw.error());
  const RawEvent& ev = *raw;
  switch (ev.header.type) {
    case kFormatDescriptionEvent:
      return OnFormatDescription(ev.body);
    case kRotateEvent:
      return OnRotate(ev);
    case kQueryEvent:
      return OnQuery(ev);
    case kXidEvent:
      return EndGroup(ev);
    case kTableMapEvent:
      return OnTableMap(ev);
    case kMariaGtidEvent:
    case kMysqlGtidEvent:
    case kMysqlAnonymousGtidEvent:
      StartGroup(ev);
      return Ok();
    case kHeartbeatEvent:
      return Ok();
    case kPartialUpdateRowsEvent:
      return Fail(ErrorCode::kUnimplemented,
                  "mysql: partial JSON updates in the binlog are not supported; set "
                  "binlog_row_value_options='' on the server");
    default:
      break;
  }
  if (RowsKindOf(ev.header.type)) return OnRows(ev);
  if (ev.header.type >= kWriteRowsCompressedV1 && ev.header.type <= kDeleteRowsCompressedV2) {
    return Fail(ErrorCode::kUnimplemented,
                "mysql: compressed row events are not supported; set log_bin_compress=OFF on the "
                "server");
  }
  if (!group_.active) Advance(ev);
  return Ok();
}

Status BinlogStream::OnFormatDescription(Bytes body) {
  auto fd = DecodeFormatDescription(body);
  if (!fd) return Fail(fd.error());
  fd_ = std::move(*fd);
  return Ok();
}

void BinlogStream::Advance(const RawEvent& ev) {
  if (ev.header.log_pos == 0 || (ev.header.flags & kArtificialFlag) != 0) return;
  committed_.file = file_;
  committed_.pos = ev.header.log_pos;
  sink_.Boundary(committed_);
}

Status BinlogStream::OnRotate(const RawEvent& ev) {
  auto rot = DecodeRotate(ev.body, fd_);
  if (!rot) return Fail(rot.error());
  file_ = rot->file;
  file_number_ = FileNumber(file_);
  if (!group_.active) {
    committed_.file = file_;
    committed_.pos = rot->position;
    sink_.Boundary(committed_);
  }
  return Ok();
}

void BinlogStream::StartGroup(const RawEvent& ev) {
  group_ = Group{};
  group_.active = true;
  const uint64_t offset = ev.header.log_pos >= ev.header.event_size
                              ? ev.header.log_pos - ev.header.event_size
                              : ev.header.log_pos;
  group_.start = ((file_number_ << 32) | offset) & kPosition60;
  group_.commit_time_ns = static_cast<int64_t>(ev.header.timestamp) * 1000000000;
  if (ev.header.type == kMariaGtidEvent) {
    if (auto g = DecodeMariaGtid(ev.body)) {
      group_.domain = g->domain;
      group_.sequence = g->sequence;
      group_.standalone = g->standalone();
      group_.in_tx = !g->standalone();
      group_.gtid = std::to_string(g->domain) + "-" + std::to_string(ev.header.server_id) + "-" +
                    std::to_string(g->sequence);
    }
  } else if (ev.header.type == kMysqlGtidEvent) {
    if (auto g = DecodeMysqlGtid(ev.body)) group_.sequence = g->gno;
  }
}

Status BinlogStream::EndGroup(const RawEvent& ev) {
  Status st = Ok();
  if (group_.begin_emitted) st = EmitMarker("COMMIT");
  if (!group_.gtid.empty()) gtid_state_[group_.domain] = group_.gtid;
  group_ = Group{};
  if (ev.header.log_pos != 0) {
    committed_.file = file_;
    committed_.pos = ev.header.log_pos;
  }
  committed_.gtid = GtidState();
  sink_.Boundary(committed_);
  return st;
}

Status BinlogStream::OnQuery(const RawEvent& ev) {
  auto q = DecodeQuery(ev.body, fd_);
  if (!q) return Fail(q.error());
  Words words(q->statement);
  const std::string first = words.Next();
  if (first == "BEGIN" || (first == "START" && words.Next() == "TRANSACTION")) {
    if (!group_.active) StartGroup(ev);
    group_.in_tx = true;
    return Ok();
  }
  if (first == "COMMIT" || first == "ROLLBACK") return EndGroup(ev);
  Status st = OnDdl(q->database, q->statement);
  if (!st) return st;
  if (!group_.active) {
    Advance(ev);
  } else if (group_.standalone || !group_.in_tx) {
    return EndGroup(ev);
  }
  return Ok();
}

Status BinlogStream::OnDdl(std::string_view db, std::string_view statement) {
  Words words(statement);
  const std::string verb = words.Next();
  if (verb == "ALTER" || verb == "CREATE" || verb == "DROP" || verb == "RENAME" ||
      verb == "TRUNCATE") {
    described_.clear();  // information_schema must be asked again
  }
  if (verb != "TRUNCATE") return Ok();
  std::string name = words.Next(true);
  if (name == "table" || name == "TABLE") name = words.Next(true);
  std::string schema(db);
  if (words.Consume('.')) {
    schema = std::move(name);
    name = words.Next(true);
  }
  if (name.empty() || !options_.tables.Matches(schema, name)) return Ok();
  Table t;
  t.map.database = schema;
  t.map.table = name;
  t.channel = "pgcdc:" + schema + "." + name;
  std::string tail = ",\"schema\":";
  json::AppendString(tail, schema);
  tail.append(",\"table\":");
  json::AppendString(tail, name);
  tail.push_back('}');
  t.schema_json = std::move(tail);
  return EmitRow(t, "TRUNCATE", nullptr, nullptr, 0);
}

std::shared_ptr<BinlogStream::Table> BinlogStream::Describe(TableMap map) {
  auto t = std::make_shared<Table>();
  t->captured = true;
  const std::string key = map.database + "." + map.table;
  auto it = described_.find(key);
  if (it == described_.end()) {
    it = described_.emplace(key, sink_.DescribeTable(map.database, map.table)).first;
  }
  if (it->second) Enrich(map, *it->second);
  bool positional = false;
  for (size_t i = 0; i < map.columns.size(); ++i) {
    if (map.columns[i].name.empty()) {
      map.columns[i].name = "col_" + std::to_string(i);
      positional = true;
    }
    std::string k;
    json::AppendString(k, map.columns[i].name);
    k.push_back(':');
    t->keys.push_back(std::move(k));
  }
  if (positional) {
    ++stats_.positional_names;
    log::Warn("mysql: column names unknown, using col_N (set binlog_row_metadata=FULL)",
              {{"table", key}});
  }
  t->channel = "pgcdc:" + key;
  std::string tail = ",\"schema\":";
  json::AppendString(tail, map.database);
  tail.append(",\"table\":");
  json::AppendString(tail, map.table);
  tail.push_back('}');
  t->schema_json = std::move(tail);
  t->map = std::move(map);
  return t;
}

Status BinlogStream::OnTableMap(const RawEvent& ev) {
  auto id = RowsTableId(kTableMapEvent, ev.body, fd_);
  if (!id) return Fail(id.error());
  const std::string_view raw(reinterpret_cast<const char*>(ev.body.data()), ev.body.size());
  auto& slot = tables_[*id];
  if (slot && slot->raw == raw) return Ok();  // same table map as before
  auto map = DecodeTableMap(ev.body, fd_);
  if (!map) return Fail(map.error());
  std::shared_ptr<Table> t;
  if (options_.tables.Matches(map->database, map->table)) {
    t = Describe(std::move(*map));
  } else {
    t = std::make_shared<Table>();
    t->map.database = map->database;
    t->map.table = map->table;
  }
  t->raw = std::string(raw);
  slot = t;
  if (!t->captured) return Ok();
  // A captured table whose columns changed since its last rows: SCHEMA_CHANGE.
  const std::string key = t->map.database + "." + t->map.table;
  auto last = last_columns_.find(key);
  Status st = Ok();
  if (last != last_columns_.end() && options_.schema_events) {
    if (std::string changes = SchemaChanges(last->second, t->map.columns); !changes.empty()) {
      st = EmitSchemaChange(*t, changes);
    }
  }
  last_columns_[key] = t->map.columns;
  return st;
}

Status BinlogStream::OnRows(const RawEvent& ev) {
  auto id = RowsTableId(ev.header.type, ev.body, fd_);
  if (!id) return Fail(id.error());
  auto it = tables_.find(*id);
  if (it == tables_.end() || !it->second) {
    ++stats_.unknown_tables;
    log::Warn("mysql: rows event without a table map skipped", {{"table_id", *id}});
    return Ok();
  }
  const Table& t = *it->second;
  if (!t.captured) return Ok();
  auto rows = DecodeRows(ev.header.type, ev.body, fd_, t.map);
  if (!rows) return Fail(rows.error());
  const uint64_t lsn = (file_number_ << 32) | ev.header.log_pos;
  return EmitRowEvents(t, *rows, lsn);
}

Status BinlogStream::EmitRowEvents(const Table& t, const RowsEvent& rows, uint64_t lsn) {
  switch (rows.kind) {
    case RowsKind::kWrite:
      for (const auto& r : rows.rows) {
        if (auto st = EmitRow(t, "INSERT", &r, nullptr, lsn); !st) return st;
      }
      return Ok();
    case RowsKind::kDelete:
      for (const auto& r : rows.rows) {
        if (auto st = EmitRow(t, "DELETE", &r, nullptr, lsn); !st) return st;
      }
      return Ok();
    case RowsKind::kUpdate:
      for (size_t i = 0; i + 1 < rows.rows.size(); i += 2) {
        if (auto st = EmitRow(t, "UPDATE", &rows.rows[i + 1], &rows.rows[i], lsn); !st) return st;
      }
      return Ok();
  }
  return Ok();
}

void BinlogStream::AppendImage(const Table& t, const RowImage& img, std::string& out) {
  out.push_back('{');
  bool first = true;
  ValueStats vs;
  for (size_t i = 0; i < img.present.size() && i < t.keys.size(); ++i) {
    if (!img.present[i]) continue;
    if (!first) out.push_back(',');
    first = false;
    out.append(t.keys[i]);
    const auto& v = img.values[i];
    if (!v) {
      out.append("null");
      continue;
    }
    const size_t before = out.size();
    if (auto st = AppendValueJson(t.map.columns[i], *v, options_.charsets, out, &vs); !st) {
      out.resize(before);
      out.append("null");
      if (stats_.value_errors++ == 0) {
        log::Warn("mysql: a value could not be decoded and was emitted as null",
                  {{"table", t.map.database + "." + t.map.table},
                   {"column", t.map.columns[i].name},
                   {"error", st.error().message()}});
      }
    }
  }
  stats_.replaced_text += vs.replaced_text;
  out.push_back('}');
}

Status BinlogStream::EmitRow(const Table& t, std::string_view op, const RowImage* row,
                             const RowImage* old, uint64_t lsn) {
  std::string payload = "{\"old\":";
  if (old != nullptr) {
    AppendImage(t, *old, payload);
  } else {
    payload.append("null");
  }
  payload.append(",\"op\":\"").append(op).append("\",\"row\":");
  if (row != nullptr) {
    AppendImage(t, *row, payload);
  } else {
    payload.append("null");
  }
  payload.append(t.schema_json);
  Event e = MakeEvent(t.channel, std::string(op), std::move(payload), kSource);
  e.lsn = lsn;
  // Event::key: the primary key of the row image.
  if (const RowImage* img = row != nullptr ? row : old; img != nullptr) {
    std::string key;
    size_t keys = 0;
    for (size_t i = 0; i < t.map.columns.size() && i < img->values.size(); ++i) {
      if (!t.map.columns[i].key || !img->values[i]) continue;
      std::string v;
      if (!AppendValueJson(t.map.columns[i], *img->values[i], options_.charsets, v)) continue;
      key.append(keys++ == 0 ? "{" : ",").append(t.keys[i]).append(v);
      if (keys == 1) e.key = v.size() >= 2 && v.front() == '"' ? v.substr(1, v.size() - 2) : v;
    }
    if (keys > 1) e.key = key + "}";
  }
  ++stats_.rows;
  return Publish(std::move(e), true);
}

Status BinlogStream::EmitSchemaChange(const Table& t, const std::string& changes) {
  std::string payload;
  json::Writer w(payload);
  w.BeginObject();
  w.Key("changes");
  w.Raw(changes);
  w.StringField("op", "SCHEMA_CHANGE");
  w.StringField("schema", t.map.database);
  w.StringField("table", t.map.table);
  w.EndObject();
  return Publish(MakeEvent(kSchemaChannel, "SCHEMA_CHANGE", std::move(payload), kSource), false);
}

Status BinlogStream::EmitMarker(std::string_view op) {
  std::string payload = "{\"commit_time\":\"";
  AppendRfc3339Nano(group_.commit_time_ns, payload);
  payload.push_back('"');
  if (op == "COMMIT") payload.append(",\"event_count\":").append(std::to_string(group_.count));
  if (!group_.gtid.empty()) {
    payload.append(",\"gtid\":");
    json::AppendString(payload, group_.gtid);
  }
  payload.append(",\"xid\":").append(std::to_string(group_.sequence)).push_back('}');
  Event e = MakeEvent(kTxnChannel, std::string(op), std::move(payload), kSource);
  e.id = MakePositionUuid(group_.start, op == "COMMIT" ? UINT32_MAX : 0, options_.id_origin);
  if (!sink_.Emit(std::move(e))) return Fail(ErrorCode::kCancelled, "pipeline stopping");
  return Ok();
}

Status BinlogStream::Publish(Event e, bool row_event) {
  if (group_.active) {
    if (row_event && options_.tx_markers && !group_.begin_emitted) {
      group_.begin_emitted = true;
      if (auto st = EmitMarker("BEGIN"); !st) return st;
    }
    e.id = MakePositionUuid(group_.start, ++group_.ordinal, options_.id_origin);
    if (row_event) {
      ++group_.count;
      if (options_.tx_metadata) {
        e.transaction = TransactionInfo{static_cast<uint32_t>(group_.sequence),
                                        group_.commit_time_ns, group_.count};
      }
    }
  }
  if (!sink_.Emit(std::move(e))) return Fail(ErrorCode::kCancelled, "pipeline stopping");
  return Ok();
}

}  // namespace pgcdc::detector::mysql
