// Labelled training frames from stages (`dataset`, `dataset_every`): the frame count and
// labels of a tiny Monte Carlo + hybrid MC/MD run read back with read_extxyz, REF_energy and
// REF_virial against the Hamiltonian recomputed on the frame, REF_magforces against central
// finite differences of the energy in the moment vector, and a restart (stop, frames appended
// after the checkpoint, --restart) giving the same file as an uninterrupted run.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "scratch_dir.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/workflows/run.hpp"

using namespace spinlat;
namespace fs = std::filesystem;

namespace {

const test_scratch::ScratchRoot kScratch("dataset");
fs::path scratch(const std::string& name) { return kScratch.dir(name); }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// bcc Fe, 16 atoms: Bethe-Slater exchange, a Landau term (moment sizes vary: longitudinal
// moves) and a Morse pair potential (lattice forces); 20 Monte Carlo sweeps with a frame every
// 5, then 10 hybrid sweeps with a frame every 2, into the same file: 4 + 5 = 9 frames.
std::string input(const fs::path& dataset, const std::string& extra_potential = "") {
  return R"(seed = 7
threads = 1
[structure]
lattice = "bcc"
a = 2.8665
cells = [2, 2, 2]
species = ["Fe"]
moment = [2.2]
spins = "random"
lattice_temperature = 200.0
[[potential]]
type = "bethe-slater"
a = 0.02726
b = 0.2171
d = 1.841
cutoff = 3.4
[[potential]]
type = "landau"
A = -0.5808
B = 0.06
[[potential]]
type = "pair"
style = "morse"
D0 = 0.1
alpha = 1.5
r0 = 2.9
cutoff = 4.5
)" + extra_potential + R"(
[[stage]]
type = "mc"
temperature = 300.0
sweeps = 20
longitudinal = true
dataset = ")" + dataset.string() + R"("
dataset_every = 5
[[stage]]
type = "hybrid"
temperature = 300.0
sweeps = 10
md_steps_per_sweep = 5
dt = 0.001
lattice_damping = 5.0
longitudinal = true
dataset = ")" + dataset.string() + R"("
dataset_every = 2
[output]
observables_every = 5
)";
}

/// A term that contributes nothing and sets a stop flag at its `stop_after`-th evaluation with
/// forces, magnetic forces and virial all requested (the dataset writer's labels): a stop
/// request at a reproducible point of the run, as a signal would make one.
class StopperTerm : public Term {
 public:
  StopperTerm(std::atomic<bool>* flag, int stop_after) : flag_(flag), stop_after_(stop_after) {}
  std::string type() const override { return "stopper"; }
  double compute(const System&, const NeighborList&, Derivatives& d) const override {
    if (flag_ && d.force && d.magnetic_force && d.virial && ++calls_ == stop_after_) flag_->store(true);
    return 0.0;
  }
  void add_site_energies(const System&, const NeighborList&, std::vector<double>&) const override {}
  double local_energy_change(const System&, const NeighborList&, int, const Vec3&, double) const override { return 0.0; }

 private:
  std::atomic<bool>* flag_;
  int stop_after_;
  mutable int calls_ = 0;
};

TermRegistry registry_with_stopper(std::atomic<bool>* flag, int stop_after) {
  TermRegistry r = builtin_terms();
  r.add("stopper", [=](Params&, const TermContext&) { return TermPtr(new StopperTerm(flag, stop_after)); });
  return r;
}

int run(const fs::path& in, const fs::path& out, const TermRegistry& reg, bool restart = false,
        const std::atomic<bool>* stop = nullptr) {
  RunOptions o;
  o.input = in.string();
  o.output = out.string();
  o.quiet = true;
  o.restart = restart;
  o.stop = stop;
  return run_input(o, reg);
}

/// The input's System with the frame's cell, positions and moments (same atom order).
System system_of(const Config& c, const Frame& f) {
  System s = build_system(c);
  EXPECT_EQ(s.size(), f.system.size());
  s.cell = f.system.cell;
  for (std::size_t i = 0; i < s.size(); ++i) {
    s.position[i] = f.system.position[i];
    s.moment[i] = f.system.moment[i];
    s.spin[i] = f.system.spin[i];
  }
  return s;
}

void set_moment(System& s, std::size_t i, const Vec3& m) {
  s.moment[i] = m.norm();
  s.spin[i] = m / m.norm();
}

}  // namespace

TEST(DatasetStage, FramesCarryTheHamiltoniansLabels) {
  const fs::path dir = scratch("labels");
  const fs::path data = dir / "fe_train.xyz";
  std::ofstream(dir / "in.toml") << input(data);
  const TermRegistry reg = builtin_terms();
  ASSERT_EQ(run(dir / "in.toml", dir / "out.h5", reg), 0);

  const std::vector<Frame> frames = read_extxyz(data.string());
  ASSERT_EQ(frames.size(), 9u);
  const std::vector<double> steps = {5, 10, 15, 20, 22, 24, 26, 28, 30};
  const Config c = read_config((dir / "in.toml").string());
  double size_spread = 0.0;
  for (std::size_t k = 0; k < frames.size(); ++k) {
    SCOPED_TRACE("frame " + std::to_string(k));
    const Frame& f = frames[k];
    EXPECT_EQ(f.moment_source, "REF_magmom");
    EXPECT_EQ(f.info.at("step"), steps[k]);
    EXPECT_EQ(f.info.at("stage"), k < 4 ? 0.0 : 1.0);
    EXPECT_EQ(f.info.at("temperature"), 300.0);
    ASSERT_EQ(f.vectors.at("REF_forces").size(), 16u);
    ASSERT_EQ(f.vectors.at("REF_magforces").size(), 16u);
    ASSERT_EQ(f.vectors.at("REF_magmom").size(), 16u);
    ASSERT_EQ(f.info_arrays.at("REF_virial").size(), 9u);
    for (std::size_t i = 0; i < 16; ++i) size_spread = std::max(size_spread, std::abs(f.system.moment[i] - 2.2));

    System s = system_of(c, f);
    Hamiltonian h = build_hamiltonian(c, s, reg);
    h.bind(s);
    std::vector<Vec3> force, mforce;
    Mat3 w = Mat3::Zero();
    Derivatives d;
    d.force = &force;
    d.magnetic_force = &mforce;
    d.virial = &w;
    const double e = h.compute(s, d);
    EXPECT_NEAR(f.info.at("REF_energy"), e, 1e-9 * std::abs(e));
    // REF_virial = −∂E/∂ε = Wᵀ (docs/units.md).
    for (int a = 0; a < 9; ++a) EXPECT_NEAR(f.info_arrays.at("REF_virial")[a], w(a % 3, a / 3), 1e-9 * (1.0 + w.norm()));
    for (std::size_t i = 0; i < 16; ++i) {
      EXPECT_NEAR((f.vectors.at("REF_forces")[i] - force[i]).norm(), 0.0, 1e-9);
      EXPECT_NEAR((f.vectors.at("REF_magforces")[i] - mforce[i]).norm(), 0.0, 1e-9);
    }
  }
  // The moment sizes did fluctuate (longitudinal moves in both stages): the Landau term's
  // longitudinal magnetic force is in the labels.
  EXPECT_GT(size_spread, 0.02);
  // Hybrid stages honour `longitudinal`: the sizes keep changing after the Monte Carlo stage.
  double hybrid_change = 0.0;
  for (std::size_t i = 0; i < 16; ++i)
    hybrid_change = std::max(hybrid_change, std::abs(frames[8].system.moment[i] - frames[4].system.moment[i]));
  EXPECT_GT(hybrid_change, 0.02);
  // The atoms moved in the hybrid stage.
  EXPECT_GT((frames[8].system.position[0] - frames[0].system.position[0]).norm(), 1e-3);

  // REF_magforces = −∂E/∂m by central differences in each Cartesian component of m_i
  // (step 1e-5 μB: truncation ~1e-10, rounding ~1e-10 eV/μB).
  const Frame& f = frames[6];
  System s = system_of(c, f);
  Hamiltonian h = build_hamiltonian(c, s, reg);
  h.bind(s);
  const double step = 1e-5;
  double worst = 0.0;
  for (std::size_t i : {0u, 5u, 11u}) {
    const Vec3 m = f.vectors.at("REF_magmom")[i];
    for (int a = 0; a < 3; ++a) {
      Vec3 dm = Vec3::Zero();
      dm[a] = step;
      set_moment(s, i, m + dm);
      const double ep = h.energy(s);
      set_moment(s, i, m - dm);
      const double em = h.energy(s);
      set_moment(s, i, m);
      const double fd = -(ep - em) / (2 * step);
      worst = std::max(worst, std::abs(fd - f.vectors.at("REF_magforces")[i][a]));
      EXPECT_NEAR(f.vectors.at("REF_magforces")[i][a], fd, 1e-6) << "atom " << i << " component " << a;
    }
  }
  std::printf("largest |REF_magforces - finite difference| = %.2e eV/muB\n", worst);
}

TEST(DatasetStage, RestartGivesTheUninterruptedFile) {
  const fs::path dir = scratch("restart");
  const std::string stopper = "[[potential]]\ntype = \"stopper\"\n";
  // Uninterrupted.
  std::ofstream(dir / "u.toml") << input(dir / "u.xyz", stopper);
  ASSERT_EQ(run(dir / "u.toml", dir / "u.h5", registry_with_stopper(nullptr, 0)), 0);
  const std::string full = slurp(dir / "u.xyz");
  ASSERT_EQ(read_extxyz((dir / "u.xyz").string()).size(), 9u);

  // Stopped at the 6th frame's labels (the 2nd frame of the hybrid stage; the stop takes
  // effect before the next sweep, with a checkpoint).
  std::ofstream(dir / "i.toml") << input(dir / "i.xyz", stopper);
  std::atomic<bool> stop{false};
  ASSERT_EQ(run(dir / "i.toml", dir / "i.h5", registry_with_stopper(&stop, 6), false, &stop), 3);
  ASSERT_TRUE(fs::exists(dir / "i.h5.ckpt"));
  const std::string part = slurp(dir / "i.xyz");
  EXPECT_EQ(read_extxyz((dir / "i.xyz").string()).size(), 6u);
  // The u run's file starts with what the stopped run wrote (the two inputs differ only in
  // file names, which are not written into frames).
  EXPECT_EQ(full.compare(0, part.size(), part), 0);
  // A killed run may have written frames, or half a frame, after its last checkpoint.
  {
    std::ofstream app(dir / "i.xyz", std::ios::app);
    app << full.substr(part.size(), 500);
  }
  ASSERT_EQ(run(dir / "i.toml", dir / "i.h5", registry_with_stopper(nullptr, 0), true), 0);
  EXPECT_TRUE(slurp(dir / "i.xyz") == full) << "the continued dataset differs from the uninterrupted one";

  // A dataset file shorter than the checkpoint records cannot be continued.
  std::atomic<bool> stop2{false};
  std::ofstream(dir / "j.toml") << input(dir / "j.xyz", stopper);
  ASSERT_EQ(run(dir / "j.toml", dir / "j.h5", registry_with_stopper(&stop2, 3), false, &stop2), 3);
  fs::resize_file(dir / "j.xyz", 10);
  try {
    run(dir / "j.toml", dir / "j.h5", registry_with_stopper(nullptr, 0), true);
    ADD_FAILURE() << "no error for a truncated dataset";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("shorter"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("j.xyz"), std::string::npos) << e.what();
  }
}

TEST(DatasetStage, KeysAreChecked) {
  auto error_of = [](const std::string& stage) {
    try {
      parse_config("[structure]\nlattice = \"sc\"\na = 1.0\nmoment = [1.0]\n[[potential]]\ntype = \"heisenberg\"\nJ = [0.01]\n"
                   "[[stage]]\ntype = \"mc\"\ntemperature = 1.0\nsweeps = 1\n" + stage,
                   "in.toml");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(error_of("dataset = \"a.xyz\"\n").find("needs dataset_every"), std::string::npos);
  EXPECT_NE(error_of("dataset = \"a.xyz\"\ndataset_every = 0\n").find("'stage.0.dataset_every': must be an integer >= 1"),
            std::string::npos)
      << error_of("dataset = \"a.xyz\"\ndataset_every = 0\n");
  EXPECT_NE(error_of("dataset_every = 5\n").find("dataset"), std::string::npos);
  EXPECT_NE(error_of("dataset = \"\"\ndataset_every = 5\n").find("must name an extended XYZ file"), std::string::npos);
  EXPECT_EQ(error_of("dataset = \"a.xyz\"\ndataset_every = 5\n"), "(no error)");
}
