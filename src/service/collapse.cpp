#include "service/collapse.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "service/clip_search_service.h"

namespace xrs {

namespace {

// Slack for float rounding in the score floor below which no near-duplicate of the page's kept
// results can rank (the bound itself is exact in real arithmetic).
constexpr double kFloorSlack = 1e-4;

float dot(std::span<const float> a, std::span<const float> b) {
  float s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

StatusOr<std::vector<SearchHit>> collapsed_search(const IndexReader& index,
                                                  std::span<const float> query,
                                                  const SearchRequest& request, size_t k,
                                                  size_t offset, float threshold) {
  const size_t need = offset + k;  // kept results up to the end of the page
  const size_t n = index.size();
  SearchRequest r = request;
  r.offset = 0;
  r.k = std::max<size_t>(1, std::min(n, 2 * need + 8));
  std::vector<SearchResult> ranking;
  // Kept results up to the end of the page: position in `ranking` and embedding.
  std::vector<size_t> kept;
  std::vector<std::vector<float>> kept_vectors;
  std::vector<int> hidden;  // per kept result
  size_t walked = 0;        // results of `ranking` classified so far
  bool floor_applied = false;
  for (;;) {
    XRS_ASSIGN_OR_RETURN(ranking, index.search(query, r));
    const bool complete = ranking.size() < r.k;  // nothing more qualifies
    // A deeper search repeats the shallower one's ranking first (exact indexes), so the walk
    // resumes where it stopped; an approximate index may differ, so it starts over.
    if (index.load_report().kind != IndexKind::kExact) {
      kept.clear();
      kept_vectors.clear();
      hidden.clear();
      walked = 0;
    }
    for (; walked < ranking.size(); ++walked) {
      XRS_ASSIGN_OR_RETURN(std::vector<float> e, index.embedding(ranking[walked].id));
      size_t match = kept.size();
      for (size_t j = 0; j < kept.size(); ++j) {
        if (dot(e, kept_vectors[j]) >= threshold) {
          match = j;
          break;
        }
      }
      if (match < kept.size()) {
        ++hidden[match];
      } else if (kept.size() < need) {
        kept.push_back(walked);
        kept_vectors.push_back(std::move(e));
        hidden.push_back(0);
      }
      // Otherwise a result kept below the page: it neither shows nor hides anything shown.
    }
    if (complete || r.k >= n) break;
    if (kept.size() < need) {
      r.k = std::min(n, r.k * 4);
      continue;
    }
    if (floor_applied) break;
    // The page is full: read on down to the floor, so that every near-duplicate of a kept result
    // is counted.
    const double last = std::clamp<double>(ranking[kept.back()].score, -1.0, 1.0);
    const double angle = std::acos(last) + std::acos(std::min<double>(threshold, 1.0));
    const double floor = angle >= std::numbers::pi ? -1.0 : std::cos(angle) - kFloorSlack;
    if (ranking.back().score < floor) break;  // already read past it
    r.min_score = std::max(request.min_score, static_cast<float>(floor));
    r.k = n;
    floor_applied = true;
  }
  std::vector<SearchHit> out;
  for (size_t j = offset; j < kept.size(); ++j) {
    SearchHit h = to_hit(ranking[kept[j]]);
    h.rank = static_cast<int>(j + 1);
    h.duplicates_hidden = hidden[j];
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace xrs
