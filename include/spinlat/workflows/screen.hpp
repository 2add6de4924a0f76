#pragma once
// `spinlat screen`: many structures, one model (the seed's third application: screening
// magnetic and spin-orbit-coupled materials). For each structure, on a frozen lattice:
//   1. the magnetic ground state: the moments relaxed (FIRE, dynamics/minimize.hpp) from the
//      file's moments and from random starts, the lowest kept;
//   2. magnetic anisotropy energies: the relaxed configuration turned rigidly so that its axis
//      (the principal axis of Σ m_i m_iᵀ: the magnetisation of a ferromagnet, the Néel vector
//      of a collinear antiferromagnet) lies along each given axis; E(axis) − min over the axes;
//   3. the mapped spin model (workflows/spin_map.hpp) at the relaxed state, its fit errors and
//      its mean-field ordering temperature;
//   4. the Monte Carlo ordering temperature of that mapped model: a `spinlat run` sweep at two
//      sizes over 0.55–1.0 of the mean-field value, with the run's own Tc estimator (Binder
//      crossings against χ peaks; "none" with the reason when nothing is bracketed).
// One table (screen.csv, screen.h5) and, per structure, a folder with the input used, the
// relaxed structure, the mapped model and the Monte Carlo run. A screen continues where a
// killed one stopped: finished structures (rows of screen.csv) are kept, the others redone.
// docs/screen.md.
#include <iosfwd>
#include <string>
#include <vector>

#include "spinlat/core/types.hpp"
#include "spinlat/terms/registry.hpp"

namespace spinlat {

struct ScreenOptions {
  std::vector<std::string> structures;  ///< structure files (extended XYZ or POSCAR)
  std::string model;                    ///< a learned model file, or a TOML file whose [[potential]] tables are used
  std::string output;                   ///< the folder of the results
  /// Moment sizes (μB) by species; "" (one entry, key "*") for every species; empty: the files'.
  std::vector<std::pair<std::string, double>> moments;
  std::vector<std::string> axes = {"001", "100", "110", "111"};  ///< anisotropy axes (Miller-like digits or x,y,z)
  int cells = 0;          ///< repeats of each file's cell (0: each side ≥ 2 × max(cutoff, 4 Å))
  int shells = 2;         ///< exchange shells of the mapped model
  /// Mapped terms besides exchange (dmi,anisotropy,biquadratic,landau): the single-ion
  /// anisotropy by default, so that a spin-orbit model's anisotropy does not leak into J.
  std::string terms = "anisotropy";
  bool monte_carlo = true;  ///< the mapped model's Monte Carlo Tc
  long long mc_sweeps = 5000;  ///< measured sweeps per temperature (equilibration: a quarter)
  int relax_starts = 3;        ///< the file's moments plus (relax_starts − 1) random starts
  long long relax_steps = 3000;
  std::uint64_t seed = 1;
  int threads = 0;
  bool quiet = false;
};

/// One structure's results (NaN where not computed).
struct ScreenRow {
  std::string structure;  ///< the file's stem (unique within a screen)
  std::string file;       ///< the file as given
  long long atoms = 0, magnetic = 0;
  double energy_per_atom = 0.0;      ///< eV, relaxed moments
  double moment = 0.0;               ///< μB, mean |m_i| over magnetic atoms
  double magnetisation = 0.0;        ///< μB, |Σ m_i| / N_magnetic
  std::string order;                 ///< ferro, antiferro (collinear), noncollinear
  double torque = 0.0;               ///< eV/μB, the relaxed state's largest residual torque
  std::vector<double> anisotropy;    ///< meV per magnetic atom, per axis, relative to the lowest
  std::string easy_axis;
  std::vector<double> exchange;      ///< meV, J of the first shells (first species pair)
  double fit_energy_rmse = 0.0;      ///< meV/atom, held-out configurations
  double tc_mean_field = 0.0;        ///< K, of the mapped model
  double tc_monte_carlo = 0.0, tc_monte_carlo_err = 0.0;  ///< K, of the mapped model
  std::string tc_method, tc_note;
};

/// Screens every structure; rows already in OUT/screen.csv (same settings) are kept.
std::vector<ScreenRow> run_screen(const ScreenOptions& o, const TermRegistry& registry, std::ostream& out);

/// `spinlat screen LIST_OR_FOLDER --model MODEL -o OUT [...]`. Returns the exit status.
int screen_command(const std::vector<std::string>& args, const TermRegistry& registry, std::ostream& out);

}  // namespace spinlat
