// Physical sanity checks of an input (include/spinlat/workflows/sanity.hpp).
#include "spinlat/workflows/sanity.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>

#include "spinlat/core/units.hpp"
#include "spinlat/drivers/driver.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

namespace spinlat {
namespace {

// Random configurations averaged for ⟨E⟩_random: enough that about 4000 moments are sampled
// (the estimate's noise falls as 1/√(moments)), at least 4.
constexpr int kMinRandomConfigurations = 4, kMaxRandomConfigurations = 256;
constexpr double kSampledMoments = 4000.0;
constexpr std::size_t kMaxShells = 6;

std::string num(double x, const char* fmt = "%.3g") {
  char buf[48];
  std::snprintf(buf, sizeof buf, fmt, x);
  return buf;
}

void set_all(System& s, const Vec3& dir) {
  for (int i : s.magnetic_sites()) s.spin[static_cast<std::size_t>(i)] = dir;
}

/// Moments in uniformly random directions; a fixed private generator, so that a check never
/// draws from (or depends on) the run's streams.
void randomise(System& s, std::mt19937_64& rng) {
  std::normal_distribution<double> g;
  for (int i : s.magnetic_sites()) {
    Vec3 v(g(rng), g(rng), g(rng));
    s.spin[static_cast<std::size_t>(i)] = v.normalized();
  }
}

double max_field(const Hamiltonian& h, const System& s) {
  std::vector<Vec3> b(s.size(), Vec3::Zero());
  Derivatives d;
  d.magnetic_force = &b;
  h.compute(s, d);
  double m = 0.0;
  for (int i : s.magnetic_sites()) m = std::max(m, b[static_cast<std::size_t>(i)].norm());
  return units::magforce_to_tesla(m);
}

/// Four-state J between magnetic atoms i and j (ExchangeShell::J).
double four_state_exchange(const Hamiltonian& h, System s, int i, int j) {
  set_all(s, Vec3::UnitZ());
  const Vec3 x = Vec3::UnitX();
  double sum = 0.0;
  for (int a : {1, -1})
    for (int b : {1, -1}) {
      s.spin[static_cast<std::size_t>(i)] = double(a) * x;
      s.spin[static_cast<std::size_t>(j)] = double(b) * x;
      sum += double(a * b) * h.energy(s);
    }
  return -sum / 4.0;
}

std::vector<ExchangeShell> exchange_shells(const Hamiltonian& h, const System& s) {
  const std::vector<int> mag = s.magnetic_sites();
  if (mag.empty() || h.cutoff() <= 0.0) return {};
  const int i = mag.front();
  const NeighborList list = build_neighbor_list(s, h.cutoff());
  std::vector<double> shells = neighbor_shells(list);
  if (shells.size() > kMaxShells) shells.resize(kMaxShells);
  const std::vector<int> shell = shell_index(list, shells);
  std::vector<ExchangeShell> out(shells.size());
  std::vector<int> partner(shells.size(), -1);
  for (std::size_t k = 0; k < shells.size(); ++k) out[k].distance = shells[k];
  for (int e = list.begin(i); e < list.end(i); ++e) {
    const int j = list.index[static_cast<std::size_t>(e)], sh = shell[static_cast<std::size_t>(e)];
    if (sh < 0 || j == i || !s.magnetic(static_cast<std::size_t>(j))) continue;
    ++out[static_cast<std::size_t>(sh)].count;
    if (partner[static_cast<std::size_t>(sh)] < 0) partner[static_cast<std::size_t>(sh)] = j;
  }
  std::vector<ExchangeShell> kept;
  for (std::size_t k = 0; k < out.size(); ++k)
    if (partner[k] >= 0) {
      out[k].J = four_state_exchange(h, s, i, partner[k]);
      kept.push_back(out[k]);
    }
  return kept;
}

/// The time step of a spin-dynamics driver, from its settings as read ("" when it has none).
double spin_time_step(const DriverSpec& d) {
  if (!d.spin_dynamics()) return 0.0;
  const auto settings = d.settings();
  const auto it = settings.find("dt");
  if (it == settings.end()) return 0.0;
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    return 0.0;
  }
}

void check_time_step(const DriverSpec& d, const std::string& where, double field, PhysicsChecks& out) {
  const double dt = spin_time_step(d);
  if (!(dt > 0.0) || !(field > 0.0)) return;
  const double angle = units::gamma_e * field * dt;  // rad per step of precession
  if (angle <= kMaxPrecessionPerStep) return;
  const double advised = kAdvisedPrecessionPerStep / (units::gamma_e * field);
  out.warnings.push_back(where + " (" + d.type + "): a moment precesses γ|B|dt = " + num(angle) +
                         " rad per step in the largest field |B| = " + num(field) + " T at dt = " + num(dt) +
                         " ps; the integrator needs ≲ " + num(kMaxPrecessionPerStep) + " rad: reduce dt to about " +
                         num(advised) + " ps");
}

}  // namespace

PhysicsChecks check_physics(const Config& c, const System& s0, const Hamiltonian& h, bool shells) {
  PhysicsChecks out;
  const std::vector<int> mag = s0.magnetic_sites();
  if (mag.empty()) {
    out.tc_mean_field = std::numeric_limits<double>::quiet_NaN();
    return out;
  }
  System s = s0;
  const double n = double(mag.size());
  const double e_initial = h.energy(s);
  out.max_field_tesla = max_field(h, s);
  set_all(s, Vec3::UnitZ());
  const double e_ferro = h.energy(s);
  out.max_field_tesla = std::max(out.max_field_tesla, max_field(h, s));
  std::mt19937_64 rng(0x5eed5a17u);
  double e_random = 0.0;
  const int configurations =
      std::clamp(static_cast<int>(std::ceil(kSampledMoments / n)), kMinRandomConfigurations, kMaxRandomConfigurations);
  for (int k = 0; k < configurations; ++k) {
    randomise(s, rng);
    e_random += h.energy(s) / configurations;
    if (k == 0) out.max_field_tesla = std::max(out.max_field_tesla, max_field(h, s));
  }
  out.ordering_energy = (e_random - std::min(e_ferro, e_initial)) / n;
  out.tc_mean_field = std::max(0.0, 2.0 * out.ordering_energy / 3.0) / units::k_B;
  if (shells) out.shells = exchange_shells(h, s0);

  if (std::abs(out.ordering_energy) > kMaxOrderingEnergy)
    out.warnings.push_back("the moments' ordering energy is " + num(out.ordering_energy) +
                           " eV per magnetic atom (mean-field ordering temperature " + num(out.tc_mean_field, "%.0f") +
                           " K; bcc iron's is about 0.1 eV): exchange or anisotropy given in meV where eV is expected?");
  for (std::size_t k = 0; k < c.stages.size(); ++k)
    check_time_step(*c.stages[k].driver, "stage " + std::to_string(k), out.max_field_tesla, out);
  if (c.sweep.enabled) check_time_step(*c.sweep.driver, "sweep", out.max_field_tesla, out);
  return out;
}

std::string spin_conservation_breach(const Vec3& start, const Vec3& end, double saturation) {
  const double change = (end - start).norm();
  if (!(saturation > 0.0) || change <= kMaxTotalSpinChange * saturation) return "";
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "the total spin changed by |ΔM| = %.3g μB (%.2g of the saturation moment %.4g μB; |M| %.4g → %.4g μB), "
                "though every term conserves it and there is no damping or field: dt too large for the integrator "
                "(reduce dt)",
                change, change / saturation, saturation, start.norm(), end.norm());
  return buf;
}

std::string bath_mismatch(double spin_temperature, double bath) {
  if (!std::isfinite(spin_temperature)) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "over the stage's second half the spin temperature was mostly undefined (the moments point "
                  "against their fields: hotter than infinite temperature) against a bath of %.0f K: dt too large "
                  "for the fields (reduce dt)",
                  bath);
    return buf;
  }
  const double ratio = spin_temperature / bath;
  if (ratio <= 2.0 && ratio >= 0.5) return "";
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "the spin temperature over the stage's second half is %.0f K against a bath of %.0f K "
                "(%.2g times): dt too large for the fields (reduce dt), or the stage too short to equilibrate",
                spin_temperature, bath, ratio);
  return buf;
}

}  // namespace spinlat
