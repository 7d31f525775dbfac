// The files of an index directory (docs/INDEX_FORMAT.md): their names, and removing them. Only
// the index module names these files; other modules (the pipeline's --rebuild, shard tools) go
// through here. Plain functions; thread-safe as the filesystem is.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "core/status.h"

namespace xrs {

// The catalog, the source of truth (index/catalog.h).
inline constexpr char kCatalogFileName[] = "catalog.sqlite";
// The saved approximate vector index, derived from the catalog (index/vectors_file.h).
inline constexpr char kVectorsFileName[] = "vectors.faiss";

// Every file this program may write into an index directory: the catalog, SQLite's companions
// of it (write-ahead log, shared memory, rollback journal) and the vector file.
inline constexpr std::array<std::string_view, 5> kIndexFileNames = {
    "catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", "catalog.sqlite-journal",
    "vectors.faiss"};

// `index_dir` + "/" + name.
std::string index_file_path(const std::string& index_dir, std::string_view name);

// Removes the kIndexFileNames files of `index_dir` that exist, and nothing else (the folder and
// any other file stay). kIoError naming the file that could not be removed.
Status remove_index_files(const std::string& index_dir);

}  // namespace xrs
