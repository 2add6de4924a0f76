#include "spinlat/observables/critical.hpp"

#include <algorithm>
#include <boost/random/normal_distribution.hpp>
#include <cmath>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "spinlat/core/rng.hpp"

namespace spinlat {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Point { double T, y, err; };

// Points of one curve with finite value, sorted by temperature (a NaN error counts as 0).
std::vector<Point> sorted_curve(const std::vector<double>& T, const std::vector<Value>& v) {
  if (v.size() != T.size())
    throw std::invalid_argument("critical temperature: a curve has " + std::to_string(v.size()) +
                                " points for " + std::to_string(T.size()) + " temperatures");
  std::vector<Point> p;
  for (std::size_t k = 0; k < T.size(); ++k)
    if (std::isfinite(T[k]) && std::isfinite(v[k].value))
      p.push_back({T[k], v[k].value, std::isfinite(v[k].error) ? std::abs(v[k].error) : 0.0});
  std::sort(p.begin(), p.end(), [](const Point& a, const Point& b) { return a.T < b.T; });
  return p;
}

// Half the central 68.3 % range of the finite values: a standard deviation that a few
// wild replicas do not inflate. NaN when fewer than 10 finite values.
double robust_spread(std::vector<double> x) {
  x.erase(std::remove_if(x.begin(), x.end(), [](double v) { return !std::isfinite(v); }), x.end());
  if (x.size() < 10) return kNaN;
  std::sort(x.begin(), x.end());
  const auto q = [&x](double f) {
    const double pos = f * static_cast<double>(x.size() - 1);
    const std::size_t i = static_cast<std::size_t>(pos);
    const double w = pos - static_cast<double>(i);
    return i + 1 < x.size() ? (1.0 - w) * x[i] + w * x[i + 1] : x[i];
  };
  return 0.5 * (q(0.841344746) - q(0.158655254));
}

std::string format_value(double v, double e) {
  std::ostringstream os;
  os.precision(6);
  os << v << " ± ";
  os.precision(2);
  os << e;
  return os.str();
}

// The common temperatures of two curves and d = y_big − y_small with its error.
struct Difference { std::vector<double> T, d, err; std::vector<std::size_t> ia, ib; };

Difference difference(const std::vector<Point>& small, const std::vector<Point>& big) {
  Difference out;
  std::size_t i = 0, j = 0;
  while (i < small.size() && j < big.size()) {
    const double ta = small[i].T, tb = big[j].T;
    if (std::abs(ta - tb) <= 1e-9 * std::max(1.0, std::abs(ta))) {
      out.T.push_back(ta);
      out.d.push_back(big[j].y - small[i].y);
      out.err.push_back(std::hypot(small[i].err, big[j].err));
      out.ia.push_back(i);
      out.ib.push_back(j);
      ++i; ++j;
    } else if (ta < tb) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

// Root of d(T) near the sign change between k and k+1: weighted straight-line fit over up
// to two points on each side; linear interpolation when the fit is unusable.
double crossing_root(const std::vector<double>& T, const std::vector<double>& d,
                     const std::vector<double>& err, std::size_t k, int side) {
  const std::size_t w = static_cast<std::size_t>(std::max(side, 1));
  const std::size_t lo = k + 1 >= w ? k + 1 - w : 0, hi = std::min(T.size() - 1, k + w);
  double floor_err = 0.0;
  for (std::size_t i = lo; i <= hi; ++i) floor_err = std::max(floor_err, err[i]);
  floor_err = floor_err > 0.0 ? 1e-6 * floor_err : 1.0;  // all errors zero: unweighted
  double sw = 0, st = 0, sd = 0;
  for (std::size_t i = lo; i <= hi; ++i) {
    const double e = std::max(err[i], floor_err), w = 1.0 / (e * e);
    sw += w; st += w * T[i]; sd += w * d[i];
  }
  const double tm = st / sw, dm = sd / sw;
  double stt = 0, std_ = 0;
  for (std::size_t i = lo; i <= hi; ++i) {
    const double e = std::max(err[i], floor_err), w = 1.0 / (e * e);
    stt += w * (T[i] - tm) * (T[i] - tm);
    std_ += w * (T[i] - tm) * (d[i] - dm);
  }
  if (hi - lo >= 2 && stt > 0.0) {
    const double slope = std_ / stt;
    if (slope < 0.0) {
      const double root = tm - dm / slope;
      if (root >= T[lo] && root <= T[hi]) return root;
    }
  }
  const double den = d[k] - d[k + 1];
  if (den == 0.0) return 0.5 * (T[k] + T[k + 1]);
  return T[k] + d[k] * (T[k + 1] - T[k]) / den;
}

// The sign change (+ → −) of d with the strongest evidence on both sides: the smaller of
// the largest significance d/σ on the contiguous positive run before it and −d/σ on the
// negative run after it. Returns -1 when d never goes from ≥ 0 to < 0.
int best_crossing(const Difference& x) {
  const std::size_t n = x.d.size();
  const auto z = [&x](std::size_t i) { return x.err[i] > 0.0 ? x.d[i] / x.err[i] : (x.d[i] > 0 ? 1e300 : -1e300); };
  int best = -1;
  double best_score = -1.0;
  for (std::size_t k = 0; k + 1 < n; ++k) {
    if (!(x.d[k] >= 0.0 && x.d[k + 1] < 0.0)) continue;
    double pos = 0.0, neg = 0.0;
    for (std::size_t i = k + 1; i-- > 0 && x.d[i] >= 0.0;) pos = std::max(pos, z(i));
    for (std::size_t i = k + 1; i < n && x.d[i] < 0.0; ++i) neg = std::max(neg, -z(i));
    const double score = std::min(pos, neg);
    if (score > best_score) { best_score = score; best = static_cast<int>(k); }
  }
  return best;
}

// Vertex of the parabola through three points (clamped to their range); x1 when degenerate.
double parabola_vertex(double x0, double y0, double x1, double y1, double x2, double y2) {
  const double den = (x0 - x1) * (x0 - x2) * (x1 - x2);
  const double a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den;
  const double b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den;
  if (!(a < 0.0)) return x1;
  return std::clamp(-b / (2.0 * a), x0, x2);
}

// Peak position of a curve (sorted points): parabola vertex at an interior maximum, the
// end point at a boundary maximum. `edge` reports a boundary maximum.
// `shape` 0 fits the parabola to χ, 1 to log χ (exact for a Gaussian peak), 2 to −1/χ (exact
// for a Lorentzian peak).
double peak_of(const std::vector<double>& T, const std::vector<double>& y, int shape, bool* edge) {
  const std::size_t k = static_cast<std::size_t>(std::max_element(y.begin(), y.end()) - y.begin());
  if (edge) *edge = (k == 0 || k + 1 == y.size());
  if (k == 0 || k + 1 == y.size()) return T[k];
  if (shape != 0 && !(y[k - 1] > 0.0 && y[k] > 0.0 && y[k + 1] > 0.0)) return kNaN;
  const auto g = [shape](double v) { return shape == 0 ? v : shape == 1 ? std::log(v) : -1.0 / v; };
  return parabola_vertex(T[k - 1], g(y[k - 1]), T[k], g(y[k]), T[k + 1], g(y[k + 1]));
}

}  // namespace

CriticalTemperature binder_crossing(const std::vector<double>& temperatures, const std::vector<int>& sizes,
                                    const std::vector<std::vector<Value>>& binder, const CriticalOptions& opt) {
  CriticalTemperature out;
  out.method = "none";
  if (sizes.size() != binder.size())
    throw std::invalid_argument("binder_crossing: " + std::to_string(binder.size()) + " curves for " +
                                std::to_string(sizes.size()) + " sizes");
  if (sizes.size() < 2) { out.notes = "Binder crossing needs at least two sizes"; return out; }
  std::vector<std::vector<Point>> curve;
  for (const auto& b : binder) curve.push_back(sorted_curve(temperatures, b));
  // Sizes in increasing order; pairs (small, big).
  std::vector<std::size_t> order(sizes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&sizes](std::size_t a, std::size_t b) { return sizes[a] < sizes[b]; });

  struct Pair { std::size_t small, big; Difference diff; int k; double root; };
  std::vector<Pair> pairs;
  std::ostringstream notes;
  for (std::size_t a = 0; a < order.size(); ++a)
    for (std::size_t b = a + 1; b < order.size(); ++b) {
      const std::size_t s = order[a], l = order[b];
      if (sizes[s] == sizes[l]) continue;
      Pair p{s, l, difference(curve[s], curve[l]), -1, kNaN};
      p.k = best_crossing(p.diff);
      if (p.k < 0) {
        notes << "L=" << sizes[s] << "/L=" << sizes[l] << ": no crossing; ";
        continue;
      }
      p.root = crossing_root(p.diff.T, p.diff.d, p.diff.err, static_cast<std::size_t>(p.k), opt.fit_points);
      pairs.push_back(std::move(p));
    }
  if (pairs.empty()) { out.notes = notes.str() + "no pair of sizes crosses"; return out; }

  // Parametric bootstrap: redraw every U4 point within its error; each pair keeps the bracket
  // found on the data, so a replica measures the local uncertainty of that crossing.
  Engine eng(splitmix64(opt.seed));
  boost::random::normal_distribution<double> normal(0.0, 1.0);
  const int R = std::max(opt.bootstrap, 10);
  std::vector<std::vector<double>> rep(pairs.size(), std::vector<double>(R, kNaN));
  std::vector<std::vector<Point>> draw = curve;
  for (int r = 0; r < R; ++r) {
    for (std::size_t c = 0; c < curve.size(); ++c)
      for (std::size_t i = 0; i < curve[c].size(); ++i) draw[c][i].y = curve[c][i].y + curve[c][i].err * normal(eng);
    for (std::size_t q = 0; q < pairs.size(); ++q) {
      const Pair& p = pairs[q];
      Difference x = p.diff;
      for (std::size_t i = 0; i < x.d.size(); ++i) x.d[i] = draw[p.big][x.ib[i]].y - draw[p.small][x.ia[i]].y;
      const int k = best_crossing(x);
      rep[q][r] = k < 0 ? kNaN : crossing_root(x.T, x.d, x.err, static_cast<std::size_t>(k), opt.fit_points);
    }
  }
  std::vector<double> w(pairs.size());
  bool all_weighted = true;
  for (std::size_t q = 0; q < pairs.size(); ++q) {
    const double e = robust_spread(rep[q]);
    notes << "L=" << sizes[pairs[q].small] << "/L=" << sizes[pairs[q].big] << ": "
          << format_value(pairs[q].root, e) << "; ";
    if (!(e > 0.0)) all_weighted = false;
    w[q] = e > 0.0 ? 1.0 / (e * e) : 0.0;
  }
  if (!all_weighted) std::fill(w.begin(), w.end(), 1.0);  // no usable errors: plain mean
  const double W = std::accumulate(w.begin(), w.end(), 0.0);
  double tc = 0.0;
  for (std::size_t q = 0; q < pairs.size(); ++q) tc += w[q] * pairs[q].root;
  std::vector<double> comb(R, 0.0);
  for (int r = 0; r < R; ++r)
    for (std::size_t q = 0; q < pairs.size(); ++q) comb[r] += w[q] * rep[q][r] / W;
  out.Tc = tc / W;
  out.Tc_err = robust_spread(comb);
  out.method = "binder-crossing";
  notes << "combined over " << pairs.size() << " pair(s), bootstrap " << R << " replicas";
  out.notes = notes.str();
  return out;
}

CriticalTemperature susceptibility_peak(const std::vector<double>& temperatures, const std::vector<Value>& chi,
                                        const CriticalOptions& opt) {
  CriticalTemperature out;
  out.method = "none";
  const std::vector<Point> p = sorted_curve(temperatures, chi);
  if (p.empty()) { out.notes = "no susceptibility data"; return out; }
  std::vector<double> T(p.size()), y(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) { T[i] = p[i].T; y[i] = p[i].y; }
  out.method = "susceptibility-peak";
  std::ostringstream notes;
  notes << "peak of one size overestimates Tc (finite-size shift ~ L^(-1/nu)); ";
  if (p.size() < 3) {
    const std::size_t k = static_cast<std::size_t>(std::max_element(y.begin(), y.end()) - y.begin());
    out.Tc = T[k];
    out.Tc_err = p.size() == 2 ? std::abs(T[1] - T[0]) : kNaN;
    notes << "only " << p.size() << " temperature(s): no interpolation";
    out.notes = notes.str();
    return out;
  }
  bool edge = false;
  out.Tc = peak_of(T, y, 0, &edge);
  if (edge) {
    const std::size_t k = T[0] == out.Tc ? 0 : T.size() - 1;
    out.Tc_err = std::abs(T[k == 0 ? 1 : k - 1] - T[k]);
    notes << "maximum at the edge of the temperature range: the peak may lie outside it";
    out.notes = notes.str();
    return out;
  }
  // Shape error: how far the vertex moves when the peak is taken as Gaussian or Lorentzian
  // instead of parabolic (all three agree as the temperature spacing goes to zero).
  double shape_err = 0.0;
  for (int shape : {1, 2}) {
    const double v = peak_of(T, y, shape, nullptr);
    if (std::isfinite(v)) shape_err = std::max(shape_err, std::abs(v - out.Tc));
  }
  Engine eng(splitmix64(opt.seed));
  boost::random::normal_distribution<double> normal(0.0, 1.0);
  const int R = std::max(opt.bootstrap, 10);
  std::vector<double> rep(R);
  std::vector<double> yr(y.size());
  for (int r = 0; r < R; ++r) {
    for (std::size_t i = 0; i < y.size(); ++i) yr[i] = y[i] + p[i].err * normal(eng);
    rep[r] = peak_of(T, yr, 0, nullptr);
  }
  const double boot = robust_spread(rep);
  out.Tc_err = std::hypot(std::isfinite(boot) ? boot : 0.0, shape_err);
  notes << "parabola vertex; bootstrap error " << boot << ", shape error " << shape_err;
  out.notes = notes.str();
  return out;
}

CriticalTemperature estimate_critical_temperature(const std::vector<double>& temperatures,
                                                  const std::vector<int>& sizes,
                                                  const std::vector<std::vector<Value>>& binder,
                                                  const std::vector<std::vector<Value>>& susceptibility,
                                                  const CriticalOptions& opt) {
  std::string why;
  if (sizes.size() >= 2) {
    CriticalTemperature b = binder_crossing(temperatures, sizes, binder, opt);
    if (b.found()) return b;
    why = "no Binder crossing (" + b.notes + "); ";
  }
  if (susceptibility.empty() || sizes.empty()) {
    CriticalTemperature none;
    none.method = "none";
    none.notes = why + "no susceptibility data";
    return none;
  }
  if (susceptibility.size() != sizes.size())
    throw std::invalid_argument("estimate_critical_temperature: susceptibility curves do not match sizes");
  const std::size_t big =
      static_cast<std::size_t>(std::max_element(sizes.begin(), sizes.end()) - sizes.begin());
  CriticalTemperature c = susceptibility_peak(temperatures, susceptibility[big], opt);
  c.notes = why + "L=" + std::to_string(sizes[big]) + ": " + c.notes;
  return c;
}

}  // namespace spinlat
