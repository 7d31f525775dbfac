// Internal to the index module: a thin RAII layer over the SQLite C API that turns every failure
// into a Status naming the database file and the operation.
//
// A Db owns one connection; a Stmt owns one prepared statement. Neither is thread-safe: a
// connection is used by one thread at a time (the Catalog documents how).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/status.h"

namespace xrs::index_internal {

// The current time as ISO 8601 UTC with milliseconds: "2026-01-31T12:34:56.789Z".
std::string utc_now_iso8601();

// Maps a SQLite result code to a Status: NOTADB/CORRUPT -> kCorruption, BUSY/LOCKED ->
// kUnavailable, READONLY -> kFailedPrecondition, FULL -> kResourceExhausted, CANTOPEN/IOERR ->
// kIoError, CONSTRAINT -> kAlreadyExists, anything else -> kInternal.
Status sqlite_status(int rc, const std::string& path, std::string_view what, sqlite3* db);

class Db {
 public:
  // Opens `path` (SQLITE_OPEN_READONLY or READWRITE|CREATE per `writable`); no I/O happens
  // until the first statement runs, so a garbage file is reported by the first query.
  static StatusOr<Db> open(const std::string& path, bool writable);

  Db() = default;
  Db(Db&& other) noexcept;
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Runs one or more statements that return no rows the caller needs.
  Status exec(std::string_view sql);
  // The first column of the first row of `sql` as text (nullopt when no row).
  StatusOr<std::optional<std::string>> query_text(std::string_view sql);
  StatusOr<int64_t> query_int(std::string_view sql);

  Status error(int rc, std::string_view what) const { return sqlite_status(rc, path_, what, db_); }
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  // True while a transaction is open (SQLite may end one by itself after I/O errors).
  bool in_transaction() const { return db_ != nullptr && sqlite3_get_autocommit(db_) == 0; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Stmt {
 public:
  static StatusOr<Stmt> prepare(const Db& db, std::string_view sql);

  Stmt() = default;
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  // Binding (1-based indices, as SQLite). Text and blobs are copied (SQLITE_TRANSIENT).
  void bind(int index, int64_t value);
  void bind(int index, std::string_view text);
  void bind_blob(int index, std::span<const std::byte> bytes);

  // Advances: true with a row, false when done; errors name the statement's purpose.
  StatusOr<bool> step(std::string_view what);
  // Runs a statement that returns no rows.
  Status run(std::string_view what);
  // Clears bindings and rewinds, so a cached statement can be reused.
  void reset();

  int64_t column_int(int col) const;
  std::string column_text(int col) const;
  std::span<const std::byte> column_blob(int col) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace xrs::index_internal
