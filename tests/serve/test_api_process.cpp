// The wtp-serve binary as a child process: admin commands, --help, refusing bad archives,
// kill -9 during enrolment (nothing half-enrolled, a restart serves what was committed) and
// SIGTERM (the request in flight finishes, the database is closed).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <sys/wait.h>
#include <thread>

#include "catch_torch.h"
#include "serve_fixture.h"
#include "synth/clips.h"
#include "test_api_support.h"

using namespace wtp::test;
using json = nlohmann::json;

namespace {

const char* kPassword = "correct horse battery";

std::string serve_exe() { return (bin_dir() / "wtp-serve").string(); }

/// wtp-serve running as a child process, its output in `log`.
class ServeProcess {
 public:
  ServeProcess(const std::vector<std::string>& args, std::filesystem::path log)
      : log_(std::move(log)) {
    std::vector<std::string> argv{serve_exe()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::ofstream(log_).flush();  // exists before the child writes to it
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      std::FILE* out = std::fopen(log_.c_str(), "w");
      dup2(fileno(out), STDOUT_FILENO);
      dup2(fileno(out), STDERR_FILENO);
      std::vector<char*> c_argv;
      for (auto& a : argv) c_argv.push_back(a.data());
      c_argv.push_back(nullptr);
      execv(c_argv[0], c_argv.data());
      _exit(127);
    }
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  /// The port from "listening on port N" (REQUIREs it within 120 s).
  int port() {
    for (int i = 0; i < 1200; ++i) {
      const std::string text = read_file(log_);
      const auto at = text.find("listening on port ");
      if (at != std::string::npos) return std::stoi(text.substr(at + 18));
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("wtp-serve exited: " << text);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL("wtp-serve did not start: " << read_file(log_));
    return -1;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  /// The exit status after the process ends (waits up to `seconds`), -1 on timeout.
  int wait(int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }
  std::string log() const { return read_file(log_); }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(120, 0);
  return c;
}

AdminSession admin_session(httplib::Client& c) {
  auto r = c.Post("/api/v1/admin/login", json({{"name", "root"}, {"password", kPassword}}).dump(),
                  "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const std::string cookie = r->get_header_value("Set-Cookie");
  return {cookie.substr(0, cookie.find(';')), json::parse(r->body)["csrf_token"]};
}

void create_root(const std::string& db) {
  auto r = run_command("printf '" + std::string(kPassword) + "\\n' | " + serve_exe() +
                       " admin create root --db '" + db + "'");
  INFO(r.output);
  REQUIRE(r.status == 0);
}

std::vector<std::string> serve_args(const std::string& db, const ServeArchives& archives) {
  return {"--db",       db,
          "--port",     "0",
          "--model",    archives.model.string(),
          "--liveness", archives.liveness.string(),
          "--threads",  "1",
          "--set",      "limits.login_burst=1000",
          "--set",      "limits.ip_burst=1000"};
}

std::optional<ServeArchives> archives_or_skip() {
  std::string why;
  auto archives = serve_archives(why);
  if (!archives) [&] { WTP_SKIP(why); }();
  return archives;
}

}  // namespace

TEST_CASE("wtp-serve admin create/list: password from stdin, short ones refused", "[api][tool]") {
  TempDir dir;
  const std::string db = "sqlite:" + (dir / "wtp.db").string();
  auto r =
      run_command("printf 'short\\n' | " + serve_exe() + " admin create root --db '" + db + "'");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("too short"));
  create_root(db);
  r = run_command("printf '" + std::string(kPassword) + "\\n' | " + serve_exe() +
                  " admin create root --db " + db);
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("exists already"));
  r = run_command(serve_exe() + " admin list --db " + db);
  CHECK(r.status == 0);
  CHECK(r.output.rfind("root\t", 0) == 0);
  CHECK(r.output.find(kPassword) == std::string::npos);
  CHECK(r.output.find("argon2") == std::string::npos);
}

TEST_CASE("wtp-serve --help documents every option; bad archives refuse to start", "[api][tool]") {
  auto help = run_command(serve_exe() + " --help");
  CHECK(help.status == 0);
  for (const char* key : {"--host", "--port", "--db", "--model", "--liveness", "--detector",
                          "http.max_body_bytes", "auth.cookie_secure", "limits.lockout_failures",
                          "service.margin", "service.max_frames", "http.static_root"})
    CHECK_THAT(help.output, Catch::Contains(key));
  TempDir dir;
  auto r = run_command(serve_exe() + " --model " + (dir / "none.ts").string() + " --liveness " +
                       (dir / "none.ts").string() + " --db sqlite:" + (dir / "wtp.db").string());
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("none.ts"));
  auto archives = archives_or_skip();
  if (!archives) return;
  const std::string bytes = read_file(archives->model);
  std::ofstream(dir / "cut.ts", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  r = run_command(serve_exe() + " --model " + (dir / "cut.ts").string() + " --liveness " +
                  archives->liveness.string() + " --db sqlite:" + (dir / "wtp.db").string());
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("cut.ts"));
}

namespace {

void kill_during_enrolment(const std::string& db, const ServeArchives& archives) {
  TempDir dir;
  create_root(db);
  constexpr int kUsers = 8;
  std::vector<std::int64_t> ids;
  std::vector<std::atomic<int>> status(kUsers);
  {
    ServeProcess serve(serve_args(db, archives), dir / "serve1.log");
    auto c = client(serve.port());
    AdminSession s = admin_session(c);
    for (int k = 0; k < kUsers; ++k) {
      auto r = c.Post("/api/v1/users", s.headers(),
                      json({{"employee_id", "K-" + std::to_string(k)}, {"name", "K"}}).dump(),
                      "application/json");
      REQUIRE(r);
      ids.push_back(json::parse(r->body)["id"]);
    }
    std::vector<json> images;
    for (int k = 0; k < kUsers; ++k) {
      wtp::synth::EnrolOptions o;
      o.seed = kPeopleSeed;
      o.identity = kPeople[k];
      o.size = 128;
      json list = json::array();
      for (const auto& f : wtp::synth::render_enrolment(o)) {
        std::vector<unsigned char> png;
        cv::imencode(".png", f.image, png);
        list.push_back(base64(std::string(png.begin(), png.end())));
      }
      images.push_back(list);
    }
    std::thread enroller([&] {
      auto ec = client(serve.port());
      for (int k = 0; k < kUsers; ++k) {
        auto r = ec.Post(("/api/v1/users/" + std::to_string(ids[k]) + "/faces").c_str(),
                         s.headers(), json({{"images", images[k]}}).dump(), "application/json");
        status[k] = r ? r->status : -1;
        if (!r) return;
      }
    });
    // Kill as soon as two enrolments are through, with the third in flight.
    for (int i = 0; i < 6000 && status[1] == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    serve.signal(SIGKILL);
    enroller.join();
    CHECK(serve.wait(10) == 128 + SIGKILL);
  }
  REQUIRE(status[0] == 200);
  REQUIRE(status[1] == 200);
  ServeProcess again(serve_args(db, archives), dir / "serve2.log");
  auto c = client(again.port());
  AdminSession s = admin_session(c);
  for (int k = 0; k < kUsers; ++k) {
    INFO("user " << k << " enrolment status " << status[k]);
    auto r = c.Get(("/api/v1/users/" + std::to_string(ids[k])).c_str(), s.headers(false));
    REQUIRE(r);
    REQUIRE(r->status == 200);
    const int templates = json::parse(r->body)["templates"];
    if (status[k] == 200) CHECK(templates == 4);
    CHECK((templates == 0 || templates == 4));
  }
  auto health = c.Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
}

}  // namespace

TEST_CASE("sqlite: kill -9 during enrolment: no half-enrolled user, a restart serves the rest",
          "[api][process][sqlite]") {
  auto archives = archives_or_skip();
  if (!archives) return;
  TempDir dir;
  kill_during_enrolment("sqlite:" + (dir / "wtp.db").string(), *archives);
}

TEST_CASE("postgres: kill -9 during enrolment: no half-enrolled user, a restart serves the rest",
          "[api][process][postgres]") {
  auto archives = archives_or_skip();
  if (!archives) return;
  WTP_REQUIRE_POSTGRES(server);
  kill_during_enrolment(server->create_database(), *archives);
}

TEST_CASE("SIGTERM: the request in flight finishes, then the server stops and closes the database",
          "[api][process]") {
  auto archives = archives_or_skip();
  if (!archives) return;
  TempDir dir;
  const std::string db = "sqlite:" + (dir / "wtp.db").string();
  create_root(db);
  ServeProcess serve(serve_args(db, *archives), dir / "serve.log");
  const int port = serve.port();
  // An admin log-in (an Argon2id verification, hundreds of ms) is in flight when SIGTERM comes.
  std::atomic<int> status{0};
  std::thread request([&] {
    auto c = client(port);
    auto r = c.Post("/api/v1/admin/login", json({{"name", "root"}, {"password", kPassword}}).dump(),
                    "application/json");
    status = r ? r->status : -1;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  serve.signal(SIGTERM);
  request.join();
  CHECK(status == 200);
  CHECK(serve.wait(30) == 0);
  const std::string log = serve.log();
  CHECK_THAT(log, Catch::Contains("finishing requests in flight"));
  CHECK_THAT(log, Catch::Contains("database closed"));
  CHECK_FALSE(client(port).Get("/healthz"));  // no longer listening
}
