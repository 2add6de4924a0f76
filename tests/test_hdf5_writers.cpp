// /sweep results (NaN fill, point writes, restart after a kill) and the H5MD 1.1 trajectory
// layout, checked by reading the files back (test_hdf5_plots checks them with h5py).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <string>

#include "spinlat/core/error.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/workflows/hdf5_sweep.hpp"
#include "spinlat/io/hdf5_trajectory.hpp"
#include "spinlat/version.hpp"

using namespace spinlat;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "spinlat-h5w-XXXXXX";
    if (::mkdtemp(&tmpl[0]) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

SweepPoint point(double seed) {
  SweepPoint p;
  p.energy = -seed;
  p.energy_err = 0.01 * seed;
  p.magnetization = 0.5 + 0.01 * seed;
  p.magnetization_err = 0.001;
  p.order_parameter = p.magnetization;
  p.order_parameter_err = 0.001;
  p.susceptibility = 10 * seed;
  p.susceptibility_err = 0.5;
  p.specific_heat = 2 * seed;
  p.specific_heat_err = 0.1;
  p.binder = 0.6;
  p.binder_err = 0.002;
  p.tau_int = 3.5;
  p.samples = 1000 + static_cast<std::int64_t>(seed);
  return p;
}

void expect_point(const SweepPoint& a, const SweepPoint& b) {
  EXPECT_EQ(a.energy, b.energy);
  EXPECT_EQ(a.energy_err, b.energy_err);
  EXPECT_EQ(a.magnetization, b.magnetization);
  EXPECT_EQ(a.order_parameter_err, b.order_parameter_err);
  EXPECT_EQ(a.susceptibility, b.susceptibility);
  EXPECT_EQ(a.specific_heat_err, b.specific_heat_err);
  EXPECT_EQ(a.binder, b.binder);
  EXPECT_EQ(a.tau_int, b.tau_int);
  EXPECT_EQ(a.samples, b.samples);
}

/// Four atoms of two species in a sheared cell, periodic along a and b only.
System small_system() {
  System s;
  s.cell.h << 3.0, 0.0, 0.0,  //
      0.5, 2.8, 0.0,          //
      0.1, 0.2, 4.0;
  s.cell.periodic = {true, true, false};
  s.species_name = {"Fe", "Co"};
  s.species_mass = {55.845, 58.933};
  s.add_atom(Vec3(0, 0, 0), 0, 2.2, Vec3(0, 0, 1), 0);
  s.add_atom(Vec3(1.5, 1.4, 0), 0, 2.2, Vec3(0, 1, 0), 1);
  s.add_atom(Vec3(0, 1.4, 2), 1, 1.7, Vec3(1, 0, 0), 0);
  s.add_atom(Vec3(1.5, 0, 2), 1, 0.0, Vec3(0, 0, 0), 1);
  return s;
}

}  // namespace

// ---- /sweep ------------------------------------------------------------------------------------

TEST(SweepWriter, CreatesNaNFilledGridAndWritesPoints) {
  TempDir dir;
  h5::File f = h5::File::create(dir.file("sweep.h5"));
  SweepWriter w(f, {100, 200, 300, 400}, {4, 8});
  EXPECT_EQ(f.shape("/sweep/temperature"), h5::Shape{4});
  EXPECT_EQ(f.read_ints("/sweep/size"), (std::vector<std::int64_t>{4, 8}));
  EXPECT_EQ(f.attr_string("/sweep/temperature", "unit"), "K");
  for (const auto& q : SweepWriter::quantities()) {
    for (const auto& name : {q, q + "_err"}) {
      EXPECT_EQ(f.shape("/sweep/" + name), (h5::Shape{2, 4})) << name;
      for (double v : f.read_doubles("/sweep/" + name)) EXPECT_TRUE(std::isnan(v)) << name;
    }
  }
  for (double v : f.read_doubles("/sweep/tau_int")) EXPECT_TRUE(std::isnan(v));
  EXPECT_EQ(f.read_ints("/sweep/samples"), std::vector<std::int64_t>(8, 0));
  EXPECT_EQ(w.done_count(), 0u);
  EXPECT_TRUE(std::isnan(f.attr_double("/sweep", "critical_temperature")));
  EXPECT_EQ(f.attr_string("/sweep", "critical_temperature_method"), "none");

  w.write(1, 2, point(7));
  EXPECT_TRUE(w.done(1, 2));
  EXPECT_FALSE(w.done(0, 2));
  expect_point(w.read(1, 2), point(7));
  const auto e = f.read_doubles("/sweep/energy");
  EXPECT_EQ(e[1 * 4 + 2], -7.0);  // row-major [size, temperature]
  EXPECT_EQ(std::count_if(e.begin(), e.end(), [](double v) { return std::isnan(v); }), 7);
  EXPECT_EQ(w.done_mask(), (std::vector<std::int64_t>{0, 0, 0, 0, 0, 0, 1, 0}));

  w.write_extra("acceptance", 1, 2, 0.45);
  EXPECT_EQ(f.read_doubles("/sweep/acceptance")[6], 0.45);
  w.set_unit("specific_heat", "k_B/atom");
  EXPECT_EQ(f.attr_string("/sweep/specific_heat_err", "unit"), "k_B/atom");
  w.set_critical_temperature(1043.5, 4.25, "binder-crossing");
  EXPECT_EQ(f.attr_double("/sweep", "critical_temperature"), 1043.5);
  EXPECT_EQ(f.attr_double("/sweep", "critical_temperature_err"), 4.25);
  EXPECT_EQ(f.attr_string("/sweep", "critical_temperature_method"), "binder-crossing");
  EXPECT_THROW(w.write(2, 0, point(1)), std::out_of_range);
}

TEST(SweepWriter, ReopensAndContinuesAfterAKill) {
  TempDir dir;
  const std::string path = dir.file("restart.h5");
  const std::vector<double> T{1.0, 1.5, 2.0};
  const std::vector<int> L{6, 10};
  // A child process writes two points and is killed with SIGKILL (no destructor, no close):
  // what it flushed must be readable and continuable.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      h5::File f = h5::File::create(path);
      write_root_attributes(f, RunInfo{"seed = 1\n", 1, ""});
      SweepWriter w(f, T, L);
      w.write(0, 0, point(1));
      w.write(1, 2, point(2));
      ::raise(SIGKILL);
    } catch (...) {
    }
    ::_exit(3);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;

  {
    h5::File f = h5::File::open(path, h5::Access::read_write);
    SweepWriter w(f, T, L);  // restart: same grid
    EXPECT_EQ(w.done_count(), 2u);
    expect_point(w.read(0, 0), point(1));
    expect_point(w.read(1, 2), point(2));
    w.write(0, 1, point(3));
    EXPECT_EQ(w.done_count(), 3u);
  }
  h5::File f = h5::File::open(path);
  SweepWriter r = SweepWriter::open(f);
  EXPECT_EQ(r.temperatures(), T);
  EXPECT_EQ(r.sizes(), L);
  expect_point(r.read(0, 1), point(3));
  EXPECT_EQ(r.done_mask(), (std::vector<std::int64_t>{1, 1, 0, 0, 0, 1}));
}

TEST(SweepWriter, RefusesToContinueADifferentSweep) {
  TempDir dir;
  const std::string path = dir.file("other.h5");
  {
    h5::File f = h5::File::create(path);
    SweepWriter w(f, {1.0, 2.0}, {4});
  }
  h5::File f = h5::File::open(path, h5::Access::read_write);
  EXPECT_THROW(SweepWriter(f, {1.0, 2.5}, {4}), InputError);
  EXPECT_THROW(SweepWriter(f, {1.0, 2.0}, {4, 8}), InputError);
  EXPECT_THROW(SweepWriter(f, {}, {4}), InputError);
}

// ---- H5MD trajectories ----------------------------------------------------------------------

TEST(TrajectoryWriter, H5mdLayoutShapesAndUnits) {
  TempDir dir;
  const std::string path = dir.file("traj.h5");
  System s = small_system();
  {
    h5::File f = h5::File::create(path);
    TrajectoryWriter w(f, s, TrajectoryOptions{true, true, true, "Tester", 0});
    for (int frame = 0; frame < 3; ++frame) {
      for (std::size_t i = 0; i < s.size(); ++i) {
        s.position[i] += Vec3(0.01 * frame, 0, 0);
        s.velocity[i] = Vec3(i, frame, -1.0);
      }
      s.spin[0] = Vec3(std::sin(0.1 * frame), 0, std::cos(0.1 * frame));
      w.write_frame(s, 10 * frame, 0.001 * 10 * frame);
      w.write_observable("total_energy", 10 * frame, 0.01 * frame, -1.5 + frame);
      w.write_observable("magnetization_vector", 10 * frame, 0.01 * frame, Vec3(0.1, 0.2, frame));
      w.write_observables(10 * frame, 0.01 * frame, {{"magnetization", 0.9}, {"spin_temperature", 300.0 + frame}});
    }
    EXPECT_EQ(w.frames(), 3u);
    EXPECT_EQ(w.samples("total_energy"), 3u);
    EXPECT_EQ(w.samples("absent"), 0u);
  }
  h5::File f = h5::File::open(path);
  // /h5md metadata
  EXPECT_EQ(f.attr_ints("/h5md", "version"), (std::vector<std::int64_t>{1, 1}));
  EXPECT_EQ(f.attr_string("/h5md/author", "name"), "Tester");
  EXPECT_EQ(f.attr_string("/h5md/creator", "name"), "spinlat");
  EXPECT_EQ(f.attr_string("/h5md/creator", "version"), kVersion);
  // box
  EXPECT_EQ(f.attr_int("/particles/all/box", "dimension"), 3);
  EXPECT_EQ(f.attr_strings("/particles/all/box", "boundary"), (std::vector<std::string>{"periodic", "periodic", "none"}));
  EXPECT_EQ(f.shape("/particles/all/box/edges/value"), (h5::Shape{3, 3, 3}));
  const auto edges = f.read_rows("/particles/all/box/edges/value", 2, 1);
  EXPECT_EQ(edges, (std::vector<double>{3.0, 0.0, 0.0, 0.5, 2.8, 0.0, 0.1, 0.2, 4.0}));  // rows = a1, a2, a3
  EXPECT_EQ(f.attr_string("/particles/all/box/edges/value", "unit"), "angstrom");
  // time-dependent particle elements
  const std::vector<std::pair<std::string, std::string>> elements{
      {"position", "angstrom"}, {"velocity", "angstrom ps-1"}, {"moment", "bohr_magneton"}};
  for (const auto& [name, unit] : elements) {
    const std::string g = "/particles/all/" + name;
    EXPECT_TRUE(f.is_group(g)) << g;
    EXPECT_EQ(f.shape(g + "/value"), (h5::Shape{3, 4, 3})) << g;
    EXPECT_EQ(f.shape(g + "/step"), h5::Shape{3}) << g;
    EXPECT_EQ(f.shape(g + "/time"), h5::Shape{3}) << g;
    EXPECT_EQ(f.read_ints(g + "/step"), (std::vector<std::int64_t>{0, 10, 20})) << g;
    EXPECT_DOUBLE_EQ(f.read_doubles(g + "/time")[2], 0.02) << g;
    EXPECT_EQ(f.attr_string(g + "/value", "unit"), unit) << g;
    EXPECT_EQ(f.attr_string(g + "/time", "unit"), "ps") << g;
  }
  // Last frame's values: positions, velocities and moment vectors m_i = |m_i| ê_i.
  const auto pos = f.read_rows("/particles/all/position/value", 2, 1);
  for (std::size_t i = 0; i < s.size(); ++i)
    for (int k = 0; k < 3; ++k) EXPECT_EQ(pos[3 * i + k], s.position[i][k]);
  const auto vel = f.read_rows("/particles/all/velocity/value", 1, 1);
  EXPECT_EQ(vel[3 * 3 + 0], 3.0);
  EXPECT_EQ(vel[3 * 3 + 1], 1.0);
  const auto mom = f.read_rows("/particles/all/moment/value", 2, 1);
  EXPECT_DOUBLE_EQ(mom[0], 2.2 * std::sin(0.2));
  EXPECT_DOUBLE_EQ(mom[2], 2.2 * std::cos(0.2));
  EXPECT_EQ(mom[3 * 2 + 0], 1.7);
  EXPECT_EQ(mom[3 * 3 + 2], 0.0);  // non-magnetic atom
  // fixed elements
  EXPECT_EQ(f.read_ints("/particles/all/species"), (std::vector<std::int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(f.attr_strings("/particles/all/species", "names"), (std::vector<std::string>{"Fe", "Co"}));
  EXPECT_EQ(f.read_doubles("/particles/all/mass")[2], 58.933);
  // observables
  EXPECT_EQ(f.children("/observables"),
            (std::vector<std::string>{"magnetization", "magnetization_vector", "spin_temperature", "total_energy"}));
  EXPECT_EQ(f.shape("/observables/total_energy/value"), h5::Shape{3});
  EXPECT_EQ(f.read_doubles("/observables/total_energy/value"), (std::vector<double>{-1.5, -0.5, 0.5}));
  EXPECT_EQ(f.attr_string("/observables/total_energy/value", "unit"), "eV/atom");
  EXPECT_EQ(f.shape("/observables/magnetization_vector/value"), (h5::Shape{3, 3}));
  EXPECT_EQ(f.read_rows("/observables/magnetization_vector/value", 2, 1), (std::vector<double>{0.1, 0.2, 2.0}));
  EXPECT_EQ(f.attr_string("/observables/magnetization_vector/value", "unit"), "bohr_magneton");
  EXPECT_EQ(f.attr_string("/observables/spin_temperature/value", "unit"), "K");
  EXPECT_FALSE(f.has_attr("/observables/magnetization/value", "unit"));  // dimensionless
  EXPECT_EQ(f.read_ints("/observables/magnetization/step"), (std::vector<std::int64_t>{0, 10, 20}));
}

TEST(TrajectoryWriter, OptionalElementsAndDefaultUnits) {
  TempDir dir;
  h5::File f = h5::File::create(dir.file("spins_only.h5"));
  const System s = small_system();
  TrajectoryOptions o;
  o.position = false;
  o.velocity = false;
  TrajectoryWriter w(f, s, o);
  w.write_frame(s, 0, 0.0);
  EXPECT_FALSE(f.exists("/particles/all/position"));
  EXPECT_TRUE(f.exists("/particles/all/moment/value"));
  EXPECT_EQ(w.frames(), 1u);
  EXPECT_EQ(TrajectoryWriter::default_unit("potential_energy"), "eV/atom");
  EXPECT_EQ(TrajectoryWriter::default_unit("lattice_temperature"), "K");
  EXPECT_EQ(TrajectoryWriter::default_unit("pressure"), "GPa");
  EXPECT_EQ(TrajectoryWriter::default_unit("magnetization"), "");
  w.declare_observable("stress", 6, "GPa");
  w.write_observable("stress", 0, 0.0, std::vector<double>{1, 2, 3, 4, 5, 6});
  EXPECT_EQ(f.attr_string("/observables/stress/value", "unit"), "GPa");
  EXPECT_THROW(w.write_observable("stress", 1, 0.0, std::vector<double>{1, 2}), h5::Error);  // wrong width
  EXPECT_THROW(w.write_observable("a/b", 1, 0.0, 1.0), InputError);
}

TEST(TrajectoryWriter, WithoutFramesWritesNoParticleGroup) {
  TempDir dir;
  const std::string path = dir.file("no_frames.h5");
  const System s = small_system();
  TrajectoryOptions o;
  o.frames = false;
  {
    h5::File f = h5::File::create(path);
    TrajectoryWriter w(f, s, o);
    w.write_observable("total_energy", 0, 0.0, -1.0);
    EXPECT_TRUE(f.is_group("/h5md"));
    EXPECT_FALSE(f.exists("/particles"));  // no 0-frame datasets
    EXPECT_THROW(w.write_frame(s, 0, 0.0), std::logic_error);
  }
  // A restart reopens it and appends.
  h5::File f = h5::File::open(path, h5::Access::read_write);
  TrajectoryWriter w(f, s, o);
  w.write_observable("total_energy", 10, 0.0, -2.0);
  EXPECT_EQ(f.read_doubles("/observables/total_energy/value"), (std::vector<double>{-1.0, -2.0}));
  EXPECT_FALSE(f.exists("/particles"));
}

TEST(TrajectoryWriter, SeveralParticleGroupsShareAFile) {
  TempDir dir;
  const std::string path = dir.file("groups.h5");
  System big = small_system();
  big.add_atom(Vec3(2, 2, 2), 0, 2.2, Vec3(0, 0, 1));
  {
    h5::File f = h5::File::create(path);
    TrajectoryOptions a, b;
    a.particles = "L4";
    a.observables = "/observables/L4";
    b.particles = "L5";
    b.observables = "/observables/L5";
    TrajectoryWriter wa(f, small_system(), a), wb(f, big, b);
    wa.write_frame(small_system(), 0, 0.0);
    wb.write_frame(big, 0, 0.0);
    wb.write_frame(big, 1, 0.0);
    wa.write_observable("magnetization", 0, 0.0, 0.5);
    wb.write_observable("magnetization", 0, 0.0, 0.25);
    wb.truncate_after(0);
    EXPECT_EQ(wa.frames(), 1u);
    EXPECT_EQ(wb.frames(), 1u);
  }
  h5::File f = h5::File::open(path);
  EXPECT_EQ(f.shape("/particles/L4/position/value"), (h5::Shape{1, 4, 3}));
  EXPECT_EQ(f.shape("/particles/L5/moment/value"), (h5::Shape{1, 5, 3}));
  EXPECT_EQ(f.read_doubles("/observables/L5/magnetization/value"), std::vector<double>{0.25});
  EXPECT_EQ(f.read_doubles("/observables/L4/magnetization/value"), std::vector<double>{0.5});
}

TEST(TrajectoryWriter, RestartTruncatesToTheCheckpointAndRepairsTornAppends) {
  TempDir dir;
  const std::string path = dir.file("resume.h5");
  const System s = small_system();
  {
    h5::File f = h5::File::create(path);
    TrajectoryWriter w(f, s);
    for (int k = 0; k < 5; ++k) {
      w.write_frame(s, 100 * k, 0.1 * k);
      w.write_observable("total_energy", 100 * k, 0.1 * k, k);
    }
    // A kill between the appends of one element: value longer than step and time.
    f.append("/particles/all/position/value", std::vector<double>(12, 9.0));
    f.append("/observables/total_energy/value", std::vector<double>{99.0});
  }
  {
    h5::File f = h5::File::open(path, h5::Access::read_write);
    TrajectoryWriter w(f, s);  // reopening repairs the torn frame
    EXPECT_EQ(f.shape("/particles/all/position/value")[0], 5u);
    EXPECT_EQ(f.shape("/observables/total_energy/value")[0], 5u);
    w.truncate_after(200);  // the checkpoint was taken at step 200
    EXPECT_EQ(w.frames(), 3u);
    EXPECT_EQ(f.read_ints("/particles/all/box/edges/step"), (std::vector<std::int64_t>{0, 100, 200}));
    EXPECT_EQ(w.samples("total_energy"), 3u);
    w.write_frame(s, 300, 0.3);
    w.write_observable("total_energy", 300, 0.3, 30.0);
  }
  {
    h5::File f = h5::File::open(path);
    EXPECT_EQ(f.read_ints("/particles/all/moment/step"), (std::vector<std::int64_t>{0, 100, 200, 300}));
    EXPECT_EQ(f.read_doubles("/observables/total_energy/value"), (std::vector<double>{0, 1, 2, 30}));
  }

  System other = small_system();
  other.add_atom(Vec3(1, 1, 1), 0, 2.2, Vec3(0, 0, 1));
  h5::File g = h5::File::open(path, h5::Access::read_write);
  EXPECT_THROW(TrajectoryWriter(g, other), InputError);
}
