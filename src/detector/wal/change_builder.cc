#include "detector/wal/change_builder.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/json.h"
#include "core/log.h"
#include "core/time.h"
#include "core/uuid.h"

namespace pgcdc::detector::wal {

namespace {

constexpr std::string_view kSource = "wal_replication";
constexpr const char* kTxnChannel = "pgcdc:_txn";
constexpr const char* kSchemaChannel = "pgcdc:_schema";
constexpr const char* kMessageChannel = "pgcdc:_message";

// The xid a message carries, if any (streamed changes carry their
// (sub)transaction's xid).
std::optional<uint32_t> XidOf(const pgoutput::Message& m) {
  return std::visit(
      [](const auto& v) -> std::optional<uint32_t> {
        if constexpr (requires { v.xid; }) {
          return v.xid;
        } else {
          return std::nullopt;
        }
      },
      m);
}

bool IsRowChange(const pgoutput::Message& m) {
  return std::holds_alternative<pgoutput::Insert>(m) ||
         std::holds_alternative<pgoutput::Update>(m) || std::holds_alternative<pgoutput::Delete>(m);
}

std::string ColumnsJson(const std::vector<pgoutput::RelationColumn>& cols) {
  std::string out;
  json::Writer w(out);
  w.BeginArray();
  for (const auto& c : cols) {
    w.BeginObject();
    w.Key("name");
    w.String(c.name);
    w.Key("type_name");
    const std::string_view tn = pgtypes::TypeName(c.type_oid);
    w.String(tn.empty() ? "oid:" + std::to_string(c.type_oid) : std::string(tn));
    w.Key("type_oid");
    w.Uint(c.type_oid);
    w.EndObject();
  }
  w.EndArray();
  return out;
}

std::string TypeNameOrOid(uint32_t oid) {
  std::string_view n = pgtypes::TypeName(oid);
  return n.empty() ? "oid:" + std::to_string(oid) : std::string(n);
}

const pgoutput::RelationColumn* FindColumn(const std::vector<pgoutput::RelationColumn>& cols,
                                           const std::string& name) {
  for (const auto& c : cols) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

// Opens one entry of a SCHEMA_CHANGE `changes` array: {"type":…,"column":…
// (the caller adds its fields and closes it).
void BeginColumnChange(json::Writer& w, std::string_view type, const std::string& column) {
  w.BeginObject();
  w.Key("type");
  w.String(type);
  w.Key("column");
  w.String(column);
}

// The `changes` array of a SCHEMA_CHANGE event: columns added or retyped (in
// the new table order), then columns removed. Empty when both definitions
// have the same columns (by name) with the same types.
std::string SchemaChanges(const std::vector<pgoutput::RelationColumn>& old_cols,
                          const std::vector<pgoutput::RelationColumn>& new_cols) {
  std::string changes;
  json::Writer w(changes);
  w.BeginArray();
  bool any = false;
  for (const auto& c : new_cols) {
    const auto* prev = FindColumn(old_cols, c.name);
    if (prev == nullptr) {
      BeginColumnChange(w, "column_added", c.name);
      w.Key("type_name");
      w.String(TypeNameOrOid(c.type_oid));
      w.EndObject();
      any = true;
    } else if (prev->type_oid != c.type_oid) {
      BeginColumnChange(w, "column_type_changed", c.name);
      w.Key("old_type");
      w.String(TypeNameOrOid(prev->type_oid));
      w.Key("new_type");
      w.String(TypeNameOrOid(c.type_oid));
      w.EndObject();
      any = true;
    }
  }
  for (const auto& c : old_cols) {
    if (FindColumn(new_cols, c.name) == nullptr) {
      BeginColumnChange(w, "column_removed", c.name);
      w.EndObject();
      any = true;
    }
  }
  w.EndArray();
  if (!any) changes.clear();
  return changes;
}

}  // namespace

std::string ChannelFor(std::string_view namespace_name, std::string_view table) {
  std::string ch = "pgcdc:";
  if (!namespace_name.empty() && namespace_name != "public") {
    ch.append(namespace_name).push_back('.');
  }
  ch.append(table);
  return ch;
}

// ---- ChangeBuilder -------------------------------------------------------------

ChangeBuilder::ChangeBuilder(BuilderOptions options, pgtypes::TypeCatalog& catalog,
                             ChangeSink& sink)
    : options_(std::move(options)),
      catalog_(catalog),
      sink_(sink),
      registration_backoff_(options_.schema_retry) {
  if (options_.clock == nullptr) options_.clock = &RealClock();
  if (options_.tx_markers) options_.tx_metadata = true;
  spool_budget_.limit = options_.spool_memory_bytes;
  if (options_.spool_dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    options_.spool_dir = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  }
  ctx_.protocol_version = 2;
  if (options_.toast_cache) {
    toast_ = std::make_unique<ToastCache>(options_.toast_cache_max_entries);
  }
}

std::string ChangeBuilder::PrimaryKey(const RelationInfo& rel, const pgoutput::TupleData& t) {
  std::string pk;
  for (size_t i = 0; i < rel.columns.size() && i < t.columns.size(); ++i) {
    if (!rel.columns[i].is_key()) continue;
    const auto& v = t.columns[i];
    if (v.kind != pgoutput::ColumnKind::kText) return {};
    if (!pk.empty()) pk.push_back(':');
    pk.append(std::to_string(v.data.size())).push_back(':');
    pk.append(v.data);
  }
  return pk;
}

ToastCache::Row ChangeBuilder::ToRow(const pgoutput::TupleData& t) {
  ToastCache::Row row;
  row.reserve(t.columns.size());
  for (const auto& v : t.columns) {
    if (v.kind == pgoutput::ColumnKind::kText || v.kind == pgoutput::ColumnKind::kBinary) {
      row.emplace_back(std::string(v.data));
    } else {
      row.emplace_back(std::nullopt);
    }
  }
  return row;
}

ChangeBuilder::~ChangeBuilder() = default;

uint64_t ChangeBuilder::spooled_bytes() const {
  uint64_t total = 0;
  for (const auto& [xid, s] : spools_) total += s->memory_bytes() + s->file_bytes();
  return total;
}

Status ChangeBuilder::Handle(const pgoutput::XLogData& data) {
  auto decoded = pgoutput::DecodeMessage(data.payload, ctx_);
  if (!decoded) return Fail(decoded.error());
  const pgoutput::Message& m = *decoded;
  // Inside a stream block every change belongs to the streamed transaction:
  // buffer it until Stream Commit / Stream Abort.
  if (ctx_.in_stream && !std::holds_alternative<pgoutput::StreamStart>(m) &&
      !std::holds_alternative<pgoutput::StreamStop>(m)) {
    return SpoolMessage(ctx_.stream_xid, m, data.payload, data.wal_start);
  }
  return Apply(m, data.wal_start, relations_, nullptr);
}

Status ChangeBuilder::SpoolMessage(uint32_t top_xid, const pgoutput::Message& m,
                                   std::span<const uint8_t> payload, uint64_t lsn) {
  auto& spool = spools_[top_xid];
  if (!spool) spool = std::make_unique<TxSpool>(spool_budget_, options_.spool_dir);
  const uint32_t xid = XidOf(m).value_or(top_xid);
  const uint64_t file_before = spool->file_bytes();
  if (auto st = spool->Add(xid, lsn, payload); !st) return st;
  stats_.spilled_bytes += spool->file_bytes() - file_before;
  return Ok();
}

Status ChangeBuilder::Apply(const pgoutput::Message& m, uint64_t lsn, RelationMap& relations,
                            const std::set<uint32_t>* aborted) {
  using namespace pgoutput;
  // During replay, skip changes of aborted subtransactions.
  if (aborted != nullptr) {
    if (auto xid = XidOf(m); xid && aborted->count(*xid)) return Ok();
  }
  if (const auto* b = std::get_if<Begin>(&m)) {
    tx_ = TxState{true, b->xid, b->commit_time_ns, 0, b->final_lsn};
    if (options_.tx_markers) return EmitMarker("BEGIN", b->xid, b->commit_time_ns, 0);
    return Ok();
  }
  if (const auto* c = std::get_if<Commit>(&m)) return OnCommit(*c);
  if (const auto* r = std::get_if<Relation>(&m)) {
    return OnRelation(*r, relations, &relations == &relations_);
  }
  if (!unregistered_.empty() && IsRowChange(m)) RetryRegistrations();
  if (const auto* i = std::get_if<Insert>(&m)) return OnInsert(*i, lsn, relations);
  if (const auto* u = std::get_if<Update>(&m)) return OnUpdate(*u, lsn, relations);
  if (const auto* d = std::get_if<Delete>(&m)) return OnDelete(*d, lsn, relations);
  if (const auto* t = std::get_if<Truncate>(&m)) return OnTruncate(*t, lsn, relations);
  if (const auto* lm = std::get_if<LogicalMessage>(&m)) {
    return OnLogicalMessage(*lm, lsn, /*replaying=*/aborted != nullptr);
  }
  if (const auto* s = std::get_if<StreamCommit>(&m)) return Replay(s->xid, *s);
  if (const auto* a = std::get_if<StreamAbort>(&m)) {
    OnStreamAbort(*a);
    return Ok();
  }
  if (std::holds_alternative<StreamStart>(m) || std::holds_alternative<StreamStop>(m) ||
      std::holds_alternative<Type>(m) || std::holds_alternative<Origin>(m)) {
    return Ok();
  }
  return Fail(ErrorCode::kUnimplemented, "wal: unexpected message " + std::string(MessageName(m)) +
                                             " (two-phase transactions are not enabled)");
}

const ChangeBuilder::RelationInfo* ChangeBuilder::FindRelation(const RelationMap& relations,
                                                               uint32_t relid) const {
  if (auto it = relations.find(relid); it != relations.end()) return &it->second;
  if (&relations != &relations_) {
    if (auto it = relations_.find(relid); it != relations_.end()) return &it->second;
  }
  return nullptr;
}

Status ChangeBuilder::OnCommit(const pgoutput::Commit& c) {
  Status st = Ok();
  if (options_.tx_markers && tx_.active) {
    st = EmitMarker("COMMIT", tx_.xid, tx_.commit_time_ns, tx_.count);
  }
  tx_ = TxState{};
  sink_.Boundary(c.end_lsn);
  return st;
}

Status ChangeBuilder::OnInsert(const pgoutput::Insert& i, uint64_t lsn,
                               const RelationMap& relations) {
  const RelationInfo* rel = FindRelation(relations, i.relation_id);
  if (toast_ && rel != nullptr) {
    if (auto pk = PrimaryKey(*rel, i.new_tuple); !pk.empty()) {
      toast_->Put(i.relation_id, pk, ToRow(i.new_tuple));
    }
  }
  return EmitRow(rel, i.relation_id, "INSERT", &i.new_tuple, nullptr, lsn);
}

Status ChangeBuilder::OnUpdate(const pgoutput::Update& u, uint64_t lsn,
                               const RelationMap& relations) {
  const RelationInfo* rel = FindRelation(relations, u.relation_id);
  const pgoutput::TupleData* old = u.old_kind ? &u.old_tuple : nullptr;
  if (!toast_ || rel == nullptr)
    return EmitRow(rel, u.relation_id, "UPDATE", &u.new_tuple, old, lsn);
  // Back-fill unchanged TOAST columns from the cached row image.
  const std::string pk = PrimaryKey(*rel, u.old_kind ? u.old_tuple : u.new_tuple);
  const std::string new_pk = PrimaryKey(*rel, u.new_tuple);
  pgoutput::TupleData merged = u.new_tuple;
  BackfillToast(u.relation_id, pk, merged);
  Status st = EmitRow(rel, u.relation_id, "UPDATE", &merged, old, lsn);
  RememberUpdatedRow(u.relation_id, pk, new_pk, merged);
  return st;
}

void ChangeBuilder::BackfillToast(uint32_t relid, const std::string& pk, pgoutput::TupleData& row) {
  bool has_unchanged = false;
  for (const auto& v : row.columns) {
    has_unchanged |= v.kind == pgoutput::ColumnKind::kUnchangedToast;
  }
  const ToastCache::Row* cached = pk.empty() ? nullptr : toast_->Get(relid, pk);
  if (!has_unchanged) return;
  if (cached == nullptr) {
    ++stats_.toast_misses;
    return;
  }
  ++stats_.toast_hits;
  for (size_t c = 0; c < row.columns.size() && c < cached->size(); ++c) {
    auto& v = row.columns[c];
    if (v.kind != pgoutput::ColumnKind::kUnchangedToast) continue;
    if ((*cached)[c]) {
      v.kind = pgoutput::ColumnKind::kText;
      v.data = *(*cached)[c];
    } else {
      v.kind = pgoutput::ColumnKind::kNull;
    }
  }
}

void ChangeBuilder::RememberUpdatedRow(uint32_t relid, const std::string& pk,
                                       const std::string& new_pk, const pgoutput::TupleData& row) {
  ToastCache::Row cached = ToRow(row);
  bool complete = true;
  for (const auto& v : row.columns) {
    complete &= v.kind != pgoutput::ColumnKind::kUnchangedToast;
  }
  if (!pk.empty() && new_pk != pk) toast_->Erase(relid, pk);
  if (complete && !new_pk.empty()) {
    toast_->Put(relid, new_pk, std::move(cached));
  } else if (!new_pk.empty()) {
    toast_->Erase(relid, new_pk);
  }
}

Status ChangeBuilder::OnDelete(const pgoutput::Delete& d, uint64_t lsn,
                               const RelationMap& relations) {
  const RelationInfo* rel = FindRelation(relations, d.relation_id);
  if (toast_ && rel != nullptr) {
    if (auto pk = PrimaryKey(*rel, d.old_tuple); !pk.empty()) toast_->Erase(d.relation_id, pk);
  }
  return EmitRow(rel, d.relation_id, "DELETE", &d.old_tuple, nullptr, lsn);
}

Status ChangeBuilder::OnTruncate(const pgoutput::Truncate& t, uint64_t lsn,
                                 const RelationMap& relations) {
  for (uint32_t relid : t.relation_ids) {
    if (toast_) toast_->EvictRelation(relid);
    if (auto st = EmitRow(FindRelation(relations, relid), relid, "TRUNCATE", nullptr, nullptr, lsn);
        !st) {
      return st;
    }
  }
  return Ok();
}

Status ChangeBuilder::OnLogicalMessage(const pgoutput::LogicalMessage& lm, uint64_t lsn,
                                       bool replaying) {
  Status st = Ok();
  if (lm.prefix != options_.heartbeat_prefix) st = EmitMessage(lm, lsn);
  // A non-transactional message outside a transaction is a safe point:
  // every commit before it has been sent.
  if (st && !lm.transactional && !tx_.active && !replaying) sink_.Boundary(lm.lsn);
  return st;
}

void ChangeBuilder::OnStreamAbort(const pgoutput::StreamAbort& a) {
  auto it = spools_.find(a.xid);
  if (a.subxid == a.xid || a.subxid == 0) {
    if (it != spools_.end()) spools_.erase(it);  // frees its memory and file
    ++stats_.aborted_txns;
  } else if (it != spools_.end()) {
    it->second->MarkAborted(a.subxid);
  }
}

Status ChangeBuilder::OnRelation(const pgoutput::Relation& r, RelationMap& relations, bool global) {
  std::vector<uint32_t> oids;
  for (const auto& c : r.columns) oids.push_back(c.type_oid);
  if (auto missing = catalog_.Missing(oids); !missing.empty()) sink_.ResolveTypes(missing);

  auto ref = sink_.OnRelationDefined(r);
  if (global) {
    if (ref) {
      unregistered_.erase(r.relation_id);
    } else {
      // Retried at the table's next change once the delay has passed.
      if (unregistered_.empty()) {
        next_registration_ = options_.clock->Now() + registration_backoff_.Next();
      }
      unregistered_.insert_or_assign(r.relation_id, r);
    }
  }
  RelationInfo info = MakeRelationInfo(r, ref ? std::move(*ref) : std::optional<schema::Ref>());
  Status st = Ok();
  auto it = relations.find(r.relation_id);
  if (global && options_.schema_events && it != relations.end()) {
    // Diff against the previous definition, in table order.
    if (std::string changes = SchemaChanges(it->second.columns, r.columns); !changes.empty()) {
      st = EmitSchemaChange(r, changes);
    }
  }
  if (global && toast_) toast_->EvictRelation(r.relation_id);
  relations[r.relation_id] = std::move(info);
  return st;
}

void ChangeBuilder::RetryRegistrations() {
  const Clock::TimePoint now = options_.clock->Now();
  if (now < next_registration_) return;
  for (auto it = unregistered_.begin(); it != unregistered_.end();) {
    auto ref = sink_.OnRelationDefined(it->second);
    if (!ref) break;  // still failing: all of them wait for the next delay
    auto rel = relations_.find(it->first);
    if (*ref && rel != relations_.end()) {
      // The definition in the cache is the one registered (a later Relation
      // message replaces the pending entry): its later rows carry the ref.
      rel->second.schema = schema::WithRef(RowSchema(*rel->second.schema), std::move(**ref));
    }
    it = unregistered_.erase(it);
  }
  if (unregistered_.empty()) {
    registration_backoff_.Reset();
  } else {
    next_registration_ = now + registration_backoff_.Next();
  }
}

ChangeBuilder::RelationInfo ChangeBuilder::MakeRelationInfo(const pgoutput::Relation& r,
                                                            std::optional<schema::Ref> ref) const {
  RelationInfo info;
  info.namespace_name = r.namespace_name;
  info.name = r.name;
  info.channel = ChannelFor(r.namespace_name, r.name);
  info.replica_identity = r.replica_identity;
  info.columns = r.columns;
  for (const auto& c : r.columns) {
    std::string k;
    json::AppendString(k, c.name);
    k.push_back(':');
    info.keys.push_back(std::move(k));
  }
  if (options_.include_schema) info.columns_json = ColumnsJson(r.columns);
  RowSchema row;
  row.namespace_name = r.namespace_name;
  row.table = r.name;
  row.columns.reserve(r.columns.size());
  for (const auto& c : r.columns) row.columns.push_back({c.name, c.type_oid, c.is_key()});
  // Made once per definition; its row events share it (and the store ref).
  info.schema = ref ? schema::WithRef(std::move(row), std::move(*ref))
                    : std::make_shared<const RowSchema>(std::move(row));
  return info;
}

Status ChangeBuilder::EmitSchemaChange(const pgoutput::Relation& r, std::string_view changes) {
  std::string payload;
  json::Writer p(payload);
  p.BeginObject();
  p.Key("changes");
  p.Raw(changes);
  p.Key("op");
  p.String("SCHEMA_CHANGE");
  p.Key("schema");
  p.String(r.namespace_name);
  p.Key("table");
  p.String(r.name);
  p.EndObject();
  return EmitEvent(kSchemaChannel, "SCHEMA_CHANGE", std::move(payload), 0, false);
}

void ChangeBuilder::AppendTuple(const RelationInfo& rel, const pgoutput::TupleData& t,
                                std::string& out, std::vector<std::string>* unchanged_toast) {
  out.push_back('{');
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i > 0) out.push_back(',');
    if (i < rel.keys.size()) {
      out.append(rel.keys[i]);
    } else {
      // More values than described columns: keep the data under a positional name.
      json::AppendString(out, "col_" + std::to_string(i));
      out.push_back(':');
    }
    const auto& v = t.columns[i];
    switch (v.kind) {
      case pgoutput::ColumnKind::kNull:
        out.append("null");
        break;
      case pgoutput::ColumnKind::kUnchangedToast:
        out.append("null");
        if (unchanged_toast != nullptr && i < rel.columns.size()) {
          unchanged_toast->push_back(rel.columns[i].name);
        }
        break;
      case pgoutput::ColumnKind::kText: {
        const uint32_t oid = i < rel.columns.size() ? rel.columns[i].type_oid : 25;
        if (!pgtypes::AppendValueJson(catalog_, oid, v.data, out)) ++stats_.value_errors;
        break;
      }
      case pgoutput::ColumnKind::kBinary:
        // Not requested (text mode); keep the bytes rather than lose them.
        out.append("{\"base64\":\"");
        json::AppendBase64(out, v.data);
        out.append("\"}");
        break;
    }
  }
  out.push_back('}');
}

Status ChangeBuilder::EmitRow(const RelationInfo* rel, uint32_t relid, std::string_view op,
                              const pgoutput::TupleData* row, const pgoutput::TupleData* old,
                              uint64_t lsn) {
  if (rel == nullptr) {
    ++stats_.unknown_relations;
    log::Warn("wal: change for an undescribed relation skipped",
              {{"relation_id", relid}, {"op", op}});
    return Ok();
  }
  if (options_.heartbeat_table &&
      options_.heartbeat_table->Matches(rel->namespace_name, rel->name)) {
    ++stats_.heartbeat_rows;  // ours: it moved the position, nothing to deliver
    return Ok();
  }
  std::string row_json, old_json;
  std::vector<std::string> unchanged;
  if (row != nullptr) AppendTuple(*rel, *row, row_json, op == "UPDATE" ? &unchanged : nullptr);
  if (old != nullptr) AppendTuple(*rel, *old, old_json, nullptr);

  std::string payload;
  payload.reserve(64 + row_json.size() + old_json.size() + rel->columns_json.size());
  payload.push_back('{');
  if (!unchanged.empty()) {
    payload.append("\"_unchanged_toast_columns\":[");
    for (size_t i = 0; i < unchanged.size(); ++i) {
      if (i > 0) payload.push_back(',');
      json::AppendString(payload, unchanged[i]);
    }
    payload.append("],");
  }
  if (options_.include_schema) {
    payload.append("\"columns\":").append(rel->columns_json).push_back(',');
  }
  payload.append("\"old\":").append(old != nullptr ? old_json : "null");
  payload.append(",\"op\":\"").append(op).append("\",\"row\":");
  payload.append(row != nullptr ? row_json : "null");
  if (options_.include_schema) {
    payload.append(",\"schema\":");
    json::AppendString(payload, rel->namespace_name);
  }
  payload.append(",\"table\":");
  json::AppendString(payload, rel->name);
  payload.push_back('}');
  // Record key (Event::key): the replica identity key of the new image, or
  // of the old one for DELETE.
  std::string key;
  if (const pgoutput::TupleData* t = row != nullptr ? row : old; t != nullptr) {
    AppendRowKey(*rel, *t, key);
  }
  if (auto st =
          EmitEvent(rel->channel, op, std::move(payload), lsn, true, std::move(key), rel->schema);
      !st) {
    return st;
  }
  if (options_.signal_table && row != nullptr && op == "INSERT" &&
      options_.signal_table->Matches(rel->namespace_name, rel->name)) {
    auto text = [&](std::string_view name) -> std::optional<std::string_view> {
      for (size_t i = 0; i < rel->columns.size() && i < row->columns.size(); ++i) {
        if (rel->columns[i].name == name && row->columns[i].kind == pgoutput::ColumnKind::kText) {
          return row->columns[i].data;
        }
      }
      return std::nullopt;
    };
    sink_.OnSignal(text("signal"), text("payload"));
  }
  return Ok();
}

Status ChangeBuilder::EmitMessage(const pgoutput::LogicalMessage& m, uint64_t lsn) {
  std::string payload;
  json::Writer w(payload);
  w.BeginObject();
  if (json::IsValidUtf8(m.content)) {
    w.Key("content");
    w.String(m.content);
  } else {
    w.Key("content_base64");
    std::string b64;
    json::AppendBase64(b64, m.content);
    w.String(b64);
  }
  w.Key("lsn");
  w.String(pgoutput::FormatLsn(m.lsn));
  w.Key("prefix");
  w.String(m.prefix);
  w.Key("transactional");
  w.Bool(m.transactional);
  w.EndObject();
  // A non-transactional message is its own position (its id derives from it).
  return EmitEvent(kMessageChannel, "MESSAGE", std::move(payload),
                   m.transactional || m.lsn == 0 ? lsn : m.lsn, false);
}

Status ChangeBuilder::EmitMarker(std::string_view op, uint32_t xid, int64_t commit_time_ns,
                                 int64_t count) {
  std::string payload = "{\"commit_time\":\"";
  AppendRfc3339Nano(commit_time_ns, payload);
  payload.push_back('"');
  if (op == "COMMIT") payload.append(",\"event_count\":").append(std::to_string(count));
  payload.append(",\"xid\":").append(std::to_string(xid)).push_back('}');
  Event e = MakeEvent(kTxnChannel, std::string(op), std::move(payload), kSource);
  // BEGIN sorts before the transaction's changes, COMMIT after them.
  e.id = PositionId(tx_.commit_lsn, op == "COMMIT" ? UINT32_MAX : 0);
  if (!sink_.Emit(std::move(e))) return Fail(ErrorCode::kCancelled, "pipeline stopping");
  return Ok();
}

void ChangeBuilder::AppendRowKey(const RelationInfo& rel, const pgoutput::TupleData& t,
                                 std::string& out) {
  size_t keys = 0, last = 0;
  for (size_t i = 0; i < rel.columns.size() && i < t.columns.size(); ++i) {
    if (!rel.columns[i].is_key()) continue;
    // A key column without a value (unchanged TOAST, NULL): no usable key.
    if (t.columns[i].kind != pgoutput::ColumnKind::kText) return;
    ++keys;
    last = i;
  }
  if (keys == 0) return;
  if (keys == 1) {
    out.assign(t.columns[last].data);
    return;
  }
  out.push_back('{');
  bool first = true;
  for (size_t i = 0; i < rel.columns.size() && i < t.columns.size(); ++i) {
    if (!rel.columns[i].is_key()) continue;
    if (!first) out.push_back(',');
    first = false;
    out.append(rel.keys[i]);
    if (!pgtypes::AppendValueJson(catalog_, rel.columns[i].type_oid, t.columns[i].data, out)) {
      ++stats_.value_errors;
    }
  }
  out.push_back('}');
}

Status ChangeBuilder::EmitEvent(std::string channel, std::string_view op, std::string payload,
                                uint64_t lsn, bool row_event, std::string key,
                                std::shared_ptr<const RowSchema> schema) {
  Event e = MakeEvent(std::move(channel), std::string(op), std::move(payload), kSource);
  e.lsn = lsn;
  e.key = std::move(key);
  e.schema = std::move(schema);
  // A change or logical message (lsn != 0; schema events pass 0 and keep their
  // random id: they are re-emitted after a restart, not redelivered). Outside a
  // transaction only a non-transactional message: its own LSN is the position.
  if (lsn != 0) e.id = tx_.active ? PositionId(tx_.commit_lsn, ++tx_.ordinal) : PositionId(lsn, 1);
  if (row_event && tx_.active) {
    ++tx_.count;
    if (options_.tx_metadata)
      e.transaction = TransactionInfo{tx_.xid, tx_.commit_time_ns, tx_.count};
  }
  if (!sink_.Emit(std::move(e))) return Fail(ErrorCode::kCancelled, "pipeline stopping");
  return Ok();
}

Uuid ChangeBuilder::PositionId(uint64_t lsn, uint32_t ordinal) const {
  // WAL records start at 8-byte aligned positions and are at least 24 bytes
  // long, so two records' LSNs differ in the bits above the lowest four.
  return MakePositionUuid(lsn >> 4, ordinal, options_.id_origin);
}

Status ChangeBuilder::Replay(uint32_t xid, const pgoutput::StreamCommit& c) {
  auto it = spools_.find(xid);
  std::unique_ptr<TxSpool> spool;
  if (it != spools_.end()) {
    spool = std::move(it->second);
    spools_.erase(it);
  }
  ++stats_.streamed_txns;
  tx_ = TxState{true, xid, c.commit_time_ns, 0, c.commit_lsn};
  if (options_.tx_markers) {
    if (auto st = EmitMarker("BEGIN", xid, c.commit_time_ns, 0); !st) return st;
  }
  if (spool) {
    RelationMap overlay;  // relation definitions sent inside this transaction
    pgoutput::DecodeContext rctx;
    rctx.protocol_version = ctx_.protocol_version;
    rctx.in_stream = true;
    rctx.stream_xid = xid;
    const std::set<uint32_t>& aborted = spool->aborted();
    // Drain frees each chunk of the spool once it has been replayed.
    auto st = spool->Drain([&](const TxSpool::Record& r) -> Status {
      auto m = pgoutput::DecodeMessage(r.bytes, rctx);
      if (!m) return Fail(m.error().Wrap("spool replay"));
      return Apply(*m, r.lsn, overlay, &aborted);
    });
    if (!st) {
      tx_ = TxState{};
      return st;
    }
  }
  Status st = Ok();
  if (options_.tx_markers) st = EmitMarker("COMMIT", xid, c.commit_time_ns, tx_.count);
  tx_ = TxState{};
  sink_.Boundary(c.end_lsn);
  return st;
}

}  // namespace pgcdc::detector::wal
