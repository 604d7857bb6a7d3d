// NumPy .npy reading and writing: a hand-made test vector, round trips, files written by
// numpy itself, and clear errors for what is not supported.
#include <fstream>

#include "core/error.h"
#include "io/npy.h"
#include "io_test_util.h"  // first: torch before Catch2
#include "test_support.h"

using wtp::io::npy_bytes;
using wtp::io::parse_npy;

namespace {
template <std::size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

/// np.save of np.array([[1.5, -2.0, 0.25], [0.0, 3.0, -0.5]], dtype='<f4') (numpy 1.24):
/// magic, version 1.0, header length 118, header padded to 128 bytes, then 24 data bytes.
std::string hand_made_npy() {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  header.append(127 - 10 - header.size(), ' ');
  header += '\n';
  return lit("\x93NUMPY\x01\x00\x76\x00") + header +
         lit("\x00\x00\xc0\x3f"
             "\x00\x00\x00\xc0"
             "\x00\x00\x80\x3e"
             "\x00\x00\x00\x00"
             "\x00\x00\x40\x40"
             "\x00\x00\x00\xbf");
}
}  // namespace

TEST_CASE("a hand-made .npy test vector reads exactly", "[io][npy]") {
  auto bytes = hand_made_npy();
  REQUIRE(bytes.size() == 128 + 24);
  auto t = parse_npy(bytes, "vector.npy");
  CHECK(t.scalar_type() == torch::kFloat);
  CHECK(t.sizes() == torch::IntArrayRef({2, 3}));
  CHECK(torch::equal(t, torch::tensor({{1.5f, -2.0f, 0.25f}, {0.0f, 3.0f, -0.5f}})));
  // Our writer produces the same bytes numpy does.
  CHECK(npy_bytes(t) == bytes);
}

TEST_CASE("npy round trip for every supported dtype and shape", "[io][npy]") {
  wtp::test::TempDir dir;
  std::vector<torch::Tensor> cases = {
      torch::arange(12, torch::kFloat).reshape({3, 4}) / 7,
      torch::arange(6, torch::kDouble).reshape({1, 2, 3}) * -1.25,
      torch::tensor({1, -2, 2147483647}, torch::kInt),
      torch::tensor({int64_t{1} << 40, int64_t{-3}}, torch::kLong),
      torch::tensor({0, 255, 7}, torch::kByte),
      torch::tensor({true, false, true}),
      torch::tensor({-128, 127}, torch::kChar),
      torch::tensor({-300, 300}, torch::kShort),
      torch::tensor({0.5, -2.0}, torch::kHalf),
      torch::tensor(3.25),                                   // 0-dim
      torch::empty({0, 5}),                                  // empty
      torch::arange(12, torch::kFloat).reshape({3, 4}).t(),  // non-contiguous
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO("case " << i);
    auto path = dir / ("a" + std::to_string(i) + ".npy");
    wtp::io::write_npy(path, cases[i]);
    auto data_bytes = static_cast<std::size_t>(cases[i].numel() * cases[i].element_size());
    CHECK(wtp::test::read_file(path).size() % 64 == data_bytes % 64);
    auto back = wtp::io::read_npy(path);
    CHECK(back.scalar_type() == cases[i].scalar_type());
    CHECK(back.sizes() == cases[i].sizes());
    CHECK(back.is_contiguous());
    CHECK(torch::equal(back, cases[i]));
  }
  CHECK_THROWS_AS(npy_bytes(torch::ones({2}, torch::kBFloat16)), wtp::UsageError);
  CHECK_THROWS_AS(npy_bytes(torch::Tensor()), wtp::UsageError);
}

TEST_CASE("bad .npy files give clear errors", "[io][npy]") {
  auto good = hand_made_npy();
  auto with_header = [&](std::string header) {
    header += '\n';
    std::string out = lit("\x93NUMPY\x01\x00");
    out += static_cast<char>(header.size() & 0xFF);
    out += static_cast<char>(header.size() >> 8);
    return out + header + good.substr(128);
  };
  CHECK_THROWS_WITH(parse_npy("PK\x03\x04", "x.npy"),
                    Catch::Contains("x.npy") && Catch::Contains("magic"));
  CHECK_THROWS_WITH(parse_npy(good.substr(0, 60), "x.npy"), Catch::Contains("truncated"));
  CHECK_THROWS_WITH(parse_npy(good.substr(0, good.size() - 1), "x.npy"),
                    Catch::Contains("size mismatch"));
  CHECK_THROWS_WITH(parse_npy(good + "xxxx", "x.npy"), Catch::Contains("size mismatch"));
  CHECK_THROWS_WITH(
      parse_npy(with_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }"), "x.npy"),
      Catch::Contains("Fortran"));
  CHECK_THROWS_WITH(
      parse_npy(with_header("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }"),
                "x.npy"),
      Catch::Contains("big-endian"));
  CHECK_THROWS_WITH(
      parse_npy(with_header("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }"), "x.npy"),
      Catch::Contains("unsupported dtype '<c8'"));
  CHECK_THROWS_WITH(
      parse_npy(with_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }"),
                "x.npy"),
      Catch::Contains("structured"));
  CHECK_THROWS_WITH(parse_npy(with_header("{'descr': '<f4', 'shape': (6,), }"), "x.npy"),
                    Catch::Contains("lacks"));
  CHECK_THROWS_WITH(parse_npy(with_header("{'descr': '<f4', 'fortran_order': False, 'shape': "
                                          "(99999999999, 99999999999, 99999999999), }"),
                              "x.npy"),
                    Catch::Contains("too large") || Catch::Contains("size mismatch"));
  auto v9 = good;
  v9[6] = 9;
  CHECK_THROWS_WITH(parse_npy(v9, "x.npy"), Catch::Contains("version 9"));
}

TEST_CASE(".npy files written by numpy read correctly", "[io][npy]") {
  auto python = wtp::io::test::find_python("numpy");
  if (!python) {
    WTP_SKIP("no python3 with numpy (apt-get install python3-numpy)");
  }
  wtp::test::TempDir dir;
  wtp::io::test::run_python(*python, dir.path(), R"(
import numpy as np, os
os.chdir(')" + dir.path().string() + R"(')
np.save('f4.npy', (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 5) / 3)
np.save('f8.npy', np.array([[1e-300, -2.5], [np.pi, 1e300]]))
np.save('i4.npy', np.array([-7, 0, 2**31 - 1], dtype=np.int32))
np.save('i8.npy', np.array([2**62, -1], dtype=np.int64))
np.save('u1.npy', np.array([[0, 200], [255, 1]], dtype=np.uint8))
np.save('b1.npy', np.array([True, False, False, True]))
np.save('scalar.npy', np.float64(6.5))
np.save('empty.npy', np.zeros((0, 3), dtype=np.float32))
np.save('fortran.npy', np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
np.save('big_endian.npy', np.arange(3, dtype='>f4'))
np.save('transposed.npy', np.arange(6, dtype=np.float32).reshape(2, 3).T.copy())
np.lib.format.write_array(open('v2.npy', 'wb'), np.arange(5, dtype=np.int64), version=(2, 0))
np.lib.format.write_array(open('v3.npy', 'wb'), np.arange(3, dtype=np.float32), version=(3, 0))
)");
  auto read = [&](const char* name) { return wtp::io::read_npy(dir / name); };
  CHECK(
      torch::equal(read("f4.npy"), (torch::arange(24, torch::kFloat).reshape({2, 3, 4}) - 5) / 3));
  CHECK(
      torch::equal(read("f8.npy"), torch::tensor({{1e-300, -2.5}, {M_PI, 1e300}}, torch::kDouble)));
  CHECK(torch::equal(read("i4.npy"), torch::tensor({-7, 0, 2147483647}, torch::kInt)));
  CHECK(torch::equal(read("i8.npy"), torch::tensor({int64_t{1} << 62, int64_t{-1}}, torch::kLong)));
  CHECK(torch::equal(read("u1.npy"), torch::tensor({{0, 200}, {255, 1}}, torch::kByte)));
  CHECK(torch::equal(read("b1.npy"), torch::tensor({true, false, false, true})));
  auto scalar = read("scalar.npy");
  CHECK(scalar.dim() == 0);
  CHECK(scalar.item<double>() == 6.5);
  CHECK(read("empty.npy").sizes() == torch::IntArrayRef({0, 3}));
  CHECK(torch::equal(read("transposed.npy"), torch::arange(6, torch::kFloat).reshape({2, 3}).t()));
  CHECK(torch::equal(read("v2.npy"), torch::arange(5, torch::kLong)));
  CHECK(torch::equal(read("v3.npy"), torch::arange(3, torch::kFloat)));
  CHECK_THROWS_WITH(read("fortran.npy"),
                    Catch::Contains("fortran.npy") && Catch::Contains("Fortran"));
  CHECK_THROWS_WITH(read("big_endian.npy"), Catch::Contains("big-endian"));

  // And numpy reads what we write.
  wtp::io::write_npy(dir / "ours.npy", torch::arange(6, torch::kDouble).reshape({3, 2}) / 4);
  wtp::io::write_npy(dir / "ours_bool.npy", torch::tensor({true, false}));
  auto out = wtp::io::test::run_python(*python, dir.path(), R"(
import numpy as np
a = np.load(')" + (dir / "ours.npy").string() + R"(')
b = np.load(')" + (dir / "ours_bool.npy").string() + R"(')
assert a.dtype == np.float64 and a.shape == (3, 2), (a.dtype, a.shape)
assert (a == np.arange(6).reshape(3, 2) / 4).all()
assert b.dtype == np.bool_ and b.tolist() == [True, False]
print('numpy ok')
)");
  CHECK(out.find("numpy ok") != std::string::npos);
}
