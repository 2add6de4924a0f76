#include "spinlat/neighbors/half_list.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <map>

namespace spinlat {

namespace {
bool positive(const Int3& n) {
  for (int k = 0; k < 3; ++k)
    if (n[k] != 0) return n[k] > 0;
  return false;
}
}  // namespace

HalfList make_half_list(const NeighborList& full) {
  HalfList h;
  make_half_list(full, h);
  return h;
}

void make_half_list(const NeighborList& full, HalfList& h) {
  const int n = static_cast<int>(full.atoms());
  h.own_offset.assign(n + 1, 0);
  h.images.assign(1, Int3::Zero());
  // Image slots: a direct table over the (small) range of image components, a map beyond it.
  int reach = 0;
  for (const Int3& img : full.image) reach = std::max(reach, img.cwiseAbs().maxCoeff());
  const int width = 2 * reach + 1;
  const bool direct = width <= 16;
  std::vector<int> table(direct ? width * width * width : 0, -1);
  if (direct) table[(reach * width + reach) * width + reach] = 0;
  std::map<std::array<int, 3>, int> slot_of{{{0, 0, 0}, 0}};
  const auto slot = [&](const Int3& img) {
    int* s = nullptr;
    if (direct) {
      s = &table[((img[0] + reach) * width + img[1] + reach) * width + img[2] + reach];
    } else {
      s = &slot_of.emplace(std::array<int, 3>{img[0], img[1], img[2]}, -1).first->second;
    }
    if (*s < 0) {
      *s = static_cast<int>(h.images.size());
      h.images.push_back(img);
    }
    return *s;
  };
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

std::pair<int, int> balanced_range(const std::vector<int>& offset, int overhead, int t, int T) {
  const int n = offset.empty() ? 0 : static_cast<int>(offset.size()) - 1;
  if (n == 0) return {0, 0};
  const long long total = offset[n] + static_cast<long long>(overhead) * n;
  // First atom whose cumulative work reaches the share boundary (the work is nondecreasing in i).
  const auto start = [&](int k) {
    if (k >= T) return n;
    const long long target = total * k / T;
    int lo = 0, hi = n;
    while (lo < hi) {
      const int mid = lo + (hi - lo) / 2;
      if (offset[mid] + static_cast<long long>(overhead) * mid < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return {start(t), start(t + 1)};
}

void HalfList::shifts(const System& s, std::vector<Vec3>& out) const {
  const Mat3 ht = s.cell.h.transpose();
  out.resize(images.size());
  out[0] = Vec3::Zero();
  for (std::size_t k = 1; k < images.size(); ++k) out[k] = ht * images[k].cast<double>();
}

}  // namespace spinlat
