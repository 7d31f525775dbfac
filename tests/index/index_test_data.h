// Synthetic data for the index tests: random and clustered unit vectors, catalog records, and a
// brute-force (double precision) reference search.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "index/catalog.h"
#include "index/vector_index.h"

namespace xrs::testing {

inline void normalise(float* v, size_t dim) {
  double s = 0;
  for (size_t i = 0; i < dim; ++i) s += static_cast<double>(v[i]) * v[i];
  double inv = 1.0 / std::sqrt(s);
  for (size_t i = 0; i < dim; ++i) v[i] = static_cast<float>(v[i] * inv);
}

// n x dim, rows uniformly distributed on the unit sphere.
inline std::vector<float> random_unit_vectors(size_t n, size_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> out(n * dim);
  for (float& v : out) v = g(rng);
  for (size_t r = 0; r < n; ++r) normalise(&out[r * dim], dim);
  return out;
}

// n x dim from a Gaussian mixture on the unit sphere, like image embeddings: `clusters` random
// unit centres (drawn from centre_seed, so that data and queries can share them), each point =
// normalise(centre + spread * gaussian / sqrt(dim)) with the gaussian drawn from `seed`.
inline std::vector<float> clustered_unit_vectors(size_t n, size_t dim, size_t clusters,
                                                 float spread, uint32_t centre_seed,
                                                 uint32_t seed) {
  std::vector<float> centres = random_unit_vectors(clusters, dim, centre_seed);
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::uniform_int_distribution<size_t> pick(0, clusters - 1);
  const float scale = spread / std::sqrt(static_cast<float>(dim));
  std::vector<float> out(n * dim);
  for (size_t r = 0; r < n; ++r) {
    const float* c = &centres[pick(rng) * dim];
    for (size_t i = 0; i < dim; ++i) out[r * dim + i] = c[i] + scale * g(rng);
    normalise(&out[r * dim], dim);
  }
  return out;
}

inline EmbeddingSet make_set(const std::vector<int64_t>& ids, const std::vector<float>& data,
                             size_t dim) {
  EmbeddingSet set;
  set.ids = ids;
  set.vectors = FloatMatrix::allocate(ids.size(), dim).value();
  std::copy(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(ids.size() * dim),
            set.vectors.data());
  return set;
}

// The reference: every allowed id scored in double precision, sorted by score desc then id asc,
// thresholded, cut to k.
struct RefHit {
  int64_t id;
  double score;
};
inline std::vector<RefHit> brute_force(const std::vector<int64_t>& ids,
                                       const std::vector<float>& data, size_t dim,
                                       const float* query, size_t k, double min_score,
                                       const RowBitset* allow, std::optional<int64_t> exclude) {
  std::vector<RefHit> all;
  for (size_t r = 0; r < ids.size(); ++r) {
    if (allow != nullptr && !allow->test(r)) continue;
    if (exclude && ids[r] == *exclude) continue;
    double s = 0;
    for (size_t i = 0; i < dim; ++i) s += static_cast<double>(data[r * dim + i]) * query[i];
    if (s >= min_score) all.push_back({ids[r], s});
  }
  std::sort(all.begin(), all.end(), [](const RefHit& a, const RefHit& b) {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
  });
  if (all.size() > k) all.resize(k);
  return all;
}

inline ModelIdentity test_model(uint32_t dim = 16) {
  return {"test-model", std::string(64, 'a'), dim, "test-preprocessing"};
}

inline std::string fake_sha(uint64_t n) {
  std::string hex = "0123456789abcdef";
  std::string out(64, '0');
  for (int i = 0; i < 16; ++i) out[63 - i] = hex[(n >> (4 * i)) & 0xf];
  return out;
}

inline ImageRecord make_record(const std::string& name, const std::string& category,
                               std::vector<float> embedding, uint64_t n = 0) {
  ImageRecord r;
  r.image_name = name;
  r.category = category;
  r.relative_path = "raw/" + category + "/" + name;
  r.source_url = "https://example.org/" + name;
  r.sha256 = fake_sha(n);
  r.file_size = 1000 + n;
  r.mtime_ns = 1700000000000000000 + static_cast<int64_t>(n);
  r.width = 640;
  r.height = 480;
  r.extra_json = "{\"n\":" + std::to_string(n) + "}";
  r.embedding = std::move(embedding);
  return r;
}

// Creates (or extends) the catalog in `dir` with n images of dimension dim from a clustered
// mixture, categories cycling chest, dental, hand; returns the records with their ids.
inline std::vector<ImageRecord> fill_catalog(const std::string& dir, size_t n, uint32_t dim,
                                             uint32_t seed, const std::string& prefix = "img") {
  std::vector<float> e = clustered_unit_vectors(n, dim, 12, 0.8f, 77, seed);
  static const char* kCategories[] = {"chest", "dental", "hand"};
  std::vector<ImageRecord> records;
  auto catalog = Catalog::open_or_create(dir, test_model(dim)).value();
  auto tx = catalog->begin().value();
  for (size_t i = 0; i < n; ++i) {
    ImageRecord r =
        make_record(prefix + std::to_string(i) + ".png", kCategories[i % 3],
                    std::vector<float>(&e[i * dim], &e[(i + 1) * dim]), seed * 100000 + i);
    r.id = tx.upsert(r).value();
    records.push_back(std::move(r));
  }
  EXPECT_TRUE(tx.commit().is_ok());
  return records;
}

// Runs `code` with Debian's /usr/bin/python3 (which has numpy); returns its exit status, or -1
// when that interpreter is absent. The script is written to `script_path` first.
inline int run_python(const std::string& script_path, const std::string& code) {
  if (!std::filesystem::exists("/usr/bin/python3")) return -1;
  std::ofstream(script_path) << code;
  int rc = std::system(("/usr/bin/python3 " + script_path).c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace xrs::testing
