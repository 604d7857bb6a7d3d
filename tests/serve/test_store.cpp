// The Store contract (src/serve/store.h), the same cases on SQLite (a temporary file) and on
// a real PostgreSQL 15 server started by the test (tests/support/postgres_server.h).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <sys/wait.h>
#include <thread>

#include "catch_torch.h"
#include "core/error.h"
#include "db/postgres.h"
#include "db/sqlite.h"
#include "postgres_server.h"
#include "serve/store.h"
#include "test_support.h"

using namespace wtp::serve;
using wtp::test::TempDir;

namespace {

/// One database of either backend: its URL and a way to run raw SQL on it (returns the
/// first column of the first row, "" when none).
struct Db {
  std::string url;
  std::function<std::string(const std::string&)> sql;
  std::shared_ptr<TempDir> dir;  ///< keeps the SQLite file's directory
};

Db sqlite_db() {
  Db db;
  db.dir = std::make_shared<TempDir>();
  const std::string path = (*db.dir / "wtp.db").string();
  db.url = "sqlite:" + path;
  db.sql = [path](const std::string& sql) {
    wtp::db::SqliteDb raw(path);
    wtp::db::Statement s(raw, sql);
    return s.step() ? s.text(0) : std::string();
  };
  return db;
}

Db postgres_db(wtp::test::PostgresServer& server) {
  Db db;
  db.url = server.create_database();
  db.sql = [&server, url = db.url](const std::string& sql) {
    auto out = server.psql(url, sql);
    const auto eol = out.find('\n');
    return eol == std::string::npos ? out : out.substr(0, eol);
  };
  return db;
}

std::vector<std::vector<float>> embeddings(int n, int dim, float base) {
  std::vector<std::vector<float>> out(n, std::vector<float>(dim));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < dim; ++j) out[i][j] = base + 0.25f * i - 0.125f * j;
  return out;
}

constexpr std::int64_t kT0 = 1765000000000;  // 2025-12-06, Unix ms

}  // namespace

#define WTP_CAT_(a, b) a##b
#define WTP_CAT(a, b) WTP_CAT_(a, b)
/// Defines a case body run once on each backend, as two test cases "sqlite: NAME" and
/// "postgres: NAME".
#define STORE_CASE(name, tags) STORE_CASE_(WTP_CAT(store_case_, __LINE__), name, tags)
#define STORE_CASE_(fn, name, tags)                        \
  static void fn(Db& db);                                  \
  TEST_CASE("sqlite: " name, "[store][sqlite]" tags) {     \
    Db db = sqlite_db();                                   \
    fn(db);                                                \
  }                                                        \
  TEST_CASE("postgres: " name, "[store][postgres]" tags) { \
    WTP_REQUIRE_POSTGRES(server);                          \
    Db db = postgres_db(*server);                          \
    fn(db);                                                \
  }                                                        \
  static void fn(Db& db)

STORE_CASE("users: create, find, delete", "") {
  auto store = open_store(db.url);
  const User a = store->create_user("E1", "Ann Example", kT0);
  const User b = store->create_user("E2", "Bob", kT0 + 1);
  CHECK(a.id != b.id);
  auto found = store->find_user(a.id);
  REQUIRE(found);
  CHECK(found->employee_id == "E1");
  CHECK(found->name == "Ann Example");
  CHECK(found->created_at == kT0);
  CHECK(found->templates == 0);
  REQUIRE(store->find_user_by_employee_id("E2"));
  CHECK(store->find_user_by_employee_id("E2")->id == b.id);
  CHECK_FALSE(store->find_user_by_employee_id("E3"));
  CHECK(store->delete_user(a.id));
  CHECK_FALSE(store->delete_user(a.id));
  CHECK_FALSE(store->find_user(a.id));
  CHECK(store->find_user(b.id));
}

STORE_CASE("users: search is case-insensitive and paged and takes text verbatim", "") {
  auto store = open_store(db.url);
  for (int i = 0; i < 25; ++i)
    store->create_user("E" + std::to_string(100 + i),
                       i % 5 == 0 ? "Alice " + std::to_string(i) : "Bob " + std::to_string(i),
                       kT0 + i);
  const std::string payload = "x'); DROP TABLE users; -- <b>100%_</b>";
  store->create_user("E999", payload, kT0);
  std::int64_t total = 0;
  auto page = store->list_users("", 0, 10, total);
  CHECK(total == 26);
  REQUIRE(page.size() == 10);
  CHECK(page[0].employee_id == "E100");
  CHECK(page[9].employee_id == "E109");
  page = store->list_users("", 20, 10, total);
  CHECK(page.size() == 6);
  page = store->list_users("aLIce", 0, 100, total);
  CHECK(total == 5);
  CHECK(page.size() == 5);
  page = store->list_users("e11", 0, 100, total);  // employee ids E110..E119
  CHECK(total == 10);
  page = store->list_users("0%_", 0, 100, total);  // % and _ are literal
  REQUIRE(total == 1);
  CHECK(page[0].name == payload);
  page = store->list_users("nobody", 0, 100, total);
  CHECK(total == 0);
  CHECK(page.empty());
}

STORE_CASE("duplicates raise ConflictError", "") {
  auto store = open_store(db.url);
  store->create_user("E1", "Ann", kT0);
  CHECK_THROWS_AS(store->create_user("E1", "Other", kT0), ConflictError);
  store->create_admin("root", "hash", kT0);
  CHECK_THROWS_AS(store->create_admin("root", "hash2", kT0), ConflictError);
  std::int64_t total = 0;
  store->list_users("", 0, 10, total);
  CHECK(total == 1);
  CHECK(store->count_admins() == 1);
}

STORE_CASE("templates: stored exactly; deleting a user deletes them and keeps attendance", "") {
  auto store = open_store(db.url);
  const User ann = store->create_user("E1", "Ann", kT0);
  const User bob = store->create_user("E2", "Bob", kT0);
  const auto ea = embeddings(3, 5, 1.0f), eb = embeddings(2, 5, -7.5f);
  store->add_templates(ann.id, "md5-a", ea, kT0);
  store->add_templates(bob.id, "md5-b", eb, kT0);
  CHECK(store->find_user(ann.id)->templates == 3);
  auto all = store->all_templates();
  REQUIRE(all.size() == 5);
  for (std::size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1].id < all[i].id);
  CHECK(all[0].user_id == ann.id);
  CHECK(all[0].model_md5 == "md5-a");
  CHECK(all[2].embedding == ea[2]);
  CHECK(all[4].user_id == bob.id);
  CHECK(all[4].embedding == eb[1]);

  CHECK_THROWS_AS(store->add_templates(ann.id + bob.id + 100, "m", ea, kT0), std::invalid_argument);
  auto mixed = embeddings(2, 5, 0.0f);
  mixed[1].push_back(1.0f);
  CHECK_THROWS_AS(store->add_templates(ann.id, "m", mixed, kT0), std::invalid_argument);
  CHECK(store->all_templates().size() == 5);

  store->record_attendance(ann.id, kT0, "2025-12-06", 0);
  store->record_attendance(bob.id, kT0 + 5, "2025-12-06", 0);
  REQUIRE(store->delete_user(ann.id));
  all = store->all_templates();
  REQUIRE(all.size() == 2);
  CHECK(all[0].user_id == bob.id);
  const auto events = store->attendance(std::nullopt, "", "");
  REQUIRE(events.size() == 2);
  CHECK_FALSE(events[0].user_id);
  CHECK(events[0].employee_id == "E1");
  CHECK(events[0].name == "Ann");
  CHECK(events[1].user_id == bob.id);
}

STORE_CASE("attendance: alternates per day, debounces, filters by user and day", "") {
  auto store = open_store(db.url);
  const User ann = store->create_user("E1", "Ann", kT0);
  const User bob = store->create_user("E2", "Bob", kT0);
  const std::int64_t minute = 60000;
  auto e1 = store->record_attendance(ann.id, kT0, "2025-12-06", minute);
  CHECK(e1.kind == AttendanceKind::kCheckIn);
  CHECK(e1.user_id == ann.id);
  CHECK(e1.employee_id == "E1");
  auto again = store->record_attendance(ann.id, kT0 + 30000, "2025-12-06", minute);
  CHECK(again.id == e1.id);  // debounced: the same event, nothing written
  CHECK(again.at == kT0);
  auto e2 = store->record_attendance(ann.id, kT0 + 2 * minute, "2025-12-06", minute);
  CHECK(e2.kind == AttendanceKind::kCheckOut);
  auto e3 = store->record_attendance(ann.id, kT0 + 9 * minute, "2025-12-06", minute);
  CHECK(e3.kind == AttendanceKind::kCheckIn);
  auto b1 = store->record_attendance(bob.id, kT0 + 10 * minute, "2025-12-06", minute);
  CHECK(b1.kind == AttendanceKind::kCheckIn);  // per user
  // The next day starts with a check-in although Ann is still checked in.
  auto e4 = store->record_attendance(ann.id, kT0 + 24 * 60 * minute, "2025-12-07", minute);
  CHECK(e4.kind == AttendanceKind::kCheckIn);
  CHECK_THROWS_AS(store->record_attendance(ann.id + bob.id + 100, kT0, "2025-12-06", 0),
                  std::invalid_argument);

  CHECK(store->attendance(std::nullopt, "", "").size() == 5);
  const auto ann_events = store->attendance(ann.id, "", "");
  REQUIRE(ann_events.size() == 4);
  CHECK(ann_events[0].id == e1.id);
  CHECK(ann_events[3].id == e4.id);
  CHECK(store->attendance(ann.id, "2025-12-06", "2025-12-06").size() == 3);
  CHECK(store->attendance(std::nullopt, "2025-12-07", "").size() == 1);
  CHECK(store->attendance(std::nullopt, "", "2025-12-05").empty());
  CHECK(store->attendance(bob.id, "2025-12-06", "2025-12-07").size() == 1);
}

STORE_CASE("challenges: taken once, never after expiry", "") {
  auto store = open_store(db.url);
  store->put_challenge("h1", R"({"cue_after_ms":1500})", kT0 + 30000);
  store->put_challenge("h2", "{}", kT0 + 30000);
  CHECK_FALSE(store->take_challenge("unknown", kT0));
  auto p = store->take_challenge("h1", kT0 + 1000);
  REQUIRE(p);
  CHECK(*p == R"({"cue_after_ms":1500})");
  CHECK_FALSE(store->take_challenge("h1", kT0 + 1001));   // replay
  CHECK_FALSE(store->take_challenge("h2", kT0 + 30000));  // expired (expires_at > now fails)
  CHECK_FALSE(store->take_challenge("h2", kT0 + 1));      // and gone
}

STORE_CASE("challenges: 8 instances take one at once, exactly one wins", "") {
  constexpr int kThreads = 8, kRounds = 4;
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < kThreads; ++i) stores.push_back(open_store(db.url));
  for (int round = 0; round < kRounds; ++round) {
    const std::string nonce = "nonce-" + std::to_string(round);
    stores[0]->put_challenge(nonce, "payload", kT0 + 30000);
    std::atomic<int> ready{0}, wins{0}, errors{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
      threads.emplace_back([&, i] {
        ++ready;
        while (ready < kThreads) std::this_thread::yield();
        try {
          if (stores[i]->take_challenge(nonce, kT0 + 1)) ++wins;
        } catch (const std::exception&) {
          ++errors;
        }
      });
    for (auto& t : threads) t.join();
    CHECK(errors == 0);
    CHECK(wins == 1);
  }
}

STORE_CASE("sessions expire; API keys are found until revoked", "") {
  auto store = open_store(db.url);
  CHECK(store->count_admins() == 0);
  const Admin admin = store->create_admin("root", "$argon2id$hash", kT0);
  CHECK(store->count_admins() == 1);
  auto found = store->find_admin("root");
  REQUIRE(found);
  CHECK(found->id == admin.id);
  CHECK(found->password_hash == "$argon2id$hash");
  CHECK_FALSE(store->find_admin("ROOT"));

  store->create_session("tok", admin.id, "csrf", kT0 + 1000);
  auto session = store->find_session("tok", kT0 + 999);
  REQUIRE(session);
  CHECK(session->admin_id == admin.id);
  CHECK(session->admin_name == "root");
  CHECK(session->csrf_token == "csrf");
  CHECK(session->expires_at == kT0 + 1000);
  CHECK_FALSE(store->find_session("tok", kT0 + 1000));
  CHECK_FALSE(store->find_session("other", kT0));
  store->delete_session("tok");
  CHECK_FALSE(store->find_session("tok", kT0));

  const ApiKey k1 = store->create_api_key(admin.id, "ci", "wtp_ab12", "keyhash1", kT0);
  const ApiKey k2 = store->create_api_key(admin.id, "kiosk", "wtp_cd34", "keyhash2", kT0 + 1);
  CHECK_THROWS_AS(store->create_api_key(admin.id, "dup", "wtp_ab12", "keyhash1", kT0),
                  ConflictError);
  auto key = store->find_api_key("keyhash1");
  REQUIRE(key);
  CHECK(key->id == k1.id);
  CHECK(key->prefix == "wtp_ab12");
  CHECK(key->name == "ci");
  CHECK_FALSE(key->revoked_at);
  CHECK(store->revoke_api_key(k1.id, kT0 + 50));
  CHECK_FALSE(store->revoke_api_key(k1.id, kT0 + 60));
  CHECK_FALSE(store->revoke_api_key(k2.id + 100, kT0));
  CHECK_FALSE(store->find_api_key("keyhash1"));
  CHECK(store->find_api_key("keyhash2"));
  const auto keys = store->list_api_keys();
  REQUIRE(keys.size() == 2);
  CHECK(keys[0].revoked_at == kT0 + 50);
  CHECK_FALSE(keys[1].revoked_at);
}

STORE_CASE("audit: newest first, paged", "") {
  auto store = open_store(db.url);
  for (int i = 0; i < 5; ++i)
    store->audit({0, kT0 + i, "admin:root", "user.create", "E" + std::to_string(i), "ok",
                  "127.0.0.1", "req-" + std::to_string(i)});
  auto log = store->audit_log(0, 2);
  REQUIRE(log.size() == 2);
  CHECK(log[0].target == "E4");
  CHECK(log[0].request_id == "req-4");
  CHECK(log[0].actor == "admin:root");
  CHECK(log[0].ip == "127.0.0.1");
  CHECK(log[1].target == "E3");
  log = store->audit_log(4, 10);
  REQUIRE(log.size() == 1);
  CHECK(log[0].target == "E0");
}

STORE_CASE("templates_version changes with every change, seen by a second instance", "") {
  auto a = open_store(db.url);
  auto b = open_store(db.url);
  std::int64_t v = b->templates_version();
  const auto changed = [&] {
    const std::int64_t now = b->templates_version();
    const bool moved = now != v;
    v = now;
    return moved;
  };
  const User ann = a->create_user("E1", "Ann", kT0);
  CHECK(changed());
  a->add_templates(ann.id, "md5", embeddings(3, 4, 0.5f), kT0);
  CHECK(changed());
  CHECK(b->all_templates().size() == 3);
  a->record_attendance(ann.id, kT0, "2025-12-06", 0);
  a->audit({0, kT0, "anonymous", "login", "", "ok", "", ""});
  CHECK_FALSE(changed());
  CHECK_FALSE(a->delete_user(ann.id + 100));
  CHECK_FALSE(changed());
  CHECK(a->delete_user(ann.id));
  CHECK(changed());
  CHECK(b->all_templates().empty());
}

STORE_CASE("8 threads writing concurrently lose nothing", "") {
  constexpr int kThreads = 8, kUsers = 6;
  auto store = open_store(db.url);
  const std::int64_t v0 = store->templates_version();
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < kUsers; ++i) {
          const std::string id = "T" + std::to_string(t) + "-" + std::to_string(i);
          const User u = store->create_user(id, "Name " + id, kT0);
          store->add_templates(u.id, "md5", embeddings(2, 8, static_cast<float>(t)), kT0);
          store->record_attendance(u.id, kT0 + i, "2025-12-06", 0);
          store->audit({0, kT0, "admin:root", "user.create", id, "ok", "", ""});
          store->put_challenge("c" + id, "{}", kT0 + 1000);
        }
      } catch (const std::exception& e) {
        ++errors;
      }
    });
  for (auto& t : threads) t.join();
  REQUIRE(errors == 0);
  std::int64_t total = 0;
  store->list_users("", 0, 1, total);
  CHECK(total == kThreads * kUsers);
  CHECK(store->all_templates().size() == 2u * kThreads * kUsers);
  CHECK(store->attendance(std::nullopt, "", "").size() == 1u * kThreads * kUsers);
  CHECK(store->audit_log(0, 1000).size() == 1u * kThreads * kUsers);
  CHECK(store->templates_version() - v0 == 2 * kThreads * kUsers);
}

STORE_CASE("a process killed during add_templates leaves no half-written batch", "") {
  constexpr int kBatch = 400, kDim = 128;
  std::int64_t user_id = 0;
  {
    auto store = open_store(db.url);
    user_id = store->create_user("E1", "Ann", kT0).id;
  }
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {  // the child adds batches until it is killed
    try {
      auto store = open_store(db.url);
      const auto batch = embeddings(kBatch, kDim, 0.0f);
      for (;;) store->add_templates(user_id, "md5", batch, kT0);
    } catch (...) {
    }
    _exit(3);
  }
  auto store = open_store(db.url);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (store->find_user(user_id)->templates < 2 * kBatch &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(7));  // somewhere inside a batch
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFSIGNALED(status));  // the child was still writing (it never exits by itself)
  auto reopened = open_store(db.url);
  const auto all = reopened->all_templates();
  INFO("templates after the kill: " << all.size());
  CHECK(all.size() >= 2u * kBatch);
  CHECK(all.size() % kBatch == 0);
  CHECK(reopened->find_user(user_id)->templates == static_cast<std::int64_t>(all.size()));
  for (const auto& t : all) CHECK(t.embedding.size() == static_cast<std::size_t>(kDim));
  reopened->add_templates(user_id, "md5", embeddings(1, kDim, 0.0f), kT0);  // still writable
}

STORE_CASE("reopening keeps the data and the schema; a newer schema is refused", "") {
  {
    auto store = open_store(db.url);
    store->create_user("E1", "Ann", kT0);
  }
  auto store = open_store(db.url);
  CHECK(store->find_user_by_employee_id("E1"));
  CHECK(db.sql("SELECT COUNT(*) FROM schema_version") == "1");
  CHECK(db.sql("SELECT MAX(version) FROM schema_version") == "1");
  store.reset();
  db.sql("INSERT INTO schema_version(version, applied_at) VALUES(99, 0)");
  try {
    open_store(db.url);
    FAIL("a database of a newer schema was opened");
  } catch (const wtp::UsageError& e) {
    CHECK_THAT(e.what(), Catch::Contains("schema version 99") && Catch::Contains("newer"));
  }
}

STORE_CASE("an empty database from before the schema table is migrated", "") {
  db.sql("CREATE TABLE unrelated(x INTEGER)");
  auto store = open_store(db.url);
  CHECK(db.sql("SELECT MAX(version) FROM schema_version") == "1");
  CHECK(store->templates_version() == 0);
}

TEST_CASE("open_store: unknown scheme and unreachable server are UsageErrors", "[store]") {
  CHECK_THROWS_AS(open_store("mysql://u@h/db"), wtp::UsageError);
  CHECK_THROWS_WITH(open_store("mysql://u@h/db"), Catch::Contains("unknown database scheme"));
  CHECK_THROWS_AS(open_store("sqlite:"), wtp::UsageError);
  CHECK_THROWS_AS(open_store(""), wtp::UsageError);
  TempDir dir;
  try {  // nothing listens on port 1 of the loopback
    open_store("postgresql://wtp:s3cret-pw@127.0.0.1:1/wtp?connect_timeout=5");
    FAIL("connected to 127.0.0.1:1");
  } catch (const wtp::UsageError& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("cannot connect to PostgreSQL at postgresql://wtp:***@"));
    CHECK_THAT(what, !Catch::Contains("s3cret"));
  }
  CHECK_THAT(wtp::db::redact_url("postgres://h/db?user=u&password=pw&sslmode=require"),
             Catch::Equals("postgres://h/db?user=u&password=***&sslmode=require"));
  // A plain path is a SQLite file.
  auto store = open_store((dir / "plain.db").string());
  store->create_user("E1", "Ann", kT0);
  CHECK(std::filesystem::exists(dir / "plain.db"));
}
