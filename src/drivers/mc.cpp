// Monte Carlo drivers: `mc` (Metropolis at a temperature; in sweeps also Metropolis + Wolff
// clusters, or parallel tempering over the temperatures) and the zero-temperature Metropolis
// quench (a quench that only accepts ΔE <= 0) of `minimize` with method = "metropolis".
#include <optional>

#include "spinlat/drivers/keys.hpp"
#include "spinlat/drivers/surrogate.hpp"
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
  bool quench = false;                   ///< the minimize quench: always at 0 K
  Vec3 field = Vec3::Zero();             ///< stages: an applied field (T), `field`
  /// Surrogate-driven (delayed-acceptance) Monte Carlo: a stage with `surrogate`, or a sweep with
  /// algorithm = "surrogate" (drivers/surrogate.hpp).
  std::optional<SurrogateOptions> surrogate;

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
    if (surrogate) {
      s["surrogate"] = surrogate->file;
      s["surrogate_steps"] = std::to_string(surrogate->inner_steps);
      if (surrogate->block != "site") s["surrogate_block"] = surrogate->block;
    }
    if (role == DriverRole::sweep) {
      s["algorithm"] = algorithm;
      s["wolff_per_sweep"] = std::to_string(wolff_per_sweep);
    } else {
      s[quench ? "steps" : "sweeps"] = std::to_string(length);
      if (!quench) s["temperature"] = setting_text(temperature);
      if (!quench) s["field"] = setting_text(field);
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
    if (surrogate) {  // every replica moves by surrogate-driven sweeps
      o.surrogate = std::make_shared<const Hamiltonian>(build_surrogate(*surrogate, s, h, key.seed));
      o.delayed.move = surrogate->move;
      o.delayed.inner_steps = surrogate->inner_steps;
      o.delayed.target_acceptance = surrogate->target_acceptance;
    }
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
    mc_.set_field(spec.field);
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
  std::optional<Vec3> applied_field() const override {
    if (mc_.field().isZero(0.0)) return std::nullopt;
    return mc_.field();
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
  if (surrogate) return surrogate_mc_driver(*surrogate, ctx);
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
    if (p.has("field")) s->field = p.vec3("field");
  } else {
    s->algorithm = p.choice("algorithm", {"metropolis", "wolff", "parallel-tempering", "surrogate"}, "metropolis");
    for (const char* k : {"surrogate", "surrogate_steps", "surrogate_block"})
      if (p.has(k))
        p.require(s->algorithm == "surrogate" || s->algorithm == "parallel-tempering", k,
                  "only used with algorithm = 'surrogate' or 'parallel-tempering'");
    if (s->algorithm == "parallel-tempering" && p.has("surrogate_steps"))
      p.require(p.has("surrogate"), "surrogate_steps", "needs surrogate = \"SPIN_MODEL.toml\" (the cheap model)");
    if (p.has("wolff_per_sweep")) {
      p.require(s->algorithm == "wolff", "wolff_per_sweep", "only used with algorithm = 'wolff'");
      s->wolff_per_sweep = count_at_least(p, "wolff_per_sweep", 0, 0, true);
    }
  }
  read_move(p, *s);
  if (role == DriverRole::stage ? p.has("surrogate") || p.has("surrogate_steps") || p.has("surrogate_block")
                                : s->algorithm == "surrogate" || (s->algorithm == "parallel-tempering" && p.has("surrogate"))) {
    if (role == DriverRole::stage) {
      p.require(s->temperature > 0.0, "temperature", "a surrogate-driven mc stage needs a temperature > 0 K");
      p.require(!s->longitudinal, "longitudinal", "surrogate-driven Monte Carlo moves directions only");
      p.require(s->field.isZero(0.0), "field",
                "surrogate-driven Monte Carlo samples the input's Hamiltonian without a stage field: "
                "put the field in a zeeman [[potential]] (then both models see it)");
    }
    SurrogateOptions st = read_surrogate(p);
    if (s->algorithm == "parallel-tempering")
      p.require(st.block == "site", "surrogate_block",
                "parallel tempering moves its replicas with site blocks only; use \"site\" or algorithm = \"surrogate\"");
    st.move = parse_move(s->move);
    st.target_acceptance = s->target_acceptance;
    s->surrogate = std::move(st);
  }
  return s;
}

}  // namespace

DriverType mc_driver() {
  DriverType t;
  t.name = "mc";
  t.stage_keys = {"temperature", "sweeps", "move", "target_acceptance", "longitudinal", "field", "surrogate", "surrogate_steps",
                  "surrogate_block"};
  t.sweep = true;
  t.sweep_keys = {"algorithm", "wolff_per_sweep", "move", "surrogate", "surrogate_steps", "surrogate_block"};
  t.read = read_mc;
  return t;
}

std::unique_ptr<Driver> quench_driver(const DriverContext& ctx) {
  McSpec s;
  s.type = "minimize";
  s.quench = true;
  return s.build(ctx);
}

}  // namespace spinlat
