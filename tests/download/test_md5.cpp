#include "catch_torch.h"
#include "download/md5.h"
#include "fixtures.h"
#include "test_support.h"

using namespace wtp::download;

TEST_CASE("md5: RFC 1321 test suite (appendix A.5)", "[download][md5]") {
  CHECK(md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(md5_hex("a") == "0cc175b9c0f1b6a831c399e269772661");
  CHECK(md5_hex("abc") == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(md5_hex("message digest") == "f96b697d7cb7938d525a2f31aaf161d0");
  CHECK(md5_hex("abcdefghijklmnopqrstuvwxyz") == "c3fcd3d76192e4007dfb496cca67e13b");
  CHECK(md5_hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") ==
        "d174ab98d277d9f5a5611c2c9f419d9f");
  CHECK(md5_hex("1234567890123456789012345678901234567890123456789012345678901234567890123456"
                "7890") == "57edf4a22be3c955ac49da2e2107b67a");
}

TEST_CASE("md5: padding boundaries and incremental updates agree with one-shot",
          "[download][md5]") {
  // 55, 56, 63, 64 and 65 bytes straddle the one-block / two-block padding boundary.
  CHECK(md5_hex(std::string(55, 'a')) == "ef1772b6dff9a122358552954ad0df65");
  CHECK(md5_hex(std::string(56, 'a')) == "3b0c8ac703f828b04c6c197006d17218");
  CHECK(md5_hex(std::string(64, 'a')) == "014842d480b571495a4a0363793f7367");
  // "The quick brown fox..." is the classic non-RFC vector.
  CHECK(md5_hex("The quick brown fox jumps over the lazy dog") ==
        "9e107d9d372bb6826bd81d3542a419d6");

  std::string data;
  for (int i = 0; i < 5000; ++i) data += static_cast<char>((i * 131 + 7) & 0xff);
  const std::string whole = md5_hex(data);
  for (std::size_t step : {1u, 3u, 63u, 64u, 65u, 1000u}) {
    Md5 md5;
    for (std::size_t at = 0; at < data.size(); at += step)
      md5.update(data.data() + at, std::min(step, data.size() - at));
    CHECK(md5.hex_digest() == whole);
  }
  wtp::test::TempDir dir;
  wtp::test::write_bytes(dir / "blob", data);
  CHECK(md5_file(dir / "blob") == whole);
  CHECK_THROWS_WITH(md5_file(dir / "missing"), Catch::Contains("cannot read"));
}

TEST_CASE("md5: hex validation", "[download][md5]") {
  CHECK(is_md5_hex("68331da3eb755a505a502b5aacb3c201"));
  CHECK(is_md5_hex("68331DA3EB755A505A502B5AACB3C201"));
  CHECK_FALSE(is_md5_hex("68331da3eb755a505a502b5aacb3c20"));   // 31 digits
  CHECK_FALSE(is_md5_hex("68331da3eb755a505a502b5aacb3c20g"));  // not hex
  CHECK(normalize_md5("ABCdef") == "abcdef");
}

TEST_CASE("crc32 of the test RAR writer matches the standard check value", "[download][md5]") {
  // CRC-32/ISO-HDLC check value: crc32("123456789") = 0xCBF43926.
  CHECK(wtp::test::crc32("123456789") == 0xCBF43926u);
  CHECK(wtp::test::crc32("") == 0u);
}
