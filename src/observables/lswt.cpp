#include "spinlat/observables/lswt.hpp"

#include <Eigen/Eigenvalues>
#include <complex>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {

namespace {

using Mat2 = Eigen::Matrix2d;
using Complex = std::complex<double>;

Mat2 omega_matrix() {
  Mat2 o;
  o << 0.0, -1.0, 1.0, 0.0;
  return o;
}

Vec3 net_moment(const System& s) {
  Vec3 m = Vec3::Zero();
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s.magnetic(i)) m += s.moment[i] * s.spin[i];
  return m;
}

int sublattice_of(const System& s, std::size_t i) {
  return s.sublattice.size() == s.size() ? s.sublattice[i] : 0;
}

/// Cubic form f = Kc(ex²ey² + ey²ez² + ez²ex²): gradient and Hessian at e (polynomial extension).
void cubic_derivatives(double Kc, const Vec3& e, Vec3& grad, Mat3& hess) {
  const Vec3 s = e.cwiseAbs2();
  grad = 2.0 * Kc * Vec3(e[0] * (s[1] + s[2]), e[1] * (s[2] + s[0]), e[2] * (s[0] + s[1]));
  hess << s[1] + s[2], 2 * e[0] * e[1], 2 * e[0] * e[2],
          2 * e[0] * e[1], s[2] + s[0], 2 * e[1] * e[2],
          2 * e[0] * e[2], 2 * e[1] * e[2], s[0] + s[1];
  hess *= 2.0 * Kc;
}

}  // namespace

Vec3 lswt_default_axis(const System& s, const Hamiltonian& h) {
  const SpinKernel* k = h.spin_kernel();
  const Vec3 M = net_moment(s);
  const Vec3 Mhat = M.norm() > 1e-12 ? Vec3(M.normalized()) : Vec3::UnitZ();
  if (k) {
    if (!k->zeeman.empty()) {
      Vec3 B = Vec3::Zero();
      for (std::size_t i = 0; i < s.size(); ++i)
        if (s.magnetic(i)) B += k->zeeman[i];
      if (B.norm() > 1e-14) return B.normalized();
    }
    if (!k->K.empty())
      for (std::size_t i = 0; i < s.size(); ++i)
        if (s.magnetic(i) && k->K[i] != 0.0) {
          const Vec3 a = k->axis[i].normalized();
          if (k->K[i] > 0) return Mhat.dot(a) >= 0 ? a : Vec3(-a);
          // Easy plane: the magnetization's direction within the plane.
          Vec3 p = Mhat - Mhat.dot(a) * a;
          if (p.norm() < 1e-8) {  // magnetization along the hard axis: any in-plane direction
            const Vec3 t = std::abs(a.x()) < 0.9 ? Vec3::UnitX() : Vec3::UnitY();
            p = t - t.dot(a) * a;
          }
          return p.normalized();
        }
    if (!k->Kc.empty()) {
      Vec3 best = Vec3::UnitZ();
      double bd = -2.0;
      for (int x = -1; x <= 1; ++x)
        for (int y = -1; y <= 1; ++y)
          for (int z = -1; z <= 1; ++z) {
            const int nz = (x != 0) + (y != 0) + (z != 0);
            if (nz != 1 && nz != 3) continue;  // ⟨100⟩ and ⟨111⟩: the stationary directions
            const Vec3 d = Vec3(x, y, z).normalized();
            if (d.dot(Mhat) > bd + 1e-12) { bd = d.dot(Mhat); best = d; }
          }
      return best;
    }
  }
  return Mhat;
}

LinearSpinWaves::LinearSpinWaves(const System& s, const Hamiltonian& h, LswtOptions settings) {
  const SpinKernel* k = h.spin_kernel();
  if (!k)
    throw InputError("linear spin-wave theory needs a Hamiltonian of pair and on-site spin terms "
                     "(a spin kernel); this one has a term without that form");
  if (k->n != s.size()) throw InputError("linear spin-wave theory: Hamiltonian not bound to this system");
  if (!(settings.damping >= 0.0)) throw InputError("linear spin-wave theory: damping must be >= 0");
  n_ = settings.axis.norm() > 0 ? Vec3(settings.axis.normalized()) : lswt_default_axis(s, h);
  const Vec3 a = std::abs(n_.x()) < 0.9 ? Vec3::UnitX() : Vec3::UnitY();
  e1_ = (a - a.dot(n_) * n_).normalized();
  e2_ = n_.cross(e1_);
  Eigen::Matrix<double, 3, 2> P;
  P.col(0) = e1_;
  P.col(1) = e2_;
  const Mat2 Om = omega_matrix();

  // Sublattices that carry moments, each with its first atom as representative.
  std::map<int, int> index;  // sublattice id → site
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    const int sub = sublattice_of(s, i);
    if (index.count(sub)) continue;
    index[sub] = static_cast<int>(sites_.size());
    Site site;
    site.atom = static_cast<int>(i);
    site.moment = s.moment[i];
    site.c = units::gamma_e / ((1.0 + settings.damping * settings.damping) * s.moment[i] * units::mu_B);
    sites_.push_back(site);
  }
  if (sites_.empty()) throw InputError("linear spin-wave theory: the system has no magnetic atoms");

  // A crystal: every atom of a sublattice has the representative's moment and coupling sums.
  auto row_sum = [&](int i) {
    double sum = 0.0;
    for (int m = k->offset[i]; m < k->offset[i + 1]; ++m) sum += k->J[m] + (k->has_biquadratic ? k->Q[m] : 0.0);
    return sum;
  };
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    const Site& rep = sites_[index.at(sublattice_of(s, i))];
    const double r0 = row_sum(rep.atom), r1 = row_sum(static_cast<int>(i));
    if (std::abs(s.moment[i] - rep.moment) > 1e-9 * rep.moment ||
        std::abs(r1 - r0) > 1e-9 * std::max(std::abs(r0), 1e-12) ||
        k->offset[i + 1] - k->offset[i] != k->offset[rep.atom + 1] - k->offset[rep.atom])
      throw InputError("linear spin-wave theory: atom " + std::to_string(i) +
                       " differs from the first atom of its sublattice (moment or couplings); "
                       "the sublattices must describe a periodic crystal");
  }

  const NeighborList& list = h.neighbors();
  const double rcut = h.cutoff() + 1e-9;
  double scale = 0.0;
  std::vector<Eigen::Vector2d> torque(sites_.size(), Eigen::Vector2d::Zero());
  for (std::size_t si = 0; si < sites_.size(); ++si) {
    Site& site = sites_[si];
    const int i = site.atom;
    site.diag.setZero();
    for (int e = list.begin(i); e < list.end(i); ++e)
      if (list.index[e] == i && list.distance[e] < rcut)
        throw InputError("linear spin-wave theory: atom " + std::to_string(i) +
                         " interacts with its own periodic image; use a supercell larger than "
                         "twice the interaction range");
    for (int m = k->offset[i]; m < k->offset[i + 1]; ++m) {
      const int j = k->neighbor[m];
      const double J = k->J[m];
      const double Q = k->has_biquadratic ? k->Q[m] : 0.0;
      const Vec3 D = k->has_dmi ? k->D[m] : Vec3::Zero();
      // The kernel merges all images of (i, j): recover the pair vector from the list.
      std::vector<Vec3> rs;
      std::vector<double> ds;
      for (int e = list.begin(i); e < list.end(i); ++e)
        if (list.index[e] == j) {
          const Vec3 r = list.current_displacement(s, i, e);
          rs.push_back(r);
          ds.push_back(r.norm());
        }
      if (rs.empty()) throw InputError("linear spin-wave theory: kernel pair without a neighbour-list entry");
      if (rs.size() > 1) {
        std::vector<Vec3> in;
        std::vector<double> din;
        for (std::size_t c = 0; c < rs.size(); ++c)
          if (ds[c] < rcut) { in.push_back(rs[c]); din.push_back(ds[c]); }
        if (!in.empty()) { rs = in; ds = din; }
        const auto [lo, hi] = std::minmax_element(ds.begin(), ds.end());
        if (*hi - *lo > 1e-6)
          throw InputError("linear spin-wave theory: atoms " + std::to_string(i) + " and " + std::to_string(j) +
                           " interact through several periodic images at different distances; use a "
                           "supercell larger than twice the interaction range");
      }
      // Images at one distance share the merged coupling equally (exact for isotropic,
      // distance-dependent couplings).
      const double w = 1.0 / static_cast<double>(rs.size());
      Mat2 X = -(J + 2.0 * Q) * Mat2::Identity() - n_.dot(D) * Om;
      for (const Vec3& r : rs) {
        Coupling cpl;
        cpl.t = index.at(sublattice_of(s, j));
        cpl.r = r;
        cpl.X = w * X;
        site.couplings.push_back(cpl);
      }
      site.diag += (J + 2.0 * Q) * Mat2::Identity();
      torque[si] += P.transpose() * n_.cross(D);
      scale = std::max({scale, std::abs(J), std::abs(Q), D.norm()});
    }
    const double mu = s.moment[i];
    if (!k->zeeman.empty()) {
      const Vec3 Z = k->zeeman[i];
      site.diag += mu * Z.dot(n_) * Mat2::Identity();
      torque[si] += P.transpose() * (-mu * Z);
      scale = std::max(scale, mu * Z.norm());
    }
    if (!k->K.empty() && k->K[i] != 0.0) {
      const double K = k->K[i];
      const Vec3 ax = k->axis[i];
      const double na = n_.dot(ax);
      const Eigen::Vector2d at = P.transpose() * ax;
      site.diag += 2.0 * K * (na * na * Mat2::Identity() - at * at.transpose());
      torque[si] += P.transpose() * (-2.0 * K * na * ax);
      scale = std::max(scale, 2.0 * std::abs(K));
    }
    if (!k->Kc.empty() && k->Kc[i] != 0.0) {
      Vec3 g;
      Mat3 H;
      cubic_derivatives(k->Kc[i], n_, g, H);
      site.diag += P.transpose() * H * P - n_.dot(g) * Mat2::Identity();
      torque[si] += P.transpose() * g;
      scale = std::max(scale, 2.0 * std::abs(k->Kc[i]));
    }
  }
  for (std::size_t si = 0; si < sites_.size(); ++si)
    if (torque[si].norm() > settings.tolerance * std::max(scale, 1e-300))
      throw InputError("linear spin-wave theory: the collinear state along (" + std::to_string(n_.x()) + ", " +
                       std::to_string(n_.y()) + ", " + std::to_string(n_.z()) +
                       ") is not stationary (transverse torque " + std::to_string(torque[si].norm()) +
                       " eV on sublattice " + std::to_string(si) + "); set the ordering axis");

  // Circular (isotropic in the transverse plane) when every block is αI + βΩ.
  auto anticircular = [](const Mat2& X) { return std::abs(X(0, 0) - X(1, 1)) + std::abs(X(0, 1) + X(1, 0)); };
  circular_ = true;
  for (const Site& site : sites_) {
    if (anticircular(site.diag) > 1e-12 * std::max(scale, 1e-300)) circular_ = false;
    for (const Coupling& c : site.couplings)
      if (anticircular(c.X) > 1e-12 * std::max(scale, 1e-300)) circular_ = false;
  }
}

LswtModes LinearSpinWaves::modes(const Vec3& q) const {
  const int N = branches();
  LswtModes out;
  const Complex I(0.0, 1.0);
  if (circular_) {
    // A ψ = ω M ψ with M = diag(1/c_s): solve the Hermitian C^{1/2} A C^{1/2}.
    Eigen::MatrixXcd A = Eigen::MatrixXcd::Zero(N, N);
    for (int s = 0; s < N; ++s) {
      const Site& site = sites_[s];
      A(s, s) += 0.5 * (site.diag(0, 0) + site.diag(1, 1));
      for (const Coupling& c : site.couplings) {
        const double alpha = 0.5 * (c.X(0, 0) + c.X(1, 1)), beta = 0.5 * (c.X(1, 0) - c.X(0, 1));
        A(s, c.t) += Complex(alpha, -beta) * std::exp(I * q.dot(c.r));
      }
    }
    Eigen::VectorXd sq(N);
    for (int s = 0; s < N; ++s) sq[s] = std::sqrt(sites_[s].c);
    Eigen::MatrixXcd At = sq.asDiagonal() * A * sq.asDiagonal();
    At = 0.5 * (At + At.adjoint()).eval();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> es(At);
    for (int b = 0; b < N; ++b) {
      out.omega.push_back(es.eigenvalues()[b]);
      const Eigen::VectorXcd psi = sq.asDiagonal() * es.eigenvectors().col(b);
      out.weight.push_back(std::norm(psi.sum()) / (N * psi.squaredNorm()));
    }
    return out;
  }
  // Elliptical precession: eigenvalues λ = −iω of C (I ⊗ Ω) B(q), in ± pairs.
  Eigen::MatrixXcd B = Eigen::MatrixXcd::Zero(2 * N, 2 * N);
  for (int s = 0; s < N; ++s) {
    const Site& site = sites_[s];
    B.block(2 * s, 2 * s, 2, 2) += site.diag.cast<Complex>();
    for (const Coupling& c : site.couplings)
      B.block(2 * s, 2 * c.t, 2, 2) += c.X.cast<Complex>() * std::exp(I * q.dot(c.r));
  }
  B = 0.5 * (B + B.adjoint()).eval();
  out.omega.assign(N, std::numeric_limits<double>::quiet_NaN());
  out.weight.assign(N, 0.0);
  auto weight_of = [&](const Eigen::VectorXcd& v) {
    Eigen::Vector2cd sum = Eigen::Vector2cd::Zero();
    for (int s = 0; s < N; ++s) sum += v.segment<2>(2 * s);
    const double n2 = v.squaredNorm();
    return n2 > 0 ? sum.squaredNorm() / (N * n2) : 0.0;
  };
  // G = C^{1/2} (I ⊗ Ω) C^{1/2}, real antisymmetric; the dynamical matrix is G B.
  Eigen::MatrixXcd G = Eigen::MatrixXcd::Zero(2 * N, 2 * N);
  for (int s = 0; s < N; ++s) G.block(2 * s, 2 * s, 2, 2) = sites_[s].c * omega_matrix().cast<Complex>();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> eb(B);
  const double bmax = eb.eigenvalues().cwiseAbs().maxCoeff();
  if (eb.eigenvalues().minCoeff() >= -1e-12 * bmax) {
    // B >= 0 (a stable minimum; Colpa, Physica A 93, 327 (1978)): with B = K†K, G B is similar
    // to G K†K ~ K G K†, and ω = iλ are the eigenvalues of the Hermitian i K G K†, in ± pairs.
    // Accurate also at a Goldstone zero mode, where G B is not diagonalisable.
    const Eigen::VectorXd lam = eb.eigenvalues().cwiseMax(0.0).cwiseSqrt();
    const Eigen::MatrixXcd K = lam.asDiagonal() * eb.eigenvectors().adjoint();
    const Eigen::MatrixXcd H = I * (K * G * K.adjoint());
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXcd> eh(0.5 * (H + H.adjoint()));
    // Stable ferromagnet: ω_n(q) >= 0 >= −ω_n(−q); the N largest are the physical branches.
    for (int b = 0; b < N; ++b) {
      const int k = N + b;  // ascending: the upper half
      out.omega[b] = eh.eigenvalues()[k];
      out.weight[b] = weight_of(G * K.adjoint() * eh.eigenvectors().col(k));  // eigenvector of G B
    }
    return out;
  }
  // An indefinite B: the general eigenvalues λ = −iω of G B; complex ones (an unstable state)
  // become NaN at the bottom of the list.
  Eigen::ComplexEigenSolver<Eigen::MatrixXcd> es(G * B);
  double wmax = 0.0;
  for (int b = 0; b < 2 * N; ++b) wmax = std::max(wmax, std::abs(es.eigenvalues()[b]));
  std::vector<std::pair<double, int>> keep;
  for (int b = 0; b < 2 * N; ++b) {
    const Complex om = I * es.eigenvalues()[b];
    if (std::abs(om.imag()) <= 1e-8 * wmax) keep.push_back({om.real(), b});
  }
  std::sort(keep.begin(), keep.end());
  const int nreal = static_cast<int>(keep.size());
  for (int b = 0; b < N; ++b) {
    const int from = nreal - N + b;
    if (from < 0) continue;
    out.omega[b] = keep[from].first;
    out.weight[b] = weight_of(es.eigenvectors().col(keep[from].second));
  }
  return out;
}

}  // namespace spinlat
