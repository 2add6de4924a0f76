// Structure files: extended XYZ and VASP POSCAR readers against the crystal builder's bcc Fe,
// lossless extended XYZ round trips, and malformed files reported with file and line.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <functional>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "spinlat/core/error.hpp"
#include "spinlat/io/structure_file.hpp"
#include "spinlat/workflows/build.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/io/poscar.hpp"

using namespace spinlat;

namespace {

const std::string kData = std::string(SPINLAT_SOURCE_DIR) + "/tests/data/";
constexpr double kA = 2.8665;

/// The builder's bcc Fe, 2×2×2 conventional cells, 2.2 μB along +z.
System reference_fe() {
  System s = build_supercell(standard_lattice("bcc", kA, 0.0, {"Fe"}, {2.2}), Int3(2, 2, 2));
  return s;
}

void expect_same_structure(const System& got, const System& ref, double tol) {
  ASSERT_EQ(got.size(), ref.size());
  EXPECT_NEAR((got.cell.h - ref.cell.h).norm(), 0.0, tol);
  EXPECT_EQ(got.cell.periodic, ref.cell.periodic);
  EXPECT_EQ(got.species_name, ref.species_name);
  for (std::size_t i = 0; i < ref.size(); ++i) {
    EXPECT_NEAR((got.position[i] - ref.position[i]).norm(), 0.0, tol) << "atom " << i;
    EXPECT_NEAR(got.moment[i], ref.moment[i], 1e-15) << "atom " << i;
    EXPECT_NEAR((got.spin[i] - ref.spin[i]).norm(), 0.0, 1e-15) << "atom " << i;
    EXPECT_EQ(got.species_name[got.species[i]], ref.species_name[ref.species[i]]);
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

Config file_config(const std::string& structure_lines, const std::string& extra = "") {
  return parse_config("[structure]\nlattice = \"file\"\n" + structure_lines + "\n[sweep]\ntemperatures = [300]\n" + extra,
                      kData + "input.toml");
}

/// A scratch directory for files the tests write.
std::string scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("spinlat_test_io_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

TEST(ExtXYZ, BccIronFileEqualsTheBuilder) {
  const auto frames = read_extxyz(kData + "fe_bcc_2x2x2.xyz");
  ASSERT_EQ(frames.size(), 1u);
  // Positions were written with the builder's arithmetic and shortest round-trip decimals.
  expect_same_structure(frames[0].system, reference_fe(), 0.0);
  EXPECT_EQ(frames[0].moment_source, "magmom");
  EXPECT_EQ(frames[0].info_text.at("config_type"), "bcc_Fe");
  EXPECT_EQ(frames[0].system.species_mass[0], 55.845);
}

TEST(ExtXYZ, MagneticMaceConventionFields) {
  const auto frames = read_extxyz(kData + "nio_afm.extxyz");
  ASSERT_EQ(frames.size(), 1u);
  const Frame& f = frames[0];
  EXPECT_EQ(f.moment_source, "REF_magmom");
  EXPECT_EQ(f.system.species_name, (std::vector<std::string>{"Ni", "O"}));
  EXPECT_DOUBLE_EQ(f.info.at("REF_energy"), -44.5);
  EXPECT_EQ(f.info_arrays.at("REF_stress").size(), 9u);
  EXPECT_EQ(f.info_text.at("config_type"), "NiO AF-II");
  ASSERT_EQ(f.vectors.at("REF_forces").size(), 8u);
  EXPECT_EQ(f.vectors.at("REF_forces")[0], Vec3(0.01, -0.02, 0.03));
  EXPECT_EQ(f.vectors.at("REF_magforces")[1], Vec3(0, 0, -0.5));
  EXPECT_EQ(f.vectors.at("REF_magmom")[1], Vec3(0, 0, -1.27));  // kept by name too
  EXPECT_EQ(f.scalar_types.at("tag"), 'I');
  EXPECT_EQ(f.scalars.at("tag")[7], 7.0);
  EXPECT_DOUBLE_EQ(f.system.moment[0], 1.27);
  EXPECT_EQ(f.system.spin[1], Vec3(0, 0, -1));
  EXPECT_FALSE(f.system.magnetic(4));

  // Through the input: the file's moments (default spins = "file") and its antiferro pattern
  // both equal the builder's rocksalt AF-II cell.
  const System ref = build_supercell(standard_lattice("rocksalt", 4.17, 0, {"Ni", "O"}, {1.27, 0.0}), Int3(1, 1, 1), true);
  const BuiltStructure from_file = build_structure(file_config("file = \"nio_afm.extxyz\""));
  expect_same_structure(from_file.system, ref, 0.0);
  const BuiltStructure af = build_structure(file_config("file = \"nio_afm.extxyz\"\nspins = \"antiferro\""));
  expect_same_structure(af.system, ref, 0.0);
  const std::vector<int> pattern = antiferro_signs(standard_lattice("rocksalt", 4.17, 0, {"Ni", "O"}, {1.27, 0.0}), Int3(1, 1, 1));
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(af.af_sign[i], pattern[i]);
  // Input moments replace the file's sizes, per species entry; directions stay.
  const System big = build_system(file_config("file = \"nio_afm.extxyz\"\nmoment = [1.9, 0]"));
  EXPECT_DOUBLE_EQ(big.moment[1], 1.9);
  EXPECT_EQ(big.spin[1], Vec3(0, 0, -1));
}

TEST(Poscar, Vasp5DirectWithMagmomEqualsTheBuilder) {
  const Frame f = read_poscar(kData + "POSCAR_Fe_bcc");
  expect_same_structure(f.system, reference_fe(), 1e-12);
  EXPECT_EQ(f.moment_source, "MAGMOM");
}

TEST(Poscar, Vasp4VolumeScaleCartesianSelectiveDynamics) {
  // No species line: the species come from the input; scale < 0 is the cell volume.
  const Frame f = read_poscar(kData + "Fe_bcc_vasp4.vasp", {"Fe"});
  expect_same_structure(f.system, reference_fe(), 1e-12);
  const auto& flags = f.vectors.at("selective_dynamics");
  EXPECT_EQ(flags[0], Vec3(0, 0, 0));
  EXPECT_EQ(flags[1], Vec3(1, 1, 1));
  const std::string msg = error_of([] { read_poscar(kData + "Fe_bcc_vasp4.vasp"); });
  EXPECT_NE(msg.find("Fe_bcc_vasp4.vasp:6:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("species"), std::string::npos) << msg;
}

TEST(Config, FileStructuresEqualTheBuilder) {
  const System ref = reference_fe();
  Config c = file_config("file = \"fe_bcc_2x2x2.xyz\"");
  expect_same_structure(build_system(c), ref, 0.0);
  EXPECT_EQ(build_system(c).species_mass[0], 55.845);
  expect_same_structure(build_system(file_config("file = \"POSCAR_Fe_bcc\"")), ref, 1e-12);
  expect_same_structure(build_system(file_config("file = \"Fe_bcc_vasp4.vasp\"\nspecies = [\"Fe\"]")), ref, 1e-12);
  // The 2-atom conventional cell repeated 2×2×2 (cells apply to files too).
  expect_same_structure(build_system(file_config("file = \"fe_bcc_cell.extxyz\"\ncells = [2, 2, 2]")), ref, 0.0);
  // The builder's order (cells x fastest, then basis) with af signs.
  const BuiltStructure af = build_structure(file_config("file = \"POSCAR_Fe_bcc\"\nspins = \"ferro\"\nmoment = [2.2]"));
  for (std::size_t i = 0; i < af.system.size(); ++i) EXPECT_EQ(af.af_sign[i], 1);
  // A collinear file without a pattern cannot be made antiferromagnetic.
  const std::string msg = error_of([] { build_system(file_config("file = \"POSCAR_Fe_bcc\"\nspins = \"antiferro\"")); });
  EXPECT_NE(msg.find("input.toml:4: 'structure.spins'"), std::string::npos) << msg;
  // Per-atom moments (VASP MAGMOM style) and the wrong count.
  std::string many = "moment = [";
  for (int i = 0; i < 16; ++i) many += (i ? ", " : "") + std::string(i % 2 ? "1.0" : "2.0");
  const System per_atom = build_system(file_config("file = \"POSCAR_Fe_bcc\"\n" + many + "]"));
  EXPECT_EQ(per_atom.moment[0], 2.0);
  EXPECT_EQ(per_atom.moment[1], 1.0);
  const std::string bad = error_of([] { build_system(file_config("file = \"POSCAR_Fe_bcc\"\nmoment = [1, 2, 3]")); });
  EXPECT_NE(bad.find("input.toml:4: 'structure.moment'"), std::string::npos) << bad;
  // Frames that do not exist, species that do not match.
  const std::string frame = error_of([] { build_system(file_config("file = \"fe_bcc_2x2x2.xyz\"\nframe = 3")); });
  EXPECT_NE(frame.find("input.toml:4: 'structure.frame'"), std::string::npos) << frame;
  const std::string species = error_of([] { build_system(file_config("file = \"fe_bcc_2x2x2.xyz\"\nspecies = [\"Co\"]")); });
  EXPECT_NE(species.find("input.toml:4: 'structure.species'"), std::string::npos) << species;
}

TEST(Config, StructureFormatIsDetectedFromTheContent) {
  const std::string xyz = scratch("structure.dat"), vasp = scratch("structure.txt");
  std::filesystem::copy_file(kData + "fe_bcc_2x2x2.xyz", xyz, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(kData + "POSCAR_Fe_bcc", vasp, std::filesystem::copy_options::overwrite_existing);
  expect_same_structure(read_structure_file(xyz).at(0).system, reference_fe(), 0.0);
  expect_same_structure(read_structure_file(vasp).at(0).system, reference_fe(), 1e-12);
  expect_same_structure(read_structure_file(vasp, "poscar").at(0).system, reference_fe(), 1e-12);
  std::filesystem::remove_all(std::filesystem::path(xyz).parent_path());
}

TEST(ExtXYZ, WriteReadRoundTripIsExact) {
  Frame f(reference_fe());
  System& s = f.system;
  // Non-collinear moments of different sizes, a non-magnetic atom, awkward numbers.
  for (std::size_t i = 0; i < s.size(); ++i) {
    s.position[i] += Vec3(1e-7 * i, -1.0 / 3.0, 0.1 + 0.2);
    s.spin[i] = Vec3(std::sin(0.3 * i), 0.2, std::cos(0.7 * i)).normalized();
    s.moment[i] = 2.2 + 0.01 * i;
  }
  s.moment[5] = 0.0;
  s.spin[5] = Vec3::Zero();
  s.cell.h(1, 0) = 0.37;  // triclinic
  s.cell.periodic = {true, true, false};
  f.info["energy"] = -123.456789012345678;
  f.info["step"] = 42;
  f.info_arrays["stress"] = {1e-5, 2.0 / 3.0, 0, 0, 1, 0, 0, 0, -7.25};
  f.info_text["comment"] = "a label with spaces and \"quotes\"";
  f.info_text["flag"] = "T";
  std::vector<Vec3> forces, mag;
  std::vector<double> charge, fixed;
  for (std::size_t i = 0; i < s.size(); ++i) {
    forces.push_back(Vec3(0.1 * i, -std::sqrt(2.0) * i, 1e-300));
    mag.push_back(Vec3(-0.01, 0.02 * i, 1.0 / 7.0));
    charge.push_back(0.5 - i);
    fixed.push_back(i % 2);
  }
  f.vectors["forces"] = forces;
  f.vectors["magforces"] = mag;
  f.scalars["charge"] = charge;
  f.scalars["fixed"] = fixed;
  f.scalar_types["fixed"] = 'L';
  f.strings["label"] = std::vector<std::string>(s.size(), "bulk");
  f.columns["pair"] = AtomColumn{'I', 2, std::vector<double>(2 * s.size(), 3.0)};

  std::stringstream io;
  write_extxyz(io, f);
  write_extxyz(io, f);  // two frames
  const auto back = parse_extxyz(io, "roundtrip.xyz");
  ASSERT_EQ(back.size(), 2u);
  const Frame& g = back[1];
  EXPECT_EQ(g.line, static_cast<int>(s.size()) + 3);
  EXPECT_EQ(g.system.cell.h, s.cell.h);
  EXPECT_EQ(g.system.cell.periodic, s.cell.periodic);
  for (std::size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(g.system.position[i], s.position[i]);
    // m = |m| ê is written; reading splits it again (exact to the last bit or two).
    EXPECT_NEAR((g.system.moment_vector(i) - s.moment_vector(i)).norm(), 0.0, 1e-15);
  }
  EXPECT_EQ(g.info, f.info);
  EXPECT_EQ(g.info_arrays, f.info_arrays);
  EXPECT_EQ(g.info_text, f.info_text);
  EXPECT_EQ(g.vectors, f.vectors);
  EXPECT_EQ(g.scalars, f.scalars);
  EXPECT_EQ(g.scalar_types.at("fixed"), 'L');
  EXPECT_EQ(g.strings, f.strings);
  EXPECT_EQ(g.columns.at("pair").values, f.columns.at("pair").values);
  EXPECT_EQ(g.columns.at("pair").type, 'I');

  // Collinear moments are written as one signed column (ASE's convention) and read back.
  Frame c(build_supercell(standard_lattice("bcc", kA, 0, {"Fe"}, {2.2}), Int3(1, 1, 1), true));
  std::stringstream io2;
  write_extxyz(io2, c);
  EXPECT_NE(io2.str().find("magmom:R:1"), std::string::npos) << io2.str();
  EXPECT_NE(io2.str().find(" -2.2\n"), std::string::npos) << io2.str();
  const auto c2 = parse_extxyz(io2, "collinear.xyz");
  EXPECT_EQ(c2[0].system.spin[1], Vec3(0, 0, -1));
  EXPECT_EQ(c2[0].system.moment[1], 2.2);

  // And through a file on disk.
  const std::string path = scratch("frames.xyz");
  write_extxyz(path, {f, c});
  EXPECT_EQ(read_extxyz(path).size(), 2u);
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(ExtXYZ, ReadsAseVariants) {
  // Z instead of species, no Lattice (non-periodic), a bare flag, braces, CRLF line ends.
  std::stringstream in(
      "2\r\nProperties=Z:I:1:pos:R:3:initial_magmoms:R:1 is_relaxed stress={1, 2, 3} name=\"x y\"\r\n"
      "26 0 0 0 2.0\r\n28 1.5 0.5 -1 -0.6\r\n");
  const auto f = parse_extxyz(in, "ase.xyz");
  const System& s = f.at(0).system;
  EXPECT_EQ(s.species_name, (std::vector<std::string>{"Fe", "Ni"}));
  EXPECT_EQ(s.cell.periodic, (std::array<bool, 3>{false, false, false}));
  EXPECT_EQ(s.spin[1], Vec3(0, 0, -1));
  EXPECT_EQ(f[0].moment_source, "initial_magmoms");
  EXPECT_EQ(f[0].info_text.at("is_relaxed"), "T");
  EXPECT_EQ(f[0].info_arrays.at("stress"), (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(f[0].info_text.at("name"), "x y");
  EXPECT_GT(s.cell.volume(), 0.0);
}

TEST(ExtXYZ, MalformedFilesNameFileAndLine) {
  const std::string head = "Lattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"";
  struct Case {
    std::string name, text;
    int line;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"count not a number", "two\n" + head + "\nFe 0 0 0\n", 1, "number of atoms"},
      {"count with more words", "2 atoms\n" + head + "\nFe 0 0 0\n", 1, "number of atoms"},
      {"too few columns", "2\n" + head + "\nFe 0 0 0\nFe 1 1\n", 4, "expected 4 columns"},
      {"not a number", "1\n" + head + "\nFe 0 zero 0\n", 3, "'pos'"},
      {"lattice of 8 numbers", "1\nLattice=\"3 0 0 0 3 0 0 0\" Properties=species:S:1:pos:R:3\nFe 0 0 0\n", 2, "'Lattice'"},
      {"no positions", "1\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:x:R:3\nFe 0 0 0\n", 2, "pos:R:3"},
      {"bad property type", "1\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:Q:3\nFe 0 0 0\n", 2, "type 'Q'"},
      {"unterminated quote", "1\nLattice=\"3 0 0 0 3 0 0 0 3 Properties=species:S:1:pos:R:3\nFe 0 0 0\n", 2, "unterminated"},
      {"truncated frame", "3\n" + head + "\nFe 0 0 0\nFe 1 1 1\n", 4, "file ends after 2 of the 3"},
      {"second frame broken", "1\n" + head + "\nFe 0 0 0\n1\n" + head + "\nFe 0 0 nan\n", 6, "'pos'"},
      {"moment column of strings",
       "1\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3:magmom:S:1\nFe 0 0 0 up\n", 2, "'magmom'"},
      {"bad pbc", "1\nLattice=\"3 0 0 0 3 0 0 0 3\" Properties=species:S:1:pos:R:3 pbc=\"T T\"\nFe 0 0 0\n", 2, "'pbc'"},
      {"zero volume", "1\nLattice=\"3 0 0 3 0 0 0 0 3\" Properties=species:S:1:pos:R:3\nFe 0 0 0\n", 2, "zero volume"},
      {"empty file", "", 0, "no frames"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::stringstream in(c.text);
    const std::string msg = error_of([&] { parse_extxyz(in, "bad.xyz"); });
    const std::string where = c.line > 0 ? "bad.xyz:" + std::to_string(c.line) + ":" : "bad.xyz: ";
    EXPECT_NE(msg.find(where), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.says), std::string::npos) << msg;
  }
  const std::string missing = error_of([] { read_extxyz(kData + "no_such_file.xyz"); });
  EXPECT_NE(missing.find("no_such_file.xyz"), std::string::npos) << missing;
}

TEST(Poscar, MalformedFilesNameFileAndLine) {
  const std::string cell = "3 0 0\n0 3 0\n0 0 3\n";
  struct Case {
    std::string name, text;
    int line;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"scale not a number", "c\nx\n" + cell + "Fe\n1\nDirect\n0 0 0\n", 2, "scale factor"},
      {"zero scale", "c\n0.0\n" + cell + "Fe\n1\nDirect\n0 0 0\n", 2, "not be zero"},
      {"short cell vector", "c\n1.0\n3 0 0\n0 3\n0 0 3\nFe\n1\nDirect\n0 0 0\n", 4, "cell vector"},
      {"zero-volume cell", "c\n1.0\n3 0 0\n3 0 0\n0 0 3\nFe\n1\nDirect\n0 0 0\n", 3, "zero volume"},
      {"species and counts disagree", "c\n1.0\n" + cell + "Fe Co\n1\nDirect\n0 0 0\n", 7, "2 species but 1 counts"},
      {"negative count", "c\n1.0\n" + cell + "Fe\n-1\nDirect\n0 0 0\n", 7, "positive atom counts"},
      {"missing atoms", "c\n1.0\n" + cell + "Fe\n3\nDirect\n0 0 0\n0.5 0.5 0.5\n", 10, "file ends after 2 of the 3"},
      {"no coordinate mode", "c\n1.0\n" + cell + "Fe\n1\n0 0 0\n", 8, "'Direct' or 'Cartesian'"},
      {"bad coordinate", "c\n1.0\n" + cell + "Fe\n2\nDirect\n0 0 0\n0.5 a 0.5\n", 10, "'a' is not a number"},
      {"missing selective flags", "c\n1.0\n" + cell + "Fe\n1\nSelective dynamics\nDirect\n0 0 0\n", 10, "T/F flags"},
      {"MAGMOM of the wrong length", "c # MAGMOM = 3*2.2\n1.0\n" + cell + "Fe\n2\nDirect\n0 0 0\n0.5 0.5 0.5\n", 1,
       "'MAGMOM': has 3 values"},
      {"MAGMOM shorthand malformed", "c\n1.0\n" + cell + "Fe\n2\nDirect\n0 0 0\n0.5 0.5 0.5\n# MAGMOM = 2x2.2\n", 11,
       "'MAGMOM': '2x2.2' is not a number"},
      {"VASP 4 without species", "c\n1.0\n" + cell + "2\nDirect\n0 0 0\n0.5 0.5 0.5\n", 6, "no species line"},
      {"file ends early", "c\n1.0\n" + cell, 5, "species or counts"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::stringstream in(c.text);
    const std::string msg = error_of([&] { parse_poscar(in, "POSCAR_bad"); });
    EXPECT_NE(msg.find("POSCAR_bad:" + std::to_string(c.line) + ":"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.says), std::string::npos) << msg;
  }
  // The shorthand itself.
  EXPECT_EQ(expand_vasp_list("2*2.2 -1 3*0", "x", 1), (std::vector<double>{2.2, 2.2, -1, 0, 0, 0}));
}

TEST(Poscar, WriteReadRoundTrip) {
  System s = build_supercell(standard_lattice("rocksalt", 4.17, 0, {"Ni", "O"}, {1.27, 0.0}), Int3(1, 1, 2), true);
  s.spin[0] = Vec3(0.6, 0, 0.8);  // non-collinear: MAGMOM with 3 values per atom
  std::stringstream io;
  write_poscar(io, s, "NiO test");
  const Frame f = parse_poscar(io, "written");
  // The writer groups atoms by species (VASP needs that): compare in that order.
  ASSERT_EQ(f.system.size(), s.size());
  std::size_t k = 0;
  for (std::size_t sp = 0; sp < s.species_name.size(); ++sp)
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (static_cast<std::size_t>(s.species[i]) != sp) continue;
      EXPECT_NEAR((f.system.position[k] - s.position[i]).norm(), 0.0, 1e-12);
      EXPECT_NEAR((f.system.moment_vector(k) - s.moment_vector(i)).norm(), 0.0, 1e-12);
      EXPECT_EQ(f.system.species_name[f.system.species[k]], s.species_name[sp]);
      ++k;
    }
}
