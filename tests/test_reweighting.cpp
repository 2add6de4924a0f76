// Histogram reweighting and the self-checked Tc from stored samples, against exact results:
// the 2D Ising model on L×L periodic lattices (L = 3, 4), whose joint density of states g(E, M)
// is enumerated exactly (2^9 and 2^16 states). Samples are drawn exactly (independently) from
// the Boltzmann distribution at a few temperatures; reweighted averages between them and the
// Binder crossing is located or refused. (Coverage of the crossing's error bars over many
// repetitions: tests/physics/test_reweighting_coverage.cpp.) Helpers: tests/ising_exact.hpp.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "ising_exact.hpp"
#include "spinlat/observables/critical.hpp"
#include "spinlat/observables/reweighting.hpp"

using namespace spinlat;
using namespace ising_exact;

TEST(SampleRecord, ThinsWithoutAveraging) {
  SampleRecord r(64);
  for (int k = 0; k < 1000; ++k) r.add(k, -k);
  // 1000 measurements into at most 64 pairs: stride 16 keeps measurements 0, 16, 32, ...
  EXPECT_EQ(r.stride(), 16);
  ASSERT_EQ(r.energy().size(), 63u);
  for (std::size_t i = 0; i < r.energy().size(); ++i) {
    EXPECT_EQ(r.energy()[i], 16.0 * double(i));
    EXPECT_EQ(r.order()[i], -16.0 * double(i));
  }
  SampleRecord off(0);
  off.add(1, 1);
  EXPECT_TRUE(off.energy().empty());
  EXPECT_THROW(SampleRecord(3), std::invalid_argument);
}

TEST(Reweighting, IsingFourByFourMatchesExactAverages) {
  // Five temperatures, 10000 exact samples each; averages at nine temperatures between and at
  // them, compared with the exact values: |z| < 4 for every one, and the mean z² over all 27
  // comparisons between 0.3 and 2.5 (calibrated errors; a factor 2 in the errors fails).
  const Dos& d = dos(4);
  Engine eng(42);
  const std::vector<double> ts = {1.5, 2.0, 2.5, 3.0, 3.5};
  MultiHistogram mh(sweep(d, ts, 10000, eng));
  const int B = mh.suggested_blocks();
  EXPECT_EQ(B, 16);
  EXPECT_FALSE(mh.short_blocks());
  const std::vector<double> targets = {1.6, 1.75, 2.0, 2.2, 2.27, 2.4, 2.75, 3.0, 3.3};
  std::vector<std::vector<Reweighted>> rw(B + 1);  // [0]: all samples; [b + 1]: block b left out
  for (int b = -1; b < B; ++b) {
    mh.solve(b, B);
    for (double t : targets) rw[b + 1].push_back(mh.at(kelvin(t)));
  }
  double z2 = 0.0;
  int n = 0;
  for (std::size_t k = 0; k < targets.size(); ++k) {
    const double t = targets[k];
    const Reweighted& full = rw[0][k];
    EXPECT_GT(full.effective_samples, mh.min_effective());
    const auto err = [&](double Reweighted::*f) {
      double mean = 0, ss = 0;
      for (int b = 1; b <= B; ++b) mean += rw[b][k].*f / B;
      for (int b = 1; b <= B; ++b) ss += (rw[b][k].*f - mean) * (rw[b][k].*f - mean);
      return std::sqrt((B - 1.0) / B * ss);
    };
    const Exact x = exact(d, t);
    const double ze = (full.energy - x.e) / err(&Reweighted::energy);
    const double zm = (full.order2 - x.m2) / err(&Reweighted::order2);
    const double zu = (full.binder - x.u4) / err(&Reweighted::binder);
    std::printf("  t = %.2f: e %.5f (exact %.5f, z %+.2f)  m2 %.4f (%.4f, %+.2f)  U4 %.4f (%.4f, %+.2f)\n", t,
                full.energy / kJ, x.e / kJ, ze, full.order2, x.m2, zm, full.binder, x.u4, zu);
    for (double z : {ze, zm, zu}) {
      EXPECT_LT(std::abs(z), 4.0) << "t = " << t;
      z2 += z * z;
      ++n;
    }
  }
  std::printf("  mean z^2 over %d comparisons: %.2f\n", n, z2 / n);
  EXPECT_GT(z2 / n, 0.3);
  EXPECT_LT(z2 / n, 2.5);
}

TEST(Reweighting, SingleHistogramIsExactForItsOwnSamples) {
  // One point: reweighting to its own temperature returns the plain sample averages.
  const Dos& d = dos(3);
  Engine eng(7);
  SizeSamples s = sweep(d, {2.3}, 5000, eng);
  MultiHistogram mh(s);
  mh.solve();
  const Reweighted r = mh.at(s.points[0].temperature);
  double e = 0, m2 = 0;
  for (std::size_t i = 0; i < 5000; ++i) {
    e += s.points[0].energy[i] / 5000;
    m2 += s.points[0].order[i] * s.points[0].order[i] / 5000;
  }
  EXPECT_NEAR(r.energy, e, 1e-12);
  EXPECT_NEAR(r.order2, m2, 1e-12);
  EXPECT_NEAR(r.effective_samples, 5000.0, 1e-6);
}

TEST(Reweighting, CorrelatedSamplesGetLargerBlocksNotSmallerErrors) {
  // Each exact sample repeated 8 times (τ_int ≈ 4): the information is unchanged, so the
  // jackknife error of ⟨e⟩ must stay that of the distinct samples (within 30 %), not shrink
  // by √8 as it would if the repeats were counted as independent.
  const Dos& d = dos(4);
  Engine eng(11);
  SizeSamples s = sweep(d, {2.0, 2.5}, 4000, eng), r = s;
  for (auto& p : r.points) {
    PointSamples q;
    q.temperature = p.temperature;
    for (std::size_t i = 0; i < p.energy.size(); ++i)
      for (int k = 0; k < 8; ++k) { q.energy.push_back(p.energy[i]); q.order.push_back(p.order[i]); }
    p = q;
  }
  const auto error_of_energy = [](const SizeSamples& x, double T, double* tau) {
    MultiHistogram mh(x);
    *tau = mh.tau()[0];
    const int B = 16;
    std::vector<double> v;
    for (int b = 0; b < B; ++b) { mh.solve(b, B); v.push_back(mh.at(T).energy); }
    double mean = 0, ss = 0;
    for (double y : v) mean += y / B;
    for (double y : v) ss += (y - mean) * (y - mean);
    return std::sqrt((B - 1.0) / B * ss);
  };
  const double T = kelvin(2.25);
  double tau1 = 0, tau8 = 0;
  const double e1 = error_of_energy(s, T, &tau1), e8 = error_of_energy(r, T, &tau8);
  std::printf("  error of <e>: distinct %.3g (tau %.2f), repeated x8 %.3g (tau %.2f)\n", e1, tau1, e8, tau8);
  EXPECT_NEAR(tau8, 4.0, 1.0);
  EXPECT_NEAR(e8 / e1, 1.0, 0.3);
}

TEST(CriticalFromSamples, RangesWithoutTransitionGiveNone) {
  const Dos &d3 = dos(3), &d4 = dos(4);
  Engine eng(99);
  // Ordered throughout (t ≤ 1.6, Tc ≈ 2.27) and disordered throughout (t ≥ 4).
  const std::vector<SizeSamples> cold = {sweep(d3, {1.0, 1.2, 1.4, 1.6}, 3000, eng), sweep(d4, {1.0, 1.2, 1.4, 1.6}, 3000, eng)};
  const CriticalTemperature a = critical_temperature_from_samples(cold);
  EXPECT_EQ(a.method, "none");
  EXPECT_TRUE(std::isnan(a.Tc));
  EXPECT_NE(a.notes.find("ordered phase throughout"), std::string::npos) << a.notes;
  EXPECT_NE(a.notes.find("above the range"), std::string::npos) << a.notes;
  const std::vector<SizeSamples> hot = {sweep(d3, {4.0, 5.0, 6.0}, 3000, eng), sweep(d4, {4.0, 5.0, 6.0}, 3000, eng)};
  const CriticalTemperature b = critical_temperature_from_samples(hot);
  EXPECT_EQ(b.method, "none");
  EXPECT_NE(b.notes.find("disordered phase throughout"), std::string::npos) << b.notes;
  EXPECT_NE(b.notes.find("below the range"), std::string::npos) << b.notes;
  std::printf("  cold: %s\n  hot: %s\n", a.notes.c_str(), b.notes.c_str());
}

TEST(CriticalFromSamples, IndependentOfThreadCount) {
  const Dos &d3 = dos(3), &d4 = dos(4);
  Engine eng(5);
  const std::vector<double> ts = {1.9, 2.2, 2.5, 2.8};
  const std::vector<SizeSamples> data = {sweep(d3, ts, 800, eng), sweep(d4, ts, 800, eng)};
  CriticalOptions opt;
  opt.grid = 41;
  ReweightedCurves a, b;
  omp_set_num_threads(1);
  const CriticalTemperature x = critical_temperature_from_samples(data, opt, &a);
  omp_set_num_threads(2);
  const CriticalTemperature y = critical_temperature_from_samples(data, opt, &b);
  EXPECT_EQ(x.notes, y.notes);
  EXPECT_TRUE(x.Tc == y.Tc || (std::isnan(x.Tc) && std::isnan(y.Tc)));
  for (std::size_t l = 0; l < a.binder.size(); ++l)
    for (std::size_t t = 0; t < a.binder[l].size(); ++t) {
      EXPECT_TRUE(a.binder[l][t].value == b.binder[l][t].value || std::isnan(a.binder[l][t].value));
      EXPECT_TRUE(a.susceptibility[l][t].error == b.susceptibility[l][t].error ||
                  std::isnan(a.susceptibility[l][t].error));
    }
}
