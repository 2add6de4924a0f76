// The plain C++ evaluator of native models (spinlat/learned/native_fast.hpp) against the
// LibTorch reference (NativeModelImpl::node_energy and the learned term's subgraph path):
// node energies, Monte Carlo ΔE of random trials (accepted and rejected, direction and size
// changes, outside changes), batched trials, and the exactness of its caches (after a run of
// committed trials they equal a fresh rebuild bit for bit), for random models covering the
// configurations the model supports, and for the bundled iron model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "learned_test_helpers.hpp"
#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/io/params.hpp"
#include "spinlat/learned/graph.hpp"
#include "spinlat/learned/learned_term.hpp"
#include "spinlat/learned/native_fast.hpp"
#include "spinlat/learned/native_model.hpp"
#include "spinlat/mc/delayed_acceptance.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/heisenberg.hpp"
#include "spinlat/terms/registry.hpp"

using namespace spinlat;

namespace {

struct Case {
  const char* name;
  bool soc;
  int layers, correlation, l_max, moment_l_max;
  bool one_body;
  bool nonmagnetic;  // Fe + Al (m_max = 0) instead of Fe + Co
  double r_max;
};

// Every switch of the model at least once: SOC and not, 1 and 2 layers, correlation 1..3,
// l_max 0..3, moment_l_max 1..3, one-body on and off, a non-magnetic element.
const std::vector<Case> kCases = {
    {"nosoc-L1-c3-l1", false, 1, 3, 1, 1, true, false, 3.6},
    {"soc-L1-c3-l2-m1", true, 1, 3, 2, 1, true, false, 3.6},
    {"soc-L2-c2-l3-m2", true, 2, 2, 3, 2, false, false, 3.1},
    {"nosoc-L2-c3-l2", false, 2, 3, 2, 1, true, false, 3.1},
    {"soc-L1-c1-l0-m3", true, 1, 1, 0, 3, true, false, 4.2},
    {"nosoc-L1-c1-l0", false, 1, 1, 0, 1, false, false, 4.2},
    {"soc-L2-c3-l1-m3-Al", true, 2, 3, 1, 3, true, true, 3.1},
    {"nosoc-L2-c2-l3-Al", false, 2, 2, 3, 1, false, true, 3.1},
    {"soc-L1-c3-l3-m2-Al", true, 1, 3, 3, 2, true, true, 4.2},
};

std::string temp_file(const std::string& name) { return test::temp_file("spinlat_learned_fast", name); }

NativeModel make_model(const Case& k, std::uint64_t seed) {
  torch::manual_seed(seed);
  NativeModelConfig c;
  c.atomic_numbers = k.nonmagnetic ? std::vector<int>{26, 13} : std::vector<int>{26, 27};
  c.m_max = k.nonmagnetic ? std::vector<double>{2.5, 0.0} : std::vector<double>{2.5, 2.0};
  c.r_max = k.r_max;
  c.channels = 6;
  c.l_max = k.l_max;
  c.moment_l_max = k.moment_l_max;
  c.moment_basis = 4;
  c.correlation = k.correlation;
  c.interactions = k.layers;
  c.spin_orbit = k.soc;
  c.one_body = k.one_body;
  c.readout_hidden = {8, 5};
  c.avg_neighbors = 12.0;
  NativeModel m(c);
  m->set_e0({-4.1, -3.9});
  torch::NoGradGuard no_grad;
  for (auto& p : m->parameters_of("one_body")) p.copy_(0.1 * torch::randn_like(p));
  return m;
}

// A distorted periodic cell (2×2×2 bcc cells, 16 atoms: r_max reaches past half the box, so
// atoms meet several images of a neighbour and their own images) with non-collinear moments
// of varied sizes; Al atoms carry no moment.
System cell_for(const Case& k, std::uint64_t seed) {
  if (!k.nonmagnetic) return test::feco({2, 2, 2}, seed, 2.8665, 0.1);
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe", "Al"}, {2.2, 0.0}), {2, 2, 2});
  set_spins_random(s, seed);
  Engine rng(seed + 5);
  test::jiggle_positions_and_moments(s, rng, 0.1);
  return s;
}

std::vector<int> columns_of(const NativeModelConfig& c, const System& s) {
  std::vector<int> col(s.size(), -1);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const int z = atomic_number(s.species_name[s.species[i]]);
    for (std::size_t k = 0; k < c.atomic_numbers.size(); ++k)
      if (c.atomic_numbers[k] == z) col[i] = static_cast<int>(k);
  }
  return col;
}

// The reference: NativeModelImpl::node_energy on the whole graph.
std::vector<double> torch_node_energies(NativeModel& m, const System& s, const Graph& g) {
  torch::NoGradGuard no_grad;
  std::vector<double> pos, mag, sh;
  const std::vector<int> col = columns_of(m->config(), s);
  std::vector<std::int64_t> sp(col.begin(), col.end());
  std::vector<std::int64_t> snd(g.sender.begin(), g.sender.end()), rcv(g.receiver.begin(), g.receiver.end());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const Vec3 mv = s.moment_vector(i);
    for (int a = 0; a < 3; ++a) pos.push_back(s.position[i][a]), mag.push_back(mv[a]);
  }
  for (const Vec3& v : g.shift) sh.insert(sh.end(), {v[0], v[1], v[2]});
  const auto N = static_cast<std::int64_t>(s.size()), E = static_cast<std::int64_t>(g.edges());
  ModelInputs in;
  in.positions = torch::tensor(pos, torch::kDouble).reshape({N, 3});
  in.magmom = torch::tensor(mag, torch::kDouble).reshape({N, 3});
  in.species = torch::tensor(sp);
  in.sender = torch::tensor(snd);
  in.receiver = torch::tensor(rcv);
  in.shifts = torch::tensor(sh, torch::kDouble).reshape({E, 3});
  const at::Tensor e = m->node_energy(in).contiguous();
  return std::vector<double>(e.data_ptr<double>(), e.data_ptr<double>() + N);
}

std::unique_ptr<LearnedPotential> term(const std::string& path, const std::string& evaluator) {
  LearnedOptions o;
  o.model = path;
  o.mc_evaluator = evaluator;
  return std::make_unique<LearnedPotential>(o);
}

Vec3 random_unit(Engine& rng) {
  Vec3 v;
  do v = Vec3(2 * uniform01(rng) - 1, 2 * uniform01(rng) - 1, 2 * uniform01(rng) - 1);
  while (v.squaredNorm() > 1.0 || v.squaredNorm() < 1e-4);
  return v.normalized();
}

// A trial proposal: a new direction (anywhere, or a small step) and sometimes a new size.
void propose(const System& s, int i, Engine& rng, Vec3& e, double& m) {
  const double u = uniform01(rng);
  e = u < 0.4 ? random_unit(rng) : (s.spin[i] + 0.3 * random_unit(rng)).normalized();
  m = s.moment[i];
  if (u > 0.7) m *= 0.8 + 0.4 * uniform01(rng);
}

// Runs `trials` random trials on three evaluators at once: the term with the fast path, the
// term with the LibTorch path, and a NativeFastEvaluator driven directly (whose cache the test
// can read). Half the trials are accepted; now and then a moment changes behind the terms'
// back. Returns the largest |ΔE_fast − ΔE_torch|; checks the direct evaluator's cache
// against a fresh rebuild at the end.
double run_trials(const std::string& path, System& s, int trials, std::uint64_t seed, const char* name) {
  auto fast = term(path, "auto");
  auto ref = term(path, "torch");
  EXPECT_TRUE(fast->fast_trials());
  EXPECT_FALSE(ref->fast_trials());
  const NeighborList list = build_neighbor_list(s, fast->cutoff());
  fast->bind(s, list);
  ref->bind(s, list);
  NativeModel model = load_native_model(path);
  NativeFastEvaluator direct(*model);
  const Graph g = build_graph(s, list, fast->cutoff());
  direct.set_geometry(g, s.position, columns_of(model->config(), s));
  direct.rebuild(s);
  std::vector<int> magnetic;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s.moment[i] > 0.0) magnetic.push_back(static_cast<int>(i));
  Engine rng(seed);
  NativeFastEvaluator::Trial t;
  double worst = 0.0, sum_de = 0.0;
  int accepted = 0;
  const double e_start = [&] {
    double e = 0.0;
    for (double x : direct.node_energy()) e += x;
    return e;
  }();
  for (int n = 0; n < trials; ++n) {
    const int i = magnetic[static_cast<std::size_t>(uniform01(rng) * magnetic.size()) % magnetic.size()];
    Vec3 e;
    double m;
    propose(s, i, rng, e, m);
    const double de_fast = fast->local_energy_change(s, list, i, e, m);
    const double de_ref = ref->local_energy_change(s, list, i, e, m);
    const double de_direct = direct.trial(i, m * e, t);
    worst = std::max(worst, std::abs(de_fast - de_ref));
    EXPECT_EQ(de_fast, de_direct) << name << " trial " << n;  // the same code on the same cache
    const bool ok = uniform01(rng) < 0.5;
    if (ok) {
      s.spin[i] = e;
      s.moment[i] = m;
      direct.commit(t);
      sum_de += de_fast;
      ++accepted;
    }
    fast->accept_trials({ok});  // the Monte Carlo trial protocol (Term::accept_trials)
    ref->accept_trials({ok});
    if (n % 37 == 20) {  // an outside change (a dynamics step, another sampler)
      const int k = magnetic[(static_cast<std::size_t>(i) + 3) % magnetic.size()];
      s.spin[k] = -s.spin[k];
      sum_de = std::nan("");  // the sum of accepted ΔE no longer tracks E
      if (!direct.fresh_around(s, k)) direct.rebuild(s);
    }
  }
  EXPECT_GT(accepted, trials / 4);
  // Energy-only calls (the energies a Monte Carlo run measures) come from the fast evaluator's
  // cache on the fast path: they equal LibTorch's.
  Derivatives none;
  EXPECT_NEAR(fast->compute(s, list, none), ref->compute(s, list, none), 1e-10) << name;
  std::vector<double> site_fast(s.size(), 0.0), site_ref(s.size(), 0.0);
  fast->add_site_energies(s, list, site_fast);
  ref->add_site_energies(s, list, site_ref);
  for (std::size_t v = 0; v < s.size(); ++v) EXPECT_NEAR(site_fast[v], site_ref[v], 1e-10) << name << " node " << v;
  // The cache after the run equals a fresh evaluation of the final state, bit for bit.
  NativeFastEvaluator fresh(*model);
  fresh.set_geometry(g, s.position, columns_of(model->config(), s));
  fresh.rebuild(s);
  for (std::size_t v = 0; v < s.size(); ++v) EXPECT_EQ(direct.node_energy()[v], fresh.node_energy()[v]) << name << " node " << v;
  if (!std::isnan(sum_de)) {
    double e_end = 0.0;
    for (double x : fresh.node_energy()) e_end += x;
    EXPECT_NEAR(e_end - e_start, sum_de, 1e-10) << name;
  }
  return worst;
}

}  // namespace

TEST(FastEvaluator, NodeEnergiesEqualTheModelForEveryConfiguration) {
  for (std::size_t q = 0; q < kCases.size(); ++q) {
    const Case& k = kCases[q];
    NativeModel m = make_model(k, 100 + q);
    const System s = cell_for(k, 40 + q);
    const NeighborList list = build_neighbor_list(s, k.r_max);
    const Graph g = build_graph(s, list, k.r_max);
    NativeFastEvaluator f(*m);
    EXPECT_EQ(f.interactions(), k.layers);
    f.set_geometry(g, s.position, columns_of(m->config(), s));
    f.rebuild(s);
    const std::vector<double> ref = torch_node_energies(m, s, g);
    double worst = 0.0, worst_rel = 0.0, spread = 0.0;
    for (std::size_t v = 0; v < s.size(); ++v) {
      const double d = std::abs(f.node_energy()[v] - ref[v]);
      worst = std::max(worst, d);
      worst_rel = std::max(worst_rel, d / std::abs(ref[v]));
      spread = std::max(spread, std::abs(ref[v] - ref[0]));
    }
    std::printf("%-20s %3zu atoms %4zu edges: max |E_fast - E_torch| = %.1e eV (relative %.1e; energies spread %.2e eV)\n",
                k.name, s.size(), g.edges(), worst, worst_rel, spread);
    EXPECT_LT(worst, 1e-10) << k.name;
    EXPECT_GT(spread, 1e-6) << k.name << ": the model should make node energies differ";
  }
}

TEST(FastEvaluator, TrialsEqualTheLibTorchPathAndTheCacheEqualsARebuild) {
  for (std::size_t q = 0; q < kCases.size(); ++q) {
    const Case& k = kCases[q];
    NativeModel m = make_model(k, 100 + q);
    const std::string path = temp_file(std::string(k.name) + ".spl");
    save_native_model(m, path);
    System s = cell_for(k, 60 + q);
    const double worst = run_trials(path, s, 200, 7 + q, k.name);
    std::printf("%-20s 200 trials: max |dE_fast - dE_torch| = %.1e eV\n", k.name, worst);
    EXPECT_LT(worst, 1e-10) << k.name;
  }
}

TEST(FastEvaluator, BundledIronModel) {
  const std::string path = std::string(SPINLAT_SOURCE_DIR) + "/inputs/models/fe_bcc.spl";
  NativeModel m = load_native_model(path);
  // Node energies at 128 atoms.
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe"}, {2.2}), {4, 4, 4});
  set_spins_random(s, 3);
  Engine rng(4);
  for (std::size_t i = 0; i < s.size(); ++i) {
    for (int c = 0; c < 3; ++c) s.position[i][c] += 0.08 * (2 * uniform01(rng) - 1);
    s.moment[i] *= 1.0 + 0.3 * (uniform01(rng) - 0.5);
  }
  const NeighborList list = build_neighbor_list(s, m->config().r_max);
  const Graph g = build_graph(s, list, m->config().r_max);
  NativeFastEvaluator f(*m);
  f.set_geometry(g, s.position, std::vector<int>(s.size(), 0));
  f.rebuild(s);
  const std::vector<double> ref = torch_node_energies(m, s, g);
  double worst = 0.0, worst_rel = 0.0;
  for (std::size_t v = 0; v < s.size(); ++v) {
    worst = std::max(worst, std::abs(f.node_energy()[v] - ref[v]));
    worst_rel = std::max(worst_rel, std::abs(f.node_energy()[v] - ref[v]) / std::abs(ref[v]));
  }
  std::printf("fe_bcc.spl node energies: max |E_fast - E_torch| = %.1e eV (relative %.1e)\n", worst, worst_rel);
  EXPECT_LT(worst, 1e-10);

  // Single trials, accepted or not.
  const double worst_trial = run_trials(path, s, 200, 11, "fe_bcc");
  std::printf("fe_bcc.spl 200 trials: max |dE_fast - dE_torch| = %.1e eV\n", worst_trial);
  EXPECT_LT(worst_trial, 1e-10);

  // Batched trials of one colour (sites farther apart than trial_range()), several rounds with
  // random acceptances: the batched ΔE of both paths agree.
  auto fast = term(path, "auto");
  auto ref_term = term(path, "torch");
  System b = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe"}, {2.2}), {6, 6, 6});
  set_spins_random(b, 9);
  const NeighborList blist = build_neighbor_list(b, fast->cutoff());
  fast->bind(b, blist);
  ref_term->bind(b, blist);
  const NeighborList wide = build_neighbor_list(b, fast->trial_range());
  double worst_batch = 0.0;
  std::size_t batched = 0;
  for (int round = 0; round < 6; ++round) {
    std::vector<char> blocked(b.size(), 0);
    std::vector<int> sites;
    for (std::size_t q = 0; q < b.size(); ++q) {
      const int i = static_cast<int>((q + 37 * round) % b.size());
      if (blocked[i]) continue;
      sites.push_back(i);
      for (int k = wide.begin(i); k < wide.end(i); ++k) blocked[wide.index[k]] = 1;
    }
    std::vector<Vec3> spins;
    std::vector<double> moments;
    for (int i : sites) {
      Vec3 e;
      double mm;
      propose(b, i, rng, e, mm);
      spins.push_back(e);
      moments.push_back(mm);
    }
    std::vector<double> de_fast, de_ref;
    fast->local_energy_changes(b, blist, sites, spins, moments, de_fast);
    ref_term->local_energy_changes(b, blist, sites, spins, moments, de_ref);
    std::vector<char> accepted(sites.size(), 0);
    for (std::size_t k = 0; k < sites.size(); ++k) {
      worst_batch = std::max(worst_batch, std::abs(de_fast[k] - de_ref[k]));
      if (uniform01(rng) < 0.5) {
        b.spin[sites[k]] = spins[k];
        b.moment[sites[k]] = moments[k];
        accepted[k] = 1;
      }
    }
    fast->accept_trials(accepted);
    ref_term->accept_trials(accepted);
    batched += sites.size();
  }
  std::printf("fe_bcc.spl %zu batched trials (432 atoms): max |dE_fast - dE_torch| = %.1e eV\n", batched, worst_batch);
  EXPECT_GT(batched, 12u);
  EXPECT_LT(worst_batch, 1e-10);
}

TEST(FastEvaluator, MetropolisChainsOfBothPathsAgree) {
  // The same seed on both evaluators: ΔE agree to ~1e-13 eV, so every acceptance decision is
  // the same and the chains end in the same state (a decision closer than that to its
  // threshold has probability ~1e-12 per trial).
  const std::string path = std::string(SPINLAT_SOURCE_DIR) + "/inputs/models/fe_bcc.spl";
  System start = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe"}, {2.2}), {4, 4, 4});
  set_spins_random(start, 21);
  std::vector<System> end;
  for (const char* ev : {"auto", "torch"}) {
    System s = start;
    Hamiltonian h;
    h.add(term(path, ev));
    h.bind(s);
    MetropolisOptions mo;
    mo.seed = 5;
    mo.longitudinal = true;
    MetropolisSampler mc(h, s, mo);
    mc.set_temperature(900.0);
    mc.run(s, 3);
    end.push_back(s);
  }
  int moved = 0;
  for (std::size_t i = 0; i < start.size(); ++i) {
    EXPECT_EQ(end[0].spin[i], end[1].spin[i]) << i;
    EXPECT_EQ(end[0].moment[i], end[1].moment[i]) << i;
    moved += end[0].spin[i] != start.spin[i];
  }
  EXPECT_GT(moved, 64);
}

TEST(FastEvaluator, SamplersReportEveryTrialTheyTake) {
  // The Monte Carlo trial protocol (Term::accept_trials): a sampler that reports every trial
  // it takes keeps the learned term's node-energy cache in step, so the cache is built once
  // (at the first trial) and never again while the atoms stay put; a sampler that forgot to
  // report would leave it stale and force a full rebuild at every colour. Metropolis
  // (direction and longitudinal trials, batched) and delayed acceptance (the model's outer
  // trials), on both evaluators; the energy after the run equals a fresh term's.
  const std::string path = std::string(SPINLAT_SOURCE_DIR) + "/inputs/models/fe_bcc.spl";
  System start = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe"}, {2.2}), {4, 4, 4});
  set_spins_random(start, 8);
  for (const char* ev : {"auto", "torch"}) {
    for (const bool delayed : {false, true}) {
      System s = start;
      auto owned = term(path, ev);
      const LearnedPotential& t = *owned;
      Hamiltonian h;
      h.add(std::move(owned));
      h.bind(s);
      Hamiltonian surrogate;  // analytic, with a kernel: the inner chains never call the model
      surrogate.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{0.02}));
      surrogate.bind(s);
      std::size_t sweeps = 0;
      if (delayed) {
        DelayedAcceptanceOptions o;
        o.seed = 3;
        o.inner_steps = 2;
        DelayedAcceptanceSampler da(h, surrogate, s, o);
        da.set_temperature(900.0);
        for (; sweeps < 3; ++sweeps) da.sweep(s);
        EXPECT_GT(da.counters().outer_accepted, 32u) << ev;
      } else {
        MetropolisOptions mo;
        mo.seed = 4;
        mo.longitudinal = true;
        MetropolisSampler mc(h, s, mo);
        mc.set_temperature(900.0);
        sweeps = 3;
        mc.run(s, static_cast<int>(sweeps));
      }
      EXPECT_EQ(t.cache_rebuilds(), 1u) << ev << (delayed ? " delayed acceptance" : " metropolis");
      Hamiltonian fresh;
      fresh.add(term(path, ev));
      fresh.bind(s);
      EXPECT_NEAR(h.energy(s), fresh.energy(s), 1e-10) << ev;
      EXPECT_EQ(t.cache_rebuilds(), 1u) << ev << " (an energy measurement finds the cache fresh)";
    }
  }
}

TEST(FastEvaluator, OptionsAndFallbacks) {
  const std::string path = std::string(SPINLAT_SOURCE_DIR) + "/inputs/models/fe_bcc.spl";
  EXPECT_TRUE(term(path, "auto")->fast_trials());
  EXPECT_FALSE(term(path, "torch")->fast_trials());
  LearnedOptions o;
  o.model = path;
  o.dtype = "float32";  // the fast path is float64 only
  EXPECT_FALSE(LearnedPotential(o).fast_trials());
  o.dtype = "float64";
  o.mc_evaluator = "fast";
  EXPECT_THROW(LearnedPotential{o}, InputError);

  // The TOML key, through the registry as an input file reaches it.
  TermRegistry reg = builtin_terms();
  add_learned_terms(reg);
  const System s = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe"}, {2.2}), {2, 2, 2});
  TermContext ctx;
  ctx.system = &s;
  ctx.input_dir = std::string(SPINLAT_SOURCE_DIR) + "/inputs";
  auto make = [&](const std::string& src) {
    toml::table tb = toml::parse(src);
    Params p(tb, "in.toml", "potential.0");
    return reg.make(p, ctx);
  };
  const std::string head = "type = \"learned\"\nmodel = \"models/fe_bcc.spl\"\n";
  EXPECT_TRUE(dynamic_cast<LearnedPotential&>(*make(head)).fast_trials());
  EXPECT_TRUE(dynamic_cast<LearnedPotential&>(*make(head + "mc_evaluator = \"auto\"\n")).fast_trials());
  EXPECT_FALSE(dynamic_cast<LearnedPotential&>(*make(head + "mc_evaluator = \"torch\"\n")).fast_trials());
  try {
    make(head + "mc_evaluator = \"fast\"\n");
    ADD_FAILURE() << "no error for mc_evaluator = \"fast\"";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("mc_evaluator"), std::string::npos) << e.what();
  }
}
