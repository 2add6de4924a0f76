// Surrogate-driven Monte Carlo: an `mc` stage with `surrogate = FILE`, or an `mc` sweep with
// algorithm = "surrogate" (the reader of those keys is in drivers/mc.cpp). The expensive model
// is the input's Hamiltonian; the surrogate is the [[potential]] list of another input (what
// `spinlat map` writes), built on the same System. Sampling is exact for the input's
// Hamiltonian whatever the surrogate (mc/delayed_acceptance.hpp).
#include "spinlat/drivers/surrogate.hpp"

#include <type_traits>

#include "spinlat/drivers/keys.hpp"
#include "spinlat/io/paths.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/mc/lattice_delayed_acceptance.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/workflows/run.hpp"
#include "spinlat/workflows/spin_map.hpp"

namespace spinlat {

struct MappedSurrogates {
  struct Entry {
    System reference;
    std::uint64_t seed;
    SpinMap map;
  };
  std::vector<Entry> entries;
  const SpinMap* find(const System& r, std::uint64_t seed) const {
    for (const Entry& e : entries)
      if (e.seed == seed && e.reference.cell.h == r.cell.h && e.reference.cell.periodic == r.cell.periodic &&
          e.reference.position == r.position && e.reference.species == r.species && e.reference.moment == r.moment &&
          e.reference.species_name == r.species_name)
        return &e.map;
    return nullptr;
  }
};

namespace {

Hamiltonian build_mapped(const System& reference, const SpinMap& m, const System& s) {
  Hamiltonian h;
  for (TermPtr& t : mapped_terms(reference, m)) h.add(std::move(t));
  h.bind(s);
  return h;
}

void read_inner_steps(Params& p, SurrogateOptions& st) {
  st.block = p.choice("surrogate_block", {"site", "lattice"}, "site");
  st.inner_steps = static_cast<int>(count_at_least(p, "surrogate_steps", 1, st.block == "site" ? 10 : 4, false));
  p.require(st.inner_steps <= 1000000, "surrogate_steps", "must be <= 1000000");
}

}  // namespace

SurrogateOptions read_surrogate(Params& p) {
  SurrogateOptions st;
  if (!p.has("surrogate")) {  // mapped automatically when the driver is built
    read_inner_steps(p, st);
    st.maps = std::make_shared<MappedSurrogates>();
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
  read_inner_steps(p, st);
  return st;
}

Hamiltonian build_surrogate(const SurrogateOptions& st, const System& s, const Hamiltonian& model,
                            std::uint64_t seed) {
  if (st.config) return build_hamiltonian(*st.config, s, builtin_terms());
  System reference = s;
  for (std::size_t i = 0; i < reference.size(); ++i)
    if (reference.magnetic(i)) reference.spin[i] = Vec3(0, 0, 1);
  const SpinMap* known = st.maps ? st.maps->find(reference, seed) : nullptr;
  if (!known) {
    MapOptions o;
    o.seed = seed;
    o.mean_field = false;
    SpinMap m = map_spin_model(reference, model, o);
    if (!st.maps) return build_mapped(reference, m, s);
    st.maps->entries.push_back({reference, seed, std::move(m)});
    known = &st.maps->entries.back().map;
  }
  return build_mapped(reference, *known, s);
}

namespace {

/// Options: DelayedAcceptanceOptions or LatticeDelayedAcceptanceOptions (the same four settings).
template <class Options>
Options sampler_options(const SurrogateOptions& st, const StreamKey& key) {
  Options o;
  o.move = st.move;
  o.inner_steps = st.inner_steps;
  o.target_acceptance = st.target_acceptance;
  o.seed = key;
  return o;
}

/// Sampler: DelayedAcceptanceSampler or LatticeDelayedAcceptanceSampler.
template <class Sampler, class Options>
class SurrogateMcDriver : public Driver {
 public:
  SurrogateMcDriver(const SurrogateOptions& st, const DriverContext& ctx)
      : s_(ctx.system), surrogate_(build_surrogate(st, ctx.system, ctx.hamiltonian, ctx.key.seed)),
        da_(ctx.hamiltonian, surrogate_, ctx.system, sampler_options<Options>(st, ctx.key)) {
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
    if constexpr (std::is_same_v<Sampler, LatticeDelayedAcceptanceSampler>)
      out.push_back({"surrogate_scale", da_.surrogate_scale()});
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
    std::vector<std::pair<StreamPurpose, StreamKey>> out{{StreamPurpose::delayed_acceptance, da_.options().seed}};
    if constexpr (std::is_same_v<Sampler, LatticeDelayedAcceptanceSampler>) {
      out.push_back({StreamPurpose::metropolis, da_.options().seed});
      if (da_.uses_clusters()) out.push_back({StreamPurpose::cluster, da_.options().seed});
    }
    return out;
  }

 private:
  System& s_;
  Hamiltonian surrogate_;
  Sampler da_;
};

}  // namespace

std::unique_ptr<Driver> surrogate_mc_driver(const SurrogateOptions& settings, const DriverContext& ctx) {
  if (settings.block == "lattice")
    return std::make_unique<SurrogateMcDriver<LatticeDelayedAcceptanceSampler, LatticeDelayedAcceptanceOptions>>(settings, ctx);
  return std::make_unique<SurrogateMcDriver<DelayedAcceptanceSampler, DelayedAcceptanceOptions>>(settings, ctx);
}

}  // namespace spinlat
