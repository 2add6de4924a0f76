// run_input: reads the input, opens the results file, runs the sweep or the stages, and
// handles checkpoints, restarts and stop requests.
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "spinlat/core/threads.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/parallel/ranks.hpp"
#include "spinlat/workflows/context.hpp"
#include "spinlat/workflows/run.hpp"
#include "spinlat/workflows/sanity.hpp"

namespace spinlat {
namespace {

// Flattens a TOML document to "dotted.key" → value text (arrays of tables indexed).
void flatten(const toml::node& n, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (const toml::table* t = n.as_table()) {
    for (const auto& [k, v] : *t) flatten(v, prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str()), out);
  } else if (const toml::array* a = n.as_array(); a && !a->empty() && a->front().is_table()) {
    for (std::size_t i = 0; i < a->size(); ++i) flatten((*a)[i], prefix + "." + std::to_string(i), out);
  } else {
    std::ostringstream os;
    if (const toml::array* arr = n.as_array()) os << *arr;
    else if (auto s = n.value<std::string>()) os << '"' << *s << '"';
    else if (auto d = n.value<double>()) os << *d;
    else if (auto b = n.value<bool>()) os << (*b ? "true" : "false");
    out[prefix] = os.str();
  }
}

/// Keys that may differ between the interrupted run and its continuation: where results go,
/// the thread count (results do not depend on it), and how long the last part runs.
bool may_change(const std::string& key) {
  if (key == "threads" || key.rfind("output.", 0) == 0) return true;
  const auto dot = key.rfind('.');
  const std::string leaf = dot == std::string::npos ? key : key.substr(dot + 1);
  return key.rfind("stage.", 0) == 0 && (leaf == "steps" || leaf == "sweeps");
}

void check_same_input(const std::string& stored, const Config& c) {
  std::map<std::string, std::string> a, b;
  try {
    flatten(toml::parse(stored), "", a);
  } catch (const toml::parse_error&) {
    throw InputError(c.path, "", 0, "the checkpoint's stored input cannot be read");
  }
  flatten(toml::parse(c.text), "", b);
  std::vector<std::string> changed;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if ((it == b.end() || it->second != v) && !may_change(k)) changed.push_back(k);
  }
  for (const auto& [k, v] : b)
    if (!a.count(k) && !may_change(k)) changed.push_back(k);
  if (!changed.empty()) {
    std::string list;
    for (std::size_t i = 0; i < changed.size() && i < 8; ++i) list += (i ? ", " : "") + changed[i];
    throw InputError(c.path, changed.front(), 0,
                     "cannot restart: the input changed since the checkpoint was written (" + list +
                         "); restore it, or start a new run with another output file");
  }
}

/// A word as a POSIX shell reads it back: quoted unless it is plainly safe.
std::string shell_word(const std::string& w) {
  const bool safe = !w.empty() && w.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                      "0123456789_-+=.,/:@%") == std::string::npos;
  if (safe) return w;
  std::string q = "'";
  for (char ch : w) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

}  // namespace

std::string restart_command(const RunOptions& options) {
  std::string cmd = "spinlat run " + shell_word(options.input);
  if (!options.output.empty()) cmd += " -o " + shell_word(options.output);
  for (const std::string& o : options.overrides) cmd += " --set " + shell_word(o);
  return cmd + " --restart";
}

void RunContext::save(Checkpoint& c) const {
  file.flush();
  c.set_blob("input", config.text);
  write_checkpoint(checkpoint_file, c);
}

int run_input(const RunOptions& options, const TermRegistry& registry) {
  const Config c = read_config(options.input, options.overrides);
  require_something_to_run(c);
  const std::string output = options.output.empty() ? c.output.file : options.output;
  apply_threads(c.threads);  // threads = 0: the free cores (core/threads.hpp)
  if (parallel::rank() != 0) {
    // Another MPI rank (docs/parallel.md): it computes its share of the sweep's points and
    // sends them to rank 0, which alone writes the results file and the checkpoint (and runs
    // the stages).
    if (!c.sweep.enabled) return 0;
    h5::File none;
    RunContext ctx{c, options, registry, none, std::string(), std::nullopt};
    return run_sweep(ctx);
  }
  check_writable(output);
  const std::string ckpt = checkpoint_path(output);
  namespace fs = std::filesystem;

  std::optional<Checkpoint> resume;
  h5::File file;
  if (options.restart) {
    if (!fs::exists(ckpt)) {
      if (fs::exists(output) && h5::File::is_hdf5(output))
        throw InputError(output, "", 0, "nothing to continue: the run that wrote this file finished (no checkpoint " + ckpt + ")");
      throw InputError(ckpt, "", 0, "no checkpoint to restart from (was the run started with this output file?)");
    }
    resume = read_checkpoint(ckpt);
    check_same_input(resume->blob("input"), c);
    if (!fs::exists(output)) throw InputError(output, "", 0, "the results file of the interrupted run is missing");
    file = h5::File::open(output, h5::Access::read_write);
    if (!options.quiet) std::fprintf(stderr, "continuing from checkpoint %s\n", ckpt.c_str());
  } else {
    if (fs::exists(ckpt))
      throw InputError(output, "", 0, "an interrupted run left a checkpoint (" + ckpt +
                                          "): continue it with --restart, or remove the checkpoint to start over");
    // Physical sanity: warnings with the number and the likely cause (docs/input.md).
    {
      const System s = build_system(c);
      const Hamiltonian h = build_hamiltonian(c, s, registry);
      for (const std::string& w : check_physics(c, s, h, false).warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    }
    file = h5::File::create(output);
    RunInfo info;
    info.input = c.text;
    info.seed = c.seed;
    info.title = c.title;
    write_root_attributes(file, info);
    file.flush();
  }
  RunContext ctx{c, options, registry, file, ckpt, std::move(resume)};
  int status = 0;
  try {
    if (!c.stages.empty()) {
      // A sweep restart skips the stages (which ran before it): stages come first.
      if (!(ctx.resume && ctx.resume->blob("kind") == "sweep")) status = run_stages(ctx);
      if (ctx.resume && ctx.resume->blob("kind") == "stages") ctx.resume.reset();
    }
    if (status == 0 && c.sweep.enabled) status = run_sweep(ctx);
  } catch (const NumericalError& e) {
    // Keep what was measured (already flushed) and the last good checkpoint; record why.
    file.set_attr("/", "error", std::string(e.what()));
    file.flush();
    if (std::filesystem::exists(ckpt))
      std::fprintf(stderr, "the last good checkpoint is %s\n", ckpt.c_str());
    throw;
  }
  file.flush();
  if (status == 0) {
    std::error_code ec;
    fs::remove(ckpt, ec);  // finished: nothing to continue
    if (!options.quiet) std::fprintf(stderr, "results: %s\n", output.c_str());
  } else if (!options.quiet) {
    std::fprintf(stderr, "stopped; checkpoint %s written: continue with\n  %s\n", ckpt.c_str(),
                 restart_command(options).c_str());
  }
  return status;
}

}  // namespace spinlat
