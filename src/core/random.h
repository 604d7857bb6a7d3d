#pragma once
/// Seeded random numbers that are identical on every machine, compiler and thread count.
/// (std:: distributions are implementation-defined, so they are not used for anything
/// that must be reproducible.)
#include <cstdint>
#include <vector>

namespace wtp {

/// Mixes any number of 64-bit values into one well-distributed seed (SplitMix64 chain).
/// Use it to derive independent streams: `Rng(mix_seed(seed, epoch, index))`.
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0,
                       std::uint64_t d = 0);

/// xoshiro256** generator with portable distributions. Its state can be saved and restored.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0);

  /// Next raw 64-bit value.
  std::uint64_t next();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi);
  /// Uniform integer in [lo, hi] (inclusive), unbiased (rejection sampling).
  std::int64_t integer(std::int64_t lo, std::int64_t hi);
  /// Standard normal (Box-Muller, no cached second value so the state is just `state()`).
  double normal();
  /// Normal with the given mean and standard deviation.
  double normal(double mean, double stddev) { return mean + stddev * normal(); }
  /// True with probability p.
  bool bernoulli(double p) { return uniform() < p; }

  /// Fisher-Yates shuffle driven by this generator.
  template <class T>
  void shuffle(std::vector<T>& values) {
    for (std::size_t i = values.size(); i > 1; --i) {
      auto j = static_cast<std::size_t>(integer(0, static_cast<std::int64_t>(i) - 1));
      std::swap(values[i - 1], values[j]);
    }
  }

  /// The full generator state (4 words), for checkpoints.
  std::vector<std::uint64_t> state() const;
  /// Restores a state returned by state(). Throws std::invalid_argument on a bad size.
  void set_state(const std::vector<std::uint64_t>& state);

 private:
  std::uint64_t s_[4];
};

}  // namespace wtp
