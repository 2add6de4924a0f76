// Temperature sweeps over system sizes for ordering transitions: equilibrate, measure with
// error bars, write each (size, temperature) point as it finishes, estimate Tc.
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
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
#include "spinlat/parallel/assign.hpp"
#include "spinlat/parallel/ranks.hpp"

namespace spinlat {
namespace {

struct PointResult;

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
  /// The sublattice magnetisations of `s` (none when there is no series).
  std::vector<double> values(const System& s) const {
    return series.empty() ? std::vector<double>() : sublattice_magnetizations(s, labels);
  }
  /// Adds one value per series from `m` (values()).
  void add(const double* m) {
    for (std::size_t k = 0; k < series.size(); ++k) series[k].add(m[k]);
  }
  void add(const System& s) { add(values(s).data()); }
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
  /// Into the point's result: /sweep/sublattice_magnetization_<s> and `_err`.
  void write(PointResult& r) const;
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


/// One finished point as rank 0 writes it, wherever it ran (parallel/ranks.hpp): the
/// accumulator's state rather than its estimate, so that one piece of code (write_point)
/// turns every point into the file's values, and the driver's own figures.
struct PointResult {
  std::size_t il = 0, it = 0;
  long long atoms = 0;
  const ThermoAccumulator* live = nullptr;  ///< the point's accumulator when it ran here
  std::string accumulator;                  ///< else its save_state()
  std::vector<std::pair<std::string, double>> extras;       ///< /sweep/<name>[il, it]
  std::vector<std::pair<std::string, std::string>> units;   ///< their unit attributes
  std::string order_kind, order_word;       ///< op.name(), order_word(op)

  void extra(const std::string& name, double value) { extras.emplace_back(name, value); }

  std::string encode() const {
    state_io::Writer w("spinlat-sweep-point", 1);
    w.integer("il", il);
    w.integer("it", it);
    w.signed_integer("atoms", atoms);
    w.blob("accumulator", live ? live->save_state() : accumulator);
    w.integer("extras", extras.size());
    for (std::size_t k = 0; k < extras.size(); ++k) {
      w.text("extra." + std::to_string(k), extras[k].first);
      w.real("value." + std::to_string(k), extras[k].second);
    }
    w.integer("units", units.size());
    for (std::size_t k = 0; k < units.size(); ++k) {
      w.text("quantity." + std::to_string(k), units[k].first);
      w.text("unit." + std::to_string(k), units[k].second);
    }
    w.text("order_kind", order_kind);
    w.text("order_word", order_word);
    return w.str();
  }
  static PointResult decode(const std::string& text) {
    const state_io::Reader r(text, "spinlat-sweep-point", 1);
    PointResult p;
    p.il = r.integer("il");
    p.it = r.integer("it");
    p.atoms = r.signed_integer("atoms");
    p.accumulator = r.blob("accumulator");
    for (std::size_t k = 0; k < r.integer("extras"); ++k)
      p.extras.emplace_back(r.text("extra." + std::to_string(k)), r.real("value." + std::to_string(k)));
    for (std::size_t k = 0; k < r.integer("units"); ++k)
      p.units.emplace_back(r.text("quantity." + std::to_string(k)), r.text("unit." + std::to_string(k)));
    p.order_kind = r.text("order_kind");
    p.order_word = r.text("order_word");
    return p;
  }
};

void SublatticeSeries::write(PointResult& r) const {
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Value v = series[k].estimate();
    const std::string name = "sublattice_magnetization_" + std::to_string(k);
    r.extra(name, v.value);
    r.extra(name + "_err", v.error);
    r.units.emplace_back(name, "1");  // a fraction of the sublattice's saturation
  }
}

/// The rank of each unit of work (the sizes, each `per_size` units, in order), a unit's cost
/// taken as its cells (atoms ∝ cells; every unit of a sweep runs the same number of steps).
std::vector<int> assign_units(const Config& c, const std::vector<int>& sizes, std::size_t per_size, int ranks) {
  std::vector<double> cost;
  for (int L : sizes)
    for (std::size_t k = 0; k < per_size; ++k) cost.push_back(double(cells_for(c, L).prod()));
  return parallel::longest_first(cost, ranks);
}

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

  // Ranks (docs/parallel.md): rank 0 owns the results file and the checkpoint; every rank
  // computes the units of work assign_units gives it. A unit is a whole size where its
  // points depend on each other (annealed points, one parallel-tempering ladder), else a point.
  // The random streams are keyed by point and replica, so the owner cannot change a result.
  const int ranks = parallel::size(), me = parallel::rank();
  const bool root = me == 0;
  const bool distributed = ranks > 1;
  const bool pt = spec.replica_exchange();
  const bool whole_sizes = pt || sw.anneal;
  auto unit_of = [&](std::size_t il, std::size_t it) { return whole_sizes ? il : il * nT + it; };
  const std::vector<int> unit_rank = assign_units(c, sizes, whole_sizes ? 1 : nT, ranks);
  // Parallel tempering: whole ladders as above, or each ladder in turn over every rank (its
  // replicas in blocks, exchanging energies and temperature labels; mc/parallel_tempering.hpp),
  // whichever the estimate says finishes first (parallel::plan_ladders, docs/parallel.md).
  bool spread = false;
  if (pt && distributed) {
    std::vector<double> replica_cost;
    for (int L : sizes) replica_cost.push_back(double(cells_for(c, L).prod()));
    const parallel::LadderPlan plan = parallel::plan_ladders(replica_cost, nT, ranks);
    spread = plan.spread;
    if (root && !ctx.options.quiet)
      std::fprintf(stderr, "sweep: %s (estimated cost %g against %g %s)\n",
                   spread ? "each ladder spread over every rank in turn" : "whole ladders over the ranks",
                   spread ? plan.spread_makespan : plan.whole, spread ? plan.whole : plan.spread_makespan,
                   spread ? "for whole ladders" : "for spread ladders");
  }
  if (root && !ctx.options.quiet) {  // say what is sampled, and how, when a surrogate proposes
    const std::map<std::string, std::string> set = spec.settings();
    const auto sur = set.find("surrogate");
    if (sur != set.end())
      std::fprintf(stderr, "sweep: exact sampling of the input's Hamiltonian (delayed acceptance), moves proposed by %s, %s\n",
                   sur->second.empty() ? "a spin model mapped from it at each size" : sur->second.c_str(),
                   set.count("surrogate_block") ? "the whole lattice per step" : "one site per proposal");
  }
  auto mine = [&](std::size_t il, std::size_t it) { return spread || unit_rank[unit_of(il, it)] == me; };

  std::optional<SweepWriter> writer;
  if (root) {
    writer.emplace(ctx.file.exists("/sweep") ? SweepWriter::open(ctx.file) : SweepWriter(ctx.file, temps, size_labels));
    if (writer->n_temperatures() != nT || writer->n_sizes() != nL)
      throw InputError(ctx.file.path() + ": /sweep has a different shape than the input's sweep");
    writer->set_unit("temperature", "K");
    writer->set_unit("energy", "eV/atom");
    writer->set_unit("susceptibility", "1/eV per atom");
    writer->set_unit("specific_heat", "k_B per atom");
  }
  // NPT: /sweep/volume and /sweep/lattice_parameter
  const bool npt = spec.barostat() && spec.barostat()->enabled;
  // Raw samples for histogram reweighting, whose weight e^{−βU} misses the PV term of NPT at
  // a non-zero pressure: none there (Tc then comes from the per-point values).
  const bool pv = npt && (spec.barostat()->pressure != 0.0 ||
                          (spec.barostat()->pressure_axes.allFinite() && spec.barostat()->pressure_axes.norm() != 0.0));
  const std::size_t keep_samples = pv ? 0 : static_cast<std::size_t>(sw.reweight_samples);

  // Points checkpoints (several ranks, or a restart of such a run): the checkpoint says only
  // "continue"; the file's `done` mask says which points are finished, and every unit with an
  // unfinished point runs again from its start (its finished points come out the same). Any K
  // continues any other K's run this way, a single-process checkpoint included.
  const bool by_points = distributed || (ctx.resume && ctx.resume->has("sweep.by_points"));
  std::vector<long long> done_mask(nL * nT, 0);
  if (by_points) {
    if (root && ctx.resume)
      for (std::size_t k = 0; k < nL * nT; ++k) done_mask[k] = writer->done(k / nT, k % nT) ? 1 : 0;
    parallel::broadcast(done_mask);
    if (root) ctx.resume.reset();
  }
  auto points_checkpoint = [&] {
    Checkpoint ck;
    ck.set_blob("kind", "sweep");
    ck.set_blob("sweep.by_points", "1");
    ctx.save(ck);
  };
  if (by_points && root) points_checkpoint();
  // A unit runs here when it is this rank's and not finished.
  auto runs_here = [&](std::size_t il, std::size_t it) {
    if (!mine(il, it)) return false;
    if (!by_points) return true;
    if (!whole_sizes) return done_mask[il * nT + it] == 0;
    for (std::size_t k = 0; k < nT; ++k)
      if (done_mask[il * nT + k] == 0) return true;
    return false;
  };

  // Resume position (one process, its own checkpoint).
  std::size_t start_L = 0, start_T = 0;
  long long start_done = 0;
  int start_phase = 0;
  if (ctx.resume && ctx.resume->has("sweep.size_index")) {
    start_L = ctx.resume->integer("sweep.size_index");
    start_T = ctx.resume->integer("sweep.temperature_index");
    start_phase = static_cast<int>(ctx.resume->integer("sweep.phase"));
    start_done = ctx.resume->integer("sweep.done_in_phase");
  }
  const long long per_point = sw.equilibrate + sw.measure;
  std::vector<UnconvergedPoint> unconverged;  // points whose error bars cannot be trusted
  long long my_work = 0;  // the steps this rank runs (its progress bar)
  for (std::size_t il = 0; il < nL; ++il)
    for (std::size_t it = 0; it < nT; ++it)
      if (runs_here(il, it) && (!whole_sizes || it == 0)) my_work += pt ? per_point : per_point * (whole_sizes ? nT : 1);
  Progress progress("sweep", by_points ? my_work : static_cast<long long>(nL * (pt ? 1 : nT)) * per_point,
                    ctx.options.quiet || !root);
  long long work_done = by_points ? 0 : static_cast<long long>(start_L * (pt ? 1 : nT) + (pt ? 0 : start_T)) * per_point;

  std::string order_name = "Curie";
  std::size_t kind_size = 0;  // the largest size whose order parameter kind is in the file

  // Rank 0: one finished point into the file (and its console line).
  auto write_point = [&](const PointResult& r) {
    ThermoAccumulator rebuilt(temps[r.it], r.atoms, std::size_t(1) << 16, keep_samples);
    if (!r.live) rebuilt.load_state(r.accumulator);
    const ThermoAccumulator& acc = r.live ? *r.live : rebuilt;
    for (const auto& [name, value] : r.extras) writer->write_extra(name, r.il, r.it, value);
    for (const auto& [name, unit] : r.units) writer->set_unit(name, unit);
    const ThermoEstimate e = acc.estimate();
    writer->write(r.il, r.it, to_point(e));  // marks the point done: after its extras
    if (acc.sample_record().enabled()) writer->write_samples(r.il, r.it, acc.sample_record(), r.atoms);  // for reweighting
    if (r.il >= kind_size) {
      kind_size = r.il;
      ctx.file.set_attr("/sweep", "order_parameter_kind", r.order_kind);
      order_name = r.order_word;
    }
    ctx.file.flush();
    if (!e.converged) unconverged.push_back({size_labels[r.il], temps[r.it], e});
    if (!ctx.options.quiet) {
      // A mark per point; the reason and its remedy once, at the end (report_unconverged).
      std::fprintf(stderr, "%s  L=%d T=%.2f K: E=%.6f eV/atom, %s=%.4f±%.4f, U4=%.4f±%.4f, tau=%.1f%s\n",
                   Progress::stderr_is_terminal() ? "\r\033[K" : "", size_labels[r.il], temps[r.it], e.energy.value,
                   r.order_kind.c_str(), e.order_parameter.value, e.order_parameter.error, e.binder.value,
                   e.binder.error, e.tau_int, e.converged ? "" : "  [*]");
    }
    if (by_points) points_checkpoint();
  };
  // Rank 0, several ranks: writes the points the others finished (all of them when `wait`).
  auto serve = [&](bool wait) {
    if (!distributed || !root) return;
    std::string message;
    while (parallel::receive_result(message, wait)) write_point(PointResult::decode(message));
  };
  auto finished = [&](const PointResult& r) {
    if (root) write_point(r);
    else parallel::send_result(r.encode());
  };

  // The units of this rank; 3 when stopped.
  auto compute = [&]() -> int {
  bool first_size = true;
  double first_ground_energy = 0.0;  // eV/atom, of the first size run here
  int first_label = 0;
  for (std::size_t il = (by_points ? 0 : start_L); il < nL; ++il) {
    bool any = false;
    for (std::size_t it = 0; it < nT; ++it) any = any || runs_here(il, it);
    if (!any) continue;
    const Int3 cells = cells_for(c, sizes[il]);
    System s = build_system(c, cells);
    Hamiltonian h = build_hamiltonian(c, s, ctx.registry);
    const System gs = ground_state(c, h, s, cells, il);
    // A size whose quenched ground state lies above the others' frustrates the order (an
    // antiferromagnetic period that does not divide L): its points are not the same phase.
    const double e_gs = energy_per_atom(h, gs);
    if (first_size) { first_ground_energy = e_gs; first_label = size_labels[il]; first_size = false; }
    else if (e_gs > first_ground_energy + 1e-4 * std::abs(first_ground_energy) + 1e-6)
      std::fprintf(stderr, "warning: size L=%d: the quenched ground state lies %.3g meV/atom above size L=%d's: the "
                   "order does not fit this size (a period that does not divide L?), its points sample a frustrated phase\n",
                   size_labels[il], (e_gs - first_ground_energy) * 1e3, first_label);
    else if (e_gs < first_ground_energy - 1e-4 * std::abs(first_ground_energy) - 1e-6)
      std::fprintf(stderr, "warning: size L=%d: the quenched ground state lies %.3g meV/atom below size L=%d's: the "
                   "order does not fit size L=%d (a period that does not divide it?)\n",
                   size_labels[il], (first_ground_energy - e_gs) * 1e3, first_label, first_label);
    const OrderParameter op = order_parameter_for(c, gs, size_labels[il]);
    const long long atoms = static_cast<long long>(s.size());
    const bool resuming_here = !by_points && ctx.resume && il == start_L && ctx.resume->has("sweep.size_index");
    const System initial = s;
    auto result_for = [&](std::size_t it, const ThermoAccumulator& acc) {
      PointResult r;
      r.il = il;
      r.it = it;
      r.atoms = atoms;
      r.live = &acc;
      r.order_kind = op.name();
      r.order_word = order_word(op);
      return r;
    };
    auto measure_sample = [&](const System& sys, ThermoAccumulator& acc) {
      acc.add(energy_per_atom(h, sys), magnetization(sys), op(sys));
    };
    // Each step: the progress bar, and rank 0 writes what the other ranks finished.
    auto step_done = [&](const std::string& where) {
      progress.update(++work_done, where);
      serve(false);
    };

    if (pt) {
      // Replica k draws from the streams of point (il, k): the key's replica is k.
      const std::unique_ptr<ParallelTempering> ensemble =
          with_input_location(c, "sweep", [&] { return spec.ensemble(h, s, temps, sweep_point_key(c.seed, il, 0, nT)); });
      ParallelTempering& ens = *ensemble;
      if (spread) ens.spread_over_ranks();
      // Rank 0 keeps a spread ladder's accumulators; each rank its own whole ladders'.
      const bool keeps = !spread || root;
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
        if (by_points) return;  // points checkpoints: the unit runs again
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
          // A spread ladder stops on every rank at the same round, when any rank was told to
          // (a collective: every 8 rounds, which costs little even on oversubscribed cores).
          if (spread ? done % 8 == 0 && parallel::any(ctx.stop_requested()) : ctx.stop_requested()) {
            checkpoint(done);
            return 3;
          }
          if (phase == 0) ens.equilibrate(1);
          else {
            ens.run(1);
            if ((done + 1) % sw.sample_every == 0) {
              // Each temperature's sample wherever its configuration is, into its accumulator
              // in temperature order: the same order and values as in one process.
              const std::vector<std::vector<double>> samples = ens.measure([&](const System& sys) {
                std::vector<double> v = {energy_per_atom(h, sys), magnetization(sys), op(sys)};
                const std::vector<double> m = subs[0].values(sys);
                v.insert(v.end(), m.begin(), m.end());
                return v;
              });
              if (keeps)
                for (std::size_t it = 0; it < nT; ++it) {
                  acc[it].add(samples[it][0], samples[it][1], samples[it][2]);
                  subs[it].add(samples[it].data() + 3);
                }
            }
          }
          step_done("L=" + std::to_string(size_labels[il]));
          if (c.output.checkpoint_every > 0 && (done + 1) % c.output.checkpoint_every == 0 && done + 1 < n)
            checkpoint(done + 1);
        }
      }
      ens.gather_samplers();  // the surrogate samplers' figures below, wherever they ended
      for (std::size_t it = 0; it < nT && keeps; ++it) {
        PointResult r = result_for(it, acc[it]);
        subs[it].write(r);
        if (const DelayedAcceptanceSampler* d = ens.delayed(it)) {  // surrogate-driven replicas
          r.extra("outer_acceptance", d->outer_acceptance());
          r.extra("inner_acceptance", d->inner_acceptance());
          if (!ctx.options.quiet)
            std::fprintf(stderr, "    outer_acceptance %f, inner_acceptance %f\n", d->outer_acceptance(), d->inner_acceptance());
        }
        finished(r);
      }
      start_phase = 0;
    } else {
      for (std::size_t it = (resuming_here ? start_T : 0); it < nT; ++it) {
        if (!whole_sizes && !runs_here(il, it)) continue;
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
          if (by_points) return;  // points checkpoints: the unit runs again
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
            step_done("L=" + std::to_string(size_labels[il]) + " T=" + std::to_string(int(T)) + " K");
            if (c.output.checkpoint_every > 0 && (done + 1) % c.output.checkpoint_every == 0 && done + 1 < n)
              checkpoint(it, phase, done + 1);
          }
        }
        PointResult r = result_for(it, acc);
        if (npt) {
          // Volume per atom and the cube root of the mean volume per conventional cell (the
          // lattice parameter of a cubic lattice), error propagated: δa = a δV / (3V).
          const Value v = volume.estimate();
          const double per_cell = double(atoms) / double(cells.prod());
          const double a = std::cbrt(v.value * per_cell);
          r.extra("volume", v.value);
          r.extra("volume_err", v.error);
          r.extra("lattice_parameter", a);
          r.extra("lattice_parameter_err", a * v.error / (3.0 * v.value));
          r.units.emplace_back("volume", "angstrom^3/atom");
          r.units.emplace_back("lattice_parameter", "angstrom");
        }
        subs.write(r);
        // The driver's own figures (the surrogate sampler's acceptances): /sweep/<name>.
        std::vector<std::pair<std::string, double>> rep;
        driver->report(rep);
        std::string line;
        for (const auto& [name, value] : rep) {
          r.extra(name, value);
          line += (line.empty() ? "" : ", ") + name + " " + std::to_string(value);
        }
        if (!line.empty() && !ctx.options.quiet) std::fprintf(stderr, "    %s\n", line.c_str());
        finished(r);
        // The next point starts from this state (annealing); its samplers start fresh.
        if (it + 1 < nT && !by_points) {
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
    if (!by_points) {
      // Update Tc after every completed size so a killed run keeps the best estimate so far.
      analyse_sweep(*writer, il + 1);
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
  }
  return 0;
  };
  const int status = compute();
  if (!root) {
    parallel::close_results();  // the points this rank finished are with rank 0
    return status;
  }
  serve(true);  // every other rank's points, up to their last (finished or stopped)
  if (status != 0) return status;
  progress.finish();
  if (!ctx.options.quiet) report_unconverged(unconverged, nL * nT, sw);
  const CriticalTemperature tc = analyse_sweep(*writer, nL);
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
