// What an index run must do: the difference between the catalog and the dataset on disk.
//
// Files are identified by content (SHA-256), so that:
//   same name, same content, same metadata        → unchanged (nothing to do)
//   same name, same content, other metadata       → metadata update (no embedding)
//   same name, other content                      → embed again
//   new name, content of a row whose name is gone → rename (keeps the embedding)
//   new name, content already indexed elsewhere   → copy that embedding
//   new name, new content                         → embed
//   a row whose name is no longer in the dataset  → remove
// Pure function of its inputs; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dataset/dataset.h"
#include "index/catalog.h"

namespace xrs {

// A dataset file as found on disk now.
struct FileState {
  DatasetEntry entry;
  std::string sha256;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::string extra_json;  // entry.extra as a JSON object
};

struct IndexPlan {
  // files[i] whose content must be embedded, grouped by content: each group is embedded once.
  std::vector<std::vector<size_t>> embed_groups;
  std::vector<std::pair<std::string, size_t>> renames;  // old image name → files[i]
  std::vector<size_t> copies;            // files[i] whose content another row already has
  std::vector<size_t> metadata_updates;  // files[i] with a row of the same name and content
  std::vector<std::string> removals;     // image names to delete
  size_t unchanged = 0;

  size_t embed_count() const;
};

// The catalog row `files[i]` would become (embedding and dimensions left to the caller).
ImageRecord record_for(const FileState& file);

IndexPlan plan_index(const std::vector<ImageRecord>& existing, const std::vector<FileState>& files);

}  // namespace xrs
