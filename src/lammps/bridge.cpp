// spinlat's side of the LAMMPS plugin (bridge.hpp, docs/lammps.md).
#include "bridge.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <unordered_map>

#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/lattice_steps.hpp"
#include "spinlat/dynamics/sld.hpp"
#include "spinlat/dynamics/spin_rotation.hpp"
#include "spinlat/terms/radial_exchange.hpp"
#include "spinlat/terms/selection.hpp"
#include "spinlat/workflows/all_terms.hpp"
#include "spinlat/workflows/build.hpp"
#include "spinlat/workflows/input.hpp"

namespace spinlat_lammps {

using spinlat::Vec3;

namespace {

// LAMMPS's xx, yy, zz, xy, xz, yz of W (W_ab = Σ r_a f_b): xy, xz, yz are Σ x f_y, Σ x f_z,
// Σ y f_z (Pair::virial_fdotr_compute), W's upper triangle (W is not symmetric for a
// Hamiltonian that couples spins to bond directions).
void add_virial(const spinlat::Mat3& W, double* v) {
  v[0] += W(0, 0);
  v[1] += W(1, 1);
  v[2] += W(2, 2);
  v[3] += W(0, 1);
  v[4] += W(0, 2);
  v[5] += W(1, 2);
}

}  // namespace

struct Engine::Impl {
  spinlat::Config config;
  spinlat::System s;                 // the LAMMPS atoms as spinlat sees them
  spinlat::Hamiltonian h;
  double hbar = 0.0;
  std::vector<std::string> species;  // the input's species, in order
  std::vector<double> masses;
  std::vector<int> species_of_type;  // index = LAMMPS type (1-based)
  // Radial exchange terms, when they are all the magnetic terms (single_field's local path).
  std::vector<spinlat::RadialCoupling> radial;
  bool local_field = true;
  bool generic_field = false;  // Engine::generic_spin_field()
  double radial_cutoff = 0.0;  // largest cutoff of the radial terms
  // Bound state: what the neighbour list and the terms' tables were built for.
  std::vector<int> bound_species;
  std::vector<char> bound_magnetic;
  Atoms atoms;  // the arrays load() was given
  std::unique_ptr<Impl> whole;  // whole_box_virial's state
  // single_field's general path: F = −∂E/∂m of the configuration in `cached_*`.
  std::vector<Vec3> F, cached_spin, cached_position;
  bool cached = false;

  // LAMMPS index of each of s's atoms: the owned atoms first, in order, then the ghosts kept.
  std::vector<int> from;
  void copy_spins(const Atoms& a) {
    for (std::size_t i = 0; i < from.size(); ++i) {
      const double* sp = a.sp[from[i]];
      s.moment[i] = sp[3] > 0.0 ? sp[3] : 0.0;
      const Vec3 e(sp[0], sp[1], sp[2]);
      const double norm = e.norm();
      // LAMMPS keeps |ŝ| = 1 to rounding; spinlat's System wants it exactly (a zero moment
      // has no direction).
      s.spin[i] = (s.moment[i] > 0.0 && norm > 0.0) ? Vec3(e / norm) : Vec3(Vec3::Zero());
      if (s.moment[i] > 0.0 && norm == 0.0) s.moment[i] = 0.0;
    }
  }
  void copy_positions(const Atoms& a, const double lo[3]) {
    for (std::size_t i = 0; i < from.size(); ++i) {
      const double* x = a.x[from[i]];
      s.position[i] = Vec3(x[0] - lo[0], x[1] - lo[1], x[2] - lo[2]);
    }
  }
  /// Which of LAMMPS's atoms spinlat's System holds (`from`): all of them, except, along the
  /// directions the ranks do not divide (periodic in s), ghosts that are periodic images of an
  /// atom already held at the same offset along the divided directions.
  void choose_atoms(const Atoms& a, const Box& box);
  // F = −∂E/∂m for the System as it is.
  void magnetic_forces() {
    spinlat::Derivatives d;
    d.magnetic_force = &F;
    h.compute(s, d);
    cached_spin = s.spin;
    cached_position = s.position;
    cached = true;
  }
  double lo[3] = {0, 0, 0};
  /// Engine::load's work (also used by whole_box_virial's own state).
  void load(const Atoms& a, const Box& box);
  int owned = 0;         // owned atoms: the first `owned` of s
  bool cluster = false;  // s holds ghosts too (several ranks)

  // ω_i = (1/ħ) Σ_j J(r_ij) ŝ_j over the radial terms, at the atoms' current positions and
  // spins. The list stays valid: LAMMPS moves atoms by at most one step between two force
  // evaluations, and the list holds every pair within cutoff + skin.
  void radial_field(const Atoms& a, int i, double w[3]) const {
    const spinlat::NeighborList& list = h.neighbors();
    const spinlat::Mat3 hT = s.cell.h.transpose();
    Vec3 sum = Vec3::Zero();
    const Vec3 xi(a.x[i][0], a.x[i][1], a.x[i][2]);
    const auto ui = static_cast<std::size_t>(i);
    // Pairs farther apart than the exchange's reach when the list was built stay beyond it.
    const double reach = radial_cutoff + h.skin();
    for (int k = list.begin(i); k < list.end(i); ++k) {
      const int j = list.index[k];
      // A self-image is parallel to ŝ_i: a constant energy (spinlat counts it, LAMMPS does not
      // see it below half the box), no torque.
      if (j == i || !s.magnetic(static_cast<std::size_t>(j)) || list.distance[k] > reach) continue;
      const double* xj = a.x[from[j]];
      const Vec3 rij = Vec3(xj[0], xj[1], xj[2]) + hT * list.image[k].cast<double>() - xi;
      const double r = rij.norm();
      const double* spj = a.sp[from[j]];
      const Vec3 ej(spj[0], spj[1], spj[2]);
      for (const auto& c : radial) {
        if (!(*c.species)(s, ui) || !(*c.species)(s, static_cast<std::size_t>(j))) continue;
        double J, dJ;
        if (!c.J->evaluate(r, J, dJ))
          throw spinlat::NumericalError("atoms " + std::to_string(i) + " and " + std::to_string(j) + " are " +
                                        std::to_string(r) + " Å apart, below the exchange table");
        sum += J * ej;
      }
    }
    for (int k = 0; k < 3; ++k) w[k] += sum[k] / hbar;
  }
};

Engine::Engine(const std::string& input, double hbar) : p_(new Impl) {
  p_->config = spinlat::read_config(input);
  // The input's own structure fixes the species order and lets each term check its species
  // (as `spinlat eval` does); the Hamiltonian is then bound to the LAMMPS atoms.
  const spinlat::System s0 = spinlat::build_system(p_->config);
  p_->species = s0.species_name;
  p_->masses = s0.species_mass;
  p_->h = spinlat::build_hamiltonian(p_->config, s0, spinlat::all_terms());
  p_->hbar = hbar;
  // Which magnetic terms SpinLatticeIntegrator moves by its generic path, judged on the input's
  // own structure (load() binds the Hamiltonian to the LAMMPS atoms later).
  p_->h.bind(s0);
  for (const auto& t : p_->h.terms())
    if (t->energy_kind() != spinlat::TermKind::lattice &&
        !spinlat::SpinLatticeIntegrator::fast_field_term(*t, s0, p_->h.neighbors()))
      p_->generic_field = true;
  for (const auto& t : p_->h.terms()) {
    if (t->energy_kind() == spinlat::TermKind::lattice) continue;
    const spinlat::RadialCoupling r = t->radial_coupling();
    if (r) {
      p_->radial.push_back(r);
      p_->radial_cutoff = std::max(p_->radial_cutoff, t->cutoff());
    }
    else p_->local_field = false;
  }
}

Engine::~Engine() = default;

const std::vector<std::string>& Engine::species() const { return p_->species; }
double Engine::cutoff() const { return p_->h.cutoff(); }

double Engine::ghost_reach() const {
  double r = 0.0;
  for (const auto& t : p_->h.terms()) r = std::max({r, 2.0 * t->cutoff(), t->trial_range()});
  return r;
}

double Engine::spin_reach() const {
  double r = 0.0;
  for (const auto& t : p_->h.terms())
    if (t->energy_kind() == spinlat::TermKind::magnetic) r = std::max(r, t->trial_range());
  return r;
}

std::string Engine::decomposition_refusal() const {
  for (const auto& t : p_->h.terms()) {
    if (t->type() == "dipolar")
      return "the dipolar term sums over all periodic images (Ewald): it needs the whole box on one rank";
    if (!std::isfinite(t->trial_range()) || !std::isfinite(t->cutoff()))
      return "term '" + t->type() + "' has no finite receptive field (a learned model without num_interactions)";
  }
  return "";
}
bool Engine::local_single_field() const { return p_->local_field; }

bool Engine::generic_spin_field() const { return p_->generic_field; }

void Engine::map_types(const std::vector<std::string>& names) {
  p_->species_of_type.assign(names.size() + 1, -1);
  for (std::size_t t = 0; t < names.size(); ++t) {
    for (std::size_t k = 0; k < p_->species.size(); ++k)
      if (p_->species[k] == names[t]) p_->species_of_type[t + 1] = static_cast<int>(k);
    if (p_->species_of_type[t + 1] < 0) {
      std::string known;
      for (const auto& n : p_->species) known += (known.empty() ? "" : ", ") + n;
      throw std::runtime_error("pair_coeff: type " + std::to_string(t + 1) + " is '" + names[t] +
                               "', not one of the spinlat input's species (" + known + ")");
    }
  }
}

void Engine::Impl::load(const Atoms& a, const Box& box) {
  if (species_of_type.empty()) throw std::runtime_error("pair spin/spinlat: pair_coeff * * NAME... not given");
  s.species_name = species;
  s.species_mass = masses;
  for (int k = 0; k < 3; ++k) {
    s.cell.h(0, k) = box.a[k];
    s.cell.h(1, k) = box.b[k];
    s.cell.h(2, k) = box.c[k];
    // With ghosts the periodic images are explicit atoms, an open cluster, along the
    // directions the ranks divide; given the tags, spinlat's own periodicity along the others.
    s.cell.periodic[k] = box.periodic[k] && (a.ghosts == 0 || (box.whole[k] && a.tag));
    lo[k] = box.lo[k];
  }
  owned = a.n;
  cluster = a.ghosts > 0;
  choose_atoms(a, box);
  const std::size_t n = from.size();
  s.position.resize(n);
  s.velocity.assign(n, Vec3::Zero());
  s.spin.resize(n);
  s.moment.resize(n);
  s.species.resize(n);
  s.sublattice.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    const int t = a.type[from[i]];
    if (t < 1 || t >= static_cast<int>(species_of_type.size()))
      throw std::runtime_error("pair spin/spinlat: atom type " + std::to_string(t) + " has no species in pair_coeff");
    s.species[i] = species_of_type[t];
  }
  atoms = a;
  copy_positions(a, lo);
  copy_spins(a);
  // Terms keep per-pair tables of which atoms are magnetic and of which species: a change
  // there (LAMMPS sorted its atoms, or `set` changed a moment) needs a fresh bind even where
  // no atom moved.
  std::vector<char> magnetic(n);
  for (std::size_t i = 0; i < n; ++i) magnetic[i] = s.moment[i] > 0.0;
  if (magnetic != bound_magnetic || s.species != bound_species) {
    h.bind(s);
    bound_magnetic = std::move(magnetic);
    bound_species = s.species;
  } else {
    h.update(s);
  }
  cached = false;
}

void Engine::Impl::choose_atoms(const Atoms& a, const Box& box) {
  const int total = a.n + a.ghosts;
  from.resize(static_cast<std::size_t>(total));
  for (int i = 0; i < total; ++i) from[i] = i;
  bool any = false;
  for (int k = 0; k < 3; ++k) any = any || (s.cell.periodic[k] && a.ghosts > 0);
  if (!any) return;
  // An image differs from the atom by a lattice vector: integer fractional offsets. Keep the
  // first instance of each atom (owned atoms come first) and of each offset along the divided
  // directions; drop the rest, which s's periodicity makes again.
  const spinlat::Mat3 to_frac = s.cell.h.transpose().inverse();
  auto frac = [&](int i) {
    return Vec3(to_frac * Vec3(a.x[i][0] - box.lo[0], a.x[i][1] - box.lo[1], a.x[i][2] - box.lo[2]));
  };
  struct Seen {
    Vec3 f;                            // the first instance's fractional position
    std::vector<spinlat::Int3> kept;   // offsets along the divided directions held
  };
  std::unordered_map<long long, Seen> seen;
  seen.reserve(static_cast<std::size_t>(total));
  from.clear();
  for (int i = 0; i < total; ++i) {
    const Vec3 f = frac(i);
    auto it = seen.find(a.tag[i]);
    if (it == seen.end()) {
      seen.emplace(a.tag[i], Seen{f, {spinlat::Int3::Zero()}});
      from.push_back(i);
      continue;
    }
    spinlat::Int3 offset = spinlat::Int3::Zero();
    for (int k = 0; k < 3; ++k)
      if (!s.cell.periodic[k]) offset[k] = static_cast<int>(std::lround(f[k] - it->second.f[k]));
    if (std::find(it->second.kept.begin(), it->second.kept.end(), offset) != it->second.kept.end()) continue;
    it->second.kept.push_back(offset);
    from.push_back(i);
  }
}

void Engine::load(const Atoms& a, const Box& box) { p_->load(a, box); }

double Engine::evaluate(const Outputs& out) {
  spinlat::System& s = p_->s;
  std::vector<Vec3> force;
  spinlat::Mat3 W = spinlat::Mat3::Zero();
  spinlat::Derivatives d;
  if (out.f) d.force = &force;
  d.magnetic_force = &p_->F;
  if (out.virial) {
    if (p_->cluster) throw std::logic_error("Engine::evaluate: no virial from a cluster (whole_box_virial)");
    d.virial = &W;
  }
  double e = p_->h.compute(s, d);
  p_->cached_spin = s.spin;
  p_->cached_position = s.position;
  p_->cached = true;
  // Results for the owned atoms only: a ghost's force and field belong to its owner, which
  // computes them itself (nothing to communicate back).
  const int n = p_->owned;
  for (int i = 0; i < n; ++i) {
    if (out.f)
      for (int k = 0; k < 3; ++k) out.f[i][k] += force[i][k];
    if (out.fm && s.moment[i] > 0.0) {
      if (p_->local_field) {
        p_->radial_field(p_->atoms, i, out.fm[i]);
      } else {
        double w[3];
        precession_frequency(p_->F[i].data(), s.moment[i], p_->hbar, w);
        for (int k = 0; k < 3; ++k) out.fm[i][k] += w[k];
      }
    }
  }
  if (out.virial) add_virial(W, out.virial);
  if (out.eatom || (p_->cluster && out.energy)) {
    const std::vector<double> es = p_->h.site_energies(s);
    if (out.eatom)
      for (int i = 0; i < n; ++i) out.eatom[i] += es[i];
    if (p_->cluster && out.energy) {  // the owned sites' energies; the ghosts' are other ranks'
      e = 0.0;
      for (int i = 0; i < n; ++i) e += es[i];
    }
  }
  if (out.emag) {
    std::vector<double> es(s.size(), 0.0);
    for (const auto& t : p_->h.terms())
      if (t->energy_kind() == spinlat::TermKind::magnetic) t->add_site_energies(s, p_->h.neighbors(), es);
    for (int i = 0; i < n; ++i) out.emag[i] = es[i];
  }
  return e;
}

void Engine::whole_box_virial(const Atoms& all, const Box& box, double virial[6]) {
  // A System and Hamiltonian of their own, so that the cluster's neighbour list and the
  // terms' tables stay as they are.
  if (!p_->whole) {
    p_->whole.reset(new Impl);
    Impl& w = *p_->whole;
    w.config = p_->config;
    w.h = spinlat::build_hamiltonian(w.config, spinlat::build_system(w.config), spinlat::all_terms());
    w.species = p_->species;
    w.masses = p_->masses;
    w.species_of_type = p_->species_of_type;
    w.hbar = p_->hbar;
  }
  Impl& w = *p_->whole;
  w.load(all, box);
  spinlat::Mat3 W = spinlat::Mat3::Zero();
  spinlat::Derivatives d;
  d.virial = &W;
  w.h.compute(w.s, d);
  for (int k = 0; k < 6; ++k) virial[k] = 0.0;
  add_virial(W, virial);
}

void Engine::single_field(const Atoms& a, int i, double w[3]) {
  spinlat::System& s = p_->s;
  if (!(a.sp[i][3] > 0.0)) return;
  if (p_->local_field) {
    p_->radial_field(a, i, w);
    return;
  }
  // Any other Hamiltonian: the exact field needs the whole configuration (a learned model's
  // field on i depends on every spin in its receptive field); evaluate again only when some
  // spin or position changed since the last evaluation.
  p_->copy_spins(a);
  p_->copy_positions(a, p_->lo);
  if (!p_->cached || s.spin != p_->cached_spin || s.position != p_->cached_position) {
    p_->h.update(s);
    p_->magnetic_forces();
  }
  double add[3];
  precession_frequency(p_->F[i].data(), s.moment[i], p_->hbar, add);
  for (int k = 0; k < 3; ++k) w[k] += add[k];
}

// ---- whole_lattice ---------------------------------------------------------------------------

namespace whole_lattice {

double kick_factor(double h, double mass) { return spinlat::units::kick_per_force(h, mass); }

void move_spin(const double e0[3], const double w[3], const double b[3], double moment, double hbar, double alpha,
               double tau, const double* along, double out[3]) {
  const Vec3 e(e0[0], e0[1], e0[2]);
  Vec3 omega(w[0], w[1], w[2]);
  if (along) {
    const Vec3 a(along[0], along[1], along[2]);
    omega -= a.dot(omega) * a;
  }
  // ω = |m| F/ħ (precession_frequency, bridge.hpp) with F = −∂E/∂m (eV/μB): B = F/μB.
  Vec3 B = spinlat::units::magforce_to_tesla(hbar / moment) * omega;
  if (b) B += Vec3(b[0], b[1], b[2]);
  const double g = spinlat::units::gamma_e / (1.0 + alpha * alpha);
  const Vec3 r = spinlat::advance_spin(e, B, g, alpha, tau);
  for (int k = 0; k < 3; ++k) out[k] = r[k];
}

double spin_noise_sigma(double alpha, double temperature, double moment, double tau) {
  return spinlat::units::thermal_field_sigma(alpha, temperature, moment, tau);
}

void lattice_bath(double gamma, double h, double temperature, double mass, double& c, double& a) {
  double c2;
  spinlat::lattice_steps::ou_coefficients(gamma, h, c, c2);
  a = c2 * spinlat::units::thermal_speed(spinlat::units::k_B * temperature, mass);
}

void tagged_normals(unsigned long long seed, unsigned long long purpose, long long tag, long long step,
                    double out[3]) {
  using spinlat::splitmix64;
  std::uint64_t key = splitmix64(splitmix64(splitmix64(seed) ^ purpose) ^ static_cast<std::uint64_t>(tag));
  key = splitmix64(key ^ static_cast<std::uint64_t>(step));
  double u[4];
  for (int k = 0; k < 4; ++k) {
    key = splitmix64(key + 0x9e3779b97f4a7c15ULL);
    u[k] = (static_cast<double>(key >> 11) + 0.5) * 0x1.0p-53;  // (0, 1): log(u) is finite
  }
  const double two_pi = 2.0 * spinlat::units::kPi;
  const double r0 = std::sqrt(-2.0 * std::log(u[0])), r1 = std::sqrt(-2.0 * std::log(u[2]));
  out[0] = r0 * std::cos(two_pi * u[1]);
  out[1] = r0 * std::sin(two_pi * u[1]);
  out[2] = r1 * std::cos(two_pi * u[3]);
}

}  // namespace whole_lattice

// ---- Dynamics ------------------------------------------------------------------------------

struct Dynamics::Impl {
  spinlat::Config config;
  spinlat::System s;
  spinlat::Hamiltonian h;
  std::vector<int> species_of_type;
  std::vector<double> mass_of_type;
  Options options;
  std::unique_ptr<spinlat::SpinLatticeIntegrator> sld;
  std::vector<long long> tags;  // the atoms the integrator was built for, in order
  std::vector<int> species;
};

Dynamics::Dynamics(const std::string& input, const std::vector<std::string>& type_species,
                   const std::vector<double>& type_mass, const Options& options)
    : p_(new Impl) {
  p_->config = spinlat::read_config(input);
  const spinlat::System s0 = spinlat::build_system(p_->config);
  p_->h = spinlat::build_hamiltonian(p_->config, s0, spinlat::all_terms());
  p_->s.species_name = s0.species_name;
  p_->s.species_mass.assign(s0.species_name.size(), 0.0);
  p_->species_of_type.assign(type_species.size(), -1);
  p_->mass_of_type = type_mass;
  for (std::size_t t = 1; t < type_species.size(); ++t) {
    for (std::size_t k = 0; k < s0.species_name.size(); ++k)
      if (s0.species_name[k] == type_species[t]) p_->species_of_type[t] = static_cast<int>(k);
    if (p_->species_of_type[t] < 0) throw std::runtime_error("type " + std::to_string(t) + ": no species '" + type_species[t] + "'");
    // spinlat keeps one mass per species: types that share a species must share a mass.
    double& m = p_->s.species_mass[p_->species_of_type[t]];
    if (m != 0.0 && m != type_mass[t])
      throw std::runtime_error("types of species '" + type_species[t] + "' have different masses");
    m = type_mass[t];
  }
  p_->options = options;
}

Dynamics::~Dynamics() = default;

void Dynamics::reset() { p_->sld.reset(); }


void Dynamics::step(const Atoms& a, double** v, const long long* tag, const Box& box) {
  spinlat::System& s = p_->s;
  const std::size_t n = static_cast<std::size_t>(a.n);
  std::vector<long long> tags(tag, tag + a.n);
  std::vector<int> species(n);
  for (std::size_t i = 0; i < n; ++i) species[i] = p_->species_of_type.at(static_cast<std::size_t>(a.type[i]));
  const bool fresh = !p_->sld || tags != p_->tags || species != p_->species;
  for (int k = 0; k < 3; ++k) {
    s.cell.h(0, k) = box.a[k];
    s.cell.h(1, k) = box.b[k];
    s.cell.h(2, k) = box.c[k];
    s.cell.periodic[k] = box.periodic[k];
  }
  s.position.resize(n);
  s.velocity.resize(n);
  s.spin.resize(n);
  s.moment.resize(n);
  s.sublattice.assign(n, 0);
  s.species = species;
  for (std::size_t i = 0; i < n; ++i) {
    s.position[i] = Vec3(a.x[i][0] - box.lo[0], a.x[i][1] - box.lo[1], a.x[i][2] - box.lo[2]);
    s.velocity[i] = Vec3(v[i][0], v[i][1], v[i][2]);
    const double* sp = a.sp[i];
    const Vec3 e(sp[0], sp[1], sp[2]);
    s.moment[i] = sp[3] > 0.0 && e.norm() > 0.0 ? sp[3] : 0.0;
    s.spin[i] = s.moment[i] > 0.0 ? Vec3(e / e.norm()) : Vec3(Vec3::Zero());
  }
  if (fresh) {
    spinlat::SldOptions o;
    o.dt = p_->options.dt;
    o.temperature = p_->options.temperature;
    o.damping = {p_->options.damping};
    o.lattice_damping = p_->options.lattice_damping;
    o.zero_momentum = false;  // LAMMPS's velocities are used as they are
    p_->sld.reset(new spinlat::SpinLatticeIntegrator(s, p_->h, o, spinlat::StreamKey(p_->options.seed)));
    p_->tags = std::move(tags);
    p_->species = std::move(species);
  }
  p_->sld->step();
  for (std::size_t i = 0; i < n; ++i) {
    for (int k = 0; k < 3; ++k) {
      a.x[i][k] = s.position[i][k] + box.lo[k];
      v[i][k] = s.velocity[i][k];
    }
    if (s.moment[i] > 0.0)
      for (int k = 0; k < 3; ++k) a.sp[i][k] = s.spin[i][k];
  }
}

}  // namespace spinlat_lammps
