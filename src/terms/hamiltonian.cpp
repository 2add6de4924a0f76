#include "spinlat/terms/hamiltonian.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace spinlat {

double Hamiltonian::cutoff() const {
  double c = 0.0;
  for (const auto& t : terms_) c = std::max(c, t->cutoff());
  return c;
}

bool Hamiltonian::depends_on_positions() const {
  return std::any_of(terms_.begin(), terms_.end(), [](const TermPtr& t) { return t->depends_on_positions(); });
}

bool Hamiltonian::depends_on_moment_size() const {
  return std::any_of(terms_.begin(), terms_.end(), [](const TermPtr& t) { return t->depends_on_moment_size(); });
}

bool Hamiltonian::conserves_total_spin() const {
  return std::all_of(terms_.begin(), terms_.end(), [](const TermPtr& t) { return t->conserves_total_spin(); });
}

void Hamiltonian::bind(const System& s) {
  const double c = cutoff();
  // On-site-only Hamiltonians still get a (empty) list of the right size.
  if (c > 0.0) {
    NeighborForms forms;
    forms.full = std::any_of(terms_.begin(), terms_.end(), [](const TermPtr& t) { return t->reads_full_list(); });
    forms.half = std::any_of(terms_.begin(), terms_.end(), [](const TermPtr& t) { return t->reads_half_list(); });
    build_neighbor_list(s, c + skin_, list_, forms);
  } else {
    list_ = NeighborList();
    list_.offset.assign(s.size() + 1, 0);
  }
  for (auto& t : terms_) t->bind(s, list_);
  built_positions_ = s.position;
  built_cell_ = s.cell.h;
  bound_ = true;
  rebuild_spin_kernel(s);
}

void Hamiltonian::rebuild_spin_kernel(const System& s) {
  SpinKernel k;
  k.reset(s.size());
  for (const auto& t : terms_)
    if (!t->add_to_spin_kernel(s, list_, k)) { kernel_.reset(); return; }
  k.finalize();
  if (k.axis_conflict) { kernel_.reset(); return; }
  kernel_ = std::move(k);
}

bool Hamiltonian::update(const System& s) {
  if (!bound_ || s.size() != built_positions_.size() || s.cell.h != built_cell_) {
    bind(s);
    return true;
  }
  const double limit2 = 0.25 * skin_ * skin_;
  for (std::size_t i = 0; i < s.size(); ++i)
    if ((s.position[i] - built_positions_[i]).squaredNorm() > limit2) {
      bind(s);
      return true;
    }
  return false;
}

double Hamiltonian::energy(const System& s) const {
  Derivatives none;
  double e = 0.0;
  for (const auto& t : terms_) e += t->compute(s, list_, none);
  return e;
}

double Hamiltonian::compute(const System& s, Derivatives& d) const {
  if (d.force) d.force->assign(s.size(), Vec3::Zero());
  if (d.magnetic_force) d.magnetic_force->assign(s.size(), Vec3::Zero());
  if (d.virial) d.virial->setZero();
  double e = 0.0;
  for (const auto& t : terms_) e += t->compute(s, list_, d);
  return e;
}

std::vector<double> Hamiltonian::site_energies(const System& s) const {
  std::vector<double> e(s.size(), 0.0);
  if (!list_.full) {
    // EAM and pair potentials alone: their list has no full pairs (the site energies are an
    // output, rarely asked for; a full list for the call costs about one MD rebuild).
    const NeighborList full = build_neighbor_list(s, list_.cutoff);
    for (const auto& t : terms_) t->add_site_energies(s, full, e);
    return e;
  }
  for (const auto& t : terms_) t->add_site_energies(s, list_, e);
  return e;
}

double Hamiltonian::local_energy_change(const System& s, int i, const Vec3& spin_new,
                                        double moment_new) const {
  double de = 0.0;
  for (const auto& t : terms_) de += t->local_energy_change(s, list_, i, spin_new, moment_new);
  return de;
}

void Hamiltonian::local_energy_changes(const System& s, const std::vector<int>& sites,
                                       const std::vector<Vec3>& spins, const std::vector<double>& moments,
                                       std::vector<double>& de) const {
  de.assign(sites.size(), 0.0);
  std::vector<double> part;
  for (const auto& t : terms_) {
    t->local_energy_changes(s, list_, sites, spins, moments, part);
    for (std::size_t k = 0; k < sites.size(); ++k) de[k] += part[k];
  }
}

void Hamiltonian::accept_trials(const std::vector<char>& accepted) const {
  for (const auto& t : terms_) t->accept_trials(accepted);
}

void Hamiltonian::accept_trial(bool accepted) const {
  static const std::vector<char> yes{1}, no{0};  // no allocation per trial
  accept_trials(accepted ? yes : no);
}

double Hamiltonian::trial_range() const {
  double r = 0.0;
  for (const auto& t : terms_) r = std::max(r, t->trial_range());
  return r;
}

bool Hamiltonian::batches_trials() const {
  // A term whose trials interact at any distance (a learned model without num_interactions)
  // leaves nothing to batch.
  if (!std::isfinite(trial_range())) return false;
  for (const auto& t : terms_)
    if (t->batches_trials()) return true;
  return false;
}

}  // namespace spinlat
