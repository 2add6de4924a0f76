// Energy minimisation: FIRE and velocity projection over moment directions, moment sizes,
// positions and the cell (dynamics/minimize.hpp).
#include "spinlat/dynamics/minimize.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/core/state_io.hpp"

namespace spinlat {

namespace {

// FIRE's constants (Bitzek et al. 2006, and ASE's defaults for the eV–Å steps).
constexpr long long kNmin = 5;
constexpr double kFinc = 1.1, kFdec = 0.5, kAlphaStart = 0.1, kFalpha = 0.99;
constexpr double kLatticeDt = 0.1, kLatticeDtMax = 1.0;
// A size never reaches zero (ê would be undefined): the floor of |m_i| in μB.
constexpr double kMinMoment = 1e-8;

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
  return s;
}

std::string short_text(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", x);
  return buf;
}

}  // namespace

MinimizeMethod parse_minimize_method(const std::string& name) {
  if (name == "fire") return MinimizeMethod::fire;
  if (name == "vp") return MinimizeMethod::vp;
  throw InputError("unknown minimize method '" + name + "' (expected fire or vp)");
}

Minimizer::Minimizer(Hamiltonian& h, System& s, MinimizeOptions options) : h_(h), s_(s), opt_(options) {
  const std::size_t n = s_.size();
  dir_.v.assign(3 * n, 0.0);
  size_.v.assign(n, 0.0);
  pos_.v.assign(3 * n, 0.0);
  cell_.v.assign(9, 0.0);
  cell0_ = s_.cell.h;
  if (opt_.positions || opt_.cell) {
    // A list built here, at known positions (see built_positions_).
    h_.bind(s_);
    built_positions_ = s_.position;
    built_cell_ = s_.cell.h;
  }
  evaluate();
  // Directions: a step set by the stiffest spin of the start, so that the scheme does not
  // depend on the energy unit of the couplings.
  double hmax = 0.0;
  for (std::size_t i = 0; i < n; ++i)
    if (s_.magnetic(i)) hmax = std::max(hmax, s_.moment[i] * magforce_[i].norm());
  dir_.dt = hmax > 0.0 ? 0.1 / std::sqrt(hmax) : 0.1;
  dir_.dt_max = 10.0 * dir_.dt;
  // VP has a fixed step: half the largest stable one of the stiffest mode.
  if (opt_.method == MinimizeMethod::vp) dir_.dt = 0.5 * dir_.dt_max / std::sqrt(2.0);
  size_.dt = pos_.dt = cell_.dt = kLatticeDt;
  size_.dt_max = pos_.dt_max = cell_.dt_max = kLatticeDtMax;
}

void Minimizer::evaluate() {
  if (opt_.positions || opt_.cell) {
    if (h_.update(s_)) {
      built_positions_ = s_.position;
      built_cell_ = s_.cell.h;
    } else if (h_.spin_kernel() && h_.depends_on_positions()) {
      h_.rebuild_spin_kernel(s_);  // later stages may use the kernel: keep it at these positions
    }
  }
  Derivatives d;
  if (opt_.directions || opt_.longitudinal) d.magnetic_force = &magforce_;
  if (opt_.positions) d.force = &force_;
  if (opt_.cell) d.virial = &virial_;
  energy_ = h_.compute(s_, d);
  if (!opt_.field.isZero(0.0)) {
    // Zeeman energy −μB m·B of the applied field; its magnetic force is μB B on every moment.
    const Vec3 f = units::mu_B * opt_.field;
    for (std::size_t i = 0; i < s_.size(); ++i) {
      if (!s_.magnetic(i)) continue;
      energy_ -= s_.moment[i] * s_.spin[i].dot(f);
      if (d.magnetic_force) magforce_[i] += f;
    }
  }
  if (!std::isfinite(energy_)) throw NumericalError("minimize: non-finite energy at step " + std::to_string(steps_));
  const std::size_t n = s_.size();
  res_ = MinimizeResiduals();
  gdir_.assign(3 * n, 0.0);
  gsize_.assign(n, 0.0);
  gpos_.assign(3 * n, 0.0);
  gcell_.assign(9, 0.0);
  if (opt_.cell) {
    // σ = −Wᵀ/V (docs/units.md); the cell relaxes under its symmetric part only (header).
    const double V = s_.cell.volume();
    stress_ = -virial_.transpose() / V;
    const Mat3 excess = 0.5 * (stress_ + stress_.transpose()) + (opt_.pressure / units::eVA3_to_GPa) * Mat3::Identity();
    const double scale = V / static_cast<double>(std::max<std::size_t>(1, n));
    // dH = V (σ_s + P0 I) : dF F⁻¹ (the strain of a change dF), along symmetric dF only.
    const Mat3 grad = excess * deformation_.inverse().transpose();
    const Mat3 g = -0.5 * scale * (grad + grad.transpose());
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) gcell_[3 * a + b] = g(a, b);
    res_.stress = excess.cwiseAbs().maxCoeff() * units::eVA3_to_GPa;
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (opt_.positions) {
      for (int a = 0; a < 3; ++a) gpos_[3 * i + a] = force_[i][a];
      res_.force = std::max(res_.force, force_[i].norm());
    }
    if (!s_.magnetic(i) || !(opt_.directions || opt_.longitudinal)) continue;
    const Vec3& e = s_.spin[i];
    const Vec3& F = magforce_[i];
    const double along = e.dot(F);
    if (opt_.directions) {
      const Vec3 perp = F - along * e;  // |ê × F|
      res_.torque = std::max(res_.torque, perp.norm());
      for (int a = 0; a < 3; ++a) gdir_[3 * i + a] = s_.moment[i] * perp[a];  // eV/rad
    }
    if (opt_.longitudinal) {
      gsize_[i] = along;  // −∂E/∂|m_i|
      res_.longitudinal = std::max(res_.longitudinal, std::abs(along));
    }
  }
  if (!std::isfinite(res_.torque + res_.longitudinal + res_.force + res_.stress))
    throw NumericalError("minimize: non-finite force at step " + std::to_string(steps_) +
                         " (atoms overlapping, or a term undefined at these moments)");
}

std::vector<double> Minimizer::advance(Group& g, const std::vector<double>& f, int width, double cap) const {
  const double P = dot(f, g.v);
  const double ff = dot(f, f);
  if (opt_.method == MinimizeMethod::vp && &g == &dir_) {
    // Velocity projection: keep only the velocity's component along the force.
    const double c = (P > 0.0 && ff > 0.0) ? P / ff : 0.0;
    for (std::size_t k = 0; k < g.v.size(); ++k) g.v[k] = c * f[k];
  } else if (P > 0.0) {
    const double vn = std::sqrt(dot(g.v, g.v)), fn = std::sqrt(ff);
    if (fn > 0.0)
      for (std::size_t k = 0; k < g.v.size(); ++k) g.v[k] = (1.0 - g.alpha) * g.v[k] + g.alpha * vn * f[k] / fn;
    if (++g.downhill > kNmin) {
      g.dt = std::min(g.dt * kFinc, g.dt_max);
      g.alpha *= kFalpha;
    }
  } else {
    std::fill(g.v.begin(), g.v.end(), 0.0);
    g.dt *= kFdec;
    g.alpha = kAlphaStart;
    g.downhill = 0;
  }
  std::vector<double> move(g.v.size());
  double largest = 0.0;
  for (std::size_t k = 0; k < g.v.size(); ++k) {
    g.v[k] += g.dt * f[k];
    move[k] = g.dt * g.v[k];
  }
  for (std::size_t i = 0; i < move.size(); i += width) {
    double m2 = 0.0;
    for (int a = 0; a < width; ++a) m2 += move[i + a] * move[i + a];
    largest = std::max(largest, std::sqrt(m2));
  }
  if (largest > cap)
    for (double& x : move) x *= cap / largest;
  return move;
}

void Minimizer::step() {
  const std::size_t n = s_.size();
  if (opt_.directions) {
    const std::vector<double> turn = advance(dir_, gdir_, 3, opt_.max_rotation);
    for (std::size_t i = 0; i < n; ++i) {
      if (!s_.magnetic(i)) continue;
      const Vec3 theta(turn[3 * i], turn[3 * i + 1], turn[3 * i + 2]);  // ⟂ ê_i
      const double angle = theta.norm();
      Vec3& e = s_.spin[i];
      if (angle > 0.0) e = (std::cos(angle) * e + std::sin(angle) * theta / angle).normalized();
      // The velocity into the new tangent plane.
      Vec3 v(dir_.v[3 * i], dir_.v[3 * i + 1], dir_.v[3 * i + 2]);
      v -= v.dot(e) * e;
      for (int a = 0; a < 3; ++a) dir_.v[3 * i + a] = v[a];
    }
  }
  if (opt_.longitudinal) {
    const std::vector<double> dm = advance(size_, gsize_, 1, opt_.max_moment_change);
    for (std::size_t i = 0; i < n; ++i) {
      if (!s_.magnetic(i)) continue;
      s_.moment[i] += dm[i];
      if (s_.moment[i] < kMinMoment) {
        s_.moment[i] = kMinMoment;
        size_.v[i] = 0.0;
      }
    }
  }
  if (opt_.positions) {
    const std::vector<double> dr = advance(pos_, gpos_, 3, opt_.max_displacement);
    for (std::size_t i = 0; i < n; ++i) s_.position[i] += Vec3(dr[3 * i], dr[3 * i + 1], dr[3 * i + 2]);
  }
  if (opt_.cell) {
    // Coordinate x = N F: the change of F is the move over N, capped at max_strain.
    const double atoms = static_cast<double>(std::max<std::size_t>(1, n));
    const std::vector<double> dx = advance(cell_, gcell_, 9, atoms * opt_.max_strain);
    Mat3 F = deformation_;
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) F(a, b) += dx[3 * a + b] / atoms;
    // Column vectors r → M r with M = F_new F_old⁻¹; the rows of h are lattice vectors, h = h_0 Fᵀ.
    const Mat3 M = F * deformation_.inverse();
    deformation_ = F;
    s_.cell.h = cell0_ * F.transpose();
    for (Vec3& r : s_.position) r = M * r;
  }
  ++steps_;
  evaluate();
}

void Minimizer::set_field(const Vec3& field) {
  opt_.field = field;
  evaluate();
}

bool Minimizer::converged() const {
  return (!opt_.directions || res_.torque <= opt_.torque_tolerance) &&
         (!opt_.longitudinal || res_.longitudinal <= opt_.torque_tolerance) &&
         (!opt_.positions || res_.force <= opt_.force_tolerance) &&
         (!opt_.cell || res_.stress <= opt_.stress_tolerance);
}

std::string Minimizer::residual_text() const {
  std::string t;
  auto add = [&](const std::string& s) { t += (t.empty() ? "" : ", ") + s; };
  if (opt_.directions)
    add("max torque " + short_text(res_.torque) + " eV/μB (tolerance " + short_text(opt_.torque_tolerance) + ")");
  if (opt_.longitudinal)
    add("max longitudinal force " + short_text(res_.longitudinal) + " eV/μB (tolerance " +
        short_text(opt_.torque_tolerance) + ")");
  if (opt_.positions)
    add("max force " + short_text(res_.force) + " eV/Å (tolerance " + short_text(opt_.force_tolerance) + ")");
  if (opt_.cell)
    add("max stress " + short_text(res_.stress) + " GPa (tolerance " + short_text(opt_.stress_tolerance) +
        ", target pressure " + short_text(opt_.pressure) + " GPa)");
  return t;
}

std::string Minimizer::save_state() const {
  state_io::Writer w("spinlat-minimizer", 1);
  w.integer("steps", static_cast<std::uint64_t>(steps_));
  w.integer("sites", s_.size());
  const std::pair<const char*, const Group*> groups[] = {
      {"dir", &dir_}, {"size", &size_}, {"pos", &pos_}, {"cell", &cell_}};
  for (const auto& [name, g] : groups) {
    const std::string p(name);
    w.reals(p + ".v", g->v);
    w.real(p + ".dt", g->dt);
    w.real(p + ".dt_max", g->dt_max);
    w.real(p + ".alpha", g->alpha);
    w.integer(p + ".downhill", static_cast<std::uint64_t>(g->downhill));
  }
  std::vector<double> built(built_cell_.data(), built_cell_.data() + 9);
  for (const Vec3& r : built_positions_) built.insert(built.end(), r.data(), r.data() + 3);
  std::vector<double> cell(cell0_.data(), cell0_.data() + 9);
  cell.insert(cell.end(), deformation_.data(), deformation_.data() + 9);
  w.reals("deformation", cell);
  w.integer("built_positions", built_positions_.size());
  w.reals("built", built);
  return w.str();
}

void Minimizer::load_state(const std::string& state) {
  state_io::Reader r(state, "spinlat-minimizer", 1);
  if (r.integer("sites") != s_.size())
    throw InputError("minimize state: " + std::to_string(r.integer("sites")) + " sites, the system has " +
                     std::to_string(s_.size()));
  steps_ = static_cast<long long>(r.integer("steps"));
  const std::pair<const char*, Group*> groups[] = {
      {"dir", &dir_}, {"size", &size_}, {"pos", &pos_}, {"cell", &cell_}};
  for (const auto& [name, g] : groups) {
    const std::string p(name);
    if (p == "cell" && !r.has("cell.v") && !opt_.cell) continue;  // a state from before cell relaxation
    g->v = r.reals(p + ".v", g->v.size());
    g->dt = r.real(p + ".dt");
    g->dt_max = r.real(p + ".dt_max");
    g->alpha = r.real(p + ".alpha");
    g->downhill = static_cast<long long>(r.integer(p + ".downhill"));
  }
  if (r.has("deformation")) {
    const std::vector<double> cell = r.reals("deformation", 18);
    for (int k = 0; k < 9; ++k) {
      cell0_.data()[k] = cell[k];
      deformation_.data()[k] = cell[9 + k];
    }
  }
  const std::size_t nb = r.integer("built_positions");
  const std::vector<double> built = r.reals("built", 9 + 3 * nb);
  if (nb > 0) {
    for (int k = 0; k < 9; ++k) built_cell_.data()[k] = built[k];
    built_positions_.resize(nb);
    for (std::size_t i = 0; i < nb; ++i) built_positions_[i] = Vec3(built[9 + 3 * i], built[10 + 3 * i], built[11 + 3 * i]);
    std::swap(s_.position, built_positions_);
    std::swap(s_.cell.h, built_cell_);
    h_.bind(s_);
    std::swap(s_.position, built_positions_);
    std::swap(s_.cell.h, built_cell_);
  }
  evaluate();
}

}  // namespace spinlat
