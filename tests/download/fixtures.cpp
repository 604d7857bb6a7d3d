#include "fixtures.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "core/random.h"

namespace fs = std::filesystem;

namespace wtp::test {
namespace {

la_ssize_t append_callback(archive*, void* user, const void* data, size_t size) {
  static_cast<std::string*>(user)->append(static_cast<const char*>(data), size);
  return static_cast<la_ssize_t>(size);
}

void check(int rc, archive* a, const std::string& what) {
  if (rc < ARCHIVE_WARN) {
    const char* message = archive_error_string(a);
    throw std::runtime_error("test archive writer: " + what + ": " + (message ? message : "?"));
  }
}

std::string le16(std::uint16_t v) {
  return std::string{static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
}
std::string le32(std::uint32_t v) {
  std::string out;
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

/// A RAR 4.x block: HEAD_CRC, HEAD_TYPE, HEAD_FLAGS, HEAD_SIZE, then `rest`. HEAD_CRC is
/// the low 16 bits of the CRC-32 of everything after it.
std::string rar_block(std::uint8_t type, std::uint16_t flags, const std::string& rest) {
  const auto size = static_cast<std::uint16_t>(7 + rest.size());
  const std::string tail =
      std::string(1, static_cast<char>(type)) + le16(flags) + le16(size) + rest;
  return le16(static_cast<std::uint16_t>(crc32(tail) & 0xffff)) + tail;
}

}  // namespace

std::uint32_t crc32(const std::string& bytes) {
  static const auto table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xffffffffu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::string make_archive(ArchiveFormat format, const std::vector<Entry>& entries) {
  std::string out;
  std::unique_ptr<archive, int (*)(archive*)> a(archive_write_new(), archive_write_free);
  if (format == ArchiveFormat::kTgz) {
    check(archive_write_add_filter_gzip(a.get()), a.get(), "gzip");
    check(archive_write_set_format_pax_restricted(a.get()), a.get(), "pax");
  } else {
    check(archive_write_set_format_zip(a.get()), a.get(), "zip");
  }
  check(archive_write_open(a.get(), &out, nullptr, append_callback, nullptr), a.get(), "open");
  for (const auto& e : entries) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> entry(archive_entry_new(),
                                                                   archive_entry_free);
    archive_entry_set_pathname(entry.get(), e.path.c_str());
    archive_entry_set_mtime(entry.get(), 1600000000, 0);
    switch (e.type) {
      case Entry::Type::kFile:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_perm(entry.get(), 0644);
        archive_entry_set_size(entry.get(), static_cast<la_int64_t>(e.data.size()));
        break;
      case Entry::Type::kDir:
        archive_entry_set_filetype(entry.get(), AE_IFDIR);
        archive_entry_set_perm(entry.get(), 0755);
        break;
      case Entry::Type::kSymlink:
        archive_entry_set_filetype(entry.get(), AE_IFLNK);
        archive_entry_set_perm(entry.get(), 0777);
        archive_entry_set_symlink(entry.get(), e.link.c_str());
        break;
      case Entry::Type::kHardlink:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_perm(entry.get(), 0644);
        archive_entry_set_hardlink(entry.get(), e.link.c_str());
        archive_entry_set_size(entry.get(), 0);
        break;
    }
    check(archive_write_header(a.get(), entry.get()), a.get(), "header " + e.path);
    if (e.type == Entry::Type::kFile && !e.data.empty())
      if (archive_write_data(a.get(), e.data.data(), e.data.size()) < 0)
        check(ARCHIVE_FATAL, a.get(), "data " + e.path);
  }
  check(archive_write_close(a.get()), a.get(), "close");
  return out;
}

std::string make_rar(const std::vector<Entry>& entries) {
  // Marker block "Rar!\x1a\x07\x00" (itself a block: CRC 0x6152, type 0x72, size 7).
  std::string out("Rar!\x1a\x07\x00", 7);
  // Main archive header (type 0x73): flags 0, then 2 + 4 reserved bytes; size 13.
  out += rar_block(0x73, 0x0000, le16(0) + le32(0));
  const std::uint32_t dos_time = (((2020 - 1980) << 9 | 1 << 5 | 1) << 16);  // 2020-01-01 00:00
  for (const auto& e : entries) {
    std::string data;
    std::uint32_t mode = 0100644;
    std::uint16_t flags = 0x8000;  // LONG_BLOCK: PACK_SIZE follows (ADD_SIZE)
    switch (e.type) {
      case Entry::Type::kFile:
        data = e.data;
        break;
      case Entry::Type::kDir:
        mode = 040755;
        flags |= 0x00e0;  // dictionary bits 111: a directory
        break;
      case Entry::Type::kSymlink:
        data = e.link;  // a Unix symlink stores its target as the file data
        mode = 0120777;
        break;
      case Entry::Type::kHardlink:
        throw std::logic_error("make_rar: RAR 4 has no hard links");
    }
    const auto size = static_cast<std::uint32_t>(data.size());
    std::string rest = le32(size)                                         // PACK_SIZE
                       + le32(size)                                       // UNP_SIZE
                       + std::string(1, '\x03')                           // HOST_OS: Unix
                       + le32(crc32(data))                                // FILE_CRC
                       + le32(dos_time)                                   // FTIME
                       + std::string(1, static_cast<char>(20))            // UNP_VER 2.0
                       + std::string(1, static_cast<char>(0x30))          // METHOD: store
                       + le16(static_cast<std::uint16_t>(e.path.size()))  // NAME_SIZE
                       + le32(mode)                                       // ATTR (Unix mode)
                       + e.path;                                          // FILE_NAME
    out += rar_block(0x74, flags, rest) + data;
  }
  out += rar_block(0x7b, 0x4000, "");  // end of archive
  return out;
}

std::string fake_jpeg(int seed) {
  Rng rng(mix_seed(static_cast<std::uint64_t>(seed), 77));
  std::string out("\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00", 20);
  const auto n = static_cast<int>(rng.integer(500, 3000));
  for (int i = 0; i < n; ++i) out += static_cast<char>(rng.integer(0, 255));
  out += "\xFF\xD9";
  return out;
}

std::vector<Entry> lfw_entries() {
  std::vector<Entry> out{Entry::dir("lfw-deepfunneled/")};
  const std::vector<std::pair<std::string, int>> people = {
      {"Aaron_Guiel", 1}, {"Abel_Pacheco", 4}, {"George_W_Bush", 3}, {"Zico", 2}};
  int seed = 0;
  for (const auto& [name, count] : people) {
    out.push_back(Entry::dir("lfw-deepfunneled/" + name + "/"));
    for (int i = 1; i <= count; ++i) {
      char suffix[16];
      std::snprintf(suffix, sizeof suffix, "%04d", i);
      out.push_back(Entry::file("lfw-deepfunneled/" + name + "/" + name + "_" + suffix + ".jpg",
                                fake_jpeg(++seed)));
    }
  }
  return out;
}

std::vector<Entry> celeba_entries() {
  std::vector<Entry> out{Entry::dir("img_align_celeba/")};
  for (int i = 1; i <= 6; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "img_align_celeba/%06d.jpg", i);
    out.push_back(Entry::file(name, fake_jpeg(100 + i)));
  }
  return out;
}

std::vector<Entry> cew_entries() {
  return {Entry::dir("dataset_B_FacialImages"),
          Entry::dir("dataset_B_FacialImages/OpenFace"),
          Entry::file("dataset_B_FacialImages/OpenFace/Aaron_Guiel_0001.jpg", fake_jpeg(201)),
          Entry::file("dataset_B_FacialImages/OpenFace/Zico_0002.jpg", fake_jpeg(202)),
          Entry::dir("dataset_B_FacialImages/ClosedFace"),
          Entry::file("dataset_B_FacialImages/ClosedFace/closed_eye_0001.jpg_face_1.jpg",
                      fake_jpeg(203)),
          Entry::file("dataset_B_FacialImages/EyeCoordinatesInfo_OpenFace.txt",
                      "Aaron_Guiel_0001.jpg 32 45 68 44\nZico_0002.jpg 30 46 70 47\n"),
          Entry::file("dataset_B_FacialImages/EyeCoordinatesInfo_ClosedFace.txt",
                      "closed_eye_0001.jpg_face_1.jpg 31 44 69 45\n")};
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::map<std::string, std::string> read_tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.is_symlink()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    out[fs::relative(e.path(), dir).generic_string()] = text.str();
  }
  return out;
}

std::map<std::string, std::string> tree_of(const std::vector<Entry>& entries) {
  std::map<std::string, std::string> out;
  for (const auto& e : entries)
    if (e.type == Entry::Type::kFile) out[e.path] = e.data;
  return out;
}

// ---------------------------------------------------------------------------------------

TestServer::TestServer() {
  server_.Get(".*",
              [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
  port_ = server_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("TestServer: cannot bind 127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  for (int i = 0; i < 200 && !server_.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

TestServer::~TestServer() { stop(); }

void TestServer::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stopping_cv_.notify_all();
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

void TestServer::route(const std::string& path, Route route) {
  std::lock_guard<std::mutex> lock(mutex_);
  routes_[path] = std::move(route);
}

std::string TestServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<TestServer::Seen> TestServer::seen() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return seen_;
}

std::vector<TestServer::Seen> TestServer::seen(const std::string& path) const {
  std::vector<Seen> out;
  for (const auto& s : seen())
    if (s.path == path) out.push_back(s);
  return out;
}

void TestServer::serve_body(httplib::Response& res, const std::string& body,
                            const std::string& content_type, bool drop, std::size_t drop_at) {
  auto shared = std::make_shared<std::string>(body);
  res.set_content_provider(
      shared->size(), content_type,
      [shared, drop, drop_at](size_t offset, size_t length, httplib::DataSink& sink) {
        size_t end = offset + std::min<size_t>(length, 1 << 14);
        if (drop) {
          if (offset >= drop_at) return false;  // close the connection mid-body
          end = std::min(end, drop_at);
        }
        return sink.write(shared->data() + offset, end - offset);
      });
}

void TestServer::handle(const httplib::Request& req, httplib::Response& res) {
  Route route;
  int count = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    Seen s;
    s.path = req.path;
    std::vector<std::string> params;
    for (const auto& [k, v] : req.params) params.push_back(k + "=" + v);
    std::sort(params.begin(), params.end());
    for (const auto& p : params) s.query += (s.query.empty() ? "" : "&") + p;
    s.range = req.get_header_value("Range");
    s.cookie = req.get_header_value("Cookie");
    seen_.push_back(s);
    auto it = routes_.find(req.path);
    if (it == routes_.end()) {
      res.status = 404;
      res.set_content("no such file", "text/plain");
      return;
    }
    route = it->second;
    count = served_[req.path]++;
  }
  if (route.handler) {
    route.handler(req, res);
    return;
  }
  if (route.delay > 0) {
    std::unique_lock<std::mutex> lock(mutex_);
    stopping_cv_.wait_for(lock, std::chrono::duration<double>(route.delay),
                          [this] { return stopping_; });
  }
  if (route.status != 200) {
    res.status = route.status;
    res.set_content(route.body, route.content_type);
    return;
  }
  // httplib slices the body itself when the request has a Range; clearing the parsed
  // ranges (the Request object is not const, only the reference) makes it answer 200.
  if (route.ignore_range) const_cast<httplib::Request&>(req).ranges.clear();
  serve_body(res, route.body, route.content_type, count < route.drop_times, route.drop_at);
}

}  // namespace wtp::test
