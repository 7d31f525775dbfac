// Retrieval metrics as pure functions (docs/EVALUATION.md has every definition and formula).
//
// A ranking is judged by the relevance of its items in rank order and by R, the number of
// relevant items among all candidates (which may exceed what the ranking lists). Per query:
//
//   P@1, P@k          relevant in the top 1 / top k, divided by 1 / k
//   R-precision       relevant in the top R, divided by R
//   MAP@R             (1/R) * sum over i <= R of P@i * rel(i)   (Musgrave et al. 2020)
//   AP                (1/R) * sum over relevant ranks i of P@i  (mean: mAP)
//   RR                1 / rank of the first relevant item, 0 when none (mean: MRR)
//
// The chance baseline of a query is each metric's expected value over uniformly random
// rankings of its N candidates with R relevant (closed forms in chance_metrics).
//
// Thread-safety: pure functions and plain values.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace xrs::eval {

// The metrics of one query, or an average of them. Index with Metric.
enum class Metric { kP1, kPk, kRPrecision, kMapAtR, kMap, kMrr };
inline constexpr size_t kMetricCount = 6;
// JSON keys, in Metric order: "p@1", "p@k", "r_precision", "map_at_r", "map", "mrr".
std::string_view metric_key(Metric m);
// Table labels: "P@1", "P@k", "R-prec", "MAP@R", "mAP", "MRR".
std::string_view metric_label(Metric m);

struct Metrics {
  std::array<double, kMetricCount> v{};
  double& operator[](Metric m) { return v[static_cast<size_t>(m)]; }
  double operator[](Metric m) const { return v[static_cast<size_t>(m)]; }
};

// The metrics of one ranking. `relevant[i]` is the relevance of rank i + 1 (0 or 1), normally the
// whole ranking; relevant items missing from the list count as never retrieved (they add 0 to AP).
// total_relevant (R) >= 1 and k >= 1; P@k divides by k even when fewer than k items were ranked
// or are relevant.
Metrics ranking_metrics(std::span<const uint8_t> relevant, size_t total_relevant, size_t k);

// Expected metrics of a uniformly random ranking of n candidates of which r are relevant
// (1 <= r <= n), k >= 1:
//   P@1 = R-precision = r/n;  P@k = (r/n) * min(k, n) / k
//   MAP@R = (1/n) * [H_r + (r-1)/(n-1) * (r - H_r)]
//   AP    = (1/n) * [H_n + (r-1)/(n-1) * (n - H_n)]     (H_m: the m-th harmonic number)
//   RR    = sum over j of P(first relevant at j) / j
// (for n = 1 the (r-1)/(n-1) terms are 0).
Metrics chance_metrics(size_t n, size_t r, size_t k);

// One evaluated query: its group for macro averaging (a category, or "" for a user query with an
// explicit image list), its metrics and their chance values.
struct QueryResult {
  std::string label;      // what the query was: a text, an image name
  std::string category;   // the category it is averaged under ("" for none: micro only)
  size_t candidates = 0;  // N: images ranked
  size_t relevant = 0;    // R: relevant images among them (0: the query is not scored)
  Metrics metrics;
  Metrics chance;
  // The top k: ids, scores and relevance, in rank order.
  std::vector<int64_t> top_ids;
  std::vector<float> top_scores;
  std::vector<uint8_t> top_relevant;
};

struct Interval {
  double low = 0, high = 0;
};

// Averages of a set of queries.
struct Summary {
  size_t queries = 0;  // scored queries (relevant >= 1)
  size_t skipped = 0;  // queries with nothing relevant among their candidates
  // Per category: the mean over its scored queries, sorted by category name ("" excluded).
  std::vector<std::pair<std::string, Metrics>> per_category;
  std::vector<std::pair<std::string, Metrics>> per_category_chance;
  std::vector<std::pair<std::string, size_t>> per_category_queries;
  // Macro: the mean of the per-category means over the categories with a scored query; the
  // scored queries without a category (user queries listing images) form one more group. When no
  // query has a category this equals the micro average.
  Metrics macro, macro_chance;
  Metrics micro, micro_chance;  // the mean over all scored queries
  // 95% percentile bootstrap interval of each macro figure: the scored queries resampled with
  // replacement, the macro average recomputed, `bootstrap_samples` times.
  std::array<Interval, kMetricCount> macro_ci{};
  size_t bootstrap_samples = 0;
};

struct SummaryOptions {
  size_t bootstrap_samples = 1000;  // 0: no intervals (low = high = the macro value)
  uint64_t seed = 20261205;         // the bootstrap's generator seed: same seed, same intervals
};

Summary summarize(std::span<const QueryResult> queries, const SummaryOptions& options = {});

// A score threshold judged on the scores of relevant and irrelevant results.
struct ThresholdSuggestion {
  size_t relevant = 0, irrelevant = 0;  // scores seen
  // The largest threshold keeping at least `keep` of the relevant scores (score >= threshold):
  // the ceil(keep * relevant)-th highest relevant score. NaN when there is no relevant score.
  double min_score = 0;
  double relevant_kept = 0;      // fraction of relevant scores >= min_score
  double irrelevant_passed = 0;  // fraction of irrelevant scores >= min_score (0 when none)
};
ThresholdSuggestion suggest_threshold(std::span<const float> relevant_scores,
                                      std::span<const float> irrelevant_scores, double keep = 0.95);

// A histogram of scores over [low, high) in `bins` equal bins (values outside are clamped into
// the first or last bin).
struct Histogram {
  double low = 0, high = 0;
  std::vector<size_t> counts;
};
Histogram histogram(std::span<const float> scores, double low, double high, size_t bins);

}  // namespace xrs::eval
