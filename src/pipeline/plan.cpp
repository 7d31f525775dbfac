#include "pipeline/plan.h"

#include <map>
#include <set>

namespace xrs {

size_t IndexPlan::embed_count() const {
  size_t n = 0;
  for (const auto& g : embed_groups) n += g.size();
  return n;
}

ImageRecord record_for(const FileState& file) {
  ImageRecord r;
  r.image_name = file.entry.image_name;
  r.category = file.entry.category;
  r.relative_path = file.entry.relative_path;
  r.source_url = file.entry.source_url;
  r.sha256 = file.sha256;
  r.file_size = file.size;
  r.mtime_ns = file.mtime_ns;
  r.extra_json = file.extra_json;
  return r;
}

namespace {

bool same_metadata(const ImageRecord& row, const FileState& f) {
  return row.category == f.entry.category && row.relative_path == f.entry.relative_path &&
         row.source_url == f.entry.source_url && row.extra_json == f.extra_json &&
         row.file_size == f.size && row.mtime_ns == f.mtime_ns;
}

}  // namespace

IndexPlan plan_index(const std::vector<ImageRecord>& existing,
                     const std::vector<FileState>& files) {
  IndexPlan plan;
  std::map<std::string, const ImageRecord*> by_name;
  std::multimap<std::string, const ImageRecord*> by_sha;
  for (const ImageRecord& r : existing) {
    by_name[r.image_name] = &r;
    by_sha.emplace(r.sha256, &r);
  }
  std::map<std::string, std::string> present;  // image name on disk → its content
  for (const FileState& f : files) present[f.entry.image_name] = f.sha256;

  std::set<std::string> claimed;               // old names taken over by a rename
  std::set<std::string> indexed_content;       // content that will have an embedding row
  std::map<std::string, size_t> group_of_sha;  // content → index into embed_groups
  for (const ImageRecord& r : existing) {      // rows that stay as they are
    auto p = present.find(r.image_name);
    if (p != present.end() && p->second == r.sha256) indexed_content.insert(r.sha256);
  }
  for (size_t i = 0; i < files.size(); ++i) {
    const FileState& f = files[i];
    auto same_name = by_name.find(f.entry.image_name);
    if (same_name != by_name.end()) {
      const ImageRecord& row = *same_name->second;
      if (row.sha256 == f.sha256) {
        if (same_metadata(row, f)) {
          ++plan.unchanged;
        } else {
          plan.metadata_updates.push_back(i);
        }
        continue;
      }
    } else {
      // A row with this content whose own file is gone: the file was renamed or moved.
      auto [lo, hi] = by_sha.equal_range(f.sha256);
      const ImageRecord* source = nullptr;
      for (auto it = lo; it != hi; ++it) {
        const std::string& old = it->second->image_name;
        if (!present.count(old) && !claimed.count(old)) {
          source = it->second;
          break;
        }
      }
      if (source != nullptr) {
        claimed.insert(source->image_name);
        plan.renames.emplace_back(source->image_name, i);
        indexed_content.insert(f.sha256);
        continue;
      }
      if (indexed_content.count(f.sha256)) {
        plan.copies.push_back(i);
        continue;
      }
    }
    // New content (or changed content under an existing name): embed once per distinct content.
    auto g = group_of_sha.find(f.sha256);
    if (g == group_of_sha.end()) {
      group_of_sha[f.sha256] = plan.embed_groups.size();
      plan.embed_groups.push_back({i});
    } else {
      plan.embed_groups[g->second].push_back(i);
    }
  }
  for (const ImageRecord& r : existing) {
    if (!present.count(r.image_name) && !claimed.count(r.image_name)) {
      plan.removals.push_back(r.image_name);
    }
  }
  return plan;
}

}  // namespace xrs
