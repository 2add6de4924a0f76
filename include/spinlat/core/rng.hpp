#pragma once
// Seeded random-number streams.
//
// Every stochastic decision draws from an engine keyed by (seed, purpose, owner, replica, block):
// the owner is the stage or sweep point whose driver draws, the replica a parallel-tempering
// copy, the block a fixed range of sites, never a thread. stream_seed() is the one place these
// keys are composed, so two drivers of one run never share numbers (tests/test_core.cpp,
// tests/test_drivers.cpp). A run's result depends on its seed alone, not on the thread count,
// and the engines' states are what a checkpoint stores to continue bit for bit.
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
  delayed_acceptance = 11,  ///< surrogate-driven Monte Carlo: inner moves and outer acceptance
};

/// Whose streams: every driver of a run has its own (owner, index).
enum class StreamOwner : std::uint64_t {
  run = 0,           ///< a driver used on its own (tests, benchmarks, the library API)
  stage = 1,         ///< [[stage]] number `index`
  sweep_point = 2,   ///< [sweep] point `index` = size index × temperatures + temperature index
  ground_state = 3,  ///< the sweep's zero-temperature quench of size index `index`
};

/// The identity of one driver's random streams; engines are then keyed by purpose and block.
/// Converts from a bare seed (owner `run`), which is how tests and benchmarks build drivers.
struct StreamKey {
  std::uint64_t seed = 1;
  StreamOwner owner = StreamOwner::run;
  std::uint64_t index = 0;    ///< stage or sweep-point number
  std::uint64_t replica = 0;  ///< parallel-tempering replica (temperature index), else 0
  StreamKey() = default;
  StreamKey(std::uint64_t s) : seed(s) {}  // NOLINT: implicit on purpose (see above)
  StreamKey(std::uint64_t s, StreamOwner o, std::uint64_t i, std::uint64_t r = 0)
      : seed(s), owner(o), index(i), replica(r) {}
  StreamKey with_replica(std::uint64_t r) const { return StreamKey(seed, owner, index, r); }
  bool operator==(const StreamKey& o) const {
    return seed == o.seed && owner == o.owner && index == o.index && replica == o.replica;
  }
};

/// SplitMix64 finaliser: a bijective 64-bit mix.
std::uint64_t splitmix64(std::uint64_t x);
/// Seed for the engine keyed by (seed, purpose, index): the primitive under stream_seed (and
/// the key of run-wide streams such as initial spins and training shuffles).
std::uint64_t derive_seed(std::uint64_t seed, StreamPurpose purpose, std::uint64_t index);

/// The one function that composes a driver's engine seeds: engine `block` of `purpose` for the
/// driver `key`. Owner, index and replica are mixed into the seed first (SplitMix64 chain), so
/// stage 0 and sweep point 0, or replica 1 of one point and replica 0 of the next, differ; a bare
/// seed (owner run, index 0, replica 0) keys derive_seed(seed, purpose, block) directly.
std::uint64_t stream_seed(const StreamKey& key, StreamPurpose purpose, std::uint64_t block);
/// One engine of `purpose` for `key` (block 0 unless given).
inline Engine stream_engine(const StreamKey& key, StreamPurpose purpose, std::uint64_t block = 0) {
  return Engine(stream_seed(key, purpose, block));
}

/// A set of independent engines, one per index (site block, replica, ...).
class StreamSet {
 public:
  StreamSet() = default;
  /// Engines 0..count-1 of `purpose` for the driver `key` (stream_seed(key, purpose, k)).
  StreamSet(const StreamKey& key, StreamPurpose purpose, std::size_t count);
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
