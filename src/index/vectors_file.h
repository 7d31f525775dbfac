// IDX/vectors.faiss: the persisted approximate (FAISS) vector index, a file derived from the
// catalog so that opening a large index need not rebuild HNSW graphs or IVF lists.
//
// Format (docs/INDEX_FORMAT.md): a 128-byte header (magic "XRSVECS\0", version, kind, dim,
// count, the catalog's id and generation it was built from, payload size, SHA-256), then count
// int64 image ids (row order), then FAISS's own serialisation (faiss::write_index). Written
// atomically (temporary file, fsync, rename). A file is used only when every header field matches
// the catalog it is opened with and the checksum holds; anything else is reported and the caller
// rebuilds it from the catalog, the source of truth. Exact indexes are never persisted: they are
// the catalog's embeddings as they are.
//
// The checksum guards against damage (truncation, bit rot, a file from another catalog); the
// payload is parsed by FAISS, which is not hardened against deliberately crafted files, so the
// index directory must not be writable by untrusted users.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/status.h"
#include "index/index_dir.h"  // kVectorsFileName
#include "index/vector_index.h"

namespace xrs {

inline constexpr uint32_t kVectorsFileVersion = 1;

// Which catalog state a vectors file was derived from.
struct VectorsFileStamp {
  std::string catalog_id;  // CatalogInfo::catalog_id (32 hex digits)
  uint64_t generation = 0;
  uint32_t dim = 0;
};

// Writes `index` (kHnsw or kIvf; kInvalidArgument for kExact) to `path` atomically.
Status write_vectors_file(const std::string& path, const VectorIndex& index,
                          const VectorsFileStamp& stamp);

// Reads `path` as an index of `kind` for the catalog state `stamp` whose rows are
// `expected_ids`. Errors say why the file cannot be used: kNotFound (absent), kCorruption
// (truncated, bad magic or version, checksum mismatch, unreadable FAISS payload) or
// kFailedPrecondition (stale: built from another catalog, generation, dimension, kind or ids).
// Search parameters (ef_search, nprobe) come from `options`.
StatusOr<std::unique_ptr<VectorIndex>> read_vectors_file(const std::string& path, IndexKind kind,
                                                         const VectorsFileStamp& stamp,
                                                         std::span<const int64_t> expected_ids,
                                                         const VectorIndexOptions& options);

}  // namespace xrs
