// Checkpoint files: exact round trip of blobs/arrays and of a System, atomic replacement
// (the old checkpoint survives a write that fails midway or is never committed), and clear
// InputErrors for missing, foreign, truncated or corrupted files.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/io/checkpoint.hpp"
#include "spinlat/io/hdf5.hpp"

using namespace spinlat;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "spinlat-ckpt-XXXXXX";
    if (::mkdtemp(&tmpl[0]) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Checkpoint sample(int generation) {
  Checkpoint c;
  StreamSet rng(42, StreamPurpose::metropolis, 3);
  for (int k = 0; k < generation; ++k) rng[1]();
  c.set_blob("rng/metropolis", rng.save());
  c.set_blob("binary", std::string("\0\x01\xff\n\0", 5));
  c.set_blob("empty", "");
  c.set_integer("step", 1000 * generation);
  c.set_real("temperature", 300.0 + generation);
  c.set_reals("accumulators/energy", {1e-300, -0.0, std::numeric_limits<double>::quiet_NaN(), 1.0 / 3.0});
  c.set_integers("accumulators/count", {std::numeric_limits<std::int64_t>::min(), 7});
  return c;
}

void expect_equal(const Checkpoint& a, const Checkpoint& b) {
  EXPECT_EQ(a.blobs, b.blobs);
  EXPECT_EQ(a.integers, b.integers);
  ASSERT_EQ(a.reals.size(), b.reals.size());
  for (const auto& [name, v] : a.reals) {
    const auto& w = b.reals.at(name);
    ASSERT_EQ(v.size(), w.size()) << name;
    // Bit-for-bit: compare representations (NaN and -0.0 included).
    EXPECT_EQ(0, std::memcmp(v.data(), w.data(), v.size() * sizeof(double))) << name;
  }
}

System sample_system() {
  System s;
  s.cell.h << 2.8665 * 3, 0, 0, 0.1, 2.8665 * 3, 0, 0, 0.2, 2.8665 * 3;
  s.cell.periodic = {true, false, true};
  s.species_name = {"Fe", "Co", ""};
  s.species_mass = {55.845, 58.933194, 1.0};
  StreamSet rng(7, StreamPurpose::initial_state, 1);
  for (int i = 0; i < 20; ++i) {
    const Vec3 r(uniform01(rng[0]) * 8, uniform01(rng[0]) * 8, uniform01(rng[0]) * 8);
    const Vec3 e(uniform01(rng[0]) - 0.5, uniform01(rng[0]) - 0.5, uniform01(rng[0]) - 0.5);
    s.add_atom(r, i % 3, i % 5 == 0 ? 0.0 : 2.2 + 0.01 * i, e, i % 2);
    s.velocity.back() = Vec3(uniform01(rng[0]), -uniform01(rng[0]), 1e-17);
  }
  return s;
}

template <class F>
std::string input_error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("WRONG TYPE: ") + e.what();
  }
  return "NO ERROR";
}

}  // namespace

TEST(Checkpoint, RoundTripIsBitForBit) {
  TempDir dir;
  const std::string path = checkpoint_path(dir.file("out.h5"));
  EXPECT_EQ(path, dir.file("out.h5.ckpt"));
  const Checkpoint c = sample(3);
  write_checkpoint(path, c);
  EXPECT_NE(::access((path + ".tmp").c_str(), F_OK), 0);  // renamed away
  const Checkpoint r = read_checkpoint(path);
  expect_equal(c, r);
  EXPECT_EQ(r.source, path);
  EXPECT_EQ(r.integer("step"), 3000);
  EXPECT_EQ(r.real("temperature"), 303.0);
  // The restored RNG continues the same stream.
  StreamSet a(42, StreamPurpose::metropolis, 3), b;
  for (int k = 0; k < 3; ++k) a[1]();
  b.load(r.blob("rng/metropolis"));
  for (int k = 0; k < 5; ++k) EXPECT_EQ(a[1](), b[1]());
}

TEST(Checkpoint, AccessorErrorsNameTheEntry) {
  Checkpoint c = sample(1);
  c.source = "run.h5.ckpt";
  std::string msg = input_error_of([&] { c.blob("nope"); });
  EXPECT_NE(msg.find("run.h5.ckpt"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nope"), std::string::npos) << msg;
  msg = input_error_of([&] { c.blob("step"); });
  EXPECT_NE(msg.find("another kind"), std::string::npos) << msg;
  msg = input_error_of([&] { c.real("accumulators/energy"); });
  EXPECT_NE(msg.find("expected one real"), std::string::npos) << msg;
  EXPECT_TRUE(c.has("step"));
  EXPECT_FALSE(c.has("missing"));
  // Names that cannot be stored are refused before anything is written.
  Checkpoint bad;
  bad.set_real("a", 1);
  bad.set_real("a/b", 2);
  TempDir dir;
  EXPECT_THROW(write_checkpoint(dir.file("x.ckpt"), bad), std::invalid_argument);
  Checkpoint bad2;
  bad2.set_blob("/abs", "");
  EXPECT_THROW(write_checkpoint(dir.file("x.ckpt"), bad2), std::invalid_argument);
}

TEST(Checkpoint, ReplacementIsAtomic) {
  TempDir dir;
  const std::string path = dir.file("run.h5.ckpt");
  write_checkpoint(path, sample(1));
  const std::string old_bytes = slurp(path);

  // 1. Killed after staging, before the rename: the old checkpoint is what is read, and the
  //    leftover temporary is ignored and overwritten by the next write.
  const std::string tmp = stage_checkpoint(path, sample(2));
  EXPECT_EQ(tmp, path + ".tmp");
  EXPECT_EQ(slurp(path), old_bytes);
  expect_equal(read_checkpoint(path), sample(1));

  // 2. A write that dies midway leaves a truncated temporary: still the old checkpoint.
  {
    const std::string partial = slurp(tmp);
    std::ofstream(tmp, std::ios::binary | std::ios::trunc) << partial.substr(0, partial.size() / 2);
  }
  expect_equal(read_checkpoint(path), sample(1));

  // 3. A write that fails (the temporary cannot be created) throws and changes nothing.
  ::unlink(tmp.c_str());
  ::mkdir(tmp.c_str(), 0755);
  EXPECT_THROW(write_checkpoint(path, sample(3)), std::exception);
  EXPECT_EQ(slurp(path), old_bytes);
  expect_equal(read_checkpoint(path), sample(1));
  ::rmdir(tmp.c_str());

  // 4. Committing replaces it in one step.
  write_checkpoint(path, sample(4));
  expect_equal(read_checkpoint(path), sample(4));
  EXPECT_NE(::access(tmp.c_str(), F_OK), 0);
}

TEST(Checkpoint, MissingForeignAndDamagedFilesAreInputErrors) {
  TempDir dir;
  std::string msg = input_error_of([&] { read_checkpoint(dir.file("none.ckpt")); });
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
  EXPECT_NE(msg.find("none.ckpt"), std::string::npos) << msg;

  std::ofstream(dir.file("text.ckpt")) << "garbage\n";
  msg = input_error_of([&] { read_checkpoint(dir.file("text.ckpt")); });
  EXPECT_NE(msg.find("not an HDF5 file"), std::string::npos) << msg;

  {  // A valid HDF5 file that is not a checkpoint (e.g. the results file given by mistake).
    h5::File f = h5::File::create(dir.file("results.h5"));
    f.write("/x", std::vector<double>{1});
  }
  msg = input_error_of([&] { read_checkpoint(dir.file("results.h5")); });
  EXPECT_NE(msg.find("not a spinlat checkpoint"), std::string::npos) << msg;

  const std::string good = dir.file("good.ckpt");
  write_checkpoint(good, sample(2));
  const std::string bytes = slurp(good);

  // Truncated: HDF5 cannot even open it.
  std::ofstream(dir.file("cut.ckpt"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  msg = input_error_of([&] { read_checkpoint(dir.file("cut.ckpt")); });
  EXPECT_EQ(msg.find("NO ERROR"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("WRONG TYPE"), std::string::npos) << msg;

  // One flipped byte inside stored data: only the checksum can tell.
  const Checkpoint c = sample(2);
  const std::string& state = c.blob("rng/metropolis");
  const std::string probe = state.substr(state.size() / 2, 24);
  const auto at = bytes.find(probe);
  ASSERT_NE(at, std::string::npos) << "the blob is stored as raw bytes";
  std::string flipped = bytes;
  flipped[at + 3] = flipped[at + 3] == '1' ? '2' : '1';
  std::ofstream(dir.file("flip.ckpt"), std::ios::binary) << flipped;
  msg = input_error_of([&] { read_checkpoint(dir.file("flip.ckpt")); });
  EXPECT_NE(msg.find("checksum"), std::string::npos) << msg;
}

TEST(Checkpoint, OlderAndNewerFormatsAreRefusedByName) {
  // Format 2 stores every object state in core/state_io's encoding; a format-1 file (older
  // encodings) cannot be continued and must say so, naming the file, instead of failing
  // deep inside a sampler's reader.
  TempDir dir;
  for (const std::int64_t version : {std::int64_t(1), std::int64_t(99)}) {
    const std::string path = dir.file("v" + std::to_string(version) + ".ckpt");
    write_checkpoint(path, sample(2));
    {
      h5::File f = h5::File::open(path, h5::Access::read_write);
      f.set_attr("/", "format_version", version);
    }
    const std::string msg = input_error_of([&] { read_checkpoint(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(version == 1 ? "checkpoint format changed" : "newer spinlat"), std::string::npos) << msg;
  }
}

TEST(Checkpoint, SystemRoundTripIsBitForBit) {
  TempDir dir;
  const System s = sample_system();
  Checkpoint c;
  store_system(c, s);
  store_system(c, s, "replica/3");
  write_checkpoint(dir.file("s.ckpt"), c);
  const Checkpoint r = read_checkpoint(dir.file("s.ckpt"));
  for (const char* prefix : {"system", "replica/3"}) {
    const System t = restore_system(r, prefix);
    ASSERT_EQ(t.size(), s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      EXPECT_EQ(t.position[i], s.position[i]);
      EXPECT_EQ(t.velocity[i], s.velocity[i]);
      EXPECT_EQ(t.spin[i], s.spin[i]);
      EXPECT_EQ(t.moment[i], s.moment[i]);
      EXPECT_EQ(t.species[i], s.species[i]);
      EXPECT_EQ(t.sublattice[i], s.sublattice[i]);
    }
    EXPECT_EQ(t.cell.h, s.cell.h);
    EXPECT_EQ(t.cell.periodic, s.cell.periodic);
    EXPECT_EQ(t.species_name, s.species_name);
    EXPECT_EQ(t.species_mass, s.species_mass);
  }
  // Inconsistent stored arrays are reported, not loaded.
  Checkpoint broken = r;
  broken.reals["system/spin"].pop_back();
  const std::string msg = input_error_of([&] { restore_system(broken); });
  EXPECT_NE(msg.find("spin"), std::string::npos) << msg;
  EXPECT_THROW(restore_system(r, "absent"), InputError);
}

TEST(Checkpoint, EmptySystemAndEmptyCheckpoint) {
  TempDir dir;
  write_checkpoint(dir.file("e.ckpt"), Checkpoint{});
  const Checkpoint r = read_checkpoint(dir.file("e.ckpt"));
  EXPECT_TRUE(r.blobs.empty() && r.reals.empty() && r.integers.empty());
  Checkpoint c;
  store_system(c, System{});
  EXPECT_EQ(restore_system(c).size(), 0u);
}
