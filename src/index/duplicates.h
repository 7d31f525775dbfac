// Near-duplicate groups of an index: images whose stored embeddings have cosine similarity at
// or above a threshold, linked into groups (`xray-search duplicates`, docs/CLI.md).
//
// How: one neighbour search per image through the index's own search (IndexReader::search_batch:
// blocked BLAS matrix products for an exact index, FAISS for IVF/HNSW), asking for each image's
// best `neighbours` matches at or above the threshold. An image whose list comes back full may
// have more: it is searched again with twice as many, until its list is not full. So for an exact
// index the pairs found are exactly all pairs at or above the threshold (the brute-force answer),
// at the cost of the matrix products, not of an all-pairs loop; approximate indexes can miss
// pairs their search misses.
//
// Groups are the connected components of the graph of those pairs (union-find; single
// linkage: a chain a~b~c is one group even when a and c are not near-identical). A group's
// min_score is its linking score: the lowest pair score needed to hold it together, that is the
// smallest edge of its maximum spanning tree (raise the threshold above it and the group splits).
// For a group of two it is the pair's score.
//
// Thread-safety: a pure function of an immutable IndexReader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/status.h"
#include "index/index_reader.h"

namespace xrs {

struct DuplicateOptions {
  float min_score = 0;     // pairs with cosine similarity >= this; must be in (0, 1]
  size_t neighbours = 16;  // first neighbour-list length per image (>= 1); doubled as needed
  size_t queries_per_batch = 512;  // images searched per search_batch call (memory: x dim floats)
};

struct DuplicatePair {
  int64_t a = 0;  // a < b
  int64_t b = 0;
  float score = 0;
};

struct DuplicateGroup {
  std::vector<int64_t> ids;  // >= 2 image ids, ascending
  float min_score = 0;       // the linking score (see above)
};

// kInvalidArgument when min_score is not in (0, 1] (NaN included), naming the value.
Status validate_duplicate_min_score(float min_score);

// Every pair at or above options.min_score (each pair once, a < b), sorted by score descending
// then (a, b) ascending. Errors: validate_duplicate_min_score's, neighbours == 0, and the index's
// search errors.
StatusOr<std::vector<DuplicatePair>> find_duplicate_pairs(const IndexReader& index,
                                                          const DuplicateOptions& options);

// The groups of `pairs` (as find_duplicate_pairs returns them: sorted by score descending),
// largest first, then by min_score descending, then by smallest id.
std::vector<DuplicateGroup> group_duplicates(const std::vector<DuplicatePair>& pairs);

// find_duplicate_pairs then group_duplicates. An index of fewer than two images has no groups.
StatusOr<std::vector<DuplicateGroup>> find_duplicate_groups(const IndexReader& index,
                                                            const DuplicateOptions& options);

}  // namespace xrs
