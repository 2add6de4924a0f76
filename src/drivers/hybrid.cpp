// The `hybrid` driver: Metropolis sweeps of the moments alternating with Langevin MD of the
// lattice (dynamics/hybrid.hpp), for equilibrium spin-lattice sampling, optionally at
// constant pressure.
#include "spinlat/drivers/keys.hpp"
#include "spinlat/dynamics/hybrid.hpp"

namespace spinlat {
namespace {

struct HybridSpec : DriverSpec {
  std::string move = "gaussian";
  double target_acceptance = 0.5;
  bool longitudinal = false;
  double dt = 0.0;
  long long md_steps_per_sweep = 0;
  double lattice_damping = 0.0;
  BarostatOptions npt;

  std::unique_ptr<Driver> build(const DriverContext& ctx) const override;
  std::map<std::string, std::string> settings() const override {
    std::map<std::string, std::string> s{{"move", move},
                                         {"dt", setting_text(dt)},
                                         {"md_steps_per_sweep", std::to_string(md_steps_per_sweep)},
                                         {"lattice_damping", setting_text(lattice_damping)},
                                         {"pressure", npt.enabled ? setting_text(npt.pressure) : "none"}};
    if (role == DriverRole::stage) {
      s["sweeps"] = std::to_string(length);
      s["temperature"] = setting_text(temperature);
    }
    return s;
  }
  bool moves_atoms() const override { return true; }
  const BarostatOptions* barostat() const override { return &npt; }
};

class HybridDriver : public Driver {
 public:
  HybridDriver(const HybridSpec& spec, const DriverContext& ctx)
      : hybrid_(ctx.system, ctx.hamiltonian, options(spec, ctx), ctx.key) {
    if (spec.npt.enabled) hybrid_.lattice().set_options(with_barostat(hybrid_.lattice().options(), spec.npt));
  }
  static HybridOptions options(const HybridSpec& spec, const DriverContext& ctx) {
    HybridOptions o;
    o.temperature = ctx.temperature;
    o.md_steps_per_sweep = spec.md_steps_per_sweep;
    o.dt = spec.dt;
    o.lattice_damping = spec.lattice_damping;
    o.mc.move = parse_move(spec.move);
    o.mc.target_acceptance = spec.target_acceptance;
    o.mc.longitudinal = spec.longitudinal;
    return o;
  }
  void advance(bool adapt) override { hybrid_.sweep(adapt); }
  void observe(std::vector<std::pair<std::string, double>>& out) const override {
    out.push_back({"pressure", hybrid_.lattice().pressure_GPa()});
  }
  void set_temperature(double kelvin) override { hybrid_.set_temperature(kelvin); }
  std::string save_state() const override { return hybrid_.save_state(); }
  void load_state(const std::string& state) override { hybrid_.load_state(state); }
  double dt() const override { return hybrid_.options().dt * double(hybrid_.options().md_steps_per_sweep); }
  double pressure_GPa() const override { return hybrid_.lattice().pressure_GPa(); }
  std::vector<std::pair<StreamPurpose, StreamKey>> streams() const override {
    std::vector<std::pair<StreamPurpose, StreamKey>> out{{StreamPurpose::metropolis, hybrid_.sampler().options().seed},
                                                         {StreamPurpose::lattice_noise, hybrid_.lattice().options().seed}};
    if (hybrid_.sampler().options().longitudinal)
      out.push_back({StreamPurpose::longitudinal, hybrid_.sampler().options().seed});
    return out;
  }

 private:
  HybridMcMd hybrid_;
};

std::unique_ptr<Driver> HybridSpec::build(const DriverContext& ctx) const {
  return std::make_unique<HybridDriver>(*this, ctx);
}

DriverSpecPtr read_hybrid(Params& p, DriverRole role) {
  auto s = std::make_shared<HybridSpec>();
  s->type = "hybrid";
  s->role = role;
  if (role == DriverRole::stage) {
    s->temperature = read_temperature(p, true);
    s->length = count_at_least(p, "sweeps", 0, 0, true);
  }
  s->dt = positive(p, "dt", " ps");
  s->lattice_damping = non_negative(p, "lattice_damping", 0.0, " 1/ps");
  s->move = p.choice("move", {"gaussian", "uniform", "flip", "hinzke-nowak"}, "gaussian");
  if (role == DriverRole::stage) {
    s->target_acceptance = p.real("target_acceptance", 0.5);
    p.require(s->target_acceptance > 0.0 && s->target_acceptance < 1.0, "target_acceptance",
              "must lie strictly between 0 and 1, got " + setting_text(s->target_acceptance));
    s->longitudinal = p.boolean("longitudinal", false);
  }
  s->md_steps_per_sweep = count_at_least(p, "md_steps_per_sweep", 1, 0, true);
  s->npt = read_barostat(p);
  return s;
}

}  // namespace

DriverType hybrid_driver() {
  DriverType t;
  t.name = "hybrid";
  t.stage_keys = {"temperature", "sweeps", "dt", "lattice_damping", "move", "target_acceptance", "longitudinal",
                  "md_steps_per_sweep"};
  t.stage_keys.insert(t.stage_keys.end(), barostat_keys().begin(), barostat_keys().end());
  t.sweep = true;
  t.sweep_keys = {"move", "dt", "md_steps_per_sweep", "lattice_damping"};
  t.sweep_keys.insert(t.sweep_keys.end(), barostat_keys().begin(), barostat_keys().end());
  t.read = read_hybrid;
  return t;
}

}  // namespace spinlat
