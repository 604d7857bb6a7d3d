#pragma once
/// 1:N and 1:1 face matching against every enrolled template, in memory.
///
/// Distances are Euclidean distances between L2-normalised embeddings, the measure the
/// embedding archive's verification threshold is defined on (meta.json verification:
/// "same person iff the Euclidean distance between the two embeddings <= threshold").
/// A user's distance to a query is the smallest distance over the user's templates.
///
/// Only templates of the current model (same model_md5) are ever compared; a user whose
/// templates all come from another model is "stale" and must re-enrol.
///
/// Thread safety: every member may be called concurrently; a search works on a snapshot of
/// the gallery, which refresh() swaps when the store's templates_version() changed.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <torch/torch.h>
#include <unordered_set>
#include <vector>

#include "serve/store.h"

namespace wtp::serve {

/// The templates of the current model, grouped by user, as one matrix.
struct Gallery {
  torch::Tensor templates;           ///< float [T, D], L2-normalised rows, grouped by user
  std::vector<std::int64_t> users;   ///< user ids, in the order of their row groups
  std::vector<std::int64_t> starts;  ///< first row of each user; starts.back() = T
  std::unordered_set<std::int64_t> stale_users;  ///< users with only other-model templates
  std::int64_t version = -1;                     ///< Store::templates_version() it reflects
};

/// Builds a gallery from `templates` (any order): those with `model_md5` and dimension
/// `dim`, rows L2-normalised and grouped by user in increasing user id.
Gallery build_gallery(const std::vector<Template>& templates, const std::string& model_md5,
                      std::int64_t dim, std::int64_t version = -1);

/// Every query's distance to every user of a gallery: float [N, U] (columns as
/// gallery.users). One matrix product: d^2 = 2 - 2 q.t for unit vectors q, t.
/// Requires queries float [N, D] with L2-normalised rows and D = the gallery's.
torch::Tensor user_distances(const Gallery& gallery, const torch::Tensor& queries);

/// The column of user `user` in user_distances() (-1 when the gallery has no template of
/// that user). Requires gallery.users in increasing order, as build_gallery() makes them.
std::int64_t user_column(const Gallery& gallery, std::int64_t user);

/// The outcome of matching one query.
struct Match {
  std::optional<std::int64_t> user;  ///< the accepted user (empty = not accepted)
  std::int64_t best_user = -1;       ///< the nearest user (-1 when the gallery is empty)
  double distance = 0.0;             ///< distance to the nearest user (inf when empty)
  double second_distance = 0.0;      ///< distance to the second nearest user (inf if none)
};

/// Accepts the nearest user of row `row` of user_distances() when its distance is <=
/// `threshold` and the second-nearest user is at least `margin` farther.
Match best_match(const Gallery& gallery, const torch::Tensor& distances, std::int64_t row,
                 double threshold, double margin);

class Matcher {
 public:
  /// Matches with templates of `model_md5` of dimension `dim`, accepting as best_match().
  Matcher(std::string model_md5, std::int64_t dim, double threshold, double margin);

  /// Reloads the templates from `store` when its templates_version() differs from the
  /// gallery's (call before each search, so instances sharing a database see each other's
  /// enrolments). Returns the gallery to search.
  std::shared_ptr<const Gallery> refresh(Store& store);
  /// Replaces the gallery (tests, benchmarks).
  void set_gallery(Gallery gallery);
  std::shared_ptr<const Gallery> gallery() const;

  const std::string& model_md5() const { return model_md5_; }
  double threshold() const { return threshold_; }
  double margin() const { return margin_; }
  std::int64_t dim() const { return dim_; }

 private:
  std::string model_md5_;
  std::int64_t dim_;
  double threshold_, margin_;
  mutable std::mutex mutex_;  ///< guards gallery_ (the pointer, not the gallery)
  std::shared_ptr<const Gallery> gallery_;
};

}  // namespace wtp::serve
