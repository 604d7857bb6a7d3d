#include "serve/store.h"

#include "core/error.h"
#include "serve/store_postgres.h"
#include "serve/store_sqlite.h"

namespace wtp::serve {

std::unique_ptr<Store> open_store(const std::string& url) {
  const auto starts = [&](const char* prefix) { return url.rfind(prefix, 0) == 0; };
  if (starts("postgresql://") || starts("postgres://")) return open_postgres_store(url);
  if (starts("sqlite:")) {
    const std::string path = url.substr(7);
    require(!path.empty(), "database URL 'sqlite:' names no file: use sqlite:PATH");
    return open_sqlite_store(path);
  }
  const auto scheme = url.find("://");
  require(!url.empty(), "no database given: use sqlite:PATH, a file path or postgresql://...");
  require(scheme == std::string::npos,
          "unknown database scheme '" + url.substr(0, scheme) +
              "': use sqlite:PATH, a file path or postgresql://USER@HOST/DB");
  return open_sqlite_store(url);
}

}  // namespace wtp::serve
