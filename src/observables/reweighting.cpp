// Histogram reweighting; see include/spinlat/observables/reweighting.hpp.
#include "spinlat/observables/reweighting.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "spinlat/core/units.hpp"
#include "spinlat/observables/statistics.hpp"

namespace spinlat {

// ---- SampleRecord -----------------------------------------------------------------------

SampleRecord::SampleRecord(std::size_t max_stored) : max_stored_(static_cast<long long>(max_stored)) {
  if (max_stored == 1 || max_stored % 2 != 0)
    throw std::invalid_argument("SampleRecord: max_stored must be 0 or an even number >= 2");
}

void SampleRecord::add(double e, double phi) {
  if (max_stored_ == 0) return;
  if (count_++ % stride_ != 0) return;
  energy_.push_back(e);
  order_.push_back(phi);
  if (static_cast<long long>(energy_.size()) == max_stored_) {
    // Keep pairs 0, 2, 4, ...: the stored ones are then every (2 stride)-th measurement.
    for (std::size_t i = 0; 2 * i < energy_.size(); ++i) {
      energy_[i] = energy_[2 * i];
      order_[i] = order_[2 * i];
    }
    energy_.resize(energy_.size() / 2);
    order_.resize(order_.size() / 2);
    stride_ *= 2;
  }
}

SampleRecordState SampleRecord::state() const { return {energy_, order_, stride_, count_, max_stored_}; }

void SampleRecord::set_state(const SampleRecordState& s) {
  if (s.energy.size() != s.order.size() || s.stride < 1 || s.count < 0 || s.max_stored < 0)
    throw std::invalid_argument("SampleRecord: inconsistent state");
  energy_ = s.energy;
  order_ = s.order;
  stride_ = s.stride;
  count_ = s.count;
  max_stored_ = s.max_stored;
}

// ---- MultiHistogram ---------------------------------------------------------------------

namespace {
constexpr double kBlockTaus = 20.0;
constexpr int kMinBlocks = 8, kMaxBlocks = 16;

double log_sum_exp(const double* x, std::size_t n) {
  double m = -INFINITY;
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  if (!std::isfinite(m)) return m;
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
  return m + std::log(s);
}

// τ_int of a stored series in samples, ≥ ½ (½ also for constant or too short series).
double series_tau(const std::vector<double>& x) {
  if (x.size() < 16) return 0.5;
  const TauEstimate t = sokal_tau(x);
  return std::isfinite(t.tau) ? std::max(0.5, t.tau) : 0.5;
}
}  // namespace

MultiHistogram::MultiHistogram(const SizeSamples& data, std::vector<double> tau) : atoms_(data.atoms) {
  if (data.atoms < 1) throw std::invalid_argument("MultiHistogram: atoms must be >= 1");
  if (!tau.empty() && tau.size() != data.points.size())
    throw std::invalid_argument("MultiHistogram: one tau per point expected");
  std::vector<std::size_t> order(data.points.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&data](std::size_t a, std::size_t b) {
    return data.points[a].temperature < data.points[b].temperature;
  });
  double sum = 0.0;
  long long n = 0;
  for (std::size_t k : order) {
    const PointSamples& p = data.points[k];
    if (p.energy.size() != p.order.size())
      throw std::invalid_argument("MultiHistogram: energy and order series differ in length");
    if (p.energy.empty() || !(p.temperature > 0.0)) continue;
    temperature_.push_back(p.temperature);
    beta_.push_back(1.0 / (units::k_B * p.temperature));
    std::vector<double> e(p.energy.size());
    for (std::size_t i = 0; i < e.size(); ++i) { e[i] = static_cast<double>(atoms_) * p.energy[i]; sum += e[i]; }
    n += static_cast<long long>(e.size());
    e_.push_back(std::move(e));
    phi_.push_back(p.order);
    tau_.push_back(tau.empty() ? std::max(series_tau(p.energy), series_tau(p.order)) : std::max(0.5, tau[k]));
  }
  if (beta_.empty()) throw std::invalid_argument("MultiHistogram: no samples");
  e_ref_ = sum / static_cast<double>(n);
  for (auto& e : e_)
    for (double& x : e) x -= e_ref_;
  // Initial free energies by thermodynamic integration, d f/dβ = ⟨E⟩ (trapezoid rule).
  f_.assign(beta_.size(), 0.0);
  for (std::size_t k = 1; k < beta_.size(); ++k) {
    const auto mean = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()); };
    f_[k] = f_[k - 1] + (beta_[k] - beta_[k - 1]) * 0.5 * (mean(e_[k]) + mean(e_[k - 1]));
  }
  for (std::size_t k = 0; k < e_.size(); ++k) {
    use_.emplace_back(e_[k].size(), 1);
    logd_.emplace_back(e_[k].size(), 0.0);
    logw_.emplace_back(e_[k].size(), 0.0);
  }
}

int MultiHistogram::suggested_blocks() const {
  double m = INFINITY;
  for (std::size_t k = 0; k < e_.size(); ++k) m = std::min(m, double(e_[k].size()) / (kBlockTaus * tau_[k]));
  int b = static_cast<int>(std::clamp(std::floor(m), double(kMinBlocks), double(kMaxBlocks)));
  for (const auto& e : e_) b = std::min(b, static_cast<int>(e.size()));
  return std::max(b, 2);
}

bool MultiHistogram::short_blocks() const {
  for (std::size_t k = 0; k < e_.size(); ++k)
    if (double(e_[k].size()) / (kBlockTaus * tau_[k]) < kMinBlocks) return true;
  return false;
}

double MultiHistogram::min_effective() const {
  double m = INFINITY;
  for (std::size_t k = 0; k < e_.size(); ++k) m = std::min(m, double(e_[k].size()) / (2.0 * tau_[k]));
  return 0.25 * m;  // every simulated temperature passes (n_eff ≈ N_k/g_k there)
}

void MultiHistogram::solve(int skip, int blocks) {
  const std::size_t K = beta_.size();
  std::vector<double> c(K), a(K), logc(K);
  for (std::size_t k = 0; k < K; ++k) {
    const std::size_t n = e_[k].size();
    std::size_t used = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const int b = blocks > 1 ? static_cast<int>(i * static_cast<std::size_t>(blocks) / n) : 0;
      use_[k][i] = (skip < 0 || b != skip) ? 1 : 0;
      used += use_[k][i];
    }
    if (used == 0) throw std::invalid_argument("MultiHistogram: a point has no samples left in a jackknife block");
    a[k] = 1.0 / (2.0 * tau_[k]);
    c[k] = double(used) * a[k];
    logc[k] = std::log(c[k]);
  }
  // Newton on the convex F(f) with f_0 = 0 fixed (F is invariant under a common shift).
  std::vector<double> l(K), grad(K);
  Eigen::MatrixXd H(K, K);
  auto evaluate = [&](const std::vector<double>& f, bool derivatives) {
    double F = 0.0;
    if (derivatives) { std::fill(grad.begin(), grad.end(), 0.0); H.setZero(); }
    for (std::size_t p = 0; p < K; ++p)
      for (std::size_t i = 0; i < e_[p].size(); ++i) {
        if (!use_[p][i]) continue;
        for (std::size_t j = 0; j < K; ++j) l[j] = logc[j] + f[j] - beta_[j] * e_[p][i];
        const double ld = log_sum_exp(l.data(), K);
        logd_[p][i] = ld;
        F += a[p] * ld;
        if (!derivatives) continue;
        for (std::size_t j = 0; j < K; ++j) l[j] = std::exp(l[j] - ld);  // W_nj
        for (std::size_t j = 0; j < K; ++j) {
          grad[j] += a[p] * l[j];
          H(j, j) += a[p] * l[j];
          for (std::size_t q = 0; q <= j; ++q) H(j, q) -= a[p] * l[j] * l[q];
        }
      }
    for (std::size_t k = 0; k < K; ++k) {
      F -= c[k] * f[k];
      if (derivatives) grad[k] -= c[k];
    }
    return F;
  };
  for (std::size_t k = 0; k < K; ++k) f_[k] -= f_[0];
  iterations_ = 0;
  if (K == 1) {
    evaluate(f_, false);
    for (std::size_t i = 0; i < logd_[0].size(); ++i) logw_[0][i] = -std::log(2.0 * tau_[0]) - logd_[0][i];
    return;
  }
  for (int it = 0; it < 100; ++it) {
    const double F = evaluate(f_, true);
    double worst = 0.0;
    for (std::size_t k = 0; k < K; ++k) worst = std::max(worst, std::abs(grad[k]) / c[k]);
    if (worst < 1e-10) break;
    ++iterations_;
    const std::size_t m = K - 1;
    Eigen::MatrixXd Hr(m, m);
    Eigen::VectorXd g(m);
    for (std::size_t j = 0; j < m; ++j) {
      g(j) = grad[j + 1];
      for (std::size_t q = 0; q <= j; ++q) Hr(j, q) = Hr(q, j) = H(j + 1, q + 1);
    }
    const Eigen::VectorXd step = -Hr.ldlt().solve(g);
    if (!step.allFinite()) break;  // singular: a point without overlap; keep the last f
    // Backtracking: F is convex, so a shorter Newton step always decreases it eventually.
    double alpha = 1.0;
    bool moved = false;
    std::vector<double> trial(K);
    for (int ls = 0; ls < 40 && !moved; ++ls, alpha *= 0.5) {
      trial[0] = 0.0;
      for (std::size_t j = 0; j < m; ++j) trial[j + 1] = f_[j + 1] + alpha * step(j);
      moved = evaluate(trial, false) <= F + 1e-12 * std::abs(F);
    }
    if (!moved) break;  // at the minimum to rounding
    f_ = trial;
  }
  evaluate(f_, false);  // ln D_n at the solution
  for (std::size_t p = 0; p < K; ++p)
    for (std::size_t i = 0; i < logd_[p].size(); ++i) logw_[p][i] = -std::log(2.0 * tau_[p]) - logd_[p][i];
}

Reweighted MultiHistogram::at(double T) const {
  Reweighted r;
  const double beta = 1.0 / (units::k_B * T);
  // ln w_n = −ln g_n − ln D_n − β E_n (logw_ holds the first two terms of the current solve).
  double lmax = -INFINITY;
  for (std::size_t p = 0; p < e_.size(); ++p)
    for (std::size_t i = 0; i < e_[p].size(); ++i)
      if (use_[p][i]) lmax = std::max(lmax, logw_[p][i] - beta * e_[p][i]);
  double sw = 0, sw2g = 0, se = 0, se2 = 0, sp = 0, sp2 = 0, sp4 = 0;
  for (std::size_t p = 0; p < e_.size(); ++p) {
    const double g = 2.0 * tau_[p];
    const double* lw = logw_[p].data();
    const double* ep = e_[p].data();
    const double* fp = phi_[p].data();
    const char* u = use_[p].data();
    double w1 = 0, w2 = 0;
    for (std::size_t i = 0; i < e_[p].size(); ++i) {
      if (!u[i]) continue;
      const double w = std::exp(lw[i] - beta * ep[i] - lmax);
      const double e = ep[i], phi = fp[i], p2 = phi * phi;
      w1 += w; w2 += w * w;
      se += w * e; se2 += w * e * e;
      sp += w * phi; sp2 += w * p2; sp4 += w * p2 * p2;
    }
    sw += w1;
    sw2g += g * w2;
  }
  if (!(sw > 0.0)) return r;
  const double N = static_cast<double>(atoms_), kT = units::k_B * T;
  const double me = se / sw, mp = sp / sw, mp2 = sp2 / sw, mp4 = sp4 / sw;
  r.energy = (me + e_ref_) / N;
  r.order = mp;
  r.order2 = mp2;
  r.susceptibility = N * (mp2 - mp * mp) / kT;
  r.specific_heat = (se2 / sw - me * me) / (N * kT * kT);
  r.binder = 1.0 - mp4 / (3.0 * mp2 * mp2);
  r.effective_samples = sw * sw / sw2g;
  return r;
}

}  // namespace spinlat
