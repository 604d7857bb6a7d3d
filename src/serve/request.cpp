#include "serve/request.h"

#include <sodium.h>

namespace wtp::serve {

using json = nlohmann::json;

json parse_json_body(const std::string& content_type, const std::string& body) {
  if (content_type.rfind("application/json", 0) != 0)
    throw HttpError(415, "bad_content_type",
                    "send the body as JSON (Content-Type: application/json)");
  json parsed = json::parse(body, nullptr, false);
  if (parsed.is_discarded()) throw HttpError(400, "bad_json", "the body is not valid JSON");
  if (!parsed.is_object()) throw HttpError(400, "bad_json", "the body must be a JSON object");
  return parsed;
}

std::string text_field(const json& body, const char* key, std::size_t max_length) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string())
    throw HttpError(400, "bad_field", std::string("give '") + key + "' as a string");
  const std::string value = it->get<std::string>();
  if (value.empty() || value.size() > max_length)
    throw HttpError(
        400, "bad_field",
        std::string("'") + key + "' must have 1 to " + std::to_string(max_length) + " characters");
  for (unsigned char c : value)
    if (c < 0x20 || c == 0x7f)
      throw HttpError(400, "bad_field",
                      std::string("'") + key + "' may not hold control characters");
  return value;
}

std::int64_t int_field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_number_integer())
    throw HttpError(400, "bad_field", std::string("give '") + key + "' as an integer");
  return it->get<std::int64_t>();
}

std::int64_t parse_id(const std::string& text, const char* what) {
  std::int64_t value = 0;
  if (text.empty() || text.size() > 18)
    throw HttpError(400, "bad_parameter", std::string("bad ") + what);
  for (char c : text) {
    if (c < '0' || c > '9')
      throw HttpError(400, "bad_parameter", std::string(what) + " must be a number");
    value = value * 10 + (c - '0');
  }
  return value;
}

std::string decode_base64_image(const json& value, std::int64_t max_bytes,
                                const std::string& what) {
  if (!value.is_string()) throw HttpError(400, "bad_image", what + " must be a base64 string");
  const std::string& text = value.get_ref<const std::string&>();
  std::size_t start = 0;
  if (text.rfind("data:", 0) == 0) {
    const auto comma = text.find(',');
    if (comma == std::string::npos || comma < 7 || text.compare(comma - 7, 7, ";base64") != 0)
      throw HttpError(400, "bad_image",
                      what + ": a data URL must be base64 (data:image/...;base64,...)");
    start = comma + 1;
  }
  const std::size_t encoded = text.size() - start;
  if (encoded == 0) throw HttpError(400, "bad_image", what + " is empty");
  if (static_cast<std::int64_t>(encoded / 4 * 3) > max_bytes + 3)
    throw HttpError(413, "image_too_large",
                    what + " is larger than " + std::to_string(max_bytes) + " bytes");
  std::string out(encoded / 4 * 3 + 3, '\0');
  std::size_t length = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                        text.data() + start, encoded, nullptr, &length, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size())
    throw HttpError(400, "bad_base64", what + " is not valid base64");
  out.resize(length);
  if (out.empty()) throw HttpError(400, "bad_image", what + " is empty");
  if (static_cast<std::int64_t>(out.size()) > max_bytes)
    throw HttpError(413, "image_too_large",
                    what + " is larger than " + std::to_string(max_bytes) + " bytes");
  return out;
}

std::string image_field(const json& body, std::int64_t max_bytes) {
  const auto it = body.find("image");
  if (it == body.end()) throw HttpError(400, "bad_field", "give 'image' (base64)");
  return decode_base64_image(*it, max_bytes, "image");
}

LoginRequest parse_login_request(const json& body, int max_frames, std::int64_t max_image_bytes) {
  LoginRequest out;
  out.nonce = text_field(body, "nonce", 128);
  auto frames = body.find("frames");
  if (frames == body.end() || !frames->is_array())
    throw HttpError(400, "bad_field", "give 'frames' as a list of {image, t_ms}");
  if (static_cast<std::int64_t>(frames->size()) > max_frames)
    throw HttpError(400, "too_many_frames",
                    "send at most " + std::to_string(max_frames) + " frames");
  for (std::size_t i = 0; i < frames->size(); ++i) {
    const json& f = (*frames)[i];
    const std::string what = "frame " + std::to_string(i);
    if (!f.is_object() || !f.contains("image") || !f.contains("t_ms") || !f["t_ms"].is_number())
      throw HttpError(400, "bad_field", what + " must be {image, t_ms}");
    out.frames.push_back(
        {decode_base64_image(f["image"], max_image_bytes, what), f["t_ms"].get<double>()});
  }
  return out;
}

std::vector<std::string> parse_enrol_request(const json& body, int min_images, int max_images,
                                             std::int64_t max_image_bytes) {
  auto images = body.find("images");
  if (images == body.end() || !images->is_array())
    throw HttpError(400, "bad_field", "give 'images' as a list of base64 images");
  const auto n = static_cast<std::int64_t>(images->size());
  if (n < min_images || n > max_images)
    throw HttpError(
        400, "bad_field",
        "send " + std::to_string(min_images) + " to " + std::to_string(max_images) + " images");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < images->size(); ++i)
    out.push_back(decode_base64_image((*images)[i], max_image_bytes, "image " + std::to_string(i)));
  return out;
}

}  // namespace wtp::serve
