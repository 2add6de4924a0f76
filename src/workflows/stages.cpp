// The [[stage]] list: each stage's driver (src/drivers, through the registry) advances one
// System in order, with H5MD observables and trajectories written as they are made.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/md.hpp"
#include "spinlat/io/hdf5_trajectory.hpp"
#include "spinlat/observables/order.hpp"
#include "spinlat/observables/phonons.hpp"
#include "spinlat/observables/spectra.hpp"
#include "spinlat/observables/temperature.hpp"
#include "spinlat/workflows/context.hpp"
#include "spinlat/workflows/dataset.hpp"
#include "spinlat/workflows/guards.hpp"
#include "spinlat/workflows/progress.hpp"
#include "spinlat/workflows/sanity.hpp"

namespace spinlat {
namespace {

constexpr long long kMinBathSamples = 5;

/// What a numerical fault in a dynamics stage most often means, appended to its message;
/// nothing for Monte Carlo (no time step to blame).
std::string dynamics_hint(const Driver& d, const StageConfig& st) {
  if (!(d.dt() > 0.0)) return "";
  char buf[160];
  std::snprintf(buf, sizeof buf, " (%s stage, dt = %g ps: a step too large for the forces and fields does this; reduce dt)",
                st.type.c_str(), d.dt());
  return buf;
}

/// Sublattices (basis sites) that hold at least one magnetic atom.
int magnetic_sublattices(const System& s) {
  std::vector<char> seen(static_cast<std::size_t>(std::max(s.sublattice_count(), 0)), 0);
  for (int i : s.magnetic_sites()) seen[static_cast<std::size_t>(s.sublattice[i])] = 1;
  return static_cast<int>(std::count(seen.begin(), seen.end(), 1));
}

std::string fixed(double x, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

/// /stages: each stage's type, its first step on the run's step axis (the `step` of
/// /observables and /particles) and its length, so plots can mark the stage boundaries.
void write_stage_table(h5::File& file, const Config& c) {
  if (file.exists("/stages")) return;  // a restart: written by the first run
  std::vector<std::string> type;
  std::vector<std::int64_t> first, length;
  std::int64_t at = 0;
  for (const auto& st : c.stages) {
    type.push_back(st.type);
    first.push_back(at);
    length.push_back(st.driver->length);
    at += st.driver->length;
  }
  file.write_strings("/stages/type", type);
  file.write("/stages/first_step", first);
  file.write("/stages/steps", length);
}

}  // namespace

int run_stages(RunContext& ctx) {
  const Config& c = ctx.config;
  System s = build_system(c);
  Hamiltonian h = build_hamiltonian(c, s, ctx.registry);
  TrajectoryOptions traj_options;
  traj_options.frames = c.output.trajectory_every > 0;  // no empty /particles datasets
  TrajectoryWriter traj(ctx.file, s, traj_options);
  const bool spin_obs = !s.magnetic_sites().empty();
  // Lattice observables (kinetic energy, lattice temperature) only when some stage moves the
  // atoms: in a spin-only run they are identically zero.
  bool lattice_obs = false;
  for (const auto& st : c.stages) lattice_obs = lattice_obs || st.driver->moves_atoms();
  // The order of an antiferro- or ferrimagnet shows in the sublattice order (each basis site a
  // sublattice), not in |M|: recorded when at least two sublattices carry moments.
  const bool sublattice_obs = spin_obs && magnetic_sublattices(s) >= 2;
  write_stage_table(ctx.file, c);

  std::size_t first_stage = 0;
  long long first_step = 0, global_step = 0;
  double time = 0.0;
  std::string driver_state;
  if (ctx.resume && ctx.resume->has("stages.stage")) {
    first_stage = ctx.resume->integer("stages.stage");
    first_step = ctx.resume->integer("stages.step");
    global_step = ctx.resume->integer("stages.global_step");
    time = ctx.resume->real("stages.time");
    s = restore_system(*ctx.resume);
    h.bind(s);
    if (ctx.resume->has("stages.driver")) driver_state = ctx.resume->blob("stages.driver");
    traj.truncate_after(global_step);
  }
  // Labelled training frames (`dataset`): cut back to the checkpoint's sizes on a restart.
  DatasetWriter dataset(c, ctx.resume && ctx.resume->has("stages.stage") ? &*ctx.resume : nullptr);
  long long total = 0;
  for (const auto& st : c.stages) total += st.driver->length;
  Progress progress("stages", total, ctx.options.quiet);
  long long work = 0;
  for (std::size_t k = 0; k < first_stage; ++k) work += c.stages[k].driver->length;
  work += first_step;

  const long long obs_every = c.output.observables_every, traj_every = c.output.trajectory_every;
  double last_spin_temperature = NAN;  // of the last observation
  // Records the observables; returns the total energy per atom (for the drift guard).
  auto observe = [&](const Driver& d, const StageConfig& st) -> double {
    const bool moves_atoms = st.driver->moves_atoms();
    try {
      check_state(s, global_step);
      if (moves_atoms) check_overlaps(s, global_step);
    } catch (const NumericalError& e) {
      throw NumericalError(std::string(e.what()) + dynamics_hint(d, st));
    }
    const double n = double(s.size());
    std::vector<std::pair<std::string, double>> v;
    const double epot = energy_per_atom(h, s);
    const double ekin = lattice_kinetic_energy(s) / n;
    v.push_back({"potential_energy", epot});
    if (lattice_obs) v.push_back({"kinetic_energy", ekin});
    v.push_back({"total_energy", epot + ekin});
    if (spin_obs) {
      v.push_back({"magnetization", magnetization(s)});
      if (sublattice_obs) v.push_back({"sublattice_order", sublattice_order(s, s.sublattice)});
      const double ts = spin_temperature(s, h);
      last_spin_temperature = ts;
      if (std::isfinite(ts)) v.push_back({"spin_temperature", ts});
    }
    if (lattice_obs) v.push_back({"lattice_temperature", kinetic_temperature(s)});
    d.observe(v);  // acceptance, pressure, the energy split
    if (moves_atoms) {
      // Volume per atom and the cube root of the volume per repeated cell (the lattice
      // parameter of a cubic lattice): the observables of NPT runs.
      v.push_back({"volume", s.cell.volume() / n});
      v.push_back({"lattice_parameter", std::cbrt(s.cell.volume() / double(c.structure.cells.prod()))});
      for (const char* name : {"volume", "lattice_parameter"})
        if (!ctx.file.exists(std::string("/observables/") + name))
          traj.declare_observable(name, 0, name[0] == 'v' ? "angstrom3" : "angstrom");
    }
    traj.write_observables(global_step, time, v);
    if (spin_obs) traj.write_observable("magnetization_vector", global_step, time, magnetization_vector(s));
    if (const std::optional<Vec3> B = d.applied_field()) traj.write_observable("field", global_step, time, *B);
    for (const auto& [name, value] : v)
      if (!std::isfinite(value))
        throw NumericalError("stage " + st.type + ", step " + std::to_string(global_step) + ": " + name +
                             " is " + std::to_string(value) + dynamics_hint(d, st));
    return epot + ekin;
  };

  for (std::size_t k = first_stage; k < c.stages.size(); ++k) {
    const StageConfig& st = c.stages[k];
    const DriverSpec& spec = *st.driver;
    const std::unique_ptr<Driver> d = with_input_location(
        c, "stage." + std::to_string(k), [&] { return spec.build({s, h, stage_key(c.seed, k), spec.temperature}); });
    const long long n = spec.length;
    // S(q,ω) of this stage's spins ([spectrum]).
    std::unique_ptr<SpinSpectrumRecorder> spectrum;
    if (c.spectrum && c.spectrum->stage == static_cast<int>(k))
      spectrum = std::make_unique<SpinSpectrumRecorder>(s, *c.spectrum, &h);
    // Phonon DOS from this stage's velocities ([phonons]).
    std::unique_ptr<PhononDosRecorder> phonons;
    if (c.phonons && c.phonons->stage == static_cast<int>(k))
      phonons = std::make_unique<PhononDosRecorder>(s, *c.phonons);
    // Energy-drift guard for conservative dynamics: a time step too large shows up here.
    const bool guard_drift = spec.conservative() && spec.max_energy_drift() > 0.0;
    double energy_start = 0.0;
    auto total_energy = [&] { return energy_per_atom(h, s) + lattice_kinetic_energy(s) / double(s.size()); };
    if (guard_drift) energy_start = total_energy();
    // Spin dynamics with a bath: the spin temperature over the stage's second half should be
    // the bath's; far from it, the step is too large for the fields (or the stage too short).
    const bool check_bath = spin_obs && spec.spin_dynamics() && spec.temperature > 0.0;
    double bath_sum = 0.0;
    long long bath_count = 0, bath_undefined = 0;
    // Spin-lattice dynamics whose every term is rotation-invariant in spin space, without
    // damping or field: the total spin Σ m_i is a constant of the motion, and its change over
    // the stage measures the integrator's error (sanity.hpp, spin_conservation_breach).
    const bool check_spin = st.type == "sld" && spec.conservative() && !d->applied_field() && h.conserves_total_spin() &&
                            !s.magnetic_sites().empty();
    auto total_spin = [&] {
      Vec3 m = Vec3::Zero();
      for (std::size_t i = 0; i < s.size(); ++i) m += s.moment_vector(i);
      return m;
    };
    Vec3 spin_start = check_spin ? total_spin() : Vec3::Zero();
    long long step = 0;
    if (k == first_stage && first_step > 0) {
      d->load_state(driver_state);
      if (spectrum) spectrum->load_state(ctx.resume->blob("stages.spectrum"));
      if (phonons) phonons->load_state(ctx.resume->blob("stages.phonons"));
      if (guard_drift) energy_start = ctx.resume->real("stages.energy_start");
      if (check_spin && ctx.resume->has("stages.spin_start")) {
        const std::vector<double>& m = ctx.resume->real_array("stages.spin_start");
        if (m.size() == 3) spin_start = Vec3(m[0], m[1], m[2]);
      }
      step = first_step;
    }
    // A checkpoint at step `at` of stage `stage`; the driver's state within a stage, none at
    // a stage boundary (the next stage starts with a fresh driver).
    auto checkpoint = [&](std::size_t stage, long long at, bool within) {
      if (within) check_state(s, global_step);  // never checkpoint a broken state
      Checkpoint ck;
      ck.set_blob("kind", "stages");
      ck.set_integer("stages.stage", static_cast<std::int64_t>(stage));
      ck.set_integer("stages.step", at);
      ck.set_integer("stages.global_step", global_step);
      ck.set_real("stages.time", time);
      store_system(ck, s);
      dataset.save(ck);
      if (within) {
        ck.set_blob("stages.driver", d->save_state());
        if (spectrum) ck.set_blob("stages.spectrum", spectrum->save_state());
        if (phonons) ck.set_blob("stages.phonons", phonons->save_state());
        if (guard_drift) ck.set_real("stages.energy_start", energy_start);
        if (check_spin) ck.set_reals("stages.spin_start", {spin_start[0], spin_start[1], spin_start[2]});
      }
      ctx.save(ck);
    };
    if (global_step == 0 && obs_every > 0) observe(*d, st);
    if (global_step == 0 && traj_every > 0) traj.write_frame(s, 0, 0.0);
    for (; step < n; ++step) {
      // A driver at its goal (a converged minimiser) ends the stage; the progress bar skips
      // the steps it did not need.
      if (d->finished()) {
        work += n - step;
        if (obs_every > 0 && global_step % obs_every != 0) observe(*d, st);  // the final state
        if (traj_every > 0 && global_step % traj_every != 0) traj.write_frame(s, global_step, time);
        break;
      }
      if (ctx.stop_requested()) { checkpoint(k, step, true); return 3; }
      if (spectrum && spectrum->due(step)) spectrum->record(s, d->clock(time));
      if (phonons && phonons->due(step)) phonons->record(s, time);
      d->advance(true);  // Monte Carlo move widths adapt throughout a stage
      ++global_step;
      time += d->dt();
      if (obs_every > 0 && global_step % obs_every == 0) {
        const double drift = observe(*d, st) - energy_start;
        if (check_bath && 2 * (step + 1) >= n) {
          // NaN: Σ ê·B ≤ 0, the moments point against their fields (a negative temperature).
          if (std::isfinite(last_spin_temperature)) bath_sum += last_spin_temperature;
          else ++bath_undefined;
          ++bath_count;
        }
        if (guard_drift && std::abs(drift) > spec.max_energy_drift())
          throw NumericalError("stage " + std::to_string(k) + " (" + st.type + "), step " + std::to_string(global_step) +
                               ": total energy drifted by " + std::to_string(drift) +
                               " eV/atom (max_energy_drift = " + std::to_string(spec.max_energy_drift()) +
                               "); reduce dt");
      }
      if (traj_every > 0 && global_step % traj_every == 0) traj.write_frame(s, global_step, time);
      if (DatasetWriter::due(st, step + 1)) dataset.write(st, k, global_step, s, h);
      progress.update(++work, "stage " + std::to_string(k) + " (" + st.type + ")");
      if (c.output.checkpoint_every > 0 && global_step % c.output.checkpoint_every == 0 && step + 1 < n)
        checkpoint(k, step + 1, true);
    }
    if (spectrum) {
      spectrum->write(ctx.file);
      ctx.file.flush();
      if (!ctx.options.quiet) std::fprintf(stderr, "magnon spectrum written to /spectra/spin (%s)\n", spectrum->lswt_status().c_str());
    }
    if (phonons) {
      phonons->write(ctx.file);
      ctx.file.flush();
      if (!ctx.options.quiet)
        std::fprintf(stderr, "phonon DOS written to /spectra/phonon (%zu segments)\n", phonons->segments());
    }
    // The stage's warnings, with their numbers (sanity.hpp).
    std::vector<std::string> warnings;
    if (bath_count >= kMinBathSamples)
      warnings.push_back(bath_mismatch(
          2 * bath_undefined > bath_count ? NAN : bath_sum / double(bath_count - bath_undefined), spec.temperature));
    double saturation = 0.0;  // Σ|m_i| (μB)
    for (double m : s.moment) saturation += m;
    if (check_spin) warnings.push_back(spin_conservation_breach(spin_start, total_spin(), saturation));
    for (const std::string& w : warnings)
      if (!w.empty())
        std::fprintf(stderr, "%swarning: stage %zu (%s): %s\n", Progress::stderr_is_terminal() ? "\r\033[K" : "", k,
                     st.type.c_str(), w.c_str());
    // What the stage reached (a minimiser's residuals): the attributes of /stages/<k>.
    const StageSummary summary = d->summary();
    if (!summary.text.empty()) {
      const std::string group = "/stages/" + std::to_string(k);
      ctx.file.create_group(group);
      for (const auto& [name, value] : summary.numbers) ctx.file.set_attr(group, name, value);
      for (const auto& [name, value] : summary.words) ctx.file.set_attr(group, name, value);
      for (const StageSummary::Series& x : summary.series) {
        const std::string path = group + "/" + x.name;
        if (ctx.file.exists(path)) ctx.file.remove(path);  // a continuation writes it again
        ctx.file.write(path, x.values);
        if (!x.unit.empty()) ctx.file.set_attr(path, "unit", x.unit);
      }
      ctx.file.flush();
      if (!ctx.options.quiet)
        std::fprintf(stderr, "%s%s\n", Progress::stderr_is_terminal() ? "\r\033[K" : "", summary.text.c_str());
    }
    if (k + 1 < c.stages.size()) checkpoint(k + 1, 0, false);
    if (!ctx.options.quiet) {
      std::vector<std::pair<std::string, double>> rep;  // the driver's own figures
      d->report(rep);
      std::string extra;
      for (const auto& [name, value] : rep) extra += ", " + name + " " + std::to_string(value);
      if (sublattice_obs) extra += ", sublattice order = " + fixed(sublattice_order(s, s.sublattice), 4);
      if (check_spin) {
        char buf[64];
        std::snprintf(buf, sizeof buf, ", total spin change |ΔM|/Σ|m| = %.2e", (total_spin() - spin_start).norm() / saturation);
        extra += buf;
      }
      std::fprintf(stderr, "%sstage %zu (%s) done: E = %.6f eV/atom, |M| = %.4f%s\n",
                   Progress::stderr_is_terminal() ? "\r\033[K" : "", k, st.type.c_str(),
                   energy_per_atom(h, s), magnetization(s), extra.c_str());
    }
  }
  progress.finish();
  ctx.file.flush();
  return 0;
}

}  // namespace spinlat
