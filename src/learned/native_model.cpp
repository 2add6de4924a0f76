// The native magnetic message-passing model (native_model.hpp; equations in
// docs/learned-potential.md, "The native model").
//
// Every equivariant feature block carries its labels (l, parity under inversion, parity under
// time reversal m → −m, spin rank). Blocks are built so that the labels are exact, and the
// product basis only forms invariants whose labels are (0, +, +, spin scalar): that is where
// the symmetries of the header come from. Edge vectors enter as Y_l(r̂): (l, (−1)^l, +).
// Moments are axial vectors: with spin-orbit coupling they enter as solid harmonics
// |m|^l' Y_l'(m̂): (l', +, (−1)^l') and are coupled to Y_l(r̂) by Clebsch-Gordan coefficients
// (magnetic MACE's second tensor product, arXiv 2604.08143); without it they stay a vector of
// a separate spin space (spin rank 1, time parity −) that only ever meets another spin vector
// in a dot product, so rotating all moments alone changes nothing (the O(3)⊗O(3) symmetry of
// magnetic ACE, Drautz PRB 101, 024104 (2020)).
#include "spinlat/learned/native_model.hpp"

#include <ATen/Parallel.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/io/params.hpp"
#include "spinlat/learned/so3.hpp"

namespace spinlat {
namespace {

constexpr const char* kMagic = "spinlat_native_model";
constexpr std::int64_t kFormatVersion = 1;

// Labels of an equivariant feature block.
struct Irrep {
  int l = 0;
  int parity = 1;  // under inversion r → −r (moments, axial, do not change)
  int time = 1;    // under time reversal m → −m
  int spin = 0;    // 0: scalar in spin space; 1: a spin-space vector (no-SOC mode only)
  bool operator<(const Irrep& o) const {
    return std::tie(l, parity, time, spin) < std::tie(o.l, o.parity, o.time, o.spin);
  }
  bool operator==(const Irrep& o) const {
    return l == o.l && parity == o.parity && time == o.time && spin == o.spin;
  }
};

int sign_of(int l) { return l % 2 == 0 ? 1 : -1; }

// One way an edge feeds a block: Y_l(r̂) alone (moment_l = 0), Y_l(r̂) ⊗ Y_l'(m_s) → L
// (spin-orbit mode), or Y_l(r̂) ⊗ m_s as a spin vector (no-SOC mode, moment_l = −1).
struct EdgePath {
  int l = 0, moment_l = 0, L = 0;
  int block = 0;  // index of the block it adds to
};

// One invariant of the product basis: the blocks it multiplies (1 to 3, indices into the
// layer's block list, own-moment blocks included).
struct ProductPath {
  std::vector<int> factor;
};

}  // namespace

// One interaction layer: messages into blocks, then the product basis and the update of the
// scalar node features.
struct NativeModelImpl::Layer {
  std::vector<Irrep> block;        // message blocks, then own-moment blocks
  std::vector<bool> own;           // block is the receiver's own moment (no channels)
  std::vector<int> own_l;          // for own blocks: l' of the solid harmonic (0 for the spin vector)
  std::vector<EdgePath> edge_path;
  std::vector<ProductPath> product;
  std::vector<at::Tensor> cg_edge;     // per edge path with moment_l > 0: C[l, l', L]
  std::vector<at::Tensor> cg_product;  // per product path with 3 factors: C[l1, l2, l3]
  torch::nn::Linear up{nullptr};       // sender features → channels
  torch::nn::Sequential radial{nullptr};
  torch::nn::Linear mix{nullptr};      // invariants → new node features
  torch::nn::Linear residual{nullptr};
  torch::nn::Sequential readout{nullptr};
};

namespace {

void enumerate_blocks(const NativeModelConfig& c, NativeModelImpl::Layer& L) {
  std::map<Irrep, int> index;
  auto block_of = [&](const Irrep& ir) {
    auto it = index.find(ir);
    if (it != index.end()) return it->second;
    const int k = static_cast<int>(L.block.size());
    index[ir] = k;
    L.block.push_back(ir);
    L.own.push_back(false);
    L.own_l.push_back(0);
    return k;
  };
  for (int l = 0; l <= c.l_max; ++l) {
    EdgePath p{l, 0, l, 0};
    p.block = block_of({l, sign_of(l), 1, 0});
    L.edge_path.push_back(p);
  }
  if (c.spin_orbit) {
    for (int l = 0; l <= c.l_max; ++l)
      for (int lm = 1; lm <= c.moment_l_max; ++lm)
        for (int J = std::abs(l - lm); J <= std::min(l + lm, c.l_max); ++J) {
          EdgePath p{l, lm, J, 0};
          p.block = block_of({J, sign_of(l), sign_of(lm), 0});
          L.edge_path.push_back(p);
        }
  } else {
    for (int l = 0; l <= c.l_max; ++l) {
      EdgePath p{l, -1, l, 0};
      p.block = block_of({l, sign_of(l), -1, 1});
      L.edge_path.push_back(p);
    }
  }
  // The receiver's own moment (magnetic MACE's product block with the atom's own moment).
  auto add_own = [&](const Irrep& ir, int lm) {
    L.block.push_back(ir);
    L.own.push_back(true);
    L.own_l.push_back(lm);
  };
  if (c.spin_orbit) {
    for (int lm = 1; lm <= c.moment_l_max; ++lm) add_own({lm, 1, sign_of(lm), 0}, lm);
  } else {
    add_own({0, 1, -1, 1}, 0);
  }
}

bool triangle(int a, int b, int c) { return c >= std::abs(a - b) && c <= a + b; }

// Invariants (0, +, +, spin scalar) of up to `correlation` factors, each multiset once.
void enumerate_products(const NativeModelConfig& c, NativeModelImpl::Layer& L) {
  const int nb = static_cast<int>(L.block.size());
  auto admissible = [&](const std::vector<int>& f) {
    int parity = 1, time = 1, spins = 0;
    bool any_message = false;
    for (int k : f) {
      parity *= L.block[k].parity;
      time *= L.block[k].time;
      spins += L.block[k].spin;
      any_message = any_message || !L.own[k];
    }
    // Products of own moments alone are functions of |m| (the one-body term has them).
    return any_message && parity == 1 && time == 1 && (spins == 0 || spins == 2);
  };
  for (int a = 0; a < nb; ++a) {
    if (c.correlation >= 1 && L.block[a].l == 0 && admissible({a}) && L.block[a].spin == 0)
      L.product.push_back({{a}});
  }
  if (c.correlation >= 2)
    for (int a = 0; a < nb; ++a)
      for (int b = a; b < nb; ++b)
        if (L.block[a].l == L.block[b].l && L.block[a].spin == L.block[b].spin && admissible({a, b}))
          L.product.push_back({{a, b}});
  if (c.correlation >= 3)
    for (int a = 0; a < nb; ++a)
      for (int b = a; b < nb; ++b)
        for (int d = b; d < nb; ++d) {
          const int la = L.block[a].l, lb = L.block[b].l, ld = L.block[d].l;
          if (!triangle(la, lb, ld) || !admissible({a, b, d})) continue;
          // Two equal factors with l_a + l_b + l_d odd: the coupling is antisymmetric in them
          // and the invariant vanishes identically.
          if ((la + lb + ld) % 2 == 1 && (a == b || b == d)) continue;
          // Two spin vectors and a scalar, or none: contracted as described in contract3().
          L.product.push_back({{a, b, d}});
        }
}

// x = 1 − 2(|m|/m_max)² and T_0..T_{K−1}(x) (Chebyshev, by the three-term recurrence).
at::Tensor chebyshev(const at::Tensor& x, int K) {
  std::vector<at::Tensor> t;
  t.push_back(torch::ones_like(x));
  if (K > 1) t.push_back(x);
  for (int k = 2; k < K; ++k) t.push_back(2.0 * x * t[k - 1] - t[k - 2]);
  return torch::stack(t, -1);
}

// Bessel radial basis √(2/r_c) sin(nπr/r_c)/r times the polynomial envelope of
// Klicpera et al. (DimeNet, ICLR 2020, eq. 8), as MACE uses: smooth (p continuous
// derivatives) to zero at r_c.
at::Tensor radial_basis(const at::Tensor& r, double rc, int n, int p) {
  const at::Tensor k = torch::arange(1, n + 1, r.options());
  const at::Tensor rr = r.unsqueeze(-1);
  const at::Tensor bessel = std::sqrt(2.0 / rc) * torch::sin(k * M_PI * rr / rc) / rr;
  const at::Tensor x = rr / rc;
  const double pp = p;
  const at::Tensor env = 1.0 - (pp + 1.0) * (pp + 2.0) / 2.0 * torch::pow(x, p) +
                         pp * (pp + 2.0) * torch::pow(x, p + 1) -
                         pp * (pp + 1.0) / 2.0 * torch::pow(x, p + 2);
  return bessel * env * (x < 1.0).to(r.scalar_type());
}

torch::nn::Sequential mlp(int in, const std::vector<int>& hidden, int out, bool bias_out) {
  torch::nn::Sequential s;
  int w = in;
  for (int h : hidden) {
    s->push_back(torch::nn::Linear(torch::nn::LinearOptions(w, h).bias(true)));
    s->push_back(torch::nn::SiLU());
    w = h;
  }
  s->push_back(torch::nn::Linear(torch::nn::LinearOptions(w, out).bias(bias_out)));
  return s;
}

}  // namespace

void check_config(const NativeModelConfig& c) {
  auto bad = [](const std::string& key, const std::string& what) {
    throw InputError("native model configuration: " + key + ": " + what);
  };
  if (c.atomic_numbers.empty()) bad("atomic_numbers", "at least one element is needed");
  for (int z : c.atomic_numbers)
    if (z < 1 || z > 118) bad("atomic_numbers", "expected atomic numbers 1..118");
  if (c.m_max.size() != c.atomic_numbers.size())
    bad("m_max", "one value per element expected (" + std::to_string(c.atomic_numbers.size()) + ")");
  for (double m : c.m_max)
    if (!(m >= 0.0) || !std::isfinite(m)) bad("m_max", "expected μB ≥ 0 (0 = non-magnetic element)");
  if (!c.e0.empty() && c.e0.size() != c.atomic_numbers.size()) bad("e0", "one value per element expected");
  if (!(c.r_max > 0.5) || !(c.r_max < 20.0)) bad("r_max", "expected 0.5 < r_max < 20 Å");
  if (c.radial_basis < 1 || c.radial_basis > 64) bad("radial_basis", "expected 1..64");
  if (c.envelope_p < 2 || c.envelope_p > 12) bad("envelope_p", "expected 2..12");
  if (c.channels < 1 || c.channels > 512) bad("channels", "expected 1..512");
  if (c.l_max < 0 || c.l_max > 3) bad("l_max", "expected 0..3");
  if (c.moment_l_max < 1 || c.moment_l_max > 3) bad("moment_l_max", "expected 1..3");
  if (c.moment_basis < 1 || c.moment_basis > 16) bad("moment_basis", "expected 1..16");
  if (c.correlation < 1 || c.correlation > 3) bad("correlation", "expected 1..3");
  if (c.interactions < 1 || c.interactions > 2) bad("interactions", "expected 1 or 2");
  for (int h : c.readout_hidden)
    if (h < 1 || h > 1024) bad("readout_hidden", "expected widths 1..1024");
  if (!(c.avg_neighbors > 0.0)) bad("avg_neighbors", "expected a positive number");
}

NativeModelImpl::NativeModelImpl(NativeModelConfig config) : config_(std::move(config)) {
  check_config(config_);
  NativeModelConfig& c = config_;
  if (c.e0.empty()) c.e0.assign(c.atomic_numbers.size(), 0.0);
  const auto S = static_cast<std::int64_t>(c.atomic_numbers.size());
  const int C = c.channels;
  torch::NoGradGuard no_grad;

  // Node features of layer 0: species ⊗ Chebyshev basis of |m|, mixed to C channels.
  embed_ = register_module("embedding", torch::nn::Linear(torch::nn::LinearOptions(S * c.moment_basis, C).bias(false)));
  one_body_ = register_parameter("one_body", torch::zeros({S, c.moment_basis}, torch::kDouble));
  e0_ = register_buffer("e0", torch::tensor(c.e0, torch::kDouble));

  for (int t = 0; t < c.interactions; ++t) {
    auto L = std::make_shared<Layer>();
    enumerate_blocks(c, *L);
    enumerate_products(c, *L);
    for (const EdgePath& p : L->edge_path)
      L->cg_edge.push_back(p.moment_l > 0 ? so3::clebsch_gordan(p.l, p.moment_l, p.L) : at::Tensor());
    for (const ProductPath& p : L->product)
      L->cg_product.push_back(p.factor.size() == 3
                                  ? so3::clebsch_gordan(L->block[p.factor[0]].l, L->block[p.factor[1]].l,
                                                        L->block[p.factor[2]].l)
                                  : at::Tensor());
    const std::string n = std::to_string(t);
    L->up = register_module("interaction" + n + "_up", torch::nn::Linear(torch::nn::LinearOptions(C, C).bias(false)));
    L->radial = register_module("interaction" + n + "_radial",
                                mlp(c.radial_basis, {16, 16}, static_cast<int>(L->edge_path.size()) * C, false));
    L->mix = register_module("product" + n + "_mix",
                             torch::nn::Linear(torch::nn::LinearOptions(static_cast<int>(L->product.size()) * C, C).bias(false)));
    L->residual = register_module("product" + n + "_residual", torch::nn::Linear(torch::nn::LinearOptions(C, C).bias(false)));
    const bool last = t + 1 == c.interactions;
    L->readout = register_module("readout" + n, last ? mlp(C, c.readout_hidden, 1, false) : mlp(C, {}, 1, false));
    layers_.push_back(L);
  }
  this->to(torch::kDouble);
}

const std::vector<std::string>& NativeModelImpl::parts() {
  static const std::vector<std::string> p = {"embedding", "interaction", "product", "readout", "one_body"};
  return p;
}

std::vector<at::Tensor> NativeModelImpl::parameters_of(const std::string& part) {
  bool known = false;
  for (const auto& p : parts()) known = known || p == part;
  if (!known) {
    std::string list;
    for (const auto& p : parts()) list += (list.empty() ? "" : ", ") + p;
    throw InputError("unknown model part '" + part + "' (expected one of " + list + ")");
  }
  std::vector<at::Tensor> out;
  for (const auto& item : named_parameters(/*recurse=*/true))
    if (item.key().rfind(part, 0) == 0) out.push_back(item.value());
  return out;
}

void NativeModelImpl::set_e0(const std::vector<double>& e0) {
  if (e0.size() != config_.atomic_numbers.size())
    throw InputError("e0: one value per element expected (" + std::to_string(config_.atomic_numbers.size()) + ")");
  config_.e0 = e0;
  torch::NoGradGuard no_grad;
  e0_.copy_(torch::tensor(e0, torch::kDouble));
}

std::vector<int> NativeModelImpl::product_sizes() const {
  std::vector<int> n;
  for (const auto& L : layers_) n.push_back(static_cast<int>(L->product.size()));
  return n;
}

std::vector<NativeLayerStructure> NativeModelImpl::structure() const {
  std::vector<NativeLayerStructure> out;
  for (const auto& L : layers_) {
    NativeLayerStructure s;
    for (std::size_t b = 0; b < L->block.size(); ++b) {
      const Irrep& ir = L->block[b];
      s.block.push_back({ir.l, ir.parity, ir.time, ir.spin, static_cast<bool>(L->own[b]), L->own_l[b]});
    }
    for (const EdgePath& p : L->edge_path) s.edge_path.push_back({p.l, p.moment_l, p.L, p.block});
    for (const ProductPath& p : L->product) s.product.push_back(p.factor);
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

// Σ_m X_m Y_m (and Σ_s for spin vectors): the l ⊗ l → 0 coupling up to the factor √(2l+1).
at::Tensor contract2(const at::Tensor& x, const at::Tensor& y, int spin) {
  if (spin == 0) return (x * y).sum(-1);
  return (x * y).sum({-1, -2});
}

// Batched products of many small matrices, out[n] = a[n] · b[n]. ATen's bmm on the CPU calls
// a GEMM per batch entry (thousands of calls on 16×26 matrices); these loops do the same
// arithmetic without the per-call overhead. Each n is computed by one thread in a fixed
// order, so results do not depend on the thread count. The backward pass is made of the
// same products, so it is differentiable again (force training needs a double backward).
at::Tensor small_bmm_kernel(const at::Tensor& a_in, const at::Tensor& b_in) {
  const at::Tensor a = a_in.contiguous(), b = b_in.contiguous();
  const std::int64_t B = a.size(0), I = a.size(1), J = a.size(2), L = b.size(2);
  at::Tensor out = torch::zeros({B, I, L}, a.options());
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "small_bmm", [&] {
    const scalar_t* pa = a.data_ptr<scalar_t>();
    const scalar_t* pb = b.data_ptr<scalar_t>();
    scalar_t* po = out.data_ptr<scalar_t>();
    at::parallel_for(0, B, 64, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t n = begin; n < end; ++n) {
        const scalar_t* x = pa + n * I * J;
        const scalar_t* y = pb + n * J * L;
        scalar_t* z = po + n * I * L;
        for (std::int64_t i = 0; i < I; ++i)
          for (std::int64_t j = 0; j < J; ++j) {
            const scalar_t xij = x[i * J + j];
            if (xij == scalar_t(0)) continue;
            const scalar_t* yj = y + j * L;
            scalar_t* zi = z + i * L;
            for (std::int64_t l = 0; l < L; ++l) zi[l] += xij * yj[l];
          }
      }
    });
  });
  return out;
}

struct SmallBmm : public torch::autograd::Function<SmallBmm> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b) {
    ctx->save_for_backward({a, b});
    return small_bmm_kernel(a, b);
  }
  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grad) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& g = grad[0];
    return {SmallBmm::apply(g, saved[1].transpose(1, 2)), SmallBmm::apply(saved[0].transpose(1, 2), g)};
  }
};

/// a [B,I,J] · b [B,J,L] → [B,I,L], differentiable to any order.
at::Tensor small_bmm(const at::Tensor& a, const at::Tensor& b) { return SmallBmm::apply(a, b); }

// Σ C[a,b,z] X_a Y_b Z_z, with the two spin vectors among the factors (if any) dotted.
// Contracted as a matrix product with C first, then elementwise: the intermediate is
// [N,C,·,·], never the [N,C,a,b,z] outer product a left-to-right einsum would form.
at::Tensor contract3(const at::Tensor& x, const at::Tensor& y, const at::Tensor& z, const at::Tensor& cg,
                     int sx, int sy, int sz) {
  const auto N = x.size(0), C = x.size(1);
  const auto a = cg.size(0), b = cg.size(1), d = cg.size(2);
  if (!sx && !sy && !sz) {
    const at::Tensor xc = x.reshape({N * C, a}).matmul(cg.reshape({a, b * d})).reshape({N, C, b, d});
    return (xc * y.unsqueeze(-1) * z.unsqueeze(-2)).sum({-1, -2});
  }
  if (sx && sy) {  // (X·Y)_ab Σ_z C_abz Z_z
    const at::Tensor dot = small_bmm(x.reshape({N * C, a, 3}), y.reshape({N * C, b, 3}).transpose(1, 2)).reshape({N, C, a, b});
    const at::Tensor zc = z.reshape({N * C, d}).matmul(cg.permute({2, 0, 1}).reshape({d, a * b})).reshape({N, C, a, b});
    return (dot * zc).sum({-1, -2});
  }
  if (sx && sz) {
    const at::Tensor dot = small_bmm(x.reshape({N * C, a, 3}), z.reshape({N * C, d, 3}).transpose(1, 2)).reshape({N, C, a, d});
    const at::Tensor yc = y.reshape({N * C, b}).matmul(cg.permute({1, 0, 2}).reshape({b, a * d})).reshape({N, C, a, d});
    return (dot * yc).sum({-1, -2});
  }
  const at::Tensor dot = small_bmm(y.reshape({N * C, b, 3}), z.reshape({N * C, d, 3}).transpose(1, 2)).reshape({N, C, b, d});
  const at::Tensor xc = x.reshape({N * C, a}).matmul(cg.reshape({a, b * d})).reshape({N, C, b, d});
  return (dot * xc).sum({-1, -2});
}

// Edge e sits in row receiver[e] of an [N, K] table; empty slots index a zero row.
struct DenseEdges {
  std::int64_t K = 0;
  at::Tensor index;  // [N·K] edge ids, E for empty slots
  at::Tensor gather(const at::Tensor& per_edge) const {  // [E, F] → [N, K, F]
    const at::Tensor padded = torch::cat({per_edge, torch::zeros({1, per_edge.size(1)}, per_edge.options())}, 0);
    return padded.index_select(0, index).reshape({index.size(0) / std::max<std::int64_t>(K, 1), K, per_edge.size(1)});
  }
};

DenseEdges dense_edges(const at::Tensor& receiver, std::int64_t N) {
  DenseEdges d;
  const std::int64_t E = receiver.size(0);
  const at::Tensor counts = torch::bincount(receiver, {}, N);
  d.K = E > 0 ? std::max<std::int64_t>(counts.max().item<std::int64_t>(), 1) : 1;
  const at::Tensor order = std::get<1>(at::sort(receiver, /*stable=*/true, /*dim=*/0, /*descending=*/false));
  const at::Tensor sorted = receiver.index_select(0, order);
  const at::Tensor start = counts.cumsum(0) - counts;
  const at::Tensor slot = sorted * d.K + (torch::arange(E, receiver.options()) - start.index_select(0, sorted));
  d.index = torch::full({N * d.K}, E, receiver.options());
  d.index.index_put_({slot}, order);
  return d;
}

}  // namespace

at::Tensor NativeModelImpl::node_energy(const ModelInputs& in) {
  const NativeModelConfig& c = config_;
  const auto opts = in.positions.options();
  const auto dtype = in.positions.scalar_type();
  const std::int64_t N = in.positions.size(0);
  const int C = c.channels;
  const auto S = static_cast<std::int64_t>(c.atomic_numbers.size());

  // Per-node moment scale 1/m_max (1 for non-magnetic elements, whose moments are zero).
  std::vector<double> inv(c.m_max.size());
  for (std::size_t k = 0; k < inv.size(); ++k) inv[k] = c.m_max[k] > 0.0 ? 1.0 / c.m_max[k] : 1.0;
  const at::Tensor inv_mmax = torch::tensor(inv, opts).index_select(0, in.species);  // [N]
  const at::Tensor m_scaled = in.magmom * inv_mmax.unsqueeze(-1);                  // [N,3]
  const at::Tensor m2 = (m_scaled * m_scaled).sum(-1);                               // [N]
  const at::Tensor chebs = chebyshev(1.0 - 2.0 * m2, c.moment_basis);                // [N,K]
  const at::Tensor onehot = torch::one_hot(in.species, S).to(dtype);                 // [N,S]

  // Layer-0 node features and the one-body energy e0 + Σ_k w_k T_k(x).
  const at::Tensor species_cheb = (onehot.unsqueeze(-1) * chebs.unsqueeze(1)).reshape({N, S * c.moment_basis});
  at::Tensor h = embed_->forward(species_cheb);  // [N,C]
  at::Tensor energy = e0_.to(dtype).index_select(0, in.species);
  if (c.one_body) energy = energy + (species_cheb * one_body_.to(dtype).reshape({1, -1})).sum(-1);

  // Edge geometry.
  const at::Tensor vec = in.positions.index_select(0, in.receiver) - in.positions.index_select(0, in.sender) + in.shifts;
  const at::Tensor r = torch::sqrt((vec * vec).sum(-1));
  const std::vector<at::Tensor> Y = so3::spherical_harmonics(vec, c.l_max);  // [E,2l+1]
  const at::Tensor basis = radial_basis(r, c.r_max, c.radial_basis, c.envelope_p);
  const std::int64_t E = r.size(0);
  const double norm = 1.0 / c.avg_neighbors;

  // Moment features of every node: solid harmonics of m/m_max (SOC) or m/m_max itself.
  std::vector<at::Tensor> Ym;
  if (c.spin_orbit) Ym = so3::solid_harmonics(m_scaled, c.moment_l_max);

  // The angular factor of every edge path (the same in every layer): Y_l(r̂), or
  // [Y_l(r̂) ⊗ Y_l'(m_s)]_L, or Y_l(r̂) ⊗ m_s flattened; all paths side by side.
  const Layer& first = *layers_.front();
  std::vector<at::Tensor> angular;
  std::vector<std::int64_t> width, offset;
  const at::Tensor ms = c.spin_orbit ? at::Tensor() : m_scaled.index_select(0, in.sender);  // [E,3]
  for (std::size_t k = 0; k < first.edge_path.size(); ++k) {
    const EdgePath& p = first.edge_path[k];
    at::Tensor a;
    if (p.moment_l == 0) {
      a = Y[p.l];
    } else if (p.moment_l > 0) {
      const at::Tensor ym = Ym[p.moment_l].index_select(0, in.sender);  // [E,2l'+1]
      const auto la = 2 * p.l + 1, lb = 2 * p.moment_l + 1;
      a = (Y[p.l].unsqueeze(-1) * ym.unsqueeze(1)).reshape({E, la * lb})
              .matmul(first.cg_edge[k].to(dtype).reshape({la * lb, 2 * p.L + 1}));
    } else {
      a = (Y[p.l].unsqueeze(-1) * ms.unsqueeze(1)).reshape({E, (2 * p.l + 1) * 3});
    }
    offset.push_back(offset.empty() ? 0 : offset.back() + width.back());
    width.push_back(a.size(1));
    angular.push_back(a);
  }
  // Edges laid out densely by receiver, [N, K] with K the largest in-degree and empty slots
  // pointing at a zero row: every edge sum becomes a batched matrix product per node
  // (Σ_k W[n,k,c] Y[n,k,d]) instead of an [E, C, D] tensor scattered into nodes.
  const DenseEdges dense = dense_edges(in.receiver, N);
  const at::Tensor Yd = dense.gather(torch::cat(angular, 1));  // [N,K,ΣD]

  for (std::size_t t = 0; t < layers_.size(); ++t) {
    Layer& L = *layers_[t];
    const auto P = static_cast<std::int64_t>(L.edge_path.size());
    const at::Tensor R = L.radial->forward(basis).reshape({E, P, C});
    const at::Tensor hs = L.up->forward(h).index_select(0, in.sender);  // [E,C]
    // The last layer works on the target nodes only, when the caller names them.
    const bool subset = in.targets.defined() && t + 1 == layers_.size();
    auto rows = [&](const at::Tensor& x) { return subset ? x.index_select(0, in.targets) : x; };
    const std::int64_t Nr = subset ? in.targets.size(0) : N;
    const std::vector<at::Tensor> Wd = rows(dense.gather((R * hs.unsqueeze(1)).reshape({E, P * C})))
                                           .reshape({Nr, dense.K, P, C}).permute({0, 2, 3, 1}).unbind(1);  // P × [Nr,C,K]
    const at::Tensor Yr = rows(Yd);

    // Messages: Σ over incoming edges, one block per label.
    std::vector<at::Tensor> block(L.block.size());
    for (std::int64_t k = 0; k < P; ++k) {
      const EdgePath& p = L.edge_path[k];
      at::Tensor summed = small_bmm(Wd[k], Yr.narrow(2, offset[k], width[k])) * norm;  // [Nr,C,D]
      if (p.moment_l < 0) summed = summed.reshape({Nr, C, 2 * p.l + 1, 3});
      block[p.block] = block[p.block].defined() ? block[p.block] + summed : summed;
    }
    // The receiver's own moment, the same in every channel.
    for (std::size_t b = 0; b < L.block.size(); ++b) {
      if (!L.own[b]) continue;
      if (c.spin_orbit) block[b] = rows(Ym[L.own_l[b]]).unsqueeze(1).expand({Nr, C, 2 * L.own_l[b] + 1});
      else block[b] = rows(m_scaled).unsqueeze(1).unsqueeze(1).expand({Nr, C, 1, 3});
    }

    // Product basis: invariants of 1, 2 and 3 factors, channel by channel (MACE's
    // symmetric contraction, Batatia et al. 2022, eq. 10, with fixed couplings per path).
    std::vector<at::Tensor> inv_feats;
    inv_feats.reserve(L.product.size());
    for (std::size_t k = 0; k < L.product.size(); ++k) {
      const auto& f = L.product[k].factor;
      if (f.size() == 1) {
        inv_feats.push_back(block[f[0]].squeeze(-1));  // l = 0: one component
      } else if (f.size() == 2) {
        inv_feats.push_back(contract2(block[f[0]], block[f[1]], L.block[f[0]].spin));
      } else {
        inv_feats.push_back(contract3(block[f[0]], block[f[1]], block[f[2]], L.cg_product[k].to(dtype),
                                      L.block[f[0]].spin, L.block[f[1]].spin, L.block[f[2]].spin));
      }
    }
    const at::Tensor B = torch::stack(inv_feats, -1).reshape({Nr, -1});  // [Nr, C·P]
    h = L.mix->forward(B) + L.residual->forward(rows(h));
    const at::Tensor readout = L.readout->forward(h).squeeze(-1);
    energy = subset ? energy.index_add(0, in.targets, readout) : energy + readout;
  }
  return energy;
}

// ---- configuration as TOML ----------------------------------------------------------------

namespace {
int int_in(Params& p, const std::string& key, int fallback, int lo, int hi) {
  const long long v = p.integer(key, fallback);
  p.require(v >= lo && v <= hi, key,
            "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + std::to_string(v));
  return static_cast<int>(v);
}
}  // namespace

void read_architecture(Params& p, NativeModelConfig& c) {
  // The ranges are those of check_config(), checked here so that errors name the key and line.
  c.r_max = p.real("r_max", c.r_max);
  p.require(c.r_max > 0.5 && c.r_max < 20.0, "r_max", "expected 0.5 < r_max < 20 Å");
  c.radial_basis = int_in(p, "radial_basis", c.radial_basis, 1, 64);
  c.envelope_p = int_in(p, "envelope_p", c.envelope_p, 2, 12);
  c.channels = int_in(p, "channels", c.channels, 1, 512);
  c.l_max = int_in(p, "l_max", c.l_max, 0, 3);
  c.moment_l_max = int_in(p, "moment_l_max", c.moment_l_max, 1, 3);
  c.moment_basis = int_in(p, "moment_basis", c.moment_basis, 1, 16);
  c.correlation = int_in(p, "correlation", c.correlation, 1, 3);
  c.interactions = int_in(p, "interactions", c.interactions, 1, 2);
  c.spin_orbit = p.boolean("spin_orbit", c.spin_orbit);
  if (p.has("readout_hidden")) {
    c.readout_hidden.clear();
    for (long long w : p.integers("readout_hidden")) {
      p.require(w >= 1 && w <= 1024, "readout_hidden", "expected widths 1..1024");
      c.readout_hidden.push_back(static_cast<int>(w));
    }
  }
  c.one_body = p.boolean("one_body", c.one_body);
  if (p.has("avg_neighbors")) {
    c.avg_neighbors = p.real("avg_neighbors");
    p.require(c.avg_neighbors > 0.0, "avg_neighbors", "expected a positive number of neighbours");
  }
}

NativeModelConfig parse_native_model_config(Params& p) {
  NativeModelConfig c;
  if (p.has("elements")) {
    for (const auto& sym : p.strings("elements")) {
      const int z = atomic_number(sym);
      p.require(z > 0, "elements", "expected element symbols, got \"" + sym + "\"");
      c.atomic_numbers.push_back(z);
    }
  }
  if (p.has("atomic_numbers")) {
    p.require(c.atomic_numbers.empty(), "atomic_numbers", "give either elements or atomic_numbers, not both");
    for (long long z : p.integers("atomic_numbers")) c.atomic_numbers.push_back(static_cast<int>(z));
  }
  p.require(!c.atomic_numbers.empty(), "elements", "the model needs its elements (elements = [\"Fe\"])");
  c.m_max = p.reals("m_max");
  if (p.has("e0") && !p.table().get("e0")->is_string()) c.e0 = p.reals("e0");
  read_architecture(p, c);
  try {
    check_config(c);
  } catch (const InputError& e) {
    std::string msg = e.what();
    const std::string prefix = "native model configuration: ";
    if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
    const auto colon = msg.find(':');
    const std::string key = msg.substr(0, colon);
    p.fail(p.has(key) ? key : "", colon == std::string::npos ? msg : msg.substr(colon + 2));
  }
  return c;
}

namespace {
template <class T>
std::string toml_list(const std::vector<T>& v) {
  std::ostringstream o;
  o.precision(17);
  o << "[";
  for (std::size_t k = 0; k < v.size(); ++k) o << (k ? ", " : "") << v[k];
  o << "]";
  return o.str();
}
}  // namespace

std::string to_toml(const NativeModelConfig& c) {
  std::ostringstream o;
  o.precision(17);
  o << "atomic_numbers = " << toml_list(c.atomic_numbers) << "\n"
    << "m_max = " << toml_list(c.m_max) << "\n"
    << "e0 = " << toml_list(c.e0) << "\n"
    << "r_max = " << c.r_max << "\n"
    << "radial_basis = " << c.radial_basis << "\n"
    << "envelope_p = " << c.envelope_p << "\n"
    << "channels = " << c.channels << "\n"
    << "l_max = " << c.l_max << "\n"
    << "moment_l_max = " << c.moment_l_max << "\n"
    << "moment_basis = " << c.moment_basis << "\n"
    << "correlation = " << c.correlation << "\n"
    << "interactions = " << c.interactions << "\n"
    << "spin_orbit = " << (c.spin_orbit ? "true" : "false") << "\n"
    << "readout_hidden = " << toml_list(c.readout_hidden) << "\n"
    << "one_body = " << (c.one_body ? "true" : "false") << "\n"
    << "avg_neighbors = " << c.avg_neighbors << "\n";
  return o.str();
}

// ---- files ----------------------------------------------------------------------------------

void save_native_model(NativeModel& model, const std::string& path) {
  torch::serialize::OutputArchive archive;
  archive.write(kMagic, torch::tensor(kFormatVersion));
  // e0 may have been set after construction (the trainer fits it): keep the config in step.
  NativeModelConfig c = model->config();
  archive.write("config", c10::IValue(to_toml(c)));
  for (const auto& item : model->named_parameters(true))
    archive.write("param." + item.key(), item.value().detach().to(torch::kDouble).clone());
  for (const auto& item : model->named_buffers(true))
    archive.write("buffer." + item.key(), item.value().detach().to(torch::kDouble).clone());
  const std::string tmp = path + ".tmp";
  archive.save_to(tmp);
  std::filesystem::rename(tmp, path);
}

namespace {
bool read_archive(const std::string& path, torch::serialize::InputArchive& archive) {
  try {
    archive.load_from(path);
  } catch (const c10::Error&) {
    return false;
  } catch (const std::exception&) {
    return false;
  }
  c10::IValue magic;
  return archive.try_read(kMagic, magic);
}
}  // namespace

bool is_native_model_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) return false;
  torch::serialize::InputArchive archive;
  return read_archive(path, archive);
}

NativeModel load_native_model(const std::string& path) {
  if (!std::filesystem::exists(path)) throw InputError(path + ": model file not found");
  torch::serialize::InputArchive archive;
  if (!read_archive(path, archive))
    throw InputError(path + ": not a native spinlat model (written by `spinlat train`)");
  c10::IValue version_value;
  archive.read(kMagic, version_value);
  const std::int64_t version = version_value.toTensor().item<std::int64_t>();
  if (version != kFormatVersion)
    throw InputError(path + ": native model format " + std::to_string(version) + ", this spinlat reads " +
                     std::to_string(kFormatVersion));
  c10::IValue text;
  archive.read("config", text);
  const std::string toml_text = text.toStringRef();
  toml::table table;
  try {
    table = toml::parse(toml_text, path);
  } catch (const toml::parse_error& e) {
    throw InputError(path + ": corrupt model configuration: " + std::string(e.description()));
  }
  Params p(table, path, "");
  NativeModelConfig c = parse_native_model_config(p);
  p.finish();
  NativeModel model(c);
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters(true)) {
    at::Tensor v;
    if (!archive.try_read("param." + item.key(), v))
      throw InputError(path + ": the model file lacks parameter '" + item.key() + "'");
    if (v.sizes() != item.value().sizes())
      throw InputError(path + ": parameter '" + item.key() + "' has the wrong shape");
    item.value().copy_(v);
  }
  for (auto& item : model->named_buffers(true)) {
    at::Tensor v;
    if (archive.try_read("buffer." + item.key(), v) && v.sizes() == item.value().sizes()) item.value().copy_(v);
  }
  return model;
}

}  // namespace spinlat
