#pragma once
// Seeded random-number streams.
//
// Every stochastic decision draws from an engine keyed by (seed, purpose, index), where the
// index is a fixed block of sites, a replica, or a temperature, never a thread. A run's result
// therefore depends on its seed alone, not on the thread count, and the engines' states are
// what a checkpoint stores to continue bit for bit.
//
// Engine: Boost.Random's 64-bit Mersenne Twister (mt19937_64), seeded with one 64-bit word
// derived from (seed, purpose, index) by the SplitMix64 finaliser (Steele, Lea & Flood,
// OOPSLA 2014), which decorrelates neighbouring keys.
#include <boost/random/mersenne_twister.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace spinlat {

using Engine = boost::random::mt19937_64;

/// What a stream is for; part of its key so that two purposes never share numbers.
enum class StreamPurpose : std::uint64_t {
  initial_state = 1,   ///< random spins, initial velocities
  metropolis = 2,      ///< Monte Carlo moves and acceptance
  cluster = 3,         ///< Wolff cluster updates
  replica_exchange = 4,///< parallel-tempering swaps
  spin_noise = 5,      ///< stochastic LLG thermal field
  lattice_noise = 6,   ///< Langevin lattice bath
  longitudinal = 7,    ///< longitudinal moment moves and noise
  training = 8,        ///< learned-potential training (shuffles, splits, initialisation)
  data_generation = 9,
  spin_mapping = 10,   ///< configurations sampled by `spinlat map`
};

/// SplitMix64 finaliser: a bijective 64-bit mix.
std::uint64_t splitmix64(std::uint64_t x);
/// Seed for the engine keyed by (seed, purpose, index).
std::uint64_t derive_seed(std::uint64_t seed, StreamPurpose purpose, std::uint64_t index);

/// A set of independent engines, one per index (site block, replica, ...).
class StreamSet {
 public:
  StreamSet() = default;
  StreamSet(std::uint64_t seed, StreamPurpose purpose, std::size_t count);
  std::size_t size() const { return engines_.size(); }
  Engine& operator[](std::size_t k) { return engines_[k]; }
  /// Text form of every engine's state (checkpoints); load() restores it exactly.
  std::string save() const;
  void load(const std::string& state);

 private:
  std::vector<Engine> engines_;
};

/// Uniform double in [0, 1) from 53 random bits.
inline double uniform01(Engine& e) { return static_cast<double>(e() >> 11) * 0x1.0p-53; }

/// Fixed partition of `n` items into blocks of `block` consecutive items; the unit of
/// randomness and of parallel work that keeps results independent of the thread count.
struct Blocks {
  std::size_t n = 0, block = 1024;
  std::size_t count() const { return (n + block - 1) / block; }
  std::size_t begin(std::size_t b) const { return b * block; }
  std::size_t end(std::size_t b) const { return std::min(n, (b + 1) * block); }
};

}  // namespace spinlat
