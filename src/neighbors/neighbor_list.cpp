#include "spinlat/neighbors/neighbor_list.hpp"

#include <algorithm>
#include <cmath>

#include <omp.h>

#include "spinlat/core/error.hpp"

namespace spinlat {
namespace {

struct Pair {
  int j;
  Int3 n;
  Vec3 d;
  double r;
};

// Order of one atom's pairs: by distance, and pairs within 1e-12 Å of each other (the same
// shell of a perfect crystal, reached by different arithmetic) by partner, then image. The
// result does not depend on the order in which the pairs were found.
struct Key {
  double r;
  int j, k;
};
void sort_pairs(std::vector<Key>& order, std::vector<Key>& scratch, std::vector<int>& count, const Pair* b,
                double cutoff) {
  const auto full = [b](const Key& x, const Key& y) {
    if (std::abs(x.r - y.r) > 1e-12) return x.r < y.r;
    if (x.j != y.j) return x.j < y.j;
    const Int3& m = b[x.k].n;
    const Int3& l = b[y.k].n;
    return std::lexicographical_compare(m.data(), m.data() + 3, l.data(), l.data() + 3);
  };
  // By distance alone first, then each run of near-equal distances by the full order: the
  // same result as sorting by the full order, since near-equal runs are far narrower than the
  // gaps between shells. The sort by distance: a counting sort into ~2 buckets per pair
  // (0 ≤ r < cutoff), then an insertion sort that only has to swap within buckets. A
  // comparison sort of ~80 random distances mispredicts about every other branch; this was
  // a third of the cost of a neighbour-list build (2000 bcc Fe atoms).
  const std::size_t n = order.size();
  const int nb = static_cast<int>(2 * n + 1);
  const double scale = nb / cutoff;
  count.assign(nb + 1, 0);
  const auto bucket = [&](double r) { return std::min(nb - 1, std::max(0, static_cast<int>(r * scale))); };
  for (const Key& key : order) ++count[bucket(key.r) + 1];
  for (int q = 0; q < nb; ++q) count[q + 1] += count[q];
  scratch.resize(n);
  for (const Key& key : order) scratch[count[bucket(key.r)]++] = key;
  for (std::size_t a = 1; a < n; ++a) {
    const Key key = scratch[a];
    std::size_t e = a;
    for (; e > 0 && key.r < scratch[e - 1].r; --e) scratch[e] = scratch[e - 1];
    scratch[e] = key;
  }
  order.swap(scratch);
  for (std::size_t a = 0; a + 1 < n;) {
    std::size_t e = a + 1;
    while (e < n && order[e].r - order[e - 1].r <= 1e-12) ++e;
    if (e - a > 1) std::sort(order.begin() + a, order.begin() + e, full);
    a = e;
  }
}

// Finalises per-atom pair buckets into CSR, each atom's neighbours sorted by (r, j, image) so
// the order is independent of how they were found.
NeighborList to_csr(std::vector<std::vector<Pair>>& buckets, double cutoff) {
  NeighborList list;
  list.cutoff = cutoff;
  list.offset.assign(buckets.size() + 1, 0);
  for (std::size_t i = 0; i < buckets.size(); ++i)
    list.offset[i + 1] = list.offset[i] + static_cast<int>(buckets[i].size());
  const std::size_t total = list.offset.back();
  list.index.resize(total);
  list.image.resize(total);
  list.displacement.resize(total);
  list.distance.resize(total);
  const int n = static_cast<int>(buckets.size());
  std::vector<Key> order, scratch;
  std::vector<int> count;
  for (int i = 0; i < n; ++i) {
    const auto& b = buckets[i];
    order.resize(b.size());
    for (std::size_t k = 0; k < b.size(); ++k) order[k] = Key{b[k].r, b[k].j, static_cast<int>(k)};
    sort_pairs(order, scratch, count, b.data(), cutoff);
    std::size_t out = list.offset[i];
    for (const Key& key : order) {
      const Pair& p = b[key.k];
      list.index[out] = p.j;
      list.image[out] = p.n;
      list.displacement[out] = p.d;
      list.distance[out] = p.r;
      ++out;
    }
  }
  return list;
}

void check_cell(const System& s) {
  if (!(s.cell.volume() > 1e-10))
    throw InputError("cell is degenerate (volume " + std::to_string(s.cell.volume()) +
                     " Å³): lattice vectors must be linearly independent");
}

}  // namespace

NeighborList build_neighbor_list_reference(const System& s, double cutoff) {
  check_cell(s);
  const int n = static_cast<int>(s.size());
  Int3 reach;
  for (int k = 0; k < 3; ++k)
    reach[k] = s.cell.periodic[k] ? static_cast<int>(std::ceil(cutoff / s.cell.plane_spacing(k))) + 1 : 0;
  std::vector<std::vector<Pair>> buckets(n);
  const Mat3 ht = s.cell.h.transpose();
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int a = -reach[0]; a <= reach[0]; ++a)
        for (int b = -reach[1]; b <= reach[1]; ++b)
          for (int c = -reach[2]; c <= reach[2]; ++c) {
            const Int3 img(a, b, c);
            const Vec3 d = s.position[j] + ht * img.cast<double>() - s.position[i];
            const double r = d.norm();
            if (r < cutoff && r > 1e-10) buckets[i].push_back({j, img, d, r});
          }
  return to_csr(buckets, cutoff);
}

NeighborList build_neighbor_list(const System& s, double cutoff) {
  NeighborList list;
  build_neighbor_list(s, cutoff, list);
  return list;
}

void build_neighbor_list(const System& s, double cutoff, NeighborList& list) {
  check_cell(s);
  if (!(cutoff > 0.0)) throw InputError("neighbour cutoff must be positive");
  const int n = static_cast<int>(s.size());
  const Mat3 ht = s.cell.h.transpose();
  const Mat3 hinv_t = ht.inverse();

  // Bins of at least `cutoff`/2 across along each axis (a 5³ stencil tests ~2.5× fewer
  // candidates than 3³ bins of the full cutoff); a bin range `reach` per axis covers the
  // cutoff sphere, and may exceed the bin count (then images repeat, as they should).
  Int3 nbin, reach;
  for (int k = 0; k < 3; ++k)
    nbin[k] = std::max(1, static_cast<int>(std::floor(2.0 * s.cell.plane_spacing(k) / cutoff)));
  // A cutoff far below the atomic spacing (the 0.5 Å overlap check) would make far more bins
  // than atoms: 7e8 empty bins, 17 GB, for 10⁶ atoms. At most about two bins per atom: wider bins
  // only add candidates that fail the distance test, and the list is the same.
  const double max_bins = std::max(27.0, 2.0 * n);
  const double bins_wanted = static_cast<double>(nbin[0]) * nbin[1] * nbin[2];
  if (bins_wanted > max_bins) {
    const double shrink = std::cbrt(bins_wanted / max_bins);
    for (int k = 0; k < 3; ++k) nbin[k] = std::max(1, static_cast<int>(std::floor(nbin[k] / shrink)));
  }
  for (int k = 0; k < 3; ++k)
    reach[k] = static_cast<int>(std::ceil(cutoff * nbin[k] / s.cell.plane_spacing(k)));
  // Fractional coordinates, wrapped into [0,1) along periodic axes; the wrap shift is kept
  // so that image vectors refer to the stored (unwrapped) positions.
  std::vector<Vec3> frac(n);
  std::vector<Int3> wrap_shift(n, Int3::Zero());
  std::vector<Int3> bin_of(n);
  Int3 lo = Int3::Zero(), hi = nbin - Int3::Ones();
  for (int i = 0; i < n; ++i) {
    Vec3 f = hinv_t * s.position[i];
    for (int k = 0; k < 3; ++k) {
      if (s.cell.periodic[k]) {
        const double fl = std::floor(f[k]);
        wrap_shift[i][k] = static_cast<int>(fl);
        f[k] -= fl;
        if (f[k] >= 1.0) { f[k] -= 1.0; wrap_shift[i][k] += 1; }
      }
      bin_of[i][k] = static_cast<int>(std::floor(f[k] * nbin[k]));
      if (s.cell.periodic[k]) bin_of[i][k] = std::min(std::max(bin_of[i][k], 0), nbin[k] - 1);
    }
    frac[i] = f;
  }
  // Non-periodic axes: bins may extend outside [0, nbin); shift to a compact range.
  for (int k = 0; k < 3; ++k)
    if (!s.cell.periodic[k] && n > 0) {
      int mn = bin_of[0][k], mx = bin_of[0][k];
      for (int i = 0; i < n; ++i) { mn = std::min(mn, bin_of[i][k]); mx = std::max(mx, bin_of[i][k]); }
      lo[k] = mn; hi[k] = mx;
      nbin[k] = mx - mn + 1;  // bin width (spacing / old nbin) and reach stay as computed
    }
  const auto bin_id = [&](const Int3& b) { return ((b[0] - lo[0]) * nbin[1] + (b[1] - lo[1])) * nbin[2] + (b[2] - lo[2]); };
  std::vector<std::vector<int>> bins(static_cast<std::size_t>(nbin[0]) * nbin[1] * nbin[2]);
  for (int i = 0; i < n; ++i) bins[bin_id(bin_of[i])].push_back(i);

  // Cartesian positions of the wrapped atoms, once (the candidate loop below then does no
  // matrix products; the same expression, so the same bits as computing it per candidate).
  std::vector<Vec3> wrapped(n);
  for (int i = 0; i < n; ++i) wrapped[i] = ht * frac[i];
  // The same positions, wrap shifts and atom indices in bin order (a bin's atoms, and those
  // of consecutive bins along the last axis, side by side): the candidate loop streams
  // through them instead of chasing bin lists into the atom arrays.
  std::vector<int> bin_start(bins.size() + 1, 0);
  for (std::size_t b = 0; b < bins.size(); ++b) bin_start[b + 1] = bin_start[b] + static_cast<int>(bins[b].size());
  std::vector<Vec3> binned_pos(n);
  std::vector<Int3> binned_wrap(n);
  std::vector<int> binned_atom(n);
  for (std::size_t b = 0; b < bins.size(); ++b)
    for (std::size_t q = 0; q < bins[b].size(); ++q) {
      const int i = bins[b][q], m = bin_start[b] + static_cast<int>(q);
      binned_pos[m] = wrapped[i];
      binned_wrap[m] = wrap_shift[i];
      binned_atom[m] = i;
    }
  // Each thread appends its atoms' pairs, already sorted, to its own buffer (kept between
  // builds by the calling thread up to kKeepPairs pairs: no allocation and no page faults
  // per rebuild; larger buffers, 48 bytes a pair, are released after the build); the CSR
  // arrays are then filled from the buffers in atom order. Sorted right after the search,
  // while an atom's pairs are in L1, and copied once instead of twice (per-atom buckets,
  // then CSR).
  const int nthreads = n >= 512 ? omp_get_max_threads() : 1;
  static thread_local std::vector<std::vector<Pair>> buffers;
  if (static_cast<int>(buffers.size()) < nthreads) buffers.resize(nthreads);
  std::vector<std::vector<Pair>>& flat = buffers;  // the caller's (a thread_local named in
                                                   // the parallel region would be each worker's)
  std::vector<int> owner(n), start(n), count(n);
  const double cut2 = cutoff * cutoff;
  // Expected neighbours per atom (uniform density) with some margin.
  const std::size_t expect = static_cast<std::size_t>(
      1.3 * n * (4.0 / 3.0) * 3.14159265358979 * cutoff * cutoff * cutoff / s.cell.volume()) + 8;
  // Search bin by bin: the stencil of a bin (neighbour bins, their images and shifts) is worked
  // out once for all its atoms rather than once per atom. Each candidate's arithmetic is the
  // same as per atom, and every atom's pairs are sorted, so the list does not depend on the
  // visiting order (nor on the thread count: an atom's pairs are found by one thread).
  const long nbins = static_cast<long>(bins.size());
  const int nstencil = (2 * reach[0] + 1) * (2 * reach[1] + 1) * (2 * reach[2] + 1);
#pragma omp parallel num_threads(nthreads)
  {
    const int t = omp_get_thread_num();
    std::vector<Pair>& out = flat[t];
    out.clear();
    out.reserve(expect * n / nthreads + 64);
    std::vector<Pair> mine;
    mine.reserve(expect);
    std::vector<Key> order, scratch;
    std::vector<int> histogram;
    struct Stencil {
      int first, last;  // a run of binned atoms [first, last) seen through one image
      Int3 img;
      Vec3 shift;
    };
    std::vector<Stencil> stencil;
    stencil.reserve(nstencil);
    struct Hit {
      int m, q;  // binned atom, stencil run
    };
    std::vector<Hit> hits;
#pragma omp for schedule(static)
    for (long bi = 0; bi < nbins; ++bi) {
      const std::vector<int>& here = bins[bi];
      if (here.empty()) continue;
      const Int3 home = bin_of[here.front()];
      stencil.clear();
      for (int da = -reach[0]; da <= reach[0]; ++da)
        for (int db = -reach[1]; db <= reach[1]; ++db)
          for (int dc = -reach[2]; dc <= reach[2]; ++dc) {
            Int3 b = home + Int3(da, db, dc);
            Int3 img = Int3::Zero();
            bool outside = false;
            for (int k = 0; k < 3; ++k) {
              if (s.cell.periodic[k]) {
                // floor division into image count and bin within the cell
                const int q = (b[k] >= 0) ? b[k] / nbin[k] : -((-b[k] + nbin[k] - 1) / nbin[k]);
                img[k] = q;
                b[k] -= q * nbin[k];
              } else if (b[k] < lo[k] || b[k] > hi[k]) {
                outside = true;
              }
            }
            if (outside) continue;
            const int id = bin_id(b);
            if (bin_start[id] == bin_start[id + 1]) continue;
            if (!stencil.empty() && stencil.back().last == bin_start[id] && stencil.back().img == img) {
              stencil.back().last = bin_start[id + 1];  // the next bin along c, same image
              continue;
            }
            stencil.push_back({bin_start[id], bin_start[id + 1], img, ht * img.cast<double>()});
          }
      std::size_t candidates = 0;
      for (const Stencil& st : stencil) candidates += st.last - st.first;
      for (int i : here) {
        const Vec3 ri = wrapped[i];
        mine.clear();
        const Int3 wrap_i = wrap_shift[i];
        // Distance test without a branch (about one candidate in four is a neighbour, so a
        // branch would mispredict often): every candidate is written, the count advances by
        // the test's outcome. Then the pairs of the hits, from the same expression.
        hits.resize(candidates);
        std::size_t nhit = 0;
        for (int q = 0; q < static_cast<int>(stencil.size()); ++q) {
          const Stencil& st = stencil[q];
          for (int m = st.first; m < st.last; ++m) {
            const Vec3 d = binned_pos[m] + st.shift - ri;
            const double r2 = d.squaredNorm();
            hits[nhit] = {m, q};
            nhit += (r2 < cut2) & (r2 > 1e-20);
          }
        }
        mine.resize(nhit);
        for (std::size_t h = 0; h < nhit; ++h) {
          const int m = hits[h].m;
          const Stencil& st = stencil[hits[h].q];
          const Vec3 d = binned_pos[m] + st.shift - ri;
          // image relative to the stored positions: r_j(stored) = ht*frac_j + ht*wrap_j
          mine[h] = Pair{binned_atom[m], st.img + wrap_i - binned_wrap[m], d, std::sqrt(d.squaredNorm())};
        }
        order.resize(mine.size());
        for (std::size_t k = 0; k < mine.size(); ++k) order[k] = Key{mine[k].r, mine[k].j, static_cast<int>(k)};
        sort_pairs(order, scratch, histogram, mine.data(), cutoff);
        owner[i] = t;
        start[i] = static_cast<int>(out.size());
        count[i] = static_cast<int>(order.size());
        for (const Key& key : order) out.push_back(mine[key.k]);
      }
    }
  }
  list.cutoff = cutoff;
  list.offset.resize(n + 1);
  list.offset[0] = 0;
  for (int i = 0; i < n; ++i) list.offset[i + 1] = list.offset[i] + count[i];
  const std::size_t total = list.offset.back();
  list.index.resize(total);
  list.image.resize(total);
  list.displacement.resize(total);
  list.distance.resize(total);
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int i = 0; i < n; ++i) {
    const Pair* b = flat[owner[i]].data() + start[i];
    for (int k = 0, o = list.offset[i]; k < count[i]; ++k, ++o) {
      list.index[o] = b[k].j;
      list.image[o] = b[k].n;
      list.displacement[o] = b[k].d;
      list.distance[o] = b[k].r;
    }
  }
  constexpr std::size_t kKeepPairs = std::size_t(1) << 21;  // ~100 MB, ~25 000 bcc Fe atoms
  if (total > kKeepPairs)
    for (auto& b : flat) std::vector<Pair>().swap(b);
}

std::vector<double> neighbor_shells(const NeighborList& list, double tolerance) {
  std::vector<double> d(list.distance);
  std::sort(d.begin(), d.end());
  std::vector<double> shells;
  for (double r : d)
    if (shells.empty() || r - shells.back() > tolerance) shells.push_back(r);
  return shells;
}

std::vector<int> shell_index(const NeighborList& list, const std::vector<double>& shells,
                             double tolerance) {
  std::vector<int> out(list.pairs(), -1);
  for (std::size_t k = 0; k < list.pairs(); ++k) {
    const double r = list.distance[k];
    auto it = std::lower_bound(shells.begin(), shells.end(), r - tolerance);
    if (it != shells.end() && std::abs(*it - r) <= tolerance)
      out[k] = static_cast<int>(it - shells.begin());
  }
  return out;
}

}  // namespace spinlat
