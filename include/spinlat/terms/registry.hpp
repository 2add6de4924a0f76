#pragma once
// From a TOML `[[potential]]` table to a Term: one factory per `type`, one file per term
// (LAMMPS's style registry, but a value the caller owns rather than global state).
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "spinlat/io/params.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

/// What a factory may need beyond its own keys.
struct TermContext {
  const System* system = nullptr;  ///< the structure the term will act on
  std::string input_dir;           ///< relative file names (EAM, models) resolve against this
  int threads = 0;
};

using TermFactory = std::function<TermPtr(Params&, const TermContext&)>;

class TermRegistry {
 public:
  void add(const std::string& type, TermFactory f) { factories_[type] = std::move(f); }
  bool has(const std::string& type) const { return factories_.count(type) > 0; }
  std::vector<std::string> types() const;
  /// Reads `type` from p, builds the term, and checks that no key was left unread.
  TermPtr make(Params& p, const TermContext& ctx) const;

 private:
  std::map<std::string, TermFactory> factories_;
};

/// Every term of the engine library (analytic spin terms and lattice potentials). The
/// learned potential adds itself with spinlat::add_learned_terms (src/learned).
TermRegistry builtin_terms();

// One factory per file in src/terms/ and src/lattice/.
TermPtr make_heisenberg(Params& p, const TermContext& ctx);
TermPtr make_bethe_slater(Params& p, const TermContext& ctx);    // src/terms/radial_exchange.cpp
TermPtr make_ma_dudarev(Params& p, const TermContext& ctx);      // src/terms/radial_exchange.cpp
TermPtr make_exchange_table(Params& p, const TermContext& ctx);  // src/terms/radial_exchange.cpp
TermPtr make_exchange_file(Params& p, const TermContext& ctx);   // src/terms/exchange_file.cpp
TermPtr make_dmi(Params& p, const TermContext& ctx);
TermPtr make_anisotropy(Params& p, const TermContext& ctx);
TermPtr make_zeeman(Params& p, const TermContext& ctx);
TermPtr make_biquadratic(Params& p, const TermContext& ctx);
TermPtr make_landau(Params& p, const TermContext& ctx);
TermPtr make_dipolar(Params& p, const TermContext& ctx);
TermPtr make_eam(Params& p, const TermContext& ctx);   // src/lattice/eam.cpp
TermPtr make_pair(Params& p, const TermContext& ctx);  // src/lattice/pair.cpp

}  // namespace spinlat
