// The `minimize` driver: relaxes moment directions (and, optionally, moment sizes, positions
// and the cell) until the largest torque and force fall below their tolerances
// (dynamics/minimize.hpp), or quenches by zero-temperature Metropolis (method = "metropolis").
#include <algorithm>
#include <cstdio>

#include "spinlat/drivers/keys.hpp"
#include "spinlat/dynamics/minimize.hpp"

namespace spinlat {
namespace {

/// A number > 0, `fallback` when absent.
double positive_or(Params& p, const std::string& key, double fallback, const std::string& unit) {
  return p.has(key) ? positive(p, key, unit) : fallback;
}

struct MinimizeSpec : DriverSpec {
  std::string method = "fire";
  MinimizeOptions options;

  std::unique_ptr<Driver> build(const DriverContext& ctx) const override;
  std::map<std::string, std::string> settings() const override {
    std::map<std::string, std::string> s{{"method", method}, {"steps", std::to_string(length)}};
    if (method != "metropolis") {
      s["torque_tolerance"] = setting_text(options.torque_tolerance);
      s["longitudinal"] = options.longitudinal ? "true" : "false";
      s["relax_positions"] = options.positions ? "true" : "false";
      if (options.positions) s["force_tolerance"] = setting_text(options.force_tolerance);
      s["relax_cell"] = options.cell ? "true" : "false";
      if (options.cell) {
        s["pressure"] = setting_text(options.pressure);
        s["stress_tolerance"] = setting_text(options.stress_tolerance);
      }
      s["field"] = setting_text(options.field);
    }
    return s;
  }
  bool moves_atoms() const override { return (options.positions || options.cell) && method != "metropolis"; }
};

class MinimizeDriver : public Driver {
 public:
  MinimizeDriver(const MinimizeSpec& spec, const DriverContext& ctx)
      : s_(ctx.system), min_(ctx.hamiltonian, ctx.system, spec.options), max_steps_(spec.length) {}
  void advance(bool) override { min_.step(); }
  void observe(std::vector<std::pair<std::string, double>>& out) const override {
    const MinimizeResiduals& r = min_.residuals();
    if (min_.options().directions) out.push_back({"max_torque", r.torque});
    if (min_.options().longitudinal) out.push_back({"max_longitudinal_force", r.longitudinal});
    if (min_.options().positions) out.push_back({"max_force", r.force});
    if (min_.options().cell) out.push_back({"max_stress", r.stress});
  }
  void set_temperature(double) override {}
  std::string save_state() const override { return min_.save_state(); }
  void load_state(const std::string& state) override { min_.load_state(state); }
  std::vector<std::pair<StreamPurpose, StreamKey>> streams() const override { return {}; }
  bool finished() const override { return min_.converged(); }
  std::optional<Vec3> applied_field() const override {
    if (min_.options().field.isZero(0.0)) return std::nullopt;
    return min_.options().field;
  }
  StageSummary summary() const override {
    StageSummary s;
    const bool ok = min_.converged();
    const double n = static_cast<double>(std::max<std::size_t>(1, s_.size()));
    char head[160];
    std::snprintf(head, sizeof head, "minimize %s after %lld steps: E = %.12f eV/atom, ", ok ? "converged" : "not converged",
                  min_.steps(), min_.energy() / n);
    s.text = head + min_.residual_text() + (ok ? "" : " (raise steps, or loosen the tolerance)");
    s.words = {{"type", "minimize"}, {"status", ok ? "converged" : "not converged"}};
    const MinimizeResiduals& r = min_.residuals();
    s.numbers = {{"steps", static_cast<double>(min_.steps())}, {"max_steps", static_cast<double>(max_steps_)},
                 {"energy", min_.energy() / n}, {"converged", ok ? 1.0 : 0.0},
                 {"torque_tolerance", min_.options().torque_tolerance}};
    if (min_.options().directions) s.numbers.push_back({"max_torque", r.torque});
    if (min_.options().longitudinal) s.numbers.push_back({"max_longitudinal_force", r.longitudinal});
    if (min_.options().positions) {
      s.numbers.push_back({"max_force", r.force});
      s.numbers.push_back({"force_tolerance", min_.options().force_tolerance});
    }
    if (min_.options().cell) {
      s.numbers.push_back({"max_stress", r.stress});
      s.numbers.push_back({"stress_tolerance", min_.options().stress_tolerance});
      s.numbers.push_back({"pressure", min_.options().pressure});
      s.numbers.push_back({"volume", s_.cell.volume() / n});
    }
    return s;
  }

 private:
  const System& s_;
  Minimizer min_;
  long long max_steps_ = 0;
};

std::unique_ptr<Driver> MinimizeSpec::build(const DriverContext& ctx) const {
  if (method == "metropolis") return quench_driver(ctx);
  if (options.cell && !ctx.hamiltonian.depends_on_positions())
    throw InputError("minimize: relax_cell = true, but no potential depends on positions (add a lattice term: eam, "
                     "pair, learned)");
  if (options.cell && !(ctx.system.cell.periodic[0] && ctx.system.cell.periodic[1] && ctx.system.cell.periodic[2]))
    throw InputError("minimize: relax_cell = true needs a cell periodic along all three lattice vectors");
  if ((options.positions && !ctx.hamiltonian.depends_on_positions()) ||
      (options.longitudinal && !ctx.hamiltonian.depends_on_moment_size()))
    throw InputError(std::string("minimize: ") + (options.positions ? "relax_positions" : "longitudinal") +
                     " = true, but no potential depends on " +
                     (options.positions ? "positions (add a lattice term: eam, pair, learned)"
                                        : "moment sizes (add a landau or learned term)"));
  return std::make_unique<MinimizeDriver>(*this, ctx);
}

DriverSpecPtr read_minimize(Params& p, DriverRole role) {
  auto s = std::make_shared<MinimizeSpec>();
  s->type = "minimize";
  s->role = role;
  s->method = p.choice("method", {"fire", "vp", "metropolis"}, "fire");
  // `steps` and `max_steps` name the same bound (at most this many iterations or sweeps).
  if (p.has("steps") && p.has("max_steps"))
    p.fail("max_steps", "give either steps or max_steps (the same bound on the iterations), not both");
  s->length = count_at_least(p, p.has("max_steps") ? "max_steps" : "steps", 1, 10000, false);
  if (p.has("dt")) positive(p, "dt", " ps");  // accepted for symmetry with the dynamics; no clock
  const std::vector<std::string> own{"torque_tolerance", "force_tolerance", "relax_positions", "longitudinal",
                                     "max_rotation", "max_displacement", "field", "relax_cell", "pressure",
                                     "stress_tolerance"};
  if (s->method == "metropolis") {
    for (const auto& k : own)
      if (p.has(k)) p.fail(k, "not used by method = \"metropolis\" (a quench of Metropolis sweeps; use method = \"fire\")");
    return s;
  }
  MinimizeOptions& o = s->options;
  o.method = parse_minimize_method(s->method);
  o.torque_tolerance = positive_or(p, "torque_tolerance", o.torque_tolerance, " eV/μB");
  o.positions = p.boolean("relax_positions", false);
  if (p.has("force_tolerance") && !o.positions)
    p.fail("force_tolerance", "only used with relax_positions = true");
  o.force_tolerance = positive_or(p, "force_tolerance", o.force_tolerance, " eV/Å");
  o.longitudinal = p.boolean("longitudinal", false);
  if (p.has("field")) o.field = p.vec3("field");
  o.max_rotation = positive_or(p, "max_rotation", o.max_rotation, " rad");
  o.max_displacement = positive_or(p, "max_displacement", o.max_displacement, " Å");
  if (p.has("max_displacement") && !o.positions) p.fail("max_displacement", "only used with relax_positions = true");
  o.cell = p.boolean("relax_cell", false);
  for (const char* k : {"pressure", "stress_tolerance"})
    if (p.has(k) && !o.cell) p.fail(k, "only used with relax_cell = true");
  if (p.has("pressure")) o.pressure = p.real("pressure");
  o.stress_tolerance = positive_or(p, "stress_tolerance", o.stress_tolerance, " GPa");
  return s;
}

}  // namespace

DriverType minimize_driver() {
  DriverType t;
  t.name = "minimize";
  t.stage_keys = {"steps", "max_steps", "dt", "method", "torque_tolerance", "force_tolerance", "relax_positions",
                  "longitudinal", "max_rotation", "max_displacement", "field", "relax_cell", "pressure",
                  "stress_tolerance"};
  t.read = read_minimize;
  return t;
}

}  // namespace spinlat
