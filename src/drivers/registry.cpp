// The driver registry, and the readers of keys several drivers share.
#include <algorithm>
#include <cmath>
#include <sstream>

#include "spinlat/drivers/driver.hpp"
#include "spinlat/drivers/keys.hpp"
#include "spinlat/mc/parallel_tempering.hpp"

namespace spinlat {

std::unique_ptr<ParallelTempering> DriverSpec::ensemble(const Hamiltonian&, const System&,
                                                        const std::vector<double>&, const StreamKey&) const {
  return nullptr;
}

std::vector<std::string> DriverRegistry::types(DriverRole role) const {
  std::vector<std::string> out;
  for (const auto& [name, t] : types_)
    if (role == DriverRole::stage || t.sweep) out.push_back(name);
  return out;
}

namespace {

const std::vector<std::string>& keys_of(const DriverType& t, DriverRole role) {
  return role == DriverRole::stage ? t.stage_keys : t.sweep_keys;
}

std::string word_list(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t k = 0; k < v.size(); ++k) s += (k == 0 ? "" : k + 1 == v.size() ? " and " : ", ") + v[k];
  return s;
}

}  // namespace

DriverSpecPtr DriverRegistry::read(Params& p, DriverRole role, const std::vector<std::string>& common) const {
  const bool stage = role == DriverRole::stage;
  const std::string selector = stage ? "type" : "method";
  // Unknown keys first: a misspelt required key must say "unknown key 'temprature' (did you
  // mean 'temperature'?)", not "missing 'temperature'".
  std::vector<std::string> known = common;
  known.push_back(selector);
  for (const auto& [name, t] : types_)
    if (stage || t.sweep) known.insert(known.end(), keys_of(t, role).begin(), keys_of(t, role).end());
  p.finish(known);  // before anything is read: exactly the unknown-key check
  const std::string name = stage ? p.choice(selector, types(role)) : p.choice(selector, types(role), "mc");
  const DriverType& t = types_.at(name);
  // Keys of other types: an error that says who uses them (a key silently ignored is a typo
  // waiting to happen).
  const std::vector<std::string>& own = keys_of(t, role);
  for (const auto& [k, v] : p.table()) {
    const std::string key(k.str());
    if (key == selector || std::find(own.begin(), own.end(), key) != own.end() ||
        std::find(common.begin(), common.end(), key) != common.end())
      continue;
    std::vector<std::string> users;
    for (const auto& [other, ot] : types_)
      if ((stage || ot.sweep) && std::count(keys_of(ot, role).begin(), keys_of(ot, role).end(), key))
        users.push_back(stage ? other : "'" + other + "'");
    p.fail(key, stage ? "not used by '" + name + "' stages (it applies to " + word_list(users) + " stages)"
                      : "not used by method '" + name + "' (it applies to method" + (users.size() > 1 ? "s " : " ") +
                            word_list(users) + ")");
  }
  DriverSpecPtr spec = t.read(p, role);
  std::vector<std::string> all = own;
  all.insert(all.end(), common.begin(), common.end());
  for (const std::string& k : common) p.touch(k);
  p.finish(all);
  return spec;
}

const DriverRegistry& builtin_drivers() {
  static const DriverRegistry r = [] {
    DriverRegistry d;
    d.add(mc_driver());
    d.add(minimize_driver());
    d.add(llg_driver());
    d.add(md_driver());
    d.add(sld_driver());
    d.add(hybrid_driver());
    d.add(hysteresis_driver());
    return d;
  }();
  return r;
}

// ---- shared keys ----------------------------------------------------------------------------

double read_temperature(Params& p, bool required) {
  const double T = required ? p.real("temperature") : p.real("temperature", 0.0);
  p.require(T >= 0.0, "temperature", "must be >= 0 K, got " + setting_text(T));
  return T;
}

const std::vector<std::string>& barostat_keys() {
  static const std::vector<std::string> k{"pressure", "barostat", "barostat_tau", "compressibility", "barostat_every"};
  return k;
}

BarostatOptions read_barostat(Params& p) {
  BarostatOptions b;
  if (!p.has("pressure")) {
    for (const auto& k : barostat_keys())
      if (p.has(k))
        p.fail(k, "barostat settings without a target: give pressure = P (GPa), or [Pxx, Pyy, Pzz] with "
                  "barostat = \"anisotropic\", to run at constant pressure");
    return b;
  }
  b.enabled = true;
  b.kind = p.choice("barostat", {"isotropic", "anisotropic"}, "isotropic");
  const std::vector<double> P = p.reals("pressure");
  for (double x : P) p.require(std::isfinite(x), "pressure", "must be finite (GPa)");
  if (P.size() == 1) {
    b.pressure = P[0];
  } else if (P.size() == 3) {
    p.require(b.kind == "anisotropic", "pressure",
              "three targets [Pxx, Pyy, Pzz] need barostat = \"anisotropic\" (the isotropic barostat has one)");
    b.pressure_axes = Vec3(P[0], P[1], P[2]);
    b.pressure = (P[0] + P[1] + P[2]) / 3.0;
  } else {
    p.fail("pressure", "expected a number (GPa) or three [Pxx, Pyy, Pzz], got " + std::to_string(P.size()) + " values");
  }
  b.tau = p.real("barostat_tau", b.tau);
  p.require(b.tau > 0.0, "barostat_tau", "must be > 0 ps, got " + setting_text(b.tau));
  b.compressibility = p.real("compressibility", b.compressibility);
  p.require(b.compressibility > 0.0, "compressibility", "must be > 0 (1/GPa), got " + setting_text(b.compressibility));
  b.every = count_at_least(p, "barostat_every", 1, b.every, false);
  return b;
}

MdOptions with_barostat(MdOptions o, const BarostatOptions& b) {
  if (!b.enabled) return o;
  o.barostat = parse_barostat(b.kind);
  o.pressure = b.pressure;
  o.pressure_axes = b.pressure_axes;
  o.barostat_tau = b.tau;
  o.compressibility = b.compressibility;
  o.barostat_every = static_cast<int>(b.every);
  return o;
}

bool SpinDamping::any() const {
  bool on = damping > 0.0;
  for (double a : species) on = on || a > 0.0;
  return on;
}

SpinDamping read_spin_damping(Params& p) {
  SpinDamping d;
  d.damping = non_negative(p, "damping", 0.0, "");
  if (p.has("damping_species")) {
    d.species = p.reals("damping_species");
    for (double a : d.species) p.require(a >= 0.0, "damping_species", "dampings must be >= 0, got " + setting_text(a));
  }
  return d;
}

const std::vector<std::string>& stage_field_keys() {
  static const std::vector<std::string> k{"field", "field_schedule", "field_end", "field_frequency"};
  return k;
}

StageField read_stage_field(Params& p) {
  StageField f;
  if (p.has("field")) f.field = p.vec3("field");
  f.schedule = p.choice("field_schedule", {"constant", "ramp", "rotating"}, "constant");
  if (p.has("field_end")) {
    p.require(f.schedule == "ramp", "field_end", "only used with field_schedule = 'ramp'");
    f.field_end = p.vec3("field_end");
  } else if (f.schedule == "ramp") {
    p.fail("field_end", "field_schedule = 'ramp' needs field_end = [Bx, By, Bz] (T)");
  }
  if (p.has("field_frequency")) {
    p.require(f.schedule == "rotating", "field_frequency", "only used with field_schedule = 'rotating'");
    f.frequency = positive(p, "field_frequency", " THz");
  } else if (f.schedule == "rotating") {
    p.fail("field_frequency", "field_schedule = 'rotating' needs field_frequency (THz)");
  }
  return f;
}

ExternalField StageField::at(long long steps, double dt) const {
  ExternalField f;
  f.schedule = parse_field_schedule(schedule);
  f.field = field;
  f.field_end = field_end;
  f.ramp_time = static_cast<double>(steps) * dt;
  f.frequency = frequency;
  return f;
}

std::string setting_text(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}
std::string setting_text(const Vec3& v) {
  return "[" + setting_text(v[0]) + ", " + setting_text(v[1]) + ", " + setting_text(v[2]) + "]";
}
std::string setting_text(const std::vector<double>& v) {
  std::string s = "[";
  for (std::size_t k = 0; k < v.size(); ++k) s += (k ? ", " : "") + setting_text(v[k]);
  return s + "]";
}

}  // namespace spinlat
