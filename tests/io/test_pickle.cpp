// The pickle virtual machine on pickles written by Python's own pickle module (protocols
// 0-5), plus hand-assembled byte streams with known answers.
#include <cmath>

#include "io/torch_file.h"
#include "io_test_util.h"  // first: torch before Catch2
#include "test_support.h"

using wtp::io::load_pickle_bytes;
using wtp::io::PickleValue;
using Kind = PickleValue::Kind;

namespace {
template <std::size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}
}  // namespace

TEST_CASE("hand-assembled pickles give known values", "[io][pickle]") {
  // {'a': [1, -2, 3.5], 'b': (True, None)} in protocol 2.
  auto doc = load_pickle_bytes(lit("\x80\x02}q\x00(X\x01\x00\x00\x00"
                                   "aq\x01]q\x02(K\x01J\xfe\xff\xff\xff"
                                   "G@\x0c\x00\x00\x00\x00\x00\x00"
                                   "eX\x01\x00\x00\x00"
                                   "bq\x03\x88N\x86q\x04u."),
                               "hand.pkl");
  const auto& root = doc.root();
  REQUIRE(root.is(Kind::kDict));
  REQUIRE(root.entries().size() == 2);
  const auto& a = root.at("a");
  REQUIRE(a.elements().size() == 3);
  CHECK(a.elements()[0]->as_int() == 1);
  CHECK(a.elements()[1]->as_int() == -2);
  CHECK(a.elements()[2]->as_double() == 3.5);
  const auto& b = root.at("b");
  CHECK(b.is(Kind::kTuple));
  CHECK(b.elements()[0]->as_bool());
  CHECK(b.elements()[1]->is(Kind::kNone));
  CHECK(root.repr() == "{'a': [1, -2, 3.5], 'b': (True, None)}");

  // LONG1 with 9 bytes that still fit int64 (sign extension), and a real big int.
  auto minus_one =
      load_pickle_bytes(lit("\x80\x02\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\xff."), "x");
  CHECK(minus_one.root().as_int() == -1);
  auto big_file =
      load_pickle_bytes(lit("\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01."), "x");
  const auto& big = big_file.root();
  CHECK(big.is(Kind::kBigInt));
  CHECK(big.as_bytes().size() == 9);

  // An unknown global called with arguments becomes an inert object.
  auto obj_file = load_pickle_bytes(lit("\x80\x02"
                                        "cos\nsystem\nX\x02\x00\x00\x00ls\x85R."),
                                    "evil.pkl");
  const auto& obj = obj_file.root();
  REQUIRE(obj.is(Kind::kObject));
  CHECK(obj.qualified_name() == "os.system");
  CHECK(obj.args()->elements()[0]->as_string() == "ls");
}

TEST_CASE("malformed pickles are rejected with the byte offset", "[io][pickle]") {
  CHECK_THROWS_WITH(load_pickle_bytes(lit("\x80\x02K"), "t.pkl"),
                    Catch::Contains("t.pkl") && Catch::Contains("truncated"));
  CHECK_THROWS_WITH(load_pickle_bytes(lit("\x80\x02h\x05."), "t.pkl"),
                    Catch::Contains("memo key 5"));
  CHECK_THROWS_WITH(load_pickle_bytes(lit("\x80\x02"
                                          "a."),
                                      "t.pkl"),
                    Catch::Contains("byte 2") && Catch::Contains("underflow"));
  CHECK_THROWS_WITH(load_pickle_bytes(lit("\x80\x02\xff."), "t.pkl"),
                    Catch::Contains("unknown opcode 0xff"));
  CHECK_THROWS_WITH(load_pickle_bytes(lit("\x80\x02X\xff\xff\xff\x7f"
                                          "abc."),
                                      "t.pkl"),
                    Catch::Contains("truncated"));
  CHECK_THROWS_WITH(load_pickle_bytes(lit("\x80\x02K\x00K\x01K\x02s."), "t.pkl"),
                    Catch::Contains("SETITEM on a int"));
  CHECK_THROWS_WITH(load_pickle_bytes(lit("\x80\x02(X\x01\x00\x00\x00"
                                          "aQ."),
                                      "t.pkl"),
                    Catch::Contains("persistent id"));
}

TEST_CASE("pickles written by Python, protocols 0 to 5", "[io][pickle]") {
  auto python = wtp::io::test::find_python("");
  if (!python) {
    WTP_SKIP("no python3 found");
  }
  wtp::test::TempDir dir;
  wtp::io::test::run_python(*python, dir.path(), R"(
import pickle, collections, argparse
class Point:
    def __init__(self):
        self.x = 1
        self.y = [2.5]
shared = [1, 2]
obj = {
    'int': 7, 'neg': -123456789, 'i64max': 2**63 - 1, 'i64min': -2**63,
    'big': 2**70, 'negbig': -2**70 - 5, 'float': 1.5, 'tiny': -2.5e-300,
    'str': 'h\u00e9llo \u2713 back\\slash\nnewline', 'bytes': b'\x00\x01\xff',
    'list': [1, [2, 3], ()], 'tuple': (1, 'a', None, True, False),
    'set': {3}, 'frozenset': frozenset([4]),
    'od': collections.OrderedDict([('b', 1), ('a', 2)]),
    'nested': {'x': {'y': [0.25]}}, 'shared1': shared, 'shared2': shared,
    'intkeys': {1: 'one', -2: 'two'}, 'bytearray': bytearray(b'ab'),
    'dd': collections.defaultdict(int, {'k': 3}),
    'point': Point(), 'ns': argparse.Namespace(lr=0.1),
}
for p in range(6):
    with open('p%d.pkl' % p, 'wb') as f:
        pickle.dump(obj, f, protocol=p)
)");
  for (int p = 0; p <= 5; ++p) {
    INFO("protocol " << p);
    auto path = dir / ("p" + std::to_string(p) + ".pkl");
    auto doc = load_pickle_bytes(wtp::test::read_file(path), path.string());
    const auto& r = doc.root();
    REQUIRE(r.is(Kind::kDict));
    CHECK(r.entries().size() == 23);
    CHECK(r.at("int").as_int() == 7);
    CHECK(r.at("neg").as_int() == -123456789);
    CHECK(r.at("i64max").as_int() == INT64_MAX);
    CHECK(r.at("i64min").as_int() == INT64_MIN);
    // 2**70 little-endian two's complement: 9 bytes, 0x40 in the last.
    CHECK(r.at("big").is(Kind::kBigInt));
    CHECK(r.at("big").as_bytes() == lit("\x00\x00\x00\x00\x00\x00\x00\x00\x40"));
    // -2**70 - 5 = ~(2**70 + 4)
    CHECK(r.at("negbig").as_bytes() == lit("\xfb\xff\xff\xff\xff\xff\xff\xff\xbf"));
    CHECK(r.at("float").as_double() == 1.5);
    CHECK(r.at("tiny").as_double() == -2.5e-300);
    CHECK(r.at("str").as_string() == "h\xc3\xa9llo \xe2\x9c\x93 back\\slash\nnewline");
    CHECK(r.at("bytes").as_bytes() == lit("\x00\x01\xff"));
    CHECK(r.at("list").repr() == "[1, [2, 3], ()]");
    CHECK(r.at("tuple").repr() == "(1, 'a', None, True, False)");
    CHECK(r.at("set").is(Kind::kSet));
    CHECK(r.at("set").elements().at(0)->as_int() == 3);
    CHECK(r.at("frozenset").elements().at(0)->as_int() == 4);
    CHECK(r.at("od").repr() == "{'b': 1, 'a': 2}");
    CHECK(r.at("nested").at("x").at("y").elements().at(0)->as_double() == 0.25);
    CHECK(&r.at("shared1") == &r.at("shared2"));
    CHECK(r.at("intkeys").entries().at(1).key->as_int() == -2);
    CHECK(r.at("bytearray").as_bytes() == "ab");
    CHECK(r.at("dd").at("k").as_int() == 3);
    const auto& point = r.at("point");
    REQUIRE(point.is(Kind::kObject));
    CHECK(point.qualified_name() == "__main__.Point");
    CHECK(point.at("x").as_int() == 1);
    CHECK(point.at("y").elements().at(0)->as_double() == 2.5);
    CHECK(r.at("ns").qualified_name() == "argparse.Namespace");
    CHECK(r.at("ns").at("lr").as_double() == 0.1);

    std::vector<std::string> names;
    wtp::io::walk(r.at("point"), [&](const std::string& name, const PickleValue&) {
      names.push_back(name);
      return true;
    });
    CHECK((names == std::vector<std::string>{"", "x", "y", "y.0"}));
  }
}
