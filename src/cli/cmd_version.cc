#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli.h"
#include "cli/output.h"
#include "core/json.h"
#include "registry/builtin.h"

#ifndef PGCDC_VERSION
#define PGCDC_VERSION "0.0.0"
#endif
#ifndef PGCDC_GIT_COMMIT
#define PGCDC_GIT_COMMIT "unknown"
#endif
#ifndef PGCDC_BUILD_TYPE
#define PGCDC_BUILD_TYPE "unknown"
#endif

namespace pgcdc::cli {

void AddVersionCommand(CLI::App& root) {
  auto* cmd = root.add_subcommand("version", "Print version, commit, build type and compiler");
  auto format = std::make_shared<std::string>("table");
  cmd->add_option("-o,--output", *format, "table | json")->check(CLI::IsMember({"table", "json"}));
  cmd->callback([format] {
#if defined(__clang__)
    const std::string compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
    const std::string compiler = std::string("gcc ") + __VERSION__;
#else
    const std::string compiler = "unknown";
#endif
    const auto built = BuiltinConnectorFolders();
    const auto omitted = OmittedConnectorFolders();
    if (*format == "json") {
      PrintJson([&](json::Writer& w) {
        w.BeginObject();
        w.StringField("version", PGCDC_VERSION);
        w.StringField("commit", PGCDC_GIT_COMMIT);
        w.StringField("build_type", PGCDC_BUILD_TYPE);
        w.StringField("compiler", compiler);
        w.Key("connectors");
        w.BeginArray();
        for (const auto& c : built) w.String(c);
        w.EndArray();
        w.Key("connectors_left_out");
        w.BeginArray();
        for (const auto& c : omitted) w.String(c);
        w.EndArray();
        w.EndObject();
      });
      return;
    }
    std::cout << "pgcdc " << PGCDC_VERSION << "\n"
              << "commit:     " << PGCDC_GIT_COMMIT << "\n"
              << "build type: " << PGCDC_BUILD_TYPE << "\n"
              << "compiler:   " << compiler << "\n"
              << "connectors: " << built.size() << " built in";
    if (!omitted.empty()) {
      std::cout << "; left out:";
      for (const auto& c : omitted) std::cout << " " << c;
    }
    std::cout << "\n";
  });
}

}  // namespace pgcdc::cli
