// deepmd/npy training data: the .npy reader on files written here byte by byte (every dtype,
// header versions 1.0, 2.0 and 3.0, malformed headers), a small synthetic deepmd system with
// every optional file, its malformed variants, and the real NiO DFT subset in
// ../shared/data/nio-dft (skipped when that folder is absent).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "scratch_dir.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/io/deepmd.hpp"
#include "spinlat/io/extxyz.hpp"

using namespace spinlat;
namespace fs = std::filesystem;

namespace {

const test_scratch::ScratchRoot kScratch("test_deepmd");
fs::path scratch(const std::string& name) { return kScratch.dir(name); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

/// The bytes of a .npy file: magic, version, little-endian header length (2 bytes for 1.0,
/// 4 for 2.0/3.0), the header padded with spaces to a multiple of 64 and a newline, the data.
std::string npy_bytes(const std::string& dict, const std::string& data, int major = 1) {
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  while ((6 + 2 + len_bytes + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  std::string out = std::string("\x93NUMPY", 6) + char(major) + char(0);
  for (std::size_t k = 0; k < len_bytes; ++k) out += char((header.size() >> (8 * k)) & 0xff);
  return out + header + data;
}

std::string shape_text(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t d : shape) s += std::to_string(d) + ", ";
  if (shape.size() > 1) s.resize(s.size() - 2);
  if (shape.size() == 1) s.resize(s.size() - 1);
  return s + ")";
}

template <class T>
std::string raw(const std::vector<T>& v) {
  std::string out(v.size() * sizeof(T), '\0');
  if (!v.empty()) std::memcpy(&out[0], v.data(), out.size());  // the test machine is little-endian
  return out;
}

template <class T>
std::string npy(const std::string& descr, const std::vector<std::size_t>& shape, const std::vector<T>& v, int major = 1) {
  return npy_bytes("{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape_text(shape) + ", }", raw(v), major);
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
}

}  // namespace

TEST(Npy, EveryDtypeAndVersion) {
  const std::vector<double> f8 = {1.5, -2.25, 1e-300, 6.02214076e23, 0.0, -0.0};
  const std::vector<float> f4 = {1.5f, -2.25f, 3.0e-38f, 0.1f, 7.0f, 8.0f};
  const std::vector<std::int32_t> i4 = {0, -1, 2147483647, -2147483647 - 1, 5, 6};
  const std::vector<std::int64_t> i8 = {0, -1, (std::int64_t(1) << 53), -(std::int64_t(1) << 40), 5, 6};
  for (int major : {1, 2, 3}) {
    SCOPED_TRACE("format " + std::to_string(major) + ".0");
    NpyArray a = parse_npy(npy("<f8", {2, 3}, f8, major), "a.npy");
    EXPECT_EQ(a.shape, (std::vector<std::size_t>{2, 3}));
    ASSERT_EQ(a.data.size(), 6u);
    for (std::size_t k = 0; k < 6; ++k) EXPECT_EQ(a.data[k], f8[k]);  // exact
    EXPECT_TRUE(std::signbit(a.data[5]));
    a = parse_npy(npy("<f4", {6}, f4, major), "a.npy");
    EXPECT_EQ(a.shape, (std::vector<std::size_t>{6}));
    for (std::size_t k = 0; k < 6; ++k) EXPECT_EQ(a.data[k], double(f4[k]));
    a = parse_npy(npy("<i4", {3, 2}, i4, major), "a.npy");
    for (std::size_t k = 0; k < 6; ++k) EXPECT_EQ(a.data[k], double(i4[k]));
    a = parse_npy(npy("<i8", {1, 2, 3}, i8, major), "a.npy");
    EXPECT_EQ(a.shape.size(), 3u);
    for (std::size_t k = 0; k < 6; ++k) EXPECT_EQ(a.data[k], double(i8[k]));
  }
  // 0-d (a scalar: shape ()), empty arrays, double quotes and key order as some writers use.
  NpyArray s = parse_npy(npy("<f8", {}, std::vector<double>{42.0}), "s.npy");
  EXPECT_TRUE(s.shape.empty());
  ASSERT_EQ(s.data.size(), 1u);
  EXPECT_EQ(s.data[0], 42.0);
  NpyArray e = parse_npy(npy("<f8", {0, 3}, std::vector<double>{}), "e.npy");
  EXPECT_EQ(e.size(), 0u);
  NpyArray q = parse_npy(npy_bytes("{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<i4\"}", raw(std::vector<std::int32_t>{7, 8})), "q.npy");
  EXPECT_EQ(q.data, (std::vector<double>{7, 8}));
  // From a file.
  const fs::path dir = scratch("npy");
  write_file(dir / "x.npy", npy("<f8", {3}, std::vector<double>{1, 2, 3}, 2));
  EXPECT_EQ(read_npy((dir / "x.npy").string()).data, (std::vector<double>{1, 2, 3}));
  EXPECT_NE(error_of([&] { read_npy((dir / "missing.npy").string()); }).find("missing.npy"), std::string::npos);
}

TEST(Npy, FilesWrittenByNumpy) {
  // fuzz/corpus/npy/: written by numpy 1.24's np.lib.format.write_array (format 1.0 unless named).
  const std::string dir = std::string(SPINLAT_SOURCE_DIR) + "/fuzz/corpus/npy/";
  NpyArray a = read_npy(dir + "f8_2x3.npy");  // np.arange(6.0).reshape(2, 3)
  EXPECT_EQ(a.shape, (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(a.data, (std::vector<double>{0, 1, 2, 3, 4, 5}));
  a = read_npy(dir + "f4_v2.npy");  // np.arange(4, dtype=float32), format 2.0
  EXPECT_EQ(a.data, (std::vector<double>{0, 1, 2, 3}));
  a = read_npy(dir + "i4_scalar.npy");  // np.array(7, dtype=int32)
  EXPECT_TRUE(a.shape.empty());
  EXPECT_EQ(a.data, (std::vector<double>{7}));
  a = read_npy(dir + "i8_v3.npy");  // np.arange(3, dtype=int64), format 3.0
  EXPECT_EQ(a.shape, (std::vector<std::size_t>{3}));
  EXPECT_EQ(a.data, (std::vector<double>{0, 1, 2}));
}

TEST(Npy, MalformedFilesAreInputErrors) {
  const std::string data = raw(std::vector<double>{1, 2});
  const std::string good = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
  struct Case {
    std::string bytes, expect;
  };
  std::string v4 = npy_bytes(good, data);
  v4[6] = 4;
  std::string v11 = npy_bytes(good, data);
  v11[7] = 1;
  std::string long_header = npy_bytes(good, data);
  long_header[8] = char(0xff), long_header[9] = char(0x7f);
  const std::vector<Case> cases = {
      {"", "magic"},
      {"\x93NUMPX\x01\x00", "magic"},
      {std::string("\x93NUMPY\x01", 7), "magic"},
      {v4, "version 4.0"},
      {v11, "version 1.1"},
      {long_header, "truncated .npy header"},
      {npy_bytes("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", data), "'>f8' is not supported"},
      {npy_bytes("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", std::string(16, '\0')), "'<c16'"},
      {npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", "ab"), "'|u1'"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }", data), "Fortran"},
      {npy_bytes("{'descr': '<f8', 'shape': (2,), }", data), "needs 'descr', 'fortran_order' and 'shape'"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}", data), "'extra'"},
      {npy_bytes("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", data), "repeated"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2,)}", data), "True or False"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2.5,)}", data), "shape"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (-2,)}", data), "shape"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': [2]}", data), "'('"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)", data), "expected ',' or '}'"},
      {npy_bytes("{'descr: '<f8', 'fortran_order': False, 'shape': (2,)}", data), "header"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} x", data), "after the closing"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (3,)}", data), "does not match the 16 data bytes"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", data), "does not match the 16 data bytes"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 1099511627776)}", data), "more data"},
      {npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999,)}", data), "2^40"},
  };
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const std::string msg = error_of([&] { parse_npy(cases[k].bytes, "bad.npy"); });
    EXPECT_NE(msg.find("bad.npy"), std::string::npos) << "case " << k << ": " << msg;
    EXPECT_NE(msg.find(cases[k].expect), std::string::npos) << "case " << k << ": " << msg;
  }
}

namespace {

/// A two-atom (Fe, O) deepmd system with two sets (2 and 1 frames) and every optional file.
/// Values: frame f (counted over sets), atom i, component c: coord = f + i + 0.1 c,
/// force = 10 f + i + c, spin = (0, 0, 2 + f) for Fe and 0 for O, force_mag = −(f + 1) c,
/// energy = −f − 0.5, box = diag(3 + f), virial = k + 9 f.
fs::path write_system(const std::string& name, int frames_in_first_set = 2) {
  const fs::path dir = scratch(name);
  write_file(dir / "type.raw", "1\n0\n");
  write_file(dir / "type_map.raw", "O\nFe\n");  // atom 0 is Fe (type 1), atom 1 is O
  int f0 = 0;
  for (int set = 0; set < 2; ++set) {
    const int nf = set == 0 ? frames_in_first_set : 1;
    const fs::path sd = dir / ("set.00" + std::to_string(set));
    fs::create_directories(sd);
    std::vector<double> box, coord, energy, force, spin, fmag, virial;
    for (int f = f0; f < f0 + nf; ++f) {
      for (int k = 0; k < 9; ++k) box.push_back(k % 4 == 0 ? 3.0 + f : 0.0);
      for (int k = 0; k < 9; ++k) virial.push_back(k + 9.0 * f);
      energy.push_back(-f - 0.5);
      for (int i = 0; i < 2; ++i)
        for (int c = 0; c < 3; ++c) {
          coord.push_back(f + i + 0.1 * c);
          force.push_back(10.0 * f + i + c);
          spin.push_back(i == 0 && c == 2 ? 2.0 + f : 0.0);
          fmag.push_back(-(f + 1.0) * c);
        }
    }
    const std::size_t n = static_cast<std::size_t>(nf);
    write_file(sd / "box.npy", npy("<f8", {n, 9}, box));
    write_file(sd / "coord.npy", npy("<f8", {n, 6}, coord, 2));
    write_file(sd / "energy.npy", npy("<f8", {n}, energy));
    write_file(sd / "force.npy", npy("<f8", {n, 6}, force, 3));
    std::vector<float> spin32(spin.begin(), spin.end());
    write_file(sd / "spin.npy", npy("<f4", {n, 2, 3}, spin32));  // float32 and a 3-d shape
    write_file(sd / "force_mag.npy", npy("<f8", {n, 6}, fmag));
    write_file(sd / "virial.npy", npy("<f8", {n, 9}, virial));
    f0 += nf;
  }
  return dir;
}

}  // namespace

TEST(Deepmd, SyntheticSystemReadsEveryField) {
  const fs::path dir = write_system("synthetic");
  const std::vector<Frame> frames = read_deepmd(dir.string());
  ASSERT_EQ(frames.size(), 3u);
  for (int f = 0; f < 3; ++f) {
    SCOPED_TRACE("frame " + std::to_string(f));
    const Frame& fr = frames[static_cast<std::size_t>(f)];
    const System& s = fr.system;
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s.species_name, (std::vector<std::string>{"Fe", "O"}));  // first appearance
    EXPECT_EQ(s.species_name[s.species[0]], "Fe");
    EXPECT_EQ(s.species_name[s.species[1]], "O");
    EXPECT_NEAR(s.species_mass[0], 55.845, 1e-3);
    EXPECT_TRUE(s.cell.periodic[0] && s.cell.periodic[1] && s.cell.periodic[2]);
    EXPECT_EQ(s.cell.h, Mat3(Mat3::Identity() * (3.0 + f)));
    EXPECT_EQ(s.position[1], Vec3(f + 1 + 0.0, f + 1 + 0.1, f + 1 + 0.2));
    EXPECT_EQ(s.moment[0], 2.0 + f);
    EXPECT_EQ(s.spin[0], Vec3(0, 0, 1));
    EXPECT_EQ(s.moment[1], 0.0);
    EXPECT_FALSE(s.magnetic(1));
    EXPECT_EQ(fr.info.at("REF_energy"), -f - 0.5);
    EXPECT_EQ(fr.vectors.at("REF_forces")[1], Vec3(10.0 * f + 1, 10.0 * f + 2, 10.0 * f + 3));
    EXPECT_EQ(fr.vectors.at("REF_magforces")[0], Vec3(0, -(f + 1.0), -2 * (f + 1.0)));
    EXPECT_EQ(fr.vectors.at("REF_magmom")[0], Vec3(0, 0, 2.0 + f));
    EXPECT_EQ(fr.moment_source, "REF_magmom");
    ASSERT_EQ(fr.info_arrays.at("REF_virial").size(), 9u);
    EXPECT_EQ(fr.info_arrays.at("REF_virial")[4], 4.0 + 9 * f);
    s.check_consistent();
  }
  // The frames survive an extended XYZ round trip with the magnetic MACE names.
  std::stringstream io;
  for (const Frame& f : frames) write_extxyz(io, f);
  const auto back = parse_extxyz(io, "round.xyz");
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[2].info.at("REF_energy"), -2.5);
  EXPECT_EQ(back[2].vectors.at("REF_magforces")[0], frames[2].vectors.at("REF_magforces")[0]);
  EXPECT_EQ(back[2].system.moment[0], 4.0);
}

TEST(Deepmd, MalformedSystemsNameTheFile) {
  // Missing required files.
  {
    const fs::path d = write_system("no_type");
    fs::remove(d / "type.raw");
    EXPECT_NE(error_of([&] { read_deepmd(d.string()); }).find("type.raw: missing"), std::string::npos);
  }
  {
    const fs::path d = write_system("no_map");
    fs::remove(d / "type_map.raw");
    EXPECT_NE(error_of([&] { read_deepmd(d.string()); }).find("type_map.raw: missing"), std::string::npos);
  }
  {
    const fs::path d = write_system("no_energy");
    fs::remove(d / "set.001" / "energy.npy");
    const std::string msg = error_of([&] { read_deepmd(d.string()); });
    EXPECT_NE(msg.find("set.001/energy.npy: missing"), std::string::npos) << msg;
  }
  {
    const fs::path d = write_system("no_sets");
    fs::remove_all(d / "set.000");
    fs::remove_all(d / "set.001");
    EXPECT_NE(error_of([&] { read_deepmd(d.string()); }).find("no set.* directories"), std::string::npos);
  }
  EXPECT_NE(error_of([] { read_deepmd("/nonexistent/deepmd"); }).find("not a deepmd/npy system directory"), std::string::npos);
  // Ragged sets: an optional file in one set only.
  {
    const fs::path d = write_system("ragged");
    fs::remove(d / "set.001" / "force_mag.npy");
    const std::string msg = error_of([&] { read_deepmd(d.string()); });
    EXPECT_NE(msg.find("set.001/force_mag.npy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ragged"), std::string::npos) << msg;
  }
  {
    const fs::path d = write_system("fmag_without_spin");
    fs::remove(d / "set.000" / "spin.npy");
    fs::remove(d / "set.001" / "spin.npy");
    EXPECT_NE(error_of([&] { read_deepmd(d.string()); }).find("need the moments"), std::string::npos);
  }
  // Shape mismatches: forces for 3 atoms, energies for the wrong frame count, a wrong first axis.
  {
    const fs::path d = write_system("bad_shape");
    write_file(d / "set.000" / "force.npy", npy("<f8", {2, 9}, std::vector<double>(18, 0.0)));
    const std::string msg = error_of([&] { read_deepmd(d.string()); });
    EXPECT_NE(msg.find("set.000/force.npy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("does not fit 2 frames of forces"), std::string::npos) << msg;
  }
  {
    const fs::path d = write_system("bad_energy");
    write_file(d / "set.000" / "energy.npy", npy("<f8", {3}, std::vector<double>(3, 0.0)));
    EXPECT_NE(error_of([&] { read_deepmd(d.string()); }).find("set.000/energy.npy"), std::string::npos);
  }
  {
    const fs::path d = write_system("bad_axis");
    write_file(d / "set.000" / "box.npy", npy("<f8", {9, 2}, std::vector<double>(18, 1.0)));
    EXPECT_NE(error_of([&] { read_deepmd(d.string()); }).find("shape (9, 2) does not fit 2 frames of cells"), std::string::npos);
  }
  {
    const fs::path d = write_system("bad_coord");
    write_file(d / "set.000" / "coord.npy", npy("<f8", {7}, std::vector<double>(7, 1.0)));
    EXPECT_NE(error_of([&] { read_deepmd(d.string()); }).find("6 values per frame, got 7"), std::string::npos);
  }
  // Wrong dtype, non-finite values, bad types, a flat cell.
  {
    const fs::path d = write_system("bad_dtype");
    write_file(d / "set.001" / "coord.npy", npy("<u8", {1, 6}, std::vector<std::uint64_t>(6, 1)));
    const std::string msg = error_of([&] { read_deepmd(d.string()); });
    EXPECT_NE(msg.find("set.001/coord.npy"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'<u8' is not supported"), std::string::npos) << msg;
  }
  {
    const fs::path d = write_system("nan");
    write_file(d / "set.001" / "energy.npy", npy("<f8", {1}, std::vector<double>{std::nan("")}));
    EXPECT_NE(error_of([&] { read_deepmd(d.string()); }).find("not finite"), std::string::npos);
  }
  {
    const fs::path d = write_system("bad_type");
    write_file(d / "type.raw", "1\n2\n");
    EXPECT_NE(error_of([&] { read_deepmd(d.string()); }).find("type '2' is not an integer from 0 to 1"), std::string::npos);
    write_file(d / "type.raw", "1\nx\n");
    EXPECT_NE(error_of([&] { read_deepmd(d.string()); }).find("type 'x'"), std::string::npos);
  }
  {
    const fs::path d = write_system("flat_cell");
    write_file(d / "set.001" / "box.npy", npy("<f8", {1, 9}, std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 0}));
    EXPECT_NE(error_of([&] { read_deepmd(d.string()); }).find("zero volume"), std::string::npos);
  }
}

TEST(Deepmd, NioDftSubset) {
  const fs::path dir = fs::path(SPINLAT_SOURCE_DIR) / ".." / "shared" / "data" / "nio-dft" / "data_0";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "no NiO DFT data at " << dir;
  const std::vector<Frame> frames = read_deepmd(dir.string());
  ASSERT_EQ(frames.size(), 60u);
  for (std::size_t f = 0; f < frames.size(); ++f) {
    SCOPED_TRACE("frame " + std::to_string(f));
    const Frame& fr = frames[f];
    const System& s = fr.system;
    ASSERT_EQ(s.size(), 32u);
    ASSERT_EQ(s.species_name, (std::vector<std::string>{"Ni", "O"}));
    int ni = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s.species_name[s.species[i]] == "Ni") {
        ++ni;
        EXPECT_NEAR(s.moment[i], 1.27, 0.02) << "atom " << i;
      } else {
        EXPECT_EQ(s.moment[i], 0.0) << "atom " << i;
      }
    }
    EXPECT_EQ(ni, 16);
    // 4 conventional NiO cells of a ≈ 4.18 Å (the rhombohedral AF-II cell a(1,1,2), ...).
    EXPECT_NEAR(s.cell.volume(), 4 * std::pow(4.18, 3), 5.0);
    EXPECT_TRUE(std::isfinite(fr.info.at("REF_energy")));
    EXPECT_NEAR(fr.info.at("REF_energy"), -166.28, 0.1);
    EXPECT_EQ(fr.vectors.at("REF_forces").size(), 32u);
    EXPECT_EQ(fr.vectors.at("REF_magforces").size(), 32u);
    EXPECT_EQ(fr.vectors.at("REF_magmom").size(), 32u);
    EXPECT_EQ(fr.info_arrays.count("REF_virial"), 0u);
    // O carries no moment, so its magnetic force is zero in the data.
    EXPECT_EQ(fr.vectors.at("REF_magforces")[31], Vec3::Zero());
  }
}
