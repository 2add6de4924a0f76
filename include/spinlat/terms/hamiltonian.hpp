#pragma once
// A Hamiltonian is a sum of terms plus the neighbour list they share.
#include <memory>
#include <optional>
#include <vector>

#include "spinlat/terms/spin_kernel.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

class Hamiltonian {
 public:
  Hamiltonian() = default;
  Hamiltonian(Hamiltonian&&) = default;
  Hamiltonian& operator=(Hamiltonian&&) = default;

  void add(TermPtr term) { terms_.push_back(std::move(term)); bound_ = false; }
  const std::vector<TermPtr>& terms() const { return terms_; }
  /// Extra distance (Å) added to the largest cutoff so that the list stays valid while atoms
  /// move less than skin/2.
  void set_skin(double skin) { skin_ = skin; }
  double skin() const { return skin_; }
  double cutoff() const;
  bool depends_on_positions() const;
  bool depends_on_moment_size() const;
  /// True when every term conserves the total spin (Term::conserves_total_spin).
  bool conserves_total_spin() const;

  /// Builds the neighbour list and binds every term; builds the fast spin kernel when every
  /// term can be written into it.
  void bind(const System& s);
  /// Rebuilds the neighbour list if some atom moved more than skin/2 since the last build
  /// (or if the cell changed). Returns true when it rebuilt.
  bool update(const System& s);

  double energy(const System& s) const;
  /// Energy (eV) and the requested derivatives, zeroed first.
  double compute(const System& s, Derivatives& d) const;
  /// Per-site energies (eV), summing to energy(). Builds a full list for the call when the
  /// shared one has none.
  std::vector<double> site_energies(const System& s) const;
  /// Energy change when moment i alone becomes spin_new * moment_new.
  double local_energy_change(const System& s, int i, const Vec3& spin_new, double moment_new) const;
  /// Energy changes of independent trials (Term::local_energy_changes), summed over terms.
  void local_energy_changes(const System& s, const std::vector<int>& sites, const std::vector<Vec3>& spins,
                            const std::vector<double>& moments, std::vector<double>& de) const;
  /// Reports to every term which trials of the last local_energy_change(s) call the sampler
  /// took (Term::accept_trials); accept_trial() after a single local_energy_change().
  void accept_trials(const std::vector<char>& accepted) const;
  void accept_trial(bool accepted) const;
  /// Largest Term::trial_range() (Å).
  double trial_range() const;
  /// True when some term batches trials (Term::batches_trials).
  bool batches_trials() const;

  /// The shared neighbour list, in the forms the terms read (Term::reads_full_list,
  /// reads_half_list): a Hamiltonian of EAM and pair potentials alone has no full pairs
  /// (neighbors().full is false).
  const NeighborList& neighbors() const { return list_; }
  /// The compiled kernel, or null when some term has no kernel form.
  const SpinKernel* spin_kernel() const { return kernel_ ? &*kernel_ : nullptr; }
  /// Recompiles the kernel (needed after positions changed for distance-dependent terms).
  void rebuild_spin_kernel(const System& s);

 private:
  std::vector<TermPtr> terms_;
  NeighborList list_;
  std::optional<SpinKernel> kernel_;
  std::vector<Vec3> built_positions_;
  Mat3 built_cell_ = Mat3::Zero();
  double skin_ = 0.0;
  bool bound_ = false;
};

}  // namespace spinlat
