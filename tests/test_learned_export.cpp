// `spinlat export` (spinlat/learned/tools/export.hpp): a native model and its TorchScript export give
// the same numbers through the `learned` term. For a random spin-orbit model (l_max 3,
// moment_l_max 2, correlation 3, two layers), a random model without spin-orbit coupling and
// the bundled inputs/models/fe_bcc.spl, on distorted periodic cells small enough that atoms
// meet several images of one neighbour (edge shifts matter): node energies, energy, forces,
// magnetic forces, virial and Monte Carlo energy changes of (native file → term) and
// (export → torch::jit::load → term) agree to 1e-12 relative. The generated forward repeats
// the native arithmetic operation by operation, so the energies are in fact equal bit for bit
// and the derivatives differ only by the order of the backward pass's sums (Monte Carlo ΔE
// also by the native term's own trial evaluator, which is not LibTorch's).
#include <gtest/gtest.h>
#include <torch/script.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "learned_test_helpers.hpp"
#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/learned/tools/export.hpp"
#include "spinlat/learned/learned_term.hpp"
#include "spinlat/learned/native_model.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

using namespace spinlat;

namespace {

std::string temp_file(const std::string& name) { return test::temp_file("spinlat_export", name); }

const std::string kFeModel = std::string(SPINLAT_SOURCE_DIR) + "/inputs/models/fe_bcc.spl";

// A model with random weights (LibTorch's initialisation, plus a random one-body polynomial,
// which starts at zero) covering Fe and Co.
std::string write_random_model(const std::string& name, bool soc) {
  torch::manual_seed(soc ? 31 : 32);
  NativeModelConfig c;
  c.atomic_numbers = {26, 27};
  c.m_max = {2.6, 2.0};
  c.r_max = 4.2;
  c.channels = 6;
  c.l_max = soc ? 3 : 2;
  c.moment_l_max = 2;
  c.correlation = 3;
  c.interactions = 2;
  c.spin_orbit = soc;
  c.readout_hidden = {12};
  c.avg_neighbors = 13.0;
  NativeModel m(c);
  m->set_e0({-4.1, -3.9});
  {
    torch::NoGradGuard no_grad;
    for (auto& item : m->named_parameters(true))
      if (item.key() == "one_body") item.value().uniform_(-0.2, 0.2);
  }
  const std::string path = temp_file(name);
  save_native_model(m, path);
  return path;
}

std::unique_ptr<LearnedPotential> term(const std::string& path, const std::string& dtype = "float64") {
  LearnedOptions o;
  o.model = path;
  o.dtype = dtype;
  return std::make_unique<LearnedPotential>(o);
}

// A triclinic distortion r → F r of positions and cell (shear and stretch of a few per cent).
System distorted(System s) {
  Mat3 F;
  F << 1.03, 0.05, -0.02,  //
      -0.03, 0.98, 0.04,   //
      0.02, 0.06, 1.01;
  for (auto& r : s.position) r = F * r;
  s.cell.h = s.cell.h * F.transpose();
  return s;
}

// bcc Fe only (the bundled model covers Fe), random directions, sizes 2.2 μB ± 25 %, jiggled.
System fe_cell(const Int3& cells, std::uint64_t seed) {
  System s = build_supercell(standard_lattice("bcc", 2.83, 0.0, {"Fe"}, {2.2}), cells);
  set_spins_random(s, seed);
  Engine rng(seed + 3);
  for (std::size_t i = 0; i < s.size(); ++i) {
    for (int c = 0; c < 3; ++c) s.position[i][c] += 0.07 * (2 * uniform01(rng) - 1);
    s.moment[i] *= 1.0 + 0.5 * (uniform01(rng) - 0.5);
  }
  return s;
}

struct Evaluation {
  double energy = 0.0;
  std::vector<double> site;
  std::vector<Vec3> force, magforce;
  Mat3 virial = Mat3::Zero();
};

Evaluation evaluate(LearnedPotential& t, const System& s) {
  const NeighborList list = build_neighbor_list(s, t.cutoff());
  t.bind(s, list);
  Evaluation r;
  r.force.assign(s.size(), Vec3::Zero());
  r.magforce.assign(s.size(), Vec3::Zero());
  Derivatives d{&r.force, &r.magforce, &r.virial};
  r.energy = t.compute(s, list, d);
  r.site.assign(s.size(), 0.0);
  t.add_site_energies(s, list, r.site);
  return r;
}

// max |a − b| / max |a| over the entries (a the native model's).
double rel(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0.0, scale = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) d = std::max(d, std::abs(a[k] - b[k])), scale = std::max(scale, std::abs(a[k]));
  return d / scale;
}
double rel(const std::vector<Vec3>& a, const std::vector<Vec3>& b) {
  double d = 0.0, scale = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k)
    d = std::max(d, (a[k] - b[k]).cwiseAbs().maxCoeff()), scale = std::max(scale, a[k].cwiseAbs().maxCoeff());
  return d / scale;
}
double rel(const Mat3& a, const Mat3& b) { return (a - b).cwiseAbs().maxCoeff() / a.cwiseAbs().maxCoeff(); }

struct Deviations {
  double site = 0, energy = 0, force = 0, magforce = 0, virial = 0;
  double worst() const { return std::max({site, energy, force, magforce, virial}); }
};

Deviations compare(const Evaluation& a, const Evaluation& b) {
  Deviations d;
  d.site = rel(a.site, b.site);
  d.energy = std::abs(a.energy - b.energy) / std::abs(a.energy);
  d.force = rel(a.force, b.force);
  d.magforce = rel(a.magforce, b.magforce);
  d.virial = rel(a.virial, b.virial);
  return d;
}

void print(const char* what, const Deviations& d) {
  std::printf("%-34s relative: site %.1e  E %.1e  F %.1e  B %.1e  W %.1e\n", what, d.site, d.energy, d.force,
              d.magforce, d.virial);
}

// Native file and its export through the term on `s`, then single Monte Carlo trials at
// `sites` (each trial's ΔE from both, and against the export's full energy difference).
void check_model(const std::string& spl, const std::string& file, const std::string& name, const System& s,
                 const std::vector<int>& sites) {
  const std::string pt = temp_file(file);
  const ExportSummary summary = export_native_model(spl, pt);
  EXPECT_LE(summary.self_check, 1e-12) << name;
  auto native = term(spl);
  auto exported = term(pt);
  EXPECT_EQ(exported->atomic_numbers(), native->atomic_numbers());
  EXPECT_EQ(exported->interactions(), native->interactions());
  EXPECT_DOUBLE_EQ(exported->cutoff(), native->cutoff());

  // Several images of one neighbour: the edge shifts are part of the geometry.
  const double box = std::min({s.cell.h.row(0).norm(), s.cell.h.row(1).norm(), s.cell.h.row(2).norm()});
  ASSERT_GT(native->cutoff(), box / 2) << name;

  const Evaluation a = evaluate(*native, s), b = evaluate(*exported, s);
  const Deviations d = compare(a, b);
  print((name + " (float64)").c_str(), d);
  EXPECT_LT(d.worst(), 1e-12) << name;
  EXPECT_GT(a.virial.cwiseAbs().maxCoeff(), 1e-4) << name;  // a virial that can fail
  double bmax = 0.0;
  for (const Vec3& x : a.magforce) bmax = std::max(bmax, x.norm());
  EXPECT_GT(bmax, 1e-4) << name;

  // Monte Carlo: ΔE of single trials (a new direction and size), both terms on the same
  // subgraph code path; the export's also against its full energy difference.
  Engine rng(7);
  const NeighborList list = build_neighbor_list(s, native->cutoff());
  native->bind(s, list);
  exported->bind(s, list);
  Derivatives none;
  const double e_before = exported->compute(s, list, none);
  double worst = 0.0, worst_full = 0.0, scale = 0.0;
  for (int i : sites) {
    const Vec3 e_new = Vec3(uniform01(rng) - 0.5, uniform01(rng) - 0.5, uniform01(rng) - 0.5).normalized();
    const double m_new = s.moment[i] * (0.85 + 0.3 * uniform01(rng));
    const double de_native = native->local_energy_change(s, list, i, e_new, m_new);
    const double de_export = exported->local_energy_change(s, list, i, e_new, m_new);
    System moved = s;
    moved.spin[i] = e_new;
    moved.moment[i] = m_new;
    const double full = exported->compute(moved, list, none) - e_before;
    worst = std::max(worst, std::abs(de_native - de_export));
    worst_full = std::max(worst_full, std::abs(de_export - full));
    scale = std::max(scale, std::abs(de_native));
  }
  std::printf("%-34s Monte Carlo dE: |native - export| %.1e eV, |export - full| %.1e eV (|dE| up to %.2e eV)\n",
              name.c_str(), worst, worst_full, scale);
  EXPECT_GT(scale, 1e-6);
  EXPECT_LE(worst, 1e-12 * std::max(1.0, std::abs(e_before)));
  EXPECT_LE(worst_full, 1e-10);
}

}  // namespace

TEST(LearnedExport, SpinOrbitModelGivesTheNativeNumbers) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string spl = write_random_model("soc.spl", true);
  // 2×2×2 bcc cells (5.8 Å) under a triclinic distortion; r_max = 4.2 Å.
  check_model(spl, "soc.pt", "SOC, l_max 3, 2 layers", distorted(test::feco({2, 2, 2}, 41)), {0, 5, 11});
  std::printf("(%.2f s)\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
}

TEST(LearnedExport, ModelWithoutSpinOrbitGivesTheNativeNumbers) {
  const std::string spl = write_random_model("nosoc.spl", false);
  check_model(spl, "nosoc.pt", "no SOC, l_max 2, 2 layers", distorted(test::feco({2, 2, 2}, 42)), {1, 6, 14});
}

TEST(LearnedExport, BundledIronModelGivesTheNativeNumbers) {
  check_model(kFeModel, "fe_bcc.pt", "fe_bcc.spl", distorted(fe_cell({2, 2, 2}, 43)), {0, 3, 9});
}

TEST(LearnedExport, BatchedTrialsOfTheBundledModelAgree) {
  // The Metropolis sampler's batched call (trials of one colour, farther apart than
  // trial_range() = 2 r_max) on a 432-atom cell: the native term restricts its last layer to
  // the target nodes, the export evaluates the whole subgraph; the ΔE must agree.
  const std::string pt = temp_file("fe_batch.pt");
  export_native_model(kFeModel, pt);
  auto native = term(kFeModel);
  auto exported = term(pt);
  EXPECT_DOUBLE_EQ(exported->trial_range(), native->trial_range());
  const System s = distorted(fe_cell({6, 6, 6}, 44));
  const NeighborList list = build_neighbor_list(s, native->cutoff());
  native->bind(s, list);
  exported->bind(s, list);
  const NeighborList wide = build_neighbor_list(s, native->trial_range());
  std::vector<char> blocked(s.size(), 0);
  std::vector<int> sites;
  for (int i = 0; i < static_cast<int>(s.size()); i += 5) {
    if (blocked[i]) continue;
    sites.push_back(i);
    for (int k = wide.begin(i); k < wide.end(i); ++k) blocked[wide.index[k]] = 1;
  }
  ASSERT_GE(sites.size(), 3u);
  Engine rng(9);
  std::vector<Vec3> spins;
  std::vector<double> moments;
  for (int i : sites) {
    spins.push_back(Vec3(uniform01(rng) - 0.5, uniform01(rng) - 0.5, uniform01(rng) - 0.5).normalized());
    moments.push_back(s.moment[i] * 0.9);
  }
  std::vector<double> de_native, de_export;
  native->local_energy_changes(s, list, sites, spins, moments, de_native);
  exported->local_energy_changes(s, list, sites, spins, moments, de_export);
  double worst = 0.0;
  for (std::size_t k = 0; k < sites.size(); ++k) {
    worst = std::max(worst, std::abs(de_native[k] - de_export[k]));
    EXPECT_GT(std::abs(de_native[k]), 1e-6);
  }
  std::printf("%zu batched trials: max |dE native - dE export| = %.1e eV\n", sites.size(), worst);
  EXPECT_LE(worst, 1e-12);
}

TEST(LearnedExport, FileKeepsFloat64WeightsAndTheContractBuffers) {
  const std::string spl = write_random_model("file.spl", true);
  const std::string pt = temp_file("file.pt");
  const ExportSummary summary = export_native_model(spl, pt);
  NativeModel native = load_native_model(spl);
  torch::jit::Module m = torch::jit::load(pt);
  std::size_t scalars = 0, count = 0;
  for (const auto& p : m.named_parameters(/*recurse=*/false)) {
    EXPECT_EQ(p.value.scalar_type(), torch::kDouble) << p.name;
    scalars += static_cast<std::size_t>(p.value.numel());
    ++count;
  }
  std::size_t native_scalars = 0;
  for (const auto& p : native->named_parameters(true)) {
    native_scalars += static_cast<std::size_t>(p.value().numel());
    // Weights are copied bit for bit.
    std::string name = p.key();
    for (char& ch : name)
      if (ch == '.') ch = '_';
    ASSERT_TRUE(m.hasattr(name)) << name;
    EXPECT_TRUE(torch::equal(m.attr(name).toTensor(), p.value())) << name;
  }
  EXPECT_EQ(count, native->named_parameters(true).size());
  EXPECT_EQ(scalars, native_scalars);
  EXPECT_EQ(summary.parameters, native_scalars);
  for (const auto& b : m.named_buffers(false)) {
    if (b.value.is_floating_point()) {
      EXPECT_EQ(b.value.scalar_type(), torch::kDouble) << b.name;
    }
  }
  EXPECT_EQ(m.attr("atomic_numbers").toTensor().scalar_type(), torch::kLong);
  EXPECT_EQ(m.attr("num_interactions").toTensor().item<std::int64_t>(), 2);
  EXPECT_DOUBLE_EQ(m.attr("r_max").toTensor().item<double>(), 4.2);
  EXPECT_NE(summary.source.find("def forward(self, data: Dict[str, Tensor])"), std::string::npos);
}

TEST(LearnedExport, APerturbedWeightIsDetected) {
  // Control: the comparison resolves a change of one weight matrix by 1e-9 relative, so the
  // 1e-12 agreement above is not an accident of insensitive observables.
  const std::string pt = temp_file("fe_perturbed.pt");
  export_native_model(kFeModel, pt);
  {
    torch::jit::Module m = torch::jit::load(pt);
    torch::NoGradGuard no_grad;
    m.attr("product0_mix_weight").toTensor().mul_(1.0 + 1e-9);
    m.save(pt);
  }
  auto native = term(kFeModel);
  auto exported = term(pt);
  const Deviations d = compare(evaluate(*native, distorted(fe_cell({2, 2, 2}, 43))),
                               evaluate(*exported, distorted(fe_cell({2, 2, 2}, 43))));
  print("fe_bcc.spl, mix weights x (1+1e-9)", d);
  EXPECT_GT(d.site, 1e-11);
  EXPECT_GT(d.force, 1e-11);
  EXPECT_GT(d.magforce, 1e-11);
}

TEST(LearnedExport, Float32EvaluationOfTheExport) {
  // The term's dtype = "float32" converts the TorchScript module after loading, as for any
  // TorchScript model; it must agree with the float64 native numbers to single precision.
  const std::string spl = write_random_model("f32.spl", true);
  const std::string pt = temp_file("f32.pt");
  export_native_model(spl, pt);
  auto native = term(spl);
  auto exported = term(pt, "float32");
  const System s = distorted(test::feco({2, 2, 2}, 45));
  const Deviations d = compare(evaluate(*native, s), evaluate(*exported, s));
  print("SOC export in float32", d);
  EXPECT_LT(d.energy, 1e-6);
  EXPECT_LT(d.site, 1e-5);
  EXPECT_LT(std::max({d.force, d.magforce, d.virial}), 1e-4);
  EXPECT_GT(d.worst(), 0.0);  // really evaluated in single precision
}

TEST(LearnedExport, RefusesWhatIsNotANativeModel) {
  const std::string pt = temp_file("twice.pt");
  export_native_model(kFeModel, pt);
  try {
    export_native_model(pt, temp_file("again.pt"));
    FAIL() << "exported a TorchScript file";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not a native spinlat model"), std::string::npos) << e.what();
  }
  try {
    export_native_model(temp_file("missing.spl"), temp_file("x.pt"));
    FAIL() << "exported a missing file";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(temp_file("x.pt")));
}
