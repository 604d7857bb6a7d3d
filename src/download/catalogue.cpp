#include "download/catalogue.h"

#include "core/error.h"

// Where every URL and checksum below comes from (checked 2026-11; none is contacted by
// the tests, which serve their own archives on 127.0.0.1):
//
// LFW (Huang et al., UMass Amherst).
//   - lfw-deepfunneled.tgz: the original host http(s)://vis-www.cs.umass.edu/lfw/; MD5
//     68331da3eb755a505a502b5aacb3c201 as listed in ../shared/docs/seed.md and in
//     torchvision's datasets/lfw.py (`file_dict["deepfunneled"]`). The host stopped
//     resolving in 2025; no byte-identical public mirror of the deep-funneled .tgz was
//     found (figshare and archive.org carry lfw.tgz / lfw-funneled.tgz / a re-zipped
//     copy, i.e. different files), so users behind a dead host fetch it by hand and pass
//     --archive, or add a mirror of their own with --mirror.
//   - pairs.txt: MD5 9f1ba174e4e1c508ff7cdf10ac338a7d (seed.md, torchvision). Mirrors:
//     the original host; figshare file 5976006 (scikit-learn's datasets/_lfw.py
//     `TARGETS`); davidsandberg/facenet's data/pairs.txt on GitHub (byte-identical copy).
//   - pairsDevTrain.txt / pairsDevTest.txt: MD5s 4f27cbf15b2da4a85c1907eb4181ad21 /
//     5132f7440eb68cf58910c8a45a2ac10b from torchvision's lfw.py `checksums`; figshare
//     files 5976012 / 5976009 (scikit-learn's `TARGETS`).
//   - people.txt: MD5 450f0863dd89e85e73936a6d71a3474b from torchvision's lfw.py
//     `checksums`; only the original host is known.
//   seed.md gives only the pairs.txt MD5; the three other protocol MD5s come from
//   torchvision and are optional in the sense that a user can override them with --md5.
//
// CelebA (Liu et al., CUHK), hosted on Google Drive. File ids and MD5s from
// torchvision's datasets/celeba.py `file_list`:
//   img_align_celeba.zip     0B7EVK8r0v71pZjFTYXZWM3FlRnM   00d2c5bc6d35e252742224ab0c1e8fcb
//   identity_CelebA.txt      1_ee_0u7vcNLOfNLegJRHmolfH5ICW-XS 32bd1bd63d3c78cd57e08160ec5ed1e2
//   list_eval_partition.txt  0B7EVK8r0v71pY0NSMzRuSXJEVkk   d32c9cbf5e040fd4025c592c306e6668
// Each id is tried through the classic endpoint drive.google.com/uc?export=download
// (which redirects) and then drive.usercontent.google.com/download directly; the large
// zip answers with the "can't scan for viruses" page first (see http.h).
//
// CEW (Song, Tan, Liu, Chen, NUAA): dataset_B_Facial_Images.rar from the authors' site
// http://parnec.nuaa.edu.cn/xtan/data/datasets/ (linked from their ClosedEyeDatabases
// page; the same folder serves dataset_B_Eye_Images.rar). No checksum is published, so
// the MD5 is unknown: the download is recorded with its computed MD5 but not verified.

namespace wtp::download {
namespace {

std::vector<std::string> drive_mirrors(const std::string& id) {
  return {"https://drive.google.com/uc?export=download&id=" + id,
          "https://drive.usercontent.google.com/download?id=" + id + "&export=download"};
}

std::vector<DatasetSpec> build_catalogue() {
  std::vector<DatasetSpec> out;
  const std::string lfw_host = "vis-www.cs.umass.edu/lfw/";

  DatasetSpec lfw;
  lfw.name = "lfw";
  lfw.description = "LFW deep-funneled images (13,233 JPEGs of 5,749 people, ~110 MB)";
  lfw.directory = "lfw";
  {
    CatalogueFile f;
    f.name = "lfw-deepfunneled.tgz";
    f.md5 = "68331da3eb755a505a502b5aacb3c201";
    f.mirrors = {"https://" + lfw_host + f.name, "http://" + lfw_host + f.name};
    f.action = FileAction::kExtract;
    f.approx_size = 110'000'000;
    lfw.files.push_back(f);
  }
  out.push_back(lfw);

  DatasetSpec protocol;
  protocol.name = "lfw-protocol";
  protocol.description = "LFW protocol files (pairs.txt, people.txt, pairsDevTrain/Test.txt)";
  protocol.directory = "lfw";
  auto text_file = [&](const std::string& name, const std::string& md5,
                       std::vector<std::string> extra) {
    CatalogueFile f;
    f.name = name;
    f.md5 = md5;
    f.mirrors = {"https://" + lfw_host + name, "http://" + lfw_host + name};
    for (auto& url : extra) f.mirrors.push_back(std::move(url));
    f.action = FileAction::kInstall;
    return f;
  };
  protocol.files.push_back(
      text_file("pairs.txt", "9f1ba174e4e1c508ff7cdf10ac338a7d",
                {"https://ndownloader.figshare.com/files/5976006",
                 "https://raw.githubusercontent.com/davidsandberg/facenet/master/data/pairs.txt"}));
  protocol.files.push_back(text_file("people.txt", "450f0863dd89e85e73936a6d71a3474b", {}));
  protocol.files.push_back(text_file("pairsDevTrain.txt", "4f27cbf15b2da4a85c1907eb4181ad21",
                                     {"https://ndownloader.figshare.com/files/5976012"}));
  protocol.files.push_back(text_file("pairsDevTest.txt", "5132f7440eb68cf58910c8a45a2ac10b",
                                     {"https://ndownloader.figshare.com/files/5976009"}));
  out.push_back(protocol);

  DatasetSpec celeba;
  celeba.name = "celeba";
  celeba.description =
      "CelebA aligned images (202,599 JPEGs, ~1.4 GB) with identities and partition";
  celeba.directory = "celeba";
  auto drive_file = [](const std::string& name, const std::string& id, const std::string& md5,
                       FileAction action, std::int64_t size) {
    CatalogueFile f;
    f.name = name;
    f.md5 = md5;
    f.mirrors = drive_mirrors(id);
    f.action = action;
    f.approx_size = size;
    f.google_drive = true;
    return f;
  };
  celeba.files.push_back(drive_file("img_align_celeba.zip", "0B7EVK8r0v71pZjFTYXZWM3FlRnM",
                                    "00d2c5bc6d35e252742224ab0c1e8fcb", FileAction::kExtract,
                                    1'450'000'000));
  celeba.files.push_back(drive_file("identity_CelebA.txt", "1_ee_0u7vcNLOfNLegJRHmolfH5ICW-XS",
                                    "32bd1bd63d3c78cd57e08160ec5ed1e2", FileAction::kInstall,
                                    3'400'000));
  celeba.files.push_back(drive_file("list_eval_partition.txt", "0B7EVK8r0v71pY0NSMzRuSXJEVkk",
                                    "d32c9cbf5e040fd4025c592c306e6668", FileAction::kInstall,
                                    2'800'000));
  out.push_back(celeba);

  DatasetSpec cew;
  cew.name = "cew";
  cew.description = "Closed Eyes in the Wild faces (2,423 100x100 faces, open/closed eyes)";
  cew.directory = "cew";
  {
    CatalogueFile f;
    f.name = "dataset_B_Facial_Images.rar";
    f.mirrors = {"http://parnec.nuaa.edu.cn/xtan/data/datasets/dataset_B_Facial_Images.rar"};
    f.action = FileAction::kExtract;
    cew.files.push_back(f);
  }
  out.push_back(cew);
  return out;
}

}  // namespace

const std::vector<DatasetSpec>& catalogue() {
  static const std::vector<DatasetSpec> specs = build_catalogue();
  return specs;
}

std::string dataset_names() {
  std::string out;
  for (const auto& spec : catalogue()) out += (out.empty() ? "" : ", ") + spec.name;
  return out;
}

const DatasetSpec& find_dataset(const std::string& name) {
  for (const auto& spec : catalogue())
    if (spec.name == name) return spec;
  throw UsageError("unknown dataset '" + name + "' (choose one of: " + dataset_names() + ")");
}

}  // namespace wtp::download
