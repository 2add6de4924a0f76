#include "spinlat/core/rng.hpp"

#include <sstream>
#include <stdexcept>

namespace spinlat {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

std::uint64_t derive_seed(std::uint64_t seed, StreamPurpose purpose, std::uint64_t index) {
  std::uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ static_cast<std::uint64_t>(purpose));
  return splitmix64(h ^ (index * 0xD1B54A32D192ED03ull));
}

std::uint64_t stream_seed(const StreamKey& key, StreamPurpose purpose, std::uint64_t block) {
  std::uint64_t s = key.seed;
  if (key.owner != StreamOwner::run || key.index != 0 || key.replica != 0) {
    // Distinct odd multipliers keep (owner, index, replica) words apart before each mix.
    s = splitmix64(s ^ (static_cast<std::uint64_t>(key.owner) * 0x9E3779B97F4A7C15ull));
    s = splitmix64(s ^ ((key.index + 1) * 0xC2B2AE3D27D4EB4Full));
    s = splitmix64(s ^ ((key.replica + 1) * 0x165667B19E3779F9ull));
  }
  return derive_seed(s, purpose, block);
}

StreamSet::StreamSet(const StreamKey& key, StreamPurpose purpose, std::size_t count) {
  engines_.reserve(count);
  for (std::size_t k = 0; k < count; ++k) engines_.emplace_back(stream_seed(key, purpose, k));
}

std::string StreamSet::save() const {
  std::ostringstream os;
  os << engines_.size() << '\n';
  for (const auto& e : engines_) os << e << '\n';
  return os.str();
}

void StreamSet::load(const std::string& state) {
  std::istringstream is(state);
  std::size_t n = 0;
  if (!(is >> n)) throw std::runtime_error("random-number state: cannot read engine count");
  std::vector<Engine> engines(n);
  for (auto& e : engines)
    if (!(is >> e)) throw std::runtime_error("random-number state: truncated engine state");
  engines_ = std::move(engines);
}

}  // namespace spinlat
