#pragma once
// `spinlat map`: an effective spin Hamiltonian fitted to any Hamiltonian (a learned potential,
// an EAM + exchange teacher, ...) at the input's structure, on a frozen lattice.
//
// The fit is linear: every candidate term is built with a unit coefficient (a heisenberg term
// with J = 1 eV on one shell, a Landau term with A = 1, ...), so its energy and exact magnetic
// forces −∂E/∂m on a sampled configuration are one column of a design matrix whose rows are the
// configuration's energy per atom and magnetic-force components. Column-pivoted QR solves the
// weighted least-squares problem; columns the samples cannot determine (rank deficiency, e.g.
// symmetry-forbidden terms) are dropped with a message. The result is a list of `[[potential]]`
// tables of the existing term types, so `spinlat run` evaluates the mapped model with its own
// code. Conventions: docs/mapping.md.
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "spinlat/workflows/input.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/registry.hpp"

namespace spinlat {

struct MapOptions {
  /// Isotropic exchange reaches the `shells`-th distinct distance between magnetic sites; every
  /// species pair gets its own J per distance up to there (DMI and biquadratic use the same range).
  int shells = 2;
  bool dmi = false;          ///< a D vector per bond direction (up to sign) within the shells
  bool anisotropy = false;   ///< single-ion tensor (5 components) and cubic term, per species
  bool biquadratic = false;  ///< Q per shell
  bool landau = false;       ///< A|m|² + B|m|⁴ + C|m|⁶ per species; the samples vary |m|
  int train = 48;            ///< fitted configurations
  int held_out = 16;         ///< configurations kept out of the fit to measure its errors
  /// Weight of a magnetic-force row (eV/μB) relative to an energy row (eV/atom).
  double force_weight = 1.0;
  /// With `landau`, sampled |m_i| lie uniformly in m0·[1 − spread, 1 + spread].
  double moment_spread = 0.25;
  /// Columns whose pivot is below this fraction of the largest (unit-normed columns) are dropped.
  double rank_tolerance = 1e-9;
  std::uint64_t seed = 1;
  /// Compute the mean-field ordering temperature (a dense eigenvalue problem over the cell's
  /// magnetic sites: O(N³); surrogates mapped inside a run skip it).
  bool mean_field = true;
};

/// Root-mean-square and largest deviations of the mapped model from the input's Hamiltonian.
struct FitErrors {
  int configurations = 0;
  double energy_rmse = 0.0, energy_max = 0.0;  ///< eV/atom (after the fitted constant)
  double force_rmse = 0.0, force_max = 0.0;    ///< eV/μB per fitted component
  double force_rms = 0.0;                      ///< eV/μB, rms of the reference components
};

/// One mapped `[[potential]]` table (an existing term type and its keys).
struct MappedTable {
  std::string type;                    ///< heisenberg, dmi, biquadratic, anisotropy, landau
  std::vector<std::string> species;    ///< `species` filter; empty = all
  std::vector<double> values;          ///< J, D, Q per shell; landau A, B, C; anisotropy {K}
  std::string kind;                    ///< dmi: bond/bulk/interfacial; anisotropy: uniaxial/cubic
  Vec3 vector = Vec3::UnitZ();         ///< dmi normal, anisotropy axis
  std::vector<Vec3> bonds, bond_D;     ///< dmi kind = "bond": bond vectors (Å) and D (eV)
};

/// Isotropic J (eV) between species a and b at one distance (eV; this convention).
struct PairCoupling {
  std::string a, b;
  double radius = 0.0;  ///< Å
  double J = 0.0;       ///< eV
};

struct SpinMap {
  std::vector<MappedTable> tables;
  std::vector<PairCoupling> exchange;     ///< J per (distance, species pair)
  std::vector<std::string> column_labels; ///< every fitted column
  std::vector<double> coefficients;       ///< per column (0 where dropped)
  std::vector<std::string> dropped;       ///< one message per dropped column
  /// Single-ion tensor K per species (E = −ê·K·ê, eV) when fitted.
  std::map<std::string, Mat3> anisotropy_tensor;
  double energy_offset = 0.0;  ///< eV/atom: the constant the spin model leaves out
  FitErrors train, held_out;
  bool transverse_only = true;  ///< force rows are the 2 transverse components (fixed |m|)
  /// Mean-field ordering temperature (K): λ_max(J)/(3 k_B) over the cell's modes, and the
  /// ferromagnetic (uniform) mode's value Σ_ij J_ij / (3 N k_B).
  double tc_mean_field = 0.0, tc_mean_field_ferro = 0.0;
  std::size_t atoms = 0, magnetic = 0;
};

/// Fits the spin model to `h` (bound to `s`, the input's structure, whose spins are the ground
/// state the small rotations start from).
SpinMap map_spin_model(const System& s, const Hamiltonian& h, const MapOptions& o);

/// The terms of a mapped model, built for `s` (tests and the writers).
std::vector<TermPtr> mapped_terms(const System& s, const SpinMap& m);

/// A complete input: the header (fit errors, offset, Tc), the input's title/seed/threads,
/// [structure], its spin-only stages and sweep, and the mapped [[potential]] tables.
std::string spin_model_toml(const Config& c, const SpinMap& m, const std::string& source);

/// One coupling between magnetic site i and the image n of site j (r_ij = r_j + n·h − r_i).
struct MappedPair {
  int i = 0, j = 0;
  Int3 image = Int3::Zero();
  double J = 0.0;              ///< eV, E = −J ê_i·ê_j (each pair once)
  Vec3 D = Vec3::Zero();       ///< eV, E = D·(ê_i × ê_j)
  double Q = 0.0;              ///< eV, E = −Q (ê_i·ê_j)²
};
/// Every directed pair (both i→j and j→i) of the mapped model in `s`, periodic self-images included.
std::vector<MappedPair> mapped_pairs(const System& s, const SpinMap& m);

/// VAMPIRE unit-cell file (magnetic atoms only, each pair listed in both directions, J in
/// joules; tensorial when DMI was fitted) and its material file. The unit cell is the simulation
/// cell divided by `cells` when the atoms repeat with that period (the input's conventional
/// cells), else the whole simulation cell.
std::string vampire_ucf(const System& s, const SpinMap& m, const Int3& cells = Int3(1, 1, 1));
std::string vampire_mat(const System& s, const SpinMap& m);
/// UppASD files (posfile, momfile, jfile, dmfile when DMI was fitted, inpsd.dat) by name, on
/// the same unit cell as vampire_ucf.
std::map<std::string, std::string> uppasd_files(const System& s, const SpinMap& m, const Int3& cells = Int3(1, 1, 1));

/// Human-readable summary (errors, J table, Tc, dropped columns).
std::string map_summary(const SpinMap& m);

/// Switches on the terms a comma-separated list names (exchange, dmi, anisotropy, biquadratic,
/// landau; exchange is always fitted); InputError naming `where` for any other word.
void add_map_terms(const std::string& list, const std::string& where, MapOptions& o);

/// `spinlat map INPUT.toml -o OUT [--format toml|vampire|uppasd] [--shells N]
/// [--terms dmi,anisotropy,biquadratic,landau] [--configs N] [--held-out N] [--seed S]
/// [--set KEY=VALUE ...]`. Returns the exit status.
int map_command(const std::vector<std::string>& args, const TermRegistry& registry, std::ostream& out);

}  // namespace spinlat
