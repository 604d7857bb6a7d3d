#include "download/catalogue.h"

#include "core/error.h"

// Where every URL and checksum below comes from (checked 2026-11; none is contacted by
// the tests, which serve their own archives on 127.0.0.1):
//
// LFW (Huang et al., UMass Amherst). Three image archives, all 13,233 images of 5,749
// people in <Name>/<Name>_<NNNN>.jpg folders; wtp aligns the faces itself, so the loaders
// and recipes take any of them.
//   - lfw-funneled.tgz (`lfw`, the default) and lfw.tgz (`lfw-original`): scikit-learn's
//     sklearn/datasets/_lfw.py downloads them today from figshare, FUNNELED_ARCHIVE =
//     https://ndownloader.figshare.com/files/5976015 and ARCHIVE = .../files/5976018, with
//     SHA-256s b47c8422...100a and 055f7d9c...36c0 (below); their MD5s
//     1b42dfed7d15c9b2dd63d5e5840c86ad and a17d05bd522c52d84eca14327a23d494 are those listed
//     in ../shared/docs/seed.md. They extract to lfw_funneled/ and lfw/.
//   - lfw-deepfunneled.tgz (`lfw-deepfunneled`, what the old notebooks used): the original
//     host http(s)://vis-www.cs.umass.edu/lfw/; MD5 68331da3eb755a505a502b5aacb3c201 as
//     listed in seed.md and in torchvision's datasets/lfw.py (`file_dict["deepfunneled"]`).
//     The host stopped resolving in 2025 and no byte-identical public mirror of this .tgz
//     is known, so it installs only from --archive or a --mirror of the user's.
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
//
// Pretrained weights (ROOT/weights/), each a torch.save state dict for init.checkpoint:
//   - bn_inception-52deb4733.pth: BN-Inception on ImageNet, converted from Caffe by Cadene's
//     pretrained-models.pytorch (pretrainedmodels/models/bninception.py,
//     `pretrained_settings["bninception"]["imagenet"]["url"]`); the official Group Loss code
//     (dvl-tum/group_loss, `bn_inception(pretrained=True)`) starts from the same weights
//     (it ships them as net/bn_inception_weights_pt04.pt). As in PyTorch hub names, the
//     suffix 52deb4733 is the start of the file's SHA-256, which is verified.
//   - 20180402-114759-vggface2.pt and 20180408-102900-casia-webface.pt: facenet-pytorch's
//     InceptionResnetV1(pretrained='vggface2' / 'casia-webface'), release v2.2.9 assets as
//     named in its models/inception_resnet_v1.py `load_weights`. No checksum is published
//     and none could be computed when this catalogue was written (no network), so these
//     are checked to be torch.save files of tensors and their computed SHA-256 is printed
//     for the user to record (pass it with --sha256 next time).

namespace wtp::download {
namespace {

std::vector<std::string> drive_mirrors(const std::string& id) {
  return {"https://drive.google.com/uc?export=download&id=" + id,
          "https://drive.usercontent.google.com/download?id=" + id + "&export=download"};
}

DatasetSpec one_file(const std::string& name, const std::string& description,
                     const std::string& directory, CatalogueFile file) {
  DatasetSpec spec;
  spec.name = name;
  spec.description = description;
  spec.directory = directory;
  spec.files.push_back(std::move(file));
  return spec;
}

std::vector<DatasetSpec> build_catalogue() {
  std::vector<DatasetSpec> out;
  const std::string lfw_host = "vis-www.cs.umass.edu/lfw/";

  auto lfw_images = [&](const std::string& name, const std::string& description,
                        const std::string& file, const std::string& md5,
                        std::optional<std::string> sha256, std::vector<std::string> mirrors) {
    CatalogueFile f;
    f.name = file;
    f.md5 = md5;
    f.sha256 = std::move(sha256);
    f.mirrors = std::move(mirrors);
    f.mirrors.push_back("https://" + lfw_host + file);
    f.mirrors.push_back("http://" + lfw_host + file);
    f.action = FileAction::kExtract;
    f.approx_size = 240'000'000;
    return one_file(name, description, "lfw", f);
  };
  out.push_back(lfw_images(
      "lfw", "LFW funneled images (13,233 JPEGs of 5,749 people, ~240 MB; figshare mirror)",
      "lfw-funneled.tgz", "1b42dfed7d15c9b2dd63d5e5840c86ad",
      "b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a",
      {"https://ndownloader.figshare.com/files/5976015"}));
  out.push_back(lfw_images("lfw-original",
                           "LFW original, unaligned images (as lfw; ~180 MB; figshare mirror)",
                           "lfw.tgz", "a17d05bd522c52d84eca14327a23d494",
                           "055f7d9c632d7370e6fb4afc7468d40f970c34a80d4c6f50ffec63f5a8d536c0",
                           {"https://ndownloader.figshare.com/files/5976018"}));
  auto deep =
      lfw_images("lfw-deepfunneled",
                 "LFW deep-funneled images, the old system's (~110 MB; host gone: use --archive)",
                 "lfw-deepfunneled.tgz", "68331da3eb755a505a502b5aacb3c201", std::nullopt, {});
  deep.files[0].approx_size = 110'000'000;
  out.push_back(deep);

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

  auto weights = [&](const std::string& name, const std::string& description,
                     const std::string& file, std::optional<std::string> sha256,
                     const std::string& url, std::int64_t size) {
    CatalogueFile f;
    f.name = file;
    f.sha256 = std::move(sha256);
    f.mirrors = {url};
    f.approx_size = size;
    f.format = FileFormat::kTorchFile;
    out.push_back(one_file(name, description, "weights", f));
  };
  weights("bn-inception-imagenet",
          "BN-Inception ImageNet weights (Cadene's Caffe port; Group Loss recipe)",
          "bn_inception-52deb4733.pth", "52deb4733",
          "http://data.lip6.fr/cadene/pretrainedmodels/bn_inception-52deb4733.pth", 46'000'000);
  const std::string facenet =
      "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/";
  weights("inception-resnet-v1-vggface2",
          "InceptionResnetV1 VGGFace2 weights (facenet-pytorch; BCE recipe)",
          "20180402-114759-vggface2.pt", std::nullopt, facenet + "20180402-114759-vggface2.pt",
          112'000'000);
  weights("inception-resnet-v1-casia-webface",
          "InceptionResnetV1 CASIA-WebFace weights (facenet-pytorch)",
          "20180408-102900-casia-webface.pt", std::nullopt,
          facenet + "20180408-102900-casia-webface.pt", 112'000'000);
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

std::optional<std::string> download_command(const std::filesystem::path& file) {
  for (const auto& spec : catalogue())
    for (const auto& f : spec.files) {
      if (f.name != file.filename().string()) continue;
      const std::filesystem::path folder = file.parent_path();
      if (folder.filename() == spec.directory) {
        const std::string root = folder.parent_path().string();
        return "wtp-download " + spec.name + " --root " + (root.empty() ? "." : root);
      }
      const std::string root = folder.empty() ? "." : folder.string();
      return "wtp-download " + spec.name + " --root " + root + " (it installs " +
             (std::filesystem::path(root) / spec.directory / f.name).string() +
             ": point to that file)";
    }
  return std::nullopt;
}

}  // namespace wtp::download
