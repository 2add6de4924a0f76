#include "spinlat/observables/temperature.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {

namespace {

// Per-site contributions are stored and summed serially in site order, so the sums do not
// depend on the number of OpenMP threads.
SpinTemperatureSums sum_sites(const std::vector<double>& num, const std::vector<double>& den,
                              const System& s) {
  SpinTemperatureSums out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    out.numerator += num[i];
    out.denominator += den[i];
    ++out.sites;
  }
  return out;
}

// An orthonormal pair of tangent vectors at ê (a fixed rule: deterministic).
void tangents(const Vec3& e, Vec3& u, Vec3& v) {
  const Vec3 a = std::abs(e.x()) < 0.9 ? Vec3::UnitX() : Vec3::UnitY();
  u = e.cross(a).normalized();
  v = e.cross(u);
}

}  // namespace

SpinTemperatureSums spin_temperature_sums(const System& s, const SpinKernel& k) {
  const long long n = static_cast<long long>(s.size());
  std::vector<double> num(s.size(), 0.0), den(s.size(), 0.0);
#pragma omp parallel for schedule(static) if (n > 2048)
  for (long long ii = 0; ii < n; ++ii) {
    const int i = static_cast<int>(ii);
    if (!s.magnetic(i)) continue;
    const Vec3& e = s.spin[i];
    const Vec3 h = k.field(s.spin, s.moment, i);
    num[i] = e.cross(h).squaredNorm();
    // Δ_S E_i: 2 ê·h for the part of E linear in ê_i (bilinear pairs, DMI, Zeeman) ...
    Vec3 lin = k.bilinear_field(s.spin, i);
    if (!k.zeeman.empty()) lin += s.moment[i] * k.zeeman[i];
    double lap = 2.0 * e.dot(lin);
    // ... plus the Laplacians of the quadratic and quartic terms (see the header).
    if (k.has_biquadratic)
      for (int q = k.offset[i]; q < k.offset[i + 1]; ++q) {
        const double a = e.dot(s.spin[k.neighbor[q]]);
        lap += k.Q[q] * (6.0 * a * a - 2.0);
      }
    if (!k.K.empty()) {
      const double c = e.dot(k.axis[i]);
      lap += k.K[i] * (6.0 * c * c - 2.0);
    }
    if (!k.Kc.empty()) {
      const Vec3 q = e.cwiseAbs2();
      lap += k.Kc[i] * (4.0 - 20.0 * (q[0] * q[1] + q[1] * q[2] + q[2] * q[0]));
    }
    den[i] = lap;
  }
  return sum_sites(num, den, s);
}

SpinTemperatureSums spin_temperature_sums(const System& s, const Hamiltonian& h, SpinTemperatureMethod method,
                                          double delta) {
  const SpinKernel* k = h.spin_kernel();
  if (method == SpinTemperatureMethod::kernel && !k)
    throw std::invalid_argument("spin temperature: the Hamiltonian has no spin kernel");
  // A kernel is compiled for the positions at bind time: with position-dependent terms it
  // may be stale, so the automatic choice then takes the general path.
  if (method == SpinTemperatureMethod::kernel ||
      (method == SpinTemperatureMethod::automatic && k && !h.depends_on_positions()))
    return spin_temperature_sums(s, *k);

  std::vector<Vec3> force;
  Derivatives d;
  d.magnetic_force = &force;
  h.compute(s, d);
  const long long n = static_cast<long long>(s.size());
  std::vector<double> num(s.size(), 0.0), den(s.size(), 0.0);
  const double c = std::cos(delta), sn = std::sin(delta);
#pragma omp parallel for schedule(static) if (n > 2048)
  for (long long ii = 0; ii < n; ++ii) {
    const int i = static_cast<int>(ii);
    if (!s.magnetic(i)) continue;
    const Vec3& e = s.spin[i];
    // −∂E/∂ê = |m| (−∂E/∂m); only the part ⟂ ê enters |ê × h|.
    num[i] = e.cross(s.moment[i] * force[i]).squaredNorm();
    Vec3 u, v;
    tangents(e, u, v);
    // Δ_S f = Σ over two orthonormal geodesics of f''(0); f(θ) along ê cos θ + t sin θ.
    double second = 0.0;
    for (const Vec3& t : {u, v})
      second += h.local_energy_change(s, i, (c * e + sn * t).normalized(), s.moment[i]) +
                h.local_energy_change(s, i, (c * e - sn * t).normalized(), s.moment[i]);
    den[i] = second / (delta * delta);
  }
  return sum_sites(num, den, s);
}

double spin_temperature(const System& s, const Hamiltonian& h, SpinTemperatureMethod method) {
  return spin_temperature_sums(s, h, method).temperature();
}

double classic_spin_temperature(const System& s, const SpinKernel& k) {
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    const Vec3 h = k.field(s.spin, s.moment, static_cast<int>(i));
    num += s.spin[i].cross(h).squaredNorm();
    den += 2.0 * s.spin[i].dot(h);
  }
  return den > 0.0 ? num / den / units::k_B : std::numeric_limits<double>::quiet_NaN();
}

double lattice_kinetic_energy(const System& s) {
  double k = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) k += 0.5 * s.mass(i) * s.velocity[i].squaredNorm();
  return k * units::mvv2e;
}

double kinetic_temperature(const System& s, int constraints) {
  const double dof = 3.0 * static_cast<double>(s.size()) - constraints;
  if (!(dof > 0.0)) return std::numeric_limits<double>::quiet_NaN();
  return 2.0 * lattice_kinetic_energy(s) / (dof * units::k_B);
}

}  // namespace spinlat
