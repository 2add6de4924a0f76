// The learned potential term (TorchScript through LibTorch), validated against exact results:
// analytic models written in TorchScript here, whose energies are known in closed form and
// equal spinlat's analytic terms; derivatives against central finite differences; symmetries;
// exact Boltzmann sampling of a moment in a field (Langevin function).
#include <gtest/gtest.h>
#include <malloc.h>
#include <torch/script.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numeric>
#include <sstream>

#include "learned_test_helpers.hpp"
#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/workflows/build.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/learned/tools/evaluate.hpp"
#include "spinlat/learned/graph.hpp"
#include "spinlat/learned/learned_term.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/heisenberg.hpp"
#include "spinlat/terms/radial_exchange.hpp"

using namespace spinlat;

namespace {

std::string temp_file(const std::string& name) { return test::temp_file("spinlat_learned", name); }

std::string num(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // TorchScript float literal
  return s;
}

/// Saves a TorchScript module with the contract's buffers and the given forward() source.
void save_model(const std::string& path, const std::string& forward_source, double r_max,
                std::vector<std::int64_t> atomic_numbers = {27, 26}, int num_interactions = -1) {
  torch::jit::Module m("SpinlatTestModel");
  m.register_buffer("atomic_numbers", torch::tensor(atomic_numbers, torch::dtype(torch::kLong)));
  m.register_buffer("r_max", torch::tensor(r_max, torch::dtype(torch::kDouble)));
  if (num_interactions >= 0)
    m.register_buffer("num_interactions", torch::tensor(std::int64_t{num_interactions}, torch::dtype(torch::kLong)));
  m.define(forward_source);
  m.save(path);
}

/// Coefficients of the analytic one-layer model (per receiving atom i, over incoming edges):
///   e_i = Σ_e [ −½ J(r) ê_s·ê_i + ½ A e^{−r/ρ} fc(r) + K fc(r) (r̂·ê_i)² ]
///         − zee m_i,z + la |m_i|² + lb |m_i|⁴ + e0[species]
/// with the Bethe-Slater J(r) = 4a (r/d)² (1 − b (r/d)²) e^{−(r/d)²} (LAMMPS spin/exchange)
/// and fc(r) = (1 − (r/r_max)²)². Summed, the exchange is −Σ_{i<j} J(r_ij) ê_i·ê_j.
struct Coeffs {
  double a = 0.02726, b = 0.2171, d = 1.841;  // bcc Fe, Tranchida et al. 2018
  double A = 0.0, rho = 0.5, K = 0.0, zee = 0.0, la = 0.0, lb = 0.0;
  double e0_co = 0.0, e0_fe = 0.0;
  double r_max = 3.4;
};

std::string analytic_source(const Coeffs& c) {
  return R"(
def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:
    pos = data["positions"]
    m = data["magmom"]
    s = data["edge_index"][0]
    r = data["edge_index"][1]
    vec = pos[r] - pos[s] + data["shifts"]
    d = torch.sqrt((vec * vec).sum(-1))
    x2 = (d / )" + num(c.d) + R"() ** 2
    J = 4.0 * )" + num(c.a) + " * x2 * (1.0 - " + num(c.b) + R"( * x2) * torch.exp(-x2)
    mn = torch.sqrt((m * m).sum(-1))
    e = m / mn.unsqueeze(-1)
    fc = (1.0 - (d / )" + num(c.r_max) + R"() ** 2) ** 2
    proj = (vec * e[r]).sum(-1) / d
    edge = -0.5 * J * (e[s] * e[r]).sum(-1) + 0.5 * )" + num(c.A) + " * torch.exp(-d / " + num(c.rho) +
         R"() * fc + )" + num(c.K) + R"( * fc * proj * proj
    node = torch.zeros_like(mn).index_add(0, r, edge)
    e0 = torch.tensor([)" + num(c.e0_co) + ", " + num(c.e0_fe) + R"(], dtype=pos.dtype)
    node = node - )" + num(c.zee) + " * m[:, 2] + " + num(c.la) + " * mn ** 2 + " + num(c.lb) + R"( * mn ** 4
    node = node + (data["node_attrs"] * e0).sum(-1)
    return {"node_energy": node, "energy": node.sum()}
)";
}

/// Two message-passing layers: h_i = Σ_e fc ê_s·ê_i, then e_i = Σ_e c fc h_s h_i + c2 h_i²,
/// fc = 1 − (r/r_max)².
/// Node energies depend on moments two hops away.
std::string two_layer_source(double r_max, double c, double c2) {
  return R"(
def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:
    pos = data["positions"]
    m = data["magmom"]
    s = data["edge_index"][0]
    r = data["edge_index"][1]
    vec = pos[r] - pos[s] + data["shifts"]
    d = torch.sqrt((vec * vec).sum(-1))
    fc = 1.0 - (d / )" + num(r_max) + R"() ** 2
    e = m / torch.sqrt((m * m).sum(-1)).unsqueeze(-1)
    h = torch.zeros_like(pos[:, 0]).index_add(0, r, fc * (e[s] * e[r]).sum(-1))
    node = torch.zeros_like(h).index_add(0, r, )" + num(c) + " * fc * h[s] * h[r]) + " + num(c2) + R"( * h * h
    return {"node_energy": node}
)";
}

/// Expected node energies of the analytic model, from spinlat's brute-force neighbour list.
std::vector<double> hand_node_energy(const System& s, const Coeffs& c) {
  const NeighborList l = build_neighbor_list_reference(s, c.r_max);
  std::vector<double> e(s.size(), 0.0);
  for (std::size_t i = 0; i < s.size(); ++i) {
    for (int k = l.begin(i); k < l.end(i); ++k) {
      const int j = l.index[k];
      const double r = l.distance[k];
      const double x2 = (r / c.d) * (r / c.d);
      const double J = 4 * c.a * x2 * (1 - c.b * x2) * std::exp(-x2);
      const double fc = std::pow(1 - (r / c.r_max) * (r / c.r_max), 2);
      const double proj = l.displacement[k].dot(s.spin[i]) / r;
      e[i] += -0.5 * J * s.spin[i].dot(s.spin[j]) + 0.5 * c.A * std::exp(-r / c.rho) * fc + c.K * fc * proj * proj;
    }
    const double m = s.moment[i];
    e[i] += -c.zee * m * s.spin[i].z() + c.la * m * m + c.lb * m * m * m * m;
    e[i] += s.species_name[s.species[i]] == "Co" ? c.e0_co : c.e0_fe;
  }
  return e;
}

/// Distorted B2 FeCo (bcc, Fe corners, Co centres), random spins and moment sizes.
using test::feco;

Coeffs full_coeffs() {
  Coeffs c;
  c.A = 2.0;
  c.rho = 0.45;
  c.K = 0.003;
  c.zee = units::mu_B * 50.0;  // 50 T along z
  c.la = -0.02;
  c.lb = 0.001;
  c.e0_co = -1.5;
  c.e0_fe = -2.25;
  return c;
}

std::unique_ptr<LearnedPotential> load(const std::string& path, const std::string& dtype = "float64") {
  LearnedOptions o;
  o.model = path;
  o.dtype = dtype;
  o.threads = 1;
  return std::make_unique<LearnedPotential>(o);
}

/// A term bound to its own exact list (no skin).
struct Bound {
  LearnedPotential* term;
  NeighborList list;
  Bound(LearnedPotential& t, const System& s) : term(&t), list(build_neighbor_list(s, t.cutoff())) {
    t.bind(s, list);
  }
  double energy(const System& s) {
    Derivatives none;
    return term->compute(s, list, none);
  }
};

double energy_fresh(LearnedPotential& t, const System& s) { return Bound(t, s).energy(s); }

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

}  // namespace

TEST(LearnedPotential, FreedMemoryStaysInTheHeap) {
#ifdef __GLIBC__
  // ctest runs each test in a fresh process, where glibc would serve an 8 MB block by mmap (its
  // threshold starts at 128 kB) and unmap it on free: LibTorch's per-evaluation tensors did
  // that, faulting their pages in on every evaluation. After keep_freed_memory_in_heap() the
  // block comes from the heap, and freeing it does not shrink the heap.
  keep_freed_memory_in_heap();
  const std::size_t bytes = std::size_t{8} << 20;
  const struct mallinfo2 before = mallinfo2();
  void* p = std::malloc(bytes);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, bytes);
  const struct mallinfo2 during = mallinfo2();
  EXPECT_EQ(during.hblks, before.hblks) << "the block was mmapped";
  EXPECT_GE(during.arena, before.arena + bytes);
  std::free(p);
  const struct mallinfo2 after = mallinfo2();
  EXPECT_EQ(after.arena, during.arena) << "the heap was trimmed";
#else
  GTEST_SKIP() << "glibc only";
#endif
}

TEST(LearnedGraph, MaceEdgeConvention) {
  // Two atoms 1 Å apart along x in a 3 Å cubic box, r_max 2.5: each receives from the other's
  // nearest image (vector ±1 Å) and from the far image (vector ∓2 Å); no self-images (3 Å).
  System s;
  s.cell.h = 3.0 * Mat3::Identity();
  s.species_name = {"Fe"};
  s.species_mass = {55.845};
  s.add_atom(Vec3(0.5, 0, 0), 0, 2.0, Vec3::UnitZ());
  s.add_atom(Vec3(1.5, 0, 0), 0, 2.0, Vec3::UnitZ());
  const Graph g = build_graph(s, build_neighbor_list(s, 2.5), 2.5);
  ASSERT_EQ(g.edges(), 4u);
  for (std::size_t e = 0; e < g.edges(); ++e) {
    EXPECT_NE(g.sender[e], g.receiver[e]);
    // vector = pos[receiver] − pos[sender] + shift, |vector| < r_max, shift = unit_shift·h.
    const Vec3 v = s.position[g.receiver[e]] - s.position[g.sender[e]] + g.shift[e];
    EXPECT_LT(v.norm(), 2.5);
    EXPECT_NEAR(std::abs(v.x()), g.unit_shift[e].isZero() ? 1.0 : 2.0, 1e-12);
    EXPECT_TRUE((g.shift[e] - s.cell.h.transpose() * g.unit_shift[e].cast<double>()).isZero(1e-12));
  }
  // Grouped by receiver.
  EXPECT_EQ(g.offset, (std::vector<int>{0, 2, 4}));
  EXPECT_EQ(atomic_number("Fe"), 26);
  EXPECT_EQ(atomic_number("Og"), 118);
  EXPECT_EQ(atomic_number("fe"), 0);
  EXPECT_EQ(element_symbol(27), "Co");
}

TEST(LearnedPotential, EnergyAndSiteEnergiesMatchTheClosedForm) {
  const Coeffs c = full_coeffs();
  const std::string path = temp_file("analytic.pt");
  save_model(path, analytic_source(c), c.r_max);
  auto t = load(path);
  EXPECT_DOUBLE_EQ(t->cutoff(), c.r_max);
  EXPECT_EQ(t->atomic_numbers(), (std::vector<int>{27, 26}));
  EXPECT_EQ(t->interactions(), 0);

  const System s = feco({3, 3, 3}, 7);
  Bound b(*t, s);
  const std::vector<double> expect = hand_node_energy(s, c);
  std::vector<double> site(s.size(), 0.0);
  t->add_site_energies(s, b.list, site);
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(site[i], expect[i], 1e-12) << i;
  EXPECT_NEAR(b.energy(s), sum(expect), 1e-11);
  // The species one-hot follows atomic_numbers ([Co, Fe]), not the structure's order [Fe, Co]:
  // a wrong mapping would move every site energy by ±(e0_co − e0_fe) = ±0.75 eV.
  EXPECT_EQ(t->species_columns(s), (std::vector<int>{1, 0}));
}

TEST(LearnedPotential, ExchangeModelEqualsSpinlatsAnalyticExchange) {
  // The exchange-only model is −Σ_{i<j} J(r_ij) ê_i·ê_j: spinlat's bethe-slater term exactly
  // (energy, forces, magnetic forces, virial, ΔE), and on a perfect lattice with r_max between
  // the first and second shells, the Heisenberg term with J1 = J(r_nn).
  Coeffs c;
  c.r_max = 2.7;  // bcc a = 2.8665: shells at 2.482 and 2.8665 Å
  const std::string path = temp_file("exchange.pt");
  save_model(path, analytic_source(c), c.r_max, {26, 27}, 1);
  auto t = load(path);

  {
    System s = feco({3, 3, 3}, 11, 2.8665, 0.0);
    const double rnn = std::sqrt(3.0) / 2 * 2.8665, x2 = rnn * rnn / (c.d * c.d);
    const double J1 = 4 * c.a * x2 * (1 - c.b * x2) * std::exp(-x2);
    HeisenbergExchange heis(s, {J1});
    const NeighborList lh = build_neighbor_list(s, heis.cutoff());
    heis.bind(s, lh);
    Bound b(*t, s);
    std::vector<Vec3> bh(s.size(), Vec3::Zero()), bl(s.size(), Vec3::Zero());
    Derivatives dh, dl;
    dh.magnetic_force = &bh;
    dl.magnetic_force = &bl;
    const double eh = heis.compute(s, lh, dh), el = t->compute(s, b.list, dl);
    EXPECT_NEAR(el, eh, 1e-12 * std::abs(eh));
    for (std::size_t i = 0; i < s.size(); ++i) EXPECT_TRUE((bl[i] - bh[i]).isZero(1e-12)) << i;
    for (int i : {0, 5, 31}) {
      const Vec3 e_new = Vec3(0.3, -0.8, 0.2).normalized();
      EXPECT_NEAR(t->local_energy_change(s, b.list, i, e_new, s.moment[i]),
                  heis.local_energy_change(s, lh, i, e_new, s.moment[i]), 1e-13);
    }
  }
  {
    System s = feco({3, 3, 3}, 12);
    RadialExchange bs("bethe-slater", RadialFunction::bethe_slater(c.a, c.b, c.d, c.r_max));
    const NeighborList lr = build_neighbor_list(s, c.r_max);
    bs.bind(s, lr);
    Bound b(*t, s);
    std::vector<Vec3> fr(s.size(), Vec3::Zero()), fl = fr, br = fr, bl = fr;
    Mat3 wr = Mat3::Zero(), wl = Mat3::Zero();
    Derivatives dr{&fr, &br, &wr}, dl{&fl, &bl, &wl};
    const double er = bs.compute(s, lr, dr), el = t->compute(s, b.list, dl);
    EXPECT_NEAR(el, er, 1e-12 * std::abs(er));
    for (std::size_t i = 0; i < s.size(); ++i) {
      EXPECT_TRUE((fl[i] - fr[i]).isZero(1e-12)) << i;
      EXPECT_TRUE((bl[i] - br[i]).isZero(1e-12)) << i;
    }
    EXPECT_TRUE((wl - wr).isZero(1e-11)) << wl << "\n" << wr;
  }
}

TEST(LearnedPotential, DerivativesMatchFiniteDifferences) {
  // Central differences, step h: truncation O(h²·E''') ~ 1e-10 and rounding ~1e-16·E/h.
  const Coeffs c = full_coeffs();
  const std::string path = temp_file("analytic_fd.pt");
  save_model(path, analytic_source(c), c.r_max);
  auto t = load(path);
  System s = feco({2, 2, 2}, 3);
  Bound b(*t, s);
  std::vector<Vec3> f(s.size()), bm(s.size());
  Mat3 w = Mat3::Zero();
  for (auto& x : f) x.setZero();
  for (auto& x : bm) x.setZero();
  Derivatives d{&f, &bm, &w};
  const double e0 = t->compute(s, b.list, d);
  EXPECT_NEAR(e0, sum(hand_node_energy(s, c)), 1e-11);

  const double h = 1e-5, tol = 2e-8;
  double dev_f = 0.0, dev_b = 0.0, dev_w = 0.0;
  Vec3 total = Vec3::Zero();
  for (const Vec3& x : f) total += x;
  EXPECT_LT(total.norm(), 1e-12);  // translation invariance: Newton's third law

  for (int i : {0, 3, 9, 14}) {
    for (int a = 0; a < 3; ++a) {
      System p = s, m = s;
      p.position[i][a] += h;
      m.position[i][a] -= h;
      const double fd = -(energy_fresh(*t, p) - energy_fresh(*t, m)) / (2 * h);
      EXPECT_NEAR(f[i][a], fd, tol) << "force atom " << i << " axis " << a;
      dev_f = std::max(dev_f, std::abs(f[i][a] - fd));
      // −∂E/∂m along a: the vector m = |m| ê moves, direction and size.
      const double fdm = -(energy_fresh(*t, test::moment_shifted(s, i, a, h)) -
                           energy_fresh(*t, test::moment_shifted(s, i, a, -h))) / (2 * h);
      EXPECT_NEAR(bm[i][a], fdm, tol) << "magnetic force atom " << i << " axis " << a;
      dev_b = std::max(dev_b, std::abs(bm[i][a] - fdm));
    }
  }

  // Virial: W = −∂E/∂ε for r → (1+ε) r on positions and lattice vectors alike. The anisotropic
  // pair term (r̂·ê_i)² couples space to fixed spins, so W is not symmetric: check all nine.
  for (int a = 0; a < 3; ++a)
    for (int bb = 0; bb < 3; ++bb) {
      const double e[2] = {energy_fresh(*t, test::strained(s, a, bb, h)),
                           energy_fresh(*t, test::strained(s, a, bb, -h))};
      // W_ab = −Σ r_a ∂E/∂r_b, while ∂E/∂ε_ab = Σ ∂E/∂r_a r_b: W = −(∂E/∂ε)ᵀ.
      EXPECT_NEAR(w(bb, a), -(e[0] - e[1]) / (2 * h), 1e-7) << a << bb;
      dev_w = std::max(dev_w, std::abs(w(bb, a) + (e[0] - e[1]) / (2 * h)));
    }
  std::printf("finite differences, max |deviation|: force %.1e eV/A, magnetic force %.1e eV/muB, "
              "virial %.1e eV (|W| = %.3f eV)\n", dev_f, dev_b, dev_w, w.norm());
  EXPECT_GT(std::abs(w(0, 1) - w(1, 0)) + std::abs(w(0, 2) - w(2, 0)) + std::abs(w(1, 2) - w(2, 1)), 1e-6)
      << "the test model should have an asymmetric virial";
}

TEST(LearnedPotential, SmallCellsWithManyImagesOfTheSamePair) {
  // r_max far above half the box: one atom meets dozens of its own images and two atoms meet
  // many images of each other. Energies against the closed form, derivatives against
  // differences, ΔE against the energy difference.
  Coeffs c = full_coeffs();
  c.r_max = 5.0;
  c.A = 0.5;
  const std::string path = temp_file("analytic_big_rmax.pt");
  save_model(path, analytic_source(c), c.r_max, {27, 26}, 1);
  auto t = load(path);
  for (const char* lat : {"sc", "bcc"}) {
    const bool sc = std::string(lat) == "sc";
    System s = build_supercell(standard_lattice(lat, 2.3, 0.0, sc ? std::vector<std::string>{"Fe"}
                                                                   : std::vector<std::string>{"Fe", "Co"},
                                                sc ? std::vector<double>{2.2} : std::vector<double>{2.2, 1.7}),
                               {1, 1, 1});
    set_spins_random(s, 5);
    s.cell.h(0, 1) = 0.4;  // triclinic
    if (s.size() > 1) s.position[1] += Vec3(0.05, -0.1, 0.07);
    Bound b(*t, s);
    const Graph g = build_graph(s, b.list, c.r_max);
    EXPECT_GT(g.edges(), 30 * s.size()) << lat;
    const double e = b.energy(s);
    EXPECT_NEAR(e, sum(hand_node_energy(s, c)), 1e-11) << lat;

    std::vector<Vec3> f(s.size(), Vec3::Zero()), bm(s.size(), Vec3::Zero());
    Mat3 w = Mat3::Zero();
    Derivatives d{&f, &bm, &w};
    t->compute(s, b.list, d);
    const double h = 1e-5;
    for (int a = 0; a < 3; ++a) {
      System p = s, m = s;
      p.position[0][a] += h;
      m.position[0][a] -= h;
      EXPECT_NEAR(f[0][a], -(energy_fresh(*t, p) - energy_fresh(*t, m)) / (2 * h), 2e-8) << lat;
      for (int bb = 0; bb < 3; ++bb) {
        const double ee[2] = {energy_fresh(*t, test::strained(s, a, bb, h)),
                              energy_fresh(*t, test::strained(s, a, bb, -h))};
        EXPECT_NEAR(w(bb, a), -(ee[0] - ee[1]) / (2 * h), 2e-7) << lat << " " << a << bb;
      }
    }
    // ΔE includes the atom's coupling to its own images (the anisotropic term changes).
    const Vec3 e_new = Vec3(1, 2, -0.5).normalized();
    System moved = s;
    moved.spin[0] = e_new;
    moved.moment[0] = 1.9;
    EXPECT_NEAR(t->local_energy_change(s, b.list, 0, e_new, 1.9), energy_fresh(*t, moved) - e, 1e-12) << lat;
  }
}

TEST(LearnedPotential, InvariantUnderTranslationPermutationAndJointRotation) {
  Coeffs c = full_coeffs();
  c.zee = 0.0;  // a fixed field would break rotation invariance
  const std::string path = temp_file("analytic_sym.pt");
  save_model(path, analytic_source(c), c.r_max);
  auto t = load(path);
  const System s = feco({2, 2, 3}, 21);
  const auto forces = [&](const System& x, double& e, std::vector<Vec3>& b) {
    Bound bound(*t, x);
    std::vector<Vec3> f(x.size(), Vec3::Zero());
    b.assign(x.size(), Vec3::Zero());
    Derivatives d{&f, &b, nullptr};
    e = t->compute(x, bound.list, d);
    return f;
  };
  double e0;
  std::vector<Vec3> b0;
  const std::vector<Vec3> f0 = forces(s, e0, b0);

  // Translation, then wrapping into the cell (the graph's images change, the energy does not).
  System tr = s;
  for (auto& r : tr.position) r = tr.cell.wrap(r + Vec3(1.3, -0.7, 2.9));
  double e1;
  std::vector<Vec3> b1;
  std::vector<Vec3> f1 = forces(tr, e1, b1);
  EXPECT_NEAR(e1, e0, 1e-11);
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_TRUE((f1[i] - f0[i]).isZero(1e-11));

  // Permutation of the atoms.
  std::vector<int> perm(s.size());
  std::iota(perm.begin(), perm.end(), 0);
  Engine rng(99);
  for (std::size_t k = perm.size() - 1; k > 0; --k) std::swap(perm[k], perm[rng() % (k + 1)]);
  System pm = s;
  for (std::size_t k = 0; k < s.size(); ++k) {
    pm.position[k] = s.position[perm[k]];
    pm.spin[k] = s.spin[perm[k]];
    pm.moment[k] = s.moment[perm[k]];
    pm.species[k] = s.species[perm[k]];
  }
  f1 = forces(pm, e1, b1);
  EXPECT_NEAR(e1, e0, 1e-11);
  for (std::size_t k = 0; k < s.size(); ++k) {
    EXPECT_TRUE((f1[k] - f0[perm[k]]).isZero(1e-11));
    EXPECT_TRUE((b1[k] - b0[perm[k]]).isZero(1e-11));
  }

  // Joint rotation of positions, cell and moments (spin-orbit-like model: invariant only jointly).
  const Mat3 R = Eigen::AngleAxisd(0.83, Vec3(1, -2, 0.5).normalized()).toRotationMatrix();
  System rot = s;
  for (auto& r : rot.position) r = R * r;
  for (auto& e : rot.spin) e = R * e;
  rot.cell.h = s.cell.h * R.transpose();
  f1 = forces(rot, e1, b1);
  EXPECT_NEAR(e1, e0, 1e-11);
  for (std::size_t i = 0; i < s.size(); ++i) {
    EXPECT_TRUE((f1[i] - R * f0[i]).isZero(1e-11));
    EXPECT_TRUE((b1[i] - R * b0[i]).isZero(1e-11));
  }
  // Rotating space alone changes the energy through the anisotropic term: the check can fail.
  System space_only = rot;
  space_only.spin = s.spin;
  EXPECT_GT(std::abs(energy_fresh(*t, space_only) - e0), 1e-6);
}

TEST(LearnedPotential, LocalEnergyChangeIsExactOnTheReceptiveField) {
  // ΔE from the 2L-hop subgraph must equal the full energy difference; with the model's
  // num_interactions understated (1 for a two-layer model) it must not: the 2-hop part is lost.
  const double r_max = 2.6;  // nearest neighbours of bcc a = 2.8665 only
  const std::string one = temp_file("one_layer.pt"), two = temp_file("two_layer.pt"),
                    two_wrong = temp_file("two_layer_wrong.pt"), two_full = temp_file("two_layer_full.pt");
  Coeffs c = full_coeffs();
  c.r_max = r_max;
  save_model(one, analytic_source(c), r_max, {27, 26}, 1);
  save_model(two, two_layer_source(r_max, 0.05, 0.01), r_max, {27, 26}, 2);
  save_model(two_wrong, two_layer_source(r_max, 0.05, 0.01), r_max, {27, 26}, 1);
  save_model(two_full, two_layer_source(r_max, 0.05, 0.01), r_max, {27, 26}, -1);
  const System s = feco({5, 5, 5}, 8, 2.8665, 0.05);
  {
    // The 4-hop neighbourhood is a proper part of the cell: the subgraph path is exercised.
    const Graph g = build_graph(s, build_neighbor_list(s, r_max), r_max);
    const Subgraph sub = extract_subgraph(g, 0, 4);
    EXPECT_LT(sub.graph.nodes, s.size());
    EXPECT_GT(sub.graph.nodes, 100u);
  }
  for (const std::string& path : {one, two, two_wrong, two_full}) {
    auto t = load(path);
    Bound b(*t, s);
    const double e = b.energy(s);
    double worst = 0.0;
    for (int i : {0, 77, 249}) {
      const Vec3 e_new = Vec3(-0.2, 0.9, 0.4).normalized();
      System moved = s;
      moved.spin[i] = e_new;
      moved.moment[i] *= 0.9;
      const double de = t->local_energy_change(s, b.list, i, e_new, moved.moment[i]);
      const double exact = energy_fresh(*t, moved) - e;
      worst = std::max(worst, std::abs(de - exact));
      // Detailed balance needs ΔE(a→b) = −ΔE(b→a) (to rounding: the energy before a move
      // comes from the term's cache of node energies, the one after from the subgraph).
      // An understated receptive field breaks it too.
      Bound back(*t, moved);
      if (path != two_wrong) {
        EXPECT_NEAR(t->local_energy_change(moved, back.list, i, s.spin[i], s.moment[i]), -de, 1e-13);
      }
    }
    std::printf("local dE vs full difference, %s: max |diff| = %.2e eV\n",
                std::filesystem::path(path).filename().c_str(), worst);
    if (path == two_wrong)
      EXPECT_GT(worst, 1e-5) << "an understated receptive field must show";
    else
      EXPECT_LT(worst, 1e-12) << path;
  }
}

TEST(LearnedPotential, StaleListWithSkinGivesTheFreshEnergy) {
  // The Hamiltonian keeps its list while atoms move less than skin/2; the term filters
  // r < r_max at the current positions, so pairs entering or leaving the cutoff count right.
  const Coeffs c = full_coeffs();
  const std::string path = temp_file("analytic_skin.pt");
  save_model(path, analytic_source(c), c.r_max);
  LearnedOptions o;
  o.model = path;
  Hamiltonian h;
  h.add(std::make_unique<LearnedPotential>(o));
  h.set_skin(0.6);
  System s = feco({3, 3, 3}, 4);
  h.bind(s);
  Engine rng(5);
  for (auto& r : s.position)
    for (int k = 0; k < 3; ++k) r[k] += 0.25 * (2 * uniform01(rng) - 1) / std::sqrt(3.0);
  ASSERT_FALSE(h.update(s));  // no atom moved more than skin/2
  EXPECT_NEAR(h.energy(s), sum(hand_node_energy(s, c)), 1e-11);
  const auto site = h.site_energies(s);
  EXPECT_NEAR(sum(site), h.energy(s), 1e-11);
}

TEST(LearnedPotential, Float32ModelAgreesToSinglePrecision) {
  const Coeffs c = full_coeffs();
  const std::string path = temp_file("analytic_f32.pt");
  save_model(path, analytic_source(c), c.r_max);
  auto t64 = load(path), t32 = load(path, "float32");
  EXPECT_DOUBLE_EQ(t32->cutoff(), c.r_max);  // read before the conversion to float32
  const System s = feco({2, 2, 2}, 13);
  const double e64 = energy_fresh(*t64, s), e32 = energy_fresh(*t32, s);
  std::printf("float32 vs float64: relative energy difference %.2e\n", std::abs(e32 - e64) / std::abs(e64));
  EXPECT_NEAR(e32, e64, 1e-5 * std::abs(e64));
  EXPECT_NE(e32, e64);  // it really ran in single precision
}

TEST(LearnedPotential, MetropolisWithLocalEnergyChangeSamplesTheLangevinFunction) {
  // One moment μ in a field B (Langevin, Ann. Chim. Phys. 5, 70 (1905)): ⟨ê·B̂⟩ = coth(x) − 1/x, x = μ μB B/(k_B T).
  // Metropolis with independent uniform proposals on the sphere; the error bar is from 40
  // batch means, and the test asks for 5 of them.
  Coeffs c;
  c.a = 0.0;
  c.zee = units::mu_B * 100.0;
  c.r_max = 3.0;
  const std::string path = temp_file("zeeman.pt");
  save_model(path, analytic_source(c), c.r_max, {26, 27});
  auto t = load(path);
  System s;
  s.cell.h = 12.0 * Mat3::Identity();
  s.species_name = {"Fe"};
  s.species_mass = {55.845};
  s.add_atom(Vec3(1, 2, 3), 0, 2.2, Vec3::UnitX());
  Bound b(*t, s);
  const double x = 2.0, kT = 2.2 * c.zee / x;
  const double exact = 1.0 / std::tanh(x) - 1.0 / x;
  Engine rng(derive_seed(2024, StreamPurpose::metropolis, 0));
  const int batches = 40, per_batch = 250;
  std::vector<double> means;
  for (int k = 0; k < batches; ++k) {
    double acc = 0.0;
    for (int step = 0; step < per_batch; ++step) {
      const double z = 2 * uniform01(rng) - 1, phi = 2 * units::kPi * uniform01(rng);
      const double rho = std::sqrt(1 - z * z);
      const Vec3 e_new(rho * std::cos(phi), rho * std::sin(phi), z);
      const double de = t->local_energy_change(s, b.list, 0, e_new, s.moment[0]);
      if (step == 0 && k == 0) {
        EXPECT_NEAR(de, -c.zee * 2.2 * (e_new.z() - s.spin[0].z()), 1e-15);
      }
      const bool ok = de <= 0 || uniform01(rng) < std::exp(-de / kT);
      if (ok) s.spin[0] = e_new;
      t->accept_trials({ok});
      acc += s.spin[0].z();
    }
    means.push_back(acc / per_batch);
  }
  const double mean = sum(means) / batches;
  double var = 0.0;
  for (double m : means) var += (m - mean) * (m - mean);
  const double err = std::sqrt(var / (batches - 1) / batches);
  std::printf("Langevin: <e.B> = %.4f +- %.4f, exact %.4f\n", mean, err, exact);
  EXPECT_LT(err, 0.01);
  EXPECT_NEAR(mean, exact, 5 * err) << "error bar " << err;
}

TEST(LearnedPotential, ClearErrors) {
  const Coeffs c = full_coeffs();
  const std::string good = temp_file("good.pt");
  save_model(good, analytic_source(c), c.r_max);
  const auto message = [](const std::function<void()>& f) -> std::string {
    try {
      f();
    } catch (const InputError& e) {
      return e.what();
    }
    return "(no InputError)";
  };
  // Not a TorchScript archive; missing file.
  const std::string text = temp_file("not_a_model.pt");
  std::ofstream(text) << "this is not a zip archive\n";
  EXPECT_NE(message([&] { load(text); }).find("not a TorchScript archive"), std::string::npos);
  EXPECT_NE(message([&] { load(temp_file("missing.pt")); }).find("not found"), std::string::npos);

  // A species the model does not cover, and one that is no element symbol.
  auto t = load(good);
  const System ni = build_supercell(standard_lattice("bcc", 2.87, 0, {"Fe", "Ni"}, {2.2, 0.6}), {2, 2, 2});
  const std::string m1 = message([&] { Bound b(*t, ni); });
  EXPECT_NE(m1.find("does not cover species 'Ni'"), std::string::npos) << m1;
  EXPECT_NE(m1.find("Co, Fe"), std::string::npos) << m1;
  const System fe1 = build_supercell(standard_lattice("bcc", 2.87, 0, {"Fe1", "Fe2"}, {2.2, 2.2}), {2, 2, 2});
  EXPECT_NE(message([&] { Bound b(*t, fe1); }).find("species_map"), std::string::npos);
  LearnedOptions o;
  o.model = good;
  o.species_map = {{"Fe1", 26}, {"Fe2", 27}};
  LearnedPotential mapped(o);
  EXPECT_EQ(mapped.species_columns(fe1), (std::vector<int>{1, 0}));

  // Models that break the contract: no node_energy, NaN, missing buffers.
  const System s = feco({2, 2, 2}, 1);
  const std::string no_node = temp_file("no_node.pt"), nan = temp_file("nan.pt"), no_buf = temp_file("no_buf.pt");
  save_model(no_node, R"(
def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:
    return {"energy": data["positions"].sum()}
)", 3.0);
  save_model(nan, R"(
def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:
    return {"node_energy": torch.sqrt(data["positions"][:, 0] - 1000.0)}
)", 3.0);
  {
    torch::jit::Module m("NoBuffers");
    m.define(R"(
def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:
    return {"node_energy": data["positions"][:, 0]}
)");
    m.save(no_buf);
  }
  auto tn = load(no_node);
  EXPECT_NE(message([&] { Bound b(*tn, s); }).find("no 'node_energy'"), std::string::npos);
  auto tnan = load(nan);
  EXPECT_NE(message([&] { Bound b(*tnan, s); }).find("non-finite"), std::string::npos);
  EXPECT_NE(message([&] { load(no_buf); }).find("'atomic_numbers'"), std::string::npos);

  // Extensions that cannot be loaded.
  o.extensions = {temp_file("no_such_ops.so")};
  EXPECT_NE(message([&] { LearnedPotential x(o); }).find("cannot load extension"), std::string::npos);
}

TEST(LearnedPotential, FactoryReadsTheTomlTable) {
  const Coeffs c = full_coeffs();
  const std::string path = temp_file("factory.pt");
  save_model(path, analytic_source(c), c.r_max);
  const std::string dir = std::filesystem::path(path).parent_path().string();
  TermRegistry reg = builtin_terms();
  add_learned_terms(reg);
  ASSERT_TRUE(reg.has("learned"));
  const System s = feco({2, 2, 2}, 2);
  TermContext ctx;
  ctx.system = &s;
  ctx.input_dir = dir;
  ctx.threads = 1;

  toml::table ok = toml::parse(R"(type = "learned"
model = "factory.pt"
dtype = "float64"
species_map = { Fe = "Fe", Co = 27 }
)");
  Params p(ok, "in.toml", "potential.0");
  TermPtr t = reg.make(p, ctx);
  ASSERT_EQ(t->type(), "learned");
  EXPECT_DOUBLE_EQ(t->cutoff(), c.r_max);
  const NeighborList l = build_neighbor_list(s, t->cutoff());
  t->bind(s, l);
  Derivatives none;
  EXPECT_NEAR(t->compute(s, l, none), sum(hand_node_energy(s, c)), 1e-11);

  const auto fails = [&](const std::string& src, const std::string& what) {
    toml::table tb = toml::parse(src);
    Params q(tb, "in.toml", "potential.0");
    try {
      reg.make(q, ctx);
      ADD_FAILURE() << "no error for " << src;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  fails("type = \"learned\"\nmodel = \"factory.pt\"\ndtpye = \"float32\"\n", "did you mean 'dtype'");
  fails("type = \"learned\"\nmodel = \"factory.pt\"\ndtype = \"float16\"\n", "dtype");
  fails("type = \"learned\"\nmodel = \"nope.pt\"\n", "not found");
  fails("type = \"learned\"\nmodel = \"factory.pt\"\nspecies_map = { Fe = \"Xx\" }\n", "element symbol");
}


TEST(LearnedEval, FramesGetEnergyForcesMagforcesAndStress) {
  // `spinlat eval`: each frame evaluated on its own structure; a periodic frame and a
  // non-periodic cluster whose species list is in the other order ([Co, Fe]).
  const Coeffs c = full_coeffs();
  const std::string path = temp_file("eval.pt");
  save_model(path, analytic_source(c), c.r_max, {27, 26}, 1);
  LearnedOptions o;
  o.model = path;
  Hamiltonian h;
  h.add(std::make_unique<LearnedPotential>(o));

  std::vector<Frame> frames(2);
  frames[0].system = feco({2, 2, 2}, 31);
  frames[0].info["REF_energy"] = -1.0;
  System cluster;
  cluster.cell.h = 20.0 * Mat3::Identity();
  cluster.cell.periodic = {false, false, false};
  cluster.species_name = {"Co", "Fe"};
  cluster.species_mass = {58.933, 55.845};
  cluster.add_atom(Vec3(0, 0, 0), 1, 2.2, Vec3(0, 0.3, 1));
  cluster.add_atom(Vec3(2.4, 0.1, 0), 0, 1.6, Vec3(1, 0, 0.2));
  cluster.add_atom(Vec3(1.1, 2.2, 0.3), 1, 2.1, Vec3(-0.5, 0.5, 1));
  frames[1].system = cluster;
  std::stringstream file;
  for (const Frame& f : frames) write_extxyz(file, f);
  const std::vector<Frame> in = parse_extxyz(file, "frames.xyz");
  ASSERT_EQ(in.size(), 2u);

  std::vector<Frame> out;
  evaluate_frames(h, in, out, {"Fe", "Co"});
  ASSERT_EQ(out.size(), 2u);
  for (std::size_t k = 0; k < 2; ++k) {
    const System& s = in[k].system;
    EXPECT_NEAR(out[k].info.at("energy"), sum(hand_node_energy(s, c)), 1e-11) << k;
    auto t = load(path);
    Bound b(*t, s);
    std::vector<Vec3> f(s.size(), Vec3::Zero()), bm = f;
    Mat3 w = Mat3::Zero();
    Derivatives d{&f, &bm, &w};
    t->compute(s, b.list, d);
    for (std::size_t i = 0; i < s.size(); ++i) {
      EXPECT_TRUE((out[k].vectors.at("forces")[i] - f[i]).isZero(1e-12));
      EXPECT_TRUE((out[k].vectors.at("magforces")[i] - bm[i]).isZero(1e-12));
    }
    if (k == 0) {
      const auto& st = out[k].info_arrays.at("stress");
      for (int a = 0; a < 3; ++a)
        for (int bb = 0; bb < 3; ++bb) EXPECT_NEAR(st[3 * a + bb], -w(bb, a) / s.cell.volume(), 1e-14);
      EXPECT_EQ(out[k].info.at("REF_energy"), -1.0);  // kept
    } else {
      EXPECT_FALSE(out[k].info_arrays.count("stress"));
    }
  }
  // Written and read back exactly (shortest round-trip numbers).
  std::stringstream written;
  for (const Frame& f : out) write_extxyz(written, f);
  const std::vector<Frame> back = parse_extxyz(written, "out.xyz");
  EXPECT_EQ(back[1].info.at("energy"), out[1].info.at("energy"));
  EXPECT_EQ(back[0].vectors.at("magforces")[3], out[0].vectors.at("magforces")[3]);

  // A species the input does not have is named with its frame.
  std::vector<Frame> bad = {in[0]};
  bad[0].system.species_name[1] = "Ni";
  try {
    evaluate_frames(h, bad, out, {"Fe", "Co"});
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("frame 0"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'Ni'"), std::string::npos) << e.what();
  }
}

namespace {
const std::string kFixtureDir = std::string(SPINLAT_SOURCE_DIR) + "/tests/data/learned";
}

// Regenerates tests/data/learned/feco_analytic.pt (run with --gtest_also_run_disabled_tests).
TEST(LearnedFixture, DISABLED_Write) {
  save_model(kFixtureDir + "/feco_analytic.pt", analytic_source(full_coeffs()), full_coeffs().r_max, {27, 26}, 1);
}

TEST(LearnedFixture, InputFileModelMatchesTheClosedForm) {
  // The shipped example (feco.toml + feco_analytic.pt + feco_frames.xyz) through the same path
  // as the command line: read_config, build_system, the registry, evaluate_frames.
  const Config cfg = read_config(kFixtureDir + "/feco.toml");
  const System s = build_system(cfg);
  TermRegistry reg = builtin_terms();
  add_learned_terms(reg);
  TermContext ctx;
  ctx.system = &s;
  ctx.input_dir = cfg.directory;
  ctx.threads = 1;
  Hamiltonian h;
  for (std::size_t k = 0; k < cfg.potentials.size(); ++k) {
    Params p(*cfg.potentials[k].as_table(), cfg.path, "potential." + std::to_string(k));
    h.add(reg.make(p, ctx));
  }
  h.bind(s);
  EXPECT_NEAR(h.energy(s), sum(hand_node_energy(s, full_coeffs())), 1e-11);
  const std::vector<Frame> frames = read_extxyz(kFixtureDir + "/feco_frames.xyz");
  std::vector<Frame> out;
  evaluate_frames(h, frames, out, s.species_name);
  ASSERT_FALSE(out.empty());
  for (std::size_t k = 0; k < out.size(); ++k)
    EXPECT_NEAR(out[k].info.at("energy"), sum(hand_node_energy(frames[k].system, full_coeffs())), 1e-11) << k;
}
