/* pair_style spin/spinlat INPUT.toml: a spinlat Hamiltonian (the input's [[potential]] terms)
   as a LAMMPS SPIN pair style (docs/lammps.md). Derived from PairSpin so that fix nve/spin
   finds it (its name starts with "spin") and calls compute_single_pair() for each spin. */
#ifndef SPINLAT_PAIR_SPIN_SPINLAT_H
#define SPINLAT_PAIR_SPIN_SPINLAT_H

#include <memory>
#include <string>
#include <vector>

#include "pair_spin.h"

namespace spinlat_lammps { class Engine; struct Atoms; }

namespace LAMMPS_NS {

class PairSpinSpinlat : public PairSpin {
 public:
  PairSpinSpinlat(class LAMMPS *);
  ~PairSpinSpinlat() override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  void compute(int, int) override;
  void compute_single_pair(int, double *) override;
  void *extract(const char *, int &) override;
  /// The spinlat input and the species of each type (index 0 unused), for fix spinlat/sld.
  const std::string &input_file() const { return input; }
  const std::vector<std::string> &type_species() const { return species; }
  /// ω (rad/ps) of the owned atoms at LAMMPS's current positions and spins (ghosts included:
  /// the caller communicates them first), added to `fm`: fix spinlat/sld's midpoint fields.
  void precession_frequencies(double **fm);
  /// See spinlat_lammps::Engine.
  bool generic_spin_field() const;
  bool local_single_field() const;

 protected:
  void allocate() override;

 private:
  std::unique_ptr<spinlat_lammps::Engine> engine;
  std::string input;
  std::vector<std::string> species;
  double cut_spin = 0.0;    // spin-spin reach, for fix nve/spin's sectors (extract "cut")
  mutable std::vector<long long> tags;    // atom->tag of owned and ghost atoms, as the engine takes them
  void load();
  int ghosts() const;
  spinlat_lammps::Atoms owned_and_ghosts() const;    // this rank's atoms and its ghosts, for the engine
  void whole_box_virial();
};

}    // namespace LAMMPS_NS

#endif
