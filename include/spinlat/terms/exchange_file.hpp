#pragma once
// exchange-file: bilinear exchange of every bond read from another code's file (VAMPIRE .ucf,
// UppASD inpsd.dat + jfile/dmfile, TB2J exchange.out; io/exchange_files.hpp):
//
//   E = −Σ_{i<j} ê_i·T_ij·ê_j,   T_ij = J_ij 1 + A(D_ij) + S_ij   (eV)
//
// per pair, so species-pair- and bond-specific J, DMI vectors and symmetric anisotropic
// exchange come as the file gives them. The structure's magnetic atoms are matched to the
// file's sites by position (modulo the file's cell) and each neighbour to a bond by its vector.
#include "spinlat/io/exchange_files.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

class BondExchange : public Term {
 public:
  BondExchange(ExchangeFile file, const System& reference);
  std::string type() const override { return "exchange-file"; }
  double cutoff() const override { return cutoff_; }
  void bind(const System& s, const NeighborList& list) override;
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  double local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                             double moment_new) const override;
  bool add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const override;

  /// Directed bonds found in the bound structure (tests, `validate`).
  std::size_t bonds_bound() const { return bound_; }

 private:
  Vec3 field(const System& s, const NeighborList& list, int i, bool self) const;

  ExchangeFile file_;
  double cutoff_ = 0.0;
  std::vector<int> site_;   ///< per atom: the file's site, −1 when none (non-magnetic)
  std::vector<int> entry_;  ///< per list entry: the bond index, −1 when none
  std::size_t bound_ = 0;
  bool isotropic_plus_dmi_ = true;  ///< every T is J·1 + A(D): the spin kernel can hold it
};

}  // namespace spinlat
