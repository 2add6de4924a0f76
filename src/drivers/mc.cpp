// Monte Carlo drivers: `mc` (Metropolis at a temperature; in sweeps also Metropolis + Wolff
// clusters, or parallel tempering over the temperatures) and `minimize` (zero-temperature
// Metropolis: a quench that only accepts ΔE <= 0).
#include "spinlat/drivers/keys.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/mc/parallel_tempering.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/mc/wolff.hpp"

namespace spinlat {
namespace {

const std::vector<std::string> kMoves{"gaussian", "uniform", "flip", "hinzke-nowak"};

struct McSpec : DriverSpec {
  std::string move = "gaussian";
  double target_acceptance = 0.5;
  bool longitudinal = false;
  std::string algorithm = "metropolis";  ///< sweeps: metropolis, wolff, parallel-tempering
  long long wolff_per_sweep = 0;         ///< wolff: clusters per Metropolis sweep (0: one sweep's worth)
  bool quench = false;                   ///< minimize: always at 0 K

  MetropolisOptions options(const StreamKey& key) const {
    MetropolisOptions o;
    o.move = parse_move(move);
    o.target_acceptance = target_acceptance;
    o.longitudinal = longitudinal;
    o.seed = key;
    return o;
  }
  std::unique_ptr<Driver> build(const DriverContext& ctx) const override;
  std::map<std::string, std::string> settings() const override {
    std::map<std::string, std::string> s{{"move", move},
                                         {"target_acceptance", setting_text(target_acceptance)},
                                         {"longitudinal", longitudinal ? "true" : "false"}};
    if (role == DriverRole::sweep) {
      s["algorithm"] = algorithm;
      s["wolff_per_sweep"] = std::to_string(wolff_per_sweep);
    } else {
      s[quench ? "steps" : "sweeps"] = std::to_string(length);
      if (!quench) s["temperature"] = setting_text(temperature);
    }
    return s;
  }
  bool replica_exchange() const override { return algorithm == "parallel-tempering"; }
  std::unique_ptr<ParallelTempering> ensemble(const Hamiltonian& h, const System& s,
                                              const std::vector<double>& temperatures,
                                              const StreamKey& key) const override {
    if (algorithm != "parallel-tempering") return nullptr;
    ParallelTemperingOptions o;
    o.metropolis = options(key);
    o.wolff_per_sweep = wolff_per_sweep;
    return std::make_unique<ParallelTempering>(h, s, temperatures, o);
  }
};

/// Metropolis sweeps, each followed by Wolff clusters when the sweep's algorithm is wolff.
class McDriver : public Driver {
 public:
  McDriver(const McSpec& spec, const DriverContext& ctx)
      : s_(ctx.system), mc_(ctx.hamiltonian, ctx.system, spec.options(ctx.key)),
        wolff_per_sweep_(spec.wolff_per_sweep) {
    const double T = spec.quench ? 0.0 : ctx.temperature;
    mc_.set_temperature(T);
    if (spec.algorithm == "wolff") {
      wolff_ = std::make_unique<WolffSampler>(ctx.hamiltonian, ctx.system, ctx.key);
      wolff_->set_temperature(T);
    }
  }
  void advance(bool adapt) override {
    mc_.set_adaptive(adapt);
    mc_.sweep(s_);
    if (wolff_) {
      // Clusters per sweep adapt while equilibrating and stay fixed while measuring (a sweep
      // that stops after N flipped sites would bias the averages).
      wolff_->set_adaptive(adapt);
      if (wolff_per_sweep_ > 0) wolff_->steps(s_, wolff_per_sweep_);
      else wolff_->sweep(s_);
    }
  }
  void observe(std::vector<std::pair<std::string, double>>& out) const override {
    out.push_back({"acceptance", mc_.acceptance()});
  }
  void set_temperature(double kelvin) override {
    mc_.set_temperature(kelvin);
    if (wolff_) wolff_->set_temperature(kelvin);
  }
  std::string save_state() const override {
    state_io::Writer w("spinlat-mc-driver", 1);
    w.text("metropolis", mc_.save_state());
    w.text("wolff", wolff_ ? wolff_->save_state() : "");
    return w.str();
  }
  void load_state(const std::string& state) override {
    state_io::Reader r(state, "spinlat-mc-driver", 1);
    mc_.load_state(r.text("metropolis"));
    if (wolff_) wolff_->load_state(r.text("wolff"));
  }
  std::vector<std::pair<StreamPurpose, StreamKey>> streams() const override {
    std::vector<std::pair<StreamPurpose, StreamKey>> out{{StreamPurpose::metropolis, mc_.options().seed}};
    if (mc_.options().longitudinal) out.push_back({StreamPurpose::longitudinal, mc_.options().seed});
    if (wolff_) out.push_back({StreamPurpose::cluster, wolff_->key()});
    return out;
  }

 private:
  System& s_;
  MetropolisSampler mc_;
  std::unique_ptr<WolffSampler> wolff_;
  long long wolff_per_sweep_ = 0;
};

std::unique_ptr<Driver> McSpec::build(const DriverContext& ctx) const {
  return std::make_unique<McDriver>(*this, ctx);
}

void read_move(Params& p, McSpec& s) {
  s.move = p.choice("move", kMoves, "gaussian");
  if (s.role == DriverRole::stage) {
    s.target_acceptance = p.real("target_acceptance", 0.5);
    p.require(s.target_acceptance > 0.0 && s.target_acceptance < 1.0, "target_acceptance",
              "must lie strictly between 0 and 1, got " + setting_text(s.target_acceptance));
    s.longitudinal = p.boolean("longitudinal", false);
  }
}

DriverSpecPtr read_mc(Params& p, DriverRole role) {
  auto s = std::make_shared<McSpec>();
  s->type = "mc";
  s->role = role;
  if (role == DriverRole::stage) {
    s->temperature = read_temperature(p, true);
    s->length = count_at_least(p, "sweeps", 0, 0, true);
  } else {
    s->algorithm = p.choice("algorithm", {"metropolis", "wolff", "parallel-tempering"}, "metropolis");
    if (p.has("wolff_per_sweep")) {
      p.require(s->algorithm == "wolff", "wolff_per_sweep", "only used with algorithm = 'wolff'");
      s->wolff_per_sweep = count_at_least(p, "wolff_per_sweep", 0, 0, true);
    }
  }
  read_move(p, *s);
  return s;
}

DriverSpecPtr read_minimize(Params& p, DriverRole role) {
  auto s = std::make_shared<McSpec>();
  s->type = "minimize";
  s->role = role;
  s->quench = true;
  s->length = count_at_least(p, "steps", 1, 10000, false);
  if (p.has("dt")) positive(p, "dt", " ps");  // accepted for symmetry with the dynamics; no clock
  return s;
}

}  // namespace

DriverType mc_driver() {
  DriverType t;
  t.name = "mc";
  t.stage_keys = {"temperature", "sweeps", "move", "target_acceptance", "longitudinal"};
  t.sweep = true;
  t.sweep_keys = {"algorithm", "wolff_per_sweep", "move"};
  t.read = read_mc;
  return t;
}

DriverType minimize_driver() {
  DriverType t;
  t.name = "minimize";
  t.stage_keys = {"steps", "dt"};
  t.read = read_minimize;
  return t;
}

}  // namespace spinlat
