#include "spinlat/core/crystal.hpp"

#include <boost/random/normal_distribution.hpp>
#include <cmath>
#include <map>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"

namespace spinlat {
namespace {

std::vector<std::string> expand(const std::vector<std::string>& v, std::size_t n, const char* what,
                                const std::string& lattice) {
  if (v.size() == n) return v;
  if (v.size() == 1) return std::vector<std::string>(n, v[0]);
  throw InputError("lattice '" + lattice + "' needs 1 or " + std::to_string(n) + " entries of '" +
                   what + "', got " + std::to_string(v.size()));
}

std::vector<double> expand(const std::vector<double>& v, std::size_t n, const char* what,
                           const std::string& lattice) {
  if (v.size() == n) return v;
  if (v.size() == 1) return std::vector<double>(n, v[0]);
  throw InputError("lattice '" + lattice + "' needs 1 or " + std::to_string(n) + " entries of '" +
                   what + "', got " + std::to_string(v.size()));
}

}  // namespace

Lattice standard_lattice(const std::string& name, double a, double c,
                         const std::vector<std::string>& species, const std::vector<double>& moments) {
  Lattice L;
  L.name = name;
  std::vector<Vec3> frac;
  std::vector<int> sign;
  std::vector<int> group;  // which species/moment entry each site uses
  if (name == "sc") {
    L.cell = a * Mat3::Identity();
    frac = {Vec3(0, 0, 0)};
    sign = {+1};
    group = {0};
  } else if (name == "bcc") {
    L.cell = a * Mat3::Identity();
    frac = {Vec3(0, 0, 0), Vec3(0.5, 0.5, 0.5)};
    sign = {+1, -1};
    group = {0, 1};
  } else if (name == "fcc") {
    L.cell = a * Mat3::Identity();
    frac = {Vec3(0, 0, 0), Vec3(0.5, 0.5, 0), Vec3(0.5, 0, 0.5), Vec3(0, 0.5, 0.5)};
    sign = {+1, -1, -1, -1};  // AF-II: sign (−1)^(x+y+z) in units of a
    group = {0, 1, 2, 3};
  } else if (name == "hcp") {
    const double cc = c > 0 ? c : a * std::sqrt(8.0 / 3.0);
    L.cell << a, 0, 0, -0.5 * a, 0.5 * std::sqrt(3.0) * a, 0, 0, 0, cc;
    frac = {Vec3(1.0 / 3, 2.0 / 3, 0.25), Vec3(2.0 / 3, 1.0 / 3, 0.75)};
    sign = {+1, -1};
    group = {0, 1};
  } else if (name == "rocksalt") {
    L.cell = a * Mat3::Identity();
    const std::vector<Vec3> fcc = {Vec3(0, 0, 0), Vec3(0.5, 0.5, 0), Vec3(0.5, 0, 0.5), Vec3(0, 0.5, 0.5)};
    for (const Vec3& f : fcc) { frac.push_back(f); sign.push_back(+1); group.push_back(0); }
    sign[1] = sign[2] = sign[3] = -1;
    for (const Vec3& f : fcc) {
      Vec3 g = f + Vec3(0.5, 0, 0);
      for (int k = 0; k < 3; ++k) g[k] -= std::floor(g[k]);
      frac.push_back(g);
      sign.push_back(+1);
      group.push_back(1);
    }
  } else {
    throw InputError("unknown lattice '" + name + "'; expected sc, bcc, fcc, hcp or rocksalt");
  }
  if (!(a > 0)) throw InputError("lattice constant a must be positive, got " + std::to_string(a));
  const bool per_sublattice = (name == "hcp" || name == "rocksalt");
  const std::size_t groups = per_sublattice ? (name == "rocksalt" ? 2 : 2) : frac.size();
  // hcp: one entry per sublattice, but a single entry is repeated as well.
  const auto sp = expand(species, groups, "species", name);
  const auto mo = expand(moments, groups, "moment", name);
  for (std::size_t k = 0; k < frac.size(); ++k) {
    const int g = per_sublattice ? group[k] : static_cast<int>(k);
    L.basis.push_back({frac[k], sp[g], mo[g], sign[k]});
  }
  return L;
}

Lattice custom_lattice(const Mat3& cell, const std::vector<BasisSite>& basis) {
  if (basis.empty()) throw InputError("a custom lattice needs at least one basis site");
  if (!(std::abs(cell.determinant()) > 1e-12))
    throw InputError("the custom cell has zero volume (its three vectors are not independent)");
  Lattice L;
  L.name = "custom";
  L.cell = cell;
  L.basis = basis;
  return L;
}

namespace {
// Sign of the antiferromagnetic pattern of cell (x, y, z), basis site b: sc's G-type
// alternates from cell to cell; the other lattices' patterns live in the basis.
int pattern_sign(const Lattice& lattice, int x, int y, int z, std::size_t b) {
  int sign = lattice.basis[b].af_sign;
  // sc (G-type) and fcc/rocksalt (AF-II, sign (−1)^(x+y+z) in units of a) alternate from cell
  // to cell; the basis signs give the pattern inside one conventional cell.
  const bool alternates = lattice.name == "sc" || lattice.name == "fcc" || lattice.name == "rocksalt";
  if (alternates && ((x + y + z) & 1)) sign = -sign;
  return sign;
}
}  // namespace

System build_supercell(const Lattice& lattice, const Int3& cells, bool antiferro) {
  for (int k = 0; k < 3; ++k)
    if (cells[k] < 1) throw InputError("cells must be positive integers, got " + std::to_string(cells[k]));
  // ~200 bytes per atom: 10^8 atoms is already 20 GB, beyond a single node's run.
  const double atoms = double(cells[0]) * double(cells[1]) * double(cells[2]) * double(lattice.basis.size());
  if (atoms > 1e8)
    throw InputError("cells " + std::to_string(cells[0]) + "x" + std::to_string(cells[1]) + "x" +
                     std::to_string(cells[2]) + " would make " + std::to_string(static_cast<long long>(atoms)) +
                     " atoms; spinlat runs at most 10^8 atoms in one process");
  System s;
  s.cell.h = lattice.cell;
  for (int k = 0; k < 3; ++k) s.cell.h.row(k) *= cells[k];
  std::map<std::string, int> species_index;
  for (const auto& b : lattice.basis)
    if (!species_index.count(b.species)) {
      species_index[b.species] = static_cast<int>(s.species_name.size());
      s.species_name.push_back(b.species);
      s.species_mass.push_back(element_mass(b.species));
    }
  const Mat3 ht = lattice.cell.transpose();
  for (int z = 0; z < cells[2]; ++z)
    for (int y = 0; y < cells[1]; ++y)
      for (int x = 0; x < cells[0]; ++x)
        for (std::size_t b = 0; b < lattice.basis.size(); ++b) {
          const BasisSite& site = lattice.basis[b];
          const Vec3 r = ht * (Vec3(x, y, z) + site.fractional);
          const int sign = pattern_sign(lattice, x, y, z, b);
          const Vec3 dir = Vec3::UnitZ() * (antiferro ? sign : 1);
          s.add_atom(r, species_index[site.species], site.moment, dir, static_cast<int>(b));
        }
  return s;
}

std::vector<int> antiferro_signs(const Lattice& lattice, const Int3& cells) {
  std::vector<int> out;
  out.reserve(static_cast<std::size_t>(cells.prod()) * lattice.basis.size());
  for (int z = 0; z < cells[2]; ++z)
    for (int y = 0; y < cells[1]; ++y)
      for (int x = 0; x < cells[0]; ++x)
        for (std::size_t b = 0; b < lattice.basis.size(); ++b) out.push_back(pattern_sign(lattice, x, y, z, b));
  return out;
}

namespace {
struct Element {
  const char* symbol;
  double mass;  // amu; 0 where no mass is tabulated
};
// Z = 1..118. Masses: IUPAC conventional/abridged standard atomic weights; for elements
// without one (Tc, Pm, Po..Ac, Np, Pu) the mass number of the longest-lived isotope.
constexpr Element kElements[] = {
    {"H", 1.008},     {"He", 4.0026},   {"Li", 6.94},     {"Be", 9.0122},   {"B", 10.81},
    {"C", 12.011},    {"N", 14.007},    {"O", 15.999},    {"F", 18.998},    {"Ne", 20.180},
    {"Na", 22.990},   {"Mg", 24.305},   {"Al", 26.982},   {"Si", 28.085},   {"P", 30.974},
    {"S", 32.06},     {"Cl", 35.45},    {"Ar", 39.95},    {"K", 39.098},    {"Ca", 40.078},
    {"Sc", 44.956},   {"Ti", 47.867},   {"V", 50.9415},   {"Cr", 51.9961},  {"Mn", 54.938},
    {"Fe", 55.845},   {"Co", 58.933},   {"Ni", 58.6934},  {"Cu", 63.546},   {"Zn", 65.38},
    {"Ga", 69.723},   {"Ge", 72.630},   {"As", 74.922},   {"Se", 78.971},   {"Br", 79.904},
    {"Kr", 83.798},   {"Rb", 85.468},   {"Sr", 87.62},    {"Y", 88.906},    {"Zr", 91.224},
    {"Nb", 92.906},   {"Mo", 95.95},    {"Tc", 98.0},     {"Ru", 101.07},   {"Rh", 102.91},
    {"Pd", 106.42},   {"Ag", 107.87},   {"Cd", 112.41},   {"In", 114.82},   {"Sn", 118.71},
    {"Sb", 121.76},   {"Te", 127.60},   {"I", 126.90},    {"Xe", 131.29},   {"Cs", 132.91},
    {"Ba", 137.33},   {"La", 138.91},   {"Ce", 140.12},   {"Pr", 140.91},   {"Nd", 144.24},
    {"Pm", 145.0},    {"Sm", 150.36},   {"Eu", 151.96},   {"Gd", 157.25},   {"Tb", 158.93},
    {"Dy", 162.50},   {"Ho", 164.93},   {"Er", 167.26},   {"Tm", 168.93},   {"Yb", 173.05},
    {"Lu", 174.97},   {"Hf", 178.49},   {"Ta", 180.95},   {"W", 183.84},    {"Re", 186.21},
    {"Os", 190.23},   {"Ir", 192.22},   {"Pt", 195.08},   {"Au", 196.97},   {"Hg", 200.59},
    {"Tl", 204.38},   {"Pb", 207.2},    {"Bi", 208.98},   {"Po", 209.0},    {"At", 210.0},
    {"Rn", 222.0},    {"Fr", 223.0},    {"Ra", 226.0},    {"Ac", 227.0},    {"Th", 232.04},
    {"Pa", 231.04},   {"U", 238.03},    {"Np", 237.0},    {"Pu", 244.0},    {"Am", 0.0},
    {"Cm", 0.0},      {"Bk", 0.0},      {"Cf", 0.0},      {"Es", 0.0},      {"Fm", 0.0},
    {"Md", 0.0},      {"No", 0.0},      {"Lr", 0.0},      {"Rf", 0.0},      {"Db", 0.0},
    {"Sg", 0.0},      {"Bh", 0.0},      {"Hs", 0.0},      {"Mt", 0.0},      {"Ds", 0.0},
    {"Rg", 0.0},      {"Cn", 0.0},      {"Nh", 0.0},      {"Fl", 0.0},      {"Mc", 0.0},
    {"Lv", 0.0},      {"Ts", 0.0},      {"Og", 0.0},
};
constexpr int kElementCount = static_cast<int>(sizeof(kElements) / sizeof(kElements[0]));
static_assert(kElementCount == 118, "one entry per element, H..Og");
}  // namespace

int atomic_number(const std::string& symbol) {
  for (int z = 1; z <= kElementCount; ++z)
    if (symbol == kElements[z - 1].symbol) return z;
  return 0;
}

std::string element_symbol(int z) { return z >= 1 && z <= kElementCount ? kElements[z - 1].symbol : ""; }

double element_mass(const std::string& symbol) {
  const int z = atomic_number(symbol);
  return z > 0 ? kElements[z - 1].mass : 0.0;
}

void set_spins_random(System& s, std::uint64_t seed) {
  Engine e(derive_seed(seed, StreamPurpose::initial_state, 0));
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    // Uniform on the sphere: z uniform in [−1, 1], azimuth uniform (Archimedes).
    const double z = 2.0 * uniform01(e) - 1.0, phi = 2.0 * units::kPi * uniform01(e);
    const double r = std::sqrt(std::max(0.0, 1.0 - z * z));
    s.spin[i] = Vec3(r * std::cos(phi), r * std::sin(phi), z);
  }
}

void set_spins_along(System& s, const Vec3& direction, const std::vector<int>& af_sign) {
  const Vec3 d = direction.normalized();
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s.magnetic(i)) s.spin[i] = af_sign.empty() ? d : double(af_sign[i]) * d;
}

void set_velocities(System& s, double temperature, std::uint64_t seed) {
  const std::size_t n = s.size();
  for (auto& v : s.velocity) v.setZero();
  if (temperature <= 0.0 || n < 2) return;
  Engine e(derive_seed(seed, StreamPurpose::initial_state, 1));
  boost::random::normal_distribution<double> normal;
  Vec3 p = Vec3::Zero();
  double mtot = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double m = s.mass(i);
    const double sigma = units::thermal_speed(units::k_B * temperature, m);
    s.velocity[i] = sigma * Vec3(normal(e), normal(e), normal(e));
    p += m * s.velocity[i];
    mtot += m;
  }
  double ke2 = 0.0;  // Σ m v²
  for (std::size_t i = 0; i < n; ++i) {
    s.velocity[i] -= p / mtot;
    ke2 += s.mass(i) * s.velocity[i].squaredNorm();
  }
  const double T_now = ke2 * units::mvv2e / (3.0 * (n - 1) * units::k_B);
  const double scale = std::sqrt(temperature / T_now);
  for (auto& v : s.velocity) v *= scale;
}

}  // namespace spinlat
