#include "detector/mysql/snapshot.h"

#include <array>

#include "core/json.h"
#include "detector/mysql/row_values.h"

namespace pgcdc::detector::mysql {

namespace {

using Kind = SnapshotColumn::Kind;

bool IsJsonNumber(std::string_view t) {
  size_t i = 0;
  if (i < t.size() && t[i] == '-') ++i;
  if (i >= t.size() || !(t[i] >= '0' && t[i] <= '9')) return false;
  if (t[i] == '0' && i + 1 < t.size() && t[i + 1] >= '0' && t[i + 1] <= '9') return false;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) {
      return false;
    }
  }
  return true;
}

void AppendNumberOrString(std::string_view t, std::string& out) {
  if (IsJsonNumber(t)) {
    out.append(t);
  } else {
    json::AppendString(out, t);
  }
}

}  // namespace

SnapshotColumn::Kind SnapshotKind(std::string_view type, bool binary, bool json_text) {
  static constexpr std::array<std::string_view, 7> kNumbers = {
      "tinyint", "smallint", "mediumint", "int", "bigint", "float", "double"};
  for (auto n : kNumbers) {
    if (type == n) return Kind::kNumber;
  }
  if (type == "decimal") return Kind::kDecimal;
  if (type == "bit") return Kind::kBit;
  if (type == "year") return Kind::kYear;
  if (type == "timestamp") return Kind::kTimestamp;
  if (type == "json" || json_text) return Kind::kJson;
  if (type == "geometry" || type == "point" || type == "linestring" || type == "polygon" ||
      type.starts_with("multi") || type == "geometrycollection") {
    return Kind::kBinary;
  }
  const bool stringish =
      type.find("char") != std::string_view::npos || type.find("text") != std::string_view::npos ||
      type.find("blob") != std::string_view::npos || type.find("binary") != std::string_view::npos;
  if (stringish && binary) return Kind::kBinary;
  return Kind::kString;
}

std::string QuoteMysqlIdentifier(std::string_view name) {
  std::string out = "`";
  for (char c : name) {
    if (c == '`') out.push_back('`');
    out.push_back(c);
  }
  out.push_back('`');
  return out;
}

std::string SnapshotSelectList(const std::vector<SnapshotColumn>& columns) {
  std::string out;
  for (const auto& c : columns) {
    if (!out.empty()) out.append(", ");
    const std::string q = QuoteMysqlIdentifier(c.name);
    switch (c.kind) {
      case Kind::kBit:
      case Kind::kYear:
        out.append(q + " + 0");
        break;
      case Kind::kTimestamp:
        out.append("CONCAT(REPLACE(" + q + ", ' ', 'T'), 'Z')");
        break;
      default:
        out.append(q);
    }
  }
  return out;
}

void AppendSnapshotValue(const SnapshotColumn& column, std::optional<std::string_view> text,
                         std::string& out) {
  if (!text) {
    out.append("null");
    return;
  }
  const std::string_view t = *text;
  switch (column.kind) {
    case Kind::kNumber:
    case Kind::kBit:
    case Kind::kYear:
      AppendNumberOrString(t, out);
      return;
    case Kind::kDecimal:
      if (NeedsExactDecimal(t)) {
        json::AppendString(out, t);
      } else {
        AppendNumberOrString(t, out);
      }
      return;
    case Kind::kBinary:
      out.push_back('"');
      json::AppendBase64(out, t);
      out.push_back('"');
      return;
    case Kind::kJson: {
      const size_t before = out.size();
      if (json::Compact(t, out)) return;
      out.resize(before);
      json::AppendString(out, t);
      return;
    }
    case Kind::kString:
    case Kind::kTimestamp:
      json::AppendString(out, t);
      return;
  }
}

Event SnapshotRowEvent(const std::string& db, const std::string& table,
                       const std::vector<SnapshotColumn>& columns,
                       const std::vector<std::optional<std::string_view>>& values) {
  std::string payload = R"({"old":null,"op":"SNAPSHOT","row":{)";
  std::string key_object;
  std::string single_key;
  size_t keys = 0;
  for (size_t i = 0; i < columns.size() && i < values.size(); ++i) {
    if (i > 0) payload.push_back(',');
    json::AppendString(payload, columns[i].name);
    payload.push_back(':');
    const size_t start = payload.size();
    AppendSnapshotValue(columns[i], values[i], payload);
    if (!columns[i].key || !values[i]) continue;
    const std::string_view v(payload.data() + start, payload.size() - start);
    key_object.append(keys++ == 0 ? "{" : ",");
    json::AppendString(key_object, columns[i].name);
    key_object.push_back(':');
    key_object.append(v);
    if (keys == 1) {
      single_key = v.size() >= 2 && v.front() == '"' ? std::string(v.substr(1, v.size() - 2))
                                                     : std::string(v);
    }
  }
  payload.append("},\"schema\":");
  json::AppendString(payload, db);
  payload.append(",\"table\":");
  json::AppendString(payload, table);
  payload.push_back('}');
  Event e = MakeEvent("pgcdc:" + db + "." + table, "SNAPSHOT", std::move(payload), "snapshot");
  if (keys == 1) e.key = std::move(single_key);
  if (keys > 1) e.key = key_object + "}";
  return e;
}

}  // namespace pgcdc::detector::mysql
