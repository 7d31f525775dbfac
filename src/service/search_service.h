// The read side: a loaded model + index answering queries. The CLI's `search` and the HTTP
// server both go through this interface; the server only ever sees SearchBackend.
//
// Semantics (DESIGN.md §3): cosine similarity of L2-normalised CLIP embeddings, k in 1..kMaxK
// (default 5) results from rank offset+1 on (offset 0..kMaxOffset, default 0: paging), results at
// or above min_score only (default 0.25 for text, 0.95 for images), optional category filter,
// ranked by score (ties by id). An image query that is itself in the index (same SHA-256) excludes
// itself unless asked not to.
//
// This header owns the search policy (the constants below): the index (index/index_reader.h)
// serves any k, and front ends (CLI, HTTP) take their limits and defaults from here.
//
// Thread-safety: every const method may be called from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace xrs {

constexpr int kDefaultK = 5;       // results per query (page size) when none is asked for
constexpr int kMaxK = 20;          // the largest page a user may ask for
constexpr int kMaxOffset = 10000;  // how deep paging may go (offset + k results are ranked)
// The default thresholds when the model folder does not set its own (text_min_score and
// image_min_score in MODEL_DIR/xray-search-model.json, clip/model_settings.h, written by
// `evaluate --write-model-config`); an explicit min_score always wins.
constexpr float kDefaultTextMinScore = 0.25f;   // threshold of text queries (original system)
constexpr float kDefaultImageMinScore = 0.95f;  // threshold of image queries
// Near-duplicates (`duplicates`, and collapsing them in results): two images whose embeddings
// have at least this cosine similarity are near-identical (repeat exposures, re-encodings).
constexpr float kDefaultDuplicateMinScore = 0.97f;

struct SearchOptions {
  int k = kDefaultK;
  int offset = 0;  // results of the ranking to skip: page n (0-based) of size k is offset n*k
  std::optional<float> min_score;       // unset: the default for the query kind
  std::optional<std::string> category;  // unset: all categories
  bool exclude_self = true;             // image queries: leave out the query image itself
  // Collapse near-duplicates at this cosine similarity, in (0, 1] (service/collapse.h): a result
  // that is a near-duplicate of one kept above it is hidden and counted in that one's
  // duplicates_hidden; ranks, k and offset then refer to the collapsed ranking. Unset: no collapse.
  std::optional<float> collapse_duplicates;
  // Text queries and text terms: embed the text as typed, not through the model's prompt
  // ensemble (prompt_templates in xray-search-model.json; none: the text as typed anyway).
  bool raw_text = false;
};

// One result, the only hit type front ends see (the index's SearchResult rows become these in
// to_hit(), clip_search_service.h).
struct SearchHit {
  int rank = 0;  // 1-based, in the whole ranking
  int64_t id = 0;
  std::string image_name;
  std::string category;
  float score = 0;   // cosine similarity
  std::string path;  // relative to the dataset folder, e.g. raw/chest/a.png
  std::string source_url;
  int duplicates_hidden = 0;  // with collapse_duplicates: near-duplicates hidden behind this one
};

struct SearchResponse {
  std::vector<SearchHit> results;
  double took_ms = 0;
  float min_score = 0;  // the threshold that was applied
  // Combined queries: why that threshold ("given", "text" or "image" default and why); empty
  // for the other kinds, whose default follows from the kind.
  std::string min_score_rule;
  // Text queries and combined queries with text: the prompts each text was embedded through
  // (the model's templates; 0: the text as typed). 0 for the other kinds.
  int prompt_templates = 0;
};

// One term of a combined query (search_combined): exactly one source, and a weight (negative
// subtracts). The query is sum(weight * normalise(embedding of term)), normalised again.
struct QueryTerm {
  enum class Kind { kText, kImage, kId, kEmbedding };
  Kind kind = Kind::kText;
  float weight = 1;
  std::string text;              // kText: a text to embed
  std::string image_bytes;       // kImage: an image file's bytes (PNG, JPEG, DICOM)
  int64_t id = 0;                // kId: an indexed image (left out of the results)
  std::vector<float> embedding;  // kEmbedding: a vector of the model's dimension
};
constexpr size_t kMaxTerms = 16;  // terms of one combined query

// One indexed image, for serving its bytes (GET /api/images/<id>). (Named apart from the
// catalog's ImageRecord, which holds file identity and the embedding.)
struct IndexedImage {
  int64_t id = 0;
  std::string image_name;
  std::string category;
  std::string absolute_path;  // where the file is on disk (never taken from a request)
  std::string source_url;
  int width = 0;
  int height = 0;
};

struct BackendInfo {
  size_t images = 0;
  size_t dim = 0;                       // the embedding dimension (0: unknown)
  std::string model;                    // "<model name> <sha256 prefix>"
  std::vector<std::string> categories;  // categories present in the index
  // The default thresholds in force (the model's, else kDefault*MinScore).
  float text_min_score = kDefaultTextMinScore;
  float image_min_score = kDefaultImageMinScore;
  // The near-duplicate threshold in force (the model's duplicate_min_score, else
  // kDefaultDuplicateMinScore): what collapsing results uses when no threshold is given.
  float duplicate_min_score = kDefaultDuplicateMinScore;
  // The index generation served (the catalog's meta.generation and catalog_id; 0 and empty when
  // the backend has no catalog), whether the backend follows new generations (serve
  // --read-only), and how many times it switched to a newer one since it started.
  uint64_t generation = 0;
  std::string catalog_id;
  bool read_only = false;
  uint64_t reloads = 0;
  // The model's prompt templates for text queries (empty: the text as typed).
  std::vector<std::string> prompt_templates;
  // Query images gathered into batched forward passes (serve --batch-max-size; image_batcher.h):
  // the settings and the counters since start. enabled false: each image runs alone.
  struct ImageBatching {
    bool enabled = false;
    int max_batch_size = 1;
    double max_delay_ms = 0;
    uint64_t batches = 0;  // forward passes run
    uint64_t queries = 0;  // query images embedded through them
    uint64_t largest = 0;  // the largest batch so far
    double mean_batch_size() const { return batches == 0 ? 0.0 : double(queries) / batches; }
  } image_batching;
};

class SearchBackend {
 public:
  virtual ~SearchBackend() = default;

  virtual BackendInfo info() const = 0;
  // Errors: kInvalidArgument for bad options or an empty/undecodable query, kFailedPrecondition
  // when the model cannot embed text (no tokenizer).
  virtual StatusOr<SearchResponse> search_text(std::string_view query,
                                               const SearchOptions& options) const = 0;
  virtual StatusOr<SearchResponse> search_image(std::span<const uint8_t> image_bytes,
                                                const SearchOptions& options) const = 0;
  virtual StatusOr<SearchResponse> search_by_id(int64_t id, const SearchOptions& options) const = 0;
  // A query embedding computed elsewhere (any non-zero length: it is L2-normalised here). It has
  // no kind, so the default threshold is the image one (kDefaultImageMinScore); pass min_score
  // for text-like embeddings. kInvalidArgument for a wrong dimension or a non-finite value
  // (naming its position) or an all-zero vector.
  virtual StatusOr<SearchResponse> search_vector(std::span<const float> embedding,
                                                 const SearchOptions& options) const = 0;
  // A combined query (QueryTerm). The default threshold is the text one when any term is text,
  // else the image one (SearchResponse::min_score_rule says which applied). Indexed images used
  // as terms (by id, or an uploaded image that is indexed, unless !exclude_self) are left out.
  // kInvalidArgument for no terms, more than kMaxTerms, a weight that is zero or not finite, a
  // bad term (empty text, undecodable image, wrong embedding), or terms that cancel out;
  // kNotFound for an unknown id. Messages name the term (1-based).
  virtual StatusOr<SearchResponse> search_combined(std::span<const QueryTerm> terms,
                                                   const SearchOptions& options) const = 0;
  virtual StatusOr<IndexedImage> image(int64_t id) const = 0;
};

// Checks k, offset, min_score and collapse_duplicates ranges (kInvalidArgument naming the field).
Status validate_search_options(const SearchOptions& options);

// Checks a query embedding against the model's dimension `dim` (0: not checked): its length, and
// that every value is finite and not all are zero. kInvalidArgument naming the problem.
Status validate_query_embedding(std::span<const float> embedding, size_t dim);

// The checks of a combination that need no model: 1..kMaxTerms terms, finite non-zero weights,
// non-blank texts, non-empty images, valid embeddings (of `dim`, 0: unchecked). Messages start
// "term N: ".
Status validate_query_terms(std::span<const QueryTerm> terms, size_t dim);

// The threshold rule of a combined query: (threshold, the sentence saying why), with the
// backend's default thresholds.
std::pair<float, std::string> combined_min_score(std::span<const QueryTerm> terms,
                                                 const SearchOptions& options,
                                                 float text_default = kDefaultTextMinScore,
                                                 float image_default = kDefaultImageMinScore);

}  // namespace xrs
