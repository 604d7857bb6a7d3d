// wtp-serve: the face log-in service (HTTP API in src/serve/server.h).
//
//   wtp-serve --model runs/quickstart/model.ts --liveness runs/quickstart_liveness/liveness.ts
//   wtp-serve admin create NAME        the password is read from the terminal (or stdin)
//   wtp-serve admin list
//
// Plain HTTP on --host (default 127.0.0.1): put a TLS reverse proxy in front of it.
// SIGTERM or Ctrl-C stops accepting connections, finishes the requests in flight and
// closes the database.
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "common/cli.h"
#include "core/error.h"
#include "serve/server.h"

namespace {

/// Reads a line from stdin; on a terminal, without echo.
std::string read_secret(const char* prompt) {
  const bool tty = isatty(STDIN_FILENO);
  termios saved{};
  if (tty) {
    std::fprintf(stderr, "%s", prompt);
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\n");
  }
  if (!got) throw wtp::UsageError("no password given: type it, or pipe it on stdin");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  namespace sv = wtp::serve;
  wtp::cli::Tool tool("wtp-serve",
                      "Face log-in service: enrolment, log-in with a blink, attendance (HTTP API)");
  tool.bind("--host", "host", "address to listen on (default 127.0.0.1; TLS: a reverse proxy)");
  tool.bind("--port", "port", "TCP port (default 8080)");
  tool.bind("--db", "db", "database: sqlite:PATH (default sqlite:wtp.db) or postgresql://...");
  tool.bind("--model", "service.model", "embedding archive (wtp-export --what embedding)");
  tool.bind("--liveness", "service.liveness", "eye-state archive (wtp-export --what liveness)");
  tool.bind("--detector", "service.detector",
            "face detector: haar, an MTCNN weights directory or a detector archive");
  tool.bind("--static", "http.static_root", "folder of the web page served at / (the repo's web/)");
  tool.app().footer("Config keys (--config FILE, --set key=value):\n" +
                    sv::describe_serve_options());
  auto* admin = tool.app().add_subcommand("admin", "manage administrators");
  admin->fallthrough();
  admin->require_subcommand(1);
  std::string admin_name;
  auto* create = admin->add_subcommand(
      "create",
      "create an administrator; the password (at least auth.min_password_length "
      "characters) is read from the terminal without echo, or from stdin");
  create->add_option("NAME", admin_name, "administrator name")->required();
  create->fallthrough();
  auto* list = admin->add_subcommand("list", "list the administrators");
  list->fallthrough();
  return tool.run(argc, argv, [&] {
    const auto options = wtp::config::decode<sv::ServeOptions>(tool.config());
    if (create->parsed()) {
      const std::string password = read_secret("password: ");
      if (isatty(STDIN_FILENO) && read_secret("again: ") != password)
        throw wtp::UsageError("the two passwords differ");
      sv::create_admin(options, admin_name, password);
      std::printf("created administrator %s\n", admin_name.c_str());
    } else if (list->parsed()) {
      std::printf("%s", sv::list_admins(options).c_str());
    } else {
      sv::run_serve(options, [](int port) {
        std::printf("wtp-serve: listening on port %d\n", port);
        std::fflush(stdout);
      });
    }
  });
}
