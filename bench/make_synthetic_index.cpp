// Writes a synthetic index folder for timing `evaluate` (and search) at scale; prints one JSON
// line. No images: catalog rows with clustered random embeddings.
//
//   make_synthetic_index --index DIR [--n 10000] [--dim 512] [--categories 10] [--spread 1.0]
//                        [--seed 1]
//
// Each category is a cluster: point = normalise(centre + spread * gaussian / sqrt(dim)) around a
// random unit centre, so that retrieval is neither perfect nor chance. Rows are named
// syn-<category>-<i>.png with fake file identities.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/sha256.h"
#include "index/catalog.h"

int main(int argc, char** argv) {
  std::string dir;
  size_t n = 10000, dim = 512, categories = 10;
  double spread = 1.0;
  unsigned seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--index")
      dir = v;
    else if (a == "--n")
      n = std::stoul(v);
    else if (a == "--dim")
      dim = std::stoul(v);
    else if (a == "--categories")
      categories = std::stoul(v);
    else if (a == "--spread")
      spread = std::stod(v);
    else if (a == "--seed")
      seed = static_cast<unsigned>(std::stoul(v));
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (dir.empty() || categories == 0 || dim == 0) {
    std::fprintf(stderr, "usage: make_synthetic_index --index DIR [--n N] [--dim D] ...\n");
    return 2;
  }
  const auto start = std::chrono::steady_clock::now();
  xrs::ModelIdentity model;
  model.name = "synthetic";
  model.weights_sha256 = std::string(64, '0');
  model.dim = static_cast<uint32_t>(dim);
  model.preprocessing = "synthetic";
  auto catalog = xrs::Catalog::open_or_create(dir, model);
  if (!catalog.is_ok()) {
    std::fprintf(stderr, "%s\n", catalog.status().to_string().c_str());
    return 1;
  }
  std::mt19937_64 gen(seed);
  std::normal_distribution<float> gauss;
  auto unit = [&](std::vector<float>& v) {
    double norm = 0;
    for (float x : v) norm += static_cast<double>(x) * x;
    for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
  };
  std::vector<std::vector<float>> centres(categories, std::vector<float>(dim));
  for (auto& c : centres) {
    for (float& x : c) x = gauss(gen);
    unit(c);
  }
  auto tx = (*catalog)->begin();
  if (!tx.is_ok()) return 1;
  const float scale = static_cast<float>(spread / std::sqrt(static_cast<double>(dim)));
  for (size_t i = 0; i < n; ++i) {
    const size_t c = i % categories;
    xrs::ImageRecord r;
    r.category = "cat" + std::to_string(c);
    r.image_name = "syn-" + r.category + "-" + std::to_string(i) + ".png";
    r.relative_path = "raw/" + r.category + "/" + r.image_name;
    r.sha256 = xrs::sha256_hex(r.image_name);
    r.file_size = 1;
    r.width = r.height = 1;
    r.embedding.resize(dim);
    for (size_t j = 0; j < dim; ++j) r.embedding[j] = centres[c][j] + scale * gauss(gen);
    unit(r.embedding);
    if (auto s = tx->upsert(r); !s.is_ok()) {
      std::fprintf(stderr, "%s\n", s.status().to_string().c_str());
      return 1;
    }
  }
  if (auto s = tx->commit(); !s.is_ok()) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    return 1;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"index\": \"%s\", \"n\": %zu, \"dim\": %zu, \"categories\": %zu, \"seconds\": %.2f}\n",
      dir.c_str(), n, dim, categories, secs);
  return 0;
}
