#include "index/search.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/log.h"
#include "index/vectors_file.h"

namespace xrs {

namespace {

VectorsFileStamp stamp_of(const CatalogInfo& info) {
  return {info.catalog_id, info.generation, info.model.dim};
}

}  // namespace

StatusOr<std::shared_ptr<const IndexReader>> IndexReader::open(const std::string& index_dir,
                                                               const IndexReaderOptions& options) {
  XRS_ASSIGN_OR_RETURN(auto catalog, Catalog::open(index_dir, Catalog::Mode::kReadOnly));
  XRS_ASSIGN_OR_RETURN(CatalogSnapshot snap, catalog->snapshot(/*with_embeddings=*/false));
  std::shared_ptr<IndexReader> reader(new IndexReader());
  const std::string vectors_path = index_dir + "/" + kVectorsFileName;

  IndexKind kind = choose_index_kind(snap.rows.size(), options.vectors);
  if (kind != IndexKind::kExact) {
    std::vector<int64_t> ids;
    ids.reserve(snap.rows.size());
    for (const ImageRecord& r : snap.rows) ids.push_back(r.id);
    auto loaded = read_vectors_file(vectors_path, kind, stamp_of(snap.info), ids, options.vectors);
    if (loaded.is_ok()) {
      reader->index_ = std::move(loaded).value();
      reader->report_.from_file = true;
    } else {
      reader->report_.rebuild_reason = loaded.status().message();
      if (loaded.status().code() != StatusCode::kNotFound) {
        log_warning(loaded.status().message() + "; rebuilding it from the catalog");
      }
    }
  }
  if (!reader->index_) {
    // A second snapshot, with embeddings: it may be newer than the first (a writer committed
    // meanwhile), so the rows are taken from it too.
    XRS_ASSIGN_OR_RETURN(snap, catalog->snapshot(/*with_embeddings=*/true));
    kind = choose_index_kind(snap.rows.size(), options.vectors);
    VectorIndexOptions build = options.vectors;
    build.kind = kind;
    XRS_ASSIGN_OR_RETURN(reader->index_, build_vector_index(std::move(*snap.vectors), build));
    snap.vectors.reset();
    if (kind != IndexKind::kExact && options.write_vectors_file) {
      Status s = write_vectors_file(vectors_path, *reader->index_, stamp_of(snap.info));
      if (!s.is_ok()) log_warning("cannot save the vector index: " + s.message());
    }
  }
  reader->report_.kind = reader->index_->kind();
  reader->info_ = std::move(snap.info);
  reader->rows_ = std::move(snap.rows);

  std::map<std::string, RowBitset> by_category;
  for (size_t r = 0; r < reader->rows_.size(); ++r) {
    auto it = by_category.try_emplace(reader->rows_[r].category, reader->rows_.size()).first;
    it->second.set(r);
  }
  for (auto& [name, bits] : by_category) reader->category_rows_.emplace_back(name, std::move(bits));
  return std::shared_ptr<const IndexReader>(std::move(reader));
}

std::vector<std::string> IndexReader::categories() const {
  std::vector<std::string> out;
  for (const auto& [name, bits] : category_rows_) out.push_back(name);
  return out;
}

const ImageRecord* IndexReader::find(int64_t id) const {
  std::optional<size_t> row = index_->row_of(id);
  return row ? &rows_[*row] : nullptr;
}

StatusOr<std::vector<float>> IndexReader::embedding(int64_t id) const {
  std::vector<float> out(index_->dim());
  XRS_RETURN_IF_ERROR(index_->copy_vector(id, out));
  return out;
}

StatusOr<std::vector<SearchResult>> IndexReader::search(std::span<const float> query,
                                                        const SearchRequest& request) const {
  if (request.k < kMinSearchK || request.k > kMaxSearchK) {
    return Status::invalid_argument("k is " + std::to_string(request.k) + ", allowed " +
                                    std::to_string(kMinSearchK) + " to " +
                                    std::to_string(kMaxSearchK));
  }
  if (std::isnan(request.min_score)) return Status::invalid_argument("min_score is NaN");
  if (query.size() != model().dim) {
    return Status::invalid_argument("query embedding has " + std::to_string(query.size()) +
                                    " values, the index's model has dim " +
                                    std::to_string(model().dim));
  }
  double sum = 0;
  for (size_t i = 0; i < query.size(); ++i) {
    if (!std::isfinite(query[i])) {
      return Status::invalid_argument("query embedding value " + std::to_string(i) +
                                      " is not finite");
    }
    sum += static_cast<double>(query[i]) * query[i];
  }
  if (sum == 0) return Status::invalid_argument("query embedding is all zeros");
  std::vector<float> normalised(query.begin(), query.end());
  const double inv = 1.0 / std::sqrt(sum);
  for (float& v : normalised) v = static_cast<float>(v * inv);

  VectorSearchOptions options;
  options.k = static_cast<size_t>(request.k);
  options.min_score = request.min_score;
  options.exclude_id = request.exclude_id;
  if (request.category) {
    auto it = std::lower_bound(
        category_rows_.begin(), category_rows_.end(), *request.category,
        [](const auto& entry, const std::string& name) { return entry.first < name; });
    if (it == category_rows_.end() || it->first != *request.category) {
      std::string known;
      for (const auto& [name, bits] : category_rows_) known += (known.empty() ? "" : ", ") + name;
      return Status::invalid_argument("unknown category '" + *request.category +
                                      "' (the index has: " + (known.empty() ? "none" : known) +
                                      ")");
    }
    options.allow = &it->second;
  }
  XRS_ASSIGN_OR_RETURN(std::vector<Hit> hits, index_->search(normalised, options));
  std::vector<SearchResult> results;
  results.reserve(hits.size());
  for (const Hit& hit : hits) {
    const ImageRecord* row = find(hit.id);
    if (row == nullptr)
      return Status::internal("search returned unknown id " + std::to_string(hit.id));
    results.push_back({static_cast<int>(results.size()) + 1, hit.id, row->image_name, row->category,
                       hit.score, row->relative_path, row->source_url});
  }
  return results;
}

}  // namespace xrs
