#include "spinlat/terms/dipolar.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <unordered_map>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/terms/registry.hpp"

namespace spinlat {

namespace {

using Complex = std::complex<double>;
constexpr double kPi = units::kPi;

/// Everything the Ewald tensor of one displacement needs (Wang & Holm 2001, eqs. 2-6 in
/// Gaussian-like units: the energy is (μ0/4π) times the expressions below).
struct EwaldSetup {
  Mat3 h;                     // rows: lattice vectors (Å)
  double alpha = 0, rc = 0, volume = 0;
  std::vector<Vec3> images;   // lattice translations that can bring a wrapped r0 within rc
  std::vector<Vec3> k;        // half of the reciprocal vectors (k and −k give the same term)
  std::vector<double> kpref;  // 2 · (4π/V) exp(−k²/4α²)/k² per listed k
  Vec3 demag = Vec3::Zero();
};

/// x = α r_c = k_c/(2α) such that the neglected real-space and reciprocal tails, which fall off
/// as e^{−x²} times powers of x, stay below `accuracy` relative to the nearest-neighbour scale
/// (the factor 1e3 covers the number of terms in the last shells; test (2) checks it).
double ewald_x(double accuracy) {
  double x = 1.0;
  while (std::exp(-x * x) * (1.0 + x * x) * 1e3 > accuracy && x < 20.0) x += 0.01;
  return x;
}

EwaldSetup ewald_setup(const Cell& cell, const DipolarOptions& o) {
  EwaldSetup e;
  e.h = cell.h;
  e.volume = cell.volume();
  const double x = ewald_x(o.accuracy);
  // α = √π/V^{1/3} balances the real-space images and reciprocal vectors a tensor needs.
  e.alpha = o.alpha > 0.0 ? o.alpha : std::sqrt(kPi) / std::cbrt(e.volume);
  e.rc = x / e.alpha;
  const double kc = 2.0 * e.alpha * x;
  // A wrapped displacement is at most half the cell's body diagonals away from the origin.
  const double reach = e.rc + 0.5 * (cell.h.row(0).norm() + cell.h.row(1).norm() + cell.h.row(2).norm());
  Int3 nmax;
  for (int d = 0; d < 3; ++d) nmax[d] = static_cast<int>(std::ceil(reach / cell.plane_spacing(d)));
  for (int n0 = -nmax[0]; n0 <= nmax[0]; ++n0)
    for (int n1 = -nmax[1]; n1 <= nmax[1]; ++n1)
      for (int n2 = -nmax[2]; n2 <= nmax[2]; ++n2) {
        const Vec3 t = (n0 * cell.h.row(0) + n1 * cell.h.row(1) + n2 * cell.h.row(2)).transpose();
        if (t.norm() < reach) e.images.push_back(t);
      }
  // Reciprocal rows b_j with a_i·b_j = 2π δ_ij.
  const Mat3 b = 2.0 * kPi * cell.h.inverse().transpose();
  Int3 mmax;
  for (int d = 0; d < 3; ++d) mmax[d] = static_cast<int>(std::ceil(kc * cell.h.row(d).norm() / (2.0 * kPi))) + 1;
  for (int m0 = 0; m0 <= mmax[0]; ++m0)
    for (int m1 = -mmax[1]; m1 <= mmax[1]; ++m1)
      for (int m2 = -mmax[2]; m2 <= mmax[2]; ++m2) {
        // Half space: the first non-zero index positive.
        if (m0 == 0 && (m1 < 0 || (m1 == 0 && m2 <= 0))) continue;
        const Vec3 k = (m0 * b.row(0) + m1 * b.row(1) + m2 * b.row(2)).transpose();
        const double k2 = k.squaredNorm();
        if (k2 > kc * kc) continue;
        e.k.push_back(k);
        e.kpref.push_back(2.0 * 4.0 * kPi / e.volume * std::exp(-k2 / (4.0 * e.alpha * e.alpha)) / k2);
      }
  e.demag = o.demagnetizing;
  return e;
}

/// Ewald tensor W(r) (1/Å³) between a moment and another at displacement r from it (r wrapped
/// into the cell), summed over all periodic images; `same` when it is the moment itself (its
/// own images, the self term). E = −½ Σ_ij m_i·W_ij m_j.
Mat3 ewald_tensor(const Vec3& r0, bool same, const EwaldSetup& e) {
  Mat3 w = Mat3::Zero();
  const double a = e.alpha, a2 = a * a, rc2 = e.rc * e.rc, c = 2.0 * a / std::sqrt(kPi);
  // Real space: −Σ_n [B(r) I − C(r) r rᵀ] over images r = r0 + n·h (Wang & Holm eq. 3).
  for (const Vec3& t : e.images) {
    const Vec3 r = r0 + t;
    const double r2 = r.squaredNorm();
    if (r2 >= rc2 || r2 < 1e-20) continue;
    const double d = std::sqrt(r2), g = c * std::exp(-a2 * r2), erfc = std::erfc(a * d);
    const double B = erfc / (r2 * d) + g / r2;
    const double C = 3.0 * erfc / (r2 * r2 * d) + g * (2.0 * a2 + 3.0 / r2) / r2;
    w -= B * Mat3::Identity() - C * r * r.transpose();
  }
  // Reciprocal space: −(4π/V) Σ_{k≠0} e^{−k²/4α²}/k² k kᵀ cos(k·r) (eq. 4).
  for (std::size_t q = 0; q < e.k.size(); ++q)
    w -= e.kpref[q] * std::cos(e.k[q].dot(r0)) * e.k[q] * e.k[q].transpose();
  // Self term −(2α³/3√π) Σ m_i² (eq. 5) and surface term (2π/V) M·N·M (eq. 6 for N = 1/3).
  if (same) w += (4.0 * a2 * a / (3.0 * std::sqrt(kPi))) * Mat3::Identity();
  w -= (4.0 * kPi / e.volume) * Mat3(e.demag.asDiagonal());
  return w;
}

/// The bare dipole tensor (3 r̂ r̂ᵀ − I)/r³ of an open box.
Mat3 direct_tensor(const Vec3& r) {
  const double r2 = r.squaredNorm(), d = std::sqrt(r2);
  return (3.0 * r * r.transpose() / r2 - Mat3::Identity()) / (r2 * d);
}

/// Displacement wrapped to the nearest image along periodic directions (fractional in [−½, ½)).
Vec3 wrap_displacement(const Cell& cell, const Vec3& r) {
  Vec3 f = cell.fractional(r);
  for (int k = 0; k < 3; ++k)
    if (cell.periodic[k]) f[k] -= std::floor(f[k] + 0.5);
  return cell.cartesian(f);
}

/// Mixed-radix FFT of one length (Cooley & Tukey 1965, recursive decimation in time over the
/// smallest prime factor; a prime length is a plain DFT). X_k = Σ_n x_n e^{∓2πi kn/N}, the
/// inverse unscaled. spectra_fft.cpp's fft() is radix-2 only, and the convolution over cell
/// offsets must be circular with the lattice's own period.
class MixedFft {
 public:
  explicit MixedFft(int n) : n_(n), w_(n) {
    for (int j = 0; j < n; ++j) w_[j] = std::polar(1.0, -2.0 * kPi * j / n);
  }
  void run(std::vector<Complex>& x, bool inverse) const {
    std::vector<Complex> out(n_);
    rec(x.data(), 1, out.data(), n_, 1, inverse);
    x.swap(out);
  }

 private:
  void rec(const Complex* in, int stride, Complex* out, int n, int step, bool inverse) const {
    if (n == 1) { out[0] = in[0]; return; }
    int p = 2;
    while (n % p != 0) ++p;
    const int m = n / p;
    for (int r = 0; r < p; ++r) rec(in + r * stride, stride * p, out + r * m, m, step * p, inverse);
    // X[k + q m] = Σ_r w_n^{r(k + q m)} Y_r[k]: for each k the inputs and outputs share slots.
    Complex y[64];
    std::vector<Complex> big;
    Complex* t = y;
    if (p > 64) { big.resize(p); t = big.data(); }
    for (int k = 0; k < m; ++k) {
      for (int r = 0; r < p; ++r) t[r] = out[r * m + k];
      for (int q = 0; q < p; ++q) {
        Complex s = 0.0;
        const long long e = k + static_cast<long long>(q) * m;
        for (int r = 0; r < p; ++r) {
          const Complex tw = w_[static_cast<std::size_t>((r * e) % n) * step];
          s += (inverse ? std::conj(tw) : tw) * t[r];
        }
        out[k + q * m] = s;
      }
    }
  }
  int n_;
  std::vector<Complex> w_;
};

/// In-place 3D FFT of an array indexed c0 + L0 (c1 + L1 c2).
void fft3(std::vector<Complex>& a, const Int3& L, const MixedFft* f[3], bool inverse) {
  const int stride[3] = {1, L[0], L[0] * L[1]};
  std::vector<Complex> line;
  for (int d = 0; d < 3; ++d) {
    if (L[d] == 1) continue;
    line.resize(L[d]);
    const int total = L[0] * L[1] * L[2];
    for (int start = 0; start < total; ++start) {
      if ((start / stride[d]) % L[d] != 0) continue;  // one start per line along d
      for (int j = 0; j < L[d]; ++j) line[j] = a[start + j * stride[d]];
      f[d]->run(line, inverse);
      for (int j = 0; j < L[d]; ++j) a[start + j * stride[d]] = line[j];
    }
  }
}

std::size_t packed(std::size_t i, std::size_t j, std::size_t n) {
  if (i > j) std::swap(i, j);
  return i * n - i * (i - 1) / 2 + (j - i);  // row i of the upper triangle starts at i·n − i(i−1)/2
}

}  // namespace

double Dipolar::trial_range() const { return std::numeric_limits<double>::infinity(); }

const Dipolar::Sym& Dipolar::self_block(int i) const {
  if (fft_) return table_[(static_cast<std::size_t>(basis_[i]) * nb_ + basis_[i]) * ncell_];
  return pair_[packed(i, i, atom_.size())];
}

void Dipolar::bind(const System& s, const NeighborList&) {
  // Same geometry: keep the tensors (a neighbour-list rebuild of another term, a new stage).
  if (!built_positions_.empty() && s.size() == built_positions_.size() && s.cell.h == built_cell_) {
    bool same = true;
    for (std::size_t i = 0; i < s.size() && same; ++i) same = (s.position[i] - built_positions_[i]).norm() < 1e-9;
    if (same) return;
  }
  const auto& per = s.cell.periodic;
  const int periodic = per[0] + per[1] + per[2];
  if (opt_.method == DipolarOptions::Method::ewald && periodic != 3)
    throw InputError("dipolar: method \"ewald\" needs a cell periodic in all three directions; an open box "
                     "(structure.periodic = false) takes method = \"direct\"");
  if (opt_.method == DipolarOptions::Method::direct && periodic != 0)
    throw InputError("dipolar: method \"direct\" sums pairs in an open box; a periodic cell takes method = \"ewald\"");
  site_.assign(s.size(), -1);
  atom_.clear();
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s.magnetic(i)) {
      site_[i] = static_cast<int>(atom_.size());
      atom_.push_back(static_cast<int>(i));
    }
  if (atom_.empty()) throw InputError("dipolar: the structure has no magnetic sites (moment > 0)");
  const int nm = static_cast<int>(atom_.size());
  const bool use_fft = opt_.storage == DipolarOptions::Storage::fft ||
                      (opt_.storage == DipolarOptions::Storage::automatic && nm > opt_.pair_limit);
  if (use_fft && opt_.method == DipolarOptions::Method::direct)
    throw InputError("dipolar: " + std::to_string(nm) + " magnetic sites exceed pair_limit = " +
                     std::to_string(opt_.pair_limit) + " and an open box has no FFT path; raise pair_limit "
                     "(memory 48·N²/2 bytes)");
  const bool ewald = opt_.method == DipolarOptions::Method::ewald;
  // A lattice repeated from a smaller cell needs only N·n_basis Ewald tensors, whatever the storage.
  const bool repeated = ewald && (use_fft || opt_.use_translations) && detect_repetition(s);
  if (use_fft && !repeated)
    throw InputError("dipolar: the FFT path needs magnetic sites that repeat a smaller cell along the cell "
                     "vectors, and these do not; use storage = \"pairs\" and raise pair_limit above " +
                     std::to_string(nm));
  fft_ = use_fft;
  table_.clear();
  what_.clear();
  pair_.clear();
  if (repeated) build_table(s);
  if (fft_) build_fft();
  else build_pairs(s);
  built_positions_ = s.position;
  built_cell_ = s.cell.h;
}

bool Dipolar::detect_repetition(const System& s) {
  // Fractional positions of the magnetic sites, hashed on a fine grid (neighbour cells of the
  // grid are searched as well, so rounding at a grid boundary does not lose a site).
  const int nm = static_cast<int>(atom_.size());
  constexpr double Q = 1 << 20;
  std::vector<Vec3> f(nm);
  std::unordered_map<long long, int> grid;
  auto key = [&](const Vec3& g, int d0, int d1, int d2) {
    long long k[3];
    const int dd[3] = {d0, d1, d2};
    for (int d = 0; d < 3; ++d) {
      long long v = static_cast<long long>(std::llround(g[d] * Q)) + dd[d];
      v %= static_cast<long long>(Q);
      if (v < 0) v += static_cast<long long>(Q);
      k[d] = v;
    }
    return (k[0] * static_cast<long long>(Q) + k[1]) * static_cast<long long>(Q) + k[2];
  };
  for (int i = 0; i < nm; ++i) {
    f[i] = s.cell.fractional(s.position[atom_[i]]);
    for (int d = 0; d < 3; ++d) f[i][d] -= std::floor(f[i][d]);
    grid[key(f[i], 0, 0, 0)] = i;
  }
  auto find = [&](const Vec3& g) {
    for (int d0 = -1; d0 <= 1; ++d0)
      for (int d1 = -1; d1 <= 1; ++d1)
        for (int d2 = -1; d2 <= 1; ++d2) {
          auto it = grid.find(key(g, d0, d1, d2));
          if (it != grid.end()) {
            Vec3 diff = f[it->second] - g;
            for (int d = 0; d < 3; ++d) diff[d] -= std::round(diff[d]);
            if (diff.norm() < 1e-6) return it->second;
          }
        }
    return -1;
  };
  // Largest L along each cell vector such that a shift by a_d/L maps the sites onto themselves.
  for (int d = 0; d < 3; ++d) {
    reps_[d] = 1;
    for (int L = nm; L >= 2; --L) {
      if (nm % L != 0) continue;
      bool ok = true;
      for (int i = 0; i < nm && ok; ++i) {
        Vec3 g = f[i];
        g[d] += 1.0 / L;
        ok = find(g) >= 0;
      }
      if (ok) { reps_[d] = L; break; }
    }
  }
  ncell_ = reps_[0] * reps_[1] * reps_[2];
  nb_ = nm / ncell_;
  // Each site → (basis b, cell c): c = floor(f·L), basis by its offset within the cell.
  basis_.assign(nm, -1);
  cellidx_.assign(nm, -1);
  std::vector<Vec3> offsets;
  atom_of_.assign(nb_, std::vector<int>(ncell_, -1));
  for (int i = 0; i < nm; ++i) {
    Vec3 u;
    int c[3];
    for (int d = 0; d < 3; ++d) {
      const double g = f[i][d] * reps_[d];
      const double fl = std::floor(g + 1e-6);
      u[d] = g - fl;
      c[d] = ((static_cast<int>(fl) % reps_[d]) + reps_[d]) % reps_[d];
    }
    int b = -1;
    for (std::size_t q = 0; q < offsets.size() && b < 0; ++q)
      if ((offsets[q] - u).norm() < 1e-5) b = static_cast<int>(q);
    if (b < 0) {
      if (static_cast<int>(offsets.size()) == nb_) return false;
      b = static_cast<int>(offsets.size());
      offsets.push_back(u);
    }
    const int cell = c[0] + reps_[0] * (c[1] + reps_[1] * c[2]);
    if (atom_of_[b][cell] >= 0) return false;
    atom_of_[b][cell] = i;
    basis_[i] = b;
    cellidx_[i] = cell;
  }
  return static_cast<int>(offsets.size()) == nb_;
}

namespace {
/// A symmetric 3×3 tensor in six numbers.
template <class S>
S pack(const Mat3& w) {
  return {w(0, 0), w(1, 1), w(2, 2), 0.5 * (w(0, 1) + w(1, 0)), 0.5 * (w(0, 2) + w(2, 0)), 0.5 * (w(1, 2) + w(2, 1))};
}
}  // namespace

void Dipolar::build_pairs(const System& s) {
  const std::size_t nm = atom_.size();
  pair_.assign(nm * (nm + 1) / 2, Sym{});
  if (!table_.empty()) {
    // From the translation table: W_ij = W(b_i, b_j, c_i − c_j).
    for (std::size_t i = 0; i < nm; ++i)
      for (std::size_t j = i; j < nm; ++j) pair_[packed(i, j, nm)] = table_[table_index(i, j)];
    return;
  }
  const bool ewald = opt_.method == DipolarOptions::Method::ewald;
  EwaldSetup e;
  if (ewald) {
    e = ewald_setup(s.cell, opt_);
    alpha_ = e.alpha;
    rc_ = e.rc;
    kc_ = 2.0 * e.alpha * ewald_x(opt_.accuracy);
  }
  // Each tensor is computed on its own: the result does not depend on the thread count.
#pragma omp parallel for schedule(dynamic, 4)
  for (long i = 0; i < static_cast<long>(nm); ++i)
    for (std::size_t j = i; j < nm; ++j) {
      const Vec3 r = s.position[atom_[i]] - s.position[atom_[j]];
      Mat3 w;
      if (ewald) w = ewald_tensor(wrap_displacement(s.cell, r), j == static_cast<std::size_t>(i), e);
      else w = j == static_cast<std::size_t>(i) ? Mat3::Zero() : direct_tensor(r);
      pair_[packed(i, j, nm)] = pack<Sym>(w);
    }
}

std::size_t Dipolar::table_index(std::size_t i, std::size_t j) const {
  const int ci = cellidx_[i], cj = cellidx_[j];
  const int d0 = (ci % reps_[0] - cj % reps_[0] + reps_[0]) % reps_[0];
  const int d1 = ((ci / reps_[0]) % reps_[1] - (cj / reps_[0]) % reps_[1] + reps_[1]) % reps_[1];
  const int d2 = (ci / (reps_[0] * reps_[1]) - cj / (reps_[0] * reps_[1]) + reps_[2]) % reps_[2];
  return (static_cast<std::size_t>(basis_[i]) * nb_ + basis_[j]) * ncell_ + d0 + reps_[0] * (d1 + reps_[1] * d2);
}

void Dipolar::build_table(const System& s) {
  const EwaldSetup e = ewald_setup(s.cell, opt_);
  alpha_ = e.alpha;
  rc_ = e.rc;
  kc_ = 2.0 * e.alpha * ewald_x(opt_.accuracy);
  const int nm = static_cast<int>(atom_.size());
  table_.assign(static_cast<std::size_t>(nb_) * nb_ * ncell_, Sym{});
  // W between a site of basis b in cell c and the site of basis b2 in cell 0.
#pragma omp parallel for schedule(dynamic, 4)
  for (long i = 0; i < nm; ++i)
    for (int b2 = 0; b2 < nb_; ++b2) {
      const int j = atom_of_[b2][0];
      const Vec3 r = s.position[atom_[i]] - s.position[atom_[j]];
      const Mat3 w = ewald_tensor(wrap_displacement(s.cell, r), i == j, e);
      table_[(static_cast<std::size_t>(basis_[i]) * nb_ + b2) * ncell_ + cellidx_[i]] = pack<Sym>(w);
    }
}

void Dipolar::build_fft() {
  // Transform every component over the cell offset: what_[c][(3b+α)][(3b2+β)].
  const int D = 3 * nb_;
  what_.assign(static_cast<std::size_t>(ncell_) * D * D, 0.0);
  const MixedFft f0(reps_[0]), f1(reps_[1]), f2(reps_[2]);
  const MixedFft* f[3] = {&f0, &f1, &f2};
#pragma omp parallel for schedule(dynamic, 1)
  for (long pair = 0; pair < static_cast<long>(nb_) * nb_; ++pair) {
    const int b = static_cast<int>(pair / nb_), b2 = static_cast<int>(pair % nb_);
    std::vector<Complex> a(ncell_);
    for (int al = 0; al < 3; ++al)
      for (int be = 0; be < 3; ++be) {
        for (int c = 0; c < ncell_; ++c) {
          const Sym& w = table_[(static_cast<std::size_t>(b) * nb_ + b2) * ncell_ + c];
          const double m[3][3] = {{w.xx, w.xy, w.xz}, {w.xy, w.yy, w.yz}, {w.xz, w.yz, w.zz}};
          a[c] = m[al][be];
        }
        fft3(a, reps_, f, false);
        for (int c = 0; c < ncell_; ++c)
          what_[(static_cast<std::size_t>(c) * D + 3 * b + al) * D + 3 * b2 + be] = a[c];
      }
  }
}

std::vector<Vec3> Dipolar::raw_fields(const System& s) const {
  const int nm = static_cast<int>(atom_.size());
  std::vector<Vec3> h(nm, Vec3::Zero());
  if (!fft_) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < nm; ++i) h[i] = field_at(s, static_cast<int>(i));
    return h;
  }
  // h = IFFT(Ŵ · FFT(m)) / N_cells, the circular convolution over cell offsets.
  const int D = 3 * nb_;
  const MixedFft f0(reps_[0]), f1(reps_[1]), f2(reps_[2]);
  const MixedFft* f[3] = {&f0, &f1, &f2};
  std::vector<std::vector<Complex>> m(D, std::vector<Complex>(ncell_, 0.0)), out(D, std::vector<Complex>(ncell_, 0.0));
  for (int i = 0; i < nm; ++i) {
    const Vec3 v = s.moment_vector(atom_[i]);
    for (int be = 0; be < 3; ++be) m[3 * basis_[i] + be][cellidx_[i]] = v[be];
  }
#pragma omp parallel for schedule(static)
  for (long r = 0; r < D; ++r) fft3(m[r], reps_, f, false);
#pragma omp parallel for schedule(static)
  for (long c = 0; c < ncell_; ++c) {
    const Complex* w = &what_[static_cast<std::size_t>(c) * D * D];
    for (int r = 0; r < D; ++r) {
      Complex sum = 0.0;
      for (int col = 0; col < D; ++col) sum += w[r * D + col] * m[col][c];
      out[r][c] = sum;
    }
  }
#pragma omp parallel for schedule(static)
  for (long r = 0; r < D; ++r) fft3(out[r], reps_, f, true);
  for (int i = 0; i < nm; ++i)
    for (int al = 0; al < 3; ++al) h[i][al] = out[3 * basis_[i] + al][cellidx_[i]].real() / ncell_;
  return h;
}

Vec3 Dipolar::field_at(const System& s, int i) const {
  const std::size_t nm = atom_.size();
  Vec3 h = Vec3::Zero();
  if (!fft_) {
    for (std::size_t j = 0; j < nm; ++j) h += apply(pair_[packed(i, j, nm)], s.moment_vector(atom_[j]));
    return h;
  }
  for (std::size_t j = 0; j < nm; ++j) h += apply(table_[table_index(i, j)], s.moment_vector(atom_[j]));
  return h;
}

void Dipolar::check_frozen(const System& s) const {
  if (built_positions_.empty()) throw std::logic_error("dipolar: compute() before bind()");
  bool moved = s.size() != built_positions_.size() || s.cell.h != built_cell_;
  for (std::size_t i = 0; i < s.size() && !moved; ++i)
    moved = wrap_displacement(s.cell, s.position[i] - built_positions_[i]).norm() > 1e-6;
  if (moved)
    throw InputError("dipolar: the atoms moved; the dipolar term precomputes its tensors for a frozen "
                     "lattice and supports mc, llg and minimize stages, not md, sld or hybrid (docs/dipolar.md)");
}

std::vector<Vec3> Dipolar::fields(const System& s) const {
  check_frozen(s);
  const std::vector<Vec3> h = raw_fields(s);
  std::vector<Vec3> out(s.size(), Vec3::Zero());
  for (std::size_t q = 0; q < atom_.size(); ++q) out[atom_[q]] = units::dipolar_eV * h[q];
  return out;
}

double Dipolar::compute(const System& s, const NeighborList&, Derivatives& d) const {
  const std::vector<Vec3> h = fields(s);
  double e = 0.0;
  for (int a : atom_) e -= 0.5 * s.moment_vector(a).dot(h[a]);
  if (d.magnetic_force)
    for (int a : atom_) (*d.magnetic_force)[a] += h[a];  // the full −∂E/∂m_i (E is written in m_i)
  return e;
}

void Dipolar::add_site_energies(const System& s, const NeighborList&, std::vector<double>& e) const {
  const std::vector<Vec3> h = fields(s);
  for (int a : atom_) e[a] -= 0.5 * s.moment_vector(a).dot(h[a]);
}

double Dipolar::local_energy_change(const System& s, const NeighborList&, int i, const Vec3& spin_new,
                                    double moment_new) const {
  const int q = site_[i];
  if (q < 0) return 0.0;
  const Vec3 dm = moment_new * spin_new - s.moment_vector(i);
  // E = −½ Σ m·W m: ΔE = −Δm·h_i − ½ Δm·W_ii Δm (W_ii: the moment's own periodic images).
  const Vec3 h = field_at(s, q);
  return -units::dipolar_eV * (dm.dot(h) + 0.5 * dm.dot(apply(self_block(q), dm)));
}

TermPtr make_dipolar(Params& p, const TermContext& ctx) {
  DipolarOptions o;
  const auto& per = ctx.system->cell.periodic;
  const bool open = !per[0] && !per[1] && !per[2];
  const std::string method = p.choice("method", {"ewald", "direct"}, open ? "direct" : "ewald");
  o.method = method == "ewald" ? DipolarOptions::Method::ewald : DipolarOptions::Method::direct;
  if (o.method == DipolarOptions::Method::ewald)
    p.require(per[0] && per[1] && per[2], "method",
              "\"ewald\" needs a cell periodic in all three directions (structure.periodic); an open box "
              "takes \"direct\" (partly periodic cells are not supported)");
  else
    p.require(open, "method", "\"direct\" sums the pairs of an open box (structure.periodic = false); a "
                              "periodic cell takes \"ewald\"");
  const bool ewald = o.method == DipolarOptions::Method::ewald;
  for (const char* key : {"boundary", "demagnetizing", "accuracy", "alpha"})
    if (!ewald && p.has(key)) p.fail(key, "applies to method = \"ewald\" only");
  if (ewald) {
    const bool has_demag = p.has("demagnetizing");
    const std::string boundary = p.choice("boundary", {"tinfoil", "vacuum"}, has_demag ? "vacuum" : "tinfoil");
    if (has_demag) {
      p.require(boundary == "vacuum", "demagnetizing",
                "a sample shape applies to boundary = \"vacuum\" (tinfoil has no surface term)");
      const std::vector<double> n = p.reals("demagnetizing");
      p.require(n.size() == 3 && n[0] >= 0 && n[1] >= 0 && n[2] >= 0 && std::abs(n[0] + n[1] + n[2] - 1.0) < 1e-6,
                "demagnetizing", "expected [Nxx, Nyy, Nzz], each >= 0, summing to 1 (sphere [1/3,1/3,1/3], slab [0,0,1])");
      o.demagnetizing = Vec3(n[0], n[1], n[2]);
    } else if (boundary == "vacuum") {
      o.demagnetizing = Vec3::Constant(1.0 / 3.0);
    }
    o.accuracy = p.real("accuracy", 1e-10);
    p.require(o.accuracy > 0.0 && o.accuracy < 1e-2, "accuracy", "expected a relative accuracy in (0, 0.01)");
    o.alpha = p.real("alpha", 0.0);
    p.require(o.alpha >= 0.0 && std::isfinite(o.alpha), "alpha", "expected a splitting parameter > 0 (1/Å), or 0 = automatic");
  }
  const std::string storage = p.choice("storage", {"auto", "pairs", "fft"}, "auto");
  if (!ewald) p.require(storage != "fft", "storage", "\"fft\" needs a periodic cell (method = \"ewald\")");
  o.storage = storage == "pairs" ? DipolarOptions::Storage::pairs
              : storage == "fft" ? DipolarOptions::Storage::fft : DipolarOptions::Storage::automatic;
  const long long limit = p.integer("pair_limit", 2000);
  p.require(limit >= 1 && limit <= 100000, "pair_limit", "expected 1..100000 magnetic sites");
  o.pair_limit = static_cast<int>(limit);
  return std::make_unique<Dipolar>(o);
}

}  // namespace spinlat
