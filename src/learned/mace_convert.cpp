// An upstream magnetic MACE TorchScript file (the one a user exports with
// e3nn.util.jit.compile + torch.jit.save) read into the archive of mace_native.hpp: what
// `spinlat convert` writes and what the learned term converts on load. Everything is read through LibTorch from the file itself: parameters and
// buffers by their module paths, and the e3nn metadata the generated code hard-wires (irreps,
// instructions with their path weights, the FullyConnectedNet normalisations). Activation
// constants (e3nn's normalize2mom) are measured by calling the activation module.
#include <torch/script.h>

#include <cmath>
#include <iomanip>
#include <map>
#include <unordered_map>
#include <ostream>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/learned/mace_native.hpp"
#include "mace_convert.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

namespace spinlat {

namespace {

void flatten(const c10::IValue& v, std::vector<double>& out) {
  if (v.isTuple()) {
    for (const auto& e : v.toTupleRef().elements()) flatten(e, out);
  } else if (v.isList()) {
    for (const auto& e : v.toListRef()) flatten(e, out);
  } else if (v.isInt()) {
    out.push_back(static_cast<double>(v.toInt()));
  } else if (v.isDouble()) {
    out.push_back(v.toDouble());
  } else if (v.isBool()) {
    out.push_back(v.toBool() ? 1.0 : 0.0);
  } else if (v.isString()) {
    const std::string s = v.toStringRef();
    // tensor-product connection modes
    out.push_back(s == "uvw" ? 0.0 : s == "uvu" ? 1.0 : s == "uuw" ? 2.0 : s == "uuu" ? 3.0 : s == "uvuv" ? 4.0 : -1.0);
  } else if (v.isTensor()) {
    const at::Tensor t = v.toTensor().to(at::kDouble).contiguous().reshape({-1});
    for (std::int64_t k = 0; k < t.numel(); ++k) out.push_back(t[k].item<double>());
  } else {
    throw InputError("unsupported attribute value of type " + v.tagKind());
  }
}

MaceArchive::Array tensor_array(const at::Tensor& t0) {
  const at::Tensor t = t0.detach().to(at::kDouble).contiguous();
  MaceArchive::Array a;
  for (auto d : t.sizes()) a.shape.push_back(static_cast<long>(d));
  const double* p = t.data_ptr<double>();
  a.value.assign(p, p + t.numel());
  return a;
}

// A table of rows from a list attribute, keeping the given columns of each flattened row.
MaceArchive::Array rows(const c10::IValue& list, const std::vector<int>& keep) {
  MaceArchive::Array a;
  long n = 0;
  for (const auto& e : list.toListRef()) {
    std::vector<double> r;
    flatten(e, r);
    for (int k : keep) a.value.push_back(r.at(static_cast<std::size_t>(k)));
    ++n;
  }
  a.shape = {n, static_cast<long>(keep.size())};
  return a;
}

MaceArchive::Array irreps_rows(const c10::IValue& v) {
  std::vector<double> flat;
  flatten(v, flat);
  MaceArchive::Array a;
  a.value = flat;
  a.shape = {static_cast<long>(flat.size() / 3), 3};
  return a;
}

MaceArchive::Array number(double x) {
  MaceArchive::Array a;
  a.value = {x};
  return a;
}

std::string class_name(const torch::jit::Module& m) {
  std::string q = m.type()->name() ? m.type()->name()->qualifiedName() : "";
  // drop the TorchScript mangling (…___torch_mangle_38.Linear → …Linear)
  const auto p = q.find(".___torch_mangle_");
  if (p != std::string::npos) q = q.substr(0, p) + q.substr(q.find('.', p + 1));
  return q;
}

bool ends_with(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// c with act(x) = c·silu(x), measured; InputError unless the module is a scaled SiLU.
double silu_constant(torch::jit::Module act, const std::string& where, const std::string& file) {
  const at::Tensor x = torch::tensor({-1.7, -0.3, 0.4, 1.0, 2.9}, at::kDouble);
  const at::Tensor y = act.forward({x}).toTensor().to(at::kDouble);
  const at::Tensor r = y / (x * torch::sigmoid(x));
  const double c = r[3].item<double>();
  if (!((r - c).abs().max().item<double>() <= 1e-12 * std::abs(c)))
    throw InputError(file + ": unsupported model piece: " + where + ": activation other than a scaled SiLU");
  return c;
}

}  // namespace

torch::jit::Module load_torchscript(const std::string& path) {
  torch::jit::Module root;
  try {
    root = torch::jit::load(path);
  } catch (const std::exception& e) {
    const std::string why = e.what();
    throw InputError(path + ": not a TorchScript archive (torch.jit.save): " + why.substr(0, why.find('\n')));
  }
  root.eval();
  return root;
}

MaceArchive convert_mace_torchscript(const std::string& path) { return convert_mace_module(load_torchscript(path), path); }

bool is_magnetic_mace_module(const torch::jit::Module& root) { return root.hasattr("mag_solid_harmoics"); }

MaceArchive convert_mace_module(torch::jit::Module root, const std::string& path) {
  if (!is_magnetic_mace_module(root))
    throw InputError(path + ": not an upstream magnetic MACE model (no mag_solid_harmoics module)");
  MaceArchive a;
  a.source = path;
  for (const auto& p : root.named_parameters(true)) a.array[p.name] = tensor_array(p.value);
  for (const auto& b : root.named_buffers(true)) {
    const std::string leaf = b.name.substr(b.name.rfind('.') + 1);
    if (leaf.rfind("_w3j_", 0) == 0) {  // e3nn's Wigner 3j constants, shared by l triple
      std::string key = "w3j." + leaf.substr(5);
      for (char& c : key)
        if (c == '_') c = '.';
      MaceArchive::Array w = tensor_array(b.value);
      auto it = a.array.find(key);
      if (it != a.array.end() && it->second.value != w.value)
        throw InputError(path + ": two different Wigner 3j buffers for " + key);
      a.array[key] = std::move(w);
      continue;
    }
    if (b.value.is_floating_point() || b.value.scalar_type() == at::kLong || b.value.scalar_type() == at::kInt)
      a.array[b.name] = tensor_array(b.value);
  }
  for (const auto& nm : root.named_modules()) {
    const torch::jit::Module& m = nm.value;
    const std::string p = nm.name.empty() ? "" : nm.name + ".";
    const std::string cls = class_name(m);
    a.text[p + "@class"] = cls;
    auto has = [&](const char* k) { return m.hasattr(k); };
    for (const char* k : {"irreps_in", "irreps_out", "irreps_in1", "irreps_in2"})
      if (has(k) && (m.attr(k).isTuple() || m.attr(k).isList())) a.array[p + "@" + k] = irreps_rows(m.attr(k));
    if (has("instructions")) {
      if (ends_with(cls, "e3nn.o3._linear.Linear"))
        a.array[p + "@instructions"] = rows(m.attr("instructions"), {0, 1, 4});  // i_in, i_out, path_weight
      else
        a.array[p + "@instructions"] = rows(m.attr("instructions"), {0, 1, 2, 3, 4, 5});
    }
    for (const char* k : {"h_in", "var_in", "var_out", "num_basis", "include_constant", "correlation", "use_sc",
                          "use_agnostic_product", "apply_cutoff", "use_magmom_one_body", "num_heads", "normalize"})
      if (has(k) && (m.attr(k).isDouble() || m.attr(k).isInt() || m.attr(k).isBool())) {
        std::vector<double> v;
        flatten(m.attr(k), v);
        a.array[p + "@" + k] = number(v[0]);
      }
    if (has("_lmax")) a.array[p + "@lmax"] = number(static_cast<double>(m.attr("_lmax").toInt()));
    if (has("normalization") && m.attr("normalization").isString()) a.text[p + "@normalization"] = m.attr("normalization").toStringRef();
    if (has("heads") && m.attr("heads").isList() && m.attr("heads").toListRef().size() != 1)
      throw InputError(path + ": unsupported model piece: several heads");
    if (ends_with(cls, "e3nn.nn._fc._Layer") && has("act") && m.attr("act").isModule())
      a.array[p + "@act"] = number(silu_constant(m.attr("act").toModule(), nm.name, path));
    if (ends_with(cls, "NonLinearReadoutBlock")) {
      torch::jit::Module acts = m.attr("non_linearity").toModule().attr("acts").toModule();
      a.array[p + "@act"] = number(silu_constant(acts.attr("0").toModule(), nm.name, path));
    }
    if (has("_is_range_lmax") && !m.attr("_is_range_lmax").toBool())
      throw InputError(path + ": unsupported model piece: " + nm.name + ": spherical harmonics without every l");
  }
  // The moments' solid harmonics: upstream's SHModule feeds (m_z, m_x, m_y) to sphericart's
  // SolidHarmonics, whose convention (and the stand-in's: e3nn harmonics of (y, z, x) of its
  // input, "integral" normalisation, no normalising of the vector) makes them e3nn's
  // integral-normalised solid harmonics of m itself.
  {
    torch::jit::Module shm = root.attr("mag_solid_harmoics").toModule().attr("SH").toModule();
    int lmax = -1;
    if (shm.hasattr("_l_max")) lmax = static_cast<int>(shm.attr("_l_max").toInt());
    if (!ends_with(class_name(shm), "SolidHarmonics") || lmax < 0)
      throw InputError(path + ": unsupported model piece: moment harmonics of class " + class_name(shm));
    if (shm.hasattr("sh")) {
      torch::jit::Module inner = shm.attr("sh").toModule();
      if (inner.attr("normalize").toBool() || inner.attr("normalization").toStringRef() != "integral")
        throw InputError(path + ": unsupported model piece: a sphericart stand-in with another convention");
    }
    a.array["mag_solid_harmoics.@lmax"] = number(lmax);
    a.array["mag_solid_harmoics.@normalize"] = number(0.0);
    a.text["mag_solid_harmoics.@normalization"] = "integral";
  }
  if (!a.array.count("num_interactions")) throw InputError(path + ": the model lacks the buffer num_interactions");
  return a;
}

MaceTorchResult mace_torch_reference(const std::string& path, const Graph& g, const std::vector<Vec3>& position,
                                     const Mat3& cell, const std::vector<Vec3>& moment, const std::vector<int>& column,
                                     int species, bool derivatives) {
  static std::map<std::string, torch::jit::Module> loaded;  // tests call this many times
  auto it = loaded.find(path);
  if (it == loaded.end()) {
    torch::jit::Module m = torch::jit::load(path);
    m.eval();
    it = loaded.emplace(path, m).first;
  }
  return mace_torch_reference(it->second, g, position, cell, moment, column, species, derivatives);
}

MaceTorchResult mace_torch_reference(torch::jit::Module& m, const Graph& g, const std::vector<Vec3>& position,
                                     const Mat3& cell, const std::vector<Vec3>& moment, const std::vector<int>& column,
                                     int species, bool derivatives) {
  const auto N = static_cast<std::int64_t>(g.nodes), E = static_cast<std::int64_t>(g.edges());
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const auto i64 = at::TensorOptions().dtype(at::kLong);
  at::Tensor pos = torch::empty({N, 3}, f64), mag = torch::empty({N, 3}, f64), attrs = torch::zeros({N, species}, f64);
  for (std::int64_t i = 0; i < N; ++i) {
    for (int c = 0; c < 3; ++c) {
      pos[i][c] = position[i][c];
      mag[i][c] = moment[i][c];
    }
    attrs[i][column[i]] = 1.0;
  }
  at::Tensor ei = torch::empty({2, E}, i64), shifts = torch::empty({E, 3}, f64), us = torch::empty({E, 3}, f64);
  for (std::int64_t e = 0; e < E; ++e) {
    ei[0][e] = g.sender[e];
    ei[1][e] = g.receiver[e];
    for (int c = 0; c < 3; ++c) {
      shifts[e][c] = g.shift[e][c];
      us[e][c] = static_cast<double>(g.unit_shift[e][c]);
    }
  }
  at::Tensor h = torch::empty({3, 3}, f64);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) h[r][c] = cell(r, c);
  c10::Dict<std::string, at::Tensor> d;
  d.insert("positions", pos);
  d.insert("cell", h);
  d.insert("edge_index", ei);
  d.insert("shifts", shifts);
  d.insert("unit_shifts", us);
  d.insert("node_attrs", attrs);
  d.insert("magmom", mag);
  d.insert("batch", torch::zeros({N}, i64));
  d.insert("ptr", torch::tensor({std::int64_t{0}, N}, i64));
  std::unordered_map<std::string, c10::IValue> kw;
  kw["training"] = false;
  kw["compute_force"] = true;
  kw["compute_magforces"] = true;
  kw["compute_stress"] = derivatives;
  const c10::IValue out = m.get_method("forward")({d}, kw);
  const auto dict = out.toGenericDict();
  auto get = [&](const char* k) { return dict.at(k).toTensor().detach().to(at::kDouble).contiguous(); };
  MaceTorchResult r;
  r.energy = get("energy").reshape({-1})[0].item<double>();
  const at::Tensor ne = get("node_energy").reshape({-1});
  for (std::int64_t i = 0; i < N; ++i) r.node_energy.push_back(ne[i].item<double>());
  const at::Tensor F = get("forces"), B = get("magforces");
  for (std::int64_t i = 0; i < N; ++i) {
    r.force.emplace_back(F[i][0].item<double>(), F[i][1].item<double>(), F[i][2].item<double>());
    r.magnetic_force.emplace_back(B[i][0].item<double>(), B[i][1].item<double>(), B[i][2].item<double>());
  }
  if (derivatives) {
    const at::Tensor V = get("virials").reshape({3, 3});
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) r.virial(a, b) = V[a][b].item<double>();
  }
  return r;
}

double mace_conversion_error(const MaceNativeEvaluator& converted, torch::jit::Module& torchscript) {
  // A bcc cell of the model's first and last elements (16 atoms), random moment directions of
  // 2 μB and positions jiggled by 0.05 Å, so that no symmetry hides a wrong piece.
  std::vector<std::string> names;
  for (int z : converted.atomic_numbers()) names.push_back(element_symbol(z));
  System s = build_supercell(standard_lattice("bcc", 2.87, 0.0, {names.front(), names.back()}, {2.0, 2.0}), Int3(2, 2, 2));
  set_spins_random(s, 7);
  Engine rng(11);
  for (auto& r : s.position)
    for (int c = 0; c < 3; ++c) r[c] += 0.05 * (2 * uniform01(rng) - 1);
  const NeighborList list = build_neighbor_list(s, converted.r_max());
  const Graph g = build_graph(s, list, converted.r_max());
  std::vector<Vec3> m(s.size());
  std::vector<int> col(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    m[i] = s.moment_vector(i);
    const int z = atomic_number(s.species_name[s.species[i]]);
    for (std::size_t c = 0; c < converted.atomic_numbers().size(); ++c)
      if (converted.atomic_numbers()[c] == z) col[i] = static_cast<int>(c);
  }
  const std::vector<double> e_native = converted.node_energies(g, s.position, m, col);
  const MaceTorchResult ref = mace_torch_reference(torchscript, g, s.position, s.cell.h, m, col,
                                                   static_cast<int>(converted.atomic_numbers().size()), false);
  double worst = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) worst = std::max(worst, std::abs(e_native[i] - ref.node_energy[i]));
  return worst;
}

}  // namespace spinlat
