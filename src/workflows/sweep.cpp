// Temperature sweeps over system sizes for ordering transitions: equilibrate, measure with
// error bars, write each (size, temperature) point as it finishes, estimate Tc.
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <sstream>
#include <vector>

#include "spinlat/core/state_io.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/observables/statistics.hpp"
#include "spinlat/workflows/hdf5_sweep.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/mc/parallel_tempering.hpp"
#include "spinlat/observables/critical.hpp"
#include "spinlat/observables/order.hpp"
#include "spinlat/observables/thermo.hpp"
#include "spinlat/workflows/context.hpp"
#include "spinlat/workflows/progress.hpp"

namespace spinlat {
namespace {

/// The magnetisation of each magnetic sublattice at one point, |Σ_{i∈s} m_i| / Σ_{i∈s} |m_i|
/// (order.hpp), one time series per sublattice; nothing when the order parameter tells fewer
/// than two sublattices apart. Written as /sweep/sublattice_magnetization_<s> (and `_err`).
struct SublatticeSeries {
  std::vector<int> labels;
  std::vector<TimeSeries> series;

  SublatticeSeries(const OrderParameter& op, const System& s) : labels(magnetic_sublattice_labels(op, s)) {
    int count = 0;
    for (int l : labels) count = std::max(count, l + 1);
    series.resize(static_cast<std::size_t>(count));
  }
  void add(const System& s) {
    if (series.empty()) return;
    const std::vector<double> m = sublattice_magnetizations(s, labels);
    for (std::size_t k = 0; k < series.size(); ++k) series[k].add(m[k]);
  }
  std::string save_state() const {
    state_io::Writer w("spinlat-sublattice-series", 1);
    w.integer("count", series.size());
    for (std::size_t k = 0; k < series.size(); ++k) w.blob(std::to_string(k), series[k].save_state());
    return w.str();
  }
  void load_state(const std::string& text) {
    const state_io::Reader r(text, "spinlat-sublattice-series", 1);
    if (r.integer("count") != series.size())
      throw InputError("checkpoint: " + std::to_string(r.integer("count")) + " sublattice series, the sweep has " +
                       std::to_string(series.size()));
    for (std::size_t k = 0; k < series.size(); ++k) series[k].load_state(r.blob(std::to_string(k)));
  }
  void write(SweepWriter& w, std::size_t il, std::size_t it) const {
    for (std::size_t k = 0; k < series.size(); ++k) {
      const Value v = series[k].estimate();
      const std::string name = "sublattice_magnetization_" + std::to_string(k);
      w.write_extra(name, il, it, v.value);
      w.write_extra(name + "_err", il, it, v.error);
      w.set_unit(name, "1");  // a fraction of the sublattice's saturation
    }
  }
};

SweepPoint to_point(const ThermoEstimate& e) {
  SweepPoint p;
  p.energy = e.energy.value; p.energy_err = e.energy.error;
  p.magnetization = e.magnetization.value; p.magnetization_err = e.magnetization.error;
  p.order_parameter = e.order_parameter.value; p.order_parameter_err = e.order_parameter.error;
  p.susceptibility = e.susceptibility.value; p.susceptibility_err = e.susceptibility.error;
  p.specific_heat = e.specific_heat.value; p.specific_heat_err = e.specific_heat.error;
  p.binder = e.binder.value; p.binder_err = e.binder.error;
  p.tau_int = e.tau_int;
  p.samples = e.samples;
  return p;
}

Int3 cells_for(const Config& c, int L) { return L > 0 ? Int3(L, L, L) : c.structure.cells; }


/// The ground state that defines the order parameter: the lower in energy of the ferro and
/// the lattice's antiferro configuration, each quenched by zero-temperature Metropolis sweeps.
System ground_state(const Config& c, const Hamiltonian& h, const System& start, const Int3& cells, std::size_t il) {
  if (c.sweep.order == "ferro") return start;
  std::vector<System> candidates;
  for (const char* mode : {"ferro", "antiferro"}) {
    Config cc = c;
    cc.structure.spins = mode;
    cc.structure.lattice_temperature = 0.0;
    try {
      candidates.push_back(build_system(cc, cells));
    } catch (const InputError&) {
      // a file structure has no antiferro pattern: keep the ferro candidate only
    }
  }
  double best = INFINITY;
  System gs = start;
  for (std::size_t k = 0; k < candidates.size(); ++k) {
    System& s = candidates[k];
    MetropolisOptions o;
    o.seed = StreamKey(c.seed, StreamOwner::ground_state, il, k);
    MetropolisSampler q(h, s, o);
    q.set_temperature(0.0);
    q.run(s, 200);
    const double e = energy_per_atom(h, s);
    if (e < best - 1e-12) { best = e; gs = s; }
  }
  return gs;
}

struct UnconvergedPoint {
  int size;
  double temperature;
  ThermoEstimate estimate;
};

/// One summary of the points whose error bars are not trustworthy (marked [*] as they
/// finish), with the `measure` that would give every one of them 16 blocks of 20 τ_int.
void report_unconverged(const std::vector<UnconvergedPoint>& points, std::size_t total, const SweepConfig& sw) {
  if (points.empty()) return;
  const UnconvergedPoint* worst = &points.front();
  long long short_runs = 0;
  for (const UnconvergedPoint& p : points) {
    if (p.estimate.samples < p.estimate.samples_needed) ++short_runs;
    if (p.estimate.samples_needed > worst->estimate.samples_needed) worst = &p;
  }
  std::fprintf(stderr, "warning: %zu of %zu points [*] have error bars that are likely too small:\n", points.size(), total);
  if (short_runs > 0) {
    const long long need = worst->estimate.samples_needed * sw.sample_every;
    std::fprintf(stderr,
                 "  %lld measured for less than 320 tau_int (longest tau_int %.1f samples, at L=%d T=%.2f K): "
                 "error bars are lower bounds; [sweep] measure = %lld (now %lld) would be enough for every point\n",
                 short_runs, worst->estimate.tau_int, worst->size, worst->temperature, need, sw.measure);
  }
  for (const UnconvergedPoint& p : points)
    if (p.estimate.samples >= p.estimate.samples_needed) {  // the first such point says why
      std::fprintf(stderr, "  %lld long enough, but the error estimate did not converge (e.g. L=%d T=%.2f K: %s)\n",
                   static_cast<long long>(points.size()) - short_runs, p.size, p.temperature, p.estimate.warning.c_str());
      break;
    }
}

/// make_order_parameter for size L, its refusals naming the input file, `sweep.order`'s line
/// and the size.
OrderParameter order_parameter_for(const Config& c, const System& ground, int L) {
  try {
    return make_order_parameter(c.sweep.order, ground);
  } catch (const InputError& e) {
    if (!e.file().empty()) throw;
    std::string why = e.what();
    const std::string prefix = "'sweep.order': ";
    if (const auto at = why.find(prefix); at != std::string::npos) why = why.substr(at + prefix.size());
    throw key_input_error(c, "sweep", "order", "size L=" + std::to_string(L) + ": " + why);
  }
}

std::string order_word(const OrderParameter& op) { return op.kind == OrderKind::ferro ? "Curie" : "Néel"; }

}  // namespace

double energy_per_atom(const Hamiltonian& h, const System& s) {
  const SpinKernel* k = h.spin_kernel();
  const double e = (k && !h.depends_on_positions()) ? k->energy(s.spin, s.moment) : h.energy(s);
  return e / double(s.size());
}

int run_sweep(RunContext& ctx) {
  const Config& c = ctx.config;
  const SweepConfig& sw = c.sweep;
  const DriverSpec& spec = *sw.driver;
  std::vector<int> sizes = sw.sizes;
  if (sizes.empty()) sizes.push_back(0);  // 0 = the structure's own cells
  std::vector<int> size_labels;
  for (int L : sizes) size_labels.push_back(L > 0 ? L : c.structure.cells[0]);
  const std::vector<double>& temps = sw.temperatures;
  const std::size_t nT = temps.size(), nL = sizes.size();

  SweepWriter writer = ctx.file.exists("/sweep") ? SweepWriter::open(ctx.file)
                                                 : SweepWriter(ctx.file, temps, size_labels);
  if (writer.n_temperatures() != nT || writer.n_sizes() != nL)
    throw InputError(ctx.file.path() + ": /sweep has a different shape than the input's sweep");
  writer.set_unit("temperature", "K");
  writer.set_unit("energy", "eV/atom");
  writer.set_unit("susceptibility", "1/eV per atom");
  writer.set_unit("specific_heat", "k_B per atom");
  // NPT: /sweep/volume and /sweep/lattice_parameter
  const bool npt = spec.barostat() && spec.barostat()->enabled;
  // Raw samples for histogram reweighting, whose weight e^{−βU} misses the PV term of NPT at
  // a non-zero pressure: none there (Tc then comes from the per-point values).
  const bool pv = npt && (spec.barostat()->pressure != 0.0 ||
                          (spec.barostat()->pressure_axes.allFinite() && spec.barostat()->pressure_axes.norm() != 0.0));
  const std::size_t keep_samples = pv ? 0 : static_cast<std::size_t>(sw.reweight_samples);

  // Resume position.
  std::size_t start_L = 0, start_T = 0;
  long long start_done = 0;
  int start_phase = 0;
  if (ctx.resume && ctx.resume->has("sweep.size_index")) {
    start_L = ctx.resume->integer("sweep.size_index");
    start_T = ctx.resume->integer("sweep.temperature_index");
    start_phase = static_cast<int>(ctx.resume->integer("sweep.phase"));
    start_done = ctx.resume->integer("sweep.done_in_phase");
  }
  // Parallel tempering: one ensemble of replicas per size instead of one driver per point.
  const bool pt = spec.replica_exchange();
  const long long per_point = sw.equilibrate + sw.measure;
  std::vector<UnconvergedPoint> unconverged;  // points whose error bars cannot be trusted
  Progress progress("sweep", static_cast<long long>(nL * (pt ? 1 : nT)) * per_point, ctx.options.quiet);
  long long work_done = static_cast<long long>(start_L * (pt ? 1 : nT) + (pt ? 0 : start_T)) * per_point;

  std::string order_name = "Curie";
  double first_ground_energy = 0.0;  // eV/atom, of the first size run here

  for (std::size_t il = start_L; il < nL; ++il) {
    const Int3 cells = cells_for(c, sizes[il]);
    System s = build_system(c, cells);
    Hamiltonian h = build_hamiltonian(c, s, ctx.registry);
    const System gs = ground_state(c, h, s, cells, il);
    // A size whose quenched ground state lies above the others' frustrates the order (an
    // antiferromagnetic period that does not divide L): its points are not the same phase.
    const double e_gs = energy_per_atom(h, gs);
    if (il == start_L) first_ground_energy = e_gs;
    else if (e_gs > first_ground_energy + 1e-4 * std::abs(first_ground_energy) + 1e-6)
      std::fprintf(stderr, "warning: size L=%d: the quenched ground state lies %.3g meV/atom above size L=%d's: the "
                   "order does not fit this size (a period that does not divide L?), its points sample a frustrated phase\n",
                   size_labels[il], (e_gs - first_ground_energy) * 1e3, size_labels[start_L]);
    else if (e_gs < first_ground_energy - 1e-4 * std::abs(first_ground_energy) - 1e-6)
      std::fprintf(stderr, "warning: size L=%d: the quenched ground state lies %.3g meV/atom below size L=%d's: the "
                   "order does not fit size L=%d (a period that does not divide it?)\n",
                   size_labels[il], (first_ground_energy - e_gs) * 1e3, size_labels[start_L], size_labels[start_L]);
    const OrderParameter op = order_parameter_for(c, gs, size_labels[il]);
    order_name = order_word(op);
    const long long atoms = static_cast<long long>(s.size());
    const bool resuming_here = ctx.resume && il == start_L && ctx.resume->has("sweep.size_index");
    const System initial = s;

    auto measure_sample = [&](const System& sys, ThermoAccumulator& acc) {
      acc.add(energy_per_atom(h, sys), magnetization(sys), op(sys));
    };
    auto point_done = [&](std::size_t it, const ThermoAccumulator& acc) {
      const ThermoEstimate e = acc.estimate();
      writer.write(il, it, to_point(e));
      if (acc.sample_record().enabled()) writer.write_samples(il, it, acc.sample_record(), atoms);  // for reweighting
      ctx.file.flush();
      if (!e.converged) unconverged.push_back({size_labels[il], temps[it], e});
      if (!ctx.options.quiet) {
        // A mark per point; the reason and its remedy once, at the end (report_unconverged).
        std::fprintf(stderr, "%s  L=%d T=%.2f K: E=%.6f eV/atom, %s=%.4f±%.4f, U4=%.4f±%.4f, tau=%.1f%s\n",
                     Progress::stderr_is_terminal() ? "\r\033[K" : "", size_labels[il], temps[it], e.energy.value, op.name().c_str(), e.order_parameter.value,
                     e.order_parameter.error, e.binder.value, e.binder.error, e.tau_int, e.converged ? "" : "  [*]");
      }
    };

    if (pt) {
      // Replica k draws from the streams of point (il, k): the key's replica is k.
      const std::unique_ptr<ParallelTempering> ensemble =
          with_input_location(c, "sweep", [&] { return spec.ensemble(h, s, temps, sweep_point_key(c.seed, il, 0, nT)); });
      ParallelTempering& ens = *ensemble;
      std::vector<ThermoAccumulator> acc;
      for (double T : temps) acc.emplace_back(T, atoms, std::size_t(1) << 16, keep_samples);
      std::vector<SublatticeSeries> subs(nT, SublatticeSeries(op, s));
      int phase = 0;
      long long done = 0;
      if (resuming_here && !ctx.resume->has("sweep.fresh")) {
        ens.load_state(ctx.resume->blob("sweep.pt"));
        for (std::size_t it = 0; it < nT; ++it) {
          acc[it].load_state(ctx.resume->blob("sweep.acc." + std::to_string(it)));
          const std::string key = "sweep.sublattices." + std::to_string(it);
          if (ctx.resume->has(key)) subs[it].load_state(ctx.resume->blob(key));
        }
        phase = start_phase;
        done = start_done;
        work_done += phase == 0 ? done : sw.equilibrate + done;
      }
      auto checkpoint = [&](long long d) {
        Checkpoint ck;
        ck.set_blob("kind", "sweep");
        ck.set_integer("sweep.size_index", il);
        ck.set_integer("sweep.temperature_index", 0);
        ck.set_integer("sweep.phase", phase);
        ck.set_integer("sweep.done_in_phase", d);
        ck.set_blob("sweep.pt", ens.save_state());
        for (std::size_t it = 0; it < nT; ++it) {
          ck.set_blob("sweep.acc." + std::to_string(it), acc[it].save_state());
          ck.set_blob("sweep.sublattices." + std::to_string(it), subs[it].save_state());
        }
        ctx.save(ck);
      };
      for (; phase < 2; ++phase, done = 0) {
        const long long n = phase == 0 ? sw.equilibrate : sw.measure;
        for (; done < n; ++done) {
          if (ctx.stop_requested()) { checkpoint(done); return 3; }
          if (phase == 0) ens.equilibrate(1);
          else {
            ens.run(1);
            if ((done + 1) % sw.sample_every == 0)
              for (std::size_t it = 0; it < nT; ++it) {
                measure_sample(ens.system(it), acc[it]);
                subs[it].add(ens.system(it));
              }
          }
          progress.update(++work_done, "L=" + std::to_string(size_labels[il]));
          if (c.output.checkpoint_every > 0 && (done + 1) % c.output.checkpoint_every == 0 && done + 1 < n)
            checkpoint(done + 1);
        }
      }
      for (std::size_t it = 0; it < nT; ++it) {
        subs[it].write(writer, il, it);
        point_done(it, acc[it]);
        if (const DelayedAcceptanceSampler* d = ens.delayed(it)) {  // surrogate-driven replicas
          writer.write_extra("outer_acceptance", il, it, d->outer_acceptance());
          writer.write_extra("inner_acceptance", il, it, d->inner_acceptance());
          if (!ctx.options.quiet)
            std::fprintf(stderr, "    outer_acceptance %f, inner_acceptance %f\n", d->outer_acceptance(), d->inner_acceptance());
        }
      }
      start_phase = 0;
    } else {
      for (std::size_t it = (resuming_here ? start_T : 0); it < nT; ++it) {
        const double T = temps[it];
        if (!sw.anneal) s = initial;
        const std::unique_ptr<Driver> driver =
            with_input_location(c, "sweep", [&] { return spec.build({s, h, sweep_point_key(c.seed, il, it, nT), T}); });
        ThermoAccumulator acc(T, atoms, std::size_t(1) << 16, keep_samples);
        SublatticeSeries subs(op, s);
        TimeSeries volume;  // NPT: Å³ per atom, one value per measurement
        int phase = 0;
        long long done = 0;
        if (resuming_here && it == start_T && ctx.resume->has("sweep.fresh")) {
          // A checkpoint between points: the state to anneal from, fresh samplers.
          if (ctx.resume->has("system/position")) s = restore_system(*ctx.resume);
        } else if (resuming_here && it == start_T) {
          s = restore_system(*ctx.resume);
          driver->load_state(ctx.resume->blob("sweep.driver"));
          acc.load_state(ctx.resume->blob("sweep.acc"));
          if (ctx.resume->has("sweep.sublattices")) subs.load_state(ctx.resume->blob("sweep.sublattices"));
          if (npt) volume.load_state(ctx.resume->blob("sweep.volume"));
          phase = start_phase;
          done = start_done;
          work_done += phase == 0 ? done : sw.equilibrate + done;
        }
        auto checkpoint = [&](std::size_t point, int ph, long long d) {
          Checkpoint ck;
          ck.set_blob("kind", "sweep");
          ck.set_integer("sweep.size_index", il);
          ck.set_integer("sweep.temperature_index", point);
          ck.set_integer("sweep.phase", ph);
          ck.set_integer("sweep.done_in_phase", d);
          store_system(ck, s);
          ck.set_blob("sweep.driver", driver->save_state());
          ck.set_blob("sweep.acc", acc.save_state());
          ck.set_blob("sweep.sublattices", subs.save_state());
          if (npt) ck.set_blob("sweep.volume", volume.save_state());
          ctx.save(ck);
        };
        for (; phase < 2; ++phase, done = 0) {
          const long long n = phase == 0 ? sw.equilibrate : sw.measure;
          for (; done < n; ++done) {
            if (ctx.stop_requested()) { checkpoint(it, phase, done); return 3; }
            driver->advance(phase == 0);  // move widths adapt only while equilibrating
            if (phase == 1 && (done + 1) % sw.sample_every == 0) {
              measure_sample(s, acc);
              subs.add(s);
              if (npt) volume.add(s.cell.volume() / double(atoms));
            }
            progress.update(++work_done, "L=" + std::to_string(size_labels[il]) + " T=" + std::to_string(int(T)) + " K");
            if (c.output.checkpoint_every > 0 && (done + 1) % c.output.checkpoint_every == 0 && done + 1 < n)
              checkpoint(it, phase, done + 1);
          }
        }
        if (npt) {
          // Volume per atom and the cube root of the mean volume per conventional cell (the
          // lattice parameter of a cubic lattice), error propagated: δa = a δV / (3V).
          const Value v = volume.estimate();
          const double per_cell = double(atoms) / double(cells.prod());
          const double a = std::cbrt(v.value * per_cell);
          writer.write_extra("volume", il, it, v.value);
          writer.write_extra("volume_err", il, it, v.error);
          writer.write_extra("lattice_parameter", il, it, a);
          writer.write_extra("lattice_parameter_err", il, it, a * v.error / (3.0 * v.value));
          writer.set_unit("volume", "angstrom^3/atom");
          writer.set_unit("lattice_parameter", "angstrom");
        }
        subs.write(writer, il, it);
        point_done(it, acc);
        // The driver's own figures (the surrogate sampler's acceptances): /sweep/<name>.
        std::vector<std::pair<std::string, double>> rep;
        driver->report(rep);
        std::string line;
        for (const auto& [name, value] : rep) {
          writer.write_extra(name, il, it, value);
          line += (line.empty() ? "" : ", ") + name + " " + std::to_string(value);
        }
        if (!line.empty()) ctx.file.flush();
        if (!line.empty() && !ctx.options.quiet) std::fprintf(stderr, "    %s\n", line.c_str());
        // The next point starts from this state (annealing); its samplers start fresh.
        if (it + 1 < nT) {
          // Checkpoint at the boundary: the next point's samplers are rebuilt from scratch.
          Checkpoint ck;
          ck.set_blob("kind", "sweep");
          ck.set_integer("sweep.size_index", il);
          ck.set_integer("sweep.temperature_index", it + 1);
          ck.set_integer("sweep.phase", 0);
          ck.set_integer("sweep.done_in_phase", 0);
          store_system(ck, sw.anneal ? s : initial);
          ck.set_blob("sweep.fresh", "1");
          ctx.save(ck);
        }
      }
    }
    // Update Tc after every completed size so a killed run keeps the best estimate so far.
    analyse_sweep(writer, il + 1);
    ctx.file.set_attr("/sweep", "order_parameter_kind", op.name());
    ctx.file.flush();
    if (il + 1 < nL) {
      Checkpoint ck;
      ck.set_blob("kind", "sweep");
      ck.set_integer("sweep.size_index", il + 1);
      ck.set_integer("sweep.temperature_index", 0);
      ck.set_integer("sweep.phase", 0);
      ck.set_integer("sweep.done_in_phase", 0);
      ck.set_blob("sweep.fresh", "1");
      ctx.save(ck);
    }
    ctx.resume.reset();
  }
  progress.finish();
  if (!ctx.options.quiet) report_unconverged(unconverged, nL * nT, sw);
  const CriticalTemperature tc = analyse_sweep(writer, nL);
  if (tc.found()) {
    std::printf("%s temperature: Tc = %.1f ± %.1f K (%s)\n", order_name.c_str(), tc.Tc, tc.Tc_err, tc.method.c_str());
    if (!tc.notes.empty()) std::printf("  note: %s\n", tc.notes.c_str());
  } else {
    std::printf("%s temperature: none: %s\n", order_name.c_str(), tc.notes.c_str());
  }
  ctx.file.flush();
  return 0;
}

}  // namespace spinlat
