// The converted magnetic MACE model (mace_native.hpp) against the TorchScript file it was
// converted from (the reference platform, evaluated through LibTorch), OpenMM-style: node
// energies on the upstream fixture frames and on random Fe/Co cells, and the Monte Carlo
// trial ΔE against full re-evaluation. Needs the upstream fixture in shared/mmace (skipped
// without it), except the 16-channel model's test (tests/data/mace16, upstream's reference
// numbers committed with it).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>

#include <malloc.h>

#include "learned_test_helpers.hpp"
#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/learned/graph.hpp"
#include "spinlat/learned/learned_term.hpp"
#include "spinlat/learned/mace_native.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

using namespace spinlat;

namespace {

const std::string kDir = SPINLAT_SOURCE_DIR "/../shared/mmace";
const std::string kModel = kDir + "/mmace_fe_co_soc.pt";

bool have_fixture() { return std::filesystem::exists(kModel); }

const MaceArchive& archive() {
  static const MaceArchive a = convert_mace_torchscript(kModel);
  return a;
}

struct Case {
  System s;
  Graph g;
  std::vector<Vec3> m;
  std::vector<int> col;
};

Case make_case(const System& s, const MaceNativeEvaluator& ev) {
  Case c;
  c.s = s;
  const NeighborList list = build_neighbor_list(s, ev.r_max());
  c.g = build_graph(s, list, ev.r_max());
  for (std::size_t i = 0; i < s.size(); ++i) {
    c.m.push_back(s.moment_vector(i));
    const int z = atomic_number(s.species_name[s.species[i]]);
    int col = -1;
    for (std::size_t k = 0; k < ev.atomic_numbers().size(); ++k)
      if (ev.atomic_numbers()[k] == z) col = static_cast<int>(k);
    c.col.push_back(col);
  }
  return c;
}

// max_i |e_i − ref_i| relative to the largest interaction part |ref_i − E0_i| (the E0 offsets,
// −3.5 and −4 eV, would otherwise hide errors of the learned part).
double node_error(const std::vector<double>& e, const std::vector<double>& ref, const std::vector<int>& col) {
  const double e0[2] = {-3.5, -4.0};
  double worst = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < e.size(); ++i) {
    if (!std::isfinite(e[i]) || !std::isfinite(ref[i])) return INFINITY;  // NaN would compare false
    worst = std::max(worst, std::abs(e[i] - ref[i]));
    scale = std::max(scale, std::abs(ref[i] - e0[col[i]]));
  }
  return worst / scale;
}

}  // namespace

TEST(MaceNative, ArchiveRoundTripAndMagic) {
  if (!have_fixture()) GTEST_SKIP() << "no upstream fixture at " << kDir;
  const std::string path = (std::filesystem::path(testing::TempDir()) / "mmace_native.spl").string();
  write_mace_archive(archive(), path);
  EXPECT_TRUE(is_mace_native_file(path));
  EXPECT_FALSE(is_mace_native_file(kModel));
  const MaceArchive b = read_mace_archive(path);
  ASSERT_EQ(b.array.size(), archive().array.size());
  for (const auto& [name, arr] : archive().array) {
    ASSERT_TRUE(b.has(name)) << name;
    EXPECT_EQ(b.at(name).value, arr.value) << name;  // %.17g reads back exactly
    EXPECT_EQ(b.at(name).shape, arr.shape) << name;
  }
  EXPECT_EQ(b.text, archive().text);
}

TEST(MaceNative, RejectsMalformedFiles) {
  const std::string path = (std::filesystem::path(testing::TempDir()) / "bad_mace.spl").string();
  {
    std::ofstream(path) << kMaceNativeMagic << "\nA r_max 0\n4.5\nA weights 1 3\n1 2\n";
  }
  try {
    read_mace_archive(path);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("line 5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("weights"), std::string::npos) << e.what();
  }
  {
    std::ofstream(path) << kMaceNativeMagic << "\nA r_max 0\n4.5\n";
  }
  try {
    MaceNativeEvaluator ev(path);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(MaceNative, NodeEnergiesMatchTorchScriptOnFixtureFrames) {
  if (!have_fixture()) GTEST_SKIP() << "no upstream fixture at " << kDir;
  const MaceNativeEvaluator ev(archive());
  EXPECT_EQ(ev.interactions(), 2);
  EXPECT_DOUBLE_EQ(ev.r_max(), 4.5);
  const std::vector<Frame> frames = read_extxyz(kDir + "/frames_ref.xyz");
  ASSERT_EQ(frames.size(), 6u);
  double worst = 0.0;
  for (const Frame& f : frames) {
    const Case c = make_case(f.system, ev);
    const std::vector<double> e = ev.node_energies(c.g, c.s.position, c.m, c.col);
    const MaceTorchResult ref = mace_torch_reference(kModel, c.g, c.s.position, c.s.cell.h, c.m, c.col, 2, false);
    const double err = node_error(e, ref.node_energy, c.col);
    worst = std::max(worst, err);
    EXPECT_LE(err, 1e-10);
    double total = 0.0;
    for (double x : e) total += x;
    // The frame's reference energy (upstream's own pipeline, full precision in the header).
    EXPECT_NEAR(total, f.info.at("REF_energy"), 1e-10 * std::abs(f.info.at("REF_energy")));
    EXPECT_NEAR(total, ref.energy, 1e-12 * std::abs(ref.energy));
  }
  std::cout << "fixture frames: max relative node-energy error " << worst << "\n";
}

TEST(MaceNative, NodeEnergiesMatchTorchScriptOnRandomCells) {
  if (!have_fixture()) GTEST_SKIP() << "no upstream fixture at " << kDir;
  const MaceNativeEvaluator ev(archive());
  for (std::uint64_t seed : {3u, 4u, 5u}) {
    // bcc Fe/Co (half Co), jiggled positions, random moment directions and sizes; a compressed
    // cell too, so that more shells fall inside r_max.
    const double a = seed == 5 ? 2.6 : 2.8665;
    const System s = test::feco(seed == 4 ? Int3(3, 2, 2) : Int3(2, 2, 2), seed, a, 0.12);
    const Case c = make_case(s, ev);
    const std::vector<double> e = ev.node_energies(c.g, c.s.position, c.m, c.col);
    const MaceTorchResult ref = mace_torch_reference(kModel, c.g, c.s.position, c.s.cell.h, c.m, c.col, 2, false);
    const double err = node_error(e, ref.node_energy, c.col);
    std::cout << "random cell " << seed << " (" << s.size() << " atoms, e_0 = " << std::setprecision(17) << e[0] << " vs " << ref.node_energy[0] << std::setprecision(6) << "): max relative node-energy error " << err << "\n";
    EXPECT_LE(err, 1e-10) << "seed " << seed;
  }
}

TEST(MaceNative, TrialEnergyChangeEqualsFullReevaluation) {
  if (!have_fixture()) GTEST_SKIP() << "no upstream fixture at " << kDir;
  MaceNativeEvaluator ev(archive());
  // 250 atoms: the receptive field (2 hops, 9 Å) is a part of the 14.3 Å cell
  const System s = test::feco(Int3(5, 5, 5), 9, 2.8665, 0.1);
  Case c = make_case(s, ev);
  ev.set_geometry(c.g, c.s.position, c.col);
  ev.rebuild(c.m);
  // ΔE as Σ_v (e_v after − e_v before) of two full evaluations: nodes outside the receptive
  // field cancel exactly, so the reference carries no rounding from the −450 eV total.
  std::vector<double> e_now = ev.node_energies(c.g, c.s.position, c.m, c.col);
  Engine rng(77);
  double worst = 0.0;
  MaceNativeEvaluator::Trial t;
  int outside = 0;  // nodes whose energy a trial leaves unchanged (checks that locality is tested)
  for (int k = 0; k < 16; ++k) {
    const int i = static_cast<int>(uniform01(rng) * static_cast<double>(s.size()));
    // new direction and size (within m_max of Fe and Co)
    Vec3 m_new(2 * uniform01(rng) - 1, 2 * uniform01(rng) - 1, 2 * uniform01(rng) - 1);
    m_new *= (1.2 + uniform01(rng)) / m_new.norm();
    const double de = ev.trial(i, m_new, t);
    std::vector<Vec3> m_after = c.m;
    m_after[i] = m_new;
    const std::vector<double> e_after = ev.node_energies(c.g, c.s.position, m_after, c.col);
    double exact = 0.0;
    for (std::size_t v = 0; v < e_after.size(); ++v) {
      exact += e_after[v] - e_now[v];
      outside += e_after[v] == e_now[v];
    }
    worst = std::max(worst, std::abs(de - exact) / std::abs(exact));
    EXPECT_NEAR(de, exact, 1e-10 * std::abs(exact)) << "trial " << k << " at " << i;
    if (k % 2 == 0) {  // accept every other trial
      ev.commit(t);
      c.m = m_after;
      e_now = e_after;
    }
  }
  // after the accepted trials the cache equals a fresh evaluation
  const std::vector<double> fresh = ev.node_energies(c.g, c.s.position, c.m, c.col);
  for (std::size_t v = 0; v < fresh.size(); ++v) EXPECT_NEAR(ev.node_energy()[v], fresh[v], 1e-12) << v;
  EXPECT_GT(outside, 0);
  std::cout << "trial dE vs full re-evaluation: max relative error " << worst << " (" << outside
            << " node energies unchanged over the trials)\n";
}

namespace {
double vec_error(const std::vector<Vec3>& a, const std::vector<Vec3>& b) {
  double worst = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i].allFinite() || !b[i].allFinite()) return INFINITY;
    worst = std::max(worst, (a[i] - b[i]).cwiseAbs().maxCoeff());
    scale = std::max(scale, b[i].cwiseAbs().maxCoeff());
  }
  return worst / scale;
}
}  // namespace

// Forces, magnetic forces and the virial of the hand-written reverse pass against LibTorch's
// autograd through the TorchScript file, and the virial against the fixture's full
// (non-symmetric) strain derivative REF_stress_full = (1/V) ∂E/∂ε: W = −V·REF_stress_fullᵀ.
TEST(MaceNative, DerivativesMatchTorchScript) {
  if (!have_fixture()) GTEST_SKIP() << "no upstream fixture at " << kDir;
  const MaceNativeEvaluator ev(archive());
  std::vector<System> cells;
  for (const Frame& f : read_extxyz(kDir + "/frames_ref.xyz")) cells.push_back(f.system);
  const std::vector<Frame> frames = read_extxyz(kDir + "/frames_ref.xyz");
  cells.push_back(test::feco(Int3(3, 2, 2), 4, 2.8665, 0.12));
  cells.push_back(test::feco(Int3(2, 2, 2), 5, 2.6, 0.12));
  double wf = 0.0, wb = 0.0, ww = 0.0, wfull = 0.0;
  for (std::size_t k = 0; k < cells.size(); ++k) {
    const Case c = make_case(cells[k], ev);
    const MaceNativeResult r = ev.evaluate(c.g, c.s.position, c.m, c.col, true);
    const MaceTorchResult ref = mace_torch_reference(kModel, c.g, c.s.position, c.s.cell.h, c.m, c.col, 2, true);
    const double ef = vec_error(r.force, ref.force), eb = vec_error(r.magnetic_force, ref.magnetic_force);
    const Mat3 sym = 0.5 * (r.virial + r.virial.transpose());
    const double evir = (sym - ref.virial).cwiseAbs().maxCoeff() / ref.virial.cwiseAbs().maxCoeff();
    EXPECT_LE(ef, 1e-10) << "cell " << k;
    EXPECT_LE(eb, 1e-10) << "cell " << k;
    EXPECT_LE(evir, 1e-10) << "cell " << k;
    wf = std::max(wf, ef);
    wb = std::max(wb, eb);
    ww = std::max(ww, evir);
    if (k < frames.size()) {
      const std::vector<double>& sf = frames[k].info_arrays.at("REF_stress_full");
      Mat3 full;
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) full(a, b) = sf[3 * a + b];
      const Mat3 W = -c.s.cell.volume() * full.transpose();
      const double e = (r.virial - W).cwiseAbs().maxCoeff() / W.cwiseAbs().maxCoeff();
      // the reference is printed with 17 digits; its antisymmetric part is up to 40 % of it
      EXPECT_LE(e, 1e-10) << "frame " << k;
      wfull = std::max(wfull, e);
    }
  }
  std::cout << "derivatives vs TorchScript: forces " << wf << ", magnetic forces " << wb << ", symmetrised virial " << ww
            << "; full virial vs REF_stress_full " << wfull << " (max relative)\n";
}

// Results do not depend on the thread count: full evaluations split their work into blocks
// fixed by the graph (mace_native.cpp), so 1, 2 and 3 threads give the same bits. The same
// evaluation without the per-edge caches (the path of large models, which recompute the
// radial networks and conv_tp in the reverse pass) agrees to rounding.
namespace {
void expect_same_bits(const MaceNativeResult& a, const MaceNativeResult& b, const std::string& what) {
  ASSERT_EQ(a.node_energy.size(), b.node_energy.size()) << what;
  ASSERT_EQ(a.force.size(), b.force.size()) << what;
  ASSERT_EQ(a.magnetic_force.size(), b.magnetic_force.size()) << what;
  for (std::size_t i = 0; i < a.node_energy.size(); ++i) EXPECT_EQ(a.node_energy[i], b.node_energy[i]) << what << " node " << i;
  for (std::size_t i = 0; i < a.force.size(); ++i) {
    EXPECT_EQ(a.force[i], b.force[i]) << what << " force " << i;
    EXPECT_EQ(a.magnetic_force[i], b.magnetic_force[i]) << what << " magnetic force " << i;
  }
  EXPECT_EQ(a.virial, b.virial) << what;
}
}  // namespace

TEST(MaceNative, ResultsDoNotDependOnThreads) {
  if (!have_fixture()) GTEST_SKIP() << "no upstream fixture at " << kDir;
  MaceNativeEvaluator ev(archive());
  const System s = test::feco(Int3(4, 4, 4), 21, 2.8665, 0.1);  // 128 atoms, 3328 edges: many blocks
  const Case c = make_case(s, ev);
  ev.set_threads(1);
  const MaceNativeResult one = ev.evaluate(c.g, c.s.position, c.m, c.col, true);
  const std::vector<double> e_one = ev.node_energies(c.g, c.s.position, c.m, c.col);
  EXPECT_EQ(e_one, one.node_energy);
  for (int n : {2, 3}) {
    ev.set_threads(n);
    expect_same_bits(one, ev.evaluate(c.g, c.s.position, c.m, c.col, true), std::to_string(n) + " threads");
    EXPECT_EQ(ev.node_energies(c.g, c.s.position, c.m, c.col), e_one) << n << " threads";
  }
  // the Monte Carlo cache built on more threads than it was laid out for (threads = 0 follows
  // the free cores, which may grow between set_geometry and rebuild)
  ev.set_threads(1);
  ev.set_geometry(c.g, c.s.position, c.col);
  ev.set_threads(3);
  ev.rebuild(c.m);
  EXPECT_EQ(ev.node_energy(), e_one);
  // no per-edge caches (recomputed block by block), 2 threads: equal to rounding
  ev.set_cache_bytes(0.0);
  const MaceNativeResult r = ev.evaluate(c.g, c.s.position, c.m, c.col, true);
  EXPECT_LE(node_error(r.node_energy, one.node_energy, c.col), 1e-13);
  EXPECT_LE(vec_error(r.force, one.force), 1e-13);
  EXPECT_LE(vec_error(r.magnetic_force, one.magnetic_force), 1e-13);
  EXPECT_LE((r.virial - one.virial).cwiseAbs().maxCoeff(), 1e-13 * one.virial.cwiseAbs().maxCoeff());
  ev.set_threads(1);
  expect_same_bits(r, ev.evaluate(c.g, c.s.position, c.m, c.col, true), "no caches, 1 thread");
  // 4 MB: room for act′ of the radial networks (3.4 MB here) but not for conv_tp's outputs
  ev.set_cache_bytes(4e6);
  const MaceNativeResult p = ev.evaluate(c.g, c.s.position, c.m, c.col, true);
  EXPECT_LE(vec_error(p.force, one.force), 1e-13);
  EXPECT_LE(vec_error(p.magnetic_force, one.magnetic_force), 1e-13);
  ev.set_threads(2);
  expect_same_bits(p, ev.evaluate(c.g, c.s.position, c.m, c.col, true), "act' cache only, 2 threads");
}

// Monte Carlo through the learned term with a converted model: the trial cache is rebuilt on
// the term's threads, the trials run serially; ΔE is the same bits for 1 and 2 threads.
TEST(MaceNative, MonteCarloTrialsDoNotDependOnThreads) {
  if (!have_fixture()) GTEST_SKIP() << "no upstream fixture at " << kDir;
  const std::string path = (std::filesystem::path(testing::TempDir()) / "mmace_threads.spl").string();
  write_mace_archive(archive(), path);
  std::vector<std::vector<double>> runs;
  for (int threads : {1, 2}) {
    LearnedOptions o;
    o.model = path;
    o.threads = threads;
    LearnedPotential term(o);
    System s = test::feco(Int3(3, 3, 3), 8, 2.8665, 0.08);  // 54 atoms, 1400 edges
    const NeighborList list = build_neighbor_list(s, term.cutoff() + 0.5);
    term.bind(s, list);
    Engine rng(11);
    std::vector<double> de;
    for (int k = 0; k < 8; ++k) {
      const int i = static_cast<int>(uniform01(rng) * static_cast<double>(s.size()));
      Vec3 dir(2 * uniform01(rng) - 1, 2 * uniform01(rng) - 1, 2 * uniform01(rng) - 1);
      dir.normalize();
      de.push_back(term.local_energy_change(s, list, i, dir, 2.0));
      if (k % 3 == 0) {  // taken: the System changes behind the cache, which rebuilds around it
        term.accept_trials({1});
        s.spin[i] = dir;
        s.moment[i] = 2.0;
      }
      if (k == 4) s.spin[(i + 7) % s.size()] = -s.spin[(i + 7) % s.size()];  // a change no trial made
    }
    Derivatives none;
    de.push_back(term.compute(s, list, none));
    runs.push_back(de);
  }
  EXPECT_EQ(runs[0], runs[1]);
}

// The runtime-dispatched AVX2 + FMA kernels (the default where the CPU has them) against the
// portable ones and against the TorchScript file: energies, forces, magnetic forces and virial
// to 1e-10 relative (the paths differ only in rounding: an FMA rounds once), and each path the
// same bits on 1 and 2 threads. On a CPU without AVX2/FMA both runs are the portable path.
TEST(MaceNative, DispatchedKernelsAgreeWithPortableAndTorchScript) {
  if (!have_fixture()) GTEST_SKIP() << "no upstream fixture at " << kDir;
  MaceNativeEvaluator ev(archive());
  EXPECT_STREQ(ev.kernels(), mace_simd_available() && !mace_portable_kernels_forced() ? "avx2+fma" : "portable");
  const System s = test::feco(Int3(3, 3, 3), 17, 2.8665, 0.1);  // 54 atoms, 1400 edges: 2 threads split it
  const Case c = make_case(s, ev);
  const MaceTorchResult ref = mace_torch_reference(kModel, c.g, c.s.position, c.s.cell.h, c.m, c.col, 2, true);
  std::vector<MaceNativeResult> res;
  for (bool portable : {false, true}) {
    ev.set_portable_kernels(portable);
    if (portable) {
      EXPECT_STREQ(ev.kernels(), "portable");
    }
    ev.set_threads(1);
    const MaceNativeResult r = ev.evaluate(c.g, c.s.position, c.m, c.col, true);
    EXPECT_LE(node_error(r.node_energy, ref.node_energy, c.col), 1e-10) << ev.kernels();
    EXPECT_LE(vec_error(r.force, ref.force), 1e-10) << ev.kernels();
    EXPECT_LE(vec_error(r.magnetic_force, ref.magnetic_force), 1e-10) << ev.kernels();
    const Mat3 sym = 0.5 * (r.virial + r.virial.transpose());
    EXPECT_LE((sym - ref.virial).cwiseAbs().maxCoeff(), 1e-10 * ref.virial.cwiseAbs().maxCoeff()) << ev.kernels();
    ev.set_threads(2);
    expect_same_bits(r, ev.evaluate(c.g, c.s.position, c.m, c.col, true), std::string(ev.kernels()) + ", 2 threads");
    res.push_back(r);
  }
  const double de = node_error(res[0].node_energy, res[1].node_energy, c.col);
  const double df = vec_error(res[0].force, res[1].force), db = vec_error(res[0].magnetic_force, res[1].magnetic_force);
  EXPECT_LE(de, 1e-12);
  EXPECT_LE(df, 1e-12);
  EXPECT_LE(db, 1e-12);
  std::cout << "kernels " << (mace_simd_available() ? "avx2+fma" : "(no AVX2/FMA here)")
            << " vs portable: node energies " << de << ", forces " << df << ", magnetic forces " << db
            << " (max relative)\n";
}

// The multi-group path of the channel-layout kernels (several 8-channel groups per kernel call)
// on a committed 16-channel upstream model (tests/data/mace16: 16x0e+16x1o, max_ell 1,
// correlation 3, spin-orbit blocks; converted file and upstream's own reference numbers, so it
// needs no shared fixture). On each of its 6 frames (16 atoms, 416 edges: 4 edge blocks, split
// by 2 threads): the dispatched kernels (AVX2 + FMA where the CPU has them) and the portable
// ones agree to 1e-12 relative on node energies, forces, magnetic forces and virial; both match
// upstream's eager model to 1e-10 relative (node energies relative to their largest interaction
// part, the virial against the full strain derivative W = −V·REF_stress_fullᵀ); each path gives
// the same bits on 1 and 2 threads.
TEST(MaceNative, SixteenChannelModelMatchesUpstreamOnBothKernelPaths) {
  const std::string dir = SPINLAT_SOURCE_DIR "/tests/data/mace16";
  MaceNativeEvaluator ev(dir + "/mace16.spl");
  EXPECT_STREQ(ev.kernels(), mace_simd_available() && !mace_portable_kernels_forced() ? "avx2+fma" : "portable");
  const std::vector<Frame> frames = read_extxyz(dir + "/frames_ref.xyz");
  ASSERT_EQ(frames.size(), 6u);
  double up_e = 0.0, up_f = 0.0, up_b = 0.0, up_w = 0.0, de = 0.0, df = 0.0, db = 0.0, dw = 0.0;
  for (std::size_t k = 0; k < frames.size(); ++k) {
    const Frame& f = frames[k];
    const Case c = make_case(f.system, ev);
    const std::vector<Vec3>& ref_f = f.vectors.at("REF_forces");
    const std::vector<Vec3>& ref_b = f.vectors.at("REF_magforces");
    const std::vector<double>& sf = f.info_arrays.at("REF_stress_full");
    Mat3 full;
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) full(a, b) = sf[3 * a + b];
    const Mat3 W = -c.s.cell.volume() * full.transpose();
    std::vector<MaceNativeResult> res;
    for (bool portable : {false, true}) {
      ev.set_portable_kernels(portable);
      ev.set_threads(1);
      const MaceNativeResult r = ev.evaluate(c.g, c.s.position, c.m, c.col, true);
      const std::string what = std::string(ev.kernels()) + ", frame " + std::to_string(k);
      const double ee = node_error(r.node_energy, f.scalars.at("REF_node_energy"), c.col);
      const double ef = vec_error(r.force, ref_f), eb = vec_error(r.magnetic_force, ref_b);
      const double ew = (r.virial - W).cwiseAbs().maxCoeff() / W.cwiseAbs().maxCoeff();
      EXPECT_LE(ee, 1e-10) << what;
      EXPECT_LE(ef, 1e-10) << what;
      EXPECT_LE(eb, 1e-10) << what;
      EXPECT_LE(ew, 1e-10) << what;
      double total = 0.0;
      for (double x : r.node_energy) total += x;
      EXPECT_NEAR(total, f.info.at("REF_energy"), 1e-12 * std::abs(f.info.at("REF_energy"))) << what;
      up_e = std::max(up_e, ee);
      up_f = std::max(up_f, ef);
      up_b = std::max(up_b, eb);
      up_w = std::max(up_w, ew);
      ev.set_threads(2);
      expect_same_bits(r, ev.evaluate(c.g, c.s.position, c.m, c.col, true), what + ", 2 threads");
      res.push_back(r);
    }
    de = std::max(de, node_error(res[0].node_energy, res[1].node_energy, c.col));
    df = std::max(df, vec_error(res[0].force, res[1].force));
    db = std::max(db, vec_error(res[0].magnetic_force, res[1].magnetic_force));
    dw = std::max(dw, (res[0].virial - res[1].virial).cwiseAbs().maxCoeff() / res[1].virial.cwiseAbs().maxCoeff());
  }
  EXPECT_LE(de, 1e-12);
  EXPECT_LE(df, 1e-12);
  EXPECT_LE(db, 1e-12);
  EXPECT_LE(dw, 1e-12);
  std::cout << "16 channels, vs upstream (max relative over both paths): node energies " << up_e << ", forces "
            << up_f << ", magnetic forces " << up_b << ", virial " << up_w << "; "
            << (mace_simd_available() ? "avx2+fma" : "(no AVX2/FMA here)") << " vs portable: " << de << ", " << df
            << ", " << db << ", " << dw << "\n";
}

// The Monte Carlo cache keeps the records of the configuration built before the current one:
// a rebuild that returns to it (a rejected whole-lattice step) swaps them back instead of
// computing (full_rebuilds does not grow), with the bits of a rebuild, and trials from the
// swapped-back records give the bits of trials from a fresh cache.
TEST(MaceNative, RebuildReturnsToThePreviousConfigurationFromItsSpare) {
  if (!have_fixture()) GTEST_SKIP() << "no upstream fixture at " << kDir;
  MaceNativeEvaluator ev(archive()), fresh(archive());
  const System s = test::feco(Int3(3, 3, 3), 9, 2.8665, 0.1);
  const Case c = make_case(s, ev);
  std::vector<Vec3> x = c.m, y = c.m, z = c.m;
  for (std::size_t v = 0; v < x.size(); v += 3) y[v] = -y[v];
  for (std::size_t v = 1; v < x.size(); v += 2) z[v] = 1.3 * z[v];
  ev.set_geometry(c.g, c.s.position, c.col);
  ev.rebuild(x);
  MaceNativeEvaluator::Trial t;
  ev.trial(5, Vec3(0.0, 0.0, 2.0), t);  // the first trial turns the per-edge radial cache on
  const std::size_t n0 = ev.full_rebuilds();
  const std::vector<double> ex = ev.node_energy();
  ev.rebuild(y);
  const std::vector<double> ey = ev.node_energy();
  EXPECT_EQ(ev.full_rebuilds(), n0 + 1);
  ev.rebuild(x);  // back: from the spare
  EXPECT_EQ(ev.full_rebuilds(), n0 + 1);
  EXPECT_EQ(ev.node_energy(), ex);
  ev.rebuild(y);
  EXPECT_EQ(ev.full_rebuilds(), n0 + 1);
  EXPECT_EQ(ev.node_energy(), ey);
  ev.rebuild(z);  // neither: computed
  EXPECT_EQ(ev.full_rebuilds(), n0 + 2);
  ev.rebuild(y);
  EXPECT_EQ(ev.full_rebuilds(), n0 + 2);
  EXPECT_EQ(ev.node_energy(), ey);
  // trials and a commit on the swapped-back records, against a cache built for y directly
  fresh.set_geometry(c.g, c.s.position, c.col);
  fresh.rebuild(y);
  fresh.trial(5, Vec3(0.0, 0.0, 2.0), t);  // radial cache on, as ev's
  MaceNativeEvaluator::Trial ta, tb;
  for (int i : {0, 13, 40}) {
    const Vec3 m(0.3, -1.1, 1.4);
    EXPECT_EQ(ev.trial(i, m, ta), fresh.trial(i, m, tb)) << "site " << i;
    ev.commit(ta);
    fresh.commit(tb);
  }
  EXPECT_EQ(ev.node_energy(), fresh.node_energy());
  // a new geometry forgets the spare
  ev.set_geometry(c.g, c.s.position, c.col);
  ev.rebuild(y);
  ev.rebuild(x);
  EXPECT_EQ(ev.full_rebuilds(), n0 + 4);
  EXPECT_EQ(ev.node_energy(), ex);
}

// Timings for docs/performance.md (not a test: run with --gtest_also_run_disabled_tests).
// CPU time of this thread (the machine is shared), and wall clock.
namespace {
// Heap in use (malloc'd and mmap'd chunks), glibc.
std::size_t heap_bytes() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}
double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}
}  // namespace

TEST(MaceNative, DISABLED_Timing) {
  if (!have_fixture()) GTEST_SKIP() << "no upstream fixture at " << kDir;
  archive();  // converted first (LibTorch), outside the heap figures below
  std::cout << "kernels: " << MaceNativeEvaluator(archive()).kernels() << "\n";
  for (int cells : {4, 6}) {
    const System s = test::feco(Int3(cells, cells, cells), 1, 2.8665, 0.05);
    const std::size_t heap0 = heap_bytes();
    MaceNativeEvaluator ev(archive());
    const Case c = make_case(s, ev);
    for (bool d : {false, true}) {
      ev.evaluate(c.g, c.s.position, c.m, c.col, d);
      if (d)
        std::cout << s.size() << " atoms: heap held by the evaluator after E+F+B+W (model, graph, caches) "
                  << 1e-6 * static_cast<double>(heap_bytes() - heap0) << " MB\n";
      const double c0 = cpu_seconds();
      int n = 0;
      do {
        ev.evaluate(c.g, c.s.position, c.m, c.col, d);
        ++n;
      } while (cpu_seconds() - c0 < 2.0);
      const double sec = (cpu_seconds() - c0) / n;
      std::cout << s.size() << " atoms, " << (d ? "E+F+B+W" : "E") << ": " << 1e3 * sec << " ms CPU, "
                << static_cast<double>(s.size()) / sec << " atoms/s\n";
    }
    ev.set_geometry(c.g, c.s.position, c.col);
    ev.rebuild(c.m);
    Engine rng(5);
    MaceNativeEvaluator::Trial t;
    const double c0 = cpu_seconds();
    int n = 0;
    do {
      const int i = static_cast<int>(uniform01(rng) * static_cast<double>(s.size()));
      Vec3 m(2 * uniform01(rng) - 1, 2 * uniform01(rng) - 1, 2 * uniform01(rng) - 1);
      ev.trial(i, 2.0 * m / m.norm(), t);
      if (n % 2) ev.commit(t);
      ++n;
    } while (cpu_seconds() - c0 < 2.0);
    const double sec = (cpu_seconds() - c0) / n;
    std::cout << s.size() << " atoms: " << 1e3 * sec << " ms CPU per Monte Carlo trial\n";
  }
}

// The learned term loads a converted file (dispatch on its first line) and runs everything on
// the plain C++ evaluator: energies and derivatives equal the TorchScript file's, and the
// Monte Carlo ΔE of the term equals the energy difference.
TEST(MaceNative, LearnedTermLoadsConvertedFiles) {
  if (!have_fixture()) GTEST_SKIP() << "no upstream fixture at " << kDir;
  const std::string path = (std::filesystem::path(testing::TempDir()) / "mmace_term.spl").string();
  write_mace_archive(archive(), path);
  LearnedOptions o;
  o.model = path;
  LearnedPotential term(o);
  EXPECT_TRUE(term.fast_trials());
  EXPECT_EQ(term.interactions(), 2);
  EXPECT_DOUBLE_EQ(term.cutoff(), 4.5);
  System s = test::feco(Int3(3, 3, 3), 12, 2.8665, 0.08);
  const NeighborList list = build_neighbor_list(s, term.cutoff() + 0.5);
  term.bind(s, list);
  std::vector<Vec3> f(s.size(), Vec3::Zero()), b(s.size(), Vec3::Zero());
  Mat3 w = Mat3::Zero();
  Derivatives d;
  d.force = &f;
  d.magnetic_force = &b;
  d.virial = &w;
  const double e = term.compute(s, list, d);
  const MaceNativeEvaluator ev(archive());
  const Case c = make_case(s, ev);
  const MaceTorchResult ref = mace_torch_reference(kModel, c.g, c.s.position, c.s.cell.h, c.m, c.col, 2, true);
  EXPECT_NEAR(e, ref.energy, 1e-12 * std::abs(ref.energy));
  EXPECT_LE(vec_error(f, ref.force), 1e-10);
  EXPECT_LE(vec_error(b, ref.magnetic_force), 1e-10);
  EXPECT_LE((0.5 * (w + w.transpose()) - ref.virial).cwiseAbs().maxCoeff(), 1e-10 * ref.virial.cwiseAbs().maxCoeff());
  Derivatives none;
  EXPECT_NEAR(term.compute(s, list, none), e, 1e-12 * std::abs(e));  // energy-only: the trial cache
  // Monte Carlo trials through the term: ΔE equals the difference of two full evaluations.
  Engine rng(4);
  for (int k = 0; k < 6; ++k) {
    const int i = static_cast<int>(uniform01(rng) * static_cast<double>(s.size()));
    Vec3 dir(2 * uniform01(rng) - 1, 2 * uniform01(rng) - 1, 2 * uniform01(rng) - 1);
    dir.normalize();
    const double size = 1.5 + 0.5 * uniform01(rng);
    const double de = term.local_energy_change(s, list, i, dir, size);
    System t = s;
    t.spin[i] = dir;
    t.moment[i] = size;
    std::vector<double> before(s.size(), 0.0), after(s.size(), 0.0);
    const MaceNativeEvaluator ev2(archive());
    const Case cb = make_case(s, ev2), ca = make_case(t, ev2);
    before = ev2.node_energies(cb.g, cb.s.position, cb.m, cb.col);
    after = ev2.node_energies(ca.g, ca.s.position, ca.m, ca.col);
    double exact = 0.0;
    for (std::size_t v = 0; v < s.size(); ++v) exact += after[v] - before[v];
    EXPECT_NEAR(de, exact, 1e-10 * std::abs(exact)) << k;
    if (k % 2 == 0) s = t;  // accepted: the term commits it on its next call
  }
}
