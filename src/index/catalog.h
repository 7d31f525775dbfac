// The catalog: the source of truth of an index directory, IDX/catalog.sqlite (a SQLite database;
// docs/INDEX_FORMAT.md has the schema). It holds the embedding model's identity and one row per
// indexed image (file identity, dataset metadata, embedding). Everything else in IDX is derived
// from it and may be rebuilt at any time.
//
// Crash safety: the database runs in WAL mode with synchronous=FULL, and every change happens
// inside a Transaction (BEGIN IMMEDIATE ... COMMIT). A process killed at any moment, or a power
// loss, leaves the catalog as of the last committed transaction; a committed transaction is
// durable once commit() returns.
//
// Thread-safety: a Catalog object (one SQLite connection and its cached statements) must be used
// by one thread at a time; guard it with a mutex or give each thread its own Catalog. Any number
// of Catalog objects, in any processes, may read one directory at once while one of them writes:
// readers see the last committed state. Writers are serialised by SQLite: a second writer waits up
// to the busy timeout (5 s) and then fails with kUnavailable.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/model_identity.h"  // ModelIdentity, check_same_model
#include "core/status.h"
#include "index/index_dir.h"  // kCatalogFileName
#include "index/matrix.h"

namespace xrs {

// The schema version this build writes and reads (PRAGMA user_version and meta.format_version).
inline constexpr int kCatalogSchemaVersion = 1;

struct ImageRecord {
  int64_t id = 0;             // assigned by the catalog (never reused); ignored by upsert
  std::string image_name;     // unique key, e.g. "chest_001.png"; non-empty
  std::string category;       // non-empty
  std::string relative_path;  // relative to the dataset directory; non-empty
  std::string source_url;     // may be empty
  std::string sha256;         // of the file's bytes: 64 lower-case hex digits
  uint64_t file_size = 0;     // bytes
  int64_t mtime_ns = 0;       // modification time, nanoseconds since the Unix epoch
  uint32_t width = 0;         // pixels
  uint32_t height = 0;
  std::string extra_json = "{}";  // further metadata: a JSON object
  std::string added_at;           // set by the catalog: ISO 8601 UTC of the first insertion
  std::vector<float> embedding;   // dim floats, L2-normalised; empty when not loaded
};

// Meta keys of settings (CatalogInfo::settings) carry this prefix.
inline constexpr char kSettingPrefix[] = "setting.";
// Settings the indexer records for the read side.
inline constexpr char kSettingDataDir[] = "data_dir";      // absolute dataset folder
inline constexpr char kSettingModelPath[] = "model_path";  // absolute model path
// The vector index kind and parameters readers build (parse_vector_index_spec); absent = auto.
inline constexpr char kSettingVectorIndex[] = "vector_index";

// The catalog's bookkeeping, read from its meta table.
struct CatalogInfo {
  ModelIdentity model;
  std::string catalog_id;   // 32 random hex digits chosen at creation: tells catalogs apart
  uint64_t generation = 0;  // +1 per committed transaction that changed something
  std::string created_at;   // ISO 8601 UTC
  std::string updated_at;
  // Free-form settings of the index's users (name → value), e.g. kSettingDataDir.
  std::map<std::string, std::string> settings;
};

// A consistent view (one read transaction) of the whole catalog.
struct CatalogSnapshot {
  CatalogInfo info;
  std::vector<ImageRecord> rows;        // every image, ascending id, without embeddings
  std::optional<EmbeddingSet> vectors;  // when requested: rows' embeddings in the same order
};

class Transaction;
namespace index_internal {
class Db;
}

class Catalog {
 public:
  enum class Mode { kReadOnly, kReadWrite };

  // For writers: opens IDX/catalog.sqlite, creating IDX and the catalog (storing `model`) when
  // absent. An existing catalog must hold `model` (else check_same_model's kFailedPrecondition).
  static StatusOr<std::unique_ptr<Catalog>> open_or_create(const std::string& index_dir,
                                                           const ModelIdentity& model);
  // Opens an existing catalog without checking the model (read model() to decide). Errors:
  // kNotFound when there is no catalog, kCorruption for a file that is not an xray-search
  // catalog or is damaged (naming the file), kUnsupported for a schema newer than
  // kCatalogSchemaVersion, kIoError from the file system.
  static StatusOr<std::unique_ptr<Catalog>> open(const std::string& index_dir, Mode mode);

  ~Catalog();
  Catalog(const Catalog&) = delete;
  Catalog& operator=(const Catalog&) = delete;

  const ModelIdentity& model() const { return info_.model; }
  const std::string& catalog_id() const { return info_.catalog_id; }
  const std::string& path() const { return path_; }

  // Fresh meta values (generation, timestamps) as committed now.
  StatusOr<CatalogInfo> info();
  StatusOr<uint64_t> count();
  // The image named `image_name`, or nullopt. The embedding is loaded when asked for.
  StatusOr<std::optional<ImageRecord>> find_by_name(std::string_view image_name,
                                                    bool with_embedding = false);
  // Every image whose file has this SHA-256 (rename detection), ascending id, no embeddings.
  StatusOr<std::vector<ImageRecord>> find_by_sha256(std::string_view sha256);
  // Every image, ascending id, without embeddings.
  StatusOr<std::vector<ImageRecord>> list();
  // Every embedding, ascending id. kCorruption names an image whose embedding is missing or
  // is not dim float32 values.
  StatusOr<EmbeddingSet> load_embeddings();
  StatusOr<CatalogSnapshot> snapshot(bool with_embeddings);
  // A snapshot without embeddings, and within the same read transaction `consume(snapshot,
  // source)`: source(begin, count, vectors, ids) reads the embeddings of snapshot.rows[begin ..
  // begin + count) (one query by id range each call), so a caller can build from them in batches
  // without holding them all. The same kCorruption errors as load_embeddings().
  using EmbeddingSource =
      std::function<Status(size_t begin, size_t count, float* vectors, int64_t* ids)>;
  StatusOr<CatalogSnapshot> snapshot_streaming(
      const std::function<Status(const CatalogSnapshot&, const EmbeddingSource&)>& consume);

  // Starts the one write transaction of this connection (kFailedPrecondition in read-only mode
  // or while another Transaction of this Catalog is open; kUnavailable when another writer holds
  // the lock past the busy timeout). The Catalog must outlive the Transaction.
  StatusOr<Transaction> begin();

 private:
  friend class Transaction;
  Catalog(std::string path, std::unique_ptr<index_internal::Db> db, bool writable);
  static StatusOr<std::unique_ptr<Catalog>> open_path(const std::string& index_dir, bool writable,
                                                      const ModelIdentity* create_with);
  index_internal::Db& db() { return *db_; }

  std::string path_;
  std::unique_ptr<index_internal::Db> db_;
  bool writable_ = false;
  CatalogInfo info_;  // as of open (the model and id never change)
  bool in_transaction_ = false;
};

// A write transaction: changes become visible to others and durable only on commit(); a
// Transaction destroyed (or moved from) without commit() rolls back. Errors from one operation
// leave the transaction open unless SQLite had to abort it (I/O error, disk full), after which
// every call returns kFailedPrecondition; the caller should then drop the Transaction.
class Transaction {
 public:
  Transaction(Transaction&& other) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  // Inserts the image, or replaces every field and the embedding of the image with the same
  // name (keeping its id and added_at). Returns its id. kInvalidArgument names the bad field:
  // empty name/category/path, sha256 not 64 lower-case hex digits, extra_json not a JSON object,
  // embedding not dim finite floats with L2 norm 1 (within 1e-3).
  StatusOr<int64_t> upsert(const ImageRecord& record);
  // Deletes the image (and its embedding). kNotFound when absent.
  Status remove(std::string_view image_name);
  // Gives the image named `old_name` every metadata field of `record` (name, category, path,
  // source_url, sha256, size, mtime, width, height, extra_json), keeping its id, embedding and
  // added_at; record.id, added_at and embedding are ignored. kNotFound when old_name is absent,
  // kAlreadyExists when another image already has record.image_name.
  StatusOr<int64_t> rename(std::string_view old_name, const ImageRecord& record);
  // Records a setting (CatalogInfo::settings): name of [a-z0-9_], 1-64 characters.
  Status set_setting(std::string_view name, std::string_view value);
  Status commit();

 private:
  friend class Catalog;
  explicit Transaction(Catalog* catalog) : catalog_(catalog) {}
  Status check_open() const;
  void rollback();

  Catalog* catalog_;
  bool changed_ = false;
};

}  // namespace xrs
