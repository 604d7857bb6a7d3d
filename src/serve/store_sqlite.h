#pragma once
/// The SQLite backend of Store (`sqlite:PATH` or a plain path).
///
/// One connection per Store, behind a mutex: SQLite allows one writer at a time anyway, and
/// the store's statements are short. Several Stores (processes) on one file coordinate
/// through SQLite's locks: WAL journal, a busy timeout of 30 s, every write a
/// `BEGIN IMMEDIATE` transaction, `synchronous=FULL` (a committed write survives a power
/// cut), foreign keys on.
#include <memory>
#include <string>

#include "serve/store.h"

namespace wtp::serve {

/// Opens (creating and migrating) the SQLite database file `path`.
std::unique_ptr<Store> open_sqlite_store(const std::string& path);

}  // namespace wtp::serve
