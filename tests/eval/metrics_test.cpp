// eval/metrics.h and eval/retrieval.h against independent computations: hand-worked rankings,
// chance baselines by enumerating every ranking, a threshold on a constructed distribution, and
// a whole leave-one-out and text-query run against a NumPy brute force (/usr/bin/python3) written
// here, with ties, groups, a category smaller than k and a category with a single image.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include "e2e/subprocess.h"
#include "eval/metrics.h"
#include "eval/retrieval.h"
#include "support/test_paths.h"

namespace xrs::eval {
namespace {

using json = nlohmann::json;

constexpr const char* kPython = "/usr/bin/python3";

std::string numpy_missing() {
  if (!std::filesystem::exists(kPython)) return std::string(kPython) + " is absent";
  const testing::ProcessResult r = testing::run_process({kPython, "-c", "import numpy"});
  return r.exit_code == 0 ? "" : std::string(kPython) + " has no numpy: " + r.err;
}

void expect_metrics(const Metrics& got, const Metrics& want, const std::string& what,
                    double tol = 1e-12) {
  for (size_t i = 0; i < kMetricCount; ++i) {
    EXPECT_NEAR(got.v[i], want.v[i], tol) << what << " " << metric_key(static_cast<Metric>(i));
  }
}

Metrics make(double p1, double pk, double rp, double mapr, double ap, double rr) {
  Metrics m;
  m.v = {p1, pk, rp, mapr, ap, rr};
  return m;
}

TEST(RankingMetrics, HandWorkedRankings) {
  // rel 1 0 1 0 1, R = 3, k = 2: P@1 1, P@2 1/2, R-prec 2/3, MAP@R (1 + 2/3)/3,
  // AP (1 + 2/3 + 3/5)/3, RR 1.
  const std::vector<uint8_t> a = {1, 0, 1, 0, 1};
  expect_metrics(ranking_metrics(a, 3, 2),
                 make(1, 0.5, 2.0 / 3, (1 + 2.0 / 3) / 3, (1 + 2.0 / 3 + 3.0 / 5) / 3, 1), "a");
  // rel 0 0 1 0, R = 1, k = 5 (k larger than the category and the ranking): P@5 1/5.
  const std::vector<uint8_t> b = {0, 0, 1, 0};
  expect_metrics(ranking_metrics(b, 1, 5), make(0, 0.2, 0, 0, 1.0 / 3, 1.0 / 3), "b");
  // Nothing relevant retrieved (a truncated list): everything 0.
  const std::vector<uint8_t> c = {0, 0};
  expect_metrics(ranking_metrics(c, 2, 1), make(0, 0, 0, 0, 0, 0), "c");
  // All relevant first.
  const std::vector<uint8_t> d = {1, 1, 0, 0};
  expect_metrics(ranking_metrics(d, 2, 3), make(1, 2.0 / 3, 1, 1, 1, 1), "d");
}

// The chance baseline against the average over every placement of r relevant items among n.
TEST(ChanceMetrics, EqualTheMeanOverAllRankings) {
  for (size_t n : {1u, 2u, 5u, 8u}) {
    for (size_t r = 1; r <= n; ++r) {
      for (size_t k : {1u, 3u, 10u}) {
        // Every placement of r relevant items among n ranks, as the bits of a mask.
        Metrics sum;
        size_t count = 0;
        for (unsigned mask = 0; mask < (1u << n); ++mask) {
          if (static_cast<size_t>(__builtin_popcount(mask)) != r) continue;
          std::vector<uint8_t> rel;
          for (size_t i = 0; i < n; ++i) rel.push_back(static_cast<uint8_t>((mask >> i) & 1u));
          const Metrics m = ranking_metrics(rel, r, k);
          for (size_t i = 0; i < kMetricCount; ++i) sum.v[i] += m.v[i];
          ++count;
        }
        for (double& v : sum.v) v /= static_cast<double>(count);
        expect_metrics(
            chance_metrics(n, r, k), sum,
            "n=" + std::to_string(n) + " r=" + std::to_string(r) + " k=" + std::to_string(k),
            1e-12);
      }
    }
  }
}

TEST(SuggestThreshold, ConstructedDistribution) {
  // Relevant scores 0.01 .. 1.00: keeping 95 of 100 needs threshold 0.06 (the 95th highest).
  std::vector<float> rel, irr;
  for (int i = 1; i <= 100; ++i) rel.push_back(static_cast<float>(i) / 100.0f);
  // Irrelevant 0.00 .. 0.19: 0.06 .. 0.19 pass, 14 of 20.
  for (int i = 0; i < 20; ++i) irr.push_back(static_cast<float>(i) / 100.0f);
  std::shuffle(rel.begin(), rel.end(), std::mt19937(1));
  const ThresholdSuggestion t = suggest_threshold(rel, irr, 0.95);
  EXPECT_FLOAT_EQ(static_cast<float>(t.min_score), 0.06f);
  EXPECT_DOUBLE_EQ(t.relevant_kept, 0.95);
  EXPECT_DOUBLE_EQ(t.irrelevant_passed, 14.0 / 20.0);
  EXPECT_EQ(t.relevant, 100u);
  EXPECT_EQ(t.irrelevant, 20u);
  // Ties at the threshold are kept: 10 equal scores keep all 10.
  const std::vector<float> same(10, 0.5f);
  const ThresholdSuggestion u = suggest_threshold(same, {}, 0.95);
  EXPECT_FLOAT_EQ(static_cast<float>(u.min_score), 0.5f);
  EXPECT_DOUBLE_EQ(u.relevant_kept, 1.0);
  EXPECT_DOUBLE_EQ(u.irrelevant_passed, 0.0);
  EXPECT_TRUE(std::isnan(suggest_threshold({}, irr).min_score));
}

TEST(Histogram, CountsAndClamps) {
  const std::vector<float> s = {-2.0f, 0.0f, 0.24f, 0.25f, 0.99f, 1.0f, 3.0f};
  const Histogram h = histogram(s, 0.0, 1.0, 4);
  EXPECT_EQ(h.counts, (std::vector<size_t>{3, 1, 0, 3}));
}

TEST(Summarize, MacroMicroAndDeterministicBootstrap) {
  std::vector<QueryResult> q(5);
  const char* cats[] = {"a", "a", "a", "b", ""};
  const double p1[] = {1, 0, 1, 0, 1};
  for (size_t i = 0; i < q.size(); ++i) {
    q[i].category = cats[i];
    q[i].relevant = 1;
    q[i].metrics[Metric::kP1] = p1[i];
    q[i].chance[Metric::kP1] = 0.5;
  }
  QueryResult skipped;
  skipped.category = "b";
  q.push_back(skipped);  // relevant == 0: not scored
  const Summary s = summarize(q, {.bootstrap_samples = 500, .seed = 7});
  EXPECT_EQ(s.queries, 5u);
  EXPECT_EQ(s.skipped, 1u);
  // Groups: a (2/3), b (0), uncategorised (1): macro 5/9; micro 3/5.
  EXPECT_NEAR(s.macro[Metric::kP1], (2.0 / 3 + 0 + 1) / 3, 1e-12);
  EXPECT_NEAR(s.micro[Metric::kP1], 0.6, 1e-12);
  EXPECT_NEAR(s.macro_chance[Metric::kP1], 0.5, 1e-12);
  ASSERT_EQ(s.per_category.size(), 2u);
  EXPECT_EQ(s.per_category[0].first, "a");
  EXPECT_NEAR(s.per_category[0].second[Metric::kP1], 2.0 / 3, 1e-12);
  const Interval ci = s.macro_ci[0];
  EXPECT_LE(ci.low, ci.high);
  EXPECT_GE(ci.low, 0.0);
  EXPECT_LE(ci.high, 1.0);
  EXPECT_LT(ci.low, ci.high);  // the queries disagree, so resampling moves the figure
  const Summary again = summarize(q, {.bootstrap_samples = 500, .seed = 7});
  EXPECT_EQ(again.macro_ci[0].low, ci.low);
  EXPECT_EQ(again.macro_ci[0].high, ci.high);
}

// NumPy brute force: argv[1] = input JSON {k, vectors, ids, categories, groups, queries}, prints
// JSON {image: [...], text: [...]}: each query's metrics, R, N and top-k ids (null when nothing is
// relevant). Chance baselines are checked by enumeration above.
constexpr const char* kReference = R"PY(
import json, sys
import numpy as np
d = json.load(open(sys.argv[1]))
k = d["k"]
E = np.array(d["vectors"], dtype=np.float32)
ids = np.array(d["ids"])
cat = np.array(d["categories"])
grp = np.array(d["groups"])
def judge(scores, cand, rel):
    # rank candidates: score descending, then id ascending
    order = np.lexsort((ids[cand], -scores[cand]))
    r = rel[cand][order].astype(float)
    R = r.sum()
    if R == 0:
        return None
    hits = np.cumsum(r)
    prec = hits / np.arange(1, len(r) + 1)
    Rn = int(R)
    out = {
        "p@1": r[0],
        "p@k": r[:k].sum() / k,
        "r_precision": r[:Rn].sum() / R,
        "map_at_r": (prec[:Rn] * r[:Rn]).sum() / R,
        "map": (prec * r).sum() / R,
        "mrr": 1.0 / (np.argmax(r) + 1),
        "relevant": Rn,
        "candidates": int(len(cand)),
        "top": [int(x) for x in ids[cand][order][:k]],
    }
    return out
S = E.astype(np.float64) @ E.T.astype(np.float64)
image = []
for q in range(len(ids)):
    cand = np.array([j for j in range(len(ids)) if j != q and (grp[q] < 0 or grp[j] != grp[q])])
    image.append(judge(S[q], cand, cat == cat[q]))
text = []
for t in d["queries"]:
    v = np.array(t["embedding"], dtype=np.float64)
    v = v / np.linalg.norm(v)
    s = E.astype(np.float64) @ v
    rel = (cat == t["category"]) if t["category"] >= 0 else np.isin(np.arange(len(ids)), t["rows"])
    text.append(judge(s, np.arange(len(ids)), rel))
def clean(x):
    return None if x is None else {a: (float(b) if not isinstance(b, list) else b) for a, b in x.items()}
print(json.dumps({"image": [clean(x) for x in image], "text": [clean(x) for x in text]}))
)PY";

TEST(Retrieval, MatchesNumpyBruteForce) {
  if (const std::string why = numpy_missing(); !why.empty()) GTEST_SKIP() << "skipped: " << why;
  // 40 images in 4 categories (sizes 16, 12, 11, 1), dim 8, with many tied scores; groups of 3
  // images among the even rows.
  std::mt19937 gen(42);
  const size_t n = 40, dim = 8, k = 13;  // k larger than two categories
  std::vector<float> vectors(n * dim);
  std::vector<int64_t> ids(n);
  Corpus c;
  c.dim = dim;
  c.category_names = {"a", "b", "c", "lone"};
  std::uniform_int_distribution<int> grid(-2, 2);
  for (size_t r = 0; r < n; ++r) {
    ids[r] = static_cast<int64_t>(3 * r + 1);
    // Four entries of +-1/2, the rest 0: unit length, and every dot product is a multiple of
    // 1/4, exact in float32 and float64 alike, so tied scores tie in both.
    std::vector<size_t> pos(dim);
    std::iota(pos.begin(), pos.end(), 0);
    std::shuffle(pos.begin(), pos.end(), gen);
    for (size_t j = 0; j < dim; ++j) vectors[r * dim + j] = 0;
    for (size_t j = 0; j < 4; ++j) vectors[r * dim + pos[j]] = grid(gen) >= 0 ? 0.5f : -0.5f;
    c.category.push_back(r < 16 ? 0 : r < 28 ? 1 : r < 39 ? 2 : 3);
    c.group.push_back(r % 2 == 0 ? static_cast<int64_t>(r / 6) : -1);
  }
  // Exact duplicates: ties between different ids.
  std::copy_n(vectors.begin(), dim, vectors.begin() + 5 * dim);
  std::copy_n(vectors.begin() + 20 * dim, dim, vectors.begin() + 21 * dim);
  c.vectors = vectors;
  c.ids = ids;

  std::vector<Query> queries(3);
  queries[0].label = "category b";
  queries[0].category = 1;
  queries[1].label = "listed images";
  queries[1].relevant_rows = {3, 17, 30, 39};
  queries[2].label = "category lone";
  queries[2].category = 3;
  for (Query& q : queries) {
    // Unnormalised on purpose (normalised by run_queries): +-3 in four places, exactly +-1/2 after.
    q.embedding.assign(dim, 0.0f);
    for (size_t j = 0; j < 4; ++j)
      q.embedding[(j * 3 + q.label.size()) % dim] = grid(gen) >= 0 ? 3.0f : -3.0f;
  }

  RunOptions o;
  o.k = k;
  o.threads = 2;
  o.block = 7;  // several blocks
  size_t progress_calls = 0;
  o.progress = [&](size_t done, size_t total) {
    ++progress_calls;
    EXPECT_LE(done, total);
  };
  StatusOr<std::vector<QueryResult>> image = image_to_image(c, o);
  ASSERT_TRUE(image.is_ok()) << image.status().to_string();
  EXPECT_EQ(progress_calls, 6u);
  StatusOr<std::vector<QueryResult>> text = run_queries(c, queries, o);
  ASSERT_TRUE(text.is_ok()) << text.status().to_string();

  json in;
  in["k"] = k;
  in["vectors"] = json::array();
  for (size_t r = 0; r < n; ++r) {
    in["vectors"].push_back(std::vector<float>(vectors.begin() + static_cast<long>(r * dim),
                                               vectors.begin() + static_cast<long>((r + 1) * dim)));
  }
  in["ids"] = ids;
  in["categories"] = c.category;
  in["groups"] = c.group;
  in["queries"] = json::array();
  for (const Query& q : queries) {
    in["queries"].push_back({{"embedding", q.embedding},
                             {"category", q.category ? *q.category : -1},
                             {"rows", q.relevant_rows}});
  }
  const std::string dir = testing::scratch_dir("eval-numpy");
  std::ofstream(dir + "/in.json") << in.dump();
  const testing::ProcessResult r =
      testing::run_process({kPython, "-c", kReference, dir + "/in.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json ref = json::parse(r.out);

  auto compare = [&](const QueryResult& got, const json& want, const std::string& what) {
    if (want.is_null()) {
      EXPECT_EQ(got.relevant, 0u) << what;
      return;
    }
    ASSERT_EQ(got.relevant, want["relevant"].get<size_t>()) << what;
    EXPECT_EQ(got.candidates, want["candidates"].get<size_t>()) << what;
    for (size_t i = 0; i < kMetricCount; ++i) {
      const std::string key(metric_key(static_cast<Metric>(i)));
      EXPECT_NEAR(got.metrics.v[i], want[key].get<double>(), 1e-9) << what << " " << key;
    }
    EXPECT_EQ(got.top_ids, want["top"].get<std::vector<int64_t>>()) << what;
  };
  size_t lone = 0;
  for (size_t q = 0; q < n; ++q) {
    compare((*image)[q], ref["image"][q], "image query row " + std::to_string(q));
    lone += (*image)[q].relevant == 0;
  }
  EXPECT_EQ(lone, 1u);  // the lone category's image has nothing relevant
  for (size_t q = 0; q < queries.size(); ++q) {
    compare((*text)[q], ref["text"][q], queries[q].label);
    EXPECT_EQ((*text)[q].candidates, n);
  }
  // Chance of a query = the formula at its (N, R).
  const QueryResult& q0 = (*image)[0];
  expect_metrics(q0.chance, chance_metrics(q0.candidates, q0.relevant, k), "chance");
  // Top scores split by relevance add up to k per query.
  const TopScores ts = top_scores(*image);
  EXPECT_EQ(ts.relevant.size() + ts.irrelevant.size(), n * k);
}

TEST(Retrieval, RefusesBadInput) {
  std::vector<float> v = {1, 0};
  std::vector<int64_t> ids = {1};
  Corpus c;
  c.dim = 2;
  c.vectors = v;
  c.ids = ids;
  c.category_names = {"a"};
  c.category = {0};
  StatusOr<std::vector<QueryResult>> one = image_to_image(c, {});
  ASSERT_FALSE(one.is_ok());
  EXPECT_NE(one.status().message().find("at least 2"), std::string::npos);

  std::vector<float> v2 = {1, 0, 0, 1};
  std::vector<int64_t> ids2 = {1, 2};
  c.vectors = v2;
  c.ids = ids2;
  c.category = {0, 0};
  Query bad;
  bad.label = "zero";
  bad.embedding = {0, 0};
  bad.category = 0;
  StatusOr<std::vector<QueryResult>> z = run_queries(c, std::span<const Query>(&bad, 1), {});
  ASSERT_FALSE(z.is_ok());
  EXPECT_NE(z.status().message().find("zero"), std::string::npos);
  bad.embedding = {1, 2, 3};
  EXPECT_FALSE(run_queries(c, std::span<const Query>(&bad, 1), {}).is_ok());
}

}  // namespace
}  // namespace xrs::eval
