// The HDF5 wrapper: every kind of dataset and attribute written, closed, reopened and read
// back exactly; errors name the file and the object; root attributes; check_writable.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

#include "spinlat/core/error.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/version.hpp"

using namespace spinlat;

namespace {

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "spinlat-hdf5-XXXXXX";
    if (::mkdtemp(&tmpl[0]) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Hdf5Paths, SplitAndJoin) {
  EXPECT_EQ(h5::split_path("/a/b//c/"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(h5::split_path("/").empty());
  EXPECT_EQ(h5::join_path("/a/", "/b"), "/a/b");
  EXPECT_EQ(h5::join_path("/", "x"), "/x");
}

TEST(Hdf5File, DatasetsRoundTripExactly) {
  TempDir dir;
  const std::string path = dir.file("data.h5");
  // Values chosen to expose any lossy conversion: subnormal, extremes, NaN, int64 limits.
  const std::vector<double> d{0.1, -1e-310, 1.7976931348623157e308, std::numeric_limits<double>::quiet_NaN(),
                              -0.0, 3.0};
  const std::vector<std::int64_t> i{std::numeric_limits<std::int64_t>::min(), -1, 0,
                                    std::numeric_limits<std::int64_t>::max()};
  std::vector<double> grid(2 * 3 * 4);
  for (std::size_t k = 0; k < grid.size(); ++k) grid[k] = 0.5 * k;
  const std::string bytes("a\0b\xff\n", 5);
  {
    h5::File f = h5::File::create(path);
    f.write("/deep/nested/group/d", d);  // intermediate groups created on demand
    f.write("/i", i);
    f.write("/grid", grid, {2, 3, 4});
    f.write_scalar("/scalar_d", 2.5);
    f.write_scalar("/scalar_i", std::int64_t{-7});
    f.write_string("/text", "héllo = \"toml\"\n[x]\n");
    f.write_strings("/texts", {"Fe", "", "Co Ni"});
    f.write_bytes("/bytes", bytes);
    f.write("/empty", std::vector<double>{});
    f.close();
  }
  h5::File f = h5::File::open(path);
  EXPECT_FALSE(f.writable());
  const auto rd = f.read_doubles("/deep/nested/group/d");
  ASSERT_EQ(rd.size(), d.size());
  for (std::size_t k = 0; k < d.size(); ++k) {
    if (std::isnan(d[k])) EXPECT_TRUE(std::isnan(rd[k]));
    else {
      EXPECT_EQ(std::signbit(rd[k]), std::signbit(d[k]));
      EXPECT_EQ(rd[k], d[k]);
    }
  }
  EXPECT_EQ(f.read_ints("/i"), i);
  EXPECT_EQ(f.shape("/grid"), (h5::Shape{2, 3, 4}));
  EXPECT_EQ(f.read_doubles("/grid"), grid);
  EXPECT_EQ(f.read_rows("/grid", 1, 1), std::vector<double>(grid.begin() + 12, grid.end()));
  EXPECT_TRUE(f.shape("/scalar_d").empty());
  EXPECT_EQ(f.read_doubles("/scalar_d"), std::vector<double>{2.5});
  EXPECT_EQ(f.read_ints("/scalar_i"), std::vector<std::int64_t>{-7});
  EXPECT_EQ(f.read_string("/text"), "héllo = \"toml\"\n[x]\n");
  EXPECT_EQ(f.read_strings("/texts"), (std::vector<std::string>{"Fe", "", "Co Ni"}));
  EXPECT_EQ(f.read_bytes("/bytes"), bytes);
  EXPECT_EQ(f.shape("/empty"), h5::Shape{0});
  EXPECT_TRUE(f.read_doubles("/empty").empty());
  // Numeric conversion on reading: ints as doubles.
  EXPECT_EQ(f.read_doubles("/scalar_i"), std::vector<double>{-7.0});

  EXPECT_TRUE(f.exists("/deep/nested"));
  EXPECT_TRUE(f.is_group("/deep/nested"));
  EXPECT_FALSE(f.is_dataset("/deep/nested"));
  EXPECT_TRUE(f.is_dataset("/i"));
  EXPECT_FALSE(f.exists("/nope/deeper"));
  EXPECT_FALSE(f.exists("/i/below_a_dataset"));
  EXPECT_EQ(f.children("/"), (std::vector<std::string>{"bytes", "deep", "empty", "grid", "i", "scalar_d",
                                                         "scalar_i", "text", "texts"}));
  EXPECT_EQ(f.datasets_below("/deep"), std::vector<std::string>{"nested/group/d"});
}

TEST(Hdf5File, AttributesRoundTrip) {
  TempDir dir;
  const std::string path = dir.file("attrs.h5");
  {
    h5::File f = h5::File::create(path);
    f.create_group("/g/h");
    f.write("/g/d", std::vector<double>{1, 2});
    f.set_attr("/", "s", "text");
    f.set_attr("/", "d", 1.25);
    f.set_attr("/", "i", -3);                                  // int → int64
    f.set_attr("/", "ll", 9007199254740993LL);                 // not representable as double
    f.set_attr("/", "u", std::uint64_t{18446744073709551615ull});
    f.set_attr("/g/h", "dv", std::vector<double>{1.5, -2.5});
    f.set_attr("/g/h", "iv", std::vector<std::int64_t>{1, 1});
    f.set_attr("/g/d", "unit", "eV");
    f.set_attr("/g/d", "sv", std::vector<std::string>{"periodic", "none", "periodic"});
    f.set_attr("/g/d", "ev", std::vector<double>{});
    f.set_attr("/", "d", 2.5);  // replacing keeps one attribute of the new value
    f.set_attr("/", "s", std::vector<std::string>{"now", "an array"});  // and may change its type
  }
  h5::File f = h5::File::open(path, h5::Access::read_write);
  EXPECT_EQ(f.attr_double("/", "d"), 2.5);
  EXPECT_EQ(f.attr_int("/", "i"), -3);
  EXPECT_EQ(f.attr_int("/", "ll"), 9007199254740993LL);
  EXPECT_EQ(f.attr_uint("/", "u"), 18446744073709551615ull);
  EXPECT_EQ(f.attr_doubles("/g/h", "dv"), (std::vector<double>{1.5, -2.5}));
  EXPECT_EQ(f.attr_ints("/g/h", "iv"), (std::vector<std::int64_t>{1, 1}));
  EXPECT_EQ(f.attr_string("/g/d", "unit"), "eV");
  EXPECT_EQ(f.attr_strings("/g/d", "sv"), (std::vector<std::string>{"periodic", "none", "periodic"}));
  EXPECT_TRUE(f.attr_doubles("/g/d", "ev").empty());
  EXPECT_EQ(f.attr_strings("/", "s"), (std::vector<std::string>{"now", "an array"}));
  EXPECT_TRUE(f.has_attr("/g/d", "unit"));
  EXPECT_FALSE(f.has_attr("/g/d", "nope"));
  EXPECT_FALSE(f.has_attr("/missing", "unit"));
  EXPECT_EQ(f.attr_names("/"), (std::vector<std::string>{"d", "i", "ll", "s", "u"}));
  // A numeric attribute read as a string, or an array read as a scalar, is an error.
  EXPECT_THROW(f.attr_string("/", "d"), h5::Error);
  EXPECT_THROW(f.attr_double("/g/h", "dv"), h5::Error);
  EXPECT_THROW(f.attr_double("/", "s"), h5::Error);
}

TEST(Hdf5File, AppendableDatasetsGrowAlongTheFirstAxis) {
  TempDir dir;
  const std::string path = dir.file("append.h5");
  {
    h5::File f = h5::File::create(path);
    f.create_appendable("/series/value", h5::Type::float64, {2, 3}, 4);
    f.create_appendable("/series/step", h5::Type::int64, {});
    EXPECT_EQ(f.shape("/series/value"), (h5::Shape{0, 2, 3}));
    for (int frame = 0; frame < 10; ++frame) {  // crosses two chunk boundaries
      std::vector<double> v(6);
      for (int k = 0; k < 6; ++k) v[k] = 10 * frame + k;
      f.append("/series/value", v);
      f.append("/series/step", std::vector<std::int64_t>{frame * 5});
    }
    f.append("/series/value", std::vector<double>(12, -1.0));  // two frames at once
    EXPECT_THROW(f.append("/series/value", std::vector<double>(5, 0.0)), h5::Error);  // not whole frames
    f.flush();
  }
  h5::File f = h5::File::open(path, h5::Access::read_write);
  EXPECT_EQ(f.shape("/series/value"), (h5::Shape{12, 2, 3}));
  const auto v = f.read_doubles("/series/value");
  EXPECT_EQ(v[6 * 7 + 4], 74.0);
  EXPECT_EQ(v[6 * 11 + 5], -1.0);
  EXPECT_EQ(f.read_ints("/series/step")[9], 45);
  // Reopened files keep appending; resize truncates.
  f.append("/series/step", std::vector<std::int64_t>{50});
  EXPECT_EQ(f.shape("/series/step"), h5::Shape{11});
  f.resize("/series/value", 3);
  EXPECT_EQ(f.shape("/series/value"), (h5::Shape{3, 2, 3}));
  EXPECT_EQ(f.read_rows("/series/value", 2, 1)[0], 20.0);
}

TEST(Hdf5File, FilledDatasetsAndElementWrites) {
  TempDir dir;
  h5::File f = h5::File::create(dir.file("fill.h5"));
  f.create_filled("/m", {2, 3}, std::numeric_limits<double>::quiet_NaN());
  f.create_filled("/mask", {2, 3}, std::int64_t{0});
  f.write_element("/m", {1, 2}, 4.5);
  f.write_element("/mask", {1, 2}, std::int64_t{1});
  const auto m = f.read_doubles("/m");
  for (std::size_t k = 0; k < 5; ++k) EXPECT_TRUE(std::isnan(m[k]));
  EXPECT_EQ(m[5], 4.5);
  EXPECT_EQ(f.read_ints("/mask"), (std::vector<std::int64_t>{0, 0, 0, 0, 0, 1}));
  const std::string msg = error_of([&] { f.write_element("/m", {2, 0}, 1.0); });
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
}

TEST(Hdf5File, ErrorsNameTheFileAndTheObject) {
  TempDir dir;
  const std::string path = dir.file("err.h5");
  {
    h5::File f = h5::File::create(path);
    f.write("/x", std::vector<double>{1});
    const std::string msg = error_of([&] { f.read_doubles("/no/such"); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("/no/such"), std::string::npos) << msg;
    EXPECT_THROW(f.create_group("/x/y"), h5::Error);  // /x is a dataset
    EXPECT_THROW(f.write("/bad", std::vector<double>{1, 2, 3}, {2, 2}), h5::Error);
  }
  {
    h5::File f = h5::File::open(path);  // read-only
    const std::string msg = error_of([&] { f.write("/y", std::vector<double>{1}); });
    EXPECT_NE(msg.find("read-only"), std::string::npos) << msg;
  }
  std::string msg = error_of([&] { h5::File::open(dir.file("missing.h5")); });
  EXPECT_NE(msg.find("missing.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("No such file"), std::string::npos) << msg;
  std::ofstream(dir.file("text.h5")) << "not hdf5\n";
  msg = error_of([&] { h5::File::open(dir.file("text.h5")); });
  EXPECT_NE(msg.find("not an HDF5 file"), std::string::npos) << msg;
  EXPECT_FALSE(h5::File::is_hdf5(dir.file("text.h5")));
  EXPECT_TRUE(h5::File::is_hdf5(path));
}

TEST(Hdf5File, MoveKeepsOneOwner) {
  TempDir dir;
  h5::File a = h5::File::create(dir.file("move.h5"));
  h5::File b = std::move(a);
  EXPECT_FALSE(a.is_open());
  EXPECT_TRUE(b.is_open());
  b.write("/x", std::vector<double>{1});
  b.close();
  EXPECT_FALSE(b.is_open());
  EXPECT_EQ(h5::File::open(dir.file("move.h5")).read_doubles("/x"), std::vector<double>{1});
}

TEST(Hdf5File, ClosesEveryIdentifierAlsoOnErrors) {
  // HDF5 keeps a file open while any of its objects is: a leaked identifier would keep the
  // output from being closed (and flushed) at the end of a run.
  TempDir dir;
  {
    h5::File f = h5::File::create(dir.file("leak.h5"));
    f.write("/a/b", std::vector<double>{1, 2, 3});
    f.set_attr("/a/b", "unit", "eV");
    f.set_attr("/a", "names", std::vector<std::string>{"x", "y"});
    f.create_appendable("/s", h5::Type::float64, {3});
    f.append("/s", std::vector<double>{1, 2, 3});
    (void)f.read_doubles("/a/b");
    (void)f.attr_strings("/a", "names");
    (void)f.datasets_below("/");
    EXPECT_THROW(f.read_doubles("/missing"), h5::Error);
    EXPECT_THROW(f.attr_double("/a/b", "unit"), h5::Error);
    EXPECT_THROW(f.append("/s", std::vector<double>{1}), h5::Error);
    EXPECT_THROW(f.write_element("/a/b", {7}, 1.0), h5::Error);
    EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 1);  // only the file itself
  }
  EXPECT_EQ(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL), 0);
}

TEST(Hdf5Root, RunAttributes) {
  TempDir dir;
  const std::string path = dir.file("run.h5");
  const std::string toml = "title = \"bcc Fe\"\nseed = 42\n[structure]\nlattice = \"bcc\"\n";
  {
    h5::File f = h5::File::create(path);
    write_root_attributes(f, RunInfo{toml, 18446744073709551557ull, "bcc Fe"});
  }
  h5::File f = h5::File::open(path);
  EXPECT_EQ(f.attr_string("/", "spinlat_version"), kVersion);
  EXPECT_EQ(f.attr_string("/", "input"), toml);
  EXPECT_EQ(f.attr_uint("/", "seed"), 18446744073709551557ull);
  EXPECT_EQ(f.attr_string("/", "title"), "bcc Fe");
  EXPECT_NE(f.attr_string("/", "units").find("energy=eV"), std::string::npos);
  const std::string created = f.attr_string("/", "created");
  ASSERT_EQ(created.size(), 20u) << created;  // 2024-05-01T12:34:56Z
  EXPECT_EQ(created[4], '-');
  EXPECT_EQ(created[10], 'T');
  EXPECT_EQ(created.back(), 'Z');
}

TEST(CheckWritable, AcceptsAWritableDirectory) {
  TempDir dir;
  EXPECT_NO_THROW(check_writable(dir.file("out.h5")));
  // The probe file is removed again.
  EXPECT_NE(::access(dir.file("out.h5").c_str(), F_OK), 0);
}

TEST(CheckWritable, MissingDirectoryIsAClearInputError) {
  TempDir dir;
  const std::string out = dir.file("no/such/dir/out.h5");
  try {
    check_writable(out);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
    EXPECT_NE(msg.find(dir.file("no/such/dir")), std::string::npos) << msg;
  }
}

TEST(CheckWritable, NotADirectoryAndOutputIsADirectory) {
  TempDir dir;
  std::ofstream(dir.file("plain")) << "x";
  EXPECT_THROW(check_writable(dir.file("plain/out.h5")), InputError);
  ::mkdir(dir.file("sub").c_str(), 0755);
  EXPECT_THROW(check_writable(dir.file("sub")), InputError);
}

TEST(CheckWritable, NotEnoughFreeSpaceIsReported) {
  // A disk cannot be filled in a unit test; asking for more than any disk has takes the
  // same statvfs path.
  TempDir dir;
  try {
    check_writable(dir.file("out.h5"), std::uint64_t{1} << 62);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("full"), std::string::npos) << e.what();
  }
}

TEST(CheckWritable, ReadOnlyDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root may write anywhere";
  TempDir dir;
  const std::string ro = dir.file("ro");
  ::mkdir(ro.c_str(), 0555);
  EXPECT_THROW(check_writable(ro + "/out.h5"), InputError);
  ::chmod(ro.c_str(), 0755);
}
