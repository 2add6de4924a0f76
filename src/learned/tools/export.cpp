// TorchScript export of the native model (export.hpp; docs/learned-potential.md,
// "Exporting a native model to TorchScript").
//
// The generator writes forward() as TorchScript source for the model's actual configuration
// and registers every weight (register_parameter) and every constant (register_buffer) the
// source reads. It repeats NativeModelImpl::node_energy() operation by operation, so that
// both give the same numbers up to the order of a few floating-point sums:
//  - the same enumeration of blocks, edge paths and product paths (NativeModelImpl::structure());
//  - the same harmonic polynomial tables (so3::solid_harmonic_table) and Clebsch-Gordan
//    tensors (so3::clebsch_gordan), evaluated by the same monomial recursion;
//  - the message sum Σ_{e→i} R(r_e) ⊙ (W_up h_s) ⊗ angular_e, which the native model computes
//    as small per-node matrix products over its dense [N, K] edge table (a custom autograd
//    function), is written as MACE's scatter sum: per-edge messages added into their receivers
//    with index_add (Batatia et al., NeurIPS 2022, eq. 8), in edge order, as the native loop;
//  - the products of spin vectors in the triple contraction use torch.bmm.
// Only standard ATen ops appear, so TorchScript's autograd differentiates node_energy with
// respect to positions, magmom and shifts (the inputs the learned term differentiates).
// Edge vectors are built from `shifts` as in MACE's LAMMPS export; `cell` and `unit_shifts`
// are not read (the term's virial formula holds either way, learned_term.hpp).
#include "spinlat/learned/tools/export.hpp"

#include <torch/script.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <sstream>

#include "spinlat/core/error.hpp"
#include "spinlat/learned/native_model.hpp"
#include "spinlat/learned/so3.hpp"

namespace spinlat {
namespace {

// A float literal that TorchScript reads back to the same double.
std::string num(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  std::string s = buf;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string str(std::int64_t k) { return std::to_string(k); }

[[noreturn]] void unsupported(const std::string& what) {
  throw InputError("cannot export this native model to TorchScript: " + what + " is not supported by the exporter");
}

// The TorchScript module under construction and the source of its forward().
class Generator {
 public:
  Generator(NativeModel& model, const std::string& file) : model_(model), file_(file), module_("SpinlatNativeModel") {}

  torch::jit::Module build() {
    const NativeModelConfig& c = model_->config();
    const auto S = static_cast<std::int64_t>(c.atomic_numbers.size());
    const std::int64_t C = c.channels, K = c.moment_basis;
    const std::vector<NativeLayerStructure> layers = model_->structure();
    if (layers.empty()) unsupported("a model without interaction layers");
    const NativeLayerStructure& first = layers.front();
    for (const auto& L : layers) {
      bool same = L.edge_path.size() == first.edge_path.size();
      for (std::size_t k = 0; same && k < L.edge_path.size(); ++k)
        same = L.edge_path[k].l == first.edge_path[k].l && L.edge_path[k].moment_l == first.edge_path[k].moment_l &&
               L.edge_path[k].L == first.edge_path[k].L;
      if (!same) unsupported("layers with different edge paths");
    }

    // The contract's buffers (r_max and num_interactions are read by the term before any
    // dtype conversion) and the model's configuration, for the record.
    std::vector<std::int64_t> z(c.atomic_numbers.begin(), c.atomic_numbers.end());
    buffer("atomic_numbers", torch::tensor(z, torch::kLong));
    buffer("r_max", torch::tensor(c.r_max, torch::kDouble));
    buffer("num_interactions", torch::tensor(std::int64_t{c.interactions}, torch::kLong));
    module_.register_attribute("spinlat_config", c10::StringType::get(), c10::IValue(to_toml(c)));

    // Constants of node_energy(), as the native model computes them in double precision.
    std::vector<double> inv(c.m_max.size());
    for (std::size_t k = 0; k < inv.size(); ++k) inv[k] = c.m_max[k] > 0.0 ? 1.0 / c.m_max[k] : 1.0;
    const std::string inv_m_max = buffer("inv_m_max", torch::tensor(inv, torch::kDouble));
    const std::string e0 = buffer("e0", named_buffer("e0"));
    const double pp = c.envelope_p;
    const std::string bessel_prefactor = buffer("bessel_prefactor", torch::tensor(std::sqrt(2.0 / c.r_max), torch::kDouble));
    const std::string bessel_frequencies =
        buffer("bessel_frequencies", torch::arange(1, c.radial_basis + 1, torch::kDouble) * M_PI);
    const std::string env1 = buffer("envelope_c1", torch::tensor((pp + 1.0) * (pp + 2.0) / 2.0, torch::kDouble));
    const std::string env2 = buffer("envelope_c2", torch::tensor(pp * (pp + 2.0), torch::kDouble));
    const std::string env3 = buffer("envelope_c3", torch::tensor(pp * (pp + 1.0) / 2.0, torch::kDouble));
    const std::string inv_avg = buffer("inv_avg_neighbors", torch::tensor(1.0 / c.avg_neighbors, torch::kDouble));

    line("def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:");
    line("# Generated by `spinlat export` from " + std::filesystem::path(file_).filename().string() +
         " (spinlat's native model; docs/learned-potential.md).");
    line("positions = data[\"positions\"]");
    line("magmom = data[\"magmom\"]");
    line("node_attrs = data[\"node_attrs\"]");
    line("shifts = data[\"shifts\"]");
    line("sender = data[\"edge_index\"][0]");
    line("receiver = data[\"edge_index\"][1]");
    line("n = positions.size(0)");
    line("grad = torch.is_grad_enabled()");
    line("ne = sender.size(0)");

    // 1. Node features h = W [onehot ⊗ T_k(x)], x = 1 − 2(|m|/m_max)², and the one-body energy.
    line("species = torch.argmax(node_attrs, 1)");
    line("m_scaled = magmom * " + inv_m_max + ".index_select(0, species).unsqueeze(-1)");
    line("m2 = (m_scaled * m_scaled).sum(-1)");
    line("x = 1.0 - 2.0 * m2");
    std::string chebs = "cheb0";
    line("cheb0 = torch.ones_like(x)");
    if (K > 1) {
      line("cheb1 = x");
      chebs += ", cheb1";
    }
    for (std::int64_t k = 2; k < K; ++k) {
      line("cheb" + str(k) + " = 2.0 * x * cheb" + str(k - 1) + " - cheb" + str(k - 2));
      chebs += ", cheb" + str(k);
    }
    line("species_cheb = (node_attrs.unsqueeze(-1) * torch.stack([" + chebs + "], -1).unsqueeze(1)).reshape([n, " +
         str(S * K) + "])");
    apply("embedding", "species_cheb", "h");
    line("energy = " + e0 + ".index_select(0, species)");
    if (c.one_body) line("energy = energy + (species_cheb * " + parameter("one_body") + ".reshape([1, -1])).sum(-1)");

    // 2. Edge geometry: vectors (MACE's convention), Y_l(r̂), Bessel basis × envelope.
    line("vec = positions.index_select(0, receiver) - positions.index_select(0, sender) + shifts");
    line("r = torch.sqrt((vec * vec).sum(-1))");
    line("u = vec / vec.norm(2, [1], True)");
    harmonics("Y", "u", "ne", c.l_max);
    line("rr = r.unsqueeze(-1)");
    line("xr = rr / " + buffer_name("r_max"));
    line("bessel = " + bessel_prefactor + " * torch.sin(" + bessel_frequencies + " * rr / " + buffer_name("r_max") +
         ") / rr");
    line("envelope = 1.0 - " + env1 + " * torch.pow(xr, " + str(c.envelope_p) + ") + " + env2 + " * torch.pow(xr, " +
         str(c.envelope_p + 1) + ") - " + env3 + " * torch.pow(xr, " + str(c.envelope_p + 2) + ")");
    line("basis = bessel * envelope * (xr < 1.0).to(r.dtype)");

    // 3. The angular factor of every edge path (the same in every layer).
    if (c.spin_orbit) {
      harmonics("Ym", "m_scaled", "n", c.moment_l_max);
      for (int lm = 1; lm <= c.moment_l_max; ++lm) line("Ym" + str(lm) + "_s = Ym" + str(lm) + ".index_select(0, sender)");
    } else {
      line("m_s = m_scaled.index_select(0, sender)");
    }
    std::vector<std::int64_t> width;
    for (std::size_t k = 0; k < first.edge_path.size(); ++k) {
      const auto& p = first.edge_path[k];
      const std::string a = "A" + str(static_cast<std::int64_t>(k));
      const std::int64_t la = 2 * p.l + 1;
      if (p.moment_l == 0) {
        if (p.L != p.l) unsupported("an edge path Y_l → L with L != l");
        line(a + " = Y" + str(p.l));
        width.push_back(la);
      } else if (p.moment_l > 0) {
        if (!c.spin_orbit) unsupported("a moment solid harmonic without spin-orbit coupling");
        const std::int64_t lb = 2 * p.moment_l + 1;
        const std::string cg = cg_buffer(p.l, p.moment_l, p.L, "");
        line(a + " = (Y" + str(p.l) + ".unsqueeze(-1) * Ym" + str(p.moment_l) + "_s.unsqueeze(1)).reshape([ne, " +
             str(la * lb) + "]).matmul(" + cg + ".reshape([" + str(la * lb) + ", " + str(2 * p.L + 1) + "]))");
        width.push_back(2 * p.L + 1);
      } else if (p.moment_l == -1) {
        if (c.spin_orbit) unsupported("a spin-vector edge path with spin-orbit coupling");
        line(a + " = (Y" + str(p.l) + ".unsqueeze(-1) * m_s.unsqueeze(1)).reshape([ne, " + str(la * 3) + "])");
        width.push_back(la * 3);
      } else {
        unsupported("an edge path with moment_l = " + str(p.moment_l));
      }
    }

    // 4./5. Interaction layers: messages, product basis, update, readout.
    for (std::size_t t = 0; t < layers.size(); ++t) {
      const NativeLayerStructure& L = layers[t];
      const std::string ts = str(static_cast<std::int64_t>(t));
      const auto P = static_cast<std::int64_t>(L.edge_path.size());
      line("# interaction layer " + ts);
      apply("interaction" + ts + "_radial", "basis", "R");
      line("R = R.reshape([ne, " + str(P) + ", " + str(C) + "])");
      apply("interaction" + ts + "_up", "h", "hu");
      // Split by path with one unbind: a select() per path would make each path's backward
      // write a full [E, P, C] gradient.
      line("w = torch.unbind(R * hu.index_select(0, sender).unsqueeze(1), 1)");
      // Messages: Σ over the edges into each node, in edge order, one block per label.
      std::vector<bool> started(L.block.size(), false);
      for (std::int64_t k = 0; k < P; ++k) {
        const auto& p = L.edge_path[k];
        // The outer products W_e ⊗ A_e. With a backward pass to come, as a batched matrix
        // product with a contraction of length 1 (ATen's small-matrix loop, whose backward is
        // the same loop; a broadcast product's backward reduces over the broadcast dimension
        // instead, which is slower); for energies only, as a broadcast product (faster
        // forward). Both compute the same products a·b.
        const std::string wk = "w[" + str(k) + "].unsqueeze(-1)", ak = "A" + str(k) + ".unsqueeze(1)";
        line("if grad:");
        line("    msg = torch.bmm(" + wk + ", " + ak + ")");
        line("else:");
        line("    msg = " + wk + " * " + ak);
        line("s = hu.new_zeros([n, " + str(C) + ", " + str(width[k]) + "]).index_add(0, receiver, msg) * " + inv_avg);
        if (p.moment_l < 0) line("s = s.reshape([n, " + str(C) + ", " + str(2 * p.l + 1) + ", 3])");
        const std::string b = "b" + str(p.block);
        if (p.block < 0 || p.block >= static_cast<int>(L.block.size()) || L.block[p.block].own)
          unsupported("an edge path into a non-message block");
        line(b + " = " + (started[p.block] ? b + " + s" : "s"));
        started[p.block] = true;
      }
      // The receiver's own moment, the same in every channel.
      for (std::size_t bi = 0; bi < L.block.size(); ++bi) {
        const auto& blk = L.block[bi];
        const std::string b = "b" + str(static_cast<std::int64_t>(bi));
        if (!blk.own) {
          if (!started[bi]) unsupported("a message block without edge paths");
          continue;
        }
        if (c.spin_orbit) {
          if (blk.own_l < 1 || blk.own_l > c.moment_l_max) unsupported("an own-moment block of degree " + str(blk.own_l));
          line(b + " = Ym" + str(blk.own_l) + ".unsqueeze(1).expand([n, " + str(C) + ", " + str(2 * blk.own_l + 1) + "])");
        } else {
          line(b + " = m_scaled.unsqueeze(1).unsqueeze(1).expand([n, " + str(C) + ", 1, 3])");
        }
      }
      // Product basis (MACE's symmetric contraction, Batatia et al. 2022, eq. 10, with fixed
      // couplings per path), as contract2/contract3 of native_model.cpp.
      std::string feats;
      for (std::size_t k = 0; k < L.product.size(); ++k) {
        const auto& f = L.product[k];
        const std::string q = "q" + str(static_cast<std::int64_t>(k));
        auto blk = [&](int i) { return "b" + str(i); };
        if (f.size() == 1) {
          if (L.block[f[0]].l != 0 || L.block[f[0]].spin != 0) unsupported("a one-factor invariant with l > 0");
          line(q + " = " + blk(f[0]) + ".squeeze(-1)");
        } else if (f.size() == 2) {
          const bool spin = L.block[f[0]].spin != 0;
          line(q + " = (" + blk(f[0]) + " * " + blk(f[1]) + ").sum(" + (spin ? "[-1, -2]" : "-1") + ")");
        } else if (f.size() == 3) {
          contract3(q, L, f, C);
        } else {
          unsupported("a product of " + str(static_cast<std::int64_t>(f.size())) + " blocks (correlation > 3)");
        }
        feats += (feats.empty() ? "" : ", ") + q;
      }
      if (L.product.empty()) unsupported("a layer without invariants");
      line("B = torch.stack([" + feats + "], -1).reshape([n, " + str(C * static_cast<std::int64_t>(L.product.size())) + "])");
      apply("product" + ts + "_mix", "B", "hm");
      apply("product" + ts + "_residual", "h", "hr");
      line("h = hm + hr");
      apply("readout" + ts, "h", "ro");
      line("energy = energy + ro.squeeze(-1)");
    }
    line("return {\"node_energy\": energy, \"energy\": energy.sum()}");

    // Every weight of the native model must have been copied.
    std::size_t native_params = 0;
    for (const auto& item : model_->named_parameters(true)) {
      ++native_params;
      if (!used_params_.count(item.key())) unsupported("the parameter '" + item.key() + "' (not read by the generator)");
    }
    if (native_params != used_params_.size()) unsupported("a parameter layout the generator does not know");
    try {
      module_.define(source_.str());
    } catch (const c10::Error& e) {
      throw std::logic_error("spinlat export: the generated TorchScript does not compile: " +
                             std::string(e.what_without_backtrace()));
    }
    return module_;
  }

  std::string source() const { return source_.str(); }
  std::size_t parameter_count() const { return parameter_scalars_; }
  std::size_t buffer_count() const { return buffers_.size(); }

 private:
  NativeModel& model_;
  std::string file_;
  torch::jit::Module module_;
  std::ostringstream source_;
  std::set<std::string> buffers_;
  std::set<std::string> used_params_;  // native names
  std::size_t parameter_scalars_ = 0;

  void line(const std::string& s) {
    if (s.rfind("def ", 0) == 0) source_ << s << "\n";
    else source_ << "    " << s << "\n";
  }

  static std::string ident(std::string key) {
    for (char& ch : key)
      if (ch == '.') ch = '_';
    return key;
  }

  static std::string buffer_name(const std::string& name) { return "self." + name; }

  // A constant: kept as float64 (integer buffers as int64), as the native model saves it.
  std::string buffer(const std::string& name, const at::Tensor& value) {
    if (!buffers_.count(name)) {
      at::Tensor v = value.detach().contiguous().clone();
      if (v.is_floating_point()) v = v.to(torch::kDouble);
      module_.register_buffer(name, v);
      buffers_.insert(name);
    }
    return buffer_name(name);
  }

  at::Tensor named_buffer(const std::string& key) {
    for (const auto& item : model_->named_buffers(true))
      if (item.key() == key) return item.value();
    unsupported("a model without the buffer '" + key + "'");
  }

  // A weight, registered under the native name with '.' → '_'.
  std::string parameter(const std::string& key) {
    const std::string name = ident(key);
    if (!used_params_.count(key)) {
      at::Tensor v;
      for (const auto& item : model_->named_parameters(true))
        if (item.key() == key) v = item.value();
      if (!v.defined()) unsupported("a model without the parameter '" + key + "'");
      module_.register_parameter(name, v.detach().to(torch::kDouble).contiguous().clone(), /*is_buffer=*/false);
      used_params_.insert(key);
      parameter_scalars_ += static_cast<std::size_t>(v.numel());
    }
    return "self." + name;
  }

  // `out = module(in)` for a Linear, a SiLU or a Sequential of them (the native model's MLPs).
  void apply(const std::string& child, const std::string& in, const std::string& out) {
    std::shared_ptr<torch::nn::Module> m;
    for (const auto& item : model_->named_children())
      if (item.key() == child) m = item.value();
    if (!m) unsupported("a model without the module '" + child + "'");
    std::string x = in;
    walk(child, *m, x, out);
  }

  void walk(const std::string& key, torch::nn::Module& m, std::string& x, const std::string& out) {
    if (auto* lin = dynamic_cast<torch::nn::LinearImpl*>(&m)) {
      std::string call = "torch.linear(" + x + ", " + parameter(key + ".weight");
      if (lin->bias.defined()) call += ", " + parameter(key + ".bias");
      line(out + " = " + call + ")");
    } else if (dynamic_cast<torch::nn::SiLUImpl*>(&m)) {
      line(out + " = torch.silu(" + x + ")");
    } else if (dynamic_cast<torch::nn::SequentialImpl*>(&m)) {
      for (const auto& item : m.named_children()) walk(key + "." + item.key(), *item.value(), x, out);
      return;
    } else {
      unsupported("the module type " + m.name() + " ('" + key + "')");
    }
    x = out;
  }

  // Y_l for l ≤ l_max of the rows of `v` (as so3::solid_harmonics: monomials by the recursion
  // M_l = [x·M_{l−1}, y·(last l of M_{l−1}), z·(last of M_{l−1})], then one matmul per l).
  void harmonics(const std::string& prefix, const std::string& v, const std::string& rows, int l_max) {
    if (l_max > so3::kMaxL) unsupported("harmonics of degree " + str(l_max));
    line(prefix + "_x = " + v + ".narrow(1, 0, 1)");
    line(prefix + "_y = " + v + ".narrow(1, 1, 1)");
    line(prefix + "_z = " + v + ".narrow(1, 2, 1)");
    line(prefix + "_mono = " + v + ".new_ones([" + rows + ", 1])");
    line(prefix + "0 = " + prefix + "_mono");
    std::int64_t count = 1;
    for (int l = 1; l <= l_max; ++l) {
      const std::string mono = prefix + "_mono";
      line(mono + " = torch.cat([" + mono + " * " + prefix + "_x, " + mono + ".narrow(1, " + str(count - l) + ", " +
           str(l) + ") * " + prefix + "_y, " + mono + ".narrow(1, " + str(count - 1) + ", 1) * " + prefix + "_z], 1)");
      count += l + 1;
      const std::vector<double> table = so3::solid_harmonic_table(l);
      const at::Tensor t = torch::tensor(table, torch::kDouble).reshape({count, 2 * l + 1});
      line(prefix + str(l) + " = torch.matmul(" + mono + ", " + buffer("harmonic_table_" + str(l), t) + ")");
    }
  }

  // A Clebsch-Gordan tensor C[l1,l2,L] (so3::clebsch_gordan), optionally permuted and stored
  // contiguous in that order.
  std::string cg_buffer(int l1, int l2, int L, const std::string& perm) {
    at::Tensor cg = so3::clebsch_gordan(l1, l2, L);
    if (perm == "201") cg = cg.permute({2, 0, 1});
    else if (perm == "102") cg = cg.permute({1, 0, 2});
    return buffer("cg_" + str(l1) + "_" + str(l2) + "_" + str(L) + (perm.empty() ? "" : "_p" + perm), cg.contiguous());
  }

  // Σ C^{l1 l2 l3} X Y Z, the two spin vectors (if any) dotted: contract3 of native_model.cpp.
  void contract3(const std::string& q, const NativeLayerStructure& L, const std::vector<int>& f, std::int64_t C) {
    const auto& A = L.block[f[0]];
    const auto& Bk = L.block[f[1]];
    const auto& D = L.block[f[2]];
    const std::int64_t a = 2 * A.l + 1, b = 2 * Bk.l + 1, d = 2 * D.l + 1;
    const std::string x = "b" + str(f[0]), y = "b" + str(f[1]), z = "b" + str(f[2]);
    const std::string nc = "n * " + str(C);
    const std::string shape4 = "[n, " + str(C) + ", ";
    const bool sx = A.spin != 0, sy = Bk.spin != 0, sz = D.spin != 0;
    // Two spin-vector factors u [nu,3], v [nv,3] dotted, times the scalar factor w [nw]
    // contracted with the CG tensor stored as [nw, nu·nv].
    auto spin_pair = [&](const std::string& u, std::int64_t nu, const std::string& v, std::int64_t nv,
                         const std::string& w, std::int64_t nw, const std::string& cg) {
      line(q + " = (torch.bmm(" + u + ".reshape([" + nc + ", " + str(nu) + ", 3]), " + v + ".reshape([" + nc + ", " +
           str(nv) + ", 3]).transpose(1, 2)).reshape(" + shape4 + str(nu) + ", " + str(nv) + "]) * " + w +
           ".reshape([" + nc + ", " + str(nw) + "]).matmul(" + cg + ".reshape([" + str(nw) + ", " + str(nu * nv) +
           "])).reshape(" + shape4 + str(nu) + ", " + str(nv) + "])).sum([-1, -2])");
    };
    if (!sx && !sy && !sz) {
      const std::string cg = cg_buffer(A.l, Bk.l, D.l, "");
      line(q + " = (" + x + ".reshape([" + nc + ", " + str(a) + "]).matmul(" + cg + ".reshape([" + str(a) + ", " +
           str(b * d) + "])).reshape(" + shape4 + str(b) + ", " + str(d) + "]) * " + y + ".unsqueeze(-1) * " + z +
           ".unsqueeze(-2)).sum([-1, -2])");
    } else if (sx && sy && !sz) {
      spin_pair(x, a, y, b, z, d, cg_buffer(A.l, Bk.l, D.l, "201"));
    } else if (sx && sz && !sy) {
      spin_pair(x, a, z, d, y, b, cg_buffer(A.l, Bk.l, D.l, "102"));
    } else if (sy && sz && !sx) {
      spin_pair(y, b, z, d, x, a, cg_buffer(A.l, Bk.l, D.l, ""));
    } else {
      unsupported("a triple product with three spin vectors");
    }
  }
};

// A small cluster on which native and exported node energies are compared before saving: a
// jittered 2×2×2 grid of spacing 0.42 r_max (every pair within r_max), every element, moments
// of random directions and sizes 0.5–1.0 m_max (zero for non-magnetic elements).
double self_check(NativeModel& native, torch::jit::Module& m) {
  const NativeModelConfig& c = native->config();
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  const std::int64_t N = 8, S = static_cast<std::int64_t>(c.atomic_numbers.size());
  std::vector<double> pos, mag;
  std::vector<std::int64_t> species, snd, rcv;
  const double a = 0.42 * c.r_max;
  for (std::int64_t i = 0; i < N; ++i) {
    const double p[3] = {a * (i & 1), a * ((i >> 1) & 1), a * ((i >> 2) & 1)};
    for (double x : p) pos.push_back(x + 0.05 * a * u(rng));
    species.push_back(i % S);
    double mv[3] = {u(rng), u(rng), u(rng)};
    const double norm = std::sqrt(mv[0] * mv[0] + mv[1] * mv[1] + mv[2] * mv[2]);
    const double size = c.m_max[i % S] * (0.75 + 0.25 * u(rng));
    for (double x : mv) mag.push_back(norm > 0.0 ? size * x / norm : 0.0);
  }
  for (std::int64_t i = 0; i < N; ++i)  // grouped by receiver, as spinlat's graphs
    for (std::int64_t j = 0; j < N; ++j) {
      if (i == j) continue;
      double d2 = 0.0;
      for (int k = 0; k < 3; ++k) d2 += (pos[3 * i + k] - pos[3 * j + k]) * (pos[3 * i + k] - pos[3 * j + k]);
      if (d2 < c.r_max * c.r_max) snd.push_back(j), rcv.push_back(i);
    }
  const auto E = static_cast<std::int64_t>(snd.size());
  ModelInputs in;
  in.positions = torch::tensor(pos, torch::kDouble).reshape({N, 3});
  in.magmom = torch::tensor(mag, torch::kDouble).reshape({N, 3});
  in.species = torch::tensor(species, torch::kLong);
  in.sender = torch::tensor(snd, torch::kLong);
  in.receiver = torch::tensor(rcv, torch::kLong);
  in.shifts = torch::zeros({E, 3}, torch::kDouble);
  torch::NoGradGuard no_grad;
  const at::Tensor e_native = native->node_energy(in);

  c10::Dict<std::string, at::Tensor> d;
  d.insert("positions", in.positions);
  d.insert("cell", torch::zeros({3, 3}, torch::kDouble));
  d.insert("edge_index", torch::stack({in.sender, in.receiver}));
  d.insert("shifts", in.shifts);
  d.insert("unit_shifts", in.shifts);
  d.insert("node_attrs", torch::one_hot(in.species, S).to(torch::kDouble));
  d.insert("magmom", in.magmom);
  d.insert("batch", torch::zeros({N}, torch::kLong));
  d.insert("ptr", torch::tensor({std::int64_t{0}, N}, torch::kLong));
  const c10::IValue out = m.forward({c10::IValue(d)});
  const at::Tensor e_export = out.toGenericDict().at("node_energy").toTensor();
  return (e_native - e_export).abs().max().item<double>();
}

}  // namespace

ExportSummary export_native_model(const std::string& model_path, const std::string& out_path) {
  if (!is_native_model_file(model_path)) {
    if (!std::filesystem::exists(model_path)) throw InputError(model_path + ": model file not found");
    throw InputError(model_path + ": not a native spinlat model (written by `spinlat train`); only those can be exported");
  }
  NativeModel native = load_native_model(model_path);
  native->eval();
  Generator g(native, model_path);
  torch::jit::Module m = g.build();
  m.eval();
  ExportSummary s;
  s.source = g.source();
  s.parameters = g.parameter_count();
  s.buffers = g.buffer_count();
  s.self_check = self_check(native, m);
  // Node energies are O(1–10) eV; the two paths differ by the order of a few sums only.
  if (!(s.self_check <= 1e-9))
    throw InputError(model_path + ": the exported module disagrees with the native model by " + num(s.self_check) +
                     " eV on the self-check cluster; nothing written");
  const std::string tmp = out_path + ".tmp";
  try {
    m.save(tmp);
  } catch (const c10::Error& e) {
    throw InputError(out_path + ": cannot write the TorchScript file: " + std::string(e.what_without_backtrace()));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, out_path, ec);
  if (ec) throw InputError(out_path + ": cannot write the TorchScript file: " + ec.message());
  return s;
}

int export_command(const std::string& model_path, const std::string& out_path, std::ostream& out) {
  const ExportSummary s = export_native_model(model_path, out_path);
  char line[256];
  std::snprintf(line, sizeof line,
                "exported %s -> %s (TorchScript: %zu weights, %zu buffers, float64; self-check max |dE_node| = %.1e eV)\n",
                model_path.c_str(), out_path.c_str(), s.parameters, s.buffers, s.self_check);
  out << line;
  return 0;
}

}  // namespace spinlat
