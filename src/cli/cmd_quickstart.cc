// `pgcdc quickstart`: asks a few questions (or takes them as flags) and writes
// a working pgcdc.yaml, the capture setup SQL (init.sql, PostgreSQL) and,
// with --docker, a docker-compose.yml for a local database. What the
// configuration still lacks is found by the same validation `listen` runs:
// every "<key>: required" it reports is asked for (or, with
// --non-interactive, reported with exit code 2).
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>

#include "cli/cli.h"
#include "cli/init_sql.h"
#include "core/json.h"

namespace pgcdc::cli {

namespace {

struct QuickstartOptions {
  std::string db_type;
  std::string detector;
  std::vector<std::string> adapters;
  std::string db_url;
  std::string table;
  std::vector<std::string> sets;  // key=value
  std::string output_dir = ".";
  bool docker = false;
  bool non_interactive = false;
  bool force = false;
};

const std::map<std::string, std::string>& DefaultDetector() {
  static const std::map<std::string, std::string> m = {
      {"postgres", "wal"}, {"mysql", "mysql"}, {"mongodb", "mongodb"}, {"sqlite", "sqlite"}};
  return m;
}

// The key that holds the source's address for each database type.
const std::map<std::string, std::pair<std::string, std::string>>& SourceKey() {
  static const std::map<std::string, std::pair<std::string, std::string>> m = {
      {"postgres", {"database_url", "postgres://postgres:postgres@localhost:5432/postgres"}},
      {"mysql", {"mysql.addr", "localhost:3306"}},
      {"mongodb", {"mongodb.uri", "mongodb://localhost:27017/?replicaSet=rs0"}},
      {"sqlite", {"sqlite.db_path", "app.db"}},
  };
  return m;
}

class Prompter {
 public:
  explicit Prompter(bool interactive) : interactive_(interactive) {}
  bool interactive() const { return interactive_; }

  // Asks `question` (showing the default); "" keeps the default. At end of
  // input the default is taken.
  std::string Ask(const std::string& question, const std::string& def) {
    std::cerr << question;
    if (!def.empty()) std::cerr << " [" << def << "]";
    std::cerr << ": " << std::flush;
    std::string line;
    if (!std::getline(std::cin, line)) {
      std::cerr << "\n";
      return def;
    }
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    return line.empty() ? def : line;
  }

 private:
  bool interactive_;
};

std::string YamlScalar(const ParamSpec* spec, const std::string& value) {
  std::string out;
  if (spec != nullptr && (spec->type == ParamType::kInt || spec->type == ParamType::kBool ||
                          spec->type == ParamType::kDuration)) {
    return value;
  }
  if (spec != nullptr && spec->type == ParamType::kStringList) {
    out = "[";
    size_t start = 0;
    bool first = true;
    while (start <= value.size()) {
      const size_t comma = value.find(',', start);
      const std::string item =
          value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!item.empty()) {
        out += first ? "" : ", ";
        json::AppendString(out, item);
        first = false;
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out + "]";
  }
  json::AppendString(out, value);  // a JSON string is a valid YAML double-quoted scalar
  return out;
}

// Dotted keys rendered as nested YAML maps.
std::string RenderYaml(const std::map<std::string, std::string>& values,
                       const std::vector<ParamSpec>& specs) {
  std::map<std::string, const ParamSpec*> by_key;
  for (const auto& s : specs) by_key.emplace(s.key, &s);
  std::string out =
      "# Written by `pgcdc quickstart`. Every setting: `pgcdc config init` or "
      "docs/configuration.md.\n";
  std::vector<std::string> open;  // sections of the previous key
  for (const auto& [key, value] : values) {
    std::vector<std::string> parts;
    for (size_t s = 0;;) {
      const size_t dot = key.find('.', s);
      parts.push_back(key.substr(s, dot == std::string::npos ? std::string::npos : dot - s));
      if (dot == std::string::npos) break;
      s = dot + 1;
    }
    size_t common = 0;
    while (common < open.size() && common + 1 < parts.size() && open[common] == parts[common]) {
      ++common;
    }
    for (size_t i = common; i + 1 < parts.size(); ++i) {
      out += std::string(2 * i, ' ') + parts[i] + ":\n";
    }
    const auto it = by_key.find(key);
    out += std::string(2 * (parts.size() - 1), ' ') + parts.back() + ": " +
           YamlScalar(it == by_key.end() ? nullptr : it->second, value) + "\n";
    open.assign(parts.begin(), parts.end() - 1);
  }
  return out;
}

std::string ComposeFile(const std::string& db_type) {
  std::string out =
      "# Written by `pgcdc quickstart --docker`: a local database for trying pgcdc.\n"
      "# pgcdc itself runs on the host (or from the image of deploy/docker/Dockerfile,\n"
      "# docs/packaging.md); the image is not published.\n"
      "services:\n";
  if (db_type == "postgres") {
    out +=
        "  postgres:\n"
        "    image: postgres:15\n"
        "    command: [\"postgres\", \"-c\", \"wal_level=logical\"]\n"
        "    environment:\n"
        "      POSTGRES_PASSWORD: postgres\n"
        "    ports: [\"127.0.0.1:5432:5432\"]\n"
        "    volumes: [\"./init.sql:/docker-entrypoint-initdb.d/init.sql:ro\"]\n";
  } else if (db_type == "mysql") {
    out +=
        "  mysql:\n"
        "    image: mariadb:10.11\n"
        "    command: [\"--log-bin\", \"--binlog-format=ROW\", \"--server-id=1\"]\n"
        "    environment:\n"
        "      MARIADB_ROOT_PASSWORD: root\n"
        "    ports: [\"127.0.0.1:3306:3306\"]\n";
  } else if (db_type == "mongodb") {
    out +=
        "  mongodb:\n"
        "    image: mongo:7\n"
        "    command: [\"--replSet\", \"rs0\", \"--bind_ip_all\"]\n"
        "    ports: [\"127.0.0.1:27017:27017\"]\n";
  } else {
    return "";
  }
  return out;
}

bool WriteFile(const std::filesystem::path& path, const std::string& text, bool force) {
  if (std::filesystem::exists(path) && !force) {
    std::cerr << "pgcdc quickstart: " << path.string()
              << " already exists (use --force to overwrite)\n";
    return false;
  }
  std::ofstream f(path);
  f << text;
  if (!f) {
    std::cerr << "pgcdc quickstart: cannot write " << path.string() << "\n";
    return false;
  }
  std::cerr << "wrote " << path.string() << "\n";
  return true;
}

// Validates `values` as a listen configuration; returns the problems.
std::vector<std::string> Validate(const std::map<std::string, std::string>& values,
                                  const std::vector<ParamSpec>& specs,
                                  const std::filesystem::path& scratch) {
  {
    std::ofstream f(scratch);
    f << RenderYaml(values, specs);
  }
  GlobalFlags g;
  g.config_path = scratch.string();
  auto loaded = LoadConfig(g, AllParams(Builtins()), {}, /*use_env=*/false);
  NormalizePipelineConfig(loaded.config);
  ValidatePipelineConfig(Builtins(), loaded.config, PipelineKind::kListen, loaded.errors);
  std::filesystem::remove(scratch);
  return loaded.errors;
}

void Run(QuickstartOptions o) {
  Prompter ask(!o.non_interactive);
  auto fail = [](const std::string& why, int code) {
    std::cerr << "pgcdc quickstart: " << why << "\n";
    CommandExitCode() = code;
  };
  if (o.db_type.empty()) {
    o.db_type = ask.interactive()
                    ? ask.Ask("Database (postgres, mysql, mongodb, sqlite)", "postgres")
                    : "postgres";
  }
  if (!DefaultDetector().contains(o.db_type)) {
    return fail("--db-type must be postgres, mysql, mongodb or sqlite (got \"" + o.db_type + "\")",
                kExitUsage);
  }
  const std::string def_detector = DefaultDetector().at(o.db_type);
  if (o.detector.empty()) {
    const std::string choices =
        o.db_type == "postgres" ? " (wal, listen_notify, outbox)" : std::string();
    o.detector = ask.interactive() && o.db_type == "postgres"
                     ? ask.Ask("Source" + choices, def_detector)
                     : def_detector;
  }
  if (Builtins().Find(ConnectorKind::kDetector, o.detector) == nullptr) {
    return fail("unknown or not built detector \"" + o.detector + "\" (see `pgcdc list detectors`)",
                kExitUsage);
  }
  const auto& [source_key, source_default] = SourceKey().at(o.db_type);
  if (o.db_url.empty()) {
    o.db_url = ask.interactive() ? ask.Ask("Connection (" + source_key + ")", source_default)
                                 : source_default;
  }
  const bool postgres = o.db_type == "postgres";
  const bool needs_table = postgres && o.detector != "outbox";
  if (o.table.empty() && needs_table) {
    o.table = ask.interactive() ? ask.Ask("Table to capture", "orders") : "orders";
  }
  if (o.adapters.empty()) {
    const std::string a =
        ask.interactive() ? ask.Ask("Sinks, comma-separated (see `pgcdc list adapters`)", "stdout")
                          : "stdout";
    for (size_t s = 0; s <= a.size();) {
      const size_t c = a.find(',', s);
      std::string item = a.substr(s, c == std::string::npos ? std::string::npos : c - s);
      std::erase(item, ' ');
      if (!item.empty()) o.adapters.push_back(item);
      if (c == std::string::npos) break;
      s = c + 1;
    }
  }
  for (const auto& a : o.adapters) {
    if (Builtins().Find(ConnectorKind::kAdapter, a) == nullptr) {
      return fail("unknown or not built adapter \"" + a + "\" (see `pgcdc list adapters`)",
                  kExitUsage);
    }
  }

  // The configuration.
  std::map<std::string, std::string> values;
  values["detector.type"] = o.detector;
  values[source_key] = o.db_url;
  std::string joined;
  for (const auto& a : o.adapters) joined += (joined.empty() ? "" : ",") + a;
  values["adapters"] = joined;
  if (o.detector == "wal") {
    values["detector.publication"] = "pgcdc_" + o.table;
    values["detector.persistent_slot"] = "true";
  } else if (o.detector == "listen_notify") {
    values["channels"] = "pgcdc:" + o.table;
  }
  for (const auto& kv : o.sets) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      return fail("--set takes key=value (got \"" + kv + "\")", kExitUsage);
    }
    values[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  const std::vector<std::string> names = [&] {
    std::vector<std::string> n = {o.detector};
    n.insert(n.end(), o.adapters.begin(), o.adapters.end());
    return n;
  }();
  const auto specs = ParamsFor(Builtins(), names);
  std::map<std::string, const ParamSpec*> by_key;
  for (const auto& s : specs) by_key.emplace(s.key, &s);

  const std::filesystem::path dir(o.output_dir);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("cannot create " + dir.string() + ": " + ec.message(), kExitFailure);
  const std::filesystem::path scratch = dir / ".pgcdc-quickstart.yaml";

  // Ask for what validation reports missing, a few rounds at most.
  static const std::regex kRequired(R"(^([a-z0-9_]+(\.[a-z0-9_]+)*): required)");
  std::vector<std::string> problems;
  for (int round = 0; round < 4; ++round) {
    problems = Validate(values, specs, scratch);
    std::vector<std::string> missing;
    for (const auto& p : problems) {
      std::smatch m;
      if (std::regex_search(p, m, kRequired) && by_key.contains(m[1].str()) &&
          !values.contains(m[1].str())) {
        missing.push_back(m[1].str());
      }
    }
    if (missing.empty() || !ask.interactive()) break;
    for (const auto& key : missing) {
      const ParamSpec& spec = *by_key.at(key);
      std::string v;
      while (v.empty()) {
        v = ask.Ask(key + " — " + spec.description, spec.default_value);
        if (v.empty() && std::cin.eof()) break;
      }
      if (v.empty()) break;
      values[key] = v;
    }
  }
  if (!problems.empty()) {
    for (const auto& p : problems) std::cerr << "  " << p << "\n";
    return fail("the configuration is not complete; give the missing settings with --set key=value",
                kExitUsage);
  }

  if (!WriteFile(dir / "pgcdc.yaml", RenderYaml(values, specs), o.force)) {
    CommandExitCode() = kExitFailure;
    return;
  }
  if (postgres && (o.detector == "wal" || o.detector == "listen_notify")) {
    auto sql = GenerateInitSql({.table = o.table, .detector = o.detector});
    if (!sql) return fail(sql.error().message(), kExitUsage);
    if (!WriteFile(dir / "init.sql", *sql, o.force)) {
      CommandExitCode() = kExitFailure;
      return;
    }
  } else if (postgres && o.detector == "outbox") {
    auto sql = GenerateInitSql({.table = "pgcdc_outbox", .adapter = "outbox"});
    if (!sql) return fail(sql.error().message(), kExitUsage);
    if (!WriteFile(dir / "init.sql", *sql, o.force)) {
      CommandExitCode() = kExitFailure;
      return;
    }
  }
  if (o.docker) {
    const std::string compose = ComposeFile(o.db_type);
    if (compose.empty()) {
      std::cerr << "note: --docker has no database service for " << o.db_type << "\n";
    } else if (!WriteFile(dir / "docker-compose.yml", compose, o.force)) {
      CommandExitCode() = kExitFailure;
      return;
    }
  }
  std::cerr << "\nNext steps:\n";
  if (o.docker && postgres)
    std::cerr << "  docker compose up -d   # runs init.sql on first start\n";
  if (postgres && !o.docker) {
    std::cerr << "  psql \"" << o.db_url << "\" -f " << (dir / "init.sql").string() << "\n";
  }
  std::cerr << "  pgcdc doctor --config " << (dir / "pgcdc.yaml").string() << "\n"
            << "  pgcdc listen --config " << (dir / "pgcdc.yaml").string() << "\n";
}

}  // namespace

void AddQuickstartCommand(CLI::App& root) {
  auto* cmd = root.add_subcommand(
      "quickstart",
      "Ask a few questions and write pgcdc.yaml, init.sql and (--docker) docker-compose.yml");
  auto o = std::make_shared<QuickstartOptions>();
  cmd->add_option("--db-type", o->db_type, "postgres, mysql, mongodb or sqlite")
      ->check(CLI::IsMember({"postgres", "mysql", "mongodb", "sqlite"}));
  cmd->add_option("--detector", o->detector,
                  "source (default by database: wal, mysql, mongodb, sqlite)");
  cmd->add_option("--adapter", o->adapters, "sink(s), repeatable or comma-separated")
      ->delimiter(',');
  cmd->add_option("--db", o->db_url,
                  "the source's address: PostgreSQL URL, MySQL host:port, MongoDB URI or SQLite "
                  "file");
  cmd->add_option("--table", o->table, "PostgreSQL table to capture (default orders)");
  cmd->add_option("--set", o->sets, "any other setting as key=value (repeatable)");
  cmd->add_option("-d,--output-dir", o->output_dir, "where to write the files (default .)");
  cmd->add_flag("--docker", o->docker, "also write docker-compose.yml with a local database");
  cmd->add_flag("--non-interactive", o->non_interactive,
                "ask nothing: take defaults, and fail (exit 2) naming what is missing");
  cmd->add_flag("--force", o->force, "overwrite existing files");
  cmd->callback([o] { Run(*o); });
}

}  // namespace pgcdc::cli
