// Plain C++ evaluation of the native model's node energies (native_fast.hpp). The arithmetic
// follows NativeModelImpl::node_energy (native_model.cpp) step by step; the equations are in
// docs/learned-potential.md ("The native model"): Chebyshev embedding of |m|, Bessel radial
// basis with the DimeNet envelope (Klicpera et al., ICLR 2020, eq. 8), messages
// Σ_e R(r_e) ⊙ W h_s ⊗ A_e with A_e = Y_l(r̂), [Y_l(r̂) ⊗ Y_l'(m_s)]_L or Y_l(r̂) ⊗ m_s, the
// product basis of MACE (Batatia et al., NeurIPS 2022, eq. 10) with fixed Clebsch-Gordan
// couplings, a linear update with residual, and an MLP readout.
//
// Layout choices for speed without changing the arithmetic's meaning: every dense matrix is
// stored transposed ([in][out]) and applied as a sum of scaled columns, so the inner loops run
// over independent outputs (channels) and vectorise; node feature blocks are [component][channel].
// LibTorch is used only in the constructor, to read the weights.
#include "spinlat/learned/native_fast.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "spinlat/learned/native_model.hpp"
#include "spinlat/learned/so3.hpp"

namespace spinlat {
namespace {

std::vector<double> values_of(const at::Tensor& t) {
  const at::Tensor d = t.detach().to(at::kDouble).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

// Two doubles as one value (GCC/Clang vector extension; one SSE2 register on baseline x86-64):
// element-wise IEEE arithmetic, so a lane computes exactly what the scalar expression would.
typedef double v2d __attribute__((vector_size(16)));
inline v2d load2(const double* p) {
  v2d v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store2(double* p, const v2d& v) { std::memcpy(p, &v, sizeof v); }

// out[d·C + c] = Σ_k a[k·as + d] · w[k·ws + c] for d < D, c < C, each sum in k order from 0.
// The small matrix product behind every edge sum (Σ_e W[e,c] A[e,d]) and every dense layer.
// Blocks of 2 rows × 8 channels stay in registers for the whole k loop; the arithmetic of
// each entry is the same whatever the blocking (one product and one addition per k, in order).
// CT > 0: C = CT known at compile time (the loops over channels unroll).
template <int CT>
void outer_sum(int K, int D, int C_runtime, const double* w, int ws, const double* a, int as, double* out) {
  const int C = CT > 0 ? CT : C_runtime;
  int c0 = 0;
  for (; c0 + 8 <= C; c0 += 8) {
    int d = 0;
    for (; d + 2 <= D; d += 2) {
      v2d s0[4] = {}, s1[4] = {};
      for (int k = 0; k < K; ++k) {
        const double* wk = w + static_cast<std::size_t>(k) * ws + c0;
        const double a0 = a[static_cast<std::size_t>(k) * as + d], a1 = a[static_cast<std::size_t>(k) * as + d + 1];
        for (int q = 0; q < 4; ++q) {
          const v2d wq = load2(wk + 2 * q);
          s0[q] += wq * a0;
          s1[q] += wq * a1;
        }
      }
      double* o0 = out + static_cast<std::size_t>(d) * C + c0;
      for (int q = 0; q < 4; ++q) {
        store2(o0 + 2 * q, s0[q]);
        store2(o0 + C + 2 * q, s1[q]);
      }
    }
    for (; d < D; ++d) {
      v2d s0[4] = {};
      for (int k = 0; k < K; ++k) {
        const double* wk = w + static_cast<std::size_t>(k) * ws + c0;
        const double a0 = a[static_cast<std::size_t>(k) * as + d];
        for (int q = 0; q < 4; ++q) s0[q] += load2(wk + 2 * q) * a0;
      }
      double* o0 = out + static_cast<std::size_t>(d) * C + c0;
      for (int q = 0; q < 4; ++q) store2(o0 + 2 * q, s0[q]);
    }
  }
  for (; c0 + 2 <= C; c0 += 2)
    for (int d = 0; d < D; ++d) {
      v2d s0 = {};
      for (int k = 0; k < K; ++k)
        s0 += load2(w + static_cast<std::size_t>(k) * ws + c0) * a[static_cast<std::size_t>(k) * as + d];
      store2(out + static_cast<std::size_t>(d) * C + c0, s0);
    }
  for (; c0 < C; ++c0)  // an odd channel left over
    for (int d = 0; d < D; ++d) {
      double s = 0.0;
      for (int k = 0; k < K; ++k) s += w[static_cast<std::size_t>(k) * ws + c0] * a[static_cast<std::size_t>(k) * as + d];
      out[static_cast<std::size_t>(d) * C + c0] = s;
    }
}

// y = W x (+ b), W kept transposed: wt[j·out + o] = W[o][j]. The sum over j runs in index
// order for every output, then the bias is added (as addmm does).
struct Dense {
  int in = 0, out = 0;
  std::vector<double> wt, b;
  std::vector<double> w;  // W itself, [out][in], for the reverse pass
  template <int CT = 0>  // CT > 0: out == CT, known at compile time
  void apply(const double* x, double* y) const {
    outer_sum<CT>(in, 1, out, wt.data(), out, x, 1, y);
    if (!b.empty())
      for (int o = 0; o < out; ++o) y[o] += b[o];
  }
  // gx = Wᵀ gy (the reverse pass of apply): gx[j] = Σ_o W[o][j] gy[o], summed in o order
  // as scaled rows of W (the loop over j is independent and vectorises).
  void apply_t(const double* gy, double* gx) const {
    for (int j = 0; j < in; ++j) gx[j] = 0.0;
    for (int o = 0; o < out; ++o) {
      const double* row = w.data() + static_cast<std::size_t>(o) * in;
      const double g = gy[o];
      for (int j = 0; j < in; ++j) gx[j] += row[j] * g;
    }
  }
};

// Linear layers with SiLU, x/(1 + e^{−x}) (ATen's silu), between them (native_model.cpp mlp()).
struct Mlp {
  std::vector<Dense> layer;
  mutable std::vector<double> a, b;  // scratch of the serial callers
  int out() const { return layer.back().out; }
  void apply(const double* x, double* y) const { apply(x, y, a, b); }
  /// With the caller's scratch (parallel callers), resized as needed.
  void apply(const double* x, double* y, std::vector<double>& a, std::vector<double>& b) const {
    if (a.size() < this->a.size()) a.resize(this->a.size());
    if (b.size() < this->b.size()) b.resize(this->b.size());
    const double* in = x;
    for (std::size_t k = 0; k < layer.size(); ++k) {
      const bool last = k + 1 == layer.size();
      std::vector<double>& buf = (k % 2 == 0) ? a : b;
      double* o = last ? y : buf.data();
      layer[k].apply(in, o);
      if (!last)
        for (int q = 0; q < layer[k].out; ++q) o[q] = o[q] / (1.0 + std::exp(-o[q]));
      in = o;
    }
  }
  /// gx = (∂y/∂x)ᵀ gy at x. The pre-activations are recomputed layer by layer with the
  /// forward's own Dense::apply; SiLU′(z) = σ(z)(1 + z(1 − σ(z))), σ = 1/(1 + e^{−z}).
  void backward(const double* x, const double* gy, double* gx, std::vector<double>& work) const {
    const std::size_t nl = layer.size();
    std::size_t need = 0, wmax = static_cast<std::size_t>(layer[0].in);
    for (const Dense& d : layer) {
      need += 2 * static_cast<std::size_t>(d.out);
      wmax = std::max<std::size_t>(wmax, d.out);
    }
    if (work.size() < need + 3 * wmax) work.resize(need + 3 * wmax);
    const double* in = x;
    for (std::size_t k = 0; k + 1 < nl; ++k) {  // the last layer's output is not needed
      double* pre = work.data() + off[k];
      double* sig = pre + layer[k].out;  // σ(pre), then the activation SiLU = pre·σ(pre)
      layer[k].apply(in, pre);
      for (int q = 0; q < layer[k].out; ++q) sig[q] = 1.0 / (1.0 + std::exp(-pre[q]));
      double* act = work.data() + need + 2 * wmax;  // (scratch past the adjoints)
      for (int q = 0; q < layer[k].out; ++q) act[q] = pre[q] * sig[q];
      in = act;
    }
    double* ga = work.data() + need;
    double* gb = ga + wmax;
    const double* g = gy;
    for (std::size_t k = nl; k-- > 0;) {
      double* gin = k == 0 ? gx : ga;
      layer[k].apply_t(g, gin);
      if (k == 0) break;
      const double* pre = work.data() + off[k - 1];
      const double* sig = pre + layer[k - 1].out;
      for (int q = 0; q < layer[k - 1].out; ++q) gb[q] = gin[q] * (sig[q] * (1.0 + pre[q] * (1.0 - sig[q])));
      g = gb;  // read into ga by the next layer's apply_t before gb is written again
    }
  }
  std::vector<std::size_t> off;  // backward(): offset of each layer's pre-activations and σ
  void size_scratch() {
    off.assign(layer.size(), 0);
    for (std::size_t k = 1; k < layer.size(); ++k) off[k] = off[k - 1] + 2 * static_cast<std::size_t>(layer[k - 1].out);
    std::size_t w = 0;
    for (const Dense& d : layer) w = std::max<std::size_t>(w, d.out);
    a.assign(w, 0.0);
    b.assign(w, 0.0);
  }
};

// One non-zero real Clebsch-Gordan coefficient C[i][j][k].
struct Cg {
  int i, j, k;
  double v;
};

std::vector<Cg> sparse_cg(int l1, int l2, int l3) {
  const std::vector<double> c = so3::clebsch_gordan_values(l1, l2, l3);
  const int w2 = 2 * l2 + 1, w3 = 2 * l3 + 1;
  std::vector<Cg> out;
  for (int i = 0; i < 2 * l1 + 1; ++i)
    for (int j = 0; j < w2; ++j)
      for (int k = 0; k < w3; ++k) {
        const double v = c[(static_cast<std::size_t>(i) * w2 + j) * w3 + k];
        if (v != 0.0) out.push_back({i, j, k, v});
      }
  return out;
}

struct PathInfo {
  int l = 0, moment_l = 0, L = 0, block = 0;
  int width = 0;    // components of the angular factor
  int acc = 0;      // offset of its accumulator in the node scratch (units of doubles)
  int ang = 0;      // offset of its angular factor in an edge's row of angular factors
  std::vector<Cg> cg;  // moment_l > 0: C[a][b][M] of Y_l ⊗ Y_l' → L
};

struct BlockInfo {
  int l = 0, spin = 0, own_l = 0;
  bool own = false;
  int width = 0;  // (2l+1) · (3 for spin vectors)
  int off = 0;    // offset in the node's block buffer (doubles)
  std::vector<int> paths;  // edge paths adding to it, in path order
};

struct ProductInfo {
  std::vector<int> f;  // factor blocks
  int spins = 0;       // bit k set: factor k is a spin vector
  std::vector<Cg> cg;  // 3 factors: C[l1][l2][l3]
};

struct LayerW {
  std::vector<PathInfo> path;
  std::vector<BlockInfo> block;
  std::vector<ProductInfo> product;
  Dense up, mix, residual;
  Mlp radial, readout;
  int acc_size = 0, block_size = 0, ang_size = 0;
};

}  // namespace

struct NativeFastEvaluator::Impl {
  // ---- model ----
  int C = 0, K = 0, S = 0, L = 0, l_max = 0, lm_max = 0, nY = 0, nYm = 0;
  bool soc = false, one_body_on = true;
  double r_max = 0.0, norm = 0.0;
  int radial_n = 0, envelope_p = 0;
  std::vector<double> inv_mmax, e0, one_body;  // one_body [S·K]
  Dense embed;                                 // S·K → C
  std::vector<LayerW> layer;

  // Record layouts. Moment record (per node): m, m/m_max, solid harmonics of m/m_max (SOC),
  // e0 + one-body energy, h0, u0 = up_0(h0). Inner record (L = 2): h1, u1 = up_1(h1),
  // readout_0(h1).
  int R0_M = 0, R0_MS = 3, R0_YM = 6, R0_E = 0, R0_H = 0, R0_U = 0, stride0 = 0;
  int RI_H = 0, RI_U = 0, RI_R = 0, strideI = 0;

  // ---- geometry ----
  bool geometry = false;
  std::size_t N = 0;
  std::vector<int> in_offset, sender;    // edges by receiver (the graph's CSR)
  std::vector<int> out_offset, out_recv; // the same edges by sender
  std::vector<int> column;
  std::vector<double> edge;              // per edge: Y (nY), then R of each layer (P·C)
  int edge_stride = 0;
  std::vector<int> out_edge;             // edge ids by sender (out_offset), in edge order
  std::vector<double> edge_vec;          // per edge: the vector receiver − sender + shift (Å)

  // ---- the reverse pass (gradient()) ----
  // Per node: ∂E/∂h of the layer being reversed, the residual's share of ∂E/∂h_t, ∂E/∂(moment
  // features) of the node's own blocks. Per edge (written by its receiver's node only, so
  // nodes run in parallel): ∂E/∂u_sender of this edge, ∂E/∂(sender's moment features),
  // ∂E/∂Y_l(r̂), ∂E/∂r, and the edge's ∂E/∂vec. F = (l'_max+1)² solid harmonics (SOC) or 3.
  int F = 3;
  std::vector<double> g_h, g_res, g_own, g_u_e, g_f_e, g_Y_e, g_r_e, g_vec;
  std::vector<double> g_basis_e;  // per edge: the radial basis and its d/dr (2·radial_n)

  // ---- caches ----
  bool built = false;
  std::vector<double> rec0, recI, energy;
  // The records of the configuration built before the current one (valid when `spare`): a
  // rejected whole-lattice Monte Carlo move returns to it, and then the sampler's energy
  // measurement finds it here instead of rebuilding (mc/lattice_delayed_acceptance.hpp).
  std::vector<double> spare_rec0, spare_recI, spare_energy;
  bool spare = false;
  bool spare_holds(const std::vector<Vec3>& moment) const {
    if (!spare) return false;
    for (std::size_t v = 0; v < N; ++v) {
      const double* r = spare_rec0.data() + v * stride0 + R0_M;
      if (r[0] != moment[v][0] || r[1] != moment[v][1] || r[2] != moment[v][2]) return false;
    }
    return true;
  }
  void swap_spare() {
    rec0.swap(spare_rec0);
    recI.swap(spare_recI);
    energy.swap(spare_energy);
  }

  // ---- a trial's records, overlaid on the cache while it is evaluated ----
  std::vector<int> slot0, slotI;
  const double* over0 = nullptr;
  const double* overI = nullptr;

  // ---- scratch ----
  std::vector<int> mark, ball, hop_end;
  int stamp = 0;
  // One node's working arrays: layer_at writes them before it reads them, so a node's result
  // does not depend on which scratch (or thread) computed it.
  struct Scratch {
    std::vector<double> acc, blk, prod, hm, hr, hnew;
    std::vector<double> wbuf, abuf;  // per incoming edge of a node: R ⊙ u (P·C) and angular factors
    std::vector<const double*> e_ptr, u_ptr, m_ptr;  // per incoming edge: edge cache, sender's u and moment record
    std::vector<double> mlp_a, mlp_b;  // the readout network's hidden layers
    // The reverse pass (gradient()): adjoints of the node's accumulators, blocks and
    // invariants, of one edge's W and A, of the radial outputs of its edges, and MLP work.
    std::vector<double> gacc, gblk, gprod, gh, gW, gA, gR, gbasis, mlpw;
  };
  Scratch scr;                 // trials (serial)
  std::vector<Scratch> pool;   // rebuild: one per OpenMP thread

  const double* r0(int v) const {
    const int k = slot0[v];
    return k >= 0 ? over0 + static_cast<std::size_t>(k) * stride0 : rec0.data() + static_cast<std::size_t>(v) * stride0;
  }
  const double* rI(int v) const {
    const int k = slotI[v];
    return k >= 0 ? overI + static_cast<std::size_t>(k) * strideI : recI.data() + static_cast<std::size_t>(v) * strideI;
  }

  void read_model(NativeModelImpl& model);
  void moment_record(int v, const Vec3& m, double* out) const;
  void layer_at(int t, int n, double* h_out, double& r_out, Scratch& w);
  template <int CT>
  void layer_at_c(int t, int n, double* h_out, double& r_out, Scratch& w);
  void balls(int i, int hops);
  void bessel_basis(double r, double* b, double* db = nullptr) const;
  void layer_back(int t, int n, const double* gh_out, bool geo, Scratch& w);
  template <int CT>
  void layer_back_c(int t, int n, const double* gh_out, bool geo, Scratch& w);
  // Called by every thread of a parallel region: that thread's scratch buffers. The pool
  // grows once, by one thread; the single's barrier orders it before any thread takes its entry.
  Scratch& thread_scratch() {
#ifdef _OPENMP
#pragma omp single
    if (pool.size() < static_cast<std::size_t>(omp_get_num_threads())) pool.resize(omp_get_num_threads(), scr);
    return pool[omp_get_thread_num()];
#else
    if (pool.empty()) pool.resize(1, scr);
    return pool[0];
#endif
  }
};

namespace {

// Reads the dense layers of a Linear or a Sequential of Linear and SiLU modules.
struct Reader {
  std::set<const void*> used;
  Dense dense(const torch::nn::Module& m, const std::string& name) {
    const auto* lin = m.as<torch::nn::LinearImpl>();
    if (!lin) throw std::logic_error("NativeFastEvaluator: '" + name + "' is not a Linear module");
    Dense d;
    d.out = static_cast<int>(lin->weight.size(0));
    d.in = static_cast<int>(lin->weight.size(1));
    const std::vector<double> w = values_of(lin->weight);
    d.w = w;
    d.wt.resize(w.size());
    for (int o = 0; o < d.out; ++o)
      for (int j = 0; j < d.in; ++j) d.wt[static_cast<std::size_t>(j) * d.out + o] = w[static_cast<std::size_t>(o) * d.in + j];
    used.insert(lin->weight.unsafeGetTensorImpl());
    if (lin->bias.defined()) {
      d.b = values_of(lin->bias);
      used.insert(lin->bias.unsafeGetTensorImpl());
    }
    return d;
  }
  Mlp mlp(const torch::nn::Module& m, const std::string& name) {
    Mlp out;
    bool expect_linear = true;
    for (const auto& child : m.named_children()) {
      const std::string key = name + "." + child.key();
      if (expect_linear) {
        out.layer.push_back(dense(*child.value(), key));
      } else if (!child.value()->as<torch::nn::SiLUImpl>()) {
        throw std::logic_error("NativeFastEvaluator: '" + key + "' is not a SiLU");
      }
      expect_linear = !expect_linear;
    }
    if (out.layer.empty() || expect_linear)
      throw std::logic_error("NativeFastEvaluator: '" + name + "' does not end with a Linear layer");
    out.size_scratch();
    return out;
  }
};

// (named_children() returns a dictionary by value: keep the module alive by its pointer.)
std::shared_ptr<torch::nn::Module> child(NativeModelImpl& model, const std::string& name) {
  const auto children = model.named_children();
  const auto* c = children.find(name);
  if (!c) throw std::logic_error("NativeFastEvaluator: the model has no module '" + name + "'");
  return *c;
}

// Calls f(std::integral_constant<int, C>) for the common channel counts, f(…<int, 0>) (C read
// at run time) otherwise: the layer kernels get their own instance with C known to the
// compiler where it is common; the arithmetic is the same in every instance.
template <class F>
void with_channel_count(int C, F&& f) {
  switch (C) {
    case 4: return f(std::integral_constant<int, 4>{});
    case 8: return f(std::integral_constant<int, 8>{});
    case 16: return f(std::integral_constant<int, 16>{});
    case 32: return f(std::integral_constant<int, 32>{});
    case 64: return f(std::integral_constant<int, 64>{});
    default: return f(std::integral_constant<int, 0>{});
  }
}

}  // namespace

void NativeFastEvaluator::Impl::read_model(NativeModelImpl& model) {
  const NativeModelConfig& c = model.config();
  C = c.channels;
  K = c.moment_basis;
  S = static_cast<int>(c.atomic_numbers.size());
  L = c.interactions;
  if (L < 1 || L > 2) throw std::logic_error("NativeFastEvaluator: 1 or 2 interaction layers expected");
  l_max = c.l_max;
  lm_max = c.moment_l_max;
  soc = c.spin_orbit;
  one_body_on = c.one_body;
  nY = (l_max + 1) * (l_max + 1);
  nYm = soc ? (lm_max + 1) * (lm_max + 1) : 0;
  F = soc ? nYm : 3;
  r_max = c.r_max;
  norm = 1.0 / c.avg_neighbors;
  radial_n = c.radial_basis;
  envelope_p = c.envelope_p;
  for (double m : c.m_max) inv_mmax.push_back(m > 0.0 ? 1.0 / m : 1.0);

  Reader rd;
  embed = rd.dense(*child(model, "embedding"), "embedding");
  for (const auto& item : model.named_parameters(true))
    if (item.key() == "one_body") {
      one_body = values_of(item.value());
      rd.used.insert(item.value().unsafeGetTensorImpl());
    }
  for (const auto& item : model.named_buffers(true))
    if (item.key() == "e0") e0 = values_of(item.value());
  if (one_body.size() != static_cast<std::size_t>(S * K) || e0.size() != static_cast<std::size_t>(S))
    throw std::logic_error("NativeFastEvaluator: the model lacks one_body or e0");

  const std::vector<NativeLayerStructure> st = model.structure();
  for (int t = 0; t < L; ++t) {
    const NativeLayerStructure& s = st[t];
    LayerW Lw;
    for (const auto& b : s.block) {
      BlockInfo bi;
      bi.l = b.l;
      bi.spin = b.spin;
      bi.own = b.own;
      bi.own_l = b.own_l;
      bi.width = (2 * b.l + 1) * (b.spin ? 3 : 1);
      bi.off = Lw.block_size;
      Lw.block_size += bi.width * C;
      Lw.block.push_back(bi);
    }
    for (const auto& p : s.edge_path) {
      PathInfo pi;
      pi.l = p.l;
      pi.moment_l = p.moment_l;
      pi.L = p.L;
      pi.block = p.block;
      pi.width = p.moment_l < 0 ? (2 * p.l + 1) * 3 : 2 * p.L + 1;
      if (p.moment_l > 0) pi.cg = sparse_cg(p.l, p.moment_l, p.L);
      pi.acc = Lw.acc_size;
      pi.ang = Lw.ang_size;
      Lw.acc_size += pi.width * C;
      Lw.ang_size += pi.width;
      Lw.block[p.block].paths.push_back(static_cast<int>(Lw.path.size()));
      if (Lw.block[p.block].width != pi.width)
        throw std::logic_error("NativeFastEvaluator: an edge path does not fit its block");
      Lw.path.push_back(pi);
    }
    for (const BlockInfo& b : Lw.block)
      if (!b.own && b.paths.empty()) throw std::logic_error("NativeFastEvaluator: a message block without edge paths");
    for (const auto& f : s.product) {
      ProductInfo pi;
      pi.f = f;
      for (std::size_t k = 0; k < f.size(); ++k)
        if (Lw.block[f[k]].spin) pi.spins |= 1 << k;
      if (f.size() == 3) pi.cg = sparse_cg(Lw.block[f[0]].l, Lw.block[f[1]].l, Lw.block[f[2]].l);
      Lw.product.push_back(pi);
    }
    const std::string n = std::to_string(t);
    Lw.up = rd.dense(*child(model, "interaction" + n + "_up"), "interaction" + n + "_up");
    Lw.radial = rd.mlp(*child(model, "interaction" + n + "_radial"), "interaction" + n + "_radial");
    Lw.mix = rd.dense(*child(model, "product" + n + "_mix"), "product" + n + "_mix");
    Lw.residual = rd.dense(*child(model, "product" + n + "_residual"), "product" + n + "_residual");
    Lw.readout = rd.mlp(*child(model, "readout" + n), "readout" + n);
    if (Lw.radial.out() != static_cast<int>(Lw.path.size()) * C || Lw.mix.in != static_cast<int>(Lw.product.size()) * C ||
        Lw.readout.out() != 1)
      throw std::logic_error("NativeFastEvaluator: layer " + n + " has unexpected sizes");
    layer.push_back(std::move(Lw));
  }
  for (const auto& item : model.named_parameters(true))
    if (!rd.used.count(item.value().unsafeGetTensorImpl()))
      throw std::logic_error("NativeFastEvaluator: the model's parameter '" + item.key() +
                             "' is not read by the fast evaluator (update native_fast.cpp)");

  R0_E = R0_YM + nYm;
  R0_H = R0_E + 1;
  R0_U = R0_H + C;
  stride0 = R0_U + C;
  RI_H = 0;
  RI_U = C;
  RI_R = 2 * C;
  strideI = 2 * C + 1;

  std::size_t acc_max = 0, blk_max = 0, prod_max = 0;
  for (const LayerW& Lw : layer) {
    acc_max = std::max<std::size_t>(acc_max, Lw.acc_size);
    blk_max = std::max<std::size_t>(blk_max, Lw.block_size);
    prod_max = std::max<std::size_t>(prod_max, Lw.product.size() * C);
  }
  scr.acc.assign(acc_max, 0.0);
  scr.blk.assign(blk_max, 0.0);
  scr.prod.assign(prod_max, 0.0);
  scr.hm.assign(C, 0.0);
  scr.hr.assign(C, 0.0);
  scr.hnew.assign(C, 0.0);
}

// The moment record of node v with moment vector m: what node_energy computes per node before
// the edges (Chebyshev embedding, one-body energy, solid harmonics) plus u0 = up_0(h0).
void NativeFastEvaluator::Impl::moment_record(int v, const Vec3& m, double* out) const {
  const int col = column[v];
  for (int a = 0; a < 3; ++a) out[R0_M + a] = m[a];
  double* ms = out + R0_MS;
  for (int a = 0; a < 3; ++a) ms[a] = m[a] * inv_mmax[col];
  const double m2 = ms[0] * ms[0] + ms[1] * ms[1] + ms[2] * ms[2];
  const double x = 1.0 - 2.0 * m2;
  double T[16];
  T[0] = 1.0;
  if (K > 1) T[1] = x;
  for (int k = 2; k < K; ++k) T[k] = 2.0 * x * T[k - 1] - T[k - 2];
  // h0 = W_embed (onehot ⊗ T): only the columns of this species contribute.
  double* h = out + R0_H;
  for (int c = 0; c < C; ++c) h[c] = 0.0;
  for (int k = 0; k < K; ++k) {
    const double* wcol = embed.wt.data() + static_cast<std::size_t>(col * K + k) * C;
    for (int c = 0; c < C; ++c) h[c] += wcol[c] * T[k];
  }
  double e = e0[col];
  if (one_body_on) {
    double s = 0.0;
    for (int k = 0; k < K; ++k) s += T[k] * one_body[col * K + k];
    e = e + s;
  }
  out[R0_E] = e;
  layer[0].up.apply(h, out + R0_U);
  if (soc) so3::solid_harmonics(ms, lm_max, out + R0_YM);
}

// Layer t at node n: messages from its incoming edges, the product basis, the update
// h_{t+1} = mix(B) + residual(h_t) and readout_t(h_{t+1}). Reads the records of n and of its
// senders (through the overlay), never the node's own previous output.
void NativeFastEvaluator::Impl::layer_at(int t, int n, double* h_out, double& r_out, Scratch& w) {
  with_channel_count(C, [&](auto ct) { layer_at_c<decltype(ct)::value>(t, n, h_out, r_out, w); });
}

template <int CT>
void NativeFastEvaluator::Impl::layer_at_c(int t, int n, double* h_out, double& r_out, Scratch& w) {
  const int C = CT > 0 ? CT : this->C;
  const LayerW& Lw = layer[t];
  const int P = static_cast<int>(Lw.path.size());
  const std::size_t roff = static_cast<std::size_t>(nY) + static_cast<std::size_t>(t) * P * C;
  // Per incoming edge: W = R ⊙ u_sender for every path, and the angular factors A of every
  // path side by side; then each path's Σ_e W ⊗ A as one small matrix product.
  const int deg = in_offset[n + 1] - in_offset[n];
  const int wstride = P * C, astride = Lw.ang_size;
  if (w.wbuf.size() < static_cast<std::size_t>(deg) * wstride) w.wbuf.resize(static_cast<std::size_t>(deg) * wstride);
  if (w.abuf.size() < static_cast<std::size_t>(deg) * astride) w.abuf.resize(static_cast<std::size_t>(deg) * astride);
  if (w.e_ptr.size() < static_cast<std::size_t>(deg)) {
    w.e_ptr.resize(deg);
    w.u_ptr.resize(deg);
    w.m_ptr.resize(deg);
  }
  for (int k = 0; k < deg; ++k) {
    const int e = in_offset[n] + k;
    const int s = sender[e];
    w.e_ptr[k] = edge.data() + static_cast<std::size_t>(e) * edge_stride;
    w.m_ptr[k] = r0(s);
    w.u_ptr[k] = t == 0 ? w.m_ptr[k] + R0_U : rI(s) + RI_U;
  }
  for (int p = 0; p < P; ++p) {
    const PathInfo& pi = Lw.path[p];
    const std::size_t rp = roff + static_cast<std::size_t>(p) * C;
    for (int k = 0; k < deg; ++k) {
      const double* Rp = w.e_ptr[k] + rp;
      const double* u = w.u_ptr[k];
      double* wp = w.wbuf.data() + static_cast<std::size_t>(k) * wstride + static_cast<std::size_t>(p) * C;
      for (int c = 0; c < C; ++c) wp[c] = Rp[c] * u[c];
    }
    const int yl = pi.l * pi.l, nq = 2 * pi.l + 1;
    double* a0 = w.abuf.data() + pi.ang;
    if (pi.moment_l == 0) {
      // Y_l(r̂) alone: read in place from the edge cache (the node's edges are consecutive).
    } else if (pi.moment_l > 0) {
      const int ym = R0_YM + pi.moment_l * pi.moment_l;
      for (int k = 0; k < deg; ++k) {
        double* a = a0 + static_cast<std::size_t>(k) * astride;
        const double* Yl = w.e_ptr[k] + yl;
        const double* Ym = w.m_ptr[k] + ym;
        for (int q = 0; q < pi.width; ++q) a[q] = 0.0;
        for (const Cg& g : pi.cg) a[g.k] += Yl[g.i] * Ym[g.j] * g.v;
      }
    } else {
      for (int k = 0; k < deg; ++k) {
        double* a = a0 + static_cast<std::size_t>(k) * astride;
        const double* Yl = w.e_ptr[k] + yl;
        const double* ms = w.m_ptr[k] + R0_MS;
        for (int q = 0; q < nq; ++q) {
          a[3 * q] = Yl[q] * ms[0];
          a[3 * q + 1] = Yl[q] * ms[1];
          a[3 * q + 2] = Yl[q] * ms[2];
        }
      }
    }
  }
  double* A = w.acc.data();
  for (int p = 0; p < P; ++p) {
    const PathInfo& pi = Lw.path[p];
    const double* wp = w.wbuf.data() + static_cast<std::size_t>(p) * C;
    if (pi.moment_l == 0)
      outer_sum<CT>(deg, pi.width, C, wp, wstride,
                    edge.data() + static_cast<std::size_t>(in_offset[n]) * edge_stride + pi.l * pi.l, edge_stride, A + pi.acc);
    else
      outer_sum<CT>(deg, pi.width, C, wp, wstride, w.abuf.data() + pi.ang, astride, A + pi.acc);
  }
  // Blocks: Σ over the paths of (edge sum) / avg_neighbors, or the node's own moment.
  const double* mine = r0(n);
  for (const BlockInfo& b : Lw.block) {
    double* B = w.blk.data() + b.off;
    const int size = b.width * C;
    if (b.own) {
      const double* v = soc ? mine + R0_YM + b.own_l * b.own_l : mine + R0_MS;
      for (int d = 0; d < b.width; ++d)
        for (int c = 0; c < C; ++c) B[d * C + c] = v[d];
      continue;
    }
    const double* Ap = A + Lw.path[b.paths[0]].acc;
    for (int k = 0; k < size; ++k) B[k] = Ap[k] * norm;
    for (std::size_t q = 1; q < b.paths.size(); ++q) {
      Ap = A + Lw.path[b.paths[q]].acc;
      for (int k = 0; k < size; ++k) B[k] = B[k] + Ap[k] * norm;
    }
  }
  // Product basis, channel by channel; B laid out [c][k] as torch.stack(..., -1) gives it.
  // Channels in blocks of kB held in registers while the Clebsch-Gordan terms are summed.
  constexpr int kB = CT > 0 && CT % 8 == 0 ? 8 : (CT > 0 && CT % 4 == 0 ? 4 : 1);
  const int Pp = static_cast<int>(Lw.product.size());
  for (int k = 0; k < Pp; ++k) {
    const ProductInfo& pi = Lw.product[k];
    const double* X = w.blk.data() + Lw.block[pi.f[0]].off;
    const double* Yb = pi.f.size() > 1 ? w.blk.data() + Lw.block[pi.f[1]].off : nullptr;
    const double* Z = pi.f.size() > 2 ? w.blk.data() + Lw.block[pi.f[2]].off : nullptr;
    for (int c0 = 0; c0 < C; c0 += kB) {
      double o[kB];
      if (pi.f.size() == 1) {
        for (int c = 0; c < kB; ++c) o[c] = X[c0 + c];
      } else if (pi.f.size() == 2) {
        const int width = Lw.block[pi.f[0]].width;
        for (int c = 0; c < kB; ++c) o[c] = 0.0;
        for (int d = 0; d < width; ++d)
          for (int c = 0; c < kB; ++c) o[c] += X[d * C + c0 + c] * Yb[d * C + c0 + c];
      } else {
        for (int c = 0; c < kB; ++c) o[c] = 0.0;
        // Σ C[a,b,z] X_a Y_b Z_z, the two spin vectors (if any) dotted.
        if (pi.spins == 0) {
          for (const Cg& g : pi.cg) {
            const double* x = X + g.i * C + c0;
            const double* y = Yb + g.j * C + c0;
            const double* z = Z + g.k * C + c0;
            for (int c = 0; c < kB; ++c) o[c] += g.v * x[c] * y[c] * z[c];
          }
        } else {
          for (const Cg& g : pi.cg) {
            // Which two factors carry the spin index, and the plain one.
            const double *p1, *p2, *q;
            if (pi.spins == 3) p1 = X + 3 * g.i * C, p2 = Yb + 3 * g.j * C, q = Z + g.k * C;
            else if (pi.spins == 5) p1 = X + 3 * g.i * C, p2 = Z + 3 * g.k * C, q = Yb + g.j * C;
            else p1 = Yb + 3 * g.j * C, p2 = Z + 3 * g.k * C, q = X + g.i * C;
            p1 += c0;
            p2 += c0;
            q += c0;
            for (int c = 0; c < kB; ++c) {
              const double dot = p1[c] * p2[c] + p1[C + c] * p2[C + c] + p1[2 * C + c] * p2[2 * C + c];
              o[c] += g.v * dot * q[c];
            }
          }
        }
      }
      for (int c = 0; c < kB; ++c) w.prod[static_cast<std::size_t>(c0 + c) * Pp + k] = o[c];
    }
  }
  const double* h_prev = t == 0 ? mine + R0_H : rI(n) + RI_H;
  Lw.mix.apply<CT>(w.prod.data(), w.hm.data());
  Lw.residual.apply<CT>(h_prev, w.hr.data());
  for (int c = 0; c < C; ++c) h_out[c] = w.hm[c] + w.hr[c];
  Lw.readout.apply(h_out, &r_out, w.mlp_a, w.mlp_b);
}

// Nodes within `hops` hops of i along outgoing edges (the nodes a change of m_i reaches), in
// breadth-first order: ball[0, hop_end[d]) are those within d hops.
void NativeFastEvaluator::Impl::balls(int i, int hops) {
  if (++stamp == 0) {
    std::fill(mark.begin(), mark.end(), 0);
    stamp = 1;
  }
  ball.clear();
  hop_end.clear();
  ball.push_back(i);
  mark[i] = stamp;
  hop_end.push_back(1);
  std::size_t begin = 0;
  for (int d = 1; d <= hops; ++d) {
    const std::size_t end = ball.size();
    for (std::size_t q = begin; q < end; ++q) {
      const int v = ball[q];
      for (int k = out_offset[v]; k < out_offset[v + 1]; ++k) {
        const int u = out_recv[k];
        if (mark[u] != stamp) {
          mark[u] = stamp;
          ball.push_back(u);
        }
      }
    }
    begin = end;
    hop_end.push_back(static_cast<int>(ball.size()));
  }
}

// Bessel radial basis √(2/r_c) sin(kπr/r_c)/r times the DimeNet envelope (Klicpera et al.,
// ICLR 2020, eq. 8), as native_model.cpp's radial_basis; zero from r_c on. With db, also its
// d/dr: (a r cos ar − sin ar)/r² · env + sin(ar)/r · env′(x)/r_c, a = kπ/r_c (the reverse pass;
// b is then the same bits as the forward's).
void NativeFastEvaluator::Impl::bessel_basis(double r, double* b, double* db) const {
  const double rc = r_max, pp = envelope_p;
  const double pre = std::sqrt(2.0 / rc);
  const double c1 = (pp + 1.0) * (pp + 2.0) / 2.0, c2 = pp * (pp + 2.0), c3 = pp * (pp + 1.0) / 2.0;
  const double x = r / rc;
  const double env = x < 1.0 ? 1.0 - c1 * std::pow(x, envelope_p) + c2 * std::pow(x, envelope_p + 1) -
                                   c3 * std::pow(x, envelope_p + 2)
                             : 0.0;
  for (int k = 0; k < radial_n; ++k) b[k] = pre * std::sin((k + 1) * M_PI * r / rc) / r * env;
  if (!db) return;
  if (!(x < 1.0)) {
    for (int k = 0; k < radial_n; ++k) db[k] = 0.0;
    return;
  }
  const double xp1 = std::pow(x, envelope_p - 1), xp = xp1 * x;
  const double denv = (-c1 * pp * xp1 + c2 * (pp + 1.0) * xp - c3 * (pp + 2.0) * xp * x) / rc;
  for (int k = 0; k < radial_n; ++k) {
    const double a = (k + 1) * M_PI / rc;
    const double sn = std::sin(a * r), cs = std::cos(a * r);
    db[k] = pre * ((a * r * cs - sn) / (r * r) * env + sn / r * denv);
  }
}

// The reverse of layer_at(t, n) (which the caller has just run with the same scratch `w`, so
// that w holds this node's W = R ⊙ u and angular factors per incoming edge, its blocks and
// invariants). gh_out = ∂E/∂h_{t+1}(n). Writes g_res(n) = residualᵀ gh_out, each incoming
// edge's ∂E/∂u_sender (g_u_e) and adds to the edge's ∂E/∂(sender's moment features),
// ∂E/∂Y and ∂E/∂r, and to the node's own ∂E/∂(moment features).
void NativeFastEvaluator::Impl::layer_back(int t, int n, const double* gh_out, bool geo, Scratch& w) {
  with_channel_count(C, [&](auto ct) { layer_back_c<decltype(ct)::value>(t, n, gh_out, geo, w); });
}

template <int CT>
void NativeFastEvaluator::Impl::layer_back_c(int t, int n, const double* gh_out, bool geo, Scratch& w) {
  const int C = CT > 0 ? CT : this->C;
  const LayerW& Lw = layer[t];
  const int P = static_cast<int>(Lw.path.size()), Pp = static_cast<int>(Lw.product.size());
  const std::size_t roff = static_cast<std::size_t>(nY) + static_cast<std::size_t>(t) * P * C;
  const int deg = in_offset[n + 1] - in_offset[n];
  const int wstride = P * C, astride = Lw.ang_size;
  w.gprod.resize(static_cast<std::size_t>(Pp) * C);
  w.gblk.assign(Lw.block_size, 0.0);
  w.gacc.resize(Lw.acc_size);
  w.gW.resize(C);
  w.gA.resize(astride + 3 * (l_max + 1) * 2);
  Lw.mix.apply_t(gh_out, w.gprod.data());
  Lw.residual.apply_t(gh_out, g_res.data() + static_cast<std::size_t>(n) * C);
  // Product basis (w.prod[c·Pp + k] = invariant k of channel c).
  for (int k = 0; k < Pp; ++k) {
    const ProductInfo& pi = Lw.product[k];
    const int o0 = Lw.block[pi.f[0]].off;
    const int o1 = pi.f.size() > 1 ? Lw.block[pi.f[1]].off : 0;
    const int o2 = pi.f.size() > 2 ? Lw.block[pi.f[2]].off : 0;
    const double *X = w.blk.data() + o0, *Y = w.blk.data() + o1, *Z = w.blk.data() + o2;
    double *gX = w.gblk.data() + o0, *gY = w.gblk.data() + o1, *gZ = w.gblk.data() + o2;
    for (int c = 0; c < C; ++c) {
      const double go = w.gprod[static_cast<std::size_t>(c) * Pp + k];
      if (pi.f.size() == 1) {
        gX[c] += go;
      } else if (pi.f.size() == 2) {
        const int width = Lw.block[pi.f[0]].width;
        for (int d = 0; d < width; ++d) {
          gX[d * C + c] += go * Y[d * C + c];
          gY[d * C + c] += go * X[d * C + c];
        }
      } else if (pi.spins == 0) {
        for (const Cg& g : pi.cg) {
          const double x = X[g.i * C + c], y = Y[g.j * C + c], z = Z[g.k * C + c], v = go * g.v;
          gX[g.i * C + c] += v * y * z;
          gY[g.j * C + c] += v * x * z;
          gZ[g.k * C + c] += v * x * y;
        }
      } else {
        for (const Cg& g : pi.cg) {
          // As layer_at: p1, p2 the spin vectors (3 rows each), q the plain factor.
          int i1, i2, iq;
          const double *p1, *p2, *q;
          double *gp1, *gp2, *gq;
          if (pi.spins == 3) i1 = 3 * g.i * C, i2 = 3 * g.j * C, iq = g.k * C, p1 = X, p2 = Y, q = Z, gp1 = gX, gp2 = gY, gq = gZ;
          else if (pi.spins == 5) i1 = 3 * g.i * C, i2 = 3 * g.k * C, iq = g.j * C, p1 = X, p2 = Z, q = Y, gp1 = gX, gp2 = gZ, gq = gY;
          else i1 = 3 * g.j * C, i2 = 3 * g.k * C, iq = g.i * C, p1 = Y, p2 = Z, q = X, gp1 = gY, gp2 = gZ, gq = gX;
          const double v = go * g.v, qc = q[iq + c];
          double dot = 0.0;
          for (int a = 0; a < 3; ++a) dot += p1[i1 + a * C + c] * p2[i2 + a * C + c];
          for (int a = 0; a < 3; ++a) {
            const double x1 = p1[i1 + a * C + c], x2 = p2[i2 + a * C + c];
            gp1[i1 + a * C + c] += v * qc * x2;
            gp2[i2 + a * C + c] += v * qc * x1;
          }
          gq[iq + c] += v * dot;
        }
      }
    }
  }
  // Blocks: own-moment blocks send Σ_c to the node's features; message blocks scale by 1/avg_neighbors.
  double* gown = g_own.data() + static_cast<std::size_t>(n) * F;
  for (const BlockInfo& b : Lw.block) {
    const double* gB = w.gblk.data() + b.off;
    if (b.own) {
      const int base = soc ? b.own_l * b.own_l : 0;
      for (int d = 0; d < b.width; ++d) {
        double s = 0.0;
        for (int c = 0; c < C; ++c) s += gB[d * C + c];
        gown[base + d] += s;
      }
      continue;
    }
    for (int p : b.paths) {
      double* ga = w.gacc.data() + Lw.path[p].acc;
      for (int k = 0; k < b.width * C; ++k) ga[k] = gB[k] * norm;
    }
  }
  // Edges: acc_p[d][c] = Σ_k W_kp[c] A_kp[d], W = R ⊙ u_sender.
  for (int k = 0; k < deg; ++k) {
    double* gu = g_u_e.data() + static_cast<std::size_t>(in_offset[n] + k) * C;
    for (int c = 0; c < C; ++c) gu[c] = 0.0;
  }
  if (geo) w.gR.assign(static_cast<std::size_t>(deg) * wstride, 0.0);
  for (int p = 0; p < P; ++p) {
    const PathInfo& pi = Lw.path[p];
    const double* gacc = w.gacc.data() + pi.acc;
    const int yl = pi.l * pi.l, nq = 2 * pi.l + 1;
    for (int k = 0; k < deg; ++k) {
      const int e = in_offset[n] + k;
      const double* A = pi.moment_l == 0 ? w.e_ptr[k] + yl : w.abuf.data() + pi.ang + static_cast<std::size_t>(k) * astride;
      const double* Wk = w.wbuf.data() + static_cast<std::size_t>(k) * wstride + static_cast<std::size_t>(p) * C;
      const double* R = w.e_ptr[k] + roff + static_cast<std::size_t>(p) * C;
      const double* u = w.u_ptr[k];
      double* gA = w.gA.data();
      for (int d = 0; d < pi.width; ++d) gA[d] = 0.0;
      for (int c = 0; c < C; ++c) w.gW[c] = 0.0;
      for (int d = 0; d < pi.width; ++d) {
        const double* gr = gacc + static_cast<std::size_t>(d) * C;
        double s = 0.0;
        for (int c = 0; c < C; ++c) {
          w.gW[c] += gr[c] * A[d];
          s += gr[c] * Wk[c];
        }
        gA[d] = s;
      }
      double* gu = g_u_e.data() + static_cast<std::size_t>(e) * C;
      for (int c = 0; c < C; ++c) gu[c] += w.gW[c] * R[c];
      if (geo) {
        double* gR = w.gR.data() + static_cast<std::size_t>(k) * wstride + static_cast<std::size_t>(p) * C;
        for (int c = 0; c < C; ++c) gR[c] = w.gW[c] * u[c];
      }
      double* gYe = g_Y_e.data() + static_cast<std::size_t>(e) * nY;  // (geo only)
      double* gfe = g_f_e.data() + static_cast<std::size_t>(e) * F;
      const double* Yl = w.e_ptr[k] + yl;
      if (pi.moment_l == 0) {
        if (geo)
          for (int d = 0; d < nq; ++d) gYe[yl + d] += gA[d];
      } else if (pi.moment_l > 0) {
        const int ym = pi.moment_l * pi.moment_l;
        const double* Ym = w.m_ptr[k] + R0_YM + ym;
        for (const Cg& g : pi.cg) {
          if (geo) gYe[yl + g.i] += g.v * Ym[g.j] * gA[g.k];
          gfe[ym + g.j] += g.v * Yl[g.i] * gA[g.k];
        }
      } else {
        const double* ms = w.m_ptr[k] + R0_MS;
        for (int q = 0; q < nq; ++q)
          for (int a = 0; a < 3; ++a) {
            if (geo) gYe[yl + q] += gA[3 * q + a] * ms[a];
            gfe[a] += gA[3 * q + a] * Yl[q];
          }
      }
    }
  }
  if (!geo) return;
  // Radial networks: ∂E/∂R → ∂E/∂(basis) → ∂E/∂r of each incoming edge (the basis and its
  // derivative in g_basis_e, once per edge for all layers).
  w.gbasis.resize(radial_n);
  for (int k = 0; k < deg; ++k) {
    const int e = in_offset[n] + k;
    const double* b = g_basis_e.data() + static_cast<std::size_t>(e) * 2 * radial_n;
    Lw.radial.backward(b, w.gR.data() + static_cast<std::size_t>(k) * wstride, w.gbasis.data(), w.mlpw);
    double s = 0.0;
    for (int j = 0; j < radial_n; ++j) s += w.gbasis[j] * b[radial_n + j];
    g_r_e[e] += s;
  }
}

// ---- public interface ------------------------------------------------------------------------

NativeFastEvaluator::NativeFastEvaluator(NativeModelImpl& model) : impl_(std::make_unique<Impl>()) {
  torch::NoGradGuard no_grad;
  impl_->read_model(model);
}

NativeFastEvaluator::~NativeFastEvaluator() = default;

int NativeFastEvaluator::interactions() const { return impl_->L; }

std::size_t NativeFastEvaluator::edge_cache_bytes() const { return impl_->edge.size() * sizeof(double); }

bool NativeFastEvaluator::has_geometry() const { return impl_->geometry; }
bool NativeFastEvaluator::built() const { return impl_->built; }
const std::vector<double>& NativeFastEvaluator::node_energy() const { return impl_->energy; }

Vec3 NativeFastEvaluator::moment(int v) const {
  const double* r = impl_->rec0.data() + static_cast<std::size_t>(v) * impl_->stride0;
  return Vec3(r[0], r[1], r[2]);
}

void NativeFastEvaluator::set_geometry(const Graph& g, const std::vector<Vec3>& position,
                                       const std::vector<int>& column) {
  Impl& m = *impl_;
  if (position.size() != g.nodes || column.size() != g.nodes)
    throw std::logic_error("NativeFastEvaluator::set_geometry: graph, positions and species differ in size");
  m.geometry = false;
  m.built = false;
  m.spare = false;  // its records belong to the old geometry
  m.N = g.nodes;
  m.column = column;
  for (int col : column)
    if (col < 0 || col >= m.S) throw std::logic_error("NativeFastEvaluator::set_geometry: species column out of range");
  const std::size_t E = g.edges();
  m.in_offset.assign(g.offset.begin(), g.offset.end());
  m.sender.assign(g.sender.begin(), g.sender.end());
  for (std::size_t e = 0; e < E; ++e)
    if (g.receiver[e] < 0 || static_cast<std::size_t>(g.receiver[e]) >= m.N ||
        static_cast<int>(e) < m.in_offset[g.receiver[e]] || static_cast<int>(e) >= m.in_offset[g.receiver[e] + 1])
      throw std::logic_error("NativeFastEvaluator::set_geometry: edges are not grouped by receiver");
  // Outgoing edges by sender (counting sort keeps edge order within a sender).
  m.out_offset.assign(m.N + 1, 0);
  for (std::size_t e = 0; e < E; ++e) ++m.out_offset[m.sender[e] + 1];
  for (std::size_t v = 0; v < m.N; ++v) m.out_offset[v + 1] += m.out_offset[v];
  m.out_recv.assign(E, 0);
  m.out_edge.assign(E, 0);
  {
    std::vector<int> fill(m.out_offset.begin(), m.out_offset.end() - 1);
    for (std::size_t e = 0; e < E; ++e) {
      m.out_edge[fill[m.sender[e]]] = static_cast<int>(e);
      m.out_recv[fill[m.sender[e]]++] = static_cast<int>(g.receiver[e]);
    }
  }
  // Per edge: Y_l(r̂) and every layer's radial network of the Bessel basis.
  const int P = static_cast<int>(m.layer[0].path.size());
  m.edge_stride = m.nY + m.L * P * m.C;
  m.edge.assign(E * static_cast<std::size_t>(m.edge_stride), 0.0);
  std::vector<double> basis(m.radial_n);
  m.edge_vec.assign(3 * E, 0.0);
  for (std::size_t e = 0; e < E; ++e) {
    const Vec3 v = position[g.receiver[e]] - position[g.sender[e]] + g.shift[e];
    const double vv[3] = {v[0], v[1], v[2]};
    for (int a = 0; a < 3; ++a) m.edge_vec[3 * e + a] = vv[a];
    const double r = std::sqrt(vv[0] * vv[0] + vv[1] * vv[1] + vv[2] * vv[2]);
    double* ed = m.edge.data() + e * m.edge_stride;
    so3::spherical_harmonics(vv, m.l_max, ed);
    m.bessel_basis(r, basis.data());
    for (int t = 0; t < m.L; ++t) m.layer[t].radial.apply(basis.data(), ed + m.nY + static_cast<std::size_t>(t) * P * m.C);
  }
  m.rec0.assign(m.N * m.stride0, 0.0);
  m.recI.assign(m.L > 1 ? m.N * m.strideI : 0, 0.0);
  m.energy.assign(m.N, 0.0);
  m.slot0.assign(m.N, -1);
  m.slotI.assign(m.N, -1);
  m.mark.assign(m.N, 0);
  m.stamp = 0;
  m.geometry = true;
}

void NativeFastEvaluator::rebuild(const System& s) {
  std::vector<Vec3> mv(s.size());
  for (std::size_t v = 0; v < s.size(); ++v) mv[v] = s.moment_vector(v);
  rebuild(mv);
}

void NativeFastEvaluator::rebuild(const std::vector<Vec3>& moment) {
  Impl& m = *impl_;
  if (!m.geometry) throw std::logic_error("NativeFastEvaluator::rebuild before set_geometry");
  if (moment.size() != m.N) throw std::logic_error("NativeFastEvaluator::rebuild: one moment per node expected");
  // Every record below is a function of the moments alone (at fixed geometry), so the spare's
  // records of these moments are the same bits as a rebuild.
  if (m.built && m.spare_holds(moment)) {
    m.swap_spare();
    return;
  }
  if (m.built) {  // keep the current records as the spare; rebuild into the old spare's arrays
    m.swap_spare();
    m.spare = true;
    m.rec0.resize(m.spare_rec0.size());
    m.recI.resize(m.spare_recI.size());
    m.energy.resize(m.spare_energy.size());
  }
  m.built = false;
  for (std::size_t v = 0; v < m.N; ++v) m.moment_record(static_cast<int>(v), moment[v], m.rec0.data() + v * m.stride0);
  // Nodes are independent within a layer (each reads its own and its senders' records of the
  // layer before, and writes only its own), so they run in parallel: each node is computed by
  // the same function with the same inputs whatever the thread, and the cache is the same bits
  // for any thread count.
  const long N = static_cast<long>(m.N);
#pragma omp parallel if (N >= 256)
  {
    Impl::Scratch& w = m.thread_scratch();
  for (int t = 0; t < m.L; ++t) {
#pragma omp for schedule(static)
    for (long n = 0; n < N; ++n) {
      double r = 0.0;
      m.layer_at(t, static_cast<int>(n), w.hnew.data(), r, w);
      const double* mine = m.rec0.data() + n * m.stride0;
      if (t + 1 < m.L) {
        double* out = m.recI.data() + n * m.strideI;
        for (int c = 0; c < m.C; ++c) out[m.RI_H + c] = w.hnew[c];
        m.layer[t + 1].up.apply(out + m.RI_H, out + m.RI_U);
        out[m.RI_R] = r;
      } else {
        // energy = e0 + one-body, then + readout of every layer, in layer order.
        m.energy[n] = m.L > 1 ? (mine[m.R0_E] + m.recI[n * m.strideI + m.RI_R]) + r : mine[m.R0_E] + r;
      }
    }
  }
  }
  m.built = true;
}

bool NativeFastEvaluator::fresh_around(const System& s, int i) {
  Impl& m = *impl_;
  if (!m.built) return false;
  m.balls(i, 2 * m.L);
  for (int v : m.ball) {
    const double* r = m.rec0.data() + static_cast<std::size_t>(v) * m.stride0;
    const Vec3 mv = s.moment_vector(v);
    if (r[0] != mv[0] || r[1] != mv[1] || r[2] != mv[2]) return false;
  }
  return true;
}

double NativeFastEvaluator::trial(int i, const Vec3& m_new, Trial& t) {
  Impl& m = *impl_;
  if (!m.built) throw std::logic_error("NativeFastEvaluator::trial before rebuild");
  t.site = i;
  t.moment = m_new;
  t.record0.resize(m.stride0);
  m.moment_record(i, m_new, t.record0.data());
  m.over0 = t.record0.data();
  m.slot0[i] = 0;
  m.balls(i, m.L);
  // Layer-(t+1) records change within t+1 hops; the last layer's are the energies.
  t.inner_node.clear();
  t.energy_node.assign(m.ball.begin(), m.ball.begin() + m.hop_end[m.L]);
  t.energy.resize(t.energy_node.size());
  if (m.L > 1) {
    t.inner_node.assign(m.ball.begin(), m.ball.begin() + m.hop_end[1]);
    t.inner.resize(t.inner_node.size() * m.strideI);
    for (std::size_t q = 0; q < t.inner_node.size(); ++q) {
      double r = 0.0;
      double* out = t.inner.data() + q * m.strideI;
      m.layer_at(0, t.inner_node[q], m.scr.hnew.data(), r, m.scr);
      for (int c = 0; c < m.C; ++c) out[m.RI_H + c] = m.scr.hnew[c];
      m.layer[1].up.apply(out + m.RI_H, out + m.RI_U);
      out[m.RI_R] = r;
    }
    m.overI = t.inner.data();
    for (std::size_t q = 0; q < t.inner_node.size(); ++q) m.slotI[t.inner_node[q]] = static_cast<int>(q);
  }
  double de = 0.0;
  const int last = m.L - 1;
  for (std::size_t q = 0; q < t.energy_node.size(); ++q) {
    const int n = t.energy_node[q];
    double r = 0.0;
    m.layer_at(last, n, m.scr.hnew.data(), r, m.scr);
    const double* mine = m.r0(n);
    t.energy[q] = m.L > 1 ? (mine[m.R0_E] + m.rI(n)[m.RI_R]) + r : mine[m.R0_E] + r;
    de += t.energy[q] - m.energy[n];
  }
  m.slot0[i] = -1;
  for (int n : t.inner_node) m.slotI[n] = -1;
  m.over0 = m.overI = nullptr;
  return de;
}

void NativeFastEvaluator::commit(const Trial& t) {
  Impl& m = *impl_;
  std::copy(t.record0.begin(), t.record0.end(), m.rec0.begin() + static_cast<std::ptrdiff_t>(t.site) * m.stride0);
  for (std::size_t q = 0; q < t.inner_node.size(); ++q)
    std::copy(t.inner.begin() + q * m.strideI, t.inner.begin() + (q + 1) * m.strideI,
              m.recI.begin() + static_cast<std::ptrdiff_t>(t.inner_node[q]) * m.strideI);
  for (std::size_t q = 0; q < t.energy_node.size(); ++q) m.energy[t.energy_node[q]] = t.energy[q];
}

void NativeFastEvaluator::gradient(bool geo, Gradient& out) {
  Impl& m = *impl_;
  if (!m.built) throw std::logic_error("NativeFastEvaluator::gradient before rebuild");
  const std::size_t N = m.N, E = m.sender.size();
  const int C = m.C, F = m.F;
  m.g_h.assign(N * C, 0.0);
  m.g_res.assign(N * C, 0.0);
  m.g_own.assign(N * F, 0.0);
  m.g_u_e.assign(E * C, 0.0);
  m.g_f_e.assign(E * F, 0.0);
  m.g_Y_e.assign(geo ? E * m.nY : 0, 0.0);
  m.g_r_e.assign(geo ? E : 0, 0.0);
  m.g_vec.assign(geo ? 3 * E : 0, 0.0);
  m.g_basis_e.resize(geo ? E * 2 * m.radial_n : 0);
  out.dE_dmoment.assign(N, Vec3::Zero());
  out.dE_dposition.assign(geo ? N : 0, Vec3::Zero());
  out.virial = Mat3::Zero();
  const long Nl = static_cast<long>(N), El = static_cast<long>(E);
  // Each loop writes only its own node's (or edge's) entries and reads what the loop before
  // wrote; reductions over a node's outgoing edges run in edge order. So every number is the
  // same whatever the thread count.
#pragma omp parallel if (Nl >= 256)
  {
    Impl::Scratch& w = m.thread_scratch();
    std::vector<double> gu(C), one(1, 1.0);
    if (geo) {
#pragma omp for schedule(static)
      for (long e = 0; e < El; ++e) {
        const double* v = m.edge_vec.data() + 3 * e;
        const double r = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        double* b = m.g_basis_e.data() + e * 2 * m.radial_n;
        m.bessel_basis(r, b, b + m.radial_n);
      }
    }
    for (int t = m.L - 1; t >= 0; --t) {
#pragma omp for schedule(static)
      for (long n = 0; n < Nl; ++n) {
        double r = 0.0;
        m.layer_at(t, static_cast<int>(n), w.hnew.data(), r, w);  // the forward's own intermediates
        const double* gh_out = m.g_h.data() + n * C;
        if (t == m.L - 1) {  // ∂E/∂h_L from the readout (∂E/∂r_out = 1)
          w.gh.resize(C);
          m.layer[t].readout.backward(w.hnew.data(), one.data(), w.gh.data(), w.mlpw);
          gh_out = w.gh.data();
        }
        m.layer_back(t, static_cast<int>(n), gh_out, geo, w);
      }
      // ∂E/∂h_t(v) = residualᵀ(...) + upᵀ Σ_{edges out of v} ∂E/∂u_v, + readout_{t−1}'s share.
#pragma omp for schedule(static)
      for (long v = 0; v < Nl; ++v) {
        for (int c = 0; c < C; ++c) gu[c] = 0.0;
        for (int k = m.out_offset[v]; k < m.out_offset[v + 1]; ++k) {
          const double* ge = m.g_u_e.data() + static_cast<std::size_t>(m.out_edge[k]) * C;
          for (int c = 0; c < C; ++c) gu[c] += ge[c];
        }
        double* gh = m.g_h.data() + v * C;
        m.layer[t].up.apply_t(gu.data(), gh);
        const double* gres = m.g_res.data() + v * C;
        for (int c = 0; c < C; ++c) gh[c] += gres[c];
        if (t > 0) {
          w.gh.resize(C);
          m.layer[t - 1].readout.backward(m.recI.data() + v * m.strideI + m.RI_H, one.data(), w.gh.data(), w.mlpw);
          for (int c = 0; c < C; ++c) gh[c] += w.gh[c];
        }
      }
    }
    // Moments: the features (solid harmonics of m/m_max, or m/m_max itself) and the Chebyshev
    // embedding T_k(x), x = 1 − 2|m/m_max|², of h0 and of the one-body energy.
#pragma omp for schedule(static)
    for (long v = 0; v < Nl; ++v) {
      double gf[16];
      for (int q = 0; q < F; ++q) gf[q] = m.g_own[v * F + q];
      for (int k = m.out_offset[v]; k < m.out_offset[v + 1]; ++k) {
        const double* ge = m.g_f_e.data() + static_cast<std::size_t>(m.out_edge[k]) * F;
        for (int q = 0; q < F; ++q) gf[q] += ge[q];
      }
      const double* rec = m.rec0.data() + v * m.stride0;
      const double* ms = rec + m.R0_MS;
      double gms[3] = {gf[0], gf[1], gf[2]};
      if (m.soc) so3::solid_harmonics_vjp(ms, m.lm_max, gf, gms);
      const int col = m.column[v];
      const double x = 1.0 - 2.0 * (ms[0] * ms[0] + ms[1] * ms[1] + ms[2] * ms[2]);
      double T[16], dT[16];
      T[0] = 1.0;
      dT[0] = 0.0;
      if (m.K > 1) T[1] = x, dT[1] = 1.0;
      for (int k = 2; k < m.K; ++k) {
        T[k] = 2.0 * x * T[k - 1] - T[k - 2];
        dT[k] = 2.0 * T[k - 1] + 2.0 * x * dT[k - 1] - dT[k - 2];
      }
      const double* gh0 = m.g_h.data() + v * C;
      double gx = 0.0;
      for (int k = 0; k < m.K; ++k) {
        const double* wcol = m.embed.wt.data() + static_cast<std::size_t>(col * m.K + k) * C;
        double gT = m.one_body_on ? m.one_body[col * m.K + k] : 0.0;
        for (int c = 0; c < C; ++c) gT += wcol[c] * gh0[c];
        gx += gT * dT[k];
      }
      for (int a = 0; a < 3; ++a) out.dE_dmoment[v][a] = (gms[a] - 4.0 * gx * ms[a]) * m.inv_mmax[col];
    }
    if (geo) {
#pragma omp for schedule(static)
      for (long e = 0; e < El; ++e) {
        const double* vec = m.edge_vec.data() + 3 * e;
        double g[3];
        so3::spherical_harmonics_vjp(vec, m.l_max, m.g_Y_e.data() + e * m.nY, g);
        const double r = std::sqrt(vec[0] * vec[0] + vec[1] * vec[1] + vec[2] * vec[2]);
        for (int a = 0; a < 3; ++a) m.g_vec[3 * e + a] = g[a] + m.g_r_e[e] * vec[a] / r;
      }
      // vec_e = r_receiver − r_sender + shift_e.
#pragma omp for schedule(static)
      for (long v = 0; v < Nl; ++v) {
        Vec3 g = Vec3::Zero();
        for (int e = m.in_offset[v]; e < m.in_offset[v + 1]; ++e)
          for (int a = 0; a < 3; ++a) g[a] += m.g_vec[3 * static_cast<std::size_t>(e) + a];
        for (int k = m.out_offset[v]; k < m.out_offset[v + 1]; ++k)
          for (int a = 0; a < 3; ++a) g[a] -= m.g_vec[3 * static_cast<std::size_t>(m.out_edge[k]) + a];
        out.dE_dposition[v] = g;
      }
    }
  }
  // W = −∂E/∂ε = −Σ_e vec_e ⊗ ∂E/∂vec_e (every edge vector transforms with the strain).
  if (geo)
    for (std::size_t e = 0; e < E; ++e)
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) out.virial(a, b) -= m.edge_vec[3 * e + a] * m.g_vec[3 * e + b];
}

}  // namespace spinlat
