// The [[stage]] list: each stage's driver (src/drivers, through the registry) advances one
// System in order, with H5MD observables and trajectories written as they are made.
#include <cmath>
#include <cstdio>
#include <memory>

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

namespace spinlat {

int run_stages(RunContext& ctx) {
  const Config& c = ctx.config;
  System s = build_system(c);
  Hamiltonian h = build_hamiltonian(c, s, ctx.registry);
  TrajectoryWriter traj(ctx.file, s);
  const bool spin_obs = !s.magnetic_sites().empty();

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
  // Records the observables; returns the total energy per atom (for the drift guard).
  auto observe = [&](const Driver& d, const StageConfig& st) -> double {
    const bool moves_atoms = st.driver->moves_atoms();
    check_state(s, global_step);
    if (moves_atoms) check_overlaps(s, global_step);
    const double n = double(s.size());
    std::vector<std::pair<std::string, double>> v;
    const double epot = energy_per_atom(h, s);
    const double ekin = lattice_kinetic_energy(s) / n;
    v.push_back({"potential_energy", epot});
    v.push_back({"kinetic_energy", ekin});
    v.push_back({"total_energy", epot + ekin});
    if (spin_obs) {
      v.push_back({"magnetization", magnetization(s)});
      const double ts = spin_temperature(s, h);
      if (std::isfinite(ts)) v.push_back({"spin_temperature", ts});
    }
    v.push_back({"lattice_temperature", kinetic_temperature(s)});
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
    for (const auto& [name, value] : v)
      if (!std::isfinite(value))
        throw NumericalError("stage " + st.type + ", step " + std::to_string(global_step) + ": " + name +
                             " is " + std::to_string(value));
    return epot + ekin;
  };

  for (std::size_t k = first_stage; k < c.stages.size(); ++k) {
    const StageConfig& st = c.stages[k];
    const DriverSpec& spec = *st.driver;
    const std::unique_ptr<Driver> d = spec.build({s, h, stage_key(c.seed, k), spec.temperature});
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
    long long step = 0;
    if (k == first_stage && first_step > 0) {
      d->load_state(driver_state);
      if (spectrum) spectrum->load_state(ctx.resume->blob("stages.spectrum"));
      if (phonons) phonons->load_state(ctx.resume->blob("stages.phonons"));
      if (guard_drift) energy_start = ctx.resume->real("stages.energy_start");
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
      }
      ctx.save(ck);
    };
    if (global_step == 0 && obs_every > 0) observe(*d, st);
    if (global_step == 0 && traj_every > 0) traj.write_frame(s, 0, 0.0);
    for (; step < n; ++step) {
      if (ctx.stop_requested()) { checkpoint(k, step, true); return 3; }
      if (spectrum && spectrum->due(step)) spectrum->record(s, d->clock(time));
      if (phonons && phonons->due(step)) phonons->record(s, time);
      d->advance(true);  // Monte Carlo move widths adapt throughout a stage
      ++global_step;
      time += d->dt();
      if (obs_every > 0 && global_step % obs_every == 0) {
        const double drift = observe(*d, st) - energy_start;
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
    if (k + 1 < c.stages.size()) checkpoint(k + 1, 0, false);
    if (!ctx.options.quiet) {
      std::vector<std::pair<std::string, double>> rep;  // the driver's own figures
      d->report(rep);
      std::string extra;
      for (const auto& [name, value] : rep) extra += ", " + name + " " + std::to_string(value);
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
