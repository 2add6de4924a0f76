#pragma once
// Surrogate-driven Monte Carlo (delayed acceptance, mc/delayed_acceptance.hpp) as an `mc` stage
// with `surrogate = "SPIN_MODEL.toml"` or an `mc` sweep with algorithm = "surrogate"
// (src/drivers/surrogate.cpp; docs/input.md, docs/mapping.md).
#include <memory>
#include <string>

#include "spinlat/drivers/driver.hpp"
#include "spinlat/io/config.hpp"
#include "spinlat/mc/delayed_acceptance.hpp"

namespace spinlat {

struct SurrogateSettings {
  std::string file;                       ///< the surrogate input, absolute
  std::shared_ptr<const Config> config;   ///< read and validated when the stage was read
  int inner_steps = 10;                   ///< `surrogate_steps`
  MoveType move = MoveType::gaussian;
  double target_acceptance = 0.5;
};

/// Keys `surrogate` (required) and `surrogate_steps` of a stage or sweep table.
SurrogateSettings read_surrogate(Params& p);
/// The driver: the surrogate's [[potential]] terms built on ctx.system with the built-in terms,
/// and a DelayedAcceptanceSampler with ctx.hamiltonian as the exact model.
std::unique_ptr<Driver> surrogate_mc_driver(const SurrogateSettings& settings, const DriverContext& ctx);

}  // namespace spinlat
