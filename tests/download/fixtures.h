#pragma once
/// Test fixtures for the download tests: archives built in the test (libarchive's writer
/// for .tgz/.zip, a hand-written RAR 4.x "stored" writer for .rar) and a cpp-httplib
/// server on 127.0.0.1 with scripted misbehaviour (dropped connections, ignored ranges,
/// delays, Google Drive's confirmation page). No test touches another host.
#include <httplib.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace wtp::test {

/// One entry of a test archive.
struct Entry {
  enum class Type { kFile, kDir, kSymlink, kHardlink };
  std::string path;  ///< name stored in the archive (may be hostile: "../x", "/abs")
  std::string data;  ///< file contents
  Type type = Type::kFile;
  std::string link;  ///< symlink / hardlink target

  static Entry file(std::string path, std::string data) {
    return {std::move(path), std::move(data), Type::kFile, ""};
  }
  static Entry dir(std::string path) { return {std::move(path), "", Type::kDir, ""}; }
  static Entry symlink(std::string path, std::string target) {
    return {std::move(path), "", Type::kSymlink, std::move(target)};
  }
  static Entry hardlink(std::string path, std::string target) {
    return {std::move(path), "", Type::kHardlink, std::move(target)};
  }
};

enum class ArchiveFormat { kTgz, kZip };

/// Builds a .tgz (pax + gzip) or .zip with libarchive's writer; returns its bytes.
std::string make_archive(ArchiveFormat format, const std::vector<Entry>& entries);
/// Builds a RAR 4.x archive with every file "stored" (method 0x30): marker block, main
/// header, one file header per entry (CRC16 header checksums, CRC32 data checksums,
/// Unix host so modes and symlinks are kept), end-of-archive block.
std::string make_rar(const std::vector<Entry>& entries);
/// CRC-32 (IEEE 802.3, as in zip/gzip/RAR).
std::uint32_t crc32(const std::string& bytes);

/// Bytes that look like a small JPEG (SOI/APP0 ... EOI), distinct per `seed`.
std::string fake_jpeg(int seed);
/// The LFW deep-funneled layout: lfw-deepfunneled/<Name>/<Name>_<NNNN>.jpg.
std::vector<Entry> lfw_entries();
/// The CelebA aligned layout: img_align_celeba/<NNNNNN>.jpg (6 images).
std::vector<Entry> celeba_entries();
/// The CEW layout: dataset_B_FacialImages/{OpenFace,ClosedFace}/*.jpg + eye files.
std::vector<Entry> cew_entries();

void write_bytes(const std::filesystem::path& path, const std::string& bytes);

/// A file tree as {relative path -> contents} (directories omitted), for comparisons.
std::map<std::string, std::string> read_tree(const std::filesystem::path& dir);
/// The expected tree of `entries` (regular files only).
std::map<std::string, std::string> tree_of(const std::vector<Entry>& entries);

/// A local HTTP server on 127.0.0.1 with a free port, serving scripted routes.
class TestServer {
 public:
  /// How one path is served.
  struct Route {
    std::string body;
    std::string content_type = "application/octet-stream";
    int status = 200;
    /// The first `drop_times` responses send only `drop_at` bytes, then close.
    std::size_t drop_at = 0;
    int drop_times = 0;
    bool ignore_range = false;  ///< answer 200 with the whole body even to a Range request
    double delay = 0;           ///< seconds to wait before answering (woken on stop)
    /// Custom behaviour; when set, the fields above are ignored.
    std::function<void(const httplib::Request&, httplib::Response&)> handler;
  };
  /// One request as the server saw it.
  struct Seen {
    std::string path;
    std::string query;   ///< "k=v&..." (sorted by key)
    std::string range;   ///< Range header ("" if none)
    std::string cookie;  ///< Cookie header
  };

  TestServer();
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  void route(const std::string& path, Route route);
  /// "http://127.0.0.1:PORT" + path.
  std::string url(const std::string& path) const;
  int port() const { return port_; }
  std::vector<Seen> seen() const;
  /// Requests seen for `path`.
  std::vector<Seen> seen(const std::string& path) const;
  void stop();

  /// Serves `body` (honouring Range unless the request's ranges were cleared), sending
  /// only `drop_at` bytes and then closing if `drop` is set.
  static void serve_body(httplib::Response& res, const std::string& body,
                         const std::string& content_type, bool drop = false,
                         std::size_t drop_at = 0);

 private:
  void handle(const httplib::Request& req, httplib::Response& res);

  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable stopping_cv_;
  bool stopping_ = false;
  std::map<std::string, Route> routes_;
  std::map<std::string, int> served_;
  std::vector<Seen> seen_;
};

}  // namespace wtp::test
