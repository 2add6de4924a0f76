// The `hysteresis` stage: an M(B) loop. The applied field B d̂ steps from +field_max to
// −field_max and back (`field_points` steps per branch, `loops` times); at each field the moments
// are either relaxed to the nearest minimum (method = "minimize": T = 0, the Stoner–Wohlfarth
// limit of a single domain) or sampled at `temperature` by Metropolis sweeps (method = "mc") or
// stochastic LLG steps (method = "llg": `dt`, `damping`): `equilibrate` sweeps or steps, then
// the mean of `measure`. Each field's magnetisation along
// d̂, M = Σ m_i·d̂ / Σ |m_i|, is stored under /stages/<k>; the coercive field and the remanence
// are read from the last loop (stage_summary) and by analysis/plot_hysteresis.py.
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

#include "spinlat/drivers/keys.hpp"
#include "spinlat/dynamics/llg.hpp"
#include "spinlat/dynamics/minimize.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/core/state_io.hpp"

namespace spinlat {
namespace {

/// Coercive field and remanence of a loop: fields B_j and magnetisations M_j along one axis, the
/// field going +B_max → −B_max → +B_max (one loop, 2n + 1 points). NaN where the loop has no
/// crossing (M never changes sign: the field never reached the coercive field).
struct LoopFigures {
  double coercive_field = std::numeric_limits<double>::quiet_NaN();  ///< T, mean |B| at M = 0
  double remanence = std::numeric_limits<double>::quiet_NaN();       ///< mean |M| at B = 0
};

/// The first crossing of zero by y along the path (x_j, y_j), j in [a, b], linearly interpolated
/// in x (NaN if none).
double crossing(const std::vector<double>& x, const std::vector<double>& y, std::size_t a, std::size_t b) {
  for (std::size_t j = a; j < b; ++j) {
    if (y[j] == 0.0) return x[j];
    if ((y[j] > 0.0) != (y[j + 1] > 0.0) && y[j + 1] != y[j]) return x[j] - y[j] * (x[j + 1] - x[j]) / (y[j + 1] - y[j]);
  }
  return b > a && y[b] == 0.0 ? x[b] : std::numeric_limits<double>::quiet_NaN();
}


LoopFigures loop_figures(const std::vector<double>& B, const std::vector<double>& M, std::size_t n) {
  LoopFigures f;
  if (n == 0 || B.size() < 2 * n + 1 || M.size() != B.size()) return f;
  const std::size_t a = B.size() - 1 - 2 * n, mid = a + n, end = a + 2 * n;  // the last loop
  const double down = crossing(B, M, a, mid), up = crossing(B, M, mid, end);
  if (std::isfinite(down) && std::isfinite(up)) f.coercive_field = 0.5 * (std::abs(down) + std::abs(up));
  const double m_down = crossing(M, B, a, mid), m_up = crossing(M, B, mid, end);
  if (std::isfinite(m_down) && std::isfinite(m_up)) f.remanence = 0.5 * (std::abs(m_down) + std::abs(m_up));
  return f;
}

struct HysteresisSpec : DriverSpec {
  std::string method = "mc";
  Vec3 direction = Vec3::UnitZ();
  double field_max = 0.0;
  long long points = 0;  ///< field steps per branch
  long long loops = 1;
  long long equilibrate = 0, measure = 1;  ///< mc, llg: sweeps or steps per field
  std::string move = "gaussian";
  double dt = 0.0, damping = 0.0;  ///< llg: ps, Gilbert α
  MinimizeOptions minimize;
  long long steps_per_field = 10000;  ///< minimize: at most this many iterations per field

  long long fields() const { return 2 * points * loops + 1; }
  /// Field j of the loop sequence (T, along `direction`).
  double field(long long j) const {
    const long long u = j % (2 * points);
    const double b = u <= points ? 1.0 - 2.0 * double(u) / double(points) : -1.0 + 2.0 * double(u - points) / double(points);
    return field_max * b;
  }
  std::unique_ptr<Driver> build(const DriverContext& ctx) const override;
  std::map<std::string, std::string> settings() const override {
    std::map<std::string, std::string> s{{"method", method},
                                         {"field_max", setting_text(field_max)},
                                         {"field_direction", setting_text(direction)},
                                         {"field_points", std::to_string(points)},
                                         {"loops", std::to_string(loops)}};
    if (method != "minimize") {
      s["temperature"] = setting_text(temperature);
      s["equilibrate"] = std::to_string(equilibrate);
      s["measure"] = std::to_string(measure);
    }
    if (method == "llg") {
      s["dt"] = setting_text(dt);
      s["damping"] = setting_text(damping);
    } else if (method == "minimize") {
      s["torque_tolerance"] = setting_text(minimize.torque_tolerance);
    }
    return s;
  }
};

class HysteresisDriver : public Driver {
 public:
  HysteresisDriver(const HysteresisSpec& spec, const DriverContext& ctx) : spec_(spec), s_(ctx.system), h_(ctx.hamiltonian) {
    if (spec.method == "mc") {
      MetropolisOptions o;
      o.move = parse_move(spec.move);
      o.seed = ctx.key;
      mc_.emplace(ctx.hamiltonian, ctx.system, o);
      mc_->set_temperature(ctx.temperature);
    } else if (spec.method == "llg") {
      LLGOptions o;
      o.dt = spec.dt;
      o.temperature = ctx.temperature;
      o.damping = {spec.damping};
      llg_.emplace(ctx.hamiltonian, ctx.system, o, ctx.key);
    }
    set_point(0);
  }
  void advance(bool adapt) override {
    if (mc_ || llg_) {
      if (mc_) {
        mc_->set_adaptive(adapt && sweep_ < spec_.equilibrate);  // widths fixed while measuring
        mc_->sweep(s_);
      } else {
        llg_->step(s_);
      }
      if (sweep_ >= spec_.equilibrate) {
        const double m = projection();
        sum_ += m;
        sum2_ += m * m;
      }
      if (++sweep_ == spec_.equilibrate + spec_.measure) finish_point(double(spec_.measure));
      return;
    }
    // minimize: one field per advance, relaxed from the previous field's state.
    Minimizer m(h_, s_, with_field(spec_.minimize, field_now()));
    while (!m.converged() && m.steps() < spec_.steps_per_field) m.step();
    if (!m.converged()) ++unconverged_;
    worst_torque_ = std::max(worst_torque_, m.residuals().torque);
    const double x = projection();
    sum_ = x;
    sum2_ = x * x;
    finish_point(1.0);
  }
  void observe(std::vector<std::pair<std::string, double>>& out) const override {
    if (mc_) out.push_back({"acceptance", mc_->acceptance()});
  }
  std::optional<Vec3> applied_field() const override { return field_now(); }
  void set_temperature(double kelvin) override {
    if (mc_) mc_->set_temperature(kelvin);
    if (llg_) llg_->set_temperature(kelvin);
  }
  double dt() const override { return llg_ ? llg_->settings().dt : 0.0; }
  std::string save_state() const override {
    state_io::Writer w("spinlat-hysteresis", 1);
    w.text("metropolis", mc_ ? mc_->save_state() : "");
    w.text("llg", llg_ ? llg_->save_state() : "");
    w.integer("point", static_cast<std::uint64_t>(point_));
    w.integer("sweep", static_cast<std::uint64_t>(sweep_));
    w.integer("unconverged", static_cast<std::uint64_t>(unconverged_));
    w.real("sum", sum_);
    w.real("sum2", sum2_);
    w.real("worst_torque", worst_torque_);
    for (std::size_t j = 0; j < B_.size(); ++j) {
      w.real("B" + std::to_string(j), B_[j]);
      w.real("M" + std::to_string(j), M_[j]);
      w.real("E" + std::to_string(j), err_[j]);
    }
    return w.str();
  }
  void load_state(const std::string& state) override {
    state_io::Reader r(state, "spinlat-hysteresis", 1);
    if (mc_) mc_->load_state(r.text("metropolis"));
    if (llg_) llg_->load_state(r.text("llg"));
    set_point(static_cast<long long>(r.integer("point")));
    sweep_ = static_cast<long long>(r.integer("sweep"));
    unconverged_ = static_cast<long long>(r.integer("unconverged"));
    sum_ = r.real("sum");
    sum2_ = r.real("sum2");
    worst_torque_ = r.real("worst_torque");
    B_.clear();
    M_.clear();
    err_.clear();
    for (long long j = 0; j < point_; ++j) {
      B_.push_back(r.real("B" + std::to_string(j)));
      M_.push_back(r.real("M" + std::to_string(j)));
      err_.push_back(r.real("E" + std::to_string(j)));
    }
  }
  std::vector<std::pair<StreamPurpose, StreamKey>> streams() const override {
    if (mc_) return {{StreamPurpose::metropolis, mc_->options().seed}};
    if (llg_) return {{StreamPurpose::spin_noise, llg_->key()}};
    return {};
  }
  StageSummary summary() const override {
    StageSummary s;
    const LoopFigures f = loop_figures(B_, M_, static_cast<std::size_t>(spec_.points));
    auto text = [](double x, const char* fmt) {
      if (!std::isfinite(x)) return std::string("none");
      char buf[48];
      std::snprintf(buf, sizeof buf, fmt, x);
      return std::string(buf);
    };
    s.text = "hysteresis: " + std::to_string(B_.size()) + " fields, coercive field " +
             text(f.coercive_field, "%.6g T") + ", remanence " + text(f.remanence, "%.6g") +
             (std::isfinite(f.coercive_field) ? ""
                                              : " (M never changes sign on both branches: raise field_max above the "
                                                "coercive field)");
    if (unconverged_ > 0)
      s.text += "; " + std::to_string(unconverged_) + " fields not converged (max torque " + text(worst_torque_, "%.3g eV/μB") +
                ": raise steps_per_field)";
    s.words = {{"type", "hysteresis"}, {"method", spec_.method}};
    s.numbers = {{"coercive_field", f.coercive_field}, {"remanence", f.remanence},
                 {"temperature", spec_.method == "minimize" ? 0.0 : spec_.temperature},
                 {"unconverged_fields", double(unconverged_)}};
    s.series = {{"field", "T", B_}, {"magnetization", "", M_}, {"magnetization_err", "", err_},
                {"field_direction", "", {spec_.direction.x(), spec_.direction.y(), spec_.direction.z()}}};
    return s;
  }

 private:
  static MinimizeOptions with_field(MinimizeOptions o, const Vec3& B) {
    o.field = B;
    return o;
  }
  Vec3 field_now() const { return spec_.field(std::min(point_, spec_.fields() - 1)) * spec_.direction; }
  void set_point(long long j) {
    point_ = j;
    sweep_ = 0;
    sum_ = sum2_ = 0.0;
    if (mc_) mc_->set_field(field_now());
    if (llg_) {
      ExternalField f;
      f.field = field_now();
      llg_->set_field(f);
    }
  }
  /// M·d̂ / Σ|m_i|: +1 saturated along the field axis.
  double projection() const {
    double m = 0.0, norm = 0.0;
    for (std::size_t i = 0; i < s_.size(); ++i) {
      m += s_.moment[i] * s_.spin[i].dot(spec_.direction);
      norm += s_.moment[i];
    }
    return norm > 0.0 ? m / norm : 0.0;
  }
  void finish_point(double n) {
    const double mean = sum_ / n;
    // Standard error of the sweeps' mean as if independent (a lower bound for correlated
    // sweeps): the scatter, not a converged error bar.
    const double var = n > 1.0 ? std::max(0.0, (sum2_ / n - mean * mean) * n / (n - 1.0)) : 0.0;
    B_.push_back(spec_.field(point_));
    M_.push_back(mean);
    err_.push_back(std::sqrt(var / n));
    set_point(point_ + 1);
  }

  const HysteresisSpec spec_;
  System& s_;
  Hamiltonian& h_;
  std::optional<MetropolisSampler> mc_;
  std::optional<LLG> llg_;
  long long point_ = 0, sweep_ = 0, unconverged_ = 0;
  double sum_ = 0.0, sum2_ = 0.0, worst_torque_ = 0.0;
  std::vector<double> B_, M_, err_;
};

std::unique_ptr<Driver> HysteresisSpec::build(const DriverContext& ctx) const {
  return std::make_unique<HysteresisDriver>(*this, ctx);
}

DriverSpecPtr read_hysteresis(Params& p, DriverRole role) {
  auto s = std::make_shared<HysteresisSpec>();
  s->type = "hysteresis";
  s->role = role;
  s->method = p.choice("method", {"mc", "llg", "minimize"}, "mc");
  s->field_max = positive(p, "field_max", " T");
  if (p.has("field_direction")) {
    const Vec3 d = p.vec3("field_direction");
    p.require(d.norm() > 0.0, "field_direction", "must not be [0, 0, 0]");
    s->direction = d.normalized();
  }
  s->points = count_at_least(p, "field_points", 2, 0, true);
  s->loops = count_at_least(p, "loops", 1, 1, false);
  for (const char* k : {"torque_tolerance", "steps_per_field"})
    if (p.has(k) && s->method != "minimize") p.fail(k, "only used with method = \"minimize\"");
  if (p.has("move") && s->method != "mc") p.fail("move", "only used with method = \"mc\"");
  for (const char* k : {"dt", "damping"})
    if (p.has(k) && s->method != "llg") p.fail(k, "only used with method = \"llg\"");
  if (s->method != "minimize") {
    s->temperature = read_temperature(p, s->method == "mc");
    s->equilibrate = count_at_least(p, "equilibrate", 0, 0, false);
    s->measure = count_at_least(p, "measure", 1, 0, true);
    s->length = s->fields() * (s->equilibrate + s->measure);
    if (s->method == "mc") s->move = p.choice("move", {"gaussian", "uniform", "flip", "hinzke-nowak"}, "gaussian");
    if (s->method == "llg") {
      s->dt = positive(p, "dt", " ps");
      s->damping = positive(p, "damping", "");  // the loop must relax at every field
    }
  } else {
    for (const char* k : {"temperature", "equilibrate", "measure"})
      if (p.has(k)) p.fail(k, "only used with method = \"mc\" or \"llg\" (method = \"minimize\" relaxes at T = 0)");
    if (p.has("torque_tolerance")) s->minimize.torque_tolerance = positive(p, "torque_tolerance", " eV/μB");
    s->steps_per_field = count_at_least(p, "steps_per_field", 1, 10000, false);
    s->length = s->fields();
  }
  return s;
}

}  // namespace

DriverType hysteresis_driver() {
  DriverType t;
  t.name = "hysteresis";
  t.stage_keys = {"method",      "field_max", "field_direction", "field_points",     "loops",          "temperature",
                  "equilibrate", "measure",   "move",            "torque_tolerance", "steps_per_field",
                  "dt",          "damping"};
  t.read = read_hysteresis;
  return t;
}

}  // namespace spinlat
