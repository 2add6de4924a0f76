// exchange-file: see include/spinlat/terms/exchange_file.hpp and docs/hamiltonian.md.
#include "spinlat/terms/exchange_file.hpp"

#include <cmath>
#include <filesystem>

#include "spinlat/core/error.hpp"
#include "spinlat/io/params.hpp"
#include "spinlat/io/paths.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {
namespace {

// A bond vector matches a neighbour's within this distance (Å): positions in the files carry
// 3–12 digits, and vibrating atoms keep their bonds while they move less than this.
constexpr double kBondTolerance = 0.1;

/// J and D of T = J·1 + A(D) + S; S = 0 when `rest` is below 1e-12 of |T|.
bool isotropic_plus_dmi(const Mat3& T) {
  const Mat3 sym = 0.5 * (T + T.transpose());
  const double J = sym.trace() / 3.0;
  return (sym - J * Mat3::Identity()).cwiseAbs().maxCoeff() <= 1e-12 * std::max(1e-300, T.cwiseAbs().maxCoeff());
}

Vec3 dmi_vector(const Mat3& T) {
  // A(D): A_xy = −D_z, A_xz = D_y, A_yz = −D_x (io/exchange_files.hpp).
  const Mat3 A = 0.5 * (T - T.transpose());
  return Vec3(-A(1, 2), A(0, 2), -A(0, 1));
}

}  // namespace

BondExchange::BondExchange(ExchangeFile file, const System& reference) : file_(std::move(file)) {
  for (const ExchangeBond& b : file_.bonds) {
    cutoff_ = std::max(cutoff_, b.vector.norm() + kBondTolerance);
    isotropic_plus_dmi_ = isotropic_plus_dmi_ && isotropic_plus_dmi(b.T);
  }
  // Every magnetic atom must be one of the file's sites: say which is not, at once. The sites
  // are matched once, on the ideal structure: atoms keep them while they vibrate.
  site_.assign(reference.size(), -1);
  for (int i : reference.magnetic_sites())
    if ((site_[static_cast<std::size_t>(i)] = site_at(file_, reference.position[static_cast<std::size_t>(i)])) < 0) {
      const Vec3& r = reference.position[static_cast<std::size_t>(i)];
      throw InputError(file_.path, "", 0,
                       "magnetic atom " + std::to_string(i) + " of the structure at (" + std::to_string(r.x()) + ", " +
                           std::to_string(r.y()) + ", " + std::to_string(r.z()) +
                           ") Å is no site of this file's cell: the [structure] must be the file's unit cell repeated "
                           "(same cell vectors and positions)");
    }
}

void BondExchange::bind(const System& s, const NeighborList& list) {
  entry_.assign(list.pairs(), -1);
  bound_ = 0;
  if (site_.size() != s.size())
    throw InputError(file_.path, "", 0, "exchange-file bound to a structure of another size than it was made for");
  const std::vector<int>& site = site_;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (site[i] < 0 || !s.magnetic(i)) continue;
    for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k) {
      const int j = list.index[static_cast<std::size_t>(k)];
      if (site[static_cast<std::size_t>(j)] < 0 || !s.magnetic(static_cast<std::size_t>(j))) continue;
      const Vec3 r = list.current_displacement(s, static_cast<int>(i), k);
      for (std::size_t b = 0; b < file_.bonds.size(); ++b) {
        const ExchangeBond& e = file_.bonds[b];
        if (e.from == site[i] && e.to == site[static_cast<std::size_t>(j)] && (e.vector - r).norm() < kBondTolerance) {
          entry_[static_cast<std::size_t>(k)] = static_cast<int>(b);
          ++bound_;
          break;
        }
      }
    }
  }
}

Vec3 BondExchange::field(const System& s, const NeighborList& list, int i, bool self) const {
  // h_i = Σ_k T_k ê_j = −∂E/∂ê_i when the reverse of every bond carries Tᵀ.
  Vec3 h = Vec3::Zero();
  for (int k = list.begin(i); k < list.end(i); ++k) {
    const int b = entry_[static_cast<std::size_t>(k)];
    const int j = list.index[static_cast<std::size_t>(k)];
    if (b >= 0 && (self || j != i)) h += file_.bonds[static_cast<std::size_t>(b)].T * s.spin[static_cast<std::size_t>(j)];
  }
  return h;
}

double BondExchange::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  double e = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    const Vec3 h = field(s, list, static_cast<int>(i), true);
    e -= 0.5 * s.spin[i].dot(h);
    if (d.magnetic_force) {
      const Vec3& ei = s.spin[i];
      (*d.magnetic_force)[i] += (h - ei.dot(h) * ei) / s.moment[i];
    }
  }
  return e;
}

void BondExchange::add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s.magnetic(i)) e[i] -= 0.5 * s.spin[i].dot(field(s, list, static_cast<int>(i), true));
}

double BondExchange::local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                                         double) const {
  const Vec3& old = s.spin[static_cast<std::size_t>(i)];
  double de = -(spin_new - old).dot(field(s, list, i, false));
  // Periodic self-images (tiny cells) rotate with i: −½ ê·T·ê per directed self-entry.
  for (int k = list.begin(i); k < list.end(i); ++k) {
    const int b = entry_[static_cast<std::size_t>(k)];
    if (b >= 0 && list.index[static_cast<std::size_t>(k)] == i) {
      const Mat3& T = file_.bonds[static_cast<std::size_t>(b)].T;
      de -= 0.5 * (spin_new.dot(T * spin_new) - old.dot(T * old));
    }
  }
  return de;
}

bool BondExchange::add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const {
  if (!isotropic_plus_dmi_) return false;  // symmetric anisotropic exchange: the generic path
  for (std::size_t i = 0; i < s.size(); ++i)
    for (int m = list.begin(static_cast<int>(i)); m < list.end(static_cast<int>(i)); ++m) {
      const int b = entry_[static_cast<std::size_t>(m)];
      if (b < 0) continue;
      const Mat3& T = file_.bonds[static_cast<std::size_t>(b)].T;
      k.add_pair(static_cast<int>(i), list.index[static_cast<std::size_t>(m)], T.trace() / 3.0, dmi_vector(T));
    }
  return true;
}

TermPtr make_exchange_file(Params& p, const TermContext& ctx) {
  const std::string file = p.string("file");
  const std::string format = p.has("format") ? p.choice("format", {"auto", "vampire", "uppasd", "tb2j"}) : "auto";
  const std::string path = resolve_input_path(ctx.input_dir, file);
  if (!std::filesystem::exists(path))
    throw InputError(p.file(), p.key_path("file"), p.line("file"), "exchange file '" + path + "' not found");
  if (!ctx.system) throw InputError(p.file(), p.path(), p.line(), "exchange-file needs the structure to match its sites");
  return std::make_unique<BondExchange>(read_exchange_file(path, format), *ctx.system);
}

}  // namespace spinlat
