// Full evaluations of native float64 models on the plain C++ evaluator (force_evaluator =
// "auto": NativeFastEvaluator's forward and hand-written reverse pass) against LibTorch
// autograd (force_evaluator = "torch", the reference path): energy, node energies, forces,
// magnetic forces and virial to 1e-10 relative, on jiggled periodic cells with random
// moments, for both bundled models and random-weight models with and without spin-orbit
// coupling (correlation 3, l_max 2, two layers); the same bits on 1 and 2 threads; and
// central finite differences of the plain C++ energy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "learned_test_helpers.hpp"
#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/learned/graph.hpp"
#include "spinlat/learned/learned_term.hpp"
#include "spinlat/learned/native_model.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

using namespace spinlat;

namespace {

std::string temp_file(const std::string& name) { return test::temp_file("spinlat_native_forces", name); }

std::string bundled(const std::string& name) { return std::string(SPINLAT_SOURCE_DIR) + "/inputs/models/" + name; }

// Random weights (LibTorch's initialisation), Fe and Co, correlation 3, l_max 2, two layers.
std::string random_model(const std::string& name, bool soc, int moment_l_max) {
  torch::manual_seed(soc ? 41 : 43);
  NativeModelConfig c;
  c.atomic_numbers = {26, 27};
  c.m_max = {2.5, 2.0};
  c.r_max = 4.0;
  c.channels = 8;
  c.l_max = 2;
  c.moment_l_max = moment_l_max;
  c.correlation = 3;
  c.spin_orbit = soc;
  c.interactions = 2;
  c.readout_hidden = {16, 8};
  c.avg_neighbors = 14.0;
  NativeModel m(c);
  // The one-body weights start at zero: give them values so their derivative is tested too;
  // and scale the message-passing weights up (LibTorch's initialisation gives forces of
  // 1e-4 eV/Å), so that every non-linearity works away from its linear regime.
  {
    torch::NoGradGuard no_grad;
    for (auto& p : m->named_parameters(true)) {
      if (p.key() == "one_body") p.value().copy_(0.1 * torch::randn_like(p.value()));
      if (p.key().rfind("interaction", 0) == 0 || p.key().rfind("product", 0) == 0) p.value().mul_(3.0);
    }
  }
  m->set_e0({-4.1, -3.9});
  const std::string path = temp_file(name);
  save_native_model(m, path);
  return path;
}

std::unique_ptr<LearnedPotential> load(const std::string& path, const std::string& force_evaluator) {
  LearnedOptions o;
  o.model = path;
  o.force_evaluator = force_evaluator;
  o.threads = 1;
  return std::make_unique<LearnedPotential>(o);
}

// bcc Fe (the bundled models know Fe only) or Fe/Co, jiggled, random moments.
System cell_for(const std::string& path, const Int3& cells, std::uint64_t seed) {
  if (path.find("/inputs/models/") == std::string::npos) return test::feco(cells, seed, 2.8665, 0.1);
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe"}, {2.2}), cells);
  set_spins_random(s, seed);
  Engine rng(seed + 5);
  test::jiggle_positions_and_moments(s, rng, 0.1);
  return s;
}

LearnedResult full(LearnedPotential& t, const System& s) {
  const NeighborList list = build_neighbor_list(s, t.cutoff());
  t.bind(s, list);
  const Graph g = build_graph(s, list, t.cutoff());
  return t.evaluate(s, g, true, true, true);
}

using test::max_abs;
using test::max_diff;

struct Case {
  std::string name, path;
};

std::vector<Case> cases() {
  return {{"fe_bcc.spl", bundled("fe_bcc.spl")},
          {"fe_bcc_2layer.spl", bundled("fe_bcc_2layer.spl")},
          {"random SOC (moment_l_max 2)", random_model("soc.spl", true, 2)},
          {"random no-SOC", random_model("nosoc.spl", false, 1)}};
}

}  // namespace

TEST(NativeForces, PlainCppEqualsLibTorchAutograd) {
  for (const Case& c : cases()) {
    auto fast = load(c.path, "auto");
    auto ref = load(c.path, "torch");
    ASSERT_TRUE(fast->fast_forces()) << c.name;
    ASSERT_FALSE(ref->fast_forces()) << c.name;
    // 3×3×3 cells (8.6 Å): r_max 4-4.5 Å reaches several periodic images.
    for (std::uint64_t seed : {3u, 4u}) {
      const System s = cell_for(c.path, {3, 3, 3}, seed);
      const LearnedResult a = full(*fast, s), b = full(*ref, s);
      EXPECT_LE(std::abs(a.energy - b.energy), 1e-10 * std::abs(b.energy)) << c.name;
      double worst_node = 0.0, scale_node = 0.0;
      for (std::size_t i = 0; i < s.size(); ++i) {
        worst_node = std::max(worst_node, std::abs(a.node_energy[i] - b.node_energy[i]));
        scale_node = std::max(scale_node, std::abs(b.node_energy[i]));
      }
      EXPECT_LE(worst_node, 1e-10 * scale_node) << c.name;
      const double f = max_diff(a.force, b.force), fs = max_abs(b.force);
      const double bm = max_diff(a.magnetic_force, b.magnetic_force), bs = max_abs(b.magnetic_force);
      const double w = (a.virial - b.virial).cwiseAbs().maxCoeff(), ws = b.virial.cwiseAbs().maxCoeff();
      std::printf("%-28s seed %llu: max |ΔF| %.1e of %.2e eV/Å, |ΔB| %.1e of %.2e eV/μB, |ΔW| %.1e of %.2e eV\n",
                  c.name.c_str(), static_cast<unsigned long long>(seed), f, fs, bm, bs, w, ws);
      EXPECT_GT(fs, 1e-3) << c.name;  // the comparison means something
      EXPECT_GT(bs, 1e-4) << c.name;
      EXPECT_LE(f, 1e-10 * fs) << c.name;
      EXPECT_LE(bm, 1e-10 * bs) << c.name;
      EXPECT_LE(w, 1e-10 * ws) << c.name;
    }
  }
}

TEST(NativeForces, SameBitsOnOneAndTwoThreads) {
#ifndef _OPENMP
  GTEST_SKIP() << "built without OpenMP";
#else
  // 432 atoms: above the evaluator's threshold for running nodes in parallel (256).
  for (const std::string& path : {bundled("fe_bcc_2layer.spl"), random_model("threads.spl", true, 2)}) {
    const System s = cell_for(path, {6, 6, 6}, 9);
    const int before = omp_get_max_threads();
    omp_set_num_threads(1);
    const LearnedResult a = full(*load(path, "auto"), s);
    omp_set_num_threads(2);
    const LearnedResult b = full(*load(path, "auto"), s);
    omp_set_num_threads(before);
    EXPECT_EQ(a.energy, b.energy);
    bool same = a.virial == b.virial;
    for (std::size_t i = 0; i < s.size(); ++i)
      same = same && a.force[i] == b.force[i] && a.magnetic_force[i] == b.magnetic_force[i];
    EXPECT_TRUE(same) << path;
  }
#endif
}

TEST(NativeForces, DerivativesMatchFiniteDifferences) {
  // Central differences of the plain C++ energy (h = 1e-5: error ~h² E‴ + ε E/h ≈ 1e-8).
  for (const std::string& path : {bundled("fe_bcc_2layer.spl"), random_model("fd.spl", true, 2)}) {
    auto t = load(path, "auto");
    const System s = cell_for(path, {2, 2, 2}, 6);
    const LearnedResult r = full(*t, s);
    auto energy = [&](const System& x) { return full(*t, x).energy; };
    const double h = 1e-5, tol = 2e-7;
    for (int i : {0, 7, 13}) {
      for (int a = 0; a < 3; ++a) {
        System p = s, q = s;
        p.position[i][a] += h;
        q.position[i][a] -= h;
        EXPECT_NEAR(r.force[i][a], -(energy(p) - energy(q)) / (2 * h), tol) << path << " force " << i << a;
        const double fdm = -(energy(test::moment_shifted(s, i, a, h)) - energy(test::moment_shifted(s, i, a, -h))) / (2 * h);
        EXPECT_NEAR(r.magnetic_force[i][a], fdm, tol) << path << " magnetic force " << i << a;
      }
    }
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) {
        const double de = energy(test::strained(s, a, b, h)) - energy(test::strained(s, a, b, -h));
        EXPECT_NEAR(r.virial(b, a), -de / (2 * h), 1e-6) << path << " virial " << a << b;
      }
  }
}

TEST(NativeForces, OptionValues) {
  const std::string path = bundled("fe_bcc.spl");
  LearnedOptions o;
  o.model = path;
  EXPECT_TRUE(LearnedPotential(o).fast_forces());
  o.dtype = "float32";  // float32 keeps LibTorch
  EXPECT_FALSE(LearnedPotential(o).fast_forces());
  o.dtype = "float64";
  o.force_evaluator = "fast";
  try {
    LearnedPotential t(o);
    ADD_FAILURE() << "no error for force_evaluator = \"fast\"";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("force_evaluator"), std::string::npos) << e.what();
  }
}
