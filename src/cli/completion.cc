#include "cli/completion.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <functional>

namespace pgcdc::cli::completion {

namespace {

// A command with its full path ("pgcdc dlq list") and the options it offers
// (its own, then the root's: root flags are accepted after any command).
struct Node {
  std::string path;
  const Command* command;
  std::vector<const Option*> options;
};

// A root option the command declares itself (its own --help).
bool Shadowed(const Option& root_option, const std::vector<Option>& own) {
  return std::ranges::any_of(own, [&](const Option& o) {
    return std::ranges::any_of(root_option.longs, [&](const std::string& l) {
      return std::ranges::find(o.longs, l) != o.longs.end();
    });
  });
}

std::vector<Node> Flatten(const Command& root) {
  std::vector<Node> out;
  std::function<void(const Command&, const std::string&)> walk = [&](const Command& c,
                                                                     const std::string& path) {
    Node node{path, &c, {}};
    for (const Option& o : c.options) node.options.push_back(&o);
    if (&c != &root) {
      for (const Option& o : root.options) {
        if (!Shadowed(o, c.options)) node.options.push_back(&o);
      }
    }
    out.push_back(std::move(node));
    for (const Command& sub : c.subcommands) walk(sub, path + " " + sub.name);
  };
  walk(root, root.name);
  return out;
}

// Words a shell script may carry unquoted: names of commands, flags, choices.
bool IsWord(std::string_view s) {
  return !s.empty() && std::ranges::all_of(s, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.' ||
           c == ':' || c == '/';
  });
}

std::vector<std::string> Spellings(const Option& o) {
  std::vector<std::string> out;
  for (const auto& l : o.longs) {
    if (IsWord(l)) out.push_back("--" + l);
  }
  for (const auto& s : o.shorts) {
    if (IsWord(s)) out.push_back("-" + s);
  }
  return out;
}

std::vector<std::string> SafeWords(const std::vector<std::string>& words) {
  std::vector<std::string> out;
  for (const auto& w : words) {
    if (IsWord(w)) out.push_back(w);
  }
  return out;
}

std::string Join(const std::vector<std::string>& words, std::string_view sep) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out += sep;
    out += w;
  }
  return out;
}

// The first line of a description, at most ~100 characters, for menus.
std::string Summary(std::string_view text) {
  std::string_view line = text.substr(0, text.find('\n'));
  if (line.size() > 100) {
    line = line.substr(0, 97);
    return std::string(line) + "...";
  }
  return std::string(line);
}

std::string SingleQuotedPosix(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string SingleQuotedFish(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::vector<std::string> SubcommandNames(const Command& c) {
  std::vector<std::string> out;
  for (const Command& sub : c.subcommands) {
    if (IsWord(sub.name)) out.push_back(sub.name);
  }
  return out;
}

// `case "$cmdpath $w"` patterns that step into a subcommand (bash and zsh).
std::string PathStepPatterns(const std::vector<Node>& nodes) {
  std::vector<std::string> patterns;
  for (size_t i = 1; i < nodes.size(); ++i) patterns.push_back(SingleQuotedPosix(nodes[i].path));
  return Join(patterns, "|");
}

// The loop over the typed words that steps into subcommands; `head` opens it
// (bash and zsh index their words differently).
std::string PathWalk(const std::vector<Node>& nodes, std::string_view head) {
  std::string s(head);
  if (nodes.size() > 1) {
    s += "    case \"$cmdpath $w\" in\n      " + PathStepPatterns(nodes) +
         ") cmdpath=\"$cmdpath $w\" ;;\n    esac\n";
  }
  return s + "  done\n";
}

// The arms of `case "$cmdpath|<previous word>"` for options that take a value:
// those with choices complete them (choice_body), the others share one arm
// that completes files (free_body).
std::string ValueArms(
    const std::vector<Node>& nodes,
    const std::function<std::string(const std::vector<std::string>&)>& choice_body,
    std::string_view free_body) {
  std::string s;
  for (const Node& n : nodes) {
    std::vector<std::string> free_values;
    for (const Option* o : n.options) {
      if (!o->takes_value) continue;
      std::vector<std::string> patterns;
      for (const auto& sp : Spellings(*o)) patterns.push_back(SingleQuotedPosix(n.path + "|" + sp));
      if (patterns.empty()) continue;
      const auto choices = SafeWords(o->choices);
      if (choices.empty()) {
        free_values.insert(free_values.end(), patterns.begin(), patterns.end());
        continue;
      }
      s += "    " + Join(patterns, "|") + ")" + choice_body(choices);
    }
    if (!free_values.empty()) s += "    " + Join(free_values, "|") + ")" + std::string(free_body);
  }
  return s;
}

}  // namespace

std::string Bash(const Command& root) {
  const auto nodes = Flatten(root);
  const std::string fn = "_" + root.name;
  std::string s = "# bash completion for " + root.name + " (generated by `" + root.name +
                  " completion bash`)\n";
  s += fn + "() {\n";
  s += "  local cur prev cmdpath w i opts\n  COMPREPLY=()\n";
  s += "  cur=\"${COMP_WORDS[COMP_CWORD]}\"\n  prev=\"\"\n";
  s += "  ((COMP_CWORD > 0)) && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n";
  s += "  cmdpath=" + SingleQuotedPosix(root.name) + "\n";
  s += PathWalk(nodes, "  for ((i = 1; i < COMP_CWORD; i++)); do\n    w=\"${COMP_WORDS[i]}\"\n");
  s += "  case \"$cmdpath|$prev\" in\n";
  s += ValueArms(
      nodes,
      [](const std::vector<std::string>& choices) {
        return "\n      COMPREPLY=($(compgen -W " + SingleQuotedPosix(Join(choices, " ")) +
               " -- \"$cur\"))\n      return 0 ;;\n";
      },
      " return 0 ;;\n");
  s += "  esac\n  case \"$cmdpath\" in\n";
  for (const Node& n : nodes) {
    std::vector<std::string> words;
    for (const Option* o : n.options) {
      for (const auto& sp : Spellings(*o)) words.push_back(sp);
    }
    for (const auto& sub : SubcommandNames(*n.command)) words.push_back(sub);
    s += "    " + SingleQuotedPosix(n.path) + ") opts=" + SingleQuotedPosix(Join(words, " ")) +
         " ;;\n";
  }
  s += "  esac\n  COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n}\n";
  s += "complete -o default -F " + fn + " " + root.name + "\n";
  return s;
}

std::string Zsh(const Command& root) {
  const auto nodes = Flatten(root);
  const std::string fn = "_" + root.name;
  auto item = [](std::string_view word, std::string_view description) {
    std::string escaped;
    for (char c : word) {
      if (c == ':') escaped += '\\';
      escaped += c;
    }
    return SingleQuotedPosix(escaped + ":" + Summary(description));
  };
  std::string s = "#compdef " + root.name + "\n# zsh completion for " + root.name +
                  " (generated by `" + root.name + " completion zsh`)\n";
  s += fn + "() {\n  local cmdpath w i\n  local -a cmds flags\n";
  s += "  cmdpath=" + SingleQuotedPosix(root.name) + "\n";
  s += PathWalk(nodes, "  for ((i = 2; i < CURRENT; i++)); do\n    w=\"${words[i]}\"\n");
  s += "  case \"$cmdpath|${words[CURRENT-1]}\" in\n";
  s += ValueArms(
      nodes,
      [](const std::vector<std::string>& choices) {
        return "\n      compadd -- " + Join(choices, " ") + "\n      return ;;\n";
      },
      " _files; return ;;\n");
  s += "  esac\n  case \"$cmdpath\" in\n";
  for (const Node& n : nodes) {
    s += "    " + SingleQuotedPosix(n.path) + ")\n";
    std::vector<std::string> cmds;
    for (const Command& sub : n.command->subcommands) {
      if (IsWord(sub.name)) cmds.push_back(item(sub.name, sub.description));
    }
    std::vector<std::string> flags;
    for (const Option* o : n.options) {
      for (const auto& sp : Spellings(*o)) flags.push_back(item(sp, o->description));
    }
    s += "      cmds=(" + Join(cmds, " ") + ")\n      flags=(" + Join(flags, " ") + ") ;;\n";
  }
  s += "  esac\n";
  s += "  if [[ \"${words[CURRENT]}\" == -* ]]; then\n    _describe -t flags 'option' flags\n";
  s += "  elif (( ${#cmds} )); then\n    _describe -t commands 'command' cmds\n";
  s += "  else\n    _files\n  fi\n}\n";
  s += "if [[ \"$funcstack[1]\" == \"" + fn + "\" ]]; then\n  " + fn + " \"$@\"\nelse\n";
  s += "  compdef " + fn + " " + root.name + "\nfi\n";
  return s;
}

std::string Fish(const Command& root) {
  const auto nodes = Flatten(root);
  const std::string fn = "__" + root.name + "_path";
  std::string s = "# fish completion for " + root.name + " (generated by `" + root.name +
                  " completion fish`)\n";
  // The command path of the words typed so far, as in the bash script.
  s += "function " + fn + "\n  set -l cmdpath " + SingleQuotedFish(root.name) + "\n";
  s += "  for w in (commandline -opc)[2..-1]\n";
  if (nodes.size() > 1) {
    s += "    switch \"$cmdpath $w\"\n      case";
    for (size_t i = 1; i < nodes.size(); ++i) s += " " + SingleQuotedFish(nodes[i].path);
    s += "\n        set cmdpath \"$cmdpath $w\"\n    end\n";
  }
  s += "  end\n  test \"$cmdpath\" = \"$argv[1]\"\nend\n";
  s += "complete -c " + root.name + " -f\n";
  for (const Node& n : nodes) {
    const std::string cond = " -n " + SingleQuotedFish(fn + " " + SingleQuotedFish(n.path));
    for (const Command& sub : n.command->subcommands) {
      if (!IsWord(sub.name)) continue;
      s += "complete -c " + root.name + cond + " -a " + sub.name + " -d " +
           SingleQuotedFish(Summary(sub.description)) + "\n";
    }
    for (const Option* o : n.options) {
      std::string line = "complete -c " + root.name + cond;
      bool any = false;
      for (const auto& l : o->longs) {
        if (IsWord(l)) line += " -l " + l, any = true;
      }
      for (const auto& sh : o->shorts) {
        if (IsWord(sh) && sh.size() == 1) line += " -s " + sh, any = true;
      }
      if (!any) continue;
      if (o->takes_value) {
        const auto choices = SafeWords(o->choices);
        line += choices.empty() ? " -r -F" : " -x -a " + SingleQuotedFish(Join(choices, " "));
      }
      s += line + " -d " + SingleQuotedFish(Summary(o->description)) + "\n";
    }
  }
  return s;
}

namespace {

// The UTF-8 sequence at text[i] as \[uXXXX]; returns the bytes it used (an
// invalid byte becomes U+FFFD and uses one).
size_t AppendCodepointEscape(std::string_view text, size_t i, std::string& out) {
  const auto lead = static_cast<unsigned char>(text[i]);
  size_t len = lead >= 0xF8 ? 0 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
  uint32_t cp = len == 0 ? 0xFFFD : lead & (0x7Fu >> len);
  if (len == 0 || i + len > text.size()) {
    cp = 0xFFFD;
    len = 1;
  }
  for (size_t k = 1; k < len; ++k) {
    const auto cont = static_cast<unsigned char>(text[i + k]);
    if ((cont & 0xC0) != 0x80) {
      cp = 0xFFFD;
      len = 1;
      break;
    }
    cp = (cp << 6) | (cont & 0x3Fu);
  }
  char buf[16];
  std::snprintf(buf, sizeof buf, "\\[u%04X]", static_cast<unsigned>(cp));
  out += buf;
  return len;
}

// Text for roff: backslashes and hyphens escaped, non-ASCII characters as
// \[uXXXX] escapes, no line starting with a control character.
std::string Roff(std::string_view text) {
  std::string out;
  bool line_start = true;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    line_start = c == '\n';
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      i += AppendCodepointEscape(text, i, out) - 1;
    }
  }
  return out;
}

std::string OptionHead(const Option& o) {
  std::vector<std::string> spellings;
  for (const auto& l : o.longs) spellings.push_back("\\-\\-" + Roff(l));
  for (const auto& sh : o.shorts) spellings.push_back("\\-" + Roff(sh));
  std::string head = "\\fB" + Join(spellings, "\\fR, \\fB") + "\\fR";
  if (o.takes_value) {
    head += " \\fI" + Roff(o.value_name.empty() ? std::string("VALUE") : o.value_name) + "\\fR";
  }
  return head;
}

void ManOptions(const std::vector<Option>& options, std::string& s) {
  for (const Option& o : options) {
    s += ".TP\n" + OptionHead(o) + "\n" + Roff(o.description);
    if (!o.choices.empty()) s += " (one of: " + Roff(Join(o.choices, ", ")) + ")";
    s += "\n";
  }
}

void ManCommands(const Command& c, const std::string& path, std::string& s) {
  for (const Command& sub : c.subcommands) {
    const std::string sub_path = path + " " + sub.name;
    s += ".SS \"" + Roff(sub_path) + "\"\n" + Roff(sub.description) + "\n";
    ManOptions(sub.options, s);
    ManCommands(sub, sub_path, s);
  }
}

}  // namespace

std::string ManPage(const Command& root, std::string_view version) {
  std::string upper = root.name;
  std::ranges::transform(upper, upper.begin(),
                         [](char c) { return static_cast<char>(std::toupper(c)); });
  std::string s = ".\\\" Generated by `" + root.name + " man`; do not edit.\n";
  s += ".TH " + upper + " 1 \"\" \"" + Roff(root.name) + " " + Roff(version) +
       "\" \"User Commands\"\n";
  s += ".SH NAME\n" + Roff(root.name) + " \\- " + Roff(root.description) + "\n";
  s += ".SH SYNOPSIS\n.B " + Roff(root.name) + "\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR " +
       "[\\fICOMMAND OPTIONS\\fR]\n";
  s += ".SH DESCRIPTION\n\\fB" + Roff(root.name) + "\\fR: " + Roff(root.description) +
       ". Every option of a connector is also read from the YAML configuration file and from a "
       "PGCDC_* environment variable; `" +
       Roff(root.name) + " describe <connector>` lists them with their keys.\n";
  s += ".SH OPTIONS\nAccepted before or after any command.\n";
  ManOptions(root.options, s);
  s += ".SH COMMANDS\n";
  ManCommands(root, root.name, s);
  s += ".SH EXIT STATUS\n.TP\n0\nsuccess\n.TP\n1\nruntime failure\n.TP\n2\n"
       "usage or configuration error\n";
  s += ".SH FILES\n.TP\n\\&./pgcdc.yaml\nread when \\-\\-config is not given\n.TP\n"
       "/etc/pgcdc/pgcdc.yaml, /etc/pgcdc/NAME.yaml\nthe configurations the packaged systemd "
       "units pgcdc.service and pgcdc@NAME.service run\n";
  s += ".SH SEE ALSO\nThe documentation under /usr/share/doc/pgcdc and `" + Roff(root.name) +
       " describe \\-\\-all`.\n";
  return s;
}

}  // namespace pgcdc::cli::completion
