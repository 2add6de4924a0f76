// The `md` driver: lattice molecular dynamics at fixed moments (velocity Verlet, a BAOAB
// Langevin bath, stochastic cell rescaling; dynamics/md.hpp, docs/lattice.md).
#include "spinlat/drivers/keys.hpp"
#include "spinlat/dynamics/md.hpp"

namespace spinlat {
namespace {

struct MdSpec : DriverSpec {
  std::string integrator = "verlet";
  double dt = 0.0;
  double lattice_damping = 0.0;
  double drift = 0.01;
  BarostatOptions npt;

  std::unique_ptr<Driver> build(const DriverContext& ctx) const override;
  std::map<std::string, std::string> settings() const override {
    return {{"steps", std::to_string(length)},
            {"temperature", setting_text(temperature)},
            {"dt", setting_text(dt)},
            {"integrator", integrator},
            {"lattice_damping", setting_text(lattice_damping)},
            {"pressure", npt.enabled ? setting_text(npt.pressure) : "none"}};
  }
  bool moves_atoms() const override { return true; }
  bool conservative() const override { return lattice_damping == 0.0 && !npt.enabled; }
  double max_energy_drift() const override { return drift; }
  const BarostatOptions* barostat() const override { return &npt; }
};

class MdDriver : public Driver {
 public:
  MdDriver(const MdSpec& spec, const DriverContext& ctx) : md_(ctx.system, ctx.hamiltonian, options(spec, ctx)) {}
  static MdOptions options(const MdSpec& spec, const DriverContext& ctx) {
    MdOptions o;
    o.dt = spec.dt;
    o.temperature = ctx.temperature;
    o.lattice_damping = spec.lattice_damping;
    o.seed = ctx.key;
    return with_barostat(o, spec.npt);
  }
  void advance(bool) override { md_.step(); }
  void observe(std::vector<std::pair<std::string, double>>& out) const override {
    out.push_back({"pressure", md_.pressure_GPa()});
  }
  void set_temperature(double kelvin) override {
    MdOptions o = md_.options();
    o.temperature = kelvin;
    md_.set_options(o);
  }
  std::string save_state() const override { return md_.save_state(); }
  void load_state(const std::string& state) override { md_.load_state(state); }
  double dt() const override { return md_.options().dt; }
  double pressure_GPa() const override { return md_.pressure_GPa(); }
  std::vector<std::pair<StreamPurpose, StreamKey>> streams() const override {
    return {{StreamPurpose::lattice_noise, md_.options().seed}};
  }

 private:
  LatticeIntegrator md_;
};

std::unique_ptr<Driver> MdSpec::build(const DriverContext& ctx) const { return std::make_unique<MdDriver>(*this, ctx); }

DriverSpecPtr read_md(Params& p, DriverRole role) {
  auto s = std::make_shared<MdSpec>();
  s->type = "md";
  s->role = role;
  s->temperature = read_temperature(p, false);
  s->length = count_at_least(p, "steps", 0, 0, true);
  s->dt = positive(p, "dt", " ps");
  s->integrator = p.choice("integrator", {"verlet", "langevin"}, "verlet");
  s->lattice_damping = non_negative(p, "lattice_damping", 0.0, " 1/ps");
  s->drift = non_negative(p, "max_energy_drift", 0.01, " eV/atom");
  s->npt = read_barostat(p);
  if (s->temperature > 0.0 && !(s->lattice_damping > 0.0))
    p.fail(p.has("lattice_damping") ? "lattice_damping" : "temperature",
           "an md stage at temperature > 0 needs lattice_damping > 0 (a Langevin bath); "
           "initial velocities come from structure.lattice_temperature");
  if (s->integrator == "langevin")
    p.require(s->lattice_damping > 0.0, "lattice_damping", "integrator = 'langevin' needs lattice_damping > 0 (1/ps)");
  return s;
}

}  // namespace

DriverType md_driver() {
  DriverType t;
  t.name = "md";
  t.stage_keys = {"temperature", "steps", "dt", "integrator", "lattice_damping", "max_energy_drift"};
  t.stage_keys.insert(t.stage_keys.end(), barostat_keys().begin(), barostat_keys().end());
  t.read = read_md;
  return t;
}

}  // namespace spinlat
