// Critical temperature of the classical Heisenberg model from Binder-cumulant crossings.
//
// U4 = 1 − ⟨m⁴⟩/(3⟨m²⟩²) of two sizes is computed at four temperatures around the reference
// Tc (0.985, 0.995, 1.005, 1.015 × Tc_ref); the crossing is the linear interpolation of
// U4(L1) − U4(L2) between the bracketing temperatures (Binder, Z. Phys. B 43, 119 (1981)).
// References: k_B Tc/J = 1.4430 for sc (Holm & Janke, PRB 48, 936 (1993)) and
// 2.054 for bcc (Butera & Comi, PRB 56, 8212 (1997)); the sc antiferromagnet (J < 0) orders at
// the same |J|-scaled temperature (the sublattice gauge ê → −ê maps it onto the ferromagnet),
// seen here in the staggered magnetization. Each test must land within 1% of its reference.
//
// Updates: one Metropolis sweep (Gaussian moves) plus one Wolff sweep (≈ N flipped sites) per
// measurement; 500 such sweeps to equilibrate from random spins. Error bars: jackknife over 50
// bins, the same bin removed from all eight runs at once (runs are independent). Measured on
// the development machine (Release, 2 cores, about 60 s of CPU for the three tests):
//   sc  L = 8/16:   k_B Tc/J   = 1.4402 ± 0.0012 (−0.20% from 1.4430)
//   bcc L = 6/12:   k_B Tc/J   = 2.0500 ± 0.0017 (−0.19% from 2.054)
//   sc AF L = 8/16: k_B TN/|J| = 1.4395 ± 0.0009 (−0.24% from 1.4430)
// The common −0.2% is the finite-size shift of small-L crossings (and the curvature of
// U4(L1) − U4(L2) between the bracketing points), well inside the 1% tolerance.
// (bcc uses 6/12 conventional cells, 432 and 3456 spins, to keep the cost of sc 8/16.)
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/mc/wolff.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/heisenberg.hpp"

using namespace spinlat;

namespace {

constexpr int kBins = 50;
constexpr double kJ = 0.01;  // |J| in eV; temperatures are k_B T = t |J|

struct Run {
  std::string lattice;
  int L = 0;
  double J = 0, t = 0;
  int measure = 0;
  std::uint64_t seed = 0;
  std::vector<double> m2, m4;  // bin averages of m² and m⁴
};

void simulate(Run& r) {
  System s = build_supercell(standard_lattice(r.lattice, 1.0, 0.0, {"Fe"}, {1.0}),
                             Int3(r.L, r.L, r.L), /*antiferro=*/true);
  // Order parameter weights: +1 for a ferromagnet, the lattice's antiferromagnetic pattern
  // (G-type for sc) for J < 0, read off the antiferro-built spins before randomising them.
  std::vector<double> eta(s.size(), 1.0);
  if (r.J < 0)
    for (std::size_t i = 0; i < s.size(); ++i) eta[i] = s.spin[i].z() > 0 ? 1.0 : -1.0;
  set_spins_random(s, r.seed);
  Hamiltonian h;
  h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{r.J}));
  h.bind(s);
  const double T = r.t * kJ / units::k_B;
  MetropolisOptions o;
  o.seed = r.seed;
  MetropolisSampler mc(h, s, o);
  WolffSampler w(h, s, r.seed);
  mc.set_temperature(T);
  w.set_temperature(T);
  for (int k = 0; k < 500; ++k) {
    mc.equilibrate(s, 1);
    w.equilibrate(s, 1);
  }
  const double N = static_cast<double>(s.size());
  const int per = r.measure / kBins;
  r.m2.assign(kBins, 0.0);
  r.m4.assign(kBins, 0.0);
  for (int b = 0; b < kBins; ++b) {
    for (int k = 0; k < per; ++k) {
      mc.sweep(s);
      w.sweep(s);
      Vec3 m = Vec3::Zero();
      for (std::size_t i = 0; i < s.size(); ++i) m += eta[i] * s.spin[i];
      const double m2 = m.squaredNorm() / (N * N);
      r.m2[b] += m2 / per;
      r.m4[b] += m2 * m2 / per;
    }
  }
}

/// Binder cumulant from the bins, leaving out bin `skip` (−1: none).
double binder(const Run& r, int skip) {
  double a2 = 0, a4 = 0;
  int n = 0;
  for (int b = 0; b < kBins; ++b) {
    if (b == skip) continue;
    a2 += r.m2[b];
    a4 += r.m4[b];
    ++n;
  }
  a2 /= n;
  a4 /= n;
  return 1.0 - a4 / (3.0 * a2 * a2);
}

/// First sign change of d(t) = U_small − U_large, linearly interpolated; NaN if none.
double crossing(const std::vector<double>& t, const std::vector<double>& d) {
  for (std::size_t k = 0; k + 1 < t.size(); ++k)
    if ((d[k] <= 0) != (d[k + 1] <= 0))
      return t[k] + (t[k + 1] - t[k]) * d[k] / (d[k] - d[k + 1]);
  return std::numeric_limits<double>::quiet_NaN();
}

struct Crossing {
  double tc, err;
  std::vector<double> u_small, u_large;
};

Crossing binder_crossing(const std::string& lattice, int L1, int L2, double J, double ref,
                         int measure1, int measure2, std::uint64_t seed) {
  const std::vector<double> f = {0.985, 0.995, 1.005, 1.015};
  std::vector<double> t;
  for (double x : f) t.push_back(x * ref);
  std::vector<Run> runs;
  for (int size : {L2, L1})  // large runs first: better load balance
    for (std::size_t k = 0; k < t.size(); ++k)
      runs.push_back({lattice, size, J, t[k], size == L1 ? measure1 : measure2,
                      seed + 100 * static_cast<std::uint64_t>(size) + k, {}, {}});
  // Independent runs in parallel; each is serial and seeded by its own key, so the result
  // does not depend on the thread count.
#pragma omp parallel for schedule(dynamic, 1)
  for (long k = 0; k < static_cast<long>(runs.size()); ++k) simulate(runs[k]);

  const std::size_t nt = t.size();
  auto estimate = [&](int skip, std::vector<double>* us, std::vector<double>* ul) {
    std::vector<double> d(nt);
    for (std::size_t k = 0; k < nt; ++k) {
      const double a = binder(runs[nt + k], skip), b = binder(runs[k], skip);  // L1, L2
      d[k] = a - b;
      if (us) us->push_back(a);
      if (ul) ul->push_back(b);
    }
    return crossing(t, d);
  };
  Crossing c;
  c.tc = estimate(-1, &c.u_small, &c.u_large);
  double mean = 0, var = 0;
  std::vector<double> jk(kBins);
  for (int b = 0; b < kBins; ++b) mean += (jk[b] = estimate(b, nullptr, nullptr)) / kBins;
  for (double x : jk) var += (x - mean) * (x - mean);
  c.err = std::sqrt(var * (kBins - 1) / kBins);
  std::printf("%s L=%d/%d: crossing k_B Tc/|J| = %.4f +- %.4f (reference %.4f, %+.2f%%)\n",
              lattice.c_str(), L1, L2, c.tc, c.err, ref, 100.0 * (c.tc / ref - 1.0));
  for (std::size_t k = 0; k < nt; ++k)
    std::printf("   t = %.4f  U4(L=%d) = %.4f  U4(L=%d) = %.4f\n", t[k], L1, c.u_small[k], L2,
                c.u_large[k]);
  return c;
}

void expect_crossing(const Crossing& c, double ref) {
  ASSERT_TRUE(std::isfinite(c.tc)) << "no crossing within ±1.5% of the reference";
  EXPECT_NEAR(c.tc, ref, 0.01 * ref);
  EXPECT_LT(c.err, 0.004 * ref);  // the statistics resolve well below the tolerance
  // Sanity: between the disordered (4/9) and ordered (2/3) limits of an O(3) cumulant.
  for (double u : c.u_small) EXPECT_TRUE(u > 0.45 && u < 0.67) << u;
  for (double u : c.u_large) EXPECT_TRUE(u > 0.45 && u < 0.67) << u;
}

}  // namespace

TEST(CriticalTemperature, SimpleCubicFerromagnetBinderCrossing) {
  const Crossing c = binder_crossing("sc", 8, 16, kJ, 1.4430, 12000, 6000, 1000);
  expect_crossing(c, 1.4430);
}

TEST(CriticalTemperature, BccFerromagnetBinderCrossing) {
  const Crossing c = binder_crossing("bcc", 6, 12, kJ, 2.054, 12000, 5000, 2000);
  expect_crossing(c, 2.054);
}

TEST(CriticalTemperature, SimpleCubicAntiferromagnetNeelTemperature) {
  const Crossing c = binder_crossing("sc", 8, 16, -kJ, 1.4430, 12000, 6000, 3000);
  expect_crossing(c, 1.4430);
}

// The whole sweep workflow (the spinlat binary): sc Heisenberg ferromagnet, J = 10 meV, three
// sizes (L = 4, 6, 8), Metropolis + Wolff, eight temperatures 150–185 K around
// Tc = 1.4430 J/k_B = 167.46 K. Tc comes from multiple-histogram reweighting of the stored
// samples, Binder crossings of the three pairs located on the reweighted curves, jackknife
// errors, and the χ-peak finite-size-scaling cross-check. Required: the estimate is found and
// lies within 3σ + 1 % of 167.46 K (1 %: the known corrections to scaling of such small sizes,
// cf. the −0.2 % of L = 8/16 above).
TEST(CriticalTemperature, SweepWorkflowFindsHeisenbergTcFromReweightedCrossings) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("spinlat_sweep_tc_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "in.toml") << R"(seed = 11
[structure]
lattice = "sc"
a = 1.0
cells = [4, 4, 4]
species = ["Fe"]
moment = [1.0]
[[potential]]
type = "heisenberg"
J = [0.01]
[sweep]
temperatures = { from = 150.0, to = 185.0, step = 5.0 }
sizes = [4, 6, 8]
method = "mc"
algorithm = "wolff"
equilibrate = 500
measure = 4000
order = "ferro"
)";
  const std::string cmd = std::string(SPINLAT_BINARY) + " run " + (dir / "in.toml").string() + " -q -o " +
                          (dir / "out.h5").string() + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = pclose(p);
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << out;
  std::printf("%s", out.c_str());
  h5::File f = h5::File::open((dir / "out.h5").string());
  const double tc = f.attr_double("/sweep", "critical_temperature");
  const double err = f.attr_double("/sweep", "critical_temperature_err");
  const std::string method = f.attr_string("/sweep", "critical_temperature_method");
  const double ref = 1.4430 * 0.01 / units::k_B;
  std::printf("sweep workflow: Tc = %.2f +- %.2f K (%s), reference %.2f K (%+.2f%%, %.1f sigma)\n", tc, err,
              method.c_str(), ref, 100.0 * (tc / ref - 1.0), (tc - ref) / err);
  EXPECT_EQ(method, "binder-crossing");
  EXPECT_GT(err, 0.0);
  EXPECT_LT(err, 0.01 * ref);
  EXPECT_NEAR(tc, ref, 3.0 * err + 0.01 * ref);
  EXPECT_EQ(f.shape("/sweep/reweighted/binder")[0], 3u);
  fs::remove_all(dir);
}
