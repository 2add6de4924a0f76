// Labelled training frames written by stages (include/spinlat/workflows/dataset.hpp).
#include "spinlat/workflows/dataset.hpp"

#include <filesystem>
#include <sstream>

#include "spinlat/core/error.hpp"
#include "spinlat/core/state_io.hpp"

namespace spinlat {
namespace fs = std::filesystem;

Frame labelled_frame(const System& s, const Hamiltonian& h, double temperature) {
  std::vector<Vec3> force, magnetic_force;
  Mat3 virial = Mat3::Zero();
  Derivatives d;
  d.force = &force;
  d.magnetic_force = &magnetic_force;
  d.virial = &virial;
  const double energy = h.compute(s, d);

  Frame f(s);
  // The moments travel as REF_magmom only (the extended XYZ reader takes them from there):
  // a System without moments makes write_extxyz leave out its own `magmom` column.
  std::vector<Vec3> magmom(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    magmom[i] = s.moment_vector(i);
    f.system.moment[i] = 0.0;
    f.system.spin[i] = Vec3::Zero();
  }
  f.info["REF_energy"] = energy;
  f.info["temperature"] = temperature;
  const auto& p = s.cell.periodic;
  if (p[0] && p[1] && p[2]) {
    // REF_virial in the MACE/ASE convention, −∂E/∂ε_ab = −V σ_ab (docs/units.md): the
    // transpose of the Term virial W, which differs for non-central terms (spin-orbit-coupled
    // learned models, distance-dependent DMI).
    std::vector<double> w(9);
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) w[static_cast<std::size_t>(3 * a + b)] = virial(b, a);
    f.info_arrays["REF_virial"] = w;
  }
  f.vectors["REF_forces"] = std::move(force);
  f.vectors["REF_magforces"] = std::move(magnetic_force);
  f.vectors["REF_magmom"] = std::move(magmom);
  f.moment_source = "REF_magmom";
  return f;
}

namespace {

std::string normalised(const std::string& name) {
  std::error_code ec;
  const fs::path abs = fs::absolute(fs::path(name), ec);
  return (ec ? fs::path(name) : abs).lexically_normal().string();
}

/// The checkpoint entry: a state record with the path and size of every dataset file.
std::map<std::string, long long> recorded_sizes(const Checkpoint& ck) {
  std::map<std::string, long long> out;
  if (!ck.has("stages.dataset")) return out;
  const state_io::Reader r(ck.blob("stages.dataset"), "spinlat-dataset-files", 1);
  const std::uint64_t n = r.integer("files");
  for (std::uint64_t k = 0; k < n; ++k)
    out[r.text("path" + std::to_string(k))] = r.signed_integer("bytes" + std::to_string(k));
  return out;
}

}  // namespace

DatasetWriter::DatasetWriter(const Config& c, const Checkpoint* resume) {
  std::map<std::string, long long> sizes;
  if (resume) sizes = recorded_sizes(*resume);
  for (std::size_t k = 0; k < c.stages.size(); ++k) {
    const std::string& name = c.stages[k].dataset;
    if (name.empty()) continue;
    const std::string path = normalised(name);
    if (files_.count(path)) continue;
    auto f = std::make_unique<File>();
    f->path = name;
    std::error_code ec;
    if (resume) {
      auto it = sizes.find(path);
      if (it == sizes.end())
        throw InputError(name, "stage." + std::to_string(k) + ".dataset", c.stages[k].line,
                         "the checkpoint records no size for this dataset file (restart from the directory the run "
                         "was started in)");
      const auto have = fs::exists(path, ec) ? static_cast<long long>(fs::file_size(path, ec)) : -1;
      if (have < it->second)
        throw InputError(name, "stage." + std::to_string(k) + ".dataset", c.stages[k].line,
                         "the dataset file is missing or shorter (" + std::to_string(have) + " bytes) than the " +
                             std::to_string(it->second) + " bytes the checkpoint records; it cannot be continued");
      // Frames written after the checkpoint are dropped: the continued run writes them again.
      fs::resize_file(path, static_cast<std::uintmax_t>(it->second), ec);
      if (ec) throw InputError(name, "", 0, "cannot truncate the dataset file: " + ec.message());
      f->bytes = it->second;
      f->out.open(path, std::ios::binary | std::ios::app);
    } else {
      f->out.open(path, std::ios::binary | std::ios::trunc);
    }
    if (!f->out)
      throw InputError(name, "stage." + std::to_string(k) + ".dataset", c.stages[k].line, "cannot write the dataset file");
    files_[path] = std::move(f);
  }
}

DatasetWriter::~DatasetWriter() = default;

DatasetWriter::File& DatasetWriter::file_of(const std::string& name) {
  auto it = files_.find(normalised(name));
  if (it == files_.end()) throw std::logic_error("DatasetWriter: no file '" + name + "' (not a stage's dataset)");
  return *it->second;
}

void DatasetWriter::write(const StageConfig& st, std::size_t stage, long long step, const System& s,
                          const Hamiltonian& h) {
  File& f = file_of(st.dataset);
  Frame frame = labelled_frame(s, h, st.driver->temperature);  // 0 K for minimize
  frame.info["stage"] = static_cast<double>(stage);
  frame.info["step"] = static_cast<double>(step);
  std::ostringstream os;
  write_extxyz(os, frame);
  const std::string text = os.str();
  f.out.write(text.data(), static_cast<std::streamsize>(text.size()));
  f.out.flush();
  if (!f.out) throw InputError(f.path, "", 0, "writing the dataset file failed");
  f.bytes += static_cast<long long>(text.size());
}

void DatasetWriter::save(Checkpoint& ck) const {
  if (files_.empty()) return;
  state_io::Writer w("spinlat-dataset-files", 1);
  w.integer("files", files_.size());
  std::size_t k = 0;
  for (const auto& [path, f] : files_) {
    w.text("path" + std::to_string(k), path);
    w.signed_integer("bytes" + std::to_string(k), f->bytes);
    ++k;
  }
  ck.set_blob("stages.dataset", w.str());
}

}  // namespace spinlat
