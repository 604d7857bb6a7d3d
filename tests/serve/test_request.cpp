// wtp-serve's request parsing (serve/request.h) without HTTP: every refusal is an HttpError
// with the status and code the API documents (the fuzz target tests/fuzz/fuzz_request.cpp
// runs the same functions on arbitrary bodies).
#include "catch_torch.h"
#include "serve/request.h"

using namespace wtp::serve;
using json = nlohmann::json;

namespace {

/// The status and code of the HttpError `f` throws ({0, ""} when it throws none).
template <class F>
std::pair<int, std::string> refusal(F f) {
  try {
    f();
  } catch (const HttpError& e) {
    return {e.status, e.code};
  }
  return {0, ""};
}

}  // namespace

TEST_CASE("request bodies: JSON objects only, with the right content type", "[serve][request]") {
  CHECK(parse_json_body("application/json; charset=utf-8", R"({"a": 1})")["a"] == 1);
  CHECK(refusal([] { parse_json_body("text/plain", "{}"); }) ==
        std::pair<int, std::string>{415, "bad_content_type"});
  CHECK(refusal([] { parse_json_body("application/json", "{\"a\":"); }).second == "bad_json");
  CHECK(refusal([] { parse_json_body("application/json", "[1, 2]"); }).second == "bad_json");
}

TEST_CASE("request fields: bounded text without control characters, integers, ids",
          "[serve][request]") {
  const json body = {{"name", "Ada"}, {"tab", "a\tb"}, {"n", 7}, {"f", 1.5}};
  CHECK(text_field(body, "name", 3) == "Ada");
  CHECK(refusal([&] { text_field(body, "name", 2); }).second == "bad_field");
  CHECK(refusal([&] { text_field(body, "tab", 10); }).second == "bad_field");
  CHECK(refusal([&] { text_field(body, "missing", 10); }).second == "bad_field");
  CHECK(int_field(body, "n") == 7);
  CHECK(refusal([&] { int_field(body, "f"); }).second == "bad_field");
  CHECK(parse_id("0042", "id") == 42);
  CHECK(refusal([] { parse_id("-1", "id"); }).second == "bad_parameter");
  CHECK(refusal([] { parse_id("1234567890123456789", "id"); }).second == "bad_parameter");
}

TEST_CASE("base64 images: size checked before decoding, data URLs, bad input -> 400",
          "[serve][request]") {
  CHECK(decode_base64_image("aGVsbG8=", 1024, "image") == "hello");
  CHECK(decode_base64_image("data:image/png;base64,aGVsbG8=", 1024, "image") == "hello");
  using R = std::pair<int, std::string>;
  CHECK(refusal([] { decode_base64_image(json(5), 1024, "image"); }) == R{400, "bad_image"});
  CHECK(refusal([] { decode_base64_image("", 1024, "image"); }) == R{400, "bad_image"});
  CHECK(refusal([] { decode_base64_image("@@@@", 1024, "image"); }) == R{400, "bad_base64"});
  CHECK(refusal([] { decode_base64_image("aGVsbG8", 1024, "image"); }) == R{400, "bad_base64"});
  // A data URL whose comma comes before any ";base64" (regression: this used to read
  // before the start of the string and answer 500).
  CHECK(refusal([] { decode_base64_image("data:,AAAA", 1024, "image"); }) == R{400, "bad_image"});
  CHECK(refusal([] { decode_base64_image("data:image/png,AAAA", 1024, "image"); }) ==
        R{400, "bad_image"});
  CHECK(image_field({{"image", "aGVsbG8="}}, 1024) == "hello");
  CHECK(refusal([] { image_field({{"photo", "aGVsbG8="}}, 1024); }) == R{400, "bad_field"});
  // 2 kB of base64 (1.5 kB decoded) over a 1 kB cap: 413 without decoding.
  CHECK(refusal([] { decode_base64_image(std::string(2048, 'A'), 1024, "image"); }) ==
        R{413, "image_too_large"});
}

TEST_CASE("log-in and enrolment requests", "[serve][request]") {
  const json frame = {{"image", "aGVsbG8="}, {"t_ms", 100.5}};
  const LoginRequest login =
      parse_login_request({{"nonce", "n1"}, {"frames", {frame, frame}}}, 40, 1024);
  CHECK(login.nonce == "n1");
  REQUIRE(login.frames.size() == 2);
  CHECK(login.frames[1].bytes == "hello");
  CHECK(login.frames[1].t_ms == 100.5);
  const json many = {{"nonce", "n1"}, {"frames", json::array({frame, frame, frame})}};
  CHECK(refusal([&] { parse_login_request(many, 2, 1024); }).second == "too_many_frames");
  const json untimed = {{"nonce", "n1"}, {"frames", {{{"image", "aGVsbG8="}}}}};
  CHECK(refusal([&] { parse_login_request(untimed, 40, 1024); }).second == "bad_field");
  CHECK(refusal([] {
          parse_login_request({{"frames", json::array()}}, 40, 1024);
        }).second == "bad_field");

  const json three = {{"images", {"aGVsbG8=", "aGVsbG8=", "aGVsbG8="}}};
  CHECK(parse_enrol_request(three, 3, 5, 1024).size() == 3);
  CHECK(refusal([&] { parse_enrol_request(three, 4, 5, 1024); }).second == "bad_field");
  CHECK(refusal([] { parse_enrol_request({{"images", "x"}}, 3, 5, 1024); }).second == "bad_field");
}
