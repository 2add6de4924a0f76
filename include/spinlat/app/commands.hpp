#pragma once
// The command registry of the `spinlat` program: each subcommand (run, validate, eval, map,
// train, export, convert, bench) is one entry {name, usage, one-line help, function}. The
// engine's commands come from builtin_commands() (src/app/commands.cpp); a LibTorch build adds
// the learned module's with add_learned_commands (spinlat/learned/tools/commands.hpp), the way
// it adds its term to the term registry (spinlat/workflows/all_terms.hpp). Header-only apart
// from builtin_commands(), so that the learned library needs nothing from the executable.
#include <algorithm>
#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "spinlat/core/error.hpp"

namespace spinlat {

/// The arguments after the command name, parsed the common way (parse_command_line).
struct CommandLine {
  std::vector<std::string> positional;
  std::vector<std::string> overrides;  ///< --set KEY=VALUE
  std::string output;                  ///< -o / --output
  bool restart = false, quiet = false, quick = false;
  int threads = -1;                    ///< --threads N
  std::vector<std::string> raw;        ///< as given (commands with their own options)
  std::atomic<bool>* stop = nullptr;   ///< set by SIGINT/SIGTERM for `stoppable` commands
};

struct Command {
  std::string name;
  std::vector<std::string> usage;  ///< full usage lines ("spinlat run INPUT.toml ...")
  std::string help;                ///< one line for --help
  std::function<int(const CommandLine&)> run;
  bool parallel = false;     ///< runs OpenMP work: libgomp's wait policy is set first (core/threads.hpp)
  bool stoppable = false;    ///< SIGINT/SIGTERM set CommandLine::stop instead of ending the process
  bool own_options = false;  ///< parses CommandLine::raw itself (no common parsing)
};

class CommandRegistry {
 public:
  /// Adds a command; one of the same name is replaced in place (its place in --help kept).
  void add(Command c) {
    for (Command& x : commands_)
      if (x.name == c.name) {
        x = std::move(c);
        return;
      }
    commands_.push_back(std::move(c));
  }
  const Command* find(const std::string& name) const {
    for (const Command& c : commands_)
      if (c.name == name) return &c;
    return nullptr;
  }
  const std::vector<Command>& commands() const { return commands_; }
  /// "run, validate, ..." in registration order.
  std::string names() const {
    std::string s;
    for (const Command& c : commands_) s += (s.empty() ? "" : ", ") + c.name;
    return s;
  }
  /// Notes on the build for --version (e.g. "LibTorch 2.1.0").
  std::vector<std::string> build_notes;

 private:
  std::vector<Command> commands_;
};

/// Parses options common to the commands (-o, --set, --restart, --quiet, --quick, --threads);
/// InputError for an unknown option or a missing value.
inline CommandLine parse_command_line(const std::vector<std::string>& args) {
  CommandLine a;
  a.raw = args;
  for (std::size_t k = 0; k < args.size(); ++k) {
    const std::string& s = args[k];
    auto value = [&](const char* what) -> std::string {
      if (k + 1 >= args.size()) throw InputError("option " + s + " needs " + what);
      return args[++k];
    };
    if (s == "-o" || s == "--output") a.output = value("a file name");
    else if (s == "--set") a.overrides.push_back(value("KEY=VALUE"));
    else if (s.rfind("--set=", 0) == 0) a.overrides.push_back(s.substr(6));
    else if (s == "--restart") a.restart = true;
    else if (s == "--quiet" || s == "-q") a.quiet = true;
    else if (s == "--quick") a.quick = true;
    else if (s == "--threads") a.threads = std::stoi(value("a number"));
    else if (!s.empty() && s[0] == '-') throw InputError("unknown option '" + s + "' (see spinlat --help)");
    else a.positional.push_back(s);
  }
  return a;
}

/// `c` with the function `fn`, which is also given the command (for its usage message).
inline Command with_function(Command c, std::function<int(const Command&, const CommandLine&)> fn) {
  const Command self = c;
  c.run = [fn, self](const CommandLine& a) { return fn(self, a); };
  return c;
}

/// A command's usage error: InputError "usage: <its usage lines>".
inline InputError usage_error(const Command& c) {
  std::string s = "usage:";
  for (const std::string& u : c.usage) s += (c.usage.size() > 1 ? "\n  " : " ") + u;
  return InputError(s);
}

/// The engine's commands, with placeholders for the learned module's (eval, train, export,
/// convert, bench learned) that say a LibTorch build is needed. Defined in src/app/commands.cpp.
CommandRegistry builtin_commands();

}  // namespace spinlat
