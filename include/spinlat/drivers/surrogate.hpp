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

struct SurrogateOptions {
  std::string file;                       ///< the surrogate input, absolute; "" = map automatically
  std::shared_ptr<const Config> config;   ///< read and validated when the stage was read (null: map)
  int inner_steps = 10;                   ///< `surrogate_steps`
  MoveType move = MoveType::gaussian;
  double target_acceptance = 0.5;
};

/// Keys `surrogate` (optional: without it the surrogate is mapped automatically) and
/// `surrogate_steps` of a stage or sweep table.
SurrogateOptions read_surrogate(Params& p);
/// The surrogate Hamiltonian bound to `s`: the file's [[potential]] tables built with the
/// built-in terms, or, without a file, `model` mapped on `s` (workflows/spin_map.hpp, default
/// options: isotropic exchange on two shells) from a copy of `s` with every moment along z, so
/// that the surrogate does not depend on the state a driver starts from (annealing, restarts).
Hamiltonian build_surrogate(const SurrogateOptions& settings, const System& s, const Hamiltonian& model,
                            std::uint64_t seed);
/// The driver: the surrogate's [[potential]] terms built on ctx.system with the built-in terms,
/// and a DelayedAcceptanceSampler with ctx.hamiltonian as the exact model.
std::unique_ptr<Driver> surrogate_mc_driver(const SurrogateOptions& settings, const DriverContext& ctx);

}  // namespace spinlat
