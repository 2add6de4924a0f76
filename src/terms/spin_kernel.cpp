#include "spinlat/terms/spin_kernel.hpp"

#include <algorithm>

#include "spinlat/core/units.hpp"

namespace spinlat {

void SpinKernel::reset(std::size_t atoms) {
  *this = SpinKernel();
  n = atoms;
}

void SpinKernel::add_pair(int i, int j, double Jij, const Vec3& Dij, double Qij) {
  if (i == j) {  // D·(ê×ê) = 0; J and Q terms are constants
    if (self_energy.empty()) self_energy.assign(n, 0.0);
    self_energy[i] -= 0.5 * (Jij + Qij);
    return;
  }
  pending_.push_back({i, j, Jij, Dij, Qij});
  if (Dij.squaredNorm() > 0.0) has_dmi = true;
  if (Qij != 0.0) has_biquadratic = true;
}

void SpinKernel::add_zeeman(int i, const Vec3& b) {
  if (zeeman_pending_.empty()) zeeman_pending_.assign(n, Vec3::Zero());
  zeeman_pending_[i] += b;
}

void SpinKernel::add_uniaxial(int i, double k, const Vec3& a) {
  if (K.empty()) { K.assign(n, 0.0); axis.assign(n, Vec3::UnitZ()); }
  // One uniaxial axis per site: a second term on the same site must share the axis.
  if (K[i] != 0.0 && (axis[i] - a).norm() > 1e-12 && (axis[i] + a).norm() > 1e-12) {
    axis_conflict = true;
    return;
  }
  K[i] += k;
  axis[i] = a;
}

void SpinKernel::add_cubic(int i, double kc) {
  if (Kc.empty()) Kc.assign(n, 0.0);
  Kc[i] += kc;
}

void SpinKernel::finalize() {
  // Merge entries per directed pair (i, j), keeping neighbours in ascending j for locality.
  std::sort(pending_.begin(), pending_.end(), [](const Entry& a, const Entry& b) {
    return a.i != b.i ? a.i < b.i : a.j < b.j;
  });
  offset.assign(n + 1, 0);
  neighbor.clear(); J.clear(); D.clear(); Q.clear();
  for (std::size_t k = 0; k < pending_.size();) {
    const Entry& e = pending_[k];
    double j = 0.0, q = 0.0;
    Vec3 d = Vec3::Zero();
    std::size_t m = k;
    for (; m < pending_.size() && pending_[m].i == e.i && pending_[m].j == e.j; ++m) {
      j += pending_[m].J; d += pending_[m].D; q += pending_[m].Q;
    }
    neighbor.push_back(e.j);
    J.push_back(j);
    if (has_dmi) D.push_back(d);
    if (has_biquadratic) Q.push_back(q);
    offset[e.i + 1]++;
    k = m;
  }
  for (std::size_t i = 0; i < n; ++i) offset[i + 1] += offset[i];
  const std::size_t chunks = (n + kReachChunk - 1) / kReachChunk;
  reach_lo.assign(chunks, 0);
  reach_hi.assign(chunks, 0);
  for (std::size_t c = 0; c < chunks; ++c) {
    const std::size_t i0 = c * kReachChunk, i1 = std::min(n, i0 + kReachChunk);
    int lo = static_cast<int>(i0), hi = static_cast<int>(i1) - 1;
    for (int m = offset[i0]; m < offset[i1]; ++m) {
      lo = std::min(lo, neighbor[m]);
      hi = std::max(hi, neighbor[m]);
    }
    reach_lo[c] = lo;
    reach_hi[c] = hi;
  }
  uniform_J = !J.empty() && std::all_of(J.begin(), J.end(), [&](double j) { return j == J.front(); });
  pending_.clear();
  pending_.shrink_to_fit();
  zeeman = std::move(zeeman_pending_);
  zeeman_pending_.clear();
}

int SpinKernel::max_neighbors() const {
  int m = 0;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, offset[i + 1] - offset[i]);
  return m;
}

static inline double cubic_form(const Vec3& e) {
  const Vec3 s = e.cwiseAbs2();
  return s[0] * s[1] + s[1] * s[2] + s[2] * s[0];
}

double SpinKernel::delta_energy(const std::vector<Vec3>& spin, const std::vector<double>& moment,
                                int i, const Vec3& e_new) const {
  const Vec3& e_old = spin[i];
  const Vec3 de = e_new - e_old;
  double dE = -de.dot(bilinear_field(spin, i));
  if (has_biquadratic)
    for (int k = offset[i]; k < offset[i + 1]; ++k) {
      const Vec3& ej = spin[neighbor[k]];
      const double a = e_new.dot(ej), b = e_old.dot(ej);
      dE -= Q[k] * (a * a - b * b);
    }
  if (!zeeman.empty()) dE -= moment[i] * zeeman[i].dot(de);
  if (!K.empty()) {
    const double a = e_new.dot(axis[i]), b = e_old.dot(axis[i]);
    dE -= K[i] * (a * a - b * b);
  }
  if (!Kc.empty()) dE += Kc[i] * (cubic_form(e_new) - cubic_form(e_old));
  return dE;
}

Vec3 SpinKernel::field(const std::vector<Vec3>& spin, const std::vector<double>& moment, int i) const {
  Vec3 h = bilinear_field(spin, i);
  const Vec3& e = spin[i];
  if (has_biquadratic)
    for (int k = offset[i]; k < offset[i + 1]; ++k) {
      const Vec3& ej = spin[neighbor[k]];
      h += 2.0 * Q[k] * e.dot(ej) * ej;
    }
  if (!zeeman.empty()) h += moment[i] * zeeman[i];
  if (!K.empty()) h += 2.0 * K[i] * e.dot(axis[i]) * axis[i];
  if (!Kc.empty()) {
    const Vec3 s = e.cwiseAbs2();
    h -= 2.0 * Kc[i] * Vec3(e[0] * (s[1] + s[2]), e[1] * (s[2] + s[0]), e[2] * (s[0] + s[1]));
  }
  return h;
}

double SpinKernel::site_energy(const std::vector<Vec3>& spin, const std::vector<double>& moment,
                               int i) const {
  const Vec3& e = spin[i];
  double E = -0.5 * e.dot(bilinear_field(spin, i));
  if (has_biquadratic)
    for (int k = offset[i]; k < offset[i + 1]; ++k) {
      const double a = e.dot(spin[neighbor[k]]);
      E -= 0.5 * Q[k] * a * a;
    }
  if (!zeeman.empty()) E -= moment[i] * zeeman[i].dot(e);
  if (!K.empty()) { const double a = e.dot(axis[i]); E -= K[i] * a * a; }
  if (!Kc.empty()) E += Kc[i] * cubic_form(e);
  if (!self_energy.empty()) E += self_energy[i];
  return E;
}

double SpinKernel::energy(const std::vector<Vec3>& spin, const std::vector<double>& moment) const {
  // Fixed summation order (site order, serial) so the value is independent of threads.
  double E = 0.0;
  for (std::size_t i = 0; i < n; ++i) E += site_energy(spin, moment, static_cast<int>(i));
  return E;
}

}  // namespace spinlat
