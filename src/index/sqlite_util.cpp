#include "index/sqlite_util.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <utility>

namespace xrs::index_internal {

std::string utc_now_iso8601() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

Status sqlite_status(int rc, const std::string& path, std::string_view what, sqlite3* db) {
  std::string m = path + ": " + std::string(what) + ": ";
  // sqlite3_errmsg describes the most recent failure on the connection, which is this one;
  // without a connection only the generic text for the code is known.
  m += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return Status::corruption(std::move(m));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::unavailable(std::move(m));
    case SQLITE_READONLY:
      return Status::failed_precondition(std::move(m));
    case SQLITE_FULL:
      return Status::resource_exhausted(std::move(m));
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_PERM:
      return Status::io_error(std::move(m));
    case SQLITE_CONSTRAINT:
      return Status::already_exists(std::move(m));
    default:
      return Status::internal(std::move(m));
  }
}

StatusOr<Db> Db::open(const std::string& path, bool writable) {
  Db db;
  db.path_ = path;
  int flags = writable ? (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) : SQLITE_OPEN_READONLY;
  // NOMUTEX: a connection is confined to one thread at a time by its owner (Catalog docs).
  flags |= SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr);
  if (rc != SQLITE_OK) return db.error(rc, "open");
  sqlite3_extended_result_codes(db.db_, 1);
  return db;
}

Db::Db(Db&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Db::~Db() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status Db::exec(std::string_view sql) {
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(rc, text);
  return Status::ok();
}

StatusOr<std::optional<std::string>> Db::query_text(std::string_view sql) {
  XRS_ASSIGN_OR_RETURN(Stmt stmt, Stmt::prepare(*this, sql));
  XRS_ASSIGN_OR_RETURN(bool has_row, stmt.step(sql));
  if (!has_row) return std::optional<std::string>();
  return std::optional<std::string>(stmt.column_text(0));
}

StatusOr<int64_t> Db::query_int(std::string_view sql) {
  XRS_ASSIGN_OR_RETURN(Stmt stmt, Stmt::prepare(*this, sql));
  XRS_ASSIGN_OR_RETURN(bool has_row, stmt.step(sql));
  if (!has_row) return error(SQLITE_INTERNAL, std::string(sql) + ": no row");
  return stmt.column_int(0);
}

StatusOr<Stmt> Stmt::prepare(const Db& db, std::string_view sql) {
  Stmt s;
  s.db_ = db.handle();
  s.path_ = db.path();
  int rc =
      sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &s.stmt_, nullptr);
  if (rc != SQLITE_OK) return db.error(rc, "prepare '" + std::string(sql) + "'");
  return s;
}

Stmt::Stmt(Stmt&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      db_(std::exchange(other.db_, nullptr)),
      path_(std::move(other.path_)) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

Stmt::~Stmt() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

void Stmt::bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
}

void Stmt::bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

void Stmt::bind_blob(int index, std::span<const std::byte> bytes) {
  sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
}

StatusOr<bool> Stmt::step(std::string_view what) {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status s = sqlite_status(rc, path_, what, db_);
  sqlite3_reset(stmt_);
  return s;
}

Status Stmt::run(std::string_view what) {
  XRS_ASSIGN_OR_RETURN(bool has_row, step(what));
  (void)has_row;
  reset();
  return Status::ok();
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::column_int(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

std::string Stmt::column_text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
}

std::span<const std::byte> Stmt::column_blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  if (p == nullptr) return {};
  return {static_cast<const std::byte*>(p), static_cast<size_t>(n)};
}

}  // namespace xrs::index_internal
