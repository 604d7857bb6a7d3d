#pragma once
/// Every test includes this instead of <catch2/catch.hpp>: Debian's LibTorch
/// pulls in glog, whose CHECK(condition) macro replaces Catch2's CHECK when torch is
/// included after Catch2. Torch first, then drop glog's CHECK, then Catch2.
#include <torch/torch.h>
#ifdef CHECK
#undef CHECK
#endif
#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace Catch {
// glog (through LibTorch) declares std::operator<< for every std::vector, set and map, so
// Catch2 takes any of them for printable and then fails to compile printing one whose
// elements are not (a vector of structs). Print them element by element instead, as Catch2
// does where glog is absent; an unprintable element shows as {?}.
template <class T, class Allocator>
struct StringMaker<std::vector<T, Allocator>> {
  static std::string convert(const std::vector<T, Allocator>& v) {
    return ::Catch::rangeToString(v);
  }
};
template <class T, class Compare, class Allocator>
struct StringMaker<std::set<T, Compare, Allocator>> {
  static std::string convert(const std::set<T, Compare, Allocator>& s) {
    return ::Catch::rangeToString(s);
  }
};
template <class K, class V, class Compare, class Allocator>
struct StringMaker<std::map<K, V, Compare, Allocator>> {
  static std::string convert(const std::map<K, V, Compare, Allocator>& m) {
    return ::Catch::rangeToString(m);
  }
};
}  // namespace Catch
