// wtp-inspect FILE [--values N]: lists the tensors (name, dtype, shape, element count, sum,
// first values) and the non-tensor structure (hyper-parameters, epochs, optimizer settings)
// of a torch.save file (zip or legacy, e.g. a Lightning .ckpt) or a NumPy .npy file.
#include <iostream>
#include <string>

#include "common/cli.h"
#include "core/error.h"
#include "io/inspect.h"

int main(int argc, char** argv) {
  wtp::cli::Tool tool("wtp-inspect",
                      "List the tensors and structure of a torch.save file (.pt, .pth, .ckpt) "
                      "or a NumPy .npy file",
                      wtp::cli::ConfigFlags::kNone);
  std::string file;
  int values = 4;
  tool.app().add_option("file", file, "file to inspect")->required();
  tool.app()
      .add_option("--values", values, "how many leading values to print per tensor")
      ->check(CLI::NonNegativeNumber);
  return tool.run(argc, argv, [&] {
    wtp::require(std::filesystem::exists(file), "no such file: " + file);
    wtp::io::inspect_file(file, values, std::cout);
  });
}
