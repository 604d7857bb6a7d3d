#include "catch_torch.h"
#include "core/error.h"
#include "download/checksum.h"
#include "fixtures.h"
#include "test_support.h"

using namespace wtp::download;

// Reference digests from Python's hashlib, run here (hashlib.sha256(...).hexdigest()).
TEST_CASE("sha256: digests equal Python hashlib's, in one piece or many", "[download][sha256]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string million(1000000, 'a');
  CHECK(sha256_hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  Sha256 pieces;
  for (std::size_t i = 0; i < million.size(); i += 4099) pieces.update(million.substr(i, 4099));
  CHECK(pieces.hex_digest() == sha256_hex(million));
  CHECK_THROWS_AS(pieces.update("x"), std::logic_error);  // finished
}

TEST_CASE("file_checksums reads once for MD5 and SHA-256", "[download][sha256]") {
  wtp::test::TempDir dir;
  wtp::test::write_bytes(dir / "f", "abc");
  const auto sums = file_checksums(dir / "f");
  CHECK(sums.md5 == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(sums.sha256 == sha256_hex("abc"));
  CHECK_THROWS_WITH(file_checksums(dir / "missing"), Catch::Contains("cannot read"));
}

TEST_CASE("expected checksums: MD5, whole or leading SHA-256, user input", "[download][sha256]") {
  const FileChecksums abc{"900150983cd24fb0d6963f7d28e17f72", sha256_hex("abc")};
  ExpectedChecksums none;
  CHECK_FALSE(none.known());
  CHECK(none.mismatch(abc).empty());
  ExpectedChecksums prefix{std::nullopt, std::string("ba7816bf8")};
  CHECK(prefix.mismatch(abc).empty());
  CHECK(prefix.describe() == "SHA-256 ba7816bf8...");
  ExpectedChecksums wrong{std::string("900150983cd24fb0d6963f7d28e17f72"),
                          std::string("52deb4733")};
  CHECK(wrong.mismatch(abc) == "SHA-256 " + abc.sha256 + ", not the expected 52deb4733...");
  ExpectedChecksums md5_only{std::string(32, '0'), std::nullopt};
  CHECK(md5_only.mismatch(abc) ==
        "MD5 900150983cd24fb0d6963f7d28e17f72, not the expected " + std::string(32, '0'));

  CHECK(parse_checksum("900150983CD24FB0D6963F7D28E17F72", "--md5").md5 ==
        std::optional<std::string>("900150983cd24fb0d6963f7d28e17f72"));
  CHECK(parse_checksum(abc.sha256, "x").sha256 == std::optional<std::string>(abc.sha256));
  CHECK(is_sha256_hex(abc.sha256));
  CHECK_FALSE(is_sha256_hex(abc.md5));
  CHECK_THROWS_AS(parse_checksum("52deb4733", "checksums.a"), wtp::UsageError);
}
