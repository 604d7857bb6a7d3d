#pragma once
/// k-means clustering (Lloyd iterations on LibTorch matrix products, multi-threaded through
/// its intra-op pool) with greedy k-means++ initialisation (scikit-learn's) and several
/// seeded restarts.
#include <cstdint>
#include <torch/torch.h>
#include <vector>

#include "core/error.h"

namespace wtp::eval {

struct KMeansOptions {
  std::int64_t clusters = 0;  ///< k; 0 = the number of distinct labels (set by the caller)
  int restarts = 3;           ///< k-means++ initialisations; the lowest inertia is kept
  /// Greedy k-means++ candidates per centre: 0 = scikit-learn's 2 + floor(ln k);
  /// 1 = the original one-draw k-means++.
  int candidates = 0;
  int max_iterations = 300;  ///< Lloyd iterations per restart
  /// Stop when the summed squared centre shift is <= tolerance * mean feature variance
  /// (scikit-learn's rule), or when no assignment changes.
  double tolerance = 1e-4;
  std::uint64_t seed = 0;  ///< seed of the k-means++ draws (restart r uses mix_seed(seed, r))
  std::int64_t block_size = 4096;  ///< points per distance block (memory ~ 4 * k * block_size B)
  /// k-means++ precomputes the N x N Gram matrix (one matrix product instead of one pass
  /// over the data per centre) when its 4 * N^2 bytes fit in this many MiB (0 = never).
  std::int64_t gram_mib = 2048;

  template <class V>
  void visit(V& v) {
    v("clusters", clusters, "k; 0 = the number of distinct labels");
    v("restarts", restarts, "k-means++ initialisations; the lowest inertia is kept");
    v("candidates", candidates, "k-means++ candidates per centre (0 = 2 + ln k, 1 = classic)");
    v("max_iterations", max_iterations, "Lloyd iterations per restart");
    v("tolerance", tolerance, "stop when centre shift^2 <= tolerance * mean feature variance");
    v("seed", seed, "seed of the k-means++ draws");
    v("block_size", block_size, "points per distance block");
    v("gram_mib", gram_mib, "k-means++ holds the N x N Gram matrix when 4 N^2 B fit (0 = never)");
  }
  void validate() const {
    require(clusters >= 0, "kmeans.clusters must be >= 0");
    require(restarts >= 1, "kmeans.restarts must be >= 1");
    require(candidates >= 0, "kmeans.candidates must be >= 0 (0 = 2 + ln k)");
    require(max_iterations >= 1, "kmeans.max_iterations must be >= 1");
    require(tolerance >= 0, "kmeans.tolerance must be >= 0");
    require(block_size >= 1, "kmeans.block_size must be >= 1");
    require(gram_mib >= 0, "kmeans.gram_mib must be >= 0");
  }
};

struct KMeansResult {
  torch::Tensor centers;      ///< [k, D] float32
  torch::Tensor assignments;  ///< [N] int64 in [0, k)
  double inertia = 0.0;       ///< sum of squared distances to the assigned centres
  int iterations = 0;         ///< Lloyd iterations of the kept restart
  int restart = 0;            ///< index of the kept restart
  bool converged = false;     ///< the kept restart met the stopping rule before max_iterations
  std::int64_t empty_cluster_fixes = 0;  ///< empty clusters re-seeded (all restarts)
  std::vector<double> restart_inertias;  ///< final inertia of every restart, in order
};

/// Candidates per k-means++ step: `candidates` if > 0, else 2 + floor(ln clusters).
int kmeans_candidates(std::int64_t clusters, int candidates);

/// Clusters the rows of `points` [N, D] (real, finite) into options.clusters clusters.
/// Initialisation: greedy k-means++ as scikit-learn's `_kmeans_plusplus` (the first centre
/// uniform; then per step kmeans_candidates() points drawn with probability proportional
/// to their squared distance to the nearest chosen centre, keeping the one that lowers
/// the summed squared distances most; Arthur & Vassilvitskii 2007 with candidates = 1),
/// drawn with wtp::Rng(mix_seed(seed, restart)); all restarts are initialised together,
/// one matrix product over the data per step. Restart r does not depend on how many
/// restarts run, nor the result on the thread count.
/// Empty clusters: after an assignment step, each empty cluster takes the point farthest
/// from its centre among clusters that keep at least one point (scikit-learn's remedy).
/// Requires: 1 <= clusters <= N. Ensures: same seed and input = same result.
/// Memory, in bytes, for N points of dimension D, k clusters, R restarts, besides `points`
/// (when float32 and contiguous): 8 N D (a double copy for the centre sums) + 16 R N
/// (k-means++ distances) + 4 k block_size (one distance block) + 24 k D (centres), plus
/// 4 N^2 during k-means++ when the Gram matrix is used (see gram_mib).
KMeansResult kmeans(const torch::Tensor& points, const KMeansOptions& options);

}  // namespace wtp::eval
