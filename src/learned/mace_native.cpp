// Plain C++ evaluation of converted magnetic MACE models (mace_native.hpp). The blocks follow
// the TorchScript source of upstream's MagneticScaleShiftMACE (ACEsuit/mace PR 1244,
// mace/modules/extensions.py and blocks.py; e3nn 0.5.1 Linear, TensorProduct,
// FullyConnectedNet, SphericalHarmonics); docs/learned-potential.md writes them down.
#include "spinlat/learned/mace_native.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <omp.h>
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>
#endif

#include "spinlat/core/error.hpp"
#include "spinlat/core/threads.hpp"

namespace spinlat {

const char* const kMaceNativeMagic = "SPINLAT-MACE-NATIVE 1";

// ---- the archive ----------------------------------------------------------------------------

const MaceArchive::Array& MaceArchive::at(const std::string& name) const {
  const auto it = array.find(name);
  if (it == array.end()) throw InputError(source + ": converted MACE file lacks the entry '" + name + "'");
  return it->second;
}

double MaceArchive::scalar(const std::string& name) const {
  const Array& a = at(name);
  if (a.value.size() != 1) throw InputError(source + ": entry '" + name + "' should hold one number");
  return a.value[0];
}

const std::string& MaceArchive::str(const std::string& name) const {
  const auto it = text.find(name);
  if (it == text.end()) throw InputError(source + ": converted MACE file lacks the string '" + name + "'");
  return it->second;
}

bool is_mace_native_file(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  return in && std::getline(in, line) && line == kMaceNativeMagic;
}

MaceArchive read_mace_archive(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the converted MACE file");
  MaceArchive a;
  a.source = path;
  std::string line;
  if (!std::getline(in, line) || line != kMaceNativeMagic)
    throw InputError(path + ": line 1: expected '" + std::string(kMaceNativeMagic) + "' (a file of `spinlat convert`)");
  long lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    std::istringstream ls(line);
    std::string kind, name;
    ls >> kind >> name;
    if (kind == "S") {
      std::string rest;
      std::getline(ls, rest);
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      a.text[name] = rest;
    } else if (kind == "A") {
      long ndim = -1;
      ls >> ndim;
      MaceArchive::Array arr;
      std::size_t n = 1;
      for (long d = 0; d < ndim; ++d) {
        long x = -1;
        ls >> x;
        if (!ls || x < 0) break;
        arr.shape.push_back(x);
        n *= static_cast<std::size_t>(x);
      }
      if (!ls || ndim < 0 || static_cast<long>(arr.shape.size()) != ndim)
        throw InputError(path + ": line " + std::to_string(lineno) + ": malformed array header for '" + name + "'");
      arr.value.resize(n);
      if (n > 0) {
        ++lineno;
        if (!std::getline(in, line))
          throw InputError(path + ": line " + std::to_string(lineno) + ": missing values of '" + name + "'");
        const char* p = line.c_str();
        for (std::size_t k = 0; k < n; ++k) {
          char* end = nullptr;
          arr.value[k] = std::strtod(p, &end);
          if (end == p || !std::isfinite(arr.value[k]))
            throw InputError(path + ": line " + std::to_string(lineno) + ": expected " + std::to_string(n) +
                             " finite numbers for '" + name + "'");
          p = end;
        }
      }
      a.array[name] = std::move(arr);
    } else {
      throw InputError(path + ": line " + std::to_string(lineno) + ": expected a record 'A name ...' or 'S name ...'");
    }
  }
  return a;
}

void write_mace_archive(const MaceArchive& a, const std::string& path) {
  std::ofstream out(path);
  if (!out) throw InputError(path + ": cannot write");
  out << kMaceNativeMagic << "\n";
  for (const auto& [name, s] : a.text) out << "S " << name << " " << s << "\n";
  char buf[32];
  for (const auto& [name, arr] : a.array) {
    out << "A " << name << " " << arr.shape.size();
    for (long d : arr.shape) out << " " << d;
    out << "\n";
    if (arr.value.empty()) continue;
    for (std::size_t k = 0; k < arr.value.size(); ++k) {
      std::snprintf(buf, sizeof buf, "%.17g", arr.value[k]);
      out << (k ? " " : "") << buf;
    }
    out << "\n";
  }
  if (!out) throw InputError(path + ": write failed");
}

// ---- e3nn building blocks ---------------------------------------------------------------------

namespace {

// ---- runtime-dispatched kernels ---------------------------------------------------------------
// The default build targets generic x86-64 (SSE2), so the hot kernels (tensor products, e3nn
// Linear blocks, the radial networks' GEMMs) are also compiled for AVX2 + FMA and chosen once
// per evaluator, at construction, when the CPU has them (MaceModel::set_simd): the same kernels
// for every thread, so results stay the same bits for any thread count. The two paths differ
// only in rounding (an FMA rounds once where a*b + c rounds twice): they agree to ~1e-15
// relative (the tests).
// SPINLAT_PORTABLE_KERNELS=1 in the environment, or set_portable_kernels(true), forces the
// portable path (docs/learned-potential.md).
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define SPL_DISPATCH 1
#define SPL_AVX2 __attribute__((target("avx2,fma")))
#else
#define SPL_DISPATCH 0
#define SPL_AVX2
#endif
#define SPL_INLINE inline __attribute__((always_inline))

bool cpu_has_avx2_fma() {
#if SPL_DISPATCH
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

// c + a·b: two roundings on the portable path (bit for bit the plain expression), one (an FMA
// instruction, inlined into the AVX2 kernels) on the dispatched one.
template <bool F>
SPL_INLINE double madd(double a, double b, double c) {
  if constexpr (F) return __builtin_fma(a, b, c);
  else return c + a * b;
}

// C (rows × n) = A (rows × k) · B (k × n), row-major and contiguous: 4 rows × 8 columns of C in
// registers, the sum over k in order (each element's rounding depends on neither the block nor
// the thread). Only on the dispatched path (the portable one uses Eigen's GEMM, as before).
template <int R, int W>
SPL_AVX2 SPL_INLINE void gemm_tile(int k, int n, const double* A, const double* B, double* C) {
#if SPL_DISPATCH
  __m256d acc[R][W / 4];
  for (int r = 0; r < R; ++r)
    for (int w = 0; w < W / 4; ++w) acc[r][w] = _mm256_setzero_pd();
  for (int q = 0; q < k; ++q) {
    __m256d b[W / 4];
    for (int w = 0; w < W / 4; ++w) b[w] = _mm256_loadu_pd(B + static_cast<std::size_t>(q) * n + 4 * w);
    for (int r = 0; r < R; ++r) {
      const __m256d a = _mm256_broadcast_sd(A + static_cast<std::size_t>(r) * k + q);
      for (int w = 0; w < W / 4; ++w) acc[r][w] = _mm256_fmadd_pd(a, b[w], acc[r][w]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int w = 0; w < W / 4; ++w) _mm256_storeu_pd(C + static_cast<std::size_t>(r) * n + 4 * w, acc[r][w]);
#endif
}
template <int R>
SPL_AVX2 SPL_INLINE void gemm_rows(int k, int n, const double* A, const double* B, double* C) {
  int j = 0;
  for (; j + 8 <= n; j += 8) gemm_tile<R, 8>(k, n, A, B + j, C + j);
  for (; j + 4 <= n; j += 4) gemm_tile<R, 4>(k, n, A, B + j, C + j);
  for (; j < n; ++j)
    for (int r = 0; r < R; ++r) {
      double acc = 0.0;
      for (int q = 0; q < k; ++q)
        acc = madd<true>(A[static_cast<std::size_t>(r) * k + q], B[static_cast<std::size_t>(q) * n + j], acc);
      C[static_cast<std::size_t>(r) * n + j] = acc;
    }
}
SPL_AVX2 void gemm_avx2(long rows, int k, int n, const double* A, const double* B, double* C) {
  long i = 0;
  for (; i + 4 <= rows; i += 4) gemm_rows<4>(k, n, A + i * k, B, C + i * n);
  for (; i < rows; ++i) gemm_rows<1>(k, n, A + i * k, B, C + i * n);
}

[[noreturn]] void unsupported(const MaceArchive& a, const std::string& what) {
  throw InputError(a.source + ": unsupported model piece: " + what +
                   " (spinlat converts MagneticScaleShiftMACE with spin-orbit-coupled blocks; "
                   "docs/learned-potential.md)");
}

// Irreps "mul x l p", in e3nn's mul_ir layout: block b holds mul[b] copies of 2l+1 components.
struct Irreps {
  std::vector<int> mul, l, off;
  int dim = 0;
  int size() const { return static_cast<int>(mul.size()); }
  int d(int b) const { return 2 * l[b] + 1; }
};

Irreps irreps_of(const MaceArchive& a, const std::string& name) {
  const MaceArchive::Array& x = a.at(name);
  if (x.shape.size() != 2 || x.shape[1] != 3) throw InputError(a.source + ": '" + name + "' should be [n, 3]");
  Irreps r;
  for (long b = 0; b < x.shape[0]; ++b) {
    r.mul.push_back(static_cast<int>(x.value[3 * b]));
    r.l.push_back(static_cast<int>(x.value[3 * b + 1]));
    r.off.push_back(r.dim);
    r.dim += r.mul.back() * (2 * r.l.back() + 1);
  }
  return r;
}

// The channel-innermost layout (e3nn's "ir_mul"): block b's component i of channel u at
// off[b] + i·mul[b] + u instead of off[b] + u·(2l+1) + i (mul_ir, the layout everywhere else).
// The AVX2 tensor-product kernels run on it: 4 channels per register, 2 registers for MACE's
// 8 channels, so their lanes no longer depend on the 1-7 long loops over components.
void to_chan(const Irreps& r, const double* x, double* xt) {
  for (int b = 0; b < r.size(); ++b) {
    const int mul = r.mul[b], d = r.d(b), off = r.off[b];
    for (int u = 0; u < mul; ++u)
      for (int i = 0; i < d; ++i) xt[off + i * mul + u] = x[off + u * d + i];
  }
}
// x = xt (add: x += xt) back in the mul_ir layout.
void from_chan(const Irreps& r, const double* xt, double* x, bool add) {
  for (int b = 0; b < r.size(); ++b) {
    const int mul = r.mul[b], d = r.d(b), off = r.off[b];
    for (int u = 0; u < mul; ++u)
      for (int i = 0; i < d; ++i) {
        const double v = xt[off + i * mul + u];
        x[off + u * d + i] = add ? x[off + u * d + i] + v : v;
      }
  }
}

// Real Wigner 3j symbols in e3nn's basis, sparse. Those with an l = 0 are δ/√(2l+1); the rest
// come from the file (the converter copies e3nn's own `_w3j_l1_l2_l3` buffers).
struct CG {
  std::vector<std::array<int, 3>> ijk;
  std::vector<double> c;
  std::vector<int> j, ik;  // per entry: j, and i·d3 + k (the reverse pass's contraction)
  int d2 = 0;              // 2 l2 + 1
  // the entries grouped by j (entries jb[j] .. jb[j+1]): for each, i, k and the coefficient
  std::vector<int> jb, ji, jk;
  std::vector<double> jc;
};

struct CGTable {
  std::map<std::array<int, 3>, CG> cg;
  const CG& get(const MaceArchive& a, int l1, int l2, int l3) {
    const std::array<int, 3> key{l1, l2, l3};
    auto it = cg.find(key);
    if (it != cg.end()) return it->second;
    CG g;
    const int d1 = 2 * l1 + 1, d2 = 2 * l2 + 1, d3 = 2 * l3 + 1;
    if (l1 == 0 || l2 == 0 || l3 == 0) {
      const int l = std::max({l1, l2, l3});
      if ((l1 == 0 && l2 != l3) || (l2 == 0 && l1 != l3) || (l3 == 0 && l1 != l2))
        unsupported(a, "a tensor-product path violating the triangle rule");
      const double v = 1.0 / std::sqrt(2.0 * l + 1.0);
      for (int m = 0; m < 2 * l + 1; ++m) {
        g.ijk.push_back({l1 == 0 ? 0 : m, l2 == 0 ? 0 : m, l3 == 0 ? 0 : m});
        g.c.push_back(v);
      }
    } else {
      const std::string name = "w3j." + std::to_string(l1) + "." + std::to_string(l2) + "." + std::to_string(l3);
      if (!a.has(name)) unsupported(a, "Wigner 3j symbol (" + name + ") not found in the file");
      const MaceArchive::Array& w = a.at(name);
      if (static_cast<int>(w.value.size()) != d1 * d2 * d3) throw InputError(a.source + ": '" + name + "' has the wrong size");
      for (int i = 0; i < d1; ++i)
        for (int j = 0; j < d2; ++j)
          for (int k = 0; k < d3; ++k) {
            const double v = w.value[(i * d2 + j) * d3 + k];
            if (v != 0.0) {
              g.ijk.push_back({i, j, k});
              g.c.push_back(v);
            }
          }
    }
    g.d2 = d2;
    g.jb.assign(1, 0);
    for (int j = 0; j < d2; ++j) {
      for (std::size_t q = 0; q < g.c.size(); ++q)
        if (g.ijk[q][1] == j) {
          g.ji.push_back(g.ijk[q][0]);
          g.jk.push_back(g.ijk[q][2]);
          g.jc.push_back(g.c[q]);
        }
      g.jb.push_back(static_cast<int>(g.jc.size()));
    }
    for (const auto& t : g.ijk) {
      g.j.push_back(t[1]);
      g.ik.push_back(t[0] * d3 + t[2]);
    }
    return cg.emplace(key, std::move(g)).first->second;
  }
};

// e3nn o3.Linear: out[i_out](w, m) += path_weight Σ_u W(u, w) x[i_in](u, m). No biases.
struct Linear {
  Irreps in, out;
  struct Ins {
    int i, o, woff;
  };
  std::vector<Ins> ins;
  std::vector<double> w;  // path weight folded in
  void load(const MaceArchive& a, const std::string& p) {
    in = irreps_of(a, p + ".@irreps_in");
    out = irreps_of(a, p + ".@irreps_out");
    const MaceArchive::Array& I = a.at(p + ".@instructions");  // rows: i_in, i_out, path_weight
    const MaceArchive::Array& W = a.at(p + ".weight");
    if (a.has(p + ".bias") && !a.at(p + ".bias").value.empty()) unsupported(a, p + ": e3nn Linear with biases");
    w = W.value;
    int off = 0;
    for (long r = 0; r < I.shape[0]; ++r) {
      Ins s{static_cast<int>(I.value[3 * r]), static_cast<int>(I.value[3 * r + 1]), off};
      const double pw = I.value[3 * r + 2];
      if (in.l[s.i] != out.l[s.o]) throw InputError(a.source + ": " + p + ": instruction joins different l");
      const int n = in.mul[s.i] * out.mul[s.o];
      if (off + n > static_cast<int>(w.size())) throw InputError(a.source + ": " + p + ": too few weights");
      for (int k = 0; k < n; ++k) w[off + k] *= pw;
      off += n;
      ins.push_back(s);
    }
    if (off != static_cast<int>(w.size())) throw InputError(a.source + ": " + p + ": weight count differs from the instructions");
    transpose();
  }
  // Kernels with the component count D known to the compiler (the loops over m unroll); the
  // sums run over u (forward) or v (backward) in order, as in the plain loops.
  template <int D, bool F>
  static SPL_INLINE void forward_block_t(int mi, int mo, const double* W, const double* xb, double* yb) {
    for (int u = 0; u < mi; ++u) {
      const double* xu = xb + u * D;
      const double* Wu = W + u * mo;
      for (int v = 0; v < mo; ++v) {
        const double c = Wu[v];
        for (int m = 0; m < D; ++m) yb[v * D + m] = madd<F>(c, xu[m], yb[v * D + m]);
      }
    }
  }
  // gx(u, m) += Σ_v W(u, v) gy(v, m) with the transposed weights (rows v, contiguous in u).
  template <int D, bool F>
  static SPL_INLINE void backward_block_t(int mi, int mo, const double* Wt, const double* gy, double* gb) {
    for (int v = 0; v < mo; ++v) {
      const double* Wv = Wt + v * mi;
      const double* gv = gy + v * D;
      for (int u = 0; u < mi; ++u) {
        const double c = Wv[u];
        for (int m = 0; m < D; ++m) gb[u * D + m] = madd<F>(c, gv[m], gb[u * D + m]);
      }
    }
  }
  template <int D>
  static void forward_block(int mi, int mo, const double* W, const double* xb, double* yb) {
    forward_block_t<D, false>(mi, mo, W, xb, yb);
  }
  template <int D>
  static SPL_AVX2 void forward_block_avx2(int mi, int mo, const double* W, const double* xb, double* yb) {
    forward_block_t<D, true>(mi, mo, W, xb, yb);
  }
  template <int D>
  static void backward_block(int mi, int mo, const double* Wt, const double* gy, double* gb) {
    backward_block_t<D, false>(mi, mo, Wt, gy, gb);
  }
  template <int D>
  static SPL_AVX2 void backward_block_avx2(int mi, int mo, const double* Wt, const double* gy, double* gb) {
    backward_block_t<D, true>(mi, mo, Wt, gy, gb);
  }
  bool simd = false;  // the AVX2 + FMA kernels (the evaluator's choice)
  template <int D>
  void fwd(int mi, int mo, const double* W, const double* xb, double* yb) const {
    if (simd) forward_block_avx2<D>(mi, mo, W, xb, yb);
    else forward_block<D>(mi, mo, W, xb, yb);
  }
  template <int D>
  void bwd(int mi, int mo, const double* Wt, const double* gy, double* gb) const {
    if (simd) backward_block_avx2<D>(mi, mo, Wt, gy, gb);
    else backward_block<D>(mi, mo, Wt, gy, gb);
  }
  std::vector<double> wt;  // per instruction, the weights transposed: [mo, mi]
  void transpose() {
    wt.assign(w.size(), 0.0);
    for (const Ins& s : ins) {
      const int mi = in.mul[s.i], mo = out.mul[s.o];
      for (int u = 0; u < mi; ++u)
        for (int v = 0; v < mo; ++v) wt[s.woff + v * mi + u] = w[s.woff + u * mo + v];
    }
  }
  void apply(const double* x, double* y) const {
    std::fill(y, y + out.dim, 0.0);
    for (const Ins& s : ins) {
      const int mi = in.mul[s.i], mo = out.mul[s.o], d = in.d(s.i);
      const double* xb = x + in.off[s.i];
      double* yb = y + out.off[s.o];
      const double* W = w.data() + s.woff;
      switch (d) {
        case 1: fwd<1>(mi, mo, W, xb, yb); continue;
        case 3: fwd<3>(mi, mo, W, xb, yb); continue;
        case 5: fwd<5>(mi, mo, W, xb, yb); continue;
        case 7: fwd<7>(mi, mo, W, xb, yb); continue;
        default: break;
      }
      for (int u = 0; u < mi; ++u)
        for (int v = 0; v < mo; ++v) {
          const double c = W[u * mo + v];
          for (int m = 0; m < d; ++m) yb[v * d + m] += c * xb[u * d + m];
        }
    }
  }
  // gx += Wᵀ gy
  void backward(const double* gy, double* gx) const {
    for (const Ins& s : ins) {
      const int mi = in.mul[s.i], mo = out.mul[s.o], d = in.d(s.i);
      double* gb = gx + in.off[s.i];
      const double* yb = gy + out.off[s.o];
      const double* Wt = wt.data() + s.woff;
      switch (d) {
        case 1: bwd<1>(mi, mo, Wt, yb, gb); continue;
        case 3: bwd<3>(mi, mo, Wt, yb, gb); continue;
        case 5: bwd<5>(mi, mo, Wt, yb, gb); continue;
        case 7: bwd<7>(mi, mo, Wt, yb, gb); continue;
        default: break;
      }
      for (int v = 0; v < mo; ++v)
        for (int u = 0; u < mi; ++u) {
          const double c = Wt[v * mi + u];
          for (int m = 0; m < d; ++m) gb[u * d + m] += c * yb[v * d + m];
        }
    }
  }
};

// e3nn o3.TensorProduct with "uvu" and "uvw" instructions:
//   uvu: out(u, k) += pw Σ_v w(u, v) Σ_ij C_ijk x1(u, i) x2(v, j)
//   uvw: out(w, k) += pw Σ_uv w(u, v, w) Σ_ij C_ijk x1(u, i) x2(v, j)
struct TensorProduct {
  Irreps in1, in2, out;
  // Dense kernel of a uvu path: y(u, k) += pw w(u, v) Σ_i x1(u, i) Mb(i, k), sizes fixed.
  using Kernel = void (*)(int m1, int m2, int v, const double* a, const double* Mb, const double* W, double pw,
                          double* yb);
  using ChanKernel = void (*)(int m1, const double* at, const double* Mb, const double* W, double pw, double* yt);
  using ChanBack = void (*)(int m1, const double* at, const double* Mb, const double* W, double pw, const double* gyt,
                            double* g1t, double* gw, const CG* cg, double* g2v);
  struct Ins {
    int i1, i2, o, mode, woff;
    double pw;
    const CG* cg;
    int mboff = 0;
    Kernel kernel = nullptr;
    void (*back)(int, int, int, const double*, const double*, const double*, double, const double*, double*, double*,
                 double*) = nullptr;
    ChanKernel cfwd = nullptr;  // the channel-layout kernels (chan)
    ChanBack cback = nullptr;
  };
  std::vector<Ins> ins;
  int weight_numel = 0;
  int mb_size = 0;  // Σ over paths of mul2·d1·d3: the CG tensors contracted with x2
  std::vector<double> internal;  // internal weights (empty: given per call)
  void load(const MaceArchive& a, const std::string& p, CGTable& cgs) {
    in1 = irreps_of(a, p + ".@irreps_in1");
    in2 = irreps_of(a, p + ".@irreps_in2");
    out = irreps_of(a, p + ".@irreps_out");
    // rows: i1, i2, i_out, mode (0 uvw, 1 uvu), has_weight, path_weight
    const MaceArchive::Array& I = a.at(p + ".@instructions");
    int off = 0;
    for (long r = 0; r < I.shape[0]; ++r) {
      const double* row = I.value.data() + 6 * r;
      Ins s{static_cast<int>(row[0]), static_cast<int>(row[1]), static_cast<int>(row[2]), static_cast<int>(row[3]), off,
            row[5], nullptr};
      if (row[4] != 1.0) unsupported(a, p + ": tensor-product path without weights");
      if (s.mode != 0 && s.mode != 1) unsupported(a, p + ": tensor-product connection mode other than uvw/uvu");
      s.cg = &cgs.get(a, in1.l[s.i1], in2.l[s.i2], out.l[s.o]);
      off += s.mode == 1 ? in1.mul[s.i1] * in2.mul[s.i2] : in1.mul[s.i1] * in2.mul[s.i2] * out.mul[s.o];
      if (s.mode == 1 && out.mul[s.o] != in1.mul[s.i1]) throw InputError(a.source + ": " + p + ": uvu path changes multiplicity");
      s.mboff = mb_size;
      mb_size += in2.mul[s.i2] * in1.d(s.i1) * out.d(s.o);
      ins.push_back(s);
    }
    weight_numel = off;
    pick(false);
    if (a.has(p + ".weight") && !a.at(p + ".weight").value.empty()) {
      internal = a.at(p + ".weight").value;
      if (static_cast<int>(internal.size()) != off) throw InputError(a.source + ": " + p + ": weight count differs");
    }
  }
  template <int D1, int D3, bool F>
  static SPL_INLINE void kernel_uvu_t(int m1, int m2, int v, const double* a, const double* Mb, const double* W,
                                      double pw, double* yb) {
    for (int u = 0; u < m1; ++u) {
      double t[D3] = {};
      for (int i = 0; i < D1; ++i) {
        const double x = a[u * D1 + i];
        for (int k = 0; k < D3; ++k) t[k] = madd<F>(x, Mb[i * D3 + k], t[k]);
      }
      const double c = pw * W[u * m2 + v];
      for (int k = 0; k < D3; ++k) yb[u * D3 + k] = madd<F>(c, t[k], yb[u * D3 + k]);
    }
  }
  template <int D1, int D3>
  static void kernel_uvu(int m1, int m2, int v, const double* a, const double* Mb, const double* W, double pw,
                         double* yb) {
    kernel_uvu_t<D1, D3, false>(m1, m2, v, a, Mb, W, pw, yb);
  }
  template <int D1, int D3>
  static SPL_AVX2 void kernel_uvu_avx2(int m1, int m2, int v, const double* a, const double* Mb, const double* W,
                                       double pw, double* yb) {
    kernel_uvu_t<D1, D3, true>(m1, m2, v, a, Mb, W, pw, yb);
  }
  // The kernels of every uvu path, portable or AVX2 + FMA (simd); on the AVX2 + FMA path, the
  // channel-layout ones (chan) when every path is uvu with a multiple of 8 channels and x2 of
  // multiplicity 1 (MACE's edge tensor products: Y(r̂) and the moment harmonics).
  bool chan = false;
  void pick(bool simd) {
    chan = simd && SPL_DISPATCH;
    for (Ins& s : ins) {
      s.cfwd = nullptr;
      s.cback = nullptr;
      if (s.mode == 1) {
        s.kernel = pick_kernel(in1.d(s.i1), out.d(s.o), simd);
        s.back = pick_back(in1.d(s.i1), out.d(s.o), simd);
        pick_chan(in1.d(s.i1), out.d(s.o), s.cfwd, s.cback);
      }
      if (!s.cfwd || in1.mul[s.i1] % 8 != 0 || in2.mul[s.i2] != 1 || in2.d(s.i2) > 7) chan = false;
    }
  }
#if SPL_DISPATCH
  // ---- channel layout (to_chan), AVX2 + FMA: 4 channels u per register ----
  // Forward of one uvu path (x2 of multiplicity 1) on 8 channels at a time, 2 registers sharing
  // the broadcasts of Mb: T(k) = Σ_i x1(i) Mb(i, k), y(k) += pw w(u) T(k): the operations, and
  // their order per element, of kernel_uvu_t<D1, D3, true> (the same bits).
  static constexpr int NG = 2;  // registers per step
  template <int D1, int D3>
  static SPL_AVX2 void chan_fwd(int m1, const double* at, const double* Mb, const double* W, double pw, double* yt) {
    for (int g0 = 0; g0 < m1; g0 += 4 * NG) {
      __m256d A[D1][NG], c[NG];
      for (int b = 0; b < NG; ++b) {
        for (int i = 0; i < D1; ++i) A[i][b] = _mm256_loadu_pd(at + i * m1 + g0 + 4 * b);
        c[b] = _mm256_mul_pd(_mm256_set1_pd(pw), _mm256_loadu_pd(W + g0 + 4 * b));
      }
      for (int k = 0; k < D3; ++k) {
        __m256d t[NG];
        const __m256d m0 = _mm256_set1_pd(Mb[k]);
        for (int b = 0; b < NG; ++b) t[b] = _mm256_mul_pd(A[0][b], m0);
        for (int i = 1; i < D1; ++i) {
          const __m256d mi = _mm256_set1_pd(Mb[i * D3 + k]);
          for (int b = 0; b < NG; ++b) t[b] = _mm256_fmadd_pd(A[i][b], mi, t[b]);
        }
        for (int b = 0; b < NG; ++b) {
          double* y = yt + k * m1 + g0 + 4 * b;
          _mm256_storeu_pd(y, _mm256_fmadd_pd(c[b], t[b], _mm256_loadu_pd(y)));
        }
      }
    }
  }
  // Reverse of one uvu path, 8 channels at a time (backward_uvu_t's operations per channel: the
  // same bits for g1 and gw): R(i) = Σ_k Mb(i, k) gy(k); gw(u) += pw Σ_i x1(i) R(i); g1(i) +=
  // pw w(u) R(i); and ∂/∂x2 straight through the sparse CG tensor, per channel, summed over the
  // channels at the end: g2(j) += Σ_u Σ_q C_q (pw w x1(i_q)) gy(k_q) (d2 accumulators instead
  // of the d1·d3 matrix G, whose sum over u would cross the lanes), the entries grouped by j so
  // that each sum stays in registers; g2v holds 4 lanes per j, summed by backward_chan once all
  // paths are in.
  template <int D1, int D3>
  static SPL_AVX2 void chan_back(int m1, const double* at, const double* Mb, const double* W, double pw,
                                 const double* gyt, double* g1t, double* gw, const CG* cg, double* g2v) {
    for (int g0 = 0; g0 < m1; g0 += 4 * NG) {
      __m256d CA[D1][NG], GY[D3][NG], R[D1][NG], c[NG];
      for (int b = 0; b < NG; ++b) {
        for (int k = 0; k < D3; ++k) GY[k][b] = _mm256_loadu_pd(gyt + k * m1 + g0 + 4 * b);
        c[b] = _mm256_mul_pd(_mm256_set1_pd(pw), _mm256_loadu_pd(W + g0 + 4 * b));
      }
      for (int i = 0; i < D1; ++i) {
        const __m256d m0 = _mm256_set1_pd(Mb[i * D3]);
        for (int b = 0; b < NG; ++b) R[i][b] = _mm256_mul_pd(m0, GY[0][b]);
        for (int k = 1; k < D3; ++k) {
          const __m256d mk = _mm256_set1_pd(Mb[i * D3 + k]);
          for (int b = 0; b < NG; ++b) R[i][b] = _mm256_fmadd_pd(mk, GY[k][b], R[i][b]);
        }
      }
      for (int b = 0; b < NG; ++b) {
        const int g = g0 + 4 * b;
        __m256d A[D1];
        for (int i = 0; i < D1; ++i) A[i] = _mm256_loadu_pd(at + i * m1 + g);
        if (gw) {
          __m256d s = _mm256_mul_pd(A[0], R[0][b]);
          for (int i = 1; i < D1; ++i) s = _mm256_fmadd_pd(A[i], R[i][b], s);
          _mm256_storeu_pd(gw + g, _mm256_fmadd_pd(_mm256_set1_pd(pw), s, _mm256_loadu_pd(gw + g)));
        }
        if (g1t)
          for (int i = 0; i < D1; ++i) {
            double* x = g1t + i * m1 + g;
            _mm256_storeu_pd(x, _mm256_fmadd_pd(c[b], R[i][b], _mm256_loadu_pd(x)));
          }
        for (int i = 0; i < D1; ++i) CA[i][b] = _mm256_mul_pd(c[b], A[i]);
      }
      if (!cg) continue;
      // per j, one register chain per channel group, summed into g2v's lanes
      const int *jb = cg->jb.data(), *ji = cg->ji.data(), *jk = cg->jk.data();
      const double* jc = cg->jc.data();
      for (int j = 0, d2 = cg->d2; j < d2; ++j) {
        __m256d acc[NG];
        for (int b = 0; b < NG; ++b) acc[b] = _mm256_setzero_pd();
        for (int q = jb[j], q1 = jb[j + 1]; q < q1; ++q) {
          const __m256d cq = _mm256_set1_pd(jc[q]);
          const int i = ji[q], k = jk[q];
          for (int b = 0; b < NG; ++b) acc[b] = _mm256_fmadd_pd(cq, _mm256_mul_pd(CA[i][b], GY[k][b]), acc[b]);
        }
        __m256d sum = _mm256_loadu_pd(g2v + 4 * j);
        for (int b = 0; b < NG; ++b) sum = _mm256_add_pd(sum, acc[b]);
        _mm256_storeu_pd(g2v + 4 * j, sum);
      }
    }
  }
#endif
  static void pick_chan(int d1, int d3, ChanKernel& f, ChanBack& b) {
#if SPL_DISPATCH
#define SPL_K(A, B)         \
  if (d1 == A && d3 == B) { \
    f = &chan_fwd<A, B>;    \
    b = &chan_back<A, B>;   \
    return;                 \
  }
#define SPL_K4(A) SPL_K(A, 1) SPL_K(A, 3) SPL_K(A, 5) SPL_K(A, 7)
    SPL_K4(1) SPL_K4(3) SPL_K4(5) SPL_K4(7)
#undef SPL_K4
#undef SPL_K
#endif
    f = nullptr;
    b = nullptr;
    (void)d1;
    (void)d3;
  }
  // y = x1 ⊗ x2 on the channel layout (x1t, yt; x2 through its prepared tensors mb): chan only.
  // add: yt += x1 ⊗ x2 (a message summed straight into its receiver's sum).
  void apply_chan(const double* x1t, const double* mb, const double* w, double* yt, bool add = false) const {
    if (!w) w = internal.data();
    if (!add) std::fill(yt, yt + out.dim, 0.0);
    for (const Ins& s : ins)
      s.cfwd(in1.mul[s.i1], x1t + in1.off[s.i1], mb + s.mboff, w + s.woff, s.pw, yt + out.off[s.o]);
  }
  // mb, or when null x2's prepared tensors (in a buffer of this thread's).
  const double* prepared(const double* x2, const double* mb) const {
    if (mb) return mb;
    thread_local std::vector<double> own;
    own.resize(mb_size);
    prepare(x2, own.data());
    return own.data();
  }
  // backward() on the channel layout (x1t, gyt, g1t; g2 and gw in their own layouts): chan only.
  void backward_chan(const double* x1t, const double* x2, const double* w, const double* gyt, double* g1t, double* g2,
                     double* gw, const double* mb = nullptr) const {
    const bool internal_w = !w;
    if (!w) w = internal.data();
    mb = prepared(x2, mb);
    thread_local std::vector<double> acc;  // ∂/∂x2 per lane (4 per entry of x2), summed at the end
    if (g2) acc.assign(4 * static_cast<std::size_t>(in2.dim), 0.0);
    for (const Ins& s : ins)
      s.cback(in1.mul[s.i1], x1t + in1.off[s.i1], mb + s.mboff, w + s.woff, s.pw, gyt + out.off[s.o],
              g1t ? g1t + in1.off[s.i1] : nullptr, gw && !internal_w ? gw + s.woff : nullptr, g2 ? s.cg : nullptr,
              g2 ? acc.data() + 4 * in2.off[s.i2] : nullptr);
    if (g2)
      for (int j = 0; j < in2.dim; ++j) {
        const double* a = acc.data() + 4 * j;
        g2[j] += (a[0] + a[1]) + (a[2] + a[3]);
      }
  }
  static Kernel pick_kernel(int d1, int d3, bool simd) {
#define SPL_K(A, B) \
  if (d1 == A && d3 == B) return simd ? &kernel_uvu_avx2<A, B> : &kernel_uvu<A, B>;
#define SPL_K4(A) SPL_K(A, 1) SPL_K(A, 3) SPL_K(A, 5) SPL_K(A, 7)
    SPL_K4(1) SPL_K4(3) SPL_K4(5) SPL_K4(7)
#undef SPL_K4
#undef SPL_K
    return nullptr;
  }
  // For each path and each v, the CG tensor contracted with x2(v) first: Mb(i, k) =
  // Σ_j C_ijk x2(v, j) (x2 is an attribute of multiplicity 1 or 2 in MACE: Y(r̂), moment
  // harmonics, one-hot species), so that the rest is a dense d1×d3 product per u. Callers
  // whose x2 repeats (a sender's moment harmonics on all its edges) prepare it once.
  static void contract_cg(const CG& cg, const double* bv, int d3, double (*Mb)[7], int d1) {
    for (int i = 0; i < d1; ++i)
      for (int k = 0; k < d3; ++k) Mb[i][k] = 0.0;
    for (std::size_t q = 0; q < cg.c.size(); ++q) {
      const auto& ijk = cg.ijk[q];
      Mb[ijk[0]][ijk[2]] += cg.c[q] * bv[ijk[1]];
    }
  }
  void prepare(const double* x2, double* mb) const {
    std::fill(mb, mb + mb_size, 0.0);
    for (const Ins& s : ins) {
      const int m2 = in2.mul[s.i2], d1 = in1.d(s.i1), d2 = in2.d(s.i2), d3 = out.d(s.o);
      for (int v = 0; v < m2; ++v) {
        const double* bv = x2 + in2.off[s.i2] + v * d2;
        double* M = mb + s.mboff + v * d1 * d3;
        for (std::size_t q = 0; q < s.cg->c.size(); ++q) {
          const auto& ijk = s.cg->ijk[q];
          M[ijk[0] * d3 + ijk[2]] += s.cg->c[q] * bv[ijk[1]];
        }
      }
    }
  }
  void apply_prepared(const double* x1, const double* mb, const double* w, double* y) const {
    if (chan) {
      thread_local std::vector<double> x1t, yt;
      x1t.resize(in1.dim);
      yt.resize(out.dim);
      to_chan(in1, x1, x1t.data());
      apply_chan(x1t.data(), mb, w, yt.data());
      from_chan(out, yt.data(), y, false);
      return;
    }
    if (!w) w = internal.data();
    std::fill(y, y + out.dim, 0.0);
    for (const Ins& s : ins) {
      const int m1 = in1.mul[s.i1], m2 = in2.mul[s.i2], mo = out.mul[s.o];
      const int d1 = in1.d(s.i1), d3 = out.d(s.o);
      const double* a = x1 + in1.off[s.i1];
      double* yb = y + out.off[s.o];
      const double* W = w + s.woff;
      for (int v = 0; v < m2; ++v) {
        const double* M = mb + s.mboff + v * d1 * d3;
        if (s.kernel) {
          s.kernel(m1, m2, v, a, M, W, s.pw, yb);
          continue;
        }
        double t[7];
        for (int u = 0; u < m1; ++u) {
          const double* au = a + u * d1;
          for (int k = 0; k < d3; ++k) t[k] = 0.0;
          for (int i = 0; i < d1; ++i)
            for (int k = 0; k < d3; ++k) t[k] += au[i] * M[i * d3 + k];
          if (s.mode == 1) {
            const double c = s.pw * W[u * m2 + v];
            for (int k = 0; k < d3; ++k) yb[u * d3 + k] += c * t[k];
          } else {
            const double* Wuv = W + (u * m2 + v) * mo;
            for (int o = 0; o < mo; ++o) {
              const double c = s.pw * Wuv[o];
              for (int k = 0; k < d3; ++k) yb[o * d3 + k] += c * t[k];
            }
          }
        }
      }
    }
  }
  void apply(const double* x1, const double* x2, const double* w, double* y) const {
    thread_local std::vector<double> mb;
    mb.resize(mb_size);
    prepare(x2, mb.data());
    apply_prepared(x1, mb.data(), w, y);
  }
  // Reverse mode of one uvu path and one v: g1(u, i) += Σ_k Mb(i, k) gt(u, k),
  // G(i, k) += Σ_u x1(u, i) gt(u, k) (for ∂/∂x2), gw(u, v) += pw Σ_k gy(u, k) t(u, k), with
  // gt(u, k) = pw w(u, v) gy(u, k) and t = x1·Mb.
  template <int D1, int D3, bool F>
  static SPL_INLINE void backward_uvu_t(int m1, int m2, int v, const double* a, const double* M, const double* W,
                                        double pw, const double* gyb, double* g1b, double* G, double* gwb) {
    for (int u = 0; u < m1; ++u) {
      const double* au = a + u * D1;
      const double* gu = gyb + u * D3;
      const double c = pw * W[u * m2 + v];
      double r[D1];  // (Mb gy)(i)
      for (int i = 0; i < D1; ++i) {
        double acc = 0.0;
        for (int k = 0; k < D3; ++k) acc = madd<F>(M[i * D3 + k], gu[k], acc);
        r[i] = acc;
      }
      if (gwb) {
        double acc = 0.0;
        for (int i = 0; i < D1; ++i) acc = madd<F>(au[i], r[i], acc);
        gwb[u * m2 + v] = madd<F>(pw, acc, gwb[u * m2 + v]);
      }
      if (g1b)
        for (int i = 0; i < D1; ++i) g1b[u * D1 + i] = madd<F>(c, r[i], g1b[u * D1 + i]);
      if (G)
        for (int i = 0; i < D1; ++i)
          for (int k = 0; k < D3; ++k) G[i * D3 + k] = madd<F>(c * au[i], gu[k], G[i * D3 + k]);
    }
  }
  template <int D1, int D3>
  static void backward_uvu(int m1, int m2, int v, const double* a, const double* M, const double* W, double pw,
                           const double* gyb, double* g1b, double* G, double* gwb) {
    backward_uvu_t<D1, D3, false>(m1, m2, v, a, M, W, pw, gyb, g1b, G, gwb);
  }
  template <int D1, int D3>
  static SPL_AVX2 void backward_uvu_avx2(int m1, int m2, int v, const double* a, const double* M, const double* W,
                                         double pw, const double* gyb, double* g1b, double* G, double* gwb) {
    backward_uvu_t<D1, D3, true>(m1, m2, v, a, M, W, pw, gyb, g1b, G, gwb);
  }
  using BackKernel = void (*)(int, int, int, const double*, const double*, const double*, double, const double*,
                              double*, double*, double*);
  static BackKernel pick_back(int d1, int d3, bool simd) {
#define SPL_K(A, B) \
  if (d1 == A && d3 == B) return simd ? &backward_uvu_avx2<A, B> : &backward_uvu<A, B>;
#define SPL_K4(A) SPL_K(A, 1) SPL_K(A, 3) SPL_K(A, 5) SPL_K(A, 7)
    SPL_K4(1) SPL_K4(3) SPL_K4(5) SPL_K4(7)
#undef SPL_K4
#undef SPL_K
    return nullptr;
  }
  // Reverse mode: g1 += ∂/∂x1, g2 += ∂/∂x2, gw += ∂/∂w of Σ gy·y (each may be null); mb as
  // prepare(x2) gives (null: prepared here). ∂/∂x2 goes through G(i, k) = Σ_u x1(u, i) gt(u, k)
  // per path (d1·d3 numbers in a local buffer), contracted with the sparse CG tensor at once.
  void backward(const double* x1, const double* x2, const double* w, const double* gy, double* g1, double* g2,
                double* gw, const double* mb = nullptr) const {
    if (chan) {
      thread_local std::vector<double> x1t, gyt, g1t;
      x1t.resize(in1.dim);
      gyt.resize(out.dim);
      to_chan(in1, x1, x1t.data());
      to_chan(out, gy, gyt.data());
      if (g1) g1t.assign(in1.dim, 0.0);
      backward_chan(x1t.data(), x2, w, gyt.data(), g1 ? g1t.data() : nullptr, g2, gw, mb);
      if (g1) from_chan(in1, g1t.data(), g1, true);
      return;
    }
    const bool internal_w = !w;
    if (!w) w = internal.data();
    mb = prepared(x2, mb);
    double G[49];
    for (const Ins& s : ins) {
      const int m1 = in1.mul[s.i1], m2 = in2.mul[s.i2], mo = out.mul[s.o];
      const int d1 = in1.d(s.i1), d2 = in2.d(s.i2), d3 = out.d(s.o);
      const double* a = x1 + in1.off[s.i1];
      const double* gyb = gy + out.off[s.o];
      const double* W = w + s.woff;
      for (int v = 0; v < m2; ++v) {
        const double* M = mb + s.mboff + v * d1 * d3;
        if (g2) std::fill(G, G + d1 * d3, 0.0);
        if (s.mode == 1 && s.back) {
          s.back(m1, m2, v, a, M, W, s.pw, gyb, g1 ? g1 + in1.off[s.i1] : nullptr, g2 ? G : nullptr,
                 gw && !internal_w ? gw + s.woff : nullptr);
        } else {
          double gt[7];
          for (int u = 0; u < m1; ++u) {
            const double* au = a + u * d1;
            if (s.mode == 1) {
              const double c = s.pw * W[u * m2 + v];
              for (int k = 0; k < d3; ++k) gt[k] = c * gyb[u * d3 + k];
            } else {
              const double* Wuv = W + (u * m2 + v) * mo;
              for (int k = 0; k < d3; ++k) gt[k] = 0.0;
              for (int o = 0; o < mo; ++o)
                for (int k = 0; k < d3; ++k) gt[k] += s.pw * Wuv[o] * gyb[o * d3 + k];
            }
            if (gw && !internal_w) {
              double t[7] = {};
              for (int i = 0; i < d1; ++i)
                for (int k = 0; k < d3; ++k) t[k] += au[i] * M[i * d3 + k];
              if (s.mode == 1) {
                double acc = 0.0;
                for (int k = 0; k < d3; ++k) acc += gyb[u * d3 + k] * t[k];
                gw[s.woff + u * m2 + v] += s.pw * acc;
              } else {
                for (int o = 0; o < mo; ++o) {
                  double acc = 0.0;
                  for (int k = 0; k < d3; ++k) acc += gyb[o * d3 + k] * t[k];
                  gw[s.woff + (u * m2 + v) * mo + o] += s.pw * acc;
                }
              }
            }
            if (g1) {
              double* g1u = g1 + in1.off[s.i1] + u * d1;
              for (int i = 0; i < d1; ++i) {
                double acc = 0.0;
                for (int k = 0; k < d3; ++k) acc += M[i * d3 + k] * gt[k];
                g1u[i] += acc;
              }
            }
            if (g2)
              for (int i = 0; i < d1; ++i)
                for (int k = 0; k < d3; ++k) G[i * d3 + k] += au[i] * gt[k];
          }
        }
        if (g2) {
          double* g2v = g2 + in2.off[s.i2] + v * d2;
          const double* c = s.cg->c.data();
          const int *j = s.cg->j.data(), *ik = s.cg->ik.data();
          for (std::size_t q = 0, nq = s.cg->c.size(); q < nq; ++q) g2v[j[q]] += c[q] * G[ik[q]];
        }
      }
    }
  }
};

// e3nn nn.FullyConnectedNet: x ← act(x W/√(h_in var_in))·√var_out per hidden layer, the last
// layer x W/√(h_in var_in/var_out); act = c·silu (e3nn's normalize2mom constant c).
struct FCNet {
  struct Layer {
    int nin = 0, nout = 0;
    std::vector<double> w;   // [nin, nout], scale folded in
    std::vector<double> wt;  // the same transposed, [nout, nin] (the AVX2 reverse GEMMs)
    bool act = false;
    double c = 1.0, post = 1.0;
  };
  std::vector<Layer> layers;
  int nin() const { return layers.front().nin; }
  int nout() const { return layers.back().nout; }
  void load(const MaceArchive& a, const std::string& p) {
    for (int k = 0;; ++k) {
      const std::string q = p + ".layer" + std::to_string(k);
      if (!a.has(q + ".weight")) break;
      const MaceArchive::Array& W = a.at(q + ".weight");
      Layer L;
      L.nin = static_cast<int>(W.shape.at(0));
      L.nout = static_cast<int>(W.shape.at(1));
      const double h_in = a.scalar(q + ".@h_in"), var_in = a.scalar(q + ".@var_in"), var_out = a.scalar(q + ".@var_out");
      L.act = a.has(q + ".@act");
      double scale;
      if (L.act) {
        L.c = a.scalar(q + ".@act");
        L.post = std::sqrt(var_out);
        scale = 1.0 / std::sqrt(h_in * var_in);
      } else {
        scale = 1.0 / std::sqrt(h_in * var_in / var_out);
      }
      L.w = W.value;
      for (double& x : L.w) x *= scale;
      L.wt.resize(L.w.size());
      for (int i = 0; i < L.nin; ++i)
        for (int j = 0; j < L.nout; ++j)
          L.wt[static_cast<std::size_t>(j) * L.nin + i] = L.w[static_cast<std::size_t>(i) * L.nout + j];
      if (!layers.empty() && layers.back().nout != L.nin) throw InputError(a.source + ": " + q + ": layer sizes do not chain");
      layers.push_back(std::move(L));
    }
    if (layers.empty()) throw InputError(a.source + ": " + p + ": fully connected net without layers");
  }
  // y may not alias x; scratch holds 2·max width.
  void apply(const double* x, double* y, double* scratch) const {
    const double* in = x;
    for (std::size_t k = 0; k < layers.size(); ++k) {
      const Layer& L = layers[k];
      double* o = k + 1 == layers.size() ? y : scratch + (k % 2) * 256;
      std::fill(o, o + L.nout, 0.0);
      for (int i = 0; i < L.nin; ++i) {
        const double xi = in[i];
        const double* Wi = L.w.data() + static_cast<std::size_t>(i) * L.nout;
        for (int j = 0; j < L.nout; ++j) o[j] += xi * Wi[j];
      }
      if (L.act)
        for (int j = 0; j < L.nout; ++j) o[j] = L.c * (o[j] / (1.0 + std::exp(-o[j]))) * L.post;
      in = o;
    }
  }
  // The same for many inputs at once (rows of X; edges): GEMMs instead of vector products.
  using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const RowMat> weight(std::size_t k) const {
    return Eigen::Map<const RowMat>(layers[k].w.data(), layers[k].nin, layers[k].nout);
  }
  bool simd = false;  // the AVX2 + FMA GEMMs (the evaluator's choice)
  // Z = H · W_k (transpose: H · W_kᵀ), row by row; Z must not alias H.
  void mul(const RowMat& H, std::size_t k, bool transpose, RowMat& Z) const {
    const Layer& L = layers[k];
    if (simd) {
      const int kk = transpose ? L.nout : L.nin, n = transpose ? L.nin : L.nout;
      Z.resize(H.rows(), n);
      gemm_avx2(H.rows(), kk, n, H.data(), transpose ? L.wt.data() : L.w.data(), Z.data());
    } else if (transpose) {
      Z.noalias() = H * weight(k).transpose();
    } else {
      Z.noalias() = H * weight(k);
    }
  }
  static double act_of(const Layer& L, double z) { return L.c * (z / (1.0 + std::exp(-z))) * L.post; }
  // out: rows × nout, row-major
  void apply_batch(const Eigen::Ref<const RowMat>& X, double* out) const {
    RowMat H = X, Z;
    for (std::size_t k = 0; k < layers.size(); ++k) {
      const Layer& L = layers[k];
      mul(H, k, false, Z);
      if (L.act) Z = Z.unaryExpr([&L](double z) { return act_of(L, z); });
      H.swap(Z);
    }
    Eigen::Map<RowMat>(out, H.rows(), H.cols()) = H;
  }
  // z ← act(z) and d = act′(z) for count pre-activations, one exp each (act_of's expression, and act′
  // as the per-edge backward has it: the same bits).
  static void act_saving(const Layer& L, double* z, double* d, Eigen::Index count) {
    for (Eigen::Index q = 0; q < count; ++q) {
      const double x = z[q], ex = std::exp(-x), sg = 1.0 / (1.0 + ex);
      d[q] = L.c * L.post * (sg + x * sg * (1.0 - sg));
      z[q] = L.c * (x / (1.0 + ex)) * L.post;  // act_of
    }
  }
  // GX += ∂(G·Y)/∂X row by row; G (rows × nout) is overwritten. The forward pass is recomputed,
  // keeping act′ of each activated layer from the same exp as act.
  void backward_batch(const Eigen::Ref<const RowMat>& X, RowMat& G, RowMat& GX) const {
    const std::size_t n = layers.size();
    std::vector<RowMat> dact(n);
    RowMat H = X, Z;
    for (std::size_t k = 0; k + 1 < n || (k < n && layers[k].act); ++k) {
      const Layer& L = layers[k];
      mul(H, k, false, Z);
      if (L.act) {
        dact[k].resize(Z.rows(), Z.cols());
        act_saving(L, Z.data(), dact[k].data(), Z.size());
      }
      H.swap(Z);
    }
    RowMat T;
    for (std::size_t k = n; k-- > 0;) {
      if (layers[k].act) G = G.cwiseProduct(dact[k]);
      mul(G, k, true, T);
      G.swap(T);
    }
    GX += G;
  }
  // Doubles per row that apply_batch_saving keeps: the widths of the activated layers.
  int saved_width() const {
    int w = 0;
    for (const Layer& L : layers) w += L.act ? L.nout : 0;
    return w;
  }
  // apply_batch that also keeps act′(z) of every activated layer in D for backward_saved (the
  // reverse pass then needs no forward recomputation and no exp): layer k's block is
  // rows × nout_k at D + rows·(widths of the activated layers before k). Same outputs as
  // apply_batch.
  void apply_batch_saving(const Eigen::Ref<const RowMat>& X, double* out, double* D) const {
    RowMat H = X, Z;
    const Eigen::Index rows = X.rows();
    for (std::size_t k = 0; k < layers.size(); ++k) {
      const Layer& L = layers[k];
      mul(H, k, false, Z);
      if (L.act) {
        act_saving(L, Z.data(), D, rows * L.nout);
        D += rows * L.nout;
      }
      H.swap(Z);
    }
    Eigen::Map<RowMat>(out, H.rows(), H.cols()) = H;
  }
  // backward_batch with the derivatives apply_batch_saving kept: GX += ∂(G·Y)/∂X; G is overwritten.
  void backward_saved(RowMat& G, const double* D, RowMat& GX) const {
    const Eigen::Index rows = G.rows();
    std::vector<const double*> at(layers.size(), nullptr);
    for (std::size_t k = 0; k < layers.size(); ++k)
      if (layers[k].act) {
        at[k] = D;
        D += rows * layers[k].nout;
      }
    RowMat T;
    for (std::size_t k = layers.size(); k-- > 0;) {
      if (at[k]) G = G.cwiseProduct(Eigen::Map<const RowMat>(at[k], rows, layers[k].nout));
      mul(G, k, true, T);
      G.swap(T);
    }
    GX += G;
  }
  // gx += ∂(gy·y)/∂x, recomputing the forward pass.
  void backward(const double* x, const double* gy, double* gx) const {
    const std::size_t n = layers.size();
    thread_local std::vector<std::vector<double>> act, pre;  // scratch (called per edge)
    thread_local std::vector<double> g, gi;
    if (act.size() < n + 1) act.resize(n + 1);
    if (pre.size() < n) pre.resize(n);
    act[0].assign(x, x + nin());
    // pre-activations are needed only where there is an activation (never the last layer here)
    const std::size_t need = layers.back().act ? n : n - 1;
    for (std::size_t k = 0; k < need; ++k) {
      const Layer& L = layers[k];
      pre[k].assign(L.nout, 0.0);
      for (int i = 0; i < L.nin; ++i)
        for (int j = 0; j < L.nout; ++j) pre[k][j] += act[k][i] * L.w[static_cast<std::size_t>(i) * L.nout + j];
      act[k + 1] = pre[k];
      if (L.act)
        for (int j = 0; j < L.nout; ++j) act[k + 1][j] = L.c * (pre[k][j] / (1.0 + std::exp(-pre[k][j]))) * L.post;
    }
    g.assign(gy, gy + nout());
    for (std::size_t k = n; k-- > 0;) {
      const Layer& L = layers[k];
      if (L.act)
        for (int j = 0; j < L.nout; ++j) {
          const double z = pre[k][j], sg = 1.0 / (1.0 + std::exp(-z));
          g[j] *= L.c * L.post * (sg + z * sg * (1.0 - sg));
        }
      gi.assign(L.nin, 0.0);
      for (int i = 0; i < L.nin; ++i) {
        double acc = 0.0;
        for (int j = 0; j < L.nout; ++j) acc += L.w[static_cast<std::size_t>(i) * L.nout + j] * g[j];
        gi[i] = acc;
      }
      g.swap(gi);
    }
    for (int i = 0; i < nin(); ++i) gx[i] += g[i];
  }
};

// Forward-mode dual numbers with three derivatives: the gradients of the small geometric
// functions (harmonics of r̂ and m, radial and moment-size features) with respect to a vector.
struct Dual {
  double v = 0.0;
  double d[3] = {0.0, 0.0, 0.0};
  Dual() = default;
  Dual(double x) : v(x) {}  // NOLINT: constants
};
inline Dual operator+(const Dual& a, const Dual& b) {
  Dual r(a.v + b.v);
  for (int k = 0; k < 3; ++k) r.d[k] = a.d[k] + b.d[k];
  return r;
}
inline Dual operator-(const Dual& a, const Dual& b) {
  Dual r(a.v - b.v);
  for (int k = 0; k < 3; ++k) r.d[k] = a.d[k] - b.d[k];
  return r;
}
inline Dual operator*(const Dual& a, const Dual& b) {
  Dual r(a.v * b.v);
  for (int k = 0; k < 3; ++k) r.d[k] = a.d[k] * b.v + a.v * b.d[k];
  return r;
}
inline Dual operator/(const Dual& a, const Dual& b) {
  Dual r(a.v / b.v);
  for (int k = 0; k < 3; ++k) r.d[k] = (a.d[k] - r.v * b.d[k]) / b.v;
  return r;
}
inline Dual fn(const Dual& a, double f, double df) {
  Dual r(f);
  for (int k = 0; k < 3; ++k) r.d[k] = df * a.d[k];
  return r;
}
inline Dual sqrt(const Dual& a) { const double s = std::sqrt(a.v); return fn(a, s, 0.5 / s); }
inline Dual sin(const Dual& a) { return fn(a, std::sin(a.v), std::cos(a.v)); }
inline Dual pow(const Dual& a, double p) { return fn(a, std::pow(a.v, p), p * std::pow(a.v, p - 1.0)); }
inline double value(double x) { return x; }
inline double value(const Dual& x) { return x.v; }
using std::pow;
using std::sin;
using std::sqrt;

// e3nn spherical harmonics (o3.spherical_harmonics, "component" normalisation: the
// polynomials of e3nn/o3/_spherical_harmonics.py), l = 0..lmax ≤ 3, of (x, y, z) as given.
template <class T>
void e3nn_sh(int lmax, T x, T y, T z, T* sh) {
  sh[0] = 1.0;
  if (lmax < 1) return;
  sh[1] = 1.7320508075688772 * x;
  sh[2] = 1.7320508075688772 * y;
  sh[3] = 1.7320508075688772 * z;
  if (lmax < 2) return;
  const T y2 = y * y, x2z2 = x * x + z * z;
  const T s20 = 3.872983346207417 * x * z, s24 = 1.9364916731037085 * (z * z - x * x);
  sh[4] = s20;
  sh[5] = 3.872983346207417 * x * y;
  sh[6] = 2.2360679774997898 * (y2 - 0.5 * x2z2);
  sh[7] = 3.872983346207417 * y * z;
  sh[8] = s24;
  if (lmax < 3) return;
  sh[9] = 1.0801234497346432 * (s20 * z + s24 * x);
  sh[10] = 2.6457513110645907 * s20 * y;
  sh[11] = 1.6201851746019651 * (4.0 * y2 - x2z2) * x;
  sh[12] = 1.3228756555322954 * y * (2.0 * y2 - 3.0 * x2z2);
  sh[13] = 1.6201851746019651 * z * (4.0 * y2 - x2z2);
  sh[14] = 2.6457513110645907 * s24 * y;
  sh[15] = 1.0801234497346432 * (s24 * z - s20 * x);
}

struct SH {
  int lmax = 0;
  bool normalize = false;
  int normalization = 0;  // 0 component, 1 integral, 2 norm
  int dim() const { return (lmax + 1) * (lmax + 1); }
  void load(const MaceArchive& a, const std::string& p) {
    lmax = static_cast<int>(a.scalar(p + ".@lmax"));
    normalize = a.scalar(p + ".@normalize") != 0.0;
    const std::string& n = a.str(p + ".@normalization");
    if (lmax < 0 || lmax > 3) unsupported(a, p + ": spherical harmonics beyond l = 3");
    if (n == "component") normalization = 0;
    else if (n == "integral") normalization = 1;
    else if (n == "norm") normalization = 2;
    else unsupported(a, p + ": spherical-harmonics normalization '" + n + "'");
  }
  template <class T>
  void apply(const T* r0, T* out) const {
    T r[3] = {r0[0], r0[1], r0[2]};
    if (normalize) {  // torch.nn.functional.normalize
      T n = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
      if (value(n) < 1e-12) n = T(1e-12);
      for (auto& x : r) x = x / n;
    }
    e3nn_sh(lmax, r[0], r[1], r[2], out);
    if (normalization == 1)
      for (int k = 0; k < dim(); ++k) out[k] = out[k] / T(3.5449077018110318);  // √(4π)
    if (normalization == 2)
      for (int l = 0; l <= lmax; ++l)
        for (int m = l * l; m < (l + 1) * (l + 1); ++m) out[m] = out[m] / T(std::sqrt(2.0 * l + 1.0));
  }
  void apply(const Vec3& r, double* out) const { apply(r.data(), out); }
};

// Chebyshev polynomials T_1..T_n (include_constant: T_0..T_{n-1}) of x (extensions.py,
// ChebyshevBasisGeneral).
struct Chebyshev {
  int n = 0;
  bool constant = false;
  void load(const MaceArchive& a, const std::string& p) {
    n = static_cast<int>(a.scalar(p + ".@num_basis"));
    constant = a.scalar(p + ".@include_constant") != 0.0;
  }
  template <class T>
  void apply(T x, T* out) const {
    T t0 = 1.0, t1 = x;
    const int first = constant ? 0 : 1;
    for (int k = first; k < first + n; ++k) {
      T tk;
      if (k == 0) tk = 1.0;
      else if (k == 1) tk = x;
      else {
        tk = T(2.0) * x * t1 - t0;
        t0 = t1;
        t1 = tk;
      }
      out[k - first] = tk;
    }
  }
};

// MACE's SymmetricContraction (symmetric_contraction.py): per output irrep L and channel c,
//   A_ν = Σ_k U_ν[d, i_1..i_ν, k] W_ν[z, k, c],  then from ν = N down to 1:
//   B ← (A_ν + B) contracted on its last index with x[c, ·],
// for the one-hot species z; x[c, i] are the node features reshaped to [channels, Σ(2l+1)].
struct Contraction {
  int D = 1, nu = 0;
  std::vector<int> K;
  // UW[k]: correlation k+1, Σ_q U[r, q] W[z, q, c] for every element z and channel c, laid out
  // [elements, C, D·n^(k+1)]. It depends on the weights only, so it is formed once at load
  // instead of per node (the per-node cost is then the contractions with x alone; with
  // correlation 3 and 16 columns the U·W products were most of the work).
  std::vector<std::vector<double>> UW;
  std::vector<std::size_t> m;  // D·n^(k+1)
  const double* uw(int nu1, int z, int c, int C) const {
    return UW[nu1 - 1].data() + (static_cast<std::size_t>(z) * C + c) * m[nu1 - 1];
  }
};

struct SymmetricContraction {
  int C = 0, n = 0, elements = 0;
  bool agnostic = false;
  std::vector<Contraction> con;
  Irreps out;
  void load(const MaceArchive& a, const std::string& p, int channels, int ndim, bool agn) {
    C = channels;
    n = ndim;
    agnostic = agn;
    out = irreps_of(a, p + ".@irreps_out");
    for (int c = 0; c < out.size(); ++c) {
      const std::string q = p + ".contractions." + std::to_string(c);
      Contraction k;
      k.D = out.d(c);
      if (out.mul[c] != C) unsupported(a, q + ": output multiplicity differs from the channels");
      k.nu = static_cast<int>(a.scalar(q + ".@correlation"));
      k.UW.resize(k.nu);
      k.m.resize(k.nu);
      k.K.resize(k.nu);
      for (int nu = 1; nu <= k.nu; ++nu) {
        const MaceArchive::Array& U = a.at(q + ".U_matrix_" + std::to_string(nu));
        k.K[nu - 1] = static_cast<int>(U.shape.back());
        std::size_t expect = static_cast<std::size_t>(k.D) * k.K[nu - 1];
        for (int j = 0; j < nu; ++j) expect *= n;
        if (U.value.size() != expect) throw InputError(a.source + ": " + q + ": U_matrix_" + std::to_string(nu) + " has an unexpected shape");
        const std::string wname = nu == k.nu ? q + ".weights_max" : q + ".weights." + std::to_string(k.nu - 1 - nu);
        const MaceArchive::Array& W = a.at(wname);
        if (W.shape.size() != 3 || W.shape[1] != k.K[nu - 1] || W.shape[2] != C)
          throw InputError(a.source + ": " + wname + " has an unexpected shape");
        elements = static_cast<int>(W.shape[0]);
        const std::size_t mr = expect / k.K[nu - 1];
        const int K = k.K[nu - 1];
        k.m[nu - 1] = mr;
        std::vector<double>& UW = k.UW[nu - 1];
        UW.assign(static_cast<std::size_t>(elements) * C * mr, 0.0);
        for (int z = 0; z < elements; ++z)
          for (int c = 0; c < C; ++c)
            for (std::size_t r = 0; r < mr; ++r) {
              double s = 0.0;  // the same sum, in the same order, as the per-node loop it replaces
              for (int qq = 0; qq < K; ++qq) s += U.value[r * K + qq] * W.value[(static_cast<std::size_t>(z) * K + qq) * C + c];
              UW[(static_cast<std::size_t>(z) * C + c) * mr + r] = s;
            }
      }
      con.push_back(std::move(k));
    }
  }
  // x: [C, n]; y: out irreps (mul_ir layout); scratch ≥ D·n^N doubles.
  void apply(const double* x, int column, double* y, std::vector<double>& A, std::vector<double>& B) const {
    const int z = agnostic ? 0 : column;
    for (int b = 0; b < out.size(); ++b) {
      const Contraction& k = con[b];
      double* yb = y + out.off[b];
      for (int c = 0; c < C; ++c) {
        const double* xc = x + c * n;
        // B holds the running tensor [D, n^(ν)] for the current ν.
        std::size_t len = static_cast<std::size_t>(k.D);
        for (int j = 0; j < k.nu; ++j) len *= n;
        B.assign(len, 0.0);
        for (int nu = k.nu; nu >= 1; --nu) {
          const std::size_t m = k.m[nu - 1];
          // B += Σ_k U[·, k] W[k, c]
          const double* uw = k.uw(nu, z, c, C);
          for (std::size_t r = 0; r < m; ++r) B[r] += uw[r];
          // contract the last index with x
          const std::size_t m2 = m / n;
          A.assign(m2, 0.0);
          for (std::size_t r = 0; r < m2; ++r) {
            double s = 0.0;
            for (int i = 0; i < n; ++i) s += B[r * n + i] * xc[i];
            A[r] = s;
          }
          B.swap(A);
        }
        for (int d = 0; d < k.D; ++d) yb[c * k.D + d] = B[d];
      }
    }
  }
  // gx += ∂(gy·y)/∂x, recomputing the recursion with its intermediate tensors.
  void backward(const double* x, int column, const double* gy, double* gx) const {
    const int z = agnostic ? 0 : column;
    thread_local std::vector<std::vector<double>> pre;  // scratch, kept between calls
    thread_local std::vector<double> B, A, g, gp;
    for (int b = 0; b < out.size(); ++b) {
      const Contraction& k = con[b];
      for (int c = 0; c < C; ++c) {
        const double* xc = x + c * n;
        if (pre.size() < static_cast<std::size_t>(k.nu) + 1) pre.resize(k.nu + 1);
        std::size_t len = static_cast<std::size_t>(k.D);
        for (int j = 0; j < k.nu; ++j) len *= n;
        B.assign(len, 0.0);
        for (int nu = k.nu; nu >= 1; --nu) {
          const std::size_t m = k.m[nu - 1];
          const double* uw = k.uw(nu, z, c, C);
          for (std::size_t r = 0; r < m; ++r) B[r] += uw[r];
          pre[nu] = B;  // the tensor contracted at this step
          const std::size_t m2 = m / n;
          A.assign(m2, 0.0);
          for (std::size_t r = 0; r < m2; ++r) {
            double s = 0.0;
            for (int i = 0; i < n; ++i) s += B[r * n + i] * xc[i];
            A[r] = s;
          }
          B.swap(A);
        }
        g.assign(k.D, 0.0);
        for (int d = 0; d < k.D; ++d) g[d] = gy[out.off[b] + c * k.D + d];
        double* gxc = gx + c * n;
        for (int nu = 1; nu <= k.nu; ++nu) {
          const std::vector<double>& P = pre[nu];
          const std::size_t m2 = g.size();
          gp.assign(m2 * n, 0.0);
          for (std::size_t r = 0; r < m2; ++r)
            for (int i = 0; i < n; ++i) {
              gp[r * n + i] = g[r] * xc[i];
              gxc[i] += g[r] * P[r * n + i];
            }
          g.swap(gp);
        }
      }
    }
  }
};

}  // namespace

// ---- the model ---------------------------------------------------------------------------------

struct MaceModel {
  std::string source;
  std::vector<int> Z;
  std::vector<double> e0, m_max;
  double r_max = 0, scale = 1, shift = 0;
  // edge embedding: Bessel × polynomial cutoff (radial.py)
  std::vector<double> bessel_w;
  double bessel_pref = 0, cutoff_p = 0, cutoff_rmax = 0;
  SH edge_sh, mag_sh;
  Chebyshev mag_cheb, onebody_cheb;
  bool onebody = false;
  std::vector<double> ob_coeff, ob_corr;  // [S, B] and [S]
  Linear embedding;
  struct Interaction {
    bool residue = false;  // Residue block: skip_tp on node features; else magmom_skip_tp on the message
    Linear up, mlin;
    FCNet tpw, magw, dens;
    TensorProduct conv, mconv, skip;
    Irreps target;  // of the reshaped message
    int n = 0;      // Σ(2l+1) over target
  };
  struct Product {
    SymmetricContraction sc;
    FCNet w;
    TensorProduct conv;
    Linear lin, lin_ori;
    bool use_sc = false;
  };
  struct Readout {
    bool nonlinear = false;
    Linear l1, l2;
    double act = 1.0;
  };
  std::vector<Interaction> inter;
  std::vector<Product> prod;
  std::vector<Readout> read;
  std::shared_ptr<void> keep;  // the Clebsch-Gordan table
  int species() const { return static_cast<int>(Z.size()); }
  int layers() const { return static_cast<int>(inter.size()); }
  bool simd = false;  // the AVX2 + FMA kernels in every block
  void set_simd(bool on) {
    simd = on;
    embedding.simd = on;
    for (auto& I : inter) {
      I.up.simd = I.mlin.simd = I.tpw.simd = I.magw.simd = I.dens.simd = on;
      I.conv.pick(on);
      I.mconv.pick(on);
      I.skip.pick(on);
    }
    for (auto& P : prod) {
      P.w.simd = P.lin.simd = P.lin_ori.simd = on;
      P.conv.pick(on);
    }
    for (auto& R : read) R.l1.simd = R.l2.simd = on;
  }
};

namespace {

std::string strip_class(const std::string& q) {
  const auto p = q.rfind('.');
  return p == std::string::npos ? q : q.substr(p + 1);
}

std::unique_ptr<MaceModel> build_model(const MaceArchive& a) {
  auto M = std::make_unique<MaceModel>();
  MaceModel& m = *M;
  m.source = a.source;
  const std::string top = strip_class(a.str("@class"));
  if (top != "MagneticScaleShiftMACE") unsupported(a, "top-level class " + top);
  for (double z : a.at("atomic_numbers").value) m.Z.push_back(static_cast<int>(z));
  const int S = m.species();
  m.r_max = a.scalar("r_max");
  m.e0 = a.at("atomic_energies_fn.atomic_energies").value;
  if (static_cast<int>(m.e0.size()) != S) unsupported(a, "atomic energies for several heads");
  m.m_max = a.at("m_max").value;
  if (static_cast<int>(m.m_max.size()) != S) throw InputError(a.source + ": m_max has one entry per species");
  if (a.at("scale_shift.scale").value.size() != 1 || a.at("scale_shift.shift").value.size() != 1)
    unsupported(a, "several heads (scale_shift)");
  m.scale = a.at("scale_shift.scale").value[0];
  m.shift = a.at("scale_shift.shift").value[0];
  if (strip_class(a.str("radial_embedding.bessel_fn.@class")) != "BesselBasis")
    unsupported(a, "radial basis " + a.str("radial_embedding.bessel_fn.@class"));
  if (strip_class(a.str("radial_embedding.cutoff_fn.@class")) != "PolynomialCutoff")
    unsupported(a, "cutoff " + a.str("radial_embedding.cutoff_fn.@class"));
  if (a.scalar("radial_embedding.@apply_cutoff") == 0.0) unsupported(a, "radial embedding without the cutoff applied");
  m.bessel_w = a.at("radial_embedding.bessel_fn.bessel_weights").value;
  m.bessel_pref = a.scalar("radial_embedding.bessel_fn.prefactor");
  m.cutoff_p = a.scalar("radial_embedding.cutoff_fn.p");
  m.cutoff_rmax = a.scalar("radial_embedding.cutoff_fn.r_max");
  m.edge_sh.load(a, "spherical_harmonics");
  m.mag_sh.load(a, "mag_solid_harmoics");
  m.mag_cheb.load(a, "mag_radial_embedding");
  if (m.bessel_w.size() > 64 || m.mag_cheb.n > 64) unsupported(a, "more than 64 radial or moment-size features");
  m.onebody = a.scalar("@use_magmom_one_body") != 0.0;
  if (m.onebody) {
    m.onebody_cheb.load(a, "one_body_cheb_basis_with_const");
    const MaceArchive::Array& c = a.at("onebody_magmombasis_coeffs");
    if (c.shape.size() != 3 || c.shape[0] != S || c.shape[1] != m.onebody_cheb.n || c.shape[2] != 1)
      unsupported(a, "one-body moment coefficients of shape other than [species, basis, 1 head]");
    m.ob_coeff = c.value;
    m.ob_corr = a.at("one_body_magmom_const_correction").value;
    if (static_cast<int>(m.ob_corr.size()) != S) unsupported(a, "one-body correction for several heads");
  }
  m.embedding.load(a, "node_embedding.linear");
  const int L = static_cast<int>(a.scalar("num_interactions"));
  if (L < 1) unsupported(a, "a model without interactions");
  auto table = std::make_shared<CGTable>();
  for (int t = 0; t < L; ++t) {
    const std::string p = "interactions." + std::to_string(t);
    const std::string cls = strip_class(a.str(p + ".@class"));
    MaceModel::Interaction I;
    if (cls == "MagneticRealAgnosticResidueSpinOrbitCoupledDensityInteractionBlock") I.residue = true;
    else if (cls != "MagneticRealAgnosticSpinOrbitCoupledDensityInteractionBlock") unsupported(a, p + ": interaction block " + cls);
    I.up.load(a, p + ".linear_up");
    I.tpw.load(a, p + ".conv_tp_weights");
    I.magw.load(a, p + ".conv_tp_weights_magmom");
    I.dens.load(a, p + ".density_fn");
    I.conv.load(a, p + ".conv_tp", *table);
    I.mconv.load(a, p + ".magmom_conv_tp", *table);
    I.mlin.load(a, p + ".magmom_linear");
    I.skip.load(a, I.residue ? p + ".skip_tp" : p + ".magmom_skip_tp", *table);
    I.target = I.residue ? I.mlin.out : I.skip.out;
    for (int b = 0; b < I.target.size(); ++b) {
      if (I.target.mul[b] != I.target.mul[0]) unsupported(a, p + ": target irreps with different multiplicities");
      I.n += I.target.d(b);
    }
    m.inter.push_back(std::move(I));

    const std::string q = "products." + std::to_string(t);
    if (strip_class(a.str(q + ".@class")) != "EquivariantProductBasisWithSelfMagmomBlock")
      unsupported(a, q + ": product block " + a.str(q + ".@class"));
    MaceModel::Product P;
    P.use_sc = a.scalar(q + ".@use_sc") != 0.0;
    P.sc.load(a, q + ".symmetric_contractions", m.inter.back().target.mul[0], m.inter.back().n,
              a.scalar(q + ".@use_agnostic_product") != 0.0);
    P.w.load(a, q + ".conv_tp_weights");
    P.conv.load(a, q + ".conv_tp", *table);
    P.lin.load(a, q + ".linear");
    P.lin_ori.load(a, q + ".linear_ori");
    m.prod.push_back(std::move(P));

    const std::string r = "readouts." + std::to_string(t);
    const std::string rc = strip_class(a.str(r + ".@class"));
    MaceModel::Readout R;
    if (rc == "LinearReadoutBlock") {
      R.l1.load(a, r + ".linear");
    } else if (rc == "NonLinearReadoutBlock") {
      R.nonlinear = true;
      R.l1.load(a, r + ".linear_1");
      R.l2.load(a, r + ".linear_2");
      R.act = a.scalar(r + ".@act");
      if (a.scalar(r + ".@num_heads") != 1.0) unsupported(a, r + ": several heads");
    } else {
      unsupported(a, r + ": readout " + rc);
    }
    m.read.push_back(std::move(R));
  }
  m.keep = table;  // the tensor products point into it
  // Consistency of the chain of irreps.
  for (int t = 0; t < L; ++t) {
    const auto& I = m.inter[t];
    const auto& P = m.prod[t];
    const Irreps& hin = t == 0 ? m.embedding.out : m.prod[t - 1].lin.out;
    if (I.up.in.dim != hin.dim) throw InputError(a.source + ": interactions." + std::to_string(t) + ": input size mismatch");
    if (I.conv.in2.dim != m.edge_sh.dim() || I.mconv.in2.dim != m.mag_sh.dim() || P.conv.in2.dim != m.mag_sh.dim())
      throw InputError(a.source + ": spherical-harmonics sizes do not match the tensor products");
    if (I.tpw.nin() != static_cast<int>(m.bessel_w.size()) + m.mag_cheb.n || I.tpw.nout() != I.conv.weight_numel ||
        I.magw.nout() != I.mconv.weight_numel || P.w.nout() != P.conv.weight_numel || P.w.nin() != m.mag_cheb.n)
      throw InputError(a.source + ": radial-network sizes do not match the tensor products");
    if (I.residue && I.skip.out.dim != P.lin.out.dim) throw InputError(a.source + ": skip connection size mismatch");
  }
  return M;
}

}  // namespace

// ---- evaluation -------------------------------------------------------------------------------

// The cache: every record in one array `store` at fixed offsets, so a trial is a list of
// patches (offset, values). Per node: moment records (Chebyshev features, solid harmonics,
// one-body energy); per layer t: up-projected features, skip connection, message sum
// (before magmom_linear), the layer's output features and readout energy; the node energy.
// Per edge: Y(r̂), radial features, and per layer the density term and the radial networks'
// outputs (they depend on the geometry and the sender's moment size).
struct MaceNativeEvaluator::Impl {
  const MaceModel* m = nullptr;
  // geometry
  Graph g;
  std::vector<Vec3> pos;
  std::vector<int> col;
  bool geometry = false, is_built = false;
  // Edges by sender (CSR, ascending edge index): out_edge[out_offset[s] .. out_offset[s+1]).
  std::vector<int> out_offset, out_edge;
  const int* out_begin(std::size_t s) const { return out_edge.data() + out_offset[s]; }
  const int* out_end(std::size_t s) const { return out_edge.data() + out_offset[s + 1]; }
  // sizes
  int nsh = 0, nb = 0, nmc = 0, nmsh = 0;
  struct LayerSizes {
    int up, sc, msg, h, w1, w2, mb, pw;
    int a, mbY, d1;  // conv_tp's output and prepared tensors; saved derivatives of conv_tp_weights
    int keep;        // per node for the reverse pass: magmom_linear's output, the target, the contraction
  };
  std::vector<LayerSizes> ls;
  // offsets into store
  std::size_t o_cheb, o_msh, o_ob, o_energy, o_Y, o_ef;
  std::vector<std::size_t> o_up, o_sc, o_msg, o_den, o_h, o_e, o_w1, o_w2, o_de, o_mb, o_pw;
  std::vector<double> store;
  std::vector<double> energy_view;
  std::vector<Vec3> mom;
  // The records of the configuration built before the current one (valid when `spare`): a
  // rejected whole-lattice Monte Carlo step returns to it, and the sampler's energy
  // measurement then finds it here instead of rebuilding (as native_fast.cpp does). Every
  // record in `store` is a function of the moments at fixed geometry, so swapping them back
  // gives the bits of a rebuild. Kept only while the store is at most kSpareBytes (a large
  // model's per-edge radial cache would double a big allocation).
  std::vector<double> spare_store;
  std::vector<Vec3> spare_mom;
  bool spare = false;
  // Whether spare_store holds this geometry's records (Y(r̂), radial features, density terms:
  // set_geometry writes them, rebuild does not), copied once per geometry.
  bool spare_geometry = false;
  std::size_t full_rebuilds = 0;  // rebuilds of the Monte Carlo cache actually computed
  static constexpr double kSpareBytes = 256e6;
  void swap_spare() {
    store.swap(spare_store);
    mom.swap(spare_mom);
  }

  // ---- threads ------------------------------------------------------------------------------
  // Full evaluations split their work into blocks fixed by the graph alone (receivers in
  // blocks of about kEdgeBlock edges, nodes in blocks of kNodeBlock), never by thread: each
  // block is computed whole by one thread with its own scratch, every sum over edges runs in
  // edge order within one block or in a per-node gather, so results are bit for bit the same
  // for any thread count (docs/learned-potential.md). Blocks are handed out dynamically: on a
  // shared machine a thread that another job holds up takes fewer of them.
  struct Scratch {
    std::vector<double> s1, s2, s3, s4, s5, sA, sB, fscratch, w1c, w2c, mbY, a, ga, b, gsum;
    std::vector<double> upt, bt, msgt, gbt, gupt;  // the channel layout's (to_chan) per-edge buffers
    std::vector<double> ablk, mbYblk, d1blk;  // the fused last layer's block records
    std::size_t sized = 0;                    // length of s1..s5 (ensure_scratch)
    FCNet::RowMat GW1, GW2, GX, GD, GE, X;
  };
  std::vector<Scratch> scratch;  // one per thread; contents never outlive a block
  int threads = 1;               // for full evaluations (the Monte Carlo trial is serial)
  static constexpr int kEdgeBlock = 128;  // edges per receiver block
  static constexpr int kNodeBlock = 16;   // nodes per node block
  std::vector<std::size_t> rblock;        // receiver blocks: [rblock[b], rblock[b+1])
  std::size_t node_blocks() const { return (g.nodes + kNodeBlock - 1) / kNodeBlock; }

  // Runs f(b, scratch) for b in [0, n) on `threads` threads. Inside, OpenMP's thread count of
  // each thread is set to 1 so that Eigen (built with OpenMP) never splits a GEMM of a block
  // across threads: its blocking, and so the rounding, could depend on the thread count.
  template <class F>
  void for_blocks(std::size_t n, F&& f) {
    const int nt = static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(threads, n)));
    ensure_scratch(nt);
#pragma omp parallel num_threads(nt)
    {
      omp_set_num_threads(1);
      Scratch& sc = scratch[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
      for (long b = 0; b < static_cast<long>(n); ++b) f(static_cast<std::size_t>(b), sc);
    }
  }
  template <class F>
  void for_node_blocks(F&& f) {
    for_blocks(node_blocks(), [&](std::size_t b, Scratch& sc) {
      const std::size_t v1 = std::min(g.nodes, (b + 1) * kNodeBlock);
      for (std::size_t v = b * kNodeBlock; v < v1; ++v) f(v, sc);
    });
  }
  template <class F>
  void for_edge_blocks(F&& f) {  // f(v0, v1, e0, e1, scratch)
    for_blocks(rblock.size() - 1, [&](std::size_t b, Scratch& sc) {
      const std::size_t v0 = rblock[b], v1 = rblock[b + 1];
      f(v0, v1, static_cast<std::size_t>(g.offset[v0]), static_cast<std::size_t>(g.offset[v1]), sc);
    });
  }

  double* at(std::size_t off) { return store.data() + off; }

  // Whether the radial networks' outputs (conv_tp and magmom_conv_tp weights, w1 + w2 doubles
  // per edge and layer) are kept for all edges. The Monte Carlo trial needs them; a full
  // evaluation does not, and for a large model they are most of its memory (64 channels:
  // ~23 kB per edge and layer, 0.3 GB at 128 atoms), so full evaluations compute them block
  // by block of receivers, forward and again in the reverse pass. The trial evaluator turns the
  // cache on at its first trial (energy-only calls of dynamics runs never pay for it); full
  // evaluations keep it only with derivatives, and never for the fused last layer.
  bool radial_cache = false;
  // Full evaluations keep the cache when it is small (it saves recomputing the radial networks
  // in the reverse pass, ~10% of the time of the 8-channel fixture): at most this many bytes.
  double radial_cache_bytes = 64e6;
  bool small_radial_cache(std::size_t edges) const {
    double per_edge = 0.0;
    for (int t = 0; t < m->layers(); ++t)
      if (t + 1 < m->layers() || !fuse_last)
        per_edge += static_cast<double>(m->inter[t].conv.weight_numel + m->inter[t].mconv.weight_numel);
    return 8.0 * per_edge * static_cast<double>(edges) <= radial_cache_bytes;
  }
  // Whether layer t's radial-network outputs are in the cache: never for the fused last layer
  // (its reverse pass runs in the block that computed them, so they stay in the block's scratch).
  bool radial_cached(int t) const { return radial_cache && !(fuse_last && t + 1 == m->layers()); }
  // What the forward pass keeps per edge for the reverse pass of a full evaluation (derivatives
  // requested), within reverse_cache_bytes: act′ of conv_tp_weights' hidden layers (the
  // reverse pass then recomputes neither their pre-activations nor an exp; a few hundred
  // doubles per edge), then, if it fits too, conv_tp's output with its prepared CG tensors (no
  // tensor product recomputed per edge; 64 channels: a few thousand).
  bool reverse_cache = false;  // conv_tp's output
  bool saved_act = false;      // act′ of conv_tp_weights
  double reverse_cache_bytes = 64e6;
  void choose_reverse_caches(std::size_t edges, bool derivatives) {
    double d1 = 0.0, a = 0.0;
    for (int t = 0; t < m->layers() - (fuse_last ? 1 : 0); ++t) {  // fuse_last: none for the last layer
      const auto& I = m->inter[t];
      d1 += I.tpw.saved_width();
      a += I.conv.out.dim + I.conv.mb_size;
    }
    const double bytes = 8.0 * static_cast<double>(edges);
    saved_act = derivatives && bytes * d1 <= reverse_cache_bytes;
    reverse_cache = saved_act && bytes * (d1 + a) <= reverse_cache_bytes;
  }
  std::vector<std::size_t> o_d1, o_a, o_mbY;  // offsets of the reverse caches (empty without)
  // Full evaluations with derivatives keep per node what the node step's reverse pass would
  // otherwise recompute (magmom_linear's output, the skip product, the symmetric contraction:
  // a few kB per node).
  bool keep_nodes = false;
  std::vector<std::size_t> o_keep;
  // Receivers [v0, v1) from v0 whose edges fit one block (at least one receiver).
  std::size_t block_end(std::size_t v0) const {
    std::size_t v1 = v0 + 1;
    while (v1 < g.nodes && g.offset[v1 + 1] - g.offset[v0] <= kEdgeBlock) ++v1;
    return v1;
  }
  // The radial-network outputs of edges [e0, e1) in layer t: the cache, or computed from the
  // inputs' rows into the block's scratch (keeping act′ when the reverse cache is on).
  // D (forward only, may be null): where to keep act′ of conv_tp_weights (block rows from e0).
  void radial_block(int t, std::size_t e0, std::size_t e1, Scratch& sc, bool forward, const double*& W1,
                    const double*& W2, double* D = nullptr) {
    const LayerSizes& S = ls[t];
    const auto& I = m->inter[t];
    const Eigen::Index n = static_cast<Eigen::Index>(e1 - e0);
    const auto X = Xe.middleRows(static_cast<Eigen::Index>(e0), n);
    if (radial_cached(t)) {
      W1 = at(o_w1[t] + e0 * S.w1);
      W2 = at(o_w2[t] + e0 * S.w2);
      if (!forward) return;
    } else {
      sc.w1c.resize(static_cast<std::size_t>(n) * S.w1);
      sc.w2c.resize(static_cast<std::size_t>(n) * S.w2);
      W1 = sc.w1c.data();
      W2 = sc.w2c.data();
    }
    if (forward && D) I.tpw.apply_batch_saving(X, const_cast<double*>(W1), D);
    else I.tpw.apply_batch(X, const_cast<double*>(W1));
    I.magw.apply_batch(X, const_cast<double*>(W2));
  }

  void layout() {
    const MaceModel& M = *m;
    const std::size_t N = g.nodes, E = g.edges();
    nsh = M.edge_sh.dim();
    nb = static_cast<int>(M.bessel_w.size());
    nmc = M.mag_cheb.n;
    nmsh = M.mag_sh.dim();
    const int L = M.layers();
    ls.clear();
    for (int t = 0; t < L; ++t) {
      const auto& I = M.inter[t];
      ls.push_back({I.up.out.dim, I.residue ? I.skip.out.dim : 0, I.mconv.out.dim, M.prod[t].lin.out.dim,
                    I.conv.weight_numel, I.mconv.weight_numel, I.mconv.mb_size, M.prod[t].w.nout(), I.conv.out.dim,
                    I.conv.mb_size, I.tpw.saved_width(),
                    I.mlin.out.dim + (I.residue ? 0 : I.target.dim) + M.prod[t].sc.out.dim});
    }
    std::size_t o = 0;
    auto take = [&](std::size_t n) {
      const std::size_t r = o;
      o += n;
      return r;
    };
    o_cheb = take(N * nmc);
    o_msh = take(N * nmsh);
    o_ob = take(N);
    o_energy = take(N);
    o_Y = take(E * nsh);
    o_ef = take(E * nb);
    for (auto* v : {&o_up, &o_sc, &o_msg, &o_den, &o_h, &o_e, &o_w1, &o_w2, &o_de, &o_mb, &o_pw, &o_d1, &o_a, &o_mbY, &o_keep})
      v->clear();
    for (int t = 0; t < L; ++t) {
      o_up.push_back(take(N * ls[t].up));
      o_sc.push_back(take(N * ls[t].sc));
      o_msg.push_back(take(N * ls[t].msg));
      o_den.push_back(take(N));
      o_h.push_back(take(N * ls[t].h));
      o_e.push_back(take(N));
      o_w1.push_back(take(radial_cached(t) ? E * ls[t].w1 : 0));
      o_w2.push_back(take(radial_cached(t) ? E * ls[t].w2 : 0));
      o_de.push_back(take(E));
      o_mb.push_back(take(N * ls[t].mb));  // magmom_conv_tp's CG tensors contracted with the node's harmonics
      o_pw.push_back(take(N * ls[t].pw));  // the product block's tensor-product weights (own moment size)
      const bool global = !(fuse_last && t + 1 == L);  // the fused last layer keeps them per block
      o_d1.push_back(take(saved_act && global ? E * ls[t].d1 : 0));
      o_a.push_back(take(reverse_cache && global ? E * ls[t].a : 0));
      o_mbY.push_back(take(reverse_cache && global ? E * ls[t].mbY : 0));
      o_keep.push_back(take(keep_nodes ? N * ls[t].keep : 0));
    }
    // Every record is written before it is read: no fill (this runs on every evaluation).
    store.resize(o);
    scratch_size = 512;
    for (const auto& s : ls)
      scratch_size = std::max<std::size_t>(scratch_size, std::max({s.msg, s.w1, s.w2, s.h, s.up, s.a}) + 64);
    for (Scratch& sc : scratch) sc.sized = 0;
    ensure_scratch(std::max(1, threads));
  }
  // At least n scratch sets, each with the node-step buffers the current layout needs (the
  // thread count may grow between layout() and a later rebuild).
  std::size_t scratch_size = 512;
  void ensure_scratch(int n) {
    if (scratch.size() < static_cast<std::size_t>(n)) scratch.resize(n);
    for (Scratch& sc : scratch) {
      if (sc.sized >= scratch_size) continue;
      for (auto* v : {&sc.s1, &sc.s2, &sc.s3, &sc.s4, &sc.s5}) v->assign(scratch_size, 0.0);
      if (sc.fscratch.size() < 512) sc.fscratch.assign(512, 0.0);
      sc.sized = scratch_size;
    }
  }

  // Y(r̂) and the radial features (Bessel × polynomial envelope, radial.py) of an edge vector.
  template <class T>
  void edge_features(const T* r, T* Y, T* ef) const {
    const MaceModel& M = *m;
    M.edge_sh.apply(r, Y);
    const T len = sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
    const double p = M.cutoff_p;
    const T u = len / T(M.cutoff_rmax);
    const T env = (T(1.0) - T((p + 1.0) * (p + 2.0) / 2.0) * pow(u, p) + T(p * (p + 2.0)) * pow(u, p + 1.0) -
                   T(p * (p + 1.0) / 2.0) * pow(u, p + 2.0)) *
                  T(value(len) < M.cutoff_rmax ? 1.0 : 0.0);
    for (int k = 0; k < nb; ++k) ef[k] = T(M.bessel_pref) * (sin(T(M.bessel_w[k]) * len) / len) * env;
  }
  Vec3 edge_vector(std::size_t e) const { return pos[g.receiver[e]] - pos[g.sender[e]] + g.shift[e]; }

  // Edge geometry: Y(r̂) and the radial features of every edge, then per layer the density
  // term tanh(d²), d = density_fn(radial features) (GEMMs per block); d is kept for the
  // reverse pass.
  std::vector<std::vector<double>> dens_d;  // [layer][edge]
  void edge_geometry() {
    const MaceModel& M = *m;
    dens_d.resize(M.layers());
    for (auto& d : dens_d) d.resize(g.edges());
    for_edge_blocks([&](std::size_t, std::size_t, std::size_t e0, std::size_t e1, Scratch&) {
      for (std::size_t e = e0; e < e1; ++e) {
        const Vec3 r = edge_vector(e);
        edge_features(r.data(), at(o_Y + e * nsh), at(o_ef + e * nb));
      }
      const Eigen::Map<const FCNet::RowMat> X(at(o_ef + e0 * nb), static_cast<Eigen::Index>(e1 - e0), nb);
      for (int t = 0; t < M.layers(); ++t) {
        M.inter[t].dens.apply_batch(X, dens_d[t].data() + e0);
        for (std::size_t e = e0; e < e1; ++e) *at(o_de[t] + e) = std::tanh(dens_d[t][e] * dens_d[t][e]);
      }
    });
  }

  // Moment records of node v: Chebyshev features of 1 − 2(|m|/m_max)², solid harmonics, the
  // one-body energy (before scale).
  template <class T>
  void node_moment_t(int v, const T* mv, T* cheb, T* msh, T* ob) const {
    const MaceModel& M = *m;
    const int c = col[v];
    const T x = sqrt(mv[0] * mv[0] + mv[1] * mv[1] + mv[2] * mv[2]) / T(M.m_max[c]);
    const T tr = T(1.0) - T(2.0) * x * x;
    M.mag_cheb.apply(tr, cheb);
    M.mag_sh.apply(mv, msh);
    *ob = 0.0;
    if (M.onebody) {
      T b[64];
      M.onebody_cheb.apply(tr, b);
      T s = 0.0;
      for (int k = 0; k < M.onebody_cheb.n; ++k) s = s + b[k] * T(M.ob_coeff[c * M.onebody_cheb.n + k]);
      *ob = s - T(M.ob_corr[c]);
    }
  }
  void node_moment(int v, const Vec3& mv, double* cheb, double* msh, double* ob) const {
    node_moment_t(v, mv.data(), cheb, msh, ob);
  }

  // Inputs of the edges' radial networks, one row per edge: [radial features, sender's
  // magnitude features] (the same for every layer).
  FCNet::RowMat Xe;
  void edge_inputs() {
    Xe.resize(static_cast<Eigen::Index>(g.edges()), nb + nmc);
    for_edge_blocks([&](std::size_t, std::size_t, std::size_t e0, std::size_t e1, Scratch&) {
      for (std::size_t e = e0; e < e1; ++e) {
        for (int k = 0; k < nb; ++k) Xe(e, k) = *at(o_ef + e * nb + k);
        for (int k = 0; k < nmc; ++k) Xe(e, nb + k) = *at(o_cheb + g.sender[e] * nmc + k);
      }
    });
  }
  // Radial networks of edge e in layer t (inputs: radial features, sender's Chebyshev features).
  void edge_weights(int t, std::size_t e, const double* cheb_s, double* w1, double* w2, Scratch& sc) {
    const auto& I = m->inter[t];
    double in[128];
    std::copy(at(o_ef + e * nb), at(o_ef + e * nb) + nb, in);
    std::copy(cheb_s, cheb_s + nmc, in + nb);
    I.tpw.apply(in, w1, sc.fscratch.data());
    I.magw.apply(in, w2, sc.fscratch.data());
  }

  // Message of edge e in layer t: magmom_conv_tp(conv_tp(up_s, Y_e, w1), msh_s, w2), with the
  // sender's prepared magmom_conv_tp tensors mb_s. With a, mbY: conv_tp's output and its
  // prepared tensors are written there (the reverse cache).
  // On the channel-layout kernels (chan(t)), a is in that layout (to_chan); with out_chan, out
  // is too and the message is added to it (the forward pass sums a receiver's messages so and
  // turns the sum back once).
  void edge_message(int t, std::size_t e, const double* up_s, const double* mb_s, const double* w1, const double* w2,
                    double* out, Scratch& sc, double* a = nullptr, double* mbY = nullptr, bool out_chan = false) {
    const auto& I = m->inter[t];
    if (!a) a = sc.s5.data();
    if (!mbY) {
      sc.mbY.resize(I.conv.mb_size);
      mbY = sc.mbY.data();
    }
    I.conv.prepare(at(o_Y + e * nsh), mbY);
    if (chan(t)) {
      sc.upt.resize(I.conv.in1.dim);
      to_chan(I.conv.in1, up_s, sc.upt.data());
      I.conv.apply_chan(sc.upt.data(), mbY, w1, a);
      if (out_chan) {
        I.mconv.apply_chan(a, mb_s, w2, out, true);
      } else {
        sc.bt.resize(I.mconv.out.dim);
        I.mconv.apply_chan(a, mb_s, w2, sc.bt.data());
        from_chan(I.mconv.out, sc.bt.data(), out, false);
      }
      return;
    }
    I.conv.apply_prepared(up_s, mbY, w1, a);
    I.mconv.apply_prepared(a, mb_s, w2, out);
  }
  // Layer t's edge tensor products run on the channel layout (both have the kernels).
  bool chan(int t) const { return m->inter[t].conv.chan && m->inter[t].mconv.chan; }

  // Up-projection and skip connection of node v entering layer t, from its features h.
  void node_inputs(int t, int v, const double* h, double* up, double* sc) const {
    const auto& I = m->inter[t];
    I.up.apply(h, up);
    if (I.residue) {
      double onehot[16] = {0};
      onehot[col[v]] = 1.0;
      I.skip.apply(h, onehot, nullptr, sc);
    }
  }

  // Layer t at node v from its message sum and density: the new features h and the readout
  // energy (before scale).
  // keep: where to write what node_layer_backward reuses (null: nowhere).
  void node_layer(int t, int v, const double* msg, double den, const double* sc, const double* pw_v,
                  const double* msh_v, double* h, double* e, Scratch& s, double* keep = nullptr) {
    const MaceModel& M = *m;
    const auto& I = M.inter[t];
    const auto& P = M.prod[t];
    double onehot[16] = {0};
    onehot[col[v]] = 1.0;
    double* a = s.s1.data();
    double* b = s.s2.data();
    I.mlin.apply(msg, a);
    if (keep) std::copy(a, a + I.mlin.out.dim, keep);
    for (int k = 0; k < I.mlin.out.dim; ++k) a[k] /= den + 1.0;
    const double* target = a;
    if (!I.residue) {
      I.skip.apply(a, onehot, nullptr, b);
      target = b;
      if (keep) std::copy(b, b + I.target.dim, keep + I.mlin.out.dim);
    }
    // reshape_irreps: [channels, Σ(2l+1)]
    double* x = s.s3.data();
    const int C = I.target.mul[0], n = I.n;
    {
      int col0 = 0;
      for (int blk = 0; blk < I.target.size(); ++blk) {
        const int d = I.target.d(blk);
        for (int c = 0; c < C; ++c)
          for (int q = 0; q < d; ++q) x[c * n + col0 + q] = target[I.target.off[blk] + c * d + q];
        col0 += d;
      }
    }
    double* f = s.s4.data();
    P.sc.apply(x, col[v], f, s.sA, s.sB);
    if (keep) std::copy(f, f + P.sc.out.dim, keep + I.mlin.out.dim + (I.residue ? 0 : I.target.dim));
    double* o = s.s5.data();
    P.conv.apply(f, msh_v, pw_v, o);
    P.lin.apply(o, h);
    double* h2 = s.s1.data();
    P.lin_ori.apply(f, h2);
    for (int k = 0; k < P.lin.out.dim; ++k) h[k] += h2[k];
    if (P.use_sc && I.residue)
      for (int k = 0; k < P.lin.out.dim; ++k) h[k] += sc[k];
    // readout
    const auto& R = M.read[t];
    if (!R.nonlinear) {
      R.l1.apply(h, e);
    } else {
      double* z = s.s2.data();
      R.l1.apply(h, z);
      for (int k = 0; k < R.l1.out.dim; ++k) z[k] = R.act * z[k] / (1.0 + std::exp(-z[k]));
      R.l2.apply(z, e);
    }
  }

  double node_energy_of(int v, const double* e_layers, double ob) const {
    const MaceModel& M = *m;
    double s = 0.0;
    for (int t = 0; t < M.layers(); ++t) s += e_layers[t];
    if (M.onebody) s += ob;  // added to the last readout (extensions.py)
    return M.e0[col[v]] + M.scale * s + M.shift;
  }

  void set_geometry(const Graph& gg, const std::vector<Vec3>& position, const std::vector<int>& column) {
    g = gg;
    pos = position;
    col = column;
    if (pos.size() != g.nodes || col.size() != g.nodes) throw std::logic_error("MaceNativeEvaluator: sizes differ");
    for (int c : col)
      if (c < 0 || c >= m->species()) throw std::logic_error("MaceNativeEvaluator: bad species column");
    layout();
    out_offset.assign(g.nodes + 1, 0);
    for (std::size_t e = 0; e < g.edges(); ++e) ++out_offset[g.sender[e] + 1];
    for (std::size_t v = 0; v < g.nodes; ++v) out_offset[v + 1] += out_offset[v];
    out_edge.resize(g.edges());
    {
      std::vector<int> fill(out_offset.begin(), out_offset.end() - 1);
      for (std::size_t e = 0; e < g.edges(); ++e) out_edge[fill[g.sender[e]]++] = static_cast<int>(e);
    }
    rblock.assign(1, 0);
    while (rblock.back() < g.nodes) rblock.push_back(block_end(rblock.back()));
    edge_geometry();
    geometry = true;
    is_built = false;
    spare = spare_geometry = false;  // its records belong to the old geometry (or layout)
  }

  // The forward pass: a parallel region for the node records, one for the edges' radial-network
  // inputs, then one per layer (each receiver block sums its receivers' messages, then runs
  // their node step and their inputs of the next layer): few barriers, each a wake-up of the
  // threads.
  void rebuild(const std::vector<Vec3>& moment) {
    const MaceModel& M = *m;
    const std::size_t N = g.nodes;
    const int L = M.layers();
    if (moment.size() != N) throw std::logic_error("MaceNativeEvaluator: moments and graph differ");
    mom = moment;
    for_blocks(node_blocks(), [&](std::size_t b, Scratch& sc) {
      const std::size_t v0 = b * kNodeBlock, v1 = std::min(N, v0 + kNodeBlock);
      for (std::size_t v = v0; v < v1; ++v) {
        node_moment(static_cast<int>(v), mom[v], at(o_cheb + v * nmc), at(o_msh + v * nmsh), at(o_ob + v));
        for (int t = 0; t < L; ++t) M.inter[t].mconv.prepare(at(o_msh + v * nmsh), at(o_mb[t] + v * ls[t].mb));
        double onehot[16] = {0};
        onehot[col[v]] = 1.0;
        sc.gsum.resize(M.embedding.out.dim);
        M.embedding.apply(onehot, sc.gsum.data());
        node_inputs(0, static_cast<int>(v), sc.gsum.data(), at(o_up[0] + v * ls[0].up), at(o_sc[0] + v * ls[0].sc));
      }
      // the product blocks' radial networks
      const Eigen::Map<const FCNet::RowMat> X(at(o_cheb + v0 * nmc), static_cast<Eigen::Index>(v1 - v0), nmc);
      for (int t = 0; t < L; ++t) M.prod[t].w.apply_batch(X, at(o_pw[t] + v0 * ls[t].pw));
    });
    edge_inputs();
    for (int t = 0; t < L; ++t) {
      const LayerSizes& S = ls[t];
      const bool fused = fuse_last && t + 1 == L;
      for_edge_blocks([&](std::size_t v0, std::size_t v1, std::size_t e0, std::size_t e1, Scratch& sc) {
        const double *W1, *W2;
        double *D = nullptr, *A = nullptr, *MBY = nullptr;
        if (fused) {
          sc.d1blk.resize((e1 - e0) * S.d1);
          sc.ablk.resize((e1 - e0) * S.a);
          sc.mbYblk.resize((e1 - e0) * S.mbY);
          D = S.d1 ? sc.d1blk.data() : nullptr;
          A = sc.ablk.data();
          MBY = sc.mbYblk.data();
        } else {
          if (saved_act) D = at(o_d1[t] + e0 * S.d1);
          if (reverse_cache) {
            A = at(o_a[t] + e0 * S.a);
            MBY = at(o_mbY[t] + e0 * S.mbY);
          }
        }
        radial_block(t, e0, e1, sc, true, W1, W2, D);
        sc.b.resize(S.msg);
        const bool ch = chan(t);
        sc.msgt.resize(ch ? S.msg : 0);
        for (std::size_t v = v0; v < v1; ++v) {
          double* msg = at(o_msg[t] + v * S.msg);
          double* sum = ch ? sc.msgt.data() : msg;  // the channel layout's sum, turned back below
          std::fill(sum, sum + S.msg, 0.0);
          double den = 0.0;
          for (int e = g.offset[v]; e < g.offset[v + 1]; ++e) {
            const std::size_t s = g.sender[e], k = e - e0;
            edge_message(t, e, at(o_up[t] + s * S.up), at(o_mb[t] + s * S.mb), W1 + k * S.w1, W2 + k * S.w2,
                         ch ? sum : sc.b.data(), sc, A ? A + (e - e0) * S.a : nullptr,
                         MBY ? MBY + (e - e0) * S.mbY : nullptr, ch);
            if (!ch)
              for (int q = 0; q < S.msg; ++q) sum[q] += sc.b[q];
            den += *at(o_de[t] + e);
          }
          if (ch) from_chan(m->inter[t].mconv.out, sum, msg, false);
          *at(o_den[t] + v) = den;
        }
        for (std::size_t v = v0; v < v1; ++v) {
          double* h = at(o_h[t] + v * S.h);
          node_layer(t, static_cast<int>(v), at(o_msg[t] + v * S.msg), *at(o_den[t] + v), at(o_sc[t] + v * S.sc),
                     at(o_pw[t] + v * S.pw), at(o_msh + v * nmsh), h, at(o_e[t] + v), sc,
                     keep_nodes ? at(o_keep[t] + v * S.keep) : nullptr);
          if (t + 1 < L) {
            node_inputs(t + 1, static_cast<int>(v), h, at(o_up[t + 1] + v * ls[t + 1].up),
                        at(o_sc[t + 1] + v * ls[t + 1].sc));
          } else {
            double el[16];
            for (int q = 0; q < L; ++q) el[q] = *at(o_e[q] + v);
            *at(o_energy + v) = node_energy_of(static_cast<int>(v), el, *at(o_ob + v));
          }
        }
        if (fused) reverse_block(t, v0, v1, e0, e1, sc, W1, W2, A, MBY, D);
      });
    }
    is_built = true;
  }

  // ---- reverse mode (after rebuild) --------------------------------------------------------
  // Layer t's node step backwards at v: from gh = ∂E/∂h_t(v) (readout included here) to the
  // gradients of its message sum, density, skip connection and moment records. Recomputes the
  // forward intermediates.
  void node_layer_backward(int t, int v, const double* gh_in, double* g_msg, double* g_den, double* g_sc,
                           double* g_pw, double* g_msh, Scratch& s) {
    const MaceModel& M = *m;
    const auto& I = M.inter[t];
    const auto& P = M.prod[t];
    const auto& R = M.read[t];
    const LayerSizes& S = ls[t];
    const std::size_t vv = static_cast<std::size_t>(v);
    const double* msg = at(o_msg[t] + vv * S.msg);
    const double den = *at(o_den[t] + v);
    const double* msh_v = at(o_msh + vv * nmsh);
    const double* h = at(o_h[t] + vv * S.h);
    double onehot[16] = {0};
    onehot[col[v]] = 1.0;
    std::vector<double> gh(gh_in, gh_in + S.h);
    // readout: e_t = readout(h), weighted by scale in the node energy
    {
      std::vector<double> z(R.l1.out.dim), gz(R.l1.out.dim, 0.0);
      if (!R.nonlinear) {
        double one = M.scale;
        R.l1.backward(&one, gh.data());
      } else {
        R.l1.apply(h, z.data());
        double one = M.scale;
        R.l2.backward(&one, gz.data());
        for (int k = 0; k < R.l1.out.dim; ++k) {
          const double sg = 1.0 / (1.0 + std::exp(-z[k]));
          gz[k] *= R.act * (sg + z[k] * sg * (1.0 - sg));
        }
        R.l1.backward(gz.data(), gh.data());
      }
    }
    // forward intermediates
    std::vector<double> a0(I.mlin.out.dim), a(I.mlin.out.dim), tg(I.target.dim), x(I.target.mul[0] * I.n),
        f(P.sc.out.dim);
    const double* w = at(o_pw[t] + vv * S.pw);
    const double* keep = keep_nodes ? at(o_keep[t] + vv * S.keep) : nullptr;
    if (keep) std::copy(keep, keep + I.mlin.out.dim, a0.begin());
    else I.mlin.apply(msg, a0.data());
    for (int k = 0; k < I.mlin.out.dim; ++k) a[k] = a0[k] / (den + 1.0);
    if (I.residue) tg = a;
    else if (keep) std::copy(keep + I.mlin.out.dim, keep + I.mlin.out.dim + I.target.dim, tg.begin());
    else I.skip.apply(a.data(), onehot, nullptr, tg.data());
    const int C = I.target.mul[0], n = I.n;
    auto reshape = [&](const double* src, double* dst, bool inverse) {
      int col0 = 0;
      for (int blk = 0; blk < I.target.size(); ++blk) {
        const int d = I.target.d(blk);
        for (int c = 0; c < C; ++c)
          for (int q = 0; q < d; ++q) {
            double& flat = inverse ? dst[I.target.off[blk] + c * d + q] : dst[c * n + col0 + q];
            const double val = inverse ? src[c * n + col0 + q] : src[I.target.off[blk] + c * d + q];
            flat += val;
          }
        col0 += d;
      }
    };
    std::fill(x.begin(), x.end(), 0.0);
    reshape(tg.data(), x.data(), false);
    if (keep) {
      const double* kf = keep + I.mlin.out.dim + (I.residue ? 0 : I.target.dim);
      std::copy(kf, kf + P.sc.out.dim, f.begin());
    } else {
      P.sc.apply(x.data(), col[v], f.data(), s.sA, s.sB);
    }
    // h = lin(o) + lin_ori(f) + sc
    std::vector<double> go(P.conv.out.dim, 0.0), gf(P.sc.out.dim, 0.0);
    P.lin.backward(gh.data(), go.data());
    P.lin_ori.backward(gh.data(), gf.data());
    if (P.use_sc && I.residue && g_sc)
      for (int k = 0; k < S.h; ++k) g_sc[k] += gh[k];
    P.conv.backward(f.data(), msh_v, w, go.data(), gf.data(), g_msh, g_pw);
    std::vector<double> gx(x.size(), 0.0), gtg(I.target.dim, 0.0), ga(I.mlin.out.dim, 0.0);
    P.sc.backward(x.data(), col[v], gf.data(), gx.data());
    reshape(gx.data(), gtg.data(), true);
    if (I.residue) ga = gtg;
    else I.skip.backward(a.data(), onehot, nullptr, gtg.data(), ga.data(), nullptr, nullptr);
    std::vector<double> ga0(ga.size());
    double gd = 0.0;
    for (std::size_t k = 0; k < ga.size(); ++k) {
      ga0[k] = ga[k] / (den + 1.0);
      gd -= ga[k] * a0[k] / ((den + 1.0) * (den + 1.0));
    }
    *g_den += gd;
    I.mlin.backward(ga0.data(), g_msg);
  }

  // ∂E/∂(positions), ∂E/∂(moments) and W = −Σ_e r_e ⊗ ∂E/∂r_e of the total energy. What edges
  // give their senders (∂/∂ up-projection, ∂/∂ moment harmonics, ∂/∂ Chebyshev features,
  // −∂E/∂r) is written to per-edge slots by the receiver blocks and gathered per sender in
  // edge order, so no sum depends on which thread ran which block. Two parallel regions per
  // layer: receiver blocks (their node steps backwards, then their edges), then nodes (the
  // gathers and the layer's node inputs backwards); and one at the end (forces, virial parts,
  // magnetic forces per node).
  // Layer t's reverse pass in the receiver block [v0, v1) (edges [e0, e1)): the receivers' node
  // steps, the product blocks' radial networks of those nodes, then the block's edges, with
  // the radial networks' outputs W1, W2 and, where kept, conv_tp's outputs A, its prepared
  // tensors MBY and act′ of conv_tp_weights D1 (block rows from e0; null: recomputed).
  void reverse_block(int t, std::size_t v0, std::size_t v1, std::size_t e0, std::size_t e1, Scratch& sc,
                     const double* W1, const double* W2, const double* A, const double* MBY, const double* D1) {
    const MaceModel& M = *m;
    const LayerSizes& S = ls[t];
    const auto& I = M.inter[t];
    // the receivers' node steps, then the product blocks' radial networks of those nodes
    const Eigen::Index nv = static_cast<Eigen::Index>(v1 - v0);
    sc.GD.setZero(nv, S.pw);  // ∂E/∂(product tensor-product weights) of the receivers
    for (std::size_t v = v0; v < v1; ++v)
      node_layer_backward(t, static_cast<int>(v), rv.gh.data() + v * S.h, rv.g_msg.data() + v * S.msg, &rv.g_den[v],
                          S.sc ? rv.g_sc.data() + v * S.sc : nullptr, sc.GD.data() + (v - v0) * S.pw,
                          rv.g_msh.data() + v * nmsh, sc);
    {
      const Eigen::Map<const FCNet::RowMat> X(at(o_cheb + v0 * nmc), nv, nmc);
      sc.GX.setZero(nv, nmc);
      M.prod[t].w.backward_batch(X, sc.GD, sc.GX);
      for (std::size_t v = v0; v < v1; ++v)
        for (int k = 0; k < nmc; ++k) rv.g_cheb[v * nmc + k] += sc.GX(static_cast<Eigen::Index>(v - v0), k);
    }
    // the edges of those receivers
    const Eigen::Index nblk = static_cast<Eigen::Index>(e1 - e0);
    sc.GW1.setZero(nblk, S.w1);
    sc.GW2.setZero(nblk, S.w2);
    sc.GD.resize(nblk, 1);
    sc.a.resize(I.conv.out.dim);
    sc.ga.resize(I.conv.out.dim);
    sc.mbY.resize(I.conv.mb_size);
    const bool ch = chan(t);
    if (ch) {
      sc.upt.resize(I.conv.in1.dim);
      sc.gupt.resize(I.conv.in1.dim);
      sc.gbt.resize(I.mconv.out.dim);
    }
    std::size_t gbt_of = static_cast<std::size_t>(-1);  // the receiver whose gradient is in sc.gbt
    for (std::size_t e = e0; e < e1; ++e) {
      double* gw1 = sc.GW1.data() + (e - e0) * S.w1;
      double* gw2 = sc.GW2.data() + (e - e0) * S.w2;
      const std::size_t sd = g.sender[e], r = g.receiver[e];
      const double* up_s = at(o_up[t] + sd * S.up);
      const double* msh_s = at(o_msh + sd * nmsh);
      const double* w1 = W1 + (e - e0) * S.w1;
      const double* w2 = W2 + (e - e0) * S.w2;
      const double* Y = at(o_Y + e * nsh);
      const double *a, *mbY;
      if (A) {  // conv_tp's output as the forward pass computed it
        a = A + (e - e0) * S.a;
        mbY = MBY + (e - e0) * S.mbY;
      } else {
        I.conv.prepare(Y, sc.mbY.data());
        if (ch) {
          to_chan(I.conv.in1, up_s, sc.upt.data());
          I.conv.apply_chan(sc.upt.data(), sc.mbY.data(), w1, sc.a.data());
        } else {
          I.conv.apply_prepared(up_s, sc.mbY.data(), w1, sc.a.data());
        }
        a = sc.a.data();
        mbY = sc.mbY.data();
      }
      std::fill(sc.ga.begin(), sc.ga.end(), 0.0);
      double* gup = rv.g_up_e.data() + e * S.up;
      double* gmsh = rv.g_msh_e.data() + e * nmsh;
      std::fill(gmsh, gmsh + nmsh, 0.0);
      const double* gb = rv.g_msg.data() + r * S.msg;
      if (ch) {  // a, ga and the receiver's gradient in the channel layout
        if (gbt_of != r) {
          to_chan(I.mconv.out, gb, sc.gbt.data());
          gbt_of = r;
        }
        to_chan(I.conv.in1, up_s, sc.upt.data());
        std::fill(sc.gupt.begin(), sc.gupt.end(), 0.0);
        I.mconv.backward_chan(a, msh_s, w2, sc.gbt.data(), sc.ga.data(), gmsh, gw2, at(o_mb[t] + sd * S.mb));
        I.conv.backward_chan(sc.upt.data(), Y, w1, sc.ga.data(), sc.gupt.data(), rv.g_Y.data() + e * nsh, gw1, mbY);
        from_chan(I.conv.in1, sc.gupt.data(), gup, false);
      } else {
        std::fill(gup, gup + S.up, 0.0);
        I.mconv.backward(a, msh_s, w2, gb, sc.ga.data(), gmsh, gw2, at(o_mb[t] + sd * S.mb));
        I.conv.backward(up_s, Y, w1, sc.ga.data(), gup, rv.g_Y.data() + e * nsh, gw1, mbY);
      }
      // density: tanh(d²), d = density_fn(ef)
      const double d = dens_d[t][e], th = *at(o_de[t] + e);
      sc.GD(static_cast<Eigen::Index>(e - e0), 0) = rv.g_den[r] * (1.0 - th * th) * 2.0 * d;
    }
    // the radial networks of the block's edges, then the density network
    const auto X = Xe.middleRows(static_cast<Eigen::Index>(e0), nblk);
    sc.GX.setZero(nblk, nb + nmc);
    if (D1) I.tpw.backward_saved(sc.GW1, D1, sc.GX);
    else I.tpw.backward_batch(X, sc.GW1, sc.GX);
    I.magw.backward_batch(X, sc.GW2, sc.GX);
    sc.GE.setZero(nblk, nb);
    I.dens.backward_batch(X.leftCols(nb), sc.GD, sc.GE);
    for (std::size_t e = e0; e < e1; ++e) {
      const Eigen::Index q = static_cast<Eigen::Index>(e - e0);
      for (int k = 0; k < nb; ++k) rv.g_ef[e * nb + k] += sc.GX(q, k) + sc.GE(q, k);
      for (int k = 0; k < nmc; ++k) rv.g_cheb_e[e * nmc + k] += sc.GX(q, nb + k);
    }
    if (t == 0) edge_gradients(e0, e1, rv.g_Y, rv.g_ef, rv.gr);  // the block's edges are complete
  }

  // After layer t's blocks: the gathers per sender and the layer's node inputs backwards.
  void reverse_gather(int t) {
    const MaceModel& M = *m;
    const std::size_t N = g.nodes;
    const LayerSizes& S = ls[t];
    const auto& I = M.inter[t];
    // per sender, in edge order: ∂/∂ moment harmonics and ∂/∂ up-projection; then this
    // layer's node inputs backwards: up = linear_up(h), sc = skip_tp(h, onehot) (the output of
    // layer t−1 also feeds its own readout: node_layer_backward adds it)
    std::vector<double> ghp(t > 0 ? N * ls[t - 1].h : 0, 0.0);
    for_node_blocks([&](std::size_t v, Scratch& sc) {
      sc.gsum.assign(nmsh, 0.0);
      for (const int* p = out_begin(v); p != out_end(v); ++p) {
        const double* x = rv.g_msh_e.data() + static_cast<std::size_t>(*p) * nmsh;
        for (int k = 0; k < nmsh; ++k) sc.gsum[k] += x[k];
      }
      for (int k = 0; k < nmsh; ++k) rv.g_msh[v * nmsh + k] += sc.gsum[k];
      if (t == 0) return;
      double* gu = rv.g_up.data() + v * S.up;
      for (const int* p = out_begin(v); p != out_end(v); ++p) {
        const double* x = rv.g_up_e.data() + static_cast<std::size_t>(*p) * S.up;
        for (int k = 0; k < S.up; ++k) gu[k] += x[k];
      }
      const LayerSizes& Sp = ls[t - 1];
      I.up.backward(gu, ghp.data() + v * Sp.h);
      if (I.residue) {
        double onehot[16] = {0};
        onehot[col[v]] = 1.0;
        I.skip.backward(at(o_h[t - 1] + v * Sp.h), onehot, nullptr, rv.g_sc.data() + v * S.sc, ghp.data() + v * Sp.h,
                        nullptr, nullptr);
      }
    });
    rv.gh.swap(ghp);
  }

  // The reverse pass's state (full evaluations with derivatives).
  struct Reverse {
    std::vector<double> g_cheb, g_msh, g_Y, g_ef, gh;
    // per edge, summed over layers: ∂E/∂(sender's Chebyshev features) through the edge's radial
    // networks
    std::vector<double> g_cheb_e;
    std::vector<Vec3> gr;  // ∂E/∂r_e
    // layer t's; g_up_e and g_msh_e per edge, gathered per sender: ∂/∂ up-projection, ∂/∂
    // moment harmonics through magmom_conv_tp (contracted with the CG tensors per edge: nmsh
    // numbers per edge instead of the prepared tensors' mb, fewer operations than gathering
    // those, and 30 MB less at 432 atoms for the fixture)
    std::vector<double> g_msg, g_den, g_sc, g_up, g_up_e, g_msh_e;
  } rv;
  // The last layer's reverse pass needs only its own forward records (its features feed the
  // readout alone), so with derivatives it runs in the forward pass's blocks, while the radial
  // networks' outputs and conv_tp's outputs of the block are at hand (nothing recomputed, and
  // no per-edge cache for that layer).
  bool fuse_last = false;
  void reverse_start() {
    const std::size_t N = g.nodes, E = g.edges();
    rv.g_cheb.assign(N * nmc, 0.0);
    rv.g_msh.assign(N * nmsh, 0.0);
    rv.g_Y.assign(E * nsh, 0.0);
    rv.g_ef.assign(E * nb, 0.0);
    rv.g_cheb_e.assign(E * nmc, 0.0);
    rv.gr.assign(E, Vec3::Zero());
    rv.gh.assign(N * ls[m->layers() - 1].h, 0.0);
  }
  void reverse_layer_start(int t) {
    const std::size_t N = g.nodes, E = g.edges();
    const LayerSizes& S = ls[t];
    rv.g_msg.assign(N * S.msg, 0.0);
    rv.g_den.assign(N, 0.0);
    rv.g_sc.assign(N * S.sc, 0.0);
    rv.g_up.assign(N * S.up, 0.0);
    rv.g_up_e.resize(E * S.up);  // every entry written by its edge
    rv.g_msh_e.resize(E * nmsh);
  }

  // ∂E/∂(positions), ∂E/∂(moments) and W = −Σ_e r_e ⊗ ∂E/∂r_e of the total energy. What edges
  // give their senders (∂/∂ up-projection, ∂/∂ moment harmonics, ∂/∂ Chebyshev features,
  // −∂E/∂r) is written to per-edge slots by the receiver blocks and gathered per sender in
  // edge order, so no sum depends on which thread ran which block. Two parallel regions per
  // layer: receiver blocks (their node steps backwards, then their edges), then nodes (the
  // gathers and the layer's node inputs backwards); and one at the end (forces, virial parts,
  // magnetic forces per node). With fuse_last the last layer's blocks ran in rebuild().
  void backward(std::vector<Vec3>& dEdpos, std::vector<Vec3>& dEdm, Mat3& virial) {
    const MaceModel& M = *m;
    const std::size_t N = g.nodes;
    const int L = M.layers();
    if (!fuse_last) reverse_start();
    for (int t = L - 1; t >= 0; --t) {
      const LayerSizes& S = ls[t];
      if (!(fuse_last && t == L - 1)) {
        reverse_layer_start(t);
        for_edge_blocks([&](std::size_t v0, std::size_t v1, std::size_t e0, std::size_t e1, Scratch& sc) {
          const double *W1, *W2;
          radial_block(t, e0, e1, sc, false, W1, W2);
          reverse_block(t, v0, v1, e0, e1, sc, W1, W2, reverse_cache ? at(o_a[t] + e0 * S.a) : nullptr,
                        reverse_cache ? at(o_mbY[t] + e0 * S.mbY) : nullptr,
                        saved_act ? at(o_d1[t] + e0 * S.d1) : nullptr);
        });
      }
      reverse_gather(t);
    }
    dEdpos.assign(N, Vec3::Zero());
    dEdm.assign(N, Vec3::Zero());
    std::vector<Mat3> wv(N);  // per receiver: −Σ over its edges of r_e ⊗ ∂E/∂r_e
    for_node_blocks([&](std::size_t v, Scratch&) {
      Vec3 f = Vec3::Zero();
      Mat3 w = Mat3::Zero();
      for (int e = g.offset[v]; e < g.offset[v + 1]; ++e) {
        f += rv.gr[e];
        w -= edge_vector(e) * rv.gr[e].transpose();
      }
      for (const int* p = out_begin(v); p != out_end(v); ++p) {
        f -= rv.gr[*p];
        for (int k = 0; k < nmc; ++k) rv.g_cheb[v * nmc + k] += rv.g_cheb_e[static_cast<std::size_t>(*p) * nmc + k];
      }
      dEdpos[v] = f;
      wv[v] = w;
      Dual mv[3];
      for (int k = 0; k < 3; ++k) {
        mv[k] = Dual(mom[v][k]);
        mv[k].d[k] = 1.0;
      }
      Dual cd[64], md[64], ob;
      node_moment_t(static_cast<int>(v), mv, cd, md, &ob);
      for (int c = 0; c < 3; ++c) {
        double s = M.onebody ? M.scale * ob.d[c] : 0.0;
        for (int k = 0; k < nmc; ++k) s += rv.g_cheb[v * nmc + k] * cd[k].d[c];
        for (int k = 0; k < nmsh; ++k) s += rv.g_msh[v * nmsh + k] * md[k].d[c];
        dEdm[v][c] = s;
      }
    });
    virial.setZero();
    for (std::size_t v = 0; v < N; ++v) virial += wv[v];  // node order
  }


  // ∂E/∂r_e of edges [e0, e1) from the gradients of their Y(r̂) and radial features (dual
  // numbers seeded with the edge vector).
  void edge_gradients(std::size_t e0, std::size_t e1, const std::vector<double>& g_Y, const std::vector<double>& g_ef,
                      std::vector<Vec3>& gr) const {
    Dual Yd[64], efd[64];
    for (std::size_t e = e0; e < e1; ++e) {
      const Vec3 r = edge_vector(e);
      Dual rd[3];
      for (int k = 0; k < 3; ++k) {
        rd[k] = Dual(r[k]);
        rd[k].d[k] = 1.0;
      }
      edge_features(rd, Yd, efd);
      Vec3 x = Vec3::Zero();
      for (int k = 0; k < nsh; ++k)
        for (int c = 0; c < 3; ++c) x[c] += g_Y[e * nsh + k] * Yd[k].d[c];
      for (int k = 0; k < nb; ++k)
        for (int c = 0; c < 3; ++c) x[c] += g_ef[e * nb + k] * efd[k].d[c];
      gr[e] = x;
    }
  }

  // ---- the trial ----
  // Nodes touched by a trial get a slot: their readout energies (per layer) after the move.
  std::vector<int> slot, touched, rpos;
  std::vector<double> e_new;                    // [slot, layer]
  std::vector<double> new_cheb, new_msh, mb_i, pw_i;  // the site's moment records
  std::vector<std::pair<std::size_t, std::vector<double>>> pend;  // patches of this trial

  int slot_of(int v) {
    if (slot[v] < 0) {
      slot[v] = static_cast<int>(touched.size());
      touched.push_back(v);
      const int L = m->layers();
      for (int t = 0; t < L; ++t) e_new.push_back(*at(o_e[t] + v));
    }
    return slot[v];
  }

  // ΔE of moving moment i to mnew. Layer by layer: the message sums that change are those of
  // the receivers of the site's edges (its moment records and radial-network inputs changed:
  // new message minus old) and of the edges of nodes whose up-projection changed at the
  // previous layer (the message is linear in the sender's up-projection, so the change is the
  // message of the difference, with the cached radial-network outputs). Layer outputs are
  // recomputed at those receivers, at the nodes whose skip connection changed and at the site.
  double trial(int i, const Vec3& mnew, Trial& T) {
    const MaceModel& M = *m;
    const int L = M.layers();
    if (slot.size() != g.nodes) slot.assign(g.nodes, -1);
    if (rpos.size() != g.nodes) rpos.assign(g.nodes, -1);
    touched.clear();
    e_new.clear();
    pend.clear();
    new_cheb.resize(nmc);
    new_msh.resize(nmsh);
    double ob_new;
    node_moment(i, mnew, new_cheb.data(), new_msh.data(), &ob_new);
    const std::vector<int> oe(out_begin(i), out_end(i));
    Scratch& sc = scratch[0];  // the trial runs on the calling thread
    std::vector<int> upd;                     // nodes whose layer-t inputs changed
    std::vector<std::vector<double>> upd_rec; // [Δup | new up | new sc]
    std::vector<double> bn, bo, w1, w2;
    for (int t = 0; t < L; ++t) {
      const LayerSizes& S = ls[t];
      std::vector<int> recv;
      std::vector<std::vector<double>> msg;
      auto recv_index = [&](int r) {
        if (rpos[r] < 0) {
          rpos[r] = static_cast<int>(recv.size());
          recv.push_back(r);
          const double* old = at(o_msg[t] + static_cast<std::size_t>(r) * S.msg);
          msg.emplace_back(old, old + S.msg);
        }
        return rpos[r];
      };
      bn.resize(S.msg);
      bo.resize(S.msg);
      w1.resize(oe.size() * S.w1);
      w2.resize(oe.size() * S.w2);
      const double* up_old_i = at(o_up[t] + static_cast<std::size_t>(i) * S.up);
      const double* up_new_i = up_old_i;
      for (std::size_t k = 0; k < upd.size(); ++k)
        if (upd[k] == i) up_new_i = upd_rec[k].data() + S.up;
      mb_i.resize(S.mb);
      M.inter[t].mconv.prepare(new_msh.data(), mb_i.data());
      pend.emplace_back(o_mb[t] + static_cast<std::size_t>(i) * S.mb, mb_i);
      pw_i.resize(S.pw);
      M.prod[t].w.apply(new_cheb.data(), pw_i.data(), sc.fscratch.data());
      pend.emplace_back(o_pw[t] + static_cast<std::size_t>(i) * S.pw, pw_i);
      for (std::size_t k = 0; k < oe.size(); ++k) {
        const int e = oe[k];
        edge_weights(t, e, new_cheb.data(), w1.data() + k * S.w1, w2.data() + k * S.w2, sc);
        edge_message(t, e, up_new_i, mb_i.data(), w1.data() + k * S.w1, w2.data() + k * S.w2, bn.data(), sc);
        edge_message(t, e, up_old_i, at(o_mb[t] + static_cast<std::size_t>(i) * S.mb), at(o_w1[t] + e * S.w1),
                     at(o_w2[t] + e * S.w2), bo.data(), sc);
        std::vector<double>& mm = msg[recv_index(static_cast<int>(g.receiver[e]))];
        for (int c = 0; c < S.msg; ++c) mm[c] += bn[c] - bo[c];
        pend.emplace_back(o_w1[t] + e * S.w1, std::vector<double>(w1.begin() + k * S.w1, w1.begin() + (k + 1) * S.w1));
        pend.emplace_back(o_w2[t] + e * S.w2, std::vector<double>(w2.begin() + k * S.w2, w2.begin() + (k + 1) * S.w2));
      }
      for (std::size_t k = 0; k < upd.size(); ++k) {
        const int s = upd[k];
        if (s == i) continue;
        for (const int* p = out_begin(s); p != out_end(s); ++p) {
          const int e = *p;
          edge_message(t, e, upd_rec[k].data(), at(o_mb[t] + static_cast<std::size_t>(s) * S.mb), at(o_w1[t] + e * S.w1),
                       at(o_w2[t] + e * S.w2), bn.data(), sc);
          std::vector<double>& mm = msg[recv_index(static_cast<int>(g.receiver[e]))];
          for (int c = 0; c < S.msg; ++c) mm[c] += bn[c];
        }
      }
      recv_index(i);
      for (int v : upd) recv_index(v);
      std::vector<int> next;
      std::vector<std::vector<double>> next_rec;
      std::vector<double> h(S.h);
      for (std::size_t q = 0; q < recv.size(); ++q) {
        const int v = recv[q];
        const std::size_t vv = static_cast<std::size_t>(v);
        const double* pw_v = v == i ? pw_i.data() : at(o_pw[t] + vv * S.pw);
        const double* msh_v = v == i ? new_msh.data() : at(o_msh + vv * nmsh);
        const double* sc_v = at(o_sc[t] + vv * S.sc);
        for (std::size_t k = 0; k < upd.size(); ++k)
          if (upd[k] == v) sc_v = upd_rec[k].data() + 2 * S.up;
        double e;
        node_layer(t, v, msg[q].data(), *at(o_den[t] + v), sc_v, pw_v, msh_v, h.data(), &e, sc);
        e_new[static_cast<std::size_t>(slot_of(v)) * L + t] = e;
        pend.emplace_back(o_msg[t] + vv * S.msg, msg[q]);
        pend.emplace_back(o_h[t] + vv * S.h, h);
        pend.emplace_back(o_e[t] + vv, std::vector<double>{e});
        if (t + 1 < L) {
          const LayerSizes& S2 = ls[t + 1];
          std::vector<double> rec(2 * S2.up + S2.sc);
          node_inputs(t + 1, v, h.data(), rec.data() + S2.up, rec.data() + 2 * S2.up);
          const double* up_old = at(o_up[t + 1] + vv * S2.up);
          for (int c = 0; c < S2.up; ++c) rec[c] = rec[S2.up + c] - up_old[c];
          pend.emplace_back(o_up[t + 1] + vv * S2.up, std::vector<double>(rec.begin() + S2.up, rec.begin() + 2 * S2.up));
          if (S2.sc > 0)
            pend.emplace_back(o_sc[t + 1] + vv * S2.sc, std::vector<double>(rec.begin() + 2 * S2.up, rec.end()));
          next.push_back(v);
          next_rec.push_back(std::move(rec));
        }
      }
      for (int v : recv) rpos[v] = -1;
      upd = std::move(next);
      upd_rec = std::move(next_rec);
    }
    slot_of(i);
    T.site = i;
    T.moment = mnew;
    T.offset.clear();
    T.length.clear();
    T.value.clear();
    T.energy_node.clear();
    T.energy.clear();
    double de = 0.0;
    for (int v : touched) {
      const double ob = v == i ? ob_new : *at(o_ob + v);
      const double enew = node_energy_of(v, e_new.data() + static_cast<std::size_t>(slot[v]) * L, ob);
      T.energy_node.push_back(v);
      T.energy.push_back(enew);
      de += enew - *at(o_energy + v);
      patch(T, o_energy + v, &enew, 1);
    }
    patch(T, o_cheb + static_cast<std::size_t>(i) * nmc, new_cheb.data(), nmc);
    patch(T, o_msh + static_cast<std::size_t>(i) * nmsh, new_msh.data(), nmsh);
    patch(T, o_ob + i, &ob_new, 1);
    for (const auto& p : pend) patch(T, p.first, p.second.data(), p.second.size());
    for (int v : touched) slot[v] = -1;
    touched.clear();
    return de;
  }

  static void patch(Trial& T, std::size_t off, const double* v, std::size_t n) {
    T.offset.push_back(off);
    T.length.push_back(n);
    T.value.insert(T.value.end(), v, v + n);
  }
  void commit(const Trial& T) {
    std::size_t q = 0;
    for (std::size_t k = 0; k < T.offset.size(); ++k) {
      std::copy(T.value.begin() + q, T.value.begin() + q + T.length[k], store.begin() + T.offset[k]);
      q += T.length[k];
    }
    mom[T.site] = T.moment;
  }
};

MaceNativeEvaluator::MaceNativeEvaluator(const MaceArchive& archive)
    : model_(build_model(archive)), impl_(std::make_unique<Impl>()) {
  impl_->m = model_.get();
  model_->set_simd(!mace_portable_kernels_forced() && mace_simd_available());
}

bool mace_simd_available() { return cpu_has_avx2_fma(); }
bool mace_portable_kernels_forced() {
  const char* v = std::getenv("SPINLAT_PORTABLE_KERNELS");
  return v && *v && std::string(v) != "0";
}
void MaceNativeEvaluator::set_portable_kernels(bool portable) {
  const bool simd = !portable && mace_simd_available();
  if (simd == model_->simd) return;
  model_->set_simd(simd);
  impl_->is_built = false;  // the Monte Carlo cache was computed with the other kernels
  impl_->spare = false;
}
const char* MaceNativeEvaluator::kernels() const { return model_->simd ? "avx2+fma" : "portable"; }
MaceNativeEvaluator::MaceNativeEvaluator(const std::string& path) : MaceNativeEvaluator(read_mace_archive(path)) {}
MaceNativeEvaluator::~MaceNativeEvaluator() = default;

const std::vector<int>& MaceNativeEvaluator::atomic_numbers() const { return model_->Z; }
void MaceNativeEvaluator::set_threads(int n) { threads_ = std::max(0, n); }
void MaceNativeEvaluator::set_cache_bytes(double bytes) { cache_bytes_ = std::max(0.0, bytes); }
int MaceNativeEvaluator::threads() const { return threads_ > 0 ? threads_ : omp_get_max_threads(); }
// Threads for a full evaluation (results do not depend on it): one for a graph too small to
// share (a parallel region's start-up would cost more than it saves); set_threads(n > 0): n;
// else OpenMP's count, but no more than the cores free right now (available less the other
// runnable tasks, /proc/loadavg): a thread that shares its core with another job holds up
// every barrier of the evaluation, so on a busy machine two threads are slower than one.
int MaceNativeEvaluator::full_threads(const Graph& g) const {
  if (g.edges() < 4u * 128u) return 1;
  if (threads_ > 0) return threads_;
  return std::clamp(available_cores() - busy_cores(), 1, std::max(1, omp_get_max_threads()));
}
double MaceNativeEvaluator::r_max() const { return model_->r_max; }
int MaceNativeEvaluator::interactions() const { return model_->layers(); }

std::vector<double> MaceNativeEvaluator::node_energies(const Graph& g, const std::vector<Vec3>& position,
                                                       const std::vector<Vec3>& moment,
                                                       const std::vector<int>& column) const {
  if (!work_) work_ = std::make_unique<Impl>();  // reused: its buffers keep their memory
  Impl& local = *work_;
  local.m = model_.get();
  local.threads = full_threads(g);
  local.radial_cache_bytes = cache_bytes_;
  local.radial_cache = false;  // energies only: no reverse pass reads them
  local.fuse_last = false;
  local.choose_reverse_caches(g.edges(), false);
  local.keep_nodes = false;
  local.set_geometry(g, position, column);
  local.rebuild(moment);
  return std::vector<double>(local.store.begin() + local.o_energy, local.store.begin() + local.o_energy + g.nodes);
}

MaceNativeResult MaceNativeEvaluator::evaluate(const Graph& g, const std::vector<Vec3>& position,
                                               const std::vector<Vec3>& moment, const std::vector<int>& column,
                                               bool derivatives) const {
  if (!work_) work_ = std::make_unique<Impl>();
  Impl& local = *work_;
  local.m = model_.get();
  local.threads = full_threads(g);
  local.radial_cache_bytes = local.reverse_cache_bytes = cache_bytes_;
  local.fuse_last = derivatives;
  // Kept for the reverse pass (energies only: no reverse pass; large models: memory); never
  // the fused last layer's.
  local.radial_cache = derivatives && local.small_radial_cache(g.edges());
  local.choose_reverse_caches(g.edges(), derivatives);
  local.keep_nodes = derivatives;
  local.set_geometry(g, position, column);
  if (derivatives) {  // the last layer's reverse pass runs inside rebuild()
    local.reverse_start();
    local.reverse_layer_start(model_->layers() - 1);
  }
  local.rebuild(moment);
  MaceNativeResult r;
  r.node_energy.assign(local.store.begin() + local.o_energy, local.store.begin() + local.o_energy + g.nodes);
  if (derivatives) {
    std::vector<Vec3> dEdr, dEdm;
    local.backward(dEdr, dEdm, r.virial);
    r.force.resize(g.nodes);
    r.magnetic_force.resize(g.nodes);
    for (std::size_t i = 0; i < g.nodes; ++i) {
      r.force[i] = -dEdr[i];
      r.magnetic_force[i] = -dEdm[i];
    }
  }
  return r;
}

void MaceNativeEvaluator::set_geometry(const Graph& g, const std::vector<Vec3>& position, const std::vector<int>& column) {
  impl_->threads = full_threads(g);
  impl_->set_geometry(g, position, column);
}
bool MaceNativeEvaluator::has_geometry() const { return impl_->geometry; }
void MaceNativeEvaluator::rebuild(const System& s) {
  std::vector<Vec3> m(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) m[i] = s.moment_vector(i);
  rebuild(m);
}
void MaceNativeEvaluator::rebuild(const std::vector<Vec3>& moment) {
  Impl& m = *impl_;
  if (!m.geometry) throw std::logic_error("MaceNativeEvaluator::rebuild before set_geometry");
  if (m.is_built && m.spare && m.spare_mom == moment) {  // the previous configuration: swap it back
    m.swap_spare();
    return;
  }
  if (m.is_built && 8.0 * static_cast<double>(m.store.size()) <= Impl::kSpareBytes) {
    if (!m.spare_geometry) {  // the geometry records, in both arrays from now on
      m.spare_store = m.store;
      m.spare_geometry = true;
    }
    m.swap_spare();  // the current records become the spare; rebuild() writes the others
    m.spare = true;
  } else {
    m.spare = false;
  }
  m.threads = full_threads(m.g);
  m.rebuild(moment);
  ++m.full_rebuilds;
}
std::size_t MaceNativeEvaluator::full_rebuilds() const { return impl_->full_rebuilds; }
bool MaceNativeEvaluator::built() const { return impl_->is_built; }
const std::vector<double>& MaceNativeEvaluator::node_energy() const {
  std::vector<double>& e = impl_->energy_view;  // the cached energies, copied out of the store
  e.assign(impl_->store.begin() + impl_->o_energy, impl_->store.begin() + impl_->o_energy + impl_->g.nodes);
  return e;
}
Vec3 MaceNativeEvaluator::moment(int v) const { return impl_->mom.at(v); }
bool MaceNativeEvaluator::fresh_around(const System& s, int i) {
  const std::vector<int> d = hop_distance(impl_->g, i, 2 * model_->layers());
  for (std::size_t v = 0; v < d.size(); ++v)
    if (d[v] >= 0 && impl_->mom[v] != s.moment_vector(v)) return false;
  return true;
}
double MaceNativeEvaluator::trial(int i, const Vec3& m_new, Trial& t) {
  if (!impl_->is_built) throw std::logic_error("MaceNativeEvaluator::trial before rebuild");
  if (!impl_->radial_cache) {  // the first trial: rebuild with the per-edge radial cache
    impl_->radial_cache = true;
    const Graph g = impl_->g;
    const std::vector<Vec3> pos = impl_->pos, mom = impl_->mom;
    const std::vector<int> col = impl_->col;
    impl_->set_geometry(g, pos, col);
    impl_->threads = full_threads(g);
    impl_->rebuild(mom);
  }
  return impl_->trial(i, m_new, t);
}
void MaceNativeEvaluator::commit(const Trial& t) { impl_->commit(t); }

}  // namespace spinlat
