#include "spinlat/learned/so3.hpp"

#include <array>
#include <cmath>
#include <complex>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <tuple>

namespace spinlat::so3 {

namespace {

// ---- one place for the formulae: solid harmonics as homogeneous polynomials ----------------
//
// The real solid harmonic of degree l, order m (component normalisation, no Condon-Shortley
// phase) is
//   S_lm(v) = N_lm · Π_l^|m|(z, r²) · A_m(x, y),
//   N_lm = √((2l+1)(2 − δ_m0)(l−|m|)!/(l+|m|)!),
//   Π_l^m = r^{l−m} P_l^{(m)}(z/r) = Σ_k a_k z^{l−m−2k} r^{2k}, the m-th derivative of the
//           Legendre polynomial P_l(t) = 2^{−l} Σ_k (−1)^k C(l,k) C(2l−2k,l) t^{l−2k},
//   A_m = Re (x+iy)^m for m ≥ 0, Im (x+iy)^|m| for m < 0,
// because r^l P_l^m(cos θ) {cos,sin}(mφ) = r^{l−m} P_l^{(m)}(cos θ) · (r sin θ)^m {cos,sin}(mφ)
// (Abramowitz & Stegun 8.6.6 without the (−1)^m phase; the real harmonics as in e3nn and
// Varshalovich et al., "Quantum Theory of Angular Momentum", §5.2). Expanded into monomials
// x^a y^b z^c (a+b+c = l) the coefficients are exact rationals times N_lm; they are computed
// here once and evaluated by both the torch and the double path in the same monomial order.

using Mono = std::array<int, 3>;  // exponents (a, b, c) of x^a y^b z^c
using Poly = std::map<Mono, long double>;

Poly multiply(const Poly& p, const Poly& q) {
  Poly r;
  for (const auto& [ma, ca] : p)
    for (const auto& [mb, cb] : q) {
      const Mono m{ma[0] + mb[0], ma[1] + mb[1], ma[2] + mb[2]};
      r[m] += ca * cb;
    }
  return r;
}

long double factorial(int n) {
  long double f = 1;
  for (int k = 2; k <= n; ++k) f *= k;
  return f;
}

long double binomial(int n, int k) { return factorial(n) / (factorial(k) * factorial(n - k)); }

// Monomials of degree d in the order the evaluation recursion produces them:
// M_0 = {1}; M_{d+1} = x·M_d, then y·(the a = 0 tail of M_d, d+1 entries), then z·z^d.
// Evaluating with this recursion costs one multiplication per monomial.
std::vector<Mono> monomials(int d) {
  std::vector<Mono> m{{0, 0, 0}};
  for (int e = 0; e < d; ++e) {
    std::vector<Mono> next;
    for (const Mono& a : m) next.push_back({a[0] + 1, a[1], a[2]});
    for (std::size_t i = m.size() - (e + 1); i < m.size(); ++i) next.push_back({m[i][0], m[i][1] + 1, m[i][2]});
    next.push_back({0, 0, e + 1});
    m = std::move(next);
  }
  return m;
}

Poly solid_harmonic_poly(int l, int m) {
  const int am = std::abs(m);
  // Π_l^|m|(z, r²)
  Poly r2{{{2, 0, 0}, 1.0L}, {{0, 2, 0}, 1.0L}, {{0, 0, 2}, 1.0L}};
  Poly pi;
  Poly r2k{{{0, 0, 0}, 1.0L}};  // (r²)^k
  for (int k = 0; 2 * k <= l - am; ++k) {
    const int p = l - 2 * k;  // power of t in P_l before differentiation
    const long double a = ((k % 2) ? -1.0L : 1.0L) * binomial(l, k) * binomial(2 * l - 2 * k, l) *
                          factorial(p) / factorial(p - am) / std::ldexp(1.0L, l);
    Poly zpow{{{0, 0, p - am}, a}};
    for (const auto& [mono, c] : multiply(zpow, r2k)) pi[mono] += c;
    r2k = multiply(r2k, r2);
  }
  // A_m(x, y) from the binomial expansion of (x + iy)^|m|
  Poly azimuth;
  for (int j = 0; j <= am; ++j) {
    const bool real_part = (j % 2 == 0);
    if (real_part != (m >= 0)) continue;
    const int i_power = real_part ? j / 2 : (j - 1) / 2;  // i^j = (−1)^{j/2} or i·(−1)^{(j−1)/2}
    azimuth[{am - j, j, 0}] = ((i_power % 2) ? -1.0L : 1.0L) * binomial(am, j);
  }
  const long double norm =
      std::sqrt((2.0L * l + 1) * (m == 0 ? 1.0L : 2.0L) * factorial(l - am) / factorial(l + am));
  Poly s = multiply(pi, azimuth);
  for (auto& [mono, c] : s) c *= norm;
  return s;
}

/// coeff[l] is row-major [n_l monomials][2l+1]: S_l = M_l · coeff[l].
struct Tables {
  std::array<std::vector<double>, kMaxL + 1> coeff;
  std::array<int, kMaxL + 1> n_mono{};
};

const Tables& tables() {
  static const Tables t = [] {  // thread-safe initialisation (C++11 function-local static)
    Tables t;
    for (int l = 0; l <= kMaxL; ++l) {
      const std::vector<Mono> mono = monomials(l);
      std::map<Mono, int> index;
      for (std::size_t i = 0; i < mono.size(); ++i) index[mono[i]] = static_cast<int>(i);
      t.n_mono[l] = static_cast<int>(mono.size());
      t.coeff[l].assign(mono.size() * (2 * l + 1), 0.0);
      for (int m = -l; m <= l; ++m)
        for (const auto& [mn, c] : solid_harmonic_poly(l, m))
          t.coeff[l][index.at(mn) * (2 * l + 1) + (m + l)] = static_cast<double>(c);
    }
    return t;
  }();
  return t;
}

void check_l_max(int l_max, const char* who) {
  if (l_max < 0 || l_max > kMaxL)
    throw std::invalid_argument(std::string("so3::") + who + ": l_max = " + std::to_string(l_max) +
                                " is outside 0.." + std::to_string(kMaxL));
}

std::vector<at::Tensor> solid_from(const at::Tensor& u, int l_max) {
  const Tables& t = tables();
  const at::Tensor x = u.narrow(1, 0, 1), y = u.narrow(1, 1, 1), z = u.narrow(1, 2, 1);
  std::vector<at::Tensor> out;
  out.reserve(l_max + 1);
  at::Tensor mono = at::ones({u.size(0), 1}, u.options());
  out.push_back(mono);
  for (int l = 1; l <= l_max; ++l) {
    const int64_t n = mono.size(1);
    mono = at::cat({mono * x, mono.narrow(1, n - l, l) * y, mono.narrow(1, n - 1, 1) * z}, 1);
    const at::Tensor c =
        at::from_blob(const_cast<double*>(t.coeff[l].data()), {t.n_mono[l], 2 * l + 1}, at::kDouble)
            .to(u.options(), /*non_blocking=*/false, /*copy=*/true);
    out.push_back(at::matmul(mono, c));
  }
  return out;
}

void check_vectors(const at::Tensor& v, const char* who) {
  if (v.dim() != 2 || v.size(1) != 3)
    throw std::invalid_argument(std::string("so3::") + who + ": expected a [E,3] tensor, got " +
                                std::to_string(v.dim()) + " dimensions");
}

// Evaluates the same tables as solid_from, on one vector.
void solid_values(const double u[3], int l_max, double* out) {
  const Tables& t = tables();
  std::array<double, (kMaxL + 1) * (kMaxL + 2) / 2> mono{}, next{};
  mono[0] = 1.0;
  out[0] = 1.0;
  int n = 1;
  for (int l = 1; l <= l_max; ++l) {
    int k = 0;
    for (int i = 0; i < n; ++i) next[k++] = mono[i] * u[0];
    for (int i = n - l; i < n; ++i) next[k++] = mono[i] * u[1];
    next[k++] = mono[n - 1] * u[2];
    n = k;
    mono = next;
    const int w = 2 * l + 1;
    double* o = out + l * l;
    for (int c = 0; c < w; ++c) o[c] = 0.0;
    for (int i = 0; i < n; ++i) {
      const double* row = t.coeff[l].data() + i * w;
      for (int c = 0; c < w; ++c) o[c] += mono[i] * row[c];
    }
  }
}

// The gradient of Σ g·S(u) in u by forward differentiation of the same recursion: each
// monomial carries its three partial derivatives (the product rule on M_l = u_a · M_{l−1}).
void solid_values_vjp(const double u[3], int l_max, const double* g, double out[3]) {
  const Tables& t = tables();
  constexpr int kMono = (kMaxL + 1) * (kMaxL + 2) / 2;
  std::array<double, kMono> mono{}, next{};
  std::array<double, 3 * kMono> dmono{}, dnext{};
  mono[0] = 1.0;
  out[0] = out[1] = out[2] = 0.0;
  int n = 1;
  for (int l = 1; l <= l_max; ++l) {
    int k = 0;
    auto push = [&](int i, int a) {
      next[k] = mono[i] * u[a];
      for (int b = 0; b < 3; ++b) dnext[3 * k + b] = dmono[3 * i + b] * u[a] + (a == b ? mono[i] : 0.0);
      ++k;
    };
    for (int i = 0; i < n; ++i) push(i, 0);
    for (int i = n - l; i < n; ++i) push(i, 1);
    push(n - 1, 2);
    n = k;
    mono = next;
    dmono = dnext;
    const int w = 2 * l + 1;
    const double* gl = g + l * l;
    for (int i = 0; i < n; ++i) {
      const double* row = t.coeff[l].data() + i * w;
      double s = 0.0;
      for (int c = 0; c < w; ++c) s += gl[c] * row[c];
      for (int b = 0; b < 3; ++b) out[b] += s * dmono[3 * i + b];
    }
  }
}

// ---- Clebsch-Gordan ------------------------------------------------------------------------

/// Complex Clebsch-Gordan ⟨l1 m1 l2 m2 | L M⟩ (Condon-Shortley), Racah's formula
/// (Racah, Phys. Rev. 62, 438 (1942), eq. 16'; Varshalovich §8.2.1 eq. (3)).
long double racah_cg(int j1, int m1, int j2, int m2, int J, int M) {
  if (m1 + m2 != M) return 0.0L;
  if (std::abs(m1) > j1 || std::abs(m2) > j2 || std::abs(M) > J) return 0.0L;
  if (J < std::abs(j1 - j2) || J > j1 + j2) return 0.0L;
  const long double pre = std::sqrt((2.0L * J + 1) * factorial(J + j1 - j2) * factorial(J - j1 + j2) *
                                    factorial(j1 + j2 - J) / factorial(j1 + j2 + J + 1)) *
                          std::sqrt(factorial(J + M) * factorial(J - M) * factorial(j1 - m1) *
                                    factorial(j1 + m1) * factorial(j2 - m2) * factorial(j2 + m2));
  long double sum = 0.0L;
  for (int k = 0; k <= j1 + j2 - J; ++k) {
    const int d[6] = {k, j1 + j2 - J - k, j1 - m1 - k, j2 + m2 - k, J - j2 + m1 + k, J - j1 - m2 + k};
    bool ok = true;
    long double den = 1.0L;
    for (int a : d) {
      if (a < 0) { ok = false; break; }
      den *= factorial(a);
    }
    if (ok) sum += ((k % 2) ? -1.0L : 1.0L) / den;
  }
  return pre * sum;
}

/// U[μ][m] (both −l..l): real harmonic μ = Σ_m U[μ][m] · complex (Condon-Shortley) harmonic m.
/// From Y_l^{−m} = (−1)^m conj(Y_l^m): the real m > 0 one is √2 (−1)^m Re Y_l^m, the real
/// −m one √2 (−1)^m Im Y_l^m, matching the polynomial tables above.
std::vector<std::complex<long double>> real_from_complex(int l) {
  const int w = 2 * l + 1;
  std::vector<std::complex<long double>> u(w * w);
  const long double h = 1.0L / std::sqrt(2.0L);
  const std::complex<long double> i(0.0L, 1.0L);
  u[l * w + l] = 1.0L;
  for (int m = 1; m <= l; ++m) {
    const long double sign = (m % 2) ? -1.0L : 1.0L;
    u[(l + m) * w + (l + m)] = sign * h;
    u[(l + m) * w + (l - m)] = h;
    u[(l - m) * w + (l - m)] = i * h;
    u[(l - m) * w + (l + m)] = -i * sign * h;
  }
  return u;
}

std::vector<double> compute_real_cg(int l1, int l2, int L) {
  const int w1 = 2 * l1 + 1, w2 = 2 * l2 + 1, wL = 2 * L + 1;
  std::vector<double> out(static_cast<std::size_t>(w1) * w2 * wL, 0.0);
  if (L < std::abs(l1 - l2) || L > l1 + l2) return out;
  const auto u1 = real_from_complex(l1), u2 = real_from_complex(l2), uL = real_from_complex(L);
  // C_real[a,b,μ] = Σ U_L[μ,M] conj(U_1[a,m1]) conj(U_2[b,m2]) ⟨l1 m1 l2 m2|L M⟩: with
  // Y^c = U† Y^r, Σ ⟨..|LM⟩ Y^c_m1(x) Y^c_m2(y) transforms like Y^c_LM, so U_L of it like Y^r_L.
  std::vector<std::complex<long double>> c(out.size());
  for (int m1 = -l1; m1 <= l1; ++m1)
    for (int m2 = -l2; m2 <= l2; ++m2) {
      const int M = m1 + m2;
      if (std::abs(M) > L) continue;
      const long double cg = racah_cg(l1, m1, l2, m2, L, M);
      if (cg == 0.0L) continue;
      for (int a = 0; a < w1; ++a) {
        const auto x1 = std::conj(u1[a * w1 + (m1 + l1)]);
        if (x1 == 0.0L) continue;
        for (int b = 0; b < w2; ++b) {
          const auto x2 = std::conj(u2[b * w2 + (m2 + l2)]);
          if (x2 == 0.0L) continue;
          for (int mu = 0; mu < wL; ++mu) c[(a * w2 + b) * wL + mu] += uL[mu * wL + (M + L)] * x1 * x2 * cg;
        }
      }
    }
  // The product is real for l1+l2+L even and purely imaginary for odd (parity of the
  // transformation's phases); return the real number C or −i·C.
  const bool imaginary = (l1 + l2 + L) % 2 == 1;
  for (std::size_t k = 0; k < out.size(); ++k)
    out[k] = static_cast<double>(imaginary ? c[k].imag() : c[k].real());
  return out;
}

}  // namespace

std::vector<at::Tensor> solid_harmonics(const at::Tensor& v, int l_max) {
  check_l_max(l_max, "solid_harmonics");
  check_vectors(v, "solid_harmonics");
  return solid_from(v, l_max);
}

std::vector<at::Tensor> spherical_harmonics(const at::Tensor& v, int l_max) {
  check_l_max(l_max, "spherical_harmonics");
  check_vectors(v, "spherical_harmonics");
  // The solid harmonics are homogeneous of degree l: Y_l(v̂) = S_l(v/|v|).
  return solid_from(v / v.norm(2, {1}, /*keepdim=*/true), l_max);
}

void solid_harmonics(const double v[3], int l_max, double* out) {
  check_l_max(l_max, "solid_harmonics");
  solid_values(v, l_max, out);
}

void spherical_harmonics(const double v[3], int l_max, double* out) {
  check_l_max(l_max, "spherical_harmonics");
  const double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  const double u[3] = {v[0] / r, v[1] / r, v[2] / r};
  solid_values(u, l_max, out);
}

void solid_harmonics_vjp(const double v[3], int l_max, const double* g, double out[3]) {
  check_l_max(l_max, "solid_harmonics_vjp");
  solid_values_vjp(v, l_max, g, out);
}

void spherical_harmonics_vjp(const double v[3], int l_max, const double* g, double out[3]) {
  check_l_max(l_max, "spherical_harmonics_vjp");
  const double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  const double u[3] = {v[0] / r, v[1] / r, v[2] / r};
  double gu[3];
  solid_values_vjp(u, l_max, g, gu);
  // u = v/|v|: ∂u/∂v = (1 − u uᵀ)/|v|.
  const double ug = gu[0] * u[0] + gu[1] * u[1] + gu[2] * u[2];
  for (int a = 0; a < 3; ++a) out[a] = (gu[a] - ug * u[a]) / r;
}

std::vector<double> clebsch_gordan_values(int l1, int l2, int L) {
  if (l1 < 0 || l2 < 0 || L < 0 || l1 > 2 * kMaxL || l2 > 2 * kMaxL || L > 2 * kMaxL)
    throw std::invalid_argument("so3::clebsch_gordan: l = (" + std::to_string(l1) + ", " +
                                std::to_string(l2) + ", " + std::to_string(L) + ") outside 0.." +
                                std::to_string(2 * kMaxL));
  static std::mutex mutex;
  static std::map<std::tuple<int, int, int>, std::vector<double>> cache;
  const auto key = std::make_tuple(l1, l2, L);
  {
    std::lock_guard<std::mutex> lock(mutex);
    const auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  std::vector<double> c = compute_real_cg(l1, l2, L);
  std::lock_guard<std::mutex> lock(mutex);
  cache.emplace(key, c);
  return c;
}

std::vector<double> solid_harmonic_table(int l) {
  check_l_max(l, "solid_harmonic_table");
  return tables().coeff[l];
}

at::Tensor clebsch_gordan(int l1, int l2, int L) {
  std::vector<double> c = clebsch_gordan_values(l1, l2, L);
  return at::from_blob(c.data(), {2 * l1 + 1, 2 * l2 + 1, 2 * L + 1}, at::kDouble).clone();
}

}  // namespace spinlat::so3
