#pragma once
// Readers for the keys several driver types share (barostat, spin damping, stage fields), so
// that each key means the same and is checked the same wherever it appears.
#include <string>
#include <vector>

#include "spinlat/drivers/driver.hpp"
#include "spinlat/dynamics/llg.hpp"
#include "spinlat/dynamics/md.hpp"
#include "spinlat/io/params.hpp"

namespace spinlat {

/// A stage's `temperature` (K, >= 0); 0 when optional and absent.
double read_temperature(Params& p, bool required);

/// pressure, barostat, barostat_tau, compressibility, barostat_every.
const std::vector<std::string>& barostat_keys();
/// NPT is on when `pressure` is given; the other barostat keys need it.
BarostatOptions read_barostat(Params& p);
/// The lattice integrator's options with a barostat on top, if enabled.
MdOptions with_barostat(MdOptions o, const BarostatOptions& b);

/// A stage's Gilbert damping: `damping` (one value) or `damping_species` (one per species).
struct SpinDamping {
  double damping = 0.0;
  std::vector<double> species;
  std::vector<double> values() const { return species.empty() ? std::vector<double>{damping} : species; }
  bool any() const;  ///< some damping > 0
};
SpinDamping read_spin_damping(Params& p);

/// A stage's driving field: field, field_schedule, field_end, field_frequency.
struct StageField {
  Vec3 field = Vec3::Zero();
  std::string schedule = "constant";
  Vec3 field_end = Vec3::Zero();
  double frequency = 0.0;
  /// The schedule over a stage of `steps` steps of `dt` (a ramp ends with the stage).
  ExternalField at(long long steps, double dt) const;
  /// True when the stage was given a field (recorded as /observables/field).
  bool given() const { return schedule != "constant" || !field.isZero(0.0); }
};
const std::vector<std::string>& stage_field_keys();
StageField read_stage_field(Params& p);

/// Text of a value for DriverSpec::settings().
std::string setting_text(double x);
std::string setting_text(const Vec3& v);
std::string setting_text(const std::vector<double>& v);

}  // namespace spinlat
