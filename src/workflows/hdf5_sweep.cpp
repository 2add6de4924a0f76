// `/sweep` results; see include/spinlat/workflows/hdf5_sweep.hpp.
#include "spinlat/workflows/hdf5_sweep.hpp"

#include <cmath>

#include "spinlat/core/error.hpp"

namespace spinlat {

const std::vector<std::string>& SweepWriter::quantities() {
  static const std::vector<std::string> names{"energy",         "magnetization", "order_parameter",
                                              "susceptibility", "specific_heat", "binder"};
  return names;
}

namespace {

// The value and error of each quantity of a point, in quantities() order.
std::vector<std::pair<double*, double*>> fields(SweepPoint& p) {
  return {{&p.energy, &p.energy_err},
          {&p.magnetization, &p.magnetization_err},
          {&p.order_parameter, &p.order_parameter_err},
          {&p.susceptibility, &p.susceptibility_err},
          {&p.specific_heat, &p.specific_heat_err},
          {&p.binder, &p.binder_err}};
}

bool same_grid(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t k = 0; k < a.size(); ++k)
    if (std::abs(a[k] - b[k]) > 1e-9 * std::max(1.0, std::abs(a[k]))) return false;
  return true;
}

}  // namespace

SweepWriter::SweepWriter(h5::File& file, std::vector<double> temperatures, std::vector<int> sizes,
                         std::string group)
    : file_(&file), group_(std::move(group)), temperatures_(std::move(temperatures)), sizes_(std::move(sizes)) {
  if (temperatures_.empty() || sizes_.empty())
    throw InputError(file.path(), "sweep", 0, "a sweep needs at least one temperature and one size");
  std::vector<std::int64_t> sizes64(sizes_.begin(), sizes_.end());

  if (file.exists(group_)) {
    // Restart: the file must hold this very sweep, or finished points would be misplaced.
    const auto t = file.read_doubles(at("temperature"));
    const auto l = file.read_ints(at("size"));
    if (!same_grid(t, temperatures_) || l != sizes64)
      throw InputError(file.path(), "sweep", 0,
                       "the file's " + group_ + " has different temperatures or sizes than this input; "
                       "cannot continue it (use a new output file)");
    return;
  }

  const h5::Shape grid{sizes_.size(), temperatures_.size()};
  const double nan = SweepPoint::nan;
  file.create_group(group_);
  file.write(at("temperature"), temperatures_);
  file.set_attr(at("temperature"), "unit", "K");
  file.write(at("size"), sizes64);
  file.set_attr(at("size"), "description", "linear size L in conventional cells (cells = [L, L, L])");
  for (const auto& q : quantities()) {
    file.create_filled(at(q), grid, nan);
    file.create_filled(at(q + "_err"), grid, nan);
  }
  file.create_filled(at("tau_int"), grid, nan);
  file.set_attr(at("tau_int"), "description", "integrated autocorrelation time, in measurements");
  file.create_filled(at("samples"), grid, std::int64_t{0});
  file.create_filled(at("done"), grid, std::int64_t{0});
  set_unit("energy", "eV");
  file.set_attr(at("energy"), "description", "mean energy per atom");
  file.set_attr(at("magnetization"), "description", "|sum m_i| / sum |m_i|");
  file.set_attr(at("binder"), "description", "1 - <m^4> / (3 <m^2>^2)");
  file.set_attr(group_, "critical_temperature", nan);
  file.set_attr(group_, "critical_temperature_err", nan);
  file.set_attr(group_, "critical_temperature_method", "none");
  file.set_attr(group_, "critical_temperature_note", "not estimated yet");
  file.flush();
}

SweepWriter SweepWriter::open(h5::File& file, const std::string& group) {
  SweepWriter w(file, group);
  w.temperatures_ = file.read_doubles(w.at("temperature"));
  for (auto l : file.read_ints(w.at("size"))) w.sizes_.push_back(static_cast<int>(l));
  return w;
}

void SweepWriter::check_index(std::size_t il, std::size_t it) const {
  if (il >= sizes_.size() || it >= temperatures_.size())
    throw std::out_of_range("SweepWriter: point (" + std::to_string(il) + ", " + std::to_string(it) +
                            ") outside the " + std::to_string(sizes_.size()) + " x " +
                            std::to_string(temperatures_.size()) + " grid of " + file_->path());
}

void SweepWriter::write(std::size_t il, std::size_t it, const SweepPoint& p) {
  check_index(il, it);
  SweepPoint copy = p;
  const auto f = fields(copy);
  const h5::Shape idx{il, it};
  for (std::size_t k = 0; k < f.size(); ++k) {
    file_->write_element(at(quantities()[k]), idx, *f[k].first);
    file_->write_element(at(quantities()[k] + "_err"), idx, *f[k].second);
  }
  file_->write_element(at("tau_int"), idx, p.tau_int);
  file_->write_element(at("samples"), idx, p.samples);
  // The mask goes last: a point is "done" only once all its numbers are in the file.
  file_->write_element(at("done"), idx, std::int64_t{1});
  file_->flush();
}

void SweepWriter::write_extra(const std::string& name, std::size_t il, std::size_t it, double value) {
  check_index(il, it);
  if (!file_->exists(at(name))) file_->create_filled(at(name), {sizes_.size(), temperatures_.size()}, SweepPoint::nan);
  file_->write_element(at(name), {il, it}, value);
  file_->flush();
}

std::vector<std::int64_t> SweepWriter::done_mask() const { return file_->read_ints(at("done")); }

bool SweepWriter::done(std::size_t il, std::size_t it) const {
  check_index(il, it);
  return done_mask()[il * temperatures_.size() + it] != 0;
}

std::size_t SweepWriter::done_count() const {
  std::size_t n = 0;
  for (auto d : done_mask()) n += d != 0;
  return n;
}

SweepPoint SweepWriter::read(std::size_t il, std::size_t it) const {
  check_index(il, it);
  const std::size_t k = il * temperatures_.size() + it;
  SweepPoint p;
  const auto f = fields(p);
  for (std::size_t q = 0; q < f.size(); ++q) {
    *f[q].first = file_->read_doubles(at(quantities()[q]))[k];
    *f[q].second = file_->read_doubles(at(quantities()[q] + "_err"))[k];
  }
  p.tau_int = file_->read_doubles(at("tau_int"))[k];
  p.samples = file_->read_ints(at("samples"))[k];
  return p;
}

void SweepWriter::set_critical_temperature(double tc, double err, const std::string& method, const std::string& note) {
  file_->set_attr(group_, "critical_temperature", tc);
  file_->set_attr(group_, "critical_temperature_err", err);
  file_->set_attr(group_, "critical_temperature_method", method);
  file_->set_attr(group_, "critical_temperature_note", note);
  file_->flush();
}

namespace {
std::string point_group(const std::string& group, std::size_t il, std::size_t it) {
  return h5::join_path(group, "raw_samples/p" + std::to_string(il) + "_" + std::to_string(it));
}
}  // namespace

void SweepWriter::write_samples(std::size_t il, std::size_t it, const SampleRecord& record, long long atoms) {
  check_index(il, it);
  const std::string g = point_group(group_, il, it);
  if (file_->exists(g)) file_->remove(g);
  file_->write(g + "/energy", record.energy());
  file_->write(g + "/order_parameter", record.order());
  file_->set_attr(g, "temperature", temperatures_[it]);
  file_->set_attr(g, "size", static_cast<std::int64_t>(sizes_[il]));
  file_->set_attr(g, "atoms", static_cast<std::int64_t>(atoms));
  file_->set_attr(g, "stride", static_cast<std::int64_t>(record.stride()));
  file_->set_attr(g, "measurements", static_cast<std::int64_t>(record.count()));
  file_->set_attr(g + "/energy", "unit", "eV/atom");
  file_->flush();
}

bool SweepWriter::read_samples(std::size_t il, std::size_t it, PointSamples& out, long long* atoms) const {
  check_index(il, it);
  const std::string g = point_group(group_, il, it);
  if (!file_->exists(g + "/energy") || !file_->exists(g + "/order_parameter")) return false;
  out.temperature = temperatures_[it];
  out.energy = file_->read_doubles(g + "/energy");
  out.order = file_->read_doubles(g + "/order_parameter");
  if (atoms) *atoms = file_->attr_int(g, "atoms");
  return out.energy.size() == out.order.size() && !out.energy.empty();
}

void SweepWriter::write_reweighted(const ReweightedCurves& c) {
  const std::string g = at("reweighted");
  if (file_->exists(g)) file_->remove(g);
  if (c.temperature.empty() || c.sizes.empty()) { file_->flush(); return; }
  const std::size_t nl = c.sizes.size(), nt = c.temperature.size();
  file_->write(g + "/temperature", c.temperature);
  file_->set_attr(g + "/temperature", "unit", "K");
  file_->write(g + "/size", std::vector<std::int64_t>(c.sizes.begin(), c.sizes.end()));
  const auto put = [&](const std::string& name, const std::vector<std::vector<Value>>& v, const std::string& unit) {
    std::vector<double> val(nl * nt, SweepPoint::nan), err(nl * nt, SweepPoint::nan);
    for (std::size_t l = 0; l < nl && l < v.size(); ++l)
      for (std::size_t t = 0; t < nt && t < v[l].size(); ++t) { val[l * nt + t] = v[l][t].value; err[l * nt + t] = v[l][t].error; }
    file_->write(g + "/" + name, val, {nl, nt});
    file_->write(g + "/" + name + "_err", err, {nl, nt});
    if (!unit.empty()) { file_->set_attr(g + "/" + name, "unit", unit); file_->set_attr(g + "/" + name + "_err", "unit", unit); }
  };
  put("binder", c.binder, "");
  put("susceptibility", c.susceptibility, "1/eV per atom");
  put("order_parameter", c.order_parameter, "");
  put("energy", c.energy, "eV/atom");
  put("specific_heat", c.specific_heat, "k_B per atom");
  std::vector<double> ne(nl * nt, 0.0);
  for (std::size_t l = 0; l < nl && l < c.effective_samples.size(); ++l)
    for (std::size_t t = 0; t < nt && t < c.effective_samples[l].size(); ++t) ne[l * nt + t] = c.effective_samples[l][t];
  file_->write(g + "/effective_samples", ne, {nl, nt});
  file_->set_attr(g, "method", "multiple-histogram reweighting (Ferrenberg & Swendsen 1989), jackknife errors");
  file_->set_attr(g, "jackknife_blocks", static_cast<std::int64_t>(c.blocks));
  file_->flush();
}

CriticalTemperature analyse_sweep(SweepWriter& w, std::size_t sizes_done, const CriticalOptions& options) {
  const std::size_t nl = std::min(sizes_done, w.n_sizes()), nt = w.n_temperatures();
  std::vector<int> sizes(w.sizes().begin(), w.sizes().begin() + static_cast<long>(nl));
  std::vector<std::vector<Value>> binder(nl, std::vector<Value>(nt)), chi(nl, std::vector<Value>(nt));
  std::vector<SizeSamples> samples(nl);
  bool all_samples = true;
  std::size_t done = 0;
  for (std::size_t il = 0; il < nl; ++il) {
    samples[il].size = sizes[il];
    for (std::size_t it = 0; it < nt; ++it) {
      if (!w.done(il, it)) continue;
      ++done;
      const SweepPoint p = w.read(il, it);
      binder[il][it] = {p.binder, p.binder_err};
      chi[il][it] = {p.susceptibility, p.susceptibility_err};
      PointSamples ps;
      long long atoms = 1;
      // Reweighting needs enough samples per point for its jackknife blocks.
      if (w.read_samples(il, it, ps, &atoms) && ps.energy.size() >= 32) {
        samples[il].atoms = atoms;
        samples[il].points.push_back(std::move(ps));
      } else {
        all_samples = false;
      }
    }
  }
  CriticalTemperature tc;
  if (done == 0) {
    tc.method = "none";
    tc.notes = "no finished points";
  } else if (all_samples) {
    ReweightedCurves curves;
    tc = critical_temperature_from_samples(samples, options, &curves);
    w.write_reweighted(curves);
  } else {
    tc = estimate_critical_temperature(w.temperatures(), sizes, binder, chi, options);
    tc.notes += " (point values: not every point stored >= 32 samples for reweighting)";
  }
  w.set_critical_temperature(tc.found() ? tc.Tc : SweepPoint::nan, tc.found() ? tc.Tc_err : SweepPoint::nan,
                             tc.found() ? tc.method : "none", tc.notes);
  return tc;
}

void SweepWriter::set_unit(const std::string& quantity, const std::string& unit) {
  file_->set_attr(at(quantity), "unit", unit);
  if (file_->exists(at(quantity + "_err"))) file_->set_attr(at(quantity + "_err"), "unit", unit);
}

}  // namespace spinlat
