// H5MD 1.1 trajectories and observables; see include/spinlat/io/hdf5_trajectory.hpp.
#include "spinlat/io/hdf5_trajectory.hpp"

#include <algorithm>
#include <limits>

#include "spinlat/core/error.hpp"
#include "spinlat/version.hpp"

namespace spinlat {

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

void check_name(const h5::File& file, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    throw InputError(file.path(), "observables", 0, "invalid observable name '" + name + "'");
}

}  // namespace

std::string TrajectoryWriter::default_unit(const std::string& name) {
  // Every energy spinlat records as an observable is per atom (docs/output.md).
  if (name == "energy" || ends_with(name, "_energy")) return "eV/atom";
  if (name == "temperature" || ends_with(name, "_temperature")) return "K";
  if (name == "magnetization_vector" || name == "moment") return "bohr_magneton";
  if (name == "field" || ends_with(name, "_field")) return "T";
  if (name == "pressure" || ends_with(name, "_pressure")) return "GPa";
  // A minimiser's residuals (drivers/minimize.cpp): torque |ê × F| and longitudinal force in
  // eV/μB, atomic force in eV/Å.
  if (name == "max_torque" || name == "max_longitudinal_force") return "eV bohr_magneton-1";
  if (name == "max_force") return "eV angstrom-1";
  return "";
}

TrajectoryWriter::TrajectoryWriter(h5::File& file, const System& system, const TrajectoryOptions& options)
    : file_(&file), options_(options), atoms_(system.size()) {
  if (options_.particles.empty() || options_.particles.find('/') != std::string::npos)
    throw InputError(file.path(), "particles", 0, "invalid particle group name '" + options_.particles + "'");
  particles_ = "/particles/" + options_.particles;
  observables_ = options_.observables.empty() ? std::string("/observables") : options_.observables;
  if (observables_.front() != '/') observables_ = "/" + observables_;
  if (file.exists("/h5md") && (file.exists(particles_) || !options_.frames)) reopen(system);
  else create(system);
}

void TrajectoryWriter::create(const System& system) {
  h5::File& f = *file_;
  // /h5md metadata (H5MD 1.1 §"H5MD metadata"): version, author and creator are mandatory.
  f.create_group("/h5md");
  f.set_attr("/h5md", "version", std::vector<std::int64_t>{1, 1});
  f.create_group("/h5md/author");
  f.set_attr("/h5md/author", "name", options_.author.empty() ? std::string("unknown") : options_.author);
  f.create_group("/h5md/creator");
  f.set_attr("/h5md/creator", "name", "spinlat");
  f.set_attr("/h5md/creator", "version", std::string(kVersion));
  f.create_group(observables_);
  if (!options_.frames) {  // a run without trajectory frames has no /particles group
    f.flush();
    return;
  }

  // Simulation box: rows of the 3x3 `edges` matrix are the cell vectors (triclinic form).
  f.create_group(element("box"));
  f.set_attr(element("box"), "dimension", std::int64_t{3});
  std::vector<std::string> boundary;
  for (bool p : system.cell.periodic) boundary.push_back(p ? "periodic" : "none");
  f.set_attr(element("box"), "boundary", boundary);
  create_element(element("box/edges"), {3, 3}, "angstrom");

  const std::uint64_t n = atoms_;
  if (options_.position) create_element(element("position"), {n, 3}, "angstrom");
  if (options_.velocity) create_element(element("velocity"), {n, 3}, "angstrom ps-1");
  if (options_.moment) create_element(element("moment"), {n, 3}, "bohr_magneton");

  // Time-independent elements are plain datasets.
  std::vector<std::int64_t> species(system.species.begin(), system.species.end());
  f.write(element("species"), species);
  f.set_attr(element("species"), "names", system.species_name);
  std::vector<double> mass(n);
  for (std::size_t i = 0; i < n; ++i)
    mass[i] = system.species_mass.empty() ? 0.0 : system.species_mass.at(static_cast<std::size_t>(system.species[i]));
  f.write(element("mass"), mass);
  f.set_attr(element("mass"), "unit", "amu");
  f.flush();
}

void TrajectoryWriter::reopen(const System& system) {
  h5::File& f = *file_;
  if (!f.exists(observables_)) f.create_group(observables_);
  if (!options_.frames) {
    truncate_after(std::numeric_limits<std::int64_t>::max());
    return;
  }
  const auto shape = f.shape(element("species"));
  if (shape.size() != 1 || shape[0] != atoms_)
    throw InputError(f.path(), "particles", 0,
                     "the file's trajectory has " + std::to_string(shape.empty() ? 0 : shape[0]) +
                         " atoms but the system has " + std::to_string(atoms_) + "; cannot continue it");
  options_.position = f.exists(element("position"));
  options_.velocity = f.exists(element("velocity"));
  options_.moment = f.exists(element("moment"));
  // A kill between two appends of one element may leave its datasets of unequal length.
  truncate_after(std::numeric_limits<std::int64_t>::max());
}

void TrajectoryWriter::create_element(const std::string& group, const h5::Shape& frame_shape,
                                      const std::string& unit) {
  h5::File& f = *file_;
  f.create_group(group);
  f.create_appendable(h5::join_path(group, "step"), h5::Type::int64, {}, options_.chunk_frames);
  f.create_appendable(h5::join_path(group, "time"), h5::Type::float64, {}, options_.chunk_frames);
  f.set_attr(h5::join_path(group, "time"), "unit", "ps");
  f.create_appendable(h5::join_path(group, "value"), h5::Type::float64, frame_shape, options_.chunk_frames);
  if (!unit.empty()) f.set_attr(h5::join_path(group, "value"), "unit", unit);
}

void TrajectoryWriter::append_element(const std::string& group, std::int64_t step, double time,
                                      const std::vector<double>& value) {
  h5::File& f = *file_;
  // `step` last: after a crash it is never longer than the data it indexes.
  f.append(h5::join_path(group, "value"), value);
  f.append(h5::join_path(group, "time"), &time, 1);
  f.append(h5::join_path(group, "step"), &step, 1);
}

void TrajectoryWriter::write_frame(const System& system, std::int64_t step, double time) {
  if (!options_.frames) throw std::logic_error("TrajectoryWriter: created without frames");
  if (system.size() != atoms_)
    throw std::logic_error("TrajectoryWriter: system has " + std::to_string(system.size()) +
                           " atoms, the trajectory " + std::to_string(atoms_));
  std::vector<double> edges(9);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) edges[3 * r + c] = system.cell.h(r, c);
  append_element(element("box/edges"), step, time, edges);

  std::vector<double> buf(3 * atoms_);
  auto flat = [&](auto&& get) {
    for (std::size_t i = 0; i < atoms_; ++i) {
      const Vec3 v = get(i);
      buf[3 * i] = v[0];
      buf[3 * i + 1] = v[1];
      buf[3 * i + 2] = v[2];
    }
    return buf;
  };
  if (options_.position) append_element(element("position"), step, time, flat([&](std::size_t i) { return system.position[i]; }));
  if (options_.velocity) append_element(element("velocity"), step, time, flat([&](std::size_t i) { return system.velocity[i]; }));
  if (options_.moment) append_element(element("moment"), step, time, flat([&](std::size_t i) { return system.moment_vector(i); }));
  file_->flush();
}

std::uint64_t TrajectoryWriter::frames() const {
  for (const char* name : {"position", "velocity", "moment", "box/edges"})
    if (file_->exists(element(name))) return file_->shape(h5::join_path(element(name), "step"))[0];
  return 0;
}

void TrajectoryWriter::declare_observable(const std::string& name, std::size_t components, const std::string& unit) {
  check_name(*file_, name);
  const std::string g = h5::join_path(observables_, name);
  if (file_->exists(g)) return;
  create_element(g, components == 0 ? h5::Shape{} : h5::Shape{components}, unit);
}

void TrajectoryWriter::write_observable(const std::string& name, std::int64_t step, double time,
                                        const std::vector<double>& value, bool flush) {
  check_name(*file_, name);
  const std::string g = h5::join_path(observables_, name);
  if (!file_->exists(g)) declare_observable(name, value.size(), default_unit(name));
  append_element(g, step, time, value);
  if (flush) file_->flush();
}

void TrajectoryWriter::write_observable(const std::string& name, std::int64_t step, double time, double value,
                                        bool flush) {
  check_name(*file_, name);
  const std::string g = h5::join_path(observables_, name);
  if (!file_->exists(g)) declare_observable(name, 0, default_unit(name));
  append_element(g, step, time, {value});
  if (flush) file_->flush();
}

void TrajectoryWriter::write_observable(const std::string& name, std::int64_t step, double time, const Vec3& value,
                                        bool flush) {
  write_observable(name, step, time, std::vector<double>{value[0], value[1], value[2]}, flush);
}

void TrajectoryWriter::write_observables(std::int64_t step, double time,
                                         const std::vector<std::pair<std::string, double>>& values) {
  for (const auto& [name, v] : values) write_observable(name, step, time, v, false);
  file_->flush();
}

std::uint64_t TrajectoryWriter::samples(const std::string& name) const {
  const std::string g = h5::join_path(observables_, name);
  if (!file_->exists(g)) return 0;
  return file_->shape(h5::join_path(g, "step"))[0];
}

std::vector<std::string> TrajectoryWriter::element_groups() const {
  std::vector<std::string> out;
  for (const char* name : {"box/edges", "position", "velocity", "moment"})
    if (file_->exists(element(name))) out.push_back(element(name));
  if (file_->exists(observables_))
    for (const auto& name : file_->children(observables_)) {
      // Only element groups: another writer's observables may live in a subgroup.
      const std::string g = h5::join_path(observables_, name);
      if (file_->is_dataset(h5::join_path(g, "step"))) out.push_back(g);
    }
  return out;
}

void TrajectoryWriter::truncate_element(const std::string& group, std::int64_t step) {
  h5::File& f = *file_;
  const std::string s = h5::join_path(group, "step"), t = h5::join_path(group, "time"),
                    v = h5::join_path(group, "value");
  const auto steps = f.read_ints(s);
  const std::uint64_t n = std::min({static_cast<std::uint64_t>(steps.size()), f.shape(t)[0], f.shape(v)[0]});
  std::uint64_t keep = 0;
  while (keep < n && steps[keep] <= step) ++keep;
  for (const auto& d : {s, t, v})
    if (f.shape(d)[0] != keep) f.resize(d, keep);
}

void TrajectoryWriter::truncate_after(std::int64_t step) {
  for (const auto& g : element_groups()) truncate_element(g, step);
  file_->flush();
}

}  // namespace spinlat
