#pragma once
// Analytic pair potentials E = ½ Σ_i Σ_{j≠i} φ(r_ij), r < cutoff, in LAMMPS's forms:
//   morse: φ(r) = D0 [e^{−2α(r−r0)} − 2 e^{−α(r−r0)}]          (LAMMPS pair_style morse)
//   lj:    φ(r) = 4ε [(σ/r)¹² − (σ/r)⁶]                         (LAMMPS pair_style lj/cut)
// optionally shifted by −φ(r_c) so the energy is continuous at the cutoff (pair_modify shift).
#include <cmath>
#include <string>
#include <vector>

#include "spinlat/core/exp_sse2.hpp"
#include "spinlat/neighbors/half_list.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

struct PairFunction {
  enum class Style { morse, lj } style = Style::lj;
  double D0 = 0.0, alpha = 0.0, r0 = 0.0;  ///< morse: eV, 1/Å, Å
  double epsilon = 0.0, sigma = 0.0;       ///< lj: eV, Å
  double cutoff = 0.0;                     ///< Å
  bool shift = false;
  double offset = 0.0;                     ///< φ(r_c) when shifted (set by finalize())

  /// Unshifted φ(r) (eV) and dφ/dr (eV/Å). Inline: the pair loop calls it per pair.
  double raw(double r, double& dphi) const {
    if (style == Style::morse) return morse(exp_sse2(morse_exponent(r)), dphi);
    const double sr2 = sigma * sigma / (r * r), sr6 = sr2 * sr2 * sr2;
    dphi = -24.0 * epsilon * (2.0 * sr6 * sr6 - sr6) / r;
    return 4.0 * epsilon * (sr6 * sr6 - sr6);
  }
  /// Morse in two steps, so that a pair loop can take the exponentials two at a time
  /// (exp_sse2): x = e^{−α(r−r0)}, then φ and dφ/dr from x.
  /// (PairPotential::compute's two-lane loop repeats these operations: keep them in step.)
  double morse_exponent(double r) const { return 0.0 - alpha * (r - r0); }
  double morse(double x, double& dphi) const {
    const double xx = x * x;
    dphi = (2.0 * alpha * D0) * (x - xx);
    return D0 * (xx - 2.0 * x);
  }
  /// φ (shifted) and q = φ'/r of m pairs from their r², as operator() gives them one by one,
  /// to the bit; Morse four or two pairs at a time (lattice/morse_lanes.hpp: AVX2, SSE2).
  void evaluate(const double* r2, int m, double* phi, double* q) const;
  /// Computes `offset` from `shift`.
  void finalize();
  /// Shifted φ(r) for r < cutoff.
  double operator()(double r, double& dphi) const { return raw(r, dphi) - offset; }
};

class PairPotential : public Term {
 public:
  /// Acts on every pair, or only on pairs whose two atoms both belong to `species` (the house
  /// rule for a term's `species` key), and further only on the listed species `pairs` (each
  /// unordered, e.g. {"Fe", "Cr"}) when given. Names are resolved against each System at
  /// bind(); a name the System lacks is an InputError.
  PairPotential(PairFunction f, std::vector<std::string> species = {},
                std::vector<std::pair<std::string, std::string>> pairs = {});
  std::string type() const override { return "pair"; }
  bool conserves_total_spin() const override { return true; }  // no moments
  TermKind energy_kind() const override { return TermKind::lattice; }
  double cutoff() const override { return f_.cutoff; }
  bool depends_on_positions() const override { return true; }
  const PairFunction& function() const { return f_; }

  bool reads_full_list() const override { return false; }
  bool reads_half_list() const override { return true; }
  void bind(const System& s, const NeighborList& list) override;
  /// Each pair once on the half list (Newton's third law), the second atom's share scattered
  /// as in one thread's pass (half_list.hpp: bit-identical for any thread count);
  /// compute_reference() for a list without the half form.
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  /// The plain gather over the full list (each pair from both ends), the reference in tests.
  double compute_reference(const System& s, const NeighborList& list, Derivatives& d) const;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  double local_energy_change(const System&, const NeighborList&, int, const Vec3&, double) const override {
    return 0.0;
  }

 private:
  bool acts(int a, int b) const { return all_ || applies_[a * nspecies_ + b]; }
  PairFunction f_;
  std::vector<std::string> species_;
  std::vector<std::pair<std::string, std::string>> pairs_;
  bool all_ = true;
  int nspecies_ = 0;
  std::vector<char> applies_;  // [a * nspecies + b], resolved by bind()
  // Scratch for compute() (a term is not evaluated from two threads at once).
  mutable std::vector<double> site_;
  mutable std::vector<Vec3> shift_;
  mutable CrossShares<Vec3> cross_g_;  // q r_ij of pairs whose partner is in an earlier thread's range
  mutable std::vector<Mat3> own_virial_;
};

}  // namespace spinlat
