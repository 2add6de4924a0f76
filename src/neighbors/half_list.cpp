#include "spinlat/neighbors/half_list.hpp"

namespace spinlat {

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

}  // namespace spinlat
