// Catalog writes: Transaction and its validation of records.
#include <cmath>
#include <nlohmann/json.hpp>

#include "index/catalog.h"
#include "index/sqlite_util.h"

namespace xrs {

using index_internal::Db;
using index_internal::Stmt;

namespace {

Status check_metadata(const ImageRecord& r) {
  const std::string where = "image '" + r.image_name + "': ";
  if (r.image_name.empty()) return Status::invalid_argument("image record: empty image_name");
  if (r.category.empty()) return Status::invalid_argument(where + "empty category");
  if (r.relative_path.empty()) return Status::invalid_argument(where + "empty relative_path");
  if (r.sha256.size() != 64 ||
      r.sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::invalid_argument(where + "sha256 '" + r.sha256 +
                                    "' is not 64 lower-case hex digits");
  }
  if (r.file_size > static_cast<uint64_t>(INT64_MAX)) {
    return Status::invalid_argument(where + "file_size out of range");
  }
  auto extra = nlohmann::json::parse(r.extra_json, nullptr, /*allow_exceptions=*/false);
  if (!extra.is_object()) {
    return Status::invalid_argument(where + "extra_json is not a JSON object: " + r.extra_json);
  }
  return Status::ok();
}

Status check_embedding(const ImageRecord& r, uint32_t dim) {
  const std::string where = "image '" + r.image_name + "': embedding ";
  if (r.embedding.size() != dim) {
    return Status::invalid_argument(where + "has " + std::to_string(r.embedding.size()) +
                                    " values, the index's model has dim " + std::to_string(dim));
  }
  double sum = 0;
  for (size_t i = 0; i < r.embedding.size(); ++i) {
    if (!std::isfinite(r.embedding[i])) {
      return Status::invalid_argument(where + "value " + std::to_string(i) + " is not finite");
    }
    sum += static_cast<double>(r.embedding[i]) * r.embedding[i];
  }
  double norm = std::sqrt(sum);
  if (std::abs(norm - 1.0) > 1e-3) {
    return Status::invalid_argument(where + "has L2 norm " + std::to_string(norm) +
                                    ", expected 1 (normalise it first)");
  }
  return Status::ok();
}

// Binds the metadata columns shared by upsert and rename to parameters 1..10.
void bind_metadata(Stmt& s, const ImageRecord& r) {
  s.bind(1, r.image_name);
  s.bind(2, r.category);
  s.bind(3, r.relative_path);
  s.bind(4, r.source_url);
  s.bind(5, r.sha256);
  s.bind(6, static_cast<int64_t>(r.file_size));
  s.bind(7, r.mtime_ns);
  s.bind(8, static_cast<int64_t>(r.width));
  s.bind(9, static_cast<int64_t>(r.height));
  s.bind(10, r.extra_json);
}

}  // namespace

StatusOr<Transaction> Catalog::begin() {
  if (!writable_) {
    return Status::failed_precondition(path_ + ": opened read-only; cannot write");
  }
  if (in_transaction_) {
    return Status::failed_precondition(path_ + ": a transaction is already open on this catalog");
  }
  // IMMEDIATE takes the write lock now, so a busy database is reported here (after the busy
  // timeout) rather than as a failed upgrade in the middle of a batch.
  Status s = db_->exec("BEGIN IMMEDIATE");
  if (!s.is_ok()) {
    if (s.code() == StatusCode::kUnavailable) {
      return Status::unavailable(path_ + ": another process is writing to this index");
    }
    return s;
  }
  in_transaction_ = true;
  return Transaction(this);
}

Transaction::Transaction(Transaction&& other) noexcept
    : catalog_(std::exchange(other.catalog_, nullptr)), changed_(other.changed_) {}

Transaction::~Transaction() {
  rollback();
}

void Transaction::rollback() {
  if (catalog_ == nullptr) return;
  // A failed ROLLBACK leaves nothing to do: SQLite rolls the journal back on the next open.
  if (catalog_->db().in_transaction()) (void)catalog_->db().exec("ROLLBACK");
  catalog_->in_transaction_ = false;
  catalog_ = nullptr;
}

Status Transaction::check_open() const {
  if (catalog_ == nullptr) return Status::failed_precondition("transaction already finished");
  if (!catalog_->db().in_transaction()) {
    return Status::failed_precondition(catalog_->path() +
                                       ": the transaction was aborted after an earlier error");
  }
  return Status::ok();
}

StatusOr<int64_t> Transaction::upsert(const ImageRecord& record) {
  XRS_RETURN_IF_ERROR(check_open());
  XRS_RETURN_IF_ERROR(check_metadata(record));
  XRS_RETURN_IF_ERROR(check_embedding(record, catalog_->model().dim));
  Db& db = catalog_->db();
  XRS_ASSIGN_OR_RETURN(
      Stmt s,
      Stmt::prepare(db,
                    "INSERT INTO images (image_name, category, relative_path, source_url, sha256, "
                    "file_size, mtime_ns, width, height, extra_json, added_at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
                    "ON CONFLICT (image_name) DO UPDATE SET category = ?2, relative_path = ?3, "
                    "source_url = ?4, sha256 = ?5, file_size = ?6, mtime_ns = ?7, width = ?8, "
                    "height = ?9, extra_json = ?10 RETURNING id"));
  bind_metadata(s, record);
  s.bind(11, index_internal::utc_now_iso8601());
  XRS_ASSIGN_OR_RETURN(bool row, s.step("upsert image '" + record.image_name + "'"));
  if (!row) return Status::internal(db.path() + ": upsert returned no id");
  int64_t id = s.column_int(0);
  s.reset();
  changed_ = true;

  XRS_ASSIGN_OR_RETURN(Stmt e, Stmt::prepare(db,
                                             "INSERT INTO embeddings (image_id, vector) "
                                             "VALUES (?1, ?2) ON CONFLICT (image_id) "
                                             "DO UPDATE SET vector = ?2"));
  e.bind(1, id);
  e.bind_blob(2, std::as_bytes(std::span<const float>(record.embedding)));
  XRS_RETURN_IF_ERROR(e.run("store embedding of '" + record.image_name + "'"));
  return id;
}

Status Transaction::remove(std::string_view image_name) {
  XRS_RETURN_IF_ERROR(check_open());
  Db& db = catalog_->db();
  XRS_ASSIGN_OR_RETURN(Stmt s, Stmt::prepare(db, "DELETE FROM images WHERE image_name = ?"));
  s.bind(1, image_name);
  XRS_RETURN_IF_ERROR(s.run("remove image '" + std::string(image_name) + "'"));
  if (sqlite3_changes(db.handle()) == 0) {
    return Status::not_found(db.path() + ": no image named '" + std::string(image_name) + "'");
  }
  changed_ = true;
  return Status::ok();
}

StatusOr<int64_t> Transaction::rename(std::string_view old_name, const ImageRecord& record) {
  XRS_RETURN_IF_ERROR(check_open());
  XRS_RETURN_IF_ERROR(check_metadata(record));
  Db& db = catalog_->db();
  XRS_ASSIGN_OR_RETURN(
      Stmt s, Stmt::prepare(db,
                            "UPDATE images SET image_name = ?1, category = ?2, relative_path = ?3, "
                            "source_url = ?4, sha256 = ?5, file_size = ?6, mtime_ns = ?7, "
                            "width = ?8, height = ?9, extra_json = ?10 WHERE image_name = ?11 "
                            "RETURNING id"));
  bind_metadata(s, record);
  s.bind(11, old_name);
  StatusOr<bool> row = s.step("rename image");
  if (!row.is_ok()) {
    if (row.status().code() == StatusCode::kAlreadyExists) {
      return Status::already_exists(db.path() + ": cannot rename '" + std::string(old_name) +
                                    "': an image named '" + record.image_name + "' exists");
    }
    return row.status();
  }
  if (!*row) {
    return Status::not_found(db.path() + ": no image named '" + std::string(old_name) + "'");
  }
  int64_t id = s.column_int(0);
  s.reset();
  changed_ = true;
  return id;
}

Status Transaction::set_setting(std::string_view key, std::string_view value) {
  XRS_RETURN_IF_ERROR(check_open());
  if (key.empty() || key.size() > 64 ||
      key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string_view::npos) {
    return Status::invalid_argument("setting name '" + std::string(key) +
                                    "' is not 1-64 characters of [a-z0-9_]");
  }
  Db& db = catalog_->db();
  XRS_ASSIGN_OR_RETURN(Stmt s,
                       Stmt::prepare(db,
                                     "INSERT INTO meta (key, value) VALUES (?, ?) "
                                     "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
  s.bind(1, std::string(kSettingPrefix) + std::string(key));
  s.bind(2, std::string(value));
  XRS_RETURN_IF_ERROR(s.run("write setting"));
  changed_ = true;
  return Status::ok();
}

Status Transaction::commit() {
  XRS_RETURN_IF_ERROR(check_open());
  Db& db = catalog_->db();
  Status s = Status::ok();
  if (changed_) {
    // The generation tells derived files (the persisted vector index) whether they are stale.
    s = db.exec("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'");
    if (s.is_ok()) {
      StatusOr<Stmt> u = Stmt::prepare(db, "UPDATE meta SET value = ? WHERE key = 'updated_at'");
      s = u.status();
      if (u.is_ok()) {
        u->bind(1, index_internal::utc_now_iso8601());
        s = u->run("update meta");
      }
    }
  }
  if (s.is_ok()) s = db.exec("COMMIT");
  rollback();  // no-op after a successful COMMIT; releases the catalog either way
  return s;
}

}  // namespace xrs
