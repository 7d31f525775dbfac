#include "index/index_reader.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/log.h"
#include "index/vectors_file.h"

namespace xrs {

namespace {

VectorsFileStamp stamp_of(const CatalogInfo& info) {
  return {info.catalog_id, info.generation, info.model.dim};
}

}  // namespace

VectorIndexOptions recorded_vector_options(const CatalogInfo& info,
                                           const VectorIndexOptions& options) {
  if (options.kind) return options;
  auto it = info.settings.find(kSettingVectorIndex);
  if (it == info.settings.end() || it->second.empty()) return options;
  StatusOr<VectorIndexOptions> parsed = parse_vector_index_spec(it->second);
  if (!parsed.is_ok()) {
    log_warning("ignoring the recorded setting " + std::string(kSettingVectorIndex) + ": " +
                parsed.status().message());
    return options;
  }
  parsed->auto_threshold = options.auto_threshold;
  return *parsed;
}

StatusOr<std::shared_ptr<const IndexReader>> IndexReader::open(const std::string& index_dir,
                                                               const IndexReaderOptions& options) {
  XRS_ASSIGN_OR_RETURN(auto catalog, Catalog::open(index_dir, Catalog::Mode::kReadOnly));
  XRS_ASSIGN_OR_RETURN(CatalogSnapshot snap, catalog->snapshot(/*with_embeddings=*/false));
  std::shared_ptr<IndexReader> reader(new IndexReader());
  const std::string vectors_path = index_dir + "/" + kVectorsFileName;
  const VectorIndexOptions vectors = recorded_vector_options(snap.info, options.vectors);
  // IVF-PQ trains 2^nbits codes per sub-quantizer: an index too small for that is searched
  // exactly until it has grown.
  auto choose = [&](size_t rows) {
    IndexKind k = choose_index_kind(rows, vectors);
    if (k == IndexKind::kIvfPq) {
      if (Status s = check_vector_index_options(vectors, rows, snap.info.model.dim); !s.is_ok()) {
        log_warning(s.message() + "; searching exactly");
        return IndexKind::kExact;
      }
    }
    return k;
  };

  IndexKind kind = choose(snap.rows.size());
  if (kind != IndexKind::kExact) {
    std::vector<int64_t> ids;
    ids.reserve(snap.rows.size());
    for (const ImageRecord& r : snap.rows) ids.push_back(r.id);
    auto loaded = read_vectors_file(vectors_path, kind, stamp_of(snap.info), ids, vectors);
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
    // A second snapshot, read with its embeddings: it may be newer than the first (a writer
    // committed meanwhile), so the rows are taken from it too. The embeddings are read in batches
    // within its read transaction: the compressed kinds (f16, ivf-pq) never hold them all as
    // float32 (build_vector_index_batched).
    XRS_ASSIGN_OR_RETURN(
        snap, catalog->snapshot_streaming([&](const CatalogSnapshot& s,
                                              const Catalog::EmbeddingSource& source) -> Status {
          kind = choose(s.rows.size());
          VectorIndexOptions build = vectors;
          build.kind = kind;
          XRS_ASSIGN_OR_RETURN(reader->index_, build_vector_index_batched(
                                                   s.rows.size(), s.info.model.dim, source, build));
          return Status::ok();
        }));
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

StatusOr<VectorSearchOptions> IndexReader::vector_options(const SearchRequest& request) const {
  if (request.k < 1) return Status::invalid_argument("k is 0; it must be at least 1");
  if (std::isnan(request.min_score)) return Status::invalid_argument("min_score is NaN");
  // Excluded ids are filtered after the vector search (any number of them, cheaply): ask for
  // that many more so that k + offset remain.
  const size_t extra = request.exclude_ids.size() == 1 ? 0 : request.exclude_ids.size();
  const size_t max = std::numeric_limits<size_t>::max() / 2;
  if (request.k > max || request.offset > max - request.k ||
      extra > max - request.k - request.offset) {
    return Status::invalid_argument("k + offset is too large");
  }
  VectorSearchOptions options;
  options.k = request.k + request.offset + extra;
  options.min_score = request.min_score;
  // One excluded id (the usual query by example) is left out by the vector index itself.
  if (request.exclude_ids.size() == 1) options.exclude_id = request.exclude_ids[0];
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
  return options;
}

Status IndexReader::normalise_query(std::span<const float> query, std::optional<size_t> row,
                                    float* out) const {
  const std::string what = row ? "query " + std::to_string(*row) + ": " : std::string();
  double sum = 0;
  for (size_t i = 0; i < query.size(); ++i) {
    if (!std::isfinite(query[i])) {
      return Status::invalid_argument(what + "query embedding value " + std::to_string(i) +
                                      " is not finite");
    }
    sum += static_cast<double>(query[i]) * query[i];
  }
  if (sum == 0) return Status::invalid_argument(what + "query embedding is all zeros");
  const double inv = 1.0 / std::sqrt(sum);
  for (size_t i = 0; i < query.size(); ++i) out[i] = static_cast<float>(query[i] * inv);
  return Status::ok();
}

StatusOr<std::vector<SearchResult>> IndexReader::to_results(const std::vector<Hit>& hits,
                                                            const SearchRequest& request) const {
  std::vector<SearchResult> results;
  results.reserve(std::min(hits.size(), request.k));
  size_t rank = 0;
  for (const Hit& hit : hits) {
    if (request.exclude_ids.size() > 1 &&
        std::find(request.exclude_ids.begin(), request.exclude_ids.end(), hit.id) !=
            request.exclude_ids.end()) {
      continue;
    }
    if (++rank <= request.offset) continue;
    const ImageRecord* row = find(hit.id);
    if (row == nullptr) {
      return Status::internal("search returned unknown id " + std::to_string(hit.id));
    }
    results.push_back({rank, hit.id, hit.score, row});
    if (results.size() == request.k) break;
  }
  return results;
}

StatusOr<std::vector<SearchResult>> IndexReader::search(std::span<const float> query,
                                                        const SearchRequest& request) const {
  XRS_ASSIGN_OR_RETURN(VectorSearchOptions options, vector_options(request));
  if (query.size() != model().dim) {
    return Status::invalid_argument("query embedding has " + std::to_string(query.size()) +
                                    " values, the index's model has dim " +
                                    std::to_string(model().dim));
  }
  std::vector<float> normalised(query.size());
  XRS_RETURN_IF_ERROR(normalise_query(query, std::nullopt, normalised.data()));
  XRS_ASSIGN_OR_RETURN(std::vector<Hit> hits, index_->search(normalised, options));
  return to_results(hits, request);
}

StatusOr<std::vector<std::vector<SearchResult>>> IndexReader::search_batch(
    std::span<const float> queries, const SearchRequest& request) const {
  XRS_ASSIGN_OR_RETURN(VectorSearchOptions options, vector_options(request));
  const size_t dim = model().dim;
  if (queries.empty() || dim == 0 || queries.size() % dim != 0) {
    return Status::invalid_argument("query batch has " + std::to_string(queries.size()) +
                                    " values, not a positive multiple of the index's dim " +
                                    std::to_string(dim));
  }
  const size_t nq = queries.size() / dim;
  std::vector<float> normalised(queries.size());
  for (size_t q = 0; q < nq; ++q) {
    XRS_RETURN_IF_ERROR(
        normalise_query(queries.subspan(q * dim, dim), q, normalised.data() + q * dim));
  }
  XRS_ASSIGN_OR_RETURN(std::vector<std::vector<Hit>> hits,
                       index_->search_batch(normalised, options));
  std::vector<std::vector<SearchResult>> out;
  out.reserve(nq);
  for (const std::vector<Hit>& h : hits) {
    XRS_ASSIGN_OR_RETURN(std::vector<SearchResult> r, to_results(h, request));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace xrs
