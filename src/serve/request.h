#pragma once
/// Parsing of wtp-serve's request bodies, independent of the HTTP library (so that it can be
/// fuzzed on its own: tests/fuzz/fuzz_request.cpp): the JSON object of a body, bounded text
/// and integer fields, base64 images (size checked before decoding) and the log-in and
/// enrolment requests. Every refusal is an HttpError: a status, a machine code and a
/// sentence for a person, never parser internals.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "serve/service.h"

namespace wtp::serve {

/// An error answered to the client: status, a machine code and a sentence for a person.
struct HttpError : std::runtime_error {
  HttpError(int status, std::string code, const std::string& message,
            std::int64_t retry_after_ms = 0)
      : std::runtime_error(message),
        status(status),
        code(std::move(code)),
        retry_after_ms(retry_after_ms) {}
  int status;
  std::string code;
  std::int64_t retry_after_ms;
};

/// The JSON object of a POST body: 415 unless `content_type` is application/json, 400 when
/// the body is not a JSON object.
nlohmann::json parse_json_body(const std::string& content_type, const std::string& body);

/// A text field of `body`: required, 1..max_length bytes, no control characters (400).
std::string text_field(const nlohmann::json& body, const char* key, std::size_t max_length);

/// A required integer field of `body` (400).
std::int64_t int_field(const nlohmann::json& body, const char* key);

/// A non-negative integer path or query parameter of at most 18 digits (400).
std::int64_t parse_id(const std::string& text, const char* what);

/// Decodes one base64 image (standard alphabet, padded; an optional
/// `data:image/...;base64,` prefix is dropped). 413 when it would exceed `max_bytes`
/// (checked on the encoded length before decoding, and again after), 400 when it is not a
/// string, empty or not base64. The bytes are not decoded as an image here.
std::string decode_base64_image(const nlohmann::json& value, std::int64_t max_bytes,
                                const std::string& what);

/// The required base64 image field `image` of `body`, decoded as decode_base64_image().
std::string image_field(const nlohmann::json& body, std::int64_t max_bytes);

/// The body of POST /api/v1/login: {nonce, frames: [{image, t_ms}]}, at most `max_frames`
/// frames (400 too_many_frames, before any image is decoded).
struct LoginRequest {
  std::string nonce;
  std::vector<Frame> frames;
};
LoginRequest parse_login_request(const nlohmann::json& body, int max_frames,
                                 std::int64_t max_image_bytes);

/// The images of POST /api/v1/users/{id}/faces: {images: [min_images..max_images base64
/// images]} (400 otherwise, before any image is decoded).
std::vector<std::string> parse_enrol_request(const nlohmann::json& body, int min_images,
                                             int max_images, std::int64_t max_image_bytes);

}  // namespace wtp::serve
