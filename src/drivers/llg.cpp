// The `llg` driver: stochastic Landau-Lifshitz-Gilbert dynamics of the moments on a frozen
// lattice (dynamics/llg.hpp, docs/spin-dynamics.md).
#include "spinlat/drivers/keys.hpp"
#include "spinlat/dynamics/llg.hpp"

namespace spinlat {
namespace {

struct LlgSpec : DriverSpec {
  std::string integrator = "heun";
  double dt = 0.0;
  SpinDamping damping;
  StageField field;
  bool longitudinal = false;
  double longitudinal_damping = 0.01;
  double drift = 0.01;

  std::unique_ptr<Driver> build(const DriverContext& ctx) const override;
  std::map<std::string, std::string> settings() const override {
    std::map<std::string, std::string> s{{"integrator", integrator}, {"dt", setting_text(dt)},
                                         {"damping", setting_text(damping.values())}};
    if (role == DriverRole::stage) {
      s["steps"] = std::to_string(length);
      s["temperature"] = setting_text(temperature);
      s["field"] = setting_text(field.field);
      s["field_schedule"] = field.schedule;
      s["field_end"] = setting_text(field.field_end);
      s["longitudinal"] = longitudinal ? "true" : "false";
    }
    return s;
  }
  bool spin_dynamics() const override { return true; }
  double spin_damping() const override { return damping.damping; }
  bool conservative() const override {
    return damping.damping == 0.0 && damping.species.empty() && field.schedule == "constant";
  }
  double max_energy_drift() const override { return drift; }
};

class LlgDriver : public Driver {
 public:
  LlgDriver(const LlgSpec& spec, const DriverContext& ctx)
      : s_(ctx.system), llg_(ctx.hamiltonian, ctx.system, options(spec, ctx), ctx.key), field_(spec.field.given()) {}
  static LLGOptions options(const LlgSpec& spec, const DriverContext& ctx) {
    LLGOptions o;
    o.integrator = parse_llg_integrator(spec.integrator);
    o.dt = spec.dt;
    o.temperature = ctx.temperature;
    o.damping = spec.damping.values();
    o.field = spec.field.at(spec.length, spec.dt);
    o.longitudinal = spec.longitudinal;
    o.longitudinal_damping = spec.longitudinal_damping;
    return o;
  }
  void advance(bool) override { llg_.step(s_); }
  void set_temperature(double kelvin) override { llg_.set_temperature(kelvin); }
  std::string save_state() const override { return llg_.save_state(); }
  void load_state(const std::string& state) override { llg_.load_state(state); }
  double dt() const override { return llg_.settings().dt; }
  double clock(double) const override { return llg_.time(); }
  std::optional<Vec3> applied_field() const override {
    if (!field_) return std::nullopt;
    return llg_.settings().field.at(llg_.time());
  }
  std::vector<std::pair<StreamPurpose, StreamKey>> streams() const override {
    std::vector<std::pair<StreamPurpose, StreamKey>> out{{StreamPurpose::spin_noise, llg_.key()}};
    if (llg_.settings().longitudinal) out.push_back({StreamPurpose::longitudinal, llg_.key()});
    return out;
  }

 private:
  System& s_;
  LLG llg_;
  bool field_ = false;
};

std::unique_ptr<Driver> LlgSpec::build(const DriverContext& ctx) const { return std::make_unique<LlgDriver>(*this, ctx); }

DriverSpecPtr read_llg(Params& p, DriverRole role) {
  auto s = std::make_shared<LlgSpec>();
  s->type = "llg";
  s->role = role;
  if (role == DriverRole::stage) {
    s->temperature = read_temperature(p, false);
    s->length = count_at_least(p, "steps", 0, 0, true);
    s->dt = positive(p, "dt", " ps");
    s->damping = read_spin_damping(p);
    s->integrator = p.choice("integrator", {"heun", "depondt", "midpoint"}, "heun");
    s->longitudinal_damping = non_negative(p, "longitudinal_damping", 0.01, "");
    s->drift = non_negative(p, "max_energy_drift", 0.01, " eV/atom");
    s->longitudinal = p.boolean("longitudinal", false);
    s->field = read_stage_field(p);
    // A temperature without a bath has no effect: almost certainly a forgotten damping.
    if (s->temperature > 0.0 && !s->damping.any())
      p.fail(p.has("damping") ? "damping" : "temperature",
             "an llg stage at temperature > 0 needs damping > 0 (the thermal field scales with it)");
  } else {
    s->dt = positive(p, "dt", " ps");
    s->damping.damping = p.real("damping", 0.1);
    p.require(s->damping.damping > 0.0, "damping",
              "a thermostatted sweep needs damping > 0, got " + setting_text(s->damping.damping));
    s->integrator = p.choice("integrator", {"heun", "depondt", "midpoint"}, "heun");
  }
  return s;
}

}  // namespace

DriverType llg_driver() {
  DriverType t;
  t.name = "llg";
  t.stage_keys = {"temperature", "steps", "dt", "damping", "damping_species", "integrator", "longitudinal",
                  "max_energy_drift", "longitudinal_damping"};
  t.stage_keys.insert(t.stage_keys.end(), stage_field_keys().begin(), stage_field_keys().end());
  t.sweep = true;
  t.sweep_keys = {"dt", "damping", "integrator"};
  t.read = read_llg;
  return t;
}

}  // namespace spinlat
