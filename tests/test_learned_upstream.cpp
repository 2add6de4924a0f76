// Upstream MACE / magnetic MACE TorchScript files loaded as they are (issue 12), against the
// upstream code's own references: ../shared/mmace holds a `MagneticScaleShiftMACE` (ACEsuit/mace
// pull request 1244, spin-orbit-coupled blocks, 2 interactions, random weights) exported with
// e3nn.util.jit.compile + torch.jit.save, and 6 frames evaluated by the eager upstream model
// (frames_ref.npz at full precision; see its README). Skipped when that folder is absent.
// Also: the signatures spinlat accepts and the one error for those it does not, on small
// TorchScript modules written here.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "learned_test_helpers.hpp"
#include "scratch_dir.hpp"
#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/io/deepmd.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/learned/tools/evaluate.hpp"
#include "spinlat/learned/graph.hpp"
#include "spinlat/learned/learned_term.hpp"
#include "spinlat/terms/hamiltonian.hpp"

using namespace spinlat;
namespace fs = std::filesystem;

namespace {

const test_scratch::ScratchRoot kScratch("upstream");

fs::path fixture_dir() { return fs::path(SPINLAT_SOURCE_DIR) / ".." / "shared" / "mmace"; }
std::string fixture_model() { return (fixture_dir() / "mmace_fe_co_soc.pt").string(); }

#define SKIP_WITHOUT_FIXTURE()                                                     \
  if (!fs::exists(fixture_dir() / "mmace_fe_co_soc.pt") || !fs::exists(fixture_dir() / "frames_ref.npz")) \
  GTEST_SKIP() << "../shared/mmace is absent"

// The fixture's frames: cell and species from the extended XYZ file, positions, moments and
// every reference from the .npz (full precision; the XYZ prints 8 decimals per atom column).
struct RefFrame {
  System system;
  double energy = 0.0;
  std::vector<Vec3> forces, magforces;
  std::vector<double> node_energy;
  Mat3 stress_full = Mat3::Zero();  // (1/V) ∂E/∂ε_ab, r_a → r_a + ε_ab r_b, moments fixed
};

std::vector<RefFrame> reference_frames() {
  const std::vector<Frame> xyz = read_extxyz((fixture_dir() / "frames_ref.xyz").string());
  const auto npz = read_npz((fixture_dir() / "frames_ref.npz").string());
  std::vector<RefFrame> out(xyz.size());
  std::size_t off3 = 0, off1 = 0;
  for (std::size_t k = 0; k < xyz.size(); ++k) {
    RefFrame& f = out[k];
    f.system = xyz[k].system;
    const std::size_t n = f.system.size();
    for (std::size_t i = 0; i < n; ++i, off3 += 3, ++off1) {
      Vec3 r, m, F, B;
      for (int c = 0; c < 3; ++c) {
        r[c] = npz.at("positions").data.at(off3 + c);
        m[c] = npz.at("magmom").data.at(off3 + c);
        F[c] = npz.at("REF_forces").data.at(off3 + c);
        B[c] = npz.at("REF_magforces").data.at(off3 + c);
      }
      f.system.position[i] = r;
      f.system.moment[i] = m.norm();
      f.system.spin[i] = m / m.norm();
      f.forces.push_back(F);
      f.magforces.push_back(B);
      f.node_energy.push_back(npz.at("REF_node_energy").data.at(off1));
    }
    f.energy = npz.at("REF_energy").data.at(k);
    for (int a = 0; a < 9; ++a) f.stress_full(a / 3, a % 3) = npz.at("REF_stress_full").data.at(9 * k + a);
  }
  EXPECT_EQ(off3, npz.at("positions").data.size());
  return out;
}

using test::max_abs;
using test::max_diff;

// Everything the term gives for one frame, through the Term interface (Hamiltonian).
struct Evaluated {
  double energy = 0.0;
  std::vector<Vec3> forces, magforces;
  std::vector<double> node_energy;
  Mat3 stress = Mat3::Zero();  // −Wᵀ/V, what `spinlat eval` writes
};

Evaluated evaluate(Hamiltonian& h, const System& s) {
  const Evaluation ev = evaluate_structure(h, s);
  Evaluated r;
  r.energy = ev.energy;
  r.forces = ev.forces;
  r.magforces = ev.magnetic_forces;
  r.stress = -ev.virial.transpose() / s.cell.volume();
  r.node_energy = h.site_energies(s);
  return r;
}

Evaluated evaluate(const LearnedOptions& o, const System& s) {
  Hamiltonian h;
  h.add(std::make_unique<LearnedPotential>(o));
  return evaluate(h, s);
}

// The fixture model, loaded once for the tests that use it as it is (loading the e3nn-compiled
// module takes seconds).
Hamiltonian& fixture_hamiltonian() {
  static Hamiltonian h = [] {
    Hamiltonian x;
    LearnedOptions o;
    o.model = fixture_model();
    o.convert = false;  // the TorchScript file through LibTorch: the reference path
    x.add(std::make_unique<LearnedPotential>(o));
    return x;
  }();
  return h;
}

// The fixture as `type = "learned"` loads it by default: converted on load.
Hamiltonian& converted_fixture_hamiltonian() {
  static Hamiltonian h = [] {
    Hamiltonian x;
    LearnedOptions o;
    o.model = fixture_model();
    x.add(std::make_unique<LearnedPotential>(o));
    return x;
  }();
  return h;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

// A TorchScript module with the contract's buffers and the given forward source.
std::string save_module(const std::string& name, const std::string& source) {
  torch::jit::Module m("UpstreamTestModel");
  m.register_buffer("atomic_numbers", torch::tensor(std::vector<std::int64_t>{26, 27}));
  m.register_buffer("r_max", torch::tensor(3.0, torch::kDouble));
  m.register_buffer("scale", torch::tensor(0.01, torch::kDouble));
  m.define(source);
  const std::string path = (kScratch.dir(name) / "model.pt").string();
  m.save(path);
  return path;
}

System small_feco() {
  System s = build_supercell(standard_lattice("bcc", 2.87, 0.0, {"Fe", "Co"}, {2.2, 1.7}), {2, 2, 2});
  set_spins_random(s, 3);
  Engine rng(4);
  for (auto& r : s.position)
    for (int c = 0; c < 3; ++c) r[c] += 0.05 * (2 * uniform01(rng) - 1);
  return s;
}

}  // namespace

TEST(UpstreamMace, FixtureLoadsAsItIs) {
  SKIP_WITHOUT_FIXTURE();
  const auto& t = dynamic_cast<const LearnedPotential&>(*fixture_hamiltonian().terms().front());
  EXPECT_EQ(t.forward_form(), "mace");
  EXPECT_EQ(t.atomic_numbers(), (std::vector<int>{26, 27}));
  EXPECT_DOUBLE_EQ(t.cutoff(), 4.5);
  EXPECT_EQ(t.interactions(), 2);
}

// Energy (E0 included), forces, magnetic forces (−∂E/∂m), node energies and the full,
// non-symmetric strain derivative of every reference frame, relative to each array's largest
// reference entry.
static void expect_every_frame_matches(Hamiltonian& h) {
  const std::vector<RefFrame> frames = reference_frames();
  ASSERT_EQ(frames.size(), 6u);
  const double tol = 1e-10;
  for (std::size_t k = 0; k < frames.size(); ++k) {
    const RefFrame& f = frames[k];
    const Evaluated r = evaluate(h, f.system);
    double ne = 0.0, ne_max = 0.0;
    for (std::size_t i = 0; i < f.node_energy.size(); ++i) {
      ne = std::max(ne, std::abs(r.node_energy[i] - f.node_energy[i]));
      ne_max = std::max(ne_max, std::abs(f.node_energy[i]));
    }
    const double dE = std::abs(r.energy - f.energy), dF = max_diff(r.forces, f.forces),
                 dB = max_diff(r.magforces, f.magforces),
                 dS = (r.stress - f.stress_full).cwiseAbs().maxCoeff();
    const double S = f.stress_full.cwiseAbs().maxCoeff();
    const double antisym = (f.stress_full - f.stress_full.transpose()).cwiseAbs().maxCoeff();
    std::printf("frame %zu: |dE| %.1e eV  |dF| %.1e eV/A  |dB| %.1e eV/muB  |dE_i| %.1e eV  |dsigma| %.1e eV/A^3 "
                "(antisymmetric part %.1e)\n", k, dE, dF, dB, ne, dS, antisym);
    EXPECT_LE(dE, tol * std::abs(f.energy)) << k;
    EXPECT_LE(dF, tol * max_abs(f.forces)) << k;
    EXPECT_LE(dB, tol * max_abs(f.magforces)) << k;
    EXPECT_LE(ne, tol * ne_max) << k;
    EXPECT_LE(dS, tol * S) << k;
    // The antisymmetric part is far above the tolerance, so a transposed stress would fail.
    EXPECT_GT(antisym, 1e3 * tol * S) << k;
  }
}

TEST(UpstreamMace, EveryFrameMatchesTheUpstreamReferences) {
  SKIP_WITHOUT_FIXTURE();
  expect_every_frame_matches(fixture_hamiltonian());
}

// By default the file is converted on load (one path for every evaluation, Monte Carlo trials
// from cached features): the same references, to the same tolerance.
TEST(UpstreamMace, ConvertedOnLoadMatchesTheUpstreamReferences) {
  SKIP_WITHOUT_FIXTURE();
  const auto& t = dynamic_cast<const LearnedPotential&>(*converted_fixture_hamiltonian().terms().front());
  EXPECT_EQ(t.forward_form(), "converted");
  EXPECT_TRUE(t.fast_trials());
  EXPECT_EQ(t.atomic_numbers(), (std::vector<int>{26, 27}));
  EXPECT_DOUBLE_EQ(t.cutoff(), 4.5);
  EXPECT_EQ(t.interactions(), 2);
  expect_every_frame_matches(converted_fixture_hamiltonian());
}

TEST(UpstreamMace, Float32ModelRunsInSinglePrecision) {
  // The fixture converted to float32 and saved, as a float32 export would be: dtype "auto"
  // evaluates it in float32 (inputs converted). (dtype = "float32" on a float64 file is the
  // same conversion, tested in test_learned_potential.)
  SKIP_WITHOUT_FIXTURE();
  const RefFrame f = reference_frames().front();
  torch::jit::Module m = torch::jit::load(fixture_model());
  m.to(at::kFloat);
  const std::string f32 = (kScratch.dir("f32") / "mmace_f32.pt").string();
  m.save(f32);
  LearnedOptions o;
  o.model = f32;
  const Evaluated a = evaluate(o, f.system);
  const double dE = std::abs(a.energy - f.energy) / std::abs(f.energy);
  const double dF = max_diff(a.forces, f.forces) / max_abs(f.forces);
  const double dB = max_diff(a.magforces, f.magforces) / max_abs(f.magforces);
  std::printf("float32: relative |dE| %.1e, |dF| %.1e, |dB| %.1e\n", dE, dF, dB);
  EXPECT_GT(dE, 0.0);  // it really ran in single precision
  EXPECT_LE(dE, 1e-6);
  EXPECT_LE(dF, 1e-3);
  EXPECT_LE(dB, 1e-3);
}

TEST(UpstreamMace, HeadsAreChosenByName) {
  // A two-head model with MACE's signature: each node reads its head as head[batch].
  torch::jit::Module m("TwoHeads");
  m.register_buffer("atomic_numbers", torch::tensor(std::vector<std::int64_t>{26, 27}));
  m.register_buffer("r_max", torch::tensor(3.0, torch::kDouble));
  m.register_attribute("heads", c10::ListType::ofStrings(), c10::List<std::string>({"pbe", "r2scan"}));
  m.define(R"(
def forward(self, data: Dict[str, Tensor], training: bool = False, compute_force: bool = True) -> Dict[str, Optional[Tensor]]:
    node_heads = data["head"][data["batch"]]
    node = (data["magmom"] ** 2).sum(1) * (1.0 + node_heads.to(data["magmom"].dtype))
    out: Dict[str, Optional[Tensor]] = {"node_energy": node}
    return out
)");
  const std::string path = (kScratch.dir("heads") / "two_heads.pt").string();
  m.save(path);
  const System s = small_feco();
  double m2 = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) m2 += s.moment[i] * s.moment[i];
  LearnedOptions o;
  o.model = path;
  EXPECT_NEAR(evaluate(o, s).energy, m2, 1e-12);  // the first head by default
  o.head = "r2scan";
  EXPECT_NEAR(evaluate(o, s).energy, 2 * m2, 1e-12);
  o.head = "pbe";
  EXPECT_NEAR(evaluate(o, s).energy, m2, 1e-12);
  o.head = "mp";
  const std::string msg = error_of([&] { LearnedPotential t(o); });
  EXPECT_NE(msg.find("no head \"mp\"; its heads are \"pbe\", \"r2scan\""), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(UpstreamMace, SpinlatEvalOnTheRawFileMatches) {
  // The command line, end to end: `spinlat eval` with type = "learned" on the upstream file.
  SKIP_WITHOUT_FIXTURE();
  const fs::path dir = kScratch.dir("eval");
  std::ofstream(dir / "in.toml") << "title = \"upstream magnetic MACE\"\nthreads = 1\n"
                                 << "[structure]\nlattice = \"bcc\"\na = 2.87\ncells = [2, 2, 2]\n"
                                 << "species = [\"Fe\", \"Co\"]\nmoment = [2.2, 1.7]\n"
                                 << "[[potential]]\ntype = \"learned\"\nmodel = \"" << fixture_model() << "\"\n"
                                 << "[[stage]]\ntype = \"mc\"\ntemperature = 10.0\nsweeps = 1\n";
  const std::string cmd = std::string(SPINLAT_BINARY) + " eval " + (dir / "in.toml").string() + " " +
                          (fixture_dir() / "frames_ref.xyz").string() + " -o " + (dir / "out.xyz").string() +
                          " > " + (dir / "log.txt").string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << std::ifstream(dir / "log.txt").rdbuf();
  const std::vector<Frame> out = read_extxyz((dir / "out.xyz").string());
  const std::vector<RefFrame> ref = reference_frames();
  ASSERT_EQ(out.size(), ref.size());
  for (std::size_t k = 0; k < out.size(); ++k) {
    // The XYZ file prints 8 decimals per atom column; the fixture's positions and moments
    // have no more (they equal the .npz ones), so the tolerance is the one above.
    const double E = out[k].info.at("energy");
    const std::vector<double>& st = out[k].info_arrays.at("stress");
    double dS = 0.0;
    for (int a = 0; a < 9; ++a) dS = std::max(dS, std::abs(st[a] - ref[k].stress_full(a / 3, a % 3)));
    const double dF = max_diff(out[k].vectors.at("forces"), ref[k].forces);
    const double dB = max_diff(out[k].vectors.at("magforces"), ref[k].magforces);
    std::printf("eval frame %zu: |dE| %.1e  |dF| %.1e  |dB| %.1e  |dsigma| %.1e\n", k, std::abs(E - ref[k].energy), dF, dB, dS);
    EXPECT_LE(std::abs(E - ref[k].energy), 1e-10 * std::abs(ref[k].energy)) << k;
    EXPECT_LE(dF, 1e-10 * max_abs(ref[k].forces)) << k;
    EXPECT_LE(dB, 1e-10 * max_abs(ref[k].magforces)) << k;
    EXPECT_LE(dS, 1e-10 * ref[k].stress_full.cwiseAbs().maxCoeff()) << k;
  }
}

TEST(UpstreamMace, MaceSignatureIsCalledWithEveryFlagOff) {
  // A small model with MACE's signature (an unknown compute_* flag included) that fails unless
  // every flag is false, returns Optional outputs and E0 inside node_energy; spinlat's autograd
  // gives the forces. E = Σ_i (e0_Z + s |m_i|² + s |r_i|²) with s the `scale` buffer.
  const std::string path = save_module("mace_form", R"(
def forward(self, data: Dict[str, Tensor], training: bool = False, compute_force: bool = True,
            compute_virials: bool = False, compute_stress: bool = False, compute_magforces: bool = True,
            compute_something_new: bool = True, lammps_mliap: bool = False) -> Dict[str, Optional[Tensor]]:
    assert not (training or compute_force or compute_virials or compute_stress or compute_magforces or compute_something_new or lammps_mliap), "a flag was not false"
    head = data["head"]
    e0 = data["node_attrs"] @ torch.tensor([-3.5, -4.0], dtype=data["positions"].dtype)
    node = e0 + self.scale * ((data["magmom"] ** 2).sum(1) + (data["positions"] ** 2).sum(1)) + 0.0 * head[0]
    out: Dict[str, Optional[Tensor]] = {"energy": node.sum(), "node_energy": node, "forces": None}
    return out
)");
  // Called with its defaults (compute_force = True ...), the model refuses: the check can fail.
  EXPECT_THROW(torch::jit::load(path).forward({c10::IValue(c10::Dict<std::string, at::Tensor>())}), std::exception);
  // ... and through the term that is one line naming the file, not a TorchScript traceback.
  {
    LearnedOptions r;
    r.model = save_module("refusing", R"(
def forward(self, data: Dict[str, Tensor], training: bool = False, compute_force: bool = True) -> Dict[str, Optional[Tensor]]:
    assert False, "this model always refuses"
    out: Dict[str, Optional[Tensor]] = {"node_energy": data["positions"][:, 0]}
    return out
)");
    const std::string& refusing = r.model;
    const std::string msg = error_of([&] { evaluate(r, small_feco()); });
    EXPECT_NE(msg.find("this model always refuses"), std::string::npos) << msg;
    EXPECT_NE(msg.find(refusing), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  LearnedOptions o;
  o.model = path;
  LearnedPotential t(o);
  EXPECT_EQ(t.forward_form(), "mace");
  const System s = small_feco();
  const Evaluated r = evaluate(o, s);
  double e = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    e += (s.species[i] == 0 ? -3.5 : -4.0) + 0.01 * (s.moment[i] * s.moment[i] + s.position[i].squaredNorm());
    EXPECT_NEAR((r.forces[i] + 0.02 * s.position[i]).norm(), 0.0, 1e-14) << i;
    EXPECT_NEAR((r.magforces[i] + 0.02 * s.moment_vector(i)).norm(), 0.0, 1e-14) << i;
  }
  EXPECT_NEAR(r.energy, e, 1e-12);
}

TEST(UpstreamMace, NodeEnergiesThatMissTheTotalAreAnError) {
  // A MACE-form model whose node energies leave out E0 while its energy has it.
  const std::string path = save_module("no_e0", R"(
def forward(self, data: Dict[str, Tensor], training: bool = False, compute_force: bool = True) -> Dict[str, Optional[Tensor]]:
    node = self.scale * (data["magmom"] ** 2).sum(1)
    out: Dict[str, Optional[Tensor]] = {"energy": node.sum() - 3.5 * node.shape[0], "node_energy": node}
    return out
)");
  LearnedOptions o;
  o.model = path;
  const std::string msg = error_of([&] { evaluate(o, small_feco()); });
  EXPECT_NE(msg.find("node_energy sums to"), std::string::npos) << msg;
  EXPECT_NE(msg.find("E0"), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
}

TEST(UpstreamMace, UnknownSignaturesAreOneClearError) {
  const std::map<std::string, std::string> bad = {
      {"tensor_in", R"(
def forward(self, positions: Tensor) -> Tensor:
    return positions.sum()
)"},
      {"float_flag", R"(
def forward(self, data: Dict[str, Tensor], scale: float = 1.0) -> Dict[str, Tensor]:
    return {"node_energy": data["positions"][:, 0] * scale}
)"},
      {"unknown_bool", R"(
def forward(self, data: Dict[str, Tensor], use_magic: bool = False) -> Dict[str, Tensor]:
    return {"node_energy": data["positions"][:, 0]}
)"},
      {"tuple_out", R"(
def forward(self, data: Dict[str, Tensor]) -> Tuple[Tensor, Tensor]:
    return data["positions"][:, 0], data["positions"][:, 1]
)"},
  };
  for (const auto& [name, source] : bad) {
    LearnedOptions o;
    o.model = save_module(name, source);
    const std::string msg = error_of([&] { LearnedPotential t(o); });
    EXPECT_NE(msg.find(o.model), std::string::npos) << name << ": " << msg;
    EXPECT_NE(msg.find("not a model spinlat can call"), std::string::npos) << name << ": " << msg;
    EXPECT_NE(msg.find("expected forward(data: Dict[str, Tensor]) -> Dict[str, Tensor]"), std::string::npos)
        << name << ": " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << name << ": one line, no traceback: " << msg;
  }
  // The contract's own form is still accepted, and a head is refused for it.
  LearnedOptions o;
  o.model = save_module("contract", R"(
def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:
    return {"node_energy": self.scale * (data["magmom"] ** 2).sum(1)}
)");
  EXPECT_EQ(LearnedPotential(o).forward_form(), "contract");
  o.head = "default";
  EXPECT_NE(error_of([&] { LearnedPotential t(o); }).find("no `heads` list"), std::string::npos);
}

TEST(Npz, ReadsNumpySavezArchives) {
  SKIP_WITHOUT_FIXTURE();
  const auto npz = read_npz((fixture_dir() / "frames_ref.npz").string());
  EXPECT_EQ(npz.size(), 8u);
  EXPECT_EQ(npz.at("positions").shape, (std::vector<std::size_t>{6, 16, 3}));
  EXPECT_EQ(npz.at("REF_energy").shape, (std::vector<std::size_t>{6}));
  // The XYZ prints REF_energy at full precision: the same number.
  EXPECT_EQ(npz.at("REF_energy").data[0], read_extxyz((fixture_dir() / "frames_ref.xyz").string())[0].info.at("REF_energy"));
  const fs::path junk = kScratch.dir("npz") / "junk.npz";
  std::ofstream(junk) << "not a zip archive at all, but long enough to be searched";
  const std::string msg = error_of([&] { read_npz(junk.string()); });
  EXPECT_NE(msg.find("junk.npz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a readable .npz"), std::string::npos) << msg;
}
