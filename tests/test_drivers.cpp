// Stages and sweep points as pluggable drivers (drivers/driver.hpp): the registry reads each
// type's keys, every driver of a run draws from its own random streams, and a driver saved and
// loaded continues bit for bit.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "spinlat/drivers/driver.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/workflows/run.hpp"

using namespace spinlat;

namespace {

const std::string kEam = "/usr/share/lammps/examples/SPIN/iron/Fe_Mishin2006.eam.alloy";

// Every stage type twice (hybrid three times: the lattice integrator inside it once reused the
// run's seed, so every hybrid stage replayed the same lattice noise) and a sweep.
std::string run_with_every_driver(const std::string& sweep_method) {
  std::string t = R"(seed = 5
[structure]
lattice = "bcc"
a = 2.8665
cells = [2, 2, 2]
species = ["Fe"]
moment = [2.2]
mass = [55.845]
[[potential]]
type = "pair"
style = "morse"
D0 = 0.4
alpha = 1.4
r0 = 2.5
cutoff = 4.5
[[potential]]
type = "heisenberg"
J = [0.01]
)";
  for (int twice = 0; twice < 2; ++twice)
    t += R"([[stage]]
type = "mc"
temperature = 300
sweeps = 1
longitudinal = false
[[stage]]
type = "minimize"
steps = 1
[[stage]]
type = "llg"
temperature = 300
damping = 0.1
steps = 1
dt = 1e-4
[[stage]]
type = "md"
temperature = 300
lattice_damping = 5
steps = 1
dt = 1e-3
[[stage]]
type = "sld"
temperature = 300
damping = 0.1
lattice_damping = 5
steps = 1
dt = 1e-4
[[stage]]
type = "hybrid"
temperature = 300
sweeps = 1
md_steps_per_sweep = 1
dt = 1e-3
lattice_damping = 5
)";
  t += "[sweep]\ntemperatures = [300, 600, 900]\nsizes = [2, 3]\nmethod = \"" + sweep_method + "\"\n";
  if (sweep_method != "mc") t += "dt = 1e-4\n";
  if (sweep_method == "hybrid") t += "md_steps_per_sweep = 1\nlattice_damping = 5\n";
  return t;
}

using Stream = std::tuple<StreamPurpose, std::uint64_t, StreamOwner, std::uint64_t, std::uint64_t>;
Stream as_tuple(StreamPurpose p, const StreamKey& k) { return {p, k.seed, k.owner, k.index, k.replica}; }

}  // namespace

TEST(StreamSeed, DistinctOverOwnersIndicesReplicasPurposesAndBlocks) {
  std::set<std::uint64_t> seen;
  std::size_t n = 0;
  for (StreamOwner o : {StreamOwner::run, StreamOwner::stage, StreamOwner::sweep_point, StreamOwner::ground_state})
    for (std::uint64_t index = 0; index < 40; ++index)
      for (std::uint64_t replica = 0; replica < 4; ++replica)
        for (std::uint64_t purpose = 1; purpose <= 9; ++purpose)
          for (std::uint64_t block = 0; block < 4; ++block) {
            seen.insert(stream_seed(StreamKey(7, o, index, replica), StreamPurpose(purpose), block));
            ++n;
          }
  EXPECT_EQ(seen.size(), n);
  // A bare seed keys derive_seed directly (drivers used on their own keep their numbers).
  EXPECT_EQ(stream_seed(StreamKey(7), StreamPurpose::spin_noise, 3), derive_seed(7, StreamPurpose::spin_noise, 3));
}

// Every driver of a run with several stages of every type and a sweep: no (purpose, key) is
// drawn by two drivers, as the drivers' parts (samplers, integrators) hold their keys.
TEST(Drivers, NoTwoDriversOfARunShareAStream) {
  const TermRegistry terms = builtin_terms();
  for (const std::string method : {"mc", "llg", "sld", "hybrid"}) {
    const Config c = parse_config(run_with_every_driver(method), "in.toml");
    std::set<Stream> streams;
    std::size_t count = 0;
    auto add = [&](const Driver& d) {
      for (const auto& [purpose, key] : d.streams()) {
        streams.insert(as_tuple(purpose, key));
        ++count;
      }
    };
    System s = build_system(c);
    Hamiltonian h = build_hamiltonian(c, s, terms);
    for (std::size_t k = 0; k < c.stages.size(); ++k) {
      const DriverSpec& spec = *c.stages[k].driver;
      add(*spec.build({s, h, stage_key(c.seed, k), spec.temperature}));
    }
    const std::size_t nT = c.sweep.temperatures.size();
    for (std::size_t il = 0; il < c.sweep.sizes.size(); ++il) {
      const int L = c.sweep.sizes[il];
      System sp = build_system(c, Int3(L, L, L));
      Hamiltonian hp = build_hamiltonian(c, sp, terms);
      for (std::size_t it = 0; it < nT; ++it)
        add(*c.sweep.driver->build({sp, hp, sweep_point_key(c.seed, il, it, nT), c.sweep.temperatures[it]}));
    }
    EXPECT_EQ(streams.size(), count) << "sweep method " << method;
    EXPECT_GE(count, 2 * 6u + 6u);
  }
}

TEST(Drivers, RegistryReadsEachTypesKeys) {
  const Config c = parse_config(run_with_every_driver("hybrid"), "in.toml");
  ASSERT_EQ(c.stages.size(), 12u);
  const std::vector<std::string> types{"mc", "minimize", "llg", "md", "sld", "hybrid"};
  for (std::size_t k = 0; k < 6; ++k) EXPECT_EQ(c.stages[k].type, types[k]);
  EXPECT_EQ(c.stages[0].driver->settings().at("sweeps"), "1");
  EXPECT_EQ(c.stages[2].driver->settings().at("integrator"), "heun");
  EXPECT_TRUE(c.stages[4].driver->moves_atoms() && c.stages[4].driver->spin_dynamics());
  EXPECT_FALSE(c.stages[2].driver->moves_atoms());
  EXPECT_EQ(c.sweep.driver->settings().at("md_steps_per_sweep"), "1");
  // A key of another type names who uses it.
  try {
    parse_config(run_with_every_driver("mc") + "", "in.toml", {"stage.0.dt=0.1"});
    ADD_FAILURE() << "dt accepted in an mc stage";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("not used by 'mc' stages"), std::string::npos) << m;
    EXPECT_NE(m.find("hybrid, hysteresis, llg, md, minimize and sld stages"), std::string::npos) << m;
  }
}

// save_state/load_state of every driver type continues bit for bit.
TEST(Drivers, SaveAndLoadContinueBitForBit) {
  const Config c = parse_config(run_with_every_driver("mc"), "in.toml");
  const TermRegistry terms = builtin_terms();
  for (std::size_t k = 0; k < 6; ++k) {
    const DriverSpec& spec = *c.stages[k].driver;
    System a = build_system(c);
    Hamiltonian ha = build_hamiltonian(c, a, terms);
    auto da = spec.build({a, ha, stage_key(c.seed, k), spec.temperature});
    for (int n = 0; n < 3; ++n) da->advance(true);
    // As a restart does: the Hamiltonian of the input's structure, then the saved System.
    System b = build_system(c);
    Hamiltonian hb = build_hamiltonian(c, b, terms);
    b = a;
    hb.bind(b);
    auto db = spec.build({b, hb, stage_key(c.seed, k), spec.temperature});
    db->load_state(da->save_state());
    for (int n = 0; n < 3; ++n) {
      da->advance(true);
      db->advance(true);
    }
    EXPECT_EQ(a.spin, b.spin) << spec.type;
    EXPECT_EQ(a.position, b.position) << spec.type;
    EXPECT_EQ(a.velocity, b.velocity) << spec.type;
  }
}
