#pragma once
// Temperature-sweep results in `/sweep` (docs/output.md).
//
// Layout: `temperature` [nT] (K), `size` [nL] (linear sizes in cells), and [nL, nT] datasets
// energy, magnetization, order_parameter, susceptibility, specific_heat, binder, each with a
// matching `<name>_err`, plus `tau_int` (integrated autocorrelation time, in measurements)
// and `samples` (int64). All are NaN (samples 0) at creation; `done` [nL, nT] (int64 0/1)
// says which points are finished. Each point is written, and the file flushed, as soon as it
// finishes, so a killed run keeps every finished point and a restart continues the rest.
//
// Reweighting data (docs/output.md): `raw_samples/p<il>_<it>/{energy,order_parameter}` hold the raw
// (thinned) samples of a point (attributes temperature, size, atoms, stride, measurements);
// `reweighted/` the multiple-histogram curves on a fine grid (`temperature` [nG], `size`, and
// [nL, nG] binder, susceptibility, order_parameter, energy, specific_heat with `_err`, plus
// `effective_samples`; NaN where the histograms do not overlap).
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "spinlat/io/hdf5.hpp"
#include "spinlat/observables/critical.hpp"
#include "spinlat/observables/reweighting.hpp"

namespace spinlat {

/// Results at one (size, temperature). NaN means "not measured".
struct SweepPoint {
  static constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  double energy = nan, energy_err = nan;                    ///< eV/atom
  double magnetization = nan, magnetization_err = nan;      ///< |Σ m_i| / Σ |m_i|
  double order_parameter = nan, order_parameter_err = nan;  ///< staggered/sublattice order
  double susceptibility = nan, susceptibility_err = nan;
  double specific_heat = nan, specific_heat_err = nan;
  double binder = nan, binder_err = nan;                    ///< 1 − ⟨m⁴⟩/(3⟨m²⟩²)
  double tau_int = nan;                                     ///< in measurements
  std::int64_t samples = 0;
};

class SweepWriter {
 public:
  /// The six [nL, nT] quantities, in file order (each also has `<name>_err`).
  static const std::vector<std::string>& quantities();

  /// Creates `group` (NaN-filled) in `file`, or, if it already exists, reopens it for a
  /// restart after checking that its temperatures and sizes equal the given ones (an
  /// InputError otherwise: a restart must not mix two different sweeps). `file` must outlive
  /// the writer.
  SweepWriter(h5::File& file, std::vector<double> temperatures, std::vector<int> sizes,
              std::string group = "/sweep");
  /// Opens an existing sweep, taking its grid from the file.
  static SweepWriter open(h5::File& file, const std::string& group = "/sweep");

  std::size_t n_sizes() const { return sizes_.size(); }
  std::size_t n_temperatures() const { return temperatures_.size(); }
  const std::vector<double>& temperatures() const { return temperatures_; }
  const std::vector<int>& sizes() const { return sizes_; }
  const std::string& group() const { return group_; }

  /// Writes every field of `p` at (size_index, temperature_index), marks it done, flushes.
  void write(std::size_t size_index, std::size_t temperature_index, const SweepPoint& p);
  /// Writes one extra per-point quantity (e.g. "acceptance"); creates a NaN-filled [nL, nT]
  /// dataset on first use. Flushes.
  void write_extra(const std::string& name, std::size_t size_index, std::size_t temperature_index,
                   double value);
  bool done(std::size_t size_index, std::size_t temperature_index) const;
  /// The whole [nL, nT] mask, row-major.
  std::vector<std::int64_t> done_mask() const;
  std::size_t done_count() const;
  SweepPoint read(std::size_t size_index, std::size_t temperature_index) const;

  /// Attributes critical_temperature (K), critical_temperature_err (K) and
  /// critical_temperature_method (e.g. "binder-crossing", "susceptibility-peak"). Flushes.
  /// critical_temperature_note: why there is none, or the self-checks of the estimate.
  void set_critical_temperature(double tc, double err, const std::string& method, const std::string& note = "");
  /// Stores the raw samples of a point (replacing earlier ones). Flushes.
  void write_samples(std::size_t size_index, std::size_t temperature_index, const SampleRecord& record,
                     long long atoms);
  /// Reads them back; false when the point has none. `atoms` receives the N of the size.
  bool read_samples(std::size_t size_index, std::size_t temperature_index, PointSamples& out, long long* atoms) const;
  /// Replaces `reweighted/` with these curves. Flushes.
  void write_reweighted(const ReweightedCurves& curves);
  /// Sets the `unit` attribute of a quantity and its `_err` (e.g. "eV/K/atom").
  void set_unit(const std::string& quantity, const std::string& unit);

 private:
  SweepWriter(h5::File& file, std::string group) : file_(&file), group_(std::move(group)) {}
  std::string at(const std::string& name) const { return h5::join_path(group_, name); }
  void check_index(std::size_t il, std::size_t it) const;

  h5::File* file_;
  std::string group_;
  std::vector<double> temperatures_;
  std::vector<int> sizes_;
};

/// Tc from the finished points of the first `sizes_done` sizes (all when larger than the grid):
/// multiple-histogram reweighting of the stored samples when every finished point has them,
/// else the per-point values (critical.hpp). Writes the critical_temperature attributes
/// (NaN, "none" and the reason when the range brackets no transition) and `reweighted/`.
CriticalTemperature analyse_sweep(SweepWriter& writer, std::size_t sizes_done, const CriticalOptions& options = {});

}  // namespace spinlat
