#include "spinlat/observables/thermo.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "spinlat/core/error.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/core/units.hpp"

namespace spinlat {

namespace {
// Blocks shorter than this many τ_int leave correlations between neighbouring blocks that
// make the jackknife underestimate variances by roughly τ/L.
constexpr double kBlockTaus = 20.0;
constexpr long long kMinBlocks = 16, kMaxBlocks = 64;

std::string fmt(double x) {
  std::ostringstream os;
  os.precision(17);
  os << x;
  return os.str();
}
}  // namespace

ThermoAccumulator::ThermoAccumulator(double temperature, long long atoms, std::size_t max_stored,
                                     std::size_t max_samples)
    : temperature_(temperature), atoms_(atoms), energy_(max_stored), energy2_(max_stored),
      mag_(max_stored), order_(max_stored), order2_(max_stored), order4_(max_stored), samples_(max_samples) {
  if (atoms < 1) throw std::invalid_argument("ThermoAccumulator: atoms must be >= 1");
}

void ThermoAccumulator::add(double e, double m, double op) {
  if (!std::isfinite(e) || !std::isfinite(m) || !std::isfinite(op))
    throw NumericalError("ThermoAccumulator: non-finite sample (energy " + fmt(e) + ", magnetization " +
                         fmt(m) + ", order " + fmt(op) + ")");
  if (!has_ref_) {
    has_ref_ = true;
    e_ref_ = e;
    op_ref_ = op;
  }
  const double de = e - e_ref_, dp = op - op_ref_, p2 = op * op;
  energy_.add(de);
  energy2_.add(de * de);
  mag_.add(m);
  order_.add(dp);
  order2_.add(dp * dp);
  order4_.add(p2 * p2);
  samples_.add(e, op);
}

ThermoEstimate ThermoAccumulator::estimate() const {
  ThermoEstimate t;
  t.temperature = temperature_;
  t.samples = samples();
  if (t.samples == 0) { t.warning = "no samples"; return t; }

  const Value e = energy_.estimate(), p = order_.estimate();
  t.energy = {e_ref_ + e.value, e.error};
  t.magnetization = mag_.estimate();
  t.order_parameter = {op_ref_ + p.value, p.error};
  t.order_fourth = order4_.estimate();
  const double r = op_ref_;
  t.order_squared.value = order2_.mean() + 2.0 * r * order_.mean() + r * r;

  const TauEstimate te = energy_.tau_int(), tp = order_.tau_int();
  t.tau_energy = std::isfinite(te.tau) ? te.tau : 0.5;
  t.tau_order = std::isfinite(tp.tau) ? tp.tau : 0.5;
  t.tau_int = std::max(t.tau_energy, t.tau_order);

  const long long nbins = static_cast<long long>(energy_.bins().size());
  const double used = static_cast<double>(nbins * energy_.bin_width());
  const long long target = static_cast<long long>(used / (kBlockTaus * t.tau_int));
  const long long nb = std::min(nbins, std::clamp(target, kMinBlocks, kMaxBlocks));
  t.blocks = static_cast<int>(nb);
  t.samples_needed = static_cast<long long>(std::ceil(double(kMinBlocks) * kBlockTaus * t.tau_int));

  const bool binned = energy_.binning().converged && order_.binning().converged;
  t.converged = binned && target >= kMinBlocks && te.converged && tp.converged;
  if (!t.converged) {
    // Say which check failed: a short run, or an error estimate whose convergence could not
    // be confirmed (binning plateau or Sokal window) although the run is long.
    std::ostringstream w;
    if (target < kMinBlocks)
      w << "run too short for its autocorrelation time (" << t.samples << " samples, tau_int " << t.tau_int
        << "): error bars are lower bounds";
    else if (!binned)
      w << "binning analysis shows no plateau (" << t.samples << " samples, tau_int " << t.tau_int
        << "): error bars may be underestimated";
    else
      w << "autocorrelation window did not converge (tau_int " << t.tau_int << "): error bars may be underestimated";
    t.warning = w.str();
  }
  if (nb < 2) return t;

  const double N = static_cast<double>(atoms_);
  const double kT = units::k_B * temperature_;
  const auto m2_of = [r](double dp, double dp2) { return dp2 + 2.0 * r * dp + r * r; };
  t.order_squared = jackknife(static_cast<std::size_t>(nb), m2_of, order_, order2_);
  t.binder = jackknife(
      static_cast<std::size_t>(nb),
      [&m2_of](double dp, double dp2, double p4) {
        const double m2 = m2_of(dp, dp2);
        return 1.0 - p4 / (3.0 * m2 * m2);
      },
      order_, order2_, order4_);
  if (kT > 0.0) {
    t.susceptibility = jackknife(
        static_cast<std::size_t>(nb), [N, kT](double a, double b) { return N * (b - a * a) / kT; }, order_, order2_);
    t.susceptibility_prime = jackknife(
        static_cast<std::size_t>(nb), [&m2_of, N, kT](double a, double b) { return N * m2_of(a, b) / kT; },
        order_, order2_);
    t.specific_heat = jackknife(
        static_cast<std::size_t>(nb), [N, kT](double a, double b) { return N * (b - a * a) / (kT * kT); },
        energy_, energy2_);
  }
  return t;
}

ThermoAccumulatorState ThermoAccumulator::state() const {
  ThermoAccumulatorState s;
  s.temperature = temperature_;
  s.atoms = atoms_;
  s.has_reference = has_ref_;
  s.energy_reference = e_ref_;
  s.order_reference = op_ref_;
  for (const TimeSeries* ts : {&energy_, &energy2_, &mag_, &order_, &order2_, &order4_})
    s.series.push_back(ts->state());
  s.samples = samples_.state();
  return s;
}

void ThermoAccumulator::set_state(const ThermoAccumulatorState& s) {
  if (s.series.size() != 6 || s.atoms < 1)
    throw InputError("thermodynamics accumulator state is inconsistent (corrupt checkpoint?)");
  for (const auto& x : s.series)
    if (x.count != s.series[0].count) throw InputError("thermodynamics accumulator state: series lengths differ");
  temperature_ = s.temperature;
  atoms_ = s.atoms;
  has_ref_ = s.has_reference;
  e_ref_ = s.energy_reference;
  op_ref_ = s.order_reference;
  TimeSeries* ts[] = {&energy_, &energy2_, &mag_, &order_, &order2_, &order4_};
  for (int k = 0; k < 6; ++k) ts[k]->set_state(s.series[k]);
  samples_.set_state(s.samples);
}

std::string ThermoAccumulator::save_state() const {
  state_io::Writer w("spinlat-thermo", 3);
  w.real("temperature", temperature_);
  w.signed_integer("atoms", atoms_);
  w.integer("has_reference", has_ref_ ? 1 : 0);
  w.real("energy_reference", e_ref_);
  w.real("order_reference", op_ref_);
  const TimeSeries* series[] = {&energy_, &energy2_, &mag_, &order_, &order2_, &order4_};
  for (int k = 0; k < 6; ++k) w.blob("series" + std::to_string(k), series[k]->save_state());
  const SampleRecordState r = samples_.state();
  w.signed_integer("samples_max_stored", r.max_stored);
  w.signed_integer("samples_stride", r.stride);
  w.signed_integer("samples_count", r.count);
  w.reals("samples_energy", r.energy);
  w.reals("samples_order", r.order);
  return w.str();
}

void ThermoAccumulator::load_state(const std::string& text) {
  state_io::Reader r(text, "spinlat-thermo", 3);
  ThermoAccumulatorState s;
  s.temperature = r.real("temperature");
  s.atoms = r.signed_integer("atoms");
  s.has_reference = r.integer("has_reference") != 0;
  s.energy_reference = r.real("energy_reference");
  s.order_reference = r.real("order_reference");
  for (int k = 0; k < 6; ++k) {
    TimeSeries ts(0);
    ts.load_state(r.blob("series" + std::to_string(k)));
    s.series.push_back(ts.state());
  }
  s.samples.max_stored = r.signed_integer("samples_max_stored");
  s.samples.stride = r.signed_integer("samples_stride");
  s.samples.count = r.signed_integer("samples_count");
  s.samples.energy = r.reals("samples_energy");
  s.samples.order = r.reals("samples_order", s.samples.energy.size());
  set_state(s);
}

ThermoEstimate thermo_estimate(double temperature, long long atoms, const std::vector<double>& energy,
                               const std::vector<double>& magnetization, const std::vector<double>& order) {
  if (energy.size() != magnetization.size() || (!order.empty() && order.size() != energy.size()))
    throw std::invalid_argument("thermo_estimate: series have different lengths");
  ThermoAccumulator acc(temperature, atoms, 0);
  for (std::size_t k = 0; k < energy.size(); ++k)
    acc.add(energy[k], magnetization[k], order.empty() ? magnetization[k] : order[k]);
  return acc.estimate();
}

}  // namespace spinlat
