#include "spinlat/observables/order.hpp"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>

#include "spinlat/core/error.hpp"

namespace spinlat {

namespace {
void check_size(const System& s, const std::vector<int>& v, const char* what) {
  if (v.size() != s.size())
    throw std::invalid_argument(std::string(what) + " has " + std::to_string(v.size()) +
                                " entries for " + std::to_string(s.size()) + " atoms");
}
}  // namespace

double magnetization(const System& s) {
  Vec3 sum = Vec3::Zero();
  double norm = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    sum += s.moment[i] * s.spin[i];
    norm += s.moment[i];
  }
  return norm > 0.0 ? sum.norm() / norm : 0.0;
}

Vec3 magnetization_vector(const System& s) {
  Vec3 sum = Vec3::Zero();
  for (std::size_t i = 0; i < s.size(); ++i) sum += s.moment[i] * s.spin[i];
  return s.size() > 0 ? Vec3(sum / static_cast<double>(s.size())) : Vec3(Vec3::Zero());
}

double staggered_magnetization(const System& s, const std::vector<int>& pattern) {
  check_size(s, pattern, "staggered pattern");
  Vec3 sum = Vec3::Zero();
  double norm = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    sum += static_cast<double>(pattern[i]) * s.moment[i] * s.spin[i];
    norm += s.moment[i];
  }
  return norm > 0.0 ? sum.norm() / norm : 0.0;
}

Vec3 staggered_magnetization_vector(const System& s, const std::vector<int>& pattern) {
  check_size(s, pattern, "staggered pattern");
  Vec3 sum = Vec3::Zero();
  for (std::size_t i = 0; i < s.size(); ++i)
    sum += static_cast<double>(pattern[i]) * s.moment[i] * s.spin[i];
  return s.size() > 0 ? Vec3(sum / static_cast<double>(s.size())) : Vec3(Vec3::Zero());
}

std::vector<double> sublattice_magnetizations(const System& s, const std::vector<int>& sublattice) {
  check_size(s, sublattice, "sublattice labels");
  int count = 0;
  for (int l : sublattice) count = std::max(count, l + 1);
  std::vector<Vec3> sum(count, Vec3::Zero());
  std::vector<double> norm(count, 0.0);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const int l = sublattice[i];
    if (l < 0 || !s.magnetic(i)) continue;
    sum[l] += s.moment[i] * s.spin[i];
    norm[l] += s.moment[i];
  }
  std::vector<double> m(count, std::numeric_limits<double>::quiet_NaN());
  for (int l = 0; l < count; ++l)
    if (norm[l] > 0.0) m[l] = sum[l].norm() / norm[l];
  return m;
}

double sublattice_order(const System& s, const std::vector<int>& sublattice) {
  double total = 0.0;
  int used = 0;
  for (double m : sublattice_magnetizations(s, sublattice))
    if (!std::isnan(m)) { total += m; ++used; }
  return used > 0 ? total / used : 0.0;
}

Vec3 principal_axis(const System& s) {
  Mat3 q = Mat3::Zero();
  int first = -1;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    if (first < 0) first = static_cast<int>(i);
    q += s.spin[i] * s.spin[i].transpose();
  }
  if (first < 0) return Vec3::UnitZ();
  Eigen::SelfAdjointEigenSolver<Mat3> eig(q);
  Vec3 n = eig.eigenvectors().col(2);  // eigenvalues ascending: the last is the largest
  if (n.dot(s.spin[first]) < 0.0) n = -n;
  return n.normalized();
}

std::vector<int> pattern_from_ground_state(const System& quenched, const Vec3& reference) {
  const Vec3 n = reference.squaredNorm() > 0.0 ? Vec3(reference.normalized()) : principal_axis(quenched);
  std::vector<int> eps(quenched.size(), 0);
  for (std::size_t i = 0; i < quenched.size(); ++i)
    if (quenched.magnetic(i)) eps[i] = quenched.spin[i].dot(n) < 0.0 ? -1 : +1;
  return eps;
}

bool is_collinear(const System& s, double angle_tol) {
  const Vec3 n = principal_axis(s);
  const double c = std::cos(angle_tol);
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s.magnetic(i) && std::abs(s.spin[i].dot(n)) < c) return false;
  return true;
}

std::vector<int> sublattices_from_ground_state(const System& quenched, double angle_tol) {
  const double c = std::cos(angle_tol);
  std::vector<Vec3> rep;
  std::vector<int> label(quenched.size(), -1);
  for (std::size_t i = 0; i < quenched.size(); ++i) {
    if (!quenched.magnetic(i)) continue;
    const Vec3& e = quenched.spin[i];
    int found = -1;
    for (std::size_t k = 0; k < rep.size() && found < 0; ++k)
      if (e.dot(rep[k]) >= c) found = static_cast<int>(k);
    if (found < 0) {
      found = static_cast<int>(rep.size());
      rep.push_back(e);
    }
    label[i] = found;
  }
  return label;
}

double OrderParameter::operator()(const System& s) const {
  switch (kind) {
    case OrderKind::ferro: return magnetization(s);
    case OrderKind::staggered: return staggered_magnetization(s, pattern);
    case OrderKind::sublattice: return sublattice_order(s, sublattice);
  }
  return 0.0;
}

std::string OrderParameter::name() const {
  switch (kind) {
    case OrderKind::ferro: return "ferro";
    case OrderKind::staggered: return "staggered";
    case OrderKind::sublattice: return "sublattice";
  }
  return "";
}

OrderParameter make_order_parameter(const std::string& order, const System& g) {
  OrderParameter op;
  if (order == "ferro") return op;
  if (order != "antiferro" && order != "auto" && order != "staggered" && order != "sublattice")
    throw InputError("", "sweep.order", 0,
                     "unknown order '" + order + "' (expected ferro, antiferro or auto)");
  const std::vector<int> eps = pattern_from_ground_state(g);
  if (order == "auto") {
    // Ferromagnetic when every magnetic atom has the same sign: |Σ ε| equals their number.
    int sum = 0, n = 0;
    for (std::size_t i = 0; i < g.size(); ++i)
      if (g.magnetic(i)) { sum += eps[i]; ++n; }
    if (std::abs(sum) == n) return op;
  }
  const bool collinear = is_collinear(g);
  if (order == "staggered" || (order != "sublattice" && collinear)) {
    op.kind = OrderKind::staggered;
    op.pattern = eps;
    return op;
  }
  op.kind = OrderKind::sublattice;
  op.sublattice = sublattices_from_ground_state(g);
  int clusters = 0, n = 0;
  for (std::size_t i = 0; i < g.size(); ++i)
    if (g.magnetic(i)) { clusters = std::max(clusters, op.sublattice[i] + 1); ++n; }
  // Each label must hold several atoms, or the "order" of one-atom sublattices is 1 for any
  // configuration: the reference state is then not a ground state with sublattice order.
  if (2 * clusters > n)
    throw InputError("", "sweep.order", 0,
                     "the reference state has " + std::to_string(clusters) + " distinct moment directions for " +
                         std::to_string(n) + " magnetic atoms: no sublattice order to measure "
                         "(quench the system first or choose order = \"ferro\")");
  return op;
}

std::vector<int> magnetic_sublattice_labels(const OrderParameter& op, const System& s) {
  std::vector<int> raw(s.size(), -1);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    if (op.kind == OrderKind::staggered) raw[i] = i < op.pattern.size() && op.pattern[i] < 0 ? 1 : 0;
    else if (op.kind == OrderKind::sublattice) raw[i] = i < op.sublattice.size() ? op.sublattice[i] : -1;
    else raw[i] = s.sublattice[i];
  }
  // Compact labels, in order of first appearance.
  std::map<int, int> compact;
  std::vector<int> labels(s.size(), -1);
  for (std::size_t i = 0; i < s.size(); ++i)
    if (raw[i] >= 0) labels[i] = compact.emplace(raw[i], static_cast<int>(compact.size())).first->second;
  if (compact.size() < 2) return {};
  return labels;
}

}  // namespace spinlat
