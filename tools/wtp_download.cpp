// wtp-download: downloads, verifies and safely extracts a catalogue dataset.
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
    datasets += "\n  " + spec.name + std::string(14 - spec.name.size(), ' ') + spec.description;
  wtp::cli::Tool tool(
      "wtp-download",
      "Download, verify (MD5) and extract a dataset into --root. Datasets:" + datasets,
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
      std::printf("  %-28s md5 %s %s  (%s)\n", f.name.c_str(), f.md5.c_str(),
                  f.verified ? "verified" : "NOT verified: no published MD5", f.source.c_str());
  });
}
