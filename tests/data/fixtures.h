#pragma once
// Tiny on-disk datasets for the data tests, written with OpenCV into a TempDir.
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>

namespace wtp::test {

/// Writes a w x h image of one BGR colour (format from the extension), creating folders.
inline void write_image(const std::filesystem::path& path, int w = 8, int h = 8,
                        cv::Scalar bgr = cv::Scalar(10, 20, 30)) {
  std::filesystem::create_directories(path.parent_path());
  cv::Mat image(h, w, CV_8UC3, bgr);
  if (!cv::imwrite(path.string(), image)) throw std::runtime_error("cannot write " + path.string());
}

/// Writes text to a file, creating folders.
inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

}  // namespace wtp::test
