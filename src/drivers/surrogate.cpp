// Surrogate-driven Monte Carlo: an `mc` stage with `surrogate = FILE`, or an `mc` sweep with
// algorithm = "surrogate" (the reader of those keys is in drivers/mc.cpp). The expensive model
// is the input's Hamiltonian; the surrogate is the [[potential]] list of another input (what
// `spinlat map` writes), built on the same System. Sampling is exact for the input's
// Hamiltonian whatever the surrogate (mc/delayed_acceptance.hpp).
#include "spinlat/drivers/surrogate.hpp"

#include "spinlat/drivers/keys.hpp"
#include "spinlat/io/paths.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/workflows/run.hpp"
#include "spinlat/workflows/spin_map.hpp"

namespace spinlat {

SurrogateOptions read_surrogate(Params& p) {
  SurrogateOptions st;
  if (!p.has("surrogate")) {  // mapped automatically when the driver is built
    st.inner_steps = static_cast<int>(count_at_least(p, "surrogate_steps", 1, st.inner_steps, false));
    p.require(st.inner_steps <= 1000000, "surrogate_steps", "must be <= 1000000");
    return st;
  }
  const std::string given = p.string("surrogate");
  p.require(!given.empty(), "surrogate", "expected the path of an input file, got \"\"");
  st.file = resolve_input_path(input_directory(p.file()), given);
  try {
    st.config = std::make_shared<const Config>(read_config(st.file));
  } catch (const InputError& e) {
    p.fail("surrogate", std::string("cannot use it as a surrogate: ") + e.what());
  }
  p.require(!st.config->potentials.empty(), "surrogate", "'" + st.file + "' has no [[potential]] tables");
  st.inner_steps = static_cast<int>(count_at_least(p, "surrogate_steps", 1, st.inner_steps, false));
  p.require(st.inner_steps <= 1000000, "surrogate_steps", "must be <= 1000000");
  return st;
}

Hamiltonian build_surrogate(const SurrogateOptions& st, const System& s, const Hamiltonian& model,
                            std::uint64_t seed) {
  if (st.config) return build_hamiltonian(*st.config, s, builtin_terms());
  System reference = s;
  for (std::size_t i = 0; i < reference.size(); ++i)
    if (reference.magnetic(i)) reference.spin[i] = Vec3(0, 0, 1);
  MapOptions o;
  o.seed = seed;
  const SpinMap m = map_spin_model(reference, model, o);
  Hamiltonian h;
  for (TermPtr& t : mapped_terms(reference, m)) h.add(std::move(t));
  h.bind(s);
  return h;
}

namespace {

class SurrogateMcDriver : public Driver {
 public:
  SurrogateMcDriver(const SurrogateOptions& st, const DriverContext& ctx)
      : s_(ctx.system), surrogate_(build_surrogate(st, ctx.system, ctx.hamiltonian, ctx.key.seed)),
        da_(ctx.hamiltonian, surrogate_, ctx.system, options(st, ctx.key)) {
    da_.set_temperature(ctx.temperature);
  }
  void advance(bool adapt) override {
    da_.set_adaptive(adapt);
    da_.sweep(s_);
  }
  void observe(std::vector<std::pair<std::string, double>>& out) const override { report(out); }
  void report(std::vector<std::pair<std::string, double>>& out) const override {
    out.push_back({"outer_acceptance", da_.outer_acceptance()});
    out.push_back({"inner_acceptance", da_.inner_acceptance()});
  }
  void set_temperature(double kelvin) override { da_.set_temperature(kelvin); }
  std::string save_state() const override {
    state_io::Writer w("spinlat-surrogate-driver", 1);
    w.text("sampler", da_.save_state());
    return w.str();
  }
  void load_state(const std::string& state) override {
    state_io::Reader r(state, "spinlat-surrogate-driver", 1);
    da_.load_state(r.text("sampler"));
  }
  std::vector<std::pair<StreamPurpose, StreamKey>> streams() const override {
    return {{StreamPurpose::delayed_acceptance, da_.options().seed}};
  }

 private:
  static DelayedAcceptanceOptions options(const SurrogateOptions& st, const StreamKey& key) {
    DelayedAcceptanceOptions o;
    o.move = st.move;
    o.inner_steps = st.inner_steps;
    o.target_acceptance = st.target_acceptance;
    o.seed = key;
    return o;
  }
  System& s_;
  Hamiltonian surrogate_;
  DelayedAcceptanceSampler da_;
};

}  // namespace

std::unique_ptr<Driver> surrogate_mc_driver(const SurrogateOptions& settings, const DriverContext& ctx) {
  return std::make_unique<SurrogateMcDriver>(settings, ctx);
}

}  // namespace spinlat
