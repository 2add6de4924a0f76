#pragma once
// The input schema: the validated input of a run (docs/input.md), read strictly from one
// TOML file: unknown keys, wrong types and impossible values are InputErrors naming file, key
// and line. It sits above io (which keeps file formats: TOML parsing and --set overrides in
// io/toml_overrides, structure files in io/structure_file) and above drivers and observables
// (whose tables it hands to their readers); workflows/build.hpp turns it into a System and a
// Hamiltonian.
//
// Term tables ([[potential]]) are kept as TOML and read by the term registry (each term
// validates its own keys), so that adding a term never touches this file.
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/types.hpp"
#include "spinlat/drivers/driver.hpp"
#include "spinlat/observables/phonons.hpp"
#include "spinlat/observables/spectra.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/io/toml_overrides.hpp"

namespace spinlat {

struct StructureConfig {
  std::string lattice = "bcc";            ///< sc, bcc, fcc, hcp, rocksalt, custom, file
  double a = 0.0, c = 0.0;                ///< Å
  Int3 cells = Int3(1, 1, 1);
  std::vector<std::string> species;
  std::vector<double> moment;             ///< μB
  std::vector<double> mass;               ///< amu per species entry (empty: element masses)
  std::map<std::string, double> mass_by_species;  ///< `mass = { Fe = 55.845 }` and basis masses
  std::vector<BasisSite> basis;           ///< [[structure.basis]] for lattice = "custom"
  Mat3 custom_cell = Mat3::Identity();    ///< `cell` (rows, Å) for lattice = "custom"
  std::string spins = "ferro";            ///< ferro, random, antiferro, "vector", or "file"
                                          ///< (the file's moments; the default for lattice = "file")
  Vec3 spin_direction = Vec3::UnitZ();    ///< when spins is a vector [x, y, z]
  std::string file;                       ///< extxyz or POSCAR for lattice = "file" (resolved path)
  std::string format = "auto";            ///< auto, extxyz, poscar
  long long frame = -1;                   ///< extxyz frame (negative: from the end)
  double lattice_temperature = 0.0;       ///< K
  std::array<bool, 3> periodic{true, true, true};
  bool periodic_given = false;            ///< `periodic` was set (overrides a file's pbc)
  int line = 0;                           ///< line of [structure] (messages)
  std::map<std::string, int> lines;       ///< line of each key given (messages from build_system)
  /// Keys given by a `--set` override: the argument, named by messages instead of a line.
  std::map<std::string, std::string> set_by;
};

/// One [[stage]]: its driver type's validated settings (src/drivers) and the keys every stage
/// has.
struct StageConfig {
  std::string type;                  ///< the driver type: mc, minimize, llg, md, sld, hybrid
  DriverSpecPtr driver;              ///< the type's own settings (temperature, length, ...)
  /// Labelled training frames (extended XYZ, magnetic MACE names) appended every
  /// `dataset_every` sweeps/steps of this stage; "" = none. Relative to the working directory,
  /// like [output] file. Stages naming the same file append to it in order.
  std::string dataset;
  long long dataset_every = 0;
  int line = 0;                      ///< line of the [[stage]] table (for messages)
};

/// [sweep]: temperatures × sizes, each point equilibrated and measured by one driver of
/// `method` (or one replica ensemble per size).
struct SweepConfig {
  bool enabled = false;
  std::vector<double> temperatures;  ///< K, ascending or descending as given
  std::vector<int> sizes;            ///< linear sizes L (cells = [L, L, L]); empty: structure.cells
  std::string method = "mc";         ///< the driver type: mc, llg, sld, hybrid
  DriverSpecPtr driver;              ///< the method's own settings (algorithm, dt, damping, ...)
  long long equilibrate = 1000;      ///< sweeps or steps per temperature
  long long measure = 5000;          ///< sweeps or steps per temperature
  long long sample_every = 1;        ///< measure every k sweeps/steps
  std::string order = "auto";        ///< ferro, antiferro, auto
  bool anneal = true;                ///< start each temperature from the previous one's state
  long long reweight_samples = 8192; ///< raw (e, φ) pairs kept per point for reweighting (0: none)
};

struct OutputConfig {
  std::string file = "spinlat.h5";
  long long trajectory_every = 0;    ///< 0 = no trajectory frames
  long long observables_every = 100;
  long long checkpoint_every = 0;    ///< sweeps/steps; 0 = only at the end and on signals
};

struct Config {
  std::string path;                  ///< the input file as given
  std::string directory;             ///< its directory (relative paths resolve here)
  std::string text;                  ///< the input as run, as TOML text (with --set applied)
  std::string file_text;             ///< the file as read (the lines that messages name)
  std::vector<std::string> overrides;  ///< the --set KEY=VALUE assignments, in order
  std::string title;
  std::uint64_t seed = 1;
  int threads = 0;                   ///< 0 = the cores this process may use less those busy at start (core/threads.hpp)
  StructureConfig structure;
  /// [[potential]] tables, read by the term registry. They keep their TOML source lines in
  /// the Config that parse_config returns (and in moved-to copies); toml++ drops source lines
  /// when a node is *copied*, so copies of a Config report potential errors without a line:
  /// potential_lines keeps them.
  toml::array potentials;
  std::vector<int> potential_lines;  ///< line of each [[potential]] table
  std::vector<StageConfig> stages;
  SweepConfig sweep;
  OutputConfig output;
  /// [spectrum]: S(q,ω) recording of an llg or sld stage (docs/magnons.md).
  std::optional<SpectrumOptions> spectrum;
  /// [phonons]: phonon DOS from the velocities of an md, sld or hybrid stage (docs/spin-lattice.md).
  std::optional<PhononOptions> phonons;
};

/// Reads and validates an input file; `overrides` are --set assignments.
Config read_config(const std::string& path, const std::vector<std::string>& overrides = {});
/// The same from text (tests; `name` stands for the file in messages).
Config parse_config(const std::string& text, const std::string& name,
                    const std::vector<std::string>& overrides = {});

/// True when the input moves atoms (md, sld or hybrid stages or sweeps, or a
/// lattice_temperature): then every species needs a mass.
bool needs_masses(const Config& c);

}  // namespace spinlat
