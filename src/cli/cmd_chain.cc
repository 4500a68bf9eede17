// `pgcdc chain decode`: reads event lines (JSON envelopes, one per line, as
// the file/stdout/exec sinks or a Kafka consumer print them) that the chain
// adapter encoded, and prints them with their original payload. Takes the
// same --chain-compress / --chain-encrypt-key the writer used (flags, env or
// the config file's chain: section).
//
// Exit codes: 0 every line decoded; 1 a line could not be decoded (it is
// reported on stderr with its number and skipped); 2 bad flags.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <memory>

#include "adapter/chain/chain_adapter.h"
#include "cli/cli.h"
#include "core/json_dom.h"

namespace pgcdc::cli {

namespace {

// One line: the envelope with its payload decoded, or an error.
Result<std::string> DecodeLine(const adapter::chain::Links& links, const std::string& line) {
  auto doc = json::ParseDom(line);
  if (!doc || !doc->is_object()) return Fail(ErrorCode::kParse, "not a JSON event envelope");
  auto& obj = doc->as_object();
  const auto* payload = obj.if_contains("payload");
  if (payload == nullptr || !payload->is_string()) {
    return Fail(ErrorCode::kParse, "payload is not a chain-encoded string");
  }
  auto decoded = links.Decode(json::SerializeDom(*payload));
  if (!decoded) return Fail(decoded.error());
  auto original = json::ParseDom(*decoded);
  if (!original) return Fail(ErrorCode::kParse, "decoded payload is not JSON");
  obj["payload"] = std::move(*original);
  return json::SerializeDom(*doc);
}

int RunDecode(const GlobalFlags& global, const std::vector<ParamSpec>& specs,
              const FlagStore& flags, const std::string& input) {
  auto loaded = LoadConfig(global, specs, flags);
  if (!loaded.errors.empty()) return ReportConfigErrors(loaded.errors);
  auto links = adapter::chain::Links::Make(loaded.config.GetBool("chain.compress"),
                                           loaded.config.GetString("chain.encrypt_key"));
  if (!links) return ReportConfigErrors({links.error().message()});
  std::ifstream file;
  if (!input.empty() && input != "-") {
    file.open(input);
    if (!file) return ReportConfigErrors({"cannot read " + input});
  }
  std::istream& in = file.is_open() ? file : std::cin;
  int rc = kExitOk;
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    auto out = DecodeLine(*links, line);
    if (!out) {
      std::cerr << "pgcdc chain decode: line " << n << ": " << out.error().message() << "\n";
      rc = kExitFailure;
      continue;
    }
    std::cout << *out << "\n";
  }
  std::cout << std::flush;
  return rc;
}

}  // namespace

void AddChainCommand(CLI::App& root, GlobalFlags& global) {
  auto* chain = root.add_subcommand("chain", "Tools for the chain adapter's encoded payloads");
  chain->require_subcommand(1);
  auto* decode = chain->add_subcommand(
      "decode",
      "Print chain-encoded event lines (stdin or --input FILE) with their original payload");
  auto specs = std::make_shared<std::vector<ParamSpec>>();
  auto flags = std::make_shared<FlagStore>();
  auto input = std::make_shared<std::string>();
  for (const auto& p : AllParams(Builtins())) {
    if (p.key == "chain.compress" || p.key == "chain.encrypt_key") specs->push_back(p);
  }
  AddSpecFlags(*decode, *specs, *flags);
  decode->add_option("-i,--input", *input, "file of event lines to decode (default: stdin)");
  decode->footer(
      "Example: pgcdc chain decode --chain-compress --chain-encrypt-key $KEY < out.jsonl");
  decode->callback([&global, specs, flags, input] {
    CommandExitCode() = RunDecode(global, *specs, *flags, *input);
  });
}

}  // namespace pgcdc::cli
