#pragma once
// Histogram reweighting of temperature sweeps.
//
//  * SampleRecord keeps the raw (energy per atom, order parameter) pairs of one sweep point for
//    reweighting, in bounded memory: when `max_stored` pairs are held, every second one is
//    dropped and the stride doubles. Thinning (not averaging) keeps each stored pair an exact
//    draw from the Boltzmann distribution, which reweighting needs (a block average of e is not
//    a sample of e).
//  * MultiHistogram: Ferrenberg & Swendsen, PRL 63, 1195 (1989) (multiple histograms / WHAM),
//    solved without binning as the minimum of the convex function of Shirts & Chodera,
//    J. Chem. Phys. 129, 124105 (2008) (MBAR), with Newton steps:
//        F(f) = Σ_n a_n ln Σ_j c_j e^{f_j − β_j E_n} − Σ_k c_k f_k,
//    E_n the total energy of stored sample n, a_n = 1/g_k(n) its weight (g = 2 τ_int, the
//    statistical inefficiency of its point, as Ferrenberg & Swendsen prescribe for correlated
//    data), c_k = N_k/g_k the effective sample count of point k and f_k = −ln Z(β_k). At the
//    minimum e^{−f_k} = Σ_n a_n e^{−β_k E_n}/D_n with D_n = Σ_j c_j e^{f_j − β_j E_n}, and any
//    average at any β is ⟨A⟩_β = Σ_n w_n A_n / Σ_n w_n, w_n = a_n e^{−β E_n}/D_n.
//  * Validity: the effective number of independent samples behind ⟨A⟩_β,
//    n_eff = (Σ w)² / Σ g_n w_n², must reach `min_effective` (a quarter of the smallest
//    point's N/g, so every simulated temperature passes); where it does not (histograms that
//    do not overlap) the curve is not reported. Single-histogram reweighting is the special case of one point.
//  * Errors: delete-one jackknife over blocks (Quenouille/Tukey), block b of every point left
//    out at once (points are independent runs), the whole analysis (free energies included)
//    repeated per block. Blocks hold ≥ 20 τ_int samples where the run allows (8 to 16 blocks);
//    shorter blocks are reported (`short_blocks`), since their errors are lower bounds.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace spinlat {

struct SampleRecordState {
  std::vector<double> energy, order;
  long long stride = 1, count = 0, max_stored = 0;
};

/// Raw (e, φ) pairs of one point, thinned to at most `max_stored` (even, ≥ 2; 0 stores none).
class SampleRecord {
 public:
  explicit SampleRecord(std::size_t max_stored = 0);
  void add(double energy_per_atom, double order_parameter);
  const std::vector<double>& energy() const { return energy_; }
  const std::vector<double>& order() const { return order_; }
  long long stride() const { return stride_; }  ///< measurements between stored pairs
  long long count() const { return count_; }    ///< measurements seen
  bool enabled() const { return max_stored_ > 0; }

  SampleRecordState state() const;
  void set_state(const SampleRecordState& s);

 private:
  std::vector<double> energy_, order_;
  long long stride_ = 1, count_ = 0, max_stored_ = 0;
};

/// Stored samples of one point: energy per atom (eV) and order parameter, in time order.
struct PointSamples {
  double temperature = 0.0;  ///< K
  std::vector<double> energy, order;
};

/// All points of one size.
struct SizeSamples {
  int size = 0;
  long long atoms = 1;  ///< the N of E = N e and of χ
  std::vector<PointSamples> points;
};

/// Reweighted averages at one temperature.
struct Reweighted {
  double energy = std::numeric_limits<double>::quiet_NaN();          ///< ⟨e⟩, eV/atom
  double order = std::numeric_limits<double>::quiet_NaN();           ///< ⟨φ⟩
  double susceptibility = std::numeric_limits<double>::quiet_NaN();  ///< N(⟨φ²⟩−⟨φ⟩²)/(k_B T), 1/eV
  double specific_heat = std::numeric_limits<double>::quiet_NaN();   ///< (⟨E²⟩−⟨E⟩²)/(N k_B² T²), k_B
  double binder = std::numeric_limits<double>::quiet_NaN();          ///< 1 − ⟨φ⁴⟩/(3⟨φ²⟩²)
  double order2 = std::numeric_limits<double>::quiet_NaN();          ///< ⟨φ²⟩
  double effective_samples = 0.0;                                    ///< n_eff
};

/// Multiple-histogram reweighting of the points of one size.
class MultiHistogram {
 public:
  /// `tau[k]`: τ_int of point k in stored samples (empty: measured with Sokal's window on the
  /// stored energy and order series). Points without samples are ignored.
  explicit MultiHistogram(const SizeSamples& data, std::vector<double> tau = {});

  /// Solves for the free energies using every sample except block `skip` of every point
  /// (−1: all samples), `blocks` blocks per point. Warm-started from the last solution.
  void solve(int skip = -1, int blocks = 1);
  Reweighted at(double temperature) const;

  std::size_t points() const { return beta_.size(); }
  const std::vector<double>& free_energies() const { return f_; }  ///< f_k = −ln Z_k (+ const)
  const std::vector<double>& tau() const { return tau_; }
  /// Jackknife blocks that keep ≥ 20 τ per block (clamped to 8..16).
  int suggested_blocks() const;
  /// True when suggested_blocks() had to use blocks shorter than 20 τ.
  bool short_blocks() const;
  double min_effective() const;  ///< validity threshold of at() (see the header comment)
  int iterations() const { return iterations_; }

 private:
  long long atoms_;
  std::vector<double> beta_, tau_, temperature_;
  std::vector<std::vector<double>> e_, phi_;  ///< per point: E − E_ref (eV, total) and φ
  std::vector<double> f_;
  std::vector<std::vector<double>> logd_;     ///< ln D_n per point and sample (current solve)
  std::vector<std::vector<double>> logw_;     ///< −ln g − ln D_n: the β-independent part of ln w_n
  std::vector<std::vector<char>> use_;        ///< sample included in the current solve
  double e_ref_ = 0.0;
  int iterations_ = 0;
};

}  // namespace spinlat
