// Issue 3 acceptance: in stochastic-LLG equilibrium the spin temperature (Nurdin & Schotte,
// PRE 61, 3579 (2000), observables/temperature.hpp) equals the bath temperature.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "spinlat/core/crystal.hpp"
#include "spinlat/dynamics/llg.hpp"
#include "spinlat/observables/temperature.hpp"
#include "spinlat/terms/heisenberg.hpp"
#include "spinlat/terms/hamiltonian.hpp"

using namespace spinlat;

TEST(LLGSpinTemperature, EqualsTheBathTemperature) {
  // bcc, two exchange shells (20 and 10 meV), 2.2 μB, random start; Heun, α = 0.5.
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0, {"Fe"}, {2.2}), Int3(6, 6, 6));
  set_spins_random(s, 17);
  Hamiltonian h;
  h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{0.02, 0.01}));
  h.bind(s);
  ASSERT_NE(h.spin_kernel(), nullptr);
  for (double T : {150.0, 400.0}) {
    LLGOptions st;
    st.dt = 2e-4;
    st.temperature = T;
    st.damping = {0.5};
    LLG llg(h, s, st, 99);
    llg.run(s, 3000);  // equilibrate (0.6 ps, ≫ 1/(α γ B))
    // 40 blocks of 150 steps; samples every 10 steps.
    std::vector<double> blocks;
    for (int b = 0; b < 40; ++b) {
      double sum = 0;
      for (int k = 0; k < 15; ++k) {
        llg.run(s, 10);
        sum += spin_temperature(s, h);
      }
      blocks.push_back(sum / 15);
    }
    double mean = 0, var = 0;
    for (double x : blocks) mean += x / blocks.size();
    for (double x : blocks) var += (x - mean) * (x - mean) / (blocks.size() - 1);
    const double err = std::sqrt(var / blocks.size());
    // 5σ statistical band plus Heun's O(dt) bias, bounded by 1.5% here.
    std::printf("bath %.0f K: T_spin = %.1f ± %.1f K\n", T, mean, err);
    EXPECT_NEAR(mean, T, 5 * err + 0.015 * T) << "T_spin = " << mean << " ± " << err << " K at bath " << T << " K";
    EXPECT_LT(err, 0.02 * T);
  }
}
