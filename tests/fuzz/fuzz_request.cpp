// libFuzzer target: wtp-serve's request parsing (serve/request.h) on a request body: the
// JSON object, the log-in request (nonce, frames of base64 images with times), the
// enrolment request (3-5 base64 images), then every decoded image through the service's
// image intake with its pixel cap (serve/image_intake.h: magic bytes, header size check,
// decoding). Refusals are HttpError / BadImage (std::runtime_error); anything else (an
// exception the server would answer with 500, a crash, a sanitizer report) is a defect.
// Seeds: tests/fuzz/corpus/request/ (bodies with tiny PNG and JPEG images).
#include "fuzz_support.h"
#include "serve/image_intake.h"
#include "serve/request.h"

namespace {

constexpr std::int64_t kMaxImageBytes = 1 << 20;
constexpr std::int64_t kMaxPixels = 1 << 20;

void decode_all(const std::vector<std::string>& images) {
  for (const auto& bytes : images) {
    try {
      (void)wtp::serve::decode_image(bytes, kMaxPixels);
    } catch (const wtp::serve::BadImage&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using wtp::serve::HttpError;
  nlohmann::json body;
  try {
    body = wtp::serve::parse_json_body("application/json",
                                       std::string(wtp::fuzz::as_text(data, size)));
  } catch (const HttpError&) {
    return 0;
  }
  try {
    const auto login = wtp::serve::parse_login_request(body, 40, kMaxImageBytes);
    std::vector<std::string> images;
    for (const auto& frame : login.frames) images.push_back(frame.bytes);
    decode_all(images);
  } catch (const HttpError&) {
  }
  try {
    decode_all(wtp::serve::parse_enrol_request(body, 3, 5, kMaxImageBytes));
  } catch (const HttpError&) {
  }
  return 0;
}
