// The native magnetic model (spinlat/learned/native_model.hpp): exact symmetries, derivatives
// and files. A cluster of atoms with random moments and randomly initialised weights: every
// symmetry the model claims must hold to rounding (1e-10 relative), and the ones it must not
// have (moment rotations alone with spin-orbit coupling) must visibly fail.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "spinlat/core/error.hpp"
#include "spinlat/learned/native_model.hpp"

namespace spinlat {
namespace {

struct Cluster {
  at::Tensor positions, magmom, species;
};

Cluster random_cluster(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> pos;
  while (static_cast<int>(pos.size()) < 3 * n) {  // random packing, no pair closer than 1.8 Å
    const double x = 6 * u(rng), y = 6 * u(rng), z = 6 * u(rng);
    bool ok = true;
    for (std::size_t k = 0; k < pos.size(); k += 3) {
      const double d2 = (pos[k] - x) * (pos[k] - x) + (pos[k + 1] - y) * (pos[k + 1] - y) + (pos[k + 2] - z) * (pos[k + 2] - z);
      ok = ok && d2 > 1.8 * 1.8;
    }
    if (ok) pos.insert(pos.end(), {x, y, z});
  }
  std::vector<double> mom;
  std::vector<std::int64_t> sp;
  std::normal_distribution<double> g(0.0, 1.0);
  for (int i = 0; i < n; ++i) {
    sp.push_back(i % 3 == 2 ? 1 : 0);  // species 1 non-magnetic
    const double scale = sp.back() == 0 ? 2.2 * (0.8 + 0.4 * u(rng)) : 0.0;
    double v[3] = {g(rng), g(rng), g(rng)};
    const double norm = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    for (double x : v) mom.push_back(scale * x / norm);
  }
  Cluster c;
  c.positions = torch::tensor(pos, torch::kDouble).reshape({n, 3});
  c.magmom = torch::tensor(mom, torch::kDouble).reshape({n, 3});
  c.species = torch::tensor(sp, torch::kLong);
  return c;
}

// Every ordered pair within r_max (a cluster: no periodic images, zero shifts).
ModelInputs inputs_of(const Cluster& c, double r_max) {
  const auto n = c.positions.size(0);
  std::vector<std::int64_t> s, r;
  auto p = c.positions.accessor<double, 2>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      if (i == j) continue;
      double d2 = 0;
      for (int a = 0; a < 3; ++a) d2 += (p[i][a] - p[j][a]) * (p[i][a] - p[j][a]);
      if (d2 < r_max * r_max) {
        s.push_back(j);
        r.push_back(i);
      }
    }
  ModelInputs in;
  in.positions = c.positions;
  in.magmom = c.magmom;
  in.species = c.species;
  in.sender = torch::tensor(s, torch::kLong);
  in.receiver = torch::tensor(r, torch::kLong);
  in.shifts = torch::zeros({static_cast<std::int64_t>(s.size()), 3}, torch::kDouble);
  return in;
}

NativeModelConfig small_config(bool soc, int l_max = 2, int interactions = 1) {
  NativeModelConfig c;
  c.atomic_numbers = {26, 8};
  c.m_max = {2.5, 0.0};
  c.e0 = {-3.0, -1.0};
  c.r_max = 4.5;
  c.channels = 6;
  c.l_max = l_max;
  c.moment_l_max = soc ? 2 : 1;
  c.spin_orbit = soc;
  c.interactions = interactions;
  c.avg_neighbors = 6.0;
  return c;
}

at::Tensor random_rotation(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  double q[4] = {g(rng), g(rng), g(rng), g(rng)};
  const double n = std::sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  for (double& x : q) x /= n;
  const double w = q[0], x = q[1], y = q[2], z = q[3];
  return torch::tensor({1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
                        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
                        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)},
                       torch::kDouble)
      .reshape({3, 3});
}

double energy(NativeModel& m, const ModelInputs& in) { return m->node_energy(in).sum().item<double>(); }

ModelInputs transformed(ModelInputs in, const at::Tensor& Rpos, const at::Tensor& Rmom) {
  in.positions = in.positions.matmul(Rpos.t());
  in.magmom = in.magmom.matmul(Rmom.t());
  return in;
}

class NativeModelSymmetry : public ::testing::TestWithParam<std::tuple<bool, int>> {};

TEST_P(NativeModelSymmetry, ExactSymmetriesHoldAndOthersDoNot) {
  const auto [soc, layers] = GetParam();
  torch::manual_seed(11);
  NativeModel m(small_config(soc, 2, layers));
  const Cluster c = random_cluster(14, 5);
  const ModelInputs in = inputs_of(c, m->config().r_max);
  const double e = energy(m, in);
  const double tol = 1e-10 * std::abs(e);
  ASSERT_TRUE(std::isfinite(e));

  const at::Tensor I = torch::eye(3, torch::kDouble);
  for (std::uint64_t k = 0; k < 3; ++k) {
    const at::Tensor R = random_rotation(100 + k);
    // Joint rotation of positions and moments.
    EXPECT_NEAR(energy(m, transformed(in, R, R)), e, tol);
    // Improper rotation: positions by −R, axial moments by det(−R)(−R) = R.
    EXPECT_NEAR(energy(m, transformed(in, -R, R)), e, tol);
    // Moments alone: invariant without spin-orbit coupling, not with it.
    const double moments_only = energy(m, transformed(in, I, R));
    if (soc) EXPECT_GT(std::abs(moments_only - e), 1e-8);  // eV; rounding is ~1e-13
    else EXPECT_NEAR(moments_only, e, tol);
    // Positions and moments rotated separately.
    if (!soc) {
      EXPECT_NEAR(energy(m, transformed(in, R, random_rotation(200 + k))), e, tol);
    }
  }
  // Time reversal, exact without any wrapper.
  EXPECT_NEAR(energy(m, transformed(in, I, -I)), e, tol);
  // Translation.
  ModelInputs moved = in;
  moved.positions = in.positions + torch::tensor({0.3, -1.7, 2.9}, torch::kDouble);
  EXPECT_NEAR(energy(m, moved), e, tol);
  // Permutation of atoms (edges renumbered accordingly).
  const std::int64_t n = in.positions.size(0);
  const at::Tensor perm = torch::randperm(n, torch::kLong);
  const at::Tensor inverse = torch::argsort(perm);
  ModelInputs permuted = in;
  permuted.positions = in.positions.index_select(0, perm);
  permuted.magmom = in.magmom.index_select(0, perm);
  permuted.species = in.species.index_select(0, perm);
  permuted.sender = inverse.index_select(0, in.sender);
  permuted.receiver = inverse.index_select(0, in.receiver);
  EXPECT_NEAR(energy(m, permuted), e, tol);
  // The moments matter: one moment turned changes the energy.
  ModelInputs turned = in;
  turned.magmom = in.magmom.clone();
  turned.magmom[0] = in.magmom[0].matmul(random_rotation(7).t());
  EXPECT_GT(std::abs(energy(m, turned) - e), 1e-8);
}

INSTANTIATE_TEST_SUITE_P(Modes, NativeModelSymmetry,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(1, 2)));

TEST(NativeModel, ForcesAndMagneticForcesMatchFiniteDifferences) {
  for (bool soc : {false, true}) {
    torch::manual_seed(3);
    NativeModel m(small_config(soc, 2, 2));
    const Cluster c = random_cluster(10, 9);
    ModelInputs in = inputs_of(c, m->config().r_max);
    in.positions = in.positions.clone().requires_grad_(true);
    in.magmom = in.magmom.clone().requires_grad_(true);
    const at::Tensor e = m->node_energy(in).sum();
    const auto g = torch::autograd::grad({e}, {in.positions, in.magmom});
    const double h = 1e-5;
    for (int which = 0; which < 2; ++which)
      for (int atom : {0, 2, 5})  // atom 2 is non-magnetic: its moment derivative must exist too
        for (int a = 0; a < 3; ++a) {
          ModelInputs p = inputs_of(c, m->config().r_max), q = p;
          at::Tensor& tp = which == 0 ? p.positions : p.magmom;
          at::Tensor& tq = which == 0 ? q.positions : q.magmom;
          tp = tp.clone();
          tq = tq.clone();
          tp[atom][a] += h;
          tq[atom][a] -= h;
          const double fd = (energy(m, p) - energy(m, q)) / (2 * h);
          const double ad = g[which][atom][a].item<double>();
          EXPECT_NEAR(ad, fd, 1e-6 * (1.0 + std::abs(fd))) << (soc ? "SOC " : "no-SOC ") << (which ? "dE/dm" : "dE/dr")
                                                            << " atom " << atom << " comp " << a;
        }
  }
}

TEST(NativeModel, SecondDerivativesExistForForceTraining) {
  torch::manual_seed(4);
  NativeModel m(small_config(true));
  ModelInputs in = inputs_of(random_cluster(8, 2), m->config().r_max);
  in.positions = in.positions.clone().requires_grad_(true);
  in.magmom = in.magmom.clone().requires_grad_(true);
  const at::Tensor e = m->node_energy(in).sum();
  const auto g = torch::autograd::grad({e}, {in.positions, in.magmom}, {}, true, true);
  const at::Tensor loss = g[0].pow(2).sum() + g[1].pow(2).sum();
  loss.backward();
  double norm = 0;
  for (const auto& p : m->parameters())
    if (p.grad().defined()) norm += p.grad().pow(2).sum().item<double>();
  EXPECT_GT(norm, 0.0);
  EXPECT_TRUE(std::isfinite(norm));
}

TEST(NativeModel, SavedFileReloadsToTheSameNumbers) {
  torch::manual_seed(5);
  NativeModel m(small_config(true, 3, 2));
  m->set_e0({-4.25, -0.5});
  const ModelInputs in = inputs_of(random_cluster(9, 4), m->config().r_max);
  const auto dir = std::filesystem::temp_directory_path() / "spinlat_native_model_test";
  std::filesystem::create_directories(dir);
  const std::string file = (dir / "m.spl").string();
  save_native_model(m, file);
  EXPECT_TRUE(is_native_model_file(file));
  NativeModel back = load_native_model(file);
  EXPECT_EQ(energy(back, in), energy(m, in));
  EXPECT_EQ(back->config().e0, (std::vector<double>{-4.25, -0.5}));
  // Not a model: clear errors.
  const std::string junk = (dir / "junk.spl").string();
  std::ofstream(junk) << "not a model\n";
  EXPECT_FALSE(is_native_model_file(junk));
  EXPECT_THROW(load_native_model(junk), InputError);
  EXPECT_THROW(load_native_model((dir / "missing.spl").string()), InputError);
  std::filesystem::remove_all(dir);
}

TEST(NativeModel, FreezablePartsCoverEveryParameter) {
  NativeModel m(small_config(false, 2, 2));
  std::size_t n = 0;
  for (const auto& part : NativeModelImpl::parts()) n += m->parameters_of(part).size();
  EXPECT_EQ(n, m->parameters().size());
  EXPECT_THROW(m->parameters_of("embeding"), InputError);
}

TEST(NativeModel, BadConfigurationsAreRejected) {
  NativeModelConfig c = small_config(true);
  c.l_max = 5;
  EXPECT_THROW(check_config(c), InputError);
  c = small_config(true);
  c.m_max = {2.0};
  EXPECT_THROW(check_config(c), InputError);
}

}  // namespace
}  // namespace spinlat
