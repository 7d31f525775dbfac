#include "index/duplicates.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>

#include "core/disjoint_sets.h"

namespace xrs {

namespace {

bool pair_before(const DuplicatePair& x, const DuplicatePair& y) {
  if (x.score != y.score) return x.score > y.score;
  return x.a != y.a ? x.a < y.a : x.b < y.b;
}

}  // namespace

Status validate_duplicate_min_score(float min_score) {
  if (!(min_score > 0.0f && min_score <= 1.0f)) {
    return Status::invalid_argument(
        "the near-duplicate threshold must be a cosine similarity in (0, 1], got " +
        (std::isnan(min_score) ? std::string("NaN") : std::to_string(min_score)));
  }
  return Status::ok();
}

StatusOr<std::vector<DuplicatePair>> find_duplicate_pairs(const IndexReader& index,
                                                          const DuplicateOptions& options) {
  XRS_RETURN_IF_ERROR(validate_duplicate_min_score(options.min_score));
  if (options.neighbours == 0) return Status::invalid_argument("neighbours must be at least 1");
  const std::vector<ImageRecord>& rows = index.images();
  const size_t n = rows.size();
  if (n < 2) return std::vector<DuplicatePair>{};
  const size_t dim = index.model().dim;
  const size_t batch = std::max<size_t>(1, options.queries_per_batch);

  // (a, b) with a < b → the best score seen from either side (the two products may differ in
  // the last bit).
  std::map<std::pair<int64_t, int64_t>, float> found;
  // Rows still to search and the list length to ask for; rows whose list came back full go
  // round again with twice the length.
  std::vector<size_t> pending(n);
  std::iota(pending.begin(), pending.end(), size_t{0});
  size_t k = std::min(options.neighbours, n - 1) + 1;  // + the image itself
  std::vector<float> queries;
  while (!pending.empty()) {
    std::vector<size_t> full;
    SearchRequest request;
    request.k = k;
    request.min_score = options.min_score;
    for (size_t start = 0; start < pending.size(); start += batch) {
      const size_t count = std::min(batch, pending.size() - start);
      queries.resize(count * dim);
      for (size_t q = 0; q < count; ++q) {
        XRS_ASSIGN_OR_RETURN(std::vector<float> e, index.embedding(rows[pending[start + q]].id));
        std::copy(e.begin(), e.end(), queries.begin() + static_cast<std::ptrdiff_t>(q * dim));
      }
      XRS_ASSIGN_OR_RETURN(auto results, index.search_batch(queries, request));
      for (size_t q = 0; q < count; ++q) {
        const size_t row = pending[start + q];
        const int64_t self = rows[row].id;
        if (results[q].size() == k && k < n) full.push_back(row);
        for (const SearchResult& r : results[q]) {
          if (r.id == self) continue;
          auto key = std::minmax(self, r.id);
          auto [it, inserted] = found.try_emplace({key.first, key.second}, r.score);
          if (!inserted) it->second = std::max(it->second, r.score);
        }
      }
    }
    pending = std::move(full);
    k = std::min(n, 2 * k);
  }
  std::vector<DuplicatePair> pairs;
  pairs.reserve(found.size());
  for (const auto& [key, score] : found) pairs.push_back({key.first, key.second, score});
  std::sort(pairs.begin(), pairs.end(), pair_before);
  return pairs;
}

std::vector<DuplicateGroup> group_duplicates(const std::vector<DuplicatePair>& pairs) {
  // Dense positions for the ids that occur in pairs.
  std::vector<int64_t> ids;
  ids.reserve(pairs.size() * 2);
  for (const DuplicatePair& p : pairs) {
    ids.push_back(p.a);
    ids.push_back(p.b);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  auto pos = [&ids](int64_t id) {
    return static_cast<size_t>(std::lower_bound(ids.begin(), ids.end(), id) - ids.begin());
  };
  // Kruskal in descending score order: the edge that joins two parts is the weakest of the
  // group's maximum spanning tree so far, so the last join sets the group's linking score.
  std::vector<DuplicatePair> sorted = pairs;
  std::sort(sorted.begin(), sorted.end(), pair_before);
  DisjointSets sets(ids.size());
  std::vector<float> link(ids.size(), 1.0f);
  for (const DuplicatePair& p : sorted) {
    const size_t a = sets.find(pos(p.a)), b = sets.find(pos(p.b));
    if (a == b) continue;
    const float score = std::min({link[a], link[b], p.score});
    sets.join(a, b);
    link[sets.find(a)] = score;
  }
  std::map<size_t, DuplicateGroup> by_root;
  for (size_t i = 0; i < ids.size(); ++i) {
    const size_t root = sets.find(i);
    DuplicateGroup& g = by_root[root];
    g.ids.push_back(ids[i]);  // ascending, as ids is
    g.min_score = link[root];
  }
  std::vector<DuplicateGroup> groups;
  groups.reserve(by_root.size());
  for (auto& [root, g] : by_root) groups.push_back(std::move(g));
  std::sort(groups.begin(), groups.end(), [](const DuplicateGroup& x, const DuplicateGroup& y) {
    if (x.ids.size() != y.ids.size()) return x.ids.size() > y.ids.size();
    if (x.min_score != y.min_score) return x.min_score > y.min_score;
    return x.ids.front() < y.ids.front();
  });
  return groups;
}

StatusOr<std::vector<DuplicateGroup>> find_duplicate_groups(const IndexReader& index,
                                                            const DuplicateOptions& options) {
  XRS_ASSIGN_OR_RETURN(std::vector<DuplicatePair> pairs, find_duplicate_pairs(index, options));
  return group_duplicates(pairs);
}

}  // namespace xrs
