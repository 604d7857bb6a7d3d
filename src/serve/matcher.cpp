#include "serve/matcher.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"

namespace wtp::serve {

Gallery build_gallery(const std::vector<Template>& templates, const std::string& model_md5,
                      std::int64_t dim, std::int64_t version) {
  std::map<std::int64_t, std::vector<const Template*>> by_user;
  std::unordered_set<std::int64_t> other_model;
  for (const auto& t : templates) {
    if (t.model_md5 == model_md5 && static_cast<std::int64_t>(t.embedding.size()) == dim)
      by_user[t.user_id].push_back(&t);
    else
      other_model.insert(t.user_id);
  }
  Gallery gallery;
  gallery.version = version;
  for (auto user : other_model)
    if (!by_user.count(user)) gallery.stale_users.insert(user);
  std::int64_t rows = 0;
  for (const auto& [user, list] : by_user) rows += static_cast<std::int64_t>(list.size());
  gallery.templates = torch::empty({rows, dim}, torch::kFloat);
  float* out = gallery.templates.data_ptr<float>();
  std::int64_t row = 0;
  for (const auto& [user, list] : by_user) {
    gallery.users.push_back(user);
    gallery.starts.push_back(row);
    for (const Template* t : list) {
      std::copy(t->embedding.begin(), t->embedding.end(), out + row * dim);
      ++row;
    }
  }
  gallery.starts.push_back(row);
  if (rows > 0)
    gallery.templates = torch::nn::functional::normalize(
        gallery.templates, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1));
  return gallery;
}

torch::Tensor user_distances(const Gallery& gallery, const torch::Tensor& queries) {
  TORCH_CHECK(queries.dim() == 2 && queries.scalar_type() == torch::kFloat,
              "user_distances: queries must be float [N, D]");
  const auto n = queries.size(0);
  const auto users = static_cast<std::int64_t>(gallery.users.size());
  torch::Tensor out = torch::empty({n, users}, torch::kFloat);
  if (users == 0) return out;
  TORCH_CHECK(queries.size(1) == gallery.templates.size(1), "user_distances: query dimension ",
              queries.size(1), " differs from the templates' ", gallery.templates.size(1));
  // One matrix product, then the best template of each user (rows grouped by user).
  const torch::Tensor sims = torch::mm(queries.contiguous(), gallery.templates.t()).contiguous();
  const auto t = sims.size(1);
  const float* s = sims.data_ptr<float>();
  float* d = out.data_ptr<float>();
  for (std::int64_t q = 0; q < n; ++q)
    for (std::int64_t u = 0; u < users; ++u) {
      const float* first = s + q * t + gallery.starts[static_cast<std::size_t>(u)];
      const float* last = s + q * t + gallery.starts[static_cast<std::size_t>(u) + 1];
      const float best = *std::max_element(first, last);
      d[q * users + u] = std::sqrt(std::max(0.0f, 2.0f - 2.0f * best));
    }
  return out;
}

std::int64_t user_column(const Gallery& gallery, std::int64_t user) {
  const auto it = std::lower_bound(gallery.users.begin(), gallery.users.end(), user);
  return it != gallery.users.end() && *it == user ? it - gallery.users.begin() : -1;
}

Match best_match(const Gallery& gallery, const torch::Tensor& distances, std::int64_t row,
                 double threshold, double margin) {
  Match match;
  match.distance = match.second_distance = std::numeric_limits<double>::infinity();
  const auto users = distances.size(1);
  const auto d = distances[row];
  const float* p = d.data_ptr<float>();
  for (std::int64_t u = 0; u < users; ++u) {
    if (p[u] < match.distance) {
      match.second_distance = match.distance;
      match.distance = p[u];
      match.best_user = gallery.users[static_cast<std::size_t>(u)];
    } else if (p[u] < match.second_distance) {
      match.second_distance = p[u];
    }
  }
  if (match.best_user >= 0 && match.distance <= threshold &&
      match.second_distance - match.distance >= margin)
    match.user = match.best_user;
  return match;
}

Matcher::Matcher(std::string model_md5, std::int64_t dim, double threshold, double margin)
    : model_md5_(std::move(model_md5)),
      dim_(dim),
      threshold_(threshold),
      margin_(margin),
      gallery_(std::make_shared<const Gallery>(build_gallery({}, model_md5_, dim_))) {
  require(dim >= 1, "matcher: embedding dimension must be >= 1");
  require(std::isfinite(threshold) && threshold > 0.0,
          "matcher: the verification threshold must be > 0");
  require(margin >= 0.0, "matcher: margin must be >= 0");
}

std::shared_ptr<const Gallery> Matcher::refresh(Store& store) {
  const std::int64_t version = store.templates_version();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (gallery_->version == version) return gallery_;
  }
  // Built outside the lock; concurrent refreshes of one change build it more than once.
  auto fresh = std::make_shared<const Gallery>(
      build_gallery(store.all_templates(), model_md5_, dim_, version));
  std::lock_guard<std::mutex> lock(mutex_);
  gallery_ = fresh;
  return gallery_;
}

void Matcher::set_gallery(Gallery gallery) {
  auto fresh = std::make_shared<const Gallery>(std::move(gallery));
  std::lock_guard<std::mutex> lock(mutex_);
  gallery_ = fresh;
}

std::shared_ptr<const Gallery> Matcher::gallery() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return gallery_;
}

}  // namespace wtp::serve
