// Retrieval evaluation over stored embeddings: every query is scored against every indexed image
// with one matrix product (BLAS sgemm, a block of queries at a time), each query's candidates are
// ranked in full (score descending, then id ascending: the order of index/topk.h) and judged
// with eval/metrics.h.
//
//   image_to_image: leave-one-out. Every image is a query against the others; relevant = same
//     category; images of the query's own group (a patient or study id), when it has one, are
//     left out of its ranking.
//   run_queries: given query vectors (texts embedded by the caller, or indexed images) with what
//     is relevant to each: a category or a list of images.
//
// Thread-safety: pure functions over caller-owned data; `threads` workers rank queries in
// parallel, and the progress callback runs on the calling thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "eval/metrics.h"

namespace xrs::eval {

// The indexed images: row r is the image ids[r] (ascending), its embedding the r-th row of
// `vectors` (n x dim, row-major, L2-normalised), its category category_names[category[r]], its
// group group[r] (-1: none; empty vector: no groups).
struct Corpus {
  std::span<const float> vectors;
  size_t dim = 0;
  std::span<const int64_t> ids;
  std::vector<std::string> category_names;
  std::vector<int32_t> category;
  std::vector<int64_t> group;

  size_t size() const { return ids.size(); }
  // kInvalidArgument when the sizes disagree, ids are not increasing, a category index is out of
  // range, or there are fewer than 2 images.
  Status check() const;
};

struct RunOptions {
  size_t k = 5;        // P@k and the top results kept per query (>= 1)
  int threads = 2;     // ranking workers (>= 1)
  size_t block = 256;  // queries per matrix product
  // Called after each block with (queries done, total), on the calling thread.
  std::function<void(size_t, size_t)> progress;
};

StatusOr<std::vector<QueryResult>> image_to_image(const Corpus& corpus, const RunOptions& options);

struct Query {
  std::string label;
  std::vector<float> embedding;  // dim values (normalised here)
  // Relevant images: those of this category when set, else the rows listed.
  std::optional<int32_t> category;
  std::vector<size_t> relevant_rows;
  // Left out of the ranking: an indexed image used as the query.
  std::optional<size_t> exclude_row;
};

// Errors: kInvalidArgument for a query of the wrong dimension, non-finite or all-zero (naming
// its label), a row or category out of range.
StatusOr<std::vector<QueryResult>> run_queries(const Corpus& corpus, std::span<const Query> queries,
                                               const RunOptions& options);

// The scores of the top-k results of `results`, split by relevance.
struct TopScores {
  std::vector<float> relevant, irrelevant;
};
TopScores top_scores(std::span<const QueryResult> results);

}  // namespace xrs::eval
