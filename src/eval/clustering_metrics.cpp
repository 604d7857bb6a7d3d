#include "eval/clustering_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "core/error.h"
#include "eval/tensors.h"

namespace wtp::eval {

namespace {

struct Contingency {
  std::vector<std::int64_t> row_sizes;  ///< class sizes of a
  std::vector<std::int64_t> col_sizes;  ///< class sizes of b
  std::vector<std::int64_t> cells;      ///< non-zero cell counts
  std::vector<std::int64_t> cell_row;   ///< row of each non-zero cell
  std::vector<std::int64_t> cell_col;   ///< column of each non-zero cell
  std::int64_t n = 0;
};

Contingency contingency(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  require(a.size() == b.size(), "clustering metrics: labellings of different lengths (" +
                                    std::to_string(a.size()) + " and " + std::to_string(b.size()) +
                                    ")");
  Contingency c;
  std::int64_t ra = 0, rb = 0;
  const auto da = dense_labels(a, &ra);
  const auto db = dense_labels(b, &rb);
  c.n = static_cast<std::int64_t>(a.size());
  c.row_sizes.assign(static_cast<std::size_t>(ra), 0);
  c.col_sizes.assign(static_cast<std::size_t>(rb), 0);
  std::vector<std::int64_t> keys(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    c.row_sizes[da[i]]++;
    c.col_sizes[db[i]]++;
    keys[i] = da[i] * rb + db[i];
  }
  std::sort(keys.begin(), keys.end());
  for (std::size_t i = 0; i < keys.size();) {
    std::size_t j = i;
    while (j < keys.size() && keys[j] == keys[i]) ++j;
    c.cells.push_back(static_cast<std::int64_t>(j - i));
    c.cell_row.push_back(keys[i] / rb);
    c.cell_col.push_back(keys[i] % rb);
    i = j;
  }
  return c;
}

double entropy_of_sizes(const std::vector<std::int64_t>& sizes) {
  std::int64_t n = 0, classes = 0;
  for (auto s : sizes) {
    n += s;
    classes += s > 0;
  }
  if (n == 0) return 1.0;
  if (classes == 1) return 0.0;
  const double log_n = std::log(static_cast<double>(n));
  double h = 0.0;
  for (auto s : sizes)
    if (s > 0) h -= (static_cast<double>(s) / n) * (std::log(static_cast<double>(s)) - log_n);
  return h;
}

double mi_of(const Contingency& c) {
  if (c.row_sizes.size() == 1 || c.col_sizes.size() == 1) return 0.0;
  const double n = static_cast<double>(c.n);
  const double log_n = std::log(n);
  const double eps = std::numeric_limits<double>::epsilon();
  double mi = 0.0;
  for (std::size_t k = 0; k < c.cells.size(); ++k) {
    const double nij = static_cast<double>(c.cells[k]);
    const double outer = static_cast<double>(c.row_sizes[c.cell_row[k]]) *
                         static_cast<double>(c.col_sizes[c.cell_col[k]]);
    const double p = nij / n;
    const double term = p * (std::log(nij) - log_n) + p * (-std::log(outer) + 2.0 * log_n);
    if (std::fabs(term) >= eps) mi += term;
  }
  return std::max(mi, 0.0);
}

/// Distinct values with their multiplicities.
std::vector<std::pair<std::int64_t, std::int64_t>> histogram(const std::vector<std::int64_t>& v) {
  std::map<std::int64_t, std::int64_t> h;
  for (auto x : v)
    if (x > 0) h[x]++;
  return {h.begin(), h.end()};
}

bool trivial(const Contingency& c) {
  return (c.row_sizes.size() == 1 && c.col_sizes.size() == 1) ||
         (c.row_sizes.empty() && c.col_sizes.empty());
}

}  // namespace

double label_entropy(const std::vector<std::int64_t>& labels) {
  std::int64_t classes = 0;
  const auto dense = dense_labels(labels, &classes);
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(classes), 0);
  for (auto d : dense) sizes[d]++;
  return entropy_of_sizes(sizes);
}

double mutual_information(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  return mi_of(contingency(a, b));
}

double expected_mutual_information(const std::vector<std::int64_t>& sizes_a,
                                   const std::vector<std::int64_t>& sizes_b) {
  const std::int64_t n = std::accumulate(sizes_a.begin(), sizes_a.end(), std::int64_t{0});
  require(n == std::accumulate(sizes_b.begin(), sizes_b.end(), std::int64_t{0}),
          "expected_mutual_information: the two size lists sum to different totals");
  if (sizes_a.size() <= 1 || sizes_b.size() <= 1) return 0.0;  // zero entropy: EMI = 0
  // Rows (columns) of equal size contribute equally: sum over distinct sizes with weights.
  const auto ha = histogram(sizes_a);
  const auto hb = histogram(sizes_b);
  const double dn = static_cast<double>(n);
  const double log_n = std::log(dn);
  const double lg_n1 = std::lgamma(dn + 1.0);
  double emi = 0.0;
  for (const auto& [ai, wa] : ha) {
    const double a = static_cast<double>(ai);
    for (const auto& [bj, wb] : hb) {
      const double b = static_cast<double>(bj);
      const double fixed = std::lgamma(a + 1) + std::lgamma(b + 1) + std::lgamma(dn - a + 1) +
                           std::lgamma(dn - b + 1) - lg_n1;
      const std::int64_t lo = std::max<std::int64_t>(1, ai + bj - n);
      const std::int64_t hi = std::min(ai, bj);
      double sum = 0.0;
      for (std::int64_t k = lo; k <= hi; ++k) {
        const double nij = static_cast<double>(k);
        const double term2 = (log_n + std::log(nij)) - std::log(a) - std::log(b);
        const double gln = fixed - std::lgamma(nij + 1) - std::lgamma(a - nij + 1) -
                           std::lgamma(b - nij + 1) - std::lgamma(dn - a - b + nij + 1);
        sum += (nij / dn) * term2 * std::exp(gln);
      }
      emi += static_cast<double>(wa) * static_cast<double>(wb) * sum;
    }
  }
  return emi;
}

double normalized_mutual_info(const std::vector<std::int64_t>& a,
                              const std::vector<std::int64_t>& b) {
  const Contingency c = contingency(a, b);
  if (trivial(c)) return 1.0;
  const double mi = mi_of(c);
  if (mi == 0.0) return 0.0;
  const double normalizer = 0.5 * (entropy_of_sizes(c.row_sizes) + entropy_of_sizes(c.col_sizes));
  return mi / normalizer;
}

double normalized_mutual_info(const torch::Tensor& a, const torch::Tensor& b) {
  return normalized_mutual_info(to_int64s(a, "nmi labels_true"), to_int64s(b, "nmi labels_pred"));
}

double adjusted_mutual_info(const std::vector<std::int64_t>& a,
                            const std::vector<std::int64_t>& b) {
  const Contingency c = contingency(a, b);
  if (trivial(c)) return 1.0;
  const double mi = mi_of(c);
  const double emi = expected_mutual_information(c.row_sizes, c.col_sizes);
  const double normalizer = 0.5 * (entropy_of_sizes(c.row_sizes) + entropy_of_sizes(c.col_sizes));
  const double eps = std::numeric_limits<double>::epsilon();
  double denominator = normalizer - emi;
  denominator = denominator < 0 ? std::min(denominator, -eps) : std::max(denominator, eps);
  return (mi - emi) / denominator;
}

double adjusted_mutual_info(const torch::Tensor& a, const torch::Tensor& b) {
  return adjusted_mutual_info(to_int64s(a, "ami labels_true"), to_int64s(b, "ami labels_pred"));
}

}  // namespace wtp::eval
