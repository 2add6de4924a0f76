// Regression tests for inputs found by fuzzing the readers (fuzz/*.cpp, docs/reliability.md).
//
// Contract: every reader turns any byte string into a valid result or a spinlat::InputError,
// never a crash, hang, other exception or unbounded allocation. Each reproducer in
// tests/data/fuzz/<reader>/ is run in a forked child (so a crash or runaway allocation cannot
// take the test executable down) with an address-space limit and an alarm, and must end in an
// InputError.
//
// Reproducers of bugs not yet fixed are listed in kOpenBugs: they are skipped (with the bug
// named) unless SPINLAT_FUZZ_STRICT=1 is set, so the suite stays green while the report is open.
// When a bug is fixed, delete its entry: the test then guards the fix.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "spinlat/core/error.hpp"
#include "spinlat/core/system.hpp"
#include "spinlat/io/checkpoint.hpp"
#include "spinlat/workflows/build.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/io/poscar.hpp"
#include "spinlat/lattice/eam.hpp"

// Whether the AddressSanitizer runtime is linked in (also when only the library is
// instrumented, as in the fuzz build): its shadow memory makes an address-space limit unusable.
extern "C" void __asan_init() __attribute__((weak));

namespace fs = std::filesystem;
using namespace spinlat;

namespace {

const fs::path kData = fs::path(SPINLAT_SOURCE_DIR) / "tests" / "data" / "fuzz";

enum class Outcome { input_error, accepted, other_exception, crashed, timed_out };

const char* name_of(Outcome o) {
  switch (o) {
    case Outcome::input_error: return "InputError";
    case Outcome::accepted: return "accepted";
    case Outcome::other_exception: return "an exception that is not an InputError";
    case Outcome::crashed: return "a crash (signal)";
    case Outcome::timed_out: return "a hang (timeout)";
  }
  return "?";
}

/// Runs `fn` in a forked child: 4 GiB address space (not under ASan, whose shadow memory needs
/// far more), 30 s alarm. The child reports how `fn` ended through its exit status.
Outcome run_isolated(const std::function<void()>& fn) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (!&__asan_init) {
      const rlimit lim{rlim_t(4) << 30, rlim_t(4) << 30};
      setrlimit(RLIMIT_AS, &lim);
    }
    alarm(30);
    int code = 0;
    try {
      fn();
      code = 1;
    } catch (const InputError&) {
      code = 0;
    } catch (...) {
      code = 2;
    }
    _exit(code);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return Outcome::crashed;
  if (WIFSIGNALED(status)) return WTERMSIG(status) == SIGALRM ? Outcome::timed_out : Outcome::crashed;
  switch (WEXITSTATUS(status)) {
    case 0: return Outcome::input_error;
    case 1: return Outcome::accepted;
    case 2: return Outcome::other_exception;
    default: return Outcome::crashed;  // sanitizer reports exit with their own codes
  }
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The same work as the fuzz harnesses (fuzz/fuzz_<reader>.cpp), per reader.
void read_toml(const fs::path& p) {
  const Config c = parse_config(slurp(p), p.filename().string());
  const auto& st = c.structure;
  if (st.lattice == "file") return;  // the harness does not follow fuzzer-chosen paths
  long long n = 8;                    // upper bound of sites per cell (rocksalt)
  for (int k = 0; k < 3; ++k) n *= st.cells[k];
  if (n <= 8 * 20000) build_system(c).check_consistent();
}
void read_xyz(const fs::path& p) {
  std::istringstream in(slurp(p));
  for (const auto& f : parse_extxyz(in, p.filename().string())) f.system.check_consistent();
}
void read_pos(const fs::path& p) {
  std::istringstream in(slurp(p));
  parse_poscar(in, p.filename().string()).system.check_consistent();
}
void read_eam(const fs::path& p) { read_eam_file(p.string(), eam_format_from_name(p.string())); }
void read_ckpt(const fs::path& p) {
  const Checkpoint c = read_checkpoint(p.string());
  if (c.has("system/spin")) restore_system(c, "system").check_consistent();
}

const std::map<std::string, std::function<void(const fs::path&)>> kReaders = {
    {"toml", read_toml}, {"extxyz", read_xyz}, {"poscar", read_pos}, {"eam", read_eam}, {"checkpoint", read_ckpt}};

/// reader/file → the open bug (docs/reliability.md, "Findings"). Delete an entry once fixed.
// All reported bugs are fixed (see docs/reliability.md): every reproducer must end in an
// InputError.
const std::map<std::string, std::string> kOpenBugs = {};

bool strict() {
  const char* s = std::getenv("SPINLAT_FUZZ_STRICT");
  return s && std::string(s) == "1";
}

void check_reader(const std::string& reader) {
  const fs::path dir = kData / reader;
  if (!fs::is_directory(dir)) return;  // no reproducers for this reader (git keeps no empty folders)
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  int skipped = 0;
  for (const auto& p : files) {
    const std::string key = reader + "/" + p.filename().string();
    const auto open = kOpenBugs.find(key);
    if (open != kOpenBugs.end() && !strict()) {
      ++skipped;
      std::cout << "[ open bug ] " << key << ": " << open->second << "\n";
      continue;
    }
    const Outcome o = run_isolated([&] { kReaders.at(reader)(p); });
    EXPECT_EQ(o, Outcome::input_error) << key << " ended in " << name_of(o)
                                       << (open != kOpenBugs.end() ? " (open bug: " + open->second + ")" : "");
  }
  if (skipped) std::cout << reader << ": " << skipped << " reproducer(s) of open bugs skipped "
                         << "(SPINLAT_FUZZ_STRICT=1 runs them)\n";
}

}  // namespace

// The isolation itself must tell the outcomes apart, or every test below passes vacuously.
TEST(FuzzRegression, IsolationTellsOutcomesApart) {
  EXPECT_EQ(run_isolated([] { throw InputError("f", "k", 1, "bad"); }), Outcome::input_error);
  EXPECT_EQ(run_isolated([] {}), Outcome::accepted);
  EXPECT_EQ(run_isolated([] { throw std::out_of_range("x"); }), Outcome::other_exception);
  EXPECT_EQ(run_isolated([] { std::abort(); }), Outcome::crashed);
}

// The readers accept the well-formed seed files (fuzz/corpus) the fuzzers start from, so a
// reproducer's InputError is about the damage, not about the reader rejecting everything.
TEST(FuzzRegression, SeedsAreAccepted) {
  const fs::path root = fs::path(SPINLAT_SOURCE_DIR) / "tests" / "data";
  EXPECT_EQ(run_isolated([&] { read_xyz(root / "nio_afm.extxyz"); }), Outcome::accepted);
  EXPECT_EQ(run_isolated([&] { read_pos(root / "POSCAR_Fe_bcc"); }), Outcome::accepted);
  EXPECT_EQ(run_isolated([&] { read_eam(root / "lattice_synthetic.eam.fs"); }), Outcome::accepted);
  EXPECT_EQ(run_isolated([&] { read_eam(root / "lattice_synthetic.eam.alloy"); }), Outcome::accepted);
}

// Small hostile inputs written by hand: empty files and truncations must be InputErrors.
TEST(FuzzRegression, EmptyAndTruncatedInputs) {
  EXPECT_EQ(run_isolated([] { parse_config("", "empty.toml"); }), Outcome::input_error);
  EXPECT_EQ(run_isolated([] { parse_config("[structure\n", "bad.toml"); }), Outcome::input_error);
  EXPECT_EQ(run_isolated([] {
              std::istringstream in("2\nProperties=species:S:1:pos:R:3\nFe 0 0 0\n");
              parse_extxyz(in, "short.xyz");
            }),
            Outcome::input_error);
  EXPECT_EQ(run_isolated([] {
              std::istringstream in("");
              parse_poscar(in, "POSCAR");
            }),
            Outcome::input_error);
  EXPECT_EQ(run_isolated([] {
              std::istringstream in("x\n1.0\n1 0 0\n0 1 0\n0 0 1\nFe\n2\nDirect\n0 0 0\n");
              parse_poscar(in, "POSCAR");
            }),
            Outcome::input_error);
}

TEST(FuzzRegression, Toml) { check_reader("toml"); }
TEST(FuzzRegression, ExtXyz) { check_reader("extxyz"); }
TEST(FuzzRegression, Poscar) { check_reader("poscar"); }
TEST(FuzzRegression, Eam) { check_reader("eam"); }
TEST(FuzzRegression, Checkpoint) { check_reader("checkpoint"); }
