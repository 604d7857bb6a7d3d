#pragma once
/// The PostgreSQL backend of Store (`postgresql://...` / `postgres://...`).
///
/// A pool of up to 8 connections shared by the server's threads. Several wtp-serve
/// instances may share one database: migrations run under a transaction-level advisory
/// lock, a challenge is consumed by one conditional UPDATE ... RETURNING, attendance is
/// written with the user's row locked (FOR UPDATE), and templates_version() reads a
/// counter row bumped in the same transaction as every change of users or templates.
#include <memory>
#include <string>

#include "serve/store.h"

namespace wtp::serve {

/// Connects to `url` (a libpq connection URI) and migrates its schema.
std::unique_ptr<Store> open_postgres_store(const std::string& url);

}  // namespace wtp::serve
