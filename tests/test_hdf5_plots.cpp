// Independent readers of spinlat's HDF5 output: h5py checks the H5MD 1.1 and /sweep layout
// (so that the files are not only readable by our own wrapper), and the analysis scripts
// (analysis/plot_sweep.py, analysis/plot_observables.py) turn them into PNGs.
// Skipped when /usr/bin/python3 lacks h5py, numpy or matplotlib.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "spinlat/io/hdf5.hpp"
#include "spinlat/workflows/hdf5_sweep.hpp"
#include "spinlat/io/hdf5_trajectory.hpp"

using namespace spinlat;

namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "spinlat-h5p-XXXXXX";
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

const char* kPython = "/usr/bin/python3";
const std::string kAnalysis = SPINLAT_SOURCE_DIR "/analysis/";

bool python_has_h5py() {
  // Asked once per process: starting Python and matplotlib is the slow part of these tests.
  static const bool ok =
      std::system((std::string(kPython) + " -c 'import h5py, numpy, matplotlib' > /dev/null 2>&1").c_str()) == 0;
  return ok;
}

/// Runs a command; returns its exit status and (in `out`) stdout+stderr.
int run(const std::string& cmd, const std::string& log, std::string& out) {
  const int rc = std::system((cmd + " > '" + log + "' 2>&1").c_str());
  out = slurp(log);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
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

void write_synthetic_sweep(const std::string& path) {
  h5::File f = h5::File::create(path);
  write_root_attributes(f, RunInfo{"[sweep]\n", 5, "synthetic"});
  std::vector<double> T;
  for (int k = 0; k <= 10; ++k) T.push_back(800 + 40 * k);
  SweepWriter w(f, T, {4, 8});
  const double tc = 1000;
  for (std::size_t il = 0; il < 2; ++il) {
    const double L = il == 0 ? 4 : 8;
    for (std::size_t it = 0; it < T.size(); ++it) {
      if (il == 1 && it >= 9) continue;  // unfinished points stay NaN
      const double x = (T[it] - tc) / tc * L;
      SweepPoint p;
      p.magnetization = 0.5 * (1 - std::tanh(x));
      p.magnetization_err = 0.01;
      p.order_parameter = p.magnetization;
      p.order_parameter_err = 0.01;
      p.energy = -0.1 + 1e-4 * T[it];
      p.energy_err = 1e-4;
      p.susceptibility = L * L / (1 + x * x);
      p.susceptibility_err = 0.05 * p.susceptibility;
      p.specific_heat = 1 / (1 + x * x);
      p.specific_heat_err = 0.02;
      p.binder = 2.0 / 3.0 * 0.5 * (1 - std::tanh(x));
      p.binder_err = 0.005;
      p.tau_int = 2;
      p.samples = 4000;
      w.write(il, it, p);
    }
  }
  w.set_critical_temperature(tc, 12.5, "binder-crossing");
}

}  // namespace

TEST(Hdf5Interop, H5pyReadsTheH5mdAndSweepLayout) {
  if (!python_has_h5py()) GTEST_SKIP() << kPython << " lacks h5py/numpy/matplotlib";
  TempDir dir;
  const std::string traj = dir.file("traj.h5"), sweep = dir.file("sweep.h5");
  {
    h5::File f = h5::File::create(traj);
    write_root_attributes(f, RunInfo{"seed = 3\n", 3, ""});
    const System s = small_system();
    TrajectoryWriter w(f, s);
    for (int k = 0; k < 2; ++k) {
      w.write_frame(s, k, 0.5 * k);
      w.write_observable("magnetization_vector", k, 0.5 * k, Vec3(1, 2, 3));
    }
  }
  write_synthetic_sweep(sweep);
  // The checks are written in Python so that they use h5py's reader, not ours.
  const std::string script = dir.file("check.py");
  std::ofstream(script) << R"PY(
import sys, h5py, numpy as np
t, s = sys.argv[1], sys.argv[2]
with h5py.File(t, "r") as f:
    assert list(f["h5md"].attrs["version"]) == [1, 1]
    assert f["h5md/creator"].attrs["name"] == "spinlat"
    assert "name" in f["h5md/author"].attrs
    box = f["particles/all/box"]
    assert box.attrs["dimension"] == 3
    assert [b.decode() if isinstance(b, bytes) else b for b in box.attrs["boundary"]] == ["periodic", "periodic", "none"]
    assert box["edges/value"].shape == (2, 3, 3)
    np.testing.assert_allclose(box["edges/value"][0][1], [0.5, 2.8, 0.0])
    for name, unit in [("position", "angstrom"), ("velocity", "angstrom ps-1"), ("moment", "bohr_magneton")]:
        g = f["particles/all"][name]
        assert g["value"].shape == (2, 4, 3), name
        assert g["value"].maxshape[0] is None, name
        assert g["step"].dtype.kind == "i" and g["time"].dtype.kind == "f"
        assert g["value"].attrs["unit"] == unit, (name, g["value"].attrs["unit"])
    assert f["particles/all/species"].shape == (4,)
    o = f["observables/magnetization_vector"]
    assert o["value"].shape == (2, 3) and list(o["step"][:]) == [0, 1]
    assert f.attrs["input"] == "seed = 3\n" and int(f.attrs["seed"]) == 3
with h5py.File(s, "r") as f:
    g = f["sweep"]
    assert g["energy"].shape == (2, 11) and g["binder_err"].shape == (2, 11)
    assert np.isnan(g["energy"][1, 10]) and g["done"][1, 10] == 0 and g["done"][0, 10] == 1
    assert g.attrs["critical_temperature"] == 1000.0
    assert g.attrs["critical_temperature_method"] == "binder-crossing"
print("h5py-ok")
)PY";
  std::string out;
  const int rc = run(std::string(kPython) + " '" + script + "' '" + traj + "' '" + sweep + "'", dir.file("log"), out);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("h5py-ok"), std::string::npos) << out;
}

TEST(Hdf5Interop, PlotSweepWritesAPngAndPrintsTc) {
  if (!python_has_h5py()) GTEST_SKIP() << kPython << " lacks h5py/numpy/matplotlib";
  TempDir dir;
  const std::string sweep = dir.file("sweep.h5");
  write_synthetic_sweep(sweep);
  std::string out;
  // No -o: the PNG goes next to the .h5 as <stem>_sweep.png.
  const int rc = run(std::string(kPython) + " " + kAnalysis + "plot_sweep.py '" + sweep + "'", dir.file("log"), out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Tc = 1000 +- 12.5 K (binder-crossing)"), std::string::npos) << out;
  const std::string data = slurp(dir.file("sweep_sweep.png"));
  ASSERT_GT(data.size(), 1000u);
  EXPECT_EQ(data.substr(1, 3), "PNG");
  // --beside: a second sweep drawn dashed, its Tc printed on its own line.
  ASSERT_EQ(run(std::string(kPython) + " " + kAnalysis + "plot_sweep.py '" + sweep + "' --beside '" + sweep +
                    "' --beside-label 'the same sweep' -o '" + dir.file("b.png") + "'",
                dir.file("log3"), out),
            0)
      << out;
  EXPECT_NE(out.find("the same sweep: Tc = 1000 +- 12.5 K (binder-crossing)"), std::string::npos) << out;
  // A file without /sweep is a clear error, not a traceback.
  { h5::File f = h5::File::create(dir.file("empty.h5")); }
  EXPECT_NE(run(std::string(kPython) + " " + kAnalysis + "plot_sweep.py '" + dir.file("empty.h5") + "' -o '" +
                    dir.file("x.png") + "'",
                dir.file("log2"), out),
            0);
  EXPECT_NE(out.find("no /sweep"), std::string::npos) << out;
  EXPECT_EQ(out.find("Traceback"), std::string::npos) << out;
}

TEST(Hdf5Interop, PlotSweepShowsWhyThereIsNoTcAndTheReweightedCurves) {
  if (!python_has_h5py()) GTEST_SKIP() << kPython << " lacks h5py/numpy/matplotlib";
  TempDir dir;
  const std::string sweep = dir.file("none.h5");
  write_synthetic_sweep(sweep);
  {
    h5::File f = h5::File::open(sweep, h5::Access::read_write);
    SweepWriter w = SweepWriter::open(f);
    const std::string note = "no transition in the scanned range 900-1100 K: U4 falls with L at every temperature";
    w.set_critical_temperature(SweepPoint::nan, SweepPoint::nan, "none", note);
    ReweightedCurves c;
    for (int k = 0; k <= 40; ++k) c.temperature.push_back(900.0 + 5.0 * k);
    c.sizes = w.sizes();
    for (auto* q : {&c.binder, &c.susceptibility, &c.order_parameter, &c.energy, &c.specific_heat}) {
      q->assign(c.sizes.size(), std::vector<Value>(c.temperature.size(), Value{0.5, 0.01}));
    }
    c.effective_samples.assign(c.sizes.size(), std::vector<double>(c.temperature.size(), 100.0));
    c.blocks = 16;
    w.write_reweighted(c);
    EXPECT_EQ(f.attr_string("/sweep", "critical_temperature_note"), note);
    EXPECT_EQ(f.shape("/sweep/reweighted/binder"), (h5::Shape{c.sizes.size(), c.temperature.size()}));
  }
  std::string out;
  const int rc = run(std::string(kPython) + " " + kAnalysis + "plot_sweep.py '" + sweep + "' -o '" + dir.file("n.png") + "'",
                     dir.file("log"), out);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("Tc = none: no transition in the scanned range 900-1100 K"), std::string::npos) << out;
  EXPECT_GT(slurp(dir.file("n.png")).size(), 1000u);
}

TEST(Hdf5Interop, PlotObservablesWritesAPng) {
  if (!python_has_h5py()) GTEST_SKIP() << kPython << " lacks h5py/numpy/matplotlib";
  TempDir dir;
  const std::string traj = dir.file("run.h5"), png = dir.file("obs.png");
  {
    h5::File f = h5::File::create(traj);
    TrajectoryWriter w(f, small_system());
    for (int k = 0; k < 50; ++k)
      w.write_observables(k, 0.001 * k, {{"potential_energy", -4.0 + 0.01 * std::sin(k)},
                                         {"kinetic_energy", 0.03},
                                         {"total_energy", -3.97},
                                         {"magnetization", 0.8},
                                         {"spin_temperature", 300 + std::cos(k)},
                                         {"lattice_temperature", 300.0}});
    // Stage boundaries, drawn as dashed lines.
    f.write_strings("/stages/type", {"md", "sld"});
    f.write("/stages/first_step", std::vector<std::int64_t>{0, 25});
    f.write("/stages/steps", std::vector<std::int64_t>{25, 25});
    f.set_attr("/", "title", "two stages");
  }
  std::string out;
  const int rc = run(std::string(kPython) + " " + kAnalysis + "plot_observables.py '" + traj + "' -o '" + png + "'",
                     dir.file("log"), out);
  ASSERT_EQ(rc, 0) << out;
  const std::string data = slurp(png);
  ASSERT_GT(data.size(), 1000u);
  EXPECT_EQ(data.substr(1, 3), "PNG");
}
