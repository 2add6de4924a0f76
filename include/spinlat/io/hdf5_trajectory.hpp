#pragma once
// Trajectories and time series in the H5MD 1.1 layout (de Buyl, Colberg & Höfling, Comput.
// Phys. Commun. 185, 1546 (2014); https://www.nongnu.org/h5md/h5md.html), so that
// MDAnalysis, OVITO or h5py read them without spinlat:
//
//   /h5md                      version = [1, 1]; author{name}; creator{name="spinlat", version}
//   /particles/all/box         dimension = 3, boundary = ["periodic"|"none"] x 3
//   /particles/all/box/edges   {step, time, value [frames, 3, 3]}  rows = cell vectors (Å)
//   /particles/all/position    {step, time, value [frames, N, 3]}  "angstrom"
//   /particles/all/velocity    {step, time, value [frames, N, 3]}  "angstrom ps-1"
//   /particles/all/moment      {step, time, value [frames, N, 3]}  m_i in "bohr_magneton"
//   /particles/all/species     [N] int64 (fixed; attribute `names`), mass [N] ("amu")
//   /observables/<name>        {step, time, value [frames] or [frames, D]}
//
// `step` is int64, `time` is double in ps (attribute unit = "ps"), and `value` carries a
// `unit` attribute when the quantity has one. Every append is followed by a flush.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "spinlat/core/system.hpp"
#include "spinlat/core/types.hpp"
#include "spinlat/io/hdf5.hpp"

namespace spinlat {

struct TrajectoryOptions {
  bool position = true;
  bool velocity = true;
  bool moment = true;
  std::string author = "spinlat user";  ///< H5MD requires /h5md/author's name
  std::uint64_t chunk_frames = 0;       ///< 0: about 64 KiB per chunk
  /// H5MD particle group (/particles/<name>) and observables group: several writers (e.g.
  /// one per sweep size) can share a file under different names.
  std::string particles = "all";
  std::string observables = "/observables";
  /// false: no /particles group at all (a run that writes no frames gets no empty datasets);
  /// only /h5md and the observables.
  bool frames = true;
};

class TrajectoryWriter {
 public:
  /// Creates the H5MD structure for `system` in `file`, or reopens an existing one for a
  /// restart (the atom count must match; element groups whose step/time/value lengths
  /// disagree after a crash are cut to their common length). `file` must outlive the writer.
  TrajectoryWriter(h5::File& file, const System& system, const TrajectoryOptions& options = {});

  /// Appends one frame: the box and, as enabled, positions, velocities and moment vectors.
  /// Flushes.
  void write_frame(const System& system, std::int64_t step, double time);
  /// Number of frames in /particles/<group> (of the first enabled element, else of the box).
  std::uint64_t frames() const;

  /// Creates <observables>/<name> with values of `components` numbers per sample (0: scalar)
  /// and the given unit ("" for none). write_observable() declares on first use with
  /// default_unit(name), so this is only needed for unusual units.
  void declare_observable(const std::string& name, std::size_t components, const std::string& unit);
  /// Appends one sample; flushes unless `flush` is false.
  void write_observable(const std::string& name, std::int64_t step, double time, double value,
                        bool flush = true);
  void write_observable(const std::string& name, std::int64_t step, double time, const Vec3& value,
                        bool flush = true);
  void write_observable(const std::string& name, std::int64_t step, double time,
                        const std::vector<double>& value, bool flush = true);
  /// Several scalar observables at one step, then one flush.
  void write_observables(std::int64_t step, double time,
                         const std::vector<std::pair<std::string, double>>& values);
  /// Samples stored for an observable (0 if it does not exist).
  std::uint64_t samples(const std::string& name) const;

  /// Drops every frame and observable sample with step > `step`: a run restarted from a
  /// checkpoint taken at `step` then appends exactly what an uninterrupted run would have.
  void truncate_after(std::int64_t step);

  /// The unit spinlat uses for a known observable name ("" when dimensionless or unknown):
  /// *_energy → "eV/atom", *temperature → "K", magnetization_vector → "bohr_magneton".
  static std::string default_unit(const std::string& name);

 private:
  void create(const System& system);
  void reopen(const System& system);
  void create_element(const std::string& group, const h5::Shape& frame_shape, const std::string& unit);
  void append_element(const std::string& group, std::int64_t step, double time,
                      const std::vector<double>& value);
  /// Cuts an element group to the samples with step <= `step` (and to its shortest dataset).
  void truncate_element(const std::string& group, std::int64_t step);
  std::vector<std::string> element_groups() const;
  std::string element(const std::string& name) const { return h5::join_path(particles_, name); }

  h5::File* file_;
  std::string particles_, observables_;
  TrajectoryOptions options_;
  std::size_t atoms_ = 0;
};

}  // namespace spinlat
