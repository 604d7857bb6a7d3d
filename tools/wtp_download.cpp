// wtp-download: downloads, verifies and safely extracts a catalogue dataset or weights file.
#include <cstdio>
#include <string>
#include <vector>

#include "common/cli.h"
#include "download/catalogue.h"
#include "download/download.h"

int main(int argc, char** argv) {
  namespace dl = wtp::download;
  std::string datasets;
  for (const auto& spec : dl::catalogue())
    datasets += "\n  " + spec.name + "\n      " + spec.description + " -> ROOT/" + spec.directory;
  wtp::cli::Tool tool(
      "wtp-download",
      "Download, verify (MD5 / SHA-256) and extract a dataset or pretrained weights into "
      "--root." +
          datasets +
          "\nLFW: the old notebooks used lfw-deepfunneled, whose only host "
          "(vis-www.cs.umass.edu) stopped resolving in 2025: install it from a copy you have "
          "with --archive lfw-deepfunneled.tgz. `lfw` is now the funneled variant from "
          "scikit-learn's figshare mirror (same 13,233 images and names, aligned by "
          "congealing instead of deep funneling); wtp aligns faces itself, so the loaders and "
          "recipes accept any of the three and accuracies differ slightly between them.",
      wtp::cli::ConfigFlags::kNone);
  std::string dataset;
  std::vector<std::string> mirrors;
  std::vector<std::string> archives;
  tool.app()
      .add_option("dataset", dataset, "dataset to install: " + dl::dataset_names())
      ->required();
  tool.bind("--root", "root", "directory the datasets are installed under")->required();
  tool.app().add_option("--mirror", mirrors,
                        "URL tried before the built-in mirrors (repeatable): a file URL, a "
                        "folder URL ending in '/', or NAME=URL for one file of the dataset");
  tool.app().add_option("--archive", archives,
                        "use this local file instead of downloading it, no network (repeatable "
                        "for datasets of several files; named like the file it replaces)");
  tool.bind("--md5", "md5", "expected MD5 of the (single) file, overriding the catalogue's");
  tool.bind("--sha256", "sha256",
            "expected SHA-256 of the (single) file, overriding the catalogue's");
  tool.bind_flag("--force", "force", "download and install again even if already complete");
  tool.bind_flag("--keep-archive", "keep_archive", "keep downloaded archives after extraction");
  tool.bind_flag("--only-mirrors", "only_mirrors",
                 "use only the --mirror URLs, not the built-in ones");
  tool.bind("--timeout", "timeout", "seconds allowed to connect and without data (default 30)");
  tool.bind("--retries", "retries", "retries per mirror on transient errors (default 3)");
  return tool.run(argc, argv, [&] {
    auto options = wtp::config::decode<dl::DownloadOptions>(tool.config());
    options.dataset = dataset;
    options.mirrors = mirrors;
    options.archives = archives;
    const auto result = dl::run_download(options);
    if (result.already_complete) {
      std::printf("%s: already complete in %s, nothing to do (use --force to redo it)\n",
                  dataset.c_str(), result.directory.c_str());
      return;
    }
    std::printf("%s: installed in %s\n", dataset.c_str(), result.directory.c_str());
    for (const auto& f : result.files)
      std::printf("  %s: %s\n    md5 %s\n    sha256 %s\n    from %s\n", f.name.c_str(),
                  f.verified ? "verified" : "NOT verified: no published checksum", f.md5.c_str(),
                  f.sha256.c_str(), f.source.c_str());
  });
}
