// A native model file (written by save_native_model, as `spinlat train` does) behind the
// `learned` term on periodic crystals: energies equal the model's own node energies, forces,
// magnetic forces and virial equal finite differences, and the Monte Carlo ΔE from the
// receptive field equals the full energy difference.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "learned_test_helpers.hpp"
#include "spinlat/core/crystal.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/learned/graph.hpp"
#include "spinlat/learned/learned_term.hpp"
#include "spinlat/learned/native_model.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/zeeman.hpp"
#include "spinlat/core/units.hpp"

using namespace spinlat;

namespace {

std::string temp_file(const std::string& name) { return test::temp_file("spinlat_native_term", name); }

using test::feco;

System fe_cell(const Int3& cells, std::uint64_t seed, double jiggle = 0.08) {
  return feco(cells, seed, 2.8665, jiggle);
}

std::string write_model(const std::string& name, bool soc, int interactions, double r_max) {
  torch::manual_seed(21);
  NativeModelConfig c;
  c.atomic_numbers = {26, 27};
  c.m_max = {2.5, 2.0};
  c.r_max = r_max;
  c.channels = 8;
  c.l_max = 2;
  c.spin_orbit = soc;
  c.interactions = interactions;
  c.avg_neighbors = 14.0;
  NativeModel m(c);
  m->set_e0({-4.1, -3.9});
  const std::string path = temp_file(name);
  save_native_model(m, path);
  return path;
}

std::unique_ptr<LearnedPotential> load(const std::string& path) {
  LearnedOptions o;
  o.model = path;
  return std::make_unique<LearnedPotential>(o);
}

double energy_fresh(LearnedPotential& t, const System& s) {
  const NeighborList list = build_neighbor_list(s, t.cutoff());
  t.bind(s, list);
  Derivatives none;
  return t.compute(s, list, none);
}

}  // namespace

TEST(NativeTerm, EnergyEqualsTheModelAndDerivativesMatchFiniteDifferences) {
  for (bool soc : {false, true}) {
    const std::string path = write_model(soc ? "soc.spl" : "nosoc.spl", soc, 2, 4.2);
    auto t = load(path);
    EXPECT_EQ(t->atomic_numbers(), (std::vector<int>{26, 27}));
    EXPECT_EQ(t->interactions(), 2);
    // 2×2×2 cells (5.7 Å): r_max 4.2 Å reaches past half the box, so atoms meet several
    // images of the same neighbour and their own images.
    System s = fe_cell({2, 2, 2}, soc ? 3 : 4);
    const NeighborList list = build_neighbor_list(s, t->cutoff());
    t->bind(s, list);
    std::vector<Vec3> f(s.size(), Vec3::Zero()), bm(s.size(), Vec3::Zero());
    Mat3 w = Mat3::Zero();
    Derivatives d{&f, &bm, &w};
    const double e = t->compute(s, list, d);

    // The same number straight from the model.
    NativeModel m = load_native_model(path);
    const Graph g = build_graph(s, list, t->cutoff());
    ModelInputs in;
    std::vector<double> pos, mag, sh;
    std::vector<std::int64_t> sp, snd(g.sender.begin(), g.sender.end()), rcv(g.receiver.begin(), g.receiver.end());
    for (std::size_t i = 0; i < s.size(); ++i) {
      const Vec3 mv = s.moment_vector(i);
      for (int a = 0; a < 3; ++a) pos.push_back(s.position[i][a]), mag.push_back(mv[a]);
      sp.push_back(s.species[i]);
    }
    for (const Vec3& v : g.shift) sh.insert(sh.end(), {v[0], v[1], v[2]});
    const auto N = static_cast<std::int64_t>(s.size()), E = static_cast<std::int64_t>(g.edges());
    in.positions = torch::tensor(pos, torch::kDouble).reshape({N, 3});
    in.magmom = torch::tensor(mag, torch::kDouble).reshape({N, 3});
    in.species = torch::tensor(sp);
    in.sender = torch::tensor(snd);
    in.receiver = torch::tensor(rcv);
    in.shifts = torch::tensor(sh, torch::kDouble).reshape({E, 3});
    EXPECT_NEAR(e, m->node_energy(in).sum().item<double>(), 1e-11);

    const double h = 1e-5, tol = 1e-7;
    Vec3 total = Vec3::Zero();
    for (const Vec3& x : f) total += x;
    EXPECT_LT(total.norm(), 1e-10);  // Newton's third law
    for (int i : {0, 5, 11}) {
      for (int a = 0; a < 3; ++a) {
        System p = s, q = s;
        p.position[i][a] += h;
        q.position[i][a] -= h;
        EXPECT_NEAR(f[i][a], -(energy_fresh(*t, p) - energy_fresh(*t, q)) / (2 * h), tol) << "force " << i << a;
        const double fdm = -(energy_fresh(*t, test::moment_shifted(s, i, a, h)) -
                             energy_fresh(*t, test::moment_shifted(s, i, a, -h))) / (2 * h);
        EXPECT_NEAR(bm[i][a], fdm, tol) << "magforce " << i << a;
      }
    }
    // Virial W = −(∂E/∂ε)ᵀ under r → (1+ε) r of positions and cell.
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) {
        const double de = energy_fresh(*t, test::strained(s, a, b, h)) - energy_fresh(*t, test::strained(s, a, b, -h));
        EXPECT_NEAR(w(b, a), -de / (2 * h), 1e-6) << "virial " << a << b;
      }
  }
}

TEST(NativeTerm, LocalEnergyChangeEqualsTheFullDifference) {
  for (int layers : {1, 2}) {
    const std::string path = write_model("local" + std::to_string(layers) + ".spl", true, layers, 3.0);
    auto t = load(path);
    const System s = fe_cell({5, 5, 5}, 8, 0.05);
    const NeighborList list = build_neighbor_list(s, t->cutoff());
    t->bind(s, list);
    Derivatives none;
    const double e = t->compute(s, list, none);
    double worst = 0.0;
    for (int i : {0, 77, 249}) {
      const Vec3 e_new = Vec3(-0.2, 0.9, 0.4).normalized();
      System moved = s;
      moved.spin[i] = e_new;
      moved.moment[i] *= 0.9;
      const double de = t->local_energy_change(s, list, i, e_new, moved.moment[i]);
      worst = std::max(worst, std::abs(de - (energy_fresh(*t, moved) - e)));
      t->bind(s, list);
      EXPECT_GT(std::abs(de), 1e-9);
    }
    EXPECT_LT(worst, 1e-11) << layers << " layers";
  }
}

TEST(NativeTerm, TrialCacheFollowsAcceptedRejectedAndOutsideChanges) {
  // A Metropolis-like sequence: random trials, accepted at random (the System takes the trial
  // moment) or rejected, with a moment changed behind the term's back now and then. Every ΔE
  // must equal the difference of full evaluations.
  const std::string path = write_model("cache.spl", false, 1, 3.0);
  auto t = load(path);
  System s = fe_cell({5, 5, 5}, 12, 0.05);
  const NeighborList list = build_neighbor_list(s, t->cutoff());
  t->bind(s, list);
  Derivatives none;
  Engine rng(99);
  double worst = 0.0;
  for (int trial = 0; trial < 40; ++trial) {
    const int i = static_cast<int>(uniform01(rng) * s.size()) % static_cast<int>(s.size());
    const Vec3 e_new = Vec3(uniform01(rng) - 0.5, uniform01(rng) - 0.5, uniform01(rng) - 0.5).normalized();
    const double m_new = s.moment[i] * (0.9 + 0.2 * uniform01(rng));
    const double de = t->local_energy_change(s, list, i, e_new, m_new);
    System moved = s;
    moved.spin[i] = e_new;
    moved.moment[i] = m_new;
    const System before = s;
    const bool ok = uniform01(rng) < 0.5;
    if (ok) s = moved;
    t->accept_trials({ok});  // reported before anything else evaluates the term
    const double exact = t->compute(moved, list, none) - t->compute(before, list, none);
    worst = std::max(worst, std::abs(de - exact));
    if (trial % 13 == 5) {                // an outside change (e.g. a dynamics step)
      const int k = (i + 7) % static_cast<int>(s.size());
      s.spin[k] = -s.spin[k];
    }
  }
  EXPECT_LT(worst, 1e-12);
}

TEST(NativeTerm, BatchedTrialsOfOneColourEqualTheirFullDifferences) {
  // The Metropolis sampler evaluates all trials of one colour in one call (sites farther apart
  // than trial_range() = 2L·r_max). Each ΔE must equal the full energy difference of that
  // trial alone.
  const std::string path = write_model("batch.spl", true, 1, 3.0);
  auto t = load(path);
  EXPECT_DOUBLE_EQ(t->trial_range(), 6.0);
  System s = fe_cell({6, 6, 6}, 14, 0.05);
  const NeighborList list = build_neighbor_list(s, t->cutoff());
  t->bind(s, list);
  // Sites pairwise farther apart than the trial range, greedily in index order.
  const NeighborList wide = build_neighbor_list(s, t->trial_range());
  std::vector<char> blocked(s.size(), 0);
  std::vector<int> sites;
  for (int i = 0; i < static_cast<int>(s.size()); ++i) {
    if (blocked[i]) continue;
    sites.push_back(i);
    for (int k = wide.begin(i); k < wide.end(i); ++k) blocked[wide.index[k]] = 1;
  }
  ASSERT_GE(sites.size(), 3u);
  Engine rng(5);
  std::vector<Vec3> spins;
  std::vector<double> moments;
  for (int i : sites) {
    spins.push_back(Vec3(uniform01(rng) - 0.5, uniform01(rng) - 0.5, uniform01(rng) - 0.5).normalized());
    moments.push_back(s.moment[i] * 1.05);
  }
  std::vector<double> de;
  t->local_energy_changes(s, list, sites, spins, moments, de);
  Derivatives none;
  const double e0 = t->compute(s, list, none);
  double worst = 0.0;
  for (std::size_t k = 0; k < sites.size(); ++k) {
    System moved = s;
    moved.spin[sites[k]] = spins[k];
    moved.moment[sites[k]] = moments[k];
    worst = std::max(worst, std::abs(de[k] - (t->compute(moved, list, none) - e0)));
  }
  std::printf("%zu batched trials: max |dE - full difference| = %.2e eV\n", sites.size(), worst);
  EXPECT_LT(worst, 1e-11);
}

TEST(NativeTerm, BatchedMetropolisSamplesTheLangevinFunction) {
  // Moments 8 Å apart (beyond r_max: the learned term gives them no directional energy) in a
  // Zeeman field: ⟨ê·B̂⟩ = coth x − 1/x, x = μ μB B/(k_B T) (Langevin, Ann. Chim. Phys. 5, 70 (1905)). The learned term
  // makes the sampler batch each colour's trials (here all 64 sites form one colour), so this
  // checks the batched Metropolis path against an exact result. Error bar from 40 batch means;
  // the test asks for 5 of them.
  const std::string path = write_model("langevin.spl", false, 1, 3.0);
  System s = build_supercell(standard_lattice("sc", 8.0, 0.0, {"Fe"}, {2.2}), {4, 4, 4});
  set_spins_random(s, 3);
  const double B = 100.0, x = 2.0;
  const double T = units::zeeman_energy(2.2, B) / (x * units::k_B);
  Hamiltonian h;
  LearnedOptions o;
  o.model = path;
  h.add(std::make_unique<LearnedPotential>(o));
  h.add(std::make_unique<Zeeman>(Vec3(0, 0, B)));
  h.bind(s);
  ASSERT_TRUE(h.batches_trials());
  MetropolisOptions mo;
  mo.move = MoveType::uniform;
  mo.seed = 17;
  MetropolisSampler mc(h, s, mo);
  mc.set_temperature(T);
  mc.run(s, 50);
  const int batches = 40, per_batch = 40;
  std::vector<double> means;
  for (int k = 0; k < batches; ++k) {
    double acc = 0.0;
    for (int sweep = 0; sweep < per_batch; ++sweep) {
      mc.run(s, 1);
      for (const Vec3& e : s.spin) acc += e.z();
    }
    means.push_back(acc / (per_batch * s.size()));
  }
  double mean = 0.0, var = 0.0;
  for (double m : means) mean += m / batches;
  for (double m : means) var += (m - mean) * (m - mean);
  const double err = std::sqrt(var / (batches - 1) / batches);
  const double exact = 1.0 / std::tanh(x) - 1.0 / x;
  std::printf("batched Metropolis: <e.B> = %.4f +- %.4f, exact %.4f (%d colours)\n", mean, err, exact,
              mc.coloring().colors);
  EXPECT_LT(err, 0.01);
  EXPECT_NEAR(mean, exact, 5 * err);
}
