// Training data: frames → samples (graphs built once), seeded shuffles and splits, e0 fit.
#include "spinlat/learned/tools/dataset.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"
#if __has_include("spinlat/io/deepmd.hpp")
#include "spinlat/io/deepmd.hpp"
#define SPINLAT_HAVE_DEEPMD 1
#endif

namespace spinlat {

std::vector<Frame> load_frames(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path + ": no such file or directory");
  if (fs::is_directory(path, ec)) {
#ifdef SPINLAT_HAVE_DEEPMD
    return read_deepmd(path);
#else
    throw InputError(path + ": is a directory (deepmd/npy data), which this build cannot read yet; "
                     "convert it to extended XYZ");
#endif
  }
  return read_extxyz(path);
}

int species_atomic_number(const std::string& name) { return atomic_number(name); }

std::vector<Sample> make_samples(const std::vector<Frame>& frames, const std::string& source,
                                 const std::vector<int>& atomic_numbers, double r_max,
                                 const LabelKeys& keys) {
  std::vector<Sample> out;
  out.reserve(frames.size());
  for (std::size_t k = 0; k < frames.size(); ++k) {
    const Frame& f = frames[k];
    const System& s = f.system;
    Sample x;
    x.source = source;
    x.frame = static_cast<int>(k);
    const std::string where =
        source + ": frame " + std::to_string(k) + (f.line > 0 ? " (line " + std::to_string(f.line) + ")" : "");
    if (s.size() == 0) throw InputError(where + ": has no atoms");
    // Species → model columns through the element symbol.
    std::vector<int> col(s.species_name.size(), -1);
    for (std::size_t a = 0; a < s.species_name.size(); ++a) {
      const int z = atomic_number(s.species_name[a]);
      for (std::size_t c = 0; c < atomic_numbers.size(); ++c)
        if (atomic_numbers[c] == z && z > 0) col[a] = static_cast<int>(c);
    }
    x.atoms = s.size();
    x.position = s.position;
    x.magmom.resize(s.size());
    x.column.resize(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      const int c = col.at(s.species[i]);
      if (c < 0) {
        std::string have;
        for (int z : atomic_numbers) have += (have.empty() ? "" : ", ") + element_symbol(z);
        throw InputError(where + ": species '" + s.species_name[s.species[i]] +
                         "' is not one of the model's elements (" + have + "); add it to [model] elements");
      }
      x.column[i] = c;
      x.magmom[i] = s.moment_vector(i);
    }
    // Labels.
    const auto e = f.info.find(keys.energy);
    if (e == f.info.end()) throw InputError(where + ": no per-frame energy '" + keys.energy + "' (set [data] energy_key)");
    x.energy = e->second;
    auto vectors = [&](const std::string& key, bool need, const char* what, const char* option) {
      const auto v = f.vectors.find(key);
      if (v == f.vectors.end()) {
        if (need)
          throw InputError(where + ": no per-atom " + what + " '" + key + "' (set [data] " + option +
                           ", or give it weight 0 in [train] weights)");
        return std::vector<Vec3>{};
      }
      if (v->second.size() != s.size())
        throw InputError(where + ": '" + key + "' has " + std::to_string(v->second.size()) + " rows for " +
                         std::to_string(s.size()) + " atoms");
      return v->second;
    };
    x.forces = vectors(keys.forces, keys.need_forces, "forces", "forces_key");
    x.magforces = vectors(keys.magforces, keys.need_magforces, "magnetic forces", "magforces_key");
    for (const auto* v : {&x.forces, &x.magforces})
      for (const Vec3& a : *v)
        if (!a.allFinite()) throw InputError(where + ": a label is not a finite number");
    if (!std::isfinite(x.energy)) throw InputError(where + ": '" + keys.energy + "' is not a finite number");
    try {
      const NeighborList list = build_neighbor_list(s, r_max);
      x.graph = build_graph(s, list, r_max);
    } catch (const InputError& err) {
      throw InputError(where + ": " + err.what());
    }
    out.push_back(std::move(x));
  }
  return out;
}

std::vector<std::size_t> shuffled_indices(std::size_t n, std::uint64_t seed, std::uint64_t index) {
  std::vector<std::size_t> p(n);
  for (std::size_t k = 0; k < n; ++k) p[k] = k;
  Engine e(derive_seed(seed, StreamPurpose::training, index));
  // Fisher-Yates (Knuth, TAOCP vol. 2, Algorithm P); own draw so that the permutation does
  // not depend on the standard library's std::shuffle.
  for (std::size_t k = n; k > 1; --k) {
    const auto j = static_cast<std::size_t>(uniform01(e) * static_cast<double>(k));
    std::swap(p[k - 1], p[std::min(j, k - 1)]);
  }
  return p;
}

std::pair<std::vector<std::size_t>, std::vector<std::size_t>> split_indices(std::size_t n, double fraction,
                                                                            std::uint64_t seed) {
  std::size_t nv = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
  if (fraction > 0.0 && nv == 0 && n >= 2) nv = 1;
  if (nv >= n) nv = n == 0 ? 0 : n - 1;
  const auto p = shuffled_indices(n, seed, 0);  // index 0: the split; epochs use 1, 2, ...
  std::vector<std::size_t> valid(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(nv));
  std::vector<std::size_t> train(p.begin() + static_cast<std::ptrdiff_t>(nv), p.end());
  std::sort(valid.begin(), valid.end());
  std::sort(train.begin(), train.end());
  return {train, valid};
}

std::vector<double> fit_e0(const std::vector<Sample>& samples, std::size_t elements) {
  if (samples.empty() || elements == 0) return std::vector<double>(elements, 0.0);
  Eigen::MatrixXd A = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(samples.size()),
                                            static_cast<Eigen::Index>(elements));
  Eigen::VectorXd b(static_cast<Eigen::Index>(samples.size()));
  for (std::size_t k = 0; k < samples.size(); ++k) {
    for (int c : samples[k].column) A(static_cast<Eigen::Index>(k), c) += 1.0;
    b(static_cast<Eigen::Index>(k)) = samples[k].energy;
  }
  // Complete orthogonal decomposition: the least-squares solution of minimum norm, so a
  // composition that never varies (NiO: always 1:1) splits its energy evenly rather than
  // failing.
  const Eigen::VectorXd x = A.completeOrthogonalDecomposition().solve(b);
  return std::vector<double>(x.data(), x.data() + x.size());
}

}  // namespace spinlat
