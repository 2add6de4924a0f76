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
constexpr double kOrderedBinder = 0.65;  // U4 above every known critical value (see decide())

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

// A difference curve d = y_big − y_small with its error, on the temperatures of both curves.
struct Difference { std::vector<double> T, d, err; };

// Root of d(T) near the sign change between k and k+1: weighted straight-line fit over up
// to two points on each side; linear interpolation when the fit is unusable.
double crossing_root(const std::vector<double>& T, const std::vector<double>& d,
                     const std::vector<double>& err, std::size_t k, int side, double* slope_out = nullptr) {
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
      if (slope_out) *slope_out = slope;
      if (root >= T[lo] && root <= T[hi]) return root;
    }
  }
  const double den = d[k] - d[k + 1];
  if (slope_out) *slope_out = -den / (T[k + 1] - T[k]);
  if (den == 0.0) return 0.5 * (T[k] + T[k + 1]);
  return T[k] + d[k] * (T[k + 1] - T[k]) / den;
}

// The sign change (+ → −) of d that best splits the curve into an ordered side (d > 0) below
// and a disordered side (d < 0) above: the change point k with the least evidence against
// it, Σ_{i≤k} max(0, −z_i) + Σ_{i>k} max(0, z_i), z = d/σ (noise crossings far from Tc, where
// both curves sit at the same limit, leave significant points on the wrong side and lose).
// `score_out` receives its significance: the smaller of the largest z at or below it and the
// largest −z above it. Returns -1 when d never goes from ≥ 0 to < 0.
int best_crossing(const Difference& x, double* score_out = nullptr) {
  const std::size_t n = x.d.size();
  const auto z = [&x](std::size_t i) { return x.err[i] > 0.0 ? x.d[i] / x.err[i] : (x.d[i] > 0 ? 1e300 : x.d[i] < 0 ? -1e300 : 0.0); };
  // Prefix sums of the wrong-side evidence and running maxima of the right-side evidence.
  std::vector<double> below_wrong(n + 1, 0.0), above_wrong(n + 1, 0.0), below_max(n, 0.0), above_max(n + 1, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    below_wrong[i + 1] = below_wrong[i] + std::max(0.0, -z(i));
    below_max[i] = std::max(i ? below_max[i - 1] : 0.0, z(i));
  }
  for (std::size_t i = n; i-- > 0;) {
    above_wrong[i] = above_wrong[i + 1] + std::max(0.0, z(i));
    above_max[i] = std::max(above_max[i + 1], -z(i));
  }
  int best = -1;
  double best_cost = INFINITY, best_score = -1.0;
  for (std::size_t k = 0; k + 1 < n; ++k) {
    if (!(x.d[k] >= 0.0 && x.d[k + 1] < 0.0)) continue;
    const double cost = below_wrong[k + 1] + above_wrong[k + 1];
    const double score = std::min(below_max[k], above_max[k + 1]);
    if (cost < best_cost || (cost == best_cost && score > best_score)) {
      best_cost = cost;
      best_score = score;
      best = static_cast<int>(k);
    }
  }
  if (score_out) *score_out = best_score;
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

namespace {

// Curves of every size on a common ascending temperature grid, for the data (replica 0) and
// for R resampled replicas (parametric bootstrap or jackknife), [r][l][t]; NaN = no value.
struct Replicas {
  std::vector<double> T;
  std::vector<int> sizes;  // ascending
  std::vector<std::vector<std::vector<double>>> u4, chi;
  bool jackknife = false;
  int fit_points = 1;
};

// Standard deviation of an estimate from its replica values (replica 0, the data, excluded):
// jackknife √((n−1)/n Σ (x_r − x̄)²), or for the bootstrap the standard deviation of the
// replicas within 6 robust σ of their median (a replica whose fitted line is nearly flat must
// not dominate; the robust half-width alone runs ~10 % small for the heavy-tailed root of a
// line, measured on 1000 synthetic crossings).
double spread(const std::vector<double>& rep, bool jackknife) {
  std::vector<double> x(rep.begin() + 1, rep.end());
  x.erase(std::remove_if(x.begin(), x.end(), [](double v) { return !std::isfinite(v); }), x.end());
  if (!jackknife) {
    const double r = robust_spread(x);
    if (!std::isfinite(r)) return kNaN;
    std::vector<double> y = x;
    std::nth_element(y.begin(), y.begin() + static_cast<long>(y.size() / 2), y.end());
    const double med = y[y.size() / 2];
    x.erase(std::remove_if(x.begin(), x.end(), [&](double v) { return std::abs(v - med) > 6.0 * r; }), x.end());
  }
  if (x.size() < 2) return kNaN;
  const double n = static_cast<double>(x.size());
  const double mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double ss = 0.0;
  for (double v : x) ss += (v - mean) * (v - mean);
  return jackknife ? std::sqrt((n - 1.0) / n * ss) : std::sqrt(ss / (n - 1.0));
}

std::string fmt(double v, int digits = 5) {
  std::ostringstream os;
  os.precision(digits);
  os << v;
  return os.str();
}

std::string pair_name(int a, int b) { return "L=" + std::to_string(a) + "/L=" + std::to_string(b); }

struct PairResult {
  std::size_t s = 0, b = 0;
  bool significant = false;
  double score = 0.0, pos = 0.0, neg = 0.0;  // significance of the crossing; max d/σ, max −d/σ
  double T_pos = kNaN, T_neg = kNaN;         // where the largest d/σ and −d/σ are
  std::vector<double> root;                  // per replica (0 = data)
  std::vector<double> Tv, z;                 // temperatures with both curves, d/σ there
  double err = kNaN;
};

// One pair of sizes: d = U4(big) − U4(small); the best + → − sign change on the data and,
// per replica, the sign change nearest to it.
PairResult analyse_pair(const Replicas& R, std::size_t s, std::size_t b, const CriticalOptions& opt) {
  PairResult p;
  p.s = s;
  p.b = b;
  const std::size_t nr = R.u4.size();
  std::vector<std::size_t> idx;
  for (std::size_t t = 0; t < R.T.size(); ++t)
    if (std::isfinite(R.u4[0][s][t]) && std::isfinite(R.u4[0][b][t])) idx.push_back(t);
  p.root.assign(nr, kNaN);
  if (idx.size() < 2) return p;
  std::vector<std::vector<double>> d(nr, std::vector<double>(idx.size()));
  for (std::size_t r = 0; r < nr; ++r)
    for (std::size_t i = 0; i < idx.size(); ++i) d[r][i] = R.u4[r][b][idx[i]] - R.u4[r][s][idx[i]];
  Difference x;
  for (std::size_t i = 0; i < idx.size(); ++i) {
    std::vector<double> col(nr);
    for (std::size_t r = 0; r < nr; ++r) col[r] = d[r][i];
    double e = spread(col, R.jackknife);
    if (!std::isfinite(e)) e = 0.0;
    x.T.push_back(R.T[idx[i]]);
    x.d.push_back(d[0][i]);
    x.err.push_back(e);
    const double z = e > 0.0 ? d[0][i] / e : (d[0][i] > 0 ? 1e300 : d[0][i] < 0 ? -1e300 : 0.0);
    p.z.push_back(z);
    if (z > p.pos) { p.pos = z; p.T_pos = x.T.back(); }
    if (-z > p.neg) { p.neg = -z; p.T_neg = x.T.back(); }
  }
  p.Tv = x.T;
  const int k = best_crossing(x, &p.score);
  if (k < 0) return p;
  p.significant = p.score >= opt.min_significance;
  std::vector<double> slope(nr, kNaN);
  p.root[0] = crossing_root(x.T, x.d, x.err, static_cast<std::size_t>(k), R.fit_points, &slope[0]);
  // Each replica repeats the whole estimator, the choice of the sign change included (anchoring
  // the replicas to the data's bracket would understate the spread).
  Difference xr = x;
  for (std::size_t r = 1; r < nr; ++r) {
    xr.d = d[r];
    const int kr = best_crossing(xr);
    if (kr >= 0) p.root[r] = crossing_root(x.T, d[r], x.err, static_cast<std::size_t>(kr), R.fit_points, &slope[r]);
  }
  // The replicas scatter the root by about σ_d/|s| with the slope s of the data, whose square
  // overestimates the true s² by Var(s) on average (E s_obs² = s² + Var s): errors computed
  // from it are too small by √(1 + Var s/s²) (seen as mean z² ≈ 1.3 on synthetic crossings).
  // Widen the replica deviations by |s_obs|/√(s_obs² − Var s), Var s from the replicas' slopes,
  // at most by √2 (a slope known to less than 70 %: the crossing is barely resolved anyway).
  const double vs = std::pow(spread(slope, R.jackknife), 2), s0 = slope[0] * slope[0];
  const double widen = std::isfinite(vs) && s0 > 0.0 ? std::sqrt(s0 > 2.0 * vs ? s0 / (s0 - vs) : 2.0) : 1.0;
  for (std::size_t r = 1; r < nr; ++r) p.root[r] = p.root[0] + widen * (p.root[r] - p.root[0]);
  p.err = spread(p.root, R.jackknife);
  return p;
}

// Peak of χ of size l: position per replica (parabola vertex on the valid points), whether the
// data's maximum is interior and significantly above both ends of the range.
struct Peak {
  bool ok = false;
  std::string why;
  std::vector<double> T, height;  // per replica
  double err = kNaN;
};

Peak analyse_peak(const Replicas& R, std::size_t l, const CriticalOptions& opt) {
  Peak pk;
  const std::size_t nr = R.chi.size();
  std::vector<std::size_t> idx;
  for (std::size_t t = 0; t < R.T.size(); ++t)
    if (std::isfinite(R.chi[0][l][t])) idx.push_back(t);
  pk.T.assign(nr, kNaN);
  pk.height.assign(nr, kNaN);
  if (idx.size() < 3) { pk.why = "fewer than 3 temperatures"; return pk; }
  std::vector<double> T(idx.size()), y(idx.size());
  for (std::size_t i = 0; i < idx.size(); ++i) T[i] = R.T[idx[i]];
  for (std::size_t r = 0; r < nr; ++r) {
    for (std::size_t i = 0; i < idx.size(); ++i) y[i] = R.chi[r][l][idx[i]];
    bool edge = false;
    pk.T[r] = peak_of(T, y, 0, &edge);
    pk.height[r] = *std::max_element(y.begin(), y.end());
    if (r == 0 && edge) {
      pk.why = "chi is largest at the " + std::string(pk.T[0] == T.front() ? "low" : "high") +
               "-temperature end of the range (T = " + fmt(pk.T[0]) + ")";
      return pk;
    }
  }
  // Significance of the maximum over both ends of the range.
  for (std::size_t end : {std::size_t(0), idx.size() - 1}) {
    std::vector<double> diff(nr);
    for (std::size_t r = 0; r < nr; ++r) diff[r] = pk.height[r] - R.chi[r][l][idx[end]];
    const double e = spread(diff, R.jackknife);
    if (!(diff[0] >= opt.min_significance * (std::isfinite(e) ? e : 0.0)) || diff[0] <= 0.0) {
      pk.why = "the maximum of chi (T = " + fmt(pk.T[0]) + ") is not significantly above its value at T = " +
               fmt(T[end]);
      return pk;
    }
  }
  pk.err = spread(pk.T, R.jackknife);
  pk.ok = true;
  return pk;
}

// Slope dU4/dT of size l at temperature tc (replica r), from the bracketing valid points.
double binder_slope(const Replicas& R, std::size_t r, std::size_t l, double tc) {
  std::size_t prev = R.T.size();
  for (std::size_t t = 0; t < R.T.size(); ++t) {
    if (!std::isfinite(R.u4[r][l][t])) continue;
    if (prev < R.T.size() && R.T[prev] <= tc && R.T[t] >= tc && R.T[t] > R.T[prev])
      return (R.u4[r][l][t] - R.u4[r][l][prev]) / (R.T[t] - R.T[prev]);
    prev = t;
  }
  return kNaN;
}

// Finite-size scaling of the χ peaks against the Binder estimate tc[r]: 1/ν from the U4
// slopes of the smallest and largest sizes, T_peak(L) = Tc_χ + a L^(−1/ν) fitted by weighted
// least squares. Returns a sentence for the notes.
std::string chi_cross_check(const Replicas& R, const std::vector<double>& tc, double tc_err,
                            const CriticalOptions& opt) {
  const std::size_t nl = R.sizes.size(), nr = tc.size();
  std::vector<std::size_t> with;
  std::vector<Peak> peaks(nl);
  std::ostringstream why;
  for (std::size_t l = 0; l < nl; ++l) {
    peaks[l] = analyse_peak(R, l, opt);
    if (peaks[l].ok) with.push_back(l);
    else why << "L=" << R.sizes[l] << ": " << peaks[l].why << "; ";
  }
  if (with.size() < 2) return "chi-peak cross-check not possible (" + why.str() + "fewer than two sizes with a peak)";
  std::ostringstream os;
  const std::size_t lo = with.front(), hi = with.back();
  if (!(peaks[hi].height[0] > peaks[lo].height[0]))
    os << "WARNING: the chi peak does not grow with L (" << fmt(peaks[lo].height[0]) << " at L=" << R.sizes[lo]
       << ", " << fmt(peaks[hi].height[0]) << " at L=" << R.sizes[hi] << "); ";
  std::vector<double> w(with.size(), 1.0);
  bool weighted = true;
  for (std::size_t i = 0; i < with.size(); ++i) {
    const double e = peaks[with[i]].err;
    if (e > 0.0) w[i] = 1.0 / (e * e); else weighted = false;
  }
  if (!weighted) std::fill(w.begin(), w.end(), 1.0);
  std::vector<double> tchi(nr, kNaN), inv_nu(nr, kNaN);
  for (std::size_t r = 0; r < nr; ++r) {
    const double s0 = binder_slope(R, r, 0, tc[r]), s1 = binder_slope(R, r, nl - 1, tc[r]);
    const double y = std::log(s1 / s0) / std::log(double(R.sizes[nl - 1]) / double(R.sizes[0]));
    if (!(y > 0.0) || !std::isfinite(y)) continue;
    inv_nu[r] = y;
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < with.size(); ++i) {
      const double x = std::pow(double(R.sizes[with[i]]), -y), t = peaks[with[i]].T[r];
      sw += w[i]; sx += w[i] * x; sy += w[i] * t; sxx += w[i] * x * x; sxy += w[i] * x * t;
    }
    const double den = sw * sxx - sx * sx;
    if (den != 0.0) tchi[r] = (sxx * sy - sx * sxy) / den;
  }
  if (!std::isfinite(tchi[0])) {
    os << "chi-peak cross-check not possible (the U4 slopes give no positive 1/nu); peaks:";
    for (std::size_t l : with) os << " L=" << R.sizes[l] << " " << fmt(peaks[l].T[0]);
    return os.str();
  }
  std::vector<double> diff(nr);
  for (std::size_t r = 0; r < nr; ++r) diff[r] = tchi[r] - tc[r];
  const double e_chi = spread(tchi, R.jackknife), e_diff = spread(diff, R.jackknife);
  const double allowed = opt.min_significance * (std::isfinite(e_diff) ? e_diff : tc_err) + opt.scaling_tolerance * tc[0];
  os << "chi-peak finite-size scaling (1/nu = " << fmt(inv_nu[0], 3) << " from the U4 slopes, " << with.size()
     << " sizes): Tc = " << format_value(tchi[0], e_chi);
  if (std::abs(diff[0]) <= allowed) os << ", agrees with the Binder crossing";
  else os << "; WARNING: differs from the Binder crossing by " << fmt(diff[0]) << " (more than " << fmt(allowed, 3)
          << "): corrections to scaling or too few sizes";
  return os.str();
}

// Why there is no crossing, from the signs of d = U4(big) − U4(small) and the U4 levels.
std::string no_transition_reason(const Replicas& R, const std::vector<PairResult>& pairs, const CriticalOptions& opt) {
  bool pos = false, neg = false;
  for (const PairResult& p : pairs) {
    pos = pos || p.pos >= opt.min_significance;
    neg = neg || p.neg >= opt.min_significance;
  }
  const double tmin = R.T.front(), tmax = R.T.back();
  std::ostringstream os;
  // A sign change with some evidence on its far side (≥ 2σ, short of min_significance): say
  // where, and which side is not resolved. Weaker ones are noise crossings of curves that sit
  // at the same limit.
  const PairResult* weak = nullptr;
  for (const PairResult& p : pairs)
    if (std::isfinite(p.root[0]) && p.score >= 2.0 && (!weak || p.score > weak->score)) weak = &p;
  const std::string range = fmt(tmin) + "-" + fmt(tmax) + " K: ";
  if ((pos != neg) && weak) os << "no transition resolved in the scanned range " << range;
  else os << "no transition in the scanned range " << range;
  if (pos && !neg && weak) {
    os << "U4 grows with L (ordered) at low temperature, and the " << pair_name(R.sizes[weak->s], R.sizes[weak->b])
       << " curves cross at " << fmt(weak->root[0]) << ", but the disordered side above it is not resolved ("
       << fmt(weak->score, 2) << " sigma < " << opt.min_significance << "): extend the range upwards or run longer";
  } else if (neg && !pos && weak) {
    os << "U4 falls with L (disordered) at high temperature, and the " << pair_name(R.sizes[weak->s], R.sizes[weak->b])
       << " curves cross at " << fmt(weak->root[0]) << ", but the ordered side below it is not resolved ("
       << fmt(weak->score, 2) << " sigma < " << opt.min_significance << "): extend the range downwards or run longer";
  } else if (pos && !neg) {
    os << "U4 grows with L at every temperature (ordered phase throughout); the transition lies above the range";
  } else if (neg && !pos) {
    os << "U4 falls with L at every temperature (disordered phase throughout); the transition lies below the range";
  } else if (pos && neg) {
    os << "U4 differences between sizes change sign, but never from ordered (U4 growing with L) below to "
          "disordered above with significance " << opt.min_significance << " sigma on both sides";
  } else {
    double lo = INFINITY, hi = -INFINITY;
    for (std::size_t l = 0; l < R.sizes.size(); ++l)
      for (std::size_t t = 0; t < R.T.size(); ++t)
        if (std::isfinite(R.u4[0][l][t])) { lo = std::min(lo, R.u4[0][l][t]); hi = std::max(hi, R.u4[0][l][t]); }
    // Ordered: U4 → 2/3 for any order parameter; disordered: U4 → 0 (Ising), 1/3 (XY), 4/9
    // (Heisenberg), all below 1/2.
    if (lo >= 0.6)
      os << "U4 = " << fmt(lo, 3) << "-" << fmt(hi, 3)
         << " (near 2/3) with no significant size dependence: ordered phase throughout; the transition lies above the range";
    else if (hi <= 0.5)
      os << "U4 = " << fmt(lo, 3) << "-" << fmt(hi, 3)
         << " with no significant size dependence: disordered phase throughout; the transition lies below the range";
    else
      os << "no significant size dependence of U4 anywhere (" << opt.min_significance
         << " sigma): no transition resolved (run longer or widen the range)";
  }
  return os.str();
}

CriticalTemperature none(const std::string& why) {
  CriticalTemperature c;
  c.method = "none";
  c.notes = why;
  return c;
}

// The Binder analysis with its self-checks (≥ 2 sizes), and the χ cross-check when `with_chi`.
CriticalTemperature decide(const Replicas& R, const CriticalOptions& opt, bool with_chi, const std::string& how) {
  const std::size_t nl = R.sizes.size(), nr = R.u4.size();
  std::vector<PairResult> pairs, sig;
  for (std::size_t a = 0; a < nl; ++a)
    for (std::size_t b = a + 1; b < nl; ++b)
      if (R.sizes[a] != R.sizes[b]) pairs.push_back(analyse_pair(R, a, b, opt));
  std::ostringstream notes;
  // Deep in the ordered phase U4 = 2/3 − O(1/N) for every size, and the sign of the tiny
  // differences says more about equilibration than about order; no transition of the Ising,
  // XY or Heisenberg class has U4 above 0.63 at Tc (U* ≈ 0.47, 0.59, 0.62 in 3D; 0.61 for the
  // 2D Ising model), so U4 ≥ 0.65 everywhere means ordered throughout, whatever the signs.
  double u_lo = INFINITY, u_hi = -INFINITY;
  for (std::size_t l = 0; l < nl; ++l)
    for (double u : R.u4[0][l])
      if (std::isfinite(u)) { u_lo = std::min(u_lo, u); u_hi = std::max(u_hi, u); }
  if (u_lo >= kOrderedBinder)
    return none("no transition in the scanned range " + fmt(R.T.front()) + "-" + fmt(R.T.back()) + " K: U4 = " +
                fmt(u_lo, 4) + "-" + fmt(u_hi, 4) + " for every size and temperature (ordered limit 2/3; at a "
                "transition U4 < 0.63): ordered phase throughout; the transition lies above the range [" + how + "]");
  for (const PairResult& p : pairs) {
    notes << pair_name(R.sizes[p.s], R.sizes[p.b]) << ": ";
    if (p.significant) { sig.push_back(p); notes << format_value(p.root[0], p.err) << "; "; }
    else if (std::isfinite(p.root[0])) notes << "crossing at " << fmt(p.root[0]) << " not significant (" << fmt(p.score, 2) << " sigma); ";
    else notes << "no crossing; ";
  }
  if (sig.empty()) return none(no_transition_reason(R, pairs, opt) + " [" + notes.str() + how + "]");

  // Inverse-variance combination with weights fixed by the data, repeated per replica.
  std::vector<double> w(sig.size(), 1.0);
  bool weighted = true;
  for (std::size_t q = 0; q < sig.size(); ++q)
    if (sig[q].err > 0.0) w[q] = 1.0 / (sig[q].err * sig[q].err); else weighted = false;
  if (!weighted) std::fill(w.begin(), w.end(), 1.0);
  const double W = std::accumulate(w.begin(), w.end(), 0.0);
  std::vector<double> tc(nr, 0.0);
  for (std::size_t r = 0; r < nr; ++r)
    for (std::size_t q = 0; q < sig.size(); ++q) tc[r] += w[q] * sig[q].root[r] / W;
  const double err = spread(tc, R.jackknife);
  int failed = 0;
  for (std::size_t r = 1; r < nr; ++r) failed += !std::isfinite(tc[r]);

  // Pairs must agree with each other and none may contradict the result.
  const double tol = opt.scaling_tolerance * tc[0];
  for (std::size_t i = 0; i < sig.size(); ++i)
    for (std::size_t j = i + 1; j < sig.size(); ++j) {
      std::vector<double> d(nr);
      for (std::size_t r = 0; r < nr; ++r) d[r] = sig[i].root[r] - sig[j].root[r];
      const double e = spread(d, R.jackknife);
      if (std::abs(d[0]) > opt.min_significance * (std::isfinite(e) ? e : 0.0) + tol)
        return none("crossings inconsistent between size pairs: " + pair_name(R.sizes[sig[i].s], R.sizes[sig[i].b]) +
                    " at " + format_value(sig[i].root[0], sig[i].err) + ", " +
                    pair_name(R.sizes[sig[j].s], R.sizes[sig[j].b]) + " at " + format_value(sig[j].root[0], sig[j].err) +
                    " [" + notes.str() + how + "]");
    }
  const double margin = opt.min_significance * (std::isfinite(err) ? err : 0.0) + tol;
  for (const PairResult& p : pairs) {
    if (p.significant) continue;
    for (std::size_t i = 0; i < p.Tv.size(); ++i) {
      const bool ordered_above = p.z[i] >= opt.min_significance && p.Tv[i] > tc[0] + margin;
      const bool disordered_below = p.z[i] <= -opt.min_significance && p.Tv[i] < tc[0] - margin;
      if (ordered_above || disordered_below)
        return none("crossings inconsistent between size pairs: " + pair_name(R.sizes[p.s], R.sizes[p.b]) +
                    (ordered_above ? " is ordered (U4 grows with L) at T = " : " is disordered (U4 falls with L) at T = ") +
                    fmt(p.Tv[i]) + ", on the wrong side of the crossing " + fmt(tc[0]) + " of the other pairs [" +
                    notes.str() + how + "]");
    }
  }
  CriticalTemperature out;
  out.method = "binder-crossing";
  out.Tc = tc[0];
  out.Tc_err = err;
  notes << "combined over " << sig.size() << " pair(s), " << how;
  if (failed > 0) notes << " (" << failed << " replica(s) without a crossing left out of the error)";
  if (sig.size() < 2) notes << "; only one crossing pair: not cross-checked between pairs (use >= 3 sizes)";
  if (with_chi) notes << "; " << chi_cross_check(R, tc, err, opt);
  out.notes = notes.str();
  return out;
}

// Point values → replicas by parametric bootstrap (each point redrawn within its error).
Replicas bootstrap_replicas(const std::vector<double>& temperatures, const std::vector<int>& sizes,
                            const std::vector<std::vector<Value>>& binder,
                            const std::vector<std::vector<Value>>* chi, const CriticalOptions& opt) {
  for (const auto& b : binder) sorted_curve(temperatures, b);  // length checks
  if (chi)
    for (const auto& c : *chi) sorted_curve(temperatures, c);
  std::vector<std::size_t> torder(temperatures.size()), lorder(sizes.size());
  std::iota(torder.begin(), torder.end(), 0);
  std::iota(lorder.begin(), lorder.end(), 0);
  std::stable_sort(torder.begin(), torder.end(), [&](std::size_t a, std::size_t b) { return temperatures[a] < temperatures[b]; });
  std::stable_sort(lorder.begin(), lorder.end(), [&](std::size_t a, std::size_t b) { return sizes[a] < sizes[b]; });
  Replicas R;
  R.fit_points = opt.fit_points;
  for (std::size_t t : torder) R.T.push_back(temperatures[t]);
  for (std::size_t l : lorder) R.sizes.push_back(sizes[l]);
  const int nrep = std::max(opt.bootstrap, 10);
  Engine eng(splitmix64(opt.seed));
  boost::random::normal_distribution<double> normal(0.0, 1.0);
  const auto draw = [&](const std::vector<std::vector<Value>>& v, std::vector<std::vector<std::vector<double>>>& out) {
    out.assign(nrep + 1, std::vector<std::vector<double>>(sizes.size(), std::vector<double>(R.T.size(), kNaN)));
    for (int r = 0; r <= nrep; ++r)
      for (std::size_t l = 0; l < lorder.size(); ++l)
        for (std::size_t t = 0; t < torder.size(); ++t) {
          const Value& x = v[lorder[l]][torder[t]];
          if (!std::isfinite(x.value) || !std::isfinite(temperatures[torder[t]])) continue;
          const double e = std::isfinite(x.error) ? std::abs(x.error) : 0.0;
          out[r][l][t] = r == 0 ? x.value : x.value + e * normal(eng);
        }
  };
  draw(binder, R.u4);
  if (chi) draw(*chi, R.chi);
  return R;
}

}  // namespace

CriticalTemperature binder_crossing(const std::vector<double>& temperatures, const std::vector<int>& sizes,
                                    const std::vector<std::vector<Value>>& binder, const CriticalOptions& opt) {
  if (sizes.size() != binder.size())
    throw std::invalid_argument("binder_crossing: " + std::to_string(binder.size()) + " curves for " +
                                std::to_string(sizes.size()) + " sizes");
  if (sizes.size() < 2) return none("Binder crossing needs at least two sizes");
  const Replicas R = bootstrap_replicas(temperatures, sizes, binder, nullptr, opt);
  return decide(R, opt, false, "bootstrap " + std::to_string(R.u4.size() - 1) + " replicas");
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
  if (sizes.empty()) return none("no sizes");
  if (!susceptibility.empty() && susceptibility.size() != sizes.size())
    throw std::invalid_argument("estimate_critical_temperature: susceptibility curves do not match sizes");
  if (binder.size() != sizes.size())
    throw std::invalid_argument("estimate_critical_temperature: Binder curves do not match sizes");
  if (sizes.size() >= 2) {
    const Replicas R = bootstrap_replicas(temperatures, sizes, binder, susceptibility.empty() ? nullptr : &susceptibility, opt);
    return decide(R, opt, !susceptibility.empty(), "bootstrap " + std::to_string(R.u4.size() - 1) + " replicas");
  }
  if (susceptibility.empty()) return none("one size and no susceptibility data");
  // One size: the χ peak, only when it is interior and significant.
  const Replicas R = bootstrap_replicas(temperatures, sizes, binder, &susceptibility, opt);
  const Peak pk = analyse_peak(R, 0, opt);
  if (!pk.ok) return none("no transition in the scanned range (one size, L=" + std::to_string(sizes[0]) + "): " + pk.why);
  CriticalTemperature c = susceptibility_peak(temperatures, susceptibility[0], opt);
  c.notes = "L=" + std::to_string(sizes[0]) + ": " + c.notes;
  return c;
}

CriticalTemperature critical_temperature_from_samples(const std::vector<SizeSamples>& data, const CriticalOptions& opt,
                                                      ReweightedCurves* curves) {
  std::vector<const SizeSamples*> use;
  for (const SizeSamples& s : data) {
    bool any = false;
    for (const PointSamples& p : s.points) any = any || !p.energy.empty();
    if (any) use.push_back(&s);
  }
  if (use.empty()) return none("no stored samples to reweight");
  std::stable_sort(use.begin(), use.end(), [](const SizeSamples* a, const SizeSamples* b) { return a->size < b->size; });
  double tmin = INFINITY, tmax = -INFINITY;
  for (const SizeSamples* s : use)
    for (const PointSamples& p : s->points)
      if (!p.energy.empty()) { tmin = std::min(tmin, p.temperature); tmax = std::max(tmax, p.temperature); }
  Replicas R;
  R.jackknife = true;
  R.fit_points = 1;  // the grid is fine: linear interpolation between grid points
  const int ng = std::max(opt.grid, 3);
  for (int g = 0; g < ng; ++g) R.T.push_back(tmin + (tmax - tmin) * g / (ng - 1));
  // Every simulated temperature is a grid point too (exact values there).
  for (const SizeSamples* s : use)
    for (const PointSamples& p : s->points) R.T.push_back(p.temperature);
  std::sort(R.T.begin(), R.T.end());
  R.T.erase(std::unique(R.T.begin(), R.T.end(), [](double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(1.0, std::abs(a)); }),
            R.T.end());
  if (tmax == tmin) R.T = {tmin};
  std::vector<MultiHistogram> mh;
  int blocks = 1 << 30;
  bool short_blocks = false;
  for (const SizeSamples* s : use) {
    R.sizes.push_back(s->size);
    mh.emplace_back(*s);
    blocks = std::min(blocks, mh.back().suggested_blocks());
    short_blocks = short_blocks || mh.back().short_blocks();
  }
  const std::size_t nl = use.size(), nt = R.T.size(), nr = static_cast<std::size_t>(blocks) + 1;
  const auto grid3 = [&] { return std::vector<std::vector<std::vector<double>>>(nr, std::vector<std::vector<double>>(nl, std::vector<double>(nt, kNaN))); };
  R.u4 = grid3();
  R.chi = grid3();
  auto order = grid3(), energy = grid3(), heat = grid3();
  std::vector<std::vector<double>> neff(nl, std::vector<double>(nt, 0.0));
  for (std::size_t l = 0; l < nl; ++l) {
    const double need = mh[l].min_effective();
    std::vector<char> valid(nt, 0);
    for (std::size_t r = 0; r < nr; ++r) {
      mh[l].solve(r == 0 ? -1 : static_cast<int>(r) - 1, blocks);
      // Temperatures are independent (each sums over the samples in a fixed order): the
      // result does not depend on the thread count.
#pragma omp parallel for schedule(dynamic, 4)
      for (long tl = 0; tl < static_cast<long>(nt); ++tl) {
        const std::size_t t = static_cast<std::size_t>(tl);
        if (r > 0 && !valid[t]) continue;
        const Reweighted w = mh[l].at(R.T[t]);
        if (r == 0) {
          neff[l][t] = w.effective_samples;
          valid[t] = w.effective_samples >= need;
          if (!valid[t]) continue;
        }
        R.u4[r][l][t] = w.binder;
        R.chi[r][l][t] = w.susceptibility;
        order[r][l][t] = w.order;
        energy[r][l][t] = w.energy;
        heat[r][l][t] = w.specific_heat;
      }
    }
  }
  // Self-check of the reweighting: at each simulated temperature the combined histograms must
  // reproduce the point's own averages (⟨e⟩ and ⟨φ⟩ within 5σ, σ the jackknife error of the
  // point's own average). They do not when a point is out of equilibrium or the histograms are
  // inconsistent; that size then falls back to its points' own values (no interpolation).
  std::ostringstream check;
  for (std::size_t l = 0; l < nl; ++l) {
    using Grid3 = std::vector<std::vector<std::vector<double>>>;
    const std::vector<Grid3*> q = {&R.u4, &R.chi, &order, &energy, &heat};
    std::vector<std::vector<std::vector<double>>> direct(q.size(), std::vector<std::vector<double>>(nr, std::vector<double>(nt, kNaN)));
    double worst = 0.0, worst_T = kNaN;
    for (const PointSamples& pt : use[l]->points) {
      if (pt.energy.empty()) continue;
      const std::size_t t = static_cast<std::size_t>(
          std::min_element(R.T.begin(), R.T.end(), [&](double a, double b) { return std::abs(a - pt.temperature) < std::abs(b - pt.temperature); }) -
          R.T.begin());
      MultiHistogram one(SizeSamples{use[l]->size, use[l]->atoms, {pt}});
      std::vector<double> de(nr), dp(nr), oe(nr), op(nr);
      for (std::size_t r = 0; r < nr; ++r) {
        one.solve(r == 0 ? -1 : static_cast<int>(r) - 1, blocks);
        const Reweighted w = one.at(pt.temperature);
        const double v[] = {w.binder, w.susceptibility, w.order, w.energy, w.specific_heat};
        for (std::size_t k = 0; k < q.size(); ++k) direct[k][r][t] = v[k];
        de[r] = energy[r][l][t] - w.energy;
        dp[r] = order[r][l][t] - w.order;
        oe[r] = w.energy;
        op[r] = w.order;
      }
      for (const auto& [d, own] : {std::make_pair(&de, &oe), std::make_pair(&dp, &op)}) {
        // Measured in the error of the point's own average: a consistent reweighting is at
        // least as precise and differs by about that much; an inconsistent one also has a
        // large jackknife error, so its own spread would hide it.
        const double e = spread(*own, true);
        const double z = std::abs((*d)[0]) / std::max(e, 1e-12 * std::abs((*own)[0]) + 1e-300);
        if (std::isfinite((*d)[0]) && z > worst) { worst = z; worst_T = pt.temperature; }
        if (!std::isfinite((*d)[0])) { worst = INFINITY; worst_T = pt.temperature; }
      }
    }
    if (worst > 5.0) {
      check << "; WARNING: L=" << R.sizes[l] << ": the reweighted histograms do not reproduce the point at T = "
            << fmt(worst_T) << " (" << (std::isfinite(worst) ? fmt(worst, 3) + " sigma" : std::string("no overlap"))
            << "; out of equilibrium?): its own point values used, without interpolation";
      for (std::size_t k = 0; k < q.size(); ++k)
        for (std::size_t r = 0; r < nr; ++r) (*q[k])[r][l] = direct[k][r];
    }
  }
  std::ostringstream how;
  how << "multiple-histogram reweighting on " << nt << " temperatures, jackknife " << blocks << " blocks" << check.str();
  if (short_blocks) how << " (WARNING: blocks shorter than 20 tau_int: error bars are lower bounds; run longer)";
  if (curves) {
    ReweightedCurves& c = *curves;
    c = ReweightedCurves{};
    c.temperature = R.T;
    c.sizes = R.sizes;
    c.blocks = blocks;
    c.effective_samples = neff;
    const auto fill = [&](const std::vector<std::vector<std::vector<double>>>& v, std::vector<std::vector<Value>>& out) {
      out.assign(nl, std::vector<Value>(nt));
      for (std::size_t l = 0; l < nl; ++l)
        for (std::size_t t = 0; t < nt; ++t) {
          std::vector<double> rep(nr);
          for (std::size_t r = 0; r < nr; ++r) rep[r] = v[r][l][t];
          if (std::isfinite(rep[0])) out[l][t] = {rep[0], spread(rep, true)};
        }
    };
    fill(R.u4, c.binder);
    fill(R.chi, c.susceptibility);
    fill(order, c.order_parameter);
    fill(energy, c.energy);
    fill(heat, c.specific_heat);
  }
  if (nl >= 2) return decide(R, opt, true, how.str());
  const Peak pk = analyse_peak(R, 0, opt);
  if (!pk.ok) return none("no transition in the scanned range (one size, L=" + std::to_string(R.sizes[0]) + "): " + pk.why);
  CriticalTemperature c;
  c.method = "susceptibility-peak";
  c.Tc = pk.T[0];
  c.Tc_err = pk.err;
  c.notes = "L=" + std::to_string(R.sizes[0]) + ": peak of one size overestimates Tc (finite-size shift ~ L^(-1/nu)); " + how.str();
  return c;
}

}  // namespace spinlat
