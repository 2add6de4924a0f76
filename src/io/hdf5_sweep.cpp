// `/sweep` results; see include/spinlat/io/hdf5_sweep.hpp.
#include "spinlat/io/hdf5_sweep.hpp"

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

void SweepWriter::set_critical_temperature(double tc, double err, const std::string& method) {
  file_->set_attr(group_, "critical_temperature", tc);
  file_->set_attr(group_, "critical_temperature_err", err);
  file_->set_attr(group_, "critical_temperature_method", method);
  file_->flush();
}

void SweepWriter::set_unit(const std::string& quantity, const std::string& unit) {
  file_->set_attr(at(quantity), "unit", unit);
  if (file_->exists(at(quantity + "_err"))) file_->set_attr(at(quantity + "_err"), "unit", unit);
}

}  // namespace spinlat
