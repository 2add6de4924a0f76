#pragma once
// Surrogate-driven Monte Carlo (delayed acceptance, mc/delayed_acceptance.hpp) as an `mc` stage
// with `surrogate = "SPIN_MODEL.toml"` or an `mc` sweep with algorithm = "surrogate"
// (src/drivers/surrogate.cpp; docs/input.md, docs/mapping.md).
#include <memory>
#include <string>

#include "spinlat/drivers/driver.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/mc/delayed_acceptance.hpp"

namespace spinlat {

struct MappedSurrogates;  // spin models mapped automatically so far, one per geometry

struct SurrogateOptions {
  std::string file;                       ///< the surrogate input, absolute; "" = map automatically
  std::shared_ptr<const Config> config;   ///< read and validated when the stage was read (null: map)
  /// `surrogate_block`: "site" (one moment per proposal, mc/delayed_acceptance.hpp) or
  /// "lattice" (every moment, K surrogate sweeps with clusters, mc/lattice_delayed_acceptance.hpp).
  std::string block = "site";
  int inner_steps = 10;                   ///< `surrogate_steps` (default 10 per site, 4 per lattice)
  MoveType move = MoveType::gaussian;
  double target_acceptance = 0.5;
  /// Without a file: the maps made so far by this stage or sweep (shared by its drivers, so
  /// that a sweep's temperatures at one size map once).
  std::shared_ptr<MappedSurrogates> maps;
};

/// Keys `surrogate` (optional: without it the surrogate is mapped automatically),
/// `surrogate_block` and `surrogate_steps` of a stage or sweep table.
SurrogateOptions read_surrogate(Params& p);
/// The surrogate Hamiltonian bound to `s`: the file's [[potential]] tables built with the
/// built-in terms, or, without a file, `model` mapped on `s` (workflows/spin_map.hpp, default
/// options: isotropic exchange on two shells) from a copy of `s` with every moment along z, so
/// that the surrogate does not depend on the state a driver starts from (annealing, restarts);
/// a geometry mapped before by the same settings reuses its map (the same bits: the map is a
/// function of that copy, the model and the seed).
Hamiltonian build_surrogate(const SurrogateOptions& settings, const System& s, const Hamiltonian& model,
                            std::uint64_t seed);
/// The driver: the surrogate's [[potential]] terms built on ctx.system with the built-in terms,
/// and a DelayedAcceptanceSampler (block "site") or LatticeDelayedAcceptanceSampler (block
/// "lattice") with ctx.hamiltonian as the exact model.
std::unique_ptr<Driver> surrogate_mc_driver(const SurrogateOptions& settings, const DriverContext& ctx);

}  // namespace spinlat
