#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <tuple>

namespace xrs::eval {

std::string_view metric_key(Metric m) {
  switch (m) {
    case Metric::kP1:
      return "p@1";
    case Metric::kPk:
      return "p@k";
    case Metric::kRPrecision:
      return "r_precision";
    case Metric::kMapAtR:
      return "map_at_r";
    case Metric::kMap:
      return "map";
    case Metric::kMrr:
      return "mrr";
  }
  return "?";
}

std::string_view metric_label(Metric m) {
  switch (m) {
    case Metric::kP1:
      return "P@1";
    case Metric::kPk:
      return "P@k";
    case Metric::kRPrecision:
      return "R-prec";
    case Metric::kMapAtR:
      return "MAP@R";
    case Metric::kMap:
      return "mAP";
    case Metric::kMrr:
      return "MRR";
  }
  return "?";
}

Metrics ranking_metrics(std::span<const uint8_t> relevant, size_t total_relevant, size_t k) {
  Metrics m;
  const double r = static_cast<double>(total_relevant);
  size_t hits = 0;
  double ap = 0, map_at_r = 0;
  bool first = false;
  for (size_t i = 0; i < relevant.size(); ++i) {
    const size_t rank = i + 1;
    if (relevant[i]) {
      ++hits;
      const double precision = static_cast<double>(hits) / static_cast<double>(rank);
      ap += precision;
      if (rank <= total_relevant) map_at_r += precision;
      if (!first) {
        m[Metric::kMrr] = 1.0 / static_cast<double>(rank);
        first = true;
      }
    }
    if (rank == 1) m[Metric::kP1] = static_cast<double>(hits);
    if (rank == k) m[Metric::kPk] = static_cast<double>(hits) / static_cast<double>(k);
    if (rank == total_relevant) m[Metric::kRPrecision] = static_cast<double>(hits) / r;
  }
  // Rankings shorter than k or R: what was ranked is all there is.
  if (relevant.size() < k) m[Metric::kPk] = static_cast<double>(hits) / static_cast<double>(k);
  if (relevant.size() < total_relevant) m[Metric::kRPrecision] = static_cast<double>(hits) / r;
  m[Metric::kMap] = ap / r;
  m[Metric::kMapAtR] = map_at_r / r;
  return m;
}

namespace {

double harmonic(size_t n) {
  double h = 0;
  for (size_t i = n; i >= 1; --i) h += 1.0 / static_cast<double>(i);
  return h;
}

}  // namespace

Metrics chance_metrics(size_t n, size_t r, size_t k) {
  Metrics m;
  if (n == 0 || r == 0) return m;
  r = std::min(r, n);
  const double N = static_cast<double>(n), R = static_cast<double>(r);
  const double base = R / N;
  m[Metric::kP1] = base;
  m[Metric::kRPrecision] = base;
  m[Metric::kPk] = base * static_cast<double>(std::min(k, n)) / static_cast<double>(k);
  const double f = n > 1 ? (R - 1) / (N - 1) : 0.0;
  const double hr = harmonic(r), hn = harmonic(n);
  m[Metric::kMapAtR] = (hr + f * (R - hr)) / N;
  m[Metric::kMap] = (hn + f * (N - hn)) / N;
  // P(first relevant at j) = P(ranks 1..j-1 irrelevant) * r / (n - j + 1).
  double none_yet = 1, rr = 0;
  for (size_t j = 1; j + r <= n + 1; ++j) {
    const double left = static_cast<double>(n - j + 1);
    rr += none_yet * R / left / static_cast<double>(j);
    none_yet *= (left - R) / left;
    if (none_yet < 1e-17) break;
  }
  m[Metric::kMrr] = rr;
  return m;
}

namespace {

constexpr char kUncategorised[] = "\x01uncategorised";

void add(Metrics& sum, const Metrics& m) {
  for (size_t i = 0; i < kMetricCount; ++i) sum.v[i] += m.v[i];
}
Metrics divided(Metrics m, size_t n) {
  if (n == 0) return m;
  for (double& x : m.v) x /= static_cast<double>(n);
  return m;
}

// Macro average of `picked` (indexes into scored) by group.
Metrics macro_of(std::span<const QueryResult* const> scored, std::span<const size_t> picked,
                 bool chance) {
  std::map<std::string_view, std::pair<Metrics, size_t>> groups;
  for (size_t i : picked) {
    const QueryResult& q = *scored[i];
    auto& g = groups[q.category.empty() ? std::string_view(kUncategorised) : q.category];
    add(g.first, chance ? q.chance : q.metrics);
    ++g.second;
  }
  Metrics sum;
  for (const auto& [name, g] : groups) add(sum, divided(g.first, g.second));
  return divided(sum, groups.size());
}

}  // namespace

Summary summarize(std::span<const QueryResult> queries, const SummaryOptions& options) {
  Summary s;
  std::vector<const QueryResult*> scored;
  for (const QueryResult& q : queries) {
    if (q.relevant == 0) {
      ++s.skipped;
    } else {
      scored.push_back(&q);
    }
  }
  s.queries = scored.size();
  if (scored.empty()) return s;
  std::map<std::string, std::tuple<Metrics, Metrics, size_t>> cats;
  for (const QueryResult* q : scored) {
    add(s.micro, q->metrics);
    add(s.micro_chance, q->chance);
    if (q->category.empty()) continue;
    auto& [m, c, n] = cats[q->category];
    add(m, q->metrics);
    add(c, q->chance);
    ++n;
  }
  s.micro = divided(s.micro, scored.size());
  s.micro_chance = divided(s.micro_chance, scored.size());
  for (const auto& [name, t] : cats) {
    s.per_category.emplace_back(name, divided(std::get<0>(t), std::get<2>(t)));
    s.per_category_chance.emplace_back(name, divided(std::get<1>(t), std::get<2>(t)));
    s.per_category_queries.emplace_back(name, std::get<2>(t));
  }
  std::vector<size_t> all(scored.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  s.macro = macro_of(scored, all, false);
  s.macro_chance = macro_of(scored, all, true);

  s.bootstrap_samples = options.bootstrap_samples;
  for (size_t i = 0; i < kMetricCount; ++i) s.macro_ci[i] = {s.macro.v[i], s.macro.v[i]};
  if (options.bootstrap_samples == 0) return s;
  // Each scored query's group (category, or one group for the uncategorised), as an index.
  std::map<std::string_view, size_t> group_index;
  std::vector<size_t> group_of(scored.size());
  for (size_t i = 0; i < scored.size(); ++i) {
    const std::string& c = scored[i]->category;
    group_of[i] =
        group_index
            .try_emplace(c.empty() ? std::string_view(kUncategorised) : c, group_index.size())
            .first->second;
  }
  std::mt19937_64 gen(options.seed);
  std::vector<std::vector<double>> samples(kMetricCount);
  std::vector<Metrics> sums(group_index.size());
  std::vector<size_t> counts(group_index.size());
  for (size_t b = 0; b < options.bootstrap_samples; ++b) {
    std::fill(sums.begin(), sums.end(), Metrics{});
    std::fill(counts.begin(), counts.end(), 0);
    for (size_t draw = 0; draw < scored.size(); ++draw) {
      // A uniform draw by the modulo of a 64-bit value: bias below 2^-40 for any size here, and
      // (unlike std::uniform_int_distribution) the same on every standard library.
      const size_t p = static_cast<size_t>(gen() % scored.size());
      add(sums[group_of[p]], scored[p]->metrics);
      ++counts[group_of[p]];
    }
    Metrics macro;
    size_t groups = 0;
    for (size_t g = 0; g < sums.size(); ++g) {
      if (counts[g] == 0) continue;
      add(macro, divided(sums[g], counts[g]));
      ++groups;
    }
    macro = divided(macro, groups);
    for (size_t i = 0; i < kMetricCount; ++i) samples[i].push_back(macro.v[i]);
  }
  for (size_t i = 0; i < kMetricCount; ++i) {
    std::vector<double>& v = samples[i];
    std::sort(v.begin(), v.end());
    // Percentiles by the nearest-rank rule: the ceil(p * B)-th smallest.
    auto at = [&](double p) {
      size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
      rank = std::clamp<size_t>(rank, 1, v.size());
      return v[rank - 1];
    };
    s.macro_ci[i] = {at(0.025), at(0.975)};
  }
  return s;
}

ThresholdSuggestion suggest_threshold(std::span<const float> relevant_scores,
                                      std::span<const float> irrelevant_scores, double keep) {
  ThresholdSuggestion t;
  t.relevant = relevant_scores.size();
  t.irrelevant = irrelevant_scores.size();
  if (relevant_scores.empty()) {
    t.min_score = std::numeric_limits<double>::quiet_NaN();
    return t;
  }
  std::vector<float> rel(relevant_scores.begin(), relevant_scores.end());
  std::sort(rel.begin(), rel.end(), std::greater<float>());
  size_t need = static_cast<size_t>(std::ceil(keep * static_cast<double>(rel.size()) - 1e-9));
  need = std::clamp<size_t>(need, 1, rel.size());
  const float threshold = rel[need - 1];
  t.min_score = threshold;
  size_t kept = 0, passed = 0;
  for (float s : rel) kept += s >= threshold;
  for (float s : irrelevant_scores) passed += s >= threshold;
  t.relevant_kept = static_cast<double>(kept) / static_cast<double>(rel.size());
  t.irrelevant_passed =
      irrelevant_scores.empty()
          ? 0.0
          : static_cast<double>(passed) / static_cast<double>(irrelevant_scores.size());
  return t;
}

Histogram histogram(std::span<const float> scores, double low, double high, size_t bins) {
  Histogram h;
  h.low = low;
  h.high = high;
  h.counts.assign(std::max<size_t>(bins, 1), 0);
  const double width = (high - low) / static_cast<double>(h.counts.size());
  for (float s : scores) {
    double b = std::floor((static_cast<double>(s) - low) / width);
    b = std::clamp(b, 0.0, static_cast<double>(h.counts.size() - 1));
    ++h.counts[static_cast<size_t>(b)];
  }
  return h;
}

}  // namespace xrs::eval
