// The converted magnetic MACE model (mace_native.hpp) against the TorchScript file it was
// converted from (the reference platform, evaluated through LibTorch), OpenMM-style: node
// energies on the upstream fixture frames and on random Fe/Co cells, and the Monte Carlo
// trial ΔE against full re-evaluation. Needs the upstream fixture in shared/mmace (skipped
// without it).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>

#include "learned_test_helpers.hpp"
#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/learned/graph.hpp"
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
