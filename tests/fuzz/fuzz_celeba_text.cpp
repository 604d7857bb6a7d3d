// libFuzzer target: CelebA's identity file and official partition file. The input is split
// at the first NUL byte: identity_CelebA.txt, then list_eval_partition.txt. Both are loaded
// as a whole dataset (then its partition as a Split) and as the train partition. Images are
// not checked (check_files: false). Seeds: tests/fuzz/corpus/celeba_text/.
#include <stdexcept>

#include "data/celeba.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace fs = std::filesystem;
  using wtp::data::CelebaPartition;
  const auto parts = wtp::fuzz::split_parts(wtp::fuzz::as_text(data, size), 2);
  const fs::path root = wtp::fuzz::scratch_dir() / "celeba";
  fs::create_directories(root / "img_align_celeba");
  wtp::fuzz::write_file(root / "identity_CelebA.txt", parts[0]);
  wtp::fuzz::write_file(root / "list_eval_partition.txt",
                        parts.size() > 1 ? parts[1] : std::string_view());
  wtp::data::CelebaOptions options;
  options.root = root.string();
  options.check_files = false;
  try {
    auto all = wtp::data::load_celeba(options);
    (void)wtp::data::read_celeba_partition(all, root / options.partition_file);
  } catch (const std::runtime_error&) {
  }
  options.partition = CelebaPartition::kTrain;
  try {
    (void)wtp::data::load_celeba(options);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
