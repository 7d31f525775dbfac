#include "eval/retrieval.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <map>
#include <thread>
#include <utility>

#include "kernels/gemm.h"

namespace xrs::eval {

Status Corpus::check() const {
  const size_t n = ids.size();
  if (n < 2) {
    return Status::invalid_argument("evaluation needs at least 2 indexed images, the index has " +
                                    std::to_string(n));
  }
  if (dim == 0 || vectors.size() != n * dim) {
    return Status::invalid_argument("the embeddings are not " + std::to_string(n) + " x " +
                                    std::to_string(dim) + " values");
  }
  if (category.size() != n) return Status::invalid_argument("one category per image is needed");
  if (!group.empty() && group.size() != n) {
    return Status::invalid_argument("one group (or -1) per image is needed");
  }
  for (size_t r = 0; r < n; ++r) {
    if (r > 0 && ids[r] <= ids[r - 1]) {
      return Status::invalid_argument("image ids must be strictly increasing");
    }
    if (category[r] < 0 || static_cast<size_t>(category[r]) >= category_names.size()) {
      return Status::invalid_argument("image " + std::to_string(ids[r]) +
                                      " has a category out of range");
    }
  }
  return Status::ok();
}

namespace {

// Sort keys: ascending order of (score descending, row ascending). Rows ascend with ids, so this
// is the result order of index/topk.h. The row takes the low `row_bits` bits.
inline uint64_t rank_key(float score, size_t row, unsigned row_bits) {
  uint32_t u = std::bit_cast<uint32_t>(score);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);  // order-preserving: larger score, larger u
  return (static_cast<uint64_t>(~u) << row_bits) | static_cast<uint64_t>(row);
}

// LSD radix sort of keys of `bits` significant bits, 11 bits a pass (several times faster than
// std::sort for the 10^3..10^6 keys of one ranking). `tmp` is scratch.
void radix_sort(std::vector<uint64_t>& keys, std::vector<uint64_t>& tmp, unsigned bits) {
  constexpr unsigned kDigit = 11;
  constexpr size_t kBuckets = size_t{1} << kDigit;
  tmp.resize(keys.size());
  size_t count[kBuckets];
  for (unsigned shift = 0; shift < bits; shift += kDigit) {
    std::fill(std::begin(count), std::end(count), 0);
    for (uint64_t k : keys) ++count[(k >> shift) & (kBuckets - 1)];
    size_t sum = 0;
    for (size_t& c : count) {
      const size_t here = c;
      c = sum;
      sum += here;
    }
    for (uint64_t k : keys) tmp[count[(k >> shift) & (kBuckets - 1)]++] = k;
    keys.swap(tmp);
  }
}

// What one query needs besides its vector.
struct QuerySpec {
  std::string label;
  int32_t category = -1;                       // relevant: this category (>= 0), else `rows`
  const std::vector<uint8_t>* rows = nullptr;  // relevant rows as a 0/1 mask (category < 0)
  int64_t exclude_row = -1;                    // left out
  int64_t exclude_group = -1;                  // images of this group left out (>= 0)
};

// Ranks and judges queries [0, nq), whose vectors are rows of `queries` (nq x dim, normalised).
std::vector<QueryResult> evaluate(const Corpus& c, std::span<const float> queries,
                                  std::span<const QuerySpec> specs, const RunOptions& o) {
  const size_t n = c.size(), dim = c.dim, nq = specs.size();
  const size_t k = std::max<size_t>(o.k, 1);
  const size_t block = std::max<size_t>(o.block, 1);
  const int threads = std::max(o.threads, 1);
  const unsigned row_bits = static_cast<unsigned>(std::bit_width(n));
  const uint64_t row_mask = (uint64_t{1} << row_bits) - 1;
  std::vector<QueryResult> out(nq);
  std::vector<float> scores(std::min(block, nq) * n);
  for (size_t start = 0; start < nq; start += block) {
    const size_t b = std::min(block, nq - start);
    kernels::sgemm(static_cast<int>(b), static_cast<int>(n), static_cast<int>(dim), 1.0f,
                   queries.data() + start * dim, static_cast<int>(dim), c.vectors.data(),
                   static_cast<int>(dim), true, 0.0f, scores.data(), static_cast<int>(n));
    std::atomic<size_t> next{0};
    auto work = [&] {
      std::vector<uint64_t> keys, tmp;
      std::vector<uint8_t> rel;
      std::map<std::pair<size_t, size_t>, Metrics> chance_memo;
      keys.reserve(n);
      rel.reserve(n);
      for (size_t i = next++; i < b; i = next++) {
        const QuerySpec& q = specs[start + i];
        const float* row_scores = scores.data() + i * n;
        keys.clear();
        for (size_t r = 0; r < n; ++r) {
          if (static_cast<int64_t>(r) == q.exclude_row) continue;
          if (q.exclude_group >= 0 && c.group[r] == q.exclude_group) continue;
          keys.push_back(rank_key(row_scores[r], r, row_bits));
        }
        radix_sort(keys, tmp, 32 + row_bits);
        rel.resize(keys.size());
        size_t relevant = 0;
        for (size_t j = 0; j < keys.size(); ++j) {
          const size_t r = static_cast<size_t>(keys[j] & row_mask);
          rel[j] = q.category >= 0 ? c.category[r] == q.category : (*q.rows)[r];
          relevant += rel[j];
        }
        QueryResult& res = out[start + i];
        res.label = q.label;
        if (q.category >= 0) res.category = c.category_names[static_cast<size_t>(q.category)];
        res.candidates = keys.size();
        res.relevant = relevant;
        if (relevant > 0) {
          res.metrics = ranking_metrics(rel, relevant, k);
          auto [it, fresh] = chance_memo.try_emplace({keys.size(), relevant});
          if (fresh) it->second = chance_metrics(keys.size(), relevant, k);
          res.chance = it->second;
        }
        for (size_t j = 0; j < std::min(k, keys.size()); ++j) {
          const size_t r = static_cast<size_t>(keys[j] & row_mask);
          res.top_ids.push_back(c.ids[r]);
          res.top_scores.push_back(row_scores[r]);
          res.top_relevant.push_back(rel[j]);
        }
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads && static_cast<size_t>(t) < b; ++t) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
    if (o.progress) o.progress(start + b, nq);
  }
  return out;
}

}  // namespace

StatusOr<std::vector<QueryResult>> image_to_image(const Corpus& corpus, const RunOptions& options) {
  XRS_RETURN_IF_ERROR(corpus.check());
  std::vector<QuerySpec> specs(corpus.size());
  for (size_t r = 0; r < corpus.size(); ++r) {
    specs[r].label = std::to_string(corpus.ids[r]);
    specs[r].category = corpus.category[r];
    specs[r].exclude_row = static_cast<int64_t>(r);
    if (!corpus.group.empty()) specs[r].exclude_group = corpus.group[r];
  }
  return evaluate(corpus, corpus.vectors, specs, options);
}

StatusOr<std::vector<QueryResult>> run_queries(const Corpus& corpus, std::span<const Query> queries,
                                               const RunOptions& options) {
  XRS_RETURN_IF_ERROR(corpus.check());
  const size_t n = corpus.size(), dim = corpus.dim;
  std::vector<float> matrix(queries.size() * dim);
  std::vector<QuerySpec> specs(queries.size());
  std::vector<std::vector<uint8_t>> masks(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    const Query& q = queries[i];
    const std::string what = "query " + std::to_string(i + 1) + " (" + q.label + ")";
    if (q.embedding.size() != dim) {
      return Status::invalid_argument(what + ": the embedding has " +
                                      std::to_string(q.embedding.size()) + " values, not " +
                                      std::to_string(dim));
    }
    double norm = 0;
    for (float v : q.embedding) {
      if (!std::isfinite(v)) return Status::invalid_argument(what + ": a non-finite value");
      norm += static_cast<double>(v) * v;
    }
    if (norm == 0) return Status::invalid_argument(what + ": the embedding is all zero");
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (size_t j = 0; j < dim; ++j) matrix[i * dim + j] = q.embedding[j] * inv;
    QuerySpec& s = specs[i];
    s.label = q.label;
    if (q.category) {
      if (*q.category < 0 || static_cast<size_t>(*q.category) >= corpus.category_names.size()) {
        return Status::invalid_argument(what + ": category out of range");
      }
      s.category = *q.category;
    } else {
      masks[i].assign(n, 0);
      for (size_t r : q.relevant_rows) {
        if (r >= n) return Status::invalid_argument(what + ": relevant row out of range");
        masks[i][r] = 1;
      }
      s.rows = &masks[i];
    }
    if (q.exclude_row) {
      if (*q.exclude_row >= n) return Status::invalid_argument(what + ": row out of range");
      s.exclude_row = static_cast<int64_t>(*q.exclude_row);
    }
  }
  return evaluate(corpus, matrix, specs, options);
}

TopScores top_scores(std::span<const QueryResult> results) {
  TopScores t;
  for (const QueryResult& q : results) {
    for (size_t j = 0; j < q.top_scores.size(); ++j) {
      (q.top_relevant[j] ? t.relevant : t.irrelevant).push_back(q.top_scores[j]);
    }
  }
  return t;
}

}  // namespace xrs::eval
