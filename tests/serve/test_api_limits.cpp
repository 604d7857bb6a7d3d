// The pieces of wtp-serve's HTTP side that need no server: token buckets, lock-outs and their
// bounded memory, the Prometheus exposition (parsed by the real prometheus_client), hashing.
#include <fstream>

#include "catch_torch.h"
#include "serve/auth.h"
#include "serve/metrics.h"
#include "serve/rate_limit.h"
#include "test_support.h"

using namespace wtp::serve;

TEST_CASE("token buckets allow a burst, then refuse with the wait until the next token",
          "[api][limits]") {
  TokenBuckets buckets(2.0, 3.0, 100);  // 2 per second, burst 3
  for (int i = 0; i < 3; ++i) CHECK(buckets.take("ip:a", 1000) == 0);
  CHECK(buckets.take("ip:a", 1000) == 500);  // one token takes 500 ms at 2/s
  CHECK(buckets.take("ip:b", 1000) == 0);    // keys are independent
  CHECK(buckets.take("ip:a", 1400) == 100);
  CHECK(buckets.take("ip:a", 1500) == 0);
  CHECK(buckets.take("ip:a", 1500) == 500);
  CHECK(buckets.take("ip:a", 10000) == 0);  // refilled, capped at the burst
  CHECK(buckets.take("ip:a", 10000) == 0);
  CHECK(buckets.take("ip:a", 10000) == 0);
  CHECK(buckets.take("ip:a", 10000) > 0);
}

TEST_CASE("lock-outs start after N failures in the window and end after lockout_ms",
          "[api][limits]") {
  Lockouts lockouts(3, 10000, 5000, 100);
  CHECK(lockouts.failure("user:1", 0) == 0);
  CHECK(lockouts.failure("user:1", 100) == 0);
  CHECK(lockouts.locked_for("user:1", 200) == 0);
  CHECK(lockouts.failure("user:1", 200) == 5000);
  CHECK(lockouts.locked_for("user:1", 1200) == 4000);
  CHECK(lockouts.locked_for("user:2", 1200) == 0);
  CHECK(lockouts.locked_for("user:1", 5200) == 0);
  // Failures spread wider than the window never lock.
  for (int i = 0; i < 10; ++i) CHECK(lockouts.failure("user:3", 20000 + i * 6000) == 0);
  // A success forgets the failures.
  lockouts.failure("user:4", 0);
  lockouts.failure("user:4", 1);
  lockouts.success("user:4");
  CHECK(lockouts.failure("user:4", 2) == 0);
}

TEST_CASE("limiter memory is bounded: the least recently used key is evicted", "[api][limits]") {
  TokenBuckets buckets(1.0, 1.0, 3);
  for (int i = 0; i < 1000; ++i) buckets.take("ip:" + std::to_string(i), 0);
  CHECK(buckets.size() == 3);
  Lockouts lockouts(1, 1000, 1000, 2);
  lockouts.failure("a", 0);
  lockouts.failure("b", 0);
  CHECK(lockouts.locked_for("a", 1) > 0);
  lockouts.failure("c", 0);  // evicts "a", the least recently touched
  CHECK(lockouts.size() == 2);
  CHECK(lockouts.locked_for("a", 1) == 0);
  CHECK(lockouts.locked_for("c", 1) > 0);

  LruTable<int> table(2);
  table.touch("x") = 1;
  table.touch("y") = 2;
  table.touch("x");  // x is now the most recent
  table.touch("z") = 3;
  CHECK(table.find("y") == nullptr);
  REQUIRE(table.find("x") != nullptr);
  CHECK(*table.find("x") == 1);
}

TEST_CASE("metrics render in the Prometheus text format that prometheus_client parses",
          "[api][metrics]") {
  Metrics metrics;
  metrics.observe_request("/api/v1/login", "POST", 200, 0.03);
  metrics.observe_request("/api/v1/login", "POST", 401, 0.2);
  metrics.observe_request("/api/v1/users/{id}", "GET", 404, 7.0);
  metrics.count_match(true);
  metrics.count_match(false);
  metrics.count_refusal("no_blink");
  metrics.count_refusal("unknown_face");
  const std::string text = metrics.render();
  CHECK_THAT(text, Catch::Contains("wtp_http_requests_total{route=\"/api/v1/login\",method="
                                   "\"POST\",status=\"401\"} 1"));
  CHECK_THAT(text, Catch::Contains("wtp_liveness_failures_total 1"));

  if (wtp::test::run_command("/usr/bin/python3 -c 'import prometheus_client'").status != 0)
    WTP_SKIP(
        "python3-prometheus-client is not installed (apt-get install python3-prometheus-client)");
  wtp::test::TempDir dir;
  std::ofstream(dir / "metrics.txt") << text;
  const std::string script = R"(
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
h = fams['wtp_http_request_duration_seconds']
assert h.type == 'histogram', h.type
s = {(x.name, tuple(sorted(x.labels.items()))): x.value for x in h.samples}
login = (('route', '/api/v1/login'),)
assert s[('wtp_http_request_duration_seconds_count', login)] == 2
assert s[('wtp_http_request_duration_seconds_bucket', (('le', '0.05'),) + login)] == 1
assert s[('wtp_http_request_duration_seconds_bucket', (('le', '0.25'),) + login)] == 2
assert s[('wtp_http_request_duration_seconds_bucket', (('le', '+Inf'), ('route', '/api/v1/users/{id}')))] == 1
assert abs(s[('wtp_http_request_duration_seconds_sum', login)] - 0.23) < 1e-9
r = {tuple(sorted(x.labels.items())): x.value for x in fams['wtp_http_requests'].samples}
assert r[(('method', 'POST'), ('route', '/api/v1/login'), ('status', '200'))] == 1
m = {x.labels['result']: x.value for x in fams['wtp_match'].samples}
assert m == {'accept': 1, 'reject': 1}, m
assert [x.value for x in fams['wtp_liveness_failures'].samples] == [1]
print('parsed', len(fams), 'families')
)";
  std::ofstream(dir / "check.py") << script;
  auto r = wtp::test::run_command("/usr/bin/python3 " + (dir / "check.py").string() + " " +
                                  (dir / "metrics.txt").string());
  INFO(r.output);
  CHECK(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("parsed 5 families"));
}

TEST_CASE("hashes and tokens: SHA-256 equals coreutils', tokens are 256-bit and distinct",
          "[api][auth]") {
  auto r = wtp::test::run_command("printf 'wtp session' | sha256sum");
  REQUIRE(r.status == 0);
  CHECK(sha256_hex("wtp session") == r.output.substr(0, 64));
  const std::string a = random_token(), b = random_token();
  CHECK(a.size() == 43);  // 32 bytes, unpadded base64url
  CHECK(a != b);
  CHECK(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
        std::string::npos);
  CHECK(constant_time_equal(a, a));
  CHECK_FALSE(constant_time_equal(a, b));
  CHECK_FALSE(constant_time_equal(a, a.substr(1)));
}

TEST_CASE("passwords are Argon2id hashes that verify only the right password", "[api][auth]") {
  const std::string hash = hash_password("correct horse battery");
  CHECK(hash.rfind("$argon2id$", 0) == 0);
  CHECK(verify_password(hash, "correct horse battery"));
  CHECK_FALSE(verify_password(hash, "correct horse batterY"));
  CHECK(hash_password("correct horse battery") != hash);  // salted
}
