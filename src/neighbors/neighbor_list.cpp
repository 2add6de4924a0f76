#include "spinlat/neighbors/neighbor_list.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>

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
// `order` becomes the order of the pairs `pairs` (Key::k indexes them).
void sort_pairs(const std::vector<Pair>& pairs, std::vector<Key>& order, std::vector<Key>& scratch,
                std::vector<int>& count, double cutoff) {
  const Pair* b = pairs.data();
  order.resize(pairs.size());
  for (std::size_t k = 0; k < pairs.size(); ++k) order[k] = Key{b[k].r, b[k].j, static_cast<int>(k)};
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
    sort_pairs(b, order, scratch, count, cutoff);
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

namespace {

// Atoms sorted into bins for a cell-list search within `cutoff`.
struct Binning {
  Int3 nbin, reach, lo, hi;
  std::vector<Vec3> wrapped;    // Cartesian position wrapped into the cell (periodic axes)
  std::vector<Int3> wrap_shift; // stored position = wrapped + ht · wrap_shift
  std::vector<Int3> bin_of;
  std::vector<int> bin_start;   // CSR over bins of the binned_* arrays
  std::vector<Vec3> binned_pos; // the same positions, wrap shifts and atom indices in bin order
  std::vector<Int3> binned_wrap;
  std::vector<int> binned_atom;

  Binning(const System& s, double cutoff);
  long bins() const { return static_cast<long>(bin_start.size()) - 1; }
  int bin_id(const Int3& b) const { return ((b[0] - lo[0]) * nbin[1] + (b[1] - lo[1])) * nbin[2] + (b[2] - lo[2]); }
};

Binning::Binning(const System& s, double cutoff) {
  const int n = static_cast<int>(s.size());
  const Mat3 ht = s.cell.h.transpose();
  const Mat3 hinv_t = ht.inverse();
  // Bins of at least `cutoff`/2 across along each axis (a 5³ stencil tests ~2.5× fewer
  // candidates than 3³ bins of the full cutoff); a bin range `reach` per axis covers the
  // cutoff sphere, and may exceed the bin count (then images repeat, as they should).
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
  wrap_shift.assign(n, Int3::Zero());
  bin_of.resize(n);
  lo = Int3::Zero();
  hi = nbin - Int3::Ones();
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
  // Cartesian positions of the wrapped atoms, once (the candidate loop then does no matrix
  // products; the same expression, so the same bits as computing it per candidate).
  wrapped.resize(n);
  for (int i = 0; i < n; ++i) wrapped[i] = ht * frac[i];
  // The atoms in bin order (a counting sort; within a bin, increasing index): the candidate
  // loop streams through a bin's atoms, and those of consecutive bins along the last axis,
  // side by side instead of chasing bin lists into the atom arrays.
  const long nb = static_cast<long>(nbin[0]) * nbin[1] * nbin[2];
  bin_start.assign(nb + 1, 0);
  std::vector<int> id(n);
  for (int i = 0; i < n; ++i) ++bin_start[(id[i] = bin_id(bin_of[i])) + 1];
  for (long b = 0; b < nb; ++b) bin_start[b + 1] += bin_start[b];
  std::vector<int> fill(bin_start.begin(), bin_start.end() - 1);
  binned_pos.resize(n);
  binned_wrap.resize(n);
  binned_atom.resize(n);
  for (int i = 0; i < n; ++i) {
    const int m = fill[id[i]]++;
    binned_pos[m] = wrapped[i];
    binned_wrap[m] = wrap_shift[i];
    binned_atom[m] = i;
  }
}

// A run of binned atoms [first, last) seen through one periodic image.
struct StencilRun {
  int first, last;
  Int3 img;
  Vec3 shift;
};

// The runs that cover the cutoff sphere around bin `home` (its stencil), worked out once for
// all the bin's atoms; consecutive bins of one image are merged into one run. With `half`, the
// half stencil: bin offsets o lexicographically ≥ 0 only, starting with o = 0 (run 0 then begins
// at the home bin). A pair seen through offset o from one end is seen through −o from the other,
// so every pair is met once when run 0 is taken only past the searching atom (search()).
void stencil_of(const System& s, const Binning& bins, const Mat3& ht, const Int3& home, bool half,
                std::vector<StencilRun>& out) {
  out.clear();
  const Int3& nbin = bins.nbin;
  const Int3& reach = bins.reach;
  for (int da = half ? 0 : -reach[0]; da <= reach[0]; ++da)
    for (int db = (half && da == 0) ? 0 : -reach[1]; db <= reach[1]; ++db)
      for (int dc = (half && da == 0 && db == 0) ? 0 : -reach[2]; dc <= reach[2]; ++dc) {
        Int3 b = home + Int3(da, db, dc);
        Int3 img = Int3::Zero();
        bool outside = false;
        for (int k = 0; k < 3; ++k) {
          if (s.cell.periodic[k]) {
            // floor division into image count and bin within the cell
            const int q = (b[k] >= 0) ? b[k] / nbin[k] : -((-b[k] + nbin[k] - 1) / nbin[k]);
            img[k] = q;
            b[k] -= q * nbin[k];
          } else if (b[k] < bins.lo[k] || b[k] > bins.hi[k]) {
            outside = true;
          }
        }
        if (outside) continue;
        const int id = bins.bin_id(b);
        const int first = bins.bin_start[id], last = bins.bin_start[id + 1];
        if (first == last) continue;
        if (!out.empty() && out.back().last == first && out.back().img == img) {
          out.back().last = last;  // the next bin along c, same image
          continue;
        }
        out.push_back({first, last, img, ht * img.cast<double>()});
      }
}

// One candidate within the cutoff: binned atom m, seen through stencil run q.
struct Hit {
  int m, q;
};

// The cell-list search shared by both forms. Bin by bin (in parallel over bins), for every atom
// i of the bin: the candidates within the cutoff (0 < r < cutoff) in the stencil's order, then
// found(t, i, hits, count, stencil) on thread t. With `half`, the half stencil (stencil_of),
// its home-bin run taken from the atom after i in bin order: every pair is met once, from one
// of its two atoms. What is met, and in which order, depends on the binning alone, never on the
// thread count.
template <class Found>
void search(const System& s, const Binning& bins, double cutoff, int nthreads, bool half, Found&& found) {
  const Mat3 ht = s.cell.h.transpose();
  const double cut2 = cutoff * cutoff;
  const long nb = bins.bins();
  const int nstencil = (2 * bins.reach[0] + 1) * (2 * bins.reach[1] + 1) * (2 * bins.reach[2] + 1);
#pragma omp parallel num_threads(nthreads)
  {
    const int t = omp_get_thread_num();
    std::vector<StencilRun> stencil;
    stencil.reserve(nstencil);
    std::vector<Hit> hits;
#pragma omp for schedule(static)
    for (long bi = 0; bi < nb; ++bi) {
      const int first = bins.bin_start[bi], last = bins.bin_start[bi + 1];
      if (first == last) continue;
      stencil_of(s, bins, ht, bins.bin_of[bins.binned_atom[first]], half, stencil);
      std::size_t candidates = 0;
      for (const StencilRun& st : stencil) candidates += st.last - st.first;
      hits.resize(candidates);
      for (int a = first; a < last; ++a) {
        const int i = bins.binned_atom[a];
        const Vec3 ri = bins.wrapped[i];
        // Distance test without a branch (about one candidate in four is a neighbour, so a
        // branch would mispredict often): every candidate is written, the count advances by
        // the test's outcome.
        std::size_t nhit = 0;
        for (int q = 0; q < static_cast<int>(stencil.size()); ++q) {
          const StencilRun& st = stencil[q];
          for (int m = (half && q == 0) ? a + 1 : st.first; m < st.last; ++m) {
            const Vec3 d = bins.binned_pos[m] + st.shift - ri;
            const double r2 = d.squaredNorm();
            hits[nhit] = {m, q};
            nhit += (r2 < cut2) & (r2 > 1e-20);
          }
        }
        found(t, i, hits.data(), nhit, stencil);
      }
    }
  }
}

// Pairs of scratch kept between builds: ~100 MB of full-list pairs, ~25 000 bcc Fe atoms.
constexpr std::size_t kKeepPairs = std::size_t(1) << 21;

// Per-thread pair buffers, filled atom by atom in the search's order, then copied into CSR in
// atom order. Kept between builds by the calling thread up to kKeepPairs pairs (no allocation
// and no page faults per rebuild); larger buffers are released after the build.
struct ThreadPairs {
  std::vector<std::vector<Pair>>& buffers;
  std::vector<int> owner, start, count;

  ThreadPairs(int n, int nthreads, std::size_t expect) : buffers(kept()), owner(n), start(n), count(n) {
    if (static_cast<int>(buffers.size()) < nthreads) buffers.resize(nthreads);
    for (int t = 0; t < nthreads; ++t) {
      buffers[t].clear();
      buffers[t].reserve(expect / nthreads + 64);
    }
  }
  // The caller's (a thread_local named in the parallel region would be each worker's).
  static std::vector<std::vector<Pair>>& kept() {
    static thread_local std::vector<std::vector<Pair>> b;
    return b;
  }
  void begin_atom(int t, int i) {
    owner[i] = t;
    start[i] = static_cast<int>(buffers[t].size());
  }
  void end_atom(int t, int i) { count[i] = static_cast<int>(buffers[t].size()) - start[i]; }
  const Pair* of(int i) const { return buffers[owner[i]].data() + start[i]; }
  void release_if_large(std::size_t total) {
    if (total > kKeepPairs)
      for (auto& b : buffers) std::vector<Pair>().swap(b);
  }
};

// Image slots of a half list: a direct table over the (small) range of image components, a
// map beyond it; slots numbered in order of first use.
class ImageSlots {
 public:
  ImageSlots(HalfList& h, int reach) : h_(h), reach_(reach), width_(2 * reach + 1), direct_(width_ <= 16) {
    h_.images.assign(1, Int3::Zero());
    if (direct_) {
      table_.assign(width_ * width_ * width_, -1);
      table_[(reach_ * width_ + reach_) * width_ + reach_] = 0;
    } else {
      map_[{0, 0, 0}] = 0;
    }
  }
  int operator()(const Int3& img) {
    int* slot = direct_ ? &table_[((img[0] + reach_) * width_ + img[1] + reach_) * width_ + img[2] + reach_]
                        : &map_.emplace(std::array<int, 3>{img[0], img[1], img[2]}, -1).first->second;
    if (*slot < 0) {
      *slot = static_cast<int>(h_.images.size());
      h_.images.push_back(img);
    }
    return *slot;
  }

 private:
  HalfList& h_;
  int reach_, width_;
  bool direct_;
  std::vector<int> table_;
  std::map<std::array<int, 3>, int> map_;
};

bool positive(const Int3& n) {
  for (int k = 0; k < 3; ++k)
    if (n[k] != 0) return n[k] > 0;
  return false;
}

// Expected pairs (both ends) with some margin, for uniform density.
std::size_t expected_pairs(const System& s, double cutoff) {
  return static_cast<std::size_t>(1.3 * s.size() * (4.0 / 3.0) * 3.14159265358979 * cutoff * cutoff * cutoff /
                                  s.cell.volume()) + 8 * s.size() + 64;
}

void build_full(const System& s, double cutoff, const Binning& bins, int nthreads, NeighborList& list) {
  const int n = static_cast<int>(s.size());
  // Each thread appends its atoms' pairs, already sorted, to its own buffer: sorted right
  // after the search, while an atom's pairs are in L1, and copied once (into CSR).
  ThreadPairs found(n, nthreads, expected_pairs(s, cutoff));
  std::vector<std::vector<Pair>> mine(nthreads);
  std::vector<std::vector<Key>> order(nthreads), scratch(nthreads);
  std::vector<std::vector<int>> histogram(nthreads);
  search(s, bins, cutoff, nthreads, false,
         [&](int t, int i, const Hit* hits, std::size_t nhit, const std::vector<StencilRun>& stencil) {
           const Vec3 ri = bins.wrapped[i];
           const Int3 wrap_i = bins.wrap_shift[i];
           std::vector<Pair>& p = mine[t];
           p.resize(nhit);
           for (std::size_t h = 0; h < nhit; ++h) {
             const int m = hits[h].m;
             const StencilRun& st = stencil[hits[h].q];
             const Vec3 d = bins.binned_pos[m] + st.shift - ri;
             // image relative to the stored positions: r_j(stored) = ht*frac_j + ht*wrap_j
             p[h] = Pair{bins.binned_atom[m], st.img + wrap_i - bins.binned_wrap[m], d, std::sqrt(d.squaredNorm())};
           }
           std::vector<Key>& o = order[t];
           sort_pairs(p, o, scratch[t], histogram[t], cutoff);
           found.begin_atom(t, i);
           for (const Key& key : o) found.buffers[t].push_back(p[key.k]);
           found.end_atom(t, i);
         });
  list.offset.resize(n + 1);
  list.offset[0] = 0;
  for (int i = 0; i < n; ++i) list.offset[i + 1] = list.offset[i] + found.count[i];
  const std::size_t total = list.offset.back();
  list.index.resize(total);
  list.image.resize(total);
  list.displacement.resize(total);
  list.distance.resize(total);
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int i = 0; i < n; ++i) {
    const Pair* b = found.of(i);
    for (int k = 0, o = list.offset[i]; k < found.count[i]; ++k, ++o) {
      list.index[o] = b[k].j;
      list.image[o] = b[k].n;
      list.displacement[o] = b[k].d;
      list.distance[o] = b[k].r;
    }
  }
  found.release_if_large(total);
}

// A pair as the half search meets it: owner (the larger atom), partner, and the stencil image
// as seen from the owner (the image between the wrapped positions).
struct Met {
  int owner, partner;
  Int3 img;
};

// build_half's arrays, kept between builds by the calling thread (no page faults per rebuild)
// up to kKeepPairs pairs.
struct HalfScratch {
  std::vector<std::vector<Met>> met;  // per thread, in the search's order
  std::vector<Met> grouped;           // by owner
  std::vector<Int3> image;            // per pair, in the list's order
  std::vector<int> fill;
};

// The half form straight from the cell lists, with the half stencil (each pair met once, as
// LAMMPS's half/bin/newton lists: half the candidates of the full search), a pair stored in
// 8 bytes (partner, image slot) instead of the full list's 48 per entry twice. The list is
// make_half_list's of the full list, to the bit (HalfList.DirectBuildEqualsHalfOfFullList):
// every pair goes to its larger atom, its distance is computed from that atom's side with the
// full search's expression, and each atom's pairs are sorted as the full list sorts them; image
// slots are numbered as make_half_list numbers them. So a pair term gives the same bits whether
// or not another term needs the full list, and its table lookups walk each atom's pairs by
// increasing distance (EAM's spline tables: in random order the EAM step took 30 % longer).
void build_half(const System& s, double cutoff, const Binning& bins, int nthreads, HalfList& h) {
  const int n = static_cast<int>(s.size());
  const Mat3 ht = s.cell.h.transpose();
  static thread_local HalfScratch kept;
  HalfScratch& w = kept;  // the caller's (a thread_local named in a parallel region is each worker's)
  if (static_cast<int>(w.met.size()) < nthreads) w.met.resize(nthreads);
  for (int t = 0; t < nthreads; ++t) {
    w.met[t].clear();
    w.met[t].reserve(expected_pairs(s, cutoff) / 2 / nthreads + 64);
  }
  std::vector<std::vector<Met>>& met = w.met;  // the first nthreads lists (the rest are stale)
  search(s, bins, cutoff, nthreads, true,
         [&](int t, int i, const Hit* hits, std::size_t nhit, const std::vector<StencilRun>& stencil) {
           for (std::size_t k = 0; k < nhit; ++k) {
             const int j = bins.binned_atom[hits[k].m];
             const Int3& img = stencil[hits[k].q].img;
             if (j < i) met[t].push_back({i, j, img});
             else if (j > i) met[t].push_back({j, i, -img});
             else met[t].push_back({i, i, positive(img) ? img : Int3(-img)});  // a self-image: the positive one
           }
         });
  // Group by owner (a counting sort; the order within an owner is settled by the sort below).
  std::vector<int>& offset = h.own_offset;
  offset.assign(n + 1, 0);
  for (int t = 0; t < nthreads; ++t)
    for (const Met& m : met[t]) ++offset[m.owner + 1];
  for (int i = 0; i < n; ++i) offset[i + 1] += offset[i];
  const std::size_t total = offset[n];
  std::vector<Met>& grouped = w.grouped;
  grouped.resize(total);
  w.fill.assign(offset.begin(), offset.end() - 1);
  for (int t = 0; t < nthreads; ++t)
    for (const Met& m : met[t]) grouped[w.fill[m.owner]++] = m;
  // Per owner: the distance from its side (the full search's expression: wrapped partner +
  // stencil shift − wrapped owner), the image between stored positions, and the full list's
  // order.
  std::vector<Int3>& image = w.image;
  image.resize(total);
  h.partner.resize(total);
  std::vector<int> reach(nthreads, 0);
#pragma omp parallel num_threads(nthreads)
  {
    const int t = omp_get_thread_num();
    std::vector<Pair> c;
    std::vector<Key> order, scratch;
    std::vector<int> histogram;
#pragma omp for schedule(static)
    for (int i = 0; i < n; ++i) {
      c.clear();
      const Vec3 ri = bins.wrapped[i];
      for (int p = offset[i]; p < offset[i + 1]; ++p) {
        const Met& m = grouped[p];
        const Vec3 d = bins.wrapped[m.partner] + ht * m.img.cast<double>() - ri;
        c.push_back({m.partner, m.img + bins.wrap_shift[i] - bins.wrap_shift[m.partner], d, std::sqrt(d.squaredNorm())});
        reach[t] = std::max(reach[t], c.back().n.cwiseAbs().maxCoeff());
      }
      sort_pairs(c, order, scratch, histogram, cutoff);
      int p = offset[i];
      for (const Key& key : order) {
        h.partner[p] = c[key.k].j;
        image[p++] = c[key.k].n;
      }
    }
  }
  // Slots numbered in atom order, as make_half_list does.
  h.image_slot.resize(total);
  ImageSlots slot(h, *std::max_element(reach.begin(), reach.end()));
  for (std::size_t p = 0; p < total; ++p) h.image_slot[p] = slot(image[p]);
  if (total > kKeepPairs) w = HalfScratch();
}

}  // namespace

void NeighborList::require_full(std::size_t n, const char* who) const {
  if (!full || atoms() != n)
    throw std::logic_error(std::string(who) + ": needs the full neighbour list of " + std::to_string(n) +
                           " atoms, got " + (full ? "one of " + std::to_string(atoms()) + " atoms" : "a half list only"));
}

NeighborList build_neighbor_list(const System& s, double cutoff, NeighborForms forms) {
  NeighborList list;
  build_neighbor_list(s, cutoff, list, forms);
  return list;
}

void build_neighbor_list(const System& s, double cutoff, NeighborList& list, NeighborForms forms) {
  check_cell(s);
  if (!(cutoff > 0.0)) throw InputError("neighbour cutoff must be positive");
  const int n = static_cast<int>(s.size());
  const Binning bins(s, cutoff);
  const int nthreads = n >= 512 ? omp_get_max_threads() : 1;
  list.cutoff = cutoff;
  list.full = forms.full;
  if (forms.full) {
    build_full(s, cutoff, bins, nthreads, list);
  } else {
    // No full pairs: offset all zero, so code that walks the full list sees none (and code
    // that needs them checks list.full).
    list.offset.assign(n + 1, 0);
    list.index.clear();
    list.image.clear();
    list.displacement.clear();
    list.distance.clear();
  }
  if (!forms.half) {
    list.half = HalfList();
  } else if (forms.full) {
    make_half_list(list, list.half);
  } else {
    build_half(s, cutoff, bins, nthreads, list.half);
  }
}

HalfList make_half_list(const NeighborList& full) {
  HalfList h;
  make_half_list(full, h);
  return h;
}

void make_half_list(const NeighborList& full, HalfList& h) {
  const int n = static_cast<int>(full.atoms());
  h.own_offset.assign(n + 1, 0);
  int reach = 0;
  for (const Int3& img : full.image) reach = std::max(reach, img.cwiseAbs().maxCoeff());
  ImageSlots slot(h, reach);
  // The arrays keep their storage from the last bind: no page faults per list rebuild.
  h.partner.clear();
  h.image_slot.clear();
  h.partner.reserve(full.pairs() / 2 + 1);
  h.image_slot.reserve(full.pairs() / 2 + 1);
  for (int i = 0; i < n; ++i) {
    for (int k = full.begin(i); k < full.end(i); ++k) {
      const int j = full.index[k];
      const Int3& img = full.image[k];
      if (j > i || (j == i && !positive(img))) continue;
      h.image_slot.push_back(slot(img));
      h.partner.push_back(j);
    }
    h.own_offset[i + 1] = static_cast<int>(h.partner.size());
  }
}

void HalfList::shifts(const System& s, std::vector<Vec3>& out) const {
  const Mat3 ht = s.cell.h.transpose();
  out.resize(images.size());
  out[0] = Vec3::Zero();
  for (std::size_t k = 1; k < images.size(); ++k) out[k] = ht * images[k].cast<double>();
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
