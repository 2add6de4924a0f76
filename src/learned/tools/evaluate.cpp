#include "spinlat/learned/tools/evaluate.hpp"

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"

namespace spinlat {

Evaluation evaluate_structure(Hamiltonian& h, const System& s) {
  h.bind(s);
  Evaluation ev;
  Derivatives d;
  d.force = &ev.forces;
  d.magnetic_force = &ev.magnetic_forces;
  d.virial = &ev.virial;
  ev.energy = h.compute(s, d);
  return ev;
}

namespace {

// Renumbers a frame's species to `order` (names kept).
void renumber_species(System& s, const std::vector<std::string>& order, const std::string& where) {
  std::vector<int> to(s.species_name.size(), -1);
  for (std::size_t a = 0; a < s.species_name.size(); ++a)
    for (std::size_t b = 0; b < order.size(); ++b)
      if (s.species_name[a] == order[b]) to[a] = static_cast<int>(b);
  for (int& sp : s.species) {
    if (to[sp] < 0)
      throw InputError(where + ": species '" + s.species_name[sp] +
                       "' is not one of the input structure's species");
    sp = to[sp];
  }
  std::vector<double> mass(order.size(), 0.0);
  for (std::size_t a = 0; a < s.species_name.size(); ++a)
    if (to[a] >= 0 && a < s.species_mass.size()) mass[to[a]] = s.species_mass[a];
  for (std::size_t b = 0; b < order.size(); ++b)
    if (mass[b] == 0.0) mass[b] = element_mass(order[b]);
  s.species_name = order;
  s.species_mass = mass;
}

}  // namespace

void evaluate_frames(Hamiltonian& h, const std::vector<Frame>& in, std::vector<Frame>& out,
                     const std::vector<std::string>& species_order) {
  out.resize(in.size());
  for (std::size_t k = 0; k < in.size(); ++k) {
    const std::string where = "frame " + std::to_string(k) + (in[k].line > 0 ? " (line " + std::to_string(in[k].line) + ")" : "");
    Frame f = in[k];
    if (!species_order.empty()) renumber_species(f.system, species_order, where);
    Evaluation ev;
    try {
      ev = evaluate_structure(h, f.system);
    } catch (const InputError& e) {
      throw InputError(where + ": " + e.what());
    } catch (const NumericalError& e) {
      throw NumericalError(where + ": " + e.what());
    }
    f.info["energy"] = ev.energy;
    f.vectors["forces"] = ev.forces;
    f.vectors["magforces"] = ev.magnetic_forces;
    const auto& p = f.system.cell.periodic;
    if (p[0] && p[1] && p[2]) {
      const Mat3 stress = -ev.virial.transpose() / f.system.cell.volume();
      std::vector<double> v(9);
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) v[3 * a + b] = stress(a, b);
      f.info_arrays["stress"] = v;
    } else {
      f.info_arrays.erase("stress");
    }
    out[k] = std::move(f);
  }
}

}  // namespace spinlat
