#include "data/overlap.h"

#include <algorithm>
#include <filesystem>
#include <set>

namespace wtp::data {

namespace {

std::string base_name(const std::string& file) {
  return std::filesystem::path(file).filename().string();
}

std::set<std::string> identities_of(const Dataset& d) {
  std::set<std::string> out;
  for (const auto& it : d.items())
    if (!it.identity.empty()) out.insert(it.identity);
  return out;
}

std::set<std::string> files_of(const Dataset& d) {
  std::set<std::string> out;
  for (const auto& it : d.items()) out.insert(base_name(it.file));
  return out;
}

std::int64_t count_items(const Dataset& d, const std::set<std::string>& ids,
                         const std::set<std::string>& files) {
  std::int64_t n = 0;
  for (const auto& it : d.items())
    if ((!it.identity.empty() && ids.count(it.identity)) || files.count(base_name(it.file))) ++n;
  return n;
}

std::string examples(const std::vector<std::string>& values) {
  std::string out;
  for (std::size_t i = 0; i < values.size() && i < 5; ++i) out += (i ? ", " : "") + values[i];
  if (values.size() > 5) out += ", ...";
  return out;
}

}  // namespace

Overlap find_overlap(const Dataset& a, const Dataset& b) {
  Overlap o;
  o.identities_comparable =
      a.identity_kind() == IdentityKind::kName && b.identity_kind() == IdentityKind::kName;
  std::set<std::string> shared_ids, shared_files;
  if (o.identities_comparable) {
    const auto ia = identities_of(a), ib = identities_of(b);
    std::set_intersection(ia.begin(), ia.end(), ib.begin(), ib.end(),
                          std::inserter(shared_ids, shared_ids.end()));
  }
  const auto fa = files_of(a), fb = files_of(b);
  std::set_intersection(fa.begin(), fa.end(), fb.begin(), fb.end(),
                        std::inserter(shared_files, shared_files.end()));
  o.identities.assign(shared_ids.begin(), shared_ids.end());
  o.files.assign(shared_files.begin(), shared_files.end());
  o.items_a = count_items(a, shared_ids, shared_files);
  o.items_b = count_items(b, shared_ids, shared_files);
  return o;
}

std::string Overlap::summary(const std::string& name_a, const std::string& name_b) const {
  std::string out = name_a + " / " + name_b + ": ";
  if (identities_comparable)
    out += std::to_string(identities.size()) + " shared identities" +
           (identities.empty() ? "" : " (" + examples(identities) + ")") + "; ";
  else
    out +=
        "identities not comparable (at least one dataset gives only ids, not names: "
        "shared people cannot be determined from the annotations); ";
  out += std::to_string(files.size()) + " shared file names" +
         (files.empty() ? "" : " (" + examples(files) + ")") +
         "; items involved: " + std::to_string(items_a) + " in " + name_a + ", " +
         std::to_string(items_b) + " in " + name_b;
  return out;
}

}  // namespace wtp::data
