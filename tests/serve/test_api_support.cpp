#include "test_api_support.h"

#include <sodium.h>

#include "catch_torch.h"

namespace wtp::test {

AdminSession log_in(ApiServer& api, const std::string& name, const std::string& password) {
  auto client = api.client();
  nlohmann::json body = {{"name", name}, {"password", password}};
  auto r = client.Post("/api/v1/admin/login", body.dump(), "application/json");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  const std::string set_cookie = r->get_header_value("Set-Cookie");
  AdminSession s;
  s.cookie = set_cookie.substr(0, set_cookie.find(';'));
  s.csrf = body_json(r)["csrf_token"].get<std::string>();
  return s;
}

nlohmann::json body_json(const httplib::Result& r) {
  REQUIRE(r);
  INFO(r->body);
  CHECK(r->get_header_value("Content-Type") == "application/json");
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  REQUIRE_FALSE(j.is_discarded());
  return j;
}

std::string base64(const std::string& bytes) {
  const int variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), variant);
  out.resize(out.size() - 1);
  return out;
}

}  // namespace wtp::test
