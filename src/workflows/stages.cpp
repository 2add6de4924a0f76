// The [[stage]] list: Monte Carlo, LLG, lattice MD and minimisation in order, on one System,
// with H5MD observables and trajectories written as they are made.
#include <cmath>
#include <cstdio>
#include <memory>

#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/llg.hpp"
#include "spinlat/dynamics/md.hpp"
#include "spinlat/dynamics/sld.hpp"
#include "spinlat/dynamics/sld_hybrid.hpp"
#include "spinlat/io/hdf5_trajectory.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/observables/order.hpp"
#include "spinlat/observables/phonons.hpp"
#include "spinlat/observables/spectra.hpp"
#include "spinlat/observables/temperature.hpp"
#include "spinlat/workflows/context.hpp"
#include "spinlat/workflows/dataset.hpp"
#include "spinlat/workflows/guards.hpp"
#include "spinlat/workflows/progress.hpp"

namespace spinlat {
namespace {

ExternalField field_of(const StageConfig& st) {
  ExternalField f;
  f.schedule = parse_field_schedule(st.field_schedule);
  f.field = st.field;
  f.field_end = st.field_end;
  f.ramp_time = st.steps * st.dt;
  f.frequency = st.field_frequency;
  return f;
}


/// One stage's driver: advances the system by one sweep or step.
struct StageDriver {
  std::unique_ptr<MetropolisSampler> mc;
  std::unique_ptr<LLG> llg;
  std::unique_ptr<LatticeIntegrator> md;
  std::unique_ptr<SpinLatticeIntegrator> sld;
  std::unique_ptr<HybridMcMd> hybrid;
  bool dynamics = false;
  double dt = 0.0;

  void advance(System& s, bool adapt) {
    if (mc) {
      mc->set_adaptive(adapt);
      mc->sweep(s);
    } else if (llg) {
      llg->step(s);
    } else if (sld) {
      sld->step();
    } else if (hybrid) {
      hybrid->sweep(adapt);
    } else {
      md->step();
    }
  }
  std::string save() const {
    return mc ? mc->save_state() : llg ? llg->save_state() : sld ? sld->save_state()
                                 : hybrid ? hybrid->save_state() : md->save_state();
  }
  void load(const std::string& st) {
    if (mc) mc->load_state(st);
    else if (llg) llg->load_state(st);
    else if (sld) sld->load_state(st);
    else if (hybrid) hybrid->load_state(st);
    else md->load_state(st);
  }
};

}  // namespace

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
  const auto work_of = [](const StageConfig& st) { return st.type == "mc" || st.type == "hybrid" ? st.sweeps : st.steps; };
  for (const auto& st : c.stages) total += work_of(st);
  Progress progress("stages", total, ctx.options.quiet);
  long long work = 0;
  for (std::size_t k = 0; k < first_stage; ++k) work += work_of(c.stages[k]);
  work += first_step;

  const long long obs_every = c.output.observables_every, traj_every = c.output.trajectory_every;
  // Records the observables; returns the total energy per atom (for the drift guard).
  auto observe = [&](const StageDriver& d, const StageConfig& st) -> double {
    check_state(s, global_step);
    if (d.md || d.sld || d.hybrid) check_overlaps(s, global_step);
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
    if (d.mc) v.push_back({"acceptance", d.mc->acceptance()});
    if (d.sld || d.md || d.hybrid) {
      const double pressure = d.sld ? d.sld->pressure_GPa() : d.md ? d.md->pressure_GPa() : d.hybrid->lattice().pressure_GPa();
      v.push_back({"pressure", pressure});
      // Volume per atom and the cube root of the volume per repeated cell (the lattice
      // parameter of a cubic lattice): the observables of NPT runs.
      v.push_back({"volume", s.cell.volume() / n});
      v.push_back({"lattice_parameter", std::cbrt(s.cell.volume() / double(c.structure.cells.prod()))});
    }
    if (d.sld) {
      const SldEnergies e = d.sld->energies();
      v.push_back({"magnetic_energy", e.magnetic / n});
      v.push_back({"lattice_potential_energy", e.lattice / n});
    }
    for (const char* name : {"volume", "lattice_parameter"})
      if ((d.md || d.sld || d.hybrid) && !ctx.file.exists(std::string("/observables/") + name))
        traj.declare_observable(name, 0, name[0] == 'v' ? "angstrom3" : "angstrom");
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
    StageDriver d;
    long long n = 0;
    if (st.type == "mc" || st.type == "minimize") {
      MetropolisOptions o;
      o.move = parse_move(st.move);
      o.target_acceptance = st.target_acceptance;
      o.longitudinal = st.longitudinal;
      o.seed = c.seed;
      o.stream = 1000 + k;
      d.mc = std::make_unique<MetropolisSampler>(h, s, o);
      // minimize: zero-temperature Metropolis (a quench that only accepts ΔE <= 0).
      d.mc->set_temperature(st.type == "mc" ? st.temperature : 0.0);
      n = st.type == "mc" ? st.sweeps : st.steps;
    } else if (st.type == "llg") {
      LLGSettings ls;
      ls.integrator = parse_llg_integrator(st.integrator.empty() ? "heun" : st.integrator);
      ls.dt = st.dt;
      ls.temperature = st.temperature;
      ls.damping = st.damping_species.empty() ? std::vector<double>{st.damping} : st.damping_species;
      ls.field = field_of(st);
      ls.longitudinal = st.longitudinal;
      ls.longitudinal_damping = st.longitudinal_damping;
      d.llg = std::make_unique<LLG>(h, s, ls, derive_seed(c.seed, StreamPurpose::spin_noise, k));
      d.dynamics = true;
      d.dt = st.dt;
      n = st.steps;
    } else if (st.type == "md") {
      MdOptions mo;
      mo.dt = st.dt;
      mo.temperature = st.temperature;
      mo.friction = st.lattice_damping;
      mo.seed = derive_seed(c.seed, StreamPurpose::lattice_noise, k);
      d.md = std::make_unique<LatticeIntegrator>(s, h, with_barostat(mo, st.npt));
      d.dynamics = true;
      d.dt = st.dt;
      n = st.steps;
    } else if (st.type == "sld") {
      // Symplectic spin-lattice splitting (docs/spin-lattice.md); baths switch on separately.
      SldSettings ss;
      ss.dt = st.dt;
      ss.temperature = st.temperature;
      ss.damping = st.damping_species.empty() ? std::vector<double>{st.damping} : st.damping_species;
      ss.lattice_damping = st.lattice_damping;
      ss.spin_substeps = static_cast<int>(st.spin_substeps);
      ss.field = field_of(st);
      d.sld = std::make_unique<SpinLatticeIntegrator>(s, h, ss, derive_seed(c.seed, StreamPurpose::spin_noise, k));
      d.dynamics = true;
      d.dt = st.dt;
      n = st.steps;
    } else if (st.type == "hybrid") {
      // Metropolis sweeps of the moments alternating with Langevin MD of the lattice.
      HybridSettings hs;
      hs.temperature = st.temperature;
      hs.md_steps_per_sweep = st.md_steps_per_sweep;
      hs.dt = st.dt;
      hs.lattice_damping = st.lattice_damping;
      hs.mc.move = parse_move(st.move);
      hs.mc.target_acceptance = st.target_acceptance;
      hs.mc.longitudinal = st.longitudinal;
      hs.mc.stream = 1000 + k;
      d.hybrid = std::make_unique<HybridMcMd>(s, h, hs, c.seed);
      if (st.npt.enabled) d.hybrid->lattice().set_options(with_barostat(d.hybrid->lattice().options(), st.npt));
      d.dynamics = true;
      d.dt = st.dt * double(st.md_steps_per_sweep);
      n = st.sweeps;
    } else {
      throw InputError(c.path, "stage." + std::to_string(k) + ".type", st.line,
                       "stage type '" + st.type + "' is not available in this version");
    }
    // S(q,ω) of this stage's spins ([spectrum]).
    std::unique_ptr<SpinSpectrumRecorder> spectrum;
    if (c.spectrum && c.spectrum->stage == static_cast<int>(k))
      spectrum = std::make_unique<SpinSpectrumRecorder>(s, *c.spectrum, &h);
    // Phonon DOS from this stage's velocities ([phonons]).
    std::unique_ptr<PhononDosRecorder> phonons;
    if (c.phonons && c.phonons->stage == static_cast<int>(k))
      phonons = std::make_unique<PhononDosRecorder>(s, *c.phonons);
    // Energy-drift guard for conservative dynamics: a time step too large shows up here.
    const bool conservative = (st.type == "md" && st.lattice_damping == 0.0 && !st.npt.enabled) ||
                              (st.type == "sld" && st.lattice_damping == 0.0 && st.damping == 0.0 &&
                               st.damping_species.empty() && st.field_schedule == "constant") ||
                              (st.type == "llg" && st.damping == 0.0 && st.damping_species.empty() &&
                               st.field_schedule == "constant");
    const bool guard_drift = conservative && st.max_energy_drift > 0.0;
    double energy_start = 0.0;
    auto total_energy = [&] { return energy_per_atom(h, s) + lattice_kinetic_energy(s) / double(s.size()); };
    if (guard_drift) energy_start = total_energy();
    long long step = 0;
    if (k == first_stage && first_step > 0) {
      d.load(driver_state);
      if (spectrum) spectrum->load_state(ctx.resume->blob("stages.spectrum"));
      if (phonons) phonons->load_state(ctx.resume->blob("stages.phonons"));
      if (guard_drift) energy_start = ctx.resume->real("stages.energy_start");
      step = first_step;
    }
    auto checkpoint = [&](long long at) {
      check_state(s, global_step);  // never checkpoint a broken state
      Checkpoint ck;
      ck.set_blob("kind", "stages");
      ck.set_integer("stages.stage", static_cast<std::int64_t>(k));
      ck.set_integer("stages.step", at);
      ck.set_integer("stages.global_step", global_step);
      ck.set_real("stages.time", time);
      store_system(ck, s);
      ck.set_blob("stages.driver", d.save());
      dataset.save(ck);
      if (spectrum) ck.set_blob("stages.spectrum", spectrum->save_state());
      if (phonons) ck.set_blob("stages.phonons", phonons->save_state());
      if (guard_drift) ck.set_real("stages.energy_start", energy_start);
      ctx.save(ck);
    };
    if (global_step == 0 && obs_every > 0) observe(d, st);
    if (global_step == 0 && traj_every > 0) traj.write_frame(s, 0, 0.0);
    for (; step < n; ++step) {
      if (ctx.stop_requested()) { checkpoint(step); return 3; }
      if (spectrum && spectrum->due(step)) spectrum->record(s, d.llg ? d.llg->time() : time);
      if (phonons && phonons->due(step)) phonons->record(s, time);
      d.advance(s, st.type == "mc" || st.type == "minimize" || st.type == "hybrid");
      ++global_step;
      if (d.dynamics) time += d.dt;
      if (obs_every > 0 && global_step % obs_every == 0) {
        const double drift = observe(d, st) - energy_start;
        if (guard_drift && std::abs(drift) > st.max_energy_drift)
          throw NumericalError("stage " + std::to_string(k) + " (" + st.type + "), step " + std::to_string(global_step) +
                               ": total energy drifted by " + std::to_string(drift) +
                               " eV/atom (max_energy_drift = " + std::to_string(st.max_energy_drift) +
                               "); reduce dt");
      }
      if (traj_every > 0 && global_step % traj_every == 0) traj.write_frame(s, global_step, time);
      if (DatasetWriter::due(st, step + 1)) dataset.write(st, k, global_step, s, h);
      progress.update(++work, "stage " + std::to_string(k) + " (" + st.type + ")");
      if (c.output.checkpoint_every > 0 && global_step % c.output.checkpoint_every == 0 && step + 1 < n)
        checkpoint(step + 1);
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
    // Stage boundary: the next stage starts with a fresh driver.
    if (k + 1 < c.stages.size()) {
      Checkpoint ck;
      ck.set_blob("kind", "stages");
      ck.set_integer("stages.stage", static_cast<std::int64_t>(k + 1));
      ck.set_integer("stages.step", 0);
      ck.set_integer("stages.global_step", global_step);
      ck.set_real("stages.time", time);
      store_system(ck, s);
      dataset.save(ck);
      ctx.save(ck);
    }
    if (!ctx.options.quiet)
      std::fprintf(stderr, "%sstage %zu (%s) done: E = %.6f eV/atom, |M| = %.4f\n",
                   Progress::stderr_is_terminal() ? "\r\033[K" : "", k, st.type.c_str(),
                   energy_per_atom(h, s), magnetization(s));
  }
  progress.finish();
  ctx.file.flush();
  return 0;
}

}  // namespace spinlat
