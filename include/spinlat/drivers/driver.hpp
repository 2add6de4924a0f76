#pragma once
// Stages and sweep points as pluggable drivers.
//
// A driver advances one System by one Monte Carlo sweep or one time step. Every [[stage]]
// `type` and every [sweep] `method` names a DriverType in a DriverRegistry: the type reads and
// validates its own keys from the stage's (or the sweep's) table into a DriverSpec, and the spec
// builds the Driver for a System, a Hamiltonian and a stream key. Stages (workflows/stages.cpp)
// and sweep points (workflows/sweep.cpp) build their drivers through the same registry, so a new
// stage type is one file in src/drivers/ plus one line in builtin_drivers()
// (docs/architecture.md, "How to add a stage type").
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/system.hpp"
#include "spinlat/io/params.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

class ParallelTempering;

/// Where a driver's settings come from.
enum class DriverRole {
  stage,  ///< one [[stage]] table: its temperature and its length (sweeps or steps)
  sweep,  ///< the [sweep] table: every (size, temperature) point builds one driver
};

/// NPT: stochastic cell rescaling of the lattice integrator (md and hybrid stages, hybrid
/// sweeps; docs/input.md, dynamics/md.hpp). On when `pressure` is given.
struct BarostatOptions {
  bool enabled = false;
  std::string kind = "isotropic";    ///< `barostat`: isotropic, anisotropic
  double pressure = 0.0;             ///< GPa: `pressure = P`
  /// GPa: `pressure = [Pxx, Pyy, Pzz]` (anisotropic only); NaN when a scalar was given.
  Vec3 pressure_axes = Vec3::Constant(std::numeric_limits<double>::quiet_NaN());
  double tau = 1.0;                  ///< `barostat_tau`, ps
  double compressibility = 6e-3;     ///< `compressibility`, 1/GPa (the coupling's β_T)
  long long every = 10;              ///< `barostat_every`, MD steps between cell moves
};

/// What a spec needs to build its driver besides its own settings.
struct DriverContext {
  System& system;            ///< advanced in place; must outlive the driver
  Hamiltonian& hamiltonian;  ///< bound to `system`; must outlive the driver
  StreamKey key;             ///< this driver's random streams (stage_key, sweep_point_key)
  double temperature = 0.0;  ///< K: the stage's own, or the sweep point's
};

/// What a stage reached (a minimiser: converged or not, its residuals, steps and energy): one
/// console line and the attributes of /stages/<k> in the results file.
struct StageSummary {
  std::string text;                                       ///< empty: nothing to report
  std::vector<std::pair<std::string, double>> numbers;    ///< attribute name → value
  std::vector<std::pair<std::string, std::string>> words; ///< attribute name → text
  /// Datasets /stages/<k>/<name> (a hysteresis loop's fields and magnetisations), with units.
  struct Series {
    std::string name, unit;
    std::vector<double> values;
  };
  std::vector<Series> series;
};

/// One stage's or sweep point's driver.
class Driver {
 public:
  virtual ~Driver() = default;
  /// One Monte Carlo sweep or one time step. `adapt`: move widths may adapt (stages and the
  /// equilibration phase of sweeps; never while a sweep measures).
  virtual void advance(bool adapt) = 0;
  /// Appends the driver's own observables (acceptance, pressure, energy split) to `out`.
  virtual void observe(std::vector<std::pair<std::string, double>>& out) const { (void)out; }
  /// Figures a finished stage or sweep point prints and a sweep stores as /sweep/<name>
  /// (the surrogate sampler's outer and inner acceptance); none by default.
  virtual void report(std::vector<std::pair<std::string, double>>& out) const { (void)out; }
  /// Changes the bath temperature (K) between advances; streams are kept.
  virtual void set_temperature(double kelvin) = 0;
  /// Driver state for checkpoints (the System is saved by its owner); load_state continues bit
  /// for bit.
  virtual std::string save_state() const = 0;
  virtual void load_state(const std::string& state) = 0;
  /// Time per advance (ps); 0 for Monte Carlo, which has no clock.
  virtual double dt() const { return 0.0; }
  /// The time stamp recorders use (ps): the run's time, or the driver's own clock where it has
  /// one (LLG's field schedule starts with the stage).
  virtual double clock(double run_time) const { return run_time; }
  /// The lattice pressure (GPa) of drivers that move atoms.
  virtual double pressure_GPa() const { return 0.0; }
  /// The (purpose, key) of every random stream this driver draws from, as its parts hold
  /// them: tests check that no two drivers of a run share one.
  virtual std::vector<std::pair<StreamPurpose, StreamKey>> streams() const = 0;
  /// True when the driver has reached its goal (a minimiser at its tolerance): the stage ends
  /// before its `steps`.
  virtual bool finished() const { return false; }
  /// What the stage reached, asked once at its end.
  virtual StageSummary summary() const { return {}; }
  /// The stage's applied field (T) now, for stages given one (`field`): recorded as
  /// /observables/field with the other observables. Not part of the potential energy.
  virtual std::optional<Vec3> applied_field() const { return std::nullopt; }
};

/// The validated settings of one stage or sweep method; each driver type has its own.
class DriverSpec {
 public:
  virtual ~DriverSpec() = default;
  std::string type;          ///< the registry name (`type` of a stage, `method` of a sweep)
  DriverRole role = DriverRole::stage;
  double temperature = 0.0;  ///< K (stages; sweep points pass their own)
  long long length = 0;      ///< stages: sweeps or steps to run

  /// Builds the driver (binds, colours, draws nothing).
  virtual std::unique_ptr<Driver> build(const DriverContext& ctx) const = 0;
  /// The settings as read, key → value text (`spinlat check`, tests).
  virtual std::map<std::string, std::string> settings() const = 0;

  // Capabilities the workflows and the input checks ask for.
  virtual bool moves_atoms() const { return false; }     ///< velocities, overlaps, volume, masses
  virtual bool spin_dynamics() const { return false; }   ///< [spectrum] can record it
  virtual double spin_damping() const { return 0.0; }    ///< Gilbert α ([spectrum]'s LSWT widths)
  /// No bath, no damping, no driven field: the total energy is conserved and the energy-drift
  /// guard applies (its tolerance is max_energy_drift(), 0 = no check).
  virtual bool conservative() const { return false; }
  virtual double max_energy_drift() const { return 0.0; }
  /// The barostat of NPT drivers (nullptr: constant volume).
  virtual const BarostatOptions* barostat() const { return nullptr; }
  /// Sweeps only: true when the method runs an ensemble of replicas over all temperatures of
  /// one size (parallel tempering) instead of one driver per point; ensemble() builds it.
  virtual bool replica_exchange() const { return false; }
  virtual std::unique_ptr<ParallelTempering> ensemble(const Hamiltonian& h, const System& s,
                                                      const std::vector<double>& temperatures,
                                                      const StreamKey& key) const;
};
using DriverSpecPtr = std::shared_ptr<const DriverSpec>;

/// One stage type / sweep method.
struct DriverType {
  std::string name;
  /// Keys a [[stage]] of this type may have besides `type`, `dataset` and `dataset_every`.
  std::vector<std::string> stage_keys;
  /// Keys of [sweep] with method = name besides the sweep's own; `sweep` false: no such method.
  bool sweep = false;
  std::vector<std::string> sweep_keys;
  /// Reads the type's keys from `p` (already checked to hold only stage_keys or sweep_keys).
  std::function<DriverSpecPtr(Params& p, DriverRole role)> read;
};

class DriverRegistry {
 public:
  void add(DriverType t) { types_[t.name] = std::move(t); }
  std::vector<std::string> types(DriverRole role) const;
  const DriverType& at(const std::string& name) const { return types_.at(name); }
  /// Reads a stage table (its `type`) or the sweep table (its `method`, default "mc"): rejects
  /// unknown keys ("did you mean") and keys that belong to other types ("not used by ..., it
  /// applies to ..."), then lets the type read its own. `common` are the keys the caller reads
  /// (dataset, ...; the sweep's temperatures, sizes, ...).
  DriverSpecPtr read(Params& p, DriverRole role, const std::vector<std::string>& common) const;

 private:
  std::map<std::string, DriverType> types_;
};

/// Every driver of the engine: mc, minimize, llg, md, sld, hybrid, hysteresis.
const DriverRegistry& builtin_drivers();

// One DriverType per file in src/drivers/.
DriverType mc_driver();        // src/drivers/mc.cpp (Metropolis, Wolff, parallel tempering)
DriverType minimize_driver();  // src/drivers/minimize.cpp (FIRE, velocity projection)
DriverType llg_driver();       // src/drivers/llg.cpp
DriverType md_driver();        // src/drivers/md.cpp
DriverType sld_driver();       // src/drivers/sld.cpp
DriverType hybrid_driver();    // src/drivers/hybrid.cpp
DriverType hysteresis_driver();  // src/drivers/hysteresis.cpp (M(B) loops)
/// Zero-temperature Metropolis sweeps (moves with ΔE <= 0 only), single-spin Gaussian moves:
/// `minimize` with method = "metropolis" (src/drivers/mc.cpp).
std::unique_ptr<Driver> quench_driver(const DriverContext& ctx);

/// The stream keys of a run's drivers (core/rng.hpp): stage k, and sweep point (size il,
/// temperature it) of n_T temperatures.
inline StreamKey stage_key(std::uint64_t seed, std::size_t k) { return StreamKey(seed, StreamOwner::stage, k); }
inline StreamKey sweep_point_key(std::uint64_t seed, std::size_t il, std::size_t it, std::size_t nT) {
  return StreamKey(seed, StreamOwner::sweep_point, il * nT + it);
}

}  // namespace spinlat
