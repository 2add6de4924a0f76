// The `sld` driver: spin-lattice dynamics, moments and atoms integrated together by the
// symplectic splitting of dynamics/sld.hpp (docs/spin-lattice.md).
#include <cstdio>

#include "spinlat/drivers/keys.hpp"
#include "spinlat/dynamics/sld.hpp"

namespace spinlat {
namespace {

struct SldSpec : DriverSpec {
  std::string integrator = "auto";
  double dt = 0.0;
  SpinDamping damping;
  double lattice_damping = 0.0;
  double longitudinal_damping = 0.01;
  long long spin_substeps = 1;
  StageField field;
  double drift = 0.01;

  std::unique_ptr<Driver> build(const DriverContext& ctx) const override;
  std::map<std::string, std::string> settings() const override {
    std::map<std::string, std::string> s{{"integrator", integrator},
                                         {"dt", setting_text(dt)},
                                         {"damping", setting_text(damping.values())},
                                         {"lattice_damping", setting_text(lattice_damping)}};
    if (role == DriverRole::stage) {
      s["steps"] = std::to_string(length);
      s["temperature"] = setting_text(temperature);
      s["spin_substeps"] = std::to_string(spin_substeps);
      s["field_schedule"] = field.schedule;
    }
    return s;
  }
  bool moves_atoms() const override { return true; }
  bool spin_dynamics() const override { return true; }
  double spin_damping() const override { return damping.damping; }
  bool conservative() const override {
    return lattice_damping == 0.0 && damping.damping == 0.0 && damping.species.empty() && field.schedule == "constant";
  }
  double max_energy_drift() const override { return drift; }
};

class SldDriver : public Driver {
 public:
  SldDriver(const SldSpec& spec, const DriverContext& ctx)
      : n_(static_cast<double>(ctx.system.size())), sld_(ctx.system, ctx.hamiltonian, options(spec, ctx), ctx.key),
        field_(spec.field.given()) {
    // The colour sweep, asked for by name, evaluates a generic (learned) term twice per colour
    // move: say what the whole-lattice update would cost instead (dynamics/sld.hpp).
    if (spec.integrator == "suzuki-trotter" && !sld_.fast_field() && sld_.colors() > 1)
      std::fprintf(stderr,
                   "warning: sld: the moments have %d colours and a term without a fast field path (learned, "
                   "landau, ...): each step evaluates it %d times; integrator = \"explicit-midpoint\" "
                   "evaluates it twice (docs/spin-lattice.md, \"Whole-lattice update\")\n",
                   sld_.colors(), 8 * sld_.colors() - 3);
  }
  static SldOptions options(const SldSpec& spec, const DriverContext& ctx) {
    SldOptions o;
    o.dt = spec.dt;
    o.temperature = ctx.temperature;
    o.damping = spec.damping.values();
    o.lattice_damping = spec.lattice_damping;
    o.spin_substeps = static_cast<int>(spec.spin_substeps);
    o.spin_update = parse_sld_spin_update(spec.integrator);
    o.field = spec.field.at(spec.length, spec.dt);
    return o;
  }
  void advance(bool) override { sld_.step(); }
  void observe(std::vector<std::pair<std::string, double>>& out) const override {
    out.push_back({"pressure", sld_.pressure_GPa()});
    const SldEnergies e = sld_.energies();
    out.push_back({"magnetic_energy", e.magnetic / n_});
    out.push_back({"lattice_potential_energy", e.lattice / n_});
  }
  void set_temperature(double kelvin) override { sld_.set_temperature(kelvin); }
  std::string save_state() const override { return sld_.save_state(); }
  void load_state(const std::string& state) override { sld_.load_state(state); }
  double dt() const override { return sld_.settings().dt; }
  double pressure_GPa() const override { return sld_.pressure_GPa(); }
  std::optional<Vec3> applied_field() const override {
    if (!field_) return std::nullopt;
    return sld_.settings().field.at(sld_.time());
  }
  std::vector<std::pair<StreamPurpose, StreamKey>> streams() const override {
    return {{StreamPurpose::spin_noise, sld_.key()}, {StreamPurpose::lattice_noise, sld_.key()}};
  }

 private:
  double n_;
  SpinLatticeIntegrator sld_;
  bool field_ = false;
};

std::unique_ptr<Driver> SldSpec::build(const DriverContext& ctx) const { return std::make_unique<SldDriver>(*this, ctx); }

DriverSpecPtr read_sld(Params& p, DriverRole role) {
  auto s = std::make_shared<SldSpec>();
  s->type = "sld";
  s->role = role;
  if (role == DriverRole::stage) {
    s->temperature = read_temperature(p, false);
    s->length = count_at_least(p, "steps", 0, 0, true);
    s->dt = positive(p, "dt", " ps");
    s->damping = read_spin_damping(p);
    s->integrator = p.choice("integrator", {"auto", "suzuki-trotter", "explicit-midpoint"}, "auto");
    s->lattice_damping = non_negative(p, "lattice_damping", 0.0, " 1/ps");
    s->longitudinal_damping = non_negative(p, "longitudinal_damping", 0.01, "");
    s->drift = non_negative(p, "max_energy_drift", 0.01, " eV/atom");
    s->field = read_stage_field(p);
    s->spin_substeps = count_at_least(p, "spin_substeps", 1, 1, false);
    if (s->spin_substeps > 1 && s->integrator == "explicit-midpoint")
      p.fail("spin_substeps", "spin_substeps applies to integrator = \"suzuki-trotter\" only (\"explicit-midpoint\" "
                              "moves every moment once per step)");
    if (s->temperature > 0.0 && !s->damping.any() && !(s->lattice_damping > 0.0))
      p.fail("temperature", "an sld stage at temperature > 0 needs damping > 0 or lattice_damping > 0");
  } else {
    s->dt = positive(p, "dt", " ps");
    s->damping.damping = p.real("damping", 0.1);
    p.require(s->damping.damping > 0.0, "damping",
              "a thermostatted sweep needs damping > 0, got " + setting_text(s->damping.damping));
    s->integrator = p.choice("integrator", {"auto", "suzuki-trotter", "explicit-midpoint"}, "auto");
    s->lattice_damping = non_negative(p, "lattice_damping", 0.0, " 1/ps");
  }
  return s;
}

}  // namespace

DriverType sld_driver() {
  DriverType t;
  t.name = "sld";
  t.stage_keys = {"temperature", "steps", "dt", "damping", "damping_species", "integrator", "lattice_damping",
                  "spin_substeps", "max_energy_drift", "longitudinal_damping"};
  t.stage_keys.insert(t.stage_keys.end(), stage_field_keys().begin(), stage_field_keys().end());
  t.sweep = true;
  t.sweep_keys = {"dt", "damping", "integrator", "lattice_damping"};
  t.read = read_sld;
  return t;
}

}  // namespace spinlat
