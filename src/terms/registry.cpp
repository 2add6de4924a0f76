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
  return r;
}

}  // namespace spinlat
