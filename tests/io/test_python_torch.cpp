// Cross-check against Python torch (when installed: apt-get install python3-torch): files
// written by torch.save in both formats and two pickle protocols, covering non-contiguous
// views, stride-0 expansion, float16, bfloat16, bool, all integer widths, parameters,
// nested containers and a bare tensor; every tensor is compared with a .npy of its values
// written by numpy in the same script.
#include <fstream>
#include <sstream>

#include "io/inspect.h"
#include "io/npy.h"
#include "io/torch_file.h"
#include "io_test_util.h"  // first: torch before Catch2
#include "test_support.h"

using wtp::io::PickleValue;
using Kind = PickleValue::Kind;

namespace {

const char* kScript = R"(
import collections, os, pickle, sys
import numpy as np
import torch
os.chdir(sys.argv[1] if len(sys.argv) > 1 else '.')
torch.manual_seed(0)
base = torch.randn(4, 6)
d = collections.OrderedDict()
d['t_noncontig'] = base.t()
d['t_slice'] = base[1:3, ::2]
d['t_expand'] = torch.arange(3.).unsqueeze(0).expand(4, 3)
d['half'] = torch.randn(5).half()
d['bf16'] = torch.randn(5).bfloat16()
d['bool'] = torch.tensor([True, False, True, True])
d['i8'] = torch.tensor([-128, 5, 127], dtype=torch.int8)
d['i16'] = torch.tensor([-32768, 300], dtype=torch.int16)
d['u8'] = torch.tensor([0, 255, 17], dtype=torch.uint8)
d['i32'] = torch.tensor([-2**31, 2**31 - 1], dtype=torch.int32)
d['i64'] = torch.tensor([-2**63, 2**62], dtype=torch.int64)
d['f64'] = torch.randn(2, 2, dtype=torch.float64)
d['empty'] = torch.zeros(0, 3)
d['scalar'] = torch.tensor(2.5)
d['param'] = torch.nn.Parameter(torch.ones(2))
d['shared_a'] = base
d['list'] = [torch.tensor([1., 2.]), {'deep': torch.tensor([3])}]
names = list(d.keys())[:-1] + ['list.0', 'list.1.deep']
tensors = list(d.values())[:-1] + [d['list'][0], d['list'][1]['deep']]
torch.save(d, 'zip.pt')
torch.save(d, 'zip_p4.pt', pickle_protocol=4)
torch.save(d, 'legacy.pt', _use_new_zipfile_serialization=False)
torch.save(torch.arange(4.), 'bare.pt')
with open('pickled_tensor.pkl', 'wb') as f:
    pickle.dump({'t': torch.tensor([1.5, -1.0])}, f, protocol=2)
with open('meta.tsv', 'w') as meta:
    for i, (n, t) in enumerate(zip(names, tensors)):
        t = t.detach()
        values = t.float() if t.dtype == torch.bfloat16 else t
        np.save('exp_%d.npy' % i, values.contiguous().numpy())
        meta.write('%s\t%s\t%s\t%d\t%d\n' % (n, str(t.dtype)[6:], ','.join(map(str, t.stride())),
                                             t.storage_offset(), int(tensors[i].requires_grad)))
)";

struct Meta {
  std::string name, dtype, strides;
  int64_t offset;
  bool requires_grad;
};

std::string join_strides(const torch::Tensor& t) {
  std::string s;
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.stride(i));
  return s;
}

}  // namespace

TEST_CASE("files written by Python torch.save read identically", "[io][python_torch]") {
  auto python = wtp::io::test::find_python("torch, numpy");
  if (!python) {
    WTP_SKIP("no python3 with torch and numpy (apt-get install python3-torch)");
  }
  wtp::test::TempDir dir;
  {
    std::ofstream out(dir / "make.py");
    out << kScript;
  }
  auto r = wtp::test::run_command(*python + " " + (dir / "make.py").string() + " " +
                                  dir.path().string());
  INFO(r.output);
  REQUIRE(r.status == 0);

  std::vector<Meta> meta;
  {
    std::ifstream in(dir / "meta.tsv");
    std::string line;
    while (std::getline(in, line)) {
      std::stringstream ss(line);
      Meta m;
      std::string offset, grad;
      std::getline(ss, m.name, '\t');
      std::getline(ss, m.dtype, '\t');
      std::getline(ss, m.strides, '\t');
      std::getline(ss, offset, '\t');
      std::getline(ss, grad, '\t');
      m.offset = std::stoll(offset);
      m.requires_grad = grad == "1";
      meta.push_back(m);
    }
  }
  REQUIRE(meta.size() == 18);

  for (const char* name : {"zip.pt", "zip_p4.pt", "legacy.pt"}) {
    INFO(name);
    auto file = wtp::io::load_torch_file(dir / name);
    auto tensors = wtp::io::named_tensors(file.root());
    REQUIRE(tensors.size() == meta.size());
    for (std::size_t i = 0; i < meta.size(); ++i) {
      const auto& [n, t] = tensors[i];
      INFO(n);
      CHECK(n == meta[i].name);
      CHECK(wtp::io::dtype_name(t.scalar_type()) == meta[i].dtype);
      CHECK(join_strides(t) == meta[i].strides);
      CHECK(t.storage_offset() == meta[i].offset);
      auto expected = wtp::io::read_npy(dir / ("exp_" + std::to_string(i) + ".npy"));
      auto actual = t.scalar_type() == torch::kBFloat16 ? t.to(torch::kFloat) : t;
      CHECK(torch::equal(actual.contiguous(), expected));
    }
    // base, its transpose and its slice share one storage; the parameter kept its flag.
    const auto& root = file.root();
    auto data = [&](const char* key) { return root.at(key).tensor().storage().data(); };
    CHECK(data("t_noncontig") == data("shared_a"));
    CHECK(data("t_slice") == data("shared_a"));
    CHECK(data("half") != data("shared_a"));
    CHECK(root.at("param").requires_grad());
    CHECK(!root.at("half").requires_grad());
  }

  auto bare = wtp::io::load_torch_file(dir / "bare.pt");
  REQUIRE(bare.root().is(Kind::kTensor));
  CHECK(torch::equal(bare.root().tensor(), torch::arange(4, torch::kFloat)));

  // A tensor pickled with plain pickle embeds a legacy torch file (_load_from_bytes).
  auto pickled = wtp::io::load_pickle_bytes(wtp::test::read_file(dir / "pickled_tensor.pkl"),
                                            "pickled_tensor.pkl");
  CHECK(torch::equal(pickled.root().at("t").tensor(), torch::tensor({1.5f, -1.0f})));
}
