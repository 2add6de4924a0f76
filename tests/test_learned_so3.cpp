// SO(3) toolkit of the native model (spinlat/learned/so3.hpp), checked against exact results:
// the addition theorem (Σ_m Y_lm² = 2l+1), orthonormality by an exact product quadrature,
// textbook real harmonics for l ≤ 3, parity, the rotation law Y_l(Rx) = D_l(R) Y_l(x) with an
// orthogonal D_l, Clebsch-Gordan orthonormality and equivariance, known CG tensors, and
// autograd derivatives (first and second) against finite differences.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <Eigen/Dense>
#include <array>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "spinlat/learned/so3.hpp"

using namespace spinlat;
using Eigen::MatrixXd;
using Eigen::Matrix3d;
using Eigen::Vector3d;

namespace {

constexpr double kPi = 3.14159265358979323846;

Vector3d random_vector(std::mt19937_64& rng) {
  std::normal_distribution<double> n;
  return {n(rng), n(rng), n(rng)};
}

Vector3d random_unit(std::mt19937_64& rng) { return random_vector(rng).normalized(); }

/// Uniform random rotation (Shoemake's method through a normalised Gaussian quaternion).
Matrix3d random_rotation(std::mt19937_64& rng) {
  std::normal_distribution<double> n;
  Eigen::Quaterniond q(n(rng), n(rng), n(rng), n(rng));
  q.normalize();
  return q.toRotationMatrix();
}

std::vector<double> harmonics(const Vector3d& v, int l_max) {
  std::vector<double> out((l_max + 1) * (l_max + 1));
  so3::spherical_harmonics(v.data(), l_max, out.data());
  return out;
}

Eigen::VectorXd block(const Vector3d& v, int l) {
  const std::vector<double> y = harmonics(v, l);
  return Eigen::Map<const Eigen::VectorXd>(y.data() + l * l, 2 * l + 1);
}

/// D_l(R) by least squares from many points: rows Y_l(R x_i)ᵀ = Y_l(x_i)ᵀ D_lᵀ.
/// Returns the largest residual through `residual`.
MatrixXd wigner_d(const Matrix3d& R, int l, std::mt19937_64& rng, double* residual = nullptr) {
  const int n = 20 * (2 * l + 1), w = 2 * l + 1;
  MatrixXd A(n, w), B(n, w);
  for (int i = 0; i < n; ++i) {
    const Vector3d x = random_unit(rng);
    A.row(i) = block(x, l).transpose();
    B.row(i) = block(R * x, l).transpose();
  }
  const MatrixXd Dt = A.colPivHouseholderQr().solve(B);
  if (residual) *residual = (A * Dt - B).cwiseAbs().maxCoeff();
  return Dt.transpose();
}

/// Gauss-Legendre nodes and weights on [−1, 1] (Newton on P_n; Abramowitz & Stegun 25.4.29).
void gauss_legendre(int n, std::vector<double>& x, std::vector<double>& w) {
  x.resize(n);
  w.resize(n);
  for (int i = 0; i < n; ++i) {
    double t = std::cos(kPi * (i + 0.75) / (n + 0.5));
    for (int it = 0; it < 100; ++it) {
      double p0 = 1.0, p1 = t;
      for (int k = 2; k <= n; ++k) {
        const double p2 = ((2 * k - 1) * t * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      const double dp = n * (t * p1 - p0) / (t * t - 1.0);
      const double dt = p1 / dp;
      t -= dt;
      if (std::abs(dt) < 1e-16) {
        x[i] = t;
        w[i] = 2.0 / ((1.0 - t * t) * dp * dp);
        break;
      }
      x[i] = t;
      w[i] = 2.0 / ((1.0 - t * t) * dp * dp);
    }
  }
}

at::Tensor to_tensor(const std::vector<Vector3d>& v) {
  at::Tensor t = torch::empty({static_cast<int64_t>(v.size()), 3}, torch::kDouble);
  for (std::size_t i = 0; i < v.size(); ++i)
    for (int k = 0; k < 3; ++k) t[i][k] = v[i][k];
  return t;
}

}  // namespace

// Addition theorem in component normalisation: Σ_m Y_lm(x̂)² = 2l+1, for non-unit inputs too.
TEST(So3Harmonics, SumRule) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> scale(0.1, 10.0);
  for (int i = 0; i < 500; ++i) {
    const Vector3d v = random_vector(rng) * scale(rng);
    const std::vector<double> y = harmonics(v, so3::kMaxL);
    EXPECT_EQ(y[0], 1.0);
    for (int l = 0; l <= so3::kMaxL; ++l) {
      double s = 0;
      for (int m = 0; m < 2 * l + 1; ++m) s += y[l * l + m] * y[l * l + m];
      EXPECT_NEAR(s, 2 * l + 1, 1e-12 * (2 * l + 1)) << "l=" << l;
    }
  }
}

// ∫ Y_lm Y_l'm' dΩ = 4π δ_ll' δ_mm' (component normalisation: √(4π) × orthonormal). The
// quadrature is exact: products are polynomials of degree ≤ 2 kMaxL in cos θ (Gauss-Legendre
// with 8 nodes is exact to degree 15) times trigonometric polynomials of degree ≤ 2 kMaxL in φ
// (the 16-point rectangle rule is exact below degree 16).
TEST(So3Harmonics, OrthonormalByQuadrature) {
  const int L = so3::kMaxL, nh = (L + 1) * (L + 1);
  std::vector<double> gx, gw;
  gauss_legendre(8, gx, gw);
  const int nphi = 16;
  MatrixXd gram = MatrixXd::Zero(nh, nh);
  for (std::size_t i = 0; i < gx.size(); ++i)
    for (int j = 0; j < nphi; ++j) {
      const double phi = 2 * kPi * (j + 0.3) / nphi, st = std::sqrt(1 - gx[i] * gx[i]);
      const std::vector<double> y = harmonics({st * std::cos(phi), st * std::sin(phi), gx[i]}, L);
      const Eigen::Map<const Eigen::VectorXd> yv(y.data(), nh);
      gram += (gw[i] * 2 * kPi / nphi) * yv * yv.transpose();
    }
  const MatrixXd expected = 4 * kPi * MatrixXd::Identity(nh, nh);
  EXPECT_LT((gram - expected).cwiseAbs().maxCoeff(), 1e-12);
}

// Textbook real harmonics (e.g. the table of real spherical harmonics in Wikipedia,
// "Table of spherical harmonics"), multiplied by √(4π): l = 1 is √3 (y, z, x)/r.
TEST(So3Harmonics, ExplicitLowOrders) {
  std::mt19937_64 rng(2);
  for (int i = 0; i < 100; ++i) {
    const Vector3d v = random_vector(rng) * 3.0;
    const double r = v.norm(), x = v[0] / r, y = v[1] / r, z = v[2] / r;
    const std::vector<double> h = harmonics(v, 3);
    const double s3 = std::sqrt(3.0), s15 = std::sqrt(15.0), s5 = std::sqrt(5.0);
    const double expected[] = {
        1.0,
        s3 * y, s3 * z, s3 * x,
        s15 * x * y, s15 * y * z, s5 / 2 * (3 * z * z - 1), s15 * x * z, s15 / 2 * (x * x - y * y),
        std::sqrt(35.0 / 8) * y * (3 * x * x - y * y),
        std::sqrt(105.0) * x * y * z,
        std::sqrt(21.0 / 8) * y * (5 * z * z - 1),
        std::sqrt(7.0) / 2 * z * (5 * z * z - 3),
        std::sqrt(21.0 / 8) * x * (5 * z * z - 1),
        std::sqrt(105.0) / 2 * z * (x * x - y * y),
        std::sqrt(35.0 / 8) * x * (x * x - 3 * y * y)};
    for (int k = 0; k < 16; ++k) EXPECT_NEAR(h[k], expected[k], 1e-14) << "component " << k;
  }
}

// Y_l(−v) = (−1)^l Y_l(v); solid harmonics are |v|^l Y_l(v̂).
TEST(So3Harmonics, ParityAndSolid) {
  std::mt19937_64 rng(3);
  const int L = so3::kMaxL, nh = (L + 1) * (L + 1);
  for (int i = 0; i < 200; ++i) {
    const Vector3d v = random_vector(rng) * 2.0;
    const Vector3d mv = -v;
    const std::vector<double> y = harmonics(v, L), ym = harmonics(mv, L);
    std::vector<double> s(nh);
    so3::solid_harmonics(v.data(), L, s.data());
    for (int l = 0; l <= L; ++l)
      for (int m = 0; m < 2 * l + 1; ++m) {
        const int k = l * l + m;
        EXPECT_NEAR(ym[k], (l % 2 ? -1.0 : 1.0) * y[k], 1e-14);
        EXPECT_NEAR(s[k], std::pow(v.norm(), l) * y[k], 1e-12 * std::pow(v.norm(), l));
      }
  }
}

// At v = 0 the solid harmonics vanish for l > 0 with finite first and second derivatives:
// ∇(S_1)_m is √3 times a unit vector (S_1 = √3 (y, z, x)), ∇S_l = 0 for l ≥ 2, and the
// Hessian of S_20 is the constant of its quadratic form.
TEST(So3Harmonics, SolidAtOrigin) {
  at::Tensor v = torch::zeros({1, 3}, torch::kDouble).requires_grad_(true);
  const auto s = so3::solid_harmonics(v, 4);
  EXPECT_EQ(s[0].item<double>(), 1.0);
  for (int l = 1; l <= 4; ++l) EXPECT_EQ(s[l].abs().max().item<double>(), 0.0) << "l=" << l;
  // l = 1: S_1 = √3 (y, z, x), so ∂(S_1)_m/∂v is a permutation matrix times √3.
  for (int m = 0; m < 3; ++m) {
    const at::Tensor g = torch::autograd::grad({s[1][0][m]}, {v}, {}, true, true)[0];
    const int axis = (m + 1) % 3;  // m = 0 → y, 1 → z, 2 → x
    for (int k = 0; k < 3; ++k)
      EXPECT_EQ(g[0][k].item<double>(), k == axis ? std::sqrt(3.0) : 0.0);
  }
  for (int l = 2; l <= 4; ++l) {
    const at::Tensor g = torch::autograd::grad({s[l].sum()}, {v}, {}, true, true)[0];
    EXPECT_TRUE(torch::isfinite(g).all().item<bool>());
    EXPECT_EQ(g.abs().max().item<double>(), 0.0) << "l=" << l;
  }
  // Hessian of S_20 = (√5/2)(2z² − x² − y²): diag(−√5, −√5, 2√5).
  const at::Tensor g = torch::autograd::grad({s[2][0][2]}, {v}, {}, true, true)[0];
  const double s5 = std::sqrt(5.0), hdiag[3] = {-s5, -s5, 2 * s5};
  for (int k = 0; k < 3; ++k) {
    const at::Tensor h = torch::autograd::grad({g[0][k]}, {v}, {}, true)[0];
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(h[0][j].item<double>(), j == k ? hdiag[k] : 0.0, 1e-14);
  }
}

// Y_l(R x) = D_l(R) Y_l(x) with D_l real orthogonal (the real basis spans an irreducible
// representation): least-squares residual and D Dᵀ − 1 both at round-off.
TEST(So3Harmonics, RotationLaw) {
  std::mt19937_64 rng(4);
  for (int trial = 0; trial < 5; ++trial) {
    const Matrix3d R = random_rotation(rng);
    for (int l = 0; l <= so3::kMaxL; ++l) {
      double residual = 0;
      const MatrixXd D = wigner_d(R, l, rng, &residual);
      EXPECT_LT(residual, 1e-12) << "l=" << l;
      EXPECT_LT((D * D.transpose() - MatrixXd::Identity(2 * l + 1, 2 * l + 1)).cwiseAbs().maxCoeff(), 1e-10)
          << "l=" << l;
      if (l == 1) {  // D_1 is R itself in the (y, z, x) order
        const int p[3] = {1, 2, 0};
        for (int a = 0; a < 3; ++a)
          for (int b = 0; b < 3; ++b) EXPECT_NEAR(D(a, b), R(p[a], p[b]), 1e-12);
      }
    }
  }
}

// Σ_{m1,m2} C[m1,m2,M] C[m1,m2,M'] = δ, zero outside the triangle, and C(l,0→l) = C(0,l→l) = 1.
TEST(So3ClebschGordan, Orthonormal) {
  for (int l1 = 0; l1 <= 4; ++l1)
    for (int l2 = 0; l2 <= 4; ++l2)
      for (int L = 0; L <= 6; ++L) {
        const at::Tensor c = so3::clebsch_gordan(l1, l2, L);
        ASSERT_EQ(c.dtype(), torch::kDouble);
        ASSERT_EQ(c.sizes(), (std::vector<int64_t>{2 * l1 + 1, 2 * l2 + 1, 2 * L + 1}));
        if (L < std::abs(l1 - l2) || L > l1 + l2) {
          EXPECT_EQ(c.abs().max().item<double>(), 0.0);
          continue;
        }
        const at::Tensor flat = c.reshape({-1, 2 * L + 1});
        const at::Tensor gram = flat.t().matmul(flat);
        EXPECT_LT((gram - torch::eye(2 * L + 1, torch::kDouble)).abs().max().item<double>(), 1e-14)
            << l1 << "," << l2 << "->" << L;
      }
  for (int l = 0; l <= 4; ++l) {
    const at::Tensor eye = torch::eye(2 * l + 1, torch::kDouble);
    EXPECT_EQ((so3::clebsch_gordan(l, 0, l).squeeze(1) - eye).abs().max().item<double>(), 0.0);
    EXPECT_EQ((so3::clebsch_gordan(0, l, l).squeeze(0) - eye).abs().max().item<double>(), 0.0);
  }
}

// 1 ⊗ 1 → 0 is the dot product (±δ/√3) and 1 ⊗ 1 → 1 the cross product (±ε/√2; (y, z, x)
// is a cyclic relabelling of (x, y, z), so ε keeps its form in the real basis).
TEST(So3ClebschGordan, KnownVectorCouplings) {
  const at::Tensor c0 = so3::clebsch_gordan(1, 1, 0).squeeze(2);
  const double s0 = c0[0][0].item<double>() > 0 ? 1.0 : -1.0;
  EXPECT_LT((c0 - s0 * torch::eye(3, torch::kDouble) / std::sqrt(3.0)).abs().max().item<double>(), 1e-15);
  const at::Tensor c1 = so3::clebsch_gordan(1, 1, 1);
  at::Tensor eps = torch::zeros({3, 3, 3}, torch::kDouble);
  for (int a = 0; a < 3; ++a) {
    eps[a][(a + 1) % 3][(a + 2) % 3] = 1.0;
    eps[a][(a + 2) % 3][(a + 1) % 3] = -1.0;
  }
  const double s1 = c1[0][1][2].item<double>() > 0 ? 1.0 : -1.0;
  EXPECT_LT((c1 - s1 * eps / std::sqrt(2.0)).abs().max().item<double>(), 1e-15);
}

// Σ C[a,b,c] Y_l1(Rx)_a Y_l2(Ry)_b = Σ_c' D_L(R)_{cc'} (same at x, y) for l1, l2, L ≤ 4, and the
// triple invariant Σ C Y_l1(x) Y_l2(y) Y_L(z) is unchanged by a joint rotation.
TEST(So3ClebschGordan, Equivariance) {
  std::mt19937_64 rng(5);
  const int lm = 4;
  for (int trial = 0; trial < 3; ++trial) {
    const Matrix3d R = random_rotation(rng);
    std::vector<MatrixXd> D(lm + 1);
    for (int l = 0; l <= lm; ++l) D[l] = wigner_d(R, l, rng);
    const Vector3d x = random_unit(rng), y = random_unit(rng), z = random_unit(rng);
    for (int l1 = 0; l1 <= lm; ++l1)
      for (int l2 = 0; l2 <= lm; ++l2)
        for (int L = std::abs(l1 - l2); L <= std::min(l1 + l2, lm); ++L) {
          const std::vector<double> c = so3::clebsch_gordan_values(l1, l2, L);
          const int w1 = 2 * l1 + 1, w2 = 2 * l2 + 1, wL = 2 * L + 1;
          auto couple = [&](const Vector3d& a, const Vector3d& b) {
            const Eigen::VectorXd ya = block(a, l1), yb = block(b, l2);
            Eigen::VectorXd out = Eigen::VectorXd::Zero(wL);
            for (int i = 0; i < w1; ++i)
              for (int j = 0; j < w2; ++j)
                for (int k = 0; k < wL; ++k) out[k] += c[(i * w2 + j) * wL + k] * ya[i] * yb[j];
            return out;
          };
          const Eigen::VectorXd before = couple(x, y), after = couple(R * x, R * y);
          EXPECT_GT(before.norm(), 1e-3) << l1 << "," << l2 << "->" << L;  // not trivially zero
          EXPECT_LT((after - D[L] * before).cwiseAbs().maxCoeff(), 1e-10) << l1 << "," << l2 << "->" << L;
          const double inv = before.dot(block(z, L)), inv_rot = after.dot(block(R * z, L));
          EXPECT_NEAR(inv, inv_rot, 1e-10) << l1 << "," << l2 << "->" << L;
        }
  }
}

// A wrong real/complex transform (e.g. the Condon-Shortley phase left in one basis) breaks
// equivariance only for some paths; the coupling of two l = 2 harmonics of one direction to
// L = 2 is a fixed, non-zero multiple of Y_2 (Gaunt), which checks the odd-m signs too.
TEST(So3ClebschGordan, SelfCouplingIsProportional) {
  std::mt19937_64 rng(6);
  for (int l = 1; l <= 4; ++l)
    for (int L = 0; L <= 2 * l && L <= so3::kMaxL; L += 2) {
      const std::vector<double> c = so3::clebsch_gordan_values(l, l, L);
      const int w = 2 * l + 1, wL = 2 * L + 1;
      double ratio = 0;
      for (int trial = 0; trial < 10; ++trial) {
        const Vector3d x = random_unit(rng);
        const Eigen::VectorXd y = block(x, l), yL = block(x, L);
        Eigen::VectorXd out = Eigen::VectorXd::Zero(wL);
        for (int i = 0; i < w; ++i)
          for (int j = 0; j < w; ++j)
            for (int k = 0; k < wL; ++k) out[k] += c[(i * w + j) * wL + k] * y[i] * y[j];
        const double r = out.dot(yL) / yL.squaredNorm();
        if (trial == 0) ratio = r;
        EXPECT_NEAR(r, ratio, 1e-12);
        EXPECT_LT((out - r * yL).cwiseAbs().maxCoeff(), 1e-12) << l << "," << l << "->" << L;
      }
      EXPECT_GT(std::abs(ratio), 1e-3);
    }
}

// The torch and double paths evaluate the same tables: equal to round-off; float32 follows.
TEST(So3Torch, MatchesDoublePath) {
  std::mt19937_64 rng(7);
  std::vector<Vector3d> vs;
  for (int i = 0; i < 300; ++i) vs.push_back(random_vector(rng) * 1.5);
  const at::Tensor v = to_tensor(vs);
  const int L = so3::kMaxL;
  const auto ys = so3::spherical_harmonics(v, L), ss = so3::solid_harmonics(v, L);
  const auto yf = so3::spherical_harmonics(v.to(torch::kFloat), 4);
  ASSERT_EQ(ys.size(), static_cast<std::size_t>(L + 1));
  std::vector<double> y((L + 1) * (L + 1)), s((L + 1) * (L + 1));
  double worst_y = 0, worst_s = 0;
  for (std::size_t i = 0; i < vs.size(); ++i) {
    so3::spherical_harmonics(vs[i].data(), L, y.data());
    so3::solid_harmonics(vs[i].data(), L, s.data());
    for (int l = 0; l <= L; ++l) {
      ASSERT_EQ(ys[l].sizes(), (std::vector<int64_t>{static_cast<int64_t>(vs.size()), 2 * l + 1}));
      for (int m = 0; m < 2 * l + 1; ++m) {
        const double scale = std::pow(vs[i].norm(), l);
        worst_y = std::max(worst_y, std::abs(ys[l][i][m].item<double>() - y[l * l + m]));
        worst_s = std::max(worst_s, std::abs(ss[l][i][m].item<double>() - s[l * l + m]) / std::max(1.0, scale));
        if (l <= 4) {
          EXPECT_EQ(yf[l].dtype(), torch::kFloat);
          EXPECT_NEAR(yf[l][i][m].item<double>(), y[l * l + m], 1e-5);
        }
      }
    }
  }
  EXPECT_LT(worst_y, 1e-14);
  EXPECT_LT(worst_s, 1e-14);
}

// First derivatives against central differences, and the double backward (as in force
// training) against central differences of the gradient: Hessian-vector products.
TEST(So3Torch, DerivativesMatchFiniteDifferences) {
  std::mt19937_64 rng(8);
  std::vector<Vector3d> vs;
  std::uniform_real_distribution<double> radius(0.5, 2.0);  // away from the 1/r^l growth at 0
  for (int i = 0; i < 20; ++i) vs.push_back(random_unit(rng) * radius(rng));
  const at::Tensor v0 = to_tensor(vs);
  const int L = 4;
  std::vector<at::Tensor> w;
  torch::manual_seed(8);
  for (int l = 0; l <= L; ++l) w.push_back(torch::randn({v0.size(0), 2 * l + 1}, torch::kDouble));
  const at::Tensor dir = torch::randn({v0.size(0), 3}, torch::kDouble);
  for (bool solid : {false, true}) {
    auto f = [&](const at::Tensor& v) {
      const auto y = solid ? so3::solid_harmonics(v, L) : so3::spherical_harmonics(v, L);
      at::Tensor s = torch::zeros({}, torch::kDouble);
      for (int l = 0; l <= L; ++l) s = s + (w[l] * y[l]).sum();
      return s;
    };
    auto grad = [&](const at::Tensor& v, bool create) {
      at::Tensor vv = v.detach().requires_grad_(true);
      return std::make_pair(torch::autograd::grad({f(vv)}, {vv}, {}, true, create)[0], vv);
    };
    const at::Tensor g = grad(v0, false).first;
    const double h = 1e-5;
    double worst = 0;
    for (int64_t i = 0; i < v0.size(0); ++i)
      for (int k = 0; k < 3; ++k) {
        at::Tensor vp = v0.clone(), vm = v0.clone();
        vp[i][k] += h;
        vm[i][k] -= h;
        const double fd = (f(vp).item<double>() - f(vm).item<double>()) / (2 * h);
        worst = std::max(worst, std::abs(fd - g[i][k].item<double>()));
      }
    // Relative to the largest derivative (solid harmonics of |v| = 2 reach 2^4·3).
    const double gscale = std::max(1.0, g.abs().max().item<double>());
    EXPECT_LT(worst / gscale, 1e-8) << (solid ? "solid" : "spherical");
    // Double backward: ∂/∂v (∇f · dir) against (∇f(v + h dir) − ∇f(v − h dir)) / 2h.
    auto [g1, vv] = grad(v0, true);
    const at::Tensor hv = torch::autograd::grad({(g1 * dir).sum()}, {vv}, {}, false, false)[0];
    const at::Tensor fd = (grad(v0 + h * dir, false).first - grad(v0 - h * dir, false).first) / (2 * h);
    const double hscale = std::max(1.0, hv.abs().max().item<double>());
    EXPECT_LT((hv - fd).abs().max().item<double>() / hscale, 1e-7) << (solid ? "solid" : "spherical");
  }
}

// Several threads asking for the same and different tables get identical answers.
TEST(So3ClebschGordan, ThreadSafe) {
  std::vector<std::vector<double>> got(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int l = 0; l <= 3; ++l) got[t] = so3::clebsch_gordan_values(3, l, 3);
    });
  for (auto& th : threads) th.join();
  for (int t = 1; t < 8; ++t) EXPECT_EQ(got[t], got[0]);
}

TEST(So3Harmonics, RejectsBadArguments) {
  double out[100];
  const double v[3] = {1, 0, 0};
  EXPECT_THROW(so3::spherical_harmonics(v, so3::kMaxL + 1, out), std::invalid_argument);
  EXPECT_THROW(so3::solid_harmonics(v, -1, out), std::invalid_argument);
  EXPECT_THROW(so3::spherical_harmonics(torch::ones({4, 2}, torch::kDouble), 2), std::invalid_argument);
  EXPECT_THROW(so3::clebsch_gordan(-1, 1, 1), std::invalid_argument);
}

TEST(So3Harmonics, ReverseModeProductsMatchFiniteDifferences) {
  // The plain C++ reverse pass of the native model (native_fast.cpp) differentiates the
  // harmonics through so3::*_vjp: Σ_k g_k ∂Y_k/∂v against central differences (h = 1e-6:
  // error ~h² Y‴ ≈ 1e-12 plus round-off ε Y/h ≈ 1e-10), l_max = 3, random v and g.
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-1.5, 1.5);
  const int lmax = 3, n = (lmax + 1) * (lmax + 1);
  for (int trial = 0; trial < 20; ++trial) {
    double v[3] = {u(rng), u(rng), u(rng)};
    std::vector<double> g(n);
    for (double& x : g) x = u(rng);
    for (const bool solid : {false, true}) {
      auto f = [&](const double* w) {
        std::vector<double> y(n);
        if (solid) spinlat::so3::solid_harmonics(w, lmax, y.data());
        else spinlat::so3::spherical_harmonics(w, lmax, y.data());
        double s = 0.0;
        for (int k = 0; k < n; ++k) s += g[k] * y[k];
        return s;
      };
      double grad[3];
      if (solid) spinlat::so3::solid_harmonics_vjp(v, lmax, g.data(), grad);
      else spinlat::so3::spherical_harmonics_vjp(v, lmax, g.data(), grad);
      const double h = 1e-6;
      for (int a = 0; a < 3; ++a) {
        double p[3] = {v[0], v[1], v[2]}, q[3] = {v[0], v[1], v[2]};
        p[a] += h;
        q[a] -= h;
        EXPECT_NEAR(grad[a], (f(p) - f(q)) / (2 * h), 1e-7 * (1.0 + std::abs(grad[a])))
            << (solid ? "solid" : "spherical") << " trial " << trial << " component " << a;
      }
    }
  }
}
