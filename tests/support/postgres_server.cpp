#include "postgres_server.h"

#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "test_support.h"

namespace wtp::test {
namespace {

constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";

/// `text` as one single-quoted shell word.
std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

PostgresServer* PostgresServer::get(std::string& why) {
  static std::mutex mutex;
  static std::unique_ptr<PostgresServer> server;
  std::lock_guard<std::mutex> lock(mutex);
  if (server) return server.get();
  if (!std::filesystem::exists(std::string(kBinDir) + "/initdb")) {
    why = std::string("PostgreSQL 15 is not installed (") + kBinDir +
          "/initdb is missing): apt-get install postgresql-15";
    return nullptr;
  }
  std::unique_ptr<PostgresServer> s(new PostgresServer);
  s->bin_ = kBinDir;
  char pattern[] = "/tmp/wtp-pg-XXXXXX";
  if (!mkdtemp(pattern)) throw std::runtime_error("PostgresServer: mkdtemp failed");
  s->dir_ = pattern;
  if (geteuid() == 0) {  // initdb and postgres refuse to run as root
    const passwd* pw = getpwnam("postgres");
    if (!pw)
      throw std::runtime_error(
          "PostgresServer: running as root and there is no 'postgres' user to run the server "
          "(Debian's postgresql-15 package creates it)");
    if (chown(pattern, pw->pw_uid, pw->pw_gid) != 0)
      throw std::runtime_error("PostgresServer: cannot chown " + s->dir_ + " to postgres");
    s->as_owner_ = "runuser -u postgres -- ";
  }
  s->run_as_owner("/initdb -D " + s->dir_ +
                  "/data -U postgres -A trust -E UTF8 --no-sync --no-instructions");
  s->run_as_owner("/pg_ctl -D " + s->dir_ + "/data -l " + s->dir_ + "/log -w -t 60 -o \"-k " +
                  s->dir_ + " -c listen_addresses='' -F -c max_connections=300\" start");
  server = std::move(s);
  return server.get();
}

PostgresServer::~PostgresServer() {
  run_command(as_owner_ + bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop");
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void PostgresServer::run_as_owner(const std::string& command) const {
  const auto r = run_command(as_owner_ + bin_ + command);
  if (r.status != 0) {
    std::string log;
    try {
      log = read_file(dir_ + "/log");
    } catch (const std::exception&) {
    }
    throw std::runtime_error("PostgresServer: `" + bin_ + command + "` failed:\n" + r.output + log);
  }
}

std::string PostgresServer::create_database() {
  const std::string name = "wtp_test_" + std::to_string(databases_++);
  psql("postgresql:///postgres?host=" + dir_ + "&user=postgres", "CREATE DATABASE " + name);
  return "postgresql:///" + name + "?host=" + dir_ + "&user=postgres";
}

std::string PostgresServer::psql(const std::string& url, const std::string& sql) const {
  const auto r = run_command(bin_ + "/psql " + shell_quote(url) + " -v ON_ERROR_STOP=1 -qAt -c " +
                             shell_quote(sql));
  if (r.status != 0) throw std::runtime_error("psql failed on `" + sql + "`:\n" + r.output);
  return r.output;
}

}  // namespace wtp::test
