#pragma once
// The one interface every Hamiltonian term implements: analytic spin terms, lattice
// potentials and the learned potential alike. Samplers and integrators see only this (through
// Hamiltonian) and never how a term computes its numbers.
//
// Conventions (docs/units.md): energies in eV; a term's energy is a function of positions and
// moment vectors m_i = |m_i| ê_i. Pair terms count each pair once (E = −Σ_{i<j} J_ij ê_i·ê_j).
#include <memory>
#include <string>
#include <vector>

#include "spinlat/core/system.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

namespace spinlat {

struct SpinKernel;
class RadialFunction;
class SpeciesFilter;

/// What a term's energy is about, for integrators that treat the two differently (spin-lattice
/// dynamics reports them separately): `lattice` terms depend on positions only (EAM, pair
/// potentials), `magnetic` terms on the moments (and possibly positions).
enum class TermKind { magnetic, lattice };

/// A radial spin coupling E = −Σ_{i<j} J(r_ij) ê_i·ê_j between the magnetic sites `species`
/// selects (both ends): what spin-lattice dynamics integrates with its own pair tables.
struct RadialCoupling {
  const RadialFunction* J = nullptr;
  const SpeciesFilter* species = nullptr;
  explicit operator bool() const { return J != nullptr; }
};

/// Where a term adds its derivatives; null pointers are skipped.
struct Derivatives {
  std::vector<Vec3>* force = nullptr;           ///< −∂E/∂r_i (eV/Å)
  std::vector<Vec3>* magnetic_force = nullptr;  ///< −∂E/∂m_i (eV/μB), the exact gradient
  /// Virial W = −Σ_pairs r_ij ⊗ ∂E/∂r_ij (eV); pressure P = (2 K + tr W) / (3 V).
  Mat3* virial = nullptr;
};

class Term {
 public:
  virtual ~Term() = default;
  /// The TOML `type` of this term.
  virtual std::string type() const = 0;
  /// Interaction range (Å); 0 for on-site terms.
  virtual double cutoff() const { return 0.0; }
  /// True when the energy depends on positions (the term contributes forces).
  virtual bool depends_on_positions() const { return false; }
  /// True when the energy depends on moment sizes |m_i| (longitudinal fluctuations matter).
  virtual bool depends_on_moment_size() const { return false; }
  /// True when the energy is unchanged by one rotation of all moments together (positions
  /// fixed): then the torques cancel, Σ_i m_i × ∂E/∂m_i = 0, and the total spin Σ_i m_i is a
  /// constant of undamped precession (isotropic exchange, biquadratic exchange, lattice-only
  /// terms). False by default: anisotropy, DMI, Zeeman and dipolar terms (spin-orbit or
  /// spin-space coupling) change it, and so does a learned model unless known otherwise.
  virtual bool conserves_total_spin() const { return false; }
  /// Lattice or magnetic energy (see TermKind; `kind` alone is a DMI setting).
  virtual TermKind energy_kind() const { return TermKind::magnetic; }
  /// The term as a radial spin coupling, if it is one (empty otherwise).
  virtual RadialCoupling radial_coupling() const { return {}; }

  /// The neighbour-list forms compute() reads (neighbors/neighbor_list.hpp): the full list
  /// (every pair from both ends) and/or the half list (each pair once). The Hamiltonian builds
  /// only the forms its terms read; add_site_energies() always gets a full list.
  virtual bool reads_full_list() const { return true; }
  virtual bool reads_half_list() const { return false; }

  /// Called whenever the Hamiltonian (re)builds its neighbour list (a superset of the pairs
  /// within cutoff()). Terms cache pair tables here.
  virtual void bind(const System& s, const NeighborList& list) {}

  /// Energy (eV); adds the requested derivatives into `d`.
  virtual double compute(const System& s, const NeighborList& list, Derivatives& d) const = 0;
  /// Adds per-site energies (pair energies split equally between the two sites); they sum to
  /// the energy.
  virtual void add_site_energies(const System& s, const NeighborList& list,
                                 std::vector<double>& e) const = 0;
  /// Energy change (eV) when moment i alone becomes spin_new * moment_new.
  virtual double local_energy_change(const System& s, const NeighborList& list, int i,
                                     const Vec3& spin_new, double moment_new) const = 0;
  /// Energy changes of several single-moment trials at once: de[k] is the change when moment
  /// sites[k] alone becomes spins[k] * moments[k]. The caller guarantees the sites are
  /// independent for this term (every two farther apart than trial_range()), so the trials
  /// can be evaluated together. Default: local_energy_change() for each.
  virtual void local_energy_changes(const System& s, const NeighborList& list, const std::vector<int>& sites,
                                    const std::vector<Vec3>& spins, const std::vector<double>& moments,
                                    std::vector<double>& de) const {
    de.resize(sites.size());
    for (std::size_t k = 0; k < sites.size(); ++k)
      de[k] = local_energy_change(s, list, sites[k], spins[k], moments[k]);
  }
  /// The Monte Carlo trial protocol: after each local_energy_change() or
  /// local_energy_changes() call, a sampler that goes on sampling reports which of that
  /// call's trials it took (accepted[k] for the k-th trial, one entry after
  /// local_energy_change()), the System already holding them. A term that carries state from
  /// one trial to the next (the learned term keeps the node energies of the current moments)
  /// commits the taken trials here; a trial never reported counts as rejected (the next call
  /// forgets it), and a moment changed without a trial (dynamics) is still noticed by such a
  /// term. Every other term has nothing to do.
  virtual void accept_trials(const std::vector<char>& accepted) const {}
  /// Distance (Å) beyond which a trial at one site leaves the energy change of a trial at
  /// another unchanged. For pair and on-site terms that is the cutoff; a message-passing
  /// model with L layers reaches 2L·r_max.
  virtual double trial_range() const { return cutoff(); }
  /// True when evaluating many trials in one local_energy_changes() call is much cheaper than
  /// one call each (the learned term: one model evaluation for the whole batch).
  virtual bool batches_trials() const { return false; }

  /// Fast path for Monte Carlo and LLG on a frozen lattice: a term that is a sum of
  /// pair-bilinear and on-site functions of the spin directions writes itself into `k` and
  /// returns true. Tests check the kernel against compute()/local_energy_change().
  virtual bool add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const {
    return false;
  }
};

using TermPtr = std::unique_ptr<Term>;

}  // namespace spinlat
