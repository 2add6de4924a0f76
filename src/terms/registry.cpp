#include "spinlat/terms/registry.hpp"

namespace spinlat {

std::vector<std::string> TermRegistry::types() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : factories_) out.push_back(k);
  return out;
}

TermPtr TermRegistry::make(Params& p, const TermContext& ctx) const {
  const std::string type = p.choice("type", types());
  TermPtr t = factories_.at(type)(p, ctx);
  p.finish();
  return t;
}

TermRegistry builtin_terms() {
  TermRegistry r;
  r.add("heisenberg", make_heisenberg);
  r.add("bethe-slater", make_bethe_slater);
  r.add("ma-dudarev", make_ma_dudarev);
  r.add("exchange-table", make_exchange_table);
  r.add("exchange-file", make_exchange_file);  // src/terms/exchange_file.cpp
  r.add("dmi", make_dmi);
  r.add("anisotropy", make_anisotropy);
  r.add("zeeman", make_zeeman);
  r.add("biquadratic", make_biquadratic);
  r.add("landau", make_landau);
  r.add("dipolar", make_dipolar);
  r.add("eam", make_eam);    // src/lattice/eam.cpp
  r.add("pair", make_pair);  // src/lattice/pair.cpp
  return r;
}

}  // namespace spinlat
