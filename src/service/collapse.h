// Collapsing near-duplicates in a ranking (SearchOptions::collapse_duplicates; docs/DUPLICATES.md,
// "Collapsing near-duplicates in results").
//
// The collapsed ranking: walk the full ranking (score descending, then id ascending); a result
// whose stored embedding has cosine similarity >= threshold with a result already kept above it
// is hidden, and counted in `duplicates_hidden` of the highest-ranked kept result it matches;
// every other result is kept. So each kept result is the best-scoring of its near-duplicates in
// this ranking. Whether a result is kept depends only on the results above it, so pages (offset,
// k) of the collapsed ranking concatenate to the whole collapsed ranking, and ranks are 1-based
// positions in it.
//
// duplicates_hidden counts every hidden result of the whole ranking (at or above min_score, in
// the category, not excluded) attached to that kept result, not only those near the page: a
// near-duplicate B of a kept A (cos(A, B) >= t) has angle(q, B) <= angle(q, A) + acos(t) (the
// triangle inequality on the sphere), so the ranking is read down to the score
// cos(angle(q, last kept result of the page) + acos(t)) and no further.
//
// Thread-safety: a pure function of an immutable IndexReader.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"
#include "index/index_reader.h"
#include "service/search_service.h"

namespace xrs {

// The hits of ranks offset+1 .. offset+k of the collapsed ranking of `query` (L2-normalised,
// index dim) under `request`'s min_score, category and exclude_ids (its k and offset are
// ignored). threshold in (0, 1]. Errors: those of IndexReader::search.
StatusOr<std::vector<SearchHit>> collapsed_search(const IndexReader& index,
                                                  std::span<const float> query,
                                                  const SearchRequest& request, size_t k,
                                                  size_t offset, float threshold);

}  // namespace xrs
