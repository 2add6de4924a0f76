// Training the native model (spinlat/learned/tools/train.hpp): it must learn an exactly learnable
// analytic potential, keep frozen parts bit for bit, restart bit for bit, fit e0 exactly and
// name the key of a bad config.
//
// Data: distorted bcc cells (16 atoms, a = 2.75..2.95 Å, random displacements and random moment
// directions, |m| = 2.2 μB) labelled with spinlat's own terms through Hamiltonian::compute:
// radial exchange E = −Σ J(r) ê_i·ê_j with Ma-Dudarev J(r) = J0 (1 − r/rc)³, plus a Morse
// pair potential. Both are sums over pairs within 3.6 Å of spin-rotation-invariant pair
// functions, which a one-layer model with r_max = 4 Å and spin_orbit = false represents.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "spinlat/core/error.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/lattice/pair.hpp"
#include "spinlat/learned/tools/train.hpp"
#include "spinlat/learned/tools/train_command.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/radial_exchange.hpp"

namespace spinlat {
namespace {

namespace fs = std::filesystem;

// Random labelled frames; species "Co" for a fraction `co` of the atoms (0: pure Fe).
std::vector<Frame> analytic_frames(int count, std::uint64_t seed, double co = 0.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<Frame> out;
  for (int f = 0; f < count; ++f) {
    const double a = 2.75 + 0.2 * u(rng);
    System s;
    s.cell.h = 2.0 * a * Mat3::Identity();
    s.species_name = {"Fe", "Co"};
    s.species_mass = {55.845, 58.933};
    for (int x = 0; x < 2; ++x)
      for (int y = 0; y < 2; ++y)
        for (int z = 0; z < 2; ++z)
          for (int b = 0; b < 2; ++b) {
            const Vec3 r = a * (Vec3(x, y, z) + 0.5 * b * Vec3(1, 1, 1)) + 0.12 * Vec3(g(rng), g(rng), g(rng));
            const Vec3 e(g(rng), g(rng), g(rng));
            s.add_atom(r, u(rng) < co ? 1 : 0, 2.2, e.normalized());
          }
    Hamiltonian h;
    h.add(std::make_unique<RadialExchange>("ma-dudarev", RadialFunction::ma_dudarev(0.05, 3.6)));
    PairFunction morse;
    morse.style = PairFunction::Style::morse;
    morse.D0 = 0.1;
    morse.alpha = 1.5;
    morse.r0 = 2.6;
    morse.cutoff = 3.6;
    morse.shift = true;
    morse.finalize();
    h.add(std::make_unique<PairPotential>(morse));
    h.bind(s);
    std::vector<Vec3> force, mag;
    Derivatives d;
    d.force = &force;
    d.magnetic_force = &mag;
    Frame fr(s);
    fr.info["REF_energy"] = h.compute(s, d);
    fr.vectors["REF_forces"] = force;
    fr.vectors["REF_magforces"] = mag;
    out.push_back(std::move(fr));
  }
  return out;
}

// A scratch directory per test with train.xyz (24 frames) and valid.xyz (8 frames).
class TrainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("spinlat_train_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
            std::to_string(::getpid()));
    fs::create_directories(dir_);
    write_extxyz((dir_ / "train.xyz").string(), analytic_frames(24, 11));
    write_extxyz((dir_ / "valid.xyz").string(), analytic_frames(8, 12));
    at::set_num_threads(1);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // A small model: channels 8, l_max 1.
  std::string config(const std::string& train_extra = "", const std::string& model_extra = "") const {
    return "seed = 3\nthreads = 1\n[model]\nelements = [\"Fe\"]\nr_max = 4.0\nchannels = 8\nl_max = 1\n"
           "correlation = 2\nreadout_hidden = [16]\nmoment_basis = 2\n" + model_extra +
           "[data]\ntrain = [\"train.xyz\"]\nvalid = [\"valid.xyz\"]\n"
           "[train]\nbatch_size = 4\nlr = 1e-2\n" +
           (train_extra.find("log =") == std::string::npos ? "log = \"\"\n" : "") + train_extra;
  }
  TrainOptions options(const std::string& text) const { return parse_train_config(text, path("train.toml")); }

  fs::path dir_;
};

std::vector<at::Tensor> snapshot(NativeModel& m) {
  std::vector<at::Tensor> out;
  for (const auto& p : m->parameters()) out.push_back(p.detach().clone());
  return out;
}

TEST_F(TrainTest, LearnsAnExactlyLearnableExchangeAndPairPotential) {
  Trainer t(options(config("epochs = 25\n")));
  const Metrics before = t.evaluate_valid();
  while (!t.finished()) t.step();
  const Metrics after = t.evaluate_valid(/*best=*/true);
  std::cout << "valid RMSE before/after: forces " << before.force_rmse() << " -> " << after.force_rmse()
            << " eV/Å, magnetic forces " << before.mag_rmse() << " -> " << after.mag_rmse() << " eV/μB, energy "
            << before.energy_rmse() << " -> " << after.energy_rmse() << " eV/atom\n";
  EXPECT_LT(after.force_rmse(), before.force_rmse() / 5.0);
  EXPECT_LT(after.mag_rmse(), before.mag_rmse() / 5.0);
}

TEST_F(TrainTest, FrozenPartsStayBitIdenticalWhenFineTuning) {
  {
    Trainer t(options(config("epochs = 1\n")));
    t.step();
    save_native_model_atomic(t.model(), path("pre.spl"));
  }
  // Architecture keys may repeat the model's values; e0 may not be refitted implicitly.
  Trainer t(options(config("epochs = 2\ninit = \"pre.spl\"\nfreeze = [\"embedding\", \"interaction\"]\n")));
  NativeModel start = load_native_model(path("pre.spl"));
  while (!t.finished()) t.step();
  std::size_t frozen = 0, changed = 0;
  for (const auto& part : NativeModelImpl::parts()) {
    const auto a = start->parameters_of(part), b = t.model()->parameters_of(part);
    ASSERT_EQ(a.size(), b.size()) << part;
    for (std::size_t k = 0; k < a.size(); ++k) {
      if (part == "embedding" || part == "interaction") {
        EXPECT_TRUE(torch::equal(a[k], b[k])) << part << " parameter " << k << " changed";
        ++frozen;
      } else if (!torch::equal(a[k], b[k])) {
        ++changed;
      }
    }
  }
  EXPECT_GT(frozen, 0u);
  EXPECT_GT(changed, 0u);  // the rest did train
}

TEST_F(TrainTest, RestartContinuesBitForBit) {
  // lr_patience = 0 and lr_factor = 0.5: the schedule changes the rate within these epochs,
  // so its state must travel through the checkpoint too.
  const std::string text = config("epochs = 4\nlr_patience = 0\n");
  Trainer straight(options(text));
  for (int e = 0; e < 4; ++e) straight.step();

  {
    Trainer first(options(text));
    first.step();
    first.step();
    first.save_checkpoint(path("half.ckpt"));
  }
  Trainer resumed(options(text));
  resumed.load_checkpoint(path("half.ckpt"));
  EXPECT_EQ(resumed.epoch(), 2);
  resumed.step();
  resumed.step();

  const auto a = snapshot(straight.model()), b = snapshot(resumed.model());
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(torch::equal(a[k], b[k])) << "parameter " << k;
  EXPECT_EQ(straight.lr(), resumed.lr());
  EXPECT_EQ(straight.best_valid_loss(), resumed.best_valid_loss());
  EXPECT_EQ(straight.best_epoch(), resumed.best_epoch());
}

TEST_F(TrainTest, RunWritesModelLogSummaryAndRestarts) {
  std::ofstream(path("train.toml")) << config("epochs = 2\nlog = \"train.csv\"\n");
  std::ostringstream out;
  EXPECT_EQ(train_command(path("train.toml"), false, out), 0);
  EXPECT_NE(out.str().find("validation"), std::string::npos) << out.str();
  EXPECT_TRUE(is_native_model_file(path("model.spl")));
  EXPECT_TRUE(fs::exists(path("model.metrics.toml")));
  EXPECT_TRUE(fs::exists(path("train.ckpt")));
  std::ifstream log(path("train.csv"));
  std::string line;
  int rows = 0;
  while (std::getline(log, line)) ++rows;
  EXPECT_EQ(rows, 3);  // header + 2 epochs
  // Continue to 3 epochs from the checkpoint: the log keeps its rows and gains one.
  std::ofstream(path("train.toml")) << config("epochs = 3\nlog = \"train.csv\"\n");
  std::ostringstream out2;
  EXPECT_EQ(train_command(path("train.toml"), true, out2), 0);
  EXPECT_NE(out2.str().find("after epoch 2"), std::string::npos) << out2.str();
  std::ifstream log2(path("train.csv"));
  rows = 0;
  while (std::getline(log2, line)) ++rows;
  EXPECT_EQ(rows, 4);
}

// Issue 15: threads = 2 was 17x slower than 1 (OpenMP fork-join per small tensor operation,
// spin-waiting on a loaded machine). Threads now evaluate batches side by side; the model and
// every figure must stay what one thread gives, bit for bit.
TEST_F(TrainTest, ThreadCountDoesNotChangeTheModelOrTheFigures) {
  std::vector<std::vector<at::Tensor>> params;
  std::vector<Metrics> valid;
  for (int threads : {1, 2, 3}) {
    std::string text = config("epochs = 2\n");
    text.replace(text.find("threads = 1"), 11, "threads = " + std::to_string(threads));
    at::set_num_threads(2);
    Trainer t(options(text));
    // The cause of the slowdown, without a timing threshold: per-operation thread teams
    // (LibTorch's OpenMP, OpenBLAS's own pool) must be off whatever `threads` says.
    EXPECT_EQ(at::get_num_threads(), 1) << "threads = " << threads;
    using GetThreads = int (*)();
    if (auto f = reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"))) {
      EXPECT_EQ(f(), 1) << "OpenBLAS, threads = " << threads;
    }
    while (!t.finished()) t.step();
    params.push_back(snapshot(t.model()));
    valid.push_back(t.evaluate_valid());
  }
  for (std::size_t r = 1; r < params.size(); ++r) {
    ASSERT_EQ(params[r].size(), params[0].size());
    for (std::size_t k = 0; k < params[0].size(); ++k)
      EXPECT_TRUE(torch::equal(params[r][k], params[0][k])) << "threads run " << r << ", parameter " << k;
    EXPECT_EQ(valid[r].energy_sq, valid[0].energy_sq);
    EXPECT_EQ(valid[r].force_abs, valid[0].force_abs);
    EXPECT_EQ(valid[r].mag_sq, valid[0].mag_sq);
    EXPECT_EQ(valid[r].mag_n, valid[0].mag_n);
  }
}

// A stop request (SIGINT/SIGTERM in `spinlat train`) ends the epoch under way, writes the
// checkpoint (<output>.ckpt when [train] checkpoint = ""), names it and the resume command,
// returns 3; resuming gives the uninterrupted run's model bit for bit.
TEST_F(TrainTest, StopRequestCheckpointsAndResumesToTheSameModel) {
  const std::string text = config("epochs = 3\nlr_patience = 0\ncheckpoint = \"\"\noutput = \"stopped.spl\"\n");
  std::ofstream(path("train.toml")) << text;
  {
    TrainOptions o = read_train_config(path("train.toml"), {"train.lr=1e-2"});
    o.output = path("straight.spl");
    std::ostringstream out;
    EXPECT_EQ(Trainer(o).run(false, out), 0);
  }
  std::atomic<bool> stop{true};
  TrainOptions o = read_train_config(path("train.toml"), {"train.lr=1e-2"});
  o.stop = &stop;
  std::ostringstream out;
  Trainer first(o);
  EXPECT_EQ(first.run(false, out), 3);
  EXPECT_EQ(first.epoch(), 1);
  EXPECT_FALSE(fs::exists(path("stopped.spl")));
  const std::string expect = "stopped after epoch 1: checkpoint " + path("stopped.ckpt") +
                             "; resume with: spinlat train " + path("train.toml") + " --set train.lr=1e-2 --restart";
  EXPECT_NE(out.str().find(expect), std::string::npos) << out.str();
  ASSERT_TRUE(fs::exists(path("stopped.ckpt")));

  std::ostringstream out2;
  EXPECT_EQ(Trainer(read_train_config(path("train.toml"), {"train.lr=1e-2"})).run(true, out2), 0);
  EXPECT_NE(out2.str().find("after epoch 1"), std::string::npos) << out2.str();
  NativeModel a = load_native_model(path("straight.spl")), b = load_native_model(path("stopped.spl"));
  const auto pa = snapshot(a), pb = snapshot(b);
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t k = 0; k < pa.size(); ++k) EXPECT_TRUE(torch::equal(pa[k], pb[k])) << "parameter " << k;
}

// The trivial baselines on a data set small enough to do by hand. Training: 2 Fe atoms at
// −10 eV and 4 at −16 eV, so e0 = argmin (2e0 + 10)² + (4e0 + 16)² = −84/20 = −4.2 eV.
// Validation: 2 atoms at −9 eV (−4.5 eV/atom: error 0.3 eV/atom), forces ±(0.1, −0.2, 0.3)
// (zero forces: MAE 0.2, RMSE √(0.14/3)), magnetic forces (0.01,0,0) and (0,0.02,0) (MAE 0.005).
TEST_F(TrainTest, TrivialBaselinesMatchAHandComputation) {
  auto frame = [](int atoms, double energy, std::vector<Vec3> f, std::vector<Vec3> b) {
    System s;
    s.cell.h = 12.0 * Mat3::Identity();
    s.species_name = {"Fe"};
    s.species_mass = {55.845};
    for (int i = 0; i < atoms; ++i) s.add_atom(Vec3(2.5 * i, 0.3 * i, 0.0), 0, 2.2, Vec3(0, 0, 1));
    Frame fr(s);
    fr.info["REF_energy"] = energy;
    if (f.empty()) f.assign(static_cast<std::size_t>(atoms), Vec3::Zero());
    if (b.empty()) b.assign(static_cast<std::size_t>(atoms), Vec3::Zero());
    fr.vectors["REF_forces"] = f;
    fr.vectors["REF_magforces"] = b;
    return fr;
  };
  write_extxyz(path("tiny_train.xyz"), {frame(2, -10.0, {}, {}), frame(4, -16.0, {}, {})});
  write_extxyz(path("tiny_valid.xyz"), {frame(2, -9.0, {Vec3(0.1, -0.2, 0.3), Vec3(-0.1, 0.2, -0.3)},
                                              {Vec3(0.01, 0, 0), Vec3(0, 0.02, 0)})});
  std::string text = config("epochs = 1\nlog = \"tiny.csv\"\n");
  text.replace(text.find("train.xyz"), 9, "tiny_train.xyz");
  text.replace(text.find("valid.xyz"), 9, "tiny_valid.xyz");
  Trainer t(options(text));
  ASSERT_EQ(t.baseline_e0().size(), 1u);
  EXPECT_NEAR(t.baseline_e0()[0], -4.2, 1e-12);
  const Metrics& z = t.baseline_valid();
  EXPECT_EQ(z.energy_n, 1u);
  EXPECT_NEAR(z.energy_mae(), 0.3, 1e-12);
  EXPECT_NEAR(z.energy_rmse(), 0.3, 1e-12);
  EXPECT_EQ(z.force_n, 6u);
  EXPECT_NEAR(z.force_mae(), 0.2, 1e-12);
  EXPECT_NEAR(z.force_rmse(), std::sqrt(0.14 / 3.0), 1e-12);
  EXPECT_EQ(z.mag_n, 6u);
  EXPECT_NEAR(z.mag_mae(), 0.005, 1e-12);
  EXPECT_NEAR(z.mag_rmse(), std::sqrt(0.0005 / 6.0), 1e-12);

  // Written beside the model's errors: console, log and summary.
  std::ofstream(path("tiny.toml")) << text;
  std::ostringstream out;
  EXPECT_EQ(train_command(path("tiny.toml"), false, out), 0);
  EXPECT_NE(out.str().find("energy 300.00 meV/atom (per-element mean energies), forces 200.0 meV/Å (zero), "
                           "magnetic forces 5.0 meV/μB (zero)"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("baseline       300.000   300.000   200.000"), std::string::npos) << out.str();
  std::ifstream log(path("tiny.csv"));
  std::string header, row;
  std::getline(log, header);
  std::getline(log, row);
  EXPECT_NE(header.find(",baseline_valid_energy_mae,baseline_valid_forces_mae,baseline_valid_magforces_mae"),
            std::string::npos);
  EXPECT_NE(row.find(",300,200,5"), std::string::npos) << row;
  std::ifstream summary(path("model.metrics.toml"));
  std::stringstream ss;
  ss << summary.rdbuf();
  EXPECT_NE(ss.str().find("[valid_baseline]"), std::string::npos) << ss.str();
  EXPECT_NE(ss.str().find("forces_mae = 200"), std::string::npos) << ss.str();
}

TEST(TrainData, E0FitIsExactForEnergiesThatAreSumsOfElementEnergies) {
  const std::vector<double> e0 = {-8.25, -3.5, 0.75};
  std::mt19937_64 rng(5);
  std::vector<Sample> samples;
  for (int k = 0; k < 12; ++k) {
    Sample s;
    s.atoms = 5 + rng() % 20;
    s.energy = 0.0;
    for (std::size_t i = 0; i < s.atoms; ++i) {
      s.column.push_back(static_cast<int>(rng() % 3));
      s.energy += e0[s.column.back()];
    }
    samples.push_back(s);
  }
  const auto fit = fit_e0(samples, 3);
  ASSERT_EQ(fit.size(), 3u);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(fit[c], e0[c], 1e-11);
}

TEST_F(TrainTest, E0FitThroughTheTrainerOnTwoSpecies) {
  // Fe/Co frames whose energy is Σ e0[species]: the model's e0 must equal e0 exactly.
  auto frames = analytic_frames(10, 21, 0.4);
  for (auto& f : frames) {
    double e = 0;
    for (int sp : f.system.species) e += sp == 0 ? -4.125 : -7.0625;
    f.info["REF_energy"] = e;
  }
  write_extxyz(path("feco.xyz"), frames);
  std::string text = config("epochs = 1\n");
  text.replace(text.find("[\"Fe\"]"), 6, "[\"Fe\", \"Co\"]");
  text.replace(text.find("train.xyz"), 9, "feco.xyz");
  text.replace(text.find("valid = [\"valid.xyz\"]"), 21, "valid_fraction = 0.2");
  Trainer t(options(text));
  const auto& e0 = t.model()->config().e0;
  ASSERT_EQ(e0.size(), 2u);
  EXPECT_NEAR(e0[0], -4.125, 1e-11);
  EXPECT_NEAR(e0[1], -7.0625, 1e-11);
  EXPECT_EQ(t.train_samples().size() + t.valid_samples().size(), 10u);
  EXPECT_EQ(t.valid_samples().size(), 2u);
}

TEST(TrainData, SplitIsASeededPartition) {
  const auto [tr, va] = split_indices(50, 0.2, 7);
  EXPECT_EQ(va.size(), 10u);
  std::vector<std::size_t> all(tr);
  all.insert(all.end(), va.begin(), va.end());
  std::sort(all.begin(), all.end());
  for (std::size_t k = 0; k < 50; ++k) EXPECT_EQ(all[k], k);
  EXPECT_EQ(split_indices(50, 0.2, 7).second, va);
  EXPECT_NE(split_indices(50, 0.2, 8).second, va);
}

// The message of the InputError thrown by `f`, or "" when none is thrown.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST_F(TrainTest, BadConfigsNameTheKey) {
  auto msg = error_of([&] { options(config("epoch = 3\n")); });
  EXPECT_NE(msg.find("train.epoch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'epochs'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train.toml:"), std::string::npos) << msg;

  // --set overrides go through the same strict reading.
  EXPECT_EQ(parse_train_config(config(), path("train.toml"), {"train.epochs=7", "data.max_frames=5"}).epochs, 7);
  msg = error_of([&] { parse_train_config(config(), path("train.toml"), {"train.epoch=7"}); });
  EXPECT_NE(msg.find("train.epoch"), std::string::npos) << msg;

  msg = error_of([&] { options(config("", "chanels = 4\n")); });
  EXPECT_NE(msg.find("model.chanels"), std::string::npos) << msg;
  EXPECT_NE(msg.find("channels"), std::string::npos) << msg;

  msg = error_of([&] { options(config("", "m_max = [2.5, 0.0]\n")); });
  EXPECT_NE(msg.find("model.m_max"), std::string::npos) << msg;

  msg = error_of([&] { options(config("freeze = [\"readuot\"]\n")); });
  EXPECT_NE(msg.find("train.freeze"), std::string::npos) << msg;
  EXPECT_NE(msg.find("readout"), std::string::npos) << msg;

  msg = error_of([&] { options(config("dtype = \"float16\"\n")); });
  EXPECT_NE(msg.find("train.dtype"), std::string::npos) << msg;

  msg = error_of([&] { options("[data]\nvalid = [\"valid.xyz\"]\n"); });
  EXPECT_NE(msg.find("data.train"), std::string::npos) << msg;

  // Unknown file.
  std::string text = config("epochs = 1\n");
  text.replace(text.find("train.xyz"), 9, "missing.xyz");
  msg = error_of([&] { Trainer t(options(text)); });
  EXPECT_NE(msg.find("missing.xyz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data.train"), std::string::npos) << msg;

  // A fine-tuned model's architecture cannot change.
  {
    Trainer t(options(config("epochs = 1\n")));
    save_native_model_atomic(t.model(), path("pre.spl"));
  }
  text = config("epochs = 1\ninit = \"pre.spl\"\n");
  text.replace(text.find("channels = 8"), 12, "channels = 16");
  msg = error_of([&] { Trainer t(options(text)); });
  EXPECT_NE(msg.find("model.channels"), std::string::npos) << msg;
}

TEST_F(TrainTest, BadDataNamesFileAndFrame) {
  // Frame 2 lacks magnetic forces.
  auto frames = analytic_frames(4, 31);
  frames[2].vectors.erase("REF_magforces");
  write_extxyz(path("holes.xyz"), frames);
  std::string text = config("epochs = 1\n");
  text.replace(text.find("train.xyz"), 9, "holes.xyz");
  auto msg = error_of([&] { Trainer t(options(text)); });
  EXPECT_NE(msg.find("holes.xyz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("frame 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("REF_magforces"), std::string::npos) << msg;

  // Co is not among [model] elements.
  write_extxyz(path("feco.xyz"), analytic_frames(3, 32, 0.5));
  text = config("epochs = 1\n");
  text.replace(text.find("train.xyz"), 9, "feco.xyz");
  msg = error_of([&] { Trainer t(options(text)); });
  EXPECT_NE(msg.find("feco.xyz: frame 0"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'Co'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace spinlat
