// Opening, creating and reading the catalog. Writes live in transaction.cpp.
#include "index/catalog.h"

#include <bit>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "index/sqlite_util.h"

namespace xrs {

using index_internal::Db;
using index_internal::Stmt;

static_assert(std::endian::native == std::endian::little,
              "embedding blobs are stored as little-endian float32 and copied as is");

namespace {

// Milliseconds a connection waits for another writer's lock before giving up.
constexpr int kBusyTimeoutMs = 5000;
constexpr uint32_t kMaxDim = 65536;

// Embeddings live in their own table so that listing images (or loading the catalog beside a
// persisted FAISS index) does not page through dim * 4 bytes per row; the foreign key removes an
// image's embedding with it.
constexpr char kSchemaSql[] = R"sql(
CREATE TABLE meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
);
CREATE TABLE images (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  image_name    TEXT NOT NULL UNIQUE,
  category      TEXT NOT NULL,
  relative_path TEXT NOT NULL,
  source_url    TEXT NOT NULL,
  sha256        TEXT NOT NULL,
  file_size     INTEGER NOT NULL,
  mtime_ns      INTEGER NOT NULL,
  width         INTEGER NOT NULL,
  height        INTEGER NOT NULL,
  extra_json    TEXT NOT NULL,
  added_at      TEXT NOT NULL
);
CREATE INDEX images_by_sha256 ON images(sha256);
CREATE TABLE embeddings (
  image_id INTEGER PRIMARY KEY NOT NULL REFERENCES images(id) ON DELETE CASCADE,
  vector   BLOB NOT NULL
);
)sql";

constexpr char kSelectImage[] =
    "SELECT id, image_name, category, relative_path, source_url, sha256, file_size, mtime_ns, "
    "width, height, extra_json, added_at FROM images ";

ImageRecord read_image(const Stmt& s) {
  ImageRecord r;
  r.id = s.column_int(0);
  r.image_name = s.column_text(1);
  r.category = s.column_text(2);
  r.relative_path = s.column_text(3);
  r.source_url = s.column_text(4);
  r.sha256 = s.column_text(5);
  r.file_size = static_cast<uint64_t>(s.column_int(6));
  r.mtime_ns = s.column_int(7);
  r.width = static_cast<uint32_t>(s.column_int(8));
  r.height = static_cast<uint32_t>(s.column_int(9));
  r.extra_json = s.column_text(10);
  r.added_at = s.column_text(11);
  return r;
}

std::string random_hex_id() {
  std::random_device rd;
  std::string out;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 4; ++i) {
    uint32_t v = rd();
    for (int j = 0; j < 8; ++j) out += kHex[(v >> (4 * j)) & 0xf];
  }
  return out;
}

// Runs `fn` inside one read transaction (a consistent snapshot), unless a transaction is open.
template <typename Fn>
Status with_read_transaction(Db& db, Fn&& fn) {
  if (db.in_transaction()) return fn();
  XRS_RETURN_IF_ERROR(db.exec("BEGIN"));
  Status s = fn();
  Status end = db.exec(s.is_ok() ? "COMMIT" : "ROLLBACK");
  return s.is_ok() ? end : s;
}

// The embedding of a row of "SELECT i.id, i.image_name, e.vector ..." into `out` (dim floats);
// kCorruption naming the image when it is missing or has another size.
Status copy_embedding(Stmt& s, const std::string& path, size_t dim, float* out) {
  std::span<const std::byte> blob = s.column_blob(2);
  if (blob.size() != dim * sizeof(float)) {
    return Status::corruption(path + ": image '" + s.column_text(1) + "' (id " +
                              std::to_string(s.column_int(0)) + "): embedding has " +
                              std::to_string(blob.size()) + " bytes, expected " +
                              std::to_string(dim * sizeof(float)));
  }
  std::memcpy(out, blob.data(), blob.size());
  return Status::ok();
}

Status create_schema(Db& db, const ModelIdentity& model) {
  std::string now = index_internal::utc_now_iso8601();
  XRS_RETURN_IF_ERROR(db.exec(kSchemaSql));
  XRS_ASSIGN_OR_RETURN(Stmt insert,
                       Stmt::prepare(db, "INSERT INTO meta (key, value) VALUES (?, ?)"));
  const std::pair<const char*, std::string> rows[] = {
      {"format_version", std::to_string(kCatalogSchemaVersion)},
      {"model_name", model.name},
      {"model_sha256", model.weights_sha256},
      {"embedding_dim", std::to_string(model.dim)},
      {"preprocessing", model.preprocessing},
      {"catalog_id", random_hex_id()},
      {"generation", "0"},
      {"created_at", now},
      {"updated_at", now},
  };
  for (const auto& [key, value] : rows) {
    insert.bind(1, std::string_view(key));
    insert.bind(2, value);
    XRS_RETURN_IF_ERROR(insert.run("write meta"));
  }
  return db.exec("PRAGMA user_version = " + std::to_string(kCatalogSchemaVersion));
}

StatusOr<uint64_t> parse_uint(const std::string& path, const std::string& key,
                              const std::string& value) {
  if (value.empty() || value.size() > 19 ||
      value.find_first_not_of("0123456789") != std::string::npos) {
    return Status::corruption(path + ": meta '" + key + "' is '" + value + "', not a number");
  }
  return std::stoull(value);
}

StatusOr<CatalogInfo> read_info(Db& db) {
  XRS_ASSIGN_OR_RETURN(Stmt s, Stmt::prepare(db, "SELECT key, value FROM meta"));
  std::map<std::string, std::string> meta;
  while (true) {
    XRS_ASSIGN_OR_RETURN(bool row, s.step("read meta"));
    if (!row) break;
    meta[s.column_text(0)] = s.column_text(1);
  }
  for (const char* key :
       {"format_version", "model_name", "model_sha256", "embedding_dim", "preprocessing",
        "catalog_id", "generation", "created_at", "updated_at"}) {
    if (!meta.count(key)) {
      return Status::corruption(db.path() + ": meta table lacks '" + key + "'");
    }
  }
  XRS_ASSIGN_OR_RETURN(uint64_t version,
                       parse_uint(db.path(), "format_version", meta["format_version"]));
  if (version != static_cast<uint64_t>(kCatalogSchemaVersion)) {
    return Status::corruption(db.path() + ": meta format_version " + std::to_string(version) +
                              " disagrees with the schema version " +
                              std::to_string(kCatalogSchemaVersion));
  }
  CatalogInfo info;
  XRS_ASSIGN_OR_RETURN(uint64_t dim, parse_uint(db.path(), "embedding_dim", meta["embedding_dim"]));
  if (dim == 0 || dim > kMaxDim) {
    return Status::corruption(db.path() + ": meta embedding_dim " + std::to_string(dim) +
                              " is outside 1.." + std::to_string(kMaxDim));
  }
  XRS_ASSIGN_OR_RETURN(info.generation, parse_uint(db.path(), "generation", meta["generation"]));
  info.model = {meta["model_name"], meta["model_sha256"], static_cast<uint32_t>(dim),
                meta["preprocessing"]};
  info.catalog_id = meta["catalog_id"];
  for (const auto& [key, value] : meta) {
    if (key.rfind(kSettingPrefix, 0) == 0)
      info.settings[key.substr(sizeof(kSettingPrefix) - 1)] = value;
  }
  info.created_at = meta["created_at"];
  info.updated_at = meta["updated_at"];
  return info;
}

Status check_identity_fields(const ModelIdentity& m) {
  if (m.weights_sha256.size() != 64 ||
      m.weights_sha256.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return Status::invalid_argument("model identity: weights_sha256 '" + m.weights_sha256 +
                                    "' is not 64 lower-case hex digits");
  }
  if (m.dim == 0 || m.dim > kMaxDim) {
    return Status::invalid_argument("model identity: dim " + std::to_string(m.dim) +
                                    " is outside 1.." + std::to_string(kMaxDim));
  }
  if (m.name.empty() || m.preprocessing.empty()) {
    return Status::invalid_argument("model identity: name and preprocessing must be non-empty");
  }
  return Status::ok();
}

}  // namespace

Catalog::Catalog(std::string path, std::unique_ptr<Db> db, bool writable)
    : path_(std::move(path)), db_(std::move(db)), writable_(writable) {}

Catalog::~Catalog() = default;

StatusOr<std::unique_ptr<Catalog>> Catalog::open_or_create(const std::string& index_dir,
                                                           const ModelIdentity& model) {
  XRS_RETURN_IF_ERROR(check_identity_fields(model));
  std::error_code ec;
  std::filesystem::create_directories(index_dir, ec);
  if (ec) return Status::io_error(index_dir + ": cannot create directory: " + ec.message());
  XRS_ASSIGN_OR_RETURN(auto catalog, open_path(index_dir, true, &model));
  XRS_RETURN_IF_ERROR(check_same_model(catalog->model(), model));
  return catalog;
}

StatusOr<std::unique_ptr<Catalog>> Catalog::open(const std::string& index_dir, Mode mode) {
  std::string path = index_dir + "/" + kCatalogFileName;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::not_found(path + ": no catalog here (the index has not been built)");
  }
  return open_path(index_dir, mode == Mode::kReadWrite, nullptr);
}

StatusOr<std::unique_ptr<Catalog>> Catalog::open_path(const std::string& index_dir, bool writable,
                                                      const ModelIdentity* create_with) {
  std::string path = index_dir + "/" + kCatalogFileName;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::invalid_argument(path + ": is a directory, not a catalog file");
  }
  XRS_ASSIGN_OR_RETURN(Db opened, Db::open(path, writable));
  auto db = std::make_unique<Db>(std::move(opened));
  sqlite3_busy_timeout(db->handle(), kBusyTimeoutMs);
  if (writable) {
    // FULL: the WAL is synced at every commit, so a committed batch survives power loss too;
    // one fsync per batch of images is negligible next to embedding them.
    XRS_ASSIGN_OR_RETURN(auto mode, db->query_text("PRAGMA journal_mode = WAL"));
    if (mode != "wal") {
      return Status::io_error(path + ": cannot switch to WAL mode (got '" + mode.value_or("") +
                              "'); is the file system read-only?");
    }
    XRS_RETURN_IF_ERROR(db->exec("PRAGMA synchronous = FULL"));
  }
  XRS_RETURN_IF_ERROR(db->exec("PRAGMA foreign_keys = ON"));

  // Creation and its check happen under the write lock, so two processes creating the same
  // catalog at once end up with one schema; a crash mid-creation leaves an empty database that
  // the next writer initialises.
  if (create_with != nullptr) XRS_RETURN_IF_ERROR(db->exec("BEGIN IMMEDIATE"));
  Status status = [&]() -> Status {
    XRS_ASSIGN_OR_RETURN(int64_t version, db->query_int("PRAGMA user_version"));
    if (version > kCatalogSchemaVersion) {
      return Status::unsupported(path + ": catalog schema version " + std::to_string(version) +
                                 " is newer than this build understands (" +
                                 std::to_string(kCatalogSchemaVersion) +
                                 "); use a newer xray-search");
    }
    if (version == kCatalogSchemaVersion) return Status::ok();
    XRS_ASSIGN_OR_RETURN(int64_t tables, db->query_int("SELECT count(*) FROM sqlite_schema"));
    if (tables != 0 || version != 0) {
      return Status::corruption(path + ": not an xray-search catalog (schema version " +
                                std::to_string(version) + ")");
    }
    if (create_with == nullptr) {
      return Status::failed_precondition(path + ": the catalog is empty (its creation did not " +
                                         "complete); build the index again");
    }
    return create_schema(*db, *create_with);
  }();
  if (create_with != nullptr) {
    Status end = db->exec(status.is_ok() ? "COMMIT" : "ROLLBACK");
    if (status.is_ok()) status = end;
  }
  XRS_RETURN_IF_ERROR(status);
  XRS_ASSIGN_OR_RETURN(CatalogInfo info, read_info(*db));
  std::unique_ptr<Catalog> catalog(new Catalog(path, std::move(db), writable));
  catalog->info_ = std::move(info);
  return catalog;
}

StatusOr<CatalogInfo> Catalog::info() {
  return read_info(*db_);
}

StatusOr<uint64_t> Catalog::count() {
  XRS_ASSIGN_OR_RETURN(int64_t n, db_->query_int("SELECT count(*) FROM images"));
  return static_cast<uint64_t>(n);
}

StatusOr<std::optional<ImageRecord>> Catalog::find_by_name(std::string_view image_name,
                                                           bool with_embedding) {
  std::optional<ImageRecord> found;
  XRS_RETURN_IF_ERROR(with_read_transaction(*db_, [&]() -> Status {
    XRS_ASSIGN_OR_RETURN(Stmt s,
                         Stmt::prepare(*db_, std::string(kSelectImage) + "WHERE image_name = ?"));
    s.bind(1, image_name);
    XRS_ASSIGN_OR_RETURN(bool row, s.step("find image by name"));
    if (!row) return Status::ok();
    found = read_image(s);
    if (!with_embedding) return Status::ok();
    XRS_ASSIGN_OR_RETURN(Stmt e,
                         Stmt::prepare(*db_, "SELECT vector FROM embeddings WHERE image_id = ?"));
    e.bind(1, found->id);
    XRS_ASSIGN_OR_RETURN(bool has_vector, e.step("read embedding"));
    std::span<const std::byte> blob;
    if (has_vector) blob = e.column_blob(0);
    if (blob.size() != model().dim * sizeof(float)) {
      return Status::corruption(path_ + ": image '" + found->image_name + "' (id " +
                                std::to_string(found->id) + "): embedding has " +
                                std::to_string(blob.size()) + " bytes, expected " +
                                std::to_string(model().dim * sizeof(float)));
    }
    found->embedding.resize(model().dim);
    std::memcpy(found->embedding.data(), blob.data(), blob.size());
    return Status::ok();
  }));
  return found;
}

StatusOr<std::vector<ImageRecord>> Catalog::find_by_sha256(std::string_view sha256) {
  XRS_ASSIGN_OR_RETURN(
      Stmt s, Stmt::prepare(*db_, std::string(kSelectImage) + "WHERE sha256 = ? ORDER BY id"));
  s.bind(1, sha256);
  std::vector<ImageRecord> out;
  while (true) {
    XRS_ASSIGN_OR_RETURN(bool row, s.step("find images by sha256"));
    if (!row) break;
    out.push_back(read_image(s));
  }
  return out;
}

StatusOr<std::vector<ImageRecord>> Catalog::list() {
  XRS_ASSIGN_OR_RETURN(Stmt s, Stmt::prepare(*db_, std::string(kSelectImage) + "ORDER BY id"));
  std::vector<ImageRecord> out;
  while (true) {
    XRS_ASSIGN_OR_RETURN(bool row, s.step("list images"));
    if (!row) break;
    out.push_back(read_image(s));
  }
  return out;
}

StatusOr<EmbeddingSet> Catalog::load_embeddings() {
  EmbeddingSet set;
  const size_t dim = model().dim;
  XRS_RETURN_IF_ERROR(with_read_transaction(*db_, [&]() -> Status {
    XRS_ASSIGN_OR_RETURN(uint64_t n, count());
    XRS_ASSIGN_OR_RETURN(set.vectors, FloatMatrix::allocate(n, dim));
    set.ids.reserve(n);
    // LEFT JOIN so that an image without an embedding is reported rather than skipped.
    XRS_ASSIGN_OR_RETURN(Stmt s, Stmt::prepare(*db_,
                                               "SELECT i.id, i.image_name, e.vector FROM images i "
                                               "LEFT JOIN embeddings e ON e.image_id = i.id "
                                               "ORDER BY i.id"));
    while (true) {
      XRS_ASSIGN_OR_RETURN(bool row, s.step("load embeddings"));
      if (!row) break;
      if (set.ids.size() == n) return Status::internal(path_ + ": more rows than counted");
      // (Not XRS_RETURN_IF_ERROR: this lambda is inside one, whose local it would shadow.)
      if (Status c = copy_embedding(s, path_, dim, set.vectors.row(set.ids.size()).data());
          !c.is_ok()) {
        return c;
      }
      set.ids.push_back(s.column_int(0));
    }
    if (set.ids.size() != n) return Status::internal(path_ + ": fewer rows than counted");
    return Status::ok();
  }));
  return set;
}

StatusOr<CatalogSnapshot> Catalog::snapshot(bool with_embeddings) {
  CatalogSnapshot snap;
  XRS_RETURN_IF_ERROR(with_read_transaction(*db_, [&]() -> Status {
    XRS_ASSIGN_OR_RETURN(snap.info, read_info(*db_));
    XRS_ASSIGN_OR_RETURN(snap.rows, list());
    if (with_embeddings) {
      XRS_ASSIGN_OR_RETURN(snap.vectors, load_embeddings());
    }
    return Status::ok();
  }));
  return snap;
}

StatusOr<CatalogSnapshot> Catalog::snapshot_streaming(
    const std::function<Status(const CatalogSnapshot&, const EmbeddingSource&)>& consume) {
  CatalogSnapshot snap;
  const size_t dim = model().dim;
  XRS_RETURN_IF_ERROR(with_read_transaction(*db_, [&]() -> Status {
    XRS_ASSIGN_OR_RETURN(snap.info, read_info(*db_));
    XRS_ASSIGN_OR_RETURN(snap.rows, list());
    XRS_ASSIGN_OR_RETURN(Stmt s, Stmt::prepare(*db_,
                                               "SELECT i.id, i.image_name, e.vector FROM images i "
                                               "LEFT JOIN embeddings e ON e.image_id = i.id "
                                               "WHERE i.id BETWEEN ? AND ? ORDER BY i.id"));
    const EmbeddingSource source = [&](size_t begin, size_t count, float* vectors,
                                       int64_t* ids) -> Status {
      if (count == 0) return Status::ok();
      if (begin + count > snap.rows.size()) {
        return Status::internal(path_ + ": rows " + std::to_string(begin) + "+" +
                                std::to_string(count) + " past the snapshot");
      }
      s.reset();
      s.bind(1, snap.rows[begin].id);
      s.bind(2, snap.rows[begin + count - 1].id);
      size_t got = 0;
      while (true) {
        XRS_ASSIGN_OR_RETURN(bool row, s.step("load embeddings"));
        if (!row) break;
        if (got == count || s.column_int(0) != snap.rows[begin + got].id) {
          return Status::internal(path_ + ": the rows changed within a read transaction");
        }
        if (Status c = copy_embedding(s, path_, dim, vectors + got * dim); !c.is_ok()) return c;
        ids[got] = s.column_int(0);
        ++got;
      }
      if (got != count) return Status::internal(path_ + ": fewer rows than the snapshot lists");
      return Status::ok();
    };
    return consume(snap, source);
  }));
  return snap;
}

}  // namespace xrs
