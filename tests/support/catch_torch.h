#pragma once
/// Every test includes this instead of <catch2/catch.hpp>: Debian's LibTorch
/// pulls in glog, whose CHECK(condition) macro replaces Catch2's CHECK when torch is
/// included after Catch2. Torch first, then drop glog's CHECK, then Catch2.
#include <torch/torch.h>
#ifdef CHECK
#undef CHECK
#endif
#include <catch2/catch.hpp>
